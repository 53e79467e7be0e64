// SPDX-License-Identifier: LGPL-2.1-or-later
/* End-to-end hostile-driver harness; see e2e.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "backend-plugin.h"
#include "blk-harness.h"
#include "e2e.h"

struct e2e_disk e2e_disk;

/* ---- the guard disk ---- */

static int gd_open(const char *arg, const struct backend_open_opts *opts,
		   void **handlep)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (e2e_disk.size + pg - 1) & ~(pg - 1);
	uint8_t *base;

	base = mmap(NULL, body + 2 * pg, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	T_ASSERT(base != MAP_FAILED);
	T_ASSERT(mprotect(base + pg, body, PROT_READ | PROT_WRITE) == 0);
	e2e_disk.map = base;
	e2e_disk.map_len = body + 2 * pg;
	/* Flush against the trailing guard: one byte too far faults. */
	e2e_disk.data = base + pg + body - e2e_disk.size;
	*handlep = &e2e_disk;
	return 0;
}

static void gd_close(void *handle)
{
	munmap(e2e_disk.map, e2e_disk.map_len);
	e2e_disk.map = NULL;
	e2e_disk.data = NULL;
}

static int64_t gd_size(void *handle)
{
	return (int64_t)e2e_disk.size;
}

static bool gd_true(void *handle)
{
	return true;
}

static int gd_queue_init(void *handle, const struct backend_queue_env *env,
			 void **queuep)
{
	*queuep = handle;
	return 0;
}

/* A data segment must sit inside one region of driver memory with @perm. */
static void check_seg(const struct iova_map *m, const struct iovec *iov,
		      int perm)
{
	const uint8_t *b = iov->iov_base;
	unsigned int i;

	T_ASSERT(iov->iov_len);
	for (i = 0; i < m->nr; i++) {
		const struct iova_region *r = &m->regions[i];
		uint64_t size = r->last - r->start + 1;

		if (b < r->va || (uint64_t)(b - r->va) >= size)
			continue;
		T_ASSERT(iov->iov_len <= size - (uint64_t)(b - r->va));
		T_ASSERT((r->perm & perm) == perm);
		return;
	}
	fprintf(stderr, "segment %p+%zu is outside driver memory\n",
		iov->iov_base, iov->iov_len);
	exit(T_EXIT_FAIL);
}

/* Zeroes by dropping whole pages, so a big disk costs no memory. */
static void gd_zero(uint8_t *p, uint64_t len)
{
	uintptr_t mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	uint8_t *a = (uint8_t *)(((uintptr_t)p + mask) & ~mask);
	uint8_t *b = (uint8_t *)((uintptr_t)(p + len) & ~mask);

	if (a < b && !madvise(a, b - a, MADV_DONTNEED)) {
		memset(p, 0, a - p);
		memset(b, 0, p + len - b);
		return;
	}
	memset(p, 0, len);
}

static void gd_do(struct backend_io *io)
{
	uint8_t *p = e2e_disk.data + io->offset;
	unsigned int i;

	switch (io->op) {
	case BACKEND_OP_READ:
		for (i = 0; i < io->iovcnt; i++) {
			memcpy(io->iov[i].iov_base, p, io->iov[i].iov_len);
			p += io->iov[i].iov_len;
		}
		break;
	case BACKEND_OP_WRITE:
		for (i = 0; i < io->iovcnt; i++) {
			memcpy(p, io->iov[i].iov_base, io->iov[i].iov_len);
			p += io->iov[i].iov_len;
		}
		break;
	case BACKEND_OP_DISCARD:
	case BACKEND_OP_WRITE_ZEROES:
		gd_zero(p, io->len);
		break;
	case BACKEND_OP_FLUSH:
		break;
	}
	backend_io_complete(io, 0);
}

