// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A hostile driver: one malformed ring per case (argv[1]).  Each must make
 * vdk_vq_pop() fail with -EIO, leave the queue broken with a message naming
 * the problem, and never touch memory outside the mappings: the rings and
 * tables end against PROT_NONE guard pages, so following a bad index faults.
 */
#include <errno.h>
#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "simdrv.h"
#include "test.h"

#define F_INDIRECT (1ULL << VDK_F_INDIRECT_DESC)
#define D SIM_DATA_IOVA
#define NUM 8
#define BIG_IOVA (1ULL << 32)
#define BIG_SIZE (1ULL << 32)

static void head0(struct simdrv *sd)
{
	simdrv_put_avail(sd, 0);
}

static void c_loop(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, D, 4, VRING_DESC_F_NEXT, 1);
	simdrv_set_desc(sd, 1, D, 4, VRING_DESC_F_NEXT, 0);
	head0(sd);
}

static void c_self_loop(struct simdrv *sd)
{
	simdrv_set_desc(sd, 3, D, 4, VRING_DESC_F_NEXT, 3);
	simdrv_put_avail(sd, 3);
}

static void indirect_head(struct simdrv *sd, const struct vring_desc *t,
			  unsigned int n)
{
	uint64_t iova = simdrv_ind_table(sd, t, n);

	simdrv_set_desc(sd, 0, iova, n * 16, VRING_DESC_F_INDIRECT, 0);
	head0(sd);
}

static void c_loop_indirect(struct simdrv *sd)
{
	struct vring_desc t[2];

	sim_desc_fill(&t[0], D, 4, VRING_DESC_F_NEXT, 1);
	sim_desc_fill(&t[1], D, 4, VRING_DESC_F_NEXT, 0);
	indirect_head(sd, t, 2);
}

static void c_too_long(struct simdrv *sd)
{
	struct vring_desc t[5];
	unsigned int i;

	/* 4 direct buffers + 5 indirect ones = 9 > NUM, and no loop. */
	for (i = 0; i < 5; i++)
		sim_desc_fill(&t[i], D, 4, i < 4 ? VRING_DESC_F_NEXT : 0, i + 1);
	for (i = 0; i < 4; i++)
		simdrv_set_desc(sd, i, D, 4, VRING_DESC_F_NEXT, i + 1);
	simdrv_set_desc(sd, 4, simdrv_ind_table(sd, t, 5), 5 * 16,
			VRING_DESC_F_INDIRECT, 0);
	head0(sd);
}

static void c_next_oob(struct simdrv *sd)
{
	/* desc[NUM] would be in the guard page after the table. */
	simdrv_set_desc(sd, NUM - 1, D, 4, VRING_DESC_F_NEXT, NUM);
	simdrv_put_avail(sd, NUM - 1);
}

static void c_next_oob_indirect(struct simdrv *sd)
{
	struct vring_desc t[2];

	/* The table ends against the guard page; t[2] would fault. */
	sim_desc_fill(&t[0], D, 4, VRING_DESC_F_NEXT, 1);
	sim_desc_fill(&t[1], D, 4, VRING_DESC_F_NEXT, 2);
	indirect_head(sd, t, 2);
}

static void c_nested_indirect(struct simdrv *sd)
{
	struct vring_desc t[2];

	sim_desc_fill(&t[0], SIM_IND_IOVA, 16, VRING_DESC_F_INDIRECT, 0);
	sim_desc_fill(&t[1], D, 4, 0, 0);
	indirect_head(sd, t, 2);
}

static void c_indirect_next(struct simdrv *sd)
{
	struct vring_desc t[1];

	sim_desc_fill(&t[0], D, 4, 0, 0);
	simdrv_set_desc(sd, 0, simdrv_ind_table(sd, t, 1), 16,
			VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	simdrv_set_desc(sd, 1, D, 4, 0, 0);
	head0(sd);
}

static void c_indirect_len0(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, SIM_IND_IOVA, 0, VRING_DESC_F_INDIRECT, 0);
	head0(sd);
}

static void c_indirect_len_odd(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, SIM_IND_IOVA, 24, VRING_DESC_F_INDIRECT, 0);
	head0(sd);
}

