/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtio-blk device model: config space and features from the
 * backend's capabilities, and the one validation layer between the
 * virtqueue and the backends.  Backends only ever see requests that are
 * well formed, in range, aligned to the block size and allowed.
 *
 * Threads: struct blk_dev is set up on the control thread and then only
 * read by the queue threads (capacity and acked features are atomic).
 * Each struct blk_queue belongs to one queue thread; its statistics may be
 * read from any thread (blk_stats_read()).
 *
 * Choices, briefly:
 * - Offsets and lengths of IN/OUT must be multiples of the block size when
 *   it is 4096 (QEMU checks the offset only, and lengths against 512); the
 *   Linux driver always aligns both, and O_DIRECT needs both.
 * - FLUSH is always offered (the spec says SHOULD); for a backend without
 *   a volatile cache it completes at once.  If the driver does not accept
 *   FLUSH, writes to a cached backend are followed by a flush (write-through)
 *   so completed writes are stable, as the spec requires.
 * - DISCARD/WRITE_ZEROES segments are done one after another; overlapping
 *   segments are allowed (harmless for both operations), zero-length ones
 *   are skipped.
 * - The used length of every completed request is the whole writable area
 *   (in_bytes): the status byte is its last byte, and the driver may trust
 *   only the first "len" bytes, so len must reach the status.
 * - A request without a writable status byte cannot be answered: it is
 *   pushed back with length 0 (so the ring does not stall) and logged.
 * - SEG_MAX and SIZE_MAX are always offered, and an IN/OUT request whose
 *   data exceeds seg_max x size_max (BLK_DATA_LIMIT if the driver did not
 *   accept both) fails with IOERR, like every other malformed request that
 *   has a status byte (see BLK_DATA_TARGET).  More
 *   segments than seg_max pass if their bytes fit: the library splits a
 *   descriptor that crosses two IOTLB regions.
 */
#ifndef VDK_BLK_H
#define VDK_BLK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_blk.h>

#include "backend.h"
#include "log.h"
#include "vdusekit.h"

#define BLK_SECTOR_SHIFT	9
#define BLK_SECTOR_SIZE		512u
/* Segments per DISCARD / WRITE_ZEROES request that we advertise and take. */
#define BLK_DWZ_SEGS_MAX	16
/* Largest segment: 1 GiB natively, 16 MiB when write-zeroes is emulated. */
#define BLK_DWZ_SECTORS_MAX		(1u << 21)
#define BLK_WZ_EMUL_SECTORS_MAX		(1u << 15)
/* Data segments per request: readv/writev take at most IOV_MAX (1024). */
#define BLK_SEG_MAX_LIMIT	1024u
/*
 * Data bytes per IN/OUT request.  The Linux driver takes seg_max as its
 * max_segments and size_max as its max_segment_size, and sets no sector
 * limit of its own (max_hw_sectors is UINT_MAX), so it never sends more
 * than seg_max * size_max bytes: that product is the cap the device
 * enforces (dev->max_data), and size_max is chosen to bring it near
 * BLK_DATA_TARGET.  Backends that copy data (bounce buffers) can then
 * bound what one request costs them.
 */
#define BLK_DATA_TARGET		(1u << 20)
/*
 * The cap never exceeds this, whatever size_max the caller asks for.  It is
 * also the cap for a driver that did not accept SIZE_MAX and SEG_MAX: the
 * limits do not bind it (firmware such as OVMF puts a whole transfer in
 * one descriptor), yet the backends' copies must stay bounded.
 */
#define BLK_DATA_LIMIT		(16u << 20)
/* Data segments kept inside the request before allocating. */
#define BLK_INLINE_IOVS		16

/*
 * Most queues of a block device: what virtio-blk drivers make use of,
 * well under the library's VDK_NUM_QUEUES_MAX.
 */
#define BLK_QUEUES_MAX		256

