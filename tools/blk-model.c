// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The virtio-blk device model: a storage backend (backends/) served as a
 * virtio block device through the validation layer (blk/), on the daemon
 * runtime (runtime/).  This is the only file of tools/ that includes
 * blk.h and backend.h: the runtime knows nothing of blocks, and reaches
 * this file only through blk_model's callbacks.
 *
 * Thread model: the callbacks run where struct device_model says: open,
 * close and the conf ones in the command's process; init, describe,
 * watch, info, stats and resize on the daemon's main thread; features_ok
 * on the control thread; the queue ops on each queue's own thread.  The
 * statistics of running and stopped queues are shared between the queue
 * threads and the main thread under blk_model.lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_ids.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "blk.h"
#include "blk-model.h"

struct blk_mq;

/* One block device: its backend, its blk_dev, its queues' statistics. */
struct blk_model {
	const struct blk_model_opts *opts;
	struct backend *be;
	struct daemon *d;		/* for daemon_set_config() */
	struct blk_dev blk;
	bool shrink_reported;
	/* Protects @mqs and @retired: queue threads against the stats reader. */
	pthread_mutex_t lock;
	unsigned int nr_queues;
	struct blk_mq **mqs;		/* running queues, per index */
	/* Counters of queues that stopped, so stats survive a reset. */
	struct blk_stats_snapshot *retired;
};

/* One queue, owned by its queue thread. */
struct blk_mq {
	struct blk_model *bm;
	struct queue_thread *qt;
	bool fail_io;			/* the model's opts->fail_io, at hand */
	struct blk_queue q;
};

/* ---- command side ---- */

int blk_model_open_backend(struct backend *be, const struct blk_model_opts *opts,
			   void **m)
{
	struct blk_model *bm = calloc(1, sizeof(*bm));

	if (!bm)
		return -ENOMEM;
	bm->opts = opts;
	bm->be = be;
	pthread_mutex_init(&bm->lock, NULL);
	*m = bm;
	return 0;
}

static int model_open(const void *opts, void **m, char *why, size_t why_len)
{
	const struct blk_model_opts *o = opts;
	struct backend_open_opts bo = {
		.readonly = o->readonly,
		.block_size = o->block_size,
		.queues = o->num_queues,
	};
	const char *spec = o->backend;
	struct backend_param params[2];
	struct backend *be = NULL;
	unsigned int n = 0;
	char timeout[16];
	int ret;

	/*
	 * A stand-in that never sees a request (mq_handle_req fails them
	 * all); the kernel keeps the device's own capacity and features.
	 */
	if (o->fail_io)
		spec = "null:1G";
	/* Only what was asked for: the backend refuses an option it lacks. */
	if (!o->fail_io && o->cache != BLK_MODEL_CACHE_AUTO)
		params[n++] = (struct backend_param){ "cache",
			o->cache == BLK_MODEL_CACHE_DIRECT ? "direct" : "buffered" };
	if (!o->fail_io && o->io_timeout_s) {
		snprintf(timeout, sizeof(timeout), "%u", o->io_timeout_s);
		params[n++] = (struct backend_param){ "io-timeout", timeout };
	}
	bo.params = params;
	bo.nparams = n;
	ret = backend_open(spec, &bo, &be);
	if (ret < 0) {
		snprintf(why, why_len, "%s", msg_last_error());
		return ret;
	}
	ret = blk_model_open_backend(be, o, m);
	if (ret < 0) {
		backend_close(be);
		snprintf(why, why_len, "out of memory");
	}
	return ret;
}

static void model_close(void *m)
{
	struct blk_model *bm = m;

	if (!bm)
		return;
	backend_close(bm->be);
	pthread_mutex_destroy(&bm->lock);
	free(bm->mqs);
	free(bm->retired);
	free(bm);
}

/*
 * A RAM disk's data lives in its daemon's memory, nowhere else; the
 * backend says so (volatile_data).  A spec no backend owns is left to
 * open(), which says why.
 */
static const char *model_lost_with_daemon(const void *opts, char *buf, size_t len)
{
	const struct blk_model_opts *o = opts;

	if (backend_spec_persistent(o->backend) != 0)
		return NULL;
	snprintf(buf, len, "a RAM disk (%s)", o->backend);
	return buf;
}

