// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The vhost-user bridge: a virtio block device whose rings are walked by
 * a vhost-user-blk back-end (qemu-storage-daemon, SPDK, ...) rather than
 * by this process.  At each DRIVER_OK the back-end gets the VDUSE
 * domain's file as its memory table, the rings' addresses, the queue's
 * kick eventfd itself and a call eventfd; the only per-I/O work left here
 * is turning the back-end's call signals into VDUSE interrupts, one per
 * batch of signals.  Data never passes through this process.
 *
 * Addresses: with virtio_vdpa the kernel's DMA addresses are IOVAs in one
 * domain whose file offset equals the IOVA, so a single region (guest
 * address = IOVA = file offset) covers the bounce buffer and every ring.
 * Ring addresses are "user addresses" in vhost-user: they are the IOVA
 * plus a base that changes at every hand-over, because ring pages do not
 * survive a reset and a back-end that sees an unchanged table keeps its
 * old mapping (DPDK does).
 *
 * The back-end going away: the device pauses (kicks pile up in the
 * eventfd, nothing completes).  The main thread notices the hang-up
 * within a second, tries again every second, and at reconnection hands
 * every running ring over again, starting at the ring's used index: the
 * requests the old back-end had taken and not completed are read again
 * and served by the new one.  That is exact for a back-end that completes
 * in order, or for one that offers INFLIGHT_SHMFD: its record of what is
 * in flight is kept here and given to the new process, which resubmits
 * from it.  See the README for what it means otherwise.
 *
 * Thread model: open and close in the command's process; init, describe,
 * watch, info, stats and resize on the daemon's main thread; features_ok
 * on the control thread; the queue ops on each queue's thread (init and
 * fini while the control thread waits for them).  struct bridge.lock
 * serialises the connection and the queue table between them.  The main
 * thread never calls daemon_set_config() with it held: the control
 * thread holds the daemon's dev_lock while it waits for a queue thread
 * that needs it.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge-model.h"
#include "clock.h"
#include "vhost-user.h"

/* What VDUSE's IOVA domain spans with virtio_vdpa (bounce + coherent). */
#define DOMAIN_SIZE	((1ULL << 30) + (128ULL << 20))
/* User addresses of hand-over generation g start at g << GEN_SHIFT. */
#define GEN_SHIFT	40
/* A back-end's answer: more than this and it counts as gone. */
#define BRIDGE_TIMEOUT_MS 5000
/* The config space we pass on: up to the write-zeroes fields. */
#define BLK_CONFIG_SIZE	(offsetof(struct virtio_blk_config, unused1) + \
			 sizeof(((struct virtio_blk_config *)0)->unused1))

/*
 * The virtio-blk features a bridged device may offer: those whose config
 * fields lie within BLK_CONFIG_SIZE, minus CONFIG_WCE (VDUSE refuses it),
 * plus the ring features the back-end walks for us.  Packed rings are
 * left out: libvhost-user (qemu-storage-daemon) has only split rings.
 */
#define BRIDGE_BLK_FEATURES ((1ULL << VIRTIO_BLK_F_SIZE_MAX) |		\
			     (1ULL << VIRTIO_BLK_F_SEG_MAX) |		\
			     (1ULL << VIRTIO_BLK_F_GEOMETRY) |		\
			     (1ULL << VIRTIO_BLK_F_RO) |		\
			     (1ULL << VIRTIO_BLK_F_BLK_SIZE) |		\
			     (1ULL << VIRTIO_BLK_F_FLUSH) |		\
			     (1ULL << VIRTIO_BLK_F_TOPOLOGY) |		\
			     (1ULL << VIRTIO_BLK_F_MQ) |		\
			     (1ULL << VIRTIO_BLK_F_DISCARD) |		\
			     (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |	\
			     (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |	\
			     (1ULL << VIRTIO_RING_F_EVENT_IDX) |	\
			     (1ULL << VIRTIO_F_VERSION_1))

/* Features the bridge adds itself; the back-end never sees them. */
#define LOCAL_FEATURES ((1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_BLK_F_RO))

#define WANT_PROTOCOL ((1ULL << VU_PF_MQ) | (1ULL << VU_PF_REPLY_ACK) |	\
		       (1ULL << VU_PF_BACKEND_REQ) | (1ULL << VU_PF_CONFIG) |	\
		       (1ULL << VU_PF_INFLIGHT_SHMFD))

