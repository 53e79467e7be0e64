// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The vhost-user front-end (vhost-user.h): framing, the exchanges, and
 * the checks on everything the back-end says.
 *
 * Every exchange has one deadline, c->timeout_ms from its start, however
 * the back-end spreads its bytes; a back-end that stops answering costs
 * that long once, and the connection is then closed so that no later
 * reply can be taken for the answer to another request.  With REPLY_ACK
 * every request that has no reply of its own asks for an acknowledgement,
 * so a refusal is seen at the request that caused it.
 *
 * Thread model: none of its own; the caller serialises use of a conn.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "vhost-user.h"

#define VU_VERSION		0x1
#define VU_FLAG_REPLY		(1U << 2)
#define VU_FLAG_NEED_REPLY	(1U << 3)
#define VU_VERSION_MASK		0x3

/* Largest payload we send or accept: SET_MEM_TABLE with 8 regions. */
#define VU_PAYLOAD_MAX		(8 + VU_MEM_REGIONS_MAX * 32)
/* Largest request-channel message we read (and discard the body of). */
#define VU_BACKEND_MSG_MAX	4096

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_state {
	uint32_t index;
	uint32_t num;
};

struct vu_addr_msg {
	uint32_t index;
	uint32_t flags;
	uint64_t desc, used, avail, log;
};

struct vu_config_hdr {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct vu_conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return err;
}

static int timeout_of(const struct vu_conn *c)
{
	return c->timeout_ms > 0 ? c->timeout_ms : 5000;
}

void vu_init(struct vu_conn *c)
{
	int t = c->timeout_ms;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->req_fd = -1;
	c->timeout_ms = t;
}

void vu_close(struct vu_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->req_fd >= 0)
		close(c->req_fd);
	c->fd = -1;
	c->req_fd = -1;
}

void vu_attach_fd(struct vu_conn *c, int fd)
{
	vu_close(c);
	c->fd = fd;
}

int vu_connect(struct vu_conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	vu_close(c);
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(c, -ENAMETOOLONG,
			    "socket path '%s' is longer than a UNIX socket path can be (%zu bytes)",
			    path, sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(c, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		if (err == -ENOENT)
			return fail(c, err, "no socket at %s: is the vhost-user back-end running?",
				    path);
		if (err == -ECONNREFUSED)
			return fail(c, err, "nothing listens on %s: the vhost-user back-end is not running",
				    path);
		return fail(c, err, "connecting to %s failed: %s", path, strerror(-err));
	}
	c->fd = fd;
	return 0;
}

/* Gives up on the connection: a late reply must never answer a later request. */
static int dead(struct vu_conn *c, int err)
{
	vu_close(c);
	return err;
}

static int send_msg(struct vu_conn *c, uint32_t request, uint32_t flags,
		    const void *payload, uint32_t size, const int *fds,
		    unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * VU_MEM_REGIONS_MAX)];
	struct vu_hdr hdr = { request, VU_VERSION | flags, size };
	struct iovec iov[2] = {
		{ &hdr, sizeof(hdr) },
		{ (void *)payload, size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	size_t total = sizeof(hdr) + size, done = 0;
	ssize_t n;

	if (c->fd < 0)
		return fail(c, -ENOTCONN, "not connected to the back-end");
	if (nfds > VU_MEM_REGIONS_MAX)
		return fail(c, -EINVAL, "too many descriptors for one message");
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
	/* The descriptors go with the first byte; the rest may need more sends. */
	n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return dead(c, fail(c, -errno, "sending request %u to the back-end failed: %s",
				    request, strerror(errno)));
	done = (size_t)n;
	while (done < total) {
		const char *p;

		if (done < sizeof(hdr))
			p = (const char *)&hdr + done;
		else
			p = (const char *)payload + (done - sizeof(hdr));
		n = send(c->fd, p, done < sizeof(hdr) ? sizeof(hdr) - done : total - done,
			 MSG_NOSIGNAL);
		if (n < 0)
			return dead(c, fail(c, -errno, "sending request %u to the back-end failed: %s",
					    request, strerror(errno)));
		done += (size_t)n;
	}
	return 0;
}

/*
 * Closes every descriptor of a received control message, but the first
 * one into *@keep if @keep is given and still -1.
 */
static void close_fds(struct msghdr *mh, int *keep)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int), i;
			int fd;

			for (i = 0; i < n; i++) {
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				if (keep && *keep < 0)
					*keep = fd;
				else
					close(fd);
			}
		}
	}
}

