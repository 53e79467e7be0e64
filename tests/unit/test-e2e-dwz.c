// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hostile DISCARD and WRITE_ZEROES requests, end to end: segment arrays
 * that overlap, leave the disk, are unaligned, too many, truncated, split
 * over descriptors, or change while the request is in flight.  One case per
 * argv[1].  A request with any bad segment must reach the disk not at all.
 */
#include <errno.h>

#include "e2e.h"

#define D		SIM_DATA_IOVA
#define W		true
#define R		false
#define DISCARD		VIRTIO_BLK_T_DISCARD
#define WZ		VIRTIO_BLK_T_WRITE_ZEROES
#define UNMAP		VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
#define DISK		65536	/* 128 sectors */

typedef struct virtio_blk_discard_write_zeroes range_t;

static struct e2e e;

static void init(const struct e2e_opts *o)
{
	e2e_init(&e, o);
	e2e_disk_fill(0, e2e_disk.size, 0xee);
}

static void init_default(void)
{
	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT });
}

/* Serves header + the @n ranges in one descriptor + status; the status. */
static uint8_t dwz(uint32_t type, const range_t *r, unsigned int n)
{
	uint64_t s = e2e_buf(&e, 1, 0xff);
	struct sim_seg segs[3];
	unsigned int head, k = 0;

	segs[k++] = (struct sim_seg){ e2e_hdr(&e, type, 0), 16, R };
	if (n)
		segs[k++] = (struct sim_seg){ e2e_ranges(&e, r, n), n * 16, R };
	segs[k++] = (struct sim_seg){ s, 1, W };
	head = simdrv_add(&e.sd, segs, k);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, 1);
	return e2e_byte(&e, s);
}

/* Both types must answer @st and leave the disk alone (if not OK). */
static void both(const range_t *r, unsigned int n, uint8_t st)
{
	unsigned int ops = e2e_disk_ops();

	T_ASSERT_EQ(dwz(DISCARD, r, n), st);
	T_ASSERT_EQ(dwz(WZ, r, n), st);
	if (st != VIRTIO_BLK_S_OK) {
		T_ASSERT_EQ(e2e_disk_ops(), ops);
		T_ASSERT(e2e_disk_all(0, DISK, 0xee));
	}
}

/* Overlapping, identical and nested segments: all done, harmlessly. */
static void c_overlap(void)
{
	range_t r[BLK_DWZ_SEGS_MAX];
	unsigned int i;

	init_default();
	for (i = 0; i < BLK_DWZ_SEGS_MAX; i++)
		r[i] = e2e_range(16, 8, 0);
	T_ASSERT_EQ(dwz(DISCARD, r, BLK_DWZ_SEGS_MAX), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_DISCARD], BLK_DWZ_SEGS_MAX);
	T_ASSERT(e2e_disk_all(16 * 512, 8 * 512, 0));
	T_ASSERT(e2e_disk_all(0, 16 * 512, 0xee));
	T_ASSERT(e2e_disk_all(24 * 512, DISK - 24 * 512, 0xee));

	e2e_disk_fill(0, DISK, 0xee);
	r[0] = e2e_range(0, 128, 0);		/* the whole disk */
	r[1] = e2e_range(10, 20, UNMAP);	/* inside it */
	r[2] = e2e_range(120, 8, 0);		/* its tail */
	r[3] = e2e_range(0, 0, 0);		/* empty, skipped */
	r[4] = e2e_range(128, 0, UNMAP);	/* empty, at the end */
	T_ASSERT_EQ(dwz(WZ, r, 5), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_WRITE_ZEROES], 3);
	T_ASSERT(e2e_disk_all(0, DISK, 0));
	e2e_fini(&e);
}