static void gd_io(void *queue, struct backend_io *io)
{
	uint64_t total = 0;
	unsigned int i;

	T_ASSERT(io->op <= BACKEND_OP_WRITE_ZEROES);
	T_ASSERT(io->offset <= e2e_disk.size &&
		 io->len <= e2e_disk.size - io->offset);
	T_ASSERT(io->offset % BLK_SECTOR_SIZE == 0 &&
		 io->len % BLK_SECTOR_SIZE == 0);
	if (io->op == BACKEND_OP_READ || io->op == BACKEND_OP_WRITE) {
		T_ASSERT(io->iovcnt && io->iovcnt <= BLK_SEG_MAX_LIMIT);
		for (i = 0; i < io->iovcnt; i++) {
			/* A read writes into driver memory, a write reads it. */
			check_seg(e2e_disk.iova, &io->iov[i],
				  io->op == BACKEND_OP_READ ? VDK_PERM_WO :
				  VDK_PERM_RO);
			total += io->iov[i].iov_len;
		}
		T_ASSERT_EQ(total, io->len);
	}
	e2e_disk.n[io->op]++;
	if (e2e_disk.nlog < E2E_LOG_MAX)
		e2e_disk.log[e2e_disk.nlog++] = (struct e2e_op){
			io->op, io->offset, io->len };
	if (e2e_disk.defer) {
		T_ASSERT(e2e_disk.npending < E2E_PENDING_MAX);
		e2e_disk.pending[e2e_disk.npending++] = io;
		return;
	}
	gd_do(io);
}

static struct backend_ops gd_ops = {
	.name = "guard",
	.thread_model = BACKEND_THREAD_PARALLEL,
	.open = gd_open,
	.close = gd_close,
	.get_size = gd_size,
	.can_write = gd_true,
	.can_discard = gd_true,
	.queue_init = gd_queue_init,
	.read = gd_io,
	.write = gd_io,
	.flush = gd_io,
	.discard = gd_io,
	.write_zeroes = gd_io,
};

BACKEND_REGISTER(gd_ops, e2e_guard_init)

unsigned int e2e_disk_complete(unsigned int max)
{
	unsigned int done = 0;

	while (done < max && e2e_disk.npending) {
		struct backend_io *io = e2e_disk.pending[0];

		e2e_disk.npending--;
		memmove(&e2e_disk.pending[0], &e2e_disk.pending[1],
			e2e_disk.npending * sizeof(e2e_disk.pending[0]));
		/* May queue the request's next operation behind the others. */
		gd_do(io);
		done++;
	}
	return done;
}

void e2e_disk_fill(uint64_t off, uint64_t len, uint8_t v)
{
	T_ASSERT(off <= e2e_disk.size && len <= e2e_disk.size - off);
	memset(e2e_disk.data + off, v, len);
}

bool e2e_disk_all(uint64_t off, uint64_t len, uint8_t v)
{
	T_ASSERT(off <= e2e_disk.size && len <= e2e_disk.size - off);
	return h_all(e2e_disk.data + off, len, v);
}

unsigned int e2e_disk_ops(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < 5; i++)
		n += e2e_disk.n[i];
	return n;
}

/* ---- the queue ---- */

static void e2e_complete(struct blk_queue *q, struct vdk_req *req, uint32_t len)
{
	struct e2e *e = q->opaque;

	/* Either the whole writable area (status included) or nothing. */
	T_ASSERT(len == 0 || len == req->in_bytes);
	e->completed++;
	if (!len)
		e->dropped++;
	blk_complete_vq(q, req, len);
}

