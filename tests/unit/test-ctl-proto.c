// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket's protocol, daemon side, over a real socket through
 * ctl_accept(): the exact info answers `list` relays, and what malformed,
 * oversized and unknown requests get.  A request is one line; whatever a
 * client sends after it, or past CTL_LINE_MAX, is never acted on.  The
 * device is the block model over null:1M, without a kernel.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test.h"
#include "vduse-blk.h"

static char dir[] = "/tmp/test-ctl-proto.XXXXXX";
static struct sockaddr_un sa = { .sun_family = AF_UNIX };
static struct add_opts opts = {
	.dev.name = "proto",
	.blk = { .backend = "null:1M", .num_queues = 1, .queue_size = 16,
		 .block_size = 512 },
};
static struct daemon d = { .opts = &opts.dev, .model = &blk_model,
			   .node = "/dev/vdz", .pid = 1234, .started = 5678 };

/* Sends @len bytes of @req as one client, then returns the whole answer. */
static char *ask_raw(const char *req, size_t len)
{
	static char reply[65536];
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(fd >= 0);
	T_ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (len)
		T_ASSERT_EQ(write(fd, req, len), (ssize_t)len);
	/* The end of the request without a newline is EOF. */
	shutdown(fd, SHUT_WR);
	ctl_accept(&d);
	while ((n = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0)
		got += n;
	reply[got] = '\0';
	close(fd);
	return reply;
}

static char *ask(const char *req)
{
	return ask_raw(req, strlen(req));
}

static void expect(const char *req, const char *want)
{
	const char *got = ask(req);

	if (strcmp(got, want)) {
		fprintf(stderr, "request %s\nwant: %s\ngot:  %s\n", req, want, got);
		exit(T_EXIT_FAIL);
	}
}

int main(void)
{
	struct vdk_dev_config cfg = { 0 };
	char why[512], *big;
	const char *got, *pre;
	int lfd;

	if (geteuid() != 0) {
		/* Anyone else is turned away before reading (test-ctl-deadline). */
		fprintf(stderr, "needs root: the socket answers root only\n");
		return T_EXIT_SKIP;
	}
	signal(SIGPIPE, SIG_IGN);
	add_opts_init(&opts);
	T_ASSERT_EQ(blk_model.open(&opts.blk, &d.m, why, sizeof(why)), 0);
	T_ASSERT_EQ(blk_model.init(d.m, &d, &cfg, why, sizeof(why)), 0);
	T_ASSERT(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(lfd >= 0);
	T_ASSERT_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_ASSERT_EQ(listen(lfd, 4), 0);
	d.sock_fd = lfd;

	/* What `list --json` and `list` relay, byte for byte. */
	expect("info\n", "{\"name\": \"proto\", \"node\": \"/dev/vdz\", "
	       "\"backend\": \"null:1M\", \"size\": 1048576, \"block_size\": 512, "
	       "\"queues\": 1, \"queue_size\": 16, \"read_only\": false, "
	       "\"bus\": \"virtio_vdpa\", \"pid\": 1234, \"started\": 5678, "
	       "\"state\": \"broken\"}\n");
	expect("info-tsv\r\n", "proto\t/dev/vdz\tnull:1M\t1048576\t1\t1234\tbroken\n");
	T_ASSERT_EQ(reply_pid(ask("info\n")), 1234);

	/* stats: one entry per queue, stopped ones too, and a total. */
	got = ask("stats\n");
	pre = "{\"name\": \"proto\", \"queues\": [{\"index\": 0, "
	      "\"running\": false, \"stats\": {\"read\": 0,";
	T_ASSERT(!strncmp(got, pre, strlen(pre)));
	T_ASSERT(strstr(got, "], \"total\": {\"read\": 0,"));
	T_ASSERT(!strcmp(got + strlen(got) - 3, "}}\n"));
	got = ask("stats-text\n");
	pre = "queue       reads     writes  flushes discards";
	T_ASSERT(!strncmp(got, pre, strlen(pre)));
	T_ASSERT(strstr(got, "\ntotal "));

	/* Malformed: unknown, empty, no newline, trailing words, NUL. */
	expect("bogus\n", "ERR unknown request\n");
	expect("\n", "ERR unknown request\n");
	expect("", "ERR unknown request\n");
	expect("info now\n", "ERR unknown request\n");
	expect("INFO\n", "ERR unknown request\n");
	T_ASSERT(!strcmp(ask_raw("st\0op\n", 6), "ERR unknown request\n"));
	/* A request without its newline is still one request. */
	T_ASSERT(!strncmp(ask("info"), "{\"name\": \"proto\"", 16));

	/* resize: only whole blocks, only growing; this size is no change. */
	expect("resize\n", "ERR unknown request\n");
	T_ASSERT(!strncmp(ask("resize \n"), "ERR size is empty", 17));
	T_ASSERT(!strncmp(ask("resize 12Q\n"), "ERR ", 4));
	expect("resize 1000\n", "ERR 1000 bytes is not a multiple of the 512-byte block size\n");
	expect("resize 512K\n", "ERR the device has 1048576 bytes; shrinking would cut off "
	       "data in use, so only growing is supported\n");
	expect("resize 1M\n", "OK\n");

	/* Oversized: the first CTL_LINE_MAX - 1 bytes name no request. */
	big = malloc(100000);
	T_ASSERT(big);
	memset(big, 'x', 100000);
	big[99999] = '\n';
	T_ASSERT(!strcmp(ask_raw(big, 100000), "ERR unknown request\n"));
	/* ... even when they start with one: no cut to a valid request. */
	memcpy(big, "stop", 4);
	T_ASSERT(!strcmp(ask_raw(big, CTL_LINE_MAX + 10), "ERR unknown request\n"));
	memcpy(big, "info", 4);
	T_ASSERT(!strcmp(ask_raw(big, CTL_LINE_MAX - 1), "ERR unknown request\n"));
	free(big);
	T_ASSERT(!atomic_load(&d.stopping));

	/* One request per connection: a second line is never acted on. */
	T_ASSERT(!strncmp(ask("info\nstop\n"), "{\"name\": \"proto\"", 16));
	T_ASSERT(!atomic_load(&d.stopping));

	/* handover stops serving but keeps the device; stop does not keep it. */
	expect("handover\n", "OK\n");
	T_ASSERT(atomic_load(&d.stopping) && atomic_load(&d.handover));
	atomic_store(&d.stopping, false);
	atomic_store(&d.handover, false);
	expect("stop\n", "OK\n");
	T_ASSERT(atomic_load(&d.stopping) && !atomic_load(&d.handover));
	T_ASSERT(!atomic_load(&d.force));
	/* stop-force: the same stop, and the backend gets no grace. */
	atomic_store(&d.stopping, false);
	expect("stop-force\n", "OK\n");
	T_ASSERT(atomic_load(&d.stopping) && atomic_load(&d.force) &&
		 !atomic_load(&d.handover));

	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
	blk_model.close(d.m);
	return T_EXIT_PASS;
}
