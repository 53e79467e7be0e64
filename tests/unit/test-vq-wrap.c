// SPDX-License-Identifier: LGPL-2.1-or-later
/* 16-bit ring indexes wrapping past 65535, with and without EVENT_IDX. */
#include <errno.h>

#include "simdrv.h"
#include "test.h"

#define F_EVENT_IDX (1ULL << VDK_F_EVENT_IDX)
#define F_INDIRECT (1ULL << VDK_F_INDIRECT_DESC)

static void run(uint64_t features, uint16_t start)
{
	unsigned int round, k, n, heads[3], irqs;
	struct vdk_req *req;
	struct simdrv sd;
	uint32_t id, len;

	simdrv_init(&sd, 4, features, start);
	T_ASSERT_EQ(sd.vq.used_idx, start);
	for (round = 0; round < 24; round++) {
		n = 1 + round % 3;
		for (k = 0; k < n; k++) {
			struct sim_seg s[2] = {
				{ simdrv_buf(&sd, 4), 4, false },
				{ simdrv_buf(&sd, 4), 4, true },
			};

			if (features & F_INDIRECT)
				heads[k] = simdrv_add_indirect(&sd, s, 2);
			else
				heads[k] = simdrv_add(&sd, s, 1 + k % 2);
		}
		simdrv_publish(&sd);
		simdrv_kick(&sd);
		/* Ask for an interrupt on every completion. */
		if (features & F_EVENT_IDX)
			simdrv_set_used_event(&sd, sd.last_used);
		for (k = 0; k < n; k++) {
			T_ASSERT_EQ(simdrv_pop(&sd, &req), 0);
			T_ASSERT_EQ(req->head, heads[k]);
			vdk_vq_push(&sd.vq, req, 4);
		}
		T_ASSERT_EQ(simdrv_pop(&sd, &req), -EAGAIN);
		irqs = sd.irqs;
		T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 1);
		T_ASSERT_EQ(sd.irqs, irqs + 1);
		for (k = 0; k < n; k++) {
			T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), 0);
			T_ASSERT_EQ(id, heads[k]);
			T_ASSERT_EQ(len, (1 + k % 2 == 2 ||
					  (features & F_INDIRECT)) ? 4 : 0);
		}
		T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), -EAGAIN);
		if (features & F_EVENT_IDX)
			T_ASSERT_EQ(simdrv_avail_event(&sd), sd.avail_idx);
	}
	/* We really went past the wrap point. */
	T_ASSERT((uint16_t)(sd.avail_idx - start) == 48);
	T_ASSERT(!vdk_vq_broken(&sd.vq));
	/* Every round kicked once: the re-arm works across the wrap. */
	T_ASSERT_EQ(sd.kicks, 24);
	simdrv_fini(&sd);
}

int main(void)
{
	run(0, 65530);
	run(F_EVENT_IDX, 65530);
	run(F_EVENT_IDX | F_INDIRECT, 65533);
	run(F_EVENT_IDX, 65535);
	return T_EXIT_PASS;
}
