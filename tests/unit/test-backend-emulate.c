// SPDX-License-Identifier: LGPL-2.1-or-later
/* What the core does for a backend: zeroing by writes, flush, write-through. */
#include "blk-harness.h"
#include "fake-backend.h"

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
	struct virtio_blk_discard_write_zeroes r[2];
	struct harness h;
	uint8_t buf[512];

	/* Write-zeroes emulated as writes from the zero buffer, 1 MiB at a time. */
	memset(&fake, 0, sizeof(fake));
	h_init_be_features(&h, open_fake(), &o, true, 0);
	T_ASSERT(h.dev.features & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	T_ASSERT_EQ(h.dev.config.write_zeroes_may_unmap, 0);
	T_ASSERT_EQ(le32toh(h.dev.config.max_write_zeroes_sectors), BLK_WZ_EMUL_SECTORS_MAX);
	memset(fake.data, 0xcc, FAKE_SIZE);
	r[0] = h_range(8, 5 * 1024, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);	/* 2.5 MiB */
	r[1] = h_range(6000, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, VIRTIO_BLK_T_WRITE_ZEROES, r, 2), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.n[BACKEND_OP_WRITE_ZEROES], 0);
	T_ASSERT_EQ(fake.n[BACKEND_OP_WRITE], 4);
	T_ASSERT_EQ(fake.max_write, 1 << 20);
	T_ASSERT(h_all(fake.data, 4096, 0xcc));
	T_ASSERT(h_all(fake.data + 4096, 5 << 19, 0));
	T_ASSERT(h_all(fake.data + 4096 + (5 << 19), 512, 0xcc));
	T_ASSERT(h_all(fake.data + 6000 * 512, 4096, 0));

	/* A failed step fails the request. */
	fake.fail = -ENOSPC;
	r[0] = h_range(0, 8, 0);
	T_ASSERT_EQ(h_dwz(&h, VIRTIO_BLK_T_WRITE_ZEROES, r, 1), VIRTIO_BLK_S_IOERR);

	/* No volatile cache: FLUSH never reaches the backend. */
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.n[BACKEND_OP_FLUSH], 0);
	/* Discard is never emulated: this backend has no can_discard answer
	 * but a discard op, so it is offered and passed through. */
	T_ASSERT(h.dev.features & (1ull << VIRTIO_BLK_F_DISCARD));
	h_fini(&h);

	/* A cache: FLUSH is passed on. */
	memset(&fake, 0, sizeof(fake));
	fake.cache = true;
	h_init_be_features(&h, open_fake(), &o, true, 0);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.n[BACKEND_OP_FLUSH], 1);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, 0, buf, 512), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.n[BACKEND_OP_FLUSH], 1);
	fake.fail = -EIO;
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_IOERR);
	h_fini(&h);

	/* A cache and a driver without FLUSH: every write is followed by one. */
	memset(&fake, 0, sizeof(fake));
	fake.cache = true;
	h_init_be_features(&h, open_fake(), &o, false, 1ull << VIRTIO_BLK_F_BLK_SIZE);
	T_ASSERT(h.q.writethrough);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, 0, buf, 512), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.n[BACKEND_OP_WRITE], 1);
	T_ASSERT_EQ(fake.n[BACKEND_OP_FLUSH], 1);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 0, buf, 512), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(fake.n[BACKEND_OP_FLUSH], 1);
	h_fini(&h);
	return T_EXIT_PASS;
}
