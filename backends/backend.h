/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Storage backends for vduse-blk.
 *
 * A backend fills a struct backend_ops and ends its file with
 * BACKEND_REGISTER(ops, init_fn).  The core (backend.c) copies the struct
 * into a zeroed one of its own size, so a backend built against an older,
 * shorter struct simply has NULL for the newer members: members are only
 * ever appended.  The core answers for what a backend lacks:
 *
 * - FLUSH: a backend without a volatile cache (can_flush false) has stable
 *   writes once they complete, so the core completes FLUSH at once.
 * - WRITE_ZEROES: a writable backend without native zeroing gets it as
 *   writes from a zero buffer.
 * - DISCARD: never emulated; not offered when the backend cannot.
 *
 * Thread model: the daemon runs one thread per virtqueue.  A backend opens
 * one handle for the device (shared by every queue, read-only after open)
 * and one queue context per queue thread (owned by that thread alone).
 * Backends declare whether their queue contexts may run concurrently
 * (BACKEND_THREAD_PARALLEL) or whether the device must be limited to one
 * queue (BACKEND_THREAD_ONE_QUEUE).
 *
 * I/O is asynchronous.  The caller fills a struct backend_io, calls one of
 * backend_read/write/flush/discard/write_zeroes, and gets io->done exactly
 * once, either later (e.g. when the daemon reaps the io_uring completion)
 * or already from inside the submit call (memory and null backends).  The
 * caller must not touch @io after submitting until done is called.
 *
 * Errors: functions return 0 or a negative errno; setup functions also
 * leave a sentence in msg_last_error() naming the problem and the fix.
 * Results delivered to io->done are 0 or a negative errno.
 */
#ifndef VDK_BACKEND_H
#define VDK_BACKEND_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "log.h"

struct io_uring;
struct io_uring_cqe;

#define BACKEND_API_VERSION 1

/*
 * io_uring convention.  Every SQE a backend puts on a queue thread's ring
 * carries a pointer to a struct uring_cb as its user_data; the device model
 * hands the CQEs that are not the runtime's own (it tags those) to
 * uring_cb_run().  A callback may queue new SQEs, so the reaper must
 * submit again after reaping.
 */
struct uring_cb {
	void (*fn)(struct uring_cb *cb, int res, uint32_t cqe_flags);
};

void uring_cb_run(const struct io_uring_cqe *cqe);

enum backend_thread_model {
	BACKEND_THREAD_PARALLEL = 0,	/* queue contexts are independent */
	BACKEND_THREAD_ONE_QUEUE = 1,	/* at most one queue context */
};

/* Answer of can_write_zeroes. */
enum backend_cap {
	BACKEND_CAP_NONE = 0,		/* do not offer the operation */
	BACKEND_CAP_EMULATE = 1,	/* let the core emulate it */
	BACKEND_CAP_NATIVE = 2,		/* the backend implements it */
};

/* How the file backend may use the page cache. */
enum backend_cache {
	BACKEND_CACHE_AUTO = 0,		/* O_DIRECT when alignment allows */
	BACKEND_CACHE_DIRECT = 1,	/* O_DIRECT or fail */
	BACKEND_CACHE_BUFFERED = 2,	/* never O_DIRECT */
};

/* Options for backend_open(), set by the daemon from its command line. */
struct backend_open_opts {
	bool readonly;			/* open for reading only */
	uint32_t block_size;		/* logical block size the device will use */
	enum backend_cache cache;
	/*
	 * Network backends: fail an operation with -EIO once it has waited
	 * this many seconds for the server; 0 = wait for the server forever.
	 */
	uint32_t io_timeout_s;
	/* Queues the device will have; 0 = not known (tests). */
	unsigned int queues;
};

enum backend_op {
	BACKEND_OP_READ,
	BACKEND_OP_WRITE,
	BACKEND_OP_FLUSH,
	BACKEND_OP_DISCARD,
	BACKEND_OP_WRITE_ZEROES,
};

