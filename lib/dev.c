// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device lifecycle and the control-message loop: creating, adopting and
 * destroying VDUSE devices, and answering the kernel's requests on
 * /dev/vduse/NAME.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/vduse.h>
#include <linux/virtio_config.h>

#include "internal.h"

#define VDUSE_CONTROL	"/dev/vduse/control"
#define VDUSE_DIR	"/dev/vduse/"
#define VDUSE_SYSFS	"/sys/class/vduse/"

/* Bits the library implements itself, so every device offers them. */
#define VDK_LIB_FEATURES	((1ULL << VDK_F_VERSION_1) |		\
				 (1ULL << VDK_F_ACCESS_PLATFORM) |	\
				 (1ULL << VDK_F_EVENT_IDX) |		\
				 (1ULL << VDK_F_INDIRECT_DESC))

/* The kernel's config space limit (vduse_validate_config). */
#define VDK_CONFIG_SIZE_MAX	4096

static int check_config(const struct vdk_dev_config *cfg, struct vdk_dev **devp)
{
	int ret;

	if (!cfg || !devp)
		return vdk_set_error(-EINVAL, "no device config given");
	ret = vdk_name_check(cfg->name);
	if (ret)
		return ret;
	if (cfg->num_queues == 0)
		return vdk_set_error(-EINVAL, "a device needs at least one queue");
	if (cfg->num_queues > VDK_NUM_QUEUES_MAX)
		return vdk_set_error(-EINVAL, "%u queues requested; at most %u",
				     cfg->num_queues, VDK_NUM_QUEUES_MAX);
	if (cfg->queue_size < 2 || cfg->queue_size > VDK_QUEUE_SIZE_MAX ||
	    (cfg->queue_size & (cfg->queue_size - 1)))
		return vdk_set_error(-EINVAL,
				     "queue size %u is not a power of two between 2 and %u",
				     cfg->queue_size, VDK_QUEUE_SIZE_MAX);
	if (cfg->config_size > VDK_CONFIG_SIZE_MAX)
		return vdk_set_error(-EINVAL,
				     "config space of %u bytes is too large; at most %u",
				     cfg->config_size, VDK_CONFIG_SIZE_MAX);
	if (cfg->config_size && !cfg->config)
		return vdk_set_error(-EINVAL,
				     "config_size is %u but no config bytes given",
				     cfg->config_size);
	return 0;
}

static int dev_inject_irq(struct vdk_vq *vq)
{
	uint32_t index = vq->index;

	if (ioctl(vq->dev->fd, VDUSE_VQ_INJECT_IRQ, &index) < 0)
		return vdk_set_error(-errno,
				     "interrupting the driver on queue %u failed: %s",
				     index, strerror(errno));
	return 0;
}

/*
 * The fd of the IOTLB entry holding @iova, the entry in *@entry; or -errno.
 * The kernel hands out one fd per entry; for the bounce region and the
 * coherent ring pages it is an anon file whose offset equals the IOVA, for
 * vhost-vdpa it is the VMM's memory file at an arbitrary offset.
 */
static int iotlb_get_fd(struct vdk_dev *dev, uint64_t iova,
			struct vduse_iotlb_entry *entry)
{
	int fd;

	memset(entry, 0, sizeof(*entry));
	entry->start = iova;
	entry->last = iova;
	fd = ioctl(dev->fd, VDUSE_IOTLB_GET_FD, entry);
	if (fd < 0) {
		if (errno == EINVAL)
			return vdk_set_error(-EFAULT, "IOVA 0x%llx is not mapped by the driver",
					     (unsigned long long)iova);
		return vdk_set_error(-errno, "VDUSE_IOTLB_GET_FD(0x%llx) failed: %s",
				     (unsigned long long)iova, strerror(errno));
	}
	if (!(entry->perm & VDUSE_ACCESS_RW) || entry->last < entry->start ||
	    iova < entry->start || iova > entry->last) {
		close(fd);
		return vdk_set_error(-EIO,
				     "kernel returned a bad IOTLB entry [0x%llx, 0x%llx] perm %u for IOVA 0x%llx",
				     (unsigned long long)entry->start,
				     (unsigned long long)entry->last, entry->perm,
				     (unsigned long long)iova);
	}
	return fd;
}