void e2e_init(struct e2e *e, const struct e2e_opts *o)
{
	struct backend_open_opts bo = {
		.readonly = o->blk.readonly,
		.block_size = o->blk.block_size ? o->blk.block_size : 512,
	};
	struct blk_opts bopts = o->blk;
	uint64_t features;

	memset(e, 0, sizeof(*e));
	simdrv_init(&e->sd, o->num ? o->num : 64, o->vq_features, 0);

	memset(&e2e_disk, 0, sizeof(e2e_disk));
	e2e_disk.size = o->disk_size ? o->disk_size : 65536;
	e2e_disk.defer = o->defer;
	e2e_disk.iova = &e->sd.map;
	if (o->spec)
		T_ASSERT_EQ(backend_open(o->spec, &bo, &e->be), 0);
	else
		T_ASSERT_EQ(backend_open_ops(e2e_guard_init(), "", "guard", &bo,
					     &e->be), 0);

	if (!bopts.name)
		bopts.name = "e2e";
	if (!bopts.queue_size)
		bopts.queue_size = e->sd.num < 4 ? 4 : e->sd.num;
	if (blk_dev_init(&e->dev, e->be, &bopts)) {
		fprintf(stderr, "blk_dev_init: %s\n", msg_last_error());
		exit(T_EXIT_FAIL);
	}
	features = 1ULL << VIRTIO_F_VERSION_1;
	if (!o->version_only)
		features |= e->dev.features;
	T_ASSERT_EQ(blk_dev_features_ok(&e->dev, features), 0);
	T_ASSERT_EQ(blk_queue_init(&e->q, &e->dev, 0, &e->sd.vq, NULL,
				   e2e_complete), 0);
	e->q.opaque = e;
}

void e2e_fini(struct e2e *e)
{
	T_ASSERT_EQ(e2e_disk.npending, 0);
	T_ASSERT_EQ(blk_queue_inflight(&e->q), 0);
	T_ASSERT_EQ(vdk_vq_inflight(&e->sd.vq), 0);
	T_ASSERT_EQ(e->completed, e->popped);
	blk_queue_fini(&e->q);
	backend_close(e->be);
	simdrv_fini(&e->sd);
}

/* Every segment the library hands out lies inside a region with the right
 * permission: readable ones first, then writable ones. */
static void check_req(struct e2e *e, const struct vdk_req *req)
{
	unsigned int i;

	for (i = 0; i < (unsigned int)req->out_num + req->in_num; i++)
		check_seg(&e->sd.map, &req->iov[i],
			  i < req->out_num ? VDK_PERM_RO : VDK_PERM_WO);
}

int e2e_serve_one(struct e2e *e)
{
	struct vdk_req *req = NULL;
	int ret;

	ret = vdk_vq_pop(&e->sd.vq, blk_req_size(&e->dev), &req);
	e->last_pop = ret;
	if (ret) {
		T_ASSERT(!req);
		T_ASSERT(ret == -EAGAIN || ret == -EIO || ret == -ENODEV);
		if (ret == -EIO) {
			T_ASSERT(vdk_vq_broken(&e->sd.vq));
			fprintf(stderr, "refused: %s\n", vdk_last_error());
		}
		return ret;
	}
	e->popped++;
	check_req(e, req);
	blk_queue_handle_req(&e->q, req);
	return 0;
}

unsigned int e2e_serve(struct e2e *e)
{
	unsigned int before = e->popped;

	simdrv_publish(&e->sd);
	while (!e2e_serve_one(e))
		;
	T_ASSERT(vdk_vq_notify(&e->sd.vq) >= 0);
	return e->popped - before;
}

int e2e_used(struct e2e *e, uint32_t *id, uint32_t *len)
{
	uint16_t idx = le16toh(__atomic_load_n(&e->sd.used->idx,
					       __ATOMIC_ACQUIRE));
	const struct vring_used_elem *u;

	if (idx == e->sd.last_used)
		return -EAGAIN;
	u = &e->sd.used->ring[e->sd.last_used & (e->sd.num - 1)];
	*id = le32toh(u->id);
	*len = le32toh(u->len);
	/* A chain simdrv_add() made goes back to its free list. */
	if (*id < e->sd.num && e->sd.chain_len[*id])
		return simdrv_get_used(&e->sd, id, len);
	e->sd.last_used++;
	return 0;
}

