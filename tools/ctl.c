// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket of a running device: RUN_DIR/NAME.sock.
 *
 * One request line per connection, answered with text and then EOF:
 *   info        one JSON object: name, node, backend, size, ...
 *   info-tsv    the same as one tab-separated line, for `list`
 *   stats       JSON: per-queue counters and latency, plus totals
 *   stats-text  the same as a table
 *   resize N    grow the device to N bytes; "OK" or "ERR why"
 *   stop        detach and destroy the device, then exit; "OK"
 *   handover    drain and exit, leaving the device for the next daemon
 * Only root may connect: the folder is 0700, the socket 0600, and the
 * peer's credentials are checked as well.  The main thread serves it; a
 * client gets CTL_REQUEST_MS in all to send its line and one second to
 * take the answer, so a slow one cannot hold the daemon up for long.
 *
 * The socket is RUN_DIR/NAME.sock; a name too long for that to fit in a
 * sockaddr_un has no socket (add refuses such names), never a cut path
 * that could be another device's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vduse-blk.h"

#define LINE_MAX_LEN 256

size_t read_line(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
		if (memchr(buf, '\n', got))
			break;
	}
	buf[got] = '\0';
	return got;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool read_request(int fd, char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;
	int left;

	buf[0] = '\0';
	while (got < len - 1) {
		left = (int)(deadline - now_ms());
		if (left <= 0)
			return false;
		n = poll(&pfd, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		got += n;
		buf[got] = '\0';
		if (memchr(buf, '\n', got))
			break;
	}
	return true;
}

int ctl_sock_path(const char *name, char *buf, size_t len)
{
	struct sockaddr_un sa;
	int ret;

	/* Whatever @len is, the path must also fit where it is used. */
	if (len > sizeof(sa.sun_path))
		len = sizeof(sa.sun_path);
	ret = run_path(name, "sock", buf, len);
	if (ret < 0)
		buf[0] = '\0';
	return ret;
}

int ctl_listen(struct daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	ret = ctl_sock_path(d->opts->name, d->sock_path, sizeof(d->sock_path));
	if (ret < 0)
		return ret;
	strcpy(sa.sun_path, d->sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket left by a daemon that died is stale: the device is ours now. */
	unlink(d->sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(d->sock_path, 0600) < 0 || listen(fd, 8) < 0) {
		ret = -errno;
		close(fd);
		unlink(d->sock_path);
		return ret;
	}
	d->sock_fd = fd;
	return 0;
}

void ctl_close(struct daemon *d)
{
	if (d->sock_fd < 0)
		return;
	close(d->sock_fd);
	d->sock_fd = -1;
	unlink(d->sock_path);
}

/* A growable output buffer; on allocation failure it just stops growing. */
struct out {
	char *buf;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = o->cap - o->len;

		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			o->len += n;
			return;
		}
		size_t cap = (o->cap + n + 1) * 2;
		char *nb = realloc(o->buf, cap);

		if (!nb)
			return;
		o->buf = nb;
		o->cap = cap;
	}
}

/* Writes @s as a JSON string (the names and specs we print are short). */
static void out_json_str(struct out *o, const char *s)
{
	out_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			out_printf(o, "\\%c", c);
		else if (c < 0x20)
			out_printf(o, "\\u%04x", c);
		else
			out_printf(o, "%c", c);
	}
	out_printf(o, "\"");
}

void json_print_str(FILE *f, const char *s)
{
	struct out o = { 0 };

	out_json_str(&o, s);
	if (o.buf)
		fwrite(o.buf, 1, o.len, f);
	free(o.buf);
}

static void handle_info(struct daemon *d, struct out *o, bool tsv)
{
	const char *state = atomic_load(&d->ctl_running) ? "running" : "broken";

	if (tsv) {
		out_printf(o, "%s\t%s\t%s\t%" PRIu64 "\t%u\t%d\t%s\n",
			   d->opts->name, d->node, backend_spec(d->be),
			   atomic_load(&d->blk.capacity) << BLK_SECTOR_SHIFT,
			   d->nr_queues, (int)d->pid, state);
		return;
	}
	out_printf(o, "{\"name\": ");
	out_json_str(o, d->opts->name);
	out_printf(o, ", \"node\": ");
	out_json_str(o, d->node);
	out_printf(o, ", \"backend\": ");
	out_json_str(o, backend_spec(d->be));
	out_printf(o, ", \"size\": %" PRIu64 ", \"block_size\": %u, \"queues\": %u, "
		   "\"queue_size\": %u, \"read_only\": %s, \"bus\": \"%s\", "
		   "\"pid\": %d, \"started\": %" PRId64 ", \"state\": \"%s\"}\n",
		   atomic_load(&d->blk.capacity) << BLK_SECTOR_SHIFT,
		   d->blk.block_size, d->nr_queues, d->blk.queue_size,
		   d->blk.readonly ? "true" : "false",
		   d->opts->vhost ? "vhost_vdpa" : "virtio_vdpa", (int)d->pid,
		   d->started, state);
}

