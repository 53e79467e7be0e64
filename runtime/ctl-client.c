// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket of a running device, command side: one request line
 * out, the whole answer back (see ctl-server.c for the protocol).
 *
 * Thread model: the command's only thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime.h"

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

pid_t reply_pid(const char *reply)
{
	const char *p = strstr(reply, "\"pid\": ");

	return p ? (pid_t)atoi(p + 7) : 0;
}
