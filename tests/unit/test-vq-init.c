// SPDX-License-Identifier: LGPL-2.1-or-later
/* vq_init_rings(): sizes, ring mapping, alignment, permissions, state. */
#include <errno.h>
#include <endian.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "simdrv.h"
#include "test.h"

#define F_EVENT_IDX (1ULL << VDK_F_EVENT_IDX)

static int init(struct simdrv *sd, unsigned int num, uint64_t d, uint64_t a,
		uint64_t u, uint64_t features)
{
	return vq_init_rings(&sd->vq, &sd->map, num, d, a, u, 0, features);
}

int main(void)
{
	struct vdk_req *req;
	struct simdrv sd;
	uint64_t v = 3;

	simdrv_layout(&sd, 8, 0, 0);
	/* Sizes: power of two, within max_size. */
	T_ASSERT_EQ(init(&sd, 0, SIM_DESC_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, 0), -EINVAL);
	T_ASSERT(strstr(vdk_last_error(), "power of two"));
	T_ASSERT_EQ(init(&sd, 6, SIM_DESC_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, 0), -EINVAL);
	T_ASSERT_EQ(init(&sd, 16, SIM_DESC_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, 0), -EINVAL);
	sd.vq.max_size = 65536;
	T_ASSERT_EQ(init(&sd, 65536, SIM_DESC_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, 0), -EINVAL);
	sd.vq.max_size = 8;
	/* A failed init leaves the queue broken: pop says -EIO. */
	T_ASSERT(vdk_vq_broken(&sd.vq));
	T_ASSERT_EQ(simdrv_pop(&sd, &req), -EIO);

	/* Rings unmapped, misaligned, or in a region without the right perm. */
	T_ASSERT_EQ(init(&sd, 8, SIM_GAP_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, 0), -EINVAL);
	T_ASSERT(strstr(vdk_last_error(), "descriptor ring"));
	T_ASSERT_EQ(init(&sd, 8, SIM_DESC_IOVA + 8, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, 0), -EINVAL);
	T_ASSERT(strstr(vdk_last_error(), "aligned"));
	T_ASSERT_EQ(init(&sd, 8, SIM_DESC_IOVA, SIM_AVAIL_IOVA + 1,
			 SIM_USED_IOVA, 0), -EINVAL);
	T_ASSERT_EQ(init(&sd, 8, SIM_DESC_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA + 2, 0), -EINVAL);
	T_ASSERT_EQ(init(&sd, 8, SIM_DESC_IOVA, SIM_AVAIL_IOVA,
			 SIM_RO_IOVA, 0), -EINVAL);
	T_ASSERT(strstr(vdk_last_error(), "used ring"));
	T_ASSERT_EQ(init(&sd, 8, SIM_WO_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, 0), -EINVAL);
	/* Ring running off the end of its region (desc table for 16). */
	sd.vq.max_size = 16;
	T_ASSERT_EQ(init(&sd, 16, SIM_DESC_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, 0), -EINVAL);
	sd.vq.max_size = 8;
	/* The layout has no room for the event-idx fields. */
	T_ASSERT_EQ(init(&sd, 8, SIM_DESC_IOVA, SIM_AVAIL_IOVA,
			 SIM_USED_IOVA, F_EVENT_IDX), -EINVAL);
	T_ASSERT(strstr(vdk_last_error(), "available ring"));

	/* Success clears broken and picks up the ring's used idx. */
	sd.used->idx = htole16(1234);
	sd.used->flags = htole16(VRING_USED_F_NO_NOTIFY);
	T_ASSERT_EQ(vq_init_rings(&sd.vq, &sd.map, 8, SIM_DESC_IOVA,
				  SIM_AVAIL_IOVA, SIM_USED_IOVA, 77, 0), 0);
	T_ASSERT(!vdk_vq_broken(&sd.vq));
	T_ASSERT_EQ(sd.vq.used_idx, 1234);
	T_ASSERT_EQ(sd.vq.last_avail_idx, 77);
	/* A stale NO_NOTIFY from an earlier server is cleared. */
	T_ASSERT_EQ(le16toh(sd.used->flags), 0);
	T_ASSERT_EQ(vdk_vq_size(&sd.vq), 8);
	T_ASSERT_EQ(vdk_vq_kick_fd(&sd.vq), -1);
	vdk_vq_kick_clear(&sd.vq);	/* no fd: a no-op */
	/*
	 * Kick fds are the library's own non-blocking eventfds: clearing
	 * consumes the count, and clearing again does not wait.
	 */
	sd.vq.kick_fd = eventfd(0, EFD_NONBLOCK);
	T_ASSERT(sd.vq.kick_fd >= 0);
	T_ASSERT_EQ(write(sd.vq.kick_fd, &v, sizeof(v)), sizeof(v));
	vdk_vq_kick_clear(&sd.vq);
	vdk_vq_kick_clear(&sd.vq);
	close(sd.vq.kick_fd);
	sd.vq.kick_fd = -1;
	simdrv_fini(&sd);

	/* Event idx: avail_event is armed at the starting index. */
	simdrv_layout(&sd, 8, F_EVENT_IDX, 500);
	T_ASSERT_EQ(simdrv_start(&sd), 0);
	T_ASSERT_EQ(simdrv_avail_event(&sd), 500);
	simdrv_fini(&sd);
	return T_EXIT_PASS;
}
