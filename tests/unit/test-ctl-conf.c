// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The settings `add` saves for recover read back exactly, however long:
 * load_conf had a 600-byte line, so a longer backend spec came back cut
 * (another path opened) with its tail read as another key.  A value too
 * long for its buffer is refused, never cut.  Keys the reader does not
 * know are skipped; a file without exactly one backend is refused.  And
 * what recover makes of a saved backend: a RAM disk cannot come back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vduse-blk.h"

static void round_trip(const struct add_opts *in, struct add_opts *out)
{
	char *buf;
	size_t len;
	FILE *f;

	f = open_memstream(&buf, &len);
	T_ASSERT(f);
	T_ASSERT_EQ(conf_write(f, &in->dev), 0);
	fclose(f);
	f = fmemopen(buf, len, "r");
	T_ASSERT(f);
	add_opts_init(out);
	T_ASSERT_EQ(conf_read(f, in->dev.name, &out->dev), 0);
	fclose(f);
	free(buf);
}

static int read_text(char *buf, size_t len, struct add_opts *out)
{
	FILE *f = fmemopen(buf, len, "r");
	int ret;

	T_ASSERT(f);
	add_opts_init(out);
	ret = conf_read(f, "conf-test", &out->dev);
	fclose(f);
	return ret;
}

static int read_str(const char *text, struct add_opts *out)
{
	char *copy = strdup(text);
	int ret;

	T_ASSERT(copy);
	ret = read_text(copy, strlen(copy), out);
	free(copy);
	return ret;
}

int main(void)
{
	static char spec[4001], queued[4200], user[101], why[256];
	struct add_opts in = { 0 }, out;
	char *buf;
	size_t len;
	FILE *f;

	/* A 4000-byte spec whose tail looks like a key of its own. */
	memset(spec, 'p', sizeof(spec) - 1);
	memcpy(spec, "file:/", 6);
	memcpy(spec + 591, "queues=9", 8);	/* where a 600-byte line was cut */
	add_opts_init(&in);
	in.dev.name = "conf-test";
	in.blk.backend = spec;
	in.blk.num_queues = 2;
	in.blk.queue_size = 128;
	in.blk.block_size = 4096;
	in.blk.readonly = true;
	in.blk.serial = "SER-1";
	in.blk.cache = BLK_MODEL_CACHE_BUFFERED;
	in.blk.io_timeout_s = 30;
	in.dev.user = "someone";
	in.dev.vhost = true;
	in.dev.msg_timeout_s = 120;

	round_trip(&in, &out);
	T_ASSERT_EQ(strlen(out.blk.backend), 4000);
	T_ASSERT(!strcmp(out.blk.backend, spec));
	T_ASSERT(!strcmp(out.dev.name, "conf-test"));
	T_ASSERT_EQ(out.blk.num_queues, 2);
	T_ASSERT_EQ(out.blk.queue_size, 128);
	T_ASSERT_EQ(out.blk.block_size, 4096);
	T_ASSERT_EQ(out.blk.readonly, 1);
	T_ASSERT(out.blk.serial && !strcmp(out.blk.serial, "SER-1"));
	T_ASSERT_EQ(out.blk.cache, BLK_MODEL_CACHE_BUFFERED);
	T_ASSERT_EQ(out.blk.io_timeout_s, 30);
	T_ASSERT(out.dev.user && !strcmp(out.dev.user, "someone"));
	T_ASSERT(out.dev.vhost);
	T_ASSERT_EQ(out.dev.msg_timeout_s, 120);
	/* The daemon's start-up choices are the command line's, not saved. */
	T_ASSERT(!out.dev.foreground && !out.dev.adopt);
	T_ASSERT(out.dev.model == &blk_model && out.dev.model_opts == &out.blk);

	/* No user saved: the default applies. */
	in.dev.user = NULL;
	in.dev.vhost = false;
	in.blk.serial = NULL;
	in.dev.msg_timeout_s = 0;
	round_trip(&in, &out);
	T_ASSERT(!out.dev.user);
	/* None saved (an older add): the kernel's value is left alone. */
	T_ASSERT_EQ(out.dev.msg_timeout_s, 0);
	T_ASSERT(!out.dev.vhost);
	T_ASSERT(!out.blk.serial);

	/* A spec longer than can be held is refused, not cut. */
	memset(queued, 'q', sizeof(queued) - 1);
	queued[sizeof(queued) - 1] = '\0';
	f = open_memstream(&buf, &len);
	T_ASSERT(f);
	fprintf(f, "backend=%s\nqueues=1\n", queued);
	fclose(f);
	T_ASSERT_EQ(read_text(buf, len, &out), -EINVAL);
	free(buf);

	/* Keys of a newer version are skipped; what is known still counts. */
	T_ASSERT_EQ(read_str("backend=null:1M\nfuture=1\nqueues=3\n", &out), 0);
	T_ASSERT(!strcmp(out.blk.backend, "null:1M"));
	T_ASSERT_EQ(out.blk.num_queues, 3);
	/* A msg_timeout out of range leaves the kernel's value alone. */
	T_ASSERT_EQ(read_str("backend=null:1M\nmsg_timeout=7\n", &out), 0);
	T_ASSERT_EQ(out.dev.msg_timeout_s, 7);
	T_ASSERT_EQ(read_str("backend=null:1M\nmsg_timeout=99999999999\n", &out), 0);
	T_ASSERT_EQ(out.dev.msg_timeout_s, 0);
	/* A file without a backend, or with two, is not one of ours. */
	T_ASSERT_EQ(read_str("queues=3\nvhost=1\n", &out), -EINVAL);
	T_ASSERT_EQ(read_str("backend=null:1M\nbackend=null:2M\n", &out), -EINVAL);
	/* A user name too long to hold is refused, not cut. */
	memset(user, 'u', 100);
	user[100] = '\0';
	snprintf(queued, sizeof(queued), "user=%s\nbackend=null:1M\n", user);
	T_ASSERT_EQ(read_str(queued, &out), -EINVAL);
	/* So is a serial longer than its buffer. */
	T_ASSERT_EQ(read_str("backend=null:1M\nserial=0123456789012345678901234567890123\n",
			     &out), -EINVAL);

	/* What recover refuses to bring back: a RAM disk, whose data died. */
	T_ASSERT_EQ(read_str("backend=memory:1G\n", &out), 0);
	T_ASSERT(blk_model.lost_with_daemon(&out.blk, why, sizeof(why)));
	T_ASSERT(!strcmp(why, "a RAM disk (memory:1G)"));
	T_ASSERT_EQ(read_str("backend=null:1G\n", &out), 0);
	T_ASSERT(!blk_model.lost_with_daemon(&out.blk, why, sizeof(why)));
	T_ASSERT_EQ(read_str("backend=/var/lib/disk.img\n", &out), 0);
	T_ASSERT(!blk_model.lost_with_daemon(&out.blk, why, sizeof(why)));
	return T_EXIT_PASS;
}
