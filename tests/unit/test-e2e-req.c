// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hostile request framing, end to end (ring -> vq walker -> blk -> backend
 * -> used ring): one case per argv[1].  Every request must be answered
 * (status byte, used length = writable bytes) or refused (pushed with
 * length 0, or the queue broken), never reaching the disk unless valid.
 */
#include <errno.h>

#include "e2e.h"

#define D		SIM_DATA_IOVA
#define GAP		SIM_GAP_IOVA
#define W		true
#define R		false
#define SERIAL		"serial-0123456789abc"

static struct e2e e;

static void init(const struct e2e_opts *o)
{
	e2e_init(&e, o);
}

static void init_default(void)
{
	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT });
}

/* Adds @segs as a direct chain, serves it, checks the used element. */
static void submit(const struct sim_seg *segs, unsigned int n, uint32_t used_len)
{
	unsigned int head = simdrv_add(&e.sd, segs, n);

	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, used_len);
}

#define SUBMIT(len, ...) do {						\
	const struct sim_seg _s[] = { __VA_ARGS__ };			\
	submit(_s, sizeof(_s) / sizeof(_s[0]), len);			\
} while (0)

static void c_baseline(void)
{
	static const char *const specs[] = { NULL, "memory:64K", "null:64K" };
	struct virtio_blk_discard_write_zeroes r[2];
	unsigned int i;
	uint64_t d;

	for (i = 0; i < 3; i++) {
		init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
					 .spec = specs[i] });
		T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_OUT, 8, 4096, false, NULL),
			    VIRTIO_BLK_S_OK);
		T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, 8, 4096, true, &d),
			    VIRTIO_BLK_S_OK);
		T_ASSERT(e2e_all(&e, d, 4096, specs[i] && i == 2 ? 0 : 0x5a));
		T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL),
			    VIRTIO_BLK_S_OK);
		T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_GET_ID, 0, 20, true, NULL),
			    VIRTIO_BLK_S_OK);
		r[0] = e2e_range(8, 4, 0);
		r[1] = e2e_range(0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		{
			uint64_t s = e2e_buf(&e, 1, 0xff);

			SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_DISCARD, 0), 16, R },
			       { e2e_ranges(&e, r, 1), 16, R }, { s, 1, W });
			T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
			SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_WRITE_ZEROES, 0), 16, R },
			       { e2e_ranges(&e, r + 1, 1), 16, R }, { s, 1, W });
			T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
		}
		/* Sectors 8..11 discarded, 12..15 still written. */
		T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, 8, 4096, false, &d),
			    VIRTIO_BLK_S_OK);
		if (i < 2) {
			T_ASSERT(e2e_all(&e, d, 2048, 0));
			T_ASSERT(e2e_all(&e, d + 2048, 2048, 0x5a));
		}
		e2e_fini(&e);
	}
}

/* The header sits in a descriptor the driver marked device-writable. */
static void c_hdr_writable(void)
{
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_OUT) };
	uint64_t s, d;

	init_default();
	/* In memory the device may only write: it must not read it either. */
	simdrv_write(&e.sd, SIM_WO_IOVA, &h, sizeof(h));
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(17, { SIM_WO_IOVA, 16, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);

	/* An IN whose header is writable: nothing read into the data. */
	d = e2e_buf(&e, 512, 0xee);
	SUBMIT(16 + 512 + 1, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, W },
	       { d, 512, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT(e2e_all(&e, d, 512, 0xee));
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	e2e_fini(&e);
}

/* The last segment, where the status goes, is device-readable only. */
static void c_status_readonly(void)
{
	uint64_t d;

	init_default();
	e2e_disk_fill(0, 4096, 0x11);
	simdrv_write(&e.sd, SIM_RO_IOVA, "\xab", 1);
	/* A well-formed write otherwise: still not done, since unanswerable. */
	d = e2e_buf(&e, 512, 0x5a);
	SUBMIT(0, { e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R }, { d, 512, R },
	       { SIM_RO_IOVA, 1, R });
	SUBMIT(0, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { SIM_RO_IOVA, 1, R });
	SUBMIT(0, { e2e_hdr(&e, VIRTIO_BLK_T_GET_ID, 0), 16, R },
	       { d, 20, R }, { SIM_RO_IOVA, 1, R });
	T_ASSERT_EQ(e2e_byte(&e, SIM_RO_IOVA), 0xab);
	T_ASSERT_EQ(e.dropped, 3);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	T_ASSERT(e2e_disk_all(0, 4096, 0x11));

	/* Control: a status in write-only memory is fine. */
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_FLUSH, 0), 16, R },
	       { SIM_WO_IOVA, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, SIM_WO_IOVA), VIRTIO_BLK_S_OK);
	e2e_fini(&e);
}

