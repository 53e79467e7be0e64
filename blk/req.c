// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The validation layer: parses a virtio-blk request from the segments the
 * library popped, checks everything a driver could get wrong, and only
 * then hands a backend_io to the backend.  Completion writes the status
 * byte, counts, and pushes.
 *
 * Thread model: everything here runs on the queue's own thread.  Backend
 * completions arrive on that thread too (from the ring reaper, or from
 * inside backend_submit()), so a request needs no locking.
 *
 * Driver memory is read once: the header and the discard/write-zeroes
 * segments are copied out before they are checked, so a driver rewriting
 * them meanwhile cannot slip past the checks.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blk.h"
#include "clock.h"
#include "macros.h"

#define BIT(n) (1ull << (n))

/* Internal answer of the prepare step: the backend has work to do. */
#define BLK_DISPATCH (-1)

struct blk_seg {
	uint64_t sector;
	uint32_t num;
	uint32_t flags;
};

struct blk_req {
	struct vdk_req vreq;		/* first: vdk_vq_pop() allocates us */
	struct blk_queue *q;
	uint8_t *status;		/* last byte of the writable area */
	unsigned int wr_cnt;		/* writable segments up to the status */
	uint64_t wr_len;		/* and their bytes, status included */
	uint64_t start_ns;
	uint64_t sector;
	uint32_t type;
	enum blk_stat_type stat;
	struct iovec *data;		/* u.iov or allocated */
	unsigned int data_cnt;
	uint64_t data_len;
	unsigned int seg_next;
	unsigned int seg_cnt;
	bool flush_after;
	union {
		struct iovec iov[BLK_INLINE_IOVS];
		struct blk_seg segs[BLK_DWZ_SEGS_MAX];
	} u;
	struct backend_io io;		/* last: the backend's bytes follow */
};

_Static_assert(offsetof(struct blk_req, io) + sizeof(struct backend_io) ==
	       sizeof(struct blk_req), "backend_io must end struct blk_req");