/*
 * Reads exactly @len bytes from @fd by @deadline (monotonic ms); the
 * descriptors that come with them are closed, but the first one goes to
 * *@keep where the caller expects one (@keep not NULL, still -1).
 */
static int read_full(struct vu_conn *c, int fd, void *buf, size_t len,
		     int64_t deadline, int *keep)
{
	char cbuf[CMSG_SPACE(sizeof(int) * VU_MEM_REGIONS_MAX)];
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { (char *)buf + done, len - done };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - (int64_t)now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		/* The peer closed with bytes of ours unread: closed all the same. */
		if (n < 0 && errno == ECONNRESET)
			return -EPIPE;
		if (n < 0)
			return -errno;
		close_fds(&mh, keep);
		if (n == 0)
			return -EPIPE;
		done += (size_t)n;
	}
	return 0;
}

static const char *read_error(int err)
{
	if (err == -ETIMEDOUT)
		return "it did not answer in time";
	if (err == -EPIPE)
		return "it closed the connection";
	return strerror(-err);
}

/*
 * Receives the reply to @request into @payload, which must be exactly
 * @size bytes: anything else from the back-end is a protocol error.
 */
static int recv_reply_fd(struct vu_conn *c, uint32_t request, void *payload,
			 uint32_t size, int64_t deadline, int *keep)
{
	struct vu_hdr hdr;
	int ret;

	ret = read_full(c, c->fd, &hdr, sizeof(hdr), deadline, keep);
	if (ret < 0)
		return dead(c, fail(c, ret, "no reply to request %u from the back-end: %s",
				    request, read_error(ret)));
	if ((hdr.flags & VU_VERSION_MASK) != VU_VERSION || !(hdr.flags & VU_FLAG_REPLY) ||
	    hdr.request != request)
		return dead(c, fail(c, -EPROTO,
				    "the back-end answered request %u with message %u (flags 0x%x): "
				    "not a vhost-user reply to it", request, hdr.request,
				    hdr.flags));
	if (hdr.size != size)
		return dead(c, fail(c, -EPROTO,
				    "the back-end's reply to request %u has %u bytes; expected %u",
				    request, hdr.size, size));
	ret = read_full(c, c->fd, payload, size, deadline, keep);
	if (ret < 0)
		return dead(c, fail(c, ret, "the back-end's reply to request %u was cut short: %s",
				    request, read_error(ret)));
	return 0;
}

static int recv_reply(struct vu_conn *c, uint32_t request, void *payload,
		      uint32_t size, int64_t deadline)
{
	return recv_reply_fd(c, request, payload, size, deadline, NULL);
}

/* A request whose reply is a payload of its own (GET_*). */
static int call(struct vu_conn *c, uint32_t request, const void *in, uint32_t in_size,
		void *out, uint32_t out_size)
{
	int64_t deadline = (int64_t)now_ms() + timeout_of(c);
	int ret;

	ret = send_msg(c, request, 0, in, in_size, NULL, 0);
	if (ret < 0)
		return ret;
	return recv_reply(c, request, out, out_size, deadline);
}

