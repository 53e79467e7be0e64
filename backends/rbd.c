// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * rbd:[POOL/[NAMESPACE/]]IMAGE[@SNAP][?conf=PATH&id=NAME&keyring=PATH] - a
 * Ceph RBD image (or a snapshot of one, read-only), through librbd.
 *
 * Defaults are the rbd command's: pool "rbd", the configuration file named
 * by $CEPH_CONF or else /etc/ceph/ceph.conf, client "admin" (client.admin)
 * and the keyring that configuration names.  $CEPH_ARGS is honoured too.
 *
 * Fork: librados and librbd are not fork-safe, and the daemon forks after
 * open.  So open connects once, within OPEN_TIMEOUT_S, to check that the
 * image can be opened and learn its size (a bad pool, image, snapshot or
 * key fails the add before a device exists), then shuts that connection
 * down completely: rados_shutdown joins every librados thread, so the
 * process is single-threaded again when it forks.  The connection that
 * serves I/O is made after the fork, by a helper thread the first queue
 * starts; queue setup runs on the daemon's control thread, which must
 * never block, so it does not wait for the cluster either.  Requests that
 * arrive before the image is open wait for it.
 *
 * One connection and one image handle per device, shared by its queues
 * (librbd's aio calls are thread-safe).  Not one per queue: with the
 * exclusive-lock feature (on by default) several handles that write the
 * same image pass the lock back and forth on every write, and each handle
 * would have its own librbd cache, which the others cannot see.
 *
 * Data path: rbd_aio_readv/writev/flush/discard/write_zeroes, never a
 * blocking call.  librbd copies write data (rbd_disable_zero_copy_writes
 * is on by default) and reads into buffers of its own, so reads and writes
 * count against the queue's copy budget (backend.h): a driver queueing a
 * ring of large requests waits instead of making librbd hold all of it.  librbd calls the completion callback on its own
 * completion thread; the callback pushes the request onto its queue's
 * lock-free done list and writes the queue's eventfd if the list was
 * empty.  The daemon polls that eventfd and queue_process completes the
 * requests on the queue thread.  (rbd_set_image_notification would give
 * one eventfd per image, which fits one queue, not several.)
 *
 * Resize: librbd's update watch calls us when the image header changes;
 * the helper thread then asks librbd for the size, and get_size (polled
 * once a second by the daemon) returns it, so `rbd resize` reaches the
 * guest as a capacity change.  librbd calls are not made from the daemon's
 * main thread, since one that waits on a dead cluster would block it.
 *
 * Cluster trouble: librbd resends operations when an OSD comes back or
 * the monitors elect a leader; the guest sees a pause.  With --io-timeout,
 * librados' op timeouts are set to it, and an operation the cluster has not
 * answered in that time fails with EIO.  Closing (unwatch, close, shutdown)
 * happens on the helper thread; close waits at most CLOSE_TIMEOUT_S for it
 * and then abandons it, so `del` of a device whose cluster is gone ends.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "backend-plugin.h"
#include "clock.h"
#include "registry.h"

/* Bounds the connection made at open: monitors, then the image header. */
#define OPEN_TIMEOUT_S		10
/* Each connection attempt after the fork; retried until it works. */
#define CONNECT_TIMEOUT_S	30
#define RETRY_MIN_MS		500
#define RETRY_MAX_MS		5000
#define CLOSE_TIMEOUT_S		10

enum conn_state {
	CONN_NONE,		/* helper not started (before the fork) */
	CONN_CONNECTING,	/* requests wait */
	CONN_READY,		/* d->image serves I/O */
	CONN_BROKEN,		/* cannot connect: requests fail, retrying */
};

struct rbd_queue;

struct rbd_disk {
	/* The spec, parsed; read-only after open. */
	char *pool, *ns, *image, *snap;
	char *conf;		/* resolved: conf=, $CEPH_CONF, /etc/ceph/ceph.conf */
	char *name;		/* "client.ID" */
	char *keyring;		/* NULL: whatever the configuration says */
	char *label;		/* "pool/ns/image@snap", for messages */
	bool readonly;
	unsigned int io_timeout_s;
	_Atomic uint64_t size;

	/* After the fork: the helper thread and the live connection. */
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* helper_done */
	pthread_t helper;
	bool helper_done;
	bool stop;		/* under lock */
	int wake_fd;		/* eventfd: wakes the helper */
	_Atomic bool header_changed;
	_Atomic int state;	/* enum conn_state */
	rados_t cluster;
	rados_ioctx_t io;
	rbd_image_t img;	/* valid once state is CONN_READY */
	uint64_t watch;		/* rbd_update_watch handle */
	bool watching;
	struct rbd_queue *queues;	/* under lock: to tell them of state changes */
};

struct rbd_req;

struct rbd_queue {
	struct rbd_disk *d;
	struct rbd_queue *next;	/* in d->queues */
	int efd;
	_Atomic(struct rbd_req *) done;	/* completed by librbd, newest first */
	struct rbd_req *wait_head, *wait_tail;	/* waiting for the connection */
	struct backend_copy_budget copy;	/* bytes librbd may hold copies of */
};

/* Per-operation state, in the space behind each struct backend_io. */
struct rbd_req {
	struct rbd_req *next;
	struct rbd_queue *q;
	ssize_t ret;
	uint64_t copy_len;	/* granted by q->copy; given back at the end */
};

static void free_disk(struct rbd_disk *d)
{
	free(d->pool);
	free(d->ns);
	free(d->image);
	free(d->snap);
	free(d->conf);
	free(d->name);
	free(d->keyring);
	free(d->label);
	free(d);
}

/* ---- the spec ---- */

static int parse_option(struct rbd_disk *d, const char *spec, const char *opt,
			size_t n)
{
	static const char *const keys[] = { "conf", "id", "keyring" };
	const char *eq = memchr(opt, '=', n);
	char **dst[] = { &d->conf, &d->name, &d->keyring };
	unsigned int i;

	for (i = 0; eq && i < 3; i++) {
		if ((size_t)(eq - opt) != strlen(keys[i]) ||
		    strncmp(opt, keys[i], eq - opt))
			continue;
		if (eq + 1 == opt + n) {
			msg_error("'rbd:%s': %s= needs a value", spec, keys[i]);
			return -EINVAL;
		}
		free(*dst[i]);
		*dst[i] = strndup(eq + 1, opt + n - eq - 1);
		return *dst[i] ? 0 : -ENOMEM;
	}
	msg_error("'rbd:%s': unknown option '%.*s': the options are conf=PATH, id=NAME and keyring=PATH, joined by '&'",
		  spec, (int)n, opt);
	return -EINVAL;
}

/* @arg is the spec after "rbd:". */
static int parse_spec(struct rbd_disk *d, const char *arg)
{
	const char *q = strchr(arg, '?');
	const char *end = q ? q : arg + strlen(arg);
	const char *at, *s1, *s2, *img;
	char *id = NULL;
	int ret;

	at = memchr(arg, '@', end - arg);
	s1 = memchr(arg, '/', end - arg);
	s2 = s1 ? memchr(s1 + 1, '/', end - s1 - 1) : NULL;
	if ((at && (s1 > at || s2 > at)) ||
	    (s2 && memchr(s2 + 1, '/', end - s2 - 1)))
		goto bad;
	img = s2 ? s2 + 1 : s1 ? s1 + 1 : arg;
	if ((at ? at : end) == img || (s1 && s1 == arg) || (s2 && s2 == s1 + 1) ||
	    (at && at + 1 == end))
		goto bad;
	d->pool = s1 ? strndup(arg, s1 - arg) : strdup("rbd");
	d->ns = s2 ? strndup(s1 + 1, s2 - s1 - 1) : strdup("");
	d->image = strndup(img, (at ? at : end) - img);
	d->snap = at ? strndup(at + 1, end - at - 1) : NULL;
	if (!d->pool || !d->ns || !d->image || (at && !d->snap))
		return -ENOMEM;

	while (q && *q) {
		const char *opt = q + 1, *amp = strchr(opt, '&');
		size_t n = amp ? (size_t)(amp - opt) : strlen(opt);

		if (n) {
			ret = parse_option(d, arg, opt, n);
			if (ret)
				return ret;
		}
		q = amp;
	}

	/* The rbd command's defaults, resolved now so every process agrees. */
	if (!d->conf) {
		const char *env = getenv("CEPH_CONF");

		d->conf = strdup(env && *env ? env : "/etc/ceph/ceph.conf");
		if (!d->conf)
			return -ENOMEM;
	}
	id = d->name;
	if (!id)
		ret = asprintf(&d->name, "client.admin");
	else if (!strncmp(id, "client.", 7))
		ret = asprintf(&d->name, "%s", id);
	else
		ret = asprintf(&d->name, "client.%s", id);
	free(id);
	if (ret < 0) {
		d->name = NULL;
		return -ENOMEM;
	}
	ret = asprintf(&d->label, "%s/%s%s%s%s%s", d->pool, d->ns, *d->ns ? "/" : "",
		       d->image, d->snap ? "@" : "", d->snap ? d->snap : "");
	if (ret < 0) {
		d->label = NULL;
		return -ENOMEM;
	}
	return 0;

bad:
	msg_error("'rbd:%s' is not an RBD image: write rbd:POOL/IMAGE or rbd:POOL/NAMESPACE/IMAGE, with @SNAP for a snapshot and ?conf=PATH&id=NAME&keyring=PATH for the cluster",
		  arg);
	return -EINVAL;
}

/* ---- connecting ---- */

struct conn {
	rados_t cluster;
	rados_ioctx_t io;
	rbd_image_t img;
	bool have_cluster, have_io, have_img;
};

static void conn_close(struct conn *c)
{
	if (c->have_img)
		rbd_close(c->img);
	if (c->have_io)
		rados_ioctx_destroy(c->io);
	if (c->have_cluster)
		rados_shutdown(c->cluster);
	memset(c, 0, sizeof(*c));
}

static int conf_set(struct conn *c, const char *key, const char *val,
		    char *why, size_t len)
{
	int ret = rados_conf_set(c->cluster, key, val);

	if (ret < 0)
		snprintf(why, len, "cannot set %s=%s: %s", key, val, strerror(-ret));
	return ret;
}

/*
 * Connects and opens the image.  On failure returns -errno with a sentence
 * in @why.  @timeout_s bounds the monitor handshake and, if @op_timeout,
 * every later operation too.
 */
static int conn_open(struct rbd_disk *d, struct conn *c, unsigned int timeout_s,
		     unsigned int op_timeout_s, char *why, size_t len)
{
	char t[16], ot[16];
	int ret;

	memset(c, 0, sizeof(*c));
	ret = rados_create2(&c->cluster, "ceph", d->name, 0);
	if (ret < 0) {
		snprintf(why, len, "cannot create a Ceph client named %s: %s",
			 d->name, strerror(-ret));
		return ret;
	}
	c->have_cluster = true;
	ret = rados_conf_read_file(c->cluster, d->conf);
	if (ret < 0) {
		snprintf(why, len, "cannot read the Ceph configuration %s (%s): give another with ?conf=PATH, or set CEPH_CONF",
			 d->conf, strerror(-ret));
		goto err;
	}
	ret = rados_conf_parse_env(c->cluster, NULL);
	if (ret < 0) {
		snprintf(why, len, "cannot parse CEPH_ARGS: %s", strerror(-ret));
		goto err;
	}
	/* librados reports a missing keyring as a refused key. */
	if (d->keyring && !strpbrk(d->keyring, "$,;") &&
	    access(d->keyring, R_OK) < 0) {
		ret = -errno;
		snprintf(why, len, "cannot read the keyring %s: %s", d->keyring,
			 strerror(errno));
		goto err;
	}
	snprintf(t, sizeof(t), "%u", timeout_s);
	snprintf(ot, sizeof(ot), "%u", op_timeout_s);
	if ((d->keyring && (ret = conf_set(c, "keyring", d->keyring, why, len)) < 0) ||
	    (ret = conf_set(c, "client_mount_timeout", t, why, len)) < 0 ||
	    (ret = conf_set(c, "rados_mon_op_timeout", ot, why, len)) < 0 ||
	    (ret = conf_set(c, "rados_osd_op_timeout", ot, why, len)) < 0)
		goto err;

	ret = rados_connect(c->cluster);
	if (ret == -ETIMEDOUT) {
		snprintf(why, len, "no answer from the Ceph monitors within %u s: check mon_host in %s and that the cluster is up",
			 timeout_s, d->conf);
		goto err;
	}
	if (ret == -EACCES || ret == -EPERM) {
		snprintf(why, len, "the monitors refused %s (%s): check its key (?keyring=PATH) and the client name (?id=NAME)",
			 d->name, strerror(-ret));
		goto err;
	}
	if (ret == -ENOENT) {
		snprintf(why, len, "no key for %s: give its keyring with ?keyring=PATH, or name it in %s",
			 d->name, d->conf);
		goto err;
	}
	if (ret < 0) {
		snprintf(why, len, "cannot connect to the Ceph cluster of %s: %s",
			 d->conf, strerror(-ret));
		goto err;
	}

	ret = rados_ioctx_create(c->cluster, d->pool, &c->io);
	if (ret < 0) {
		if (ret == -ENOENT)
			snprintf(why, len, "there is no pool '%s' (see 'ceph osd pool ls')",
				 d->pool);
		else
			snprintf(why, len, "cannot use pool '%s': %s", d->pool,
				 strerror(-ret));
		goto err;
	}
	c->have_io = true;
	rados_ioctx_set_namespace(c->io, d->ns);

	if (d->readonly)
		ret = rbd_open_read_only(c->io, d->image, &c->img, d->snap);
	else
		ret = rbd_open(c->io, d->image, &c->img, d->snap);
	if (ret == 0) {
		c->have_img = true;
		return 0;
	}
	if (ret == -ENOENT && d->snap &&
	    rbd_open_read_only(c->io, d->image, &c->img, NULL) == 0) {
		rbd_close(c->img);
		snprintf(why, len, "image %s/%s%s%s has no snapshot '%s' (see 'rbd snap ls')",
			 d->pool, d->ns, *d->ns ? "/" : "", d->image, d->snap);
	} else if (ret == -ENOENT) {
		snprintf(why, len, "there is no image '%s' in pool '%s'%s%s%s (see 'rbd ls')",
			 d->image, d->pool, *d->ns ? ", namespace '" : "", d->ns,
			 *d->ns ? "'" : "");
	} else if (ret == -EPERM || ret == -EACCES) {
		snprintf(why, len, "%s may not open image %s (%s): check its caps ('ceph auth get %s')",
			 d->name, d->label, strerror(-ret), d->name);
	} else if (ret == -ETIMEDOUT) {
		snprintf(why, len, "the OSDs did not answer within %u s while opening image %s: check 'ceph -s'",
			 op_timeout_s, d->label);
	} else {
		snprintf(why, len, "cannot open image %s: %s", d->label, strerror(-ret));
	}
err:
	conn_close(c);
	return ret;
}

/* ---- open: check once, before the fork ---- */

static int rbd_disk_open(const char *arg, const struct backend_open_opts *opts,
			 void **handlep)
{
	struct rbd_disk *d;
	struct conn c;
	char why[512];
	uint64_t size;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	d->wake_fd = -1;
	ret = parse_spec(d, arg);
	if (ret) {
		if (ret == -ENOMEM)
			msg_error("out of memory");
		goto err;
	}
	if (d->snap && !opts->readonly) {
		msg_error("rbd:%s is a snapshot, which cannot be written: add --read-only",
			  d->label);
		ret = -EROFS;
		goto err;
	}
	d->readonly = opts->readonly;
	ret = backend_param_uint(opts, "io-timeout", IO_TIMEOUT_MAX_S, &d->io_timeout_s);
	if (ret)
		goto err;

	ret = conn_open(d, &c, OPEN_TIMEOUT_S, OPEN_TIMEOUT_S, why, sizeof(why));
	if (ret) {
		msg_error("rbd:%s: %s", d->label, why);
		goto err;
	}
	ret = rbd_get_size(c.img, &size);
	conn_close(&c);
	if (ret < 0) {
		msg_error("rbd:%s: cannot get the image size: %s", d->label,
			  strerror(-ret));
		goto err;
	}
	atomic_store(&d->size, size);
	pthread_mutex_init(&d->lock, NULL);
	*handlep = d;
	return 0;

err:
	free_disk(d);
	return ret;
}

/* ---- the helper thread: connection, size, close ---- */

static void notify_queues(struct rbd_disk *d)
{
	struct rbd_queue *q;
	uint64_t one = 1;

	pthread_mutex_lock(&d->lock);
	for (q = d->queues; q; q = q->next)
		/* A full counter fails the write: it is readable anyway. */
		if (write(q->efd, &one, sizeof(one)) < 0)
			continue;
	pthread_mutex_unlock(&d->lock);
}

static void header_cb(void *arg)
{
	struct rbd_disk *d = arg;
	uint64_t one = 1;

	/* librbd's watch thread: no librbd calls here, hand it over. */
	atomic_store(&d->header_changed, true);
	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		return;
}

/* Sleeps until woken or @ms pass; true if told to stop. */
static bool helper_wait(struct rbd_disk *d, int ms)
{
	struct pollfd pfd = { .fd = d->wake_fd, .events = POLLIN };
	uint64_t v;
	bool stop;

	/* A failed read only means another wake-up follows. */
	if (poll(&pfd, 1, ms) > 0 && read(d->wake_fd, &v, sizeof(v)) < 0 &&
	    errno != EAGAIN)
		msg_log(MSG_WARN, "rbd: %s: helper wake-up: %m", d->label);
	pthread_mutex_lock(&d->lock);
	stop = d->stop;
	pthread_mutex_unlock(&d->lock);
	return stop;
}

static bool permanent_error(int err)
{
	return err == -ENOENT || err == -EPERM || err == -EACCES || err == -EINVAL;
}

static void helper_connect(struct rbd_disk *d)
{
	unsigned int op_timeout = d->io_timeout_s;
	unsigned int mount = op_timeout && op_timeout < CONNECT_TIMEOUT_S ?
			     op_timeout : CONNECT_TIMEOUT_S;
	uint64_t t0;
	int backoff = RETRY_MIN_MS, ret;
	bool logged = false;
	char why[512];
	struct conn c;

	t0 = now_ns();
	for (;;) {
		ret = conn_open(d, &c, mount, op_timeout, why, sizeof(why));
		if (ret == 0)
			break;
		if (!logged)
			msg_log(MSG_WARN, "rbd: %s: %s; %s", d->label, why,
				op_timeout || permanent_error(ret) ?
				"I/O fails until it works, retrying" :
				"I/O waits, retrying");
		logged = true;
		if (op_timeout || permanent_error(ret)) {
			atomic_store(&d->state, CONN_BROKEN);
			notify_queues(d);
		}
		if (helper_wait(d, backoff))
			return;
		backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
	}

	d->cluster = c.cluster;
	d->io = c.io;
	d->img = c.img;
	/*
	 * A snapshot never changes size.  (librbd 16 does not call the watch
	 * of a read-only handle either: a read-only device keeps its size.)
	 */
	if (!d->snap)
		d->watching = rbd_update_watch(d->img, &d->watch, header_cb, d) == 0;
	if (!d->snap && !d->watching)
		msg_log(MSG_WARN, "rbd: %s: cannot watch the image header: a resize will not reach the device",
			d->label);
	atomic_store(&d->state, CONN_READY);
	notify_queues(d);
	if (logged) {
		msg_log(MSG_INFO, "rbd: %s: connected after %llu s",
			d->label, (unsigned long long)((now_ns() - t0) / NSEC_PER_SEC));
	}
	/* The image may have changed between open and now. */
	atomic_store(&d->header_changed, true);
}

static void refresh_size(struct rbd_disk *d)
{
	uint64_t size, old;

	if (!atomic_exchange(&d->header_changed, false))
		return;
	if (rbd_get_size(d->img, &size) < 0)
		return;
	old = atomic_exchange(&d->size, size);
	if (old != size)
		msg_log(MSG_INFO, "rbd: %s: the image is now %" PRIu64 " bytes (was %" PRIu64 ")",
			d->label, size, old);
}

static void *helper_fn(void *arg)
{
	struct rbd_disk *d = arg;

	helper_connect(d);
	if (atomic_load(&d->state) == CONN_READY) {
		do
			refresh_size(d);
		while (!helper_wait(d, -1));
		/* Unwatch, release the exclusive lock, flush: may wait. */
		if (d->watching)
			rbd_update_unwatch(d->img, d->watch);
		rbd_close(d->img);
		rados_ioctx_destroy(d->io);
		rados_shutdown(d->cluster);
	}
	pthread_mutex_lock(&d->lock);
	d->helper_done = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* The first queue starts the helper (after the fork, on the control thread). */
static int helper_start(struct rbd_disk *d)
{
	pthread_condattr_t ca;
	int ret;

	if (atomic_load(&d->state) != CONN_NONE)
		return 0;	/* started already */
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->wake_fd < 0)
		return -errno;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&d->state, CONN_CONNECTING);
	ret = pthread_create(&d->helper, NULL, helper_fn, d);
	if (ret) {
		close(d->wake_fd);
		d->wake_fd = -1;
		pthread_cond_destroy(&d->cond);
		atomic_store(&d->state, CONN_NONE);
		return -ret;
	}
	return 0;
}

