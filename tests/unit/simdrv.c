// SPDX-License-Identifier: LGPL-2.1-or-later
/* Simulated split-ring virtio driver; see simdrv.h. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "simdrv.h"
#include "test.h"

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

void *sim_mem_map(struct simdrv *sd, uint64_t iova, size_t size,
		  size_t align, int perm)
{
	size_t pg = page_size(), rsize, body;
	struct iova_region r = { 0 };
	struct sim_mem *m;
	uint8_t *base;

	T_ASSERT(sd->nmem < SIM_MEMS_MAX);
	rsize = (size + align - 1) & ~(align - 1);
	body = (rsize + pg - 1) & ~(pg - 1);
	/* guard | body | guard, all PROT_NONE until the body is opened */
	base = mmap(NULL, body + 2 * pg, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_ASSERT(base != MAP_FAILED);
	T_ASSERT(mprotect(base + pg, body, PROT_READ | PROT_WRITE) == 0);

	m = &sd->mems[sd->nmem++];
	m->base = base;
	m->len = body + 2 * pg;
	m->size = rsize;
	m->va = base + pg + body - rsize;	/* flush against the guard */
	m->iova = iova;

	r.start = iova;
	r.last = iova + rsize - 1;
	r.va = m->va;
	r.perm = perm;
	/* map_base NULL: simdrv_fini unmaps, not iova_map_remove. */
	T_ASSERT_EQ(iova_map_add(&sd->map, &r), 0);
	return m->va;
}

static int sim_inject_irq(struct vdk_vq *vq)
{
	struct simdrv *sd = container_of(vq, struct simdrv, vq);

	sd->irqs++;
	return sd->irq_ret;
}

void simdrv_layout(struct simdrv *sd, unsigned int num, uint64_t features,
		   uint16_t start_idx)
{
	bool ev = features & (1ULL << VDK_F_EVENT_IDX);
	unsigned int i;

	memset(sd, 0, sizeof(*sd));
	iova_map_init(&sd->map, NULL, NULL);
	sd->num = num;
	sd->features = features;

	sd->desc = sim_mem_map(sd, SIM_DESC_IOVA, 16 * num, 16, VDK_PERM_RO);
	sd->avail = sim_mem_map(sd, SIM_AVAIL_IOVA, 4 + 2 * num + (ev ? 2 : 0),
				2, VDK_PERM_RO);
	sd->used = sim_mem_map(sd, SIM_USED_IOVA, 4 + 8 * num + (ev ? 2 : 0),
			       4, VDK_PERM_RW);
	sim_mem_map(sd, SIM_DATA_IOVA, SIM_DATA_SIZE, 16, VDK_PERM_RW);
	sim_mem_map(sd, SIM_DATA_IOVA + SIM_DATA_SIZE, SIM_DATA_SIZE, 16,
		    VDK_PERM_RW);
	sim_mem_map(sd, SIM_IND_IOVA, SIM_IND_SIZE, 16, VDK_PERM_RO);
	sim_mem_map(sd, SIM_WO_IOVA, SIM_PERM_SIZE, 16, VDK_PERM_WO);
	sim_mem_map(sd, SIM_RO_IOVA, SIM_PERM_SIZE, 16, VDK_PERM_RO);

	for (i = 0; i < num; i++)
		sd->desc[i].next = htole16((i + 1) & 0xffff);
	sd->num_free = num;
	sd->chain_len = calloc(num, sizeof(*sd->chain_len));
	T_ASSERT(sd->chain_len);

	sd->avail->idx = htole16(start_idx);
	sd->used->idx = htole16(start_idx);
	sd->avail_idx = start_idx;
	sd->kick_old = start_idx;
	sd->last_used = start_idx;

	sd->vq.index = 0;
	sd->vq.max_size = num;
	sd->vq.kick_fd = -1;
	sd->vq.inject_irq = sim_inject_irq;
}

int simdrv_start(struct simdrv *sd)
{
	return vq_init_rings(&sd->vq, &sd->map, sd->num, SIM_DESC_IOVA,
			     SIM_AVAIL_IOVA, SIM_USED_IOVA, sd->avail_idx,
			     sd->features);
}

