// SPDX-License-Identifier: LGPL-2.1-or-later
/* WRITE_ZEROES: the unmap flag reaches the backend only when allowed. */
#include "blk-harness.h"
#include "fake-backend.h"

#define WZ VIRTIO_BLK_T_WRITE_ZEROES
#define UNMAP VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP

static struct backend *open_fake(void)
{
	struct backend_open_opts bo = { .block_size = 512 };
	struct backend *be;

	T_ASSERT_EQ(backend_open_ops(fake_init(), "", "fake:", &bo, &be), 0);
	return be;
}

int main(void)
{
	struct blk_opts o = { .name = "t" };
	struct virtio_blk_discard_write_zeroes r[3];
	struct harness h;

	/* Native zeroes that may unmap. */
	memset(&fake, 0, sizeof(fake));
	fake.native_zeroes = true;
	fake.zero_unmap = true;
	h_init_be_features(&h, open_fake(), &o, true, 0);
	T_ASSERT(h.dev.features & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	T_ASSERT_EQ(h.dev.config.write_zeroes_may_unmap, 1);
	T_ASSERT_EQ(h.dev.config.max_write_zeroes_seg, htole32(BLK_DWZ_SEGS_MAX));

	memset(fake.data, 0xcc, FAKE_SIZE);
	r[0] = h_range(0, 8, UNMAP);
	T_ASSERT_EQ(h_dwz(&h, WZ, r, 1), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.last_flags, BACKEND_IO_MAY_UNMAP);
	T_ASSERT(h_all(fake.data, 4096, 0));
	T_ASSERT(h_all(fake.data + 4096, 512, 0xcc));

	r[0] = h_range(8, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, WZ, r, 1), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.last_flags, 0);
	T_ASSERT(h_all(fake.data + 4096, 4096, 0));

	/* Several segments: one backend call each, flags per segment. */
	fake.n[BACKEND_OP_WRITE_ZEROES] = 0;
	r[0] = h_range(100, 8, 0);
	r[1] = h_range(200, 0, UNMAP);		/* empty: skipped */
	r[2] = h_range(300, 8, UNMAP);
	T_ASSERT_EQ(h_dwz(&h, WZ, r, 3), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.n[BACKEND_OP_WRITE_ZEROES], 2);
	T_ASSERT_EQ(fake.last_flags, BACKEND_IO_MAY_UNMAP);

	/* Unknown flags. */
	r[0] = h_range(0, 8, 0x2);
	T_ASSERT_EQ(h_dwz(&h, WZ, r, 1), VIRTIO_BLK_S_UNSUPP);
	r[0] = h_range(0, 8, UNMAP | 0x80000000u);
	T_ASSERT_EQ(h_dwz(&h, WZ, r, 1), VIRTIO_BLK_S_UNSUPP);

	/* A failing segment stops the rest and answers IOERR. */
	fake.n[BACKEND_OP_WRITE_ZEROES] = 0;
	fake.fail = -EIO;
	r[0] = h_range(0, 8, 0);
	r[1] = h_range(8, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, WZ, r, 2), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(fake.n[BACKEND_OP_WRITE_ZEROES], 1);
	h_fini(&h);

	/* Native zeroes that cannot unmap: the flag is dropped, not refused. */
	memset(&fake, 0, sizeof(fake));
	fake.native_zeroes = true;
	h_init_be_features(&h, open_fake(), &o, true, 0);
	T_ASSERT_EQ(h.dev.config.write_zeroes_may_unmap, 0);
	r[0] = h_range(0, 8, UNMAP);
	T_ASSERT_EQ(h_dwz(&h, WZ, r, 1), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.last_flags, 0);
	h_fini(&h);

	/* Not negotiated: UNSUPP. */
	memset(&fake, 0, sizeof(fake));
	fake.native_zeroes = true;
	h_init_be_features(&h, open_fake(), &o, false, 1ull << VIRTIO_BLK_F_FLUSH);
	r[0] = h_range(0, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, WZ, r, 1), VIRTIO_BLK_S_UNSUPP);
	T_ASSERT_EQ(fake.n[BACKEND_OP_WRITE_ZEROES], 0);
	h_fini(&h);
	return T_EXIT_PASS;
}