/* Any segment out of range refuses the whole request. */
static void c_out_of_range(void)
{
	static const struct { uint64_t sector; uint32_t num; } bad[] = {
		{ 128, 1 }, { 127, 2 }, { 0, 129 }, { 129, 0 },
		{ UINT64_MAX, 1 }, { UINT64_MAX - 3, 8 }, { UINT64_MAX, 0 },
		{ UINT64_MAX >> 9, 1 }, { (UINT64_MAX >> 9) + 1, 1 },
		{ 1ULL << 55, 0x8000 },
	};
	range_t r[3];
	unsigned int i;

	init_default();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r[0] = e2e_range(0, 8, 0);
		r[1] = e2e_range(bad[i].sector, bad[i].num, 0);
		r[2] = e2e_range(8, 8, 0);
		both(r, 3, VIRTIO_BLK_S_IOERR);
		both(r + 1, 1, VIRTIO_BLK_S_IOERR);
	}
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	e2e_fini(&e);
}

/* Segments not aligned to a 4096-byte block. */
static void c_unaligned(void)
{
	range_t r[2];

	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .blk = { .block_size = 4096 } });
	r[0] = e2e_range(8, 8, 0);
	r[1] = e2e_range(1, 8, 0);
	both(r, 2, VIRTIO_BLK_S_IOERR);
	r[1] = e2e_range(8, 1, 0);
	both(r, 2, VIRTIO_BLK_S_IOERR);
	r[1] = e2e_range(7, 9, 0);
	both(r, 2, VIRTIO_BLK_S_IOERR);
	r[1] = e2e_range(120, 7, 0);
	both(r, 2, VIRTIO_BLK_S_IOERR);
	/* Control: aligned is fine. */
	both(r, 1, VIRTIO_BLK_S_OK);
	e2e_fini(&e);
}

/* More segments than advertised, and more than the driver could map. */
static void c_too_many(void)
{
	enum { N = 4096 };
	range_t *r = calloc(N, sizeof(*r));
	unsigned int i, head;
	uint64_t s;

	T_ASSERT(r);
	init_default();
	for (i = 0; i < N; i++)
		r[i] = e2e_range(i % 128, 1, 0);
	both(r, BLK_DWZ_SEGS_MAX + 1, VIRTIO_BLK_S_IOERR);
	both(r, 255, VIRTIO_BLK_S_IOERR);
	both(r, N, VIRTIO_BLK_S_IOERR);
	/* 64 Ki segments in memory that faults if read at all. */
	e2e_map_none(&e, E2E_BIG_IOVA, 1ULL << 24, VDK_PERM_RO);
	s = e2e_buf(&e, 1, 0xff);
	head = simdrv_add(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, DISCARD, 0), 16, R },
		{ E2E_BIG_IOVA, 1u << 20, R }, { s, 1, W } }, 3);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, 1);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	/* Control: exactly the maximum works. */
	both(r, BLK_DWZ_SEGS_MAX, VIRTIO_BLK_S_OK);
	free(r);
	e2e_fini(&e);
}

/* Payloads that are not a whole number of segments. */
static void c_truncated(void)
{
	static const unsigned int lens[] = { 1, 8, 15, 17, 24, 31, 33, 255 };
	range_t r[16];
	unsigned int i, ops, head;
	uint64_t s, a;

	init_default();
	for (i = 0; i < 16; i++)
		r[i] = e2e_range(i, 1, 0);
	a = e2e_ranges(&e, r, 16);
	s = e2e_buf(&e, 1, 0xff);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		head = simdrv_add(&e.sd, (struct sim_seg[]){
			{ e2e_hdr(&e, i & 1 ? WZ : DISCARD, 0), 16, R },
			{ a, lens[i], R }, { s, 1, W } }, 3);
		T_ASSERT_EQ(e2e_serve(&e), 1);
		e2e_expect_used(&e, head, 1);
		T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	}
	/* No payload at all, and a payload hidden behind the status. */
	ops = e2e_disk_ops();
	T_ASSERT_EQ(dwz(DISCARD, r, 0), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(dwz(WZ, r, 0), VIRTIO_BLK_S_IOERR);
	head = simdrv_add(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, DISCARD, 0), 16, R }, { s, 1, W }, { a, 16, W } }, 3);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, 17);
	T_ASSERT_EQ(e2e_byte(&e, a + 15), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), ops);
	T_ASSERT_EQ(ops, 0);
	e2e_fini(&e);
}