struct bridge_q;

struct bridge {
	const struct blk_model_opts *opts;
	const char *path;		/* the back-end's socket */
	struct daemon *d;
	unsigned int nr_queues;

	/* Protects everything below. */
	pthread_mutex_t lock;
	struct vu_conn conn;		/* conn.fd < 0 while the back-end is gone */
	uint64_t driver_features;	/* set at FEATURES_OK */
	struct virtio_blk_config config;
	struct bridge_q **qs;		/* running queues, per index */
	unsigned int running;
	bool mem_sent;			/* the table of this generation is there */
	/*
	 * The back-end's record of requests in flight, from the first
	 * hand-over after a driver start to the next reset (fd -1: none),
	 * given to every back-end process of that span: a new one resubmits
	 * exactly what the old one had not completed.
	 */
	struct vu_inflight inflight;
	uint64_t gen;
	uint64_t *done_retired;		/* completions of stopped rings, per queue */
	uint64_t *failed_retired;	/* and their I/O errors */
	uint64_t next_try_ns;		/* reconnection */
	uint64_t lost_ns;		/* when the back-end went, 0 if there */
	unsigned int reconnects;
	bool failing;			/* --io-timeout ran out */
	struct msg_ratelimit rl;
};

/* One running queue; its counters are read under bridge.lock. */
struct bridge_q {
	struct bridge *b;
	struct vdk_vq *vq;
	unsigned int index;
	int call_fd;
	bool handed;			/* the back-end has the ring */
	/*
	 * The back-end is gone for longer than --io-timeout, or the device is
	 * being removed without it: this thread answers the ring itself,
	 * every request with an I/O error.  Set under bridge.lock.
	 */
	atomic_bool failing;
	bool taken;			/* ring taken back (fail_ring); under the lock */
	_Atomic uint64_t done;		/* completions seen (used index moves) */
	uint16_t last_used;		/* queue thread only */
	_Atomic uint64_t irqs;
	_Atomic uint64_t failed;	/* answered with an I/O error here */
	struct msg_ratelimit rl;	/* queue thread's lines */
};

static uint64_t mq_inflight(void *p);

static bool is_bridge_spec(const char *spec)
{
	return !strncmp(spec, BRIDGE_PREFIX, strlen(BRIDGE_PREFIX));
}

const struct device_model *model_for_spec(const char *spec)
{
	return spec && is_bridge_spec(spec) ? &bridge_model : &blk_model;
}

/* ---- command side ---- */

/*
 * Connects and negotiates; with the lock held once the daemon runs.
 * 0, or -errno with @why.
 */
static int bridge_connect(struct bridge *b, char *why, size_t why_len)
{
	struct virtio_blk_config cfg;
	int ret;

	ret = vu_connect(&b->conn, b->path);
	if (ret == 0)
		ret = vu_negotiate(&b->conn, WANT_PROTOCOL);
	if (ret == 0)
		ret = vu_get_config(&b->conn, &cfg, BLK_CONFIG_SIZE);
	if (ret < 0) {
		snprintf(why, why_len, "vhost-user back-end %s: %s", b->path, b->conn.err);
		vu_close(&b->conn);
		return ret;
	}
	if (!(b->conn.features & (1ULL << VIRTIO_F_VERSION_1))) {
		snprintf(why, why_len, "vhost-user back-end %s does not offer VIRTIO_F_VERSION_1 "
			 "(features 0x%" PRIx64 "); legacy devices cannot be bridged",
			 b->path, b->conn.features);
		vu_close(&b->conn);
		return -EPROTONOSUPPORT;
	}
	b->config = cfg;
	return 0;
}

static int model_open(const void *opts, void **m, char *why, size_t why_len)
{
	const struct blk_model_opts *o = opts;
	struct bridge *b;
	int ret;

	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	b->opts = o;
	b->path = o->backend + strlen(BRIDGE_PREFIX);
	b->conn.timeout_ms = BRIDGE_TIMEOUT_MS;
	vu_init(&b->conn);
	b->inflight.fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	if (!*b->path) {
		snprintf(why, why_len, "vhost-user: needs the back-end's socket, "
			 "e.g. vhost-user:/run/qsd/disk.sock");
		ret = -EINVAL;
		goto err;
	}
	if (o->fail_io) {
		/* del --force of a dead daemon's device: nothing to connect to. */
		*m = b;
		return 0;
	}
	ret = bridge_connect(b, why, why_len);
	if (ret < 0)
		goto err;
	*m = b;
	return 0;
err:
	pthread_mutex_destroy(&b->lock);
	free(b);
	return ret;
}

