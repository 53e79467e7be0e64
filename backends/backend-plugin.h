/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The contract a storage backend implements (the core is backend.c; its
 * callers use backend.h).
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
#ifndef VDK_BACKEND_PLUGIN_H
#define VDK_BACKEND_PLUGIN_H

#include "backend-io.h"
#include "log.h"

#define BACKEND_API_VERSION 1

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
	/*
	 * The options this backend takes in backend_open_opts.params,
	 * NULL-terminated; it reads them with backend_param().  The core
	 * refuses any other.  Optional: none.
	 */
	const char *const *params;
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

/*
 * Reads option @key of @opts as a whole number from 0 to @max into *@out,
 * which keeps its value if the option was not given.  0, or -EINVAL after
 * msg_error() naming the option and what it takes.
 */
int backend_param_uint(const struct backend_open_opts *opts, const char *key,
		       unsigned int max, unsigned int *out);

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


#endif /* VDK_BACKEND_PLUGIN_H */
