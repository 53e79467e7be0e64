// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * null:SIZE - reads return zeroes, writes are dropped.  For measuring the
 * transport without any storage cost.
 *
 * Thread model: PARALLEL; no state besides the size.  Operations complete
 * inside the submit call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend-plugin.h"
#include "registry.h"

struct null_disk {
	uint64_t size;
	bool readonly;
};

static int null_open(const char *arg, const struct backend_open_opts *opts,
		     void **handlep)
{
	struct null_disk *n;
	uint64_t size;
	int ret;

	ret = backend_parse_size(arg, "null size", &size);
	if (ret)
		return ret;
	n = calloc(1, sizeof(*n));
	if (!n) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	n->size = size;
	n->readonly = opts->readonly;
	*handlep = n;
	return 0;
}

static void null_close(void *handle)
{
	free(handle);
}

static int64_t null_get_size(void *handle)
{
	struct null_disk *n = handle;

	return (int64_t)n->size;
}

static bool null_can_write(void *handle)
{
	struct null_disk *n = handle;

	return !n->readonly;
}

static bool null_true(void *handle)
{
	return true;
}

static int null_resize(void *handle, uint64_t size)
{
	struct null_disk *n = handle;

	n->size = size;
	return 0;
}

static int null_queue_init(void *handle, const struct backend_queue_env *env,
			   void **queuep)
{
	*queuep = handle;
	return 0;
}

static void null_read(void *queue, struct backend_io *io)
{
	unsigned int i;

	for (i = 0; i < io->iovcnt; i++)
		memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
	backend_io_complete(io, 0);
}

static void null_drop(void *queue, struct backend_io *io)
{
	backend_io_complete(io, 0);
}

static struct backend_ops null_ops = {
	.name = "null",
	.prefix = "null:",
	.usage = "null:SIZE        reads zeroes, drops writes (transport benchmarks)",
	.thread_model = BACKEND_THREAD_PARALLEL,
	.open = null_open,
	.close = null_close,
	.get_size = null_get_size,
	.can_write = null_can_write,
	.can_discard = null_true,
	.can_zero_unmap = null_true,
	.queue_init = null_queue_init,
	.read = null_read,
	.write = null_drop,
	.discard = null_drop,
	.write_zeroes = null_drop,
	.resize = null_resize,
};

BACKEND_REGISTER(null_ops, backend_null_init)
