// SPDX-License-Identifier: LGPL-2.1-or-later
/* Indirect descriptor tables, alone and after direct descriptors. */
#include <errno.h>
#include <endian.h>
#include <string.h>

#include "simdrv.h"
#include "test.h"

#define F_INDIRECT (1ULL << VDK_F_INDIRECT_DESC)

static void test_table(void)
{
	uint64_t edge = SIM_DATA_IOVA + SIM_DATA_SIZE - 4;
	struct simdrv sd;
	struct vdk_req *req;
	uint32_t id, len;
	unsigned int head;

	simdrv_init(&sd, 8, F_INDIRECT, 0);
	struct sim_seg segs[] = {
		{ simdrv_buf(&sd, 16), 16, false },
		{ edge, 8, false },		/* split in two */
		{ simdrv_buf(&sd, 1), 1, false },
		{ simdrv_buf(&sd, 512), 512, true },
		{ simdrv_buf(&sd, 1), 1, true },
	};
	head = simdrv_add_indirect(&sd, segs, 5);
	simdrv_publish(&sd);
	T_ASSERT_EQ(simdrv_pop(&sd, &req), 0);
	T_ASSERT_EQ(req->head, head);
	T_ASSERT_EQ(req->out_num, 4);
	T_ASSERT_EQ(req->in_num, 2);
	T_ASSERT_EQ(req->out_bytes, 25);
	T_ASSERT_EQ(req->in_bytes, 513);
	T_ASSERT(req->iov[0].iov_base == simdrv_va(&sd, segs[0].addr));
	T_ASSERT_EQ(req->iov[1].iov_len, 4);
	T_ASSERT_EQ(req->iov[2].iov_len, 4);
	T_ASSERT(req->iov[4].iov_base == simdrv_va(&sd, segs[3].addr));
	vdk_vq_push(&sd.vq, req, 513);
	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), 0);
	T_ASSERT_EQ(id, head);
	T_ASSERT_EQ(len, 513);
	simdrv_fini(&sd);
}

static void test_mixed_and_full(void)
{
	struct vring_desc t[8];
	struct simdrv sd;
	struct vdk_req *req;
	uint64_t buf, tbl;
	unsigned int k;

	/* Two direct readable buffers, then an indirect table of writables. */
	simdrv_init(&sd, 8, F_INDIRECT, 0);
	buf = simdrv_buf(&sd, 64);
	for (k = 0; k < 2; k++) {
		t[k].addr = htole64(buf + 32 + 16 * k);
		t[k].len = htole32(16);
		t[k].flags = htole16(VRING_DESC_F_WRITE |
				     (k == 0 ? VRING_DESC_F_NEXT : 0));
		t[k].next = htole16(1);
	}
	tbl = simdrv_ind_table(&sd, t, 2);
	simdrv_set_desc(&sd, 5, buf, 16, VRING_DESC_F_NEXT, 6);
	simdrv_set_desc(&sd, 6, buf + 16, 16, VRING_DESC_F_NEXT, 7);
	simdrv_set_desc(&sd, 7, tbl, 32, VRING_DESC_F_INDIRECT, 0);
	simdrv_put_avail(&sd, 5);
	simdrv_publish(&sd);
	T_ASSERT_EQ(simdrv_pop(&sd, &req), 0);
	T_ASSERT_EQ(req->out_num, 2);
	T_ASSERT_EQ(req->in_num, 2);
	T_ASSERT_EQ(req->in_bytes, 32);
	vdk_req_free(&sd.vq, req);

	/* A table of exactly the queue size is the largest allowed. */
	for (k = 0; k < 8; k++) {
		t[k].addr = htole64(buf + 8 * k);
		t[k].len = htole32(8);
		t[k].flags = htole16(k < 7 ? VRING_DESC_F_NEXT : 0);
		t[k].next = htole16(k + 1);
	}
	tbl = simdrv_ind_table(&sd, t, 8);
	simdrv_set_desc(&sd, 0, tbl, 8 * 16, VRING_DESC_F_INDIRECT, 0);
	simdrv_put_avail(&sd, 0);
	simdrv_publish(&sd);
	T_ASSERT_EQ(simdrv_pop(&sd, &req), 0);
	T_ASSERT_EQ(req->out_num, 8);
	T_ASSERT_EQ(req->out_bytes, 64);
	vdk_req_free(&sd.vq, req);
	T_ASSERT(!vdk_vq_broken(&sd.vq));
	simdrv_fini(&sd);
}

int main(void)
{
	test_table();
	test_mixed_and_full();
	return T_EXIT_PASS;
}
