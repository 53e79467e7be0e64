// SPDX-License-Identifier: LGPL-2.1-or-later
/* DISCARD segments: several per request, each checked before any is done. */
#include "blk-harness.h"

#define D VIRTIO_BLK_T_DISCARD

static void fill(struct harness *h, uint8_t v)
{
	static uint8_t buf[65536];

	memset(buf, v, sizeof(buf));
	T_ASSERT_EQ(h_rw(h, VIRTIO_BLK_T_OUT, 0, buf, sizeof(buf)), VIRTIO_BLK_S_OK);
}

static bool sectors_are(struct harness *h, uint64_t sector, unsigned int n, uint8_t v)
{
	static uint8_t buf[65536];

	T_ASSERT_EQ(h_rw(h, VIRTIO_BLK_T_IN, sector, buf, n * 512), VIRTIO_BLK_S_OK);
	return h_all(buf, n * 512, v);
}

int main(void)
{
	struct blk_opts o = { .name = "t" };
	struct virtio_blk_discard_write_zeroes r[BLK_DWZ_SEGS_MAX + 1];
	struct harness h;
	unsigned int i;

	h_init(&h, "memory:64K", &o);	/* 128 sectors */
	T_ASSERT(h.dev.features & (1ull << VIRTIO_BLK_F_DISCARD));

	/* Two overlapping segments and a disjoint one: all discarded. */
	fill(&h, 0xee);
	r[0] = h_range(8, 16, 0);
	r[1] = h_range(16, 16, 0);
	r[2] = h_range(100, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, D, r, 3), VIRTIO_BLK_S_OK);
	T_ASSERT(sectors_are(&h, 0, 8, 0xee));
	T_ASSERT(sectors_are(&h, 8, 24, 0));
	T_ASSERT(sectors_are(&h, 32, 68, 0xee));
	T_ASSERT(sectors_are(&h, 100, 8, 0));

	/* One bad segment fails the whole request before anything happens. */
	fill(&h, 0xee);
	r[0] = h_range(0, 8, 0);
	r[1] = h_range(120, 16, 0);		/* past the end */
	T_ASSERT_EQ(h_dwz(&h, D, r, 2), VIRTIO_BLK_S_IOERR);
	T_ASSERT(sectors_are(&h, 0, 128, 0xee));
	r[1] = h_range(UINT64_MAX - 3, 8, 0);	/* sector + num overflows */
	T_ASSERT_EQ(h_dwz(&h, D, r, 2), VIRTIO_BLK_S_IOERR);
	r[1] = h_range(128, 0, 0);		/* empty, at the very end: fine */
	T_ASSERT_EQ(h_dwz(&h, D, r, 2), VIRTIO_BLK_S_OK);
	T_ASSERT(sectors_are(&h, 0, 8, 0));
	T_ASSERT(sectors_are(&h, 8, 120, 0xee));

	/* The unmap flag is not for DISCARD, unknown flags are for no one. */
	r[0] = h_range(0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	T_ASSERT_EQ(h_dwz(&h, D, r, 1), VIRTIO_BLK_S_UNSUPP);
	r[0] = h_range(0, 8, 0x4);
	T_ASSERT_EQ(h_dwz(&h, D, r, 1), VIRTIO_BLK_S_UNSUPP);
	/* Flags win over range errors. */
	r[0] = h_range(1000, 8, 0);
	r[1] = h_range(0, 8, 0x2);
	T_ASSERT_EQ(h_dwz(&h, D, r, 2), VIRTIO_BLK_S_UNSUPP);

	/* Segment count and payload shape. */
	for (i = 0; i < BLK_DWZ_SEGS_MAX + 1; i++)
		r[i] = h_range(i, 1, 0);
	T_ASSERT_EQ(h_dwz(&h, D, r, BLK_DWZ_SEGS_MAX), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_dwz(&h, D, r, BLK_DWZ_SEGS_MAX + 1), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(h_dwz(&h, D, r, 0), VIRTIO_BLK_S_IOERR);
	{
		struct virtio_blk_outhdr hdr;
		uint8_t status = 0xff;

		h_hdr(&hdr, D, 0);
		T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){ { &hdr, 16, false },
			{ r, 24, false }, { &status, 1, true } }, 3), 1);
		T_ASSERT_EQ(status, VIRTIO_BLK_S_IOERR);
		/* A segment split across descriptors is fine. */
		fill(&h, 0xee);
		r[0] = h_range(64, 8, 0);
		status = 0xff;
		T_ASSERT_EQ(h_submit(&h, (struct h_seg[]){ { &hdr, 16, false },
			{ r, 9, false }, { (uint8_t *)r + 9, 7, false },
			{ &status, 1, true } }, 4), 1);
		T_ASSERT_EQ(status, VIRTIO_BLK_S_OK);
		T_ASSERT(sectors_are(&h, 64, 8, 0));
	}

	/* Too long a segment. */
	r[0] = h_range(0, BLK_DWZ_SECTORS_MAX + 8, 0);
	T_ASSERT_EQ(h_dwz(&h, D, r, 1), VIRTIO_BLK_S_IOERR);
	h_fini(&h);

	/* Block size 4096: segments must be aligned to 8 sectors. */
	o.block_size = 4096;
	h_init(&h, "memory:64K", &o);
	T_ASSERT_EQ(h.dev.config.discard_sector_alignment, htole32(8));
	r[0] = h_range(8, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, D, r, 1), VIRTIO_BLK_S_OK);
	r[0] = h_range(4, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, D, r, 1), VIRTIO_BLK_S_IOERR);
	r[0] = h_range(8, 4, 0);
	T_ASSERT_EQ(h_dwz(&h, D, r, 1), VIRTIO_BLK_S_IOERR);
	h_fini(&h);

	/* Read-only: not offered, hence UNSUPP. */
	o.block_size = 512;
	o.readonly = true;
	h_init(&h, "memory:64K", &o);
	T_ASSERT(!(h.dev.features & (1ull << VIRTIO_BLK_F_DISCARD)));
	r[0] = h_range(0, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, D, r, 1), VIRTIO_BLK_S_UNSUPP);
	h_fini(&h);
	return T_EXIT_PASS;
}
