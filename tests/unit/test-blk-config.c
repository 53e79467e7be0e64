// SPDX-License-Identifier: LGPL-2.1-or-later
/* Features and config space follow the backend and the options. */
#include <stddef.h>

#include "blk-harness.h"

#define F(b) (1ull << (b))

static struct backend *open_be(const char *spec, bool ro, uint32_t bs)
{
	struct backend_open_opts bo = { .readonly = ro, .block_size = bs };
	struct backend *be;

	T_ASSERT_EQ(backend_open(spec, &bo, &be), 0);
	return be;
}

static void expect_init_error(const char *spec, const struct blk_opts *o,
			      int err, const char *msg)
{
	struct backend *be = open_be(spec, o->readonly, o->block_size);
	struct blk_dev dev;

	T_ASSERT_EQ(blk_dev_init(&dev, be, o), err);
	if (!strstr(msg_last_error(), msg)) {
		fprintf(stderr, "message '%s' lacks '%s'\n", msg_last_error(), msg);
		exit(T_EXIT_FAIL);
	}
	backend_close(be);
}

/*
 * SEG_MAX and SIZE_MAX are always offered, and what they let a driver send
 * (seg_max segments of size_max bytes) is exactly the cap blk enforces, so
 * a driver that honours them never meets it.
 */
static void check_limits(void)
{
	static const uint32_t sizes[] = { 4, 8, 16, 64, 128, 256, 1024, 2048, 32768 };
	static const uint32_t explicit_max[] = { 0, 4096, 65536, 1u << 20, BLK_DATA_LIMIT };
	unsigned int i, j;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizeof(explicit_max) / sizeof(explicit_max[0]); j++) {
			struct blk_opts o = { .name = "t", .queue_size = sizes[i],
					      .size_max = explicit_max[j] };
			struct backend *be = open_be("null:1G", false, 512);
			struct blk_dev dev;
			uint32_t seg_max, size_max;

			T_ASSERT_EQ(blk_dev_init(&dev, be, &o), 0);
			T_ASSERT(dev.features & F(VIRTIO_BLK_F_SEG_MAX));
			T_ASSERT(dev.features & F(VIRTIO_BLK_F_SIZE_MAX));
			seg_max = le32toh(dev.config.seg_max);
			size_max = le32toh(dev.config.size_max);
			T_ASSERT(seg_max >= 1 && seg_max <= sizes[i] - 2);
			T_ASSERT(size_max >= 4096);
			T_ASSERT_EQ(dev.max_data, (uint64_t)seg_max * size_max);
			T_ASSERT(dev.max_data <= BLK_DATA_LIMIT);
			if (explicit_max[j]) {
				T_ASSERT_EQ(size_max, explicit_max[j]);
			} else {
				/* A power of two, and about a MiB in all. */
				T_ASSERT_EQ(size_max & (size_max - 1), 0);
				T_ASSERT(dev.max_data > BLK_DATA_TARGET / 2);
				T_ASSERT(dev.max_data <= 4 * BLK_DATA_TARGET);
			}
			backend_close(be);
		}
	}
}

