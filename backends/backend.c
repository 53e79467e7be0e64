// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The backend core: spec lookup, loading of the ops struct, cached
 * capabilities, and the emulation shim between the device model and the
 * backends.
 *
 * Thread model: backend_open/close/resize run on the control thread; each
 * struct backend_queue and every backend_io submitted on it belong to one
 * queue thread.  struct backend is read-only after open except for the
 * size, which is atomic.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <liburing.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "backend-plugin.h"
#include "clock.h"

/* Emulated write-zeroes write this much per step. */
#define ZERO_BUF_SIZE	(1024 * 1024)

struct backend {
	struct backend_ops ops;		/* zero-extended copy */
	void *handle;
	char *spec;
	_Atomic uint64_t size;
	uint32_t phys_block_size;
	bool can_write;
	bool has_cache;
	bool can_discard;
	enum backend_cap write_zeroes;
	bool zero_unmap;
};

struct backend_queue {
	struct backend *be;
	void *queue;
};

void backend_copy_init(struct backend_copy_budget *b, uint64_t max,
		       void (*resume)(void *queue, struct backend_io *io),
		       void *queue)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : BACKEND_COPY_BUDGET;
	b->resume = resume;
	b->queue = queue;
}

static bool copy_fits(const struct backend_copy_budget *b, uint64_t len)
{
	return !b->held || (len <= b->max && b->held <= b->max - len);
}

static void copy_take(struct backend_copy_budget *b, uint64_t len)
{
	b->held += len;
	if (b->held > b->peak)
		b->peak = b->held;
}

bool backend_copy_get(struct backend_copy_budget *b, struct backend_io *io)
{
	/* Behind a waiting request even if this one fits: no overtaking. */
	if (!b->wait_head && copy_fits(b, io->len)) {
		copy_take(b, io->len);
		return true;
	}
	io->copy_next = NULL;
	if (b->wait_tail)
		b->wait_tail->copy_next = io;
	else
		b->wait_head = io;
	b->wait_tail = io;
	return false;
}

struct backend_io *backend_copy_unwait(struct backend_copy_budget *b)
{
	struct backend_io *io = b->wait_head;

	if (io && !(b->wait_head = io->copy_next))
		b->wait_tail = NULL;
	return io;
}

void backend_copy_put(struct backend_copy_budget *b, uint64_t len)
{
	struct backend_io *io;

	b->held -= len;
	/* A resumed request may complete at once and get here again. */
	if (b->releasing)
		return;
	b->releasing = true;
	while (b->wait_head && copy_fits(b, b->wait_head->len)) {
		io = backend_copy_unwait(b);
		copy_take(b, io->len);
		b->resume(b->queue, io);
	}
	b->releasing = false;
}

void uring_cb_run(const struct io_uring_cqe *cqe)
{
	struct uring_cb *cb = io_uring_cqe_get_data(cqe);

	cb->fn(cb, cqe->res, cqe->flags);
}

int backend_parse_size(const char *s, const char *what, uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0;
	unsigned int shift = 0;

	if (!s || !*s) {
		msg_error("%s is empty: give a number of bytes with an optional K, M, G or T suffix (e.g. 64M)",
			  what);
		return -EINVAL;
	}
	if (!isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned int d = *p - '0';

		if (v > (UINT64_MAX - d) / 10)
			goto too_big;
		v = v * 10 + d;
	}
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default:
		goto bad;
	}
	if (*p)
		goto bad;
	if (v == 0) {
		msg_error("%s '%s' is zero: give at least one block (e.g. 64M)", what, s);
		return -EINVAL;
	}
	/* The result must be a valid file offset, hence INT64_MAX. */
	if (v > ((uint64_t)INT64_MAX >> shift))
		goto too_big;
	*out = v << shift;
	return 0;

bad:
	msg_error("%s '%s' is not a size: use a number of bytes with an optional K, M, G or T suffix (e.g. 64M)",
		  what, s);
	return -EINVAL;
too_big:
	msg_error("%s '%s' is too large: the limit is %" PRId64 " bytes (8E - 1)",
		  what, s, INT64_MAX);
	return -ERANGE;
}

