// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The vhost-user front-end (vhost/vhost-user.h) against a fake back-end:
 * a thread on the other end of a socketpair that answers like a good
 * back-end, or with one scripted fault at one request.  Every case checks
 * the return code, that c->err names the problem, that nothing waits much
 * longer than c->timeout_ms, and that no descriptor is left open.
 *
 * Prints "ok N - name" or "not ok N - name: why" per case; exit 1 if any
 * failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vhost-user.h"
#include "test.h"

#define TIMEOUT_MS	300
/* The fake gives up on a silent front-end after this long. */
#define FAKE_WAIT_MS	5000
#define MSG_MAX		4096

#define FLAG_VERSION	0x1U
#define FLAG_REPLY	(1U << 2)
#define FLAG_NEED_REPLY	(1U << 3)
#define F_VERSION_1	32
#define FEATURES_GOOD	((1ULL << VU_F_PROTOCOL_FEATURES) | (1ULL << F_VERSION_1))
#define PF_ALL		((1ULL << VU_PF_MQ) | (1ULL << VU_PF_REPLY_ACK) | \
			 (1ULL << VU_PF_CONFIG) | (1ULL << VU_PF_BACKEND_REQ))
#define CONFIG_LEN	60

struct hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct ring_state {
	uint32_t index;
	uint32_t num;
};

enum fault {
	FT_NONE,
	FT_SILENT,		/* reads the request, never answers */
	FT_CLOSE,		/* reads the request, closes */
	FT_CLOSE_UNREAD,	/* answers, closes with the next request unread */
	FT_ANSWER_CLOSE,	/* answers, closes */
	FT_HEADER_CLOSE,	/* sends the reply's header, closes */
	FT_HEADER_SILENT,	/* sends the reply's header, then nothing */
	FT_GARBAGE,		/* pseudo-random bytes instead of the reply */
	FT_WRONG_REQUEST,
	FT_NO_REPLY_FLAG,
	FT_BAD_VERSION,
	FT_SHORT,		/* the reply 4 bytes short, its size too */
	FT_LONG,		/* 8 bytes too many */
	FT_HUGE,		/* size field 0xffffffff */
	FT_STATUS,		/* the acknowledgement says status arg */
	FT_FDS,			/* arg descriptors with the reply */
	FT_FDS_PAYLOAD,		/* arg descriptors with the payload, sent apart */
};

/* What the fake does on the request channel. */
enum chan {
	CH_NONE,
	CH_CONFIG_CHANGE,	/* after GET_VRING_BASE: config change, need_reply */
	CH_CLOSE_UNREAD,	/* the same, then closes with the ack unread */
	CH_HUGE,		/* once set up: a header saying 5000 bytes */
	CH_CLOSE,		/* once set up: closes */
	CH_CUT,			/* once set up: 10 bytes of 100, closes */
	CH_FDS,			/* once set up: config change with 3 descriptors */
};

struct fake {
	/* the script */
	uint64_t features, protocol, queues;
	uint32_t cfg_offset;
	int64_t cfg_size;		/* config reply's size field; -1: as asked */
	uint32_t base_index_delta, base_num;
	uint64_t inflight_size;		/* GET_INFLIGHT_FD's answer */
	unsigned int inflight_nfds;	/* descriptors sent with it */
	uint32_t fault_req;
	enum fault fault;
	uint64_t arg;
	enum chan chan;
	/* its state */
	int fd, req_fd;
	bool acks;
	int rx_fds[16];
	unsigned int nrx;
	/* what it saw */
	uint64_t set_features, set_protocol;
	uint32_t nregions;
	struct vu_region mem;
	unsigned int mem_fds, ring_fds, inflight_fds_in;
	bool got_ack;
	char why[256];
};

static struct fake fk;
static struct vu_conn conn;
static pthread_t thread;
static bool running;
static char why[512];
static char backend_why[256];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d) {
		perror("/proc/self/fd");
		exit(T_EXIT_FAIL);
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- the fake back-end ---- */

__attribute__((format(printf, 2, 3)))
static void fk_fail(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

static int wait_in(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, ms);
	while (n < 0 && errno == EINTR);
	return n;
}

static void drop_fds(struct fake *f)
{
	while (f->nrx)
		close(f->rx_fds[--f->nrx]);
}

/* Exactly @len bytes: 1; end of file or failure: 0 (-1 if it waited too long). */
static int fk_read(struct fake *f, int fd, void *buf, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 16)];
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { (char *)buf + done, len - done };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm;
		ssize_t n;

		if (wait_in(fd, FAKE_WAIT_MS) <= 0) {
			fk_fail(f, "the front-end sent nothing for %d ms", FAKE_WAIT_MS);
			return -1;
		}
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t i, k;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < k; i++) {
				int rfd;

				memcpy(&rfd, CMSG_DATA(cm) + i * sizeof(int), sizeof(rfd));
				if (f->nrx < 16)
					f->rx_fds[f->nrx++] = rfd;
				else
					close(rfd);
			}
		}
		done += (size_t)n;
	}
	return 1;
}

