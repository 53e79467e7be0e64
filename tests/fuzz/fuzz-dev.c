// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz target for the control-message loop (lib/dev.c): what the VDUSE
 * kernel driver sends the daemon on /dev/vduse/NAME (struct
 * vduse_dev_request) and how the library answers.
 *
 * lib/dev.c and lib/iova.c are built unchanged with fuzz-dev-shim.h in
 * front, so their open/ioctl/read/write/poll/close/eventfd/mmap/munmap
 * calls land here: a simulated kernel with an IOTLB over one memfd, the
 * queue configuration the driver set, and the message queue.  The input is
 * a script: the driver configures queues and posts requests, the kernel
 * changes the IOTLB and sends SET_STATUS, GET_VQ_STATE, UPDATE_IOTLB and
 * unknown messages (possible or not: status bits set in any order, bad
 * queue indexes, inverted ranges, IOTLB changes while queues run, ring
 * addresses and sizes the library did not offer), ioctls, mmap, reads and
 * writes fail, and statuses that clear bits without a reset (which the
 * kernel never sends, and the library refuses).  An application stands
 * behind the ops: it serves started
 * queues between batches of messages, like a queue thread would.
 *
 * Properties checked (abort = finding), besides ASan/UBSan/leaks:
 *  - every message read in full gets exactly one answer, before the next
 *    read, echoing its request_id, with result OK or FAILED, reserved and
 *    unused bytes zero; nothing is written that was not asked for, and
 *    vdk_dev_process() returns the number answered;
 *  - GET_VQ_STATE: a bad index fails; a good one echoes the index and, for
 *    a running queue, the driver's start index plus the chains popped;
 *  - SET_STATUS: the library's status is the one the kernel keeps (the
 *    last status answered OK); status_changed fires once per OK answer
 *    with that status; features_ok sees the kernel's features; after an
 *    OK that sets DRIVER_OK exactly the queues the driver made ready run,
 *    after reset none; a FAILED answer starts nothing;
 *  - unknown types fail and change nothing;
 *  - queue_start only when a SET_STATUS sets DRIVER_OK that was not set,
 *    or for an IOTLB update to restart a queue that ran; start and stop
 *    alternate per queue; no queue runs unless DRIVER_OK was accepted
 *    since the last reset; a started queue has its kick fd registered with
 *    the kernel and its rings mapped where the kernel's IOTLB says now, and
 *    a queue the driver set up starts on the rings and at the index the
 *    driver gave; a stopped one has no kick fd registered;
 *  - UPDATE_IOTLB: once the library has read the messages for the changes
 *    the kernel made, no mapping of the library disagrees with the IOTLB
 *    (range, permission, memory); OK means every running queue still runs,
 *    FAILED that one stopped;
 *  - every fd and mapping the library opens is closed again, the IOTLB fds
 *    at once, all at vdk_dev_close(); no fd closed that it did not open;
 *    no mapping with more access than the IOTLB entry grants; no ioctl
 *    on a queue that does not exist, no interrupt for a stopped queue.
 *
 * Input layout (missing bytes read as zero; see gen-corpus-dev.py):
 *   0      queues: 1 + (b & 3); queue size: 2 << ((b >> 2) & 3)
 *   1      driver features: bit 0 EVENT_IDX, 1 INDIRECT_DESC, 2 VERSION_1,
 *          3 ACCESS_PLATFORM, 4-7 device bits 0-3
 *   2      IOTLB at start: bits 0-1 layout (see set_layout), 4-7 offset
 *          shift in 64-byte units
 *   3      bit q: the driver made queue q ready
 *   4..    operations, 4 bytes each: op, a, b, c (see run_op)
 */
#define VDK_FUZZ_DEV_HARNESS
#include "fuzz-dev-shim.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/vduse.h>
#include <linux/virtio_config.h>

#include "fuzz-common.h"
#include "internal.h"

#define FZ_NQ_MAX	4
#define FZ_PAGE		4096ULL
#define FZ_MEM_PAGES	8
#define FZ_MEM		(FZ_MEM_PAGES * FZ_PAGE)
#define FZ_FILE		(FZ_MEM + FZ_PAGE)	/* room for offset shifts */
#define FZ_IOVA		0x100000ULL
#define FZ_DATA_PAGE	4			/* the driver's data buffers */
#define FZ_ENTRIES	16
#define FZ_MSGS		8			/* a batch before it is processed */
#define FZ_FDS		32
#define FZ_MAPS		64
#define FZ_PEND		16
#define FZ_NAME		"vdk-fuzz-dev"

/* Faults for the next batch (op 7). */
enum {
	FAULT_FEATURES	= 1 << 0,	/* VDUSE_DEV_GET_FEATURES fails */
	FAULT_INFO	= 1 << 1,	/* VDUSE_VQ_GET_INFO fails */
	FAULT_KICKFD	= 1 << 2,	/* assigning a kick fd fails */
	FAULT_GETFD	= 1 << 3,	/* VDUSE_IOTLB_GET_FD fails with EIO */
	FAULT_MMAP	= 1 << 4,
	FAULT_EVENTFD	= 1 << 5,
	FAULT_WRITE	= 1 << 6,	/* the answer comes too late: ENOENT */
};

/* How the read of one message goes (op 9). */
enum { RD_OK, RD_EINTR, RD_SHORT, RD_EIO };

struct kentry {
	uint64_t start, last, offset;
	uint8_t perm;
};

struct kinfo {
	uint32_t num;
	uint64_t desc, driver, device;
	uint16_t avail_index;
	bool ready;
};

struct pmsg {
	struct vduse_dev_request req;
	int rd;			/* RD_* */
	unsigned int short_len;
	bool refuse;		/* features_ok refuses */
};

enum { FD_CTL = 1, FD_DEV, FD_IOTLB, FD_EVENT };

struct fz_fd {
	int fd;
	int kind;
};

