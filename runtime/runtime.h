/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon runtime: what every VDUSE device served by a program of this
 * project needs, whatever kind of device it is.  One section per file:
 *
 *   util.c        messages with the program's name, the daemon's log,
 *                 run paths under RUN_DIR, JSON text, line reading
 *   conf.c        the settings file RUN_DIR/NAME.conf (key=value)
 *   privs.c       whom the daemon runs as; dropping user and capabilities
 *   queue.c       one thread per virtqueue, each with its own io_uring
 *   daemon.c      device lifecycle, keeper process, control thread,
 *                 signals, handover; starting a daemon for a command
 *   ctl-server.c  the control socket RUN_DIR/NAME.sock, daemon side
 *   ctl-client.c  the same socket, command side
 *
 * Calls go one way: commands -> device model -> runtime -> libvdusekit.
 * The runtime reaches a device model only through the callbacks of its
 * struct device_model and struct model_queue_ops (both below), never by
 * name, so that a new kind of device is one model file on this runtime
 * (see docs/architecture.md).  Within the runtime, daemon.c calls
 * ctl-server.c and queue.c, and everything may call util.c, conf.c and
 * privs.c, which call nothing of the runtime but util.c.
 */
#ifndef VDK_RUNTIME_H
#define VDK_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"
#include "macros.h"
#include "vdusekit.h"

struct io_uring;
struct io_uring_cqe;

/*
 * One folder for the files of every device a daemon serves, of any kind:
 * VDUSE device names are unique system-wide, so NAME.* cannot collide.
 */
#define RUN_DIR "/run/vduse-blk"
/* The longest name whose RUN_DIR/NAME.sock fits in a sockaddr_un. */
#define NAME_SOCK_MAX ((size_t)(108 /* sun_path */ - sizeof(RUN_DIR "/.sock")))

struct device_model;
struct daemon;

/* ---- util.c ---- */

/*
 * Messages for the user (msg_err, msg_info, with the prefix main() sets)
 * and the daemon's log (msg_log) come from common/log.h.  The daemon's
 * sink: one dated line per message on stderr (the log file of a background
 * daemon), naming the device set with log_set_name().
 */
void log_set_name(const char *name);	/* NULL: "-" */
void log_line(enum msg_level level, const char *msg);

/* A growable text buffer; on allocation failure it just stops growing. */
struct out {
	char *buf;
	size_t len, cap;
};
__attribute__((format(printf, 2, 3)))
void out_printf(struct out *o, const char *fmt, ...);
/* Writes @s as a JSON string, quotes included. */
void out_json_str(struct out *o, const char *s);
/* Writes @s to @f as a JSON string, quotes included. */
void json_print_str(FILE *f, const char *s);

/* RUN_DIR/NAME.EXT; 0, or -ENAMETOOLONG if it does not fit in @len. */
int run_path(const char *name, const char *ext, char *buf, size_t len);
/* Creates RUN_DIR, root-only; 0 or -errno. */
int make_run_dir(void);
/* Forgets the files of a device that is gone. */
void remove_run_files(const char *name);
/*
 * The control socket's path: 0, or -ENAMETOOLONG if it would not fit in
 * @len or in a sockaddr_un (@buf is then empty, never a cut path).
 */
int ctl_sock_path(const char *name, char *buf, size_t len);
/* True if a VDUSE device named @name exists. */
bool device_exists(const char *name);
/* Checks what every privileged subcommand needs; prints why not. */
bool check_root(const char *what);
/* Reads up to the first newline (or EOF) into @buf, NUL-terminated. */
size_t read_line(int fd, char *buf, size_t len);

/* ---- conf.c ---- */

/* What a daemon is asked to run, whatever the kind of device. */
struct dev_opts {
	const char *name;		/* NULL: the command picks one */
	bool vhost;			/* vhost_vdpa instead of virtio_vdpa */
	bool foreground;
	bool adopt;			/* take NAME over if it exists */
	bool force;			/* DAEMON_CLEANUP: fail what is in flight at once */
	/*
	 * The kernel's wait for an answer to a control message, in seconds,
	 * set on the device before it is attached; 0 leaves it as it is.
	 */
	uint32_t msg_timeout_s;
	const char *user;		/* run as; NULL: vduse, else nobody */
	const struct device_model *model;
	void *model_opts;		/* the model's own options */
	char name_buf[VDK_NAME_MAX + 1];
	char user_buf[64];
};

