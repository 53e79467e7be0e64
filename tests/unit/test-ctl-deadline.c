// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A control-socket client that trickles its request a byte at a time
 * cannot hold the daemon's main thread: the request must arrive within
 * CTL_REQUEST_MS in all.  (It used to be one second per read, so a byte a
 * second kept the main thread for minutes.)  Through read_request()
 * directly, then through ctl_accept() on a real socket.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "runtime.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Writes one byte every 100 ms, never a newline, until the peer goes. */
static void *trickle(void *arg)
{
	int fd = *(int *)arg;
	int i;

	for (i = 0; i < 300; i++) {
		if (write(fd, "i", 1) != 1)
			break;
		usleep(100 * 1000);
	}
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/test-ctl-deadline.XXXXXX", buf[256], reply[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct dev_opts opts = { .name = "deadline" };
	struct daemon d = { .opts = &opts };
	pthread_t t;
	int sv[2], lfd, cfd;
	double start, took;
	ssize_t n;

	/* The trickler writes until its peer is gone; the daemon blocks it too. */
	signal(SIGPIPE, SIG_IGN);

	/* A well-behaved client is served. */
	T_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	T_ASSERT_EQ(write(sv[1], "stats\n", 6), 6);
	T_ASSERT(read_request(sv[0], buf, sizeof(buf), CTL_REQUEST_MS));
	T_ASSERT(!strcmp(buf, "stats\n"));
	close(sv[1]);
	close(sv[0]);

	/* A trickling one gets the deadline, not a second per byte. */
	T_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	T_ASSERT_EQ(pthread_create(&t, NULL, trickle, &sv[1]), 0);
	start = now_s();
	T_ASSERT(!read_request(sv[0], buf, sizeof(buf), CTL_REQUEST_MS));
	took = now_s() - start;
	fprintf(stderr, "read_request gave up after %.2f s\n", took);
	T_ASSERT(took >= CTL_REQUEST_MS / 1000.0 - 0.1);
	T_ASSERT(took < CTL_REQUEST_MS / 1000.0 + 1.0);
	close(sv[0]);
	pthread_join(t, NULL);
	close(sv[1]);

	/* The same through the daemon's accept path on a real socket. */
	T_ASSERT(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT(lfd >= 0);
	T_ASSERT_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_ASSERT_EQ(listen(lfd, 4), 0);
	d.sock_fd = lfd;
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_ASSERT_EQ(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_ASSERT_EQ(pthread_create(&t, NULL, trickle, &cfd), 0);
	start = now_s();
	ctl_accept(&d);
	took = now_s() - start;
	fprintf(stderr, "ctl_accept returned after %.2f s\n", took);
	T_ASSERT(took < CTL_REQUEST_MS / 1000.0 + 1.5);
	n = read(cfd, reply, sizeof(reply) - 1);
	T_ASSERT(n > 0);
	reply[n] = '\0';
	fprintf(stderr, "reply: %s", reply);
	/* Root is read to the deadline; anyone else is turned away at once. */
	T_ASSERT(!strcmp(reply, geteuid() == 0 ?
			 "ERR the request did not arrive in time\n" :
			 "ERR permission denied: only root may control devices\n"));
	shutdown(cfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(cfd);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
	return T_EXIT_PASS;
}