static void model_close(void *m)
{
	struct bridge *b = m;

	if (!b)
		return;
	vu_close(&b->conn);
	if (b->inflight.fd >= 0)
		close(b->inflight.fd);
	pthread_mutex_destroy(&b->lock);
	free(b->qs);
	free(b->done_retired);
	free(b->failed_retired);
	free(b);
}

/* The back-end holds the data: a new bridge finds it there. */
static const char *model_lost_with_daemon(const void *opts, char *buf, size_t len)
{
	(void)opts;
	(void)buf;
	(void)len;
	return NULL;
}

static int model_conf_write(FILE *f, const void *opts)
{
	return blk_model.conf_write(f, opts);
}

static void model_conf_reset(void *opts)
{
	blk_model.conf_reset(opts);
}

static int model_conf_key(void *opts, const char *key, const char *v)
{
	return blk_model.conf_key(opts, key, v);
}

static int model_conf_end(void *opts)
{
	return blk_model.conf_end(opts);
}

/* ---- daemon, main thread ---- */

static int model_init(void *m, struct daemon *d, struct vdk_dev_config *cfg,
		      char *why, size_t why_len)
{
	struct bridge *b = m;
	const struct blk_model_opts *o = b->opts;
	uint64_t f = b->conn.features & BRIDGE_BLK_FEATURES;
	unsigned int n = 1;

	if (d->opts->vhost) {
		snprintf(why, why_len, "a vhost-user back-end cannot be bridged to vhost_vdpa; "
			 "give the VM the back-end's socket directly");
		return -EINVAL;
	}
	if (o->fail_io) {
		snprintf(why, why_len, "the bridge cannot stand in for a dead daemon");
		return -EOPNOTSUPP;
	}
	if (f & (1ULL << VIRTIO_BLK_F_MQ)) {
		n = b->conn.queue_num ? b->conn.queue_num : 1;
		if (b->config.num_queues)
			n = n < b->config.num_queues ? n : b->config.num_queues;
	}
	/* --queues asks for at most that many; the back-end may serve fewer. */
	if (o->num_queues && o->num_queues < n)
		n = o->num_queues;
	if (o->readonly)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	if (n > 1)
		f |= 1ULL << VIRTIO_BLK_F_MQ;
	b->config.num_queues = n;
	b->nr_queues = n;
	b->d = d;
	b->qs = calloc(n, sizeof(*b->qs));
	b->done_retired = calloc(n, sizeof(*b->done_retired));
	b->failed_retired = calloc(n, sizeof(*b->failed_retired));
	if (!b->qs || !b->done_retired || !b->failed_retired) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	cfg->device_id = VIRTIO_ID_BLOCK;
	cfg->features = f;
	cfg->flags = VDK_DEV_RINGS_ELSEWHERE;
	cfg->num_queues = n;
	cfg->queue_size = o->queue_size;
	cfg->config = &b->config;
	cfg->config_size = BLK_CONFIG_SIZE;
	return 0;
}

static void model_describe(void *m, char *buf, size_t len)
{
	struct bridge *b = m;

	snprintf(buf, len, "%s, %" PRIu64 " bytes, %u queue%s, rings walked by the back-end",
		 b->opts->backend, (uint64_t)b->config.capacity << 9, b->nr_queues,
		 b->nr_queues == 1 ? "" : "s");
}

/*
 * Hands the memory table over once per generation; lock held.  The file
 * is found through a ring (@iova) since the bounce buffer's mapping only
 * appears with the first I/O; it is the same file, offset = IOVA.
 */
