// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hot-path microbenchmark, meant to run under valgrind --tool=callgrind.
 *
 *   hotpath [REQUESTS]        (default 10000, rounded up to whole batches)
 *
 * A simulated driver (tests/unit/simdrv.c) posts 4 KiB reads in batches of
 * BATCH requests, kicks, and reaps.  The device side runs what a queue
 * thread of the daemon runs on one wake-up, minus the io_uring calls:
 * kicks off, vdk_vq_pop() until the ring is empty, blk_queue_handle_req()
 * (the validation layer) on each, the null backend completes inside the
 * submit call, blk_complete_vq() pushes, then vdk_vq_notify() decides on
 * the interrupt and kicks are switched back on.
 *
 * The device side is the function hotpath_device_batch(), so
 * `callgrind --toggle-collect=hotpath_device_batch` counts only it.
 * bench/run runs two sizes and divides the difference by the difference
 * in requests, so setup and first-touch costs cancel out.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "simdrv.h"
#include "test.h"

#define BATCH		32
#define QUEUE_SIZE	256
#define DATA_LEN	4096
#define DISK_SIZE	(1ULL << 30)

/* Our own buffer region: one page of headers and status bytes, then data. */
#define BUF_IOVA	0x9000000ULL
#define SLOT_BYTES	32		/* 16-byte header, status at +16 */
#define BUF_SIZE	((size_t)(BATCH + 1) * DATA_LEN)

struct bench {
	struct simdrv sd;
	struct backend *be;
	struct blk_dev dev;
	struct blk_queue q;
	size_t req_size;
	uint8_t *buf;			/* driver VA of BUF_IOVA */
	uint64_t rng;
	unsigned long completed;
	unsigned long batches;
	unsigned long notified;		/* interrupts vdk_vq_notify() sent */
};

/* Out of line and global, so callgrind can switch collection on around it. */
unsigned int hotpath_device_batch(struct bench *b);

static uint64_t next_sector(struct bench *b)
{
	/* xorshift64: the driver reads 4 KiB blocks all over the disk */
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return (b->rng % (DISK_SIZE / DATA_LEN)) * (DATA_LEN >> BLK_SECTOR_SHIFT);
}

static void driver_post(struct bench *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t hdr_iova = BUF_IOVA + (uint64_t)i * SLOT_BYTES;
		uint8_t *slot = b->buf + (size_t)i * SLOT_BYTES;
		struct virtio_blk_outhdr hdr = {
			.type = htole32(VIRTIO_BLK_T_IN),
			.ioprio = 0,
			.sector = htole64(next_sector(b)),
		};
		struct sim_seg segs[3] = {
			{ hdr_iova, sizeof(hdr), false },
			{ BUF_IOVA + (uint64_t)(i + 1) * DATA_LEN, DATA_LEN, true },
			{ hdr_iova + sizeof(hdr), 1, true },
		};

		memcpy(slot, &hdr, sizeof(hdr));
		slot[sizeof(hdr)] = 0xff;
		simdrv_add(&b->sd, segs, 3);
	}
	simdrv_publish(&b->sd);
	simdrv_kick(&b->sd);
}

unsigned int hotpath_device_batch(struct bench *b)
{
	struct vdk_vq *vq = &b->sd.vq;
	struct vdk_req *req;
	unsigned int n = 0;
	int ret;

	vdk_vq_enable_kicks(vq, false);
	for (;;) {
		ret = vdk_vq_pop(vq, b->req_size, &req);
		if (ret == -EAGAIN)
			break;
		T_ASSERT_EQ(ret, 0);
		blk_queue_handle_req(&b->q, req);
		n++;
	}
	ret = vdk_vq_notify(vq);
	T_ASSERT(ret >= 0);
	b->notified += (unsigned int)ret;
	/* Before sleeping: kicks on, and the ring must still be empty. */
	T_ASSERT(!vdk_vq_enable_kicks(vq, true));
	return n;
}

static void driver_reap(struct bench *b, unsigned int n)
{
	unsigned int got = 0;
	uint32_t id, len;

	while (simdrv_get_used(&b->sd, &id, &len) == 0) {
		T_ASSERT_EQ(len, DATA_LEN + 1);
		got++;
	}
	T_ASSERT_EQ(got, n);
	/* Every status byte says OK. */
	for (got = 0; got < n; got++)
		T_ASSERT_EQ(b->buf[(size_t)got * SLOT_BYTES + 16], VIRTIO_BLK_S_OK);
	/* Like virtqueue_enable_cb(): interrupt me at the next completion. */
	simdrv_set_used_event(&b->sd, b->sd.last_used);
	b->completed += n;
}

static void setup(struct bench *b)
{
	struct blk_opts o = { .name = "hotpath", .queue_size = QUEUE_SIZE };
	struct backend_open_opts bo = { .block_size = BLK_SECTOR_SIZE };
	uint64_t features = (1ULL << VDK_F_VERSION_1) | (1ULL << VDK_F_EVENT_IDX) |
			    (1ULL << VDK_F_INDIRECT_DESC);

	memset(b, 0, sizeof(*b));
	b->rng = 0x9e3779b97f4a7c15ULL;
	if (backend_open("null:1G", &bo, &b->be)) {
		fprintf(stderr, "backend_open: %s\n", msg_last_error());
		exit(1);
	}
	if (blk_dev_init(&b->dev, b->be, &o)) {
		fprintf(stderr, "blk_dev_init: %s\n", msg_last_error());
		exit(1);
	}
	/* The driver accepts everything offered, as Linux does here. */
	T_ASSERT_EQ(blk_dev_features_ok(&b->dev, b->dev.features | features), 0);

	simdrv_init(&b->sd, QUEUE_SIZE, features, 0);
	b->buf = sim_mem_map(&b->sd, BUF_IOVA, BUF_SIZE, DATA_LEN, VDK_PERM_RW);
	T_ASSERT_EQ(blk_queue_init(&b->q, &b->dev, 0, &b->sd.vq, NULL,
				   blk_complete_vq), 0);
	b->req_size = blk_req_size(&b->dev);
	simdrv_set_used_event(&b->sd, 0);
}

int main(int argc, char **argv)
{
	unsigned long want = argc > 1 ? strtoul(argv[1], NULL, 0) : 10000;
	struct bench b;

	setup(&b);
	while (b.completed < want) {
		unsigned int n;

		driver_post(&b, BATCH);
		n = hotpath_device_batch(&b);
		T_ASSERT_EQ(n, BATCH);
		driver_reap(&b, n);
		b.batches++;
	}
	printf("requests %lu batches %lu kicks %u interrupts %lu\n",
	       b.completed, b.batches, b.sd.kicks, b.notified);
	T_ASSERT_EQ(blk_queue_inflight(&b.q), 0);
	blk_queue_fini(&b.q);
	simdrv_fini(&b.sd);
	backend_close(b.be);
	return 0;
}
