// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The serving daemon of one device.
 *
 * Thread model:
 * - main thread: creates (or adopts) the device as root, forks the keeper,
 *   drops to an unprivileged user, has the keeper attach the device, then
 *   serves the control socket and signals (signalfd) until told to stop;
 *   then has the keeper detach and destroy the device.
 * - keeper: a root process with CAP_NET_ADMIN alone that does those
 *   privileged steps for this device and nothing else (keeper_main).
 * - control thread: answers VDUSE control messages (vdk_dev_process) at
 *   once, always, because the kernel breaks a device whose message waits
 *   longer than msg_timeout.  It must run before attach: the driver probes
 *   the device from inside the attach call.  Queue threads are started and
 *   stopped from its callbacks.
 * - one thread per virtqueue (queue.c).
 * Every signal is blocked in every thread; the main thread reads them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <linux/capability.h>
#include <linux/virtio_ids.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vduse-blk.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

static struct daemon *the_daemon;	/* for the log sink's prefix only */

static void log_sink(enum blk_log_level level, const char *msg)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s %s[%d] %s: %s: %s\n", when, PROG, (int)getpid(),
		the_daemon ? the_daemon->opts->name : "-",
		names[level <= BLK_LOG_DEBUG ? level : BLK_LOG_DEBUG], msg);
}

/* Backends' events (a lost server, say) go to the same log. */
static void backend_sink(enum backend_log_level level, const char *msg)
{
	log_sink((enum blk_log_level)level, msg);
}

/* Tells whoever started us how setup ended (see wait_for_daemon). */
static void report(int fd, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(int fd, bool ok, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ok)
		blk_log(BLK_LOG_ERR, "%s", msg);
	if (fd < 0) {
		if (ok) {
			printf("%s\n", msg);
			fflush(stdout);
		} else {
			err("%s", msg);
		}
		return;
	}
	dprintf(fd, "%s %s\n", ok ? "OK" : "ERR", msg);
	close(fd);
}

static int on_features_ok(struct vdk_dev *dev, uint64_t features)
{
	struct daemon *d = vdk_dev_opaque(dev);

	return blk_dev_features_ok(&d->blk, features);
}

static void on_queue_start(struct vdk_dev *dev, struct vdk_vq *vq)
{
	struct daemon *d = vdk_dev_opaque(dev);
	int ret;

	ret = queue_thread_start(d, vq);
	if (ret < 0)
		blk_log(BLK_LOG_ERR, "queue %u: cannot start: %s",
			vdk_vq_index(vq), strerror(-ret));
}

static void on_queue_stop(struct vdk_dev *dev, struct vdk_vq *vq)
{
	queue_thread_stop(vdk_dev_opaque(dev), vq);
}

static const struct vdk_dev_ops dev_ops = {
	.features_ok = on_features_ok,
	.queue_start = on_queue_start,
	.queue_stop = on_queue_stop,
};

static void *ctl_thread_fn(void *arg)
{
	struct daemon *d = arg;
	struct pollfd pfd[2] = {
		{ .fd = vdk_dev_fd(d->dev), .events = POLLIN },
		{ .fd = d->ctl_stop_fd, .events = POLLIN },
	};
	int ret;

	prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0);
	drop_privileges();
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			d->ctl_status = -errno;
			break;
		}
		if (pfd[1].revents)
			break;
		pthread_mutex_lock(&d->dev_lock);
		ret = vdk_dev_process(d->dev);
		pthread_mutex_unlock(&d->dev_lock);
		if (ret < 0 && ret != -EAGAIN) {
			blk_log(BLK_LOG_ERR, "control messages: %s", vdk_last_error());
			d->ctl_status = ret;
			break;
		}
	}
	atomic_store(&d->ctl_running, false);
	return NULL;
}

static int start_ctl_thread(struct daemon *d)
{
	int ret;

	d->ctl_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->ctl_stop_fd < 0)
		return -errno;
	atomic_store(&d->ctl_running, true);
	ret = pthread_create(&d->ctl_thread, NULL, ctl_thread_fn, d);
	if (ret) {
		atomic_store(&d->ctl_running, false);
		close(d->ctl_stop_fd);
		d->ctl_stop_fd = -1;
		return -ret;
	}
	return 0;
}