void simdrv_init(struct simdrv *sd, unsigned int num, uint64_t features,
		 uint16_t start_idx)
{
	simdrv_layout(sd, num, features, start_idx);
	T_ASSERT_EQ(simdrv_start(sd), 0);
	T_ASSERT_EQ(vdk_vq_size(&sd->vq), num);
}

void simdrv_fini(struct simdrv *sd)
{
	unsigned int i;

	vq_reset_rings(&sd->vq);
	iova_map_destroy(&sd->map);
	for (i = 0; i < sd->nmem; i++)
		munmap(sd->mems[i].base, sd->mems[i].len);
	free(sd->chain_len);
	sd->nmem = 0;
}

void *simdrv_va(struct simdrv *sd, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < sd->nmem; i++) {
		struct sim_mem *m = &sd->mems[i];

		if (iova >= m->iova && iova - m->iova < m->size)
			return m->va + (iova - m->iova);
	}
	return NULL;
}

uint64_t simdrv_buf(struct simdrv *sd, size_t len)
{
	uint64_t iova;

	T_ASSERT(len <= 2 * SIM_DATA_SIZE);
	if (sd->data_off + len > 2 * SIM_DATA_SIZE)
		sd->data_off = 0;
	iova = SIM_DATA_IOVA + sd->data_off;
	sd->data_off = (sd->data_off + len + 15) & ~(size_t)15;
	return iova;
}

/* Bytes mapped contiguously (in the driver's view) from @iova. */
static size_t sim_contig(struct simdrv *sd, uint64_t iova)
{
	unsigned int i;

	for (i = 0; i < sd->nmem; i++) {
		struct sim_mem *m = &sd->mems[i];

		if (iova >= m->iova && iova - m->iova < m->size)
			return m->size - (iova - m->iova);
	}
	return 0;
}

void simdrv_write(struct simdrv *sd, uint64_t iova, const void *src, size_t len)
{
	const uint8_t *s = src;

	while (len) {
		size_t c = sim_contig(sd, iova);

		T_ASSERT(c);
		if (c > len)
			c = len;
		memcpy(simdrv_va(sd, iova), s, c);
		s += c;
		iova += c;
		len -= c;
	}
}

void simdrv_read(struct simdrv *sd, uint64_t iova, void *dst, size_t len)
{
	uint8_t *d = dst;

	while (len) {
		size_t c = sim_contig(sd, iova);

		T_ASSERT(c);
		if (c > len)
			c = len;
		memcpy(d, simdrv_va(sd, iova), c);
		d += c;
		iova += c;
		len -= c;
	}
}

void simdrv_set_desc(struct simdrv *sd, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	T_ASSERT(i < sd->num);
	sim_desc_fill(&sd->desc[i], addr, len, flags, next);
}

void simdrv_put_avail(struct simdrv *sd, uint16_t head)
{
	sd->avail->ring[sd->avail_idx & (sd->num - 1)] = htole16(head);
	sd->avail_idx++;
}

static unsigned int alloc_chain(struct simdrv *sd, unsigned int n)
{
	unsigned int head = sd->free_head;

	T_ASSERT(n && n <= sd->num_free);
	sd->num_free -= n;
	sd->chain_len[head] = n;
	return head;
}