/* A request without a reply of its own: acknowledged when REPLY_ACK is in use. */
static int tell(struct vu_conn *c, uint32_t request, const void *in, uint32_t in_size,
		const int *fds, unsigned int nfds)
{
	bool ack = c->protocol & (1ULL << VU_PF_REPLY_ACK);
	int64_t deadline = (int64_t)now_ms() + timeout_of(c);
	uint64_t status;
	int ret;

	ret = send_msg(c, request, ack ? VU_FLAG_NEED_REPLY : 0, in, in_size, fds, nfds);
	if (ret < 0 || !ack)
		return ret;
	ret = recv_reply(c, request, &status, sizeof(status), deadline);
	if (ret < 0)
		return ret;
	if (status)
		return fail(c, -EIO, "the back-end refused request %u (status %llu)",
			    request, (unsigned long long)status);
	return 0;
}

static int tell_u64(struct vu_conn *c, uint32_t request, uint64_t v)
{
	return tell(c, request, &v, sizeof(v), NULL, 0);
}

static int tell_state(struct vu_conn *c, uint32_t request, unsigned int index,
		      unsigned int num)
{
	struct vu_state s = { index, num };

	return tell(c, request, &s, sizeof(s), NULL, 0);
}

static int setup_backend_req(struct vu_conn *c)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail(c, -errno, "socketpair: %s", strerror(errno));
	ret = tell(c, VU_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1);
	close(sv[1]);
	if (ret < 0) {
		close(sv[0]);
		return ret;
	}
	c->req_fd = sv[0];
	return 0;
}

int vu_negotiate(struct vu_conn *c, uint64_t want_protocol)
{
	uint64_t offered;
	int ret;

	c->protocol = 0;
	c->queue_num = 0;
	/* A channel of an earlier negotiation would leak when replaced. */
	if (c->req_fd >= 0) {
		close(c->req_fd);
		c->req_fd = -1;
	}
	ret = tell(c, VU_SET_OWNER, NULL, 0, NULL, 0);
	if (ret < 0)
		return ret;
	ret = call(c, VU_GET_FEATURES, NULL, 0, &c->features, sizeof(c->features));
	if (ret < 0)
		return ret;
	if (!(c->features & (1ULL << VU_F_PROTOCOL_FEATURES)))
		return fail(c, -EPROTONOSUPPORT,
			    "the back-end does not offer vhost-user protocol features "
			    "(features 0x%llx); they are needed for its config space",
			    (unsigned long long)c->features);
	ret = call(c, VU_GET_PROTOCOL_FEATURES, NULL, 0, &offered, sizeof(offered));
	if (ret < 0)
		return ret;
	ret = tell_u64(c, VU_SET_PROTOCOL_FEATURES, offered & want_protocol);
	if (ret < 0)
		return ret;
	/* Acknowledgements start with the request after the one that enabled them. */
	c->protocol = offered & want_protocol;
	if (c->protocol & (1ULL << VU_PF_MQ)) {
		uint64_t n;

		ret = call(c, VU_GET_QUEUE_NUM, NULL, 0, &n, sizeof(n));
		if (ret < 0)
			return ret;
		if (n == 0 || n > 0xffff)
			return fail(c, -EPROTO, "the back-end offers %llu queues; expected 1 to 65535",
				    (unsigned long long)n);
		c->queue_num = (uint32_t)n;
	}
	if (c->protocol & (1ULL << VU_PF_BACKEND_REQ))
		return setup_backend_req(c);
	return 0;
}

int vu_get_config(struct vu_conn *c, void *buf, uint32_t size)
{
	struct {
		struct vu_config_hdr h;
		uint8_t data[VU_CONFIG_MAX];
	} __attribute__((packed)) msg, reply;
	uint32_t len = sizeof(msg.h) + size;
	int ret;

	if (!(c->protocol & (1ULL << VU_PF_CONFIG)))
		return fail(c, -EPROTONOSUPPORT,
			    "the back-end does not offer its config space (protocol feature CONFIG)");
	if (size > VU_CONFIG_MAX)
		return fail(c, -EINVAL, "config space of %u bytes asked for; at most %u",
			    size, VU_CONFIG_MAX);
	memset(&msg, 0, sizeof(msg));
	msg.h.size = size;
	ret = call(c, VU_GET_CONFIG, &msg, len, &reply, len);
	if (ret < 0)
		return ret;
	if (reply.h.offset != 0 || reply.h.size != size)
		return fail(c, -EPROTO,
			    "the back-end's config reply covers %u bytes at offset %u; asked for %u at 0",
			    reply.h.size, reply.h.offset, size);
	memcpy(buf, reply.data, size);
	return 0;
}