static void rbd_disk_close(void *handle)
{
	struct rbd_disk *d = handle;
	struct timespec deadline;
	uint64_t one = 1;
	int ret = 0;

	if (atomic_load(&d->state) == CONN_NONE)
		goto out;	/* no queue ever started the helper */
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_mutex_unlock(&d->lock);
	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		msg_log(MSG_WARN, "rbd: %s: waking the helper: %m", d->label);

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += CLOSE_TIMEOUT_S;
	pthread_mutex_lock(&d->lock);
	while (!d->helper_done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&d->cond, &d->lock, &deadline);
	pthread_mutex_unlock(&d->lock);
	if (!d->helper_done) {
		/* It is stuck in librbd; the process is about to exit anyway. */
		msg_log(MSG_WARN, "rbd: %s: the cluster did not answer within %d s; closed without it",
			d->label, CLOSE_TIMEOUT_S);
		return;
	}
	pthread_join(d->helper, NULL);
	close(d->wake_fd);
	pthread_cond_destroy(&d->cond);
out:
	pthread_mutex_destroy(&d->lock);
	free_disk(d);
}

static int64_t rbd_disk_size(void *handle)
{
	struct rbd_disk *d = handle;

	return (int64_t)atomic_load(&d->size);
}

static bool rbd_can_write_cap(void *handle)
{
	struct rbd_disk *d = handle;

	return !d->readonly;
}

