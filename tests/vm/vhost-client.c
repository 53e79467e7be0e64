// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vdk-vhost-client: drives a virtio-blk device through /dev/vhost-vdpa-N
 * the way a VMM does, to prove a vduse-blk device attached with --vhost
 * serves a VM.
 *
 *   vdk-vhost-client /dev/vhost-vdpa-N [options]
 *
 * "Guest memory" is a shared memfd mapped through the vhost IOTLB, in
 * several entries at IOVAs unrelated to file offsets, two of them
 * IOVA-contiguous so that buffers straddle an entry boundary.  One split
 * virtqueue carries OUT, FLUSH, IN, GET_ID and invalid requests in varied
 * descriptor layouts, many in flight at once.  Exit 0 pass, 1 fail; every
 * failure names the step that failed on stderr.
 *
 * --read-only: the device must offer VIRTIO_BLK_F_RO; the client ignores
 * it, as a hostile VMM may, and every OUT must fail with IOERR while reads
 * still work.  --corrupt KIND: on a device with two queues, queue 0 gets a
 * malformed chain (a descriptor loop, a next index out of range, or an
 * unmapped address) while queue 1 serves verified I/O; queue 0 must stay
 * stopped until a reset, and serve the data queue 1 wrote after it.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#define BIT(n)		(1ull << (n))
#define SECTOR		512u
#define WAIT_MS		10000	/* a completion later than this is a hang */

/*
 * Guest memory: one memfd, mapped through the IOTLB as four entries.
 * IOVAs deliberately differ from file offsets so that a daemon confusing
 * the two reads the wrong bytes.
 */
#define RING_IOVA	0x100000ull	/* rings and indirect tables */
#define RING_FOFF	0ull
#define RING_LEN	0x10000ull
#define DATA_IOVA	0x40000000ull	/* request slots: two entries, */
#define DATA_FOFF	(RING_FOFF + RING_LEN)	/* IOVA-contiguous */
#define DATA_HALF	0x100000ull
#define LATE_IOVA	0x80000000ull	/* mapped while the queue runs */
#define LATE_FOFF	(DATA_FOFF + 2 * DATA_HALF)
#define LATE_LEN	0x10000ull
#define MEM_LEN		(LATE_FOFF + LATE_LEN)

/* Offsets inside the ring entry. */
#define DESC_OFF	0x0000
#define AVAIL_OFF	0x1000
#define USED_OFF	0x2000
#define IND_OFF		0x3000
#define IND_ENTRIES	4		/* per slot: hdr, 2 data, status */
#define RING_MAX	256		/* what the offsets above have room for */
#define BAD_OFF		0x8000		/* --corrupt: queue 0's ring, */
#define BAD_REQ_OFF	0xc000		/* and its requests' memory */
#define BAD_IOVA	0x7000000000ull	/* never mapped */

/*
 * A slot is one request's memory: header, data, then the status byte right
 * after the data, so that merged layouts are just other descriptors over
 * the same bytes.  Slot STRADDLE_SLOT's data crosses the boundary between
 * the two data entries.
 */
#define NSLOTS		32
#define SLOT_DATA	8192u
#define SLOT_STRIDE	8256u
#define STRADDLE_SLOT	16
#define SLOTS_OFF	(DATA_HALF - STRADDLE_SLOT * SLOT_STRIDE - 1016)

enum layout {
	L_PLAIN,	/* header | data | status */
	L_INDIRECT,	/* the same, in an indirect table */
	L_SPLIT,	/* header | data | data | status, split mid-sector */
	L_MERGED,	/* header+data | status, or header | data+status */
	L_NLAYOUTS,
	L_SEGS,		/* header | seg_max pieces of data | status */
};

struct req {
	uint32_t type;
	uint64_t sector;
	uint32_t len;		/* data bytes */
	enum layout layout;
	uint8_t want;		/* expected status */
	unsigned int slot;
	uint8_t *hdr;		/* data at hdr + 16, status after the data */
	uint16_t head;
	bool done;
	uint32_t used_len;
};

struct opts {
	const char *node;
	uint64_t sectors;
	uint64_t start;
	uint32_t seed;
	uint32_t expect_seed;
	bool check_old;
	bool no_event_idx;
	bool no_indirect;
	bool seg_max_cross;
	uint16_t base;
	const char *id;
	const char *pattern_out;
	bool read_only;
	const char *corrupt;
};

struct drv {
	const struct opts *o;
	int fd, kick_fd, call_fd, mem_fd;
	uint8_t *mem;
	uint64_t backend_features;
	uint64_t features;
	uint8_t status;
	struct virtio_blk_config cfg;
	uint32_t cfg_size;
	uint64_t capacity;
	uint32_t unit;		/* bytes per logical block */
	uint32_t max_bytes;	/* largest request data */
	uint32_t seg_max;
	bool late_mapped;

	unsigned int qindex;	/* the queue the requests go to */
	uint8_t out_want;	/* status every OUT must get */
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, last_used;
	unsigned int next_desc;
	unsigned long nreqs;

	uint8_t *pattern;	/* what the client writes */
};

static const char *step = "start";

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vdk-vhost-client: FAIL in step '%s': ", step);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return -1;
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0)
		return fail("%s: %s", what, strerror(errno));
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool has(const struct drv *d, unsigned int bit)
{
	return d->features & BIT(bit);
}

/* Guest memory is one mapping; every entry is a window of it. */
static uint64_t to_iova(const struct drv *d, const void *p)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - d->mem);

	if (off < RING_FOFF + RING_LEN)
		return RING_IOVA + (off - RING_FOFF);
	if (off < DATA_FOFF + 2 * DATA_HALF)
		return DATA_IOVA + (off - DATA_FOFF);
	return LATE_IOVA + (off - LATE_FOFF);
}

static uint8_t *slot_hdr(const struct drv *d, unsigned int slot)
{
	return d->mem + DATA_FOFF + SLOTS_OFF + (uint64_t)slot * SLOT_STRIDE;
}

/* ---- the pattern ---- */

/* Each sector names itself and the seed, then carries a xorshift stream. */
static void fill_sector(uint8_t *p, uint32_t seed, uint64_t sector)
{
	uint32_t x = seed * 2654435761u ^ (uint32_t)(sector * 40503u) ^
		     (uint32_t)(sector >> 32) ^ 0x9e3779b9u;
	uint64_t s = htole64(sector);
	uint32_t le = htole32(seed);
	unsigned int i;

	if (!x)
		x = 1;
	memcpy(p, &s, 8);
	memcpy(p + 8, &le, 4);
	for (i = 12; i < SECTOR; i += 4) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		memcpy(p + i, &x, 4);
	}
}