/* backend_io.flags */
#define BACKEND_IO_MAY_UNMAP	(1u << 0)	/* write_zeroes may deallocate */

/*
 * One operation.  The caller fills the first block; the core uses the
 * second; the backend may use backend_io_priv() (ops.io_priv_size bytes
 * allocated right after this struct, see backend_io_size()).
 */
struct backend_io {
	enum backend_op op;
	unsigned int flags;
	uint64_t offset;		/* bytes; range already validated */
	uint64_t len;			/* bytes; equals the iov total for r/w */
	const struct iovec *iov;	/* read/write only */
	unsigned int iovcnt;
	void (*done)(struct backend_io *io, int result);

	/* core only: write-zeroes emulation state */
	struct backend_queue *emul_bq;
	uint64_t emul_offset;
	uint64_t emul_len;
	uint64_t emul_pos;
	struct iovec emul_iov;
	bool emulating;
	/* the backend's struct backend_copy_budget: its wait list */
	struct backend_io *copy_next;
} __attribute__((aligned(16)));

static inline void *backend_io_priv(struct backend_io *io)
{
	return io + 1;
}

/* Copies up to @len bytes from offset @skip of the segments; returns the count. */
static inline size_t iov_to_buf(const struct iovec *iov, unsigned int cnt,
				uint64_t skip, void *buf, size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < cnt && done < len; i++) {
		size_t n;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - skip;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + skip, n);
		done += n;
		skip = 0;
	}
	return done;
}

/* Copies up to @len bytes of @buf into the segments; returns the count. */
static inline size_t buf_to_iov(const struct iovec *iov, unsigned int cnt,
				const void *buf, size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < cnt && done < len; i++) {
		size_t n = iov[i].iov_len;

		if (n > len - done)
			n = len - done;
		memcpy(iov[i].iov_base, (const uint8_t *)buf + done, n);
		done += n;
	}
	return done;
}

/* The io whose private area @priv is (the inverse of backend_io_priv). */
static inline struct backend_io *backend_io_from_priv(void *priv)
{
	return (struct backend_io *)priv - 1;
}

struct backend_queue_env {
	unsigned int index;		/* virtqueue index */
	unsigned int depth;		/* most operations in flight at once */
	struct io_uring *ring;		/* the queue thread's ring, may be NULL */
};

struct backend_ops {
	/* Stamped by BACKEND_REGISTER; do not set by hand. */
	uint32_t struct_size;
	uint32_t api_version;

	const char *name;		/* "file" */
	const char *prefix;		/* spec prefix, "memory:"; NULL = none */
	const char *usage;		/* "memory:SIZE  RAM disk ..." */
	enum backend_thread_model thread_model;
	size_t io_priv_size;		/* bytes behind each struct backend_io */

	/*
	 * @arg is the spec after the prefix.  Sets *@handlep.  Returns 0 or
	 * -errno after msg_error().  Required.
	 */
	int (*open)(const char *arg, const struct backend_open_opts *opts,
		    void **handlep);
	void (*close)(void *handle);
	/* Size in bytes, or -errno.  Called again after a resize.  Required. */
	int64_t (*get_size)(void *handle);
	/*
	 * Physical (preferred) block size in bytes, a power of two; used for
	 * the topology hints.  Optional: the logical block size if NULL.
	 */
	uint32_t (*get_phys_block_size)(void *handle);

	/* Capabilities, asked once at open.  NULL means false / see below. */
	bool (*can_write)(void *handle);
	bool (*can_flush)(void *handle);	/* true = has a volatile cache */
	bool (*can_discard)(void *handle);	/* NULL: discard != NULL */
	/* NULL: NATIVE if write_zeroes != NULL, else EMULATE. */
	enum backend_cap (*can_write_zeroes)(void *handle);
	/* Whether write_zeroes with BACKEND_IO_MAY_UNMAP really deallocates. */
	bool (*can_zero_unmap)(void *handle);

