// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The NBD backend against a real nbdkit on a unix socket: spec routing,
 * open errors, capability mapping, data through many requests in flight,
 * server errors, reconnect after the server restarts, and the I/O timeout.
 *
 * I/O is driven the way the daemon drives it: queue_process only when the
 * poll descriptor is readable, so a request that needs anything else to
 * make progress hangs the test instead of passing by luck.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "test.h"

#define NREQ 64
#define REQ_BYTES (64 * 1024)
#define NBIG 4
#define BIG_BYTES (4 << 20)

static uint8_t big[NBIG][BIG_BYTES];

static char dir[] = "/tmp/test-nbd.XXXXXX";
static char sock[256], pidfile[256], uri[300];
static char listen_on[300];	/* nbdkit's listening options */

struct req {
	struct backend_io io;
	uint8_t priv[512];	/* room for the backend's private state */
	int result;
	bool done;
};

static int done_count;

static void done(struct backend_io *io, int result)
{
	struct req *r = (struct req *)io;

	r->result = result;
	r->done = true;
	done_count++;
}

/* Gone, or a zombie nobody reaps (nbdkit's parent exits at once). */
static bool pid_gone(int pid)
{
	char path[64], buf[256], *p;
	FILE *fp;
	bool gone = true;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "r");
	if (!fp)
		return true;
	if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')))
		gone = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
	fclose(fp);
	return gone;
}

static void server_stop(void)
{
	FILE *fp = fopen(pidfile, "r");
	int pid = 0, i;

	if (!fp)
		return;
	if (fscanf(fp, "%d", &pid) != 1)
		pid = 0;
	fclose(fp);
	unlink(pidfile);
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	for (i = 0; i < 200 && !pid_gone(pid); i++)
		usleep(10000);
	unlink(sock);
}

/* Starts nbdkit with @args on the socket; it forks once it listens. */
__attribute__((format(printf, 1, 2)))
static void server_start(const char *fmt, ...)
{
	char args[512], cmd[2048];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	server_stop();
	snprintf(cmd, sizeof(cmd), "nbdkit %s -P %s %s", listen_on, pidfile, args);
	T_ASSERT_EQ(system(cmd), 0);
	/* The pid file appears once the server listens. */
	for (i = 0; i < 500 && access(pidfile, F_OK); i++)
		usleep(10000);
	T_ASSERT_EQ(access(pidfile, F_OK), 0);
}

