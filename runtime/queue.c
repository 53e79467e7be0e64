// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One thread per virtqueue, each with its own io_uring, serving whatever
 * device model drives it through struct model_queue_ops.
 *
 * Thread model: queue_thread_start and queue_thread_stop run on the
 * control thread (the library's queue callbacks), queue_threads_abort_soon
 * and queue_threads_abort_now on any thread; everything else on the
 * queue's own thread, which also runs every model_queue_ops callback of
 * its queue.  It inherits the daemon's PR_SET_IO_FLUSHER task flags from
 * the thread that starts it (see harden_process in daemon.c).
 *
 * The ring carries everything the thread waits for: a read on the kick
 * eventfd, a read on the stop eventfd, a poll on the model's descriptor
 * (network backends), and the model's own I/O.  One loop iteration pops
 * every available request, submits all their I/O with one system call,
 * reaps every completion, and interrupts the driver once for the batch
 * (vdk_vq_notify decides whether the driver wants it at all).
 *
 * Kicks are switched off while the thread is busy and back on just before
 * it sleeps, with one more look at the ring in between, so no request can
 * slip past unseen.
 *
 * Nothing the driver or the backend does can keep the thread from
 * stopping: a batch pops at most a queue's worth of requests and looks at
 * the stop flag between requests, and requests still at the backend when
 * the queue stops (or when the device is being deleted, see
 * queue_threads_abort_soon) are failed after ABORT_GRACE_NS if the model
 * can abort them, or at once when the removal is forced
 * (queue_threads_abort_now).
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "runtime.h"

struct queue_thread {
	struct queue_set *qs;
	const struct model_queue_ops *ops;
	void *mq;			/* the model's state of this queue */
	struct vdk_vq *vq;
	unsigned int index;
	pthread_t thread;
	struct io_uring ring;
	size_t req_size;
	int stop_fd;
	atomic_bool stop;		/* set by queue_thread_stop() */
	/* Fail what the backend still holds from then on (monotonic ns). */
	_Atomic uint64_t abort_at;
	atomic_bool abort_forced;	/* del --force: for the log line */
	bool abort_logged;
	bool stop_armed;
	int start_status;		/* set before start_done is posted */
	pthread_mutex_t start_lock;
	pthread_cond_t start_cond;
	bool start_done;

	/*
	 * Long-lived SQEs carry the address of one of these tags as their
	 * user_data; every other CQE is the model's (see reap()).
	 */
	char kick_tag;
	bool kick_armed;
	bool kicked;
	char stop_tag;
	uint64_t stop_val;
	char poll_tag;
	bool poll_armed;
	bool poll_ready;
	unsigned int batch_max;		/* most requests popped per batch */

	/* Interrupt coalescing, see hold_irq() */
	bool coalesce;
	unsigned int unnotified;	/* completions since the last notify */
	uint64_t held_since;		/* 0 = no interrupt held */
};

static struct io_uring_sqe *get_sqe(struct queue_thread *qt)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&qt->ring);

	if (!sqe) {
		/* The ring is full of unsubmitted entries: push them out. */
		io_uring_submit(&qt->ring);
		sqe = io_uring_get_sqe(&qt->ring);
	}
	return sqe;
}

/*
 * Kicks arrive as a multishot poll on the kick eventfd: one CQE per kick,
 * armed once.  Not a read: the library's eventfd is non-blocking, and
 * io_uring answers a read of a non-blocking fd with -EAGAIN at once
 * instead of waiting, which turned the loop into a busy spin.  The counter
 * is cleared with a plain read only when a kick woke us, so it never grows.
 */
static void arm_kick(struct queue_thread *qt)
{
	struct io_uring_sqe *sqe;

	if (qt->kick_armed)
		return;
	sqe = get_sqe(qt);
	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, vdk_vq_kick_fd(qt->vq), POLLIN);
	io_uring_sqe_set_data(sqe, &qt->kick_tag);
	qt->kick_armed = true;
}

static void kick_done(struct queue_thread *qt, int res, uint32_t flags)
{
	/* Without F_MORE the multishot poll ended (or failed): re-arm. */
	if (!(flags & IORING_CQE_F_MORE))
		qt->kick_armed = false;
	if (res > 0)
		qt->kicked = true;
}

/*
 * The stop eventfd only wakes the thread: what it should do is in ->stop
 * and ->abort_at, set before the write.
 */
