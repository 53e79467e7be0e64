// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Reading the per-queue statistics.  Thread model: any thread; see the
 * comment on struct blk_stats for what a racing read may see.
 */
#include <string.h>

#include "blk.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void blk_stats_read(const struct blk_stats *st, struct blk_stats_snapshot *snap)
{
	int i;

	for (i = 0; i < BLK_STAT_NR; i++)
		snap->reqs[i] = LOAD(st->reqs[i]);
	snap->bytes_read = LOAD(st->bytes_read);
	snap->bytes_written = LOAD(st->bytes_written);
	snap->errors = LOAD(st->errors);
	snap->unsupported = LOAD(st->unsupported);
	snap->dropped = LOAD(st->dropped);
	snap->inflight = LOAD(st->inflight);
	snap->backend_flushes = LOAD(st->backend_flushes);
	snap->lat_count = LOAD(st->lat_count);
	snap->lat_sum_ns = LOAD(st->lat_sum_ns);
	snap->lat_min_ns = LOAD(st->lat_min_ns);
	snap->lat_max_ns = LOAD(st->lat_max_ns);
	for (i = 0; i < BLK_LAT_BUCKETS; i++)
		snap->lat_hist[i] = LOAD(st->lat_hist[i]);
}

void blk_stats_add(struct blk_stats_snapshot *dst, const struct blk_stats_snapshot *src)
{
	int i;

	for (i = 0; i < BLK_STAT_NR; i++)
		dst->reqs[i] += src->reqs[i];
	dst->bytes_read += src->bytes_read;
	dst->bytes_written += src->bytes_written;
	dst->errors += src->errors;
	dst->unsupported += src->unsupported;
	dst->dropped += src->dropped;
	dst->inflight += src->inflight;
	dst->backend_flushes += src->backend_flushes;
	/* A queue that saw nothing has min 0; it must not win the minimum. */
	if (src->lat_count &&
	    (!dst->lat_count || src->lat_min_ns < dst->lat_min_ns))
		dst->lat_min_ns = src->lat_min_ns;
	if (src->lat_max_ns > dst->lat_max_ns)
		dst->lat_max_ns = src->lat_max_ns;
	dst->lat_count += src->lat_count;
	dst->lat_sum_ns += src->lat_sum_ns;
	for (i = 0; i < BLK_LAT_BUCKETS; i++)
		dst->lat_hist[i] += src->lat_hist[i];
}

uint64_t blk_stats_percentile_ns(const struct blk_stats_snapshot *snap, unsigned int pct)
{
	uint64_t total = 0, want, seen = 0;
	int i;

	for (i = 0; i < BLK_LAT_BUCKETS; i++)
		total += snap->lat_hist[i];
	if (!total || !pct)
		return 0;
	if (pct > 100)
		pct = 100;
	/* The rank of the percentile, rounded up: p50 of 3 samples is the 2nd. */
	want = (total * pct + 99) / 100;
	for (i = 0; i < BLK_LAT_BUCKETS; i++) {
		seen += snap->lat_hist[i];
		if (seen >= want)
			return i ? 1ull << i : 1;
	}
	return 1ull << (BLK_LAT_BUCKETS - 1);
}

void blk_stats_backend_flush(struct blk_stats *st)
{
	/* Only the queue thread writes: the load and store need not be one. */
	atomic_store_explicit(&st->backend_flushes, LOAD(st->backend_flushes) + 1,
			      memory_order_relaxed);
}

const char *blk_stat_type_name(enum blk_stat_type t)
{
	static const char *const names[BLK_STAT_NR] = {
		[BLK_STAT_READ] = "read",
		[BLK_STAT_WRITE] = "write",
		[BLK_STAT_FLUSH] = "flush",
		[BLK_STAT_GET_ID] = "get_id",
		[BLK_STAT_DISCARD] = "discard",
		[BLK_STAT_WRITE_ZEROES] = "write_zeroes",
		[BLK_STAT_OTHER] = "other",
	};

	return (unsigned int)t < BLK_STAT_NR ? names[t] : "?";
}
