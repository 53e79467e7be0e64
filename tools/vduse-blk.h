/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vduse-blk: shared declarations of the command's source files.
 *
 *   vduse-blk.c   command line, subcommand dispatch, messages
 *   daemon.c      the serving daemon: device, control thread, shutdown
 *   queue.c       one thread per virtqueue, each with its own io_uring
 *   ctl.c         the control socket under /run (server and client)
 *   cmds.c        list, del, resize, stats: clients of the control socket
 */
#ifndef VDUSE_BLK_H
#define VDUSE_BLK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "blk.h"
#include "vdusekit.h"

#define PROG "vduse-blk"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif
#define RUN_DIR "/run/vduse-blk"

/* Messages: to stderr with the program name; err() adds nothing else. */
__attribute__((format(printf, 1, 2)))
void err(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void info(const char *fmt, ...);

/* What `add` was asked for. */
struct add_opts {
	const char *name;		/* NULL: first free vduse-blkN */
	const char *backend;
	struct blk_opts blk;
	enum backend_cache cache;
	uint32_t io_timeout_s;		/* network backends; 0 = wait forever */
	bool vhost;
	bool foreground;
	bool adopt;			/* take NAME over if it exists */
	char name_buf[VDK_NAME_MAX + 1];
	char backend_buf[4096];
	char serial_buf[32];
};

enum daemon_mode {
	DAEMON_ADD,			/* create, attach, serve */
	DAEMON_RECOVER,			/* adopt an existing device, serve */
	DAEMON_CLEANUP,			/* adopt, then detach and destroy */
};

struct queue_thread;

/* A running device: owned by the daemon's main thread. */
struct daemon {
	struct add_opts *opts;
	struct backend *be;
	struct blk_dev blk;
	struct vdk_dev *dev;
	char node[64];
	pid_t pid;
	int64_t started;		/* CLOCK_REALTIME seconds */

	pthread_t ctl_thread;		/* runs vdk_dev_process() */
	int ctl_stop_fd;		/* eventfd that stops it */
	atomic_bool ctl_running;
	int ctl_status;			/* why it stopped, 0 or -errno */
	/* Serialises vdk_dev_process() with config updates from main. */
	pthread_mutex_t dev_lock;

	unsigned int nr_queues;
	struct queue_thread **queues;	/* per vq index, NULL when stopped */
	/* Protects @queues against the stats reader on the main thread. */
	pthread_mutex_t queues_lock;
	/* Counters of queues that stopped, so stats survive a reset. */
	struct blk_stats_snapshot retired[64];
	/* Rate limit of "queue broken" lines, across queue restarts. */
	struct queue_break_log {
		uint64_t logged_ns;
		unsigned int suppressed;
	} breaks[64];

	int sock_fd;			/* control socket, -1 if none */
	char sock_path[300];
	atomic_bool stopping;
	atomic_bool handover;		/* stop serving but keep the device */
	bool shrink_reported;
};

/* queue.c */
int queue_thread_start(struct daemon *d, struct vdk_vq *vq);
void queue_thread_stop(struct daemon *d, struct vdk_vq *vq);
/*
 * Requests that are still at the backend 10 s from now are failed then
 * (where the backend can abort them), so that a device being deleted is
 * not held up for ever by a server that is gone.  Any thread.
 */
void queue_threads_abort_soon(struct daemon *d);
/* Adds queue @index's counters to @snap; false if it is not running. */
bool queue_thread_stats(struct daemon *d, unsigned int index,
			struct blk_stats_snapshot *snap);

/* daemon.c */
/*
 * Runs the device described by @opts until it is deleted or signalled.
 * @report_fd (or -1) receives "OK NODE\n" or "ERR message\n" once the
 * device is usable or has failed; with -1, the node is printed on stdout.
 * Returns the exit status.
 */
int daemon_run(struct add_opts *opts, struct backend *be, int report_fd,
	       enum daemon_mode mode);
/* Keeps only CAP_NET_ADMIN and CAP_IPC_LOCK, for the calling thread. */
void drop_privileges(void);
/*
 * Grows the device to @size bytes and tells the driver; 0, or -errno with
 * blk_last_error() saying why.
 */
int daemon_set_capacity(struct daemon *d, uint64_t size);
/* RUN_DIR/NAME.EXT */
void run_path(const char *name, const char *ext, char *buf, size_t len);
/* Reads the settings `add` saved for @name; 0 or -errno. */
int load_conf(const char *name, struct add_opts *o);
void remove_run_files(const char *name);
/* Starts a daemon for @o (fork unless foreground) and reports like add. */
int start_daemon(struct add_opts *o, enum daemon_mode mode);

/* ctl.c */
int ctl_listen(struct daemon *d);
void ctl_close(struct daemon *d);
/* Handles one connection on the listening socket. */
void ctl_accept(struct daemon *d);
/*
 * Sends @request to the daemon of device @name and reads its one-line
 * answer into @buf.  -ENOENT if it has no daemon.
 */
int ctl_request(const char *name, const char *request, char *buf, size_t len);
void ctl_sock_path(const char *name, char *buf, size_t len);
/* Reads up to the first newline (or EOF) into @buf, NUL-terminated. */
size_t read_line(int fd, char *buf, size_t len);

/* cmds.c */
int cmd_list(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);

/* vduse-blk.c */
/* Checks what every privileged subcommand needs; prints why not. */
bool check_root(const char *what);
bool device_exists(const char *name);
/* Reads "pid": N out of an info reply; 0 if absent. */
pid_t reply_pid(const char *reply);

#endif /* VDUSE_BLK_H */