static void arm_stop(struct queue_thread *qt)
{
	struct io_uring_sqe *sqe;

	if (qt->stop_armed)
		return;
	sqe = get_sqe(qt);
	if (!sqe)
		return;
	io_uring_prep_read(sqe, qt->stop_fd, &qt->stop_val, sizeof(qt->stop_val), 0);
	io_uring_sqe_set_data(sqe, &qt->stop_tag);
	qt->stop_armed = true;
}

static void arm_poll(struct queue_thread *qt)
{
	struct io_uring_sqe *sqe;
	int fd = qt->ops->poll_fd(qt->mq);

	if (fd < 0 || qt->poll_armed)
		return;
	sqe = get_sqe(qt);
	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data(sqe, &qt->poll_tag);
	qt->poll_armed = true;
}

/*
 * Reaps every completion that is ready; returns how many.  The model's
 * callbacks may queue new SQEs, so the caller submits again afterwards.
 */
static unsigned int reap(struct queue_thread *qt)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	void *tag;

	io_uring_for_each_cqe(&qt->ring, head, cqe) {
		tag = io_uring_cqe_get_data(cqe);
		if (tag == &qt->kick_tag) {
			kick_done(qt, cqe->res, cqe->flags);
		} else if (tag == &qt->stop_tag) {
			qt->stop_armed = false;
		} else if (tag == &qt->poll_tag) {
			qt->poll_armed = false;
			qt->poll_ready = true;
		} else {
			qt->ops->cqe(qt->mq, cqe);
		}
		n++;
	}
	io_uring_cq_advance(&qt->ring, n);
	return n;
}

/*
 * A driver that breaks its ring, is reset and breaks it again would write
 * a line per cycle; the queue thread is new at each cycle, so the limit
 * lives in the queue set: the first break of a queue is logged, then at most
 * one line a minute that counts the rest.
 */
#define BREAK_LOG_NS	(60 * NSEC_PER_SEC)

static void log_break(struct queue_thread *qt)
{
	struct queue_break_log *bl = &qt->qs->breaks[qt->index];
	uint64_t now = now_ns();

	if (bl->logged_ns && now - bl->logged_ns < BREAK_LOG_NS) {
		bl->suppressed++;
		return;
	}
	/* The library's message names the queue and what happens next. */
	if (bl->suppressed)
		msg_log(MSG_ERR, "%s (%u more breaks of this queue not logged in the last %llu s)",
			vdk_last_error(), bl->suppressed,
			(unsigned long long)((now - bl->logged_ns) / NSEC_PER_SEC));
	else
		msg_log(MSG_ERR, "%s", vdk_last_error());
	bl->logged_ns = now;
	bl->suppressed = 0;
}

/*
 * Pops and hands on the available requests, at most a queue's worth (a
 * driver that keeps the ring full must not keep us here), and none once a
 * stop is asked for.  False if the ring is broken.
 */
static bool pop_all(struct queue_thread *qt, unsigned int *n)
{
	struct vdk_req *req;
	int ret;

	for (; *n < qt->batch_max; (*n)++) {
		if (atomic_load_explicit(&qt->stop, memory_order_relaxed))
			return true;
		ret = vdk_vq_pop(qt->vq, qt->req_size, &req);
		if (ret == -EAGAIN)
			return true;
		if (ret < 0) {
			log_break(qt);
			return false;
		}
		qt->ops->handle_req(qt->mq, req);
	}
	return true;
}

static void notify(struct queue_thread *qt)
{
	int ret = vdk_vq_notify(qt->vq);

	qt->unnotified = 0;
	qt->held_since = 0;
	if (ret < 0)
		qt->ops->notify_error(qt->mq, ret);
}

void queue_thread_completed(struct queue_thread *qt)
{
	qt->unnotified++;
}

/*
 * Interrupt coalescing, for backends whose answers arrive one by one from
 * a server (network backends).  There every interrupt turns into a
 * wake-up of the driver's process, which then submits a request or two,
 * one kick and one packet each: at a deep queue the daemon, the driver
 * and the server all spend their time on wake-ups, not on I/O.  So while
 * at least COALESCE_COUNT requests are still at the backend (more answers
 * are surely coming), the interrupt for fewer than COALESCE_COUNT answers
 * is held, for at most COALESCE_NS.  Measured at 4k QD32 over NBD: 1.6x
 * the IOPS and half the daemon CPU per request.  At low queue depth
 * nothing is held, so latency there is unchanged.
 */
