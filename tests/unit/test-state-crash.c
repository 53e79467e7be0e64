// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The state file under a crash while it is created: whichever step the
 * process dies before, the next process that tries to adopt the device
 * either finds the complete header, or is refused with an error naming the
 * file.  It never adopts a half-written header, nor a log that a previous
 * device of the same name left.
 *
 * The crash points come from the code: lib/state.c is built for this test
 * with VDK_STATE_STORE_HOOK, so every step of the creation calls
 * state_store_hook() first, and a child process dies there, one step
 * further each round, until a round completes without dying.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "internal.h"
#include "test.h"

#define QUEUES 2
#define QSIZE 64

static unsigned int crash_at;	/* the step to die before; 0: never */
static unsigned int steps;
static char path[64];
/*
 * Stand-ins for /dev/vduse/vd0: the earlier device's node, and the node of
 * the device created again under the same name (another inode).
 */
static char node_path[2][80];
static int node_fd[2];
enum { OLD, NEW };

void state_store_hook(const char *what)
{
	(void)what;
	if (++steps == crash_at)
		_exit(0);
}

static void config(struct vdk_dev_config *cfg, const char *name, unsigned int qsize)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->name = name;
	cfg->num_queues = QUEUES;
	cfg->queue_size = qsize;
	cfg->state_path = path;
}

/* Maps the state file as create or adopt does; returns its result. */
static int map(int node, const char *name, unsigned int qsize, bool create,
	       struct vdk_state_hdr *out)
{
	struct vdk_vq vqs[QUEUES];
	struct vdk_dev dev;
	struct vdk_dev_config cfg;
	int ret;

	memset(&dev, 0, sizeof(dev));
	memset(vqs, 0, sizeof(vqs));
	dev.num_queues = QUEUES;
	dev.vqs = vqs;
	dev.fd = node_fd[node];
	config(&cfg, name, qsize);
	ret = state_map(&dev, &cfg, create);
	if (ret)
		return ret;
	T_ASSERT(dev.state);
	T_ASSERT(vqs[QUEUES - 1].log);
	if (out)
		*out = *dev.state;
	munmap(dev.state, dev.state_len);
	return 0;
}

/* A previous device "vd0" left a complete state file with a used log. */
static void leave_stale_file(void)
{
	struct vdk_vq vqs[QUEUES];
	struct vdk_dev dev;
	struct vdk_dev_config cfg;

	memset(&dev, 0, sizeof(dev));
	memset(vqs, 0, sizeof(vqs));
	dev.num_queues = QUEUES;
	dev.vqs = vqs;
	dev.fd = node_fd[OLD];
	config(&cfg, "vd0", QSIZE);
	crash_at = 0;
	T_ASSERT_EQ(state_map(&dev, &cfg, true), 0);
	/* As a running queue leaves it: requests in flight. */
	memset(vqs[0].log, 0xa5, vq_log_size(QSIZE));
	munmap(dev.state, dev.state_len);
}

/* Creates vd0's state file in a child that dies before step @at. */
static bool create_dying_at(unsigned int at)
{
	int status;
	pid_t pid;

	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		crash_at = at;
		steps = 0;
		/* 3: created without reaching the crash point. */
		_exit(map(NEW, "vd0", QSIZE, true, NULL) == 0 ? 3 : 4);
	}
	T_ASSERT_EQ(waitpid(pid, &status, 0), pid);
	T_ASSERT(WIFEXITED(status));
	T_ASSERT(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3);
	return WEXITSTATUS(status) == 0;
}

static void run(bool stale)
{
	struct vdk_state_hdr h;
	unsigned int at, died = 0;
	int ret;

	for (at = 1; at < 100; at++) {
		unlink(path);
		if (stale)
			leave_stale_file();
		if (!create_dying_at(at))
			break;
		died++;
		ret = map(NEW, "vd0", QSIZE, false, &h);
		/* Every step before the magic: refused, never adopted. */
		if (ret != -EINVAL && ret != -ENOENT) {
			fprintf(stderr, "crash before step %u (%s stale file): adopt returned %d\n",
				at, stale ? "with a" : "no", ret);
			exit(T_EXIT_FAIL);
		}
		T_ASSERT(strstr(vdk_last_error(), path));
	}
	T_ASSERT(at < 100);
	/* The steps: unlink, create, size, clear, 6 fields, magic. */
	T_ASSERT_EQ(died, 11);
	/* The complete file is adopted by its own device only. */
	T_ASSERT_EQ(map(NEW, "vd0", QSIZE, false, &h), 0);
	T_ASSERT_EQ(map(OLD, "vd0", QSIZE, false, NULL), -EINVAL);
	T_ASSERT(strstr(vdk_last_error(), "earlier device"));
	T_ASSERT_EQ(h.num_queues, QUEUES);
	T_ASSERT_EQ(h.queue_size, QSIZE);
	T_ASSERT(!strcmp(h.name, "vd0"));
}

int main(void)
{
	int i;

	snprintf(path, sizeof(path), "/tmp/vdk-state-crash.%d", (int)getpid());
	for (i = OLD; i <= NEW; i++) {
		snprintf(node_path[i], sizeof(node_path[i]), "%s.node%d", path, i);
		node_fd[i] = open(node_path[i], O_RDWR | O_CREAT | O_TRUNC, 0600);
		T_ASSERT(node_fd[i] >= 0);
	}

	run(false);
	run(true);

	/* Another device's file, or another geometry: refused. */
	T_ASSERT_EQ(map(NEW, "vd1", QSIZE, false, NULL), -EINVAL);
	T_ASSERT_EQ(map(NEW, "vd0", QSIZE * 2, false, NULL), -EINVAL);
	T_ASSERT_EQ(map(NEW, "vd0", QSIZE, false, NULL), 0);

	/* A file from before node_ino was kept (zero) is still adopted. */
	{
		struct vdk_state_hdr *h;
		int fd = open(path, O_RDWR);

		T_ASSERT(fd >= 0);
		h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		T_ASSERT(h != MAP_FAILED);
		h->node_ino = 0;
		munmap(h, sizeof(*h));
		close(fd);
	}
	T_ASSERT_EQ(map(OLD, "vd0", QSIZE, false, NULL), 0);

	unlink(path);
	for (i = OLD; i <= NEW; i++) {
		close(node_fd[i]);
		unlink(node_path[i]);
	}
	return T_EXIT_PASS;
}
