// SPDX-License-Identifier: LGPL-2.1-or-later
/* GET_ID: the serial, NUL padded to 20 bytes, cut to the driver's buffer. */
#include "blk-harness.h"

int main(void)
{
	struct blk_opts o = { .name = "t", .serial = "disk-42" };
	struct harness h;
	uint8_t buf[64];

	h_init(&h, "null:1M", &o);

	memset(buf, 0xaa, sizeof(buf));
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_GET_ID, 0, buf, 20), VIRTIO_BLK_S_OK);
	T_ASSERT(!memcmp(buf, "disk-42", 7));
	T_ASSERT(h_all(buf + 7, 13, 0));
	T_ASSERT_EQ(h.last_len, 21);

	/* A short buffer gets the first bytes only. */
	memset(buf, 0xaa, sizeof(buf));
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_GET_ID, 0, buf, 4), VIRTIO_BLK_S_OK);
	T_ASSERT(!memcmp(buf, "disk", 4));
	T_ASSERT(h_all(buf + 4, 60, 0xaa));

	/* A long one: 20 bytes written, the rest untouched. */
	memset(buf, 0xaa, sizeof(buf));
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_GET_ID, 0, buf, 64), VIRTIO_BLK_S_OK);
	T_ASSERT(!memcmp(buf, "disk-42", 7));
	T_ASSERT(h_all(buf + 7, 13, 0));
	T_ASSERT(h_all(buf + 20, 44, 0xaa));
	T_ASSERT_EQ(h.last_len, 65);

	/* No room at all is still answered. */
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_GET_ID, 0, NULL, 0), VIRTIO_BLK_S_OK);
	h_fini(&h);

	/* A full 20-byte serial has no NUL. */
	o.serial = "01234567890123456789";
	h_init(&h, "null:1M", &o);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_GET_ID, 0, buf, 20), VIRTIO_BLK_S_OK);
	T_ASSERT(!memcmp(buf, o.serial, 20));
	h_fini(&h);
	return T_EXIT_PASS;
}
