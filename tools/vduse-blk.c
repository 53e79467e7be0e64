// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vduse-blk: turn a file, a RAM disk or remote storage into a virtio block
 * device (/dev/vdX, or /dev/vhost-vdpa-N for a VM) through VDUSE.
 *
 * This file: the command line.  Every input is checked here, with an error
 * that names the problem and the fix, before anything touches the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vduse-blk.h"

void err(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	fprintf(stderr, PROG ": ");
	errno = saved;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	errno = saved;
}

void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void print_backend(const char *name, const char *usage, void *opaque)
{
	FILE *out = opaque;

	(void)name;
	fprintf(out, "  %s\n", usage);
}


void usage(FILE *out)
{
	fprintf(out,
"Usage: " PROG " COMMAND [OPTIONS]\n"
"\n"
"Serve storage as a virtio block device through VDUSE.\n"
"\n"
"Commands:\n"
"  add [OPTIONS] BACKEND   create a device and serve it (prints its node)\n"
"  list [--json]           devices, their nodes, backends and daemons\n"
"  del NAME                stop a device cleanly, or clean up after a dead daemon\n"
"  resize NAME SIZE        grow a device while it is in use\n"
"  stats NAME [--json]     per-queue requests, bytes, errors, latency\n"
"  recover [--foreground] NAME\n"
"                          serve a device whose daemon died, where it stood\n"
"  upgrade NAME            replace a device's daemon with this binary, no I/O error\n"
"  help                    this text\n"
"\n"
"Options of add:\n"
"  -n, --name NAME         device name (default: first free vduse-blkN)\n"
"  -q, --queues N          virtqueues, one serving thread each (default 1)\n"
"  -s, --queue-size N      entries per queue, a power of two 4..1024 (default 256)\n"
"  -b, --block-size N      logical block size, 512 or 4096 (default 512)\n"
"  -r, --read-only         refuse writes\n"
"      --serial STR        serial number the guest sees (up to 20 bytes)\n"
"      --cache MODE        file backend: auto (O_DIRECT when aligned),\n"
"                          direct, or buffered (page cache) (default auto)\n"
"      --io-timeout SEC    nbd and rbd backends: fail I/O after SEC s without\n"
"                          the server or cluster\n"
"                          (default 0: wait for it to come back)\n"
"      --vhost             attach to vhost_vdpa (/dev/vhost-vdpa-N, for a VM)\n"
"                          instead of virtio_vdpa (/dev/vdX on this host)\n"
"  -f, --foreground        stay in the foreground (for systemd); logs on stderr\n"
"      --adopt             if device NAME exists without a daemon, recover it\n"
"                          instead of failing (for systemd restarts)\n"
"      --user USER         run the daemon as USER once set up (default vduse,\n"
"                          or nobody if there is no such user; never root)\n"
"\n"
"Backends:\n");
	backend_list(print_backend, out);
	fprintf(out,
"  Sizes take K, M, G or T (powers of 1024).\n"
"\n"
"Needs root and the vduse, vdpa and virtio_vdpa (or vhost_vdpa) modules:\n"
"  modprobe -a vduse virtio_vdpa\n"
"Background daemons log to " RUN_DIR "/NAME.log.\n");
}

bool check_root(const char *what)
{
	if (geteuid() == 0)
		return true;
	err("%s needs root (VDUSE devices and their control sockets are root-only): "
	    "run it with sudo", what);
	return false;
}

/* Parses a decimal number in [min, max] for option @opt. */
static bool parse_uint(const char *opt, const char *s, unsigned long min,
		       unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < min || v > max) {
		err("%s takes a whole number from %lu to %lu, not '%s'", opt, min,
		    max, s);
		return false;
	}
	*out = v;
	return true;
}

static bool check_serial(const char *s)
{
	size_t i, n = strlen(s);

	if (n > VIRTIO_BLK_ID_BYTES) {
		err("--serial is %zu bytes; the virtio-blk ID holds at most %d", n,
		    VIRTIO_BLK_ID_BYTES);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e) {
			err("--serial must be printable ASCII without spaces");
			return false;
		}
	}
	return true;
}