/* A writable status descriptor in memory the device may only read. */
static void c_status_ro_memory(void)
{
	init_default();
	simdrv_write(&e.sd, SIM_RO_IOVA, "\xab", 1);
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_OUT, 0, 512, false, NULL),
		    VIRTIO_BLK_S_OK);
	simdrv_add(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R },
		{ e2e_buf(&e, 512, 1), 512, R }, { SIM_RO_IOVA, 1, W } }, 3);
	T_ASSERT_EQ(e2e_serve(&e), 0);
	T_ASSERT_EQ(e.last_pop, -EIO);
	e2e_expect_no_used(&e);
	T_ASSERT_EQ(e2e_byte(&e, SIM_RO_IOVA), 0xab);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_WRITE], 1);
	e2e_fini(&e);
}

/* Empty descriptors before and inside the header, one at an unmapped IOVA. */
static void c_zero_len_hdr(void)
{
	uint64_t h, d, s;

	init_default();
	h = e2e_hdr(&e, VIRTIO_BLK_T_OUT, 2);
	d = e2e_buf(&e, 512, 0x5a);
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(1, { GAP, 0, R }, { h, 0, R }, { h, 5, R }, { h + 5, 0, R },
	       { h + 5, 11, R }, { d, 512, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_disk_all(1024, 512, 0x5a));
	T_ASSERT(e2e_disk_all(0, 1024, 0));
	e2e_fini(&e);
}

/* Empty data descriptors among real ones, in both directions. */
static void c_zero_len_data(void)
{
	uint64_t d, s;

	init_default();
	e2e_disk_fill(0, 1024, 0x77);
	d = e2e_buf(&e, 1024, 0xee);
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(1025, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R }, { GAP, 0, W },
	       { d, 0, W }, { d, 512, W }, { GAP, 0, W }, { d + 512, 512, W },
	       { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, d, 1024, 0x77));

	d = e2e_buf(&e, 512, 0x5a);
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_OUT, 4), 16, R }, { GAP, 0, R },
	       { d, 512, R }, { d, 0, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_disk_all(2048, 512, 0x5a));

	/* Only empty data: an empty read, done without the backend. */
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R }, { d, 0, W },
	       { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	/* An empty readable one after a writable one is no reordering. */
	d = e2e_buf(&e, 512, 0xee);
	SUBMIT(513, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R }, { d, 512, W },
	       { GAP, 0, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, d, 512, 0x77));
	T_ASSERT_EQ(e2e_disk_ops(), 3);
	e2e_fini(&e);
}

/* Empty descriptors where the status should be. */
static void c_zero_len_status(void)
{
	uint64_t d, s;

	init_default();
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_FLUSH, 0), 16, R }, { s, 1, W },
	       { GAP, 0, W }, { s, 0, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);

	/* The status becomes the data's last byte: 511 bytes, refused. */
	d = e2e_buf(&e, 512, 0xee);
	SUBMIT(512, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R }, { d, 512, W },
	       { s, 0, W });
	T_ASSERT_EQ(e2e_byte(&e, d + 511), VIRTIO_BLK_S_IOERR);
	T_ASSERT(e2e_all(&e, d, 511, 0xee));

	/* Nothing writable but an empty status: unanswerable. */
	SUBMIT(0, { e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R }, { d, 512, R },
	       { s, 0, W });
	T_ASSERT_EQ(e.dropped, 1);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	e2e_fini(&e);
}

static void c_all_zero_len(void)
{
	init_default();
	SUBMIT(0, { GAP, 0, R }, { GAP, 0, W });
	SUBMIT(0, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 0, R });
	SUBMIT(0, { GAP, 0, W });
	T_ASSERT_EQ(e.dropped, 3);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	e2e_fini(&e);
}

/* A request that is nothing but a status byte. */
static void c_only_status(void)
{
	unsigned int head;
	uint64_t s;

	init_default();
	s = e2e_buf(&e, 4, 0xff);
	SUBMIT(1, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	/* Bigger: the last byte is the status, the rest untouched. */
	s = e2e_buf(&e, 4, 0xff);
	SUBMIT(4, { s, 4, W });
	T_ASSERT_EQ(e2e_byte(&e, s + 3), VIRTIO_BLK_S_IOERR);
	T_ASSERT(e2e_all(&e, s, 3, 0xff));
	/* Indirect, two bytes in two descriptors. */
	s = e2e_buf(&e, 2, 0xff);
	head = simdrv_add_indirect(&e.sd, (struct sim_seg[]){ { s, 1, W },
							      { s + 1, 1, W } }, 2);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, 2);
	T_ASSERT_EQ(e2e_byte(&e, s + 1), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_byte(&e, s), 0xff);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	e2e_fini(&e);
}

