/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internals shared by the library's source files and its host-side tests.
 * Nothing here is exported from libvdusekit.so (see lib/vdusekit.map).
 */
#ifndef VDK_INTERNAL_H
#define VDK_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <linux/virtio_ring.h>

#include "clock.h"
#include "macros.h"
#include "vdusekit.h"

#define VDK_EXPORT __attribute__((visibility("default")))


/* VDK_NUM_QUEUES_MAX and VDK_QUEUE_SIZE_MAX: vdusekit.h. */

/* Permission bits for IOVA regions and lookups, equal to VDUSE_ACCESS_*. */
#define VDK_PERM_RO	1	/* device may read */
#define VDK_PERM_WO	2	/* device may write */
#define VDK_PERM_RW	3

/* errors.c: thread-local last error, formatted like printf. */
__attribute__((format(printf, 2, 3)))
int vdk_set_error(int err, const char *fmt, ...);
void vdk_clear_error(void);

/*
 * One mapped IOVA range [start, last].  @va is the address of @start.
 * @map_base/@map_len are what munmap() needs.
 */
struct iova_region {
	uint64_t start;
	uint64_t last;
	uint8_t *va;
	void *map_base;
	size_t map_len;
	int perm;
};

struct iova_map;

/*
 * Called on a miss to map the region containing @iova (e.g. with
 * VDUSE_IOTLB_GET_FD + mmap) and add it with iova_map_add().  Returns 0 or
 * -errno.  Called with the map's write lock held.
 */
typedef int (*iova_miss_fn)(struct iova_map *map, uint64_t iova, void *opaque);

#define IOVA_REGIONS_MAX 256

struct iova_map {
	pthread_rwlock_t lock;
	unsigned int nr;
	struct iova_region regions[IOVA_REGIONS_MAX];
	iova_miss_fn miss;
	void *miss_opaque;
	/* Bumped whenever regions are removed, so cached pointers can check. */
	atomic_uint generation;
};

/* iova.c */
void iova_map_init(struct iova_map *map, iova_miss_fn miss, void *opaque);
void iova_map_destroy(struct iova_map *map);
/* Adds a region (write lock must be held if other threads use the map). */
int iova_map_add(struct iova_map *map, const struct iova_region *r);
/*
 * Unmaps and forgets every region overlapping [start, last].  Lookups take
 * no lock, so no queue may be translating meanwhile (stop them first).
 */
void iova_map_remove(struct iova_map *map, uint64_t start, uint64_t last);
/*
 * Translates [iova, iova + len) for access @perm.  On success returns the
 * host address and sets *@contig to the bytes available contiguously from
 * there, at most @len (callers split the rest).  Returns NULL if @iova is
 * unmapped or lacks @perm; never returns a pointer outside a region.
 */
void *iova_translate_prefix(struct iova_map *map, uint64_t iova, uint64_t len,
			    int perm, uint64_t *contig);
/* Translates the whole range, which must sit in one region; NULL otherwise. */
void *iova_translate(struct iova_map *map, uint64_t iova, uint64_t len, int perm);

/*
 * State kept in a file that outlives the process (vdk_dev_config.state_path)
 * so another process can adopt a running device: what the kernel does not
 * keep.  Header, then one struct vq_log per queue, log_stride bytes apart.
 */
#define VDK_STATE_MAGIC		0x4b534456u	/* "VDSK" */
#define VDK_STATE_VERSION	1

struct vdk_state_hdr {
	uint32_t magic;
	uint32_t version;
	char name[VDK_NAME_MAX + 1];
	uint32_t num_queues;
	uint32_t queue_size;
	uint64_t log_stride;
	/*
	 * Which kernel device this file belongs to: the inode of its
	 * /dev/vduse/NAME node, which a device created again under the same
	 * name does not share (times would not do: udev may chmod the node).
	 * Zero in files from before it was kept: not checked.
	 */
	uint64_t node_ino;
	uint64_t reserved[7];
};

/*
 * Per-queue inflight log.  @num is 0 while the queue is not running.
 * Update order (each store visible after the one before, see vq.c):
 *   pop:  inflight[head] = ++seq;  last_avail_idx++
 *   push: used elem; used->idx++;  inflight[head] = 0;  used_idx++
 * so a process that dies between any two stores leaves a state that
 * vq_log_recover() can complete.
 */
struct vq_log {
	uint32_t num;
	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint64_t seq;
	uint64_t inflight[];	/* per head: 0, or the seq of its pop */
};

/* Per-queue state.  Fields after "ring" are owned by the queue thread. */
struct vdk_vq {
	struct vdk_dev *dev;
	struct iova_map *map;
	unsigned int index;
	unsigned int max_size;
	int kick_fd;
	void *opaque;
	bool started;

	/* ring */
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_iova, avail_iova, used_iova;
	bool event_idx;
	bool indirect;

