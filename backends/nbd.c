// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * nbd://HOST[:PORT]/EXPORT, nbds://... (TLS), nbd+unix:///EXPORT?socket=PATH,
 * nbds+unix://... - an export of a remote NBD server, through libnbd.
 *
 * Open connects once, synchronously and within CONNECT_TIMEOUT, to learn
 * the size and what the server can do, then hangs up: the daemon forks
 * after open, and the queues make their own connections.
 *
 * Thread model: PARALLEL when the server advertises multi-conn, so that
 * writes completed on one connection are seen by reads and flushes on
 * another; then every queue has its own connection.  Without multi-conn
 * there is no such promise, so the backend serves one queue only
 * (get_thread_model), and --queues > 1 is refused at setup.  A queue
 * context and its libnbd handle belong to the queue thread alone.
 *
 * Event loop: many commands are in flight on a connection through the
 * nbd_aio_* calls.  The daemon polls one descriptor per queue, for POLLIN
 * only, and that descriptor must not change under it, so the queue hands
 * out an epoll descriptor that never changes and puts in it a timerfd
 * (reconnect backoff, connect and I/O timeouts) and the current socket,
 * watched for whatever nbd_aio_get_direction asks: EPOLLIN, and EPOLLOUT
 * too when libnbd could not send everything at once.  So a socket that
 * fills up does not stall a request: the epoll descriptor turns readable
 * when the socket drains, and queue_process calls nbd_aio_notify_write.
 * queue_process asks epoll which one fired and passes on exactly that
 * (see q_io for why guessing is not safe).
 *
 * libnbd runs completion callbacks with its handle lock held, so they only
 * move the request to a done list; requests are completed (and new ones,
 * e.g. the next chunk, issued) after the libnbd call returns.
 *
 * Server failure: when the connection dies, every request that was on it
 * goes back to the pending list and the queue reconnects with a backoff
 * of 100 ms doubling to 2 s, resending them once the handshake is done.
 * The kernel sees nothing but a delay, unless option io-timeout is set:
 * then a request that has waited that long fails with -EIO, and a
 * connection that leaves one unanswered that long counts as dead.  One
 * log line when a connection is lost, one when it is back, at most
 * LOG_BURST of them per LOG_INTERVAL_NS and queue, so that a server that
 * keeps accepting and dropping connections cannot fill the log (it lives
 * in /run, in RAM).  A new export size seen on reconnect is recorded;
 * get_size reports it.
 *
 * Bounce buffers: libnbd sends and receives one contiguous buffer, so a
 * request whose segments are not adjacent in memory is copied.  Each queue
 * lets its copies total at most BACKEND_COPY_BUDGET (backend.h); a request
 * that does not fit waits until earlier copies are freed.  Waiting rather
 * than bouncing in smaller chunks: blk already caps a request at about a
 * MiB, far below the budget, so only a deep queue of large scattered
 * requests ever waits, and each request stays one NBD command.
 */
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "backend-plugin.h"
#include "clock.h"
#include "list.h"
#include "registry.h"

#define NSEC_PER_MSEC		1000000ull
#define CONNECT_TIMEOUT_NS	(10 * NSEC_PER_SEC)
#define BACKOFF_MIN_NS		(100 * NSEC_PER_MSEC)
#define BACKOFF_MAX_NS		(2 * NSEC_PER_SEC)
/* Servers may drop a client that sends more data than this at once. */
#define PAYLOAD_DEFAULT		(32u << 20)
/* NBD lengths are 32-bit; keep trim and zero chunks well inside. */
#define RANGE_CHUNK		(1u << 30)
/* Connection lost / back lines: a few cycles a minute, then a count. */
#define LOG_INTERVAL_NS		(60 * NSEC_PER_SEC)
#define LOG_BURST		6

/* epoll tags */
#define TAG_TIMER	0
#define TAG_SOCK	1

struct nbd_disk {
	char *uri;
	bool readonly;		/* the device, not just the export */
	bool multi_conn;
	bool can_flush;
	bool can_trim;
	bool can_zero;
	bool write_fua;		/* no flush, but FUA: make each write stable */
	uint32_t pref_block;
	uint32_t max_payload;
	uint64_t io_timeout_ns;
	_Atomic uint64_t size;	/* updated by queues that see a new size */
};

enum conn_state {
	CONN_WAIT,		/* no connection; next attempt at retry_at */
	CONN_CONNECTING,	/* handshake under way */
	CONN_READY,
};

struct nbd_queue {
	struct nbd_disk *d;
	unsigned int index;
	int epfd;
	int tfd;
	struct nbd_handle *h;	/* NULL in CONN_WAIT */
	int sock;		/* h's socket as registered in epfd, or -1 */
	uint32_t sock_events;
	enum conn_state state;
	unsigned int gen;	/* connection number, so stale errors retry */
	uint64_t retry_at;
	uint64_t connect_deadline;
	uint64_t backoff;
	uint64_t timer_at;	/* what tfd is armed for; 0 = disarmed */
	uint64_t down_since;
	bool down_logged;	/* a "lost" line awaits its "back" line */
	bool draining;
	bool can_cork;		/* a TCP socket */
	bool corked;
	unsigned int batch;	/* requests submitted since the last unplug */
	char why[256];		/* the last connection failure */
	struct msg_ratelimit rl;	/* connection messages */
	struct backend_copy_budget copy;	/* bounce buffers */
	struct link pending;	/* waiting for a connection */
	struct link inflight;	/* handed to libnbd */
	struct link done;	/* libnbd called back; to be finished */
};