static void c_indirect_too_big(struct simdrv *sd)
{
	struct vring_desc t[NUM + 1];
	unsigned int i;

	for (i = 0; i <= NUM; i++)
		sim_desc_fill(&t[i], D, 4, i < NUM ? VRING_DESC_F_NEXT : 0, i + 1);
	indirect_head(sd, t, NUM + 1);
}

static void c_indirect_unmapped(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, SIM_GAP_IOVA, 32, VRING_DESC_F_INDIRECT, 0);
	head0(sd);
}

static void c_indirect_partial(struct simdrv *sd)
{
	/* Last 16 bytes of the region, then unmapped. */
	simdrv_set_desc(sd, 0, SIM_IND_IOVA + SIM_IND_SIZE - 16, 32,
			VRING_DESC_F_INDIRECT, 0);
	head0(sd);
}

static void c_indirect_writable(struct simdrv *sd)
{
	/* A table in memory the device may only write cannot be read. */
	simdrv_set_desc(sd, 0, SIM_WO_IOVA, 32, VRING_DESC_F_INDIRECT, 0);
	head0(sd);
}

/*
 * Buffers for the overflow cases: a 4 GiB PROT_NONE reservation.  The
 * library must reject the chain from the lengths alone, never touching it.
 */
static void map_big(struct simdrv *sd)
{
	struct iova_region r = { .start = BIG_IOVA,
				 .last = BIG_IOVA + BIG_SIZE - 1,
				 .perm = VDK_PERM_RW };

	r.va = mmap(NULL, BIG_SIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	T_ASSERT(r.va != MAP_FAILED);
	r.map_base = r.va;	/* iova_map_destroy unmaps it */
	r.map_len = BIG_SIZE;
	T_ASSERT_EQ(iova_map_add(&sd->map, &r), 0);
}

static void overflow(struct simdrv *sd, uint16_t wflag)
{
	map_big(sd);
	simdrv_set_desc(sd, 0, BIG_IOVA, 0xffffffff, VRING_DESC_F_NEXT | wflag, 1);
	simdrv_set_desc(sd, 1, BIG_IOVA, 1, wflag, 0);
	head0(sd);
}

static void c_overflow_out(struct simdrv *sd)
{
	overflow(sd, 0);
}

static void c_overflow_in(struct simdrv *sd)
{
	overflow(sd, VRING_DESC_F_WRITE);
}

static void c_head_oob(struct simdrv *sd)
{
	simdrv_put_avail(sd, NUM);
}

static void c_head_huge(struct simdrv *sd)
{
	simdrv_put_avail(sd, 0xffff);
}

static void c_avail_jump(struct simdrv *sd)
{
	unsigned int i;

	for (i = 0; i < NUM + 1; i++)
		simdrv_set_desc(sd, i % NUM, D, 4, 0, 0);
	for (i = 0; i < NUM + 1; i++)
		simdrv_put_avail(sd, i % NUM);
}

static void c_unmapped(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, SIM_GAP_IOVA, 16, 0, 0);
	head0(sd);
}

static void c_into_gap(struct simdrv *sd)
{
	/* Starts in the second data region, runs past its end. */
	simdrv_set_desc(sd, 0, D + 2 * SIM_DATA_SIZE - 8, 16,
			VRING_DESC_F_WRITE, 0);
	head0(sd);
}

static void c_perm_read(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, SIM_WO_IOVA, 16, 0, 0);
	head0(sd);
}

static void c_perm_write(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, SIM_RO_IOVA, 16, VRING_DESC_F_WRITE, 0);
	head0(sd);
}

static void c_read_after_write(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, D, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	simdrv_set_desc(sd, 1, D + 16, 4, 0, 0);
	head0(sd);
}

static void c_wrap(struct simdrv *sd)
{
	simdrv_set_desc(sd, 0, UINT64_MAX - 7, 16, 0, 0);
	head0(sd);
}

struct hcase {
	const char *name;
	uint64_t features;
	void (*setup)(struct simdrv *sd);
	const char *expect;	/* part of the error message */
};

