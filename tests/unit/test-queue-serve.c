// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon runtime's queue loop (runtime/queue.c) serves real requests:
 * a simulated driver kicks, the queue thread pops, the block model
 * (tools/blk-model.c) hands them to the null backend, and every request
 * comes back used with the right status, with an interrupt.  The
 * statistics the control socket reports count them, and still do once
 * the queue has stopped.  No kernel needed.
 *
 *   ok        a write, a read, a flush and a GET_ID all succeed
 *   errors    a read past the end and an unknown type fail as they should
 *   restart   stop and start the queue in between: served either side,
 *             and the counters of the stopped thread are kept
 */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "simdrv.h"
#include "test.h"
#include "vduse-blk.h"

#define NUM	16
#define SERIAL	"SERVE-1"

static struct simdrv sd;
static struct dev_opts dopts = { .name = "qserve" };
static struct blk_model_opts mopts = {
	.backend = "null:1M", .num_queues = 1, .queue_size = NUM,
	.block_size = 512, .serial = SERIAL,
};
static struct daemon d = { .opts = &dopts, .model = &blk_model };
static struct queue_set qs;

static void start(void)
{
	struct vdk_dev_config cfg = { 0 };
	char why[512];

	T_ASSERT_EQ(blk_model.open(&mopts, &d.m, why, sizeof(why)), 0);
	T_ASSERT_EQ(blk_model.init(d.m, &d, &cfg, why, sizeof(why)), 0);
	T_ASSERT_EQ(cfg.num_queues, 1);
	T_ASSERT_EQ(cfg.queue_size, NUM);
	simdrv_init(&sd, NUM, 0, 0);
	sd.vq.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	T_ASSERT(sd.vq.kick_fd >= 0);
	T_ASSERT_EQ(queue_set_init(&qs, blk_model.queue_ops, d.m, cfg.num_queues,
				   cfg.queue_size), 0);
	T_ASSERT_EQ(queue_thread_start(&qs, &sd.vq), 0);
}

static void stop(void)
{
	queue_thread_stop(&qs, &sd.vq);
	T_ASSERT_EQ(vdk_vq_inflight(&sd.vq), 0);
}

struct req {
	unsigned int head;
	uint64_t data;
	uint32_t len;
	uint64_t status;
};

/* One request: header, @len bytes of data (none if 0), status. */
static void add_req(struct req *r, uint32_t type, uint64_t sector, uint32_t len,
		    bool data_in)
{
	struct virtio_blk_outhdr hdr = { .type = htole32(type),
					 .sector = htole64(sector) };
	uint64_t h = simdrv_buf(&sd, sizeof(hdr));
	uint8_t fill = 0xee;
	struct sim_seg segs[3];
	unsigned int n = 0;

	r->len = len;
	r->status = simdrv_buf(&sd, 1);
	simdrv_write(&sd, h, &hdr, sizeof(hdr));
	simdrv_write(&sd, r->status, &fill, 1);
	segs[n++] = (struct sim_seg){ h, sizeof(hdr), false };
	if (len) {
		uint8_t *buf = malloc(len);

		T_ASSERT(buf);
		memset(buf, 0xee, len);
		r->data = simdrv_buf(&sd, len);
		simdrv_write(&sd, r->data, buf, len);
		free(buf);
		segs[n++] = (struct sim_seg){ r->data, len, data_in };
	}
	segs[n++] = (struct sim_seg){ r->status, 1, true };
	r->head = simdrv_add(&sd, segs, n);
}

/* Publishes, kicks, and waits (10 s at most) for @n used elements. */
static void serve(unsigned int n)
{
	uint16_t want = le16toh(sd.used->idx) + n;
	unsigned int i;

	simdrv_publish(&sd);
	T_ASSERT_EQ(eventfd_write(sd.vq.kick_fd, 1), 0);
	for (i = 0; i < 10000 && le16toh(sd.used->idx) != want; i++)
		usleep(1000);
	T_ASSERT_EQ(le16toh(sd.used->idx), want);
}

