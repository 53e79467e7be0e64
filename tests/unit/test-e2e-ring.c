// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A hostile driver at the ring level, end to end: indexes that go
 * backwards, a used ring rewritten behind the device's back, descriptors
 * changed between pops and while requests are in flight, heads posted
 * twice, a reset with requests in flight, and a stream of random
 * requests.  One case per argv[1].
 */
#include <errno.h>

#include "e2e.h"

#define D		SIM_DATA_IOVA
#define W		true
#define R		false

static struct e2e e;

static void init_default(void)
{
	e2e_init(&e, &(struct e2e_opts){ .vq_features = E2E_F_INDIRECT });
}

static void set_avail_idx(uint16_t v)
{
	__atomic_store_n(&e.sd.avail->idx, htole16(v), __ATOMIC_RELEASE);
}

/* Adds an IN of @len bytes at @sector; returns the head. */
static unsigned int add_in(uint64_t sector, size_t len, uint64_t *data,
			   uint64_t *status)
{
	uint64_t d = e2e_buf(&e, len, 0xee), s = e2e_buf(&e, 1, 0xff);

	if (data)
		*data = d;
	if (status)
		*status = s;
	return simdrv_add(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, VIRTIO_BLK_T_IN, sector), 16, R },
		{ d, (uint32_t)len, W }, { s, 1, W } }, 3);
}

static void expect_refused(const char *what)
{
	T_ASSERT_EQ(e2e_serve_one(&e), -EIO);
	T_ASSERT(strstr(vdk_last_error(), what));
	/* Sticky until the driver resets the device. */
	T_ASSERT_EQ(e2e_serve_one(&e), -EIO);
}

/* avail->idx decreases after requests were consumed. */
static void c_avail_backwards(void)
{
	init_default();
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, 0, 512, false, NULL),
		    VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, 0, 512, true, NULL),
		    VIRTIO_BLK_S_OK);
	set_avail_idx(1);
	expect_refused("jumped");
	/* Putting it back does not un-break the queue. */
	set_avail_idx(2);
	expect_refused("is broken");
	e2e_expect_no_used(&e);
	e2e_fini(&e);

	/* Far backwards, from a non-zero start. */
	init_default();
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL),
		    VIRTIO_BLK_S_OK);
	set_avail_idx(0x8001);
	expect_refused("jumped");
	e2e_fini(&e);
}

/* avail->idx goes backwards while requests are in the backend. */
static void c_avail_backwards_inflight(void)
{
	unsigned int h[3], i;
	uint64_t s[3];

	e2e_init(&e, &(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
					 .defer = true });
	e2e_disk_fill(0, 4096, 0x42);
	for (i = 0; i < 3; i++)
		h[i] = add_in(i, 512, NULL, &s[i]);
	T_ASSERT_EQ(e2e_serve(&e), 3);
	T_ASSERT_EQ(e2e_disk.npending, 3);
	set_avail_idx(0);
	expect_refused("jumped");
	/* The ones already taken complete normally. */
	T_ASSERT_EQ(e2e_disk_complete(3), 3);
	for (i = 0; i < 3; i++) {
		e2e_expect_used(&e, h[i], 513);
		T_ASSERT_EQ(e2e_byte(&e, s[i]), VIRTIO_BLK_S_OK);
	}
	e2e_expect_no_used(&e);
	e2e_fini(&e);
}

/* The driver scribbles over the used ring between two pushes. */
static void c_used_tampered(void)
{
	unsigned int i;
	uint64_t s;

	e2e_init(&e, &(struct e2e_opts){ .num = 8, .vq_features =
					 E2E_F_INDIRECT | E2E_F_EVENT_IDX });
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL),
		    VIRTIO_BLK_S_OK);
	for (i = 0; i < 8; i++) {
		e.sd.used->ring[i].id = htole32(0xdeadbeef);
		e.sd.used->ring[i].len = htole32(0xffffffff);
	}
	*(uint16_t *)&e.sd.used->ring[8] = 0xffff;	/* avail_event */
	e.sd.used->idx = htole16(0x1234);
	e.sd.used->flags = htole16(0xffff);
	/* The device pushes at its own index and overwrites the driver's. */
	i = add_in(0, 512, NULL, &s);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	T_ASSERT_EQ(le16toh(e.sd.used->idx), 2);
	T_ASSERT_EQ(le32toh(e.sd.used->ring[1].id), i);
	T_ASSERT_EQ(le32toh(e.sd.used->ring[1].len), 513);
	e2e_expect_used(&e, i, 513);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	/* And keeps going through a whole lap of the ring. */
	for (i = 0; i < 10; i++) {
		e.sd.used->idx = htole16((uint16_t)(i * 977));
		T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, i, 512, i & 1, NULL),
			    VIRTIO_BLK_S_OK);
	}
	T_ASSERT_EQ(le16toh(e.sd.used->idx), 12);
	e2e_fini(&e);
}