static const struct hcase cases[] = {
	{ "loop", 0, c_loop, "loops" },
	{ "self-loop", 0, c_self_loop, "loops" },
	{ "loop-indirect", F_INDIRECT, c_loop_indirect, "loops" },
	{ "too-long", F_INDIRECT, c_too_long, "longer than the queue size" },
	{ "next-oob", 0, c_next_oob, "next index 8 is out of range" },
	{ "next-oob-indirect", F_INDIRECT, c_next_oob_indirect,
	  "next index 2 is out of range" },
	{ "nested-indirect", F_INDIRECT, c_nested_indirect,
	  "inside an indirect table" },
	{ "indirect-next", F_INDIRECT, c_indirect_next,
	  "both INDIRECT and NEXT" },
	{ "indirect-len0", F_INDIRECT, c_indirect_len0, "non-zero multiple" },
	{ "indirect-len-odd", F_INDIRECT, c_indirect_len_odd,
	  "non-zero multiple" },
	{ "indirect-too-big", F_INDIRECT, c_indirect_too_big,
	  "exceeds the queue size" },
	{ "indirect-not-negotiated", 0, c_indirect_len_odd, "not negotiated" },
	{ "indirect-unmapped", F_INDIRECT, c_indirect_unmapped,
	  "indirect table" },
	{ "indirect-partial", F_INDIRECT, c_indirect_partial,
	  "indirect table" },
	{ "indirect-writable", F_INDIRECT, c_indirect_writable,
	  "not mapped readable" },
	{ "overflow-out", 0, c_overflow_out, "readable length overflows" },
	{ "overflow-in", 0, c_overflow_in, "writable length overflows" },
	{ "head-oob", 0, c_head_oob, "out of range" },
	{ "head-huge", 0, c_head_huge, "holds head 65535" },
	{ "avail-jump", 0, c_avail_jump, "jumped" },
	{ "unmapped", 0, c_unmapped, "not mapped readable" },
	{ "into-gap", 0, c_into_gap, "not mapped writable" },
	{ "perm-read", 0, c_perm_read, "not mapped readable" },
	{ "perm-write", 0, c_perm_write, "not mapped writable" },
	{ "read-after-write", 0, c_read_after_write, "follows a writable" },
	{ "wrap", 0, c_wrap, "wraps around" },
	{ "ring-unmapped", 0, NULL, "used ring" },
};

static void expect_broken(struct simdrv *sd, const char *expect)
{
	struct vdk_req *req = NULL;

	T_ASSERT_EQ(simdrv_pop(sd, &req), -EIO);
	T_ASSERT(!req);
	T_ASSERT(vdk_vq_broken(&sd->vq));
	if (!strstr(vdk_last_error(), expect)) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n",
			vdk_last_error(), expect);
		exit(T_EXIT_FAIL);
	}
	fprintf(stderr, "ok: %s\n", vdk_last_error());
	/* Sticky: no retry, no progress. */
	T_ASSERT_EQ(simdrv_pop(sd, &req), -EIO);
	T_ASSERT_EQ(vdk_vq_inflight(&sd->vq), 0);
	T_ASSERT_EQ(le16toh(sd->used->idx), 0);
}

int main(int argc, char **argv)
{
	/* Once init has failed, pop only knows the queue is broken. */
	static const struct hcase after_init = { .expect = "is broken" };
	const struct hcase *c = NULL;
	struct simdrv sd;
	unsigned int i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CASE\n", argv[0]);
		return T_EXIT_FAIL;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(argv[1], cases[i].name))
			c = &cases[i];
	if (!c) {
		fprintf(stderr, "unknown case %s\n", argv[1]);
		return T_EXIT_FAIL;
	}

	if (!c->setup) {
		/* Ring addresses the driver gave are not mapped. */
		simdrv_layout(&sd, NUM, c->features, 0);
		T_ASSERT_EQ(vq_init_rings(&sd.vq, &sd.map, NUM, SIM_DESC_IOVA,
					  SIM_AVAIL_IOVA, SIM_GAP_IOVA, 0, 0),
			    -EINVAL);
		T_ASSERT(strstr(vdk_last_error(), c->expect));
		c = &after_init;
	} else {
		simdrv_init(&sd, NUM, c->features, 0);
		c->setup(&sd);
		simdrv_publish(&sd);
	}
	expect_broken(&sd, c->expect);

	/* A device reset (fresh rings) recovers the queue. */
	vq_reset_rings(&sd.vq);
	T_ASSERT(!vdk_vq_broken(&sd.vq));
	T_ASSERT_EQ(simdrv_pop(&sd, &(struct vdk_req *){ NULL }), -ENODEV);
	simdrv_fini(&sd);
	return T_EXIT_PASS;
}
