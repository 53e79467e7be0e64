// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A queue thread stops in bounded time, whatever the driver or the
 * backend does: the real runtime/queue.c serving the block model
 * (tools/blk-model.c) to a simulated driver.
 *
 *   busy-driver    the driver re-posts every buffer the moment it is used,
 *                  so the ring is never empty: stop returns at once.
 *   server-hung    an NBD server that stopped answering holds requests:
 *                  stop returns after the abort grace, and every request
 *                  is completed with IOERR (none lost, none twice).
 *   abort-soon     the same, without a stop: queue_threads_abort_soon()
 *                  (what a detach does) fails them while the queue runs.
 *   abort-now      queue_threads_abort_now() (del --force) fails them at
 *                  once, with no grace.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "backend-plugin.h"
#include "simdrv.h"
#include "test.h"
#include "vduse-blk.h"

#define NUM	64

static struct simdrv sd;
static struct dev_opts dopts = { .name = "qstop" };
static struct blk_model_opts mopts = { .queue_size = NUM, .num_queues = 1,
					.block_size = 512 };
static struct daemon d = { .opts = &dopts, .model = &blk_model };
static struct queue_set qs;
static struct backend *be;

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* The daemon's setup of one queue, without a kernel: model, queue set, thread. */
static void start(const char *spec)
{
	struct vdk_dev_config cfg = { 0 };
	char why[512];

	if (spec) {
		mopts.backend = spec;
		T_ASSERT_EQ(blk_model.open(&mopts, &d.m, why, sizeof(why)), 0);
	} else {
		T_ASSERT_EQ(blk_model_open_backend(be, &mopts, &d.m), 0);
	}
	T_ASSERT_EQ(blk_model.init(d.m, &d, &cfg, why, sizeof(why)), 0);
	simdrv_init(&sd, NUM, 0, 0);
	sd.vq.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	T_ASSERT(sd.vq.kick_fd >= 0);
	T_ASSERT_EQ(queue_set_init(&qs, blk_model.queue_ops, d.m, cfg.num_queues,
				   cfg.queue_size), 0);
	T_ASSERT_EQ(queue_thread_start(&qs, &sd.vq), 0);
}

/* One request: header, @len bytes of data, status; returns its head. */
static unsigned int add_req(uint32_t type, uint64_t sector, uint32_t len,
			    uint64_t *status)
{
	struct virtio_blk_outhdr hdr = { .type = htole32(type),
					 .sector = htole64(sector) };
	uint64_t h = simdrv_buf(&sd, sizeof(hdr));
	uint64_t data = simdrv_buf(&sd, len);
	uint8_t fill = 0xee;

	*status = simdrv_buf(&sd, 1);
	simdrv_write(&sd, h, &hdr, sizeof(hdr));
	simdrv_write(&sd, *status, &fill, 1);
	return simdrv_add(&sd, (struct sim_seg[]){
		{ h, sizeof(hdr), false },
		{ data, len, type == VIRTIO_BLK_T_IN },
		{ *status, 1, true } }, 3);
}

static void kick(void)
{
	T_ASSERT_EQ(eventfd_write(sd.vq.kick_fd, 1), 0);
}

struct stopper {
	pthread_t thread;
	volatile bool done;
};

static void *stop_fn(void *arg)
{
	struct stopper *st = arg;

	queue_thread_stop(&qs, &sd.vq);
	st->done = true;
	return NULL;
}

/* Stops the queue from another thread; ms it took, or fails past @limit_ms. */
static uint64_t stop_within(uint64_t limit_ms)
{
	struct stopper st = { .done = false };
	uint64_t t0 = ms_now();

	T_ASSERT_EQ(pthread_create(&st.thread, NULL, stop_fn, &st), 0);
	while (!st.done) {
		if (ms_now() - t0 > limit_ms) {
			fprintf(stderr, "queue_thread_stop() still blocked after %llu ms\n",
				(unsigned long long)limit_ms);
			/* The thread is stuck for good: nothing to clean up. */
			_exit(T_EXIT_FAIL);
		}
		usleep(1000);
	}
	pthread_join(st.thread, NULL);
	return ms_now() - t0;
}