static int model_conf_write(FILE *f, const void *opts)
{
	const struct blk_model_opts *o = opts;

	fprintf(f, "backend=%s\nqueues=%u\nqueue_size=%u\nblock_size=%u\n"
		"read_only=%d\nserial=%s\ncache=%d\nio_timeout=%u\n",
		o->backend, o->num_queues, o->queue_size, o->block_size,
		o->readonly, o->serial ? o->serial : "", (int)o->cache,
		o->io_timeout_s);
	return ferror(f) ? -EIO : 0;
}

static void model_conf_reset(void *opts)
{
	memset(opts, 0, sizeof(struct blk_model_opts));
}

static int model_conf_key(void *opts, const char *key, const char *v)
{
	struct blk_model_opts *o = opts;
	int ret = 0;

	if (!strcmp(key, "backend")) {
		/* Exactly one: a second is a file that was not ours. */
		if (o->backend)
			return -EINVAL;
		ret = conf_copy(o->backend_buf, sizeof(o->backend_buf), v);
		o->backend = o->backend_buf;
	} else if (!strcmp(key, "queues")) {
		o->num_queues = strtoul(v, NULL, 10);
	} else if (!strcmp(key, "queue_size")) {
		o->queue_size = strtoul(v, NULL, 10);
	} else if (!strcmp(key, "block_size")) {
		o->block_size = strtoul(v, NULL, 10);
	} else if (!strcmp(key, "read_only")) {
		o->readonly = atoi(v);
	} else if (!strcmp(key, "serial")) {
		ret = conf_copy(o->serial_buf, sizeof(o->serial_buf), v);
		o->serial = o->serial_buf[0] ? o->serial_buf : NULL;
	} else if (!strcmp(key, "cache")) {
		o->cache = atoi(v);
	} else if (!strcmp(key, "io_timeout")) {
		o->io_timeout_s = strtoul(v, NULL, 10);
	} else {
		return 1;
	}
	return ret;
}

static int model_conf_end(void *opts)
{
	const struct blk_model_opts *o = opts;

	return o->backend ? 0 : -EINVAL;
}

static void print_backend(const char *name, const char *usage, void *opaque)
{
	FILE *out = opaque;

	(void)name;
	fprintf(out, "  %s\n", usage);
}

const unsigned int blk_model_io_timeout_max = IO_TIMEOUT_MAX_S;

void blk_model_print_backends(FILE *out)
{
	backend_list(print_backend, out);
}

int blk_model_parse_size(const char *s, const char *what, uint64_t *size,
			 char *why, size_t why_len)
{
	int ret = backend_parse_size(s, what, size);

	if (ret < 0)
		snprintf(why, why_len, "%s", msg_last_error());
	return ret;
}

/* ---- daemon, main thread ---- */

static int model_init(void *m, struct daemon *d, struct vdk_dev_config *cfg,
		      char *why, size_t why_len)
{
	struct blk_model *bm = m;
	const struct blk_model_opts *o = bm->opts;
	struct blk_opts bo = {
		.name = d->opts->name,
		.block_size = o->block_size,
		.num_queues = o->num_queues,
		.queue_size = o->queue_size,
		.readonly = o->readonly,
		.serial = o->serial,
	};
	int ret;

	ret = blk_dev_init(&bm->blk, bm->be, &bo);
	if (ret < 0) {
		snprintf(why, why_len, "%s", msg_last_error());
		return ret;
	}
	bm->d = d;
	bm->nr_queues = bm->blk.num_queues;
	bm->mqs = calloc(bm->nr_queues, sizeof(*bm->mqs));
	bm->retired = calloc(bm->nr_queues, sizeof(*bm->retired));
	if (!bm->mqs || !bm->retired) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	cfg->device_id = VIRTIO_ID_BLOCK;
	cfg->features = bm->blk.features;
	cfg->num_queues = bm->blk.num_queues;
	cfg->queue_size = bm->blk.queue_size;
	cfg->config = blk_dev_config(&bm->blk);
	cfg->config_size = blk_dev_config_size();
	return 0;
}

static void model_describe(void *m, char *buf, size_t len)
{
	struct blk_model *bm = m;

	snprintf(buf, len, "%s, %llu bytes, %u queue%s", backend_spec(bm->be),
		 (unsigned long long)backend_size(bm->be), bm->blk.num_queues,
		 bm->blk.num_queues == 1 ? "" : "s");
}