/* A request that is nothing but a header: no status, pushed with 0. */
static void c_only_header(void)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
		VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD,
		VIRTIO_BLK_T_WRITE_ZEROES, 0xffffffff };
	unsigned int i;

	init_default();
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		SUBMIT(0, { e2e_hdr(&e, types[i], 0), 16, R });
	/* Header plus readable payload, still nothing to answer in. */
	SUBMIT(0, { e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R },
	       { e2e_buf(&e, 512, 1), 512, R });
	T_ASSERT_EQ(e.dropped, 8);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	{
		struct blk_stats_snapshot st;

		blk_stats_read(&e.q.stats, &st);
		T_ASSERT_EQ(st.dropped, 8);
		T_ASSERT_EQ(st.inflight, 0);
	}
	e2e_fini(&e);
}

/*
 * A header descriptor far longer than the header: the bytes after it are
 * data for OUT and ignored otherwise.
 */
static void c_hdr_huge(void)
{
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN) };
	uint64_t d, s, big = D + 4096;

	init_default();
	/* IN with a 64 KiB - 4 KiB readable header descriptor. */
	simdrv_write(&e.sd, big, &h, sizeof(h));
	d = e2e_buf(&e, 512, 0xee);
	s = e2e_buf(&e, 1, 0xff);
	e2e_disk_fill(0, 512, 0x33);
	SUBMIT(513, { big, SIM_DATA_SIZE - 4096, R }, { d, 512, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, d, 512, 0x33));

	/* OUT with header and 64 KiB of data in one descriptor: the disk. */
	h.type = htole32(VIRTIO_BLK_T_OUT);
	simdrv_write(&e.sd, D, &h, sizeof(h));
	SUBMIT(1, { D, 16 + 65536, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	/* One sector more than the disk. */
	SUBMIT(1, { D, 16 + 65536 + 512, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_WRITE], 1);
	T_ASSERT_EQ(e2e_disk.log[1].len, 65536);
	e2e_fini(&e);
}

/*
 * Readable payload of almost 4 GiB in memory that faults on any access:
 * requests that do not need it must succeed, those that would must be
 * refused from the lengths alone.
 */
static void c_big_readable(void)
{
	uint64_t big = E2E_BIG_IOVA, d, s;

	init_default();
	e2e_map_none(&e, big, 1ULL << 32, VDK_PERM_RO);
	d = e2e_buf(&e, 512, 0xee);
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(513, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { big, 0xfffff000u, R }, { d, 512, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_FLUSH, 0), 16, R },
	       { big, 0xfffff000u, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	SUBMIT(21, { e2e_hdr(&e, VIRTIO_BLK_T_GET_ID, 0), 16, R },
	       { big, 0xfffff000u, R }, { d, 20, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	/* A write of 4 GiB - 512 bytes to a 64 KiB disk. */
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R },
	       { big, 0xfffffe00u, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	/* Write of a partial sector, and one past the end. */
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R },
	       { big, 1000, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_OUT, 128), 16, R },
	       { big, 512, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	/* A discard array of 64 Ki segments. */
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_DISCARD, 0), 16, R },
	       { big, 1u << 20, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 1);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_READ], 1);
	e2e_fini(&e);
}