struct blk_opts {
	const char *name;		/* device name, for log messages */
	uint32_t block_size;		/* 512 or 4096; 0 means 512 */
	uint32_t num_queues;		/* 0 means 1 */
	uint32_t queue_size;		/* power of two, 4..VDK_QUEUE_SIZE_MAX; 0 means 256 */
	bool readonly;
	const char *serial;		/* GET_ID, up to 20 bytes; NULL = "" */
	/*
	 * Bytes per data segment to offer as SIZE_MAX, and to enforce per
	 * segment; 0 = derived from the queue size (BLK_DATA_TARGET), offered
	 * but only the request total enforced.
	 */
	uint32_t size_max;
};

struct blk_dev {
	struct backend *be;
	char name[64];
	uint64_t features;		/* offered, device bits only */
	_Atomic uint64_t acked;		/* accepted by the driver, 0 before */
	struct virtio_blk_config config;	/* little endian, as the driver sees it */
	_Atomic uint64_t capacity;	/* in 512-byte sectors */
	uint32_t block_size;
	uint32_t num_queues;
	uint32_t queue_size;
	uint32_t seg_max;
	uint32_t size_max;
	bool size_max_strict;		/* refuse data segments above size_max */
	uint64_t max_data;		/* data bytes per IN/OUT: seg_max * size_max */
	uint32_t max_discard_sectors;
	uint32_t max_wz_sectors;
	bool readonly;
	bool wz_may_unmap;
	char serial[VIRTIO_BLK_ID_BYTES];
};

/* Request types as counted in the statistics. */
enum blk_stat_type {
	BLK_STAT_READ,
	BLK_STAT_WRITE,
	BLK_STAT_FLUSH,
	BLK_STAT_GET_ID,
	BLK_STAT_DISCARD,
	BLK_STAT_WRITE_ZEROES,
	BLK_STAT_OTHER,			/* unknown types, malformed requests */
	BLK_STAT_NR,
};

/* Latency histogram: bucket b counts latencies in [2^(b-1), 2^b) ns. */
#define BLK_LAT_BUCKETS 48

/*
 * Written only by the queue thread, with relaxed atomics so another thread
 * may read any counter at any time without tearing; a snapshot taken while
 * requests complete may be off by those requests.
 */
struct blk_stats {
	_Atomic uint64_t reqs[BLK_STAT_NR];
	_Atomic uint64_t bytes_read;
	_Atomic uint64_t bytes_written;
	_Atomic uint64_t errors;	/* answered IOERR */
	_Atomic uint64_t unsupported;	/* answered UNSUPP */
	_Atomic uint64_t dropped;	/* no status byte: pushed unanswered */
	_Atomic uint64_t inflight;
	_Atomic uint64_t backend_flushes; /* flushes the backend completed */
	_Atomic uint64_t lat_count;
	_Atomic uint64_t lat_sum_ns;
	_Atomic uint64_t lat_min_ns;
	_Atomic uint64_t lat_max_ns;
	_Atomic uint64_t lat_hist[BLK_LAT_BUCKETS];
};

struct blk_stats_snapshot {
	uint64_t reqs[BLK_STAT_NR];
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t errors;
	uint64_t unsupported;
	uint64_t dropped;
	uint64_t inflight;
	uint64_t backend_flushes;
	uint64_t lat_count;
	uint64_t lat_sum_ns;
	uint64_t lat_min_ns;
	uint64_t lat_max_ns;
	uint64_t lat_hist[BLK_LAT_BUCKETS];
};

struct blk_queue;

/*
 * Hands a finished request back; @len is the used length.  The daemon
 * passes blk_complete_vq (vdk_vq_push on q->vq), tests pass their own.
 */
typedef void (*blk_complete_fn)(struct blk_queue *q, struct vdk_req *req,
				uint32_t len);

struct blk_queue {
	struct blk_dev *dev;
	struct backend_queue *bq;
	struct vdk_vq *vq;
	unsigned int index;
	uint64_t features;		/* acked (or offered) when the queue started */
	bool writethrough;		/* flush after each write, FLUSH not acked */
	uint64_t max_data;		/* data bytes per IN/OUT, for this driver */
	bool size_max_strict;		/* refuse data segments above size_max */
	blk_complete_fn complete;
	void *opaque;			/* for the caller */
	struct msg_ratelimit rl;
	struct blk_stats stats;
};