/*
 * Grows the device to @size bytes and tells the driver; 0, or -errno with
 * msg_last_error() saying why.
 */
static int set_capacity(struct blk_model *bm, uint64_t size)
{
	uint64_t cap_le;
	int ret;

	ret = blk_dev_set_capacity(&bm->blk, size);
	if (ret < 0)
		return ret;
	cap_le = bm->blk.config.capacity;
	ret = daemon_set_config(bm->d, offsetof(struct virtio_blk_config, capacity),
				&cap_le, sizeof(cap_le));
	if (ret < 0)
		msg_error("%s", vdk_last_error());
	return ret;
}

/*
 * A backend can grow behind our back: a file extended on the host, an NBD
 * export found larger after a reconnect.  Pass growth on to the driver;
 * shrinking is only reported, since data in use would be cut off.
 */
static void model_watch(void *m)
{
	struct blk_model *bm = m;
	uint64_t cap = atomic_load(&bm->blk.capacity) << BLK_SECTOR_SHIFT;
	uint64_t size;

	if (backend_refresh_size(bm->be) < 0)
		return;
	size = backend_size(bm->be) / bm->blk.block_size * bm->blk.block_size;
	if (size > cap) {
		if (set_capacity(bm, size) == 0)
			msg_log(MSG_INFO, "the backend grew from %llu to %llu bytes; so did the device",
				(unsigned long long)cap, (unsigned long long)size);
	} else if (size < cap && !bm->shrink_reported) {
		bm->shrink_reported = true;
		msg_log(MSG_WARN, "the backend shrank from %llu to %llu bytes; "
			"I/O past its end will fail", (unsigned long long)cap,
			(unsigned long long)size);
	}
}

static void model_info(void *m, struct out *o, bool tsv)
{
	struct blk_model *bm = m;
	uint64_t size = atomic_load(&bm->blk.capacity) << BLK_SECTOR_SHIFT;

	if (tsv) {
		out_printf(o, "%s\t%" PRIu64 "\t%u", backend_spec(bm->be), size,
			   bm->blk.num_queues);
		return;
	}
	out_printf(o, "\"backend\": ");
	out_json_str(o, backend_spec(bm->be));
	out_printf(o, ", \"size\": %" PRIu64 ", \"block_size\": %u, \"queues\": %u, "
		   "\"queue_size\": %u, \"read_only\": %s", size,
		   bm->blk.block_size, bm->blk.num_queues, bm->blk.queue_size,
		   bm->blk.readonly ? "true" : "false");
}

/* Adds queue @index's counters to @snap; false if it is not running. */
static bool queue_stats(struct blk_model *bm, unsigned int index,
			struct blk_stats_snapshot *snap)
{
	struct blk_stats_snapshot cur;
	bool running = false;

	pthread_mutex_lock(&bm->lock);
	blk_stats_add(snap, &bm->retired[index]);
	if (bm->mqs[index]) {
		blk_stats_read(&bm->mqs[index]->q.stats, &cur);
		blk_stats_add(snap, &cur);
		running = true;
	}
	pthread_mutex_unlock(&bm->lock);
	return running;
}

static void stats_json(struct out *o, const struct blk_stats_snapshot *s)
{
	uint64_t avg = s->lat_count ? s->lat_sum_ns / s->lat_count : 0;
	int t;

	out_printf(o, "{");
	for (t = 0; t < BLK_STAT_NR; t++)
		out_printf(o, "\"%s\": %" PRIu64 ", ", blk_stat_type_name(t), s->reqs[t]);
	out_printf(o, "\"bytes_read\": %" PRIu64 ", \"bytes_written\": %" PRIu64
		   ", \"errors\": %" PRIu64 ", \"unsupported\": %" PRIu64
		   ", \"dropped\": %" PRIu64 ", \"inflight\": %" PRIu64
		   ", \"backend_flushes\": %" PRIu64
		   ", \"latency_ns\": {\"count\": %" PRIu64 ", \"min\": %" PRIu64
		   ", \"avg\": %" PRIu64 ", \"max\": %" PRIu64 ", \"p50\": %" PRIu64
		   ", \"p99\": %" PRIu64 "}}",
		   s->bytes_read, s->bytes_written, s->errors, s->unsupported,
		   s->dropped, s->inflight, s->backend_flushes, s->lat_count,
		   s->lat_count ? s->lat_min_ns : 0, avg, s->lat_max_ns,
		   blk_stats_percentile_ns(s, 50), blk_stats_percentile_ns(s, 99));
}