/* ---- busy-driver ---- */

/*
 * A legal but tireless driver, made deterministic: the backend answers
 * each request at once and, in the same breath, acts as the driver and
 * posts again every buffer that has come back used.  So the ring is
 * never empty while the queue thread pops, however the threads are
 * scheduled.
 */
static uint16_t drv_last_used, drv_avail;
static unsigned int reposted;

static void repost_used(void)
{
	uint16_t used = le16toh(sd.used->idx);

	while (drv_last_used != used) {
		uint32_t id = le32toh(sd.used->ring[drv_last_used % NUM].id);

		sd.avail->ring[drv_avail % NUM] = htole16((uint16_t)id);
		drv_avail++;
		drv_last_used++;
		__atomic_fetch_add(&reposted, 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&sd.avail->idx, htole16(drv_avail), __ATOMIC_RELEASE);
}

static int recycler_open(const char *arg, const struct backend_open_opts *opts,
			 void **h)
{
	*h = &sd;
	return 0;
}

static int64_t recycler_size(void *h) { return 1 << 20; }
static bool recycler_yes(void *h) { return true; }

static int recycler_queue_init(void *h, const struct backend_queue_env *env,
			       void **q)
{
	*q = h;
	return 0;
}

static void recycler_read(void *q, struct backend_io *io)
{
	repost_used();
	backend_io_complete(io, 0);
}

static struct backend_ops recycler_ops = {
	.name = "recycler",
	.open = recycler_open,
	.get_size = recycler_size,
	.can_write = recycler_yes,
	.queue_init = recycler_queue_init,
	.read = recycler_read,
	.write = recycler_read,
};

BACKEND_REGISTER(recycler_ops, recycler_init)

static void c_busy_driver(void)
{
	struct backend_open_opts bo = { .block_size = 512, .queues = 1 };
	uint64_t status, took;
	unsigned int i;

	T_ASSERT_EQ(backend_open_ops(recycler_init(), "", "recycler", &bo, &be), 0);
	start(NULL);
	for (i = 0; i < NUM / 3; i++)
		add_req(VIRTIO_BLK_T_IN, i, 512, &status);
	drv_avail = sd.avail_idx;
	simdrv_publish(&sd);
	kick();
	/* Serving for real before the stop, with the ring kept full. */
	while (__atomic_load_n(&reposted, __ATOMIC_RELAXED) < 20 * NUM)
		usleep(1000);
	took = stop_within(5000);
	fprintf(stderr, "stopped in %llu ms with the ring kept full (%u requests served)\n",
		(unsigned long long)took, __atomic_load_n(&reposted, __ATOMIC_RELAXED));
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 0);
}

/* ---- server-hung, abort-soon ---- */

static char dir[] = "/tmp/vdk-qstop-XXXXXX";
static char sock[300], pidfile[300];
static int server_pid;

static void server_start(void)
{
	char cmd[1024];
	FILE *fp;
	int i;

	T_ASSERT(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/nbd.sock", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/nbd.pid", dir);
	snprintf(cmd, sizeof(cmd), "nbdkit -U %s -P %s memory 64M", sock, pidfile);
	T_ASSERT_EQ(system(cmd), 0);
	/* The pid file is written once the server listens; maybe not whole. */
	for (i = 0; i < 3000 && server_pid <= 0; i++) {
		fp = fopen(pidfile, "r");
		if (fp) {
			if (fscanf(fp, "%d", &server_pid) != 1)
				server_pid = 0;
			fclose(fp);
		}
		if (server_pid <= 0)
			usleep(10000);
	}
	T_ASSERT(server_pid > 0);
}

