/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vduse-blk: shared declarations of the command's source files.
 *
 *   main.c        subcommand dispatch
 *   vduse-blk.c   command line: add, recover, upgrade; messages
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
#include <stdio.h>
#include <sys/types.h>

#include "backend.h"
#include "blk.h"
#include "vdusekit.h"

#define PROG "vduse-blk"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif
#define RUN_DIR "/run/vduse-blk"
/* The longest name whose RUN_DIR/NAME.sock fits in a sockaddr_un. */
#define NAME_SOCK_MAX ((size_t)(108 /* sun_path */ - sizeof(RUN_DIR "/.sock")))

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
	const char *user;		/* run as; NULL: vduse, else nobody */
	char name_buf[VDK_NAME_MAX + 1];
	char backend_buf[4096];
	char serial_buf[32];
	char user_buf[64];
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

	/* The root process that attaches, detaches and destroys (daemon.c). */
	pid_t keeper_pid;
	int keeper_fd, keeper_reply_fd;	/* requests to it, answers; -1 if none */

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
/*
 * Makes sure the calling thread holds no capability and cannot gain any;
 * every thread calls it as it starts.  (The process dropped its user and
 * capabilities before its first thread started.)
 */
void drop_privileges(void);
/*
 * Whom the daemon runs as: @user, or NULL for the default "vduse".  0, or
 * 1 with @why saying that nobody (65534) stands in for a missing "vduse",
 * or -errno with @why saying why not (no such user, or root).
 */
int resolve_user(const char *user, uid_t *uid, gid_t *gid, char *why, size_t len);
/*
 * Grows the device to @size bytes and tells the driver; 0, or -errno with
 * blk_last_error() saying why.
 */
int daemon_set_capacity(struct daemon *d, uint64_t size);
/* RUN_DIR/NAME.EXT; 0, or -ENAMETOOLONG if it does not fit in @len. */
int run_path(const char *name, const char *ext, char *buf, size_t len);
/* Reads the settings `add` saved for @name; 0 or -errno. */
int load_conf(const char *name, struct add_opts *o);
/* The settings file's format, written to and read from a stream. */
int conf_write(FILE *f, const struct add_opts *o);
int conf_read(FILE *f, const char *name, struct add_opts *o);
void remove_run_files(const char *name);
/* Starts a daemon for @o (fork unless foreground) and reports like add. */
int start_daemon(struct add_opts *o, enum daemon_mode mode);

/* ctl.c */
int ctl_listen(struct daemon *d);
void ctl_close(struct daemon *d);
/* Handles one connection on the listening socket. */
void ctl_accept(struct daemon *d);
/* How long a client may take to send its request line, in all. */
#define CTL_REQUEST_MS 2000
/* The answer to one request line, malloc'ed (NULL if out of memory). */
char *ctl_answer(struct daemon *d, const char *request, size_t *len);
/*
 * Reads one request line from @fd into @buf within @timeout_ms in all,
 * however the client spreads its bytes; false if time ran out.
 */
bool read_request(int fd, char *buf, size_t len, int timeout_ms);
/*
 * Sends @request to the daemon of device @name and reads its one-line
 * answer into @buf.  -ENOENT if it has no daemon, -ENAMETOOLONG if the
 * name is too long to have a control socket.
 */
int ctl_request(const char *name, const char *request, char *buf, size_t len);
/*
 * The control socket's path: 0, or -ENAMETOOLONG if it would not fit in
 * @len or in a sockaddr_un (@buf is then empty, never a cut path).
 */
int ctl_sock_path(const char *name, char *buf, size_t len);
/* Writes @s to @f as a JSON string, quotes included. */
void json_print_str(FILE *f, const char *s);
/* Reads up to the first newline (or EOF) into @buf, NUL-terminated. */
size_t read_line(int fd, char *buf, size_t len);

/* cmds.c */
/* One `list` entry for a device no daemon answers for. */
void list_orphan(FILE *out, const char *name, const char *node, bool json,
		 bool first);
int cmd_list(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);

/* vduse-blk.c */
void usage(FILE *out);
int cmd_add(int argc, char **argv);
/* Checks what every privileged subcommand needs; prints why not. */
bool check_root(const char *what);
bool device_exists(const char *name);
/* Reads "pid": N out of an info reply; 0 if absent. */
pid_t reply_pid(const char *reply);

#endif /* VDUSE_BLK_H */