#define COALESCE_COUNT	8
#define COALESCE_NS	300000

/* Returns the ns left to hold the interrupt for; 0 = send it now. */
static uint64_t hold_irq(struct queue_thread *qt)
{
	uint64_t now;

	if (!qt->coalesce || !qt->unnotified || qt->unnotified >= COALESCE_COUNT ||
	    qt->ops->inflight(qt->mq) < COALESCE_COUNT)
		return 0;
	now = now_ns();
	if (!qt->held_since)
		qt->held_since = now;
	if (now - qt->held_since >= COALESCE_NS)
		return 0;
	return qt->held_since + COALESCE_NS - now;
}

/* Interrupts the driver unless hold_irq() says wait; returns the wait. */
static uint64_t notify_or_hold(struct queue_thread *qt)
{
	uint64_t wait = hold_irq(qt);

	if (!wait)
		notify(qt);
	return wait;
}

/*
 * How long requests may stay at the backend once the queue is stopping or
 * the device is being deleted.  The control thread waits for the drain
 * while the kernel's message timeout (30 s by default) runs, so it must be
 * well below that; a backend that has not answered by then is not going
 * to answer in time.
 */
#define ABORT_GRACE_NS	(10 * NSEC_PER_SEC)
/* After the abort time, how often to fail what reached the backend since. */
#define ABORT_RETRY_NS	(100 * NSEC_PER_MSEC)

/* Moves the abort time to @at unless one as early is set already. */
static void abort_by(struct queue_thread *qt, uint64_t at)
{
	uint64_t cur = atomic_load(&qt->abort_at);

	if (!cur || cur > at)
		atomic_store(&qt->abort_at, at);
}

/* Fails what the backend still holds, once the abort time has come. */
static void maybe_abort(struct queue_thread *qt)
{
	uint64_t at = atomic_load(&qt->abort_at), n;

	/* Every loop turn comes here: nothing more unless a stop is on. */
	if (!at)
		return;
	n = qt->ops->inflight(qt->mq);
	if (!n || now_ns() < at)
		return;
	if (qt->ops->abort(qt->mq)) {
		/* Once: later passes fail what arrived since, as stragglers. */
		if (!qt->abort_logged)
			msg_log(MSG_ERR, "queue %u: %llu requests failed with an I/O error: %s",
				qt->index, (unsigned long long)
				(n - qt->ops->inflight(qt->mq)),
				atomic_load(&qt->abort_forced) ?
				"removal forced (del --force) while the backend had not answered them" :
				"the backend did not answer them in time while the device was stopping");
		qt->abort_logged = true;
		return;
	}
	if (!qt->abort_logged)
		msg_log(MSG_WARN, "queue %u: %llu requests are still at the backend, which cannot abort them; the device stops when they finish",
			qt->index, (unsigned long long)n);
	qt->abort_logged = true;
}

/* The longest sleep that still lets maybe_abort() run in time; 0 = any. */
static uint64_t abort_wait(struct queue_thread *qt)
{
	uint64_t at = atomic_load(&qt->abort_at), now;

	if (!at || !qt->ops->inflight(qt->mq))
		return 0;
	now = now_ns();
	return at > now ? at - now : ABORT_RETRY_NS;
}