/* Maps the IOTLB entry containing @iova. */
static int dev_iova_miss(struct iova_map *map, uint64_t iova, void *opaque)
{
	struct vdk_dev *dev = opaque;
	struct vduse_iotlb_entry entry;
	struct iova_region r;
	uint64_t len, delta, page;
	int fd, prot = 0, ret;
	void *base;

	fd = iotlb_get_fd(dev, iova, &entry);
	if (fd < 0)
		return fd;
	if (entry.perm & VDUSE_ACCESS_RO)
		prot |= PROT_READ;
	if (entry.perm & VDUSE_ACCESS_WO)
		prot |= PROT_WRITE;

	/* mmap wants a page-aligned offset: map from the page start. */
	page = (uint64_t)sysconf(_SC_PAGESIZE);
	delta = entry.offset & (page - 1);
	len = entry.last - entry.start + 1;
	if (len == 0 || len + delta < len || len + delta > SIZE_MAX) {
		ret = vdk_set_error(-EOVERFLOW,
				    "IOTLB entry [0x%llx, 0x%llx] is too large to map",
				    (unsigned long long)entry.start,
				    (unsigned long long)entry.last);
		goto out_close;
	}
	base = mmap(NULL, (size_t)(len + delta), prot, MAP_SHARED, fd,
		    (off_t)(entry.offset - delta));
	if (base == MAP_FAILED) {
		ret = vdk_set_error(-errno,
				    "mapping IOVA [0x%llx, 0x%llx] failed: %s",
				    (unsigned long long)entry.start,
				    (unsigned long long)entry.last, strerror(errno));
		goto out_close;
	}

	memset(&r, 0, sizeof(r));
	r.start = entry.start;
	r.last = entry.last;
	r.va = (uint8_t *)base + delta;
	r.map_base = base;
	r.map_len = (size_t)(len + delta);
	r.perm = entry.perm & VDK_PERM_RW;
	ret = iova_map_add(map, &r);
	if (ret)
		munmap(base, r.map_len);
out_close:
	close(fd);
	return ret;
}

static struct vdk_dev *dev_alloc(const struct vdk_dev_config *cfg)
{
	struct vdk_dev *dev;
	unsigned int i;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->vqs = calloc(cfg->num_queues, sizeof(*dev->vqs));
	if (!dev->vqs) {
		free(dev);
		return NULL;
	}
	strcpy(dev->name, cfg->name);	/* length checked by vdk_name_check */
	dev->ctl_fd = -1;
	dev->fd = -1;
	if (cfg->ops)
		dev->ops = *cfg->ops;
	dev->opaque = cfg->opaque;
	dev->device_id = cfg->device_id;
	dev->flags = cfg->flags;
	if (cfg->flags & VDK_DEV_RINGS_ELSEWHERE)
		dev->features = cfg->features | (1ULL << VDK_F_ACCESS_PLATFORM);
	else
		dev->features = cfg->features | VDK_LIB_FEATURES;
	dev->num_queues = cfg->num_queues;
	dev->queue_size = cfg->queue_size;
	dev->config_size = cfg->config_size;
	iova_map_init(&dev->map, dev_iova_miss, dev);
	for (i = 0; i < cfg->num_queues; i++) {
		struct vdk_vq *vq = &dev->vqs[i];

		vq->dev = dev;
		vq->map = &dev->map;
		vq->index = i;
		vq->max_size = cfg->queue_size;
		vq->kick_fd = -1;
		vq->inject_irq = dev_inject_irq;
	}
	return dev;
}

VDK_EXPORT int vdk_dev_iova_fd(struct vdk_dev *dev, uint64_t iova,
				uint64_t *start, uint64_t *last, uint64_t *offset)
{
	struct vduse_iotlb_entry entry;
	int fd;

	fd = iotlb_get_fd(dev, iova, &entry);
	if (fd < 0)
		return fd;
	*start = entry.start;
	*last = entry.last;
	*offset = entry.offset;
	return fd;
}

/* Stops @vq's dataplane: tells the application, then drops the kick fd. */
static void vq_stop(struct vdk_dev *dev, struct vdk_vq *vq, bool notify_app)
{
	struct vduse_vq_eventfd efd = {
		.index = vq->index,
		.fd = VDUSE_EVENTFD_DEASSIGN,
	};

	if (vq->started && notify_app && dev->ops.queue_stop)
		dev->ops.queue_stop(dev, vq);
	vq->started = false;
	if (vq->kick_fd >= 0) {
		/* Fails harmlessly on a broken device; nothing else to do. */
		ioctl(dev->fd, VDUSE_VQ_SETUP_KICKFD, &efd);
		close(vq->kick_fd);
		vq->kick_fd = -1;
	}
	vq_reset_rings(vq);
}