/* One sendmsg of @len bytes, with @nfds fresh descriptors of /dev/null. */
static void send_raw(int fd, const void *buf, size_t len, unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[16];
	unsigned int i;

	if (nfds > 16)
		nfds = 16;
	for (i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nfds) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	/* Errors are the front-end having gone, which the case checks. */
	(void)sendmsg(fd, &mh, MSG_NOSIGNAL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/* A message with header fields as given, the payload as it is. */
static void send_msg(int fd, uint32_t request, uint32_t flags, uint32_t size,
		     const void *payload, size_t len, unsigned int nfds)
{
	uint8_t buf[sizeof(struct hdr) + MSG_MAX + 8];
	struct hdr h = { request, flags, size };

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	send_raw(fd, buf, sizeof(h) + len, nfds);
}

static bool is_get(uint32_t request)
{
	return request == VU_GET_FEATURES || request == VU_GET_PROTOCOL_FEATURES ||
	       request == VU_GET_QUEUE_NUM || request == VU_GET_CONFIG ||
	       request == VU_GET_VRING_BASE || request == VU_GET_INFLIGHT_FD;
}

static void check_flags(struct fake *f, const struct hdr *h)
{
	bool need = h->flags & FLAG_NEED_REPLY;

	/* A new session: acknowledgements wait for protocol features. */
	if (h->request == VU_SET_OWNER)
		f->acks = false;
	if ((h->flags & 3) != FLAG_VERSION || (h->flags & FLAG_REPLY))
		fk_fail(f, "request %u has flags 0x%x", h->request, h->flags);
	if (is_get(h->request) && need)
		fk_fail(f, "request %u asks for an acknowledgement", h->request);
	if (!is_get(h->request) && need != f->acks)
		fk_fail(f, "request %u %s an acknowledgement", h->request,
			need ? "asks for" : "does not ask for");
}

/* Takes note of what a request without a reply of its own says. */
static void take(struct fake *f, const struct hdr *h, const uint8_t *p)
{
	uint64_t v = 0;

	if (h->size >= sizeof(v))
		memcpy(&v, p, sizeof(v));
	switch (h->request) {
	case VU_SET_FEATURES:
		f->set_features = v;
		break;
	case VU_SET_PROTOCOL_FEATURES:
		f->set_protocol = v;
		f->acks = v & (1ULL << VU_PF_REPLY_ACK);
		break;
	case VU_SET_MEM_TABLE:
		if (h->size < 8 + sizeof(f->mem)) {
			fk_fail(f, "SET_MEM_TABLE of %u bytes", h->size);
			break;
		}
		memcpy(&f->nregions, p, sizeof(f->nregions));
		memcpy(&f->mem, p + 8, sizeof(f->mem));
		f->mem_fds = f->nrx;
		break;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
		f->ring_fds += f->nrx;
		break;
	case VU_SET_INFLIGHT_FD:
		f->inflight_fds_in += f->nrx;
		break;
	case VU_SET_BACKEND_REQ_FD:
		if (f->nrx != 1) {
			fk_fail(f, "SET_BACKEND_REQ_FD came with %u descriptors", f->nrx);
			break;
		}
		if (f->req_fd >= 0)
			close(f->req_fd);
		f->req_fd = f->rx_fds[0];
		f->nrx = 0;
		break;
	}
}

static uint32_t config_reply(struct fake *f, const struct hdr *h, const uint8_t *p,
			     uint8_t *r)
{
	uint32_t q[3], i;

	memcpy(q, p, sizeof(q));
	if (h->size != sizeof(q) + q[1] || q[0] != 0)
		fk_fail(f, "GET_CONFIG of %u bytes asks for %u at %u", h->size, q[1], q[0]);
	if (q[1] > MSG_MAX - sizeof(q))
		return 0;
	q[0] = f->cfg_offset;
	q[1] = f->cfg_size < 0 ? q[1] : (uint32_t)f->cfg_size;
	memcpy(r, q, sizeof(q));
	for (i = 0; i < h->size - sizeof(q); i++)
		r[sizeof(q) + i] = (uint8_t)(i * 7 + 1);
	return h->size;
}

static void chan_config_change(struct fake *f, bool read_ack)
{
	struct {
		struct hdr h;
		uint64_t status;
	} __attribute__((packed)) ack;

	send_msg(f->req_fd, VU_BACKEND_CONFIG_CHANGE, FLAG_VERSION | FLAG_NEED_REPLY,
		 0, NULL, 0, 0);
	if (!read_ack) {
		/* Closed with the acknowledgement waiting unread. */
		if (wait_in(f->req_fd, FAKE_WAIT_MS) <= 0)
			fk_fail(f, "no acknowledgement of the config change");
		close(f->req_fd);
		f->req_fd = -1;
		return;
	}
	if (fk_read(f, f->req_fd, &ack, sizeof(ack)) <= 0) {
		fk_fail(f, "no acknowledgement of the config change");
		return;
	}
	if (ack.h.request != VU_BACKEND_CONFIG_CHANGE ||
	    ack.h.flags != (FLAG_VERSION | FLAG_REPLY) || ack.h.size != 8 || ack.status)
		fk_fail(f, "config change acknowledged with %u/0x%x/%u status %llu",
			ack.h.request, ack.h.flags, ack.h.size,
			(unsigned long long)ack.status);
	else
		f->got_ack = true;
}

/* What the fake does on the request channel after answering @request. */
static void chan_after(struct fake *f, uint32_t request)
{
	static const uint8_t ten[10];

	if (f->req_fd < 0)
		return;
	if (request == VU_GET_VRING_BASE && f->chan == CH_CONFIG_CHANGE)
		chan_config_change(f, true);
	if (request == VU_GET_VRING_BASE && f->chan == CH_CLOSE_UNREAD)
		chan_config_change(f, false);
	if (request != VU_SET_BACKEND_REQ_FD)
		return;
	switch (f->chan) {
	case CH_HUGE:
		send_msg(f->req_fd, VU_BACKEND_CONFIG_CHANGE, FLAG_VERSION, 5000,
			 NULL, 0, 0);
		break;
	case CH_CUT:
		send_msg(f->req_fd, VU_BACKEND_CONFIG_CHANGE, FLAG_VERSION, 100,
			 ten, sizeof(ten), 0);
		/* fall through */
	case CH_CLOSE:
		close(f->req_fd);
		f->req_fd = -1;
		break;
	case CH_FDS:
		send_msg(f->req_fd, VU_BACKEND_CONFIG_CHANGE, FLAG_VERSION, 0,
			 NULL, 0, 3);
		break;
	default:
		break;
	}
}

/* Answers one request; false when the fake hangs up. */
static bool answer(struct fake *f, const struct hdr *h, const uint8_t *p)
{
	uint8_t r[MSG_MAX + 8];
	uint32_t rs = 0, req = h->request, flags = FLAG_VERSION | FLAG_REPLY;
	bool reply = true;
	uint64_t v;

	check_flags(f, h);
	switch (req) {
	case VU_GET_FEATURES:
		v = f->features;
		goto u64;
	case VU_GET_PROTOCOL_FEATURES:
		v = f->protocol;
		goto u64;
	case VU_GET_QUEUE_NUM:
		v = f->queues;
		goto u64;
	case VU_GET_CONFIG:
		rs = config_reply(f, h, p, r);
		break;
	case VU_GET_INFLIGHT_FD: {
		/* {mmap_size, mmap_offset, num_queues, queue_size}, as asked */
		uint64_t m[3] = { f->inflight_size, 0, 0 };

		memcpy(&m[2], p + 16, 4);
		memcpy(r, m, sizeof(m));
		rs = sizeof(m);
		break;
	}
	case VU_GET_VRING_BASE: {
		struct ring_state s;

		memcpy(&s, p, sizeof(s));
		s.index += f->base_index_delta;
		s.num = f->base_num;
		memcpy(r, &s, sizeof(s));
		rs = sizeof(s);
		break;
	}
	default:
		take(f, h, p);
		reply = h->flags & FLAG_NEED_REPLY;
		v = f->fault == FT_STATUS && req == f->fault_req ? f->arg : 0;
	u64:
		memcpy(r, &v, sizeof(v));
		rs = sizeof(v);
		break;
	}
	if (req != f->fault_req || f->fault == FT_STATUS)
		goto normal;

	switch (f->fault) {
	case FT_SILENT:
		return true;
	case FT_CLOSE:
		return false;
	case FT_CLOSE_UNREAD:
		if (reply)
			send_msg(f->fd, req, flags, rs, r, rs, 0);
		if (wait_in(f->fd, FAKE_WAIT_MS) <= 0)
			fk_fail(f, "no request after %u", req);
		return false;
	case FT_ANSWER_CLOSE:
		if (reply)
			send_msg(f->fd, req, flags, rs, r, rs, 0);
		return false;
	case FT_HEADER_CLOSE:
		send_msg(f->fd, req, flags, rs, NULL, 0, 0);
		return false;
	case FT_HEADER_SILENT:
		send_msg(f->fd, req, flags, rs, NULL, 0, 0);
		return true;
	case FT_GARBAGE: {
		uint32_t x = 0x9e3779b9, i;

		/* xorshift32: the same garbage every run */
		for (i = 0; i < 64; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			r[i] = (uint8_t)x;
		}
		send_raw(f->fd, r, 64, 0);
		return true;
	}
	case FT_WRONG_REQUEST:
		req++;
		break;
	case FT_NO_REPLY_FLAG:
		flags = FLAG_VERSION;
		break;
	case FT_BAD_VERSION:
		flags = FLAG_REPLY | 2;
		break;
	case FT_SHORT:
		rs -= 4;
		break;
	case FT_LONG:
		memset(r + rs, 0xee, 8);
		rs += 8;
		break;
	case FT_HUGE:
		send_msg(f->fd, req, flags, 0xffffffff, r, rs, 0);
		return true;
	case FT_FDS:
		send_msg(f->fd, req, flags, rs, r, rs, (unsigned int)f->arg);
		chan_after(f, h->request);
		return true;
	case FT_FDS_PAYLOAD:
		send_msg(f->fd, req, flags, rs, NULL, 0, 0);
		send_raw(f->fd, r, rs, (unsigned int)f->arg);
		chan_after(f, h->request);
		return true;
	default:
		break;
	}
normal:
	if (reply)
		send_msg(f->fd, req, flags, rs, r, rs,
			 req == VU_GET_INFLIGHT_FD ? f->inflight_nfds : 0);
	chan_after(f, h->request);
	return true;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	uint8_t p[MSG_MAX];
	struct hdr h;

	for (;;) {
		int ret = fk_read(f, f->fd, &h, sizeof(h));

		if (ret > 0 && h.size > sizeof(p)) {
			fk_fail(f, "request %u of %u bytes", h.request, h.size);
			ret = 0;
		}
		if (ret > 0)
			ret = fk_read(f, f->fd, p, h.size);
		if (ret <= 0 || !answer(f, &h, p)) {
			drop_fds(f);
			break;
		}
		drop_fds(f);
	}
	close(f->fd);
	if (f->req_fd >= 0)
		close(f->req_fd);
	return NULL;
}

/* ---- the cases' helpers ---- */

/* Ends the running case's fake; its complaints are kept for the case. */
static void stop(void)
{
	vu_close(&conn);
	if (!running)
		return;
	pthread_join(thread, NULL);
	running = false;
	if (fk.why[0] && !backend_why[0])
		snprintf(backend_why, sizeof(backend_why), "%s", fk.why);
}

/* A well-behaved back-end, not started yet. */
static void setup(void)
{
	stop();
	memset(&fk, 0, sizeof(fk));
	fk.features = FEATURES_GOOD;
	fk.protocol = PF_ALL;
	fk.queues = 2;
	fk.cfg_size = -1;
	fk.base_num = 7;
	fk.fd = -1;
	fk.req_fd = -1;
}

static void go(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		exit(T_EXIT_FAIL);
	}
	fk.fd = sv[1];
	vu_init(&conn);
	vu_attach_fd(&conn, sv[0]);
	if (pthread_create(&thread, NULL, fake_main, &fk)) {
		fprintf(stderr, "pthread_create failed\n");
		exit(T_EXIT_FAIL);
	}
	running = true;
}

/* True if @err mentions one of the '|'-separated @words. */
static bool mentions(const char *err, const char *words)
{
	char w[64];
	const char *s = words, *bar;

	if (strlen(err) < 10)
		return false;
	for (;;) {
		size_t n;

		bar = strchr(s, '|');
		n = bar ? (size_t)(bar - s) : strlen(s);
		snprintf(w, sizeof(w), "%.*s", (int)n, s);
		if (strstr(err, w))
			return true;
		if (!bar)
			return false;
		s = bar + 1;
	}
}

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		snprintf(why, sizeof(why), __VA_ARGS__);		\
		return false;						\
	}								\
} while (0)