/*
 * msg_timeout for a device added without --msg-timeout.  A control message
 * the kernel sends while no daemon runs (a driver reset, an unbind, `vdpa
 * dev del`) waits this long and then breaks the device for good.  The
 * kernel's own 30 s is short of a systemd restart whose backend takes its
 * full connect time (an NBD server: 10 s a try) more than twice.  Two
 * minutes cover several such tries and an operator's recover, while a
 * driver operation that meets a dead daemon still ends in bounded time.
 */
#define MSG_TIMEOUT_DEFAULT_S	120
#define MSG_TIMEOUT_MAX_S	3600

/*
 * The settings file: one key=value a line, the model's keys first, then
 * the runtime's (vhost, user, msg_timeout).  Values cannot hold a newline
 * (commands refuse them); lines have no length limit.  conf_read() needs
 * @o->model and @o->model_opts set; it resets everything else.
 */
int conf_write(FILE *f, const struct dev_opts *o);
int conf_read(FILE *f, const char *name, struct dev_opts *o);
/* RUN_DIR/NAME.conf, replaced whole or not at all; 0 or -errno. */
int save_conf(const struct dev_opts *o);
/* Reads the settings `add` saved for @name; 0 or -errno. */
int load_conf(const char *name, struct dev_opts *o);
/*
 * For a model's conf_key: copies value @v into @buf, refusing (-E2BIG)
 * what does not fit rather than cutting it.
 */
int conf_copy(char *buf, size_t len, const char *v);

/* ---- privs.c ---- */

/*
 * Whom the daemon runs as: @user, or NULL for the default "vduse".  0, or
 * 1 with @why saying that nobody (65534) stands in for a missing "vduse",
 * or -errno with @why saying why not (no such user, or root).
 */
int resolve_user(const char *user, uid_t *uid, gid_t *gid, char *why, size_t len);
/*
 * Becomes @uid:@gid for good, with no supplementary group and no
 * capability; before any thread exists.  0 or -errno.
 */
int drop_to_user(uid_t uid, gid_t gid);
/*
 * Makes sure the calling thread holds no capability and cannot gain any;
 * every thread calls it as it starts.  (The process dropped its user and
 * capabilities before its first thread started.)
 */
void drop_privileges(void);
/* Keeps only the capabilities in @caps (a bit mask), for good; 0 or -errno. */
int keep_only_caps(uint64_t caps);

/* ---- queue.c ---- */

struct queue_thread;

/*
 * What a device model does on a queue thread.  Every callback runs on the
 * thread of the queue whose state @mq is, except where said otherwise.
 */
struct model_queue_ops {
	/*
	 * The model hands the rings to another process (a vhost-user
	 * back-end) in ->init and takes them back in ->fini: the thread then
	 * never watches kicks or pops, and only runs ->process when
	 * ->poll_fd is ready (the back-end's interrupt requests), and
	 * ->abort when a removal's time is up (->inflight: what the other
	 * process holds).  Of the other callbacks only init, fini, poll_fd,
	 * process, inflight and abort are called; ->poll_fd is asked again
	 * after every ->process.
	 */
	bool rings_elsewhere;
	/*
	 * Sets up the model's state of queue @index and puts it in *@mq.
	 * @ring is the thread's io_uring, which the model may use for its I/O
	 * (CQEs that are not the runtime's own go to ->cqe).  The model hands
	 * every finished request back with vdk_vq_push() and then calls
	 * queue_thread_completed(@qt).  0, or -errno with @why.
	 */
	int (*init)(void *model, struct queue_thread *qt, unsigned int index,
		    struct vdk_vq *vq, struct io_uring *ring, void **mq,
		    char *why, size_t why_len);
	/* Only once ->inflight() is 0; frees @mq. */
	void (*fini)(void *mq);
	/* Bytes to ask vdk_vq_pop() for. */
	size_t (*req_size)(void *mq);
	/* Takes a popped request; it completes now or later, exactly once. */
	void (*handle_req)(void *mq, struct vdk_req *req);
	/* Requests taken and not handed back yet. */
	uint64_t (*inflight)(void *mq);
	/*
	 * A descriptor to poll for readiness (a network connection), or -1;
	 * when it is ready ->process runs.  A queue with one also has its
	 * interrupts coalesced, since answers then come one by one.
	 */
	int (*poll_fd)(void *mq);
	void (*process)(void *mq);
	/* Once per loop turn, after a batch: send what was queued. */
	void (*unplug)(void *mq);
	/* A CQE of the ring that is not the runtime's own. */
	void (*cqe)(void *mq, const struct io_uring_cqe *cqe);
	/*
	 * Fails what is still in flight because the queue is stopping and
	 * time is up; false if the model cannot (then it waits).
	 */
	bool (*abort)(void *mq);
	/* Interrupting the driver failed with @err (-errno); for the log. */
	void (*notify_error)(void *mq, int err);
};