/* Releases everything the handle owns; the kernel device stays. */
static void dev_release(struct vdk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++)
		vq_stop(dev, &dev->vqs[i], false);
	if (dev->state)
		munmap(dev->state, dev->state_len);
	iova_map_destroy(&dev->map);
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->ctl_fd >= 0)
		close(dev->ctl_fd);
	free(dev->vqs);
	free(dev);
}

static int control_open(void)
{
	int fd;

	fd = open(VDUSE_CONTROL, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return vdk_set_error(-ENOENT,
				     VDUSE_CONTROL " missing: load the vduse module (modprobe vduse)");
	case EACCES:
	case EPERM:
		return vdk_set_error(-errno,
				     "opening " VDUSE_CONTROL " needs root");
	default:
		return vdk_set_error(-errno, "cannot open " VDUSE_CONTROL ": %s",
				     strerror(errno));
	}
}

/*
 * Destroys the kernel device @name.  It refuses with EBUSY while the node
 * is open or the device is on the vdpa bus; our own close and a detach can
 * take a moment to settle, so retry a few times.
 */
static int destroy_kernel_dev(const char *name)
{
	char buf[VDUSE_NAME_MAX];
	int fd, ret = 0, tries;

	fd = control_open();
	if (fd < 0)
		return fd;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, name, strnlen(name, sizeof(buf) - 1));
	for (tries = 0; tries < 20; tries++) {
		ret = ioctl(fd, VDUSE_DESTROY_DEV, buf) < 0 ? -errno : 0;
		if (ret != -EBUSY)
			break;
		sleep_ms(50);
	}
	close(fd);
	if (ret == -EBUSY)
		return vdk_set_error(ret,
				     "device %s is still in use (open by a process or attached to the vdpa bus)",
				     name);
	if (ret == -ENOENT || ret == -EINVAL)
		return vdk_set_error(-ENOENT, "there is no VDUSE device %s", name);
	if (ret)
		return vdk_set_error(ret, "destroying device %s failed: %s",
				     name, strerror(-ret));
	return 0;
}

/* Opens /dev/vduse/NAME; with @wait, tolerates the node appearing late. */
static int node_open(const char *name, bool wait)
{
	char path[sizeof(VDUSE_DIR) + VDK_NAME_MAX];
	int fd, tries;

	snprintf(path, sizeof(path), VDUSE_DIR "%s", name);
	/* devtmpfs/udev may create the node a little after CREATE_DEV. */
	for (tries = 0; tries < 200; tries++) {
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT || !wait)
			break;
		sleep_ms(10);
	}
	switch (errno) {
	case ENOENT:
		return vdk_set_error(-ENOENT, "there is no device %s (%s missing)",
				     name, path);
	case EBUSY:
		return vdk_set_error(-EBUSY,
				     "device %s is open already: another process (or handle) serves it",
				     name);
	case EACCES:
	case EPERM:
		return vdk_set_error(-errno, "opening %s needs root", path);
	default:
		return vdk_set_error(-errno, "cannot open %s: %s", path,
				     strerror(errno));
	}
}

static int create_kernel_dev(struct vdk_dev *dev, int ctl_fd,
			     const struct vdk_dev_config *cfg)
{
	struct vduse_dev_config *dc;
	uint64_t version = 0;
	int ret;

	/* Explicitly: on 7.0 an unset version turns into version 1. */
	if (ioctl(ctl_fd, VDUSE_SET_API_VERSION, &version) < 0)
		return vdk_set_error(-errno,
				     "the kernel refused VDUSE API version 0: %s",
				     strerror(errno));

	dc = calloc(1, sizeof(*dc) + cfg->config_size);
	if (!dc)
		return vdk_set_error(-ENOMEM, "out of memory");
	/* dc is zeroed and the name is at most VDK_NAME_MAX bytes. */
	memcpy(dc->name, dev->name, strlen(dev->name));
	dc->vendor_id = cfg->vendor_id;
	dc->device_id = cfg->device_id;
	dc->features = dev->features;
	dc->vq_num = dev->num_queues;
	dc->vq_align = (uint32_t)sysconf(_SC_PAGESIZE);
	dc->config_size = cfg->config_size;
	if (cfg->config_size)
		memcpy(dc->config, cfg->config, cfg->config_size);
	ret = ioctl(ctl_fd, VDUSE_CREATE_DEV, dc) < 0 ? -errno : 0;
	free(dc);
	switch (ret) {
	case 0:
		break;
	case -EEXIST:
		return vdk_set_error(ret, "device %s exists already", dev->name);
	case -EINVAL:
		return vdk_set_error(ret,
				     "the kernel refused the config of %s: check the device id (%u may not be allowed on this kernel) and the feature bits (e.g. block CONFIG_WCE is refused)",
				     dev->name, cfg->device_id);
	case -EPERM:
		return vdk_set_error(ret,
				     "creating %s needs more privileges (CAP_NET_ADMIN for network devices)",
				     dev->name);
	default:
		return vdk_set_error(ret, "creating device %s failed: %s",
				     dev->name, strerror(-ret));
	}

	return 0;
}