/* ---- device (control thread) ---- */

/*
 * Checks @opts against the backend and builds features and config space.
 * @be stays owned by the caller and must outlive @dev.  Returns 0 or
 * -errno with msg_last_error() naming the problem and the fix.
 */
int blk_dev_init(struct blk_dev *dev, struct backend *be, const struct blk_opts *opts);

/* Config space to give vdk_dev_create(): sizeof(struct virtio_blk_config). */
static inline const void *blk_dev_config(const struct blk_dev *dev)
{
	return &dev->config;
}

static inline uint32_t blk_dev_config_size(void)
{
	return sizeof(struct virtio_blk_config);
}

/*
 * The FEATURES_OK check, for vdk_dev_ops.features_ok: returns 0 and
 * remembers @features, or -EINVAL (with the reason logged) if the device
 * cannot work with what the driver accepted.
 */
int blk_dev_features_ok(struct blk_dev *dev, uint64_t features);

/*
 * Sets the capacity to @bytes (a multiple of the block size) after the
 * backend was resized; the caller then sends the 8 capacity bytes
 * (offsetof(struct virtio_blk_config, capacity)) with vdk_dev_set_config(..,
 * notify=true).  Returns 0 or -EINVAL with msg_last_error().
 */
int blk_dev_set_capacity(struct blk_dev *dev, uint64_t bytes);

/* ---- queues (queue thread) ---- */

/* Bytes to ask vdk_vq_pop() for. */
size_t blk_req_size(const struct blk_dev *dev);

/*
 * Sets up @q for queue @index; @ring is the queue thread's io_uring (it
 * should have at least queue_size entries).  Call after FEATURES_OK.
 * Returns 0 or -errno with msg_last_error() naming the problem.
 */
int blk_queue_init(struct blk_queue *q, struct blk_dev *dev, unsigned int index,
		   struct vdk_vq *vq, struct io_uring *ring, blk_complete_fn complete);
/* Only once blk_queue_inflight() is 0. */
void blk_queue_fini(struct blk_queue *q);

/*
 * Validates a popped request and submits it to the backend, or answers it
 * at once.  Either way it ends in q->complete exactly once, possibly before
 * this returns.  New SQEs may be queued on the ring: submit afterwards.
 */
void blk_queue_handle_req(struct blk_queue *q, struct vdk_req *req);
/*
 * Answers a popped request with VIRTIO_BLK_S_IOERR without looking at it
 * further or reaching the backend: a device removed by force whose
 * backend is gone.
 */
void blk_queue_fail_req(struct blk_queue *q, struct vdk_req *req);

/* Requests handed to blk_queue_handle_req() and not completed yet. */
static inline uint64_t blk_queue_inflight(const struct blk_queue *q)
{
	return atomic_load_explicit(&q->stats.inflight, memory_order_relaxed);
}

/* The daemon's blk_complete_fn: vdk_vq_push(q->vq, req, len). */
void blk_complete_vq(struct blk_queue *q, struct vdk_req *req, uint32_t len);

/* ---- statistics (any thread) ---- */

void blk_stats_read(const struct blk_stats *st, struct blk_stats_snapshot *snap);
/* Adds @src into @dst, e.g. to total all queues. */
void blk_stats_add(struct blk_stats_snapshot *dst, const struct blk_stats_snapshot *src);
/* Upper bound of the bucket holding percentile @pct (1..100), 0 if empty. */
uint64_t blk_stats_percentile_ns(const struct blk_stats_snapshot *snap, unsigned int pct);
const char *blk_stat_type_name(enum blk_stat_type t);
/*
 * Queue thread: the backend completed a flush that reached its volatile
 * cache (guest FLUSHes and write-through both cause them).
 */
void blk_stats_backend_flush(struct blk_stats *st);

/*
 * Logging and setup errors go through common/log.h: msg_log(),
 * msg_log_ratelimited() with the queue's @rl, msg_error() and
 * msg_last_error().
 */

#endif /* VDK_BLK_H */