/* A loose rate limit of "queue broken" lines, across queue restarts. */
struct queue_break_log {
	uint64_t logged_ns;
	unsigned int suppressed;
};

/* The queue threads of one device. */
struct queue_set {
	const struct model_queue_ops *ops;
	void *model;			/* passed to ops->init */
	unsigned int nr_queues;
	unsigned int queue_size;
	struct queue_thread **queues;	/* per vq index, NULL when stopped */
	/* Protects @queues: start and stop against abort_soon. */
	pthread_mutex_t lock;
	struct queue_break_log *breaks;	/* per vq index */
};

int queue_set_init(struct queue_set *qs, const struct model_queue_ops *ops,
		   void *model, unsigned int nr_queues, unsigned int queue_size);
/* Once every queue thread has stopped. */
void queue_set_fini(struct queue_set *qs);
/* Control thread: starts and stops the thread of @vq. */
int queue_thread_start(struct queue_set *qs, struct vdk_vq *vq);
void queue_thread_stop(struct queue_set *qs, struct vdk_vq *vq);
/*
 * Requests that are still in flight 10 s from now are failed then (where
 * the model can abort them), so that a device being deleted is not held
 * up for ever by a server that is gone.  Any thread.
 */
void queue_threads_abort_soon(struct queue_set *qs);
/*
 * The same at once, for a removal the operator forced (del --force): the
 * backend is known to be gone, so waiting for it only holds the detach up.
 */
void queue_threads_abort_now(struct queue_set *qs);
/* Queue thread, from the model: one request was handed back. */
void queue_thread_completed(struct queue_thread *qt);

/* ---- daemon.c ---- */

/*
 * A kind of device, as the daemon runtime drives it.  @m is the model's
 * state of one device (from ->open), @opts its options (model_opts).
 */
struct device_model {
	const char *kind;		/* "blk", for messages */

	/* ---- command side, in the process that starts the daemon ---- */
	/*
	 * Opens what the device will serve (a backend, say) before the
	 * daemon forks, so that errors reach the user at once.  0, or -errno
	 * with @why.
	 */
	int (*open)(const void *opts, void **m, char *why, size_t why_len);
	void (*close)(void *m);
	/*
	 * NULL if the device's data outlives its daemon; else what the
	 * device was, for the message that refuses to recover it ("a RAM
	 * disk (memory:1G)"), in @buf.
	 */
	const char *(*lost_with_daemon)(const void *opts, char *buf, size_t len);
	/* The settings file (conf.c): the model's keys. */
	int (*conf_write)(FILE *f, const void *opts);
	void (*conf_reset)(void *opts);
	/* 0 if taken, 1 if not the model's key, -errno if refused. */
	int (*conf_key)(void *opts, const char *key, const char *value);
	/* After the last key: 0, or -EINVAL if a needed key was missing. */
	int (*conf_end)(void *opts);