/* Writable data in memory that faults on access: refuse without reading. */
static void c_big_writable(void)
{
	uint64_t big = E2E_BIG_IOVA, d, s;

	init_default();
	e2e_map_none(&e, big, 1ULL << 32, VDK_PERM_WO);
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(0xfffffe00u + 1, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { big, 0xfffffe00u, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	SUBMIT(1001, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { big, 1000, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	SUBMIT(513, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 128), 16, R },
	       { big, 512, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	/* Unknown types and FLUSH do not touch the data either. */
	SUBMIT(4097, { e2e_hdr(&e, 0x80000000u | VIRTIO_BLK_T_IN, 0), 16, R },
	       { big, 4096, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_UNSUPP);
	SUBMIT(4097, { e2e_hdr(&e, VIRTIO_BLK_T_FLUSH, 0), 16, R },
	       { big, 4096, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	/* Real data, then a huge tail: the total is what is checked. */
	d = e2e_buf(&e, 512, 0xee);
	SUBMIT(512 + 0xfff00000u + 1, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { d, 512, W }, { big, 0xfff00000u, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT(e2e_all(&e, d, 512, 0xee));
	/* FLUSH without a cache behind it does not reach the disk. */
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	e2e_fini(&e);
}

/* Types with high bits or unknown values: UNSUPP, never taken for IN/OUT. */
static void c_type_high_bits(void)
{
	static const uint32_t types[] = {
		0x80000000u | VIRTIO_BLK_T_IN, 0x80000000u | VIRTIO_BLK_T_OUT,
		0x10000u | VIRTIO_BLK_T_OUT, 0x100u | VIRTIO_BLK_T_FLUSH,
		0x100u | VIRTIO_BLK_T_GET_ID, 0x100u | VIRTIO_BLK_T_DISCARD,
		0xffffffffu, 0xfffffffeu, 2, 3, 5, 6, 7, 9,
		10, 12, VIRTIO_BLK_T_SECURE_ERASE,
		15, 16, 18, 24, 26, 255, 256,
	};
	struct virtio_blk_outhdr h;
	unsigned int i;
	uint64_t d, s;

	init_default();
	e2e_disk_fill(0, 65536, 0x44);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		d = e2e_buf(&e, 512, 0xee);
		s = e2e_buf(&e, 1, 0xff);
		SUBMIT(513, { e2e_hdr(&e, types[i], 0), 16, R }, { d, 512, W },
		       { s, 1, W });
		T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_UNSUPP);
		T_ASSERT(e2e_all(&e, d, 512, 0xee));
		d = e2e_buf(&e, 512, 0x5a);
		SUBMIT(1, { e2e_hdr(&e, types[i], 0), 16, R }, { d, 512, R },
		       { s, 1, W });
		T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_UNSUPP);
	}
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	T_ASSERT(e2e_disk_all(0, 65536, 0x44));

	/* Garbage in ioprio and the reserved bits is ignored. */
	h.type = htole32(VIRTIO_BLK_T_IN);
	h.ioprio = htole32(0xffffffff);
	h.sector = htole64(1);
	d = e2e_buf(&e, 16, 0);
	simdrv_write(&e.sd, d, &h, sizeof(h));
	s = e2e_buf(&e, 513, 0xff);
	SUBMIT(513, { d, 16, R }, { s, 513, W });
	T_ASSERT_EQ(e2e_byte(&e, s + 512), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, s, 512, 0x44));
	e2e_fini(&e);
}

/* GET_ID into tiny, split and misplaced buffers. */
static void c_get_id_tiny(void)
{
	uint64_t b, s, hd;
	unsigned int i;

	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .blk = { .serial = SERIAL } });
	/* Room for the status only. */
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_GET_ID, 0), 16, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	/* One byte of id sharing a descriptor with the status. */
	b = e2e_buf(&e, 2, 0xaa);
	SUBMIT(2, { e2e_hdr(&e, VIRTIO_BLK_T_GET_ID, 0), 16, R }, { b, 2, W });
	T_ASSERT_EQ(e2e_byte(&e, b), 's');
	T_ASSERT_EQ(e2e_byte(&e, b + 1), VIRTIO_BLK_S_OK);
	/* Five one-byte descriptors. */
	b = e2e_buf(&e, 16, 0xaa);
	hd = e2e_hdr(&e, VIRTIO_BLK_T_GET_ID, 0);
	SUBMIT(6, { hd, 16, R }, { b, 1, W }, { b + 1, 1, W }, { b + 2, 1, W },
	       { b + 3, 1, W }, { b + 4, 1, W }, { s, 1, W });
	for (i = 0; i < 5; i++)
		T_ASSERT_EQ(e2e_byte(&e, b + i), (uint8_t)SERIAL[i]);
	T_ASSERT_EQ(e2e_byte(&e, b + 5), 0xaa);
	/* An id buffer split by the boundary of two IOVA regions. */
	b = D + SIM_DATA_SIZE - 3;
	simdrv_write(&e.sd, b, "\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa", 9);
	SUBMIT(9, { hd, 16, R }, { b, 8, W }, { s, 1, W });
	for (i = 0; i < 8; i++)
		T_ASSERT_EQ(e2e_byte(&e, b + i), (uint8_t)SERIAL[i]);
	T_ASSERT_EQ(e2e_byte(&e, b + 8), 0xaa);
	/* The id buffer readable: nothing written but the status. */
	b = e2e_buf(&e, 20, 0xaa);
	SUBMIT(1, { hd, 16, R }, { b, 20, R }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, b, 20, 0xaa));
	/* Indirect, three bytes. */
	b = e2e_buf(&e, 4, 0xaa);
	i = simdrv_add_indirect(&e.sd, (struct sim_seg[]){ { hd, 16, R },
		{ b, 3, W }, { s, 1, W } }, 3);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, i, 4);
	T_ASSERT_EQ(e2e_byte(&e, b + 2), 'r');
	T_ASSERT_EQ(e2e_byte(&e, b + 3), 0xaa);
	e2e_fini(&e);
}

