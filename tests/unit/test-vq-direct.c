// SPDX-License-Identifier: LGPL-2.1-or-later
/* Direct descriptor chains: segments, totals, splitting, completion. */
#include <errno.h>
#include <string.h>

#include "simdrv.h"
#include "test.h"

struct my_req {
	struct vdk_req req;
	char tail[100];
};

static void test_basic(void)
{
	struct simdrv sd;
	struct vdk_req *req, *tmp;
	uint64_t o1, o2, i1, i2;
	uint32_t id, len;
	unsigned int head;
	char got[32];

	simdrv_init(&sd, 8, 0, 0);
	T_ASSERT_EQ(simdrv_pop(&sd, &req), -EAGAIN);

	o1 = simdrv_buf(&sd, 16);
	o2 = simdrv_buf(&sd, 8);
	i1 = simdrv_buf(&sd, 32);
	i2 = simdrv_buf(&sd, 1);
	simdrv_write(&sd, o1, "0123456789abcdef", 16);
	simdrv_write(&sd, o2, "ABCDEFGH", 8);
	struct sim_seg segs[] = {
		{ o1, 16, false }, { o2, 8, false },
		{ i1, 32, true }, { i2, 1, true },
	};
	head = simdrv_add(&sd, segs, 4);
	/* Not published yet: the device must not see it. */
	T_ASSERT_EQ(simdrv_pop(&sd, &req), -EAGAIN);
	simdrv_publish(&sd);
	T_ASSERT(simdrv_kick(&sd));

	T_ASSERT_EQ(simdrv_pop(&sd, &req), 0);
	T_ASSERT_EQ(req->head, head);
	T_ASSERT_EQ(req->out_num, 2);
	T_ASSERT_EQ(req->in_num, 2);
	T_ASSERT_EQ(req->out_bytes, 24);
	T_ASSERT_EQ(req->in_bytes, 33);
	T_ASSERT(req->iov[0].iov_base == simdrv_va(&sd, o1));
	T_ASSERT_EQ(req->iov[0].iov_len, 16);
	T_ASSERT(!memcmp(req->iov[1].iov_base, "ABCDEFGH", 8));
	T_ASSERT(req->iov[2].iov_base == simdrv_va(&sd, i1));
	T_ASSERT_EQ(req->iov[3].iov_len, 1);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 1);
	T_ASSERT_EQ(simdrv_pop(&sd, &tmp), -EAGAIN);

	memcpy(req->iov[2].iov_base, "device wrote this", 17);
	/* Length is clamped to what the driver offered. */
	vdk_vq_push(&sd.vq, req, 1000);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 0);
	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), 0);
	T_ASSERT_EQ(id, head);
	T_ASSERT_EQ(len, 33);
	simdrv_read(&sd, i1, got, 17);
	T_ASSERT(!memcmp(got, "device wrote this", 17));
	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), -EAGAIN);
	T_ASSERT(!vdk_vq_broken(&sd.vq));
	simdrv_fini(&sd);
}

static void test_split_and_empty(void)
{
	uint64_t edge = SIM_DATA_IOVA + SIM_DATA_SIZE - 8;
	struct simdrv sd;
	struct vdk_req *req;
	uint64_t b = 0;

	simdrv_init(&sd, 8, 0, 0);
	b = simdrv_buf(&sd, 4);
	/* Crosses from the first data region into the second. */
	struct sim_seg segs[] = {
		{ b, 0, false }, { edge, 16, false }, { b, 4, false },
		{ b, 0, true }, { edge, 16, true },
	};
	simdrv_add(&sd, segs, 5);
	simdrv_publish(&sd);
	T_ASSERT_EQ(simdrv_pop(&sd, &req), 0);
	/* Zero-length descriptors give no segment. */
	T_ASSERT_EQ(req->out_num, 3);
	T_ASSERT_EQ(req->in_num, 2);
	T_ASSERT_EQ(req->out_bytes, 20);
	T_ASSERT_EQ(req->in_bytes, 16);
	T_ASSERT(req->iov[0].iov_base == simdrv_va(&sd, edge));
	T_ASSERT_EQ(req->iov[0].iov_len, 8);
	T_ASSERT(req->iov[1].iov_base ==
		 simdrv_va(&sd, SIM_DATA_IOVA + SIM_DATA_SIZE));
	T_ASSERT_EQ(req->iov[1].iov_len, 8);
	T_ASSERT_EQ(req->iov[2].iov_len, 4);
	T_ASSERT_EQ(req->iov[3].iov_len, 8);
	T_ASSERT_EQ(req->iov[4].iov_len, 8);
	vdk_vq_push(&sd.vq, req, 0);
	simdrv_fini(&sd);
}

