# Thin wrapper over meson for the README commands; the build is meson's.
#
#   make          build into build/ (vduse-blk and libvdusekit)
#   make demo     install what is missing, build, show vduse-blk at work
#   make check    install what is missing, build, run every test
#   make bench    the benchmark against the peers (docs/benchmarks.md)
#   make fuzz     fuzz for FUZZ_TIME seconds in all (default 600), shared by
#                 the three targets; new inputs go into tests/fuzz/corpus/
#   make install  install what `make` built under PREFIX (default /usr/local),
#                 staged under DESTDIR if set:
#                 make install PREFIX=/usr DESTDIR=/tmp/stage
#   make deb      Debian packages (libvdusekit0, libvdusekit-dev, vduse-blk)
#                 into build/deb/, checked with lintian
#   make clean    remove the build folders

BUILD      ?= build
ASAN_BUILD ?= build-asan
# The library alone (-Dtools/nbd/rbd=disabled): it must build and pass its
# unit tests with libmnl only.
MIN_BUILD  ?= build-min
FUZZ_TIME  ?= 600
MESON_OPTS ?=
PREFIX     ?= /usr/local
DESTDIR    ?=
DEB_OUT    ?= $(BUILD)/deb

.PHONY: all deps demo check check-unit check-asan build-asan build-min check-asan-run check-vm bench fuzz clean \
	install deb

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=true $(MESON_OPTS)

deps:
	@scripts/deps.sh

demo: deps all
	VDK_BLK=$(CURDIR)/$(BUILD)/tools/vduse-blk tests/vm/run -- scripts/demo.sh

# Every stage runs even if an earlier one failed, so one report counts all;
# the exit status is non-zero if any stage failed.  The old test logs go
# first, so a build that fails cannot leave a previous run's count behind:
# it is reported as a failed step, its tests as listed but not run.
check:
	@rm -f $(BUILD)/meson-logs/testlog.json $(ASAN_BUILD)/meson-logs/testlog.json \
		$(MIN_BUILD)/meson-logs/testlog.json
	@status=0; failed=; \
	$(MAKE) --no-print-directory deps || { status=1; failed="$$failed --failed-step deps"; }; \
	if $(MAKE) --no-print-directory all; then \
		meson test -C $(BUILD) --print-errorlogs --num-processes 2 || status=1; \
	else \
		echo "make check: the build in $(BUILD) failed"; \
		status=1; failed="$$failed --failed-step build-plain"; \
	fi; \
	if $(MAKE) --no-print-directory build-asan; then \
		$(MAKE) --no-print-directory check-asan-run || status=1; \
	else \
		echo "make check: the build in $(ASAN_BUILD) failed"; \
		status=1; failed="$$failed --failed-step build-asan"; \
	fi; \
	if $(MAKE) --no-print-directory build-min; then \
		meson test -C $(MIN_BUILD) --suite unit --print-errorlogs || status=1; \
	else \
		echo "make check: the build in $(MIN_BUILD) failed"; \
		status=1; failed="$$failed --failed-step build-min"; \
	fi; \
	scripts/test-summary.py $$failed plain=$(BUILD) asan=$(ASAN_BUILD):unit \
		lib-only=$(MIN_BUILD):unit; \
	exit $$status

build-min: $(MIN_BUILD)/build.ninja
	ninja -C $(MIN_BUILD)

$(MIN_BUILD)/build.ninja:
	meson setup $(MIN_BUILD) -Dwerror=true -Dtools=disabled -Dnbd=disabled \
		-Drbd=disabled $(MESON_OPTS)

# The host-side unit tests again, under AddressSanitizer and UBSan.
check-asan: build-asan
	$(MAKE) --no-print-directory check-asan-run

build-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

check-asan-run:
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ASAN_OPTIONS=detect_leaks=1 \
	meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dwerror=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debug $(MESON_OPTS)

check-unit: all
	meson test -C $(BUILD) --suite unit --print-errorlogs

check-vm: all
	meson test -C $(BUILD) --suite vm --print-errorlogs

bench: deps all
	@scripts/deps.sh bench
	bench/run

fuzz:
	tests/fuzz/run-fuzz.sh --time $(FUZZ_TIME) --merge

# The build folder is configured for PREFIX (the unit and the pkg-config
# file name installed paths), built, then installed.
install: $(BUILD)/build.ninja
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	ninja -C $(BUILD)
	meson install -C $(BUILD) --no-rebuild $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))

# Built from a copy of the tree in $(DEB_OUT) with its own meson folder, so
# neither the tree nor $(BUILD) is touched (scripts/build-deb.sh).
deb:
	@scripts/deps.sh deb
	scripts/build-deb.sh $(DEB_OUT)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(MIN_BUILD) build-fuzz
