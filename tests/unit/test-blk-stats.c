// SPDX-License-Identifier: LGPL-2.1-or-later
/* Per-queue counters, latency summary, and the rate-limited log. */
#include "blk-harness.h"

static unsigned int nmsg;
static char lastmsg[512];

static void sink(enum msg_level level, const char *msg)
{
	nmsg++;
	snprintf(lastmsg, sizeof(lastmsg), "%s", msg);
}

int main(void)
{
	struct blk_opts o = { .name = "st" };
	struct blk_stats_snapshot s, total;
	struct harness h;
	uint8_t buf[4096];
	unsigned int i;

	msg_set_sink(sink);
	h_init(&h, "memory:1M", &o);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, 0, buf, 4096), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_OUT, 8, buf, 1024), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 0, buf, 2048), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_GET_ID, 0, buf, 20), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(nmsg, 0);

	/* 30 bad requests in a burst: 10 messages, then silence. */
	for (i = 0; i < 30; i++)
		T_ASSERT_EQ(h_rw(&h, VIRTIO_BLK_T_IN, 1 << 30, buf, 512), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(nmsg, MSG_BURST);
	T_ASSERT(strstr(lastmsg, "st q0: "));
	T_ASSERT(strstr(lastmsg, "beyond the capacity 2048"));
	msg_ratelimit_flush(&h.q.rl);
	T_ASSERT_EQ(nmsg, MSG_BURST + 1);
	T_ASSERT(strstr(lastmsg, "suppressed 20 messages"));
	T_ASSERT_EQ(h_rw(&h, 42, 0, buf, 512), VIRTIO_BLK_S_UNSUPP);

	blk_stats_read(&h.q.stats, &s);
	T_ASSERT_EQ(s.reqs[BLK_STAT_WRITE], 2);
	T_ASSERT_EQ(s.reqs[BLK_STAT_READ], 31);
	T_ASSERT_EQ(s.reqs[BLK_STAT_FLUSH], 1);
	T_ASSERT_EQ(s.reqs[BLK_STAT_GET_ID], 1);
	T_ASSERT_EQ(s.reqs[BLK_STAT_OTHER], 1);
	T_ASSERT_EQ(s.bytes_written, 5120);
	T_ASSERT_EQ(s.bytes_read, 2048);
	T_ASSERT_EQ(s.errors, 30);
	T_ASSERT_EQ(s.unsupported, 1);
	T_ASSERT_EQ(s.inflight, 0);
	T_ASSERT_EQ(s.lat_count, 36);
	T_ASSERT(s.lat_min_ns <= s.lat_max_ns);
	T_ASSERT(s.lat_sum_ns >= s.lat_max_ns);
	T_ASSERT(blk_stats_percentile_ns(&s, 50) <= blk_stats_percentile_ns(&s, 99));
	T_ASSERT(blk_stats_percentile_ns(&s, 99) >= s.lat_max_ns / 2);
	T_ASSERT(blk_stats_percentile_ns(&s, 100) > s.lat_max_ns / 2);

	/* Totals across queues; an idle queue does not drag the minimum to 0. */
	memset(&total, 0, sizeof(total));
	blk_stats_add(&total, &s);
	memset(&s, 0, sizeof(s));
	blk_stats_add(&total, &s);
	T_ASSERT_EQ(total.lat_count, 36);
	T_ASSERT(total.lat_min_ns > 0 || total.lat_max_ns == 0);
	T_ASSERT_EQ(blk_stats_percentile_ns(&s, 50), 0);

	/* Percentiles from a hand-made histogram. */
	memset(&s, 0, sizeof(s));
	s.lat_hist[10] = 98;	/* ~1 us */
	s.lat_hist[20] = 2;	/* ~1 ms */
	T_ASSERT_EQ(blk_stats_percentile_ns(&s, 50), 1 << 10);
	T_ASSERT_EQ(blk_stats_percentile_ns(&s, 98), 1 << 10);
	T_ASSERT_EQ(blk_stats_percentile_ns(&s, 99), 1 << 20);
	T_ASSERT(!strcmp(blk_stat_type_name(BLK_STAT_WRITE_ZEROES), "write_zeroes"));
	h_fini(&h);
	return T_EXIT_PASS;
}
