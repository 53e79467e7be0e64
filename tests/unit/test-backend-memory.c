// SPDX-License-Identifier: LGPL-2.1-or-later
/* The RAM disk: data kept, zeroing returns pages, completions are immediate. */
#include <errno.h>
#include <string.h>

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
	T_ASSERT_EQ(backend_resize(be, 2 << 20), -EOPNOTSUPP);
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
	T_ASSERT(strstr(backend_last_error(), "use a smaller size"));
	return T_EXIT_PASS;
}
