// SPDX-License-Identifier: LGPL-2.1-or-later
/* Without EVENT_IDX: VRING_AVAIL_F_NO_INTERRUPT and VRING_USED_F_NO_NOTIFY. */
#include <errno.h>
#include <endian.h>

#include "simdrv.h"
#include "test.h"

static void push_one(struct simdrv *sd)
{
	struct sim_seg s = { simdrv_buf(sd, 8), 8, true };
	struct vdk_req *req;

	simdrv_add(sd, &s, 1);
	simdrv_publish(sd);
	T_ASSERT_EQ(simdrv_pop(sd, &req), 0);
	vdk_vq_push(&sd->vq, req, 8);
}

int main(void)
{
	struct simdrv sd;
	uint32_t id, len;

	simdrv_init(&sd, 8, 0, 0);
	simdrv_set_avail_flags(&sd, VRING_AVAIL_F_NO_INTERRUPT);
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 0);
	T_ASSERT_EQ(sd.irqs, 0);
	simdrv_set_avail_flags(&sd, 0);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 0);	/* already decided */
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 1);
	T_ASSERT_EQ(sd.irqs, 1);

	/* A failing interrupt path is reported and retried next time. */
	sd.irq_ret = -EIO;
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), -EIO);
	sd.irq_ret = 0;
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 1);
	T_ASSERT_EQ(sd.irqs, 3);
	while (simdrv_get_used(&sd, &id, &len) == 0)
		;

	/* Kick suppression through used->flags. */
	T_ASSERT(simdrv_kick(&sd));
	T_ASSERT(!vdk_vq_enable_kicks(&sd.vq, false));
	T_ASSERT(le16toh(sd.used->flags) & VRING_USED_F_NO_NOTIFY);
	push_one(&sd);
	T_ASSERT(!simdrv_kick(&sd));
	T_ASSERT(!vdk_vq_enable_kicks(&sd.vq, true));
	T_ASSERT(!(le16toh(sd.used->flags) & VRING_USED_F_NO_NOTIFY));
	T_ASSERT(simdrv_kick(&sd));
	T_ASSERT_EQ(sd.kicks, 2);
	simdrv_fini(&sd);
	return T_EXIT_PASS;
}