#define EXPECT_OK(call) do {						\
	int r_;								\
	conn.err[0] = '\0';						\
	r_ = (call);							\
	CHECK(r_ == 0, "%s: %d (%s)", #call, r_, conn.err);		\
} while (0)

#define EXPECT_ERR(call, want, words) do {				\
	int r_;								\
	conn.err[0] = '\0';						\
	r_ = (call);							\
	CHECK(r_ == (want), "%s: %d (%s), expected %d", #call, r_,	\
	      conn.err, (want));					\
	CHECK(mentions(conn.err, words), "%s: '%s' does not say '%s'",	\
	      #call, conn.err, words);					\
} while (0)

/* vu_backend_request until it reports a request or fails (1 s at most). */
static int backend_request(uint32_t *req)
{
	int64_t end = now_ms() + 1000;
	int ret;

	do {
		ret = vu_backend_request(&conn, req);
		if (ret < 0 || *req)
			return ret;
		usleep(5000);
	} while (now_ms() < end);
	return ret;
}

/* ---- the cases ---- */

static bool case_good(void)
{
	static const struct vu_region region = {
		0, 1 << 20, 0x7f0000000000, 0x1000,
	};
	struct vu_vring_addr addr = { 0x1000, 0x2000, 0x3000 };
	uint8_t cfg[CONFIG_LEN];
	unsigned int base = 0, i;
	uint32_t req = 0;
	int memfd, efd;
	bool ok;

	setup();
	fk.chan = CH_CONFIG_CHANGE;
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL | (1ULL << VU_PF_INFLIGHT_SHMFD)));
	CHECK(conn.features == FEATURES_GOOD, "features 0x%llx",
	      (unsigned long long)conn.features);
	CHECK(conn.protocol == PF_ALL, "protocol 0x%llx", (unsigned long long)conn.protocol);
	CHECK(conn.queue_num == 2, "%u queues", conn.queue_num);
	CHECK(conn.req_fd >= 0, "no request channel");
	EXPECT_OK(vu_get_config(&conn, cfg, sizeof(cfg)));
	for (i = 0; i < sizeof(cfg); i++)
		CHECK(cfg[i] == (uint8_t)(i * 7 + 1), "config byte %u is %u", i, cfg[i]);
	EXPECT_OK(vu_set_features(&conn, 1ULL << F_VERSION_1));

	memfd = memfd_create("guest", MFD_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC);
	CHECK(memfd >= 0 && efd >= 0, "memfd/eventfd: %s", strerror(errno));
	ok = vu_set_mem_table(&conn, &region, &memfd, 1) == 0;
	for (i = 0; ok && i < 2; i++)
		ok = !vu_set_vring_num(&conn, i, 256) && !vu_set_vring_addr(&conn, i, &addr) &&
		     !vu_set_vring_base(&conn, i, 0) && !vu_set_vring_kick(&conn, i, efd) &&
		     !vu_set_vring_call(&conn, i, efd) && !vu_set_vring_enable(&conn, i, true);
	close(memfd);
	close(efd);
	CHECK(ok, "setting up the rings failed: %s", conn.err);

	EXPECT_OK(vu_get_vring_base(&conn, 1, &base));
	CHECK(base == 7, "ring base %u", base);
	EXPECT_OK(backend_request(&req));
	CHECK(req == VU_BACKEND_CONFIG_CHANGE, "request channel gave %u", req);
	EXPECT_OK(vu_backend_request(&conn, &req));
	CHECK(req == 0, "request channel gave %u more", req);
	CHECK(!vu_hung_up(&conn), "hung up");
	stop();
	CHECK(fk.got_ack, "the config change was not acknowledged");
	CHECK(fk.set_protocol == PF_ALL, "SET_PROTOCOL_FEATURES 0x%llx",
	      (unsigned long long)fk.set_protocol);
	CHECK(fk.set_features == 1ULL << F_VERSION_1, "SET_FEATURES 0x%llx",
	      (unsigned long long)fk.set_features);
	CHECK(fk.nregions == 1 && fk.mem_fds == 1 && !memcmp(&fk.mem, &region, sizeof(region)),
	      "memory table: %u regions, %u descriptors", fk.nregions, fk.mem_fds);
	CHECK(fk.ring_fds == 4, "%u ring descriptors", fk.ring_fds);
	return true;
}