/* Takes the next used element: it must be @r's, with its used length. */
static uint8_t take(const struct req *r, bool data_in)
{
	uint32_t id, len;
	uint8_t st;

	T_ASSERT_EQ(simdrv_get_used(&sd, &id, &len), 0);
	T_ASSERT_EQ(id, r->head);
	/* The whole writable area: data read in, then the status byte. */
	T_ASSERT_EQ(len, (data_in ? r->len : 0) + 1);
	simdrv_read(&sd, r->status, &st, 1);
	return st;
}

/* The control socket's "stats" answer, as the model writes it. */
static char *stats_json(void)
{
	struct out o = { 0 };

	blk_model.stats(d.m, &o, false);
	out_printf(&o, "%c", '\0');
	T_ASSERT(o.buf);
	return o.buf;
}

static void expect_in(const char *json, const char *what)
{
	if (!strstr(json, what)) {
		fprintf(stderr, "no '%s' in %s\n", what, json);
		exit(T_EXIT_FAIL);
	}
}

/* Write, read, flush, GET_ID: all OK, in one batch. */
static void serve_ok(void)
{
	struct req w, r, f, id;
	uint8_t buf[4096], zero[4096] = { 0 };
	unsigned int irqs = sd.irqs;

	add_req(&w, VIRTIO_BLK_T_OUT, 0, 4096, false);
	add_req(&r, VIRTIO_BLK_T_IN, 8, 4096, true);
	add_req(&f, VIRTIO_BLK_T_FLUSH, 0, 0, false);
	add_req(&id, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true);
	serve(4);
	T_ASSERT_EQ(take(&w, false), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(take(&r, true), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(take(&f, false), VIRTIO_BLK_S_OK);
	T_ASSERT_EQ(take(&id, true), VIRTIO_BLK_S_OK);
	/* null: reads return zeroes. */
	simdrv_read(&sd, r.data, buf, sizeof(buf));
	T_ASSERT(!memcmp(buf, zero, sizeof(buf)));
	simdrv_read(&sd, id.data, buf, VIRTIO_BLK_ID_BYTES);
	T_ASSERT(!memcmp(buf, SERIAL, sizeof(SERIAL)));
	/* The driver heard of it. */
	T_ASSERT(sd.irqs > irqs);
}

static void c_ok(void)
{
	char *json;

	start();
	serve_ok();
	json = stats_json();
	expect_in(json, "\"running\": true");
	expect_in(json, "\"read\": 1, \"write\": 1, \"flush\": 1, \"get_id\": 1,");
	expect_in(json, "\"bytes_read\": 4096, \"bytes_written\": 4096");
	expect_in(json, "\"inflight\": 0");
	free(json);
	stop();
}

static void c_errors(void)
{
	struct req past, odd;
	char *json;

	start();
	/* 1 MiB is 2048 sectors: this read ends past it. */
	add_req(&past, VIRTIO_BLK_T_IN, 2047, 1024, true);
	add_req(&odd, 0x99, 0, 0, false);
	serve(2);
	T_ASSERT_EQ(take(&past, true), VIRTIO_BLK_S_IOERR);
	T_ASSERT_EQ(take(&odd, false), VIRTIO_BLK_S_UNSUPP);
	json = stats_json();
	expect_in(json, "\"errors\": 1, \"unsupported\": 1");
	free(json);
	stop();
}

static void c_restart(void)
{
	char *json;

	start();
	serve_ok();
	queue_thread_stop(&qs, &sd.vq);
	json = stats_json();
	/* Stopped, and what it served still counts. */
	expect_in(json, "\"running\": false");
	expect_in(json, "\"read\": 1, \"write\": 1,");
	free(json);
	T_ASSERT_EQ(queue_thread_start(&qs, &sd.vq), 0);
	serve_ok();
	json = stats_json();
	expect_in(json, "\"running\": true");
	expect_in(json, "\"read\": 2, \"write\": 2, \"flush\": 2, \"get_id\": 2,");
	free(json);
	stop();
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "ok", c_ok },
	{ "errors", c_errors },
	{ "restart", c_restart },
};

int main(int argc, char **argv)
{
	unsigned int i;

	if (argc != 2)
		return T_EXIT_FAIL;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(argv[1], cases[i].name)) {
			cases[i].fn();
			queue_set_fini(&qs);
			blk_model.close(d.m);
			return T_EXIT_PASS;
		}
	fprintf(stderr, "no case %s\n", argv[1]);
	return T_EXIT_FAIL;
}