static uint8_t *make_pattern(uint32_t seed, uint64_t start, uint64_t n)
{
	uint8_t *buf = malloc(n * SECTOR);
	uint64_t i;

	if (!buf)
		return NULL;
	for (i = 0; i < n; i++)
		fill_sector(buf + i * SECTOR, seed, start + i);
	return buf;
}

/* ---- device setup ---- */

static int set_status(struct drv *d, uint8_t status)
{
	char what[64];
	uint8_t got;

	snprintf(what, sizeof(what), "VHOST_VDPA_SET_STATUS 0x%x", status);
	if (xioctl(d->fd, VHOST_VDPA_SET_STATUS, &status, what))
		return -1;
	if (xioctl(d->fd, VHOST_VDPA_GET_STATUS, &got, "VHOST_VDPA_GET_STATUS"))
		return -1;
	/* VDUSE keeps the old status when the daemon refuses the change. */
	if (got != status)
		return fail("status is 0x%x after setting 0x%x: the device refused it",
			    got, status);
	d->status = status;
	return 0;
}

static int read_config(struct drv *d)
{
	struct vhost_vdpa_config *c;
	uint32_t len = sizeof(d->cfg);
	int ret;

	if (xioctl(d->fd, VHOST_VDPA_GET_CONFIG_SIZE, &d->cfg_size,
		   "VHOST_VDPA_GET_CONFIG_SIZE"))
		return -1;
	if (d->cfg_size < sizeof(d->cfg.capacity))
		return fail("config space of %u bytes has no capacity", d->cfg_size);
	if (len > d->cfg_size)
		len = d->cfg_size;
	c = calloc(1, sizeof(*c) + len);
	if (!c)
		return fail("out of memory");
	c->off = 0;
	c->len = len;
	ret = xioctl(d->fd, VHOST_VDPA_GET_CONFIG, c, "VHOST_VDPA_GET_CONFIG");
	if (!ret)
		memcpy(&d->cfg, c->buf, len);
	free(c);
	return ret;
}

static int init_device(struct drv *d);

static int negotiate(struct drv *d)
{
	uint64_t offered, want;
	uint32_t id;

	step = "open";
	d->fd = open(d->o->node, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return fail("open %s: %s", d->o->node, strerror(errno));
	if (xioctl(d->fd, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER"))
		return -1;

	step = "backend features";
	if (xioctl(d->fd, VHOST_GET_BACKEND_FEATURES, &offered,
		   "VHOST_GET_BACKEND_FEATURES"))
		return -1;
	if (!(offered & BIT(VHOST_BACKEND_F_IOTLB_MSG_V2)))
		return fail("backend features 0x%llx lack IOTLB_MSG_V2",
			    (unsigned long long)offered);
	want = BIT(VHOST_BACKEND_F_IOTLB_MSG_V2) |
	       (offered & BIT(VHOST_BACKEND_F_IOTLB_BATCH));
	if (xioctl(d->fd, VHOST_SET_BACKEND_FEATURES, &want,
		   "VHOST_SET_BACKEND_FEATURES"))
		return -1;
	d->backend_features = want;

	step = "device id";
	if (xioctl(d->fd, VHOST_VDPA_GET_DEVICE_ID, &id, "VHOST_VDPA_GET_DEVICE_ID"))
		return -1;
	if (id != VIRTIO_ID_BLOCK)
		return fail("device id %u, expected %u (block)", id, VIRTIO_ID_BLOCK);
	return init_device(d);
}

/* From a reset device to FEATURES_OK and the config read. */
static int init_device(struct drv *d)
{
	uint64_t offered, want;

	step = "features";
	/* A fresh open or a reset leaves the status at 0. */
	if (xioctl(d->fd, VHOST_VDPA_GET_STATUS, &d->status, "VHOST_VDPA_GET_STATUS"))
		return -1;
	if (d->status)
		return fail("status 0x%x after open or reset, expected 0", d->status);
	if (set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE) ||
	    set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER))
		return -1;
	if (xioctl(d->fd, VHOST_GET_FEATURES, &offered, "VHOST_GET_FEATURES"))
		return -1;
	if (!(offered & BIT(VIRTIO_F_VERSION_1)) ||
	    !(offered & BIT(VIRTIO_F_ACCESS_PLATFORM)))
		return fail("features 0x%llx lack VERSION_1 or ACCESS_PLATFORM",
			    (unsigned long long)offered);
	/* With --read-only RO is not accepted: the device must refuse anyway. */
	if (!!(offered & BIT(VIRTIO_BLK_F_RO)) != d->o->read_only)
		return fail(d->o->read_only ? "the device does not offer RO" :
			    "the device is read-only; this test writes");
	want = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_ACCESS_PLATFORM) |
	       BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) |
	       BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_SIZE_MAX) |
	       BIT(VIRTIO_BLK_F_TOPOLOGY);
	if (d->o->corrupt)
		want |= BIT(VIRTIO_BLK_F_MQ);
	if (!d->o->no_event_idx)
		want |= BIT(VIRTIO_RING_F_EVENT_IDX);
	if (!d->o->no_indirect)
		want |= BIT(VIRTIO_RING_F_INDIRECT_DESC);
	d->features = offered & want;
	if (xioctl(d->fd, VHOST_SET_FEATURES, &d->features, "VHOST_SET_FEATURES"))
		return -1;
	if (set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			  VIRTIO_CONFIG_S_FEATURES_OK))
		return -1;

	step = "config";
	if (read_config(d))
		return -1;
	d->capacity = le64toh(d->cfg.capacity);
	d->unit = SECTOR;
	if (has(d, VIRTIO_BLK_F_BLK_SIZE) && d->cfg_size >=
	    offsetof(struct virtio_blk_config, blk_size) + sizeof(d->cfg.blk_size))
		d->unit = le32toh(d->cfg.blk_size);
	if (d->unit < SECTOR || d->unit > SLOT_DATA / 2 || d->unit % SECTOR)
		return fail("unusable block size %u", d->unit);
	d->max_bytes = SLOT_DATA;
	if (has(d, VIRTIO_BLK_F_SIZE_MAX) && le32toh(d->cfg.size_max) < d->max_bytes)
		d->max_bytes = le32toh(d->cfg.size_max) / d->unit * d->unit;
	if (d->max_bytes < d->unit)
		return fail("size_max %u is below the block size %u",
			    le32toh(d->cfg.size_max), d->unit);
	d->seg_max = has(d, VIRTIO_BLK_F_SEG_MAX) ? le32toh(d->cfg.seg_max) : 1;
	if (!d->seg_max)
		return fail("seg_max is 0");
	if ((d->o->start * SECTOR) % d->unit || (d->o->sectors * SECTOR) % d->unit)
		return fail("--start %llu and --sectors %llu must be multiples of the block size %u",
			    (unsigned long long)d->o->start,
			    (unsigned long long)d->o->sectors, d->unit);
	if (d->o->start > d->capacity || d->o->sectors > d->capacity - d->o->start)
		return fail("sectors %llu+%llu do not fit the capacity %llu",
			    (unsigned long long)d->o->start,
			    (unsigned long long)d->o->sectors,
			    (unsigned long long)d->capacity);
	if (d->o->corrupt && (!has(d, VIRTIO_BLK_F_MQ) ||
			      le16toh(d->cfg.num_queues) < 2))
		return fail("--corrupt needs a device with 2 queues (MQ %s, num_queues %u)",
			    has(d, VIRTIO_BLK_F_MQ) ? "on" : "off",
			    le16toh(d->cfg.num_queues));
	return 0;
}

