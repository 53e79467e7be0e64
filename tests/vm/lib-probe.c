// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vdk-lib-probe: end-to-end check of the library against a real kernel.
 *
 * Creates a small virtio-blk device backed by a memory buffer, attaches it
 * to virtio_vdpa so the guest's virtio_blk probes it, does I/O through
 * /dev/vdX, then detaches and destroys it.  Twice, to catch state that does
 * not survive a cycle, and then checks that no descriptors leaked.
 * Runs as root in the test VM; exit 0 pass, 1 fail.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <linux/virtio_blk.h>

#include "vdusekit.h"

#define DEV_NAME	"vdk-lib-probe"
#define DISK_SIZE	(8u << 20)
#define DISK_SECTORS	(DISK_SIZE / 512)
#define QUEUE_SIZE	64
#define SERIAL		"vdk-probe-serial"
#define BLK		4096

struct probe {
	struct vdk_dev *dev;
	struct vdk_vq *vq;	/* started queue, control thread only */
	uint8_t *disk;
	int stop_fd;		/* eventfd: tells the control thread to quit */
	pthread_t thread;
	int thread_err;		/* the control thread's verdict */
	char thread_msg[512];
	unsigned long reqs, flushes, get_ids;
};

static void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "lib-probe: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

#define FAIL(...) do {			\
	msg("FAIL: " __VA_ARGS__);	\
	return -1;			\
} while (0)

static void on_alarm(int sig)
{
	static const char m[] = "lib-probe: FAIL: timed out (a step hung; see the last message above)\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0) {
		/* nothing left to do */
	}
	_exit(1);
}

/* Copies @len bytes at byte @off of the segments @iov[0..n) into @buf. */
static size_t iov_from(const struct iovec *iov, unsigned int n, size_t off,
		       void *buf, size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

static size_t iov_to(const struct iovec *iov, unsigned int n, size_t off,
		     const void *buf, size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, l);
		done += l;
		off = 0;
	}
	return done;
}

/* Serves one request; returns the bytes written for the driver. */
static uint32_t serve(struct probe *p, struct vdk_req *req)
{
	const struct iovec *out = req->iov, *in = req->iov + req->out_num;
	struct virtio_blk_outhdr hdr;
	uint32_t type, in_data;
	uint64_t off;
	uint8_t status = VIRTIO_BLK_S_OK;
	size_t out_data;

	p->reqs++;
	if (req->in_bytes < 1 ||
	    iov_from(out, req->out_num, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		msg("malformed request: %u out bytes, %u in bytes",
		    req->out_bytes, req->in_bytes);
		return 0;
	}
	/* The last writable byte is the status; the rest is data. */
	in_data = req->in_bytes - 1;
	out_data = req->out_bytes - sizeof(hdr);
	type = le32toh(hdr.type);
	off = le64toh(hdr.sector) * 512;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (off > DISK_SIZE || in_data > DISK_SIZE - off) {
			status = VIRTIO_BLK_S_IOERR;
			in_data = 0;
			break;
		}
		iov_to(in, req->in_num, 0, p->disk + off, in_data);
		break;
	case VIRTIO_BLK_T_OUT:
		in_data = 0;
		if (off > DISK_SIZE || out_data > DISK_SIZE - off) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		iov_from(out, req->out_num, sizeof(hdr), p->disk + off, out_data);
		break;
	case VIRTIO_BLK_T_FLUSH:
		p->flushes++;
		in_data = 0;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = SERIAL;

		p->get_ids++;
		if (in_data > sizeof(id))
			in_data = sizeof(id);
		iov_to(in, req->in_num, 0, id, in_data);
		break;
	}
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		in_data = 0;
		break;
	}
	iov_to(in, req->in_num, req->in_bytes - 1, &status, 1);
	return in_data + 1;
}

