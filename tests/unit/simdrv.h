/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A simulated virtio driver for host-side tests of lib/vq.c: split rings and
 * data buffers in ordinary memory, registered as IOVA regions at fixed IOVAs.
 * Every mapping is surrounded by PROT_NONE guard pages and ends exactly at
 * one, so a device-side read past a ring or table faults at once.
 */
#ifndef VDK_SIMDRV_H
#define VDK_SIMDRV_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/* IOVA layout; gaps between them are unmapped. */
#define SIM_DESC_IOVA	0x1000000ULL
#define SIM_AVAIL_IOVA	0x2000000ULL
#define SIM_USED_IOVA	0x3000000ULL
#define SIM_DATA_IOVA	0x4000000ULL	/* two RW regions, adjacent in IOVA */
#define SIM_DATA_SIZE	0x10000ULL	/* bytes per data region */
#define SIM_IND_IOVA	0x5000000ULL	/* indirect tables, RO */
#define SIM_IND_SIZE	0x10000ULL
#define SIM_WO_IOVA	0x6000000ULL	/* device may only write */
#define SIM_RO_IOVA	0x7000000ULL	/* device may only read */
#define SIM_PERM_SIZE	0x1000ULL
#define SIM_GAP_IOVA	0x8000000ULL	/* never mapped */

#define SIM_MEMS_MAX	16

struct sim_mem {
	void *base;		/* whole mapping, guards included */
	size_t len;
	uint8_t *va;		/* first usable byte */
	size_t size;
	uint64_t iova;
};

/* One buffer of a chain, as the driver sees it. */
struct sim_seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

struct simdrv {
	struct iova_map map;
	struct vdk_vq vq;
	unsigned int num;
	uint64_t features;

	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;

	/* driver-side shadows */
	uint16_t avail_idx;	/* next avail index to fill */
	uint16_t kick_old;	/* avail idx at the last kick decision */
	uint16_t last_used;
	uint16_t free_head;
	unsigned int num_free;
	uint16_t *chain_len;	/* descriptors held by each head */

	size_t data_off;	/* bump allocator over both data regions */
	size_t ind_off;		/* bump allocator over the indirect region */

	unsigned int kicks;
	unsigned int irqs;
	int irq_ret;		/* what the fake inject_irq returns */

	struct sim_mem mems[SIM_MEMS_MAX];
	unsigned int nmem;
};

/*
 * Maps @size bytes (rounded up to @align) ending exactly at a guard page and
 * registers them as region [@iova, ...] with @perm.  Returns the VA.
 */
void *sim_mem_map(struct simdrv *sd, uint64_t iova, size_t size,
		  size_t align, int perm);

/*
 * Lays out rings of @num entries and data regions, sets every ring index to
 * @start_idx, and starts sd->vq over them with @features.
 */
void simdrv_init(struct simdrv *sd, unsigned int num, uint64_t features,
		 uint16_t start_idx);
/* Same without starting the queue (for vq_init_rings tests). */
void simdrv_layout(struct simdrv *sd, unsigned int num, uint64_t features,
		   uint16_t start_idx);
int simdrv_start(struct simdrv *sd);
void simdrv_fini(struct simdrv *sd);

/* Driver VA of @iova, or NULL. */
void *simdrv_va(struct simdrv *sd, uint64_t iova);
/* Allocates @len bytes of data buffer; returns its IOVA. */
uint64_t simdrv_buf(struct simdrv *sd, size_t len);
/* Copies to/from driver memory, across regions; asserts it is mapped. */
void simdrv_write(struct simdrv *sd, uint64_t iova, const void *src, size_t len);
void simdrv_read(struct simdrv *sd, uint64_t iova, void *dst, size_t len);

/* Adds a direct chain; returns its head.  Not visible until publish. */
unsigned int simdrv_add(struct simdrv *sd, const struct sim_seg *segs,
			unsigned int n);
/* Adds one descriptor pointing at an indirect table holding @segs. */
unsigned int simdrv_add_indirect(struct simdrv *sd, const struct sim_seg *segs,
				 unsigned int n);
/* Makes everything added so far visible (release store of avail->idx). */
void simdrv_publish(struct simdrv *sd);
/* Would a real driver kick now?  Counts kicks; honours EVENT_IDX/NO_NOTIFY. */
bool simdrv_kick(struct simdrv *sd);
/* Takes one used element; 0 or -EAGAIN.  Frees the chain's descriptors. */
int simdrv_get_used(struct simdrv *sd, uint32_t *id, uint32_t *len);

/* Raw ring access for hostile tests. */
/* Fills one descriptor (ring or indirect table) in the ring's byte order. */
static inline void sim_desc_fill(struct vring_desc *d, uint64_t addr,
				 uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}
void simdrv_set_desc(struct simdrv *sd, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next);
void simdrv_put_avail(struct simdrv *sd, uint16_t head);
/* Writes an indirect table of @n raw descriptors; returns its IOVA. */
uint64_t simdrv_ind_table(struct simdrv *sd, const struct vring_desc *d,
			  unsigned int n);
void simdrv_set_used_event(struct simdrv *sd, uint16_t v);
void simdrv_set_avail_flags(struct simdrv *sd, uint16_t flags);
uint16_t simdrv_avail_event(struct simdrv *sd);

/* Convenience for tests: pop with a plain struct vdk_req. */
int simdrv_pop(struct simdrv *sd, struct vdk_req **reqp);

#endif