#define rlog(q, fmt, ...)						\
	msg_log_ratelimited(&(q)->rl, MSG_ERR, "%s q%u: " fmt,	\
			    (q)->dev->name, (q)->index, ##__VA_ARGS__)

/* Single writer: a relaxed load and store is enough and needs no lock prefix. */
static inline void stat_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static inline void stat_set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static inline void stat_sub(_Atomic uint64_t *c, uint64_t v)
{
	stat_add(c, -v);
}

static uint64_t iov_total(const struct iovec *iov, unsigned int cnt)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/*
 * The status byte is the last byte of the writable area; trailing empty
 * segments are skipped.  Returns false if there is no writable byte.
 */
static bool blk_req_find_status(struct blk_req *r)
{
	const struct iovec *wr = r->vreq.iov + r->vreq.out_num;
	int i;

	for (i = (int)r->vreq.in_num - 1; i >= 0; i--) {
		if (wr[i].iov_len) {
			r->status = (uint8_t *)wr[i].iov_base + wr[i].iov_len - 1;
			r->wr_cnt = i + 1;
			r->wr_len = iov_total(wr, r->wr_cnt);
			return true;
		}
	}
	return false;
}

/*
 * Points r->data at bytes [start, end) of @iov, without copying data.
 * Returns 0, or -E2BIG / -EMSGSIZE / -ENOMEM after logging why.
 */
static int blk_req_map_data(struct blk_queue *q, struct blk_req *r,
			    const struct iovec *iov, unsigned int cnt,
			    uint64_t start, uint64_t end)
{
	const struct blk_dev *dev = q->dev;
	unsigned int i, n = 0;
	uint64_t pos = 0;

	for (i = 0; i < cnt; i++) {
		uint64_t s = pos, e = pos + iov[i].iov_len;

		pos = e;
		if (e > start && s < end)
			n++;
	}
	/*
	 * seg_max counts the driver's descriptors; the library splits one
	 * that crosses two IOTLB regions into two segments, which is legal
	 * (a VMM's memory comes in several regions).  The real bound is what
	 * one readv/writev takes.
	 */
	if (n > BLK_SEG_MAX_LIMIT) {
		rlog(q, "request has %u data segments, more than the %u one I/O can take",
		     n, BLK_SEG_MAX_LIMIT);
		return -E2BIG;
	}
	r->data = r->u.iov;
	if (n > BLK_INLINE_IOVS) {
		r->data = malloc(n * sizeof(*r->data));
		if (!r->data) {
			rlog(q, "out of memory for %u data segments", n);
			return -ENOMEM;
		}
	}
	pos = 0;
	n = 0;
	for (i = 0; i < cnt; i++) {
		uint64_t s = pos, e = pos + iov[i].iov_len;
		uint64_t from = s > start ? s : start;
		uint64_t to = e < end ? e : end;

		pos = e;
		if (from >= to)
			continue;
		r->data[n].iov_base = (uint8_t *)iov[i].iov_base + (from - s);
		r->data[n].iov_len = to - from;
		if (q->size_max_strict && r->data[n].iov_len > dev->size_max) {
			rlog(q, "data segment of %zu bytes exceeds size_max %" PRIu32,
			     r->data[n].iov_len, dev->size_max);
			r->data_cnt = n;
			return -EMSGSIZE;
		}
		n++;
	}
	r->data_cnt = n;
	r->data_len = end > start ? end - start : 0;
	return 0;
}

/* Is [sector, sector + nsec) inside the disk?  Written not to overflow. */
static bool blk_range_ok(const struct blk_dev *dev, uint64_t sector, uint64_t nsec)
{
	uint64_t cap = atomic_load_explicit(&dev->capacity, memory_order_relaxed);

	return sector <= cap && nsec <= cap - sector;
}

static int blk_prep_rw(struct blk_queue *q, struct blk_req *r, bool write)
{
	const struct blk_dev *dev = q->dev;
	const struct iovec *rd = r->vreq.iov;
	const struct iovec *wr = rd + r->vreq.out_num;
	uint32_t bs_sectors = dev->block_size >> BLK_SECTOR_SHIFT;
	uint64_t nsec, len;

	r->stat = write ? BLK_STAT_WRITE : BLK_STAT_READ;
	if (write && dev->readonly) {
		rlog(q, "write at sector %" PRIu64 " refused: the device is read-only",
		     r->sector);
		return VIRTIO_BLK_S_IOERR;
	}
	/*
	 * From the lengths alone, before anything is mapped or copied: a
	 * driver that honours seg_max and size_max never gets here, and
	 * descriptors that all point at the same buffer cannot make a small
	 * amount of driver memory into a huge request.
	 */
	len = write ? r->vreq.out_bytes - sizeof(struct virtio_blk_outhdr) :
	      r->wr_len - 1;
	if (len > q->max_data) {
		rlog(q, "%s of %" PRIu64 " bytes exceeds the %" PRIu64 " bytes a request may carry (%s)",
		     write ? "write" : "read", len, q->max_data,
		     q->max_data == dev->max_data ? "seg_max x size_max" :
		     "the driver did not accept SIZE_MAX and SEG_MAX");
		return VIRTIO_BLK_S_IOERR;
	}
	if (write) {
		if (blk_req_map_data(q, r, rd, r->vreq.out_num,
				     sizeof(struct virtio_blk_outhdr),
				     r->vreq.out_bytes))
			return VIRTIO_BLK_S_IOERR;
	} else {
		if (blk_req_map_data(q, r, wr, r->wr_cnt, 0, r->wr_len - 1))
			return VIRTIO_BLK_S_IOERR;
	}
	if (r->data_len % dev->block_size) {
		rlog(q, "%s of %" PRIu64 " bytes is not a multiple of the block size %" PRIu32,
		     write ? "write" : "read", r->data_len, dev->block_size);
		return VIRTIO_BLK_S_IOERR;
	}
	if (r->sector % bs_sectors) {
		rlog(q, "%s at sector %" PRIu64 " is not aligned to the block size %" PRIu32,
		     write ? "write" : "read", r->sector, dev->block_size);
		return VIRTIO_BLK_S_IOERR;
	}
	nsec = r->data_len >> BLK_SECTOR_SHIFT;
	if (!blk_range_ok(dev, r->sector, nsec)) {
		rlog(q, "%s of sectors %" PRIu64 "+%" PRIu64 " is beyond the capacity %" PRIu64,
		     write ? "write" : "read", r->sector, nsec,
		     atomic_load_explicit(&dev->capacity, memory_order_relaxed));
		return VIRTIO_BLK_S_IOERR;
	}
	if (!r->data_len)
		return VIRTIO_BLK_S_OK;
	r->io.op = write ? BACKEND_OP_WRITE : BACKEND_OP_READ;
	r->io.flags = 0;
	r->io.offset = r->sector << BLK_SECTOR_SHIFT;
	r->io.len = r->data_len;
	r->io.iov = r->data;
	r->io.iovcnt = r->data_cnt;
	r->flush_after = write && q->writethrough;
	return BLK_DISPATCH;
}

/* Points the backend_io at the next non-empty segment; false when done. */
static bool blk_dwz_setup(struct blk_req *r)
{
	for (; r->seg_next < r->seg_cnt; r->seg_next++) {
		const struct blk_seg *s = &r->u.segs[r->seg_next];

		if (!s->num)
			continue;
		r->io.offset = s->sector << BLK_SECTOR_SHIFT;
		r->io.len = (uint64_t)s->num << BLK_SECTOR_SHIFT;
		r->io.iov = NULL;
		r->io.iovcnt = 0;
		r->io.flags = 0;
		if (r->type == VIRTIO_BLK_T_WRITE_ZEROES &&
		    (s->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) &&
		    r->q->dev->wz_may_unmap)
			r->io.flags = BACKEND_IO_MAY_UNMAP;
		return true;
	}
	return false;
}

static int blk_prep_dwz(struct blk_queue *q, struct blk_req *r)
{
	const struct blk_dev *dev = q->dev;
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;
	const char *what = discard ? "discard" : "write-zeroes";
	struct virtio_blk_discard_write_zeroes raw[BLK_DWZ_SEGS_MAX];
	uint32_t allowed = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	uint32_t max_sectors = discard ? dev->max_discard_sectors : dev->max_wz_sectors;
	uint32_t bs_sectors = dev->block_size >> BLK_SECTOR_SHIFT;
	uint64_t payload;
	unsigned int i, n;

	r->stat = discard ? BLK_STAT_DISCARD : BLK_STAT_WRITE_ZEROES;
	if (!(q->features & BIT(discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))) {
		rlog(q, "%s request, but the feature was not negotiated", what);
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (dev->readonly) {
		rlog(q, "%s refused: the device is read-only", what);
		return VIRTIO_BLK_S_IOERR;
	}
	payload = iov_total(r->vreq.iov, r->vreq.out_num) - sizeof(struct virtio_blk_outhdr);
	if (!payload || payload % sizeof(raw[0])) {
		rlog(q, "%s payload of %" PRIu64 " bytes is not a whole number of 16-byte segments",
		     what, payload);
		return VIRTIO_BLK_S_IOERR;
	}
	if (payload / sizeof(raw[0]) > BLK_DWZ_SEGS_MAX) {
		rlog(q, "%s with %" PRIu64 " segments, more than the %d advertised",
		     what, payload / sizeof(raw[0]), BLK_DWZ_SEGS_MAX);
		return VIRTIO_BLK_S_IOERR;
	}
	n = payload / sizeof(raw[0]);
	iov_to_buf(r->vreq.iov, r->vreq.out_num, sizeof(struct virtio_blk_outhdr),
		   raw, payload);
	for (i = 0; i < n; i++) {
		struct blk_seg *s = &r->u.segs[i];

		s->sector = le64toh(raw[i].sector);
		s->num = le32toh(raw[i].num_sectors);
		s->flags = le32toh(raw[i].flags);
	}
	/* Flags first: the spec wants UNSUPP for them whatever else is wrong. */
	for (i = 0; i < n; i++) {
		if (r->u.segs[i].flags & ~allowed) {
			rlog(q, "%s segment %u has unsupported flags 0x%" PRIx32,
			     what, i, r->u.segs[i].flags);
			return VIRTIO_BLK_S_UNSUPP;
		}
	}
	for (i = 0; i < n; i++) {
		const struct blk_seg *s = &r->u.segs[i];

		if (s->num > max_sectors) {
			rlog(q, "%s segment %u of %" PRIu32 " sectors exceeds the maximum %" PRIu32,
			     what, i, s->num, max_sectors);
			return VIRTIO_BLK_S_IOERR;
		}
		if ((s->sector | s->num) % bs_sectors) {
			rlog(q, "%s segment %u (sectors %" PRIu64 "+%" PRIu32 ") is not aligned to the block size %" PRIu32,
			     what, i, s->sector, s->num, dev->block_size);
			return VIRTIO_BLK_S_IOERR;
		}
		if (!blk_range_ok(dev, s->sector, s->num)) {
			rlog(q, "%s segment %u (sectors %" PRIu64 "+%" PRIu32 ") is beyond the capacity %" PRIu64,
			     what, i, s->sector, s->num,
			     atomic_load_explicit(&dev->capacity, memory_order_relaxed));
			return VIRTIO_BLK_S_IOERR;
		}
	}
	r->seg_cnt = n;
	r->seg_next = 0;
	r->io.op = discard ? BACKEND_OP_DISCARD : BACKEND_OP_WRITE_ZEROES;
	return blk_dwz_setup(r) ? BLK_DISPATCH : VIRTIO_BLK_S_OK;
}

static int blk_prep_get_id(struct blk_queue *q, struct blk_req *r)
{
	const struct iovec *wr = r->vreq.iov + r->vreq.out_num;
	uint64_t room = r->wr_len - 1;

	r->stat = BLK_STAT_GET_ID;
	/* NUL padded to 20 bytes, cut to the driver's buffer. */
	buf_to_iov(wr, r->wr_cnt, q->dev->serial,
		   room < VIRTIO_BLK_ID_BYTES ? room : VIRTIO_BLK_ID_BYTES);
	return VIRTIO_BLK_S_OK;
}

static int blk_req_prepare(struct blk_queue *q, struct blk_req *r)
{
	struct virtio_blk_outhdr hdr;

	/* The header may be split over several readable segments. */
	if (iov_to_buf(r->vreq.iov, r->vreq.out_num, 0, &hdr, sizeof(hdr)) < sizeof(hdr)) {
		rlog(q, "request %u: the header needs %zu device-readable bytes, it has %" PRIu64,
		     r->vreq.head, sizeof(hdr), iov_total(r->vreq.iov, r->vreq.out_num));
		return VIRTIO_BLK_S_IOERR;
	}
	r->type = le32toh(hdr.type);
	r->sector = le64toh(hdr.sector);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return blk_prep_rw(q, r, false);
	case VIRTIO_BLK_T_OUT:
		return blk_prep_rw(q, r, true);
	case VIRTIO_BLK_T_FLUSH:
		r->stat = BLK_STAT_FLUSH;
		r->io.op = BACKEND_OP_FLUSH;
		r->io.flags = 0;
		r->io.offset = 0;
		r->io.len = 0;
		r->io.iov = NULL;
		r->io.iovcnt = 0;
		return BLK_DISPATCH;
	case VIRTIO_BLK_T_GET_ID:
		return blk_prep_get_id(q, r);
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_prep_dwz(q, r);
	default:
		r->stat = BLK_STAT_OTHER;
		rlog(q, "request type %" PRIu32 " is not supported", r->type);
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void blk_stats_latency(struct blk_stats *st, uint64_t ns)
{
	unsigned int b = ns ? 64 - __builtin_clzll(ns) : 0;
	uint64_t count = atomic_load_explicit(&st->lat_count, memory_order_relaxed);

	if (b >= BLK_LAT_BUCKETS)
		b = BLK_LAT_BUCKETS - 1;
	stat_add(&st->lat_hist[b], 1);
	stat_add(&st->lat_sum_ns, ns);
	if (!count || ns < atomic_load_explicit(&st->lat_min_ns, memory_order_relaxed))
		stat_set(&st->lat_min_ns, ns);
	if (ns > atomic_load_explicit(&st->lat_max_ns, memory_order_relaxed))
		stat_set(&st->lat_max_ns, ns);
	stat_set(&st->lat_count, count + 1);
}

static void blk_req_finish(struct blk_req *r, uint8_t status)
{
	struct blk_queue *q = r->q;
	struct blk_stats *st = &q->stats;

	*r->status = status;
	stat_add(&st->reqs[r->stat], 1);
	if (status == VIRTIO_BLK_S_OK) {
		if (r->stat == BLK_STAT_READ)
			stat_add(&st->bytes_read, r->data_len);
		else if (r->stat == BLK_STAT_WRITE)
			stat_add(&st->bytes_written, r->data_len);
	} else if (status == VIRTIO_BLK_S_UNSUPP) {
		stat_add(&st->unsupported, 1);
	} else {
		stat_add(&st->errors, 1);
	}
	blk_stats_latency(st, now_ns() - r->start_ns);
	if (r->data != r->u.iov)
		free(r->data);
	stat_sub(&st->inflight, 1);
	/* The status is the last writable byte, so the used length is all of it. */
	q->complete(q, &r->vreq, r->vreq.in_bytes);
}

static const char *blk_op_name(enum backend_op op)
{
	switch (op) {
	case BACKEND_OP_READ: return "read";
	case BACKEND_OP_WRITE: return "write";
	case BACKEND_OP_FLUSH: return "flush";
	case BACKEND_OP_DISCARD: return "discard";
	case BACKEND_OP_WRITE_ZEROES: return "write-zeroes";
	}
	return "?";
}

static void blk_io_done(struct backend_io *io, int result)
{
	struct blk_req *r = container_of(io, struct blk_req, io);
	struct blk_queue *q = r->q;

	/*
	 * A backend without a volatile cache completes a flush at once,
	 * doing nothing: that is not counted.
	 */
	if (io->op == BACKEND_OP_FLUSH && result >= 0 && backend_has_cache(q->dev->be))
		blk_stats_backend_flush(&q->stats);
	if (result < 0) {
		rlog(q, "%s of %" PRIu64 " bytes at sector %" PRIu64 " failed: %s",
		     blk_op_name(io->op), io->len, io->offset >> BLK_SECTOR_SHIFT,
		     strerror(-result));
		blk_req_finish(r, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (r->seg_cnt) {
		r->seg_next++;
		if (blk_dwz_setup(r)) {
			backend_submit(q->bq, io);
			return;
		}
	}
	if (r->flush_after) {
		r->flush_after = false;
		io->op = BACKEND_OP_FLUSH;
		io->offset = 0;
		io->len = 0;
		io->iov = NULL;
		io->iovcnt = 0;
		backend_submit(q->bq, io);
		return;
	}
	blk_req_finish(r, VIRTIO_BLK_S_OK);
}

/*
 * Starts the bookkeeping of a popped request; false if it has no status
 * byte, in which case it went back unanswered already.
 */
static bool blk_req_begin(struct blk_queue *q, struct blk_req *r)
{
	struct vdk_req *vreq = &r->vreq;

	r->q = q;
	r->start_ns = now_ns();
	r->type = 0;
	r->sector = 0;
	r->stat = BLK_STAT_OTHER;
	r->data = r->u.iov;
	r->data_cnt = 0;
	r->data_len = 0;
	r->seg_cnt = 0;
	r->seg_next = 0;
	r->flush_after = false;
	stat_add(&q->stats.inflight, 1);

	if (!blk_req_find_status(r)) {
		rlog(q, "request %u has no device-writable status byte; returned unanswered",
		     vreq->head);
		stat_add(&q->stats.reqs[BLK_STAT_OTHER], 1);
		stat_add(&q->stats.dropped, 1);
		stat_sub(&q->stats.inflight, 1);
		q->complete(q, vreq, 0);
		return false;
	}
	return true;
}

void blk_queue_handle_req(struct blk_queue *q, struct vdk_req *vreq)
{
	struct blk_req *r = container_of(vreq, struct blk_req, vreq);
	int status;

	if (!blk_req_begin(q, r))
		return;
	status = blk_req_prepare(q, r);
	if (status != BLK_DISPATCH) {
		blk_req_finish(r, status);
		return;
	}
	r->io.done = blk_io_done;
	/* May complete, and free r, before it returns. */
	backend_submit(q->bq, &r->io);
}

void blk_queue_fail_req(struct blk_queue *q, struct vdk_req *vreq)
{
	struct blk_req *r = container_of(vreq, struct blk_req, vreq);

	if (blk_req_begin(q, r))
		blk_req_finish(r, VIRTIO_BLK_S_IOERR);
}

size_t blk_req_size(const struct blk_dev *dev)
{
	return offsetof(struct blk_req, io) + backend_io_size(dev->be);
}

int blk_queue_init(struct blk_queue *q, struct blk_dev *dev, unsigned int index,
		   struct vdk_vq *vq, struct io_uring *ring, blk_complete_fn complete)
{
	struct backend_queue_env env = {
		.index = index,
		.depth = dev->queue_size,
		.ring = ring,
	};
	uint64_t acked = atomic_load(&dev->acked);

	if (!complete) {
		msg_error("blk_queue_init needs a completion function");
		return -EINVAL;
	}
	memset(q, 0, sizeof(*q));
	q->dev = dev;
	q->vq = vq;
	q->index = index;
	q->complete = complete;
	q->features = acked ? acked : dev->features;
	q->writethrough = backend_has_cache(dev->be) && !dev->readonly &&
			  !(q->features & BIT(VIRTIO_BLK_F_FLUSH));
	/* The advertised limits bind only a driver that accepted them. */
	if ((q->features & BIT(VIRTIO_BLK_F_SIZE_MAX)) &&
	    (q->features & BIT(VIRTIO_BLK_F_SEG_MAX))) {
		q->max_data = dev->max_data;
		q->size_max_strict = dev->size_max_strict;
	} else {
		q->max_data = BLK_DATA_LIMIT;
	}
	return backend_queue_init(dev->be, &env, &q->bq);
}

void blk_queue_fini(struct blk_queue *q)
{
	msg_ratelimit_flush(&q->rl);
	backend_queue_fini(q->bq);
	q->bq = NULL;
}
