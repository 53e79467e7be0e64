// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The serving daemon of one device, of whatever kind its struct
 * device_model says, and the command-side start of it (start_daemon).
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
 * The device model's callbacks run on the threads struct device_model
 * names; the model calls back only into daemon_set_config (main thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

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
		msg_log(MSG_ERR, "%s", msg);
	if (fd < 0) {
		if (ok) {
			printf("%s\n", msg);
			fflush(stdout);
		} else {
			msg_err("%s", msg);
		}
		return;
	}
	dprintf(fd, "%s %s\n", ok ? "OK" : "ERR", msg);
	close(fd);
}

static int on_features_ok(struct vdk_dev *dev, uint64_t features)
{
	struct daemon *d = vdk_dev_opaque(dev);

	return d->model->features_ok(d->m, features);
}

static void on_queue_start(struct vdk_dev *dev, struct vdk_vq *vq)
{
	struct daemon *d = vdk_dev_opaque(dev);
	int ret;

	ret = queue_thread_start(&d->qs, vq);
	if (ret < 0)
		msg_log(MSG_ERR, "queue %u: cannot start: %s",
			vdk_vq_index(vq), strerror(-ret));
}

static void on_queue_stop(struct vdk_dev *dev, struct vdk_vq *vq)
{
	struct daemon *d = vdk_dev_opaque(dev);

	queue_thread_stop(&d->qs, vq);
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

	/* PR_SET_IO_FLUSHER's task flags come with the thread (harden_process). */
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
			msg_log(MSG_ERR, "control messages: %s", vdk_last_error());
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
		msg_log(MSG_WARN, "stopping the control thread: %m");
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
		msg_log(MSG_WARN, "PR_SET_IO_FLUSHER: %m (memory pressure may stall the device)");
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
		msg_log(MSG_WARN, "mlockall: %m (memory pressure may stall the device)");
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
	char comm[16];
	char cmd;
	ssize_t n;

	snprintf(comm, sizeof(comm), "%s-keep", msg_prefix());
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (keep_only_caps(1ULL << CAP_NET_ADMIN) < 0)
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
			msg_log(MSG_ERR, "the device is broken (%s); shutting down",
				strerror(-d->ctl_status));
			break;
		}
		if (pfd[0].revents & POLLIN &&
		    read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			msg_log(MSG_INFO, "signal %u: stopping the device",
				si.ssi_signo);
			break;
		}
		if (d->sock_fd >= 0 && pfd[1].revents & POLLIN)
			ctl_accept(d);
		if (d->model->watch)
			d->model->watch(d->m);
	}
	atomic_store(&d->stopping, true);
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
	for (i = 0; i < d->qs.nr_queues; i++)
		queue_thread_stop(&d->qs, vdk_dev_vq(d->dev, i));
	vdk_dev_close(d->dev);
	d->dev = NULL;
}

int daemon_set_config(struct daemon *d, uint32_t offset, const void *buf,
		      uint32_t len)
{
	int ret;

	pthread_mutex_lock(&d->dev_lock);
	ret = vdk_dev_set_config(d->dev, offset, buf, len, true);
	pthread_mutex_unlock(&d->dev_lock);
	return ret;
}

/* Whether @name is on the vdpa bus, with or without a driver. */
static bool vdpa_dev_present(const char *name)
{
	char path[300];

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", name);
	return access(path, F_OK) == 0;
}

/*
 * How long the kernel waits for the answer to a control message before it
 * breaks the device: /sys/class/vduse/NAME/msg_timeout, which only root
 * may open, so it is opened before privileges drop and written once the
 * device is up.  Not before: a daemon killed while the driver probes
 * leaves that probe waiting on the kernel's own, shorter, timeout, as
 * before, rather than holding the vdpa bus up for the longer one.  -1 if
 * there is nothing to set or it cannot be opened (then the kernel's value
 * stands; set_msg_timeout says so).
 */