static int iotlb_msg(struct drv *d, uint8_t type, uint64_t iova, uint64_t size,
		     uint64_t foff)
{
	struct vhost_msg_v2 m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.iotlb.type = type;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = (uint64_t)(uintptr_t)(d->mem + foff);
	m.iotlb.perm = VHOST_ACCESS_RW;
	n = write(d->fd, &m, sizeof(m));
	if (n < 0)
		return fail("IOTLB message type %u [0x%llx +0x%llx]: %s", type,
			    (unsigned long long)iova, (unsigned long long)size,
			    strerror(errno));
	if ((size_t)n != sizeof(m))
		return fail("IOTLB message: short write %zd", n);
	return 0;
}

static int map_entries(struct drv *d);

static int map_memory(struct drv *d)
{
	struct vhost_vdpa_iova_range range;

	step = "guest memory";
	if (xioctl(d->fd, VHOST_VDPA_GET_IOVA_RANGE, &range,
		   "VHOST_VDPA_GET_IOVA_RANGE"))
		return -1;
	if (range.first > RING_IOVA || range.last < LATE_IOVA + LATE_LEN - 1)
		return fail("IOVA range [0x%llx, 0x%llx] cannot hold this layout",
			    (unsigned long long)range.first,
			    (unsigned long long)range.last);
	/* vhost-vdpa skips VMAs that are not shared and file-backed. */
	d->mem_fd = memfd_create("vdk-vhost-guest", MFD_CLOEXEC);
	if (d->mem_fd < 0)
		return fail("memfd_create: %s", strerror(errno));
	if (ftruncate(d->mem_fd, MEM_LEN) < 0)
		return fail("ftruncate: %s", strerror(errno));
	d->mem = mmap(NULL, MEM_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->mem_fd, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		return fail("mmap: %s", strerror(errno));
	}

	return map_entries(d);
}

/* The three entries of guest memory; after a reset, mapped afresh. */
static int map_entries(struct drv *d)
{
	bool batch = d->backend_features & BIT(VHOST_BACKEND_F_IOTLB_BATCH);

	step = "IOTLB update";
	if (batch && iotlb_msg(d, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0))
		return -1;
	if (iotlb_msg(d, VHOST_IOTLB_UPDATE, RING_IOVA, RING_LEN, RING_FOFF) ||
	    iotlb_msg(d, VHOST_IOTLB_UPDATE, DATA_IOVA, DATA_HALF, DATA_FOFF) ||
	    iotlb_msg(d, VHOST_IOTLB_UPDATE, DATA_IOVA + DATA_HALF, DATA_HALF,
		      DATA_FOFF + DATA_HALF))
		return -1;
	if (batch && iotlb_msg(d, VHOST_IOTLB_BATCH_END, 0, 0, 0))
		return -1;
	return 0;
}

static uint16_t *used_event(const struct drv *d)
{
	return &d->avail->ring[d->num];
}

static uint16_t *avail_event(const struct drv *d)
{
	return (uint16_t *)&d->used->ring[d->num];
}

/* The ring of queue @index: the one requests go to. */
static int vring_setup(struct drv *d, unsigned int index, unsigned int num,
		       uint64_t foff, uint16_t base, int kick_fd, int call_fd);

static int setup_ring(struct drv *d, unsigned int index)
{
	uint16_t max;

	step = "vring setup";
	d->qindex = index;
	if (xioctl(d->fd, VHOST_VDPA_GET_VRING_NUM, &max, "VHOST_VDPA_GET_VRING_NUM"))
		return -1;
	if (max < 4)
		return fail("queue size %u is too small", max);
	/* The largest power of two the device and our layout allow. */
	d->num = RING_MAX;
	while (d->num > max)
		d->num >>= 1;

	d->desc = (struct vring_desc *)(d->mem + RING_FOFF + DESC_OFF);
	d->avail = (struct vring_avail *)(d->mem + RING_FOFF + AVAIL_OFF);
	d->used = (struct vring_used *)(d->mem + RING_FOFF + USED_OFF);
	memset(d->mem + RING_FOFF, 0, BAD_OFF);
	/* A non-zero base starts the indexes near the u16 wrap. */
	d->avail_idx = d->last_used = d->o->base;
	d->avail->idx = htole16(d->o->base);
	d->used->idx = htole16(d->o->base);
	*used_event(d) = htole16(d->o->base);

	if (d->kick_fd >= 0)
		close(d->kick_fd);
	if (d->call_fd >= 0)
		close(d->call_fd);
	d->kick_fd = eventfd(0, EFD_CLOEXEC);
	d->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->kick_fd < 0 || d->call_fd < 0)
		return fail("eventfd: %s", strerror(errno));
	return vring_setup(d, index, d->num, RING_FOFF, d->o->base, d->kick_fd,
			   d->call_fd);
}

