// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What a driver's requests can make the NBD backend hold, end to end: a
 * simulated ring -> vdk_vq_pop -> blk -> the real NBD backend -> nbdkit on
 * a unix socket.  libnbd wants one contiguous buffer, so scattered
 * requests are copied ("bounced"); the copies must stay bounded whatever
 * the driver queues.  One case per argv[1]:
 *
 *   audit   254 descriptors over the same 256 KiB ask for 63.5 MiB each,
 *           eight times: refused at once, and the process does not grow.
 *   budget  a full ring (256) of the largest requests a driver may send
 *           (seg_max pages, all scattered), writes then reads: all
 *           served, and the copies held at once stay within the queue's
 *           budget, so the peak RSS grows by about BACKEND_COPY_BUDGET, not
 *           by the 254 MiB the ring asks for.
 *
 * Memory is measured as the growth of the peak RSS (VmHWM); the ASan
 * quarantine, which would keep freed copies resident, is turned off.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend-plugin.h"
#include "blk.h"
#include "simdrv.h"
#include "test.h"

#define NUM		256
#define PAGE		4096u
#define BIG_IOVA	0x9000000ULL
#define BIG_SIZE	(256u << 10)
#define PAGE_IOVA	0xa000000ULL
#define MiB		(1024 * 1024)

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=0";
}

static char dir[] = "/tmp/test-nbd-bounce.XXXXXX";
static char sock[256], pidfile[256], uri[300];

static struct simdrv sd;
static struct backend *be;
static struct blk_dev dev;
static struct blk_queue q;
static unsigned int completed;

static void server_stop(void)
{
	FILE *fp = fopen(pidfile, "r");
	int pid = 0, i;

	if (!fp)
		return;
	if (fscanf(fp, "%d", &pid) != 1)
		pid = 0;
	fclose(fp);
	if (pid > 0) {
		kill(pid, SIGTERM);
		for (i = 0; i < 200 && kill(pid, 0) == 0; i++)
			usleep(10000);
	}
	unlink(pidfile);
	unlink(sock);
}

static void cleanup(void)
{
	char cmd[300];

	server_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void server_start(void)
{
	char cmd[1024];
	int i;

	/* Sparse: only what is written takes memory, in nbdkit. */
	snprintf(cmd, sizeof(cmd), "nbdkit -U %s -P %s memory 8G", sock, pidfile);
	T_ASSERT_EQ(system(cmd), 0);
	for (i = 0; i < 500 && access(pidfile, F_OK); i++)
		usleep(10000);
	T_ASSERT_EQ(access(pidfile, F_OK), 0);
}

static long hwm_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			v = atol(line + 6);
	if (f)
		fclose(f);
	T_ASSERT(v > 0);
	return v;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void complete(struct blk_queue *bq, struct vdk_req *req, uint32_t len)
{
	completed++;
	vdk_vq_push(bq->vq, req, len);
}

/* The daemon's device and queue 0 over nbdkit; the ring has NUM entries. */
static void setup(void)
{
	struct backend_open_opts bo = { .block_size = 512, .queues = 1 };
	struct blk_opts opts = { .name = "bounce", .queue_size = NUM };

	server_start();
	if (backend_open(uri, &bo, &be)) {
		fprintf(stderr, "open: %s\n", msg_last_error());
		exit(T_EXIT_FAIL);
	}
	T_ASSERT_EQ(blk_dev_init(&dev, be, &opts), 0);
	T_ASSERT_EQ(blk_dev_features_ok(&dev, dev.features | (1ULL << 32)), 0);
	simdrv_init(&sd, NUM, 1ULL << VDK_F_INDIRECT_DESC, 0);
	T_ASSERT_EQ(blk_queue_init(&q, &dev, 0, &sd.vq, NULL, complete), 0);
}

static void teardown(void)
{
	blk_queue_fini(&q);
	simdrv_fini(&sd);
	backend_close(be);
	server_stop();
}

/* Puts @n requests in the ring, each an indirect table at @table. */
static void post(uint64_t table, unsigned int entries, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		simdrv_set_desc(&sd, i, table, entries * sizeof(struct vring_desc),
				VRING_DESC_F_INDIRECT, 0);
		simdrv_put_avail(&sd, i);
	}
	simdrv_publish(&sd);
}

/* Pops and hands to blk all that was posted; returns how many. */
static unsigned int pop_all(void)
{
	struct vdk_req *req;
	unsigned int n = 0;

	while (vdk_vq_pop(&sd.vq, blk_req_size(&dev), &req) == 0) {
		blk_queue_handle_req(&q, req);
		n++;
	}
	return n;
}

/* Runs the NBD queue the daemon's way until @want completions. */
static void drive(unsigned int want)
{
	uint64_t end = ms_now() + 120000;
	int fd = backend_queue_poll_fd(q.bq);

	T_ASSERT(fd >= 0);
	backend_queue_unplug(q.bq);
	while (completed < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (ms_now() > end) {
			fprintf(stderr, "%u of %u requests done\n", completed, want);
			T_ASSERT(!"requests stalled");
		}
		if (poll(&p, 1, 50) > 0)
			T_ASSERT_EQ(backend_queue_process(q.bq), 0);
		backend_queue_unplug(q.bq);
	}
}

