// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device setup: options checked against the backend, then the feature bits
 * and config space that follow from them, and the FEATURES_OK check.
 *
 * Thread model: control thread; queue threads only read the result.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "blk.h"

#define BIT(n) (1ull << (n))
/* Feature bits 0..23 are the device type's; the rest are the transport's. */
#define DEVICE_FEATURE_MASK (BIT(24) - 1)

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static unsigned int ilog2_u32(uint32_t v)
{
	return 31 - __builtin_clz(v);
}

static int blk_opts_check(const struct blk_dev *dev, const struct blk_opts *o,
			  uint64_t size)
{
	if (dev->block_size != 512 && dev->block_size != 4096) {
		msg_error("block size %" PRIu32 " is not supported: use 512 or 4096",
			  dev->block_size);
		return -EINVAL;
	}
	if (dev->num_queues < 1 || dev->num_queues > BLK_QUEUES_MAX) {
		msg_error("%" PRIu32 " queues: use 1 to %u", dev->num_queues,
			  BLK_QUEUES_MAX);
		return -EINVAL;
	}
	if (dev->num_queues > 1 &&
	    backend_thread_model(dev->be) == BACKEND_THREAD_ONE_QUEUE) {
		msg_error("the %s backend serves one queue only (it cannot run queues in parallel): use --queues 1",
			  backend_name(dev->be));
		return -EINVAL;
	}
	if (!is_pow2(dev->queue_size) || dev->queue_size < 4 ||
	    dev->queue_size > VDK_QUEUE_SIZE_MAX) {
		msg_error("queue size %" PRIu32 " is not a power of two from 4 to %u",
			  dev->queue_size, VDK_QUEUE_SIZE_MAX);
		return -EINVAL;
	}
	if (o->serial && strlen(o->serial) > VIRTIO_BLK_ID_BYTES) {
		msg_error("serial '%s' is %zu bytes long: the limit is %d",
			  o->serial, strlen(o->serial), VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	if (o->size_max && (o->size_max < 4096 || o->size_max > BLK_DATA_LIMIT)) {
		msg_error("maximum segment size %" PRIu32 " is not between one page (4096) and %u",
			  o->size_max, BLK_DATA_LIMIT);
		return -EINVAL;
	}
	if (size == 0) {
		msg_error("backend '%s' is empty: give it a size of at least one block",
			  backend_spec(dev->be));
		return -EINVAL;
	}
	if (size % dev->block_size) {
		msg_error("backend '%s' is %" PRIu64 " bytes, not a multiple of the block size %" PRIu32
			  ": resize it (e.g. truncate -s %" PRIu64 ") or use --block-size 512",
			  backend_spec(dev->be), size, dev->block_size,
			  (size / dev->block_size + 1) * dev->block_size);
		return -EINVAL;
	}
	if (!o->readonly && !backend_can_write(dev->be)) {
		msg_error("backend '%s' was opened read-only: add --read-only",
			  backend_spec(dev->be));
		return -EROFS;
	}
	return 0;
}

static void blk_config_build(struct blk_dev *dev, uint64_t size)
{
	struct virtio_blk_config *c = &dev->config;
	uint32_t phys = backend_phys_block_size(dev->be);
	unsigned int exp = 0;

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(size >> BLK_SECTOR_SHIFT);
	c->size_max = htole32(dev->size_max);
	c->seg_max = htole32(dev->seg_max);
	c->blk_size = htole32(dev->block_size);
	/* Physical block hint, e.g. a 4 KiB-sector disk behind 512-byte blocks. */
	if (is_pow2(phys) && phys > dev->block_size)
		exp = ilog2_u32(phys / dev->block_size);
	if (exp > 15)
		exp = 15;
	c->physical_block_exp = exp;
	c->alignment_offset = 0;
	c->min_io_size = htole16(1u << exp);
	c->opt_io_size = htole32(0);	/* no hint */
	c->num_queues = htole16(dev->num_queues);
	if (dev->features & BIT(VIRTIO_BLK_F_DISCARD)) {
		c->max_discard_sectors = htole32(dev->max_discard_sectors);
		c->max_discard_seg = htole32(BLK_DWZ_SEGS_MAX);
		c->discard_sector_alignment = htole32(dev->block_size >> BLK_SECTOR_SHIFT);
	}
	if (dev->features & BIT(VIRTIO_BLK_F_WRITE_ZEROES)) {
		c->max_write_zeroes_sectors = htole32(dev->max_wz_sectors);
		c->max_write_zeroes_seg = htole32(BLK_DWZ_SEGS_MAX);
		c->write_zeroes_may_unmap = dev->wz_may_unmap;
	}
}

int blk_dev_init(struct blk_dev *dev, struct backend *be, const struct blk_opts *o)
{
	uint64_t size = backend_size(be);
	uint64_t f;
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->be = be;
	snprintf(dev->name, sizeof(dev->name), "%s", o->name ? o->name : "vduse-blk");
	dev->block_size = o->block_size ? o->block_size : 512;
	dev->num_queues = o->num_queues ? o->num_queues : 1;
	dev->queue_size = o->queue_size ? o->queue_size : 256;
	ret = blk_opts_check(dev, o, size);
	if (ret)
		return ret;

	dev->readonly = o->readonly || !backend_can_write(be);
	/* Each chain also holds the header and the status descriptors. */
	dev->seg_max = dev->queue_size - 2;
	if (dev->seg_max > BLK_SEG_MAX_LIMIT)
		dev->seg_max = BLK_SEG_MAX_LIMIT;
	if (o->size_max) {
		dev->size_max = o->size_max;
		dev->size_max_strict = true;
		if (dev->seg_max > BLK_DATA_LIMIT / dev->size_max)
			dev->seg_max = BLK_DATA_LIMIT / dev->size_max;
	} else {
		/*
		 * A power of two, at least a page (the kernel raises a smaller
		 * max_segment_size to a page, or refuses it).  Only the total
		 * is enforced: firmware (SeaBIOS, OVMF) puts a whole transfer
		 * in one descriptor and ignores size_max.
		 */
		dev->size_max = 1u << ilog2_u32(BLK_DATA_TARGET / dev->seg_max);
		if (dev->size_max < 4096)
			dev->size_max = 4096;
	}
	dev->max_data = (uint64_t)dev->seg_max * dev->size_max;
	dev->max_discard_sectors = BLK_DWZ_SECTORS_MAX;
	/* Emulated zeroing writes; keep each request's work bounded. */
	dev->max_wz_sectors = backend_write_zeroes_native(be) ?
			      BLK_DWZ_SECTORS_MAX : BLK_WZ_EMUL_SECTORS_MAX;
	dev->wz_may_unmap = backend_can_zero_unmap(be);
	if (o->serial)
		memcpy(dev->serial, o->serial, strlen(o->serial));

	/* SEG_MAX and SIZE_MAX together bound a request: see BLK_DATA_TARGET. */
	f = BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_SIZE_MAX) |
	    BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_TOPOLOGY) |
	    BIT(VIRTIO_BLK_F_FLUSH);
	if (dev->num_queues > 1)
		f |= BIT(VIRTIO_BLK_F_MQ);
	if (dev->readonly) {
		f |= BIT(VIRTIO_BLK_F_RO);
	} else {
		if (backend_can_discard(be))
			f |= BIT(VIRTIO_BLK_F_DISCARD);
		if (backend_can_write_zeroes(be))
			f |= BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	}
	dev->features = f;
	atomic_store(&dev->capacity, size >> BLK_SECTOR_SHIFT);
	blk_config_build(dev, size);
	return 0;
}

