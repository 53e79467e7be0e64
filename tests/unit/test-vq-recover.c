// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Recovery from the inflight log: a process that dies at any point of a
 * pop or a push leaves a log from which the next one resubmits exactly the
 * requests in flight, oldest first, and never completes one twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "simdrv.h"
#include "test.h"

#define NUM 16
#define REQS 10

struct world {
	struct simdrv sd;
	struct vq_log *log;
	struct vdk_req *reqs[NUM];	/* by head */
	unsigned int completed[NUM];	/* used elements seen, by head */
};

static void setup(struct world *w, uint64_t features)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	simdrv_init(&w->sd, NUM, features, 0);
	w->log = calloc(1, vq_log_size(NUM));
	T_ASSERT(w->log);
	w->sd.vq.log = w->log;
	vq_log_start(&w->sd.vq);
	for (i = 0; i < REQS; i++) {
		struct sim_seg s = { simdrv_buf(&w->sd, 64), 64, true };

		T_ASSERT_EQ(simdrv_add(&w->sd, &s, 1), i);
	}
	simdrv_publish(&w->sd);
}

static uint16_t pop(struct world *w)
{
	struct vdk_req *req;

	T_ASSERT_EQ(simdrv_pop(&w->sd, &req), 0);
	T_ASSERT(req->head < NUM);
	T_ASSERT(!w->reqs[req->head]);
	w->reqs[req->head] = req;
	return req->head;
}

static void push(struct world *w, uint16_t head)
{
	T_ASSERT(w->reqs[head]);
	vdk_vq_push(&w->sd.vq, w->reqs[head], 64);
	w->reqs[head] = NULL;
}

/* The process dies: its requests vanish; a new one adopts the rings. */
static int crash_and_recover(struct world *w)
{
	unsigned int i;

	for (i = 0; i < NUM; i++) {
		if (w->reqs[i])
			vdk_req_free(&w->sd.vq, w->reqs[i]);
		w->reqs[i] = NULL;
	}
	vq_reset_rings(&w->sd.vq);
	T_ASSERT_EQ(vq_init_rings(&w->sd.vq, &w->sd.map, NUM, SIM_DESC_IOVA,
				  SIM_AVAIL_IOVA, SIM_USED_IOVA, 0,
				  w->sd.features), 0);
	return vq_log_recover(&w->sd.vq);
}

/* Serves everything left; each request must complete exactly once. */
static void finish(struct world *w, const uint16_t *expect_first, unsigned int n)
{
	struct vdk_req *req;
	uint32_t id, len;
	unsigned int i, served = 0;

	for (i = 0; i < n; i++)
		T_ASSERT_EQ(pop(w), expect_first[i]);
	while (simdrv_pop(&w->sd, &req) == 0) {
		T_ASSERT(!w->reqs[req->head]);
		w->reqs[req->head] = req;
	}
	for (i = 0; i < NUM; i++)
		if (w->reqs[i])
			push(w, i);
	while (simdrv_get_used(&w->sd, &id, &len) == 0) {
		T_ASSERT(id < NUM);
		w->completed[id]++;
		served++;
	}
	for (i = 0; i < REQS; i++)
		if (w->completed[i] != 1) {
			fprintf(stderr, "request %u completed %u times\n", i,
				w->completed[i]);
			exit(T_EXIT_FAIL);
		}
	T_ASSERT_EQ(vdk_vq_inflight(&w->sd.vq), 0);
	simdrv_fini(&w->sd);
	free(w->log);
}

/* Reap what the driver saw complete before the crash. */
static void reap(struct world *w)
{
	uint32_t id, len;

	while (simdrv_get_used(&w->sd, &id, &len) == 0)
		w->completed[id]++;
}

static void out_of_order(uint64_t features)
{
	static const uint16_t inflight[] = { 1, 3, 5 };
	struct world w;
	unsigned int i;

	setup(&w, features);
	for (i = 0; i < 6; i++)
		pop(&w);
	push(&w, 4);
	push(&w, 0);
	push(&w, 2);
	reap(&w);
	T_ASSERT_EQ(crash_and_recover(&w), 0);
	T_ASSERT_EQ(w.sd.vq.nr_resubmit, 3);
	finish(&w, inflight, 3);
}

/* Died after recording head 2 in flight, before consuming its entry. */
static void mid_pop(void)
{
	static const uint16_t inflight[] = { 0, 2 };
	struct world w;

	setup(&w, 0);
	pop(&w);
	pop(&w);
	push(&w, 1);
	reap(&w);
	pop(&w);
	w.log->last_avail_idx--;
	T_ASSERT_EQ(crash_and_recover(&w), 0);
	T_ASSERT_EQ(w.sd.vq.last_avail_idx, 3);
	finish(&w, inflight, 2);
}

/* Died after publishing a used element, before updating the log. */
static void mid_push(bool inflight_cleared)
{
	static const uint16_t inflight[] = { 0 };
	struct world w;
	uint64_t seq;

	setup(&w, 0);
	pop(&w);
	pop(&w);
	seq = w.log->inflight[1];
	push(&w, 1);
	reap(&w);
	if (!inflight_cleared)
		w.log->inflight[1] = seq;
	w.log->used_idx--;
	T_ASSERT_EQ(crash_and_recover(&w), 0);
	T_ASSERT_EQ(w.sd.vq.nr_resubmit, 1);
	finish(&w, inflight, 1);
}

/* Died before popping anything: the log never started. */
static void never_started(void)
{
	struct world w;

	setup(&w, 0);
	vq_log_clear(&w.sd.vq);
	T_ASSERT_EQ(crash_and_recover(&w), 0);
	T_ASSERT_EQ(w.sd.vq.nr_resubmit, 0);
	T_ASSERT_EQ(w.log->num, NUM);
	finish(&w, NULL, 0);
}

/* A log that contradicts the rings restores nothing. */
static void inconsistent(void)
{
	struct world w;

	setup(&w, 0);
	pop(&w);
	pop(&w);
	w.log->inflight[7] = 99;	/* never popped */
	T_ASSERT_EQ(crash_and_recover(&w), -EINVAL);
	simdrv_fini(&w.sd);
	free(w.log);

	setup(&w, 0);
	pop(&w);
	w.log->num = NUM / 2;		/* another ring size */
	T_ASSERT_EQ(crash_and_recover(&w), -EINVAL);
	simdrv_fini(&w.sd);
	free(w.log);

	setup(&w, 0);
	pop(&w);
	push(&w, 0);
	w.log->used_idx += 3;		/* ahead of the ring */
	T_ASSERT_EQ(crash_and_recover(&w), -EINVAL);
	simdrv_fini(&w.sd);
	free(w.log);
}

/* Two crashes in a row, the second before the resubmits were served. */
static void crash_twice(void)
{
	static const uint16_t inflight[] = { 0, 1, 2 };
	struct world w;

	setup(&w, 1ULL << VDK_F_EVENT_IDX);
	pop(&w);
	pop(&w);
	pop(&w);
	T_ASSERT_EQ(crash_and_recover(&w), 0);
	pop(&w);			/* head 0 again */
	T_ASSERT_EQ(crash_and_recover(&w), 0);
	T_ASSERT_EQ(w.sd.vq.nr_resubmit, 3);
	finish(&w, inflight, 3);
}

int main(void)
{
	out_of_order(0);
	out_of_order(1ULL << VDK_F_EVENT_IDX);
	mid_pop();
	mid_push(false);
	mid_push(true);
	never_started();
	inconsistent();
	crash_twice();
	return T_EXIT_PASS;
}