static void server_kill(void)
{
	char cmd[400];

	if (server_pid > 0) {
		kill(server_pid, SIGCONT);
		kill(server_pid, SIGKILL);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* True once every thread of @pid is stopped (state T), within 10 s. */
static bool wait_stopped(int pid)
{
	char path[64], buf[512], *p;
	bool all;
	DIR *tasks;
	struct dirent *de;
	FILE *fp;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	for (i = 0; i < 1000; i++) {
		tasks = opendir(path);
		if (!tasks)
			return false;
		all = true;
		while (all && (de = readdir(tasks))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(buf, sizeof(buf), "%s/%s/stat", path, de->d_name);
			fp = fopen(buf, "r");
			if (!fp)
				continue;
			if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')))
				all = p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
			fclose(fp);
		}
		closedir(tasks);
		if (all)
			return true;
		usleep(10000);
	}
	return false;
}

static uint64_t hung_status[8];

/* Writes wait at a server that stopped answering; none is answered. */
static void hang_requests(void)
{
	char spec[400];
	unsigned int i;

	server_start();
	atexit(server_kill);
	snprintf(spec, sizeof(spec), "nbd+unix:///?socket=%s", sock);
	start(spec);
	/* Connected and serving first, so the requests really go out. */
	add_req(VIRTIO_BLK_T_OUT, 0, 4096, &hung_status[0]);
	simdrv_publish(&sd);
	kick();
	for (i = 0; i < 3000 && le16toh(sd.used->idx) != 1; i++)
		usleep(10000);
	T_ASSERT_EQ(le16toh(sd.used->idx), 1);

	T_ASSERT_EQ(kill(server_pid, SIGSTOP), 0);
	/* The stop is asynchronous: a running server could still answer. */
	T_ASSERT(wait_stopped(server_pid));
	for (i = 0; i < 8; i++)
		add_req(VIRTIO_BLK_T_OUT, 8 * i, 4096, &hung_status[i]);
	simdrv_publish(&sd);
	kick();
	for (i = 0; i < 3000 && vdk_vq_inflight(&sd.vq) != 8; i++)
		usleep(10000);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 8);
}

/* Each hung request completed exactly once, with IOERR. */
static void expect_failed(void)
{
	uint32_t id, len;
	unsigned int i, n = 0;
	uint8_t st;

	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), 0);	/* the first */
	while (simdrv_get_used(&sd, &id, &len) == 0)
		n++;
	T_ASSERT_EQ(n, 8);
	for (i = 0; i < 8; i++) {
		simdrv_read(&sd, hung_status[i], &st, 1);
		T_ASSERT_EQ(st, VIRTIO_BLK_S_IOERR);
	}
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 0);
}

static void c_server_hung(void)
{
	uint64_t took;

	hang_requests();
	/* Grace of 10 s, and some room for a loaded machine. */
	took = stop_within(20000);
	fprintf(stderr, "stopped in %llu ms with the server hung\n",
		(unsigned long long)took);
	T_ASSERT(took >= 9000);
	expect_failed();
}

static void c_abort_soon(void)
{
	uint64_t t0 = ms_now();
	unsigned int i;

	hang_requests();
	queue_threads_abort_soon(&qs);
	for (i = 0; i < 2000 && vdk_vq_inflight(&sd.vq); i++)
		usleep(10000);
	fprintf(stderr, "failed after %llu ms with the queue running\n",
		(unsigned long long)(ms_now() - t0));
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 0);
	/* Only after the grace: a slow answer is not an absent one. */
	T_ASSERT(ms_now() - t0 >= 9000);
	expect_failed();
	stop_within(5000);
}

static void c_abort_now(void)
{
	uint64_t t0 = ms_now(), took;
	unsigned int i;

	hang_requests();
	queue_threads_abort_now(&qs);
	for (i = 0; i < 2000 && vdk_vq_inflight(&sd.vq); i++)
		usleep(10000);
	took = ms_now() - t0;
	fprintf(stderr, "failed after %llu ms, forced\n", (unsigned long long)took);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 0);
	/* Forced: no grace, whatever the machine's load. */
	T_ASSERT(took < 5000);
	expect_failed();
	stop_within(5000);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "busy-driver", c_busy_driver },
	{ "server-hung", c_server_hung },
	{ "abort-soon", c_abort_soon },
	{ "abort-now", c_abort_now },
};

int main(int argc, char **argv)
{
	unsigned int i;

	if (argc != 2)
		return T_EXIT_FAIL;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(argv[1], cases[i].name)) {
			cases[i].fn();
			return T_EXIT_PASS;
		}
	fprintf(stderr, "no case %s\n", argv[1]);
	return T_EXIT_FAIL;
}