/* A published chain is rewritten into a loop before the device gets to it. */
static void c_mutate_between_pops(void)
{
	unsigned int h0, h1;
	uint64_t s0;

	init_default();
	h0 = add_in(0, 512, NULL, &s0);
	h1 = add_in(1, 512, NULL, NULL);
	add_in(2, 512, NULL, NULL);
	simdrv_publish(&e.sd);
	T_ASSERT_EQ(e2e_serve_one(&e), 0);
	simdrv_set_desc(&e.sd, h1, D, 16, VRING_DESC_F_NEXT, h1);
	expect_refused("loops");
	e2e_expect_used(&e, h0, 513);
	T_ASSERT_EQ(e2e_byte(&e, s0), VIRTIO_BLK_S_OK);
	e2e_expect_no_used(&e);
	e2e_fini(&e);

	/* Rewritten into something valid but different: served as it is. */
	init_default();
	e2e_disk_fill(0, 1024, 0x24);
	h0 = add_in(0, 512, NULL, NULL);
	h1 = add_in(1, 512, NULL, &s0);
	simdrv_publish(&e.sd);
	T_ASSERT_EQ(e2e_serve_one(&e), 0);
	/* The header descriptor now points at an OUT header for sector 5. */
	simdrv_set_desc(&e.sd, h1, e2e_hdr(&e, VIRTIO_BLK_T_OUT, 5), 16,
			VRING_DESC_F_NEXT, le16toh(e.sd.desc[h1].next));
	T_ASSERT_EQ(e2e_serve_one(&e), 0);
	T_ASSERT_EQ(e2e_serve_one(&e), -EAGAIN);
	e2e_expect_used(&e, h0, 513);
	/* An OUT whose data is writable: the readable part is the header. */
	e2e_expect_used(&e, h1, 513);
	T_ASSERT_EQ(e2e_byte(&e, s0), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_WRITE], 0);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_READ], 1);
	e2e_fini(&e);
}

/* An indirect table is rewritten between pops. */
static void c_mutate_indirect(void)
{
	struct vring_desc t = {
		.addr = htole64(SIM_IND_IOVA),
		.len = htole32(32),
		.flags = htole16(VRING_DESC_F_INDIRECT),
	};
	unsigned int h0, h1;
	uint64_t s, table;

	init_default();
	s = e2e_buf(&e, 1, 0xff);
	h0 = simdrv_add_indirect(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, VIRTIO_BLK_T_FLUSH, 0), 16, R }, { s, 1, W } }, 2);
	h1 = simdrv_add_indirect(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, VIRTIO_BLK_T_FLUSH, 0), 16, R }, { s, 1, W } }, 2);
	simdrv_publish(&e.sd);
	T_ASSERT_EQ(e2e_serve_one(&e), 0);
	table = le64toh(e.sd.desc[h1].addr);
	simdrv_write(&e.sd, table + 16, &t, sizeof(t));
	expect_refused("inside an indirect table");
	e2e_expect_used(&e, h0, 1);
	e2e_fini(&e);
}

/*
 * The driver rewrites everything of a request the backend is working on:
 * header, descriptors, indirect table.  The device finishes what it
 * validated, into the buffers it translated at pop time.
 */
static void c_mutate_inflight(void)
{
	unsigned int h, i;
	uint64_t d, s, hdr;

	e2e_init(&e, &(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
					 .defer = true });
	e2e_disk_fill(0, 65536, 0x31);
	h = add_in(3, 1024, &d, &s);
	hdr = le64toh(e.sd.desc[h].addr);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	T_ASSERT_EQ(e2e_disk.npending, 1);
	simdrv_write(&e.sd, hdr, &(struct virtio_blk_outhdr){
		.type = htole32(VIRTIO_BLK_T_OUT),
		.sector = htole64(1ULL << 60) }, 16);
	for (i = 0; i < e.sd.num; i++)
		simdrv_set_desc(&e.sd, i, SIM_GAP_IOVA, 0xffffffff,
				VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT, i);
	T_ASSERT_EQ(e2e_disk_complete(1), 1);
	T_ASSERT_EQ(e2e_disk.log[0].op, BACKEND_OP_READ);
	T_ASSERT_EQ(e2e_disk.log[0].offset, 3 * 512);
	T_ASSERT_EQ(e2e_disk.log[0].len, 1024);
	T_ASSERT(e2e_all(&e, d, 1024, 0x31));
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	/* The used element names the head it was popped as. */
	{
		uint32_t id, len;

		T_ASSERT_EQ(e2e_used(&e, &id, &len), 0);
		T_ASSERT_EQ(id, h);
		T_ASSERT_EQ(len, 1025);
	}
	e2e_fini(&e);
}