/* Tells the device where ring @index is, and enables it. */
static int vring_setup(struct drv *d, unsigned int index, unsigned int num,
		       uint64_t foff, uint16_t base, int kick_fd, int call_fd)
{
	struct vhost_vring_state st;
	struct vhost_vring_addr addr;
	struct vhost_vring_file f;

	st.index = index;
	st.num = num;
	if (xioctl(d->fd, VHOST_SET_VRING_NUM, &st, "VHOST_SET_VRING_NUM"))
		return -1;
	memset(&addr, 0, sizeof(addr));
	addr.index = index;
	addr.desc_user_addr = RING_IOVA + foff + DESC_OFF;
	addr.avail_user_addr = RING_IOVA + foff + AVAIL_OFF;
	addr.used_user_addr = RING_IOVA + foff + USED_OFF;
	if (xioctl(d->fd, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR"))
		return -1;
	st.index = index;
	st.num = base;
	if (xioctl(d->fd, VHOST_SET_VRING_BASE, &st, "VHOST_SET_VRING_BASE"))
		return -1;
	f.index = index;
	f.fd = kick_fd;
	if (xioctl(d->fd, VHOST_SET_VRING_KICK, &f, "VHOST_SET_VRING_KICK"))
		return -1;
	f.fd = call_fd;
	if (xioctl(d->fd, VHOST_SET_VRING_CALL, &f, "VHOST_SET_VRING_CALL"))
		return -1;
	/* VDUSE learns which rings are ready only at DRIVER_OK. */
	st.index = index;
	st.num = 1;
	return xioctl(d->fd, VHOST_VDPA_SET_VRING_ENABLE, &st,
		      "VHOST_VDPA_SET_VRING_ENABLE");
}

static int driver_ok(struct drv *d)
{
	step = "DRIVER_OK";
	return set_status(d, d->status | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* ---- requests ---- */

static bool data_writable(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

static void put_desc(struct vring_desc *c, unsigned int *n, const struct drv *d,
		     const void *p, uint32_t len, bool writable)
{
	c[*n].addr = htole64(to_iova(d, p));
	c[*n].len = htole32(len);
	c[*n].flags = htole16(writable ? VRING_DESC_F_WRITE : 0);
	c[*n].next = 0;
	(*n)++;
}

/* The descriptors of @r, unlinked; returns how many. */
static unsigned int build_chain(const struct drv *d, const struct req *r,
				struct vring_desc *c)
{
	bool wr = data_writable(r->type);
	uint8_t *data = r->hdr + sizeof(struct virtio_blk_outhdr);
	uint8_t *status = data + r->len;
	uint32_t pieces, piece, off, a, i;
	unsigned int n = 0;

	if (!r->len) {
		put_desc(c, &n, d, r->hdr, sizeof(struct virtio_blk_outhdr), false);
		put_desc(c, &n, d, status, 1, true);
		return n;
	}
	switch (r->layout) {
	case L_MERGED:
		if (wr) {
			put_desc(c, &n, d, r->hdr, sizeof(struct virtio_blk_outhdr), false);
			put_desc(c, &n, d, data, r->len + 1, true);
		} else {
			put_desc(c, &n, d, r->hdr,
				 sizeof(struct virtio_blk_outhdr) + r->len, false);
			put_desc(c, &n, d, status, 1, true);
		}
		return n;
	case L_SPLIT:
		/* Mid-sector on purpose: segments need not be sector-sized. */
		a = r->len / 2 - 7;
		put_desc(c, &n, d, r->hdr, sizeof(struct virtio_blk_outhdr), false);
		put_desc(c, &n, d, data, a, wr);
		put_desc(c, &n, d, data + a, r->len - a, wr);
		put_desc(c, &n, d, status, 1, true);
		return n;
	case L_SEGS:
		pieces = d->seg_max;
		if (pieces > d->num - 2)
			pieces = d->num - 2;
		if (pieces > r->len)
			pieces = r->len;
		piece = r->len / pieces;
		put_desc(c, &n, d, r->hdr, sizeof(struct virtio_blk_outhdr), false);
		for (i = 0, off = 0; i < pieces; i++, off += piece)
			/* The last piece takes the remainder. */
			put_desc(c, &n, d, data + off,
				 i + 1 < pieces ? piece : r->len - off, wr);
		put_desc(c, &n, d, status, 1, true);
		return n;
	default:
		put_desc(c, &n, d, r->hdr, sizeof(struct virtio_blk_outhdr), false);
		put_desc(c, &n, d, data, r->len, wr);
		put_desc(c, &n, d, status, 1, true);
		return n;
	}
}

static void link_chain(struct vring_desc *c, unsigned int n, unsigned int first)
{
	unsigned int i;

	for (i = 0; i + 1 < n; i++) {
		c[i].flags |= htole16(VRING_DESC_F_NEXT);
		c[i].next = htole16(first + i + 1);
	}
}

/* Writes @r's descriptors and its avail entry; the index comes later. */
static int post(struct drv *d, struct req *r, unsigned int k)
{
	struct vring_desc chain[RING_MAX];	/* pieces + 2 <= num <= RING_MAX */
	struct vring_desc *table;
	unsigned int n;

	n = build_chain(d, r, chain);
	if (r->layout == L_INDIRECT && has(d, VIRTIO_RING_F_INDIRECT_DESC)) {
		table = (struct vring_desc *)(d->mem + RING_FOFF + IND_OFF) +
			r->slot * IND_ENTRIES;
		link_chain(chain, n, 0);
		memcpy(table, chain, n * sizeof(*chain));
		if (d->next_desc + 1 > d->num)
			return fail("internal: out of descriptors");
		r->head = d->next_desc++;
		d->desc[r->head].addr = htole64(to_iova(d, table));
		d->desc[r->head].len = htole32(n * sizeof(*chain));
		d->desc[r->head].flags = htole16(VRING_DESC_F_INDIRECT);
		d->desc[r->head].next = 0;
	} else {
		if (d->next_desc + n > d->num)
			return fail("internal: out of descriptors");
		r->head = d->next_desc;
		link_chain(chain, n, r->head);
		memcpy(&d->desc[r->head], chain, n * sizeof(*chain));
		d->next_desc += n;
	}
	d->avail->ring[(uint16_t)(d->avail_idx + k) % d->num] = htole16(r->head);
	return 0;
}

static int kick(struct drv *d, uint16_t old, uint16_t new)
{
	uint64_t one = 1;
	bool need;

	/* Descriptors and ring entries before the index the device reads. */
	__atomic_store_n(&d->avail->idx, htole16(new), __ATOMIC_RELEASE);
	/* The index must be visible before we read the suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (has(d, VIRTIO_RING_F_EVENT_IDX))
		need = vring_need_event(le16toh(__atomic_load_n(avail_event(d),
								__ATOMIC_RELAXED)),
					new, old);
	else
		need = !(le16toh(__atomic_load_n(&d->used->flags, __ATOMIC_RELAXED)) &
			 VRING_USED_F_NO_NOTIFY);
	if (need && write(d->kick_fd, &one, sizeof(one)) != sizeof(one))
		return fail("kick: %s", strerror(errno));
	return 0;
}

static uint16_t used_idx(const struct drv *d)
{
	return le16toh(__atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE));
}

/* Waits until all @n requests are used, checking every used entry. */
static int reap(struct drv *d, struct req *reqs, unsigned int n)
{
	uint64_t deadline = now_ms() + WAIT_MS, t;
	unsigned int done = 0, i;
	struct pollfd pfd;
	uint64_t cnt;

	while (done < n) {
		while (d->last_used != used_idx(d)) {
			struct vring_used_elem *e =
				&d->used->ring[d->last_used % d->num];
			uint32_t id = le32toh(e->id);

			for (i = 0; i < n; i++)
				if (!reqs[i].done && reqs[i].head == id)
					break;
			if (i == n)
				return fail("used entry %u names descriptor %u, which heads no outstanding request",
					    d->last_used, id);
			reqs[i].done = true;
			reqs[i].used_len = le32toh(e->len);
			d->last_used++;
			done++;
		}
		if (done == n)
			break;
		if (has(d, VIRTIO_RING_F_EVENT_IDX)) {
			/* Ask for a call at the next entry, then look again. */
			__atomic_store_n(used_event(d), htole16(d->last_used),
					 __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (d->last_used != used_idx(d))
				continue;
		}
		t = now_ms();
		if (t >= deadline)
			goto timeout;
		pfd.fd = d->call_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - t)) < 0 && errno != EINTR)
			return fail("poll: %s", strerror(errno));
		if (read(d->call_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			return fail("reading the call eventfd: %s", strerror(errno));
	}
	return 0;

timeout:
	return fail("hang: %u of %u requests completed within %d s (avail idx %u, used idx %u, avail_event %u, used flags 0x%x, last used %u)",
		    done, n, WAIT_MS / 1000, d->avail_idx, used_idx(d),
		    le16toh(*avail_event(d)), le16toh(d->used->flags), d->last_used);
}

/* Fills a request's memory: header, data for OUT, poison for the rest. */
static void prepare(struct req *r, const uint8_t *out)
{
	struct virtio_blk_outhdr h;
	uint8_t *data = r->hdr + sizeof(h);

	h.type = htole32(r->type);
	h.ioprio = 0;
	h.sector = htole64(r->sector);
	memcpy(r->hdr, &h, sizeof(h));
	if (r->type == VIRTIO_BLK_T_OUT && out)
		memcpy(data, out, r->len);
	else if (r->len)
		memset(data, 0xa5, r->len);
	/* Not a valid status: a status the device never wrote shows. */
	data[r->len] = 0xee;
	r->done = false;
	r->used_len = 0;
}

static const char *type_name(uint32_t t)
{
	switch (t) {
	case VIRTIO_BLK_T_IN: return "IN";
	case VIRTIO_BLK_T_OUT: return "OUT";
	case VIRTIO_BLK_T_FLUSH: return "FLUSH";
	case VIRTIO_BLK_T_GET_ID: return "GET_ID";
	default: return "unknown-type";
	}
}

/* Posts @n prepared requests, kicks once, and checks every completion. */
static int run_batch(struct drv *d, struct req *reqs, unsigned int n,
		     int (*while_in_flight)(struct drv *d))
{
	uint16_t old = d->avail_idx;
	unsigned int i;
	uint8_t status;
	uint32_t wlen;

	if (used_idx(d) != d->last_used)
		return fail("used idx %u moved to %u with nothing outstanding",
			    d->last_used, used_idx(d));
	d->next_desc = 0;
	for (i = 0; i < n; i++)
		if (post(d, &reqs[i], i))
			return -1;
	d->avail_idx = old + n;
	if (kick(d, old, d->avail_idx))
		return -1;
	if (while_in_flight && while_in_flight(d))
		return -1;
	if (reap(d, reqs, n))
		return -1;
	d->nreqs += n;

	for (i = 0; i < n; i++) {
		struct req *r = &reqs[i];

		status = r->hdr[sizeof(struct virtio_blk_outhdr) + r->len];
		wlen = 1 + (data_writable(r->type) ? r->len : 0);
		if (status != r->want)
			return fail("%s of %u bytes at sector %llu (layout %d): status %u, expected %u",
				    type_name(r->type), r->len,
				    (unsigned long long)r->sector, r->layout,
				    status, r->want);
		/* Success reports every writable byte; an error at most that. */
		if (r->want == VIRTIO_BLK_S_OK ? r->used_len != wlen : r->used_len > wlen)
			return fail("%s of %u bytes at sector %llu: used length %u, expected %u",
				    type_name(r->type), r->len,
				    (unsigned long long)r->sector, r->used_len, wlen);
	}
	return 0;
}

static int compare(const struct req *r, const uint8_t *want, uint32_t seed)
{
	const uint8_t *got = r->hdr + sizeof(struct virtio_blk_outhdr);
	uint32_t i;

	if (!memcmp(got, want, r->len))
		return 0;
	for (i = 0; i < r->len && got[i] == want[i]; i++)
		;
	return fail("IN of %u bytes at sector %llu (layout %d, slot %u): byte %u (sector %llu +%u) is 0x%02x, expected 0x%02x from seed %u%s",
		    r->len, (unsigned long long)r->sector, r->layout, r->slot, i,
		    (unsigned long long)(r->sector + i / SECTOR), i % SECTOR,
		    got[i], want[i], seed,
		    r->slot == STRADDLE_SLOT ? " (this slot straddles two IOTLB entries)" : "");
}

static int map_late(struct drv *d)
{
	/* A new entry while requests are in flight: memory hotplug. */
	if (iotlb_msg(d, VHOST_IOTLB_UPDATE, LATE_IOVA, LATE_LEN, LATE_FOFF))
		return -1;
	d->late_mapped = true;
	return 0;
}

/*
 * Writes (@write) or reads and compares sectors [start, start + n) against
 * @pat, in batches of up to NSLOTS requests of varying size and layout.
 */
static int rw_pass(struct drv *d, bool write, const uint8_t *pat, uint32_t seed,
		   int (*first_in_flight)(struct drv *d))
{
	struct req reqs[NSLOTS];
	uint64_t pos = 0, total = d->o->sectors * SECTOR;
	unsigned int i, k, depth, max_units = d->max_bytes / d->unit;
	unsigned long nth = 0;
	uint32_t len;

	/* Worst case a request takes 4 ring descriptors. */
	depth = d->num / 4 < NSLOTS ? d->num / 4 : NSLOTS;
	while (pos < total) {
		for (k = 0; k < depth && pos < total; k++, nth++) {
			struct req *r = &reqs[k];

			len = (1 + (nth * 5) % max_units) * d->unit;
			if (len > total - pos)
				len = total - pos;
			r->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
			r->sector = d->o->start + pos / SECTOR;
			r->len = len;
			r->layout = nth % L_NLAYOUTS;
			if (r->layout == L_SPLIT && (d->seg_max < 2 || len < 16))
				r->layout = L_PLAIN;
			r->want = write ? d->out_want : VIRTIO_BLK_S_OK;
			r->slot = k;
			r->hdr = slot_hdr(d, k);
			prepare(r, pat + pos);
			pos += len;
		}
		if (run_batch(d, reqs, k, first_in_flight))
			return -1;
		first_in_flight = NULL;
		if (write)
			continue;
		for (i = 0; i < k; i++)
			if (compare(&reqs[i],
				    pat + (reqs[i].sector - d->o->start) * SECTOR, seed))
				return -1;
	}
	return 0;
}

/*
 * One write with as many data descriptors as seg_max allows.  With
 * --seg-max-cross it sits in the slot straddling two IOTLB entries, so one
 * descriptor crosses the boundary: seg_max counts descriptors, so that must
 * still be accepted (vduse-blk counts the split pieces and refuses it).
 */
static int segs_write(struct drv *d)
{
	unsigned int slot = d->o->seg_max_cross ? STRADDLE_SLOT : 0;
	struct req r;
	uint32_t len = d->max_bytes < 16 * SECTOR ? d->max_bytes : 16 * SECTOR;

	if (len > d->o->sectors * SECTOR)
		len = d->o->sectors * SECTOR;
	len = len / d->unit * d->unit;
	if (d->seg_max < 2 || d->num < 4)
		return 0;
	memset(&r, 0, sizeof(r));
	r.type = VIRTIO_BLK_T_OUT;
	r.sector = d->o->start;
	r.len = len;
	r.layout = L_SEGS;
	r.want = VIRTIO_BLK_S_OK;
	r.slot = slot;
	r.hdr = slot_hdr(d, slot);
	prepare(&r, d->pattern);
	return run_batch(d, &r, 1, NULL);
}

static int flush(struct drv *d)
{
	struct req r;

	if (!has(d, VIRTIO_BLK_F_FLUSH))
		return 0;
	memset(&r, 0, sizeof(r));
	r.type = VIRTIO_BLK_T_FLUSH;
	r.want = VIRTIO_BLK_S_OK;
	r.hdr = slot_hdr(d, 0);
	prepare(&r, NULL);
	return run_batch(d, &r, 1, NULL);
}

static int get_id(struct drv *d)
{
	struct req r;
	char id[VIRTIO_BLK_ID_BYTES + 1];
	unsigned int i;

	memset(&r, 0, sizeof(r));
	r.type = VIRTIO_BLK_T_GET_ID;
	r.len = VIRTIO_BLK_ID_BYTES;
	r.want = VIRTIO_BLK_S_OK;
	/* In the entry mapped while the queue ran, if it was. */
	r.hdr = d->late_mapped ? d->mem + LATE_FOFF + 0x100 : slot_hdr(d, 0);
	prepare(&r, NULL);
	if (run_batch(d, &r, 1, NULL))
		return -1;
	memcpy(id, r.hdr + sizeof(struct virtio_blk_outhdr), VIRTIO_BLK_ID_BYTES);
	id[VIRTIO_BLK_ID_BYTES] = '\0';
	/* NUL padded: nothing but NULs after the first NUL. */
	for (i = strlen(id); i < VIRTIO_BLK_ID_BYTES; i++)
		if (id[i])
			return fail("GET_ID: byte %u is 0x%02x after the terminating NUL",
				    i, (uint8_t)id[i]);
	if (d->o->id && strcmp(id, d->o->id))
		return fail("GET_ID returned '%s', expected '%s'", id, d->o->id);
	printf("vdk-vhost-client: device id '%s'\n", id);
	return 0;
}

/* Requests the device must refuse, all in flight together. */
static int bad_requests(struct drv *d)
{
	struct req reqs[5];
	uint64_t cap = d->capacity, u = d->unit / SECTOR;
	unsigned int i, n = 0;

	memset(reqs, 0, sizeof(reqs));
	reqs[n++] = (struct req){ .type = VIRTIO_BLK_T_IN, .sector = cap,
				  .len = d->unit, .want = VIRTIO_BLK_S_IOERR };
	reqs[n++] = (struct req){ .type = VIRTIO_BLK_T_OUT, .sector = cap,
				  .len = d->unit, .want = VIRTIO_BLK_S_IOERR };
	/* Starts inside, ends outside. */
	reqs[n++] = (struct req){ .type = VIRTIO_BLK_T_IN, .sector = cap - u,
				  .len = 2 * d->unit, .want = VIRTIO_BLK_S_IOERR,
				  .layout = L_INDIRECT };
	reqs[n++] = (struct req){ .type = VIRTIO_BLK_T_OUT, .sector = UINT64_MAX - u + 1,
				  .len = d->unit, .want = VIRTIO_BLK_S_IOERR,
				  .layout = L_MERGED };
	reqs[n++] = (struct req){ .type = 0xff, .want = VIRTIO_BLK_S_UNSUPP };
	for (i = 0; i < n; i++) {
		reqs[i].slot = i;
		reqs[i].hdr = slot_hdr(d, i);
		prepare(&reqs[i], d->pattern);
	}
	return run_batch(d, reqs, n, NULL);
}

static int check_vring_base(struct drv *d)
{
	struct vhost_vring_state st = { .index = d->qindex };

	/* VDUSE asks the daemon for its last_avail_idx. */
	if (xioctl(d->fd, VHOST_GET_VRING_BASE, &st, "VHOST_GET_VRING_BASE"))
		return -1;
	if ((uint16_t)st.num != d->avail_idx)
		return fail("the device reports avail index %u, the driver published %u",
			    st.num, d->avail_idx);
	return 0;
}

static int save_pattern(const struct drv *d)
{
	FILE *f = fopen(d->o->pattern_out, "w");

	if (!f)
		return fail("%s: %s", d->o->pattern_out, strerror(errno));
	if (fwrite(d->pattern, SECTOR, d->o->sectors, f) != d->o->sectors) {
		fclose(f);
		return fail("writing %s failed", d->o->pattern_out);
	}
	if (fclose(f))
		return fail("%s: %s", d->o->pattern_out, strerror(errno));
	return 0;
}

/* ---- malformed rings (--corrupt) ---- */

/* Queue 0's ring in --corrupt mode: only ever posted to by hand. */
struct bad_ring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint8_t *req;		/* request memory, mapped */
	int kick_fd, call_fd;
};

static void bad_desc(struct drv *d, struct bad_ring *b, unsigned int i,
		     uint64_t iova, uint32_t len, uint16_t flags, uint16_t next)
{
	(void)d;
	b->desc[i].addr = htole64(iova);
	b->desc[i].len = htole32(len);
	b->desc[i].flags = htole16(flags);
	b->desc[i].next = htole16(next);
}

/* Posts @head as avail entry @n and kicks. */
static int bad_post(struct bad_ring *b, uint16_t head, uint16_t n)
{
	uint64_t one = 1;

	b->avail->ring[n] = htole16(head);
	__atomic_store_n(&b->avail->idx, htole16(n + 1), __ATOMIC_RELEASE);
	if (write(b->kick_fd, &one, sizeof(one)) != sizeof(one))
		return fail("kick: %s", strerror(errno));
	return 0;
}

/* Puts one malformed chain of @kind at head 0 of queue 0. */
static int corrupt_queue(struct drv *d, struct bad_ring *b, const char *kind)
{
	uint64_t hdr = to_iova(d, b->req), data = hdr + 16, status = data + 512;
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_OUT) };

	memcpy(b->req, &h, sizeof(h));
	if (!strcmp(kind, "loop")) {
		/* Header, data, and back to the header. */
		bad_desc(d, b, 0, hdr, 16, VRING_DESC_F_NEXT, 1);
		bad_desc(d, b, 1, data, 512, VRING_DESC_F_NEXT, 0);
	} else if (!strcmp(kind, "next")) {
		bad_desc(d, b, 0, hdr, 16, VRING_DESC_F_NEXT, d->num + 7);
	} else if (!strcmp(kind, "addr")) {
		bad_desc(d, b, 0, BAD_IOVA, 16, VRING_DESC_F_NEXT, 1);
		bad_desc(d, b, 1, data, 512, VRING_DESC_F_NEXT, 2);
		bad_desc(d, b, 2, status, 1, VRING_DESC_F_WRITE, 0);
	} else {
		return fail("unknown --corrupt kind '%s' (loop, next, addr)", kind);
	}
	return bad_post(b, 0, 0);
}

/*
 * A request the device would serve on a sound queue: a FLUSH (or GET_ID
 * where FLUSH was not negotiated) at head 4.  Posted after the malformed
 * one, it must not complete before the reset.
 */
static int valid_after_break(struct drv *d, struct bad_ring *b)
{
	uint64_t hdr = to_iova(d, b->req + 1024);
	struct virtio_blk_outhdr h = {
		.type = htole32(has(d, VIRTIO_BLK_F_FLUSH) ? VIRTIO_BLK_T_FLUSH
							    : VIRTIO_BLK_T_GET_ID),
	};

	memcpy(b->req + 1024, &h, sizeof(h));
	bad_desc(d, b, 4, hdr, 16, VRING_DESC_F_NEXT, 5);
	bad_desc(d, b, 5, hdr + 16, VIRTIO_BLK_ID_BYTES + 1, VRING_DESC_F_WRITE, 0);
	return bad_post(b, 4, 1);
}

static int run_corrupt(struct drv *d)
{
	struct bad_ring b = { .kick_fd = -1, .call_fd = -1 };
	uint16_t used;
	int ret = -1;

	/* Queue 1 takes the requests; queue 0 gets the malformed ring. */
	if (setup_ring(d, 1))
		return -1;
	step = "queue 0 setup";
	b.desc = (struct vring_desc *)(d->mem + RING_FOFF + BAD_OFF + DESC_OFF);
	b.avail = (struct vring_avail *)(d->mem + RING_FOFF + BAD_OFF + AVAIL_OFF);
	b.used = (struct vring_used *)(d->mem + RING_FOFF + BAD_OFF + USED_OFF);
	b.req = d->mem + RING_FOFF + BAD_REQ_OFF;
	memset(d->mem + RING_FOFF + BAD_OFF, 0, RING_LEN - BAD_OFF);
	b.kick_fd = eventfd(0, EFD_CLOEXEC);
	b.call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b.kick_fd < 0 || b.call_fd < 0) {
		fail("eventfd: %s", strerror(errno));
		goto out;
	}
	if (vring_setup(d, 0, d->num, BAD_OFF, 0, b.kick_fd, b.call_fd) ||
	    driver_ok(d))
		goto out;

	step = "malformed chain on queue 0";
	if (corrupt_queue(d, &b, d->o->corrupt))
		goto out;
	step = "queue 1 serves while queue 0 is broken: write";
	if (rw_pass(d, true, d->pattern, d->o->seed, NULL))
		goto out;
	step = "a valid request on the broken queue 0";
	if (valid_after_break(d, &b))
		goto out;
	step = "queue 1 serves while queue 0 is broken: read back";
	if (rw_pass(d, false, d->pattern, d->o->seed, NULL))
		goto out;
	usleep(500 * 1000);
	used = le16toh(__atomic_load_n(&b.used->idx, __ATOMIC_ACQUIRE));
	if (used) {
		fail("queue 0 completed %u requests: the malformed chain or the one after it was served",
		     used);
		goto out;
	}
	printf("vdk-vhost-client: queue 0 stopped at the %s chain; queue 1 served %lu requests\n",
	       d->o->corrupt, d->nreqs);

	/* A reset, and queue 0 serves again: what queue 1 wrote, verified. */
	step = "reset";
	if (set_status(d, 0))
		goto out;
	step = "IOTLB after reset";
	if (iotlb_msg(d, VHOST_IOTLB_INVALIDATE, RING_IOVA, RING_LEN, RING_FOFF) ||
	    iotlb_msg(d, VHOST_IOTLB_INVALIDATE, DATA_IOVA, 2 * DATA_HALF, DATA_FOFF) ||
	    map_entries(d) || init_device(d) || setup_ring(d, 0) || driver_ok(d))
		goto out;
	step = "queue 0 after the reset: read what queue 1 wrote";
	if (rw_pass(d, false, d->pattern, d->o->seed, NULL))
		goto out;
	step = "queue 0 after the reset: flush and get id";
	if (flush(d) || get_id(d))
		goto out;
	step = "vring base";
	if (check_vring_base(d))
		goto out;
	step = "reset";
	if (set_status(d, 0))
		goto out;
	ret = 0;
out:
	if (b.kick_fd >= 0)
		close(b.kick_fd);
	if (b.call_fd >= 0)
		close(b.call_fd);
	return ret;
}

/* --read-only: every OUT fails, reads (and what they find) are unchanged. */
static int run_read_only(struct drv *d)
{
	uint8_t *old = NULL;
	int ret = -1;

	if (d->o->check_old) {
		old = make_pattern(d->o->expect_seed, d->o->start, d->o->sectors);
		if (!old)
			return fail("out of memory");
		step = "read the existing data";
		if (rw_pass(d, false, old, d->o->expect_seed, NULL))
			goto out;
	}
	step = "writes to a read-only device";
	d->out_want = VIRTIO_BLK_S_IOERR;
	if (rw_pass(d, true, d->pattern, d->o->seed, NULL))
		goto out;
	if (old) {
		step = "read the existing data after the refused writes";
		if (rw_pass(d, false, old, d->o->expect_seed, NULL))
			goto out;
	}
	step = "get id";
	if (get_id(d))
		goto out;
	step = "vring base";
	if (check_vring_base(d))
		goto out;
	step = "reset";
	if (set_status(d, 0))
		goto out;
	printf("vdk-vhost-client: ok: %lu requests; every write to the read-only device failed with IOERR%s\n",
	       d->nreqs, old ? ", the data read before and after is unchanged" : "");
	ret = 0;
out:
	free(old);
	return ret;
}

static int run(struct drv *d)
{
	uint8_t *old;
	int ret;

	if (negotiate(d) || map_memory(d))
		return -1;
	if (d->o->corrupt)
		return run_corrupt(d);
	if (setup_ring(d, 0) || driver_ok(d))
		return -1;
	if (d->o->read_only)
		return run_read_only(d);

	if (d->o->check_old) {
		step = "read back the previous run's data";
		old = make_pattern(d->o->expect_seed, d->o->start, d->o->sectors);
		if (!old)
			return fail("out of memory");
		ret = rw_pass(d, false, old, d->o->expect_seed, NULL);
		free(old);
		if (ret)
			return -1;
	}
	step = "write";
	if (rw_pass(d, true, d->pattern, d->o->seed, NULL))
		return -1;
	step = "write with seg_max segments";
	if (segs_write(d))
		return -1;
	step = "flush";
	if (flush(d))
		return -1;
	step = "read back (IOTLB update in flight)";
	if (rw_pass(d, false, d->pattern, d->o->seed, map_late))
		return -1;
	step = "get id";
	if (get_id(d))
		return -1;
	step = "requests beyond capacity and of unknown type";
	if (bad_requests(d))
		return -1;
	step = "vring base";
	if (check_vring_base(d))
		return -1;
	step = "reset";
	if (set_status(d, 0))
		return -1;
	printf("vdk-vhost-client: ok: %llu sectors at %llu written and read back, %lu requests, features 0x%llx, backend features 0x%llx, ring %u from index %u, block size %u, seg_max %u\n",
	       (unsigned long long)d->o->sectors, (unsigned long long)d->o->start,
	       d->nreqs, (unsigned long long)d->features,
	       (unsigned long long)d->backend_features, d->num, d->o->base,
	       d->unit, d->seg_max);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: vdk-vhost-client /dev/vhost-vdpa-N [options]\n"
"  --sectors N         sectors to write and read back (default 1024)\n"
"  --start S           first sector (default 8)\n"
"  --seed N            pattern seed (default 1)\n"
"  --expect-seed N     first check the sectors hold seed N's pattern\n"
"  --no-event-idx      do not negotiate VIRTIO_RING_F_EVENT_IDX\n"
"  --no-indirect       do not negotiate VIRTIO_RING_F_INDIRECT_DESC\n"
"  --base N            initial ring index, 0..65535 (default 0)\n"
"  --id STR            expect GET_ID to return STR\n"
"  --pattern-out FILE  save the bytes written, for checking the backend\n"
"  --seg-max-cross     let one of seg_max data descriptors cross two IOTLB\n"
"                      entries (vduse-blk refuses that; see segs_write())\n"
"  --read-only         the device offers RO: expect IOERR for every write\n"
"  --corrupt KIND      break queue 0 with KIND (loop, next, addr) while\n"
"                      queue 1 serves; reset; queue 0 must serve again\n");
}

static bool parse_num(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	if (!*s || *end || errno || s[0] == '-' || *out > max) {
		fprintf(stderr, "vdk-vhost-client: %s takes a number up to %llu, not '%s'\n",
			opt, (unsigned long long)max, s);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "sectors", required_argument, NULL, 's' },
		{ "start", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'r' },
		{ "expect-seed", required_argument, NULL, 'e' },
		{ "no-event-idx", no_argument, NULL, 'E' },
		{ "no-indirect", no_argument, NULL, 'I' },
		{ "base", required_argument, NULL, 'b' },
		{ "id", required_argument, NULL, 'i' },
		{ "pattern-out", required_argument, NULL, 'p' },
		{ "seg-max-cross", no_argument, NULL, 'X' },
		{ "read-only", no_argument, NULL, 'R' },
		{ "corrupt", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .sectors = 1024, .start = 8, .seed = 1 };
	struct drv d = { .o = &o, .fd = -1, .kick_fd = -1, .call_fd = -1,
			 .mem_fd = -1, .out_want = VIRTIO_BLK_S_OK };
	uint64_t v;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_num("--sectors", optarg, 1ull << 30, &o.sectors))
				return 1;
			break;
		case 'S':
			if (!parse_num("--start", optarg, 1ull << 40, &o.start))
				return 1;
			break;
		case 'r':
		case 'e':
			if (!parse_num(c == 'r' ? "--seed" : "--expect-seed",
				       optarg, UINT32_MAX, &v))
				return 1;
			if (c == 'r') {
				o.seed = v;
			} else {
				o.expect_seed = v;
				o.check_old = true;
			}
			break;
		case 'E':
			o.no_event_idx = true;
			break;
		case 'I':
			o.no_indirect = true;
			break;
		case 'b':
			if (!parse_num("--base", optarg, UINT16_MAX, &v))
				return 1;
			o.base = v;
			break;
		case 'i':
			o.id = optarg;
			break;
		case 'p':
			o.pattern_out = optarg;
			break;
		case 'X':
			o.seg_max_cross = true;
			break;
		case 'R':
			o.read_only = true;
			break;
		case 'C':
			o.corrupt = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1 || !o.sectors || (o.read_only && o.corrupt)) {
		usage(stderr);
		return 1;
	}
	o.node = argv[optind];

	d.pattern = make_pattern(o.seed, o.start, o.sectors);
	if (!d.pattern) {
		fail("out of memory");
		return 1;
	}
	if (o.pattern_out && save_pattern(&d))
		goto out;
	if (run(&d))
		goto out;
	ret = 0;
out:
	/* Closing the node resets the device and drops the IOTLB. */
	if (d.fd >= 0)
		close(d.fd);
	if (d.kick_fd >= 0)
		close(d.kick_fd);
	if (d.call_fd >= 0)
		close(d.call_fd);
	if (d.mem)
		munmap(d.mem, MEM_LEN);
	if (d.mem_fd >= 0)
		close(d.mem_fd);
	free(d.pattern);
	return ret;
}
