// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vdk-lib-net-probe: the library is not block-only.
 *
 * Creates a minimal virtio-net device (one queue pair, a MAC in its
 * config, no control queue), attaches it to virtio_vdpa and checks that
 * vdk_dev_attach() names the interface the guest's virtio_net made, that
 * the interface exists with that MAC, and that vdk_dev_node() agrees.  The
 * queues are started but never served: attaching needs none of their
 * traffic.  Runs as root in the test VM; exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "vdusekit.h"

#define DEV_NAME	"vdk-net-probe"

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct probe {
	struct vdk_dev *dev;
	int stop_fd;
	pthread_t thread;
	int thread_err;
	char thread_msg[512];
};

static void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "lib-net-probe: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static void on_alarm(int sig)
{
	static const char m[] = "lib-net-probe: FAIL: timed out\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0) {
		/* nothing left to do */
	}
	_exit(1);
}

static void *control_thread(void *arg)
{
	struct probe *p = arg;
	int ret;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = vdk_dev_fd(p->dev), .events = POLLIN },
			{ .fd = p->stop_fd, .events = POLLIN },
		};

		if (poll(pfd, 2, 1000) < 0) {
			if (errno == EINTR)
				continue;
			p->thread_err = -errno;
			snprintf(p->thread_msg, sizeof(p->thread_msg), "poll: %s",
				 strerror(errno));
			return NULL;
		}
		if (pfd[1].revents)
			return NULL;
		if (pfd[0].revents) {
			ret = vdk_dev_process(p->dev);
			if (ret < 0) {
				p->thread_err = ret;
				snprintf(p->thread_msg, sizeof(p->thread_msg),
					 "vdk_dev_process: %d (%s)", ret,
					 vdk_last_error());
				return NULL;
			}
		}
	}
}

/* The interface's MAC as sysfs shows it, compared with ours. */
static int check_mac(const char *ifname)
{
	char path[256], want[32], got[32] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", ifname);
	fp = fopen(path, "r");
	if (!fp) {
		msg("FAIL: %s: %s (the interface does not exist)", path,
		    strerror(errno));
		return -1;
	}
	if (!fgets(got, sizeof(got), fp))
		got[0] = '\0';
	fclose(fp);
	got[strcspn(got, "\n")] = '\0';
	snprintf(want, sizeof(want), "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	if (strcmp(got, want)) {
		msg("FAIL: %s has address %s, expected %s", ifname, got, want);
		return -1;
	}
	msg("%s exists with address %s", ifname, got);
	return 0;
}

int main(void)
{
	struct virtio_net_config config = { .status = VIRTIO_NET_S_LINK_UP };
	struct vdk_dev_config cfg = {
		.name = DEV_NAME,
		.device_id = VIRTIO_ID_NET,
		.features = (1ULL << VIRTIO_NET_F_MAC) |
			    (1ULL << VIRTIO_NET_F_STATUS),
		.num_queues = 2,
		.queue_size = 256,
		.config = &config,
		.config_size = sizeof(config),
	};
	struct probe p = { .stop_fd = -1 };
	char node[64] = "", again[64] = "";
	int ret, fail = 0;

	signal(SIGALRM, on_alarm);
	alarm(120);
	memcpy(config.mac, mac, sizeof(mac));
	if (access("/dev/vduse/" DEV_NAME, F_OK) == 0 &&
	    vdk_dev_destroy_by_name(DEV_NAME))
		msg("removing a leftover " DEV_NAME " failed: %s", vdk_last_error());

	ret = vdk_dev_create(&cfg, &p.dev);
	if (ret) {
		msg("FAIL: vdk_dev_create: %d (%s)", ret, vdk_last_error());
		return 1;
	}
	p.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (p.stop_fd < 0 || pthread_create(&p.thread, NULL, control_thread, &p)) {
		msg("FAIL: cannot start the control thread");
		vdk_dev_destroy(p.dev);
		return 1;
	}

	ret = vdk_dev_attach(p.dev, VDK_BUS_VIRTIO, node, sizeof(node));
	if (ret) {
		msg("FAIL: vdk_dev_attach: %d (%s)", ret, vdk_last_error());
		fail = 1;
	} else {
		msg("attached: interface \"%s\"", node);
		if (!node[0] || node[0] == '/') {
			msg("FAIL: attach did not name an interface");
			fail = 1;
		} else if (check_mac(node)) {
			fail = 1;
		}
		ret = vdk_dev_node(DEV_NAME, again, sizeof(again));
		if (ret || strcmp(again, node)) {
			msg("FAIL: vdk_dev_node gave %d \"%s\" (%s), expected %s",
			    ret, again, vdk_last_error(), node);
			fail = 1;
		}
		ret = vdk_dev_detach(p.dev);
		if (ret) {
			msg("FAIL: vdk_dev_detach: %d (%s)", ret, vdk_last_error());
			fail = 1;
		} else if (node[0] && node[0] != '/') {
			char path[128];

			snprintf(path, sizeof(path), "/sys/class/net/%s", node);
			if (access(path, F_OK) == 0) {
				msg("FAIL: %s is still there after detach", node);
				fail = 1;
			}
		}
	}
	eventfd_write(p.stop_fd, 1);
	pthread_join(p.thread, NULL);
	if (p.thread_err) {
		msg("FAIL: control thread: %s", p.thread_msg);
		fail = 1;
	}
	ret = vdk_dev_destroy(p.dev);
	if (ret) {
		msg("FAIL: vdk_dev_destroy: %d (%s)", ret, vdk_last_error());
		fail = 1;
	}
	if (fail) {
		msg("FAILED");
		return 1;
	}
	msg("PASS: a virtio-net device attached to virtio_vdpa as %s", node);
	return 0;
}