static int setup_queues(struct vdk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++) {
		struct vduse_vq_config vc;

		memset(&vc, 0, sizeof(vc));
		vc.index = i;
		vc.max_size = (uint16_t)dev->queue_size;
		if (ioctl(dev->fd, VDUSE_VQ_SETUP, &vc) < 0)
			return vdk_set_error(-errno,
					     "setting up queue %u of %s failed: %s",
					     i, dev->name, strerror(errno));
	}
	return 0;
}

VDK_EXPORT int vdk_dev_create(const struct vdk_dev_config *cfg,
			      struct vdk_dev **devp)
{
	struct vdk_dev *dev;
	char msg[512];
	int ctl_fd, ret;

	ret = check_config(cfg, devp);
	if (ret)
		return ret;
	dev = dev_alloc(cfg);
	if (!dev)
		return vdk_set_error(-ENOMEM, "out of memory");

	ctl_fd = control_open();
	if (ctl_fd < 0) {
		ret = ctl_fd;
		goto err_free;
	}
	ret = create_kernel_dev(dev, ctl_fd, cfg);
	close(ctl_fd);
	if (ret)
		goto err_free;

	ret = node_open(dev->name, true);
	if (ret < 0)
		goto err_destroy;
	dev->fd = ret;
	ret = setup_queues(dev);
	if (ret)
		goto err_destroy;
	if (cfg->state_path) {
		ret = state_map(dev, cfg, true);
		if (ret)
			goto err_destroy;
	}

	*devp = dev;
	return 0;

err_destroy:
	/* Leave nothing behind, but report the first error. */
	if (dev->fd >= 0) {
		close(dev->fd);
		dev->fd = -1;
	}
	snprintf(msg, sizeof(msg), "%s", vdk_last_error());
	destroy_kernel_dev(dev->name);
	vdk_set_error(ret, "%s", msg);
err_free:
	dev_release(dev);
	return ret;
}

VDK_EXPORT int vdk_dev_open(const struct vdk_dev_config *cfg,
			    struct vdk_dev **devp)
{
	struct vdk_dev *dev;
	int ret;

	ret = check_config(cfg, devp);
	if (ret)
		return ret;
	dev = dev_alloc(cfg);
	if (!dev)
		return vdk_set_error(-ENOMEM, "out of memory");
	ret = node_open(dev->name, false);
	if (ret < 0) {
		dev_release(dev);
		return ret;
	}
	dev->fd = ret;
	if (cfg->state_path) {
		ret = state_map(dev, cfg, false);
		if (ret) {
			dev_release(dev);
			return ret;
		}
	}
	/* A previous process may have left it on the vdpa bus. */
	dev->attached = vdpa_dev_exists(dev->name);
	*devp = dev;
	return 0;
}

VDK_EXPORT void vdk_dev_close(struct vdk_dev *dev)
{
	if (dev)
		dev_release(dev);
}

VDK_EXPORT int vdk_dev_destroy(struct vdk_dev *dev)
{
	char name[VDK_NAME_MAX + 1];
	int ret = 0, err;

	if (!dev)
		return 0;
	ret = vdk_dev_detach(dev);
	strcpy(name, dev->name);
	dev_release(dev);
	err = destroy_kernel_dev(name);
	return err ? err : ret;
}

/*
 * Nobody serves @name, so every control message the detach sends goes
 * unanswered and the kernel waits msg_timeout (30 s by default) for each.
 * Shorten the wait: the device is about to be destroyed anyway.
 */
