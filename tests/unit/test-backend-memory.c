// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The RAM disk: data kept, zeroing returns pages (also with the memory
 * locked, as the daemon keeps it), completions are immediate, it grows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend.h"
#include "test.h"

static int done_count, last_result;

static void done(struct backend_io *io, int result)
{
	done_count++;
	last_result = result;
}

/* Submits and checks that the completion came before the call returned. */
static int run(struct backend_queue *bq, struct backend_io *io)
{
	int before = done_count;

	io->done = done;
	backend_submit(bq, io);
	T_ASSERT_EQ(done_count, before + 1);
	return last_result;
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
	while (n--)
		if (*p++ != v)
			return false;
	return true;
}

/* Anonymous and shared memory resident, in KiB: where a disk's pages are. */
static long rss_kib(void)
{
	char line[256];
	long kib, total = 0;
	int found = 0;
	FILE *fp = fopen("/proc/self/status", "r");

	T_ASSERT(fp);
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "RssAnon: %ld kB", &kib) == 1 ||
		    sscanf(line, "RssShmem: %ld kB", &kib) == 1) {
			total += kib;
			found++;
		}
	fclose(fp);
	T_ASSERT_EQ(found, 2);
	return total;
}

/* Fills @len bytes at @off with @v, in 64 KiB writes. */
static void fill(struct backend_queue *bq, uint64_t off, uint64_t len, uint8_t v)
{
	static uint8_t chunk[64 << 10];
	struct backend_io io;
	struct iovec iov;
	uint64_t done;

	memset(chunk, v, sizeof(chunk));
	for (done = 0; done < len; done += sizeof(chunk)) {
		iov = (struct iovec){ chunk, sizeof(chunk) };
		io = (struct backend_io){ .op = BACKEND_OP_WRITE, .offset = off + done,
					  .len = sizeof(chunk), .iov = &iov, .iovcnt = 1 };
		T_ASSERT_EQ(run(bq, &io), 0);
	}
}

/*
 * Discard returns the RAM with the process's memory locked, as the daemon
 * has it (mlockall makes madvise(MADV_DONTNEED) refuse), and a resize
 * grows the disk in place, keeping its data.
 */
static void ram_back_and_resize(void)
{
	struct backend_open_opts bo = { .block_size = 512 };
	struct backend_queue_env env = { .index = 0, .depth = 8 };
	struct backend_queue *bq;
	struct backend *be;
	struct backend_io io;
	struct iovec iov;
	static uint8_t out[4096];
	long before, full, after;

	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT))
		fprintf(stderr, "mlockall: %m (the check runs unlocked)\n");
	T_ASSERT_EQ(backend_open("memory:16M", &bo, &be), 0);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	before = rss_kib();
	fill(bq, 0, 16 << 20, 0x5a);
	full = rss_kib();
	T_ASSERT(full - before >= 15 * 1024);
	io = (struct backend_io){ .op = BACKEND_OP_DISCARD, .offset = 4096,
				  .len = (16 << 20) - 8192 };
	T_ASSERT_EQ(run(bq, &io), 0);
	after = rss_kib();
	fprintf(stderr, "resident: %ld kB empty, %ld kB full, %ld kB after discard\n",
		before, full, after);
	T_ASSERT(full - after >= 15 * 1024);
	/* The edge pages kept their data. */
	iov = (struct iovec){ out, sizeof(out) };
	io = (struct backend_io){ .op = BACKEND_OP_READ, .offset = 0,
				  .len = sizeof(out), .iov = &iov, .iovcnt = 1 };
	T_ASSERT_EQ(run(bq, &io), 0);
	T_ASSERT(all(out, sizeof(out), 0x5a));

	/* Grow: the old data stays, the new part reads as zeroes. */
	T_ASSERT_EQ(backend_resize(be, 32 << 20), 0);
	T_ASSERT_EQ(backend_size(be), 32 << 20);
	io = (struct backend_io){ .op = BACKEND_OP_READ, .offset = (32 << 20) - 4096,
				  .len = sizeof(out), .iov = &iov, .iovcnt = 1 };
	T_ASSERT_EQ(run(bq, &io), 0);
	T_ASSERT(all(out, sizeof(out), 0));
	fill(bq, (24 << 20), 1 << 20, 0x77);
	io = (struct backend_io){ .op = BACKEND_OP_READ, .offset = 0,
				  .len = sizeof(out), .iov = &iov, .iovcnt = 1 };
	T_ASSERT_EQ(run(bq, &io), 0);
	T_ASSERT(all(out, sizeof(out), 0x5a));
	/* Beyond the reserved address space: refused, with the way out. */
	T_ASSERT_EQ(backend_resize(be, 2ull << 40), -EFBIG);
	T_ASSERT(strstr(msg_last_error(), "add a larger one"));
	T_ASSERT_EQ(backend_size(be), 32 << 20);
	backend_queue_fini(bq);
	backend_close(be);
	munlockall();
}