/*
 * Copies a backend's struct into a zeroed one of ours, so members appended
 * after the backend was built read as NULL, and checks what is required.
 */
static int backend_load(const struct backend_ops *src, struct backend_ops *dst)
{
	size_t n;

	memset(dst, 0, sizeof(*dst));
	if (!src || src->api_version == 0 || src->api_version > BACKEND_API_VERSION ||
	    src->struct_size < offsetof(struct backend_ops, name) + sizeof(src->name)) {
		msg_error("a backend was built for an unknown backend API version; rebuild it");
		return -EINVAL;
	}
	n = src->struct_size < sizeof(*dst) ? src->struct_size : sizeof(*dst);
	memcpy(dst, src, n);
	if (!dst->name || !dst->open || !dst->get_size || !dst->queue_init ||
	    !dst->read) {
		msg_error("backend '%s' lacks one of name, open, get_size, queue_init or read",
			  dst->name ? dst->name : "?");
		return -EINVAL;
	}
	return 0;
}

const char *backend_param(const struct backend_open_opts *opts, const char *key)
{
	unsigned int i;

	for (i = 0; opts && i < opts->nparams; i++)
		if (!strcmp(opts->params[i].key, key))
			return opts->params[i].value;
	return NULL;
}

int backend_param_uint(const struct backend_open_opts *opts, const char *key,
		       unsigned int max, unsigned int *out)
{
	const char *v = backend_param(opts, key);
	unsigned long n;
	char *end;

	if (!v)
		return 0;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (!isdigit((unsigned char)*v) || *end || errno || n > max) {
		msg_error("option %s takes a whole number from 0 to %u, not '%s'",
			  key, max, v);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/* Every option given is one the backend declares. */
static int check_params(const struct backend_ops *ops,
			const struct backend_open_opts *opts)
{
	const char *const *known = ops->params;
	char list[128] = "";
	unsigned int i;
	size_t len;

	for (i = 0; i < opts->nparams; i++) {
		const char *const *k;

		for (k = known; k && *k; k++)
			if (!strcmp(*k, opts->params[i].key))
				break;
		if (k && *k)
			continue;
		for (k = known; k && *k; k++) {
			len = strlen(list);
			snprintf(list + len, sizeof(list) - len, "%s%s",
				 len ? ", " : "", *k);
		}
		msg_error("the %s backend has no option '%s'%s%s", ops->name,
			  opts->params[i].key, *list ? ": it takes " : "", list);
		return -EINVAL;
	}
	return 0;
}

int backend_open_ops(const struct backend_ops *ops, const char *arg,
		     const char *spec, const struct backend_open_opts *opts,
		     struct backend **bep)
{
	struct backend *be;
	int64_t size;
	int ret;

	be = calloc(1, sizeof(*be));
	if (!be) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	ret = backend_load(ops, &be->ops);
	if (ret)
		goto err_free;
	be->spec = strdup(spec);
	if (!be->spec) {
		msg_error("out of memory");
		ret = -ENOMEM;
		goto err_free;
	}
	ret = check_params(&be->ops, opts);
	if (ret)
		goto err_free;
	ret = be->ops.open(arg, opts, &be->handle);
	if (ret)
		goto err_free;

	size = be->ops.get_size(be->handle);
	if (size < 0) {
		ret = (int)size;
		goto err_close;
	}
	atomic_store(&be->size, (uint64_t)size);
	be->phys_block_size = be->ops.get_phys_block_size ?
		be->ops.get_phys_block_size(be->handle) : 0;

	be->can_write = be->ops.write && be->ops.can_write &&
			be->ops.can_write(be->handle);
	if (!opts->readonly && !be->can_write) {
		msg_error("backend '%s' can only be read: add --read-only", spec);
		ret = -EROFS;
		goto err_close;
	}
	if (opts->readonly)
		be->can_write = false;
	be->has_cache = be->ops.flush && be->ops.can_flush &&
			be->ops.can_flush(be->handle);
	be->can_discard = be->can_write && be->ops.discard &&
			  (!be->ops.can_discard || be->ops.can_discard(be->handle));
	if (!be->can_write)
		be->write_zeroes = BACKEND_CAP_NONE;
	else if (be->ops.can_write_zeroes)
		be->write_zeroes = be->ops.can_write_zeroes(be->handle);
	else
		be->write_zeroes = be->ops.write_zeroes ? BACKEND_CAP_NATIVE :
							  BACKEND_CAP_EMULATE;
	if (be->write_zeroes == BACKEND_CAP_NATIVE && !be->ops.write_zeroes)
		be->write_zeroes = BACKEND_CAP_EMULATE;
	be->zero_unmap = be->write_zeroes == BACKEND_CAP_NATIVE &&
			 be->ops.can_zero_unmap && be->ops.can_zero_unmap(be->handle);
	*bep = be;
	return 0;

err_close:
	if (be->ops.close)
		be->ops.close(be->handle);
err_free:
	free(be->spec);
	free(be);
	return ret;
}

void backend_close(struct backend *be)
{
	if (!be)
		return;
	if (be->ops.close)
		be->ops.close(be->handle);
	free(be->spec);
	free(be);
}

const char *backend_name(const struct backend *be)
{
	return be->ops.name;
}

const char *backend_spec(const struct backend *be)
{
	return be->spec;
}

uint64_t backend_size(const struct backend *be)
{
	return atomic_load_explicit(&be->size, memory_order_relaxed);
}

int backend_refresh_size(struct backend *be)
{
	int64_t size = be->ops.get_size(be->handle);

	if (size < 0)
		return (int)size;
	atomic_store(&be->size, (uint64_t)size);
	return 0;
}

int backend_resize(struct backend *be, uint64_t size)
{
	int ret;

	if (!be->ops.resize) {
		msg_error("the %s backend cannot change its size", be->ops.name);
		return -EOPNOTSUPP;
	}
	if (!be->can_write) {
		msg_error("a read-only device cannot be resized");
		return -EROFS;
	}
	ret = be->ops.resize(be->handle, size);
	if (ret)
		return ret;
	return backend_refresh_size(be);
}

uint32_t backend_phys_block_size(const struct backend *be)
{
	return be->phys_block_size;
}

bool backend_can_write(const struct backend *be)
{
	return be->can_write;
}

bool backend_has_cache(const struct backend *be)
{
	return be->has_cache;
}

bool backend_can_discard(const struct backend *be)
{
	return be->can_discard;
}

bool backend_can_write_zeroes(const struct backend *be)
{
	return be->write_zeroes != BACKEND_CAP_NONE;
}

bool backend_write_zeroes_native(const struct backend *be)
{
	return be->write_zeroes == BACKEND_CAP_NATIVE;
}

bool backend_can_zero_unmap(const struct backend *be)
{
	return be->zero_unmap;
}

enum backend_thread_model backend_thread_model(const struct backend *be)
{
	if (be->ops.get_thread_model)
		return be->ops.get_thread_model(be->handle);
	return be->ops.thread_model;
}

size_t backend_io_size(const struct backend *be)
{
	size_t priv = (be->ops.io_priv_size + 15) & ~(size_t)15;

	return sizeof(struct backend_io) + priv;
}

int backend_queue_init(struct backend *be, const struct backend_queue_env *env,
		       struct backend_queue **bqp)
{
	struct backend_queue *bq;
	int ret;

	bq = calloc(1, sizeof(*bq));
	if (!bq) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	bq->be = be;
	ret = be->ops.queue_init(be->handle, env, &bq->queue);
	if (ret) {
		free(bq);
		return ret;
	}
	*bqp = bq;
	return 0;
}

void backend_queue_fini(struct backend_queue *bq)
{
	if (!bq)
		return;
	if (bq->be->ops.queue_fini)
		bq->be->ops.queue_fini(bq->queue);
	free(bq);
}

int backend_queue_poll_fd(struct backend_queue *bq)
{
	if (!bq->be->ops.queue_poll_fd)
		return -1;
	return bq->be->ops.queue_poll_fd(bq->queue);
}

int backend_queue_process(struct backend_queue *bq)
{
	if (!bq->be->ops.queue_process)
		return 0;
	return bq->be->ops.queue_process(bq->queue);
}

void backend_queue_unplug(struct backend_queue *bq)
{
	if (bq->be->ops.queue_unplug)
		bq->be->ops.queue_unplug(bq->queue);
}

bool backend_queue_abort(struct backend_queue *bq)
{
	if (!bq->be->ops.queue_abort)
		return false;
	bq->be->ops.queue_abort(bq->queue);
	return true;
}

/*
 * One zeroed buffer for the whole process, page aligned so that O_DIRECT
 * accepts it.  Filled with real zeroes rather than left as untouched
 * anonymous memory, because pinning the shared zero page for direct I/O is
 * refused by some kernels.
 */
static void *zero_buf;
static pthread_once_t zero_once = PTHREAD_ONCE_INIT;

static void zero_buf_alloc(void)
{
	void *p;

	if (posix_memalign(&p, 4096, ZERO_BUF_SIZE))
		return;
	memset(p, 0, ZERO_BUF_SIZE);
	zero_buf = p;
}

static void emulate_zero_step(struct backend_io *io)
{
	uint64_t left = io->emul_len - io->emul_pos;

	io->emul_iov.iov_base = zero_buf;
	io->emul_iov.iov_len = left < ZERO_BUF_SIZE ? left : ZERO_BUF_SIZE;
	io->op = BACKEND_OP_WRITE;
	io->offset = io->emul_offset + io->emul_pos;
	io->len = io->emul_iov.iov_len;
	io->iov = &io->emul_iov;
	io->iovcnt = 1;
	io->emul_bq->be->ops.write(io->emul_bq->queue, io);
}

void backend_io_complete(struct backend_io *io, int result)
{
	if (io->emulating) {
		if (result == 0) {
			io->emul_pos += io->emul_iov.iov_len;
			if (io->emul_pos < io->emul_len) {
				emulate_zero_step(io);
				return;
			}
		}
		/* Give the caller back the operation it submitted. */
		io->emulating = false;
		io->op = BACKEND_OP_WRITE_ZEROES;
		io->offset = io->emul_offset;
		io->len = io->emul_len;
		io->iov = NULL;
		io->iovcnt = 0;
	}
	io->done(io, result);
}

void backend_submit(struct backend_queue *bq, struct backend_io *io)
{
	struct backend *be = bq->be;

	io->emulating = false;
	/* Nothing to move is done at once; a flush of nothing still flushes. */
	if (io->op != BACKEND_OP_FLUSH && io->len == 0) {
		backend_io_complete(io, 0);
		return;
	}
	switch (io->op) {
	case BACKEND_OP_READ:
		be->ops.read(bq->queue, io);
		return;
	case BACKEND_OP_WRITE:
		if (!be->can_write) {
			backend_io_complete(io, -EROFS);
			return;
		}
		be->ops.write(bq->queue, io);
		return;
	case BACKEND_OP_FLUSH:
		/* Without a volatile cache, completed writes are already stable. */
		if (!be->has_cache) {
			backend_io_complete(io, 0);
			return;
		}
		be->ops.flush(bq->queue, io);
		return;
	case BACKEND_OP_DISCARD:
		if (!be->can_discard)
			break;
		be->ops.discard(bq->queue, io);
		return;
	case BACKEND_OP_WRITE_ZEROES:
		if (be->write_zeroes == BACKEND_CAP_NATIVE) {
			be->ops.write_zeroes(bq->queue, io);
			return;
		}
		if (be->write_zeroes != BACKEND_CAP_EMULATE)
			break;
		pthread_once(&zero_once, zero_buf_alloc);
		if (!zero_buf) {
			backend_io_complete(io, -ENOMEM);
			return;
		}
		io->emul_bq = bq;
		io->emul_offset = io->offset;
		io->emul_len = io->len;
		io->emul_pos = 0;
		io->emulating = true;
		emulate_zero_step(io);
		return;
	}
	backend_io_complete(io, -EOPNOTSUPP);
}
