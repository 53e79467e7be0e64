// SPDX-License-Identifier: LGPL-2.1-or-later
/* Batching: many pops and pushes, then one notify, make one interrupt. */
#include <errno.h>

#include "simdrv.h"
#include "test.h"

#define F_EVENT_IDX (1ULL << VDK_F_EVENT_IDX)
#define N 200

static void run(uint64_t features)
{
	struct vdk_req *reqs[N];
	struct simdrv sd;
	uint32_t id, len;
	unsigned int i, got = 0;

	simdrv_init(&sd, 256, features, 0);
	for (i = 0; i < N; i++) {
		struct sim_seg s = { simdrv_buf(&sd, 16), 16, true };

		simdrv_add(&sd, &s, 1);
	}
	simdrv_publish(&sd);
	T_ASSERT(simdrv_kick(&sd));
	if (features & F_EVENT_IDX)
		simdrv_set_used_event(&sd, 0);

	for (i = 0; i < N; i++)
		T_ASSERT_EQ(simdrv_pop(&sd, &reqs[i]), 0);
	T_ASSERT_EQ(simdrv_pop(&sd, &reqs[0]), -EAGAIN);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), N);
	/* Complete out of order. */
	for (i = 0; i < N; i++)
		vdk_vq_push(&sd.vq, reqs[(i * 7) % N], 16);
	T_ASSERT_EQ(sd.irqs, 0);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 1);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 0);
	T_ASSERT_EQ(sd.irqs, 1);
	while (simdrv_get_used(&sd, &id, &len) == 0) {
		T_ASSERT_EQ(len, 16);
		got++;
	}
	T_ASSERT_EQ(got, N);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 0);
	simdrv_fini(&sd);
}

int main(void)
{
	run(0);
	run(F_EVENT_IDX);
	return T_EXIT_PASS;
}