/* Pops until empty, re-arming kicks before giving up (EVENT_IDX). */
static int serve_queue(struct probe *p, struct vdk_vq *vq)
{
	struct vdk_req *req;
	int ret;

	vdk_vq_kick_clear(vq);
	for (;;) {
		while ((ret = vdk_vq_pop(vq, sizeof(*req), &req)) == 0)
			vdk_vq_push(vq, req, serve(p, req));
		if (ret != -EAGAIN) {
			snprintf(p->thread_msg, sizeof(p->thread_msg),
				 "vdk_vq_pop: %d (%s)", ret, vdk_last_error());
			return ret;
		}
		ret = vdk_vq_notify(vq);
		if (ret < 0) {
			snprintf(p->thread_msg, sizeof(p->thread_msg),
				 "vdk_vq_notify: %d (%s)", ret, vdk_last_error());
			return ret;
		}
		if (!vdk_vq_enable_kicks(vq, true))
			return 0;
	}
}

static void cb_queue_start(struct vdk_dev *dev, struct vdk_vq *vq)
{
	struct probe *p = vdk_dev_opaque(dev);

	msg("queue %u started, size %u", vdk_vq_index(vq), vdk_vq_size(vq));
	p->vq = vq;
}

static void cb_queue_stop(struct vdk_dev *dev, struct vdk_vq *vq)
{
	struct probe *p = vdk_dev_opaque(dev);

	/* Served synchronously on this thread: nothing is in flight. */
	msg("queue %u stopped (%u in flight)", vdk_vq_index(vq),
	    vdk_vq_inflight(vq));
	p->vq = NULL;
}

static void cb_status(struct vdk_dev *dev, uint8_t status)
{
	msg("driver status 0x%02x, features 0x%llx", status,
	    (unsigned long long)vdk_dev_features(dev));
}

static const struct vdk_dev_ops ops = {
	.queue_start = cb_queue_start,
	.queue_stop = cb_queue_stop,
	.status_changed = cb_status,
};

/* The control thread; it also serves the queue, which is plenty here. */
static void *control_thread(void *arg)
{
	struct probe *p = arg;
	int ret;

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = vdk_dev_fd(p->dev), .events = POLLIN },
			{ .fd = p->stop_fd, .events = POLLIN },
			{ .fd = p->vq ? vdk_vq_kick_fd(p->vq) : -1, .events = POLLIN },
		};

		if (poll(pfd, 3, 1000) < 0) {
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
		/* Serve on every wakeup: cheap, and robust to a missed kick. */
		if (p->vq) {
			ret = serve_queue(p, p->vq);
			if (ret) {
				p->thread_err = ret;
				return NULL;
			}
		}
	}
}

