#!/bin/sh
# scripts/test-summary.py decides what CI reports: a failed or timed-out
# test counts as failed and is named, a skipped one is never counted as
# passed, a failed build step counts, and the last line is the total.
set -u
src=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/b/meson-logs"
cat > "$tmp/b/meson-logs/testlog.json" <<'LOG'
{"name": "vdusekit:unit / good", "result": "OK", "stdout": ""}
{"name": "vdusekit:unit / broken", "result": "FAIL", "stdout": ""}
{"name": "vdusekit:vm / slow", "result": "TIMEOUT", "stdout": ""}
{"name": "vdusekit:vm / absent", "result": "SKIP", "stdout": ""}
{"name": "vdusekit:vm / trapped", "result": "OK", "stdout": "vm-run: RETRIED\n"}
LOG
out=$("$src/scripts/test-summary.py" --failed-step build-asan plain="$tmp/b") || {
	echo "test-summary.py exited non-zero"; exit 1; }
fail=0
expect() {
	printf '%s\n' "$out" | grep -qxF -- "$1" ||
		{ echo "missing line: '$1'"; fail=1; }
}
expect "build-asan: failed"
expect "unit (plain): 1 passed, 1 failed, 0 skipped"
expect "  failed: broken (FAIL)"
expect "vm (plain): 1 passed, 1 failed, 1 skipped"
expect "  failed: slow (TIMEOUT)"
expect "1 run twice after a guest kernel trap: trapped"
last=$(printf '%s\n' "$out" | tail -n1)
[ "$last" = "2 passed, 3 failed, 1 skipped" ] ||
	{ echo "last line is '$last', expected '2 passed, 3 failed, 1 skipped'"; fail=1; }
[ $fail = 0 ] || printf 'the output was:\n%s\n' "$out"
exit $fail