/* Picks the first vduse-blkN that no VDUSE device uses yet. */
static void pick_name(struct add_opts *o)
{
	struct stat st;
	char path[300];
	unsigned int i;

	for (i = 0; i < 100000; i++) {
		snprintf(o->name_buf, sizeof(o->name_buf), "vduse-blk%u", i);
		snprintf(path, sizeof(path), "/sys/class/vduse/%s", o->name_buf);
		if (stat(path, &st) == 0)
			continue;
		snprintf(path, sizeof(path), "/dev/vduse/%s", o->name_buf);
		if (stat(path, &st) == 0)
			continue;
		break;
	}
	o->name = o->name_buf;
}

/* Tells the user what is missing from the kernel, before we try. */
static bool check_kernel(bool vhost)
{
	struct stat st;

	if (stat("/dev/vduse/control", &st) != 0) {
		err("/dev/vduse/control is missing: load the VDUSE module with "
		    "'modprobe -a vduse %s' (Linux 5.15 or later with CONFIG_VDPA_USER)",
		    vhost ? "vhost_vdpa" : "virtio_vdpa");
		return false;
	}
	return true;
}

/*
 * The parent half of a background `add`: waits for the daemon to say
 * whether the device is up, prints the node or the error, and exits.
 */
static int wait_for_daemon(pid_t pid, int fd, const char *name)
{
	char buf[1024];
	int status;

	read_line(fd, buf, sizeof(buf));
	close(fd);
	if (!strncmp(buf, "OK ", 3)) {
		fputs(buf + 3, stdout);
		return 0;
	}
	if (!strncmp(buf, "ERR ", 4)) {
		fputs(PROG ": ", stderr);
		fputs(buf + 4, stderr);
	} else {
		/* The daemon died without a word: say how it ended. */
		if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
			err("the daemon was killed by signal %d while setting up",
			    WTERMSIG(status));
		else
			err("the daemon exited while setting up (see %s/%s.log)",
			    RUN_DIR, name);
	}
	waitpid(pid, &status, WNOHANG);
	return 1;
}