/* An indirect table: header, @n data segments of @len at @addr, status. */
static uint64_t table(uint32_t type, unsigned int n, uint64_t addr, uint32_t len,
		      uint64_t hdr, uint64_t status)
{
	static struct vring_desc t[NUM];
	struct virtio_blk_outhdr h = { .type = htole32(type) };
	uint16_t dflags = type == VIRTIO_BLK_T_IN ? VRING_DESC_F_WRITE : 0;
	unsigned int i;

	T_ASSERT(n + 2 <= NUM);
	simdrv_write(&sd, hdr, &h, sizeof(h));
	sim_desc_fill(&t[0], hdr, sizeof(h), VRING_DESC_F_NEXT, 1);
	for (i = 1; i <= n; i++)
		sim_desc_fill(&t[i], addr, len, dflags | VRING_DESC_F_NEXT, i + 1);
	sim_desc_fill(&t[n + 1], status, 1, VRING_DESC_F_WRITE, 0);
	return simdrv_ind_table(&sd, t, n + 2);
}

static void c_audit(void)
{
	struct blk_stats_snapshot st;
	uint64_t hdr, status, t;
	long before;

	setup();
	sim_mem_map(&sd, BIG_IOVA, BIG_SIZE, PAGE, VDK_PERM_RW);
	hdr = simdrv_buf(&sd, 16);
	status = simdrv_buf(&sd, 1);
	t = table(VIRTIO_BLK_T_OUT, 254, BIG_IOVA, BIG_SIZE, hdr, status);

	before = hwm_kib();
	post(t, 256, 8);
	T_ASSERT_EQ(pop_all(), 8);
	/* Refused by blk at once, before any copy. */
	printf("audit: 8 requests of %u bytes each: %u answered at once, peak RSS grew %ld KiB\n",
	       254 * BIG_SIZE, completed, hwm_kib() - before);
	T_ASSERT_EQ(completed, 8);
	blk_stats_read(&q.stats, &st);
	T_ASSERT_EQ(st.errors, 8);
	T_ASSERT_EQ(st.bytes_written, 0);
	T_ASSERT(hwm_kib() - before < 16 * 1024);
	teardown();
}

static void c_budget(void)
{
	struct blk_stats_snapshot st;
	uint64_t hdr, hdr_in, status, tw, tr, cap;
	long before, grew;

	setup();
	/* The largest request a driver may send: seg_max scattered pages. */
	T_ASSERT_EQ(dev.seg_max, 254);
	T_ASSERT_EQ(dev.size_max, PAGE);
	cap = dev.max_data;
	sim_mem_map(&sd, PAGE_IOVA, PAGE, PAGE, VDK_PERM_RW);
	hdr = simdrv_buf(&sd, 16);
	status = simdrv_buf(&sd, 1);
	tw = table(VIRTIO_BLK_T_OUT, 254, PAGE_IOVA, PAGE, hdr, status);
	hdr_in = simdrv_buf(&sd, 16);
	tr = table(VIRTIO_BLK_T_IN, 254, PAGE_IOVA, PAGE, hdr_in, status);

	before = hwm_kib();
	post(tw, 256, NUM);
	T_ASSERT_EQ(pop_all(), NUM);
	drive(NUM);
	post(tr, 256, NUM);
	T_ASSERT_EQ(pop_all(), NUM);
	drive(2 * NUM);
	grew = hwm_kib() - before;
	printf("budget: %u writes and %u reads of %llu bytes (%llu MiB a ring): peak RSS grew %ld KiB, budget %u KiB\n",
	       NUM, NUM, (unsigned long long)cap,
	       (unsigned long long)(NUM * cap / MiB), grew, BACKEND_COPY_BUDGET >> 10);
	blk_stats_read(&q.stats, &st);
	T_ASSERT_EQ(st.errors, 0);
	T_ASSERT_EQ(st.bytes_written, NUM * cap);
	T_ASSERT_EQ(st.bytes_read, NUM * cap);
	/* The budget, plus room for libnbd, blk and the allocator. */
	T_ASSERT(grew < (long)(BACKEND_COPY_BUDGET >> 10) + 24 * 1024);
	teardown();
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s audit|budget\n", argv[0]);
		return T_EXIT_FAIL;
	}
	if (system("nbdkit --version >/dev/null 2>&1")) {
		fprintf(stderr, "nbdkit is not installed (scripts/deps.sh installs it)\n");
		return T_EXIT_SKIP;
	}
	T_ASSERT(mkdtemp(dir));
	atexit(cleanup);
	snprintf(sock, sizeof(sock), "%s/nbd.sock", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/nbdkit.pid", dir);
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sock);
	msg_set_sink(NULL);
	if (!strcmp(argv[1], "audit"))
		c_audit();
	else if (!strcmp(argv[1], "budget"))
		c_budget();
	else
		return T_EXIT_FAIL;
	return T_EXIT_PASS;
}
