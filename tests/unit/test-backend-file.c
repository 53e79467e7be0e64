// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The file backend through a real io_uring on a temporary file: data,
 * O_DIRECT choice and fallback, flush, and discard / write-zeroes checked
 * on the file itself (holes, allocated blocks, zeroes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "backend-plugin.h"
#include "test.h"

#define SIZE (1 << 20)

static struct io_uring ring;
static int done_count, last_result;

static void done(struct backend_io *io, int result)
{
	done_count++;
	last_result = result;
}

static int run(struct backend_queue *bq, struct backend_io *io)
{
	int before = done_count;
	struct io_uring_cqe *cqe;

	io->done = done;
	backend_submit(bq, io);
	while (done_count == before) {
		T_ASSERT(io_uring_submit_and_wait(&ring, 1) >= 0);
		while (!io_uring_peek_cqe(&ring, &cqe)) {
			uring_cb_run(cqe);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	return last_result;
}

static int rw(struct backend_queue *bq, enum backend_op op, void *buf, size_t len,
	      uint64_t off)
{
	struct iovec iov = { buf, len };
	uint8_t space[sizeof(struct backend_io) + 256] __attribute__((aligned(16)));
	struct backend_io *io = (struct backend_io *)space;

	memset(space, 0, sizeof(space));
	io->op = op;
	io->offset = off;
	io->len = len;
	io->iov = &iov;
	io->iovcnt = 1;
	return run(bq, io);
}

static int range_op(struct backend_queue *bq, enum backend_op op, uint64_t off,
		    uint64_t len, unsigned int flags)
{
	uint8_t space[sizeof(struct backend_io) + 256] __attribute__((aligned(16)));
	struct backend_io *io = (struct backend_io *)space;

	memset(space, 0, sizeof(space));
	io->op = op;
	io->offset = off;
	io->len = len;
	io->flags = flags;
	return run(bq, io);
}

/* Does this process hold an O_DIRECT descriptor for @path? */
static bool has_direct_fd(const char *path)
{
	char link[300], target[4096], info[300], line[128];
	struct dirent *d;
	bool found = false;
	DIR *dir = opendir("/proc/self/fd");

	T_ASSERT(dir);
	while ((d = readdir(dir))) {
		ssize_t n;
		FILE *fp;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", d->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (strcmp(target, path))
			continue;
		snprintf(info, sizeof(info), "/proc/self/fdinfo/%s", d->d_name);
		fp = fopen(info, "r");
		if (!fp)
			continue;
		while (fgets(line, sizeof(line), fp)) {
			unsigned int flags;

			if (sscanf(line, "flags: %o", &flags) == 1 && (flags & O_DIRECT))
				found = true;
		}
		fclose(fp);
	}
	closedir(dir);
	return found;
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
	while (n--)
		if (*p++ != v)
			return false;
	return true;
}

static blkcnt_t blocks(int fd)
{
	struct stat st;

	T_ASSERT(!fstat(fd, &st));
	return st.st_blocks;
}

int main(void)
{
	static const struct backend_param buffered = { "cache", "buffered" },
		direct = { "cache", "direct" }, auto_cache = { "cache", "auto" },
		bad_cache = { "cache", "sometimes" }, timeout = { "io-timeout", "5" };
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	struct backend_open_opts bo = { .block_size = 4096 };
	struct backend_queue_env env = { .depth = 16, .ring = &ring };
	char path[4096], spec[4200];
	struct backend_queue *bq;
	struct backend *be;
	uint8_t *abuf, *ubuf_base, *ubuf, *check;
	bool punch, direct_expected;
	struct statx stx;
	blkcnt_t b0;
	int fd;

	snprintf(path, sizeof(path), "%s/vdk-file-XXXXXX", tmp);
	fd = mkstemp(path);
	T_ASSERT(fd >= 0);
	/* A fully allocated file, so holes made later are visible. */
	check = malloc(SIZE);
	memset(check, 0xee, SIZE);
	T_ASSERT_EQ(pwrite(fd, check, SIZE, 0), SIZE);
	T_ASSERT(!fsync(fd));
	punch = !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * SIZE, 4096);
	direct_expected = !statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
			  (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align &&
			  4096 % stx.stx_dio_offset_align == 0;
	T_ASSERT(!io_uring_queue_init(32, &ring, 0));

	snprintf(spec, sizeof(spec), "file:%s", path);
	T_ASSERT_EQ(backend_open(spec, &bo, &be), 0);
	T_ASSERT(!strcmp(backend_name(be), "file"));
	T_ASSERT_EQ(backend_size(be), SIZE);
	T_ASSERT(backend_has_cache(be));
	T_ASSERT(backend_can_write(be));
	T_ASSERT(backend_phys_block_size(be) >= 512);
	if (direct_expected)
		T_ASSERT(has_direct_fd(path));
	T_ASSERT_EQ(backend_can_discard(be), punch);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);

	/* Aligned write (direct) and read back; check through the page cache. */
	T_ASSERT(!posix_memalign((void **)&abuf, 4096, 3 * 4096));
	memset(abuf, 0xa1, 8192);
	T_ASSERT_EQ(rw(bq, BACKEND_OP_WRITE, abuf, 8192, 4096), 0);
	memset(abuf, 0, 8192);
	T_ASSERT_EQ(rw(bq, BACKEND_OP_READ, abuf, 8192, 4096), 0);
	T_ASSERT(all(abuf, 8192, 0xa1));
	T_ASSERT_EQ(pread(fd, check, SIZE, 0), SIZE);
	T_ASSERT(all(check, 4096, 0xee));
	T_ASSERT(all(check + 4096, 8192, 0xa1));
	T_ASSERT(all(check + 12288, 4096, 0xee));

	/* A misaligned buffer goes through the page cache instead. */
	ubuf_base = malloc(4096 + 1);
	ubuf = ubuf_base + 1;
	memset(ubuf, 0xb2, 4096);
	T_ASSERT_EQ(rw(bq, BACKEND_OP_WRITE, ubuf, 4096, 16384), 0);
	memset(ubuf, 0, 4096);
	T_ASSERT_EQ(rw(bq, BACKEND_OP_READ, ubuf, 4096, 16384), 0);
	T_ASSERT(all(ubuf, 4096, 0xb2));
	T_ASSERT_EQ(pread(fd, check, 4096, 16384), 4096);
	T_ASSERT(all(check, 4096, 0xb2));

	T_ASSERT_EQ(range_op(bq, BACKEND_OP_FLUSH, 0, 0, 0), 0);

	if (punch) {
		/* Discard punches a hole. */
		b0 = blocks(fd);
		T_ASSERT_EQ(range_op(bq, BACKEND_OP_DISCARD, 65536, 262144, 0), 0);
		T_ASSERT(blocks(fd) <= b0 - 262144 / 512);
		T_ASSERT_EQ(lseek(fd, 65536, SEEK_HOLE), 65536);
		T_ASSERT_EQ(lseek(fd, 65536, SEEK_DATA), 65536 + 262144);
		T_ASSERT_EQ(rw(bq, BACKEND_OP_READ, abuf, 8192, 65536), 0);
		T_ASSERT(all(abuf, 8192, 0));
		T_ASSERT_EQ(backend_size(be), SIZE);
	} else {
		fprintf(stderr, "no PUNCH_HOLE on %s: discard checks skipped\n", tmp);
	}

	/* Write-zeroes without unmap: zeroes, blocks stay allocated. */
	b0 = blocks(fd);
	T_ASSERT_EQ(range_op(bq, BACKEND_OP_WRITE_ZEROES, 524288, 65536, 0), 0);
	T_ASSERT_EQ(pread(fd, check, 65536, 524288), 65536);
	T_ASSERT(all(check, 65536, 0));
	/* (the extent tree may grow a block, so only check nothing was freed) */
	T_ASSERT(blocks(fd) >= b0);
	T_ASSERT_EQ(rw(bq, BACKEND_OP_READ, abuf, 4096, 524288), 0);
	T_ASSERT(all(abuf, 4096, 0));

	/* With unmap allowed: zeroes and the blocks are released. */
	if (backend_can_zero_unmap(be)) {
		b0 = blocks(fd);
		T_ASSERT_EQ(range_op(bq, BACKEND_OP_WRITE_ZEROES, 655360, 65536,
				     BACKEND_IO_MAY_UNMAP), 0);
		T_ASSERT(blocks(fd) <= b0 - 65536 / 512);
		T_ASSERT_EQ(pread(fd, check, 65536, 655360), 65536);
		T_ASSERT(all(check, 65536, 0));
	}
	/* The probes left nothing behind past the end. */
	T_ASSERT_EQ(lseek(fd, 0, SEEK_END), SIZE);

	/* Resize grows the file. */
	T_ASSERT_EQ(backend_resize(be, 2 * SIZE), 0);
	T_ASSERT_EQ(backend_size(be), 2 * SIZE);

	backend_queue_fini(bq);
	backend_close(be);
	T_ASSERT(!has_direct_fd(path));

	/* Buffered on request: no O_DIRECT descriptor. */
	bo.params = &buffered;
	bo.nparams = 1;
	T_ASSERT_EQ(backend_open(spec, &bo, &be), 0);
	T_ASSERT(!has_direct_fd(path));
	backend_close(be);
	/* Direct on request, where the file system allows it. */
	if (direct_expected) {
		bo.params = &direct;
		T_ASSERT_EQ(backend_open(path, &bo, &be), 0);
		T_ASSERT(has_direct_fd(path));
		backend_close(be);
	}

	/* Options: a bad value, and one the file backend does not have. */
	bo.params = &bad_cache;
	T_ASSERT_EQ(backend_open(spec, &bo, &be), -EINVAL);
	T_ASSERT(strstr(msg_last_error(), "cache is auto, direct or buffered, not 'sometimes'"));
	bo.params = &timeout;
	T_ASSERT_EQ(backend_open(spec, &bo, &be), -EINVAL);
	T_ASSERT(strstr(msg_last_error(), "the file backend has no option 'io-timeout': it takes cache"));

	/* No ring, no queue. */
	bo.params = &auto_cache;
	env.ring = NULL;
	T_ASSERT_EQ(backend_open(spec, &bo, &be), 0);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), -EINVAL);
	T_ASSERT(strstr(msg_last_error(), "io_uring"));
	backend_close(be);

	io_uring_queue_exit(&ring);
	close(fd);
	unlink(path);
	free(check);
	free(abuf);
	free(ubuf_base);
	return T_EXIT_PASS;
}