int cmd_add(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "queues", required_argument, NULL, 'q' },
		{ "queue-size", required_argument, NULL, 's' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
		{ "cache", required_argument, NULL, 'C' },
		{ "io-timeout", required_argument, NULL, 'T' },
		{ "vhost", no_argument, NULL, 'V' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "adopt", no_argument, NULL, 'A' },
		{ "user", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct add_opts o = {
		.blk = { .block_size = 512, .num_queues = 1, .queue_size = 256 },
	};
	char why[512], sock[128];
	uid_t uid;
	gid_t gid;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:q:s:b:rfh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (vdk_name_check(optarg) < 0) {
				err("bad --name: %s", vdk_last_error());
				return 1;
			}
			/* Its control socket's path must fit a sockaddr_un. */
			if (ctl_sock_path(optarg, sock, sizeof(sock)) < 0) {
				err("bad --name: %zu bytes is too long for its control socket "
				    "(%s/NAME.sock); use at most %zu", strlen(optarg),
				    RUN_DIR, NAME_SOCK_MAX);
				return 1;
			}
			o.name = optarg;
			break;
		case 'q':
			if (!parse_uint("--queues", optarg, 1, 64, &o.blk.num_queues))
				return 1;
			break;
		case 's':
			if (!parse_uint("--queue-size", optarg, 4, 1024, &o.blk.queue_size))
				return 1;
			if (o.blk.queue_size & (o.blk.queue_size - 1)) {
				err("--queue-size must be a power of two (4, 8, ... 1024), not %u",
				    o.blk.queue_size);
				return 1;
			}
			break;
		case 'b':
			if (strcmp(optarg, "512") && strcmp(optarg, "4096")) {
				err("--block-size is 512 or 4096, not '%s'", optarg);
				return 1;
			}
			o.blk.block_size = atoi(optarg);
			break;
		case 'r':
			o.blk.readonly = true;
			break;
		case 'S':
			if (!check_serial(optarg))
				return 1;
			o.blk.serial = optarg;
			break;
		case 'C':
			if (!strcmp(optarg, "auto")) {
				o.cache = BACKEND_CACHE_AUTO;
			} else if (!strcmp(optarg, "direct")) {
				o.cache = BACKEND_CACHE_DIRECT;
			} else if (!strcmp(optarg, "buffered")) {
				o.cache = BACKEND_CACHE_BUFFERED;
			} else {
				err("--cache is auto, direct or buffered, not '%s'", optarg);
				return 1;
			}
			break;
		case 'T':
			if (!parse_uint("--io-timeout", optarg, 0, 86400, &o.io_timeout_s))
				return 1;
			break;
		case 'V':
			o.vhost = true;
			break;
		case 'f':
			o.foreground = true;
			break;
		case 'A':
			o.adopt = true;
			break;
		case 'U':
			if (strlen(optarg) >= sizeof(o.user_buf)) {
				err("--user '%s' is too long", optarg);
				return 1;
			}
			strcpy(o.user_buf, optarg);
			o.user = o.user_buf;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			err("see '" PROG " help'");
			return 1;
		}
	}
	if (optind != argc - 1) {
		err(optind == argc ? "add needs a BACKEND, e.g. '" PROG " add /var/lib/disk.img' (see '" PROG " help')"
				   : "add takes one BACKEND; unexpected '%s'",
		    argv[optind + 1 < argc ? optind + 1 : optind]);
		return 1;
	}
	o.backend = argv[optind];
	/* It is saved for recover: one line, and no longer than it can be read back. */
	if (strlen(o.backend) >= sizeof(o.backend_buf) || strchr(o.backend, '\n')) {
		err("the BACKEND spec must be one line of at most %zu bytes",
		    sizeof(o.backend_buf) - 1);
		return 1;
	}
	if (o.user && resolve_user(o.user, &uid, &gid, why, sizeof(why)) < 0) {
		err("--user: %s", why);
		return 1;
	}

	if (!check_root("add") || !check_kernel(o.vhost))
		return 1;
	if (!o.name)
		pick_name(&o);
	o.blk.name = o.name;
	if (o.adopt && device_exists(o.name)) {
		char *rargv[] = { (char *)"recover", (char *)o.name, NULL,
				  NULL };

		if (o.foreground)
			rargv[2] = (char *)"--foreground";
		/* The saved settings, not this command line, describe it. */
		return cmd_recover(o.foreground ? 3 : 2, rargv);
	}
	return start_daemon(&o, DAEMON_ADD);
}

bool device_exists(const char *name)
{
	char path[300];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "/sys/class/vduse/%s", name) >= sizeof(path))
		return false;
	return stat(path, &st) == 0;
}

int start_daemon(struct add_opts *o, enum daemon_mode mode)
{
	struct backend_open_opts bo = { 0 };
	struct backend *be = NULL;
	int ret, pipefd[2];
	pid_t pid;

	bo.readonly = o->blk.readonly;
	bo.block_size = o->blk.block_size;
	bo.cache = o->cache;
	bo.io_timeout_s = o->io_timeout_s;
	bo.queues = o->blk.num_queues;
	ret = backend_open(o->backend, &bo, &be);
	if (ret < 0) {
		err("%s", backend_last_error());
		return 1;
	}

	if (o->foreground) {
		ret = daemon_run(o, be, -1, mode);
		backend_close(be);
		return ret;
	}
	if (mode == DAEMON_CLEANUP) {
		/* The daemon drops root; `del` may still need it afterwards. */
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			ret = daemon_run(o, be, -1, mode);
			backend_close(be);
			_exit(ret);
		}
		backend_close(be);
		if (pid < 0) {
			err("fork: %m");
			return 1;
		}
		while (waitpid(pid, &ret, 0) < 0 && errno == EINTR)
			;
		return WIFEXITED(ret) ? WEXITSTATUS(ret) : 1;
	}

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		err("pipe: %m");
		backend_close(be);
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err("fork: %m");
		backend_close(be);
		return 1;
	}
	if (pid > 0) {
		close(pipefd[1]);
		backend_close(be);
		return wait_for_daemon(pid, pipefd[0], o->name);
	}
	close(pipefd[0]);
	setsid();
	ret = daemon_run(o, be, pipefd[1], mode);
	backend_close(be);
	_exit(ret);
}