static int open_msg_timeout(const char *name, uint32_t seconds, int *err)
{
	char path[300];
	int fd;

	*err = 0;
	if (!seconds)
		return -1;
	snprintf(path, sizeof(path), "/sys/class/vduse/%s/msg_timeout", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		*err = errno;
	return fd;
}

/*
 * A device whose daemon is dead lives through a driver operation only for
 * msg_timeout, so the value must cover a restart; see
 * MSG_TIMEOUT_DEFAULT_S.  Not fatal: the log says the kernel's stands.
 */
static void set_msg_timeout(int fd, int err, uint32_t seconds)
{
	char val[16];
	int len;

	if (!seconds)
		return;
	len = snprintf(val, sizeof(val), "%u", seconds);
	if (fd >= 0 && write(fd, val, len) != len)
		err = errno;
	if (err)
		msg_log(MSG_WARN, "cannot set msg_timeout to %u s (%s): the kernel's own timeout stands, and a device without a daemon breaks once a control message waits that long",
			seconds, strerror(err));
	else
		msg_log(MSG_INFO, "control messages wait up to %u s for a daemon (msg_timeout)",
			seconds);
}

int daemon_run(const struct dev_opts *opts, void *m, int report_fd,
	       enum daemon_mode mode)
{
	const struct device_model *model = opts->model;
	struct daemon *d;
	struct vdk_dev_config cfg = { 0 };
	char state_path[300], why[512], what[400];
	sigset_t sigs;
	int sig_fd = -1, ret, status = 1, mt_fd = -1, mt_err = 0;
	bool adopted = mode != DAEMON_ADD;
	bool keep = false;		/* leave the device on failure */
	uid_t uid;
	gid_t gid;

	/* Every layer logs through common/log.h: one sink, the log file. */
	log_set_name(opts->name);
	msg_set_sink(log_line);
	d = calloc(1, sizeof(*d));
	if (!d) {
		report(report_fd, false, "out of memory");
		return 1;
	}
	d->opts = opts;
	d->model = model;
	d->m = m;
	d->pid = getpid();
	d->started = time(NULL);
	d->ctl_stop_fd = -1;
	d->sock_fd = -1;
	d->keeper_fd = d->keeper_reply_fd = -1;
	pthread_mutex_init(&d->dev_lock, NULL);

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
		msg_log(MSG_WARN, "%s", why);

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

	why[0] = '\0';
	ret = model->init(m, d, &cfg, why, sizeof(why));
	if (ret < 0) {
		report(report_fd, false, "%s", why);
		goto out_free;
	}
	if (queue_set_init(&d->qs, model->queue_ops, m, cfg.num_queues,
			   cfg.queue_size) < 0) {
		report(report_fd, false, "out of memory");
		goto out_free;
	}

	if (run_path(opts->name, "state", state_path, sizeof(state_path)) < 0) {
		report(report_fd, false, "the name '%s' is too long for %s", opts->name,
		       RUN_DIR);
		goto out_free;
	}
	cfg.name = opts->name;
	cfg.ops = &dev_ops;
	cfg.opaque = d;
	cfg.state_path = state_path;
	if (!adopted) {
		ret = vdk_dev_create(&cfg, &d->dev);
		if (ret == -EEXIST) {
			report(report_fd, false, "a device named '%s' exists already: "
			       "choose another --name, or remove it with '%s del %s'",
			       opts->name, msg_prefix(), opts->name);
			goto out_free;
		}
		if (ret == 0) {
			ret = save_conf(opts);
			if (ret < 0)
				msg_log(MSG_WARN, "cannot save %s's settings (%s): "
					"it cannot be recovered after a crash",
					opts->name, strerror(-ret));
			ret = 0;
		}
	} else {
		ret = vdk_dev_open(&cfg, &d->dev);
		if (ret == -EBUSY) {
			report(report_fd, false, "%s is being served by another process "
			       "(see '%s list')", opts->name, msg_prefix());
			goto out_free;
		}
	}
	if (ret < 0 && mode == DAEMON_RECOVER) {
		report(report_fd, false, "%s: %s cannot be recovered; remove it with '"
		       "%s del %s' and add it again", vdk_last_error(),
		       opts->name, msg_prefix(), opts->name);
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
			msg_log(MSG_WARN, "no control socket (%s): list, stats and resize "
				"will not see this device", strerror(-ret));
	}

	/* Root only: opened now, written once the device is up. */
	if (mode != DAEMON_CLEANUP)
		mt_fd = open_msg_timeout(opts->name, opts->msg_timeout_s, &mt_err);

	/* Before any queue runs: no request is ever served with privileges. */
	ret = drop_to_user(uid, gid);
	if (ret < 0) {
		report(report_fd, false, "cannot drop privileges to %u:%u: %s",
		       (unsigned int)uid, (unsigned int)gid, strerror(-ret));
		goto out_release;
	}
	msg_log(MSG_INFO, "running as %u:%u without capabilities",
		(unsigned int)uid, (unsigned int)gid);

	if (adopted) {
		/* Queues running before we came carry on where they stood. */
		ret = vdk_dev_resume(d->dev);
		if (ret < 0) {
			report(report_fd, false, "%s", vdk_last_error());
			goto out_release;
		}
		msg_log(MSG_INFO, "adopted %s: %d queue%s resumed",
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
	if (vdk_dev_node(opts->name, d->node, sizeof(d->node)) == 0) {
		/* Attached and bound already: adopted as it stood. */
	} else if (adopted && vdpa_dev_present(opts->name)) {
		/*
		 * Attached, but no driver is bound: it was unbound while no
		 * daemon ran (the unbind waited for this daemon's answer).
		 * Attaching again would fail; binding a driver brings a node.
		 */
		snprintf(d->node, sizeof(d->node), "-");
		msg_log(MSG_INFO, "%s is attached with no driver bound; binding one gives it a node",
			opts->name);
	} else {
		ret = keeper_call(d, KEEPER_ATTACH, d->node, sizeof(d->node), why,
				  sizeof(why));
		if (ret < 0) {
			report(report_fd, false, "%s", why);
			goto out_detach;
		}
	}

	set_msg_timeout(mt_fd, mt_err, opts->msg_timeout_s);
	model->describe(m, what, sizeof(what));
	msg_log(MSG_INFO, "serving %s (%s) as %s", opts->name, what, d->node);
	report(report_fd, true, "%s", d->node);

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
	if (!keep && (atomic_load(&d->force) || opts->force)) {
		msg_log(MSG_WARN, "removal forced: requests the backend has not answered fail with an I/O error now");
		queue_threads_abort_now(&d->qs);
	} else if (!keep) {
		queue_threads_abort_soon(&d->qs);
	}
	if (!keep) {
		if (keeper_call(d, KEEPER_DETACH, NULL, 0, why, sizeof(why)) < 0) {
			msg_log(MSG_ERR, "detach: %s", why);
			status = 1;
		}
	}
out_release:
	release_device(d);
	if (keep) {
		msg_log(MSG_INFO, "handed %s over; the device stays, I/O waits for the next daemon",
			opts->name);
	} else if (keeper_call(d, KEEPER_DESTROY, NULL, 0, why, sizeof(why)) < 0) {
		msg_log(MSG_ERR, "destroy: %s", why);
		status = 1;
	} else if (status == 0) {
		msg_log(MSG_INFO, "device %s removed", opts->name);
	}
out_free:
	if (mt_fd >= 0)
		close(mt_fd);
	keeper_stop(d);
	ctl_close(d);
	if (sig_fd >= 0)
		close(sig_fd);
	log_set_name(NULL);
	queue_set_fini(&d->qs);
	free(d);
	return status;
}

/*
 * The parent half of a background start: waits for the daemon to say
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
		fprintf(stderr, "%s: ", msg_prefix());
		fputs(buf + 4, stderr);
	} else {
		/* The daemon died without a word: say how it ended. */
		if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
			msg_err("the daemon was killed by signal %d while setting up",
				WTERMSIG(status));
		else
			msg_err("the daemon exited while setting up (see %s/%s.log)",
				RUN_DIR, name);
	}
	waitpid(pid, &status, WNOHANG);
	return 1;
}

int start_daemon(struct dev_opts *o, enum daemon_mode mode)
{
	const struct device_model *model = o->model;
	char why[512];
	void *m = NULL;
	int ret, pipefd[2];
	pid_t pid;

	why[0] = '\0';
	ret = model->open(o->model_opts, &m, why, sizeof(why));
	if (ret < 0) {
		msg_err("%s", why);
		return 1;
	}

	if (o->foreground) {
		ret = daemon_run(o, m, -1, mode);
		model->close(m);
		return ret;
	}
	if (mode == DAEMON_CLEANUP) {
		/* The daemon drops root; `del` may still need it afterwards. */
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			ret = daemon_run(o, m, -1, mode);
			model->close(m);
			_exit(ret);
		}
		model->close(m);
		if (pid < 0) {
			msg_err("fork: %m");
			return 1;
		}
		while (waitpid(pid, &ret, 0) < 0 && errno == EINTR)
			;
		return WIFEXITED(ret) ? WEXITSTATUS(ret) : 1;
	}

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		msg_err("pipe: %m");
		model->close(m);
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		msg_err("fork: %m");
		model->close(m);
		return 1;
	}
	if (pid > 0) {
		close(pipefd[1]);
		model->close(m);
		return wait_for_daemon(pid, pipefd[0], o->name);
	}
	close(pipefd[0]);
	setsid();
	ret = daemon_run(o, m, pipefd[1], mode);
	model->close(m);
	_exit(ret);
}