static void stop_ctl_thread(struct daemon *d)
{
	uint64_t one = 1;

	if (d->ctl_stop_fd < 0)
		return;
	if (write(d->ctl_stop_fd, &one, sizeof(one)) < 0)
		blk_log(BLK_LOG_WARN, "stopping the control thread: %m");
	pthread_join(d->ctl_thread, NULL);
	close(d->ctl_stop_fd);
	d->ctl_stop_fd = -1;
}

/*
 * The daemon must not wait on its own device: writeback of a filesystem on
 * /dev/vdX under memory pressure needs this process to make progress, so
 * it allocates without I/O (IO_FLUSHER) and keeps its pages resident.
 */
static void harden_process(void)
{
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) < 0)
		blk_log(BLK_LOG_WARN, "PR_SET_IO_FLUSHER: %m (memory pressure may stall the device)");
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
		blk_log(BLK_LOG_WARN, "mlockall: %m (memory pressure may stall the device)");
}

/*
 * What the daemon runs as once set up: --user, else the system user
 * "vduse", else nobody (65534:65534, with a notice), never root.  Each
 * thread holds no capability at all: memory locking needs none once
 * RLIMIT_MEMLOCK is lifted (see drop_to_user), and everything that needs
 * root after setup (attach, detach, destroy, removing the files under
 * RUN_DIR) is asked of the keeper process (see keeper_main).
 */
#define DEFAULT_USER "vduse"
#define FALLBACK_ID 65534