/*
 * For can_flush (librbd's cache acknowledges writes before the OSDs have
 * them) and can_zero_unmap (librbd may deallocate zeroed objects).
 */
static bool rbd_true(void *handle)
{
	(void)handle;
	return true;
}

/* ---- requests ---- */

static void req_cb(rbd_completion_t c, void *arg)
{
	struct rbd_req *r = arg;
	struct rbd_queue *q = r->q;
	struct rbd_req *head;
	uint64_t one = 1;

	/* librbd's completion thread: record, hand over, wake the queue. */
	r->ret = rbd_aio_get_return_value(c);
	rbd_aio_release(c);
	head = atomic_load(&q->done);
	do
		r->next = head;
	while (!atomic_compare_exchange_weak(&q->done, &head, r));
	/* Only the first of a batch needs to wake the queue thread. */
	if (!head && write(q->efd, &one, sizeof(one)) < 0)
		return;
}

/* Every request ends here: completes it and gives back its copy bytes. */
static void req_done(struct rbd_queue *q, struct rbd_req *r, int result)
{
	uint64_t len = r->copy_len;

	backend_io_complete(backend_io_from_priv(r), result);
	if (len)
		backend_copy_put(&q->copy, len);
}

static void req_issue(struct rbd_queue *q, struct rbd_req *r)
{
	struct backend_io *io = backend_io_from_priv(r);
	rbd_image_t img = q->d->img;
	rbd_completion_t c;
	int ret;

	ret = rbd_aio_create_completion(r, req_cb, &c);
	if (ret < 0) {
		req_done(q, r, ret);
		return;
	}
	switch (io->op) {
	case BACKEND_OP_READ:
		ret = rbd_aio_readv(img, io->iov, (int)io->iovcnt, io->offset, c);
		break;
	case BACKEND_OP_WRITE:
		ret = rbd_aio_writev(img, io->iov, (int)io->iovcnt, io->offset, c);
		break;
	case BACKEND_OP_FLUSH:
		ret = rbd_aio_flush(img, c);
		break;
	case BACKEND_OP_DISCARD:
		ret = rbd_aio_discard(img, io->offset, io->len, c);
		break;
	case BACKEND_OP_WRITE_ZEROES:
		/* Without the unmap flag the range must stay allocated. */
		ret = rbd_aio_write_zeroes(img, io->offset, io->len, c,
					   io->flags & BACKEND_IO_MAY_UNMAP ? 0 :
					   RBD_WRITE_ZEROES_FLAG_THICK_PROVISION, 0);
		break;
	default:
		ret = -EOPNOTSUPP;
		break;
	}
	if (ret < 0) {
		rbd_aio_release(c);
		req_done(q, r, ret);
	}
}

