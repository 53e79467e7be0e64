// SPDX-License-Identifier: LGPL-2.1-or-later
/* IN/OUT validation: lengths, alignment, bounds, read-only, unknown types. */
#include <stdint.h>

#include "blk-harness.h"

static void check_512(void)
{
	struct blk_opts o = { .name = "t", .queue_size = 4 };
	struct harness h;
	uint8_t buf[4096], out[1024];
	struct virtio_blk_outhdr hdr;
	uint8_t status;

	h_init(&h, "memory:64K", &o);	/* 128 sectors */
	memset(buf, 0xab, sizeof(buf));
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, 0, buf, 1024), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 0, out, 1024), VIRTIO_BLK_S_OK);
	T_ASSERT(h_all(out, 1024, 0xab));

	/* Not a multiple of 512. */
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 0, out, 1000), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, 0, buf, 513), VIRTIO_BLK_S_IOERR);
	/* Zero bytes is a valid, empty read. */
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 5, NULL, 0), VIRTIO_BLK_S_OK);

	/* Bounds: the last sector is fine, one more is not. */
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 127, out, 512), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 127, out, 1024), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 128, out, 512), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 128, NULL, 0), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, UINT64_MAX, buf, 512), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, UINT64_MAX - 1, buf, 1024), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, (UINT64_MAX >> 9) + 1, out, 512), VIRTIO_BLK_S_IOERR);

	/* Unknown types, including the legacy barrier bit and SCSI. */
	T_ASSERT_EQ(h_rw(&h, 99, 0, out, 512), VIRTIO_BLK_S_UNSUPP);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN | 0x80000000u, 0, out, 512), VIRTIO_BLK_S_UNSUPP);
	T_ASSERT_EQ(h_rw(&h, 2, 0, out, 512), VIRTIO_BLK_S_UNSUPP);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_SECURE_ERASE, 0, out, 512), VIRTIO_BLK_S_UNSUPP);

	/* Data spread over segments (queue size 4 advertises seg_max 2). */
	h_hdr(&hdr, VIRTIO_BLK_T_IN, 0);
	memset(out, 0, sizeof(out));
	status = 0xff;
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){ { &hdr, 16, false },
		{ out, 512, true }, { out + 512, 512, true }, { &status, 1, true } }, 4), 1);
	T_ASSERT_EQ(status, VIRTIO_BLK_S_OK);
	T_ASSERT(h_all(out, 1024, 0xab));
	T_ASSERT_EQ(h.last_len, 1025);
	status = 0xff;
	T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){ { &hdr, 16, false },
		{ out, 512, true }, { out + 512, 256, true }, { out + 768, 256, true },
		{ &status, 1, true } }, 5), 1);
	/*
	 * More segments than seg_max: a driver's descriptor that crosses two
	 * IOTLB regions arrives as two, so only the readv limit is enforced.
	 */
	T_ASSERT_EQ(status, VIRTIO_BLK_S_OK);

	/* FLUSH works even without a cache behind it. */
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	h_fini(&h);
}

static void check_4096(void)
{
	struct blk_opts o = { .name = "t", .block_size = 4096 };
	struct harness h;
	static uint8_t buf[8192];

	h_init(&h, "memory:64K", &o);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, 8, buf, 4096), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 8, buf, 512), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 1, buf, 4096), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 120, buf, 4096), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 120, buf, 8192), VIRTIO_BLK_S_IOERR);
	h_fini(&h);
}

static void check_readonly(void)
{
	struct blk_opts o = { .name = "t", .readonly = true };
	struct harness h;
	uint8_t buf[512], out[512];
	struct blk_stats_snapshot s;

	h_init(&h, "memory:64K", &o);
	memset(buf, 0x77, sizeof(buf));
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, 0, buf, 512), VIRTIO_BLK_S_IOERR);
	memset(out, 0x11, sizeof(out));
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 0, out, 512), VIRTIO_BLK_S_OK);
	T_ASSERT(h_all(out, 512, 0));		/* nothing was written */
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	blk_stats_read(&h.q.stats, &s);
	T_ASSERT_EQ(s.bytes_written, 0);
	T_ASSERT_EQ(s.errors, 1);
	h_fini(&h);
}

int main(void)
{
	check_512();
	check_4096();
	check_readonly();
	return T_EXIT_PASS;
}
