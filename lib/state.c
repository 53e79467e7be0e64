// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The state file: a header naming the device and its queue geometry, then
 * one inflight log per queue (struct vq_log, kept by vq.c), mapped shared
 * so that what a process recorded outlives it.  Thread model: control
 * thread; the logs themselves belong to the queue threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "internal.h"

/* What tells this kernel device from an earlier one of the same name. */
static int node_identity(struct vdk_dev *dev, uint64_t *ino)
{
	struct stat st;

	if (fstat(dev->fd, &st) < 0)
		return vdk_set_error(-errno, "cannot stat the node of %s: %s",
				     dev->name, strerror(errno));
	*ino = st.st_ino;
	return 0;
}

/*
 * Maps the state file: a fresh one (create) or one a previous process left
 * (adopt, checked against @cfg).  Each queue's log pointer is set.
 */
int state_map(struct vdk_dev *dev, const struct vdk_dev_config *cfg,
	      bool create)
{
	size_t stride = vq_log_size(cfg->queue_size);
	size_t len = sizeof(struct vdk_state_hdr) + stride * cfg->num_queues;
	struct vdk_state_hdr *h;
	uint64_t ino = 0;
	struct stat st;
	unsigned int i;
	int fd, ret;

	/*
	 * A new file, never one a previous device of the same name left: a
	 * crash before the header is complete must not leave its log behind
	 * looking valid.
	 */
	if (create) {
		STATE_STORE_POINT("unlink");
		if (unlink(cfg->state_path) < 0 && errno != ENOENT)
			return vdk_set_error(-errno, "cannot replace the state file %s: %s",
					     cfg->state_path, strerror(errno));
		STATE_STORE_POINT("create");
	}
	fd = open(cfg->state_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW |
		  (create ? O_CREAT | O_EXCL : 0), 0600);
	if (fd < 0)
		return vdk_set_error(-errno, "%s state file %s: %s",
				     create ? "cannot create the" : "cannot open the",
				     cfg->state_path, strerror(errno));
	if (create)
		STATE_STORE_POINT("size");
	if (create && ftruncate(fd, len) < 0) {
		ret = vdk_set_error(-errno, "sizing the state file %s: %s",
				    cfg->state_path, strerror(errno));
		goto out_close;
	}
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != len) {
		ret = vdk_set_error(-EINVAL,
			"state file %s does not fit %u queues of %u entries",
			cfg->state_path, cfg->num_queues, cfg->queue_size);
		goto out_close;
	}
	ret = node_identity(dev, &ino);
	if (ret)
		goto out_close;
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		ret = vdk_set_error(-errno, "mapping the state file %s: %s",
				    cfg->state_path, strerror(errno));
		goto out_close;
	}
	if (create) {
		/*
		 * The magic last: a process that dies before it leaves a file
		 * no one adopts (the kernel device has no settings saved yet
		 * either, so recover refuses and del removes it).
		 */
		STATE_STORE_POINT("clear header");
		memset(h, 0, sizeof(*h));
		STATE_STORE_POINT("name");
		strcpy(h->name, cfg->name);
		STATE_STORE_POINT("num_queues");
		h->num_queues = cfg->num_queues;
		STATE_STORE_POINT("queue_size");
		h->queue_size = cfg->queue_size;
		STATE_STORE_POINT("log_stride");
		h->log_stride = stride;
		STATE_STORE_POINT("node_ino");
		h->node_ino = ino;
		STATE_STORE_POINT("version");
		h->version = VDK_STATE_VERSION;
		STATE_STORE_POINT("magic");
		__atomic_store_n(&h->magic, VDK_STATE_MAGIC, __ATOMIC_RELEASE);
	} else if (h->magic != VDK_STATE_MAGIC || h->version != VDK_STATE_VERSION ||
		   strncmp(h->name, cfg->name, sizeof(h->name)) ||
		   h->num_queues != cfg->num_queues ||
		   h->queue_size != cfg->queue_size || h->log_stride != stride) {
		munmap(h, len);
		ret = vdk_set_error(-EINVAL,
			"state file %s is not %s's, or not for %u queues of %u entries",
			cfg->state_path, cfg->name, cfg->num_queues, cfg->queue_size);
		goto out_close;
	} else if (h->node_ino && h->node_ino != ino) {
		munmap(h, len);
		ret = vdk_set_error(-EINVAL,
			"state file %s belongs to an earlier device named %s, not to this one",
			cfg->state_path, cfg->name);
		goto out_close;
	}
	dev->state = h;
	dev->state_len = len;
	for (i = 0; i < dev->num_queues; i++)
		dev->vqs[i].log = (struct vq_log *)((char *)(h + 1) + stride * i);
	ret = 0;
out_close:
	close(fd);
	return ret;
}
