// SPDX-License-Identifier: LGPL-2.1-or-later
/* null: reads are zeroes whatever was written, and everything succeeds. */
#include <errno.h>
#include <string.h>

#include "backend.h"
#include "test.h"

static int result = 1;

static void done(struct backend_io *io, int r)
{
	result = r;
}

int main(void)
{
	struct backend_open_opts bo = { .block_size = 512 };
	struct backend_queue_env env = { 0 };
	uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct backend_queue *bq;
	struct backend *be;
	struct backend_io io;
	size_t i;

	T_ASSERT_EQ(backend_open("null:1G", &bo, &be), 0);
	T_ASSERT_EQ(backend_size(be), 1ull << 30);
	T_ASSERT(backend_can_write(be));
	T_ASSERT(!backend_has_cache(be));
	T_ASSERT(backend_can_discard(be));
	T_ASSERT(backend_write_zeroes_native(be));
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);

	memset(buf, 0x99, sizeof(buf));
	io = (struct backend_io){ .op = BACKEND_OP_WRITE, .offset = 0,
				  .len = sizeof(buf), .iov = &iov, .iovcnt = 1, .done = done };
	backend_submit(bq, &io);
	T_ASSERT_EQ(result, 0);
	io.op = BACKEND_OP_READ;
	result = 1;
	backend_submit(bq, &io);
	T_ASSERT_EQ(result, 0);
	for (i = 0; i < sizeof(buf); i++)
		T_ASSERT_EQ(buf[i], 0);
	io = (struct backend_io){ .op = BACKEND_OP_WRITE_ZEROES, .len = 4096, .done = done };
	result = 1;
	backend_submit(bq, &io);
	T_ASSERT_EQ(result, 0);
	io = (struct backend_io){ .op = BACKEND_OP_FLUSH, .done = done };
	result = 1;
	backend_submit(bq, &io);
	T_ASSERT_EQ(result, 0);

	T_ASSERT_EQ(backend_resize(be, 2ull << 30), 0);
	T_ASSERT_EQ(backend_size(be), 2ull << 30);
	backend_queue_fini(bq);
	backend_close(be);
	return T_EXIT_PASS;
}