struct fz_map {
	uint8_t *addr;
	size_t len;
	uint64_t off;
};

/* The simulated kernel and the application, reset for every input. */
static struct {
	unsigned int nq, qsize;
	uint64_t features;
	struct kentry tlb[FZ_ENTRIES];
	unsigned int ntlb;
	struct kinfo info[FZ_NQ_MAX];
	int kick[FZ_NQ_MAX];		/* the fd the kernel holds, or -1 */
	uint8_t kstatus;		/* the status the kernel keeps */
	bool drv_ok;			/* DRIVER_OK accepted since reset */
	uint8_t sent_status;		/* of the last SET_STATUS queued */
	unsigned int faults;
	bool broken;			/* every read fails from now on */
	/*
	 * IOTLB changes whose UPDATE_IOTLB the library has not read yet:
	 * there its mappings may be stale, as they would be in the kernel.
	 */
	struct { uint64_t lo, hi; } pend[FZ_PEND];
	unsigned int npend;

	struct pmsg q[FZ_MSGS];
	unsigned int nmsg, next;	/* queued; next to read */
	struct pmsg *cur;		/* read, not answered yet */
	bool cur_started[FZ_NQ_MAX];	/* app view when cur was read */
	uint8_t cur_status;
	unsigned int answered, lost;
	uint32_t request_id;

	struct fz_fd fds[FZ_FDS];
	unsigned int nfds;
	struct fz_map maps[FZ_MAPS];
	unsigned int nmaps;
	int dev_fd;

	struct vdk_dev *dev;
	bool app_started[FZ_NQ_MAX];
	uint16_t app_avail[FZ_NQ_MAX];	/* last_avail_idx the app expects */
	unsigned int status_calls;

	/* For the replay report. */
	unsigned int msgs, oks;
} k;

/* The driver's memory, shared with the mappings the library makes. */
static int memfd = -1;
static uint8_t *mem;