	uint16_t last_avail_idx;
	uint16_t used_idx;		/* shadow of used->idx */
	uint16_t signalled_used;	/* used idx at last interrupt */
	bool signalled_used_valid;
	unsigned int pushed_since_notify;
	unsigned int inflight;
	/* out[head] != 0 while head is popped and not pushed or freed */
	uint8_t *out;
	/* Bumped at every ring reset; a request of an older one is stale. */
	unsigned int gen;
	bool broken;
	bool kicks_enabled;		/* what the app last asked for */

	/* scratch for one walk; num entries, grows if buffers split */
	struct iovec *scratch;
	unsigned int scratch_cap;
	/* loop detection: seen[i] == stamp means descriptor i was visited */
	uint32_t *seen;
	uint32_t seen_stamp;

	/* free list of request blocks of free_size bytes */
	void *free_list;
	size_t free_size;
	unsigned int free_count;

	/* Inflight log in the state file, or NULL; see struct vq_log. */
	struct vq_log *log;
	/* Heads found in flight at recovery, popped again first, in order. */
	uint16_t *resubmit;
	unsigned int nr_resubmit;
	unsigned int resubmit_pos;

	/* How interrupts reach the driver; tests replace it. */
	int (*inject_irq)(struct vdk_vq *vq);
};

/* state.c */
/*
 * Maps the state file at cfg->state_path: a fresh one (@create) or one a
 * previous process left, checked against @cfg.  Points each queue's log
 * into it.  Returns 0 or -errno with the error set.
 */
int state_map(struct vdk_dev *dev, const struct vdk_dev_config *cfg,
	      bool create);

/*
 * The same for the state file's own stores (its creation): test builds
 * define VDK_STATE_STORE_HOOK and supply state_store_hook(), which may end
 * the process there, as a crash just before that step would.
 */
#ifdef VDK_STATE_STORE_HOOK
void state_store_hook(const char *what);
#define STATE_STORE_POINT(what) state_store_hook(what)
#else
#define STATE_STORE_POINT(what) do { } while (0)
#endif

/* vq.c */
/*
 * Crash-consistency testing: every store to the rings and the inflight log
 * goes through VQ_STORE_POINT() first.  Test builds define
 * VDK_VQ_STORE_HOOK and supply vq_store_hook(), which may snapshot the
 * shared memory there, as a process that dies just before that store
 * would leave it.
 */
#ifdef VDK_VQ_STORE_HOOK
void vq_store_hook(struct vdk_vq *vq, const char *what);
#define VQ_STORE_POINT(vq, what) vq_store_hook(vq, what)
#else
#define VQ_STORE_POINT(vq, what) do { } while (0)
#endif

/* The next request is the oldest not completed: avail and used agree. */
void vq_restart_at_used(struct vdk_vq *vq);

/*
 * Sets up @vq over rings at the given IOVAs, translating through @map.
 * Returns 0, or -EINVAL (with the error set) if the rings are not mapped
 * or @num is not a power of two within max_size.
 */
int vq_init_rings(struct vdk_vq *vq, struct iova_map *map, unsigned int num,
		  uint64_t desc_iova, uint64_t avail_iova, uint64_t used_iova,
		  uint16_t last_avail_idx, uint64_t features);
/* Forgets ring pointers, frees scratch and cached request blocks. */
void vq_reset_rings(struct vdk_vq *vq);
/* Bytes of one queue's log for rings of up to @max_size entries. */
size_t vq_log_size(unsigned int max_size);
/* Starts a fresh log for the rings just set up (nothing in flight). */
void vq_log_start(struct vdk_vq *vq);
/* Marks the log "not running" (device reset). */
void vq_log_clear(struct vdk_vq *vq);
/*
 * After vq_init_rings() on rings a dead process served: completes the
 * log's last update, restores last_avail_idx and used_idx, and queues the
 * requests that were in flight to be popped again, oldest first.  Returns
 * 0, or -EINVAL if the log does not fit the rings (nothing restored).
 */
int vq_log_recover(struct vdk_vq *vq);

/* vdpa.c */
/* True if a vdpa device named @name exists (i.e. the device is attached). */
bool vdpa_dev_exists(const char *name);
/* Removes vdpa device @name if present; 0 if it was not there. */
int vdpa_detach_by_name(const char *name);

struct vdk_dev {
	char name[VDK_NAME_MAX + 1];
	int ctl_fd;		/* /dev/vduse/control, -1 when not needed */
	int fd;			/* /dev/vduse/NAME */
	struct vdk_dev_ops ops;
	void *opaque;
	uint32_t device_id;
	uint64_t features;	/* offered */
	uint32_t flags;		/* VDK_DEV_* of its config */
	uint64_t driver_features;
	uint8_t status;
	unsigned int num_queues;
	unsigned int queue_size;
	uint32_t config_size;
	bool attached;
	/* The state file (see struct vdk_state_hdr), or NULL. */
	struct vdk_state_hdr *state;
	size_t state_len;
	struct iova_map map;
	struct vdk_vq *vqs;
};

#endif /* VDK_INTERNAL_H */