static int hand_memory(struct bridge *b, uint64_t iova)
{
	struct vu_region r;
	uint64_t start, last, offset;
	int fd, ret;

	if (b->mem_sent)
		return 0;
	if (b->conn.protocol & (1ULL << VU_PF_INFLIGHT_SHMFD)) {
		if (b->inflight.fd < 0) {
			ret = vu_get_inflight_fd(&b->conn, b->nr_queues, b->opts->queue_size,
						 &b->inflight);
			if (ret < 0)
				return ret;
		}
		ret = vu_set_inflight_fd(&b->conn, &b->inflight);
		if (ret < 0)
			return ret;
	}
	ret = vu_set_features(&b->conn, (b->driver_features & b->conn.features &
					 ~LOCAL_FEATURES) |
				      (1ULL << VU_F_PROTOCOL_FEATURES));
	if (ret < 0)
		return ret;
	fd = vdk_dev_iova_fd(b->d->dev, iova, &start, &last, &offset);
	if (fd < 0) {
		snprintf(b->conn.err, sizeof(b->conn.err), "%s", vdk_last_error());
		return fd;
	}
	if (offset != start || last >= DOMAIN_SIZE) {
		close(fd);
		snprintf(b->conn.err, sizeof(b->conn.err),
			 "the VDUSE domain maps IOVA 0x%" PRIx64 "-0x%" PRIx64 " at file offset 0x%"
			 PRIx64 "; a bridge needs offset = IOVA within 0x%llx", start, last,
			 offset, DOMAIN_SIZE);
		return -EIO;
	}
	b->gen++;
	r.guest_addr = 0;
	r.size = DOMAIN_SIZE;
	r.user_addr = b->gen << GEN_SHIFT;
	r.mmap_offset = 0;
	ret = vu_set_mem_table(&b->conn, &r, &fd, 1);
	close(fd);
	if (ret == 0)
		b->mem_sent = true;
	return ret;
}

/*
 * Hands ring @q (at @r) to the back-end, from @base; lock held.  0, or
 * -errno with b->conn.err.
 */
static int hand_ring(struct bridge *b, struct bridge_q *q,
		     const struct vdk_vq_rings *r, unsigned int base)
{
	struct vu_vring_addr a;
	uint64_t ua = b->gen << GEN_SHIFT;
	int ret;

	if (r->desc >= DOMAIN_SIZE || r->avail >= DOMAIN_SIZE || r->used >= DOMAIN_SIZE) {
		snprintf(b->conn.err, sizeof(b->conn.err),
			 "queue %u's rings lie outside the VDUSE domain", q->index);
		return -EIO;
	}
	a.desc = ua + r->desc;
	a.avail = ua + r->avail;
	a.used = ua + r->used;
	/*
	 * The call fd first: a back-end may start on the ring as soon as it
	 * has the kick fd (with kicks pending, at once), and libvhost-user
	 * gives up on a connection whose ring completes with no call fd.
	 */
	ret = vu_set_vring_call(&b->conn, q->index, q->call_fd);
	if (ret == 0)
		ret = vu_set_vring_num(&b->conn, q->index, r->num);
	if (ret == 0)
		ret = vu_set_vring_base(&b->conn, q->index, base);
	if (ret == 0)
		ret = vu_set_vring_addr(&b->conn, q->index, &a);
	if (ret == 0)
		ret = vu_set_vring_kick(&b->conn, q->index, vdk_vq_kick_fd(q->vq));
	if (ret == 0)
		ret = vu_set_vring_enable(&b->conn, q->index, true);
	if (ret == 0)
		q->handed = true;
	return ret;
}

/* The back-end is gone (or misbehaved): pause until it is back; lock held. */
static void lose_backend(struct bridge *b, const char *why)
{
	unsigned int i;

	msg_log(MSG_WARN, "vhost-user back-end %s lost: %s; I/O waits until it is back",
		b->path, why);
	vu_close(&b->conn);
	b->mem_sent = false;
	for (i = 0; i < b->nr_queues; i++)
		if (b->qs[i])
			b->qs[i]->handed = false;
	b->lost_ns = now_ns();
	b->next_try_ns = 0;
}