static void stats_row(struct out *o, const char *label, const struct blk_stats_snapshot *s)
{
	uint64_t avg = s->lat_count ? s->lat_sum_ns / s->lat_count : 0;

	out_printf(o, "%-6s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64
		   " %12" PRIu64 " %12" PRIu64 " %6" PRIu64 " %6" PRIu64
		   " %8.1f %8.1f %8.1f %9" PRIu64 "\n", label,
		   s->reqs[BLK_STAT_READ], s->reqs[BLK_STAT_WRITE],
		   s->reqs[BLK_STAT_FLUSH],
		   s->reqs[BLK_STAT_DISCARD] + s->reqs[BLK_STAT_WRITE_ZEROES],
		   s->bytes_read, s->bytes_written, s->errors, s->inflight,
		   avg / 1000.0, blk_stats_percentile_ns(s, 50) / 1000.0,
		   blk_stats_percentile_ns(s, 99) / 1000.0, s->backend_flushes);
}

static void model_stats(void *m, struct out *o, bool text)
{
	struct blk_model *bm = m;
	struct blk_stats_snapshot total = { 0 }, s;
	unsigned int i;
	bool running;

	if (text)
		out_printf(o, "%-6s %10s %10s %8s %8s %12s %12s %6s %6s %8s %8s %8s %9s\n",
			   "queue", "reads", "writes", "flushes", "discards",
			   "bytes-read", "bytes-wrtn", "errors", "infl",
			   "avg-us", "p50-us", "p99-us", "be-flush");
	else
		out_printf(o, "\"queues\": [");
	for (i = 0; i < bm->nr_queues; i++) {
		char label[16];

		memset(&s, 0, sizeof(s));
		running = queue_stats(bm, i, &s);
		blk_stats_add(&total, &s);
		if (text) {
			snprintf(label, sizeof(label), "%u", i);
			stats_row(o, label, &s);
		} else {
			out_printf(o, "%s{\"index\": %u, \"running\": %s, \"stats\": ",
				   i ? ", " : "", i, running ? "true" : "false");
			stats_json(o, &s);
			out_printf(o, "}");
		}
	}
	if (text) {
		stats_row(o, "total", &total);
	} else {
		out_printf(o, "], \"total\": ");
		stats_json(o, &total);
	}
}

static void model_resize(void *m, const char *arg, struct out *o)
{
	struct blk_model *bm = m;
	uint64_t size, old = atomic_load(&bm->blk.capacity) << BLK_SECTOR_SHIFT;
	int ret;

	if (backend_parse_size(arg, "size", &size) < 0) {
		out_printf(o, "ERR %s\n", msg_last_error());
		return;
	}
	if (size % bm->blk.block_size) {
		out_printf(o, "ERR %" PRIu64 " bytes is not a multiple of the %u-byte "
			   "block size\n", size, bm->blk.block_size);
		return;
	}
	if (size < old) {
		out_printf(o, "ERR the device has %" PRIu64 " bytes; shrinking would "
			   "cut off data in use, so only growing is supported\n", old);
		return;
	}
	if (size == old) {
		out_printf(o, "OK\n");
		return;
	}
	ret = backend_resize(bm->be, size);
	if (ret < 0) {
		out_printf(o, "ERR %s\n", ret == -EOPNOTSUPP ?
			   "this backend cannot be resized" : msg_last_error());
		return;
	}
	ret = set_capacity(bm, size);
	if (ret < 0) {
		out_printf(o, "ERR %s\n", msg_last_error());
		return;
	}
	msg_log(MSG_INFO, "resized from %" PRIu64 " to %" PRIu64 " bytes", old, size);
	out_printf(o, "OK\n");
}

/* ---- control thread ---- */

static int model_features_ok(void *m, uint64_t features)
{
	struct blk_model *bm = m;

	return blk_dev_features_ok(&bm->blk, features);
}

/* ---- queue threads ---- */