	/* ---- daemon, main thread ---- */
	/*
	 * Builds the device: fills device_id, features, num_queues,
	 * queue_size, config and config_size of @cfg.  @d is for
	 * daemon_set_config().  0, or -errno with @why.
	 */
	int (*init)(void *m, struct daemon *d, struct vdk_dev_config *cfg,
		    char *why, size_t why_len);
	/* What is served, for the "serving NAME (...)" log line. */
	void (*describe)(void *m, char *buf, size_t len);
	/* About once a second while serving (e.g. a backend that grew). */
	void (*watch)(void *m);
	/*
	 * Control socket answers.  info: the model's keys of the info object
	 * (JSON: "key": value pairs without braces; tsv: its fields, tab
	 * separated); stats: JSON members, or the whole table as text.
	 */
	void (*info)(void *m, struct out *o, bool tsv);
	void (*stats)(void *m, struct out *o, bool text);
	/* `resize ARG`: "OK\n" or "ERR why\n" on @o; NULL if not supported. */
	void (*resize)(void *m, const char *arg, struct out *o);

	/* ---- control thread ---- */
	/* FEATURES_OK: 0, or -errno if the device cannot work with them. */
	int (*features_ok)(void *m, uint64_t features);

	/* ---- queue threads ---- */
	const struct model_queue_ops *queue_ops;
};

enum daemon_mode {
	DAEMON_ADD,			/* create, attach, serve */
	DAEMON_RECOVER,			/* adopt an existing device, serve */
	DAEMON_CLEANUP,			/* adopt, then detach and destroy */
};

/* A running device: owned by the daemon's main thread. */
struct daemon {
	const struct dev_opts *opts;
	const struct device_model *model;
	void *m;			/* the model's device */
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

	struct queue_set qs;

	/* The root process that attaches, detaches and destroys (daemon.c). */
	pid_t keeper_pid;
	int keeper_fd, keeper_reply_fd;	/* requests to it, answers; -1 if none */

	int sock_fd;			/* control socket, -1 if none */
	char sock_path[300];
	atomic_bool stopping;
	atomic_bool handover;		/* stop serving but keep the device */
	atomic_bool force;		/* stop-force: fail what is in flight at once */
};

/*
 * Starts a daemon for @o (fork unless foreground) and reports like add:
 * the node on stdout, or the error on stderr.  Returns the exit status.
 */
int start_daemon(struct dev_opts *o, enum daemon_mode mode);
/*
 * Runs the device described by @opts, whose model state @m is open, until
 * it is deleted or signalled.  @report_fd (or -1) receives "OK NODE\n" or
 * "ERR message\n" once the device is usable or has failed; with -1, the
 * node is printed on stdout.  Returns the exit status.
 */
int daemon_run(const struct dev_opts *opts, void *m, int report_fd,
	       enum daemon_mode mode);
/*
 * Main thread, from the model: changes @len bytes of config space at
 * @offset and tells the driver.  0, or -errno with vdk_last_error().
 */
int daemon_set_config(struct daemon *d, uint32_t offset, const void *buf,
		      uint32_t len);

/* ---- ctl-server.c ---- */

int ctl_listen(struct daemon *d);
void ctl_close(struct daemon *d);
/* Handles one connection on the listening socket. */
void ctl_accept(struct daemon *d);
/* How long a client may take to send its request line, in all. */
#define CTL_REQUEST_MS 2000
/* Longest request line; the rest of a longer one is not read. */
#define CTL_LINE_MAX 256
/* The answer to one request line, malloc'ed (NULL if out of memory). */
char *ctl_answer(struct daemon *d, const char *request, size_t *len);
/*
 * Reads one request line from @fd into @buf within @timeout_ms in all,
 * however the client spreads its bytes; false if time ran out.
 */
bool read_request(int fd, char *buf, size_t len, int timeout_ms);

/* ---- ctl-client.c ---- */

/*
 * Sends @request to the daemon of device @name and reads its one-line
 * answer into @buf.  -ENOENT if it has no daemon, -ENAMETOOLONG if the
 * name is too long to have a control socket.
 */
int ctl_request(const char *name, const char *request, char *buf, size_t len);
/* Reads "pid": N out of an info reply; 0 if absent. */
pid_t reply_pid(const char *reply);

#endif /* VDK_RUNTIME_H */
