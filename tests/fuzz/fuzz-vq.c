// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz target for the descriptor walker (lib/vq.c): the input becomes the
 * rings and an indirect-table area in simulated driver memory; then we pop
 * until the ring is empty or found broken, push everything back, notify.
 *
 * Every mapping ends against a PROT_NONE guard page, and every segment the
 * library returns is checked to lie inside a mapping, so a walk that strays
 * faults or aborts.  Whatever the rings hold, no more than the queue size
 * may ever be in flight.
 *
 * Input layout (missing bytes read as zero; see gen-corpus.py):
 *   0      queue size: 1 << (byte % 5), i.e. 1..16
 *   1      bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 disable kicks first,
 *          bits 4-7: rounds in which the driver posts the same avail
 *          entries again (after some of the requests came back), so
 *          heads still in flight get posted again
 *   2..3   avail->idx minus the start index (le16)
 *   4..5   start index: last_avail_idx and used->idx (le16)
 *   6      length to push back with every request
 *   7      used_event / avail flags byte
 *   8..    descriptor table (16 entries, 256 bytes; the first num used)
 *   264..  avail ring (16 entries, 32 bytes; the first num used)
 *   296..  contents of the indirect area at FZ_IND_IOVA (up to 4096 bytes)
 *
 * Built two ways: with clang -fsanitize=fuzzer as a libFuzzer target, and
 * with -DVDK_FUZZ_REPLAY as a plain program that replays files or corpus
 * directories given on the command line (run by `meson test`).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "fuzz-common.h"
#include "internal.h"

#define FZ_NUM_MAX	16
#define FZ_DESC_IOVA	0x10000ULL
#define FZ_AVAIL_IOVA	0x20000ULL
#define FZ_USED_IOVA	0x30000ULL
#define FZ_DATA_IOVA	0x100000ULL	/* two RW pages, adjacent in IOVA */
#define FZ_IND_IOVA	0x200000ULL	/* RO */
#define FZ_WO_IOVA	0x300000ULL	/* WO */
#define FZ_PAGE		4096ULL

#define OFF_DESC	8
#define OFF_AVAIL	(OFF_DESC + 16 * FZ_NUM_MAX)
#define OFF_IND		(OFF_AVAIL + 2 * FZ_NUM_MAX)

enum { M_DESC, M_AVAIL, M_USED, M_DATA0, M_DATA1, M_IND, M_WO, M_NR };

/* What the last input did, for the replay driver's report. */
static unsigned int last_popped;
static bool last_broken;

/* One page with a guard page on each side; set up once per process. */
static uint8_t *pages[M_NR];

static void setup_pages(void)
{
	unsigned int i;

	for (i = 0; i < M_NR; i++) {
		uint8_t *p = mmap(NULL, 3 * FZ_PAGE, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED ||
		    mprotect(p + FZ_PAGE, FZ_PAGE, PROT_READ | PROT_WRITE))
			abort();
		pages[i] = p + FZ_PAGE;
	}
}

struct fz {
	struct iova_map map;
	struct vdk_vq vq;
	struct iova_region regs[M_NR];
	unsigned int irqs;
};

/* Region of @len bytes flush against the end of page @m. */
static void add_region(struct fz *f, int m, uint64_t iova, size_t len, int perm)
{
	struct iova_region *r = &f->regs[m];

	r->start = iova;
	r->last = iova + len - 1;
	r->va = pages[m] + FZ_PAGE - len;
	r->map_base = NULL;
	r->perm = perm;
	if (iova_map_add(&f->map, r))
		abort();
}

static void check_iov(const struct fz *f, const struct iovec *iov)
{
	const uint8_t *b = iov->iov_base;
	unsigned int i;

	if (!iov->iov_len)
		abort();	/* zero-length segments are skipped */
	for (i = 0; i < M_NR; i++) {
		const struct iova_region *r = &f->regs[i];
		size_t size = r->last - r->start + 1;

		if (b >= r->va && iov->iov_len <= size &&
		    (size_t)(b - r->va) <= size - iov->iov_len)
			return;
	}
	abort();
}

static int fz_irq(struct vdk_vq *vq)
{
	struct fz *f = container_of(vq, struct fz, vq);

	f->irqs++;
	return 0;
}

#define FZ_OUT_MAX	(2 * FZ_NUM_MAX + 2)

/*
 * Pops until the ring is empty or broken, into @reqs after the @n already
 * out; returns the new count.  Aborts if more than the queue size would
 * be in flight: the bound a driver must not be able to break.
 */
static unsigned int pop_round(struct fz *f, struct vdk_req **reqs,
			      unsigned int n, unsigned int num, int *retp)
{
	unsigned int k;
	int ret = 0;

	while (n < FZ_OUT_MAX) {
		ret = vdk_vq_pop(&f->vq, sizeof(struct vdk_req) + (n & 7), &reqs[n]);
		if (ret == -EAGAIN || ret == -EIO)
			break;
		if (ret)
			abort();
		for (k = 0; k < (unsigned int)reqs[n]->out_num + reqs[n]->in_num;
		     k++)
			check_iov(f, &reqs[n]->iov[k]);
		n++;
		if (n > num || vdk_vq_inflight(&f->vq) != n)
			abort();
	}
	if (ret == -EIO && !vdk_vq_broken(&f->vq))
		abort();
	*retp = ret;
	return n;
}