static void cleanup(void)
{
	char cmd[300];

	server_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the queue the daemon's way until @want completions or @ms pass. */
static void drive(struct backend_queue *bq, int want, int ms)
{
	uint64_t end = ms_now() + ms;
	int fd = backend_queue_poll_fd(bq);

	T_ASSERT(fd >= 0);
	while (done_count < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (ms_now() > end) {
			fprintf(stderr, "%d of %d requests done after %d ms\n",
				done_count, want, ms);
			T_ASSERT(!"requests stalled");
		}
		if (poll(&p, 1, 50) > 0)
			T_ASSERT_EQ(backend_queue_process(bq), 0);
	}
}

static void submit(struct backend_queue *bq, struct req *r, enum backend_op op,
		   uint64_t off, uint64_t len, const struct iovec *iov,
		   unsigned int iovcnt)
{
	memset(r, 0, sizeof(*r));
	r->io.op = op;
	r->io.offset = off;
	r->io.len = len;
	r->io.iov = iov;
	r->io.iovcnt = iovcnt;
	r->io.done = done;
	backend_submit(bq, &r->io);
}

/* One request, waited for. */
static int run1(struct backend_queue *bq, enum backend_op op, uint64_t off,
		uint64_t len, const struct iovec *iov, unsigned int iovcnt,
		unsigned int flags, int ms)
{
	static struct req r;
	int want = done_count + 1;

	memset(&r, 0, sizeof(r));
	r.io.op = op;
	r.io.offset = off;
	r.io.len = len;
	r.io.iov = iov;
	r.io.iovcnt = iovcnt;
	r.io.flags = flags;
	r.io.done = done;
	backend_submit(bq, &r.io);
	drive(bq, want, ms);
	return r.result;
}

static void expect_open_error(const char *spec, bool readonly, int ret,
			      const char *needle)
{
	struct backend_open_opts bo = { .block_size = 512, .readonly = readonly };
	struct backend *be = NULL;

	T_ASSERT_EQ(backend_open(spec, &bo, &be), ret);
	if (!strstr(msg_last_error(), needle)) {
		fprintf(stderr, "'%s': message '%s' lacks '%s'\n", spec,
			msg_last_error(), needle);
		T_ASSERT(!"wrong message");
	}
}

static struct backend *open_ok(const char *spec, bool readonly, uint32_t io_timeout)
{
	char value[16];
	struct backend_param timeout = { "io-timeout", value };
	struct backend_open_opts bo = { .block_size = 512, .readonly = readonly,
					.params = &timeout, .nparams = 1 };
	struct backend *be = NULL;
	int ret;

	snprintf(value, sizeof(value), "%u", io_timeout);
	ret = backend_open(spec, &bo, &be);
	if (ret)
		fprintf(stderr, "open '%s': %s\n", spec, msg_last_error());
	T_ASSERT_EQ(ret, 0);
	T_ASSERT_EQ(backend_io_size(be) <= sizeof(struct req) - 2 * sizeof(int), 1);
	return be;
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static void test_errors(void)
{
	char spec[600];

	/* Routed to nbd (not "unknown backend"), then refused by libnbd. */
	expect_open_error("nbd:nohost", false, -EINVAL, "not a usable NBD URI");
	snprintf(spec, sizeof(spec), "nbd+unix:///?socket=%s/nothing.sock", dir);
	expect_open_error(spec, false, -ENOENT, "cannot reach the NBD server");
	expect_open_error("nbd://127.0.0.1:1/", false, -ECONNREFUSED,
			  "cannot reach the NBD server");

	server_start("--filter=exportname memory 1M exportname-strict=true exportname=good");
	snprintf(spec, sizeof(spec), "nbd+unix:///bad?socket=%s", sock);
	expect_open_error(spec, false, -ENOENT, "refused the export");
	snprintf(spec, sizeof(spec), "nbds+unix:///good?socket=%s", sock);
	expect_open_error(spec, false, -EPROTO, "TLS");

	server_start("-r memory 1M");
	expect_open_error(uri, false, -EROFS, "add --read-only");
	server_stop();
}

static void test_caps(void)
{
	struct backend *be;

	server_start("memory 4M");
	be = open_ok(uri, false, 0);
	T_ASSERT(!strcmp(backend_name(be), "nbd"));
	T_ASSERT_EQ(backend_size(be), 4 << 20);
	T_ASSERT(backend_can_write(be));
	T_ASSERT(backend_has_cache(be));
	T_ASSERT(backend_can_discard(be));
	T_ASSERT(backend_write_zeroes_native(be));
	T_ASSERT(backend_can_zero_unmap(be));
	T_ASSERT_EQ(backend_thread_model(be), BACKEND_THREAD_PARALLEL);
	backend_close(be);

	/* Read-only export opened read-only: a read-only device. */
	server_start("-r memory 1M");
	be = open_ok(uri, true, 0);
	T_ASSERT(!backend_can_write(be));
	T_ASSERT(!backend_can_discard(be));
	backend_close(be);

	/* No multi-conn: one queue.  No zeroing: the core emulates it. */
	server_start("--filter=multi-conn --filter=nozero memory 1M "
		     "multi-conn-mode=disable zeromode=none");
	be = open_ok(uri, false, 0);
	T_ASSERT_EQ(backend_thread_model(be), BACKEND_THREAD_ONE_QUEUE);
	T_ASSERT(backend_can_write_zeroes(be));
	T_ASSERT(!backend_write_zeroes_native(be));
	T_ASSERT(!backend_can_zero_unmap(be));
	backend_close(be);
	server_stop();
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
	while (n--)
		if (*p++ != v)
			return false;
	return true;
}

static void test_io(void)
{
	struct backend_queue_env env = { .index = 0, .depth = NREQ };
	static struct req reqs[NREQ];
	static struct iovec iov[NREQ][2];
	static uint8_t data[NREQ][REQ_BYTES], back[NREQ][REQ_BYTES], tmp[8192];
	struct backend_queue *bq;
	struct backend *be;
	struct iovec one;
	int i, base;

	server_start("memory 32M");
	be = open_ok(uri, false, 0);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);

	/* Many writes in flight at once, each in two separate pieces. */
	base = done_count;
	for (i = 0; i < NREQ; i++) {
		fill(data[i], REQ_BYTES, i);
		iov[i][0] = (struct iovec){ data[i] + REQ_BYTES / 2, REQ_BYTES / 2 };
		iov[i][1] = (struct iovec){ data[i], REQ_BYTES / 2 };
		submit(bq, &reqs[i], BACKEND_OP_WRITE, (uint64_t)i * REQ_BYTES,
		       REQ_BYTES, iov[i], 2);
	}
	drive(bq, base + NREQ, 10000);
	for (i = 0; i < NREQ; i++)
		T_ASSERT_EQ(reqs[i].result, 0);
	T_ASSERT_EQ(run1(bq, BACKEND_OP_FLUSH, 0, 0, NULL, 0, 0, 5000), 0);

	/* Read back, many in flight, contiguous buffers. */
	base = done_count;
	for (i = 0; i < NREQ; i++) {
		iov[i][0] = (struct iovec){ back[i], REQ_BYTES };
		submit(bq, &reqs[i], BACKEND_OP_READ, (uint64_t)i * REQ_BYTES,
		       REQ_BYTES, iov[i], 1);
	}
	drive(bq, base + NREQ, 10000);
	for (i = 0; i < NREQ; i++) {
		T_ASSERT_EQ(reqs[i].result, 0);
		T_ASSERT(!memcmp(back[i], data[i] + REQ_BYTES / 2, REQ_BYTES / 2));
		T_ASSERT(!memcmp(back[i] + REQ_BYTES / 2, data[i], REQ_BYTES / 2));
	}

	/*
	 * Writes far larger than the socket buffer, several at once: libnbd
	 * must be told exactly when the socket drains, or it stalls mid-send.
	 */
	base = done_count;
	for (i = 0; i < NBIG; i++) {
		fill(big[i], BIG_BYTES, 1000 + i);
		iov[i][0] = (struct iovec){ big[i], BIG_BYTES };
		submit(bq, &reqs[i], BACKEND_OP_WRITE, (uint64_t)(8 + 4 * i) << 20,
		       BIG_BYTES, iov[i], 1);
	}
	drive(bq, base + NBIG, 20000);
	for (i = 0; i < NBIG; i++)
		T_ASSERT_EQ(reqs[i].result, 0);
	for (i = 0; i < NBIG; i++) {
		memset(big[i], 0, BIG_BYTES);
		T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, (uint64_t)(8 + 4 * i) << 20,
				 BIG_BYTES, iov[i], 1, 0, 10000), 0);
		T_ASSERT_EQ(big[i][12345], (uint8_t)((1000 + i) * 31 + 12345 * 7 + (12345 >> 9)));
	}

	/* Zeroing and discard. */
	T_ASSERT_EQ(run1(bq, BACKEND_OP_WRITE_ZEROES, 4096, 8192, NULL, 0, 0, 5000), 0);
	T_ASSERT_EQ(run1(bq, BACKEND_OP_DISCARD, 65536, 65536, NULL, 0, 0, 5000), 0);
	one = (struct iovec){ tmp, sizeof(tmp) };
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 4096, sizeof(tmp), &one, 1, 0, 5000), 0);
	T_ASSERT(all(tmp, sizeof(tmp), 0));
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 65536, sizeof(tmp), &one, 1, 0, 5000), 0);
	T_ASSERT(all(tmp, sizeof(tmp), 0));

	backend_queue_fini(bq);
	backend_close(be);
	server_stop();
}