static void wait_add(struct rbd_queue *q, struct rbd_req *r)
{
	r->next = NULL;
	if (q->wait_tail)
		q->wait_tail->next = r;
	else
		q->wait_head = r;
	q->wait_tail = r;
}

static struct rbd_req *wait_pop(struct rbd_queue *q)
{
	struct rbd_req *r = q->wait_head;

	if (r && !(q->wait_head = r->next))
		q->wait_tail = NULL;
	return r;
}

/* Sends (or fails) what waited for the connection, once there is news. */
static void flush_waiting(struct rbd_queue *q)
{
	struct rbd_req *r;
	int state;

	if (!q->wait_head)
		return;
	state = atomic_load(&q->d->state);
	if (state != CONN_READY && state != CONN_BROKEN)
		return;
	while ((r = wait_pop(q))) {
		if (state == CONN_READY)
			req_issue(q, r);
		else
			req_done(q, r, -EIO);
	}
}

static void req_dispatch(struct rbd_queue *q, struct rbd_req *r)
{
	switch (atomic_load(&q->d->state)) {
	case CONN_READY:
		flush_waiting(q);
		req_issue(q, r);
		return;
	case CONN_BROKEN:
		req_done(q, r, -EIO);
		return;
	default:
		wait_add(q, r);
		return;
	}
}

