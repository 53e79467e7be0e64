/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdusekit: be a virtio device for the Linux kernel through VDUSE.
 *
 * Conventions for the whole API:
 * - Functions that act return 0 (or a count) on success and a negative errno
 *   on failure; they never set errno.  When a call fails, vdk_last_error()
 *   returns a sentence saying what went wrong and, where known, how to fix it.
 * - The library owns no threads and prints nothing.  The application polls
 *   the descriptors it exposes (vdk_dev_fd(), vdk_vq_kick_fd()) and calls the
 *   step functions (vdk_dev_process(), vdk_vq_pop(), ...) from its own loop.
 * - Thread-safety: a struct vdk_dev is driven by one thread (the "control
 *   thread") at a time.  Each struct vdk_vq may be served by its own thread
 *   ("queue thread"); calls on different queues may run concurrently with each
 *   other and with the control thread, except where a function says otherwise.
 */
#ifndef VDUSEKIT_H
#define VDUSEKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VDUSEKIT_VERSION_MAJOR 0
#define VDUSEKIT_VERSION_MINOR 2

/* Longest device name the kernel accepts, without the terminating NUL. */
#define VDK_NAME_MAX 255

/*
 * The limits of a device the library serves: queues (the kernel's vq_num
 * limit) and entries per queue (which also bounds every descriptor walk).
 */
#define VDK_NUM_QUEUES_MAX	0xffff
#define VDK_QUEUE_SIZE_MAX	32768

/* Generic virtio feature bits the library implements itself. */
#define VDK_F_INDIRECT_DESC	28
#define VDK_F_EVENT_IDX		29
#define VDK_F_VERSION_1		32
#define VDK_F_ACCESS_PLATFORM	33

/* Opaque handles. */
struct vdk_dev;
struct vdk_vq;

/**
 * struct vdk_req - one request popped from a virtqueue.
 * @head: index of the chain's head descriptor; identifies the request.
 * @out_num: number of device-readable segments; they come first in @iov.
 * @in_num: number of device-writable segments; they follow the readable ones.
 * @iov: the segments, pointing straight into mapped driver memory.
 *
 * The library allocates a request with vdk_vq_pop() at the size the caller
 * asks for, so an application embeds this struct as the first member of its
 * own request struct.  The request is owned by the caller until it is handed
 * back with vdk_vq_push() or vdk_req_free().  @iov stays valid until then,
 * unless the queue is stopped (see vdk_dev_ops.queue_stop).
 */
struct vdk_req {
	uint16_t head;
	uint16_t out_num;
	uint16_t in_num;
	uint16_t flags;		/* reserved for the library, do not touch */
	uint32_t in_bytes;	/* total length of the writable segments */
	uint32_t out_bytes;	/* total length of the readable segments */
	struct iovec *iov;
};

/**
 * struct vdk_dev_ops - callbacks from the library to the device model.
 *
 * All of them run on the control thread, inside vdk_dev_process(), while the
 * kernel waits for the answer: they must return promptly (the kernel marks the
 * device broken for good if a control message is not answered within its
 * msg_timeout, 30 s by default).  Every member may be NULL.
 */
struct vdk_dev_ops {
	/*
	 * The driver set FEATURES_OK with @features.  Return 0 to accept, or a
	 * negative errno to refuse (the driver then sees the device fail).
	 */
	int (*features_ok)(struct vdk_dev *dev, uint64_t features);
	/*
	 * The driver set DRIVER_OK (or the memory map changed) and @vq is ready:
	 * its rings are mapped and its kick fd is live.  Start serving it.
	 */
	void (*queue_start)(struct vdk_dev *dev, struct vdk_vq *vq);
	/*
	 * @vq is about to lose its rings (device reset, detach, or a new
	 * memory map).  Before returning, stop calling into @vq and complete
	 * (vdk_vq_push) or drop (vdk_req_free) every request popped from it.
	 */
	void (*queue_stop)(struct vdk_dev *dev, struct vdk_vq *vq);
	/* Informational: the driver wrote device status @status. */
	void (*status_changed)(struct vdk_dev *dev, uint8_t status);
};

/**
 * struct vdk_dev_config - what vdk_dev_create() makes.
 * @name: device name, 1..VDK_NAME_MAX bytes, no '/', not "." or "..", not
 *	  a per-queue sysfs name ("vq" followed by digits).  Becomes
 *	  /dev/vduse/NAME and the vdpa device name.
 * @device_id: virtio device id (2 = block).
 * @vendor_id: virtio vendor id, 0 is fine.
 * @features: device feature bits.  The library adds VERSION_1,
 *	      ACCESS_PLATFORM, EVENT_IDX and INDIRECT_DESC itself.
 * @num_queues: number of virtqueues, at least 1.
 * @queue_size: maximum size of each queue, a power of two, 2..32768.
 * @config: device config space, copied; @config_size bytes (<= 4096).
 * @ops: callbacks, may be NULL; must outlive the device.
 * @opaque: returned by vdk_dev_opaque().
 * @flags: VDK_DEV_* bits below, 0 for the usual device.
 * @state_path: NULL, or a file (on tmpfs, e.g. under /run) where the library
 *	  keeps what the kernel does not: per queue, the position in the ring
 *	  and the requests in flight.  With it, another process can adopt the
 *	  device after this one dies (vdk_dev_open() + vdk_dev_resume()) and
 *	  no request is lost or completed twice.  vdk_dev_create() creates or
 *	  truncates it; vdk_dev_open() reads it.
 */
struct vdk_dev_config {
	const char *name;
	uint32_t device_id;
	uint32_t vendor_id;
	uint64_t features;
	uint32_t num_queues;
	uint32_t queue_size;
	const void *config;
	uint32_t config_size;
	const struct vdk_dev_ops *ops;
	void *opaque;
	const char *state_path;
	uint32_t flags;
};

/*
 * Another process walks the rings (a vhost-user back-end the application
 * hands them to, see vdk_vq_rings()).  So the device offers exactly
 * @features (plus ACCESS_PLATFORM, which VDUSE requires): only what that
 * walker implements; vdk_vq_pop() and vdk_vq_push() are not used and the
 * state file keeps no requests in flight; and a queue adopted by
 * vdk_dev_resume() starts again at its used index (vdk_vq_rings()'s
 * avail_base), the oldest request not completed if completions come in
 * order.
 */
#define VDK_DEV_RINGS_ELSEWHERE	(1U << 0)

/* Which vdpa bus driver consumes the device once attached. */
enum vdk_bus {
	VDK_BUS_VIRTIO = 0,	/* virtio_vdpa: a host kernel device, e.g. /dev/vdX */
	VDK_BUS_VHOST = 1,	/* vhost_vdpa: /dev/vhost-vdpa-N for a VMM */
};

/**
 * vdk_last_error() - why the last failing call on this thread failed.
 *
 * Returns a NUL-terminated sentence owned by the library, valid until the
 * next vdk_ call on the same thread; "" if nothing failed yet.
 */
const char *vdk_last_error(void);

/**
 * vdk_name_check() - is @name acceptable as a device name?
 *
 * Returns 0, or -EINVAL with vdk_last_error() naming the problem.
 */
int vdk_name_check(const char *name);

/**
 * vdk_dev_create() - create a VDUSE device and open it.
 *
 * Opens /dev/vduse/control, sets the API version explicitly, creates the
 * device, sets up every queue and opens /dev/vduse/NAME.  The device is not
 * attached yet (see vdk_dev_attach()).  On success *@devp is a new handle the
 * caller releases with vdk_dev_destroy() or vdk_dev_close().
 * Returns -EEXIST if a device of that name exists (vdk_dev_open() adopts it).
 */
int vdk_dev_create(const struct vdk_dev_config *cfg, struct vdk_dev **devp);

/**
 * vdk_dev_open() - adopt an existing device, e.g. after its daemon died.
 *
 * @cfg gives the ops, opaque pointer and the queue count and size expected;
 * name must match an existing device.  Returns -ENOENT if there is none and
 * -EBUSY if another process has it open.
 */
int vdk_dev_open(const struct vdk_dev_config *cfg, struct vdk_dev **devp);

/**
 * vdk_dev_resume() - carry on serving an adopted device where it stood.
 *
 * After vdk_dev_open() of a device whose driver is running: asks the kernel
 * for the negotiated features (calling ops.features_ok) and each queue's
 * rings, restores each queue from the state file, and starts the queues
 * (ops.queue_start).  Requests the previous process had in flight are
 * popped again first, oldest first; an interrupt is sent so the driver
 * looks at anything completed but not signalled.  Returns the number of
 * queues started (0 if the driver has not started the device), -ENOENT
 * without a state file, or -EINVAL if the state does not match the rings.
 * Call it on the control thread, before serving vdk_dev_fd().
 */
int vdk_dev_resume(struct vdk_dev *dev);

/**
 * vdk_dev_close() - release the handle but leave the kernel device in place.
 *
 * Queues must have been stopped by the application.  The device keeps its
 * /dev node; another process may adopt it with vdk_dev_open().
 */
void vdk_dev_close(struct vdk_dev *dev);

/**
 * vdk_dev_destroy() - detach if attached, close, and destroy the device.
 *
 * Always releases @dev.  Returns 0, or -EBUSY if the kernel still holds the
 * device (e.g. another opener); the handle is released either way.
 * Detaching needs the control loop (see vdk_dev_detach()), but no other
 * thread may use @dev once this releases it: so call vdk_dev_detach() first
 * while the control thread runs, stop that thread, then destroy.
 */
int vdk_dev_destroy(struct vdk_dev *dev);

/**
 * vdk_dev_destroy_by_name() - destroy a device that no handle holds.
 *
 * For cleaning up after a daemon that died: detaches it from the vdpa bus if
 * needed, then destroys it.  Returns -ENOENT if there is no such device.
 */
int vdk_dev_destroy_by_name(const char *name);

/** vdk_dev_fd() - the control descriptor; poll it for POLLIN. */
int vdk_dev_fd(const struct vdk_dev *dev);

/**
 * vdk_dev_process() - read and answer every pending control message.
 *
 * Never blocks.  Calls the vdk_dev_ops callbacks.  Returns the number of
 * messages handled (0 if none were pending), or a negative errno: -EPIPE if
 * the kernel marked the device broken, which is final.
 */
int vdk_dev_process(struct vdk_dev *dev);

/**
 * vdk_dev_attach() - add the device to the vdpa bus and bind @bus's driver.
 *
 * Blocks until the bus driver is bound and has made what fits the device
 * (up to 10 s).  The driver talks to the device while probing, so another
 * thread must be calling vdk_dev_process() meanwhile.  On success writes
 * to @node (size @len) what the device became: with VDK_BUS_VHOST the
 * node "/dev/vhost-vdpa-N"; with VDK_BUS_VIRTIO the block node "/dev/vdX"
 * for a block device, the interface name ("eth1") for a network device,
 * and "" for other kinds, which succeed as soon as the driver is bound.
 *
 * Side effects a caller should know: the bind runs in a short-lived child
 * process (fork), so that a caller killed while the kernel probes holds
 * nothing the kernel waits for; and the bus-wide
 * /sys/bus/vdpa/drivers_autoprobe is set to 0 for the moment between
 * creating the vdpa device and choosing its driver, then restored
 * (serialised within the process, not against other processes).
 * Needs CAP_NET_ADMIN and the vdpa and bus driver modules.  Control thread.
 */
int vdk_dev_attach(struct vdk_dev *dev, enum vdk_bus bus, char *node, size_t len);

/**
 * vdk_dev_detach() - remove the device from the vdpa bus.
 *
 * The driver resets the device while detaching, so (as for attach) another
 * thread must keep calling vdk_dev_process().  The removal runs in a
 * child process too (see vdk_dev_attach()).  0 if it was not attached.
 */
int vdk_dev_detach(struct vdk_dev *dev);

/**
 * vdk_dev_node() - find the node of the device named @name, if attached.
 *
 * Writes what vdk_dev_attach() reports ("/dev/vdX", an interface name,
 * "/dev/vhost-vdpa-N", or "" for a kind with no node) to @node.  -ENOENT
 * if the device does not exist or is not attached.  Does not need a
 * handle.  Any thread.
 */
int vdk_dev_node(const char *name, char *node, size_t len);

/**
 * vdk_dev_set_config() - update @len bytes of config space at @offset.
 *
 * With @notify, also sends a config-change interrupt (only delivered once
 * the driver is running; otherwise the update is silent).
 */
int vdk_dev_set_config(struct vdk_dev *dev, uint32_t offset, const void *buf,
		       uint32_t len, bool notify);

/** vdk_dev_name() - the device name; owned by @dev. */
const char *vdk_dev_name(const struct vdk_dev *dev);

/** vdk_dev_opaque() - the opaque pointer given in the config. */
void *vdk_dev_opaque(const struct vdk_dev *dev);

/** vdk_dev_features() - features the driver accepted; 0 before FEATURES_OK. */
uint64_t vdk_dev_features(const struct vdk_dev *dev);

/** vdk_dev_status() - the device status the driver last set. */
uint8_t vdk_dev_status(const struct vdk_dev *dev);

/** vdk_dev_num_queues() - number of queues. */
unsigned int vdk_dev_num_queues(const struct vdk_dev *dev);

/** vdk_dev_vq() - queue @index, or NULL if out of range.  Owned by @dev. */
struct vdk_vq *vdk_dev_vq(struct vdk_dev *dev, unsigned int index);

/** vdk_vq_index() - the queue's index. */
unsigned int vdk_vq_index(const struct vdk_vq *vq);

/** vdk_vq_size() - the ring size the driver chose, 0 while stopped. */
unsigned int vdk_vq_size(const struct vdk_vq *vq);

/**
 * vdk_vq_kick_fd() - the queue's kick eventfd; poll it for POLLIN.
 *
 * Valid from queue_start until queue_stop.  Reading it is the caller's job
 * (or call vdk_vq_kick_clear()).
 */
int vdk_vq_kick_fd(const struct vdk_vq *vq);

/** vdk_vq_kick_clear() - consume pending kicks on the kick eventfd. */
void vdk_vq_kick_clear(struct vdk_vq *vq);

/** vdk_vq_opaque(), vdk_vq_set_opaque() - one pointer for the application. */
void *vdk_vq_opaque(const struct vdk_vq *vq);
void vdk_vq_set_opaque(struct vdk_vq *vq, void *opaque);

/**
 * vdk_vq_pop() - take the next available request.
 * @size: bytes to allocate, at least sizeof(struct vdk_req); struct vdk_req
 *	  is the first member of the caller's struct.
 *
 * Returns 0 with *@reqp set, -EAGAIN if the ring is empty, or -EIO if the
 * driver put something malformed in the ring (a loop, a chain longer than
 * the queue, a bad address, ...): the queue is then broken and pops keep
 * failing until the driver resets the device; vdk_last_error() says what was
 * wrong.  -ENOMEM if the request could not be allocated.  Only the queue's
 * thread may call it.
 */
int vdk_vq_pop(struct vdk_vq *vq, size_t size, struct vdk_req **reqp);

/**
 * vdk_vq_push() - complete @req, telling the driver @len bytes were written.
 *
 * Frees @req.  The driver is not interrupted until vdk_vq_notify(), so many
 * pushes can share one interrupt.  @len is clamped to req->in_bytes.
 */
void vdk_vq_push(struct vdk_vq *vq, struct vdk_req *req, uint32_t len);

/** vdk_req_free() - drop @req without completing it. */
void vdk_req_free(struct vdk_vq *vq, struct vdk_req *req);

/**
 * vdk_vq_notify() - interrupt the driver if pushes since the last call need it.
 *
 * Honours VRING_AVAIL_F_NO_INTERRUPT and, when negotiated, EVENT_IDX.
 * Returns 1 if an interrupt was sent, 0 if suppressed, or a negative errno.
 */
int vdk_vq_notify(struct vdk_vq *vq);

/**
 * vdk_vq_enable_kicks() - tell the driver whether we want kicks.
 *
 * A queue thread that is about to sleep calls it with true and then pops
 * once more (a request may have arrived in between); while busy it may
 * call it with false to save the driver's notifications.  Returns true if
 * the ring has requests available right now.
 */
bool vdk_vq_enable_kicks(struct vdk_vq *vq, bool enable);

/** vdk_vq_broken() - true once the driver's ring was found malformed. */
bool vdk_vq_broken(const struct vdk_vq *vq);

/** vdk_vq_inflight() - requests popped and not yet pushed or freed. */
unsigned int vdk_vq_inflight(const struct vdk_vq *vq);

/* ---- Handing the rings to another process (since 0.2) ---- */

/**
 * struct vdk_vq_rings - where a started queue's rings are.
 * @num: ring size.  @desc, @avail, @used: IOVAs of the three parts (split
 * layout).  @avail_base: the avail index the device starts from.
 */
struct vdk_vq_rings {
	uint32_t num;
	uint16_t avail_base;
	uint64_t desc, avail, used;
};

/**
 * vdk_vq_rings() - the rings of @vq, valid from queue_start until
 * queue_stop; -ENODEV while the queue is stopped.  Any thread.
 */
int vdk_vq_rings(const struct vdk_vq *vq, struct vdk_vq_rings *rings);

/**
 * vdk_vq_ring_indices() - the driver's avail index and the device's used
 * index, read from the rings now (for statistics of a queue that another
 * process serves).  -ENODEV while the queue is stopped.  Any thread.
 */
int vdk_vq_ring_indices(const struct vdk_vq *vq, uint16_t *avail_idx,
			uint16_t *used_idx);

/**
 * vdk_vq_interrupt() - interrupt the driver of @vq now, unconditionally
 * (the ring walker that completed requests decided it was wanted).
 * 0 or -errno.  Any thread.
 */
int vdk_vq_interrupt(struct vdk_vq *vq);

/**
 * vdk_vq_restart_at_used() - take back a ring another process walked.
 * For a device with VDK_DEV_RINGS_ELSEWHERE whose walker is gone: the
 * next vdk_vq_pop() reads the oldest request not completed (the used
 * index; exact if the walker completed in order), so that the
 * application can answer what it left.  Only the queue's thread.
 */
void vdk_vq_restart_at_used(struct vdk_vq *vq);

/**
 * vdk_dev_iova_fd() - the file behind IOVA @iova of a device attached to
 * virtio_vdpa, for another process to map.  Returns a new descriptor the
 * caller owns (close it), with the IOTLB entry's first and last IOVA and
 * the file offset of the first in *@start, *@last and *@offset.  With
 * virtio_vdpa the bounce buffer and the rings share one file whose offset
 * equals the IOVA.  -EFAULT if nothing is mapped at @iova.  Any thread.
 */
int vdk_dev_iova_fd(struct vdk_dev *dev, uint64_t iova, uint64_t *start,
		    uint64_t *last, uint64_t *offset);

#ifdef __cplusplus
}
#endif

#endif /* VDUSEKIT_H */
