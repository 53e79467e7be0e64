/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend core's API, for its callers (blk/, device models, tests):
 * open a backend from a spec, ask its capabilities, run queues and submit
 * struct backend_io.  What a backend implements is in backend-plugin.h.
 *
 * Thread model: backend_open/close/resize on the control thread; a struct
 * backend_queue and every io submitted on it belong to one queue thread.
 * Errors: 0 or -errno, with msg_last_error() naming the problem and the
 * fix (common/log.h).
 */
#ifndef VDK_BACKEND_H
#define VDK_BACKEND_H

#include "backend-io.h"
#include "log.h"

struct backend_ops;

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
