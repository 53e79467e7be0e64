// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz target for the descriptor walker and the virtio-blk request parser
 * together: the input becomes the rings, an indirect-table area and the
 * driver's data pages (request headers, discard/write-zeroes segment
 * arrays, buffers); we pop until the ring is empty or found broken, feed
 * every request through blk_queue_handle_req() to a small memory (or null)
 * disk behind a checking shim, and the completion pushes it back, as the daemon's queue thread
 * does.  The driver may also rewrite one descriptor byte after every pop.
 *
 * Checked on every input: each segment lies inside a mapping with the
 * permission its direction needs (and every mapping ends against a
 * PROT_NONE page); each request completes exactly once, with used length
 * 0 or its whole writable area and then a valid status in its last byte;
 * nothing stays in flight.  ASan/UBSan and the leak checker do the rest.
 *
 * Bounded copies: no read or write reaching the disk carries more than
 * the cap (seg_max x size_max, or BLK_DATA_LIMIT for a driver that did not
 * accept them), and the shim copies each one into
 * a bounce buffer as the NBD backend does, through the same per-queue
 * budget (backend_copy_budget, made small here so requests wait), holding
 * them until the ring is empty: the bytes held never exceed the budget,
 * unless one request larger than it is held alone.
 *
 * Input layout (missing bytes read as zero; see gen-corpus-blk.py):
 *   0      queue size: 1 << (byte % 5), i.e. 1..16
 *   1      bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 disable kicks first
 *   2      bit 0 block size 4096, bit 1 read-only, bit 2 driver accepts
 *          VERSION_1 only, bit 3 size_max 4096, bit 4 null backend,
 *          bit 5 driver does not accept FLUSH, bit 6 the device advertises
 *          a queue of 4 (seg_max 2), so with bit 3 the cap is 8 KiB
 *   3      avail->idx minus the start index
 *   4..5   start index: last_avail_idx and used->idx (le16)
 *   6      descriptor-table byte the driver rewrites after each pop
 *   7      value XORed into it (0: no rewriting)
 *   8..    descriptor table (16 entries, 256 bytes; the first num used)
 *   264..  avail ring (16 entries, 32 bytes)
 *   296..  indirect area at FZ_IND_IOVA (512 bytes: 32 descriptors)
 *   808..  first data page at FZ_DATA_IOVA (up to 4096 bytes); the
 *          16 KiB after it hold zeroes
 *
 * Built as a libFuzzer target (clang -fsanitize=fuzzer), and with
 * -DVDK_FUZZ_REPLAY as a program replaying files or directories (meson
 * test replays the committed corpus with it).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "backend-plugin.h"
#include "blk.h"
#include "fuzz-common.h"
#include "internal.h"

#define FZ_NUM_MAX	16
#define FZ_DESC_IOVA	0x10000ULL
#define FZ_AVAIL_IOVA	0x20000ULL
#define FZ_USED_IOVA	0x30000ULL
#define FZ_DATA_IOVA	0x100000ULL	/* RW page, then RW 16 KiB, adjacent */
#define FZ_IND_IOVA	0x200000ULL	/* RO */
#define FZ_WO_IOVA	0x300000ULL	/* device may only write */
#define FZ_RO_IOVA	0x400000ULL	/* device may only read */
#define FZ_PAGE		4096ULL
#define FZ_DATA1_SIZE	(4 * FZ_PAGE)	/* zeroes; room for big buffers */
#define FZ_DISK		"64K"

#define OFF_DESC	8
#define OFF_AVAIL	(OFF_DESC + 16 * FZ_NUM_MAX)
#define OFF_IND		(OFF_AVAIL + 2 * FZ_NUM_MAX)
#define IND_LEN		512
#define OFF_DATA	(OFF_IND + IND_LEN)

enum { M_DESC, M_AVAIL, M_USED, M_DATA0, M_DATA1, M_IND, M_WO, M_RO, M_NR };

#include "registry.h"


/* What the last input did, for the replay driver's report. */
static unsigned int last_popped, last_dropped;
static bool last_broken;

/* Each region's memory, with a guard page on either side. */
static uint8_t *pages[M_NR];

static size_t mem_size(int m)
{
	return m == M_DATA1 ? FZ_DATA1_SIZE : FZ_PAGE;
}

static void setup_pages(void)
{
	unsigned int i;

	for (i = 0; i < M_NR; i++) {
		size_t size = mem_size(i);
		uint8_t *p = mmap(NULL, size + 2 * FZ_PAGE, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED ||
		    mprotect(p + FZ_PAGE, size, PROT_READ | PROT_WRITE))
			abort();
		pages[i] = p + FZ_PAGE;
	}
}

