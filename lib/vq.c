// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Split virtqueue, device side.
 *
 * The rings live in memory the driver controls and may rewrite at any time,
 * so every value is read once into a local, checked, and only then used;
 * every walk is bounded; nothing outside a mapped region is ever touched.
 * On any malformed input the queue is marked broken and stays so until the
 * rings are reset (the driver resets the device).
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Most segments one request may have: out_num and in_num are 16 bits. */
#define VQ_SEG_MAX	UINT16_MAX

/*
 * Each request block starts with this hidden header, then the caller's
 * struct (which begins with struct vdk_req), then the iovec array.  The
 * header lets a block be recycled only into a list of identical blocks.
 */
struct req_hdr {
	size_t size;		/* caller's size */
	unsigned int cap;	/* iovecs the block holds */
	unsigned int gen;	/* vq->gen when popped */
};

#define REQ_ALIGN	16	/* malloc's alignment on the hosts we support */

static inline size_t req_body(size_t size)
{
	return (size + REQ_ALIGN - 1) & ~(size_t)(REQ_ALIGN - 1);
}

/* Ring accessors: single-copy atomic, little-endian on the wire. */
static inline uint16_t ld16(const void *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static inline uint16_t ld16_acquire(const void *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static inline void st16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static inline void st16_release(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

static inline void st32(void *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* The event-idx fields sit right after each ring's array. */
static inline uint16_t *used_event_ptr(const struct vdk_vq *vq)
{
	return (uint16_t *)&vq->avail->ring[vq->num];
}

static inline uint16_t *avail_event_ptr(const struct vdk_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

/* Copy of one descriptor, host-endian, read exactly once. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static inline void read_desc(const struct vring_desc *d, struct desc *out)
{
	struct vring_desc raw;

	/*
	 * memcpy copes with unaligned indirect tables; the barrier stops the
	 * compiler from re-reading shared memory instead of using the copy.
	 */
	memcpy(&raw, d, sizeof(raw));
	__asm__ __volatile__("" ::: "memory");
	out->addr = le64toh(raw.addr);
	out->len = le32toh(raw.len);
	out->flags = le16toh(raw.flags);
	out->next = le16toh(raw.next);
}

__attribute__((format(printf, 2, 3)))
static int vq_fail(struct vdk_vq *vq, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vq->broken = true;
	return vdk_set_error(-EIO,
		"queue %u: %s; queue stopped until the driver resets the device",
		vq->index, msg);
}

static void free_list_drain(struct vdk_vq *vq)
{
	void *blk = vq->free_list;

	while (blk) {
		void *next = *(void **)((struct req_hdr *)blk + 1);

		free(blk);
		blk = next;
	}
	vq->free_list = NULL;
	vq->free_count = 0;
}

void vq_reset_rings(struct vdk_vq *vq)
{
	free(vq->resubmit);
	vq->resubmit = NULL;
	vq->nr_resubmit = 0;
	vq->resubmit_pos = 0;
	free(vq->scratch);
	free(vq->seen);
	free(vq->out);
	free_list_drain(vq);
	vq->out = NULL;
	vq->gen++;
	vq->scratch = NULL;
	vq->scratch_cap = 0;
	vq->seen = NULL;
	vq->seen_stamp = 0;
	vq->free_size = 0;
	vq->num = 0;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->desc_iova = vq->avail_iova = vq->used_iova = 0;
	vq->event_idx = false;
	vq->indirect = false;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->pushed_since_notify = 0;
	/* Requests still out belong to the old rings; push() only frees them. */
	vq->inflight = 0;
	vq->broken = false;
	vq->kicks_enabled = true;
}

/* Translates one ring; the ring must be in a single region. */
static void *map_ring(struct vdk_vq *vq, const char *what, uint64_t iova,
		      size_t len, unsigned int align, int perm, int *err)
{
	void *p;

	if (iova & (align - 1)) {
		*err = vdk_set_error(-EINVAL,
			"queue %u: %s ring at 0x%llx is not %u-byte aligned",
			vq->index, what, (unsigned long long)iova, align);
		return NULL;
	}
	p = iova_translate(vq->map, iova, len, perm);
	if (!p) {
		*err = vdk_set_error(-EINVAL,
			"queue %u: %s ring 0x%llx+%zu is not mapped %s in one region",
			vq->index, what, (unsigned long long)iova, len,
			perm == VDK_PERM_RO ? "readable" : "read-write");
		return NULL;
	}
	/* Region VAs need not share the IOVA's alignment; we dereference. */
	if ((uintptr_t)p & (align - 1)) {
		*err = vdk_set_error(-EINVAL,
			"queue %u: %s ring at 0x%llx maps to a misaligned address",
			vq->index, what, (unsigned long long)iova);
		return NULL;
	}
	return p;
}

int vq_init_rings(struct vdk_vq *vq, struct iova_map *map, unsigned int num,
		  uint64_t desc_iova, uint64_t avail_iova, uint64_t used_iova,
		  uint16_t last_avail_idx, uint64_t features)
{
	bool event_idx = features & (1ULL << VDK_F_EVENT_IDX);
	size_t extra = event_idx ? sizeof(uint16_t) : 0;
	int err = 0;

	vq_reset_rings(vq);
	vq->map = map;

	if (!num || (num & (num - 1)) || num > vq->max_size ||
	    num > VDK_QUEUE_SIZE_MAX) {
		vq->broken = true;
		return vdk_set_error(-EINVAL,
			"queue %u: size %u is not a power of two in 1..%u",
			vq->index, num,
			vq->max_size < VDK_QUEUE_SIZE_MAX ?
				vq->max_size : VDK_QUEUE_SIZE_MAX);
	}

	vq->desc = map_ring(vq, "descriptor", desc_iova,
			    sizeof(struct vring_desc) * num, 16, VDK_PERM_RO,
			    &err);
	if (vq->desc)
		vq->avail = map_ring(vq, "available", avail_iova,
				     sizeof(struct vring_avail) +
				     sizeof(uint16_t) * num + extra, 2,
				     VDK_PERM_RO, &err);
	/* Read-write: we read used->idx below and write everything else. */
	if (vq->avail)
		vq->used = map_ring(vq, "used", used_iova,
				    sizeof(struct vring_used) +
				    sizeof(struct vring_used_elem) * num + extra,
				    4, VDK_PERM_RW, &err);
	if (!vq->used)
		goto fail_broken;

	vq->scratch = malloc(sizeof(*vq->scratch) * num);
	vq->seen = calloc(num, sizeof(*vq->seen));
	vq->out = calloc(num, sizeof(*vq->out));
	if (!vq->scratch || !vq->seen || !vq->out) {
		err = vdk_set_error(-ENOMEM, "queue %u: out of memory",
				    vq->index);
		goto fail;
	}
	vq->scratch_cap = num;
	vq->num = num;
	vq->desc_iova = desc_iova;
	vq->avail_iova = avail_iova;
	vq->used_iova = used_iova;
	vq->event_idx = event_idx;
	vq->indirect = features & (1ULL << VDK_F_INDIRECT_DESC);
	vq->last_avail_idx = last_avail_idx;
	/* Continue where a previous server left off (or 0 on a fresh ring). */
	vq->used_idx = ld16(&vq->used->idx);
	/*
	 * Start with kicks on whatever a previous server left in the ring:
	 * a stale NO_NOTIFY or avail_event would leave us waiting forever.
	 */
	vdk_vq_enable_kicks(vq, true);
	return 0;

fail_broken:
	vq_reset_rings(vq);
	/* Bad ring addresses are the driver's fault, like a bad chain. */
	vq->broken = true;
	return err;
fail:
	vq_reset_rings(vq);
	return err;
}

/* Running state of one descriptor walk. */
struct walk {
	unsigned int n;		/* segments in vq->scratch */
	unsigned int out;	/* of which readable */
	bool seen_in;		/* a writable segment came already */
	unsigned int descs;	/* buffer descriptors so far */
	uint64_t out_bytes;
	uint64_t in_bytes;
};

static int grow_scratch(struct vdk_vq *vq)
{
	unsigned int cap = vq->scratch_cap * 2;
	struct iovec *p;

	if (cap > VQ_SEG_MAX)
		cap = VQ_SEG_MAX;
	p = realloc(vq->scratch, sizeof(*p) * cap);
	if (!p)
		return vdk_set_error(-ENOMEM, "queue %u: out of memory",
				     vq->index);
	vq->scratch = p;
	vq->scratch_cap = cap;
	return 0;
}

/* Adds the buffer of descriptor @d (number @i, for messages) to the walk. */
static int walk_buffer(struct vdk_vq *vq, struct walk *w, const struct desc *d,
		       unsigned int i, bool indirect)
{
	const char *kind = indirect ? "indirect descriptor" : "descriptor";
	bool write = d->flags & VRING_DESC_F_WRITE;
	int perm = write ? VDK_PERM_WO : VDK_PERM_RO;
	uint64_t *total = write ? &w->in_bytes : &w->out_bytes;
	uint64_t addr = d->addr, left = d->len;
	int ret;

	/* Zero-length buffers carry nothing; Linux never sends them. */
	if (!d->len)
		return 0;
	if (!write && w->seen_in)
		return vq_fail(vq, "%s %u is device-readable but follows a writable one",
			       kind, i);
	if (*total + d->len > UINT32_MAX)
		return vq_fail(vq, "%s %u: total %s length overflows 32 bits",
			       kind, i, write ? "writable" : "readable");
	if (d->len - 1 > UINT64_MAX - addr)
		return vq_fail(vq, "%s %u: buffer 0x%llx+%u wraps around",
			       kind, i, (unsigned long long)addr, d->len);
	*total += d->len;

	while (left) {
		uint64_t contig;
		void *p;

		p = iova_translate_prefix(vq->map, addr, left, perm, &contig);
		if (!p)
			return vq_fail(vq, "%s %u: buffer 0x%llx+%u is not mapped %s at 0x%llx",
				       kind, i, (unsigned long long)d->addr,
				       d->len, write ? "writable" : "readable",
				       (unsigned long long)addr);
		if (w->n == vq->scratch_cap) {
			if (w->n == VQ_SEG_MAX)
				return vq_fail(vq, "request has more than %u segments",
					       VQ_SEG_MAX);
			ret = grow_scratch(vq);
			if (ret)
				return ret;
		}
		vq->scratch[w->n].iov_base = p;
		vq->scratch[w->n].iov_len = contig;
		w->n++;
		if (!write)
			w->out++;
		addr += contig;
		left -= contig;
	}
	if (write)
		w->seen_in = true;
	return 0;
}

/*
 * Follows the chain at @head into vq->scratch.  Bounds: a chain visits each
 * descriptor of its table at most once (seen[] stamps catch loops at the
 * first repeat) and holds at most num buffer descriptors in total, direct
 * and indirect together (virtio spec: "the maximum possible descriptor chain
 * length" is the queue size).  An indirect table thus has at most num
 * entries; devices should advertise seg_max accordingly.
 */
static int walk_chain(struct vdk_vq *vq, uint16_t head, struct walk *w)
{
	const struct vring_desc *table = vq->desc;
	unsigned int max = vq->num, i = head;
	bool indirect = false;
	uint32_t stamp;
	struct desc d;
	int ret;

	/* Two stamps per walk: one for the ring table, one for an indirect. */
	if (vq->seen_stamp >= UINT32_MAX - 2) {
		memset(vq->seen, 0, sizeof(*vq->seen) * vq->num);
		vq->seen_stamp = 0;
	}
	vq->seen_stamp += 2;
	stamp = vq->seen_stamp;

	for (;;) {
		if (vq->seen[i] == stamp)
			return vq_fail(vq, "descriptor chain at head %u loops back to %s%u",
				       head, indirect ? "indirect descriptor " :
				       "descriptor ", i);
		vq->seen[i] = stamp;
		read_desc(&table[i], &d);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			uint64_t entries = d.len / sizeof(struct vring_desc);

			if (indirect)
				return vq_fail(vq, "indirect descriptor %u inside an indirect table (head %u)",
					       i, head);
			if (!vq->indirect)
				return vq_fail(vq, "descriptor %u is indirect but INDIRECT_DESC was not negotiated",
					       i);
			if (d.flags & VRING_DESC_F_NEXT)
				return vq_fail(vq, "descriptor %u has both INDIRECT and NEXT set",
					       i);
			if (!d.len || d.len % sizeof(struct vring_desc))
				return vq_fail(vq, "descriptor %u: indirect table length %u is not a non-zero multiple of 16",
					       i, d.len);
			if (entries > vq->num)
				return vq_fail(vq, "descriptor %u: indirect table of %llu entries exceeds the queue size %u",
					       i, (unsigned long long)entries,
					       vq->num);
			table = iova_translate(vq->map, d.addr, d.len,
					       VDK_PERM_RO);
			if (!table)
				return vq_fail(vq, "descriptor %u: indirect table 0x%llx+%u is not mapped readable in one region",
					       i, (unsigned long long)d.addr,
					       d.len);
			max = entries;
			i = 0;
			indirect = true;
			stamp++;
			continue;
		}

		if (++w->descs > vq->num)
			return vq_fail(vq, "descriptor chain at head %u is longer than the queue size %u",
				       head, vq->num);
		ret = walk_buffer(vq, w, &d, i, indirect);
		if (ret)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= max)
			return vq_fail(vq, "%s %u: next index %u is out of range (%u entries)",
				       indirect ? "indirect descriptor" :
				       "descriptor", i, d.next, max);
		i = d.next;
	}
}

static struct vdk_req *req_alloc(struct vdk_vq *vq, size_t size,
				 unsigned int nseg)
{
	size_t body = req_body(size);
	struct req_hdr *h;

	if (nseg <= vq->num && size == vq->free_size && vq->free_list) {
		h = vq->free_list;
		vq->free_list = *(void **)(h + 1);
		vq->free_count--;
		return (struct vdk_req *)(h + 1);
	}
	/* Usual case: blocks of the queue size so they can be recycled. */
	if (nseg <= vq->num) {
		if (!vq->free_list)
			vq->free_size = size;
		nseg = vq->num;
	}
	/* nseg <= VQ_SEG_MAX, so only an absurd @size can overflow. */
	if (size > SIZE_MAX / 4)
		return NULL;
	h = malloc(sizeof(*h) + body + sizeof(struct iovec) * nseg);
	if (!h)
		return NULL;
	h->size = size;
	h->cap = nseg;
	return (struct vdk_req *)(h + 1);
}

static void req_release(struct vdk_vq *vq, struct vdk_req *req)
{
	struct req_hdr *h = (struct req_hdr *)req - 1;

	/* At most num cached: more would only be needed by a hostile driver. */
	if (vq->num && h->size == vq->free_size && h->cap == vq->num &&
	    vq->free_count < vq->num) {
		/* Link through the body: the header must stay intact. */
		*(void **)(h + 1) = vq->free_list;
		vq->free_list = h;
		vq->free_count++;
		return;
	}
	free(h);
}

/* Allocates the request for a walked chain and copies its segments in. */
static struct vdk_req *fill_req(struct vdk_vq *vq, size_t size, uint16_t head,
				const struct walk *w)
{
	struct vdk_req *req = req_alloc(vq, size, w->n);

	if (!req)
		return NULL;
	((struct req_hdr *)req - 1)->gen = vq->gen;
	req->head = head;
	req->out_num = w->out;
	req->in_num = w->n - w->out;
	req->flags = 0;
	req->out_bytes = w->out_bytes;
	req->in_bytes = w->in_bytes;
	req->iov = (struct iovec *)((char *)req + req_body(size));
	memcpy(req->iov, vq->scratch, sizeof(struct iovec) * w->n);
	return req;
}

/*
 * Walks the chain at @head into a new request, counted in flight.
 *
 * A head that is already in flight cannot be in the available ring again
 * (the driver gets it back only through the used ring), so a driver that
 * re-posts one is broken or hostile: without this check it could make us
 * hold any number of requests, and the inflight log, kept by head, would
 * stop adding up.  With it, at most num requests are ever out.
 */
static int take_chain(struct vdk_vq *vq, size_t size, uint16_t head,
		      struct vdk_req **reqp)
{
	struct walk w = { 0 };
	struct vdk_req *req;
	int ret;

	if (vq->out[head])
		return vq_fail(vq, "head %u is already in flight; the driver posted it again before it was used",
			       head);
	if (vq->inflight >= vq->num)
		return vq_fail(vq, "more than %u requests in flight", vq->num);
	ret = walk_chain(vq, head, &w);
	if (ret)
		return ret;
	req = fill_req(vq, size, head, &w);
	if (!req)
		return vdk_set_error(-ENOMEM,
			"queue %u: out of memory for a request", vq->index);
	vq->inflight++;
	vq->out[head] = 1;
	*reqp = req;
	return 0;
}

/* Asks for a kick when the driver adds past last_avail_idx; see caller. */
static void arm_avail_event(struct vdk_vq *vq)
{
	VQ_STORE_POINT(vq, "avail_event");
	st16(avail_event_ptr(vq), vq->last_avail_idx);
	/* Our store must be visible before we look at avail->idx again. */
	atomic_thread_fence(memory_order_seq_cst);
}

VDK_EXPORT int vdk_vq_pop(struct vdk_vq *vq, size_t size, struct vdk_req **reqp)
{
	uint16_t avail_idx, head;
	int ret;

	if (size < sizeof(struct vdk_req))
		return vdk_set_error(-EINVAL,
			"request size %zu is smaller than struct vdk_req", size);
	if (vq->broken)
		return vdk_set_error(-EIO,
			"queue %u is broken; the driver must reset the device",
			vq->index);
	if (!vq->desc)
		return vdk_set_error(-ENODEV, "queue %u is not started",
				     vq->index);

	/* Requests a dead process had in flight come first, oldest first. */
	if (vq->resubmit_pos < vq->nr_resubmit) {
		head = vq->resubmit[vq->resubmit_pos];
		ret = take_chain(vq, size, head, reqp);
		if (ret == 0)
			vq->resubmit_pos++;
		return ret;
	}

	/* Acquire: ring entries below idx are valid once we see idx. */
	avail_idx = ld16_acquire(&vq->avail->idx);
	if (avail_idx == vq->last_avail_idx) {
		/*
		 * With EVENT_IDX the driver only kicks when it passes
		 * avail_event, so re-arm it before reporting empty; then a
		 * caller that sleeps on the kick fd after -EAGAIN is woken
		 * even if it never calls vdk_vq_enable_kicks().
		 */
		if (!vq->event_idx || !vq->kicks_enabled)
			return -EAGAIN;
		arm_avail_event(vq);
		avail_idx = ld16_acquire(&vq->avail->idx);
		if (avail_idx == vq->last_avail_idx)
			return -EAGAIN;
	}
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num)
		return vq_fail(vq, "available index jumped from %u to %u, more than the queue size %u",
			       vq->last_avail_idx, avail_idx, vq->num);

	head = ld16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
	if (head >= vq->num)
		return vq_fail(vq, "available ring entry %u holds head %u, out of range (%u descriptors)",
			       vq->last_avail_idx, head, vq->num);

	ret = take_chain(vq, size, head, reqp);
	if (ret)
		return ret;

	/* Atomic: GET_VQ_STATE reads it from the control thread. */
	__atomic_store_n(&vq->last_avail_idx, vq->last_avail_idx + 1,
			 __ATOMIC_RELAXED);
	if (vq->log) {
		/* Recorded in flight before consumed: see struct vq_log. */
		VQ_STORE_POINT(vq, "log seq");
		vq->log->seq++;
		VQ_STORE_POINT(vq, "log inflight[head] = seq");
		__atomic_store_n(&vq->log->inflight[head], vq->log->seq,
				 __ATOMIC_RELEASE);
		VQ_STORE_POINT(vq, "log last_avail_idx");
		__atomic_store_n(&vq->log->last_avail_idx, vq->last_avail_idx,
				 __ATOMIC_RELEASE);
	}
	return 0;
}

/* True if @req was popped from the rings now set up, not older ones. */
static bool req_current(const struct vdk_vq *vq, const struct vdk_req *req)
{
	return vq->used && ((const struct req_hdr *)req - 1)->gen == vq->gen &&
	       req->head < vq->num;
}

VDK_EXPORT void vdk_vq_push(struct vdk_vq *vq, struct vdk_req *req, uint32_t len)
{
	struct vring_used_elem *e;

	/* A request of rings since reset is only freed: see vq_reset_rings. */
	if (req_current(vq, req)) {
		if (len > req->in_bytes)
			len = req->in_bytes;
		e = &vq->used->ring[vq->used_idx & (vq->num - 1)];
		VQ_STORE_POINT(vq, "used elem id");
		st32(&e->id, req->head);
		VQ_STORE_POINT(vq, "used elem len");
		st32(&e->len, len);
		vq->used_idx++;
		/* Release: the element is visible before the new idx. */
		VQ_STORE_POINT(vq, "used idx");
		st16_release(&vq->used->idx, vq->used_idx);
		if (vq->log) {
			VQ_STORE_POINT(vq, "log inflight[head] = 0");
			__atomic_store_n(&vq->log->inflight[req->head], 0,
					 __ATOMIC_RELEASE);
			VQ_STORE_POINT(vq, "log used_idx");
			__atomic_store_n(&vq->log->used_idx, vq->used_idx,
					 __ATOMIC_RELEASE);
		}
		vq->pushed_since_notify++;
		vq->out[req->head] = 0;
		vq->inflight--;
	}
	req_release(vq, req);
}

VDK_EXPORT void vdk_req_free(struct vdk_vq *vq, struct vdk_req *req)
{
	if (req_current(vq, req)) {
		vq->out[req->head] = 0;
		vq->inflight--;
	}
	req_release(vq, req);
}

VDK_EXPORT int vdk_vq_notify(struct vdk_vq *vq)
{
	uint16_t old, new;
	bool need, valid;
	int ret;

	if (!vq->used || !vq->pushed_since_notify)
		return 0;

	/* Our used->idx store must be visible before we read the driver's
	 * suppression state, or we and the driver could both skip. */
	atomic_thread_fence(memory_order_seq_cst);

	if (vq->event_idx) {
		old = vq->signalled_used;
		new = vq->used_idx;
		/* 65536 pushes make old == new: the u16 window is lost. */
		valid = vq->signalled_used_valid &&
			vq->pushed_since_notify <= UINT16_MAX;
		vq->signalled_used = new;
		vq->signalled_used_valid = true;
		need = !valid || vring_need_event(ld16(used_event_ptr(vq)),
						  new, old);
	} else {
		need = !(ld16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	vq->pushed_since_notify = 0;
	if (!need)
		return 0;

	ret = vq->inject_irq ? vq->inject_irq(vq) :
		vdk_set_error(-ENOSYS, "queue %u has no interrupt path",
			      vq->index);
	if (ret < 0) {
		/* Make the next call try again rather than compute "no". */
		vq->signalled_used_valid = false;
		vq->pushed_since_notify = 1;
		return ret;
	}
	return 1;
}

VDK_EXPORT bool vdk_vq_enable_kicks(struct vdk_vq *vq, bool enable)
{
	uint16_t flags;

	if (!vq->used)
		return false;
	vq->kicks_enabled = enable;
	if (vq->event_idx) {
		/*
		 * Disabling puts avail_event just behind the driver's
		 * position, which it has already passed: no kick until we
		 * re-arm (or the 16-bit index laps, a harmless spurious one).
		 */
		if (!enable) {
			VQ_STORE_POINT(vq, "avail_event");
			st16(avail_event_ptr(vq), vq->last_avail_idx - 1);
			return ld16_acquire(&vq->avail->idx) != vq->last_avail_idx;
		}
		arm_avail_event(vq);
	} else {
		/* We are the only writer of used->flags. */
		flags = ld16(&vq->used->flags);
		if (enable)
			flags &= ~VRING_USED_F_NO_NOTIFY;
		else
			flags |= VRING_USED_F_NO_NOTIFY;
		VQ_STORE_POINT(vq, "used flags");
		st16(&vq->used->flags, flags);
		if (!enable)
			return ld16_acquire(&vq->avail->idx) != vq->last_avail_idx;
		atomic_thread_fence(memory_order_seq_cst);
	}
	/* Anything added before the driver could see our request? */
	return ld16_acquire(&vq->avail->idx) != vq->last_avail_idx;
}

VDK_EXPORT unsigned int vdk_vq_index(const struct vdk_vq *vq)
{
	return vq->index;
}

VDK_EXPORT unsigned int vdk_vq_size(const struct vdk_vq *vq)
{
	return vq->num;
}

VDK_EXPORT int vdk_vq_kick_fd(const struct vdk_vq *vq)
{
	return vq->kick_fd;
}

VDK_EXPORT void vdk_vq_kick_clear(struct vdk_vq *vq)
{
	uint64_t count;

	/*
	 * The library makes kick eventfds non-blocking, so this read never
	 * waits; it returns and resets the whole counter at once.
	 */
	if (vq->kick_fd < 0 || read(vq->kick_fd, &count, sizeof(count)) < 0)
		return;
}

VDK_EXPORT void *vdk_vq_opaque(const struct vdk_vq *vq)
{
	return vq->opaque;
}

VDK_EXPORT void vdk_vq_set_opaque(struct vdk_vq *vq, void *opaque)
{
	vq->opaque = opaque;
}

VDK_EXPORT bool vdk_vq_broken(const struct vdk_vq *vq)
{
	return vq->broken;
}

VDK_EXPORT unsigned int vdk_vq_inflight(const struct vdk_vq *vq)
{
	return vq->inflight;
}

void vq_restart_at_used(struct vdk_vq *vq)
{
	vq->used_idx = ld16_acquire(&vq->used->idx);
	vq->last_avail_idx = vq->used_idx;
	vq->signalled_used_valid = false;
}

VDK_EXPORT void vdk_vq_restart_at_used(struct vdk_vq *vq)
{
	if (vq->num)
		vq_restart_at_used(vq);
}

VDK_EXPORT int vdk_vq_rings(const struct vdk_vq *vq, struct vdk_vq_rings *rings)
{
	if (!vq->num)
		return vdk_set_error(-ENODEV, "queue %u is not running", vq->index);
	rings->num = vq->num;
	rings->avail_base = vq->last_avail_idx;
	rings->desc = vq->desc_iova;
	rings->avail = vq->avail_iova;
	rings->used = vq->used_iova;
	return 0;
}

VDK_EXPORT int vdk_vq_ring_indices(const struct vdk_vq *vq, uint16_t *avail_idx,
				   uint16_t *used_idx)
{
	if (!vq->num)
		return vdk_set_error(-ENODEV, "queue %u is not running", vq->index);
	*avail_idx = ld16_acquire(&vq->avail->idx);
	*used_idx = ld16_acquire(&vq->used->idx);
	return 0;
}

VDK_EXPORT int vdk_vq_interrupt(struct vdk_vq *vq)
{
	return vq->inject_irq(vq);
}

size_t vq_log_size(unsigned int max_size)
{
	size_t n = sizeof(struct vq_log) + sizeof(uint64_t) * max_size;

	return (n + 63) & ~(size_t)63;
}

void vq_log_start(struct vdk_vq *vq)
{
	struct vq_log *log = vq->log;

	if (!log || !vq->num)
		return;
	/* Stop recovery from trusting a half-written log: num goes last. */
	VQ_STORE_POINT(vq, "log start: num = 0");
	__atomic_store_n(&log->num, 0, __ATOMIC_RELEASE);
	VQ_STORE_POINT(vq, "log start: clear inflight");
	memset(log->inflight, 0, sizeof(uint64_t) * vq->num);
	VQ_STORE_POINT(vq, "log start: seq");
	log->seq = 0;
	VQ_STORE_POINT(vq, "log start: last_avail_idx");
	log->last_avail_idx = vq->last_avail_idx;
	VQ_STORE_POINT(vq, "log start: used_idx");
	log->used_idx = vq->used_idx;
	VQ_STORE_POINT(vq, "log start: num");
	__atomic_store_n(&log->num, vq->num, __ATOMIC_RELEASE);
}

void vq_log_clear(struct vdk_vq *vq)
{
	if (vq->log)
		__atomic_store_n(&vq->log->num, 0, __ATOMIC_RELEASE);
}

static int cmp_seq(const void *a, const void *b, void *log)
{
	const uint64_t *inflight = ((struct vq_log *)log)->inflight;
	uint64_t sa = inflight[*(const uint16_t *)a];
	uint64_t sb = inflight[*(const uint16_t *)b];

	return sa < sb ? -1 : sa > sb;
}

int vq_log_recover(struct vdk_vq *vq)
{
	struct vq_log *log = vq->log;
	uint16_t last_avail, used, ring_used, avail_idx, head;
	unsigned int i, n = 0, num = vq->num;

	if (!log || !num)
		return vdk_set_error(-EINVAL, "queue %u: no state to recover from",
				     vq->index);
	if (log->num == 0) {
		/*
		 * The rings run but the log never started: the process died
		 * between DRIVER_OK and its first pop, so nothing was popped
		 * and everything up to used->idx is complete.
		 */
		vq->last_avail_idx = vq->used_idx;
		vq_log_start(vq);
		return 0;
	}
	if (log->num != num)
		return vdk_set_error(-EINVAL,
			"queue %u: the saved state is for %u entries, the ring has %u",
			vq->index, log->num, num);

	last_avail = log->last_avail_idx;
	used = log->used_idx;
	ring_used = ld16_acquire(&vq->used->idx);
	/* A push published in the ring but not yet in the log: finish it. */
	if (ring_used == (uint16_t)(used + 1)) {
		head = le32toh(vq->used->ring[used & (num - 1)].id);
		if (head < num) {
			VQ_STORE_POINT(vq, "recover: log inflight[head] = 0");
			log->inflight[head] = 0;
		}
		used++;
		VQ_STORE_POINT(vq, "recover: log used_idx");
		log->used_idx = used;
	} else if (ring_used != used) {
		return vdk_set_error(-EINVAL,
			"queue %u: used index %u does not follow the saved %u",
			vq->index, ring_used, used);
	}
	/*
	 * A pop recorded in flight but not yet consumed: the head at
	 * last_avail is in flight, which the driver cannot have re-posted,
	 * so it is ours.
	 */
	avail_idx = ld16_acquire(&vq->avail->idx);
	if (avail_idx != last_avail) {
		head = ld16(&vq->avail->ring[last_avail & (num - 1)]);
		if (head < num && log->inflight[head]) {
			last_avail++;
			VQ_STORE_POINT(vq, "recover: log last_avail_idx");
			log->last_avail_idx = last_avail;
		}
	}

	free(vq->resubmit);
	vq->resubmit = malloc(sizeof(*vq->resubmit) * num);
	if (!vq->resubmit)
		return vdk_set_error(-ENOMEM, "queue %u: out of memory", vq->index);
	for (i = 0; i < num; i++)
		if (log->inflight[i])
			vq->resubmit[n++] = i;
	/* Every popped request is either used or in flight, nothing else. */
	if (n != (uint16_t)(last_avail - used)) {
		free(vq->resubmit);
		vq->resubmit = NULL;
		return vdk_set_error(-EINVAL,
			"queue %u: saved state has %u requests in flight, but %u were popped and not completed",
			vq->index, n, (uint16_t)(last_avail - used));
	}
	qsort_r(vq->resubmit, n, sizeof(*vq->resubmit), cmp_seq, log);
	vq->nr_resubmit = n;
	vq->resubmit_pos = 0;
	vq->last_avail_idx = last_avail;
	vq->used_idx = used;
	vq->signalled_used_valid = false;
	return 0;
}
