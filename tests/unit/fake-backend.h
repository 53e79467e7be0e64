/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A backend for tests that records what reaches it: a RAM disk whose
 * capabilities the test chooses, so the core's emulation can be observed.
 */
#ifndef VDK_FAKE_BACKEND_H
#define VDK_FAKE_BACKEND_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend-plugin.h"

#define FAKE_SIZE (4u << 20)

struct fake {
	uint8_t *data;
	bool cache;			/* has a volatile cache */
	bool native_zeroes;
	bool zero_unmap;
	unsigned int n[5];		/* operations seen, by enum backend_op */
	unsigned int last_flags;
	uint64_t max_write;
	int fail;			/* next operation fails with this */
};

static struct fake fake;

static int fake_open(const char *arg, const struct backend_open_opts *opts, void **h)
{
	fake.data = calloc(1, FAKE_SIZE);
	*h = &fake;
	return fake.data ? 0 : -ENOMEM;
}

static void fake_close(void *h)
{
	free(fake.data);
	fake.data = NULL;
}

static int64_t fake_size(void *h) { return FAKE_SIZE; }
static bool fake_yes(void *h) { return true; }
static bool fake_cache(void *h) { return fake.cache; }
static bool fake_zero_unmap(void *h) { return fake.zero_unmap; }

static enum backend_cap fake_wz(void *h)
{
	return fake.native_zeroes ? BACKEND_CAP_NATIVE : BACKEND_CAP_EMULATE;
}

static int fake_queue_init(void *h, const struct backend_queue_env *env, void **q)
{
	*q = h;
	return 0;
}

static void fake_op(void *q, struct backend_io *io)
{
	unsigned int i;
	uint64_t off = io->offset;
	int fail = fake.fail;

	fake.n[io->op]++;
	fake.last_flags = io->flags;
	fake.fail = 0;
	if (fail) {
		backend_io_complete(io, fail);
		return;
	}
	for (i = 0; i < io->iovcnt; i++) {
		if (io->op == BACKEND_OP_READ)
			memcpy(io->iov[i].iov_base, fake.data + off, io->iov[i].iov_len);
		else
			memcpy(fake.data + off, io->iov[i].iov_base, io->iov[i].iov_len);
		off += io->iov[i].iov_len;
	}
	if (io->op == BACKEND_OP_WRITE && io->len > fake.max_write)
		fake.max_write = io->len;
	if (io->op == BACKEND_OP_WRITE_ZEROES || io->op == BACKEND_OP_DISCARD)
		memset(fake.data + io->offset, 0, io->len);
	backend_io_complete(io, 0);
}

static struct backend_ops fake_ops = {
	.name = "fake",
	.open = fake_open,
	.close = fake_close,
	.get_size = fake_size,
	.can_write = fake_yes,
	.can_flush = fake_cache,
	.can_write_zeroes = fake_wz,
	.can_zero_unmap = fake_zero_unmap,
	.queue_init = fake_queue_init,
	.read = fake_op,
	.write = fake_op,
	.flush = fake_op,
	.discard = fake_op,
	.write_zeroes = fake_op,
};

BACKEND_REGISTER(fake_ops, fake_init)

#endif /* VDK_FAKE_BACKEND_H */