struct fz {
	struct iova_map map;
	struct vdk_vq vq;
	struct iova_region regs[M_NR];
	struct backend *be;
	struct blk_dev dev;
	struct blk_queue q;
	unsigned int popped;
	unsigned int completed;
	unsigned int dropped;
};

static void quiet(enum msg_level level, const char *msg)
{
}

static void add_region(struct fz *f, int m, uint64_t iova, size_t len, int perm)
{
	struct iova_region *r = &f->regs[m];

	r->start = iova;
	r->last = iova + len - 1;
	/* Flush against the trailing guard page. */
	r->va = pages[m] + mem_size(m) - len;
	r->map_base = NULL;
	r->perm = perm;
	if (iova_map_add(&f->map, r))
		abort();
}

/* Must lie inside one region that grants @perm. */
static void check_iov(const struct fz *f, const struct iovec *iov, int perm)
{
	const uint8_t *b = iov->iov_base;
	unsigned int i;

	if (!iov->iov_len)
		abort();
	for (i = 0; i < M_NR; i++) {
		const struct iova_region *r = &f->regs[i];
		size_t size = r->last - r->start + 1;

		if (b >= r->va && iov->iov_len <= size &&
		    (size_t)(b - r->va) <= size - iov->iov_len) {
			if ((r->perm & perm) != perm)
				abort();
			return;
		}
	}
	abort();
}

/*
 * The disk is the memory or null backend behind a shim that checks what
 * reaches it: the range lies inside the disk, and every data segment inside
 * a mapping the device may write (READ) or read (WRITE).  The memory
 * backend has no guard pages of its own, so this is what catches a range
 * check gone wrong.
 */
static const struct backend_ops *inner;
static struct backend_ops shim_ops;
static struct fz *shim_fz;
static uint64_t disk_size;

/* Bounce copies, as the NBD backend makes them, held until shim_drain(). */
#define SHIM_BUDGET	8192
struct shim_held {
	struct backend_io *io;
	void *buf;
};
static struct backend_copy_budget shim_copy;
static struct shim_held shim_held[2 * FZ_NUM_MAX];
static unsigned int shim_nheld;
static void *shim_queue;

/* A request got its bytes: copy it, and hold it. */
static void shim_hold(void *queue, struct backend_io *io)
{
	void *buf = malloc(io->len);

	if ((shim_copy.held > shim_copy.max && shim_copy.held != io->len) ||
	    shim_copy.peak > (shim_copy.max > shim_fz->q.max_data ?
			      shim_copy.max : shim_fz->q.max_data) || !buf ||
	    shim_nheld == sizeof(shim_held) / sizeof(shim_held[0]))
		abort();
	if (io->op == BACKEND_OP_WRITE)
		iov_to_buf(io->iov, io->iovcnt, 0, buf, io->len);
	shim_held[shim_nheld++] = (struct shim_held){ io, buf };
}

static void shim_run(void *queue, struct backend_io *io)
{
	void (*op)(void *, struct backend_io *) = NULL;

	switch (io->op) {
	case BACKEND_OP_READ: op = inner->read; break;
	case BACKEND_OP_WRITE: op = inner->write; break;
	case BACKEND_OP_FLUSH: op = inner->flush; break;
	case BACKEND_OP_DISCARD: op = inner->discard; break;
	case BACKEND_OP_WRITE_ZEROES: op = inner->write_zeroes; break;
	}
	if (!op)
		abort();	/* the core only sends what was offered */
	op(queue, io);
}

/* The "server" answers, oldest first; freed room lets waiting ones in. */
static void shim_drain(void)
{
	while (shim_nheld) {
		struct shim_held h = shim_held[0];
		uint64_t len = h.io->len;

		memmove(shim_held, shim_held + 1, --shim_nheld * sizeof(shim_held[0]));
		free(h.buf);
		shim_run(shim_queue, h.io);	/* completes it */
		backend_copy_put(&shim_copy, len);
	}
	if (shim_copy.held || shim_copy.wait_head)
		abort();
}

static void shim_io(void *queue, struct backend_io *io)
{
	uint64_t total = 0;
	unsigned int i;

	if (io->offset > disk_size || io->len > disk_size - io->offset ||
	    (io->offset | io->len) % BLK_SECTOR_SIZE)
		abort();
	if (io->op == BACKEND_OP_READ || io->op == BACKEND_OP_WRITE) {
		for (i = 0; i < io->iovcnt; i++) {
			check_iov(shim_fz, &io->iov[i],
				  io->op == BACKEND_OP_READ ? VDK_PERM_WO :
				  VDK_PERM_RO);
			total += io->iov[i].iov_len;
		}
		if (!io->iovcnt || total != io->len)
			abort();
		if (io->len > shim_fz->q.max_data ||
		    io->len > BLK_DATA_LIMIT)
			abort();
		shim_queue = queue;
		/* Else shim_hold() runs from a later backend_copy_put(). */
		if (backend_copy_get(&shim_copy, io))
			shim_hold(queue, io);
		return;
	}
	shim_run(queue, io);
}