int main(void)
{
	struct backend_open_opts bo = { .block_size = 512 };
	struct backend_queue_env env = { .index = 0, .depth = 8 };
	static uint8_t buf[3 * 4096], out[3 * 4096];
	struct iovec iov[2];
	struct backend_queue *bq;
	struct backend *be;
	struct backend_io io;

	T_ASSERT_EQ(backend_open("memory:1M", &bo, &be), 0);
	T_ASSERT(backend_can_write(be));
	T_ASSERT(!backend_has_cache(be));
	T_ASSERT(backend_can_discard(be));
	T_ASSERT(backend_can_write_zeroes(be));
	T_ASSERT(backend_write_zeroes_native(be));
	T_ASSERT(backend_can_zero_unmap(be));
	T_ASSERT_EQ(backend_thread_model(be), BACKEND_THREAD_PARALLEL);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	T_ASSERT_EQ(backend_queue_poll_fd(bq), -1);

	/* A fresh disk reads as zeroes. */
	memset(out, 0xff, sizeof(out));
	memset(&io, 0, sizeof(io));
	iov[0] = (struct iovec){ out, sizeof(out) };
	io = (struct backend_io){ .op = BACKEND_OP_READ, .offset = 512,
				  .len = sizeof(out), .iov = iov, .iovcnt = 1 };
	T_ASSERT_EQ(run(bq, &io), 0);
	T_ASSERT(all(out, sizeof(out), 0));

	/* Write across two segments, read back in one. */
	memset(buf, 0x3c, sizeof(buf));
	iov[0] = (struct iovec){ buf, 1024 };
	iov[1] = (struct iovec){ buf + 1024, sizeof(buf) - 1024 };
	io = (struct backend_io){ .op = BACKEND_OP_WRITE, .offset = 512,
				  .len = sizeof(buf), .iov = iov, .iovcnt = 2 };
	T_ASSERT_EQ(run(bq, &io), 0);
	iov[0] = (struct iovec){ out, sizeof(out) };
	io = (struct backend_io){ .op = BACKEND_OP_READ, .offset = 512,
				  .len = sizeof(out), .iov = iov, .iovcnt = 1 };
	T_ASSERT_EQ(run(bq, &io), 0);
	T_ASSERT(all(out, sizeof(out), 0x3c));

	/* Zero a range with partial pages at both ends. */
	io = (struct backend_io){ .op = BACKEND_OP_WRITE_ZEROES, .offset = 1024,
				  .len = 2 * 4096 + 1024, .flags = BACKEND_IO_MAY_UNMAP };
	T_ASSERT_EQ(run(bq, &io), 0);
	io = (struct backend_io){ .op = BACKEND_OP_READ, .offset = 512,
				  .len = sizeof(out), .iov = iov, .iovcnt = 1 };
	T_ASSERT_EQ(run(bq, &io), 0);
	T_ASSERT(all(out, 512, 0x3c));
	T_ASSERT(all(out + 512, 2 * 4096 + 1024, 0));
	T_ASSERT(all(out + 512 + 2 * 4096 + 1024, sizeof(out) - 512 - 2 * 4096 - 1024, 0x3c));

	/* Discard zeroes too (the RAM disk frees the pages). */
	io = (struct backend_io){ .op = BACKEND_OP_DISCARD, .offset = 0, .len = 1 << 20 };
	T_ASSERT_EQ(run(bq, &io), 0);
	io = (struct backend_io){ .op = BACKEND_OP_READ, .offset = 512,
				  .len = sizeof(out), .iov = iov, .iovcnt = 1 };
	T_ASSERT_EQ(run(bq, &io), 0);
	T_ASSERT(all(out, sizeof(out), 0));

	/* Flush: nothing to do, done at once. */
	io = (struct backend_io){ .op = BACKEND_OP_FLUSH };
	T_ASSERT_EQ(run(bq, &io), 0);
	backend_queue_fini(bq);
	backend_close(be);

	/* Read-only: writes refused by the core. */
	bo.readonly = true;
	T_ASSERT_EQ(backend_open("memory:64K", &bo, &be), 0);
	T_ASSERT(!backend_can_write(be));
	T_ASSERT(!backend_can_discard(be));
	T_ASSERT(!backend_can_write_zeroes(be));
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	iov[0] = (struct iovec){ buf, 512 };
	io = (struct backend_io){ .op = BACKEND_OP_WRITE, .offset = 0, .len = 512,
				  .iov = iov, .iovcnt = 1 };
	T_ASSERT_EQ(run(bq, &io), -EROFS);
	io = (struct backend_io){ .op = BACKEND_OP_DISCARD, .offset = 0, .len = 512 };
	T_ASSERT_EQ(run(bq, &io), -EOPNOTSUPP);
	backend_queue_fini(bq);
	backend_close(be);

	/* Large sizes only reserve address space. */
	bo.readonly = false;
	T_ASSERT_EQ(backend_open("memory:1T", &bo, &be), 0);
	T_ASSERT_EQ(backend_size(be), 1ull << 40);
	backend_close(be);
	T_ASSERT_EQ(backend_open("memory:8388607T", &bo, &be), -ENOMEM);
	T_ASSERT(strstr(msg_last_error(), "use a smaller size"));

	ram_back_and_resize();
	return T_EXIT_PASS;
}