static void stats_json(struct out *o, const struct blk_stats_snapshot *s)
{
	uint64_t avg = s->lat_count ? s->lat_sum_ns / s->lat_count : 0;
	int t;

	out_printf(o, "{");
	for (t = 0; t < BLK_STAT_NR; t++)
		out_printf(o, "\"%s\": %" PRIu64 ", ", blk_stat_type_name(t), s->reqs[t]);
	out_printf(o, "\"bytes_read\": %" PRIu64 ", \"bytes_written\": %" PRIu64
		   ", \"errors\": %" PRIu64 ", \"unsupported\": %" PRIu64
		   ", \"dropped\": %" PRIu64 ", \"inflight\": %" PRIu64
		   ", \"backend_flushes\": %" PRIu64
		   ", \"latency_ns\": {\"count\": %" PRIu64 ", \"min\": %" PRIu64
		   ", \"avg\": %" PRIu64 ", \"max\": %" PRIu64 ", \"p50\": %" PRIu64
		   ", \"p99\": %" PRIu64 "}}",
		   s->bytes_read, s->bytes_written, s->errors, s->unsupported,
		   s->dropped, s->inflight, s->backend_flushes, s->lat_count,
		   s->lat_count ? s->lat_min_ns : 0, avg, s->lat_max_ns,
		   blk_stats_percentile_ns(s, 50), blk_stats_percentile_ns(s, 99));
}

static void stats_row(struct out *o, const char *label, const struct blk_stats_snapshot *s)
{
	uint64_t avg = s->lat_count ? s->lat_sum_ns / s->lat_count : 0;

	out_printf(o, "%-6s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64
		   " %12" PRIu64 " %12" PRIu64 " %6" PRIu64 " %6" PRIu64
		   " %8.1f %8.1f %8.1f %9" PRIu64 "\n", label,
		   s->reqs[BLK_STAT_READ], s->reqs[BLK_STAT_WRITE],
		   s->reqs[BLK_STAT_FLUSH],
		   s->reqs[BLK_STAT_DISCARD] + s->reqs[BLK_STAT_WRITE_ZEROES],
		   s->bytes_read, s->bytes_written, s->errors, s->inflight,
		   avg / 1000.0, blk_stats_percentile_ns(s, 50) / 1000.0,
		   blk_stats_percentile_ns(s, 99) / 1000.0, s->backend_flushes);
}

static void handle_stats(struct daemon *d, struct out *o, bool text)
{
	struct blk_stats_snapshot total = { 0 }, s;
	unsigned int i;
	bool running;

	if (text)
		out_printf(o, "%-6s %10s %10s %8s %8s %12s %12s %6s %6s %8s %8s %8s %9s\n",
			   "queue", "reads", "writes", "flushes", "discards",
			   "bytes-read", "bytes-wrtn", "errors", "infl",
			   "avg-us", "p50-us", "p99-us", "be-flush");
	else
	{
		out_printf(o, "{\"name\": ");
		out_json_str(o, d->opts->name);
		out_printf(o, ", \"queues\": [");
	}
	for (i = 0; i < d->nr_queues; i++) {
		char label[16];

		memset(&s, 0, sizeof(s));
		running = queue_thread_stats(d, i, &s);
		blk_stats_add(&total, &s);
		if (text) {
			snprintf(label, sizeof(label), "%u", i);
			stats_row(o, label, &s);
		} else {
			out_printf(o, "%s{\"index\": %u, \"running\": %s, \"stats\": ",
				   i ? ", " : "", i, running ? "true" : "false");
			stats_json(o, &s);
			out_printf(o, "}");
		}
	}
	if (text) {
		stats_row(o, "total", &total);
	} else {
		out_printf(o, "], \"total\": ");
		stats_json(o, &total);
		out_printf(o, "}\n");
	}
}