/* The error filter: server errors arrive as errors, then I/O works again. */
static void test_server_errors(void)
{
	struct backend_queue_env env = { .index = 0, .depth = 8 };
	char trigger[300], args[600];
	static uint8_t buf[4096];
	struct backend_queue *bq;
	struct backend *be;
	struct iovec one = { buf, sizeof(buf) };
	FILE *fp;

	snprintf(trigger, sizeof(trigger), "%s/error-now", dir);
	snprintf(args, sizeof(args), "--filter=error memory 1M error=EIO error-rate=100%% error-file=%s",
		 trigger);
	server_start("%s", args);
	be = open_ok(uri, false, 0);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, sizeof(buf), &one, 1, 0, 5000), 0);
	fp = fopen(trigger, "w");
	T_ASSERT(fp);
	fclose(fp);
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, sizeof(buf), &one, 1, 0, 5000), -EIO);
	T_ASSERT_EQ(run1(bq, BACKEND_OP_WRITE, 0, sizeof(buf), &one, 1, 0, 5000), -EIO);
	unlink(trigger);
	T_ASSERT_EQ(run1(bq, BACKEND_OP_WRITE, 0, sizeof(buf), &one, 1, 0, 5000), 0);
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, sizeof(buf), &one, 1, 0, 5000), 0);
	backend_queue_fini(bq);
	backend_close(be);
	server_stop();
}

/*
 * The server dies with requests queued and comes back a little later: the
 * requests complete, with the data, and nothing fails.
 */