/* Back again: every running ring resumes at its used index; lock held. */
static void resume_backend(struct bridge *b)
{
	struct vdk_vq_rings r;
	unsigned int i;
	uint16_t avail, used;
	int ret = 0;

	for (i = 0; i < b->nr_queues && ret == 0; i++) {
		struct bridge_q *q = b->qs[i];

		if (!q)
			continue;
		/* Whatever this thread answered is in the used ring by now. */
		atomic_store(&q->failing, false);
		q->taken = false;
		ret = vdk_vq_rings(q->vq, &r);
		if (ret == 0)
			ret = hand_memory(b, r.desc);
		if (ret == 0)
			ret = vdk_vq_ring_indices(q->vq, &avail, &used);
		if (ret == 0) {
			ret = hand_ring(b, q, &r, used);
			/* Kicks went to the old back-end: make the new one look. */
			if (ret == 0)
				eventfd_write(vdk_vq_kick_fd(q->vq), 1);
			if (ret == 0 && avail != used)
				msg_log(MSG_INFO, "queue %u: %u request%s in flight when the back-end "
					"went are submitted again", i, (uint16_t)(avail - used),
					(uint16_t)(avail - used) == 1 ? "" : "s");
		}
	}
	if (ret < 0) {
		lose_backend(b, b->conn.err);
		return;
	}
	msg_log(MSG_INFO, "vhost-user back-end %s is back after %.1f s; I/O resumes",
		b->path, (now_ns() - b->lost_ns) / 1e9);
	b->lost_ns = 0;
	b->failing = false;
	b->reconnects++;
}

/*
 * Tries to reach the back-end again, once a second; lock held.  A
 * back-end that comes back with another size (restarted over a grown
 * file) changes the device's: the new capacity, or 0, goes in *@cap.
 */
static void try_reconnect(struct bridge *b, uint64_t *old, uint64_t *cap)
{
	char why[300];
	uint64_t now = now_ns();
	uint64_t f = b->conn.features, missing;
	uint64_t was = b->config.capacity;

	if (now < b->next_try_ns)
		return;
	b->next_try_ns = now + NSEC_PER_SEC;
	if (bridge_connect(b, why, sizeof(why)) < 0) {
		msg_log_ratelimited(&b->rl, MSG_INFO, "%s", why);
		return;
	}
	/* The device keeps the queue count it was made with. */
	b->config.num_queues = b->nr_queues;
	if (b->config.capacity != was) {
		*old = was;
		*cap = b->config.capacity;
	}
	/* The driver negotiated with the old back-end: the new one must do as much. */
	missing = b->driver_features & ~b->conn.features & ~LOCAL_FEATURES;
	if (missing) {
		msg_log_ratelimited(&b->rl, MSG_ERR,
				    "the back-end at %s came back without features 0x%" PRIx64
				    " the driver uses; waiting for one that has them", b->path,
				    missing);
		b->conn.features = f;
		vu_close(&b->conn);
		return;
	}
	resume_backend(b);
}

/*
 * Has queue @q's thread answer its ring itself; lock held, and the
 * back-end no longer walks it (lost, or take_ring_back()).
 */
static void start_failing(struct bridge_q *q)
{
	if (atomic_load(&q->failing))
		return;
	atomic_store(&q->failing, true);
	/* Wakes the thread, which polls this fd while the back-end has the ring. */
	eventfd_write(q->call_fd, 1);
}

/*
 * --io-timeout: once the back-end has been gone that long, what waits
 * fails, and so does everything after it until the back-end is back.
 * Lock held.
 */
static void check_io_timeout(struct bridge *b)
{
	uint32_t t = b->opts->io_timeout_s;
	unsigned int i;

	if (!t || b->failing || !b->lost_ns ||
	    now_ns() - b->lost_ns < (uint64_t)t * NSEC_PER_SEC)
		return;
	b->failing = true;
	msg_log(MSG_ERR, "the vhost-user back-end has been gone for %u s (--io-timeout): "
		"I/O fails with an error until it is back", t);
	for (i = 0; i < b->nr_queues; i++)
		if (b->qs[i])
			start_failing(b->qs[i]);
}

/* Passes a capacity change on to the driver; lock NOT held (see top). */
static void pass_capacity(struct bridge *b, uint64_t old, uint64_t cap)
{
	uint64_t le = cap;

	if (daemon_set_config(b->d, offsetof(struct virtio_blk_config, capacity),
			      &le, sizeof(le)) < 0) {
		msg_log(MSG_ERR, "passing the back-end's new size on failed: %s",
			vdk_last_error());
		return;
	}
	msg_log(MSG_INFO, "the back-end changed its size from %" PRIu64 " to %" PRIu64
		" bytes; so did the device", old << 9, cap << 9);
}

/* Reads the back-end's config again; the new capacity, or 0 if unchanged. */
static uint64_t refresh_config(struct bridge *b, uint64_t *old)
{
	struct virtio_blk_config cfg;

	*old = b->config.capacity;
	if (b->conn.fd < 0 || vu_get_config(&b->conn, &cfg, BLK_CONFIG_SIZE) < 0)
		return 0;
	if (cfg.capacity == b->config.capacity)
		return 0;
	b->config.capacity = cfg.capacity;
	return cfg.capacity;
}