int vu_set_features(struct vu_conn *c, uint64_t features)
{
	return tell_u64(c, VU_SET_FEATURES, features);
}

int vu_set_mem_table(struct vu_conn *c, const struct vu_region *regions,
		     const int *fds, unsigned int n)
{
	struct {
		uint32_t nregions;
		uint32_t padding;
		struct vu_region r[VU_MEM_REGIONS_MAX];
	} msg;

	if (n == 0 || n > VU_MEM_REGIONS_MAX)
		return fail(c, -EINVAL, "a memory table has 1 to %d regions, not %u",
			    VU_MEM_REGIONS_MAX, n);
	memset(&msg, 0, sizeof(msg));
	msg.nregions = n;
	memcpy(msg.r, regions, n * sizeof(*regions));
	return tell(c, VU_SET_MEM_TABLE, &msg, 8 + n * sizeof(*regions), fds, n);
}

int vu_set_vring_num(struct vu_conn *c, unsigned int index, unsigned int num)
{
	return tell_state(c, VU_SET_VRING_NUM, index, num);
}

int vu_set_vring_base(struct vu_conn *c, unsigned int index, unsigned int base)
{
	return tell_state(c, VU_SET_VRING_BASE, index, base);
}

int vu_set_vring_enable(struct vu_conn *c, unsigned int index, bool enable)
{
	return tell_state(c, VU_SET_VRING_ENABLE, index, enable);
}

int vu_set_vring_addr(struct vu_conn *c, unsigned int index,
		      const struct vu_vring_addr *a)
{
	struct vu_addr_msg m = {
		.index = index,
		.desc = a->desc,
		.used = a->used,
		.avail = a->avail,
	};

	return tell(c, VU_SET_VRING_ADDR, &m, sizeof(m), NULL, 0);
}

static int set_vring_fd(struct vu_conn *c, uint32_t request, unsigned int index, int fd)
{
	uint64_t v = index & 0xff;

	return tell(c, request, &v, sizeof(v), &fd, 1);
}

int vu_set_vring_kick(struct vu_conn *c, unsigned int index, int fd)
{
	return set_vring_fd(c, VU_SET_VRING_KICK, index, fd);
}

int vu_set_vring_call(struct vu_conn *c, unsigned int index, int fd)
{
	return set_vring_fd(c, VU_SET_VRING_CALL, index, fd);
}

int vu_get_vring_base(struct vu_conn *c, unsigned int index, unsigned int *base)
{
	struct vu_state s = { index, 0 }, r;
	int ret;

	ret = call(c, VU_GET_VRING_BASE, &s, sizeof(s), &r, sizeof(r));
	if (ret < 0)
		return ret;
	if (r.index != index || r.num > 0xffff)
		return fail(c, -EPROTO,
			    "the back-end answered ring %u's base with ring %u, index %u",
			    index, r.index, r.num);
	*base = r.num;
	return 0;
}

/* The inflight area's description, as the protocol lays it out. */
struct vu_inflight_msg {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};

