// SPDX-License-Identifier: LGPL-2.1-or-later
/* EVENT_IDX: kick suppression (avail_event) and irq suppression (used_event). */
#include <errno.h>

#include "simdrv.h"
#include "test.h"

#define F_EVENT_IDX (1ULL << VDK_F_EVENT_IDX)

static void add_one(struct simdrv *sd)
{
	struct sim_seg s = { simdrv_buf(sd, 8), 8, true };

	simdrv_add(sd, &s, 1);
	simdrv_publish(sd);
}

static void drain(struct simdrv *sd, unsigned int n)
{
	struct vdk_req *req;
	uint32_t id, len;
	unsigned int i;

	for (i = 0; i < n; i++) {
		T_ASSERT_EQ(simdrv_pop(sd, &req), 0);
		vdk_vq_push(&sd->vq, req, 0);
	}
	T_ASSERT_EQ(simdrv_pop(sd, &req), -EAGAIN);
	while (simdrv_get_used(sd, &id, &len) == 0)
		;
}

static void test_kicks(void)
{
	struct simdrv sd;
	struct vdk_req *req;
	int i;

	simdrv_init(&sd, 8, F_EVENT_IDX, 0);
	/* Fresh ring: avail_event 0, so the first add kicks. */
	add_one(&sd);
	T_ASSERT(simdrv_kick(&sd));
	/* Not yet drained: the device has not asked again, so no kick. */
	add_one(&sd);
	T_ASSERT(!simdrv_kick(&sd));
	/* Pop until empty re-arms avail_event; then one kick per wakeup. */
	drain(&sd, 2);
	T_ASSERT_EQ(simdrv_avail_event(&sd), 2);
	add_one(&sd);
	T_ASSERT(simdrv_kick(&sd));
	add_one(&sd);
	T_ASSERT(!simdrv_kick(&sd));

	/* Busy: disable kicks; nothing the driver adds kicks. */
	T_ASSERT(vdk_vq_enable_kicks(&sd.vq, false));
	drain(&sd, 2);
	for (i = 0; i < 5; i++) {
		add_one(&sd);
		T_ASSERT(!simdrv_kick(&sd));
	}
	/* Re-enabling reports the pending work, so sleeping is not lost. */
	T_ASSERT(vdk_vq_enable_kicks(&sd.vq, true));
	T_ASSERT_EQ(simdrv_pop(&sd, &req), 0);
	vdk_req_free(&sd.vq, req);
	drain(&sd, 4);
	T_ASSERT(!vdk_vq_enable_kicks(&sd.vq, true));
	add_one(&sd);
	T_ASSERT(simdrv_kick(&sd));
	T_ASSERT_EQ(sd.kicks, 3);
	simdrv_fini(&sd);
}

static void push_one(struct simdrv *sd)
{
	struct vdk_req *req;

	add_one(sd);
	T_ASSERT_EQ(simdrv_pop(sd, &req), 0);
	vdk_vq_push(&sd->vq, req, 8);
}

static void test_irqs(void)
{
	struct simdrv sd;
	uint32_t id, len;

	simdrv_init(&sd, 8, F_EVENT_IDX, 0);
	/* Nothing pushed: nothing to say. */
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 0);
	/* First notify after start always signals (no history). */
	simdrv_set_used_event(&sd, 100);
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 1);
	T_ASSERT_EQ(sd.irqs, 1);
	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), 0);

	/* Driver wants an interrupt once used idx passes 3 (old idx 1). */
	simdrv_set_used_event(&sd, 3);
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 0);		/* idx 2 */
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 0);		/* idx 3 */
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 1);		/* idx 4 > 3 */
	T_ASSERT_EQ(sd.irqs, 2);

	/* NO_INTERRUPT is ignored when EVENT_IDX is negotiated. */
	simdrv_set_avail_flags(&sd, VRING_AVAIL_F_NO_INTERRUPT);
	simdrv_set_used_event(&sd, 4);
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 1);
	T_ASSERT_EQ(sd.irqs, 3);
	/* Stale used_event (driver asleep elsewhere): suppressed. */
	push_one(&sd);
	push_one(&sd);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 0);
	T_ASSERT_EQ(sd.irqs, 3);
	simdrv_fini(&sd);
}

int main(void)
{
	test_kicks();
	test_irqs();
	return T_EXIT_PASS;
}
