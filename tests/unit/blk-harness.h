/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Drives the virtio-blk device model without a kernel: requests are built
 * by hand with iovecs pointing at test buffers, and completions land in
 * h_complete() instead of a virtqueue.  Backends that complete inside the
 * submit call (memory, null) make every request finish before h_submit()
 * returns.
 */
#ifndef VDK_BLK_HARNESS_H
#define VDK_BLK_HARNESS_H

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "test.h"

struct harness {
	struct backend *be;
	struct blk_dev dev;
	struct blk_queue q;
	unsigned int completions;
	uint32_t last_len;
};

struct h_seg {
	void *buf;
	size_t len;
	bool writable;
};

static inline void h_complete(struct blk_queue *q, struct vdk_req *req, uint32_t len)
{
	struct harness *h = q->opaque;

	h->completions++;
	h->last_len = len;
	free(req);
}

/* Builds the device on @be from @o, accepts @features (plus VERSION_1). */
static inline void h_init_be_features(struct harness *h, struct backend *be,
				      const struct blk_opts *o, bool all, uint64_t features)
{
	memset(h, 0, sizeof(*h));
	h->be = be;
	if (blk_dev_init(&h->dev, h->be, o)) {
		fprintf(stderr, "blk_dev_init: %s\n", msg_last_error());
		exit(T_EXIT_FAIL);
	}
	if (all)
		features = h->dev.features;
	T_ASSERT_EQ(blk_dev_features_ok(&h->dev, features | (1ull << 32)), 0);
	T_ASSERT_EQ(blk_queue_init(&h->q, &h->dev, 0, NULL, NULL, h_complete), 0);
	h->q.opaque = h;
}

static inline struct backend *h_open(const char *spec, const struct blk_opts *o)
{
	struct backend_open_opts bo = {
		.readonly = o->readonly,
		.block_size = o->block_size ? o->block_size : 512,
	};
	struct backend *be;

	if (backend_open(spec, &bo, &be)) {
		fprintf(stderr, "backend_open(%s): %s\n", spec, msg_last_error());
		exit(T_EXIT_FAIL);
	}
	return be;
}

/* Opens @spec, builds the device from @o, accepts what was offered. */
static inline void h_init(struct harness *h, const char *spec, const struct blk_opts *o)
{
	h_init_be_features(h, h_open(spec, o), o, true, 0);
}

static inline void h_fini(struct harness *h)
{
	T_ASSERT_EQ(blk_queue_inflight(&h->q), 0);
	blk_queue_fini(&h->q);
	backend_close(h->be);
}

/*
 * Submits a chain of @n segments (readable ones first, as the library
 * hands them out).  Returns how many completions it caused.
 */
static inline unsigned int h_submit(struct harness *h, const struct h_seg *segs,
				    unsigned int n)
{
	size_t base = (blk_req_size(&h->dev) + 15) & ~(size_t)15;
	struct vdk_req *req = calloc(1, base + n * sizeof(struct iovec));
	unsigned int before = h->completions, i;

	T_ASSERT(req);
	req->head = 7;
	req->iov = (struct iovec *)((char *)req + base);
	for (i = 0; i < n; i++) {
		req->iov[i].iov_base = segs[i].buf;
		req->iov[i].iov_len = segs[i].len;
		if (segs[i].writable) {
			req->in_num++;
			req->in_bytes += segs[i].len;
		} else {
			T_ASSERT(req->in_num == 0);
			req->out_num++;
			req->out_bytes += segs[i].len;
		}
	}
	blk_queue_handle_req(&h->q, req);
	return h->completions - before;
}

static inline void h_hdr(struct virtio_blk_outhdr *hdr, uint32_t type, uint64_t sector)
{
	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
}

/* A request with one header, one data and one status segment. */
static inline uint8_t h_rw(struct harness *h, uint32_t type, uint64_t sector,
			   void *data, size_t len)
{
	struct virtio_blk_outhdr hdr;
	uint8_t status = 0xff;
	struct h_seg segs[3] = {
		{ &hdr, sizeof(hdr), false },
		{ data, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID },
		{ &status, 1, true },
	};

	h_hdr(&hdr, type, sector);
	if (len)
		T_ASSERT_EQ(h_submit(h, segs, 3), 1);
	else
		T_ASSERT_EQ(h_submit(h, (struct h_seg[]){ segs[0], segs[2] }, 2), 1);
	return status;
}

/* A discard or write-zeroes request with @n segments. */
static inline uint8_t h_dwz(struct harness *h, uint32_t type,
			    const struct virtio_blk_discard_write_zeroes *ranges,
			    unsigned int n)
{
	struct virtio_blk_outhdr hdr;
	uint8_t status = 0xff;
	struct h_seg segs[3] = {
		{ &hdr, sizeof(hdr), false },
		{ (void *)ranges, n * sizeof(*ranges), false },
		{ &status, 1, true },
	};

	h_hdr(&hdr, type, 0);
	T_ASSERT_EQ(h_submit(h, segs, 3), 1);
	return status;
}

static inline struct virtio_blk_discard_write_zeroes h_range(uint64_t sector, uint32_t num,
							      uint32_t flags)
{
	struct virtio_blk_discard_write_zeroes r = {
		.sector = htole64(sector),
		.num_sectors = htole32(num),
		.flags = htole32(flags),
	};

	return r;
}

static inline bool h_all(const uint8_t *p, size_t len, uint8_t v)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

#endif /* VDK_BLK_HARNESS_H */