static void test_reconnect(void)
{
	struct backend_queue_env env = { .index = 0, .depth = NREQ };
	static struct req reqs[8];
	static uint8_t data[8][8192], back[8][8192];
	struct iovec iov[8];
	char img[300], args[400];
	struct backend_queue *bq;
	struct backend *be;
	uint64_t t0;
	int i, base;

	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(args, sizeof(args), "truncate -s 1M %s", img);
	T_ASSERT_EQ(system(args), 0);
	snprintf(args, sizeof(args), "file %s", img);
	server_start("%s", args);
	be = open_ok(uri, false, 0);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	for (i = 0; i < 8; i++) {
		fill(data[i], sizeof(data[i]), 100 + i);
		iov[i] = (struct iovec){ data[i], sizeof(data[i]) };
		T_ASSERT_EQ(run1(bq, BACKEND_OP_WRITE, i * 8192, 8192, &iov[i], 1, 0, 5000), 0);
	}
	T_ASSERT_EQ(run1(bq, BACKEND_OP_FLUSH, 0, 0, NULL, 0, 0, 5000), 0);

	server_stop();
	base = done_count;
	for (i = 0; i < 8; i++) {
		iov[i] = (struct iovec){ back[i], sizeof(back[i]) };
		submit(bq, &reqs[i], BACKEND_OP_READ, i * 8192, 8192, &iov[i], 1);
	}
	/* Let the queue notice and retry a few times against nothing. */
	t0 = ms_now();
	while (ms_now() - t0 < 700) {
		struct pollfd p = { .fd = backend_queue_poll_fd(bq), .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			backend_queue_process(bq);
	}
	T_ASSERT_EQ(done_count, base);
	server_start("%s", args);
	drive(bq, base + 8, 10000);
	for (i = 0; i < 8; i++) {
		T_ASSERT_EQ(reqs[i].result, 0);
		T_ASSERT(!memcmp(back[i], data[i], sizeof(back[i])));
	}

	/* A size change is picked up with the new connection. */
	server_stop();
	snprintf(args, sizeof(args), "truncate -s 2M %s", img);
	T_ASSERT_EQ(system(args), 0);
	snprintf(args, sizeof(args), "file %s", img);
	server_start("%s", args);
	iov[0] = (struct iovec){ back[0], 512 };
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, 512, &iov[0], 1, 0, 10000), 0);
	T_ASSERT_EQ(backend_refresh_size(be), 0);
	T_ASSERT_EQ(backend_size(be), 2 << 20);

	backend_queue_fini(bq);
	backend_close(be);
	server_stop();
}

static int conn_lines, suppressed_lines;
static char suppressed_msg[256];

static void count_sink(enum msg_level level, const char *msg)
{
	if (strstr(msg, "suppressed")) {
		suppressed_lines++;
		snprintf(suppressed_msg, sizeof(suppressed_msg), "%s", msg);
	} else if (strstr(msg, "nbd: queue 0:")) {
		conn_lines++;
	}
}

/*
 * A server that keeps going away and coming back: each cycle is a "lost"
 * and a "connected" line, but only the first few reach the log (it is in
 * RAM); the rest are counted and reported once.
 */
static void test_flapping(void)
{
	struct backend_queue_env env = { .index = 0, .depth = 8 };
	static uint8_t buf[512];
	struct iovec one = { buf, sizeof(buf) };
	struct backend_queue *bq;
	struct backend *be;
	enum { CYCLES = 8 };
	uint64_t t0;
	int i;

	server_start("memory 1M");
	be = open_ok(uri, false, 0);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	msg_set_sink(count_sink);
	for (i = 0; i < CYCLES; i++) {
		/* Connected (again): a read goes through. */
		T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, 512, &one, 1, 0, 10000), 0);
		server_stop();
		/* Until the queue has noticed. */
		t0 = ms_now();
		while (ms_now() - t0 < 300) {
			struct pollfd p = { .fd = backend_queue_poll_fd(bq), .events = POLLIN };

			if (poll(&p, 1, 50) > 0)
				backend_queue_process(bq);
		}
		server_start("memory 1M");
	}
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, 512, &one, 1, 0, 10000), 0);
	fprintf(stderr, "%d connection lines logged for %d cycles\n", conn_lines, CYCLES);
	/* One window: at most the burst (6), the first cycle's two among them. */
	T_ASSERT(conn_lines >= 2 && conn_lines <= 6);
	T_ASSERT_EQ(suppressed_lines, 0);
	backend_queue_fini(bq);
	fprintf(stderr, "at the end: %s\n", suppressed_msg);
	T_ASSERT_EQ(suppressed_lines, 1);
	T_ASSERT(strstr(suppressed_msg, "suppressed"));
	T_ASSERT_EQ(atoi(strstr(suppressed_msg, "suppressed") + 11), 2 * CYCLES - conn_lines);
	msg_set_sink(NULL);
	backend_close(be);
	server_stop();
}