/* Per-operation state, in the space behind each struct backend_io. */
struct nbd_req {
	struct link link;
	struct nbd_queue *q;
	char *buf;		/* the data, contiguous: the driver's or a copy */
	bool bounce;		/* buf is our copy */
	unsigned int gen;	/* connection it was sent on */
	int err;		/* from libnbd's callback */
	uint64_t pos;		/* bytes done by earlier chunks */
	uint64_t chunk;		/* bytes in the command in flight */
	uint64_t deadline;	/* io-timeout, monotonic ns; 0 = none */
};

/* ---- small helpers ---- */

static struct nbd_req *list_pop(struct link *l)
{
	struct link *e = l->next;

	if (e == l)
		return NULL;
	list_del(e);
	return (struct nbd_req *)e;	/* link is the first member */
}

/* libnbd's message without the name of the call that failed. */
static const char *nbd_msg(void)
{
	const char *m = nbd_get_error();
	const char *p;

	if (!m || !*m)
		return "unknown error";
	p = strstr(m, ": ");
	return (p && !strncmp(m, "nbd_", 4)) ? p + 2 : m;
}

/* ---- open: one synchronous connection to learn about the export ---- */

/*
 * Runs the handshake to the end or until @deadline, polling the socket
 * ourselves: libnbd 1.14 has no connect timeout of its own.
 */