static void shorten_msg_timeout(const char *name)
{
	char path[sizeof(VDUSE_SYSFS) + VDK_NAME_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), VDUSE_SYSFS "%s/msg_timeout", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) < 0) {
		/* best effort: an old kernel without the knob just waits */
	}
	close(fd);
}

VDK_EXPORT int vdk_dev_destroy_by_name(const char *name)
{
	int ret, fd;

	ret = vdk_name_check(name);
	if (ret)
		return ret;
	/* A device someone serves is not ours to destroy. */
	fd = node_open(name, false);
	if (fd < 0)
		return fd;
	close(fd);
	if (vdpa_dev_exists(name)) {
		shorten_msg_timeout(name);
		ret = vdpa_detach_by_name(name);
		if (ret)
			return ret;
	}
	return destroy_kernel_dev(name);
}

VDK_EXPORT int vdk_dev_fd(const struct vdk_dev *dev)
{
	return dev->fd;
}

/* Stops every started queue; the application hears about each. */
static void stop_all(struct vdk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++)
		if (dev->vqs[i].started)
			vq_stop(dev, &dev->vqs[i], true);
}

static int vq_start(struct vdk_dev *dev, struct vdk_vq *vq, bool resume)
{
	struct vduse_vq_info info;
	struct vduse_vq_eventfd efd;
	int ret, fd;

	memset(&info, 0, sizeof(info));
	info.index = vq->index;
	if (ioctl(dev->fd, VDUSE_VQ_GET_INFO, &info) < 0)
		return vdk_set_error(-errno, "reading queue %u info failed: %s",
				     vq->index, strerror(errno));
	if (!info.ready)
		return 0;
	/* The kernel does not hold the driver to the size we offered. */
	if (info.num == 0 || info.num > vq->max_size ||
	    (info.num & (info.num - 1)))
		return vdk_set_error(-EINVAL,
				     "driver set queue %u to size %u; expected a power of two up to %u",
				     vq->index, info.num, vq->max_size);
	ret = vq_init_rings(vq, &dev->map, info.num, info.desc_addr,
			    info.driver_addr, info.device_addr,
			    info.split.avail_index, dev->driver_features);
	if (ret)
		return ret;
	if (dev->flags & VDK_DEV_RINGS_ELSEWHERE) {
		if (resume)
			vq_restart_at_used(vq);
	} else if (resume) {
		ret = vq_log_recover(vq);
	} else {
		vq_log_start(vq);
	}
	if (ret)
		goto err_rings;

	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		ret = vdk_set_error(-errno, "eventfd: %s", strerror(errno));
		goto err_rings;
	}
	efd.index = vq->index;
	efd.fd = fd;
	if (ioctl(dev->fd, VDUSE_VQ_SETUP_KICKFD, &efd) < 0) {
		ret = vdk_set_error(-errno, "setting queue %u kick fd failed: %s",
				    vq->index, strerror(errno));
		close(fd);
		goto err_rings;
	}
	vq->kick_fd = fd;
	vq->inject_irq = dev_inject_irq;
	vq->started = true;
	if (dev->ops.queue_start)
		dev->ops.queue_start(dev, vq);
	/* A kick may have come before the fd was there: look anyway. */
	eventfd_write(fd, 1);
	/* A dead process may have completed requests without signalling. */
	if (resume)
		dev_inject_irq(vq);
	return 1;

err_rings:
	vq_reset_rings(vq);
	return ret;
}

static int start_all(struct vdk_dev *dev)
{
	unsigned int i;
	int ret;

	for (i = 0; i < dev->num_queues; i++) {
		ret = vq_start(dev, &dev->vqs[i], false);
		if (ret < 0) {
			stop_all(dev);
			return ret;
		}
	}
	return 0;
}

VDK_EXPORT int vdk_dev_resume(struct vdk_dev *dev)
{
	uint64_t features;
	unsigned int i;
	int ret, started = 0;

	if (!dev->state)
		return vdk_set_error(-ENOENT,
			"%s has no state file: its queues cannot be resumed without losing track of requests in flight",
			dev->name);
	if (ioctl(dev->fd, VDUSE_DEV_GET_FEATURES, &features) < 0)
		return vdk_set_error(-errno, "reading driver features failed: %s",
				     strerror(errno));
	if (!features)
		return 0;	/* the driver never got to FEATURES_OK */
	if (dev->ops.features_ok && dev->ops.features_ok(dev, features))
		return vdk_set_error(-EINVAL,
			"the device refused the running driver's features 0x%llx",
			(unsigned long long)features);
	dev->driver_features = features;
	for (i = 0; i < dev->num_queues; i++) {
		ret = vq_start(dev, &dev->vqs[i], true);
		if (ret < 0) {
			stop_all(dev);
			return ret;
		}
		started += ret;
	}
	if (started)
		dev->status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	return started;
}