static int count_fds(void)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int check_sysfs_size(const char *node)
{
	char path[128], buf[64];
	const char *kname = strrchr(node, '/') + 1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/size", kname);
	f = fopen(path, "re");
	if (!f)
		FAIL("cannot open %s: %s", path, strerror(errno));
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		FAIL("cannot read %s", path);
	}
	fclose(f);
	if (strtoull(buf, NULL, 10) != DISK_SECTORS)
		FAIL("%s is %s, expected %u", path, strtok(buf, "\n"), DISK_SECTORS);
	msg("%s = %u sectors, as configured", path, DISK_SECTORS);

	/* The serial comes from a GET_ID request to us. */
	snprintf(path, sizeof(path), "/sys/block/%s/serial", kname);
	f = fopen(path, "re");
	if (!f)
		FAIL("cannot open %s: %s", path, strerror(errno));
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, SERIAL))
		FAIL("%s is \"%s\", expected \"%s\"", path, buf, SERIAL);
	msg("serial \"%s\" served by GET_ID", buf);
	return 0;
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* I/O through the node, checked against the device's own buffer. */
static int check_io(struct probe *p, const char *node, unsigned int cycle)
{
	static const uint64_t offs[] = { 0, 4096, 1 << 20, DISK_SIZE - 2 * BLK };
	uint8_t *buf = NULL, *want = NULL;
	unsigned int i;
	int fd, ret = -1;

	if (posix_memalign((void **)&buf, BLK, 2 * BLK) ||
	    posix_memalign((void **)&want, BLK, 2 * BLK)) {
		msg("FAIL: out of memory");
		goto out;
	}
	fd = open(node, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		msg("FAIL: cannot open %s: %s", node, strerror(errno));
		goto out;
	}

	/* Read path: what the device holds is what the driver sees. */
	fill(p->disk + (2 << 20), 2 * BLK, 1000 + cycle);
	if (pread(fd, buf, 2 * BLK, 2 << 20) != 2 * BLK) {
		msg("FAIL: pread at 2 MiB: %s", strerror(errno));
		goto out_close;
	}
	if (memcmp(buf, p->disk + (2 << 20), 2 * BLK)) {
		msg("FAIL: data read at 2 MiB differs from the device buffer");
		goto out_close;
	}

	/* Write path, including the last sectors of the disk. */
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		fill(want, 2 * BLK, cycle * 16 + i);
		if (pwrite(fd, want, 2 * BLK, (off_t)offs[i]) != 2 * BLK) {
			msg("FAIL: pwrite at %llu: %s",
			    (unsigned long long)offs[i], strerror(errno));
			goto out_close;
		}
		if (memcmp(p->disk + offs[i], want, 2 * BLK)) {
			msg("FAIL: write at %llu did not reach the device buffer",
			    (unsigned long long)offs[i]);
			goto out_close;
		}
		memset(buf, 0, 2 * BLK);
		if (pread(fd, buf, 2 * BLK, (off_t)offs[i]) != 2 * BLK) {
			msg("FAIL: pread at %llu: %s",
			    (unsigned long long)offs[i], strerror(errno));
			goto out_close;
		}
		if (memcmp(buf, want, 2 * BLK)) {
			msg("FAIL: read back at %llu differs",
			    (unsigned long long)offs[i]);
			goto out_close;
		}
	}
	/* Beyond the end must fail, not reach the device. */
	if (pread(fd, buf, BLK, DISK_SIZE) > 0) {
		msg("FAIL: read past the end succeeded");
		goto out_close;
	}
	if (fsync(fd) < 0) {
		msg("FAIL: fsync: %s", strerror(errno));
		goto out_close;
	}
	msg("I/O through %s verified (%lu requests, %lu flushes so far)", node,
	    p->reqs, p->flushes);
	ret = 0;
out_close:
	close(fd);
out:
	free(buf);
	free(want);
	return ret;
}

static int stop_thread(struct probe *p)
{
	eventfd_write(p->stop_fd, 1);
	pthread_join(p->thread, NULL);
	close(p->stop_fd);
	p->stop_fd = -1;
	if (p->thread_err) {
		msg("FAIL: control thread: %s", p->thread_msg);
		return -1;
	}
	return 0;
}