/* Hands back request @i (push or free, as @how says); keeps @reqs dense. */
static unsigned int give_back(struct fz *f, struct vdk_req **reqs,
			      unsigned int n, unsigned int i, unsigned int how,
			      uint32_t len)
{
	if (how & 1)
		vdk_req_free(&f->vq, reqs[i]);
	else
		vdk_vq_push(&f->vq, reqs[i], len);
	reqs[i] = reqs[n - 1];
	return n - 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	struct vdk_req *reqs[FZ_OUT_MAX];
	unsigned int num, n = 0, i, round, rounds;
	uint8_t b1 = in_byte(data, size, 1), b7 = in_byte(data, size, 7);
	uint64_t features = 0;
	uint16_t start, avail_off;
	size_t extra, alen, ulen;
	struct vring_avail *avail;
	struct vring_used *used;
	int ret = 0;

	if (!pages[0])
		setup_pages();

	num = 1u << (in_byte(data, size, 0) % 5);
	if (b1 & 1)
		features |= 1ULL << VDK_F_EVENT_IDX;
	if (b1 & 2)
		features |= 1ULL << VDK_F_INDIRECT_DESC;
	avail_off = in_byte(data, size, 2) | in_byte(data, size, 3) << 8;
	start = in_byte(data, size, 4) | in_byte(data, size, 5) << 8;
	extra = (b1 & 1) ? 2 : 0;
	alen = 4 + 2 * num + extra;
	ulen = 4 + 8 * num + extra;

	memset(&f, 0, sizeof(f));
	iova_map_init(&f.map, NULL, NULL);
	/* Rings sized exactly, so one entry past the end is a guard page. */
	add_region(&f, M_DESC, FZ_DESC_IOVA, 16 * num, VDK_PERM_RO);
	add_region(&f, M_AVAIL, FZ_AVAIL_IOVA, alen, VDK_PERM_RO);
	add_region(&f, M_USED, FZ_USED_IOVA, (ulen + 3) & ~3ul, VDK_PERM_RW);
	add_region(&f, M_DATA0, FZ_DATA_IOVA, FZ_PAGE, VDK_PERM_RW);
	add_region(&f, M_DATA1, FZ_DATA_IOVA + FZ_PAGE, FZ_PAGE, VDK_PERM_RW);
	add_region(&f, M_IND, FZ_IND_IOVA, FZ_PAGE, VDK_PERM_RO);
	add_region(&f, M_WO, FZ_WO_IOVA, FZ_PAGE, VDK_PERM_WO);

	in_copy(f.regs[M_DESC].va, data, size, OFF_DESC, 16 * num);
	avail = (struct vring_avail *)f.regs[M_AVAIL].va;
	memset(avail, 0, alen);
	in_copy(avail->ring, data, size, OFF_AVAIL, 2 * num);
	avail->idx = htole16((uint16_t)(start + avail_off));
	avail->flags = htole16(b7 & VRING_AVAIL_F_NO_INTERRUPT);
	if (extra)
		avail->ring[num] = htole16((uint16_t)(start + b7));
	used = (struct vring_used *)f.regs[M_USED].va;
	memset(used, 0, f.regs[M_USED].last - f.regs[M_USED].start + 1);
	used->idx = htole16(start);
	in_copy(f.regs[M_IND].va, data, size, OFF_IND, FZ_PAGE);

	f.vq.max_size = FZ_NUM_MAX;
	f.vq.kick_fd = -1;
	f.vq.inject_irq = fz_irq;
	if (vq_init_rings(&f.vq, &f.map, num, FZ_DESC_IOVA, FZ_AVAIL_IOVA,
			  FZ_USED_IOVA, start, features))
		abort();	/* the layout above is always valid */
	if (b1 & 4)
		vdk_vq_enable_kicks(&f.vq, false);

	/* avail_off > num breaks at once; otherwise at most num pops. */
	n = pop_round(&f, reqs, 0, num, &ret);
	last_popped = n;

	/*
	 * The driver posts the same entries again, having had back only
	 * some of what it posted: a head still out may come round again.
	 */
	rounds = b1 >> 4;
	for (round = 0; round < rounds && ret != -EIO; round++) {
		for (i = n; i-- > 0;)
			if ((b7 >> ((i + round) & 7)) & 1)
				n = give_back(&f, reqs, n, i, i + round,
					      in_byte(data, size, 6) * 97u);
		avail->idx = htole16((uint16_t)(le16toh(avail->idx) + avail_off));
		n = pop_round(&f, reqs, n, num, &ret);
		last_popped += n;
	}
	last_broken = vdk_vq_broken(&f.vq);
	while (n)
		n = give_back(&f, reqs, n, n - 1, n, in_byte(data, size, 6) * 97u);
	if (vdk_vq_inflight(&f.vq))
		abort();
	if (vdk_vq_notify(&f.vq) < 0)
		abort();
	vdk_vq_enable_kicks(&f.vq, true);

	vq_reset_rings(&f.vq);
	iova_map_destroy(&f.map);
	return 0;
}

#ifdef VDK_FUZZ_REPLAY
static void report(const char *path)
{
	printf("%s: %u popped%s%s\n", path, last_popped,
	       last_broken ? ", broken: " : "", last_broken ? vdk_last_error() : "");
}

int main(int argc, char **argv)
{
	return fz_replay_main(argc, argv, report);
}
#endif