/* Direct descriptors chained into an indirect table at the end. */
static void c_mixed_indirect(void)
{
	struct vring_desc t[5];
	uint64_t d, s, head;
	uint32_t id, len;

	init_default();
	e2e_disk_fill(0, 4096, 0x21);
	/* Raw descriptors from 0; simdrv_add is not used in this case. */
	d = e2e_buf(&e, 1024, 0xee);
	s = e2e_buf(&e, 1, 0xff);
	simdrv_set_desc(&e.sd, 0, e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16,
			VRING_DESC_F_NEXT, 1);
	sim_desc_fill(&t[0], d, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	sim_desc_fill(&t[1], d + 512, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	sim_desc_fill(&t[2], s, 1, VRING_DESC_F_WRITE, 0);
	simdrv_set_desc(&e.sd, 1, simdrv_ind_table(&e.sd, t, 3), 48,
			VRING_DESC_F_INDIRECT, 0);
	simdrv_put_avail(&e.sd, 0);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, 0, 1025);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, d, 1024, 0x21));

	/* OUT: header and data direct, status alone in a table. */
	d = e2e_buf(&e, 512, 0x5a);
	simdrv_set_desc(&e.sd, 2, e2e_hdr(&e, VIRTIO_BLK_T_OUT, 8), 16,
			VRING_DESC_F_NEXT, 3);
	simdrv_set_desc(&e.sd, 3, d, 512, VRING_DESC_F_NEXT, 4);
	sim_desc_fill(&t[0], s, 1, VRING_DESC_F_WRITE, 0);
	simdrv_set_desc(&e.sd, 4, simdrv_ind_table(&e.sd, t, 1), 16,
			VRING_DESC_F_INDIRECT, 0);
	simdrv_put_avail(&e.sd, 2);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, 2, 1);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_disk_all(4096, 512, 0x5a));

	/* A table with empty entries between the real ones. */
	d = e2e_buf(&e, 512, 0xee);
	sim_desc_fill(&t[0], GAP, 0, VRING_DESC_F_NEXT, 1);
	sim_desc_fill(&t[1], d, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	sim_desc_fill(&t[2], GAP, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	sim_desc_fill(&t[3], s, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4);
	sim_desc_fill(&t[4], 0, 0, 0, 0);
	head = simdrv_ind_table(&e.sd, t, 5);
	simdrv_set_desc(&e.sd, 5, e2e_hdr(&e, VIRTIO_BLK_T_IN, 8), 16,
			VRING_DESC_F_NEXT, 6);
	simdrv_set_desc(&e.sd, 6, head, 80, VRING_DESC_F_INDIRECT, 0);
	simdrv_put_avail(&e.sd, 5);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, 5, 513);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, d, 512, 0x5a));

	/* Header and readable data in a table: no status, pushed with 0. */
	sim_desc_fill(&t[0], e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16,
		  VRING_DESC_F_NEXT, 1);
	sim_desc_fill(&t[1], d, 512, 0, 0);
	simdrv_set_desc(&e.sd, 7, simdrv_ind_table(&e.sd, t, 2), 32,
			VRING_DESC_F_INDIRECT, 0);
	simdrv_put_avail(&e.sd, 7);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	T_ASSERT_EQ(e2e_used(&e, &id, &len), 0);
	T_ASSERT_EQ(id, 7);
	T_ASSERT_EQ(len, 0);
	T_ASSERT_EQ(e2e_disk_ops(), 3);
	e2e_fini(&e);
}