static void model_watch(void *m)
{
	struct bridge *b = m;
	uint64_t old = 0, cap = 0;
	uint32_t req;
	int ret;

	pthread_mutex_lock(&b->lock);
	if (b->conn.fd >= 0 && vu_hung_up(&b->conn))
		lose_backend(b, "it closed the connection");
	if (b->conn.fd < 0) {
		try_reconnect(b, &old, &cap);
		if (b->conn.fd < 0)
			check_io_timeout(b);
	} else {
		do {
			ret = vu_backend_request(&b->conn, &req);
			if (ret == 0 && req == VU_BACKEND_CONFIG_CHANGE)
				cap = refresh_config(b, &old);
			else if (ret == 0 && req)
				msg_log_ratelimited(&b->rl, MSG_INFO,
						    "ignored request %u of the back-end", req);
		} while (ret == 0 && req);
	}
	pthread_mutex_unlock(&b->lock);
	if (cap)
		pass_capacity(b, old, cap);
}

static void model_info(void *m, struct out *o, bool tsv)
{
	struct bridge *b = m;
	uint64_t size;
	bool up;

	pthread_mutex_lock(&b->lock);
	size = (uint64_t)b->config.capacity << 9;
	up = b->conn.fd >= 0;
	pthread_mutex_unlock(&b->lock);
	if (tsv) {
		out_printf(o, "%s\t%" PRIu64 "\t%u", b->opts->backend, size, b->nr_queues);
		return;
	}
	out_printf(o, "\"backend\": ");
	out_json_str(o, b->opts->backend);
	out_printf(o, ", \"size\": %" PRIu64 ", \"block_size\": %u, \"queues\": %u, "
		   "\"queue_size\": %u, \"read_only\": %s, \"backend_connected\": %s, "
		   "\"reconnects\": %u", size,
		   b->config.blk_size ? b->config.blk_size : 512, b->nr_queues,
		   b->opts->queue_size, b->opts->readonly ? "true" : "false",
		   up ? "true" : "false", b->reconnects);
}

/*
 * Counts come from the rings' indices: requests completed (the used
 * index's moves) and in flight (avail - used), no per-request work.
 */
static void model_stats(void *m, struct out *o, bool text)
{
	struct bridge *b = m;
	uint64_t t_done = 0, t_infl = 0, t_irqs = 0, t_err = 0;
	unsigned int i;

	if (text)
		out_printf(o, "%-6s %12s %6s %10s %8s\n", "queue", "requests", "infl",
			   "irqs", "errors");
	else
		out_printf(o, "\"queues\": [");
	pthread_mutex_lock(&b->lock);
	for (i = 0; i < b->nr_queues; i++) {
		struct bridge_q *q = b->qs[i];
		uint64_t done = b->done_retired[i], err = b->failed_retired[i];
		uint64_t infl = 0, irqs = 0;

		if (q) {
			done += atomic_load(&q->done);
			err += atomic_load(&q->failed);
			irqs = atomic_load(&q->irqs);
			infl = mq_inflight(q);
		}
		t_done += done;
		t_infl += infl;
		t_irqs += irqs;
		t_err += err;
		if (text)
			out_printf(o, "%-6u %12" PRIu64 " %6" PRIu64 " %10" PRIu64 " %8" PRIu64 "\n",
				   i, done, infl, irqs, err);
		else
			out_printf(o, "%s{\"index\": %u, \"running\": %s, \"stats\": "
				   "{\"requests\": %" PRIu64 ", \"inflight\": %" PRIu64
				   ", \"interrupts\": %" PRIu64 ", \"errors\": %" PRIu64 "}}",
				   i ? ", " : "", i, q ? "true" : "false", done, infl, irqs, err);
	}
	pthread_mutex_unlock(&b->lock);
	if (text)
		out_printf(o, "%-6s %12" PRIu64 " %6" PRIu64 " %10" PRIu64 " %8" PRIu64 "\n",
			   "total", t_done, t_infl, t_irqs, t_err);
	else
		out_printf(o, "], \"total\": {\"requests\": %" PRIu64 ", \"inflight\": %"
			   PRIu64 ", \"interrupts\": %" PRIu64 ", \"errors\": %" PRIu64 "}",
			   t_done, t_infl, t_irqs, t_err);
}