static void dev_reset(struct vdk_dev *dev)
{
	unsigned int i;

	stop_all(dev);
	for (i = 0; i < dev->num_queues; i++) {
		vq_log_clear(&dev->vqs[i]);
		vq_reset_rings(&dev->vqs[i]);
	}
	/* Ring pages vanish at reset without an IOTLB message. */
	iova_map_remove(&dev->map, 0, UINT64_MAX);
	dev->driver_features = 0;
}

static bool handle_set_status(struct vdk_dev *dev, uint8_t status)
{
	uint8_t old = dev->status;
	uint64_t features;

	if (status == 0) {
		dev_reset(dev);
		goto ok;
	}
	/*
	 * Only a reset clears status bits (virtio 1.x 2.1.2).  A status that
	 * drops DRIVER_OK would leave the queues running and start them
	 * twice at the next DRIVER_OK: refuse it, and the kernel keeps the
	 * status as it was.
	 */
	if (old & ~status) {
		vdk_set_error(-EINVAL, "status 0x%x clears bits of 0x%x without a reset",
			      status, old);
		return false;
	}
	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		if (ioctl(dev->fd, VDUSE_DEV_GET_FEATURES, &features) < 0) {
			vdk_set_error(-errno, "reading driver features failed: %s",
				      strerror(errno));
			return false;
		}
		if (dev->ops.features_ok && dev->ops.features_ok(dev, features)) {
			vdk_set_error(-EINVAL,
				      "the device refused driver features 0x%llx",
				      (unsigned long long)features);
			return false;
		}
		dev->driver_features = features;
	}
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (start_all(dev))
			return false;
	}
ok:
	/* The kernel keeps the new status only if we answer OK. */
	dev->status = status;
	if (dev->ops.status_changed)
		dev->ops.status_changed(dev, status);
	return true;
}

static bool handle_update_iotlb(struct vdk_dev *dev, uint64_t start,
				uint64_t last)
{
	unsigned int i;
	bool ok = true;

	/* Queues hold pointers into the old map: park them first. */
	for (i = 0; i < dev->num_queues; i++) {
		struct vdk_vq *vq = &dev->vqs[i];

		if (vq->started && dev->ops.queue_stop)
			dev->ops.queue_stop(dev, vq);
	}
	iova_map_remove(&dev->map, start, last);
	for (i = 0; i < dev->num_queues; i++) {
		struct vdk_vq *vq = &dev->vqs[i];
		unsigned int num = vq->num;
		uint64_t desc = vq->desc_iova, avail = vq->avail_iova;
		uint64_t used = vq->used_iova;
		uint16_t last_avail = vq->last_avail_idx;

		if (!vq->started)
			continue;
		/* vq_init_rings() drops the old ring pointers first. */
		if (vq_init_rings(vq, &dev->map, num, desc, avail, used,
				  last_avail, dev->driver_features) == 0) {
			vq_log_start(vq);
		} else {
			/* The application was told it stopped already. */
			vq_stop(dev, vq, false);
			ok = false;
			continue;
		}
		if (dev->ops.queue_start)
			dev->ops.queue_start(dev, vq);
		eventfd_write(vq->kick_fd, 1);
	}
	return ok;
}

static bool handle_get_vq_state(struct vdk_dev *dev,
				const struct vduse_dev_request *req,
				struct vduse_dev_response *resp)
{
	uint32_t index = req->vq_state.index;

	if (index >= dev->num_queues) {
		vdk_set_error(-EINVAL, "kernel asked for the state of queue %u of %u",
			      index, dev->num_queues);
		return false;
	}
	resp->vq_state.index = index;
	/*
	 * The queue thread may be running and owns the field: it stores it
	 * atomically (vdk_vq_pop) so that this read is not a data race.
	 */
	resp->vq_state.split.avail_index =
		__atomic_load_n(&dev->vqs[index].last_avail_idx, __ATOMIC_RELAXED);
	return true;
}