static bool case_garbage(void)
{
	static const struct {
		enum fault fault;
		const char *words;
	} v[] = {
		{ FT_GARBAGE, "request 1" },
		{ FT_WRONG_REQUEST, "not a vhost-user reply" },
		{ FT_NO_REPLY_FLAG, "not a vhost-user reply" },
		{ FT_BAD_VERSION, "not a vhost-user reply" },
		{ FT_SHORT, "bytes" },
		{ FT_LONG, "bytes" },
		{ FT_HUGE, "bytes" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		setup();
		fk.fault_req = VU_GET_FEATURES;
		fk.fault = v[i].fault;
		go();
		EXPECT_ERR(vu_negotiate(&conn, PF_ALL), -EPROTO, v[i].words);
		CHECK(conn.fd == -1, "fault %d: the connection is still open", v[i].fault);
		EXPECT_ERR(vu_set_features(&conn, 0), -ENOTCONN, "not connected");
	}
	return true;
}

static bool case_closes(void)
{
	static const struct {
		uint32_t req;
		enum fault fault;
	} v[] = {
		{ VU_SET_OWNER, FT_CLOSE },
		{ VU_SET_OWNER, FT_CLOSE_UNREAD },
		{ VU_GET_FEATURES, FT_CLOSE },
		{ VU_GET_FEATURES, FT_HEADER_CLOSE },
		{ VU_SET_PROTOCOL_FEATURES, FT_CLOSE_UNREAD },
		{ VU_SET_BACKEND_REQ_FD, FT_CLOSE },
	};
	unsigned int i;
	int64_t t;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		setup();
		fk.fault_req = v[i].req;
		fk.fault = v[i].fault;
		go();
		t = now_ms();
		EXPECT_ERR(vu_negotiate(&conn, PF_ALL), -EPIPE, "closed|Broken pipe");
		t = now_ms() - t;
		CHECK(t < TIMEOUT_MS, "closing at %u took %lld ms", v[i].req, (long long)t);
		CHECK(conn.fd == -1 && conn.req_fd == -1, "still open");
	}
	return true;
}