int blk_dev_features_ok(struct blk_dev *dev, uint64_t features)
{
	uint64_t extra = features & DEVICE_FEATURE_MASK & ~dev->features;

	if (!(features & BIT(VIRTIO_F_VERSION_1))) {
		msg_log(MSG_ERR, "%s: the driver did not accept VERSION_1; legacy drivers are not supported",
			dev->name);
		return -EINVAL;
	}
	if (extra) {
		msg_log(MSG_ERR, "%s: the driver accepted features 0x%" PRIx64 " that were not offered",
			dev->name, extra);
		return -EINVAL;
	}
	/*
	 * A driver that ignores BLK_SIZE assumes 512-byte blocks and would
	 * send I/O that a 4096-byte device refuses.
	 */
	if (dev->block_size != 512 && !(features & BIT(VIRTIO_BLK_F_BLK_SIZE))) {
		msg_log(MSG_ERR, "%s: the driver did not accept BLK_SIZE, but the block size is %" PRIu32,
			dev->name, dev->block_size);
		return -EINVAL;
	}
	/*
	 * Without RO the driver may try to write; that still works (every
	 * write fails with IOERR), so only warn.
	 */
	if (dev->readonly && !(features & BIT(VIRTIO_BLK_F_RO)))
		msg_log(MSG_WARN, "%s: the driver did not accept RO; its writes will fail",
			dev->name);
	atomic_store(&dev->acked, features);
	return 0;
}

int blk_dev_set_capacity(struct blk_dev *dev, uint64_t bytes)
{
	if (!bytes || bytes % dev->block_size) {
		msg_error("new size %" PRIu64 " is not a positive multiple of the block size %" PRIu32,
			  bytes, dev->block_size);
		return -EINVAL;
	}
	dev->config.capacity = htole64(bytes >> BLK_SECTOR_SHIFT);
	atomic_store(&dev->capacity, bytes >> BLK_SECTOR_SHIFT);
	return 0;
}