int vu_get_inflight_fd(struct vu_conn *c, unsigned int num_queues,
		       unsigned int queue_size, struct vu_inflight *in)
{
	struct vu_inflight_msg m = {
		.num_queues = num_queues, .queue_size = queue_size,
	}, r;
	int64_t deadline = (int64_t)now_ms() + timeout_of(c);
	int fd = -1, ret;

	if (!(c->protocol & (1ULL << VU_PF_INFLIGHT_SHMFD)))
		return fail(c, -EPROTONOSUPPORT,
			    "the back-end does not keep requests in flight (INFLIGHT_SHMFD)");
	ret = send_msg(c, VU_GET_INFLIGHT_FD, 0, &m, sizeof(m), NULL, 0);
	if (ret < 0)
		return ret;
	ret = recv_reply_fd(c, VU_GET_INFLIGHT_FD, &r, sizeof(r), deadline, &fd);
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (fd < 0)
		return fail(c, -EPROTO, "the back-end's inflight area came without a descriptor");
	/* Per queue a header and 16 bytes an entry: anything far larger is not one. */
	if (r.mmap_size == 0 ||
	    r.mmap_size > (uint64_t)num_queues * (64 + 32ULL * queue_size) + 65536 ||
	    r.mmap_offset > r.mmap_size) {
		close(fd);
		return fail(c, -EPROTO,
			    "the back-end's inflight area of %llu bytes at offset %llu does not fit "
			    "%u queues of %u", (unsigned long long)r.mmap_size,
			    (unsigned long long)r.mmap_offset, num_queues, queue_size);
	}
	in->fd = fd;
	in->size = r.mmap_size;
	in->offset = r.mmap_offset;
	in->num_queues = num_queues;
	in->queue_size = queue_size;
	return 0;
}

int vu_set_inflight_fd(struct vu_conn *c, const struct vu_inflight *in)
{
	struct vu_inflight_msg m = {
		.mmap_size = in->size, .mmap_offset = in->offset,
		.num_queues = in->num_queues, .queue_size = in->queue_size,
	};

	return tell(c, VU_SET_INFLIGHT_FD, &m, sizeof(m), &in->fd, 1);
}

int vu_backend_request(struct vu_conn *c, uint32_t *req)
{
	struct pollfd pfd = { .fd = c->req_fd, .events = POLLIN };
	uint8_t body[VU_BACKEND_MSG_MAX];
	int64_t deadline = (int64_t)now_ms() + timeout_of(c);
	struct vu_hdr hdr;
	int ret;

	*req = 0;
	if (c->req_fd < 0)
		return 0;
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	ret = read_full(c, c->req_fd, &hdr, sizeof(hdr), deadline, NULL);
	if (ret == 0 && hdr.size > sizeof(body))
		ret = fail(c, -EPROTO, "the back-end sent a request of %u bytes; at most %zu",
			   hdr.size, sizeof(body));
	else if (ret == 0 && (ret = read_full(c, c->req_fd, body, hdr.size, deadline, NULL)) < 0)
		fail(c, ret, "the back-end's request %u was cut short: %s", hdr.request,
		     read_error(ret));
	else if (ret < 0)
		fail(c, ret, "the back-end's request channel failed: %s", read_error(ret));
	if (ret < 0) {
		close(c->req_fd);
		c->req_fd = -1;
		return ret == -EPIPE ? -EPIPE : ret;
	}
	*req = hdr.request;
	if (hdr.flags & VU_FLAG_NEED_REPLY) {
		struct {
			struct vu_hdr h;
			uint64_t status;
		} __attribute__((packed)) ack = {
			{ hdr.request, VU_VERSION | VU_FLAG_REPLY, 8 }, 0,
		};

		/* The back-end waits for it; a failure shows as a hang-up later. */
		if (send(c->req_fd, &ack, sizeof(ack), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			return 0;
	}
	return 0;
}

bool vu_hung_up(struct vu_conn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char b;

	if (c->fd < 0)
		return true;
	if (poll(&pfd, 1, 0) <= 0)
		return false;
	if (pfd.revents & (POLLHUP | POLLERR))
		return true;
	/* Nothing is due from the back-end between exchanges: data there is EOF or junk. */
	if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		return true;
	return false;
}