static void test_alloc(void)
{
	struct sim_seg seg;
	struct simdrv sd;
	struct vdk_req *req, *first;
	struct my_req *mr;
	uint32_t id, len;
	int i;

	simdrv_init(&sd, 4, 0, 0);
	vdk_vq_set_opaque(&sd.vq, &sd);
	T_ASSERT(vdk_vq_opaque(&sd.vq) == &sd);
	T_ASSERT_EQ(vdk_vq_index(&sd.vq), 0);
	seg = (struct sim_seg){ simdrv_buf(&sd, 64), 64, true };
	simdrv_add(&sd, &seg, 1);
	simdrv_publish(&sd);

	T_ASSERT_EQ(vdk_vq_pop(&sd.vq, sizeof(struct vdk_req) - 1, &req),
		    -EINVAL);
	T_ASSERT(vdk_last_error()[0]);
	/* The caller's struct and the iovecs do not overlap. */
	T_ASSERT_EQ(vdk_vq_pop(&sd.vq, sizeof(*mr), &req), 0);
	mr = container_of(req, struct my_req, req);
	memset(mr->tail, 0x5a, sizeof(mr->tail));
	T_ASSERT(req->iov[0].iov_base == simdrv_va(&sd, seg.addr));
	T_ASSERT((char *)req->iov >= mr->tail + sizeof(mr->tail));
	first = req;
	vdk_vq_push(&sd.vq, req, 64);
	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), 0);

	/* Same size again: the block is recycled. */
	for (i = 0; i < 3; i++) {
		simdrv_add(&sd, &seg, 1);
		simdrv_publish(&sd);
		T_ASSERT_EQ(vdk_vq_pop(&sd.vq, sizeof(*mr), &req), 0);
		T_ASSERT(req == first);
		vdk_vq_push(&sd.vq, req, 64);
		T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), 0);
	}

	/* Freeing drops without a used entry. */
	simdrv_add(&sd, &seg, 1);
	simdrv_publish(&sd);
	T_ASSERT_EQ(vdk_vq_pop(&sd.vq, 4096, &req), 0);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 1);
	vdk_req_free(&sd.vq, req);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 0);
	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), -EAGAIN);

	/* After a reset, pop refuses and push only frees. */
	simdrv_add(&sd, &seg, 1);
	simdrv_publish(&sd);
	T_ASSERT_EQ(simdrv_pop(&sd, &req), 0);
	vq_reset_rings(&sd.vq);
	T_ASSERT_EQ(vdk_vq_size(&sd.vq), 0);
	T_ASSERT_EQ(simdrv_pop(&sd, &first), -ENODEV);
	vdk_vq_push(&sd.vq, req, 1);
	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), -EAGAIN);
	T_ASSERT_EQ(vdk_vq_notify(&sd.vq), 0);
	T_ASSERT(!vdk_vq_enable_kicks(&sd.vq, true));
	simdrv_fini(&sd);
}

int main(void)
{
	test_basic();
	test_split_and_empty();
	test_alloc();
	return T_EXIT_PASS;
}