static int connect_wait(struct nbd_handle *h, uint64_t deadline)
{
	while (nbd_aio_is_connecting(h)) {
		unsigned int dir = nbd_aio_get_direction(h);
		struct pollfd pfd = { .fd = nbd_aio_get_fd(h) };
		uint64_t now = now_ns();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (dir & LIBNBD_AIO_DIRECTION_READ)
			pfd.events |= POLLIN;
		if (dir & LIBNBD_AIO_DIRECTION_WRITE)
			pfd.events |= POLLOUT;
		if (pfd.fd < 0 || !pfd.events)
			return -EIO;
		r = poll(&pfd, 1, (int)((deadline - now) / NSEC_PER_MSEC) + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if ((dir & LIBNBD_AIO_DIRECTION_READ) &&
		    (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			r = nbd_aio_notify_read(h);
		else
			r = nbd_aio_notify_write(h);
		if (r == -1)
			return -EIO;
	}
	return nbd_aio_is_ready(h) ? 0 : -EIO;
}

/* Says what went wrong at open and how to fix it, from libnbd's error. */
static int open_error(const char *uri, int ret, bool started)
{
	const char *msg = nbd_msg();
	int err = nbd_get_errno();

	if (ret == -ETIMEDOUT) {
		msg_error("cannot reach the NBD server for '%s': no answer within %llu s; check the host and port, and that a firewall lets the connection through",
			  uri, CONNECT_TIMEOUT_NS / NSEC_PER_SEC);
		return -ETIMEDOUT;
	}
	if (!started && err == EINVAL) {
		msg_error("'%s' is not a usable NBD URI (%s): write nbd://HOST[:PORT]/EXPORT, nbds://HOST[:PORT]/EXPORT for TLS, or nbd+unix:///EXPORT?socket=PATH",
			  uri, msg);
		return -EINVAL;
	}
	if (strstr(msg, "requires TLS")) {
		msg_error("the NBD server for '%s' requires TLS: use nbds:// (or nbds+unix://) with its credentials in the URI (tls-certificates=DIR, or tls-psk-file=FILE with USER@)",
			  uri);
		return -EPROTO;
	}
	if (strstr(msg, "refused TLS")) {
		msg_error("the NBD server for '%s' does not offer TLS: use nbd:// (or nbd+unix://), or enable TLS on the server",
			  uri);
		return -EPROTO;
	}
	if (strstr(msg, "TLS") || strstr(msg, "tls") || strstr(msg, "gnutls")) {
		msg_error("TLS with the NBD server for '%s' failed (%s): check the server's TLS setup and the credentials in the URI (tls-certificates=DIR, or tls-psk-file=FILE with USER@), or use nbd:// if the server does not use TLS",
			  uri, msg);
		return -EPROTO;
	}
	if (strstr(msg, "no export")) {
		msg_error("the NBD server for '%s' refused the export (%s): check the export name after the host (nbd://HOST/EXPORT) or in the path (nbd+unix:///EXPORT?socket=PATH)",
			  uri, msg);
		return -ENOENT;
	}
	if (strstr(msg, "disconnected") || strstr(msg, "closed") ||
	    strstr(msg, "handshake")) {
		msg_error("the NBD server for '%s' closed the connection during the handshake (%s): see the server's log; it may want TLS (nbds://), another export name, or fewer connections",
			  uri, msg);
		return -ECONNRESET;
	}
	msg_error("cannot reach the NBD server for '%s' (%s): check that the server is running and that the host, port or socket path is right",
		  uri, msg);
	return err ? -err : -EIO;
}

static struct nbd_handle *handle_new(void)
{
	struct nbd_handle *h = nbd_create();

	/* The URI comes from the administrator: let it name TLS key files. */
	if (h)
		nbd_set_uri_allow_local_file(h, true);
	/*
	 * Simple replies: a read's answer is then one header and the data,
	 * one receive fewer than a structured reply's chunk.  Structured
	 * replies add sparse reads and block status, which this backend does
	 * not use.  A successful simple reply carries every byte asked for,
	 * so libnbd need not zero the buffer first (it would for a structured
	 * reply, whose chunks a faulty server might leave incomplete).
	 */
	if (h) {
		nbd_set_request_structured_replies(h, false);
		nbd_set_pread_initialize(h, false);
	}
	return h;
}

static int nbd_open(const char *arg, const struct backend_open_opts *opts,
		    void **handlep)
{
	struct nbd_handle *h;
	unsigned int timeout_s = 0;
	struct nbd_disk *d;
	int64_t size, v;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	d->uri = strdup(arg);
	h = handle_new();
	if (!d->uri || !h) {
		msg_error("out of memory");
		ret = -ENOMEM;
		goto err_free;
	}
	if (nbd_aio_connect_uri(h, arg) == -1) {
		ret = open_error(arg, -EIO, false);
		goto err_close;
	}
	ret = connect_wait(h, now_ns() + CONNECT_TIMEOUT_NS);
	if (ret) {
		ret = open_error(arg, ret, true);
		goto err_close;
	}

	size = nbd_get_size(h);
	if (size < 0) {
		msg_error("the NBD server for '%s' did not give the export's size (%s)",
			  arg, nbd_msg());
		ret = -EIO;
		goto err_close;
	}
	atomic_store(&d->size, (uint64_t)size);
	if (nbd_is_read_only(h) == 1 && !opts->readonly) {
		msg_error("the NBD export '%s' is read-only: add --read-only", arg);
		ret = -EROFS;
		goto err_close;
	}
	v = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	if (v > 0 && opts->block_size && v > opts->block_size) {
		msg_error("the NBD export '%s' needs I/O in blocks of %" PRId64 " bytes: %s",
			  arg, v, v <= 4096 ? "use --block-size 4096" :
			  "no block size vduse-blk offers is that large");
		ret = -EINVAL;
		goto err_close;
	}
	v = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	if (v > 0 && v <= 65536)
		d->pref_block = (uint32_t)v;
	v = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	d->max_payload = v > 0 && v < PAYLOAD_DEFAULT ? (uint32_t)v : PAYLOAD_DEFAULT;
	d->readonly = opts->readonly;
	d->multi_conn = nbd_can_multi_conn(h) == 1;
	if (!d->multi_conn && opts->queues > 1) {
		msg_error("the NBD server for '%s' does not advertise multi-conn, so one connection must carry everything: use --queues 1",
			  arg);
		ret = -EINVAL;
		goto err_close;
	}
	d->can_flush = nbd_can_flush(h) == 1;
	d->can_trim = nbd_can_trim(h) == 1;
	d->can_zero = nbd_can_zero(h) == 1;
	d->write_fua = !d->can_flush && nbd_can_fua(h) == 1;
	ret = backend_param_uint(opts, "io-timeout", IO_TIMEOUT_MAX_S, &timeout_s);
	if (ret)
		goto err_close;
	d->io_timeout_ns = (uint64_t)timeout_s * NSEC_PER_SEC;

	/* Queues connect on their own; this one only asked questions. */
	nbd_shutdown(h, 0);
	nbd_close(h);
	*handlep = d;
	return 0;

err_close:
	nbd_close(h);
err_free:
	free(d->uri);
	free(d);
	return ret;
}

static void nbd_disk_close(void *handle)
{
	struct nbd_disk *d = handle;

	free(d->uri);
	free(d);
}

static int64_t nbd_disk_size(void *handle)
{
	struct nbd_disk *d = handle;

	return (int64_t)atomic_load(&d->size);
}

static uint32_t nbd_phys_block(void *handle)
{
	struct nbd_disk *d = handle;

	return d->pref_block;
}

static bool nbd_can_write_cap(void *handle)
{
	struct nbd_disk *d = handle;

	return !d->readonly;
}

static bool nbd_has_cache(void *handle)
{
	struct nbd_disk *d = handle;

	return d->can_flush;
}

static bool nbd_can_discard_cap(void *handle)
{
	struct nbd_disk *d = handle;

	return d->can_trim;
}

static enum backend_cap nbd_zero_cap(void *handle)
{
	struct nbd_disk *d = handle;

	return d->can_zero ? BACKEND_CAP_NATIVE : BACKEND_CAP_EMULATE;
}

/* A server that can trim may punch holes when zeroing without NO_HOLE. */
static bool nbd_zero_unmap(void *handle)
{
	struct nbd_disk *d = handle;

	return d->can_zero && d->can_trim;
}

static enum backend_thread_model nbd_thread_model(void *handle)
{
	struct nbd_disk *d = handle;

	return d->multi_conn ? BACKEND_THREAD_PARALLEL : BACKEND_THREAD_ONE_QUEUE;
}

/* ---- the queue's connection ---- */

static void q_connect(struct nbd_queue *q);
static void req_issue(struct nbd_queue *q, struct nbd_req *r);
static void req_send(struct nbd_queue *q, struct nbd_req *r);

static void timer_set(struct nbd_queue *q, uint64_t at)
{
	struct itimerspec its = { 0 };

	if (at == q->timer_at)
		return;
	its.it_value.tv_sec = at / NSEC_PER_SEC;
	its.it_value.tv_nsec = at % NSEC_PER_SEC;
	/* An absolute time of 0 would disarm: "now" is 1 ns. */
	if (at && !its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1;
	timerfd_settime(q->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	q->timer_at = at;
}

static uint64_t oldest_deadline(const struct link *l, uint64_t best)
{
	const struct link *e;

	for (e = l->next; e != l; e = e->next) {
		const struct nbd_req *r = (const struct nbd_req *)e;

		if (r->deadline && (!best || r->deadline < best))
			best = r->deadline;
	}
	return best;
}

/* Arms the timer for the next thing the queue waits for, if any. */
static void timer_update(struct nbd_queue *q)
{
	uint64_t next = 0;

	if (q->state == CONN_WAIT)
		next = q->retry_at;
	else if (q->state == CONN_CONNECTING)
		next = q->connect_deadline;
	if (q->d->io_timeout_ns) {
		next = oldest_deadline(&q->pending, next);
		next = oldest_deadline(&q->inflight, next);
		next = oldest_deadline(&q->done, next);
	}
	timer_set(q, next);
}

/* Watches the socket for what libnbd wants next. */
static void sock_watch(struct nbd_queue *q, bool force)
{
	unsigned int dir = nbd_aio_get_direction(q->h);
	struct epoll_event ev = { .data.u32 = TAG_SOCK };
	/* Only the handshake can change the socket: skip asking per request. */
	int fd = q->state == CONN_READY && q->sock >= 0 ? q->sock :
		 nbd_aio_get_fd(q->h);

	if (dir & LIBNBD_AIO_DIRECTION_READ)
		ev.events |= EPOLLIN;
	if (dir & LIBNBD_AIO_DIRECTION_WRITE)
		ev.events |= EPOLLOUT;
	if (fd == q->sock && ev.events == q->sock_events && !force)
		return;
	/*
	 * While connecting, libnbd may close a socket and open another (the
	 * next address), possibly with the same number: epoll dropped the old
	 * one on close, so a failing MOD means ADD.
	 */
	if (q->sock >= 0 && q->sock != fd)
		epoll_ctl(q->epfd, EPOLL_CTL_DEL, q->sock, NULL);
	q->sock = -1;
	if (fd < 0)
		return;
	if (epoll_ctl(q->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 &&
	    epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return;
	q->sock = fd;
	q->sock_events = ev.events;
}

/* Returns true for a TCP socket. */
static bool sock_tune(int fd)
{
	int domain = 0, one = 1, idle = 10, intvl = 5, cnt = 3;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    (domain != AF_INET && domain != AF_INET6))
		return false;
	/* Small requests must not wait for the previous one's ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Notice a server host that vanished without a reset in ~25 s. */
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	return true;
}

/*
 * Every send on a TCP socket is a packet, and on loopback the sender also
 * runs the receiver's whole network stack for it: a batch of 32 requests
 * sent one by one cost 80% of the daemon's CPU time.  So the second and
 * later requests of a batch are held back with TCP_CORK, and the unplug
 * at the end of the batch sends them as one packet.  The first goes out
 * at once, so a lone request (queue depth 1) waits for nothing.
 */
static void sock_cork(struct nbd_queue *q, bool on)
{
	int v = on;

	if (q->corked == on || q->sock < 0)
		return;
	if (setsockopt(q->sock, IPPROTO_TCP, TCP_CORK, &v, sizeof(v)) == 0)
		q->corked = on;
	else
		q->can_cork = false;
}

static unsigned int list_count(const struct link *l)
{
	const struct link *e;
	unsigned int n = 0;

	for (e = l->next; e != l; e = e->next)
		n++;
	return n;
}

/*
 * Drops the connection (dead, timed out, or a failed attempt): its
 * requests wait for the next one, which is tried after the backoff.
 */
static void conn_fail(struct nbd_queue *q, const char *why)
{
	bool was_ready = q->state == CONN_READY;
	uint64_t now = now_ns();

	snprintf(q->why, sizeof(q->why), "%s", why);
	if (q->sock >= 0)
		epoll_ctl(q->epfd, EPOLL_CTL_DEL, q->sock, NULL);
	q->sock = -1;
	q->sock_events = 0;
	q->corked = false;
	if (q->h) {
		/* Callbacks that run in here only move requests to done. */
		nbd_close(q->h);
		q->h = NULL;
	}
	q->gen++;
	list_splice_front(&q->pending, &q->inflight);

	if (was_ready) {
		q->backoff = BACKOFF_MIN_NS;
		q->down_since = now;
		/* Commands libnbd aborted wait on the done list until drained. */
		msg_log_ratelimited(&q->rl, MSG_WARN, "nbd: queue %u: lost the connection to %s (%s); reconnecting, %u requests wait%s",
			    q->index, q->d->uri, q->why,
			    list_count(&q->pending) + list_count(&q->done),
			    q->d->io_timeout_ns ? " up to the I/O timeout" : "");
		q->down_logged = true;
	} else {
		if (!q->down_logged) {
			q->down_since = now;
			msg_log_ratelimited(&q->rl, MSG_WARN, "nbd: queue %u: cannot connect to %s (%s); retrying",
				    q->index, q->d->uri, q->why);
			q->down_logged = true;
		}
		q->backoff = q->backoff ? q->backoff * 2 : BACKOFF_MIN_NS;
		if (q->backoff > BACKOFF_MAX_NS)
			q->backoff = BACKOFF_MAX_NS;
	}
	q->state = CONN_WAIT;
	q->retry_at = now + q->backoff;
	timer_update(q);
}

static void conn_ready(struct nbd_queue *q)
{
	struct nbd_disk *d = q->d;
	struct link todo;
	struct nbd_req *r;
	int64_t size;

	q->state = CONN_READY;
	q->backoff = 0;
	q->can_cork = sock_tune(nbd_aio_get_fd(q->h));
	size = nbd_get_size(q->h);
	if (size >= 0 && (uint64_t)size != atomic_load(&d->size)) {
		uint64_t old = atomic_exchange(&d->size, (uint64_t)size);

		if (old != (uint64_t)size)
			msg_log_ratelimited(&q->rl, MSG_WARN, "nbd: the export %s is now %" PRId64 " bytes (was %" PRIu64 ")",
				    d->uri, size, old);
	}
	if (q->down_logged) {
		msg_log_ratelimited(&q->rl, MSG_INFO, "nbd: queue %u: connected to %s after %.1f s; resending %u requests",
			    q->index, d->uri, (double)(now_ns() - q->down_since) / NSEC_PER_SEC,
			    list_count(&q->pending));
		q->down_logged = false;
	}

	list_init(&todo);
	list_splice_front(&todo, &q->pending);
	while ((r = list_pop(&todo)))
		req_send(q, r);
	timer_update(q);
}

/* After any libnbd call on the handle: notice death, readiness, direction. */
static void conn_check(struct nbd_queue *q, const char *why)
{
	if (!q->h)
		return;
	if (nbd_aio_is_dead(q->h) || nbd_aio_is_closed(q->h)) {
		conn_fail(q, why ? why : "the server closed the connection");
		return;
	}
	if (q->state == CONN_CONNECTING) {
		sock_watch(q, true);
		if (nbd_aio_is_ready(q->h))
			conn_ready(q);
		else if (!nbd_aio_is_connecting(q->h))
			conn_fail(q, why ? why : "the handshake stopped");
		return;
	}
	sock_watch(q, false);
}

static void q_connect(struct nbd_queue *q)
{
	char why[256];

	q->h = handle_new();
	q->state = CONN_CONNECTING;
	q->connect_deadline = now_ns() + CONNECT_TIMEOUT_NS;
	if (!q->h) {
		conn_fail(q, "out of memory");
		return;
	}
	if (nbd_aio_connect_uri(q->h, q->d->uri) == -1) {
		snprintf(why, sizeof(why), "%s", nbd_msg());
		conn_fail(q, why);
		return;
	}
	conn_check(q, NULL);
	if (q->state == CONN_CONNECTING)
		timer_update(q);
}

/* ---- requests ---- */

static bool transport_error(int err)
{
	return err == ENOTCONN || err == ESHUTDOWN || err == ECONNRESET ||
	       err == ECONNABORTED || err == EPIPE || err == ETIMEDOUT;
}

static int req_cb(void *opaque, int *error)
{
	struct nbd_req *r = opaque;

	/* libnbd's lock is held: no nbd_* calls here, just hand it over. */
	r->err = *error;
	list_del(&r->link);
	list_add_tail(&r->q->done, &r->link);
	return 1;
}

static void req_complete(struct nbd_req *r, int result)
{
	struct backend_io *io = backend_io_from_priv(r);
	struct nbd_queue *q = r->q;
	uint64_t len = io->len;

	if (!r->bounce) {
		backend_io_complete(io, result);
		return;
	}
	if (result == 0 && io->op == BACKEND_OP_READ)
		buf_to_iov(io->iov, io->iovcnt, r->buf, io->len);
	free(r->buf);
	r->buf = NULL;
	r->bounce = false;
	/* @r may be reused once completed: @q and @len were read before. */
	backend_io_complete(io, result);
	backend_copy_put(&q->copy, len);
}

/* Sends the next chunk of @r; it is connected (CONN_READY). */
static void req_issue(struct nbd_queue *q, struct nbd_req *r)
{
	struct backend_io *io = backend_io_from_priv(r);
	nbd_completion_callback cb = { .callback = req_cb, .user_data = r };
	uint64_t off = io->offset + r->pos;
	uint64_t left = io->len - r->pos;
	uint32_t flags = 0;
	int64_t cookie = -1;
	char why[256];
	int err;

	r->gen = q->gen;
	r->err = 0;
	/* On the list first: a callback may come before the call returns. */
	list_add_tail(&q->inflight, &r->link);
	switch (io->op) {
	case BACKEND_OP_READ:
		r->chunk = left < q->d->max_payload ? left : q->d->max_payload;
		cookie = nbd_aio_pread(q->h, r->buf + r->pos, r->chunk, off, cb, 0);
		break;
	case BACKEND_OP_WRITE:
		r->chunk = left < q->d->max_payload ? left : q->d->max_payload;
		if (q->d->write_fua)
			flags |= LIBNBD_CMD_FLAG_FUA;
		cookie = nbd_aio_pwrite(q->h, r->buf + r->pos, r->chunk, off, cb, flags);
		break;
	case BACKEND_OP_FLUSH:
		r->chunk = 0;
		cookie = nbd_aio_flush(q->h, cb, 0);
		break;
	case BACKEND_OP_DISCARD:
		r->chunk = left < RANGE_CHUNK ? left : RANGE_CHUNK;
		cookie = nbd_aio_trim(q->h, r->chunk, off, cb, 0);
		break;
	case BACKEND_OP_WRITE_ZEROES:
		r->chunk = left < RANGE_CHUNK ? left : RANGE_CHUNK;
		/* Without the unmap flag the blocks must stay allocated. */
		if (!(io->flags & BACKEND_IO_MAY_UNMAP))
			flags |= LIBNBD_CMD_FLAG_NO_HOLE;
		cookie = nbd_aio_zero(q->h, r->chunk, off, cb, flags);
		break;
	}
	if (cookie != -1) {
		conn_check(q, NULL);
		return;
	}

	err = nbd_get_errno();
	snprintf(why, sizeof(why), "%s", nbd_msg());
	list_del(&r->link);
	if (nbd_aio_is_dead(q->h) || nbd_aio_is_closed(q->h) || err == ENOTCONN) {
		list_add_tail(&q->pending, &r->link);
		conn_fail(q, why);
		return;
	}
	/* Refused by libnbd itself (bad range, alignment): final. */
	req_complete(r, err ? -err : -EIO);
}

/* Sends @r now if connected, else queues it for the next connection. */
static void req_send(struct nbd_queue *q, struct nbd_req *r)
{
	if (q->state == CONN_READY)
		req_issue(q, r);
	else
		list_add_tail(&q->pending, &r->link);
}

/* A command of @r came back: finish, send the next chunk, or retry. */
static void req_finish(struct nbd_queue *q, struct nbd_req *r)
{
	struct backend_io *io = backend_io_from_priv(r);

	if (r->err) {
		if (r->gen != q->gen || q->state != CONN_READY ||
		    transport_error(r->err)) {
			list_add_tail(&q->pending, &r->link);
			/* e.g. ESHUTDOWN: the server is going away; so do we. */
			if (r->gen == q->gen && q->state == CONN_READY)
				conn_fail(q, strerror(r->err));
			return;
		}
		req_complete(r, -r->err);
		return;
	}
	r->pos += r->chunk;
	if (r->pos < io->len) {
		req_send(q, r);
		return;
	}
	req_complete(r, 0);
}

/* Finishes what libnbd called back for; completions may submit more. */
static void q_drain(struct nbd_queue *q)
{
	struct nbd_req *r;

	if (q->draining)
		return;
	q->draining = true;
	while ((r = list_pop(&q->done)))
		req_finish(q, r);
	q->draining = false;
}

static bool iov_adjacent(const struct backend_io *io)
{
	unsigned int i;

	for (i = 1; i < io->iovcnt; i++)
		if ((char *)io->iov[i - 1].iov_base + io->iov[i - 1].iov_len !=
		    io->iov[i].iov_base)
			return false;
	return true;
}

/*
 * The copy for a request whose bytes in q->copy were granted; on failure
 * it gives them back and completes the request.
 */
static int req_bounce(struct nbd_queue *q, struct nbd_req *r)
{
	struct backend_io *io = backend_io_from_priv(r);
	uint64_t len = io->len;

	r->buf = malloc(len);
	if (!r->buf) {
		backend_io_complete(io, -ENOMEM);
		backend_copy_put(&q->copy, len);
		return -ENOMEM;
	}
	r->bounce = true;
	if (io->op == BACKEND_OP_WRITE)
		iov_to_buf(io->iov, io->iovcnt, 0, r->buf, len);
	return 0;
}

static void req_arm_timer(struct nbd_queue *q, const struct nbd_req *r)
{
	if (r->deadline && (!q->timer_at || r->deadline < q->timer_at))
		timer_set(q, r->deadline);
}

/* A request that waited for bounce room got it (from req_complete). */
static void nbd_resume(void *queue, struct backend_io *io)
{
	struct nbd_queue *q = queue;
	struct nbd_req *r = backend_io_priv(io);

	if (req_bounce(q, r))
		return;
	req_arm_timer(q, r);
	req_send(q, r);
}

static void nbd_submit(void *queue, struct backend_io *io)
{
	struct nbd_queue *q = queue;
	struct nbd_req *r = backend_io_priv(io);

	memset(r, 0, sizeof(*r));
	list_init(&r->link);
	r->q = q;
	if (q->d->io_timeout_ns)
		r->deadline = now_ns() + q->d->io_timeout_ns;
	if (io->op == BACKEND_OP_READ || io->op == BACKEND_OP_WRITE) {
		if (iov_adjacent(io)) {
			r->buf = io->iov[0].iov_base;
		} else {
			/* Else nbd_resume() goes on once earlier copies are freed. */
			if (!backend_copy_get(&q->copy, io))
				return;
			if (req_bounce(q, r))
				return;
		}
	}
	req_arm_timer(q, r);
	if (q->batch++ && q->can_cork && q->state == CONN_READY)
		sock_cork(q, true);
	req_send(q, r);
	q_drain(q);
}

/* ---- timer: reconnect, connect timeout, I/O timeout ---- */

static bool any_expired(const struct link *l, uint64_t now)
{
	const struct link *e;

	for (e = l->next; e != l; e = e->next) {
		const struct nbd_req *r = (const struct nbd_req *)e;

		if (r->deadline && r->deadline <= now)
			return true;
	}
	return false;
}

static void q_timer(struct nbd_queue *q)
{
	uint64_t now = now_ns();
	struct link expired, *e, *next;
	struct nbd_req *r;
	unsigned int n = 0;

	q->timer_at = 0;	/* it fired */
	if (q->d->io_timeout_ns) {
		/* A server that leaves a command unanswered that long is hung. */
		if (q->state == CONN_READY && any_expired(&q->inflight, now)) {
			char why[64];

			snprintf(why, sizeof(why), "no reply within the I/O timeout of %llu s",
				 (unsigned long long)(q->d->io_timeout_ns / NSEC_PER_SEC));
			conn_fail(q, why);
		}
		list_init(&expired);
		for (e = q->pending.next; e != &q->pending; e = next) {
			next = e->next;
			r = (struct nbd_req *)e;
			if (r->deadline && r->deadline <= now) {
				list_del(e);
				list_add_tail(&expired, e);
				n++;
			}
		}
		if (n)
			msg_log_ratelimited(&q->rl, MSG_ERR, "nbd: queue %u: %u requests failed: no answer from %s within the I/O timeout",
				    q->index, n, q->d->uri);
		while ((r = list_pop(&expired)))
			req_complete(r, -EIO);
	}
	if (q->state == CONN_WAIT && now >= q->retry_at)
		q_connect(q);
	else if (q->state == CONN_CONNECTING && now >= q->connect_deadline)
		conn_fail(q, "the connection or handshake timed out");
	timer_update(q);
}

/* ---- queue contexts ---- */

/*
 * Tells libnbd what the socket is ready for, and only that: a read notice
 * while a long command is half sent makes libnbd stop sending and wait
 * for a reply, which the server will not send before the rest of the
 * command arrives.
 */
static void q_io(struct nbd_queue *q, uint32_t events)
{
	unsigned int dir = nbd_aio_get_direction(q->h);
	char why[256] = "";
	int r = 0;

	if ((dir & LIBNBD_AIO_DIRECTION_READ) &&
	    (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		r = nbd_aio_notify_read(q->h);
		dir = r != -1 ? nbd_aio_get_direction(q->h) : 0;
	}
	/* A read may have freed room to send the commands queued behind. */
	if (r != -1 && (dir & LIBNBD_AIO_DIRECTION_WRITE) &&
	    (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		r = nbd_aio_notify_write(q->h);
	if (r == -1)
		snprintf(why, sizeof(why), "%s", nbd_msg());
	conn_check(q, why[0] ? why : NULL);
}

static int nbd_queue_process(void *queue)
{
	struct nbd_queue *q = queue;
	struct epoll_event ev[4];
	uint32_t sock_events = 0;
	bool timer = false;
	uint64_t ticks;
	int i, n;

	n = epoll_wait(q->epfd, ev, 4, 0);
	for (i = 0; i < n; i++) {
		if (ev[i].data.u32 == TAG_TIMER)
			timer = true;
		else
			sock_events |= ev[i].events;
	}
	if (sock_events && q->h)
		q_io(q, sock_events);
	q_drain(q);
	if (timer) {
		if (read(q->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			return -errno;
		q_timer(q);
		q_drain(q);
	}
	return 0;
}

static void nbd_queue_unplug(void *queue)
{
	struct nbd_queue *q = queue;

	q->batch = 0;
	sock_cork(q, false);
}

static int nbd_queue_poll_fd(void *queue)
{
	struct nbd_queue *q = queue;

	return q->epfd;
}

static int nbd_queue_init(void *handle, const struct backend_queue_env *env,
			  void **queuep)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = TAG_TIMER };
	struct nbd_queue *q;
	int ret;

	q = calloc(1, sizeof(*q));
	if (!q) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	q->d = handle;
	q->index = env->index;
	q->sock = -1;
	q->rl.interval_ns = LOG_INTERVAL_NS;
	q->rl.burst = LOG_BURST;
	backend_copy_init(&q->copy, 0, nbd_resume, q);
	list_init(&q->pending);
	list_init(&q->inflight);
	list_init(&q->done);
	q->epfd = epoll_create1(EPOLL_CLOEXEC);
	q->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (q->epfd < 0 || q->tfd < 0 ||
	    epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->tfd, &ev) < 0) {
		ret = -errno;
		msg_error("nbd queue %u: cannot create its event descriptors: %m",
			  env->index);
		goto err;
	}
	/*
	 * Start connecting without waiting: the handshake finishes in
	 * queue_process, and a server that is down now is retried later
	 * rather than failing the queue.
	 */
	q_connect(q);
	*queuep = q;
	return 0;

err:
	if (q->epfd >= 0)
		close(q->epfd);
	if (q->tfd >= 0)
		close(q->tfd);
	free(q);
	return ret;
}

/* Fails every request the queue holds; the handle must be closed. */
static void fail_all(struct nbd_queue *q)
{
	struct backend_io *io;
	struct nbd_req *r;

	/* First those waiting for bounce room: nothing may resume them now. */
	while ((io = backend_copy_unwait(&q->copy)))
		backend_io_complete(io, -EIO);
	list_splice_front(&q->pending, &q->inflight);
	list_splice_front(&q->pending, &q->done);
	while ((r = list_pop(&q->pending)))
		req_complete(r, -EIO);
}

/*
 * The device is stopping and the server left these requests unanswered
 * too long.  Closing the handle is what guarantees that libnbd writes
 * into none of their buffers again; then every one fails.  The next
 * request, if any, connects anew.
 */
static void nbd_queue_abort(void *queue)
{
	struct nbd_queue *q = queue;

	if (q->h)
		conn_fail(q, "the device is stopping and the server did not answer in time");
	fail_all(q);
}

static void nbd_queue_fini(void *queue)
{
	struct nbd_queue *q = queue;

	if (q->h) {
		/* A polite goodbye if it can go out at once; never wait for it. */
		if (q->state == CONN_READY)
			nbd_aio_disconnect(q->h, 0);
		nbd_close(q->h);
		q->h = NULL;
	}
	/* The daemon drains queues before this; anything left is failed. */
	fail_all(q);
	if (q->rl.suppressed)
		msg_log(MSG_WARN, "nbd: queue %u: suppressed %u connection messages",
			q->index, q->rl.suppressed);
	close(q->epfd);
	close(q->tfd);
	free(q);
}

static const char *const nbd_prefixes[] = {
	"nbd:", "nbds:", "nbd+unix:", "nbds+unix:", "nbd+vsock:", "nbds+vsock:",
	NULL,
};

static struct backend_ops nbd_ops = {
	.name = "nbd",
	.usage = "nbd://HOST[:PORT]/EXPORT, nbds://... (TLS), nbd+unix:///EXPORT?socket=PATH\n"
		 "                   an NBD server's export (libnbd URI); reconnects when the\n"
		 "                   server comes back (see --io-timeout)",
	.thread_model = BACKEND_THREAD_PARALLEL,
	.io_priv_size = sizeof(struct nbd_req),
	.open = nbd_open,
	.close = nbd_disk_close,
	.get_size = nbd_disk_size,
	.get_phys_block_size = nbd_phys_block,
	.can_write = nbd_can_write_cap,
	.can_flush = nbd_has_cache,
	.can_discard = nbd_can_discard_cap,
	.can_write_zeroes = nbd_zero_cap,
	.can_zero_unmap = nbd_zero_unmap,
	.queue_init = nbd_queue_init,
	.queue_fini = nbd_queue_fini,
	.queue_poll_fd = nbd_queue_poll_fd,
	.queue_process = nbd_queue_process,
	.read = nbd_submit,
	.write = nbd_submit,
	.flush = nbd_submit,
	.discard = nbd_submit,
	.write_zeroes = nbd_submit,
	.prefixes = nbd_prefixes,
	.get_thread_model = nbd_thread_model,
	.queue_unplug = nbd_queue_unplug,
	.queue_abort = nbd_queue_abort,
	.params = (const char *const[]){ "io-timeout", NULL },
};

BACKEND_REGISTER(nbd_ops, backend_nbd_init)