static int shim_open(struct fz *f, bool null, const struct backend_open_opts *bo)
{
	inner = null ? backend_null_init() : backend_memory_init();
	shim_ops = *inner;
	shim_ops.read = shim_io;
	shim_ops.write = inner->write ? shim_io : NULL;
	shim_ops.flush = inner->flush ? shim_io : NULL;
	shim_ops.discard = inner->discard ? shim_io : NULL;
	shim_ops.write_zeroes = inner->write_zeroes ? shim_io : NULL;
	shim_fz = f;
	shim_nheld = 0;
	backend_copy_init(&shim_copy, SHIM_BUDGET, shim_hold, NULL);
	if (backend_open_ops(&shim_ops, FZ_DISK, null ? "null:" FZ_DISK :
			     "memory:" FZ_DISK, bo, &f->be))
		return -1;
	disk_size = backend_size(f->be);
	return 0;
}

static void fz_complete(struct blk_queue *q, struct vdk_req *req, uint32_t len)
{
	struct fz *f = q->opaque;
	const struct iovec *wr = req->iov + req->out_num;
	int i;

	f->completed++;
	if (len) {
		if (len != req->in_bytes)
			abort();
		/* The status is the last writable byte. */
		for (i = (int)req->in_num - 1; i >= 0 && !wr[i].iov_len; i--)
			;
		if (i < 0 ||
		    ((uint8_t *)wr[i].iov_base)[wr[i].iov_len - 1] > VIRTIO_BLK_S_UNSUPP)
			abort();
	} else {
		f->dropped++;
	}
	blk_complete_vq(q, req, len);
}

static int fz_irq(struct vdk_vq *vq)
{
	return 0;
}