/* More data segments than one readv/writev takes. */
static void c_too_many_segs(void)
{
	enum { N = BLK_SEG_MAX_LIMIT + 3 };
	struct sim_seg *segs = calloc(N, sizeof(*segs));
	unsigned int i, head;
	uint64_t d, s;

	T_ASSERT(segs);
	init(&(struct e2e_opts){ .num = 2048, .vq_features = E2E_F_INDIRECT });
	for (i = 0; i < 2048; i++)
		e2e_disk_fill(i, 1, (uint8_t)i);
	d = e2e_buf(&e, 2048, 0xee);
	s = e2e_buf(&e, 1, 0xff);

	/* 1024 one-byte segments: the most allowed, two sectors. */
	segs[0] = (struct sim_seg){ e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R };
	for (i = 0; i < BLK_SEG_MAX_LIMIT; i++)
		segs[1 + i] = (struct sim_seg){ d + i, 1, W };
	segs[1 + i] = (struct sim_seg){ s, 1, W };
	head = simdrv_add_indirect(&e.sd, segs, BLK_SEG_MAX_LIMIT + 2);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, BLK_SEG_MAX_LIMIT + 1);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	for (i = 0; i < BLK_SEG_MAX_LIMIT; i++)
		T_ASSERT_EQ(e2e_byte(&e, d + i), (uint8_t)i);

	/* 1025: 1024 single bytes and 512 more, three sectors; refused. */
	segs[1 + BLK_SEG_MAX_LIMIT] = (struct sim_seg){ d + 1024, 512, W };
	segs[2 + BLK_SEG_MAX_LIMIT] = (struct sim_seg){ s, 1, W };
	head = simdrv_add_indirect(&e.sd, segs, N);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, BLK_SEG_MAX_LIMIT + 512 + 1);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);

	/* The same as a write. */
	segs[0].addr = e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0);
	for (i = 1; i < N - 1; i++)
		segs[i].write = false;
	head = simdrv_add_indirect(&e.sd, segs, N);
	T_ASSERT_EQ(e2e_serve(&e), 1);
	e2e_expect_used(&e, head, 1);
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 1);
	free(segs);
	e2e_fini(&e);
}

/* Data segments larger than size_max. */
static void c_size_max(void)
{
	uint64_t d, s;

	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .blk = { .size_max = 4096 } });
	d = e2e_buf(&e, 8192, 0xee);
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(8193, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { d, 8192, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	SUBMIT(8193, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { d, 4096, W }, { d + 4096, 4096, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	/* 8 KiB of write data in one descriptor. */
	SUBMIT(1, { e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R }, { d, 8192, R },
	       { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 1);
	e2e_fini(&e);
}

/* A data descriptor running past the end of mapped memory. */
static void c_past_mapping(void)
{
	uint64_t end = D + 2 * SIM_DATA_SIZE, s, d;

	init_default();
	/* Across the boundary of two adjacent regions: legal, two segments. */
	e2e_disk_fill(0, 1024, 0x66);
	d = D + SIM_DATA_SIZE - 512;
	s = e2e_buf(&e, 1, 0xff);
	SUBMIT(1025, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { d, 1024, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, d, 1024, 0x66));

	/* Past the end of the last region: the queue is refused. */
	simdrv_add(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
		{ end - 512, 1024, W }, { s, 1, W } }, 3);
	T_ASSERT_EQ(e2e_serve(&e), 0);
	T_ASSERT_EQ(e.last_pop, -EIO);
	e2e_expect_no_used(&e);
	T_ASSERT_EQ(e2e_disk_ops(), 1);
	e2e_fini(&e);

	init_default();
	simdrv_add(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R },
		{ end - 256, 512, R }, { e2e_buf(&e, 1, 0xff), 1, W } }, 3);
	T_ASSERT_EQ(e2e_serve(&e), 0);
	T_ASSERT_EQ(e.last_pop, -EIO);
	e2e_fini(&e);

	init_default();
	simdrv_add(&e.sd, (struct sim_seg[]){
		{ e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R },
		{ D, 0xffffffffu, R }, { e2e_buf(&e, 1, 0xff), 1, W } }, 3);
	T_ASSERT_EQ(e2e_serve(&e), 0);
	T_ASSERT_EQ(e.last_pop, -EIO);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	e2e_fini(&e);
}

/* Requests larger than the disk or with sectors that overflow. */
static void c_larger_than_disk(void)
{
	uint64_t d;

	init_default();
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, 0, 65536 + 512, false, NULL),
		    VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_OUT, 127, 1024, true, NULL),
		    VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_OUT, UINT64_MAX, 512, false, NULL),
		    VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, (UINT64_MAX >> 9) + 1, 512,
			   false, NULL), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, UINT64_MAX - 1, 1024, false,
			   NULL), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 0);
	/* Exactly the disk: its last byte is against the guard page. */
	e2e_disk_fill(65536 - 512, 512, 0x99);
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, 0, 65536, false, &d),
		    VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, d + 65536 - 512, 512, 0x99));
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_OUT, 127, 512, true, NULL),
		    VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_rw(&e, VIRTIO_BLK_T_IN, 128, 0, false, NULL),
		    VIRTIO_BLK_S_OK);
	e2e_fini(&e);
}