/* Every request ends here: count it for the interrupt, then push it. */
static void mq_complete(struct blk_queue *q, struct vdk_req *req, uint32_t len)
{
	struct blk_mq *mq = container_of(q, struct blk_mq, q);

	queue_thread_completed(mq->qt);
	blk_complete_vq(q, req, len);
}

static int mq_init(void *model, struct queue_thread *qt, unsigned int index,
		   struct vdk_vq *vq, struct io_uring *ring, void **out,
		   char *why, size_t why_len)
{
	struct blk_model *bm = model;
	struct blk_mq *mq;
	int ret;

	if (index >= bm->nr_queues) {
		snprintf(why, why_len, "no such queue");
		return -EINVAL;
	}
	mq = calloc(1, sizeof(*mq));
	if (!mq) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	mq->bm = bm;
	mq->qt = qt;
	mq->fail_io = bm->opts->fail_io;
	ret = blk_queue_init(&mq->q, &bm->blk, index, vq, ring, mq_complete);
	if (ret < 0) {
		snprintf(why, why_len, "%s", msg_last_error());
		free(mq);
		return ret;
	}
	pthread_mutex_lock(&bm->lock);
	bm->mqs[index] = mq;
	pthread_mutex_unlock(&bm->lock);
	*out = mq;
	return 0;
}

static void mq_fini(void *p)
{
	struct blk_mq *mq = p;
	struct blk_model *bm = mq->bm;
	struct blk_stats_snapshot snap;

	pthread_mutex_lock(&bm->lock);
	blk_stats_read(&mq->q.stats, &snap);
	blk_stats_add(&bm->retired[mq->q.index], &snap);
	bm->mqs[mq->q.index] = NULL;
	pthread_mutex_unlock(&bm->lock);
	blk_queue_fini(&mq->q);
	free(mq);
}

static size_t mq_req_size(void *p)
{
	struct blk_mq *mq = p;

	return blk_req_size(&mq->bm->blk);
}

static void mq_handle_req(void *p, struct vdk_req *req)
{
	struct blk_mq *mq = p;

	if (mq->fail_io)
		blk_queue_fail_req(&mq->q, req);
	else
		blk_queue_handle_req(&mq->q, req);
}

static uint64_t mq_inflight(void *p)
{
	struct blk_mq *mq = p;

	return blk_queue_inflight(&mq->q);
}

static int mq_poll_fd(void *p)
{
	struct blk_mq *mq = p;

	return backend_queue_poll_fd(mq->q.bq);
}

static void mq_process(void *p)
{
	struct blk_mq *mq = p;

	backend_queue_process(mq->q.bq);
}

static void mq_unplug(void *p)
{
	struct blk_mq *mq = p;

	backend_queue_unplug(mq->q.bq);
}

/* The backends' I/O on the queue's ring follows backend.h's convention. */
static void mq_cqe(void *p, const struct io_uring_cqe *cqe)
{
	(void)p;
	uring_cb_run(cqe);
}

static bool mq_abort(void *p)
{
	struct blk_mq *mq = p;

	return backend_queue_abort(mq->q.bq);
}

static void mq_notify_error(void *p, int err)
{
	struct blk_mq *mq = p;

	msg_log_ratelimited(&mq->q.rl, MSG_ERR, "queue %u: interrupt: %s",
			    mq->q.index, strerror(-err));
}

static const struct model_queue_ops blk_queue_ops = {
	.init = mq_init,
	.fini = mq_fini,
	.req_size = mq_req_size,
	.handle_req = mq_handle_req,
	.inflight = mq_inflight,
	.poll_fd = mq_poll_fd,
	.process = mq_process,
	.unplug = mq_unplug,
	.cqe = mq_cqe,
	.abort = mq_abort,
	.notify_error = mq_notify_error,
};

const struct device_model blk_model = {
	.kind = "blk",
	.open = model_open,
	.close = model_close,
	.lost_with_daemon = model_lost_with_daemon,
	.conf_write = model_conf_write,
	.conf_reset = model_conf_reset,
	.conf_key = model_conf_key,
	.conf_end = model_conf_end,
	.init = model_init,
	.describe = model_describe,
	.watch = model_watch,
	.info = model_info,
	.stats = model_stats,
	.resize = model_resize,
	.features_ok = model_features_ok,
	.queue_ops = &blk_queue_ops,
};