static int dev_broken(struct vdk_dev *dev)
{
	return vdk_set_error(-EPIPE,
			     "the kernel marked device %s broken (a control message went unanswered for msg_timeout); destroy and recreate it",
			     dev->name);
}

static bool poll_broken(struct vdk_dev *dev)
{
	struct pollfd pfd = { .fd = dev->fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLERR);
}

VDK_EXPORT int vdk_dev_process(struct vdk_dev *dev)
{
	struct vduse_dev_request req;
	struct vduse_dev_response resp;
	int handled = 0;
	ssize_t n;
	bool ok;

	if (poll_broken(dev))
		return dev_broken(dev);
	for (;;) {
		n = read(dev->fd, &req, sizeof(req));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			if (errno == EIO)
				return dev_broken(dev);
			return vdk_set_error(-errno, "reading a control message failed: %s",
					     strerror(errno));
		}
		if ((size_t)n != sizeof(req))
			return vdk_set_error(-EIO, "short control message (%zd bytes)", n);

		memset(&resp, 0, sizeof(resp));
		resp.request_id = req.request_id;
		switch (req.type) {
		case VDUSE_SET_STATUS:
			ok = handle_set_status(dev, req.s.status);
			break;
		case VDUSE_GET_VQ_STATE:
			ok = handle_get_vq_state(dev, &req, &resp);
			break;
		case VDUSE_UPDATE_IOTLB:
			ok = handle_update_iotlb(dev, req.iova.start, req.iova.last);
			break;
		default:
			/* Newer kernels only send new types if we opt in. */
			ok = false;
			break;
		}
		resp.result = ok ? VDUSE_REQ_RESULT_OK : VDUSE_REQ_RESULT_FAILED;

		do {
			n = write(dev->fd, &resp, sizeof(resp));
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			/* A request that timed out is gone: the device broke. */
			if (errno == EIO || poll_broken(dev))
				return dev_broken(dev);
			return vdk_set_error(-errno, "answering a control message failed: %s",
					     strerror(errno));
		}
		if ((size_t)n != sizeof(resp))
			return vdk_set_error(-EIO, "short write of a control answer");
		handled++;
	}
	return handled;
}

VDK_EXPORT int vdk_dev_set_config(struct vdk_dev *dev, uint32_t offset,
				  const void *buf, uint32_t len, bool notify)
{
	struct vduse_config_data *data;
	int ret = 0;

	if (len == 0 || !buf || offset > dev->config_size ||
	    len > dev->config_size - offset)
		return vdk_set_error(-EINVAL,
				     "config update [%u, +%u) is outside the %u-byte config space",
				     offset, len, dev->config_size);
	data = malloc(sizeof(*data) + len);
	if (!data)
		return vdk_set_error(-ENOMEM, "out of memory");
	data->offset = offset;
	data->length = len;
	memcpy(data->buffer, buf, len);
	if (ioctl(dev->fd, VDUSE_DEV_SET_CONFIG, data) < 0)
		ret = vdk_set_error(-errno, "updating config space failed: %s",
				    strerror(errno));
	free(data);
	if (ret || !notify)
		return ret;
	/* Before DRIVER_OK there is no one to tell: the update is silent. */
	if (ioctl(dev->fd, VDUSE_DEV_INJECT_CONFIG_IRQ) < 0 && errno != EINVAL)
		return vdk_set_error(-errno, "config interrupt failed: %s",
				     strerror(errno));
	return 0;
}

VDK_EXPORT const char *vdk_dev_name(const struct vdk_dev *dev)
{
	return dev->name;
}

VDK_EXPORT void *vdk_dev_opaque(const struct vdk_dev *dev)
{
	return dev->opaque;
}

VDK_EXPORT uint64_t vdk_dev_features(const struct vdk_dev *dev)
{
	return dev->driver_features;
}

VDK_EXPORT uint8_t vdk_dev_status(const struct vdk_dev *dev)
{
	return dev->status;
}

VDK_EXPORT unsigned int vdk_dev_num_queues(const struct vdk_dev *dev)
{
	return dev->num_queues;
}

VDK_EXPORT struct vdk_vq *vdk_dev_vq(struct vdk_dev *dev, unsigned int index)
{
	if (index >= dev->num_queues)
		return NULL;
	return &dev->vqs[index];
}