static bool case_no_protocol(void)
{
	uint8_t cfg[CONFIG_LEN];

	setup();
	fk.features = 1ULL << F_VERSION_1;
	go();
	EXPECT_ERR(vu_negotiate(&conn, PF_ALL), -EPROTONOSUPPORT, "protocol features");

	/* Offered but not wanted: no config space. */
	setup();
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL & ~(1ULL << VU_PF_CONFIG)));
	EXPECT_ERR(vu_get_config(&conn, cfg, sizeof(cfg)), -EPROTONOSUPPORT, "CONFIG");
	return true;
}

static bool case_queues(void)
{
	static const uint64_t bad[] = { 0, 1ULL << 40, 0x10000 };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		fk.queues = bad[i];
		go();
		EXPECT_ERR(vu_negotiate(&conn, PF_ALL), -EPROTO, "queues");
	}
	setup();
	fk.queues = 0xffff;
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	CHECK(conn.queue_num == 0xffff, "%u queues", conn.queue_num);
	return true;
}

static bool case_config(void)
{
	static const struct {
		uint32_t offset;
		int64_t size;
		enum fault fault;
		const char *words;
	} v[] = {
		{ 0, 30, FT_NONE, "covers 30 bytes" },
		{ 0, 0xffffffff, FT_NONE, "covers" },
		{ 4, -1, FT_NONE, "offset 4" },
		{ 0, -1, FT_SHORT, "bytes" },
		{ 0, -1, FT_LONG, "bytes" },
		{ 0, -1, FT_HUGE, "bytes" },
	};
	uint8_t buf[CONFIG_LEN + 4];
	unsigned int i, j;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		setup();
		fk.cfg_offset = v[i].offset;
		fk.cfg_size = v[i].size;
		fk.fault_req = VU_GET_CONFIG;
		fk.fault = v[i].fault;
		go();
		EXPECT_OK(vu_negotiate(&conn, PF_ALL));
		memset(buf, 0xcc, sizeof(buf));
		EXPECT_ERR(vu_get_config(&conn, buf, CONFIG_LEN), -EPROTO, v[i].words);
		for (j = 0; j < sizeof(buf); j++)
			CHECK(buf[j] == 0xcc, "variant %u: byte %u of the buffer written", i, j);
	}
	/* More than the front-end takes: refused before asking. */
	setup();
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	EXPECT_ERR(vu_get_config(&conn, buf, 0xffffffff), -EINVAL, "at most");
	EXPECT_ERR(vu_get_config(&conn, buf, VU_CONFIG_MAX + 1), -EINVAL, "at most");
	return true;
}