/* A segment array split over descriptors at odd places: fine. */
static void c_split(void)
{
	struct sim_seg segs[40];
	range_t r[2];
	unsigned int i, n = 0, head;
	uint64_t a, s;

	init_default();
	r[0] = e2e_range(8, 8, 0);
	r[1] = e2e_range(40, 16, 0);
	a = e2e_ranges(&e, r, 2);
	s = e2e_buf(&e, 1, 0xff);
	/* One byte per descriptor, with empty ones between. */
	segs[n++] = (struct sim_seg){ e2e_hdr(&e, DISCARD, 0), 16, R };
	for (i = 0; i < 32; i++) {
		segs[n++] = (struct sim_seg){ a + i, 1, R };
		if (i % 11 == 0)
			segs[n++] = (struct sim_seg){ a, 0, R };
	}
	segs[n++] = (struct sim_seg){ s, 1, W };
	head = simdrv_add_indirect(&e.sd, segs, n);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, 1);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_disk_all(0, 8 * 512, 0xee));
	T_ASSERT(e2e_disk_all(8 * 512, 8 * 512, 0));
	T_ASSERT(e2e_disk_all(16 * 512, 24 * 512, 0xee));
	T_ASSERT(e2e_disk_all(40 * 512, 16 * 512, 0));

	/* Header and array sharing one descriptor, which the boundary of
	 * two IOVA regions splits in the middle of a segment. */
	e2e_disk_fill(0, DISK, 0xee);
	{
		struct virtio_blk_outhdr h = { .type = htole32(WZ) };
		uint64_t at = D + SIM_DATA_SIZE - 16 - 9;

		r[0] = e2e_range(100, 4, UNMAP);
		r[1] = e2e_range(0, 1, 0);
		simdrv_write(&e.sd, at, &h, 16);
		simdrv_write(&e.sd, at + 16, r, 32);
		head = simdrv_add(&e.sd, (struct sim_seg[]){
			{ at, 48, R }, { s, 1, W } }, 2);
		T_ASSERT_EQ(e2e_serve(&e), 1);
		e2e_expect_used(&e, head, 1);
		T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
		T_ASSERT(e2e_disk_all(0, 512, 0));
		T_ASSERT(e2e_disk_all(512, 99 * 512, 0xee));
		T_ASSERT(e2e_disk_all(100 * 512, 4 * 512, 0));
	}
	e2e_fini(&e);
}

/* Flags: only UNMAP, only for WRITE_ZEROES; UNSUPP wins over range errors. */
static void c_flags(void)
{
	static const uint32_t bad[] = { 2, 4, 0x80000000u, 0xffffffffu,
					UNMAP | 0x100 };
	range_t r[2];
	unsigned int i;

	init_default();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r[0] = e2e_range(UINT64_MAX, 8, 0);	/* out of range too */
		r[1] = e2e_range(0, 8, bad[i]);
		both(r, 2, VIRTIO_BLK_S_UNSUPP);
	}
	r[0] = e2e_range(0, 8, UNMAP);
	T_ASSERT_EQ(dwz(DISCARD, r, 1), VIRTIO_BLK_S_UNSUPP);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	T_ASSERT_EQ(dwz(WZ, r, 1), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_disk_ops(), 1);
	/* The guard disk cannot unmap, so the hint does not reach it. */
	e2e_fini(&e);
}