/*
 * The size is the back-end's to change; it tells us through its request
 * channel, or shows it at a reconnection.  `resize` checks that the
 * back-end now has @arg and passes it on, for a back-end that does not
 * send config changes.
 */
static void model_resize(void *m, const char *arg, struct out *o)
{
	struct bridge *b = m;
	uint64_t size, old = 0, cap;
	char why[300];

	if (blk_model_parse_size(arg, "size", &size, why, sizeof(why)) < 0) {
		out_printf(o, "ERR %s\n", why);
		return;
	}
	pthread_mutex_lock(&b->lock);
	if (b->conn.fd < 0) {
		pthread_mutex_unlock(&b->lock);
		out_printf(o, "ERR the vhost-user back-end is not connected\n");
		return;
	}
	cap = refresh_config(b, &old);
	if (!cap)
		cap = old;
	pthread_mutex_unlock(&b->lock);
	if (cap != old)
		pass_capacity(b, old, cap);
	if (cap << 9 != size) {
		out_printf(o, "ERR the back-end serves %" PRIu64 " bytes; the size is the "
			   "back-end's to change, and the device follows it when the back-end "
			   "reports a config change or reconnects\n", cap << 9);
		return;
	}
	out_printf(o, "OK\n");
}

/* ---- control thread ---- */

static int model_features_ok(void *m, uint64_t features)
{
	struct bridge *b = m;

	pthread_mutex_lock(&b->lock);
	b->driver_features = features;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* ---- queue threads ---- */

static int mq_init(void *model, struct queue_thread *qt, unsigned int index,
		   struct vdk_vq *vq, struct io_uring *ring, void **mqp,
		   char *why, size_t why_len)
{
	struct bridge *b = model;
	struct bridge_q *q;
	uint16_t avail;
	int ret;

	(void)qt;
	(void)ring;
	q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	q->b = b;
	q->vq = vq;
	q->index = index;
	q->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->call_fd < 0) {
		snprintf(why, why_len, "eventfd: %m");
		free(q);
		return -EMFILE;
	}
	vdk_vq_ring_indices(vq, &avail, &q->last_used);
	pthread_mutex_lock(&b->lock);
	b->qs[index] = q;
	b->running++;
	if (b->failing)
		atomic_store(&q->failing, true);
	if (b->conn.fd >= 0) {
		struct vdk_vq_rings r;

		ret = vdk_vq_rings(vq, &r);
		if (ret == 0)
			ret = hand_memory(b, r.desc);
		if (ret == 0)
			ret = hand_ring(b, q, &r, r.avail_base);
		if (ret < 0)
			lose_backend(b, b->conn.err);
	}
	pthread_mutex_unlock(&b->lock);
	*mqp = q;
	return 0;
}

/* Counts what completed since the last look; queue thread. */
static void count_used(struct bridge_q *q)
{
	uint16_t avail, used;

	if (vdk_vq_ring_indices(q->vq, &avail, &used) < 0)
		return;
	atomic_fetch_add(&q->done, (uint16_t)(used - q->last_used));
	q->last_used = used;
}

/* GET_VRING_BASE stops the back-end's walk of ring @q; lock held. */
static void take_ring_back(struct bridge *b, struct bridge_q *q)
{
	unsigned int base;

	if (q->handed && b->conn.fd >= 0 &&
	    vu_get_vring_base(&b->conn, q->index, &base) < 0)
		lose_backend(b, b->conn.err);
	q->handed = false;
}

static void mq_fini(void *p)
{
	struct bridge_q *q = p;
	struct bridge *b = q->b;

	count_used(q);
	pthread_mutex_lock(&b->lock);
	/* Before the ring's pages go. */
	take_ring_back(b, q);
	b->qs[q->index] = NULL;
	b->done_retired[q->index] += atomic_load(&q->done);
	b->failed_retired[q->index] += atomic_load(&q->failed);
	/* All stopped: a reset, and the record of what was in flight goes with it. */
	if (--b->running == 0) {
		b->mem_sent = false;
		if (b->inflight.fd >= 0)
			close(b->inflight.fd);
		b->inflight.fd = -1;
	}
	pthread_mutex_unlock(&b->lock);
	close(q->call_fd);
	free(q);
}

