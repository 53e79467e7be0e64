// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket of a running device, daemon side: RUN_DIR/NAME.sock.
 *
 * Thread model: the daemon's main thread serves it (ctl_accept from its
 * poll loop); ctl_answer reads what the control and queue threads update
 * only through atomics and the device model's own locking.
 *
 * One request line per connection, answered with text and then EOF:
 *   info        one JSON object: name, node, backend, size, ...
 *   info-tsv    the same as one tab-separated line, for `list`
 *   stats       JSON: per-queue counters and latency, plus totals
 *   stats-text  the same as a table
 *   resize N    grow the device to N bytes; "OK" or "ERR why"
 *   stop        detach and destroy the device, then exit; "OK"
 *   stop-force  the same, but requests the backend still holds fail with
 *               an I/O error at once instead of after 10 s (del --force)
 *   handover    drain and exit, leaving the device for the next daemon
 * Only root may connect: the folder is 0700, the socket 0600, and the
 * peer's credentials are checked as well.  The main thread serves it; a
 * client gets CTL_REQUEST_MS in all to send its line and one second to
 * take the answer, so a slow one cannot hold the daemon up for long.
 * A request line longer than CTL_LINE_MAX is answered from its first
 * CTL_LINE_MAX - 1 bytes, which name no request.
 *
 * What info, stats and resize say about the device comes from its model
 * (struct device_model); the rest is the runtime's.
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

#include "clock.h"
#include "runtime.h"

bool read_request(int fd, char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = (int64_t)now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;
	int left;

	buf[0] = '\0';
	while (got < len - 1) {
		left = (int)(deadline - (int64_t)now_ms());
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

static void handle_info(struct daemon *d, struct out *o, bool tsv)
{
	const char *state = atomic_load(&d->ctl_running) ? "running" : "broken";

	if (tsv) {
		out_printf(o, "%s\t%s\t", d->opts->name, d->node);
		d->model->info(d->m, o, true);
		out_printf(o, "\t%d\t%s\n", (int)d->pid, state);
		return;
	}
	out_printf(o, "{\"name\": ");
	out_json_str(o, d->opts->name);
	out_printf(o, ", \"node\": ");
	out_json_str(o, d->node);
	out_printf(o, ", ");
	d->model->info(d->m, o, false);
	out_printf(o, ", \"bus\": \"%s\", \"pid\": %d, \"started\": %" PRId64
		   ", \"state\": \"%s\"}\n",
		   d->opts->vhost ? "vhost_vdpa" : "virtio_vdpa", (int)d->pid,
		   d->started, state);
}

static void handle_stats(struct daemon *d, struct out *o, bool text)
{
	if (text) {
		d->model->stats(d->m, o, true);
		return;
	}
	out_printf(o, "{\"name\": ");
	out_json_str(o, d->opts->name);
	out_printf(o, ", ");
	d->model->stats(d->m, o, false);
	out_printf(o, "}\n");
}

static void handle_resize(struct daemon *d, struct out *o, const char *arg)
{
	if (!d->model->resize) {
		out_printf(o, "ERR this device cannot be resized\n");
		return;
	}
	d->model->resize(d->m, arg, o);
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
	char line[CTL_LINE_MAX];
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
	} else if (!strcmp(line, "stop-force")) {
		atomic_store(&d->force, true);
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
	char line[CTL_LINE_MAX], *reply;
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
		msg_log(MSG_DEBUG, "control socket reply: %m");
	free(reply);
	close(fd);
}