int resolve_user(const char *user, uid_t *uid, gid_t *gid, char *why, size_t len)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user ? user : DEFAULT_USER);
	if (!pw && !user) {
		*uid = FALLBACK_ID;
		*gid = FALLBACK_ID;
		snprintf(why, len, "there is no user '" DEFAULT_USER "' (scripts/deps.sh "
			 "or 'useradd --system --user-group " DEFAULT_USER "' makes it): "
			 "running as nobody (%d:%d)", FALLBACK_ID, FALLBACK_ID);
		return 1;
	}
	if (!pw) {
		snprintf(why, len, "there is no user '%s'%s%s", user,
			 errno ? ": " : "", errno ? strerror(errno) : "");
		return -ENOENT;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(why, len, "user '%s' is root or in group root: the daemon "
			 "must not run with root's files; choose an unprivileged user",
			 pw->pw_name);
		return -EPERM;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Sets the calling thread's capability sets to @caps (a bit mask). */
static int set_caps(uint64_t caps)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { { 0 } };

	data[0].effective = data[0].permitted = (uint32_t)caps;
	data[1].effective = data[1].permitted = (uint32_t)(caps >> 32);
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/* Drops every capability but @keep from the calling thread's bounding set. */
static void limit_bounding_set(uint64_t keep)
{
	int cap;

	for (cap = 0; cap <= 63; cap++)
		if (!(keep & (1ULL << cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;		/* past the last capability */
}

/*
 * Becomes @uid:@gid for good, with no supplementary group and no
 * capability, before any thread of ours exists: threads inherit all of it,
 * so none of them ever serves a request with more.  glibc applies the id
 * changes to every thread of the process anyway.
 */
static int drop_to_user(uid_t uid, gid_t gid)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	int ret;

	/* mlockall(MCL_FUTURE) goes on locking new memory without CAP_IPC_LOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited) < 0)
		blk_log(BLK_LOG_WARN, "RLIMIT_MEMLOCK: %m (memory pressure may stall the device)");
	/* Needs CAP_SETPCAP, so before the uid changes. */
	limit_bounding_set(0);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	/* The uid change cleared them already; make sure of all five sets. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	ret = set_caps(0);
	if (ret < 0)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Paranoia: the way back must be closed. */
	if (setuid(0) == 0 || setgid(0) == 0)
		return -EPERM;
	return 0;
}

/*
 * Every thread calls this as it starts: it inherited an unprivileged user
 * and no capability from the thread that made it (see drop_to_user), and
 * this makes sure of that even for a thread started some other way.
 */
void drop_privileges(void)
{
	if (set_caps(0) < 0)
		blk_log(BLK_LOG_WARN, "dropping capabilities: %m");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		blk_log(BLK_LOG_WARN, "PR_SET_NO_NEW_PRIVS: %m");
	if (getuid() == 0 || geteuid() == 0)
		blk_log(BLK_LOG_ERR, "a thread runs as root: the privilege drop was skipped");
}

/*
 * The keeper: a child forked while the daemon is still root, before it
 * drops.  It keeps uid 0 and CAP_NET_ADMIN only, holds no descriptor but
 * its two pipes (and stderr, the log), never touches guest memory, and
 * does only what the daemon asks of its own device: attach it, detach it,
 * destroy it and remove its files.  It exits when the daemon's end of the
 * pipe closes (the daemon exited or died), leaving the device as it is.
 */
enum keeper_cmd {
	KEEPER_ATTACH = 'a',
	KEEPER_DETACH = 'd',
	KEEPER_DESTROY = 'x',
};

struct keeper_reply {
	int ret;
	char node[64];
	char msg[480];
};

static void __attribute__((noreturn)) keeper_main(struct daemon *d, int in, int out)
{
	struct keeper_reply r;
	const char *name = d->opts->name;
	const char *why;
	char cmd;
	ssize_t n;

	prctl(PR_SET_NAME, "vduse-blk-keep", 0, 0, 0);
	limit_bounding_set(1ULL << CAP_NET_ADMIN);
	if (set_caps(1ULL << CAP_NET_ADMIN) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(1);
	for (;;) {
		n = read(in, &cmd, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		memset(&r, 0, sizeof(r));
		why = NULL;
		switch (cmd) {
		case KEEPER_ATTACH:
			/* Our copy of the handle: attach uses only its name and flags. */
			r.ret = vdk_dev_attach(d->dev, d->opts->vhost ? VDK_BUS_VHOST :
					       VDK_BUS_VIRTIO, r.node, sizeof(r.node));
			break;
		case KEEPER_DETACH:
			r.ret = vdk_dev_detach(d->dev);
			break;
		case KEEPER_DESTROY:
			/* Refused while the daemon still holds /dev/vduse/NAME. */
			r.ret = vdk_dev_destroy_by_name(name);
			if (r.ret == 0 || !device_exists(name))
				remove_run_files(name);
			break;
		default:
			r.ret = -EINVAL;
			why = "unknown request";
			break;
		}
		if (r.ret)
			snprintf(r.msg, sizeof(r.msg), "%s", why ? why : vdk_last_error());
		if (write(out, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
}

static int keeper_start(struct daemon *d)
{
	int to[2], from[2];
	pid_t pid;

	if (pipe2(to, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(from, O_CLOEXEC) < 0) {
		close(to[0]);
		close(to[1]);
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		return -errno;
	}
	if (pid == 0) {
		/* Nothing of the daemon's: not its device fd, not its socket. */
		int in = fcntl(to[0], F_DUPFD, 10), out = fcntl(from[1], F_DUPFD, 10);

		if (in < 0 || out < 0 || dup2(in, 3) < 0 || dup2(out, 4) < 0)
			_exit(1);
		close_range(5, ~0U, 0);
		keeper_main(d, 3, 4);
	}
	close(to[0]);
	close(from[1]);
	d->keeper_pid = pid;
	d->keeper_fd = to[1];
	d->keeper_reply_fd = from[0];
	return 0;
}

/*
 * Asks the keeper for @cmd and waits for the answer; 0 or -errno, with
 * the keeper's message in @why.
 */
static int keeper_call(struct daemon *d, enum keeper_cmd cmd, char *node,
		       size_t node_len, char *why, size_t why_len)
{
	struct keeper_reply r;
	char c = (char)cmd;
	size_t got = 0;
	ssize_t n;

	if (d->keeper_fd < 0) {
		snprintf(why, why_len, "no keeper process");
		return -ESRCH;
	}
	if (write(d->keeper_fd, &c, 1) != 1) {
		snprintf(why, why_len, "the keeper process is gone: %m");
		return -EPIPE;
	}
	while (got < sizeof(r)) {
		n = read(d->keeper_reply_fd, (char *)&r + got, sizeof(r) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(why, why_len, "the keeper process died");
			return -EPIPE;
		}
		got += n;
	}
	r.node[sizeof(r.node) - 1] = '\0';
	r.msg[sizeof(r.msg) - 1] = '\0';
	if (node)
		snprintf(node, node_len, "%s", r.node);
	snprintf(why, why_len, "%s", r.msg);
	return r.ret;
}

static void keeper_stop(struct daemon *d)
{
	if (d->keeper_fd < 0)
		return;
	close(d->keeper_fd);
	close(d->keeper_reply_fd);
	d->keeper_fd = d->keeper_reply_fd = -1;
	while (waitpid(d->keeper_pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Log file of a background daemon; stdin and stdout go to /dev/null. */
static void redirect_stdio(const char *name)
{
	char path[300];
	int fd;

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	if (run_path(name, "log", path, sizeof(path)) < 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

static int make_run_dir(void)
{
	if (mkdir(RUN_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* Root-only, whoever made it first. */
	if (chmod(RUN_DIR, 0700) < 0)
		return -errno;
	return 0;
}

int daemon_set_capacity(struct daemon *d, uint64_t size)
{
	uint64_t cap_le;
	int ret;

	ret = blk_dev_set_capacity(&d->blk, size);
	if (ret < 0)
		return ret;
	cap_le = d->blk.config.capacity;
	pthread_mutex_lock(&d->dev_lock);
	ret = vdk_dev_set_config(d->dev, offsetof(struct virtio_blk_config, capacity),
				 &cap_le, sizeof(cap_le), true);
	pthread_mutex_unlock(&d->dev_lock);
	if (ret < 0)
		blk_error("%s", vdk_last_error());
	return ret;
}

/*
 * A backend can grow behind our back: a file extended on the host, an NBD
 * export found larger after a reconnect.  Pass growth on to the driver;
 * shrinking is only reported, since data in use would be cut off.
 */
static void watch_size(struct daemon *d)
{
	uint64_t cap = atomic_load(&d->blk.capacity) << BLK_SECTOR_SHIFT;
	uint64_t size;

	if (backend_refresh_size(d->be) < 0)
		return;
	size = backend_size(d->be) / d->blk.block_size * d->blk.block_size;
	if (size > cap) {
		if (daemon_set_capacity(d, size) == 0)
			blk_log(BLK_LOG_INFO, "the backend grew from %llu to %llu bytes; so did the device",
				(unsigned long long)cap, (unsigned long long)size);
	} else if (size < cap && !d->shrink_reported) {
		d->shrink_reported = true;
		blk_log(BLK_LOG_WARN, "the backend shrank from %llu to %llu bytes; "
			"I/O past its end will fail", (unsigned long long)cap,
			(unsigned long long)size);
	}
}

/* Main thread after setup: control socket and signals, until told to stop. */
static void serve(struct daemon *d, int sig_fd)
{
	struct pollfd pfd[2] = {
		{ .fd = sig_fd, .events = POLLIN },
		{ .fd = d->sock_fd, .events = POLLIN },
	};
	struct signalfd_siginfo si;

	while (!atomic_load(&d->stopping)) {
		/* Wake up now and then to notice a control thread that died. */
		if (poll(pfd, d->sock_fd >= 0 ? 2 : 1, 1000) < 0 && errno != EINTR)
			break;
		if (!atomic_load(&d->ctl_running)) {
			blk_log(BLK_LOG_ERR, "the device is broken (%s); shutting down",
				strerror(-d->ctl_status));
			break;
		}
		if (pfd[0].revents & POLLIN &&
		    read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			blk_log(BLK_LOG_INFO, "signal %u: stopping the device",
				si.ssi_signo);
			break;
		}
		if (d->sock_fd >= 0 && pfd[1].revents & POLLIN)
			ctl_accept(d);
		watch_size(d);
	}
	atomic_store(&d->stopping, true);
}

/* Paths of the files a device keeps under RUN_DIR; -ENAMETOOLONG if cut. */
int run_path(const char *name, const char *ext, char *buf, size_t len)
{
	int n = snprintf(buf, len, RUN_DIR "/%s.%s", name, ext);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * The settings file: one key=value a line.  Values cannot hold a newline
 * (add refuses such a backend spec); lines have no length limit.
 */
int conf_write(FILE *f, const struct add_opts *o)
{
	fprintf(f, "backend=%s\nqueues=%u\nqueue_size=%u\nblock_size=%u\n"
		"read_only=%d\nserial=%s\ncache=%d\nvhost=%d\nio_timeout=%u\n",
		o->backend, o->blk.num_queues, o->blk.queue_size,
		o->blk.block_size, o->blk.readonly,
		o->blk.serial ? o->blk.serial : "", (int)o->cache, o->vhost,
		o->io_timeout_s);
	if (o->user)
		fprintf(f, "user=%s\n", o->user);
	return ferror(f) ? -EIO : 0;
}

/* Copies @v into @buf, refusing what does not fit rather than cutting it. */
static int conf_copy(char *buf, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -E2BIG;
	strcpy(buf, v);
	return 0;
}

int conf_read(FILE *f, const char *name, struct add_opts *o)
{
	char *line = NULL;
	size_t cap = 0;
	int n = 0, ret = 0;

	memset(o, 0, sizeof(*o));
	if (conf_copy(o->name_buf, sizeof(o->name_buf), name))
		return -EINVAL;
	o->name = o->name_buf;
	o->blk.name = o->name;
	while (ret == 0 && getline(&line, &cap, f) > 0) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = '\0';
		v[strcspn(v, "\n")] = '\0';
		if (!strcmp(line, "backend")) {
			ret = conf_copy(o->backend_buf, sizeof(o->backend_buf), v);
			o->backend = o->backend_buf;
			n++;
		} else if (!strcmp(line, "queues")) {
			o->blk.num_queues = strtoul(v, NULL, 10);
		} else if (!strcmp(line, "queue_size")) {
			o->blk.queue_size = strtoul(v, NULL, 10);
		} else if (!strcmp(line, "block_size")) {
			o->blk.block_size = strtoul(v, NULL, 10);
		} else if (!strcmp(line, "read_only")) {
			o->blk.readonly = atoi(v);
		} else if (!strcmp(line, "serial")) {
			ret = conf_copy(o->serial_buf, sizeof(o->serial_buf), v);
			o->blk.serial = o->serial_buf[0] ? o->serial_buf : NULL;
		} else if (!strcmp(line, "cache")) {
			o->cache = atoi(v);
		} else if (!strcmp(line, "vhost")) {
			o->vhost = atoi(v);
		} else if (!strcmp(line, "io_timeout")) {
			o->io_timeout_s = strtoul(v, NULL, 10);
		} else if (!strcmp(line, "user")) {
			ret = conf_copy(o->user_buf, sizeof(o->user_buf), v);
			o->user = o->user_buf;
		}
	}
	free(line);
	if (ret)
		return -EINVAL;
	return n == 1 ? 0 : -EINVAL;
}

/*
 * Records how the device was added, so `recover` (after a crash) and `del`
 * (of a device whose daemon died) can bring the same device model back.
 */
static int save_conf(const struct add_opts *o)
{
	char path[300], tmp[310];
	FILE *f;
	int ret;

	ret = run_path(o->name, "conf", path, sizeof(path));
	if (ret < 0)
		return ret;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	ret = conf_write(f, o);
	if (ret || fflush(f) || fsync(fileno(f))) {
		fclose(f);
		unlink(tmp);
		return -EIO;
	}
	if (fclose(f)) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

int load_conf(const char *name, struct add_opts *o)
{
	char path[300];
	FILE *f;
	int ret;

	ret = run_path(name, "conf", path, sizeof(path));
	if (ret < 0)
		return ret;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ret = conf_read(f, name, o);
	fclose(f);
	return ret;
}

/* Forgets the files of a device that is gone. */
void remove_run_files(const char *name)
{
	static const char *const exts[] = { "conf", "state", "sock" };
	char path[300];
	unsigned int i;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (run_path(name, exts[i], path, sizeof(path)) == 0)
			unlink(path);
}

/*
 * Lets go of the device without a word to the kernel: the control thread
 * stops, queues drain, the handle closes.  The device stays attached for
 * the next daemon (`upgrade`, or `recover` after this one is replaced), or
 * for the keeper to destroy.
 */
static void release_device(struct daemon *d)
{
	unsigned int i;

	stop_ctl_thread(d);
	/* Queues the kernel never reset (e.g. broken device) stop here. */
	for (i = 0; i < d->nr_queues; i++)
		queue_thread_stop(d, vdk_dev_vq(d->dev, i));
	vdk_dev_close(d->dev);
	d->dev = NULL;
}

int daemon_run(struct add_opts *opts, struct backend *be, int report_fd,
	       enum daemon_mode mode)
{
	struct daemon *d;
	struct vdk_dev_config cfg = { 0 };
	char state_path[300], why[512];
	sigset_t sigs;
	int sig_fd = -1, ret, status = 1;
	bool adopted = mode != DAEMON_ADD;
	bool keep = false;		/* leave the device on failure */
	uid_t uid;
	gid_t gid;

	d = calloc(1, sizeof(*d));
	if (!d) {
		report(report_fd, false, "out of memory");
		return 1;
	}
	d->opts = opts;
	d->be = be;
	d->pid = getpid();
	d->started = time(NULL);
	d->ctl_stop_fd = -1;
	d->sock_fd = -1;
	d->keeper_fd = d->keeper_reply_fd = -1;
	pthread_mutex_init(&d->dev_lock, NULL);
	pthread_mutex_init(&d->queues_lock, NULL);
	the_daemon = d;
	blk_log_set_sink(log_sink);
	backend_log_set_sink(backend_sink);

	ret = make_run_dir();
	if (ret < 0) {
		report(report_fd, false, "cannot create %s: %s", RUN_DIR, strerror(-ret));
		goto out_free;
	}
	if (report_fd >= 0)
		redirect_stdio(opts->name);
	ret = resolve_user(opts->user, &uid, &gid, why, sizeof(why));
	if (ret < 0) {
		report(report_fd, false, "%s", why);
		goto out_free;
	}
	if (ret > 0)
		blk_log(BLK_LOG_WARN, "%s", why);

	/* Signals are read from a signalfd by the main thread only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGPIPE);
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

	harden_process();

	ret = blk_dev_init(&d->blk, be, &opts->blk);
	if (ret < 0) {
		report(report_fd, false, "%s", blk_last_error());
		goto out_free;
	}
	d->nr_queues = d->blk.num_queues;
	d->queues = calloc(d->nr_queues, sizeof(*d->queues));
	if (!d->queues) {
		report(report_fd, false, "out of memory");
		goto out_free;
	}

	if (run_path(opts->name, "state", state_path, sizeof(state_path)) < 0) {
		report(report_fd, false, "the name '%s' is too long for %s", opts->name,
		       RUN_DIR);
		goto out_free;
	}
	cfg.name = opts->name;
	cfg.device_id = VIRTIO_ID_BLOCK;
	cfg.features = d->blk.features;
	cfg.num_queues = d->blk.num_queues;
	cfg.queue_size = d->blk.queue_size;
	cfg.config = blk_dev_config(&d->blk);
	cfg.config_size = blk_dev_config_size();
	cfg.ops = &dev_ops;
	cfg.opaque = d;
	cfg.state_path = state_path;
	if (!adopted) {
		ret = vdk_dev_create(&cfg, &d->dev);
		if (ret == -EEXIST) {
			report(report_fd, false, "a device named '%s' exists already: "
			       "choose another --name, or remove it with '" PROG " del %s'",
			       opts->name, opts->name);
			goto out_free;
		}
		if (ret == 0) {
			ret = save_conf(opts);
			if (ret < 0)
				blk_log(BLK_LOG_WARN, "cannot save %s's settings (%s): "
					"it cannot be recovered after a crash",
					opts->name, strerror(-ret));
			ret = 0;
		}
	} else {
		ret = vdk_dev_open(&cfg, &d->dev);
		if (ret == -EBUSY) {
			report(report_fd, false, "%s is being served by another process "
			       "(see '" PROG " list')", opts->name);
			goto out_free;
		}
	}
	if (ret < 0 && mode == DAEMON_RECOVER) {
		report(report_fd, false, "%s: %s cannot be recovered; remove it with '"
		       PROG " del %s' and add it again", vdk_last_error(),
		       opts->name, opts->name);
		goto out_free;
	}
	if (ret < 0) {
		report(report_fd, false, "%s", vdk_last_error());
		goto out_free;
	}
	/* From here a failed recover leaves the device to another try or `del`. */
	keep = mode == DAEMON_RECOVER;

	ret = keeper_start(d);
	if (ret < 0) {
		/* Still root: clean up without it. */
		report(report_fd, false, "cannot start the keeper process: %s",
		       strerror(-ret));
		if (!keep && vdk_dev_destroy(d->dev) == 0)
			remove_run_files(opts->name);
		else if (keep)
			vdk_dev_close(d->dev);
		d->dev = NULL;
		goto out_free;
	}
	if (mode != DAEMON_CLEANUP) {
		ret = ctl_listen(d);
		if (ret < 0)
			blk_log(BLK_LOG_WARN, "no control socket (%s): list, stats and resize "
				"will not see this device", strerror(-ret));
	}

	/* Before any queue runs: no request is ever served with privileges. */
	ret = drop_to_user(uid, gid);
	if (ret < 0) {
		report(report_fd, false, "cannot drop privileges to %u:%u: %s",
		       (unsigned int)uid, (unsigned int)gid, strerror(-ret));
		goto out_release;
	}
	blk_log(BLK_LOG_INFO, "running as %u:%u without capabilities",
		(unsigned int)uid, (unsigned int)gid);

	if (adopted) {
		/* Queues running before we came carry on where they stood. */
		ret = vdk_dev_resume(d->dev);
		if (ret < 0) {
			report(report_fd, false, "%s", vdk_last_error());
			goto out_release;
		}
		blk_log(BLK_LOG_INFO, "adopted %s: %d queue%s resumed",
			opts->name, ret, ret == 1 ? "" : "s");
	}

	ret = start_ctl_thread(d);
	if (ret < 0) {
		report(report_fd, false, "cannot start the control thread: %s",
		       strerror(-ret));
		goto out_release;
	}

	if (mode == DAEMON_CLEANUP) {
		/* `del` of a device whose daemon died: serve only to detach. */
		status = 0;
		goto out_detach;
	}
	if (vdk_dev_node(opts->name, d->node, sizeof(d->node)) < 0) {
		ret = keeper_call(d, KEEPER_ATTACH, d->node, sizeof(d->node), why,
				  sizeof(why));
		if (ret < 0) {
			report(report_fd, false, "%s", why);
			goto out_detach;
		}
	}

	blk_log(BLK_LOG_INFO, "serving %s (%s, %llu bytes, %u queue%s) as %s",
		opts->name, backend_spec(be),
		(unsigned long long)backend_size(be), d->blk.num_queues,
		d->blk.num_queues == 1 ? "" : "s", d->node);
	report(report_fd, true, "%s", d->node);
	report_fd = -2;		/* reported */

	serve(d, sig_fd);
	status = 0;
	keep = atomic_load(&d->handover);
	ctl_close(d);

out_detach:
	/*
	 * Detaching resets the device, which drains and stops every queue;
	 * the kernel waits for the I/O in flight first, so a backend that
	 * no longer answers must not hold it up for ever.
	 */
	if (!keep) {
		queue_threads_abort_soon(d);
		if (keeper_call(d, KEEPER_DETACH, NULL, 0, why, sizeof(why)) < 0) {
			blk_log(BLK_LOG_ERR, "detach: %s", why);
			status = 1;
		}
	}
out_release:
	release_device(d);
	if (keep) {
		blk_log(BLK_LOG_INFO, "handed %s over; the device stays, I/O waits for the next daemon",
			opts->name);
	} else if (keeper_call(d, KEEPER_DESTROY, NULL, 0, why, sizeof(why)) < 0) {
		blk_log(BLK_LOG_ERR, "destroy: %s", why);
		status = 1;
	} else if (status == 0) {
		blk_log(BLK_LOG_INFO, "device %s removed", opts->name);
	}
out_free:
	keeper_stop(d);
	ctl_close(d);
	if (sig_fd >= 0)
		close(sig_fd);
	the_daemon = NULL;
	free(d->queues);
	free(d);
	(void)report_fd;
	return status;
}