static int cycle(struct probe *p, unsigned int n)
{
	uint8_t config[sizeof(struct virtio_blk_config)];
	struct virtio_blk_config *bc = (void *)config;
	struct vdk_dev_config cfg = {
		.name = DEV_NAME,
		.device_id = 2,
		.features = (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ULL << VIRTIO_BLK_F_FLUSH),
		.num_queues = 1,
		.queue_size = QUEUE_SIZE,
		.config = config,
		.config_size = sizeof(config),
		.ops = &ops,
		.opaque = p,
	};
	char node[64];
	struct stat st;
	int ret, fail = 0;

	msg("=== cycle %u ===", n);
	memset(config, 0, sizeof(config));
	bc->capacity = htole64(DISK_SECTORS);
	bc->blk_size = htole32(512);

	ret = vdk_dev_create(&cfg, &p->dev);
	if (ret)
		FAIL("vdk_dev_create: %d (%s)", ret, vdk_last_error());
	if (stat("/dev/vduse/" DEV_NAME, &st) < 0 || !S_ISCHR(st.st_mode)) {
		msg("FAIL: /dev/vduse/" DEV_NAME " is not a char device after create");
		vdk_dev_destroy(p->dev);
		return -1;
	}
	msg("created /dev/vduse/%s (fd %d)", vdk_dev_name(p->dev),
	    vdk_dev_fd(p->dev));

	p->thread_err = 0;
	p->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (p->stop_fd < 0 ||
	    pthread_create(&p->thread, NULL, control_thread, p)) {
		msg("FAIL: cannot start the control thread");
		vdk_dev_destroy(p->dev);
		return -1;
	}

	ret = vdk_dev_attach(p->dev, VDK_BUS_VIRTIO, node, sizeof(node));
	if (ret) {
		msg("FAIL: vdk_dev_attach: %d (%s)", ret, vdk_last_error());
		stop_thread(p);
		vdk_dev_destroy(p->dev);
		return -1;
	}
	msg("attached: %s", node);

	if (stat(node, &st) < 0 || !S_ISBLK(st.st_mode)) {
		msg("FAIL: %s is not a block device", node);
		fail = 1;
	}
	if (!fail) {
		char again[64];

		ret = vdk_dev_node(DEV_NAME, again, sizeof(again));
		if (ret || strcmp(again, node)) {
			msg("FAIL: vdk_dev_node gave %d \"%s\" (%s), expected %s",
			    ret, again, vdk_last_error(), node);
			fail = 1;
		}
	}
	if (!fail && (vdk_dev_status(p->dev) & 4) == 0) {
		msg("FAIL: driver status 0x%02x lacks DRIVER_OK",
		    vdk_dev_status(p->dev));
		fail = 1;
	}
	if (!fail && check_sysfs_size(node))
		fail = 1;
	if (!fail && check_io(p, node, n))
		fail = 1;

	ret = vdk_dev_detach(p->dev);
	if (ret) {
		msg("FAIL: vdk_dev_detach: %d (%s)", ret, vdk_last_error());
		fail = 1;
	} else {
		msg("detached; driver status now 0x%02x", vdk_dev_status(p->dev));
		if (access(node, F_OK) == 0 && stat(node, &st) == 0 &&
		    S_ISBLK(st.st_mode)) {
			/* devtmpfs removes it at del_gendisk; only note it. */
			msg("note: %s still exists after detach", node);
		}
	}
	if (stop_thread(p))
		fail = 1;
	ret = vdk_dev_destroy(p->dev);
	p->dev = NULL;
	if (ret) {
		msg("FAIL: vdk_dev_destroy: %d (%s)", ret, vdk_last_error());
		fail = 1;
	}
	if (access("/dev/vduse/" DEV_NAME, F_OK) == 0) {
		msg("FAIL: /dev/vduse/" DEV_NAME " still exists after destroy");
		fail = 1;
	}
	return fail ? -1 : 0;
}

int main(void)
{
	struct probe p;
	int before, after, ret = 0;
	unsigned int n;

	signal(SIGALRM, on_alarm);
	alarm(180);
	memset(&p, 0, sizeof(p));
	p.stop_fd = -1;
	p.disk = calloc(1, DISK_SIZE);
	if (!p.disk) {
		msg("FAIL: out of memory");
		return 1;
	}
	/* A leftover from an earlier crashed run would make create fail. */
	if (access("/dev/vduse/" DEV_NAME, F_OK) == 0) {
		msg("removing a leftover " DEV_NAME);
		if (vdk_dev_destroy_by_name(DEV_NAME))
			msg("  failed: %s", vdk_last_error());
	}

	before = count_fds();
	for (n = 1; n <= 2 && !ret; n++)
		ret = cycle(&p, n);
	after = count_fds();
	if (!ret && before != after) {
		msg("FAIL: %d descriptors open before, %d after", before, after);
		ret = -1;
	}
	free(p.disk);
	if (ret) {
		msg("FAILED");
		return 1;
	}
	msg("PASS: two create/attach/I/O/detach/destroy cycles, %lu requests (%lu flushes, %lu GET_ID), no fd leaked",
	    p.reqs, p.flushes, p.get_ids);
	return 0;
}