	/* Queue contexts; queue_init is required. */
	int (*queue_init)(void *handle, const struct backend_queue_env *env,
			  void **queuep);
	void (*queue_fini)(void *queue);
	/*
	 * For backends that do not complete through env->ring (network ones):
	 * a descriptor the queue thread polls for POLLIN, and the step it calls
	 * when the descriptor is readable.  Both optional.
	 */
	int (*queue_poll_fd)(void *queue);
	int (*queue_process)(void *queue);

	/* Operations; each must end in exactly one backend_io_complete(). */
	void (*read)(void *queue, struct backend_io *io);	/* required */
	void (*write)(void *queue, struct backend_io *io);
	void (*flush)(void *queue, struct backend_io *io);
	void (*discard)(void *queue, struct backend_io *io);
	void (*write_zeroes)(void *queue, struct backend_io *io);

	/* Optional: change the size (control thread, queues may be running). */
	int (*resize)(void *handle, uint64_t size);

	/*
	 * More spec prefixes, NULL-terminated, for backends that own several
	 * URI schemes ("nbd:", "nbds:", ...).  Unlike @prefix, a match passes
	 * the whole spec to open, since a URI needs its scheme.  Optional.
	 */
	const char *const *prefixes;
	/*
	 * Optional: the thread model once open, for backends where it depends
	 * on what they connected to; NULL means @thread_model.
	 */
	enum backend_thread_model (*get_thread_model)(void *handle);
	/*
	 * Optional: called by the queue thread after each batch of
	 * submissions and before every wait.  A network backend may hold
	 * back what it sends within a batch (one packet for many requests)
	 * and must send it all here.
	 */
	void (*queue_unplug)(void *queue);
	/*
	 * Optional: the device is stopping and the requests this queue holds
	 * have waited too long.  Make sure nothing will touch their buffers
	 * again (close the connection, ...) and complete every one of them,
	 * with -EIO, before returning.  Without it they are waited for.
	 */
	void (*queue_abort)(void *queue);
	/*
	 * The data lives in the daemon's own memory and is gone when it
	 * exits (memory:), so a device of it cannot be recovered after a
	 * crash.  false: the data survives a daemon restart.
	 */
	bool volatile_data;
};

/*
 * Defines init_fn(), which stamps the struct size and API version into
 * @ops and returns it; the registry (registry.c) lists the init functions.
 */
#define BACKEND_REGISTER(ops, init_fn)					\
	const struct backend_ops *init_fn(void);			\
	const struct backend_ops *init_fn(void)				\
	{								\
		(ops).struct_size = sizeof(ops);			\
		(ops).api_version = BACKEND_API_VERSION;		\
		return &(ops);						\
	}

/* Called by backends when @io is finished: 0 or -errno. */
void backend_io_complete(struct backend_io *io, int result);

/*
 * Setup errors (msg_error(), naming the problem and the fix) and log lines
 * (msg_log(), msg_log_ratelimited() for what a server can trigger over and
 * over) go through common/log.h, like every layer's.
 */

/*
 * Copies of request data that a backend queue holds: bounce buffers, or a
 * library's own copy of write data.  blk caps each request (seg_max x
 * size_max), but a driver may queue a ring's worth of them; so a queue lets
 * its copies total at most @max bytes.  A request that does not fit waits,
 * in order, until earlier ones give their bytes back; one larger than the
 * whole budget runs alone.  A queue thus holds at most max(@max, its
 * largest request) bytes of copies.  Queue thread only.
 */
#define BACKEND_COPY_BUDGET	(16u << 20)

struct backend_copy_budget {
	uint64_t max;
	uint64_t held;
	uint64_t peak;			/* most held at once, for tests */
	struct backend_io *wait_head, *wait_tail;
	/* Runs a request that waited, once its bytes are granted. */
	void (*resume)(void *queue, struct backend_io *io);
	void *queue;
	bool releasing;
};

/* @max 0 means BACKEND_COPY_BUDGET. */
void backend_copy_init(struct backend_copy_budget *b, uint64_t max,
		       void (*resume)(void *queue, struct backend_io *io),
		       void *queue);