static void handle_resize(struct daemon *d, struct out *o, const char *arg)
{
	uint64_t size, old = atomic_load(&d->blk.capacity) << BLK_SECTOR_SHIFT;
	int ret;

	if (backend_parse_size(arg, "size", &size) < 0) {
		out_printf(o, "ERR %s\n", backend_last_error());
		return;
	}
	if (size % d->blk.block_size) {
		out_printf(o, "ERR %" PRIu64 " bytes is not a multiple of the %u-byte "
			   "block size\n", size, d->blk.block_size);
		return;
	}
	if (size < old) {
		out_printf(o, "ERR the device has %" PRIu64 " bytes; shrinking would "
			   "cut off data in use, so only growing is supported\n", old);
		return;
	}
	if (size == old) {
		out_printf(o, "OK\n");
		return;
	}
	ret = backend_resize(d->be, size);
	if (ret < 0) {
		out_printf(o, "ERR %s\n", ret == -EOPNOTSUPP ?
			   "this backend cannot be resized" : backend_last_error());
		return;
	}
	ret = daemon_set_capacity(d, size);
	if (ret < 0) {
		out_printf(o, "ERR %s\n", blk_last_error());
		return;
	}
	blk_log(BLK_LOG_INFO, "resized from %" PRIu64 " to %" PRIu64 " bytes", old, size);
	out_printf(o, "OK\n");
}

static bool peer_is_root(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	       cred.uid == 0;
}

char *ctl_answer(struct daemon *d, const char *request, size_t *len)
{
	char line[LINE_MAX_LEN];
	struct out o = { 0 };

	snprintf(line, sizeof(line), "%s", request);
	line[strcspn(line, "\r\n")] = '\0';
	if (!strcmp(line, "info")) {
		handle_info(d, &o, false);
	} else if (!strcmp(line, "info-tsv")) {
		handle_info(d, &o, true);
	} else if (!strcmp(line, "stats")) {
		handle_stats(d, &o, false);
	} else if (!strcmp(line, "stats-text")) {
		handle_stats(d, &o, true);
	} else if (!strncmp(line, "resize ", 7)) {
		handle_resize(d, &o, line + 7);
	} else if (!strcmp(line, "handover")) {
		atomic_store(&d->handover, true);
		atomic_store(&d->stopping, true);
		out_printf(&o, "OK\n");
	} else if (!strcmp(line, "stop")) {
		atomic_store(&d->stopping, true);
		out_printf(&o, "OK\n");
	} else {
		out_printf(&o, "ERR unknown request\n");
	}
	*len = o.len;
	return o.buf;
}

void ctl_accept(struct daemon *d)
{
	struct timeval tv = { .tv_sec = 1 };
	char line[LINE_MAX_LEN], *reply;
	const char *fixed = NULL;
	size_t len = 0;
	int fd;

	fd = accept4(d->sock_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (!peer_is_root(fd))
		fixed = "ERR permission denied: only root may control devices\n";
	else if (!read_request(fd, line, sizeof(line), CTL_REQUEST_MS))
		fixed = "ERR the request did not arrive in time\n";
	reply = fixed ? NULL : ctl_answer(d, line, &len);
	if (fixed) {
		reply = strdup(fixed);
		len = reply ? strlen(reply) : 0;
	}
	/* The answer goes out blocking, within a second. */
	fcntl(fd, F_SETFL, 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (reply && write(fd, reply, len) < 0)
		blk_log(BLK_LOG_DEBUG, "control socket reply: %m");
	free(reply);
	close(fd);
}

int ctl_request(const char *name, const char *request, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	size_t got = 0;
	ssize_t n;
	int fd, ret = 0;

	/* A cut path could be another device's socket: never connect to one. */
	ret = ctl_sock_path(name, sa.sun_path, sizeof(sa.sun_path));
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = errno == ECONNREFUSED ? -ENOENT : -errno;
		goto out;
	}
	if (dprintf(fd, "%s\n", request) < 0) {
		ret = -errno;
		goto out;
	}
	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	if (got == 0)
		ret = -EPIPE;
out:
	close(fd);
	return ret;
}