/* Serves one chain of @n segments and returns its status byte. */
static uint8_t submit_segs(const struct sim_seg *segs, unsigned int n,
			   uint32_t used_len, uint64_t status)
{
	submit(segs, n, used_len);
	return e2e_byte(&e, status);
}

/*
 * The data of a request is capped at seg_max x size_max, what a driver that
 * honours both can send; descriptors that all point at one buffer must not
 * make a bigger request out of a small one (the default size_max is not
 * enforced per segment, only the total).
 */
static void c_data_cap(void)
{
	struct sim_seg segs[64];
	uint64_t cap, buf, s, big = E2E_BIG_IOVA;
	unsigned int i, n;

	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .disk_size = 2 << 20 });
	/* Ring of 64: seg_max 62, size_max 16 KiB. */
	cap = e.dev.max_data;
	T_ASSERT_EQ(cap, 62 * 16384);
	buf = e2e_buf(&e, 32768, 0x5a);
	s = e2e_buf(&e, 1, 0xff);

	/* Exactly the cap, in 31 descriptors of 32 KiB over one buffer. */
	segs[0] = (struct sim_seg){ e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R };
	for (i = 1; i <= 31; i++)
		segs[i] = (struct sim_seg){ buf, 32768, R };
	segs[32] = (struct sim_seg){ s, 1, W };
	T_ASSERT_EQ(submit_segs(segs, 33, 1, s), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_WRITE], 1);
	T_ASSERT_EQ(e2e_disk.log[0].len, cap);

	/* One sector more: refused before it reaches the disk. */
	segs[32] = (struct sim_seg){ buf, 512, R };
	segs[33] = (struct sim_seg){ s, 1, W };
	T_ASSERT_EQ(submit_segs(segs, 34, 1, s), VIRTIO_BLK_S_IOERR);
	/* The same as a read. */
	segs[0].addr = e2e_hdr(&e, VIRTIO_BLK_T_IN, 0);
	for (i = 1; i <= 32; i++)
		segs[i].write = true;
	T_ASSERT_EQ(submit_segs(segs, 34, cap + 512 + 1, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 1);

	/*
	 * The audit's request: 62 descriptors of 64 MiB over one buffer of
	 * memory that faults if touched, almost 4 GiB in all.  Refused from
	 * the lengths alone, read or write.
	 */
	e2e_map_none(&e, big, 64 << 20, VDK_PERM_RW);
	n = 0;
	segs[n++] = (struct sim_seg){ e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R };
	for (i = 0; i < 62; i++)
		segs[n++] = (struct sim_seg){ big, 64 << 20, R };
	segs[n++] = (struct sim_seg){ s, 1, W };
	T_ASSERT_EQ(submit_segs(segs, n, 1, s), VIRTIO_BLK_S_IOERR);
	segs[0].addr = e2e_hdr(&e, VIRTIO_BLK_T_IN, 0);
	for (i = 1; i < n; i++)
		segs[i].write = true;
	T_ASSERT_EQ(submit_segs(segs, n, 62u * (64u << 20) + 1, s),
		    VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 1);
	e2e_fini(&e);
}

/*
 * More than seg_max data segments of size_max bytes each: over the cap.
 * Fewer bytes in more segments pass (a descriptor that crosses two IOTLB
 * regions arrives as two segments).
 */