/*
 * The same head posted again while it is in flight: the driver cannot
 * have it back yet, so the ring is malformed.  Accepting it would let a
 * driver make the device hold any number of requests from one chain.
 */
static void c_head_reused(void)
{
	uint32_t id, len;
	unsigned int h;
	uint64_t s;

	e2e_init(&e, &(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
					 .defer = true });
	h = add_in(0, 512, NULL, &s);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	simdrv_put_avail(&e.sd, h);
	simdrv_put_avail(&e.sd, h);
	simdrv_publish(&e.sd);
	expect_refused("already in flight");
	T_ASSERT_EQ(e2e_disk.npending, 1);
	T_ASSERT_EQ(vdk_vq_inflight(&e.sd.vq), 1);
	/* The request that was legitimately out still completes, once. */
	T_ASSERT_EQ(e2e_disk_complete(1), 1);
	T_ASSERT_EQ(vdk_vq_notify(&e.sd.vq) >= 0, 1);
	T_ASSERT_EQ(e2e_used(&e, &id, &len), 0);
	T_ASSERT_EQ(id, h);
	T_ASSERT_EQ(len, 513);
	e2e_expect_no_used(&e);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(vdk_vq_inflight(&e.sd.vq), 0);
	e2e_fini(&e);
}

/* Re-posting a head after it was used is fine, as often as the driver likes. */
static void c_head_recycled(void)
{
	unsigned int h, i;
	uint64_t s;

	e2e_init(&e, &(struct e2e_opts){ .vq_features = E2E_F_INDIRECT });
	h = add_in(0, 512, NULL, &s);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	for (i = 0; i < 3 * e.sd.num; i++) {
		e2e_expect_used(&e, h, 513);
		simdrv_put_avail(&e.sd, h);
		T_ASSERT_EQ(e2e_serve(&e), 1);
	}
	e2e_expect_used(&e, h, 513);
	T_ASSERT_EQ(vdk_vq_inflight(&e.sd.vq), 0);
	e2e_fini(&e);
}

/*
 * Requests of rings since reset complete after the driver started new
 * rings: they must not land in the new used ring.
 */
static void c_stale_after_restart(void)
{
	unsigned int i, h;
	uint64_t s;

	e2e_init(&e, &(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
					 .defer = true });
	for (i = 0; i < 4; i++)
		add_in(i, 512, NULL, NULL);
	T_ASSERT_EQ(e2e_serve(&e), 4);
	vq_reset_rings(&e.sd.vq);
	T_ASSERT_EQ(simdrv_start(&e.sd), 0);
	T_ASSERT_EQ(e2e_disk_complete(4), 4);
	T_ASSERT_EQ(le16toh(e.sd.used->idx), 0);
	T_ASSERT_EQ(vdk_vq_inflight(&e.sd.vq), 0);
	e2e_disk.defer = false;
	h = add_in(0, 512, NULL, &s);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, h, 513);
	e2e_expect_no_used(&e);
	e2e_fini(&e);
}

/* A device reset while requests are in the backend. */
static void c_reset_inflight(void)
{
	unsigned int i, h;
	uint64_t s;

	e2e_init(&e, &(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
					 .defer = true });
	for (i = 0; i < 4; i++)
		add_in(i, 512, NULL, NULL);
	T_ASSERT_EQ(e2e_serve(&e), 4);
	vq_reset_rings(&e.sd.vq);
	/* Completions after the reset only free the requests. */
	T_ASSERT_EQ(e2e_disk_complete(4), 4);
	T_ASSERT_EQ(blk_queue_inflight(&e.q), 0);
	T_ASSERT_EQ(le16toh(e.sd.used->idx), 0);
	T_ASSERT_EQ(e2e_serve_one(&e), -ENODEV);
	/* The driver starts the queue again and goes on. */
	T_ASSERT_EQ(simdrv_start(&e.sd), 0);
	e2e_disk.defer = false;
	h = add_in(0, 512, NULL, &s);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, h, 513);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	e2e_fini(&e);
}

/* Garbage in the notification-suppression fields changes nothing else. */
static void c_event_idx_garbage(void)
{
	unsigned int i;

	e2e_init(&e, &(struct e2e_opts){ .num = 16, .vq_features =
					 E2E_F_INDIRECT | E2E_F_EVENT_IDX });
	for (i = 0; i < 40; i++) {
		simdrv_set_used_event(&e.sd, (uint16_t)(i * 40503u));
		simdrv_set_avail_flags(&e.sd, (uint16_t)(i * 7919u));
		vdk_vq_enable_kicks(&e.sd.vq, i & 1);
		T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, i, 512, i & 2, NULL),
			    VIRTIO_BLK_S_OK);
		T_ASSERT(vdk_vq_notify(&e.sd.vq) >= 0);
	}
	e2e_fini(&e);
}

