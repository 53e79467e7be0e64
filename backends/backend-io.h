/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the backend core's callers and the backends share: one operation
 * (struct backend_io) and the options and environment a backend is opened
 * and run with.  The two sides have headers of their own: backend.h for
 * the core's callers (blk, device models), backend-plugin.h for backends.
 * Thread model: see backend-plugin.h.
 */
#ifndef VDK_BACKEND_IO_H
#define VDK_BACKEND_IO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

struct io_uring;
struct io_uring_cqe;

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

/*
 * An option of one backend, by name: "cache" for file, "io-timeout" for
 * nbd and rbd (see each backend's usage).  The backend parses the value.
 */
struct backend_param {
	const char *key;
	const char *value;
};

/* Options for backend_open(), set by the daemon from its command line. */
struct backend_open_opts {
	bool readonly;			/* open for reading only */
	uint32_t block_size;		/* logical block size the device will use */
	/* Queues the device will have; 0 = not known (tests). */
	unsigned int queues;
	/*
	 * The backend's own options; the core refuses one that the backend
	 * does not declare (backend_ops.params), naming the ones it has.
	 */
	const struct backend_param *params;
	unsigned int nparams;
};

/* The longest io-timeout the network backends take: a day, in seconds. */
#define IO_TIMEOUT_MAX_S	86400

/* The value of option @key in @opts, or NULL if it was not given. */
const char *backend_param(const struct backend_open_opts *opts, const char *key);

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


/*
 * Parses "123", "64K", "1M", "2G", "1T" (binary multiples, either case)
 * into bytes.  Rejects garbage, zero and overflow (the limit is INT64_MAX,
 * the largest file offset).  Returns 0 or -EINVAL / -ERANGE after
 * msg_error().  @what names the value in the message ("size").
 */
int backend_parse_size(const char *s, const char *what, uint64_t *out);

#endif /* VDK_BACKEND_IO_H */
