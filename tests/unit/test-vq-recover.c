// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Recovery from the inflight log: a process that dies at any point of a
 * pop or a push leaves a log from which the next one resubmits exactly the
 * requests in flight, oldest first, and never completes one twice.
 *
 * The crash points are not guessed: lib/vq.c is built for this test with
 * VDK_VQ_STORE_HOOK, so every store it makes to the rings and the log
 * calls vq_store_hook() first, and crash_everywhere() dies before each one
 * in turn (and again before each store of the recovery that follows).
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

/*
 * Store-level crash injection.  The hook counts the stores lib/vq.c makes
 * to shared memory (the used ring and the log: what outlives the process)
 * and, at store number @target, copies that memory as it is just before
 * the store.  The run goes on; afterwards the copy is put back, which is
 * the memory a process that died there would have left behind.
 */
static struct {
	struct world *w;
	long target;		/* store to die before; -1: none */
	long count;		/* stores seen */
	bool taken;
	const char *what;	/* the store it died before */
	unsigned char log[4096];
	unsigned char used[4096];
} crash;

static size_t used_len(const struct world *w)
{
	bool event_idx = w->sd.features & (1ULL << VDK_F_EVENT_IDX);

	return sizeof(struct vring_used) + sizeof(struct vring_used_elem) * NUM +
	       (event_idx ? sizeof(uint16_t) : 0);
}

void vq_store_hook(struct vdk_vq *vq, const char *what)
{
	(void)vq;
	if (!crash.w || crash.count++ != crash.target)
		return;
	memcpy(crash.log, crash.w->log, vq_log_size(NUM));
	memcpy(crash.used, crash.w->sd.used, used_len(crash.w));
	crash.taken = true;
	crash.what = what;
}

/* Arms the hook to die before the @target-th store from now. */
static void crash_arm(struct world *w, long target)
{
	crash.w = w;
	crash.target = target;
	crash.count = 0;
	crash.taken = false;
	crash.what = NULL;
}

/* If the armed store was reached: the process dies there; true if so. */
static bool crash_land(struct world *w)
{
	if (!crash.taken)
		return false;
	crash.w = NULL;
	memcpy(w->log, crash.log, vq_log_size(NUM));
	memcpy(w->sd.used, crash.used, used_len(w));
	return true;
}

/* Pops, and pushes out of order, as a busy queue does. */
static void busy_queue(struct world *w)
{
	pop(w);
	pop(w);
	pop(w);
	push(w, 1);
	pop(w);
	push(w, 0);
	pop(w);
	pop(w);
	push(w, 4);
	push(w, 3);
	pop(w);
}

/* Serves what is left in the order a second process would. */
static void drain(struct world *w)
{
	struct vdk_req *req;
	unsigned int i;

	while (simdrv_pop(&w->sd, &req) == 0) {
		T_ASSERT(!w->reqs[req->head]);
		w->reqs[req->head] = req;
	}
	for (i = NUM; i-- > 0;)
		if (w->reqs[i])
			push(w, i);
}

/* Every request completed exactly once, nothing else in the used ring. */
static void check_once(struct world *w, long k1, long k2)
{
	uint32_t id, len;
	unsigned int i;

	while (simdrv_get_used(&w->sd, &id, &len) == 0) {
		T_ASSERT(id < NUM);
		w->completed[id]++;
	}
	for (i = 0; i < NUM; i++)
		if (w->completed[i] != (i < REQS)) {
			fprintf(stderr, "crash before store %ld, then %ld: request %u completed %u times\n",
				k1, k2, i, w->completed[i]);
			exit(T_EXIT_FAIL);
		}
	T_ASSERT_EQ(vdk_vq_inflight(&w->sd.vq), 0);
}

static int recover_at(struct world *w, long k1, long k2, const char *what)
{
	int ret = crash_and_recover(w);

	if (ret)
		fprintf(stderr, "crash before store %ld (%s), then %ld: recovery failed: %s\n",
			k1, what, k2, vdk_last_error());
	return ret;
}

/*
 * Dies before store k1 of a busy queue, recovers, serves the rest, and
 * dies again before store k2 of that recovery and service; every pair.
 */
static void crash_everywhere(uint64_t features)
{
	const char *what1;
	unsigned int points = 0;
	long k1, k2;
	struct world w;

	for (k1 = 0;; k1++) {
		for (k2 = -1;; k2++) {
			setup(&w, features);
			crash_arm(&w, k1);
			busy_queue(&w);
			if (!crash_land(&w)) {
				unsigned int i;

				crash.w = NULL;
				for (i = 0; i < NUM; i++)
					if (w.reqs[i])
						vdk_req_free(&w.sd.vq, w.reqs[i]);
				simdrv_fini(&w.sd);
				free(w.log);
				goto done;
			}
			what1 = crash.what;
			crash_arm(&w, k2);
			T_ASSERT_EQ(recover_at(&w, k1, -1, what1), 0);
			drain(&w);
			if (!crash_land(&w)) {
				crash.w = NULL;
				check_once(&w, k1, k2);
				simdrv_fini(&w.sd);
				free(w.log);
				points++;
				if (k2 >= 0)
					break;
				continue;
			}
			T_ASSERT_EQ(recover_at(&w, k1, k2, crash.what), 0);
			drain(&w);
			check_once(&w, k1, k2);
			simdrv_fini(&w.sd);
			free(w.log);
			points++;
		}
	}
done:
	/* The count proves the hook saw the stores: a busy queue has many. */
	fprintf(stderr, "crash_everywhere: %ld stores in a busy queue, %u crash pairs, every request completed once\n",
		k1, points);
	T_ASSERT(k1 > 30);
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
	crash_everywhere(0);
	crash_everywhere(1ULL << VDK_F_EVENT_IDX);
	return T_EXIT_PASS;
}