static uint64_t min_wait(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* Sleeps until an event, or for at most @wait_ns if that is not 0. */
static void wait_events(struct queue_thread *qt, uint64_t wait_ns)
{
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;

	if (!wait_ns) {
		io_uring_submit_and_wait(&qt->ring, 1);
		return;
	}
	ts.tv_sec = wait_ns / NSEC_PER_SEC;
	ts.tv_nsec = wait_ns % NSEC_PER_SEC;
	io_uring_submit_and_wait_timeout(&qt->ring, &cqe, 1, &ts, NULL);
}

/*
 * After a small batch the driver is likely waiting for each answer (low
 * queue depth), and a sleep and wake-up costs more than the request: watch
 * the ring for a short while first.  After a large batch it is not worth a
 * CPU: measured under TCG, spinning then only slows the guest down.
 */
#define POLL_BATCH_MAX	2
#define POLL_NS		20000

/* True if a request or a completion arrived within POLL_NS. */
static bool poll_ring(struct queue_thread *qt)
{
	uint64_t end = now_ns() + POLL_NS;

	io_uring_submit(&qt->ring);
	do {
		if (vdk_vq_enable_kicks(qt->vq, false) ||
		    io_uring_cq_ready(&qt->ring))
			return true;
	} while (now_ns() < end);
	return false;
}

static void run_queue(struct queue_thread *qt)
{
	uint64_t wait;
	bool healthy = true;
	unsigned int n;

	arm_kick(qt);
	arm_poll(qt);
	while (!atomic_load(&qt->stop)) {
		arm_stop(qt);
		if (qt->kicked) {
			qt->kicked = false;
			vdk_vq_kick_clear(qt->vq);
		}
		n = 0;
		if (healthy) {
			vdk_vq_enable_kicks(qt->vq, false);
			healthy = pop_all(qt, &n);
		}
		if (qt->poll_ready) {
			qt->poll_ready = false;
			qt->ops->process(qt->mq);
			arm_poll(qt);
		}
		qt->ops->unplug(qt->mq);
		arm_kick(qt);
		wait = notify_or_hold(qt);
		/* Sleep only if the ring is still empty with kicks on. */
		if (healthy && n > 0 && n <= POLL_BATCH_MAX && poll_ring(qt))
			io_uring_submit(&qt->ring);
		else if (healthy && vdk_vq_enable_kicks(qt->vq, true))
			io_uring_submit(&qt->ring);
		else
			wait_events(qt, min_wait(wait, abort_wait(qt)));
		reap(qt);
		maybe_abort(qt);
		notify_or_hold(qt);
	}

	/*
	 * Stopping (reset, detach, new memory map): the rings are still
	 * mapped until we return, so finish what the backend holds and hand
	 * every request back before the library takes the rings away, or
	 * fail it once the backend had ABORT_GRACE_NS to answer.
	 */
	abort_by(qt, now_ns() + ABORT_GRACE_NS);
	while (qt->ops->inflight(qt->mq) > 0) {
		wait_events(qt, abort_wait(qt));
		reap(qt);
		maybe_abort(qt);
		if (qt->poll_ready) {
			qt->poll_ready = false;
			qt->ops->process(qt->mq);
			arm_poll(qt);
		}
		qt->ops->unplug(qt->mq);
	}
	notify(qt);
}

/*
 * A queue whose rings another process walks: all that is left here is to
 * turn its interrupt requests into the driver's interrupts.
 */
static void run_relay(struct queue_thread *qt)
{
	arm_poll(qt);
	while (!atomic_load(&qt->stop)) {
		arm_stop(qt);
		wait_events(qt, abort_wait(qt));
		reap(qt);
		if (qt->poll_ready) {
			qt->poll_ready = false;
			qt->ops->process(qt->mq);
			arm_poll(qt);
		}
		/* A removal while the walker is gone: the model answers for it. */
		maybe_abort(qt);
	}
}

static void start_done(struct queue_thread *qt, int status)
{
	pthread_mutex_lock(&qt->start_lock);
	qt->start_status = status;
	qt->start_done = true;
	pthread_cond_signal(&qt->start_cond);
	pthread_mutex_unlock(&qt->start_lock);
}

static void *queue_thread_fn(void *arg)
{
	struct queue_thread *qt = arg;
	struct queue_set *qs = qt->qs;
	unsigned int depth = qs->queue_size;
	char why[256];
	int ret;

	drop_privileges();
	/* Room for a full queue of I/O plus the long-lived entries. */
	ret = io_uring_queue_init(depth * 2 + 8, &qt->ring, 0);
	if (ret < 0) {
		msg_log(MSG_ERR, "queue %u: io_uring: %s", qt->index, strerror(-ret));
		start_done(qt, ret);
		return NULL;
	}
	why[0] = '\0';
	ret = qt->ops->init(qs->model, qt, qt->index, qt->vq, &qt->ring, &qt->mq,
			    why, sizeof(why));
	if (ret < 0) {
		msg_log(MSG_ERR, "queue %u: %s", qt->index, why);
		io_uring_queue_exit(&qt->ring);
		start_done(qt, ret);
		return NULL;
	}
	arm_stop(qt);
	if (qt->ops->rings_elsewhere) {
		start_done(qt, 0);
		run_relay(qt);
	} else {
		qt->req_size = qt->ops->req_size(qt->mq);
		qt->coalesce = qt->ops->poll_fd(qt->mq) >= 0;
		qt->batch_max = depth;
		start_done(qt, 0);
		run_queue(qt);
	}

	qt->ops->fini(qt->mq);
	io_uring_queue_exit(&qt->ring);
	return NULL;
}

int queue_set_init(struct queue_set *qs, const struct model_queue_ops *ops,
		   void *model, unsigned int nr_queues, unsigned int queue_size)
{
	memset(qs, 0, sizeof(*qs));
	qs->ops = ops;
	qs->model = model;
	qs->nr_queues = nr_queues;
	qs->queue_size = queue_size;
	qs->queues = calloc(nr_queues, sizeof(*qs->queues));
	qs->breaks = calloc(nr_queues, sizeof(*qs->breaks));
	if (!qs->queues || !qs->breaks) {
		free(qs->queues);
		free(qs->breaks);
		qs->queues = NULL;
		qs->breaks = NULL;
		return -ENOMEM;
	}
	pthread_mutex_init(&qs->lock, NULL);
	return 0;
}

void queue_set_fini(struct queue_set *qs)
{
	if (!qs->queues)
		return;
	free(qs->queues);
	free(qs->breaks);
	qs->queues = NULL;
	qs->breaks = NULL;
	pthread_mutex_destroy(&qs->lock);
}

int queue_thread_start(struct queue_set *qs, struct vdk_vq *vq)
{
	unsigned int index = vdk_vq_index(vq);
	struct queue_thread *qt;
	int ret;

	if (index >= qs->nr_queues)
		return -EINVAL;
	if (qs->queues[index])
		return -EBUSY;
	qt = calloc(1, sizeof(*qt));
	if (!qt)
		return -ENOMEM;
	qt->qs = qs;
	qt->ops = qs->ops;
	qt->vq = vq;
	qt->index = index;
	pthread_mutex_init(&qt->start_lock, NULL);
	pthread_cond_init(&qt->start_cond, NULL);
	qt->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (qt->stop_fd < 0) {
		ret = -errno;
		goto out_free;
	}
	ret = -pthread_create(&qt->thread, NULL, queue_thread_fn, qt);
	if (ret < 0)
		goto out_close;

	/* Wait for its setup, so a failure is reported here, not lost. */
	pthread_mutex_lock(&qt->start_lock);
	while (!qt->start_done)
		pthread_cond_wait(&qt->start_cond, &qt->start_lock);
	pthread_mutex_unlock(&qt->start_lock);
	if (qt->start_status < 0) {
		ret = qt->start_status;
		pthread_join(qt->thread, NULL);
		goto out_close;
	}
	pthread_mutex_lock(&qs->lock);
	qs->queues[index] = qt;
	pthread_mutex_unlock(&qs->lock);
	return 0;

out_close:
	close(qt->stop_fd);
out_free:
	free(qt);
	return ret;
}

void queue_thread_stop(struct queue_set *qs, struct vdk_vq *vq)
{
	unsigned int index;
	struct queue_thread *qt;
	uint64_t one = 1;

	if (!vq)
		return;
	index = vdk_vq_index(vq);
	if (index >= qs->nr_queues || !qs->queues[index])
		return;
	qt = qs->queues[index];
	atomic_store(&qt->stop, true);
	if (write(qt->stop_fd, &one, sizeof(one)) < 0)
		msg_log(MSG_WARN, "queue %u: stop: %m", index);
	pthread_join(qt->thread, NULL);

	pthread_mutex_lock(&qs->lock);
	qs->queues[index] = NULL;
	pthread_mutex_unlock(&qs->lock);

	close(qt->stop_fd);
	free(qt);
}

/* Has every queue fail what its backend holds from @at on. */
static void abort_all_by(struct queue_set *qs, uint64_t at, bool forced)
{
	struct queue_thread *qt;
	uint64_t one = 1;
	unsigned int i;

	pthread_mutex_lock(&qs->lock);
	for (i = 0; i < qs->nr_queues; i++) {
		qt = qs->queues[i];
		if (!qt)
			continue;
		if (forced)
			atomic_store(&qt->abort_forced, true);
		abort_by(qt, at);
		/* Wakes it, so that its sleep is bounded by the new time. */
		if (write(qt->stop_fd, &one, sizeof(one)) < 0)
			msg_log(MSG_WARN, "queue %u: wake: %m", i);
	}
	pthread_mutex_unlock(&qs->lock);
}

void queue_threads_abort_soon(struct queue_set *qs)
{
	abort_all_by(qs, now_ns() + ABORT_GRACE_NS, false);
}

void queue_threads_abort_now(struct queue_set *qs)
{
	abort_all_by(qs, now_ns(), true);
}