/* `recover NAME`: a new daemon for a device whose daemon died. */
int cmd_recover(int argc, char **argv)
{
	struct add_opts o;
	bool foreground = false;
	char reply[64];
	int i, ret;
	const char *name = NULL;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--foreground") || !strcmp(argv[i], "-f"))
			foreground = true;
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else {
			err("usage: " PROG " recover [--foreground] NAME");
			return 1;
		}
	}
	if (!name) {
		err("recover needs the NAME of a device whose daemon died (see '" PROG " list')");
		return 1;
	}
	if (vdk_name_check(name) < 0) {
		err("recover: %s", vdk_last_error());
		return 1;
	}
	if (!check_root("recover") || !check_kernel(false))
		return 1;
	if (!device_exists(name)) {
		err("there is no device named '%s' (see '" PROG " list')", name);
		return 1;
	}
	if (ctl_request(name, "info", reply, sizeof(reply)) == 0) {
		err("%s has a running daemon; nothing to recover", name);
		return 1;
	}
	ret = load_conf(name, &o);
	if (ret < 0) {
		err("%s was not added by " PROG " (no %s/%s.conf): it cannot be recovered; "
		    "'" PROG " del %s' removes it", name, RUN_DIR, name, name);
		return 1;
	}
	if (!strncmp(o.backend, "memory:", 7)) {
		err("%s was a RAM disk (%s): its data died with its daemon, so serving "
		    "it again would hand the kernel an empty disk; remove it with '"
		    PROG " del %s'", name, o.backend, name);
		return 1;
	}
	o.foreground = foreground;
	return start_daemon(&o, DAEMON_RECOVER);
}

/*
 * `upgrade NAME`: the running daemon drains and exits without touching the
 * device; this binary (the new one) then recovers it.  Applications see a
 * pause, not an error.
 */
int cmd_upgrade(int argc, char **argv)
{
	char reply[4096], *rargv[3];
	const char *name;
	pid_t pid;
	int i;

	if (argc != 2) {
		err("usage: " PROG " upgrade NAME");
		return 1;
	}
	name = argv[1];
	if (vdk_name_check(name) < 0) {
		err("upgrade: %s", vdk_last_error());
		return 1;
	}
	if (!check_root("upgrade"))
		return 1;
	if (ctl_request(name, "info", reply, sizeof(reply)) < 0) {
		err(device_exists(name) ? "no daemon serves %s; use '" PROG " recover %s'"
					: "there is no device named '%s' (see '" PROG " list')",
		    name, name);
		return 1;
	}
	pid = reply_pid(reply);
	if (ctl_request(name, "handover", reply, sizeof(reply)) < 0 ||
	    strncmp(reply, "OK", 2)) {
		err("the daemon of %s refused to hand over: %s", name, reply);
		return 1;
	}
	/* The old daemon drains its queues, then lets go of the device. */
	for (i = 0; i < 600 && pid > 0 && kill(pid, 0) == 0; i++)
		usleep(50 * 1000);
	if (pid > 0 && kill(pid, 0) == 0) {
		err("the old daemon %d of %s did not exit within 30 s", (int)pid, name);
		return 1;
	}
	rargv[0] = (char *)"recover";
	rargv[1] = (char *)name;
	rargv[2] = NULL;
	return cmd_recover(2, rargv);
}
