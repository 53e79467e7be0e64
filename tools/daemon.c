// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The serving daemon of one device.
 *
 * Thread model:
 * - main thread: creates the device, attaches it, then serves the control
 *   socket and signals (signalfd) until told to stop; then detaches and
 *   destroys the device.
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
#include <poll.h>
#include <linux/virtio_ids.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
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
	snprintf(path, sizeof(path), RUN_DIR "/%s.log", name);
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
	}
	atomic_store(&d->stopping, true);
}

int daemon_run(struct add_opts *opts, struct backend *be, int report_fd)
{
	struct daemon *d;
	struct vdk_dev_config cfg = { 0 };
	sigset_t sigs;
	int sig_fd = -1, ret, status = 1;
	bool created = false;

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
	pthread_mutex_init(&d->dev_lock, NULL);
	pthread_mutex_init(&d->queues_lock, NULL);
	the_daemon = d;
	blk_log_set_sink(log_sink);

	ret = make_run_dir();
	if (ret < 0) {
		report(report_fd, false, "cannot create %s: %s", RUN_DIR, strerror(-ret));
		goto out_free;
	}
	if (report_fd >= 0)
		redirect_stdio(opts->name);

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

	cfg.name = opts->name;
	cfg.device_id = VIRTIO_ID_BLOCK;
	cfg.features = d->blk.features;
	cfg.num_queues = d->blk.num_queues;
	cfg.queue_size = d->blk.queue_size;
	cfg.config = blk_dev_config(&d->blk);
	cfg.config_size = blk_dev_config_size();
	cfg.ops = &dev_ops;
	cfg.opaque = d;
	ret = vdk_dev_create(&cfg, &d->dev);
	if (ret < 0) {
		if (ret == -EEXIST)
			report(report_fd, false, "a device named '%s' exists already: "
			       "choose another --name, or remove it with '" PROG " del %s'",
			       opts->name, opts->name);
		else
			report(report_fd, false, "%s", vdk_last_error());
		goto out_free;
	}
	created = true;

	ret = start_ctl_thread(d);
	if (ret < 0) {
		report(report_fd, false, "cannot start the control thread: %s",
		       strerror(-ret));
		goto out_destroy;
	}

	ret = vdk_dev_attach(d->dev, opts->vhost ? VDK_BUS_VHOST : VDK_BUS_VIRTIO,
			     d->node, sizeof(d->node));
	if (ret < 0) {
		report(report_fd, false, "%s", vdk_last_error());
		goto out_stop;
	}

	ret = ctl_listen(d);
	if (ret < 0)
		blk_log(BLK_LOG_WARN, "no control socket (%s): list, stats and resize "
			"will not see this device", strerror(-ret));

	blk_log(BLK_LOG_INFO, "serving %s (%s, %llu bytes, %u queue%s) as %s",
		opts->name, backend_spec(be),
		(unsigned long long)backend_size(be), d->blk.num_queues,
		d->blk.num_queues == 1 ? "" : "s", d->node);
	report(report_fd, true, "%s", d->node);
	report_fd = -2;		/* reported */

	serve(d, sig_fd);
	status = 0;

	/* Detaching resets the device, which drains and stops every queue. */
	ctl_close(d);
	if (vdk_dev_detach(d->dev) < 0) {
		blk_log(BLK_LOG_ERR, "detach: %s", vdk_last_error());
		status = 1;
	}
out_stop:
	stop_ctl_thread(d);
out_destroy:
	if (created) {
		unsigned int i;

		/* Queues the kernel never reset (e.g. broken device) stop here. */
		for (i = 0; i < d->nr_queues; i++)
			queue_thread_stop(d, vdk_dev_vq(d->dev, i));
		if (vdk_dev_destroy(d->dev) < 0) {
			blk_log(BLK_LOG_ERR, "destroy: %s", vdk_last_error());
			status = 1;
		}
	}
	if (status == 0)
		blk_log(BLK_LOG_INFO, "device %s removed", opts->name);
out_free:
	if (sig_fd >= 0)
		close(sig_fd);
	the_daemon = NULL;
	free(d->queues);
	free(d);
	(void)report_fd;
	return status;
}