/* With --io-timeout, a request fails once the server has been gone that long. */
static void test_io_timeout(void)
{
	struct backend_queue_env env = { .index = 0, .depth = 8 };
	static uint8_t buf[4096];
	struct iovec one = { buf, sizeof(buf) };
	struct backend_queue *bq;
	struct backend *be;
	uint64_t t0;

	server_start("memory 1M");
	be = open_ok(uri, false, 1);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, sizeof(buf), &one, 1, 0, 5000), 0);
	server_stop();
	t0 = ms_now();
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, sizeof(buf), &one, 1, 0, 5000), -EIO);
	T_ASSERT(ms_now() - t0 >= 900);
	/* And the queue still works once the server is back. */
	server_start("memory 1M");
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, sizeof(buf), &one, 1, 0, 10000), 0);
	backend_queue_fini(bq);
	backend_close(be);

	/* A server that is connected but never answers counts as gone too. */
	server_start("--filter=delay memory 1M rdelay=30");
	be = open_ok(uri, false, 1);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	t0 = ms_now();
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, sizeof(buf), &one, 1, 0, 5000), -EIO);
	T_ASSERT(ms_now() - t0 >= 900);
	backend_queue_fini(bq);
	backend_close(be);
	server_stop();
}

/*
 * Over TCP the second and later requests of a batch are corked into one
 * packet; the unplug at the end of the batch must send them.  Had it not,
 * the kernel would send them only when the cork times out (200 ms), so
 * ten batches would take two seconds instead of a few milliseconds.
 */
static void test_tcp_batches(void)
{
	struct backend_queue_env env = { .index = 0, .depth = NREQ };
	static struct req reqs[16];
	static uint8_t bufs[16][4096];
	struct iovec iov[16];
	struct backend_queue *bq;
	struct backend *be;
	char tcp_uri[64];
	uint64_t t0, ms;
	int i, round, base, port = 20000 + getpid() % 20000;

	snprintf(listen_on, sizeof(listen_on), "-i 127.0.0.1 -p %d", port);
	snprintf(tcp_uri, sizeof(tcp_uri), "nbd://127.0.0.1:%d/", port);
	server_start("memory 16M");
	be = open_ok(tcp_uri, false, 0);
	T_ASSERT_EQ(backend_queue_init(be, &env, &bq), 0);
	/* The first request waits for the connection, which is not corked. */
	iov[0] = (struct iovec){ bufs[0], 4096 };
	T_ASSERT_EQ(run1(bq, BACKEND_OP_READ, 0, 4096, iov, 1, 0, 5000), 0);

	t0 = ms_now();
	for (round = 0; round < 10; round++) {
		base = done_count;
		for (i = 0; i < 16; i++) {
			iov[i] = (struct iovec){ bufs[i], 4096 };
			submit(bq, &reqs[i], BACKEND_OP_READ, (uint64_t)i * 8192,
			       4096, &iov[i], 1);
		}
		backend_queue_unplug(bq);
		drive(bq, base + 16, 10000);
		for (i = 0; i < 16; i++)
			T_ASSERT_EQ(reqs[i].result, 0);
	}
	ms = ms_now() - t0;
	if (ms >= 1500)
		fprintf(stderr, "10 batches took %llu ms\n", (unsigned long long)ms);
	T_ASSERT(ms < 1500);

	backend_queue_fini(bq);
	backend_close(be);
	server_stop();
}

int main(void)
{
	if (system("nbdkit --version >/dev/null 2>&1")) {
		fprintf(stderr, "nbdkit is not installed (scripts/deps.sh installs it)\n");
		return T_EXIT_SKIP;
	}
	T_ASSERT(mkdtemp(dir));
	atexit(cleanup);
	snprintf(sock, sizeof(sock), "%s/nbd.sock", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/nbdkit.pid", dir);
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sock);
	snprintf(listen_on, sizeof(listen_on), "-U %s", sock);

	test_errors();
	test_caps();
	test_io();
	test_server_errors();
	test_reconnect();
	test_flapping();
	test_io_timeout();
	test_tcp_batches();
	return T_EXIT_PASS;
}
