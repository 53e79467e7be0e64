/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A vhost-user front-end: the side that owns the virtqueues and hands them
 * to a back-end process (qemu-storage-daemon, SPDK, DPDK) over a UNIX
 * socket.  Only the messages a bridge from VDUSE needs: negotiation,
 * config space, the memory table, ring set-up and tear-down, and the
 * back-end's request channel (config change).
 *
 * Conventions as libvdusekit: every call returns 0 (or a value) or a
 * negative errno, and then c->err says what went wrong in a sentence.
 * Nothing prints.  Everything the back-end sends is untrusted: every
 * reply is checked for its type, flags and exact size, descriptors it
 * passes are closed, and every wait is bounded by c->timeout_ms, after
 * which the connection counts as dead (-ETIMEDOUT).
 *
 * Thread-safety: a struct vu_conn is used by one thread at a time; the
 * caller serialises.
 */
#ifndef VDK_VHOST_USER_H
#define VDK_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Front-end requests (vhost-user.rst). */
enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SET_BACKEND_REQ_FD = 21,
	VU_GET_CONFIG = 24,
	VU_GET_INFLIGHT_FD = 31,
	VU_SET_INFLIGHT_FD = 32,
};

/* Back-end requests on the request channel. */
#define VU_BACKEND_CONFIG_CHANGE	2

/* Protocol feature bits. */
#define VU_PF_MQ		0
#define VU_PF_REPLY_ACK		3
#define VU_PF_BACKEND_REQ	5
#define VU_PF_CONFIG		9
#define VU_PF_INFLIGHT_SHMFD	12

/* Virtio feature bit 30: the back-end speaks the protocol features. */
#define VU_F_PROTOCOL_FEATURES	30

/* Most memory regions a SET_MEM_TABLE carries. */
#define VU_MEM_REGIONS_MAX	8
/* Largest config space we ask for (the kernel's VDUSE limit is 4096). */
#define VU_CONFIG_MAX		256

struct vu_conn {
	int fd;				/* the socket, -1 when closed */
	int req_fd;			/* our end of the request channel, or -1 */
	int timeout_ms;			/* per exchange; 0 means 5000 */
	uint64_t features;		/* what the back-end offers */
	uint64_t protocol;		/* protocol features in use */
	uint32_t queue_num;		/* GET_QUEUE_NUM, or 0 without MQ */
	char err[256];
};

struct vu_region {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr;
	uint64_t mmap_offset;
};

struct vu_vring_addr {
	uint64_t desc, used, avail;	/* user addresses */
};

/* Puts @c in the closed state. */
void vu_init(struct vu_conn *c);
/* Closes the socket and the request channel; @c can connect again. */
void vu_close(struct vu_conn *c);
/* Connects to the back-end's socket at @path. */
int vu_connect(struct vu_conn *c, const char *path);
/* Takes over a connected socket (tests, or a listening front-end). */
void vu_attach_fd(struct vu_conn *c, int fd);
/*
 * SET_OWNER, features, protocol features (the offered ones among
 * @want_protocol), the queue count, and the request channel when
 * BACKEND_REQ is in use.  The back-end must offer VU_F_PROTOCOL_FEATURES.
 */
int vu_negotiate(struct vu_conn *c, uint64_t want_protocol);
/* Reads @size bytes of config space from offset 0 (needs PF_CONFIG). */
int vu_get_config(struct vu_conn *c, void *buf, uint32_t size);
int vu_set_features(struct vu_conn *c, uint64_t features);
/* @fds[i] backs @regions[i]; the descriptors stay the caller's. */
int vu_set_mem_table(struct vu_conn *c, const struct vu_region *regions,
		     const int *fds, unsigned int n);
int vu_set_vring_num(struct vu_conn *c, unsigned int index, unsigned int num);
int vu_set_vring_base(struct vu_conn *c, unsigned int index, unsigned int base);
int vu_set_vring_addr(struct vu_conn *c, unsigned int index,
		      const struct vu_vring_addr *a);
/* The eventfds are passed as they are; they stay the caller's. */
int vu_set_vring_kick(struct vu_conn *c, unsigned int index, int fd);
int vu_set_vring_call(struct vu_conn *c, unsigned int index, int fd);
int vu_set_vring_enable(struct vu_conn *c, unsigned int index, bool enable);
/* Stops ring @index; *@base is the next avail index it would have read. */
int vu_get_vring_base(struct vu_conn *c, unsigned int index, unsigned int *base);
/*
 * The back-end's record of requests in flight (INFLIGHT_SHMFD): shared
 * memory it fills and a new back-end process reads to resubmit them.
 * The front-end only keeps the descriptor and passes it on.
 */
struct vu_inflight {
	int fd;
	uint64_t size, offset;
	uint16_t num_queues, queue_size;
};
/* Asks the back-end for the area (once per device start); *@in owns the fd. */
int vu_get_inflight_fd(struct vu_conn *c, unsigned int num_queues,
		       unsigned int queue_size, struct vu_inflight *in);
/* Hands the area to a (new) back-end before its rings; the fd stays ours. */
int vu_set_inflight_fd(struct vu_conn *c, const struct vu_inflight *in);
/*
 * Reads one message of the back-end's request channel without waiting
 * long: its type in *@req (0 if nothing was there), acknowledged when the
 * back-end asked.  -EPIPE when the channel closed.
 */
int vu_backend_request(struct vu_conn *c, uint32_t *req);
/* True if the back-end closed the socket or it failed (no waiting). */
bool vu_hung_up(struct vu_conn *c);

#endif /* VDK_VHOST_USER_H */