unsigned int simdrv_add(struct simdrv *sd, const struct sim_seg *segs,
			unsigned int n)
{
	unsigned int head = alloc_chain(sd, n), i = head, k;

	for (k = 0; k < n; k++) {
		uint16_t next = le16toh(sd->desc[i].next);

		sd->desc[i].addr = htole64(segs[k].addr);
		sd->desc[i].len = htole32(segs[k].len);
		sd->desc[i].flags = htole16((segs[k].write ? VRING_DESC_F_WRITE : 0) |
					    (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		if (k + 1 < n)
			i = next;
		else
			sd->free_head = next;
	}
	simdrv_put_avail(sd, head);
	return head;
}

uint64_t simdrv_ind_table(struct simdrv *sd, const struct vring_desc *d,
			  unsigned int n)
{
	size_t len = (size_t)n * sizeof(*d);
	uint64_t iova;

	/* Top-down, so the first table ends against the guard page. */
	if (sd->ind_off + len > SIM_IND_SIZE)
		sd->ind_off = 0;
	sd->ind_off += len;
	iova = SIM_IND_IOVA + SIM_IND_SIZE - sd->ind_off;
	memcpy(simdrv_va(sd, iova), d, len);
	return iova;
}

unsigned int simdrv_add_indirect(struct simdrv *sd, const struct sim_seg *segs,
				 unsigned int n)
{
	struct vring_desc *t = calloc(n, sizeof(*t));
	unsigned int head, k;
	uint64_t iova;

	T_ASSERT(t);
	for (k = 0; k < n; k++) {
		t[k].addr = htole64(segs[k].addr);
		t[k].len = htole32(segs[k].len);
		t[k].flags = htole16((segs[k].write ? VRING_DESC_F_WRITE : 0) |
				     (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		t[k].next = htole16(k + 1 < n ? k + 1 : 0);
	}
	iova = simdrv_ind_table(sd, t, n);
	free(t);

	head = alloc_chain(sd, 1);
	sd->free_head = le16toh(sd->desc[head].next);
	sd->desc[head].addr = htole64(iova);
	sd->desc[head].len = htole32(n * sizeof(*t));
	sd->desc[head].flags = htole16(VRING_DESC_F_INDIRECT);
	simdrv_put_avail(sd, head);
	return head;
}

void simdrv_publish(struct simdrv *sd)
{
	__atomic_store_n(&sd->avail->idx, htole16(sd->avail_idx),
			 __ATOMIC_RELEASE);
}

uint16_t simdrv_avail_event(struct simdrv *sd)
{
	return le16toh(__atomic_load_n((uint16_t *)&sd->used->ring[sd->num],
				       __ATOMIC_RELAXED));
}

bool simdrv_kick(struct simdrv *sd)
{
	uint16_t new = sd->avail_idx, old = sd->kick_old;
	bool need;

	/* Like virtqueue_kick_prepare(): idx store before reading the hint. */
	atomic_thread_fence(memory_order_seq_cst);
	sd->kick_old = new;
	if (sd->features & (1ULL << VDK_F_EVENT_IDX))
		need = vring_need_event(simdrv_avail_event(sd), new, old);
	else
		need = !(le16toh(__atomic_load_n(&sd->used->flags,
						 __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	if (need)
		sd->kicks++;
	return need;
}

int simdrv_get_used(struct simdrv *sd, uint32_t *id, uint32_t *len)
{
	uint16_t idx = le16toh(__atomic_load_n(&sd->used->idx,
					       __ATOMIC_ACQUIRE));
	struct vring_used_elem *e;
	unsigned int i, k, n;

	if (idx == sd->last_used)
		return -EAGAIN;
	e = &sd->used->ring[sd->last_used & (sd->num - 1)];
	*id = le32toh(e->id);
	*len = le32toh(e->len);
	sd->last_used++;

	T_ASSERT(*id < sd->num);
	n = sd->chain_len[*id];
	T_ASSERT(n);
	sd->chain_len[*id] = 0;
	/* Return the chain to the free list through its own next links. */
	for (i = *id, k = 1; k < n; k++)
		i = le16toh(sd->desc[i].next);
	sd->desc[i].next = htole16(sd->free_head);
	sd->free_head = *id;
	sd->num_free += n;
	return 0;
}

void simdrv_set_used_event(struct simdrv *sd, uint16_t v)
{
	__atomic_store_n((uint16_t *)&sd->avail->ring[sd->num], htole16(v),
			 __ATOMIC_RELAXED);
}

void simdrv_set_avail_flags(struct simdrv *sd, uint16_t flags)
{
	__atomic_store_n(&sd->avail->flags, htole16(flags), __ATOMIC_RELAXED);
}

int simdrv_pop(struct simdrv *sd, struct vdk_req **reqp)
{
	return vdk_vq_pop(&sd->vq, sizeof(struct vdk_req), reqp);
}
