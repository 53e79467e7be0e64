/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * End-to-end harness for hostile-driver tests: the simulated driver
 * (simdrv.h) puts requests in a real split ring, vdk_vq_pop() walks them,
 * blk_queue_handle_req() validates them, a backend serves them, and the
 * answer goes back through blk_complete_vq() -> vdk_vq_push(), exactly as in
 * the daemon's queue thread.
 *
 * The default backend is a "guard disk": a RAM disk that ends against a
 * PROT_NONE page and that checks everything reaching it: the range is inside
 * the disk, and every data segment lies inside one mapped IOVA region with
 * the permission the operation needs.  It can also hold operations back
 * (defer) so a test can change driver memory while a request is in flight.
 * Together with simdrv's guard pages and ASan's leak check this shows a
 * request is answered or refused without touching anything it should not.
 */
#ifndef VDK_E2E_H
#define VDK_E2E_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "blk.h"
#include "simdrv.h"
#include "test.h"

#define E2E_F_INDIRECT	(1ULL << VDK_F_INDIRECT_DESC)
#define E2E_F_EVENT_IDX	(1ULL << VDK_F_EVENT_IDX)

/* A second 1 MiB of RO+RW IOVA space, for tests needing bigger buffers. */
#define E2E_BIG_IOVA	(1ULL << 32)

#define E2E_LOG_MAX	64
#define E2E_PENDING_MAX	64

struct e2e_op {
	enum backend_op op;
	uint64_t offset;
	uint64_t len;
};

/* The guard disk; one per process. */
struct e2e_disk {
	uint8_t *data;		/* @size bytes, flush against a guard page */
	void *map;
	size_t map_len;
	uint64_t size;
	bool defer;		/* hold operations until e2e_disk_complete() */
	struct iova_map *iova;	/* driver memory, to check data segments */
	unsigned int n[5];	/* operations seen, by enum backend_op */
	struct e2e_op log[E2E_LOG_MAX];	/* the first E2E_LOG_MAX of them */
	unsigned int nlog;
	struct backend_io *pending[E2E_PENDING_MAX];
	unsigned int npending;
};

extern struct e2e_disk e2e_disk;

struct e2e_opts {
	unsigned int num;	/* ring size, 0 = 64 */
	uint64_t vq_features;	/* library features (INDIRECT, EVENT_IDX) */
	const char *spec;	/* backend spec; NULL = the guard disk */
	uint64_t disk_size;	/* guard disk bytes, 0 = 64 KiB */
	bool defer;		/* guard disk holds operations back */
	bool version_only;	/* the driver accepts VERSION_1 only */
	struct blk_opts blk;
};

struct e2e {
	struct simdrv sd;
	struct backend *be;
	struct blk_dev dev;
	struct blk_queue q;
	unsigned int popped;
	unsigned int completed;
	unsigned int dropped;	/* completed with length 0 */
	int last_pop;		/* what the last vdk_vq_pop() returned */
};

void e2e_init(struct e2e *e, const struct e2e_opts *o);
/* Checks nothing is left in flight anywhere, then tears down. */
void e2e_fini(struct e2e *e);

/* Publishes what was added, then pops and handles until the ring is empty
 * or broken; returns the number popped.  e->last_pop says why it stopped. */
unsigned int e2e_serve(struct e2e *e);
/* Pops and handles at most one request; returns vdk_vq_pop()'s answer:
 * 0, -EAGAIN, -EIO (queue broken) or -ENODEV (queue stopped). */
int e2e_serve_one(struct e2e *e);

/*
 * Next used element, 0 or -EAGAIN.  Chains made by simdrv_add() go back to
 * simdrv's free list; raw ones (simdrv_set_desc()) are left alone.
 */
int e2e_used(struct e2e *e, uint32_t *id, uint32_t *len);
/* Asserts the next used element is @id with length @len. */
void e2e_expect_used(struct e2e *e, uint32_t id, uint32_t len);
/* Asserts no more used elements. */
void e2e_expect_no_used(struct e2e *e);

/* Allocates a 16-byte request header in driver memory; returns its IOVA. */
uint64_t e2e_hdr(struct e2e *e, uint32_t type, uint64_t sector);
/* Allocates @len bytes filled with @fill; returns the IOVA. */
uint64_t e2e_buf(struct e2e *e, size_t len, uint8_t fill);
uint8_t e2e_byte(struct e2e *e, uint64_t iova);
/* True if @len bytes at @iova all equal @v. */
bool e2e_all(struct e2e *e, uint64_t iova, size_t len, uint8_t v);

/* A discard/write-zeroes segment array in driver memory. */
uint64_t e2e_ranges(struct e2e *e, const struct virtio_blk_discard_write_zeroes *r,
		    unsigned int n);
struct virtio_blk_discard_write_zeroes e2e_range(uint64_t sector, uint32_t num,
						 uint32_t flags);

/*
 * A whole request: header, one data buffer of @len (writable for IN and
 * GET_ID), one status byte; direct or in an indirect table.  Serves it and
 * returns the status byte; *@data gets the data IOVA if non-NULL.
 */
uint8_t e2e_rw(struct e2e *e, uint32_t type, uint64_t sector, size_t len,
	       bool indirect, uint64_t *data);

/* Completes up to @max deferred operations, oldest first; returns how many. */
unsigned int e2e_disk_complete(unsigned int max);
/* Sets @len disk bytes at @off to @v. */
void e2e_disk_fill(uint64_t off, uint64_t len, uint8_t v);
bool e2e_disk_all(uint64_t off, uint64_t len, uint8_t v);
/* Operations that reached the guard disk, all kinds. */
unsigned int e2e_disk_ops(void);

/*
 * Maps @size bytes of PROT_NONE memory at IOVA @iova with @perm: the walker
 * accepts buffers there, but any access faults, so a request pointing into
 * it must be refused from its lengths alone.
 */
void e2e_map_none(struct e2e *e, uint64_t iova, uint64_t size, int perm);

/* Runs the case named argv[1] from @cases (name, function pairs). */
struct e2e_case {
	const char *name;
	void (*fn)(void);
};
int e2e_main(int argc, char **argv, const struct e2e_case *cases, unsigned int n);

#endif /* VDK_E2E_H */