/*
 * Grants @io its io->len bytes and returns true, or queues it and returns
 * false: resume() then runs it later, from inside a backend_copy_put().
 */
bool backend_copy_get(struct backend_copy_budget *b, struct backend_io *io);
/* Gives back @len bytes and resumes, in order, the waiting requests that fit. */
void backend_copy_put(struct backend_copy_budget *b, uint64_t len);
/* Takes the oldest waiting request off the list (to fail it), or NULL. */
struct backend_io *backend_copy_unwait(struct backend_copy_budget *b);

/*
 * Parses "123", "64K", "1M", "2G", "1T" (binary multiples, either case)
 * into bytes.  Rejects garbage, zero and overflow (the limit is INT64_MAX,
 * the largest file offset).  Returns 0 or -EINVAL / -ERANGE after
 * msg_error().  @what names the value in the message ("size").
 */
int backend_parse_size(const char *s, const char *what, uint64_t *out);

/* ---- the core: an opened backend, as the daemon and blk/ use it ---- */

struct backend;
struct backend_queue;

/*
 * Finds the backend for @spec ("PATH", "file:PATH", "memory:SIZE",
 * "null:SIZE", ...), opens it and asks its capabilities.  *@bep is freed
 * with backend_close().
 */
/*
 * Whether the data behind @spec survives the daemon's exit (a crash, an
 * upgrade): 1 yes, 0 no (see backend_ops.volatile_data), or -errno after
 * msg_error() if no backend owns @spec.  Opens nothing.
 */
int backend_spec_persistent(const char *spec);
int backend_open(const char *spec, const struct backend_open_opts *opts,
		 struct backend **bep);
/*
 * Opens a backend that is not in the registry (tests, or a backend the
 * daemon carries itself); @arg goes to ops->open, @spec is for messages.
 */
int backend_open_ops(const struct backend_ops *ops, const char *arg,
		     const char *spec, const struct backend_open_opts *opts,
		     struct backend **bep);
void backend_close(struct backend *be);

/* The backend's name ("file") and the spec it was opened with. */
const char *backend_name(const struct backend *be);
const char *backend_spec(const struct backend *be);
/* Cached size in bytes; backend_refresh_size() asks the backend again. */
uint64_t backend_size(const struct backend *be);
int backend_refresh_size(struct backend *be);
/* Asks the backend to change its size; -EOPNOTSUPP if it cannot. */
int backend_resize(struct backend *be, uint64_t size);
uint32_t backend_phys_block_size(const struct backend *be);

/* Capabilities as the device should present them (after emulation). */
bool backend_can_write(const struct backend *be);
bool backend_has_cache(const struct backend *be);
bool backend_can_discard(const struct backend *be);
bool backend_can_write_zeroes(const struct backend *be);
bool backend_write_zeroes_native(const struct backend *be);
bool backend_can_zero_unmap(const struct backend *be);
enum backend_thread_model backend_thread_model(const struct backend *be);

/* Bytes the caller must reserve for a struct backend_io and its tail. */
size_t backend_io_size(const struct backend *be);

/* One context per queue thread; env->ring may be shared with the daemon. */
int backend_queue_init(struct backend *be, const struct backend_queue_env *env,
		       struct backend_queue **bqp);
void backend_queue_fini(struct backend_queue *bq);
/* -1 if the queue completes through the ring only. */
int backend_queue_poll_fd(struct backend_queue *bq);
int backend_queue_process(struct backend_queue *bq);
/* End of a batch of submissions: see ops.queue_unplug. */
void backend_queue_unplug(struct backend_queue *bq);
/* See ops.queue_abort; false if the backend cannot abort. */
bool backend_queue_abort(struct backend_queue *bq);

/* Dispatch io->op through the emulation shim; io->done is always called. */
void backend_submit(struct backend_queue *bq, struct backend_io *io);

/* The registry, for --help: calls @fn for every known backend. */
void backend_list(void (*fn)(const char *name, const char *usage, void *opaque),
		  void *opaque);

#endif /* VDK_BACKEND_H */