static void setup_mem(void)
{
	memfd = (int)syscall(SYS_memfd_create, "fuzz-dev", 0);
	if (memfd < 0 || ftruncate(memfd, FZ_FILE))
		abort();
	mem = mmap(NULL, FZ_FILE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		abort();
}

__attribute__((noreturn, format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz-dev: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (last error: %s)\n", vdk_last_error());
	va_end(ap);
	abort();
}

/* ---- the kernel's IOTLB ---- */

static const struct kentry *tlb_find(uint64_t start, uint64_t last)
{
	unsigned int i;

	for (i = 0; i < k.ntlb; i++)
		if (k.tlb[i].start <= last && start <= k.tlb[i].last)
			return &k.tlb[i];
	return NULL;
}

static void tlb_remove(uint64_t start, uint64_t last)
{
	unsigned int i = 0;

	while (i < k.ntlb) {
		if (k.tlb[i].start <= last && start <= k.tlb[i].last)
			k.tlb[i] = k.tlb[--k.ntlb];
		else
			i++;
	}
}

/* Maps @npages pages from page @p; whatever was there goes. */
static void tlb_add(unsigned int p, unsigned int npages, uint8_t perm,
		    uint64_t shift)
{
	struct kentry *e;

	if (p >= FZ_MEM_PAGES || k.ntlb == FZ_ENTRIES)
		return;
	if (p + npages > FZ_MEM_PAGES)
		npages = FZ_MEM_PAGES - p;
	e = &k.tlb[k.ntlb];
	e->start = FZ_IOVA + p * FZ_PAGE;
	e->last = e->start + npages * FZ_PAGE - 1;
	e->offset = p * FZ_PAGE + shift;
	e->perm = perm;
	tlb_remove(e->start, e->last);
	k.tlb[k.ntlb++] = *e;
}

/*
 * 0: one RW entry over everything; 1: one RW entry per page; 2: the ring
 * pages RW, the data pages read-only; 3: nothing mapped.
 */
static void set_layout(unsigned int mode, uint64_t shift)
{
	unsigned int p;

	k.ntlb = 0;
	switch (mode & 3) {
	case 0:
		tlb_add(0, FZ_MEM_PAGES, VDUSE_ACCESS_RW, shift);
		break;
	case 1:
		for (p = 0; p < FZ_MEM_PAGES; p++)
			tlb_add(p, 1, VDUSE_ACCESS_RW, shift);
		break;
	case 2:
		tlb_add(0, FZ_DATA_PAGE, VDUSE_ACCESS_RW, shift);
		tlb_add(FZ_DATA_PAGE, FZ_MEM_PAGES - FZ_DATA_PAGE,
			VDUSE_ACCESS_RO, shift);
		break;
	}
}

/* Where the driver's @iova..+@len lies in the memfd, or -1 if unmapped. */
static int64_t tlb_offset(uint64_t iova, uint64_t len)
{
	const struct kentry *e = tlb_find(iova, iova);

	if (!e || len == 0 || iova + len - 1 > e->last || iova + len - 1 < iova)
		return -1;
	return (int64_t)(e->offset + (iova - e->start));
}

static void pend_add(uint64_t lo, uint64_t hi)
{
	if (k.npend == FZ_PEND) {
		/* Too much going on: treat everything as changing. */
		k.pend[0].lo = 0;
		k.pend[0].hi = UINT64_MAX;
		k.npend = 1;
		return;
	}
	k.pend[k.npend].lo = lo;
	k.pend[k.npend].hi = hi;
	k.npend++;
}

/* The library read an UPDATE_IOTLB for [@lo, @hi]: what it covers is news. */
static void pend_done(uint64_t lo, uint64_t hi)
{
	unsigned int i = 0;

	while (i < k.npend) {
		if (lo <= k.pend[i].lo && k.pend[i].hi <= hi)
			k.pend[i] = k.pend[--k.npend];
		else
			i++;
	}
}

static bool pending(uint64_t lo, uint64_t hi)
{
	unsigned int i;

	for (i = 0; i < k.npend; i++)
		if (k.pend[i].lo <= hi && lo <= k.pend[i].hi)
			return true;
	return false;
}

/* ---- fds and mappings the library holds ---- */

static struct fz_fd *fd_find(int fd)
{
	unsigned int i;

	for (i = 0; i < k.nfds; i++)
		if (k.fds[i].fd == fd)
			return &k.fds[i];
	return NULL;
}

static int fd_add(int fd, int kind)
{
	if (fd < 0)
		return fd;
	if (k.nfds == FZ_FDS)
		fail("the library holds more than %d fds", FZ_FDS);
	k.fds[k.nfds].fd = fd;
	k.fds[k.nfds].kind = kind;
	k.nfds++;
	return fd;
}

static unsigned int fd_count(int kind)
{
	unsigned int i, n = 0;

	for (i = 0; i < k.nfds; i++)
		n += k.fds[i].kind == kind;
	return n;
}

/* The library mapping that holds [@p, @p + @len), or NULL. */
static const struct fz_map *map_find(const void *p, size_t len)
{
	const uint8_t *b = p;
	unsigned int i;

	for (i = 0; i < k.nmaps; i++) {
		const struct fz_map *m = &k.maps[i];

		if (b >= m->addr && len <= m->len &&
		    (size_t)(b - m->addr) <= m->len - len)
			return m;
	}
	return NULL;
}

/*
 * @p is where the library reads or writes the driver's @iova..+@len: it
 * must be the memory the kernel's IOTLB maps there now.
 */
static void check_fresh(const void *p, uint64_t iova, size_t len,
			const char *what, unsigned int index)
{
	const struct fz_map *m = map_find(p, len);
	int64_t want = tlb_offset(iova, len);

	if (pending(iova, iova + len - 1))
		return;
	if (!m || want < 0 ||
	    m->off + (uint64_t)((const uint8_t *)p - m->addr) != (uint64_t)want)
		fail("queue %u: %s ring at IOVA 0x%llx is not where the IOTLB maps it",
		     index, what, (unsigned long long)iova);
}

static void check_rings(const struct vdk_vq *vq)
{
	size_t extra = vq->event_idx ? 2 : 0;

	if (!vq->desc || !vq->avail || !vq->used || !vq->num)
		fail("queue %u started without rings", vq->index);
	check_fresh(vq->desc, vq->desc_iova, 16 * vq->num, "descriptor",
		    vq->index);
	check_fresh(vq->avail, vq->avail_iova, 4 + 2 * vq->num + extra,
		    "available", vq->index);
	check_fresh(vq->used, vq->used_iova, 4 + 8 * vq->num + extra, "used",
		    vq->index);
}

/* Every region of the library's map is one the IOTLB has now, same memory. */
static void check_map(void)
{
	const struct iova_map *map = &k.dev->map;
	unsigned int i, j;

	for (i = 0; i < map->nr; i++) {
		const struct iova_region *r = &map->regions[i];
		const struct kentry *e = NULL;
		const struct fz_map *m;

		if (pending(r->start, r->last))
			continue;
		for (j = 0; j < k.ntlb; j++)
			if (k.tlb[j].start == r->start && k.tlb[j].last == r->last)
				e = &k.tlb[j];
		if (!e || e->perm != r->perm)
			fail("region 0x%llx-0x%llx perm %d survived an IOTLB update",
			     (unsigned long long)r->start,
			     (unsigned long long)r->last, r->perm);
		m = map_find(r->va, r->last - r->start + 1);
		if (!m || m->off + (uint64_t)(r->va - m->addr) != e->offset)
			fail("region 0x%llx-0x%llx maps the wrong memory",
			     (unsigned long long)r->start,
			     (unsigned long long)r->last);
	}
}

/* ---- the system calls of lib/dev.c and lib/iova.c ---- */

int fz_open(const char *path, int flags, ...)
{
	int fd;

	if (!strcmp(path, "/dev/vduse/control"))
		return fd_add(open("/dev/null", O_RDWR | O_CLOEXEC), FD_CTL);
	if (!strcmp(path, "/dev/vduse/" FZ_NAME)) {
		/* vdk_dev_process() relies on reads that do not block. */
		if (!(flags & O_NONBLOCK) || k.dev_fd >= 0)
			fail("device node opened without O_NONBLOCK or twice");
		fd = fd_add(open("/dev/null", O_RDWR | O_CLOEXEC), FD_DEV);
		k.dev_fd = fd;
		return fd;
	}
	errno = ENOENT;
	return -1;
}

static int fault(unsigned int f, int err)
{
	if (!(k.faults & f))
		return 0;
	errno = err;
	return -1;
}

static int ioctl_dev(unsigned long req, void *arg)
{
	struct vduse_vq_eventfd *efd = arg;
	struct vduse_vq_config *vc = arg;
	struct vduse_vq_info *info = arg;
	struct vduse_iotlb_entry *ent = arg;
	const struct kentry *e;
	struct fz_fd *f;
	uint32_t index;

	switch (req) {
	case VDUSE_VQ_SETUP:
		if (vc->index >= k.nq || vc->max_size != k.qsize)
			fail("VDUSE_VQ_SETUP of queue %u size %u", vc->index,
			     vc->max_size);
		return 0;
	case VDUSE_DEV_GET_FEATURES:
		if (fault(FAULT_FEATURES, EIO))
			return -1;
		*(uint64_t *)arg = k.features;
		return 0;
	case VDUSE_VQ_GET_INFO:
		if (info->index >= k.nq)
			fail("VDUSE_VQ_GET_INFO of queue %u of %u", info->index,
			     k.nq);
		if (fault(FAULT_INFO, EIO))
			return -1;
		index = info->index;
		memset(info, 0, sizeof(*info));
		info->index = index;
		info->num = k.info[index].num;
		info->desc_addr = k.info[index].desc;
		info->driver_addr = k.info[index].driver;
		info->device_addr = k.info[index].device;
		info->split.avail_index = k.info[index].avail_index;
		info->ready = k.info[index].ready;
		return 0;
	case VDUSE_VQ_SETUP_KICKFD:
		if (efd->index >= k.nq)
			fail("kick fd for queue %u of %u", efd->index, k.nq);
		if (efd->fd == VDUSE_EVENTFD_DEASSIGN) {
			k.kick[efd->index] = -1;
			return 0;
		}
		f = fd_find(efd->fd);
		if (!f || f->kind != FD_EVENT)
			fail("kick fd %d is not an eventfd the library opened",
			     efd->fd);
		if (fault(FAULT_KICKFD, EINVAL))
			return -1;
		k.kick[efd->index] = efd->fd;
		return 0;
	case VDUSE_VQ_INJECT_IRQ:
		index = *(uint32_t *)arg;
		if (index >= k.nq || !k.app_started[index])
			fail("interrupt for queue %u, which is not running", index);
		return 0;
	case VDUSE_IOTLB_GET_FD:
		if (ent->start > ent->last)
			fail("VDUSE_IOTLB_GET_FD of an inverted range");
		if (fault(FAULT_GETFD, EIO))
			return -1;
		e = tlb_find(ent->start, ent->last);
		if (!e) {
			errno = EINVAL;
			return -1;
		}
		ent->start = e->start;
		ent->last = e->last;
		ent->offset = e->offset;
		ent->perm = e->perm;
		return fd_add(fcntl(memfd, F_DUPFD_CLOEXEC, 0), FD_IOTLB);
	default:
		fail("unexpected ioctl 0x%lx on the device", req);
	}
}

int fz_ioctl(int fd, unsigned long req, ...)
{
	struct fz_fd *f = fd_find(fd);
	struct vduse_dev_config *dc;
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!f)
		fail("ioctl 0x%lx on fd %d, not the library's", req, fd);
	if (f->kind == FD_DEV)
		return ioctl_dev(req, arg);
	if (f->kind != FD_CTL)
		fail("ioctl 0x%lx on a kick or IOTLB fd", req);
	switch (req) {
	case VDUSE_SET_API_VERSION:
		return 0;
	case VDUSE_CREATE_DEV:
		dc = arg;
		if (dc->vq_num != k.nq || strcmp(dc->name, FZ_NAME))
			fail("VDUSE_CREATE_DEV with the wrong config");
		return 0;
	default:
		fail("unexpected ioctl 0x%lx on the control node", req);
	}
}

/* Checks the answer to k.cur and what the library did for it. */
static void check_answer(const struct vduse_dev_response *resp)
{
	static const uint8_t zero[sizeof(resp->padding)];
	const struct vduse_dev_request *req = &k.cur->req;
	const struct vdk_dev *dev = k.dev;
	bool ok = resp->result == VDUSE_REQ_RESULT_OK;
	bool union_used = false, now_started = false;
	unsigned int i;

	if (resp->request_id != req->request_id)
		fail("answer has request_id %u for request %u",
		     resp->request_id, req->request_id);
	if (resp->result != VDUSE_REQ_RESULT_OK &&
	    resp->result != VDUSE_REQ_RESULT_FAILED)
		fail("answer has result %u", resp->result);
	for (i = 0; i < 4; i++)
		if (resp->reserved[i])
			fail("answer's reserved bytes are not zero");
	for (i = 0; i < k.nq; i++)
		now_started |= k.app_started[i];

	switch (req->type) {
	case VDUSE_GET_VQ_STATE:
		i = req->vq_state.index;
		if (i >= k.nq) {
			if (ok)
				fail("GET_VQ_STATE of queue %u of %u answered OK",
				     i, k.nq);
			break;
		}
		if (!ok)
			fail("GET_VQ_STATE of queue %u failed", i);
		union_used = true;
		if (resp->vq_state.index != i)
			fail("GET_VQ_STATE of queue %u answered for queue %u",
			     i, resp->vq_state.index);
		if (k.app_started[i] &&
		    resp->vq_state.split.avail_index != k.app_avail[i])
			fail("GET_VQ_STATE of queue %u: %u, the driver's queue stands at %u",
			     i, resp->vq_state.split.avail_index,
			     k.app_avail[i]);
		/* The rest of the union is the kernel's business: zero. */
		if (memcmp((const uint8_t *)&resp->vq_state + 6,
			   zero, sizeof(zero) - 6))
			fail("GET_VQ_STATE answer carries stray bytes");
		break;
	case VDUSE_SET_STATUS:
		if (ok && req->s.status && (k.kstatus & ~req->s.status))
			fail("status 0x%x accepted though it clears bits of 0x%x",
			     req->s.status, k.kstatus);
		if (ok) {
			k.kstatus = req->s.status;
			if (req->s.status & VIRTIO_CONFIG_S_DRIVER_OK)
				k.drv_ok = true;
			if (!req->s.status)
				k.drv_ok = false;
			if (k.status_calls != 1)
				fail("status_changed called %u times for one status",
				     k.status_calls);
		} else if (k.status_calls) {
			fail("status_changed called for a refused status");
		}
		if (ok && req->s.status == 0 && (now_started || dev->map.nr))
			fail("reset leaves a queue running or memory mapped");
		if (ok && (req->s.status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		    !(k.cur_status & VIRTIO_CONFIG_S_DRIVER_OK))
			for (i = 0; i < k.nq; i++)
				if (k.app_started[i] != k.info[i].ready)
					fail("DRIVER_OK: queue %u %s, ready %d", i,
					     k.app_started[i] ? "runs" : "stopped",
					     k.info[i].ready);
		if (!ok)
			for (i = 0; i < k.nq; i++)
				if (k.app_started[i] && !k.cur_started[i])
					fail("a refused status started queue %u", i);
		break;
	case VDUSE_UPDATE_IOTLB:
		for (i = 0; i < k.nq; i++) {
			if (ok && k.cur_started[i] && !k.app_started[i])
				fail("IOTLB update answered OK but stopped queue %u", i);
			if (k.app_started[i] && !k.cur_started[i])
				fail("IOTLB update started queue %u", i);
		}
		if (!ok) {
			bool stopped = false;

			for (i = 0; i < k.nq; i++)
				stopped |= k.cur_started[i] && !k.app_started[i];
			if (!stopped)
				fail("IOTLB update failed without a queue stopping");
		}
		break;
	default:
		if (ok)
			fail("unknown request type %u answered OK", req->type);
		if (k.status_calls || dev->status != k.cur_status)
			fail("unknown request type %u changed the status", req->type);
		for (i = 0; i < k.nq; i++)
			if (k.app_started[i] != k.cur_started[i])
				fail("unknown request type %u started or stopped a queue",
				     req->type);
		break;
	}
	if (!union_used &&
	    memcmp(resp->padding, zero, sizeof(zero)))
		fail("answer to type %u carries stray bytes", req->type);

	/* What holds after every message. */
	if (dev->status != k.kstatus)
		fail("library's status 0x%x, the kernel's 0x%x", dev->status,
		     k.kstatus);
	for (i = 0; i < k.nq; i++) {
		const struct vdk_vq *vq = &dev->vqs[i];

		if (vq->started != k.app_started[i])
			fail("queue %u: library says %s, the application was told %s",
			     i, vq->started ? "started" : "stopped",
			     k.app_started[i] ? "started" : "stopped");
		if (vq->started &&
		    (vq->kick_fd < 0 || k.kick[i] != vq->kick_fd))
			fail("queue %u runs without its kick fd registered", i);
		if (!vq->started && (k.kick[i] >= 0 || vq->kick_fd >= 0))
			fail("queue %u stopped but its kick fd is still live", i);
		/*
		 * Queues run only between an accepted DRIVER_OK and the next
		 * reset (a status that drops DRIVER_OK is refused).
		 */
		if (vq->started && !k.drv_ok)
			fail("queue %u runs, no DRIVER_OK since reset (status 0x%x)",
			     i, dev->status);
	}
	if (fd_count(FD_IOTLB))
		fail("an IOTLB fd was left open");
	k.status_calls = 0;
}

ssize_t fz_read(int fd, void *buf, size_t len)
{
	struct pmsg *m;

	if (fd != k.dev_fd)
		return read(fd, buf, len);
	if (k.cur)
		fail("read the next message before answering request %u",
		     k.cur->req.request_id);
	if (len != sizeof(struct vduse_dev_request))
		fail("read of %zu bytes; the kernel refuses less than a request",
		     len);
	if (k.broken) {
		errno = EIO;
		return -1;
	}
	if (k.next == k.nmsg) {
		errno = EAGAIN;
		return -1;
	}
	m = &k.q[k.next];
	switch (m->rd) {
	case RD_EINTR:
		m->rd = RD_OK;
		errno = EINTR;
		return -1;
	case RD_EIO:
		k.broken = true;
		errno = EIO;
		return -1;
	case RD_SHORT:
		/* Lost: the library cannot answer what it did not get. */
		k.next++;
		k.lost++;
		memcpy(buf, &m->req, m->short_len);
		return m->short_len;
	}
	k.next++;
	k.cur = m;
	if (m->req.type == VDUSE_UPDATE_IOTLB)
		pend_done(m->req.iova.start, m->req.iova.last);
	memcpy(k.cur_started, k.app_started, sizeof(k.cur_started));
	k.cur_status = k.dev->status;
	k.status_calls = 0;
	memcpy(buf, &m->req, len);
	return len;
}

ssize_t fz_write(int fd, const void *buf, size_t len)
{
	if (fd != k.dev_fd)
		return write(fd, buf, len);
	if (!k.cur)
		fail("an answer nobody asked for");
	if (len != sizeof(struct vduse_dev_response))
		fail("answer of %zu bytes", len);
	if (k.faults & FAULT_WRITE) {
		/* Timed out: the kernel dropped it and broke the device. */
		k.broken = true;
		k.cur = NULL;
		errno = ENOENT;
		return -1;
	}
	check_answer(buf);
	if (((const struct vduse_dev_response *)buf)->result ==
	    VDUSE_REQ_RESULT_OK)
		k.oks++;
	k.cur = NULL;
	k.answered++;
	return len;
}

int fz_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	if (nfds != 1 || fds->fd != k.dev_fd || timeout)
		return poll(fds, nfds, timeout);
	fds->revents = k.broken ? POLLERR :
		       k.next < k.nmsg ? (fds->events & POLLIN) : 0;
	return fds->revents ? 1 : 0;
}

int fz_close(int fd)
{
	struct fz_fd *f = fd_find(fd);
	unsigned int i;

	if (!f)
		fail("close of fd %d, which the library did not open", fd);
	if (f->kind == FD_DEV)
		k.dev_fd = -1;
	if (f->kind == FD_EVENT)
		for (i = 0; i < k.nq; i++)
			if (k.kick[i] == fd)
				fail("kick fd of queue %u closed while the kernel holds it",
				     i);
	*f = k.fds[--k.nfds];
	return close(fd);
}

int fz_eventfd(unsigned int count, int flags)
{
	if (fault(FAULT_EVENTFD, EMFILE))
		return -1;
	return fd_add(eventfd(count, flags), FD_EVENT);
}

void *fz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct fz_fd *f = fd_find(fd);
	const struct kentry *e;
	void *p;

	if (!f || f->kind != FD_IOTLB)
		fail("mmap of fd %d, not an IOTLB fd", fd);
	/* The entry the library just got: the one holding the offset. */
	for (e = k.tlb; e < k.tlb + k.ntlb; e++)
		if (off <= (off_t)e->offset &&
		    e->offset - off < FZ_PAGE &&
		    len == e->last - e->start + 1 + (e->offset - off))
			break;
	if (e == k.tlb + k.ntlb)
		fail("mmap of [0x%llx, +0x%zx) matches no IOTLB entry",
		     (unsigned long long)off, len);
	if (((prot & PROT_READ) && !(e->perm & VDUSE_ACCESS_RO)) ||
	    ((prot & PROT_WRITE) && !(e->perm & VDUSE_ACCESS_WO)) ||
	    (prot & PROT_EXEC))
		fail("mmap with prot %d of an entry with perm %u", prot, e->perm);
	if (fault(FAULT_MMAP, ENOMEM))
		return MAP_FAILED;
	if (k.nmaps == FZ_MAPS)
		fail("more than %d mappings", FZ_MAPS);
	p = mmap(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return p;
	k.maps[k.nmaps].addr = p;
	k.maps[k.nmaps].len = len;
	k.maps[k.nmaps].off = (uint64_t)off;
	k.nmaps++;
	return p;
}

int fz_munmap(void *addr, size_t len)
{
	unsigned int i;

	for (i = 0; i < k.nmaps; i++)
		if (k.maps[i].addr == addr && k.maps[i].len == len)
			break;
	if (i == k.nmaps)
		fail("munmap of %p+%zu, which the library did not map", addr, len);
	k.maps[i] = k.maps[--k.nmaps];
	return munmap(addr, len);
}

/* ---- the application behind the ops ---- */

static int app_features_ok(struct vdk_dev *dev, uint64_t features)
{
	(void)dev;
	if (!k.cur || k.cur->req.type != VDUSE_SET_STATUS ||
	    !(k.cur->req.s.status & VIRTIO_CONFIG_S_FEATURES_OK))
		fail("features_ok outside a status with FEATURES_OK");
	if (features != k.features)
		fail("features_ok got 0x%llx, the driver set 0x%llx",
		     (unsigned long long)features,
		     (unsigned long long)k.features);
	return k.cur->refuse ? -EINVAL : 0;
}

static void app_queue_start(struct vdk_dev *dev, struct vdk_vq *vq)
{
	unsigned int i = vq->index;
	bool set_ok;

	if (i >= k.nq || vq != &dev->vqs[i] || k.app_started[i])
		fail("queue_start of queue %u, running already", i);
	if (!k.cur)
		fail("queue_start outside a message");
	/* DRIVER_OK starts queues; an IOTLB update restarts those that ran. */
	set_ok = k.cur->req.type == VDUSE_SET_STATUS &&
		 (k.cur->req.s.status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		 !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK);
	if (!set_ok && !(k.cur->req.type == VDUSE_UPDATE_IOTLB &&
			 k.cur_started[i]))
		fail("queue %u started by type %u, status 0x%x", i,
		     k.cur->req.type, dev->status);
	if (vq->kick_fd < 0 || k.kick[i] != vq->kick_fd)
		fail("queue %u started without its kick fd registered", i);
	check_rings(vq);
	if (k.cur->req.type == VDUSE_SET_STATUS) {
		/* The rings the driver set, from where it said to start. */
		if (vq->num != k.info[i].num || vq->desc_iova != k.info[i].desc ||
		    vq->avail_iova != k.info[i].driver ||
		    vq->used_iova != k.info[i].device ||
		    vq->last_avail_idx != k.info[i].avail_index)
			fail("queue %u started on rings the driver did not set", i);
		k.app_avail[i] = k.info[i].avail_index;
	} else if (vq->last_avail_idx != k.app_avail[i]) {
		fail("queue %u restarted at %u, not where it stood (%u)", i,
		     vq->last_avail_idx, k.app_avail[i]);
	}
	k.app_started[i] = true;
}

static void app_queue_stop(struct vdk_dev *dev, struct vdk_vq *vq)
{
	unsigned int i = vq->index;

	if (i >= k.nq || vq != &dev->vqs[i] || !k.app_started[i] ||
	    !vq->started)
		fail("queue_stop of queue %u, which is not running", i);
	k.app_started[i] = false;
}

static void app_status_changed(struct vdk_dev *dev, uint8_t status)
{
	(void)dev;
	if (!k.cur || k.cur->req.type != VDUSE_SET_STATUS ||
	    k.cur->req.s.status != status)
		fail("status_changed(0x%x) outside its SET_STATUS", status);
	k.status_calls++;
}

static const struct vdk_dev_ops app_ops = {
	.features_ok = app_features_ok,
	.queue_start = app_queue_start,
	.queue_stop = app_queue_stop,
	.status_changed = app_status_changed,
};

/* A queue thread's turn: serve what the driver posted, like tools/ does. */
static void app_serve(void)
{
	struct vdk_req *req;
	unsigned int i, n;
	int ret = 0;

	for (i = 0; i < k.nq; i++) {
		struct vdk_vq *vq = &k.dev->vqs[i];

		if (!k.app_started[i])
			continue;
		/*
		 * Bounded: rings the driver laid over each other can make
		 * every push post a new request.
		 */
		for (n = 0; n < 64; n++) {
			ret = vdk_vq_pop(vq, sizeof(*req), &req);
			if (ret)
				break;
			k.app_avail[i]++;
			vdk_vq_push(vq, req, 0);
		}
		if (ret && ret != -EAGAIN && ret != -EIO)
			fail("vdk_vq_pop on running queue %u: %d", i, ret);
		if (vdk_vq_inflight(vq))
			fail("queue %u has requests in flight after pushing all", i);
		vdk_vq_notify(vq);
	}
}

/* ---- the driver and the kernel ---- */

static void default_info(unsigned int q, bool ready)
{
	uint64_t base = FZ_IOVA + q * FZ_PAGE;

	k.info[q].num = k.qsize;
	k.info[q].desc = base;
	k.info[q].driver = base + 0x400;
	k.info[q].device = base + 0x800;
	k.info[q].avail_index = 0;
	k.info[q].ready = ready;
}

/* Driver memory at @iova, if mapped for @len bytes. */
static void *drv_ptr(uint64_t iova, uint64_t len)
{
	int64_t off = tlb_offset(iova, len);

	return off < 0 || (uint64_t)off + len > FZ_FILE ? NULL : mem + off;
}

/* The driver posts @n one-descriptor requests on queue @q. */
static void drv_post(unsigned int q, unsigned int n)
{
	const struct kinfo *in = &k.info[q];
	uint64_t data = FZ_IOVA + FZ_DATA_PAGE * FZ_PAGE + 64 * q;
	struct vring_desc *d;
	struct vring_avail *a;
	uint16_t idx;

	if (!in->num || in->num > 16 || (in->num & (in->num - 1)))
		return;
	d = drv_ptr(in->desc, 16);
	a = drv_ptr(in->driver, 4 + 2 * in->num);
	if (!d || !a || ((uintptr_t)d & 15) || ((uintptr_t)a & 1))
		return;
	d->addr = htole64(data);
	d->len = htole32(16);
	d->flags = 0;
	d->next = 0;
	idx = le16toh(a->idx);
	while (n--) {
		a->ring[idx & (in->num - 1)] = 0;
		idx++;
	}
	a->idx = htole16(idx);
}

/* An address for a ring: 72-byte steps, so also misaligned ones. */
static uint64_t ring_addr(uint8_t c)
{
	return FZ_IOVA + (uint64_t)c * 72;
}

static void flush(void);

/* Queues a message; a full queue goes to the library first. */
static struct pmsg *msg_new(uint32_t type)
{
	struct pmsg *m;

	if (k.nmsg == FZ_MSGS)
		flush();
	m = &k.q[k.nmsg++];
	memset(m, 0, sizeof(*m));
	m->req.type = type;
	m->req.request_id = k.request_id++;
	k.msgs++;
	return m;
}

static void msg_iotlb(uint64_t start, uint64_t last)
{
	struct pmsg *m = msg_new(VDUSE_UPDATE_IOTLB);

	m->req.iova.start = start;
	m->req.iova.last = last;
}

/* Hands the queued messages to the library until it has read them all. */
static void flush(void)
{
	unsigned int before, lost;
	int ret;

	while (k.next < k.nmsg || !k.nmsg) {
		before = k.answered;
		lost = k.lost;
		ret = vdk_dev_process(k.dev);
		if (k.cur)
			fail("vdk_dev_process returned with request %u unanswered",
			     k.cur->req.request_id);
		if (k.broken) {
			if (ret != -EPIPE)
				fail("broken device: vdk_dev_process gave %d", ret);
			break;
		}
		if (k.lost != lost) {
			if (ret != -EIO)
				fail("short message: vdk_dev_process gave %d", ret);
			/* Unanswered, it times out: the kernel breaks the device. */
			k.broken = true;
			break;
		}
		if (ret < 0 || (unsigned int)ret != k.answered - before ||
		    k.next != k.nmsg)
			fail("vdk_dev_process gave %d for %u answers", ret,
			     k.answered - before);
		break;
	}
	k.nmsg = k.next = 0;
	k.faults = 0;
	if (!k.broken)
		check_map();
	if (!k.broken)
		app_serve();
}

static void op_iotlb(uint8_t a, uint8_t b, uint8_t c)
{
	uint64_t lo = 0, hi = 0, p;
	unsigned int i;

	switch (a & 3) {
	case 0:		/* nothing changed */
		lo = FZ_IOVA + (uint64_t)b * 64;
		hi = lo + (uint64_t)c * 16;
		break;
	case 1:		/* an entry goes */
		if (!k.ntlb)
			return;
		i = b % k.ntlb;
		lo = k.tlb[i].start;
		hi = k.tlb[i].last;
		tlb_remove(lo, hi);
		break;
	case 2:		/* an entry comes, over what was there */
		p = b % FZ_MEM_PAGES;
		lo = FZ_IOVA + p * FZ_PAGE;
		hi = lo + (1 + (c & 3)) * FZ_PAGE - 1;
		for (i = 0; i < k.ntlb; i++) {
			if (k.tlb[i].start <= hi && lo <= k.tlb[i].last) {
				lo = k.tlb[i].start < lo ? k.tlb[i].start : lo;
				hi = k.tlb[i].last > hi ? k.tlb[i].last : hi;
			}
		}
		tlb_add(p, 1 + (c & 3), 1 + (c >> 2) % 3, (c >> 4) * 64);
		break;
	case 3:		/* a new map altogether */
		lo = 0;
		hi = UINT64_MAX;
		set_layout(c, (c >> 4) * 64);
		break;
	}
	if (a & 3)
		pend_add(lo, hi);
	switch ((a >> 2) & 3) {
	case 0:
		msg_iotlb(lo, hi);
		break;
	case 1:
		msg_iotlb(0, UINT64_MAX);
		break;
	case 2:		/* wider than the change */
		msg_iotlb(lo > c ? lo - c : 0,
			  hi + b * FZ_PAGE < hi ? UINT64_MAX : hi + b * FZ_PAGE);
		break;
	case 3:		/* nonsense first, inverted or beside, then the range */
		p = FZ_IOVA + (uint64_t)c * 256;
		msg_iotlb(p, p - b - 1);
		msg_iotlb(lo, hi);
		break;
	}
}

static void op_info(uint8_t a, uint8_t b, uint8_t c)
{
	struct kinfo *in = &k.info[a % k.nq];

	switch (b & 7) {
	case 0:
		in->ready = c & 1;
		break;
	case 1:		/* also sizes the library did not offer */
		in->num = c & 0x80 ? c & 0x7f : c ? 1u << (c % 6) : 0;
		break;
	case 2:
		in->desc = ring_addr(c);
		break;
	case 3:
		in->driver = ring_addr(c);
		break;
	case 4:
		in->device = ring_addr(c);
		break;
	case 5:
		in->avail_index = (uint16_t)(c * 257);
		break;
	case 6:
		k.features ^= 1ULL << (c % 64);
		break;
	case 7:
		default_info(a % k.nq, c & 1);
		break;
	}
}

/*
 * One operation; @op's low nibble says which:
 *   0 SET_STATUS a, or'ed with the bits sent before (0: reset); b bit 0:
 *     features_ok refuses
 *   1 GET_VQ_STATE of queue a, or with b bit 7 of queue (c << 24 | b << 8 | a)
 *   2 IOTLB change and UPDATE_IOTLB (see op_iotlb)
 *   3 a message of unknown type 3 + (c << 16 | b << 8 | a)
 *   4 the driver changes queue a's config (see op_info)
 *   5 the driver posts b % 8 + 1 requests on queue a
 *   6 the batch so far goes to the library
 *   7 faults for the batch: a (FAULT_*)
 *   8 the next message's read: a % 4 (RD_*), short by c bytes
 *   9 the next message has request_id (c << 16 | b << 8 | a)
 *   10-15: the batch goes to the library
 */
static void run_op(uint8_t op, uint8_t a, uint8_t b, uint8_t c)
{
	static struct pmsg pre;
	struct pmsg *m = NULL;

	switch (op & 15) {
	case 0:
		/*
		 * Bits in any order; mostly like the kernel (virtio core and
		 * vhost-vdpa), which never clears one except by reset (0),
		 * and sometimes not (the library must refuse those).
		 */
		m = msg_new(VDUSE_SET_STATUS);
		k.sent_status = a ? (c & 1 ? a : a | k.sent_status) : 0;
		m->req.s.status = k.sent_status;
		m->refuse = b & 1;
		break;
	case 1:
		m = msg_new(VDUSE_GET_VQ_STATE);
		m->req.vq_state.index = b & 0x80 ?
				(uint32_t)c << 24 | (uint32_t)b << 8 | a : a;
		break;
	case 2:
		op_iotlb(a, b, c);
		break;
	case 3:
		m = msg_new(3 + ((uint32_t)c << 16 | (uint32_t)b << 8 | a));
		break;
	case 4:
		op_info(a, b, c);
		break;
	case 5:
		drv_post(a % k.nq, b % 8 + 1);
		break;
	case 7:
		k.faults |= a;
		break;
	case 8:
		pre.rd = a & 3;
		pre.short_len = c % sizeof(struct vduse_dev_request);
		break;
	case 9:
		pre.req.request_id = (uint32_t)c << 16 | (uint32_t)b << 8 | a;
		pre.req.type = 1;	/* marks it set */
		break;
	default:
		flush();
		break;
	}
	if (m) {
		m->rd = pre.rd;
		m->short_len = pre.short_len;
		if (pre.req.type)
			m->req.request_id = pre.req.request_id;
		memset(&pre, 0, sizeof(pre));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdk_dev_config cfg;
	uint8_t b0 = in_byte(data, size, 0), b1 = in_byte(data, size, 1);
	uint8_t b2 = in_byte(data, size, 2), b3 = in_byte(data, size, 3);
	unsigned int i;
	size_t off;

	if (!mem)
		setup_mem();
	memset(mem, 0, FZ_FILE);
	memset(&k, 0, sizeof(k));
	k.dev_fd = -1;
	k.nq = 1 + (b0 & 3);
	k.qsize = 2u << ((b0 >> 2) & 3);
	k.features = (1ULL << VDK_F_VERSION_1) * !!(b1 & 4) |
		     (1ULL << VDK_F_ACCESS_PLATFORM) * !!(b1 & 8) |
		     (1ULL << VDK_F_EVENT_IDX) * (b1 & 1) |
		     (1ULL << VDK_F_INDIRECT_DESC) * !!(b1 & 2) |
		     (uint64_t)(b1 >> 4);
	set_layout(b2 & 3, (uint64_t)(b2 >> 4) * 64);
	for (i = 0; i < k.nq; i++) {
		default_info(i, (b3 >> i) & 1);
		k.kick[i] = -1;
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.name = FZ_NAME;
	cfg.device_id = 2;
	cfg.num_queues = k.nq;
	cfg.queue_size = k.qsize;
	cfg.ops = &app_ops;
	if (vdk_dev_create(&cfg, &k.dev))
		fail("vdk_dev_create failed");
	if (k.nfds != 1 || fd_count(FD_DEV) != 1)
		fail("vdk_dev_create left %u fds open", k.nfds);

	for (off = 4; off < size; off += 4)
		run_op(data[off], in_byte(data, size, off + 1),
		       in_byte(data, size, off + 2),
		       in_byte(data, size, off + 3));
	flush();

	/* The application has stopped its queues (see vdk_dev_close). */
	memset(k.app_started, 0, sizeof(k.app_started));
	vdk_dev_close(k.dev);
	k.dev = NULL;
	for (i = 0; i < k.nq; i++)
		if (k.kick[i] >= 0)
			fail("kick fd of queue %u still registered after close", i);
	if (k.nfds || k.nmaps)
		fail("%u fds and %u mappings left after vdk_dev_close",
		     k.nfds, k.nmaps);
	return 0;
}

#ifdef VDK_FUZZ_REPLAY
static void report(const char *path)
{
	printf("%s: %u messages, %u answered OK%s\n", path, k.msgs, k.oks,
	       k.broken ? ", device broken" : "");
}

int main(int argc, char **argv)
{
	return fz_replay_main(argc, argv, report);
}
#endif