static bool case_silent(void)
{
	static const struct {
		uint32_t req;
		enum fault fault;
	} v[] = {
		{ VU_GET_FEATURES, FT_SILENT },
		{ VU_GET_PROTOCOL_FEATURES, FT_HEADER_SILENT },
		{ VU_SET_MEM_TABLE, FT_SILENT },
		{ VU_GET_VRING_BASE, FT_HEADER_SILENT },
	};
	static const struct vu_region region = { 0, 4096, 0x10000, 0 };
	unsigned int i, base;
	int64_t t;
	int ret, fd;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		setup();
		fk.fault_req = v[i].req;
		fk.fault = v[i].fault;
		go();
		conn.err[0] = '\0';
		t = now_ms();
		ret = vu_negotiate(&conn, PF_ALL);
		if (ret == 0) {
			t = now_ms();
			fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (v[i].req == VU_SET_MEM_TABLE)
				ret = vu_set_mem_table(&conn, &region, &fd, 1);
			else
				ret = vu_get_vring_base(&conn, 0, &base);
			close(fd);
		}
		t = now_ms() - t;
		CHECK(ret == -ETIMEDOUT, "silent at %u: %d (%s)", v[i].req, ret, conn.err);
		CHECK(mentions(conn.err, "in time"), "silent at %u: '%s'", v[i].req, conn.err);
		CHECK(t >= TIMEOUT_MS - 10 && t < 3 * TIMEOUT_MS,
		      "silent at %u: gave up after %lld ms", v[i].req, (long long)t);
		CHECK(conn.fd == -1, "silent at %u: the connection is still open", v[i].req);
	}
	return true;
}

static bool case_refuses(void)
{
	static const struct vu_region region = { 0, 4096, 0x10000, 0 };
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int ret;

	setup();
	fk.fault_req = VU_SET_MEM_TABLE;
	fk.fault = FT_STATUS;
	fk.arg = 1;
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	conn.err[0] = '\0';
	ret = vu_set_mem_table(&conn, &region, &fd, 1);
	close(fd);
	CHECK(ret == -EIO, "vu_set_mem_table: %d (%s)", ret, conn.err);
	CHECK(mentions(conn.err, "refused"), "'%s'", conn.err);
	/* A refusal is an answer: the connection goes on. */
	EXPECT_OK(vu_set_vring_num(&conn, 0, 256));
	return true;
}