void e2e_expect_used(struct e2e *e, uint32_t id, uint32_t len)
{
	uint32_t got_id, got_len;

	T_ASSERT_EQ(e2e_used(e, &got_id, &got_len), 0);
	T_ASSERT_EQ(got_id, id);
	T_ASSERT_EQ(got_len, len);
}

void e2e_expect_no_used(struct e2e *e)
{
	uint32_t id, len;

	T_ASSERT_EQ(e2e_used(e, &id, &len), -EAGAIN);
}

/* ---- driver memory ---- */

uint64_t e2e_buf(struct e2e *e, size_t len, uint8_t fill)
{
	uint64_t iova = simdrv_buf(&e->sd, len ? len : 1);
	uint8_t *tmp;

	if (!len)
		return iova;
	tmp = malloc(len);
	T_ASSERT(tmp);
	memset(tmp, fill, len);
	simdrv_write(&e->sd, iova, tmp, len);
	free(tmp);
	return iova;
}

uint64_t e2e_hdr(struct e2e *e, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h;
	uint64_t iova = simdrv_buf(&e->sd, sizeof(h));

	h_hdr(&h, type, sector);
	simdrv_write(&e->sd, iova, &h, sizeof(h));
	return iova;
}

uint8_t e2e_byte(struct e2e *e, uint64_t iova)
{
	uint8_t b;

	simdrv_read(&e->sd, iova, &b, 1);
	return b;
}

bool e2e_all(struct e2e *e, uint64_t iova, size_t len, uint8_t v)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (e2e_byte(e, iova + i) != v)
			return false;
	return true;
}

struct virtio_blk_discard_write_zeroes e2e_range(uint64_t sector, uint32_t num,
						 uint32_t flags)
{
	return h_range(sector, num, flags);
}

uint64_t e2e_ranges(struct e2e *e, const struct virtio_blk_discard_write_zeroes *r,
		    unsigned int n)
{
	size_t len = n * sizeof(*r);
	uint64_t iova = simdrv_buf(&e->sd, len ? len : 1);

	if (len)
		simdrv_write(&e->sd, iova, r, len);
	return iova;
}

uint8_t e2e_rw(struct e2e *e, uint32_t type, uint64_t sector, size_t len,
	       bool indirect, uint64_t *data)
{
	bool wr = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct sim_seg segs[3];
	unsigned int n = 0, head;
	uint64_t d = 0, s;

	segs[n++] = (struct sim_seg){ e2e_hdr(e, type, sector), 16, false };
	if (len) {
		d = e2e_buf(e, len, wr ? 0xee : 0x5a);
		segs[n++] = (struct sim_seg){ d, (uint32_t)len, wr };
	}
	s = e2e_buf(e, 1, 0xff);
	segs[n++] = (struct sim_seg){ s, 1, true };
	head = indirect ? simdrv_add_indirect(&e->sd, segs, n) :
			  simdrv_add(&e->sd, segs, n);
	T_ASSERT_EQ(e2e_serve(e), 1);
	e2e_expect_used(e, head, 1 + (wr ? len : 0));
	if (data)
		*data = d;
	return e2e_byte(e, s);
}

void e2e_map_none(struct e2e *e, uint64_t iova, uint64_t size, int perm)
{
	struct iova_region r = {
		.start = iova,
		.last = iova + size - 1,
		.perm = perm,
	};

	r.va = mmap(NULL, size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	T_ASSERT(r.va != MAP_FAILED);
	r.map_base = r.va;	/* iova_map_destroy() unmaps it */
	r.map_len = size;
	T_ASSERT_EQ(iova_map_add(&e->sd.map, &r), 0);
}

int e2e_main(int argc, char **argv, const struct e2e_case *cases, unsigned int n)
{
	unsigned int i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CASE\n", argv[0]);
		return T_EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		if (!strcmp(argv[1], cases[i].name)) {
			cases[i].fn();
			return T_EXIT_PASS;
		}
	}
	fprintf(stderr, "unknown case %s\n", argv[1]);
	return T_EXIT_FAIL;
}