/* Segments longer than the advertised maximum. */
static void c_huge_segment(void)
{
	range_t r[1];

	/* 2 GiB, not filled: zeroing it only drops pages. */
	e2e_init(&e, &(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
					 .disk_size = 2ULL << 30 });
	r[0] = e2e_range(0, UINT32_MAX, 0);
	T_ASSERT_EQ(dwz(DISCARD, r, 1), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(dwz(WZ, r, 1), VIRTIO_BLK_S_IOERR);
	r[0] = e2e_range(0, BLK_DWZ_SECTORS_MAX + 8, 0);
	T_ASSERT_EQ(dwz(DISCARD, r, 1), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	/* The maximum itself: 1 GiB. */
	r[0] = e2e_range(0, BLK_DWZ_SECTORS_MAX, 0);
	T_ASSERT_EQ(dwz(DISCARD, r, 1), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_disk.log[0].len, 1ULL << 30);
	e2e_fini(&e);
}

/*
 * The driver rewrites the header and the segment array while the request
 * is in flight: the device goes on with what it checked.
 */
static void c_mutate_inflight(void)
{
	range_t r[3], evil[3];
	unsigned int head, i;
	uint64_t h, a, s;

	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .defer = true });
	r[0] = e2e_range(0, 8, 0);
	r[1] = e2e_range(64, 8, 0);
	r[2] = e2e_range(120, 8, 0);
	for (i = 0; i < 3; i++)
		evil[i] = e2e_range(UINT64_MAX - 1, UINT32_MAX, 0xff);
	h = e2e_hdr(&e, WZ, 0);
	a = e2e_ranges(&e, r, 3);
	s = e2e_buf(&e, 1, 0xff);
	head = simdrv_add(&e.sd, (struct sim_seg[]){ { h, 16, R },
		{ a, 48, R }, { s, 1, W } }, 3);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	T_ASSERT_EQ(e2e_disk.npending, 1);
	/* Now the driver turns it into a huge discard. */
	simdrv_write(&e.sd, a, evil, sizeof(evil));
	simdrv_write(&e.sd, h, &(struct virtio_blk_outhdr){
		.type = htole32(DISCARD), .sector = htole64(5) }, 16);
	for (i = 0; i < 3; i++)
		T_ASSERT_EQ(e2e_disk_complete(1), 1);
	T_ASSERT_EQ(e2e_disk.npending, 0);
	e2e_expect_used(&e, head, 1);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_WRITE_ZEROES], 3);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_DISCARD], 0);
	T_ASSERT_EQ(e2e_disk.log[1].offset, 64 * 512);
	T_ASSERT_EQ(e2e_disk.log[2].offset, 120 * 512);
	T_ASSERT(e2e_disk_all(8 * 512, 56 * 512, 0xee));
	T_ASSERT(e2e_disk_all(64 * 512, 8 * 512, 0));
	e2e_fini(&e);
}

/* Not negotiated, or a read-only device: refused without the disk. */
static void c_not_negotiated(void)
{
	range_t r[1] = { e2e_range(0, 8, 0) };

	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .version_only = true });
	both(r, 1, VIRTIO_BLK_S_UNSUPP);
	e2e_fini(&e);

	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .blk = { .readonly = true } });
	T_ASSERT_EQ(dwz(DISCARD, r, 1), VIRTIO_BLK_S_UNSUPP);
	T_ASSERT_EQ(dwz(WZ, r, 1), VIRTIO_BLK_S_UNSUPP);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	e2e_fini(&e);
}

static const struct e2e_case cases[] = {
	{ "overlap", c_overlap },
	{ "out-of-range", c_out_of_range },
	{ "unaligned", c_unaligned },
	{ "too-many", c_too_many },
	{ "truncated", c_truncated },
	{ "split", c_split },
	{ "flags", c_flags },
	{ "huge-segment", c_huge_segment },
	{ "mutate-inflight", c_mutate_inflight },
	{ "not-negotiated", c_not_negotiated },
};

int main(int argc, char **argv)
{
	return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