static bool case_fds(void)
{
	static const struct {
		uint32_t req;
		enum fault fault;
		unsigned int n;
		enum chan chan;
	} v[] = {
		{ VU_GET_FEATURES, FT_FDS, 3, CH_NONE },
		{ VU_GET_PROTOCOL_FEATURES, FT_FDS, 12, CH_NONE },
		{ VU_GET_QUEUE_NUM, FT_FDS_PAYLOAD, 2, CH_NONE },
		{ VU_SET_VRING_NUM, FT_FDS_PAYLOAD, 2, CH_NONE },
		{ VU_SET_VRING_NUM, FT_FDS, 1, CH_FDS },
	};
	unsigned int i, base;
	uint32_t req;
	int before;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		before = fd_count();
		setup();
		fk.fault_req = v[i].req;
		fk.fault = v[i].fault;
		fk.arg = v[i].n;
		fk.chan = v[i].chan;
		go();
		EXPECT_OK(vu_negotiate(&conn, PF_ALL));
		CHECK(conn.features == FEATURES_GOOD && conn.queue_num == 2,
		      "variant %u: wrong values", i);
		EXPECT_OK(vu_set_vring_num(&conn, 0, 256));
		if (v[i].chan == CH_FDS) {
			EXPECT_OK(backend_request(&req));
			CHECK(req == VU_BACKEND_CONFIG_CHANGE, "request channel gave %u", req);
		}
		stop();
		CHECK(fd_count() == before, "variant %u: %d descriptors open, %d before",
		      i, fd_count(), before);
	}
	/* With a reply that is refused, too. */
	setup();
	fk.fault_req = VU_GET_VRING_BASE;
	fk.fault = FT_FDS;
	fk.arg = 4;
	fk.base_index_delta = 1;
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	EXPECT_ERR(vu_get_vring_base(&conn, 0, &base), -EPROTO, "ring 0");
	return true;
}

static bool case_chan(void)
{
	static const struct {
		enum chan chan;
		int want;
		const char *words;
	} v[] = {
		{ CH_HUGE, -EPROTO, "5000 bytes" },
		{ CH_CLOSE, -EPIPE, "closed" },
		{ CH_CUT, -EPIPE, "closed" },
		{ CH_CLOSE_UNREAD, -EPIPE, "closed" },
	};
	unsigned int i, base;
	uint32_t req;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		setup();
		fk.chan = v[i].chan;
		go();
		EXPECT_OK(vu_negotiate(&conn, PF_ALL));
		if (v[i].chan == CH_CLOSE_UNREAD) {
			EXPECT_OK(vu_get_vring_base(&conn, 0, &base));
			EXPECT_OK(backend_request(&req));
			CHECK(req == VU_BACKEND_CONFIG_CHANGE, "request channel gave %u", req);
		}
		EXPECT_ERR(backend_request(&req), v[i].want, v[i].words);
		CHECK(conn.req_fd == -1, "chan %d: the request channel is still open", v[i].chan);
		/* The channel is gone; the connection is not. */
		EXPECT_OK(vu_backend_request(&conn, &req));
		CHECK(req == 0, "request %u from a closed channel", req);
		EXPECT_OK(vu_set_vring_num(&conn, 0, 256));
	}
	return true;
}

static bool case_vring_base(void)
{
	unsigned int base = 12345;

	setup();
	fk.base_index_delta = 1;
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	EXPECT_ERR(vu_get_vring_base(&conn, 1, &base), -EPROTO, "ring 2");
	CHECK(base == 12345, "base written: %u", base);

	setup();
	fk.base_num = 0x10000;
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	EXPECT_ERR(vu_get_vring_base(&conn, 0, &base), -EPROTO, "65536");
	CHECK(base == 12345, "base written: %u", base);
	return true;
}

static bool case_hung_up(void)
{
	int sv[2];

	setup();
	CHECK(vu_hung_up(&conn), "a closed connection is not hung up");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		CHECK(false, "socketpair: %s", strerror(errno));
	vu_init(&conn);
	vu_attach_fd(&conn, sv[0]);
	CHECK(!vu_hung_up(&conn), "hung up while the back-end is there");
	usleep(50000);
	CHECK(!vu_hung_up(&conn), "hung up while the back-end is silent");
	close(sv[1]);
	CHECK(vu_hung_up(&conn), "not hung up after the back-end closed");

	/* After a whole negotiation: the back-end goes once it answered. */
	setup();
	fk.fault_req = VU_SET_VRING_NUM;
	fk.fault = FT_ANSWER_CLOSE;
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	usleep(50000);
	CHECK(!vu_hung_up(&conn), "hung up after negotiating");
	EXPECT_OK(vu_set_vring_num(&conn, 0, 256));
	pthread_join(thread, NULL);
	running = false;
	CHECK(vu_hung_up(&conn), "not hung up after the back-end went");
	return true;
}