/* Device and queue over a fresh disk, as the input's byte 2 says. */
static int setup_blk(struct fz *f, uint8_t b2)
{
	struct blk_opts o = {
		.name = "fuzz",
		.block_size = (b2 & 1) ? 4096 : 512,
		.queue_size = (b2 & 64) ? 4 : FZ_NUM_MAX,
		.readonly = b2 & 2,
		.serial = "fuzz-serial",
		.size_max = (b2 & 8) ? 4096 : 0,
	};
	struct backend_open_opts bo = {
		.readonly = o.readonly,
		.block_size = o.block_size,
	};
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1;

	if (shim_open(f, b2 & 16, &bo))
		abort();
	if (blk_dev_init(&f->dev, f->be, &o))
		abort();
	if (!(b2 & 4))
		features |= f->dev.features;
	if (b2 & 32)
		features &= ~(1ULL << VIRTIO_BLK_F_FLUSH);
	/* A 4096-byte device refuses a driver without BLK_SIZE: so be it. */
	if (blk_dev_features_ok(&f->dev, features)) {
		backend_close(f->be);
		return -1;
	}
	if (blk_queue_init(&f->q, &f->dev, 0, &f->vq, NULL, fz_complete))
		abort();
	f->q.opaque = f;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	uint8_t b1 = in_byte(data, size, 1), b2 = in_byte(data, size, 2);
	uint8_t mut_off = in_byte(data, size, 6), mut_val = in_byte(data, size, 7);
	unsigned int num, k;
	uint64_t features = 0;
	uint16_t start, avail_off;
	size_t extra, alen, ulen;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vdk_req *req;
	int ret = 0;

	if (!pages[0]) {
		setup_pages();
		msg_set_sink(quiet);
	}

	num = 1u << (in_byte(data, size, 0) % 5);
	if (b1 & 1)
		features |= 1ULL << VDK_F_EVENT_IDX;
	if (b1 & 2)
		features |= 1ULL << VDK_F_INDIRECT_DESC;
	avail_off = in_byte(data, size, 3);
	start = in_byte(data, size, 4) | in_byte(data, size, 5) << 8;
	extra = (b1 & 1) ? 2 : 0;
	alen = 4 + 2 * num + extra;
	ulen = 4 + 8 * num + extra;

	memset(&f, 0, sizeof(f));
	iova_map_init(&f.map, NULL, NULL);
	add_region(&f, M_DESC, FZ_DESC_IOVA, 16 * num, VDK_PERM_RO);
	add_region(&f, M_AVAIL, FZ_AVAIL_IOVA, alen, VDK_PERM_RO);
	add_region(&f, M_USED, FZ_USED_IOVA, (ulen + 3) & ~3ul, VDK_PERM_RW);
	add_region(&f, M_DATA0, FZ_DATA_IOVA, FZ_PAGE, VDK_PERM_RW);
	add_region(&f, M_DATA1, FZ_DATA_IOVA + FZ_PAGE, FZ_DATA1_SIZE,
		   VDK_PERM_RW);
	add_region(&f, M_IND, FZ_IND_IOVA, FZ_PAGE, VDK_PERM_RO);
	add_region(&f, M_WO, FZ_WO_IOVA, FZ_PAGE, VDK_PERM_WO);
	add_region(&f, M_RO, FZ_RO_IOVA, FZ_PAGE, VDK_PERM_RO);

	in_copy(f.regs[M_DESC].va, data, size, OFF_DESC, 16 * num);
	avail = (struct vring_avail *)f.regs[M_AVAIL].va;
	memset(avail, 0, alen);
	in_copy(avail->ring, data, size, OFF_AVAIL, 2 * num);
	avail->idx = htole16((uint16_t)(start + avail_off));
	used = (struct vring_used *)f.regs[M_USED].va;
	memset(used, 0, f.regs[M_USED].last - f.regs[M_USED].start + 1);
	used->idx = htole16(start);
	in_copy(f.regs[M_IND].va, data, size, OFF_IND, IND_LEN);
	memset(f.regs[M_IND].va + IND_LEN, 0, FZ_PAGE - IND_LEN);
	in_copy(f.regs[M_DATA0].va, data, size, OFF_DATA, FZ_PAGE);
	memset(f.regs[M_DATA1].va, 0, FZ_DATA1_SIZE);
	memset(f.regs[M_WO].va, 0, FZ_PAGE);
	memset(f.regs[M_RO].va, 0xa5, FZ_PAGE);

	f.vq.max_size = FZ_NUM_MAX;
	f.vq.kick_fd = -1;
	f.vq.inject_irq = fz_irq;
	if (vq_init_rings(&f.vq, &f.map, num, FZ_DESC_IOVA, FZ_AVAIL_IOVA,
			  FZ_USED_IOVA, start, features))
		abort();
	if (b1 & 4)
		vdk_vq_enable_kicks(&f.vq, false);
	if (setup_blk(&f, b2))
		goto out_vq;

	/* At most num pops before the ring is empty or found broken. */
	while (f.popped <= num) {
		ret = vdk_vq_pop(&f.vq, blk_req_size(&f.dev), &req);
		if (ret == -EAGAIN || ret == -EIO)
			break;
		if (ret)
			abort();
		f.popped++;
		for (k = 0; k < (unsigned int)req->out_num + req->in_num; k++)
			check_iov(&f, &req->iov[k], k < req->out_num ?
				  VDK_PERM_RO : VDK_PERM_WO);
		/* The driver changes a descriptor behind the device's back. */
		if (mut_val)
			f.regs[M_DESC].va[mut_off % (16 * num)] ^= mut_val;
		blk_queue_handle_req(&f.q, req);
	}
	if (f.popped > num)
		abort();
	shim_drain();
	if (ret == -EIO && !vdk_vq_broken(&f.vq))
		abort();
	/* Nothing is left once the shim has answered everything. */
	if (f.completed != f.popped || blk_queue_inflight(&f.q) ||
	    vdk_vq_inflight(&f.vq))
		abort();
	if ((uint16_t)(le16toh(used->idx) - start) != f.popped)
		abort();
	if (vdk_vq_notify(&f.vq) < 0)
		abort();
	last_popped = f.popped;
	last_dropped = f.dropped;
	last_broken = vdk_vq_broken(&f.vq);

	blk_queue_fini(&f.q);
	backend_close(f.be);
out_vq:
	vq_reset_rings(&f.vq);
	iova_map_destroy(&f.map);
	return 0;
}

#ifdef VDK_FUZZ_REPLAY
static void report(const char *path)
{
	printf("%s: %u served, %u unanswerable%s%s\n", path, last_popped,
	       last_dropped, last_broken ? "; queue broken: " : "",
	       last_broken ? vdk_last_error() : "");
	/* An input whose features are refused never sets these. */
	last_popped = last_dropped = 0;
	last_broken = false;
}

int main(int argc, char **argv)
{
	return fz_replay_main(argc, argv, report);
}
#endif