/* While failing, requests come by kicks; else the back-end's calls. */
static int mq_poll_fd(void *p)
{
	struct bridge_q *q = p;

	return atomic_load(&q->failing) ? vdk_vq_kick_fd(q->vq) : q->call_fd;
}

/* Answers @req with VIRTIO_BLK_S_IOERR in its last writable byte. */
static void fail_req(struct bridge_q *q, struct vdk_req *req)
{
	struct iovec *st;

	if (!req->in_num) {
		vdk_vq_push(q->vq, req, 0);
		return;
	}
	st = &req->iov[req->out_num + req->in_num - 1];
	if (st->iov_len)
		((uint8_t *)st->iov_base)[st->iov_len - 1] = VIRTIO_BLK_S_IOERR;
	vdk_vq_push(q->vq, req, 1);
}

/*
 * Queue thread, failing: takes the ring back (once) and answers every
 * request in it with an I/O error, then asks for kicks.  Under the lock,
 * so that a reconnection never hands over a ring this thread is in.
 */
static void fail_ring(struct bridge_q *q)
{
	struct bridge *b = q->b;
	struct vdk_req *req;
	uint64_t n = 0;

	pthread_mutex_lock(&b->lock);
	if (!atomic_load(&q->failing)) {
		pthread_mutex_unlock(&b->lock);
		return;
	}
	if (!q->taken) {
		vdk_vq_restart_at_used(q->vq);
		q->taken = true;
	}
	do {
		vdk_vq_kick_clear(q->vq);
		while (vdk_vq_pop(q->vq, sizeof(*req), &req) == 0) {
			fail_req(q, req);
			n++;
		}
	} while (!vdk_vq_broken(q->vq) && vdk_vq_enable_kicks(q->vq, true));
	if (n)
		vdk_vq_notify(q->vq);
	pthread_mutex_unlock(&b->lock);
	count_used(q);
	atomic_fetch_add(&q->failed, n);
}

/* The back-end signalled: one interrupt for however many signals came. */
static void mq_process(void *p)
{
	struct bridge_q *q = p;
	uint64_t n;
	int ret;

	if (atomic_load(&q->failing)) {
		fail_ring(q);
		return;
	}
	if (read(q->call_fd, &n, sizeof(n)) < 0)
		return;
	count_used(q);
	ret = vdk_vq_interrupt(q->vq);
	/* -EINVAL: before DRIVER_OK took effect; the driver looks anyway. */
	if (ret < 0 && ret != -EINVAL)
		msg_log_ratelimited(&q->rl, MSG_ERR, "queue %u: interrupt: %s",
				    q->index, strerror(-ret));
	atomic_fetch_add(&q->irqs, 1);
}

/* What the driver waits for: posted and not completed. */
static uint64_t mq_inflight(void *p)
{
	struct bridge_q *q = p;
	uint16_t avail, used;

	if (vdk_vq_ring_indices(q->vq, &avail, &used) < 0)
		return 0;
	return (uint16_t)(avail - used);
}

/*
 * The device is being removed and its requests were not answered in
 * time (or del --force): stop the back-end's ring, if it is there, and
 * answer the rest here with an I/O error.
 */
static bool mq_abort(void *p)
{
	struct bridge_q *q = p;
	struct bridge *b = q->b;

	pthread_mutex_lock(&b->lock);
	take_ring_back(b, q);
	start_failing(q);
	pthread_mutex_unlock(&b->lock);
	fail_ring(q);
	return true;
}

static const struct model_queue_ops bridge_queue_ops = {
	.rings_elsewhere = true,
	.init = mq_init,
	.fini = mq_fini,
	.poll_fd = mq_poll_fd,
	.process = mq_process,
	.inflight = mq_inflight,
	.abort = mq_abort,
};

const struct device_model bridge_model = {
	.kind = "vhost-user-blk",
	.open = model_open,
	.close = model_close,
	.lost_with_daemon = model_lost_with_daemon,
	.conf_write = model_conf_write,
	.conf_reset = model_conf_reset,
	.conf_key = model_conf_key,
	.conf_end = model_conf_end,
	.init = model_init,
	.describe = model_describe,
	.watch = model_watch,
	.info = model_info,
	.stats = model_stats,
	.resize = model_resize,
	.features_ok = model_features_ok,
	.queue_ops = &bridge_queue_ops,
};