static bool case_connect(void)
{
	char dir[] = "/tmp/test-vhost-user.XXXXXX", path[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char longpath[200];
	bool ok = true;
	int fd;

	setup();
	CHECK(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/missing.sock", dir);
	conn.err[0] = '\0';
	if (vu_connect(&conn, path) != -ENOENT || !mentions(conn.err, "no socket")) {
		snprintf(why, sizeof(why), "missing: %s", conn.err);
		ok = false;
	}

	/* Bound, never listening. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bound.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, sizeof(why), "bind: %s", strerror(errno));
		ok = false;
	}
	conn.err[0] = '\0';
	if (ok && (vu_connect(&conn, sa.sun_path) != -ECONNREFUSED ||
		   !mentions(conn.err, "nothing listens"))) {
		snprintf(why, sizeof(why), "bound: %s", conn.err);
		ok = false;
	}
	/* The socket file left behind by a dead back-end. */
	if (fd >= 0)
		close(fd);
	conn.err[0] = '\0';
	if (ok && (vu_connect(&conn, sa.sun_path) != -ECONNREFUSED ||
		   !mentions(conn.err, "nothing listens"))) {
		snprintf(why, sizeof(why), "stale: %s", conn.err);
		ok = false;
	}
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	conn.err[0] = '\0';
	if (ok && (vu_connect(&conn, longpath) != -ENAMETOOLONG ||
		   !mentions(conn.err, "longer"))) {
		snprintf(why, sizeof(why), "long: %s", conn.err);
		ok = false;
	}
	unlink(sa.sun_path);
	rmdir(dir);
	CHECK(conn.fd == -1, "connected somewhere");
	return ok;
}

static bool case_renegotiate(void)
{
	setup();
	go();
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	EXPECT_OK(vu_negotiate(&conn, PF_ALL));
	CHECK(conn.req_fd >= 0, "no request channel");
	return true;
}

static bool case_inflight(void)
{
	const uint64_t pf = PF_ALL | (1ULL << VU_PF_INFLIGHT_SHMFD);
	struct vu_inflight in = { .fd = -1 };

	/* Offered: the area comes with its descriptor and goes to the next back-end. */
	setup();
	fk.protocol = pf;
	fk.inflight_size = 8192;
	fk.inflight_nfds = 1;
	go();
	EXPECT_OK(vu_negotiate(&conn, pf));
	EXPECT_OK(vu_get_inflight_fd(&conn, 2, 256, &in));
	CHECK(in.fd >= 0 && in.size == 8192 && in.num_queues == 2 && in.queue_size == 256,
	      "inflight area fd %d, %llu bytes", in.fd, (unsigned long long)in.size);
	EXPECT_OK(vu_set_inflight_fd(&conn, &in));
	close(in.fd);
	stop();
	CHECK(fk.inflight_fds_in == 1, "SET_INFLIGHT_FD came with %u descriptors",
	      fk.inflight_fds_in);

	/* No descriptor, several, or a size no queue set has. */
	setup();
	fk.protocol = pf;
	fk.inflight_size = 8192;
	go();
	EXPECT_OK(vu_negotiate(&conn, pf));
	EXPECT_ERR(vu_get_inflight_fd(&conn, 2, 256, &in), -EPROTO, "without a descriptor");
	setup();
	fk.protocol = pf;
	fk.inflight_size = 1ULL << 40;
	fk.inflight_nfds = 3;
	go();
	EXPECT_OK(vu_negotiate(&conn, pf));
	EXPECT_ERR(vu_get_inflight_fd(&conn, 2, 256, &in), -EPROTO, "does not fit");

	/* Not offered: not asked for. */
	setup();
	go();
	EXPECT_OK(vu_negotiate(&conn, pf));
	EXPECT_ERR(vu_get_inflight_fd(&conn, 2, 256, &in), -EPROTONOSUPPORT, "INFLIGHT");
	return true;
}

static const struct {
	const char *name;
	bool (*fn)(void);
} cases[] = {
	{ "well-behaved back-end", case_good },
	{ "garbage replies", case_garbage },
	{ "closes mid-negotiation", case_closes },
	{ "no protocol features", case_no_protocol },
	{ "impossible queue count", case_queues },
	{ "bad config replies", case_config },
	{ "never answers", case_silent },
	{ "refuses", case_refuses },
	{ "descriptors where none belong", case_fds },
	{ "request channel", case_chan },
	{ "wrong ring base", case_vring_base },
	{ "hung up", case_hung_up },
	{ "connect", case_connect },
	{ "negotiating twice", case_renegotiate },
	{ "inflight area", case_inflight },
};

int main(void)
{
	unsigned int i, failed = 0;

	conn.timeout_ms = TIMEOUT_MS;
	vu_init(&conn);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = fd_count(), after;
		bool ok;

		why[0] = '\0';
		backend_why[0] = '\0';
		ok = cases[i].fn();
		stop();
		after = fd_count();
		if (ok && backend_why[0]) {
			snprintf(why, sizeof(why), "the fake back-end: %s", backend_why);
			ok = false;
		}
		if (ok && after != before) {
			snprintf(why, sizeof(why), "%d descriptors open after, %d before",
				 after, before);
			ok = false;
		}
		if (ok) {
			printf("ok %u - %s\n", i + 1, cases[i].name);
		} else {
			printf("not ok %u - %s: %s\n", i + 1, cases[i].name, why);
			failed++;
		}
		fflush(stdout);
	}
	return failed ? T_EXIT_FAIL : T_EXIT_PASS;
}