/* xorshift64: the same stream on every run. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

/*
 * Random but walkable chains: random types, sectors near the end of the
 * disk, lengths around sector multiples, segments split at random,
 * direct or indirect, a status or not.  Each must be answered with one of
 * the three statuses or pushed with length 0.
 */
static void c_random(void)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
		VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD,
		VIRTIO_BLK_T_WRITE_ZEROES, 3, 0x80000000u };
	struct sim_seg segs[24];
	unsigned int round, k, n, heads[16], nreq;
	struct blk_stats_snapshot st;
	uint64_t total = 0;

	/* Room for 16 direct chains of up to 21 descriptors. */
	e2e_init(&e, &(struct e2e_opts){ .num = 512,
					 .vq_features = E2E_F_INDIRECT });
	for (round = 0; round < 200; round++) {
		for (nreq = 0; nreq < 16; nreq++) {
			uint32_t type = types[rnd_below(8)];
			uint64_t sector = rnd_below(4) ? rnd_below(140) :
					  rnd() >> rnd_below(64);
			size_t len = 512 * rnd_below(5) +
				     (rnd_below(4) ? 0 : rnd_below(600));
			bool wr = type == VIRTIO_BLK_T_IN ||
				  type == VIRTIO_BLK_T_GET_ID ||
				  !rnd_below(8);
			uint64_t d = e2e_buf(&e, len, (uint8_t)rnd());
			size_t off = 0;

			if (type == VIRTIO_BLK_T_DISCARD ||
			    type == VIRTIO_BLK_T_WRITE_ZEROES) {
				struct virtio_blk_discard_write_zeroes r[4];
				unsigned int i, m = rnd_below(5);

				for (i = 0; i < m; i++)
					r[i] = e2e_range(rnd_below(130),
							 rnd_below(16),
							 rnd_below(4) ? 0 : 1);
				len = m * 16 + (rnd_below(6) ? 0 : 3);
				d = e2e_buf(&e, len, 0);
				simdrv_write(&e.sd, d, r, m * 16);
				wr = false;
			}
			n = 0;
			if (rnd_below(10))
				segs[n++] = (struct sim_seg){
					e2e_hdr(&e, type, sector), 16, R };
			while (off < len && n < 20) {
				size_t c = 1 + rnd_below(len - off < 700 ?
							 len - off : 700);

				if (n == 19)
					c = len - off;
				segs[n++] = (struct sim_seg){ d + off,
							      (uint32_t)c, wr };
				off += c;
			}
			if (rnd_below(12))
				segs[n++] = (struct sim_seg){
					e2e_buf(&e, 1 + rnd_below(3), 0xff),
					1 + rnd_below(2), W };
			if (!n)
				segs[n++] = (struct sim_seg){ d, 0, W };
			/* Readable after writable would break the queue. */
			for (k = 1; k < n; k++)
				if (segs[k - 1].write)
					segs[k].write = true;
			heads[nreq] = rnd_below(3) ?
				simdrv_add(&e.sd, segs, n) :
				simdrv_add_indirect(&e.sd, segs, n);
		}
		T_ASSERT_EQ(e2e_serve(&e), 16);
		for (k = 0; k < 16; k++) {
			uint32_t id, len;

			T_ASSERT_EQ(e2e_used(&e, &id, &len), 0);
			T_ASSERT_EQ(id, heads[k]);
		}
		e2e_expect_no_used(&e);
		total += 16;
	}
	blk_stats_read(&e.q.stats, &st);
	T_ASSERT_EQ(st.inflight, 0);
	for (k = 0, n = 0; k < BLK_STAT_NR; k++)
		n += st.reqs[k];
	T_ASSERT_EQ(n, total);
	fprintf(stderr, "%llu requests: %llu errors, %llu unsupported, %llu dropped, %u disk ops\n",
		(unsigned long long)total, (unsigned long long)st.errors,
		(unsigned long long)st.unsupported,
		(unsigned long long)st.dropped, e2e_disk_ops());
	T_ASSERT(st.errors && st.unsupported && st.dropped && e2e_disk_ops());
	e2e_fini(&e);
}

static const struct e2e_case cases[] = {
	{ "avail-backwards", c_avail_backwards },
	{ "avail-backwards-inflight", c_avail_backwards_inflight },
	{ "used-tampered", c_used_tampered },
	{ "mutate-between-pops", c_mutate_between_pops },
	{ "mutate-indirect", c_mutate_indirect },
	{ "mutate-inflight", c_mutate_inflight },
	{ "head-reused", c_head_reused },
	{ "head-recycled", c_head_recycled },
	{ "stale-after-restart", c_stale_after_restart },
	{ "reset-inflight", c_reset_inflight },
	{ "event-idx-garbage", c_event_idx_garbage },
	{ "random", c_random },
};

int main(int argc, char **argv)
{
	return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