static void c_seg_cap(void)
{
	struct sim_seg segs[20];
	uint64_t buf, s;
	unsigned int i;

	/* A ring of 64 serving a device that advertises a queue of 16. */
	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .blk = { .queue_size = 16, .size_max = 4096 } });
	T_ASSERT_EQ(e.dev.seg_max, 14);
	T_ASSERT_EQ(e.dev.max_data, 14 * 4096);
	buf = e2e_buf(&e, 4096, 0x3c);
	s = e2e_buf(&e, 1, 0xff);
	e2e_disk_fill(0, 65536, 0x77);

	/* seg_max pages: the largest request a driver sends. */
	segs[0] = (struct sim_seg){ e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R };
	for (i = 1; i <= 14; i++)
		segs[i] = (struct sim_seg){ buf, 4096, W };
	segs[15] = (struct sim_seg){ s, 1, W };
	T_ASSERT_EQ(submit_segs(segs, 16, 14 * 4096 + 1, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, buf, 4096, 0x77));

	/* seg_max + 1 pages. */
	segs[15] = (struct sim_seg){ buf, 4096, W };
	segs[16] = (struct sim_seg){ s, 1, W };
	T_ASSERT_EQ(submit_segs(segs, 17, 15 * 4096 + 1, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 1);

	/* The same as a write. */
	segs[0].addr = e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0);
	for (i = 1; i <= 15; i++)
		segs[i].write = false;
	T_ASSERT_EQ(submit_segs(segs, 17, 1, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 1);

	/* seg_max + 1 half pages: within the cap, served. */
	for (i = 1; i <= 15; i++)
		segs[i].len = 2048;
	T_ASSERT_EQ(submit_segs(segs, 17, 1, s), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(e2e_disk.n[BACKEND_OP_WRITE], 1);
	T_ASSERT_EQ(e2e_disk.log[1].len, 15 * 2048);
	e2e_fini(&e);
}

/*
 * A driver that did not accept SIZE_MAX and SEG_MAX is not bound by them:
 * firmware such as OVMF sends a whole transfer in one descriptor.  Its cap
 * is BLK_DATA_LIMIT instead.
 */
static void c_data_cap_unacked(void)
{
	struct sim_seg segs[20];
	uint64_t big = E2E_BIG_IOVA, s;
	unsigned int i;

	init(&(struct e2e_opts){ .vq_features = E2E_F_INDIRECT,
				 .version_only = true, .disk_size = 32 << 20 });
	T_ASSERT_EQ(e.q.max_data, BLK_DATA_LIMIT);
	sim_mem_map(&e.sd, big, 2 << 20, 4096, VDK_PERM_RW);
	s = e2e_buf(&e, 1, 0xff);
	e2e_disk_fill(0, 2 << 20, 0x42);

	/* 2 MiB in one descriptor, twice what Linux would be allowed. */
	SUBMIT((2 << 20) + 1, { e2e_hdr(&e, VIRTIO_BLK_T_IN, 0), 16, R },
	       { big, 2 << 20, W }, { s, 1, W });
	T_ASSERT_EQ(e2e_byte(&e, s), VIRTIO_BLK_S_OK);
	T_ASSERT(e2e_all(&e, big, 2 << 20, 0x42));

	/* 16 MiB of aliased descriptors is the most; a sector more is not. */
	segs[0] = (struct sim_seg){ e2e_hdr(&e, VIRTIO_BLK_T_OUT, 0), 16, R };
	for (i = 1; i <= 8; i++)
		segs[i] = (struct sim_seg){ big, 2 << 20, R };
	segs[9] = (struct sim_seg){ s, 1, W };
	T_ASSERT_EQ(submit_segs(segs, 10, 1, s), VIRTIO_BLK_S_OK);
	segs[9] = (struct sim_seg){ big, 512, R };
	segs[10] = (struct sim_seg){ s, 1, W };
	T_ASSERT_EQ(submit_segs(segs, 11, 1, s), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(e2e_disk_ops(), 2);
	T_ASSERT_EQ(e2e_disk.log[1].len, BLK_DATA_LIMIT);
	e2e_fini(&e);
}

static const struct e2e_case cases[] = {
	{ "baseline", c_baseline },
	{ "hdr-writable", c_hdr_writable },
	{ "status-readonly", c_status_readonly },
	{ "status-ro-memory", c_status_ro_memory },
	{ "zero-len-hdr", c_zero_len_hdr },
	{ "zero-len-data", c_zero_len_data },
	{ "zero-len-status", c_zero_len_status },
	{ "all-zero-len", c_all_zero_len },
	{ "only-status", c_only_status },
	{ "only-header", c_only_header },
	{ "hdr-huge", c_hdr_huge },
	{ "big-readable", c_big_readable },
	{ "big-writable", c_big_writable },
	{ "type-high-bits", c_type_high_bits },
	{ "get-id-tiny", c_get_id_tiny },
	{ "mixed-indirect", c_mixed_indirect },
	{ "too-many-segs", c_too_many_segs },
	{ "size-max", c_size_max },
	{ "past-mapping", c_past_mapping },
	{ "larger-than-disk", c_larger_than_disk },
	{ "data-cap", c_data_cap },
	{ "seg-cap", c_seg_cap },
	{ "data-cap-unacked", c_data_cap_unacked },
};

int main(int argc, char **argv)
{
	return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
