// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Small things every layer above uses: messages for the user, the
 * daemon's log, a text buffer with JSON strings, the files under RUN_DIR.
 *
 * Thread model: any thread.  The program name and the log's device name
 * are set once by the main thread before any other thread starts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

static const char *log_name;

void log_set_name(const char *name)
{
	log_name = name;
}

void log_line(enum msg_level level, const char *msg)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s %s[%d] %s: %s: %s\n", when, msg_prefix(), (int)getpid(),
		log_name ? log_name : "-",
		names[level <= MSG_DEBUG ? level : MSG_DEBUG], msg);
}

void out_printf(struct out *o, const char *fmt, ...)
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

/* The names and specs we print are short: one call per character is fine. */
void out_json_str(struct out *o, const char *s)
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

/* Paths of the files a device keeps under RUN_DIR; -ENAMETOOLONG if cut. */
int run_path(const char *name, const char *ext, char *buf, size_t len)
{
	int n = snprintf(buf, len, RUN_DIR "/%s.%s", name, ext);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int make_run_dir(void)
{
	if (mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* Root-only, whoever made it first. */
	if (chmod(RUN_DIR, 0700) < 0)
		return -errno;
	return 0;
}

void remove_run_files(const char *name)
{
	static const char *const exts[] = { "conf", "state", "sock" };
	char path[300];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(exts); i++)
		if (run_path(name, exts[i], path, sizeof(path)) == 0)
			unlink(path);
}

/*
 * The socket is RUN_DIR/NAME.sock; a name too long for that to fit in a
 * sockaddr_un has no socket (add refuses such names), never a cut path
 * that could be another device's.
 */
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

bool device_exists(const char *name)
{
	char path[300];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "/sys/class/vduse/%s", name) >= sizeof(path))
		return false;
	return stat(path, &st) == 0;
}

bool check_root(const char *what)
{
	if (geteuid() == 0)
		return true;
	msg_err("%s needs root (VDUSE devices and their control sockets are root-only): "
		"run it with sudo", what);
	return false;
}

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