/* A read or write that waited for copy room got it. */
static void rbd_resume(void *queue, struct backend_io *io)
{
	struct rbd_queue *q = queue;
	struct rbd_req *r = backend_io_priv(io);

	r->copy_len = io->len;
	req_dispatch(q, r);
}

static void rbd_submit(void *queue, struct backend_io *io)
{
	struct rbd_queue *q = queue;
	struct rbd_req *r = backend_io_priv(io);

	r->q = q;
	r->copy_len = 0;
	if (io->op == BACKEND_OP_READ || io->op == BACKEND_OP_WRITE) {
		/* Else rbd_resume() goes on once earlier requests are done. */
		if (!backend_copy_get(&q->copy, io))
			return;
		r->copy_len = io->len;
	}
	req_dispatch(q, r);
}

static int rbd_queue_process(void *queue)
{
	struct rbd_queue *q = queue;
	struct rbd_req *r, *next, *fifo = NULL;
	uint64_t v;

	/* Clear the counter first: a completion after this wakes us again. */
	if (read(q->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	flush_waiting(q);
	/* The done list is newest first; complete in arrival order. */
	for (r = atomic_exchange(&q->done, NULL); r; r = next) {
		next = r->next;
		r->next = fifo;
		fifo = r;
	}
	for (r = fifo; r; r = next) {
		next = r->next;
		/* Reads and writes return a byte count; the range was valid. */
		req_done(q, r, r->ret < 0 ? (int)r->ret : 0);
	}
	return 0;
}

static int rbd_queue_poll_fd(void *queue)
{
	struct rbd_queue *q = queue;

	return q->efd;
}

static int rbd_queue_init(void *handle, const struct backend_queue_env *env,
			  void **queuep)
{
	struct rbd_disk *d = handle;
	struct rbd_queue *q;
	int ret;

	q = calloc(1, sizeof(*q));
	if (!q) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	q->d = d;
	backend_copy_init(&q->copy, 0, rbd_resume, q);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0) {
		ret = -errno;
		msg_error("rbd queue %u: cannot create its eventfd: %m", env->index);
		free(q);
		return ret;
	}
	pthread_mutex_lock(&d->lock);
	ret = helper_start(d);
	if (ret == 0) {
		q->next = d->queues;
		d->queues = q;
	}
	pthread_mutex_unlock(&d->lock);
	if (ret) {
		msg_error("rbd:%s: cannot start the connection thread: %s",
			  d->label, strerror(-ret));
		close(q->efd);
		free(q);
		return ret;
	}
	*queuep = q;
	return 0;
}

static void rbd_queue_fini(void *queue)
{
	struct rbd_queue *q = queue;
	struct rbd_disk *d = q->d;
	struct rbd_queue **p;
	struct backend_io *io;
	struct rbd_req *r;

	pthread_mutex_lock(&d->lock);
	for (p = &d->queues; *p; p = &(*p)->next) {
		if (*p == q) {
			*p = q->next;
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	/* The daemon drains the queue first; whatever still waits fails. */
	while ((io = backend_copy_unwait(&q->copy)))
		backend_io_complete(io, -EIO);
	while ((r = wait_pop(q)))
		req_done(q, r, -EIO);
	close(q->efd);
	free(q);
}

static struct backend_ops rbd_ops = {
	.name = "rbd",
	.prefix = "rbd:",
	.usage = "rbd:POOL/[NAMESPACE/]IMAGE[@SNAP][?conf=PATH&id=NAME&keyring=PATH]\n"
		 "                   a Ceph RBD image through librbd; a snapshot needs\n"
		 "                   --read-only (defaults: $CEPH_CONF or /etc/ceph/ceph.conf,\n"
		 "                   client.admin)",
	.thread_model = BACKEND_THREAD_PARALLEL,
	.io_priv_size = sizeof(struct rbd_req),
	.open = rbd_disk_open,
	.close = rbd_disk_close,
	.get_size = rbd_disk_size,
	.can_write = rbd_can_write_cap,
	.can_flush = rbd_true,
	.can_zero_unmap = rbd_true,
	.queue_init = rbd_queue_init,
	.queue_fini = rbd_queue_fini,
	.queue_poll_fd = rbd_queue_poll_fd,
	.queue_process = rbd_queue_process,
	.read = rbd_submit,
	.write = rbd_submit,
	.flush = rbd_submit,
	.discard = rbd_submit,
	.write_zeroes = rbd_submit,
	.params = (const char *const[]){ "io-timeout", NULL },
};

BACKEND_REGISTER(rbd_ops, backend_rbd_init)