int main(void)
{
	struct blk_opts o = { .name = "t" };
	struct backend *be;
	struct blk_dev dev;
	const struct virtio_blk_config *c;

	/* Defaults on a RAM disk: everything it can do, one queue. */
	be = open_be("memory:1M", false, 512);
	T_ASSERT_EQ(blk_dev_init(&dev, be, &o), 0);
	T_ASSERT_EQ(dev.features, F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_SIZE_MAX) |
		    F(VIRTIO_BLK_F_BLK_SIZE) |
		    F(VIRTIO_BLK_F_TOPOLOGY) | F(VIRTIO_BLK_F_FLUSH) |
		    F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES));
	c = blk_dev_config(&dev);
	T_ASSERT_EQ(blk_dev_config_size(), sizeof(struct virtio_blk_config));
	T_ASSERT_EQ(le64toh(c->capacity), 2048);
	T_ASSERT_EQ(le32toh(c->seg_max), 254);
	/* 254 segments of a page: Linux sends at most 1016 KiB, the cap. */
	T_ASSERT_EQ(le32toh(c->size_max), 4096);
	T_ASSERT_EQ(dev.max_data, 254 * 4096);
	T_ASSERT_EQ(le32toh(c->blk_size), 512);
	T_ASSERT_EQ(c->physical_block_exp, 0);
	T_ASSERT_EQ(le16toh(c->min_io_size), 1);
	T_ASSERT_EQ(le16toh(c->num_queues), 1);
	T_ASSERT_EQ(le32toh(c->max_discard_sectors), BLK_DWZ_SECTORS_MAX);
	T_ASSERT_EQ(le32toh(c->max_discard_seg), BLK_DWZ_SEGS_MAX);
	T_ASSERT_EQ(le32toh(c->discard_sector_alignment), 1);
	T_ASSERT_EQ(le32toh(c->max_write_zeroes_sectors), BLK_DWZ_SECTORS_MAX);
	T_ASSERT_EQ(c->write_zeroes_may_unmap, 1);
	T_ASSERT_EQ(c->wce, 0);

	/* FEATURES_OK. */
	T_ASSERT_EQ(blk_dev_features_ok(&dev, F(32)), 0);
	T_ASSERT_EQ(blk_dev_features_ok(&dev, 0), -EINVAL);	/* no VERSION_1 */
	T_ASSERT_EQ(blk_dev_features_ok(&dev, F(32) | F(VIRTIO_BLK_F_RO)), -EINVAL);
	T_ASSERT_EQ(blk_dev_features_ok(&dev, F(32) | F(VIRTIO_BLK_F_GEOMETRY)), -EINVAL);
	/* Transport bits are the library's business. */
	T_ASSERT_EQ(blk_dev_features_ok(&dev, F(32) | F(28) | F(29) | F(33)), 0);
	T_ASSERT_EQ(atomic_load(&dev.acked), F(32) | F(28) | F(29) | F(33));

	/* Resize. */
	T_ASSERT_EQ(blk_dev_set_capacity(&dev, 4 << 20), 0);
	T_ASSERT_EQ(le64toh(c->capacity), 8192);
	T_ASSERT_EQ(atomic_load(&dev.capacity), 8192);
	T_ASSERT_EQ(blk_dev_set_capacity(&dev, 1000), -EINVAL);
	T_ASSERT_EQ(blk_dev_set_capacity(&dev, 0), -EINVAL);
	backend_close(be);

	/* Read-only, four queues, 4 KiB blocks, SIZE_MAX, a small queue. */
	o.readonly = true;
	o.num_queues = 4;
	o.block_size = 4096;
	o.size_max = 65536;
	o.queue_size = 16;
	be = open_be("memory:1M", true, 4096);
	T_ASSERT_EQ(blk_dev_init(&dev, be, &o), 0);
	T_ASSERT_EQ(dev.features, F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |
		    F(VIRTIO_BLK_F_TOPOLOGY) | F(VIRTIO_BLK_F_FLUSH) |
		    F(VIRTIO_BLK_F_RO) | F(VIRTIO_BLK_F_MQ) | F(VIRTIO_BLK_F_SIZE_MAX));
	T_ASSERT_EQ(dev.max_data, 14 * 65536);
	T_ASSERT_EQ(le32toh(c->blk_size), 4096);
	T_ASSERT_EQ(le16toh(c->num_queues), 4);
	T_ASSERT_EQ(le32toh(c->seg_max), 14);
	T_ASSERT_EQ(le32toh(c->size_max), 65536);
	T_ASSERT_EQ(le32toh(c->max_discard_sectors), 0);
	/* 4 KiB blocks need a driver that knows it. */
	T_ASSERT_EQ(blk_dev_features_ok(&dev, F(32)), -EINVAL);
	T_ASSERT_EQ(blk_dev_features_ok(&dev, F(32) | F(VIRTIO_BLK_F_BLK_SIZE)), 0);
	backend_close(be);

	/* Queue size caps seg_max at IOV_MAX. */
	memset(&o, 0, sizeof(o));
	o.queue_size = 4096;
	be = open_be("null:1M", false, 512);
	T_ASSERT_EQ(blk_dev_init(&dev, be, &o), 0);
	T_ASSERT_EQ(le32toh(dev.config.seg_max), BLK_SEG_MAX_LIMIT);
	backend_close(be);

	check_limits();

	/* Bad options, each with a message naming it. */
	memset(&o, 0, sizeof(o));
	o.block_size = 1024;
	expect_init_error("memory:1M", &o, -EINVAL, "use 512 or 4096");
	o.block_size = 4096;
	expect_init_error("memory:6K", &o, -EINVAL, "not a multiple of the block size 4096");
	o.block_size = 0;
	o.queue_size = 100;
	expect_init_error("memory:1M", &o, -EINVAL, "power of two");
	o.queue_size = 65536;
	expect_init_error("memory:1M", &o, -EINVAL, "power of two");
	o.queue_size = 0;
	o.num_queues = 1000;
	expect_init_error("memory:1M", &o, -EINVAL, "1 to 256");
	o.num_queues = 0;
	o.serial = "123456789012345678901";
	expect_init_error("memory:1M", &o, -EINVAL, "limit is 20");
	o.serial = NULL;
	o.size_max = 100;
	expect_init_error("memory:1M", &o, -EINVAL, "between one page (4096) and");
	o.size_max = BLK_DATA_LIMIT + 1;
	expect_init_error("memory:1M", &o, -EINVAL, "between one page (4096) and");
	o.size_max = 0;
	o.readonly = true;
	be = open_be("memory:1M", true, 512);
	o.readonly = false;
	T_ASSERT_EQ(blk_dev_init(&dev, be, &o), -EROFS);
	T_ASSERT(strstr(msg_last_error(), "--read-only"));
	backend_close(be);
	return T_EXIT_PASS;
}
