// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The settings `add` saves for recover read back exactly, however long:
 * load_conf had a 600-byte line, so a longer backend spec came back cut
 * (another path opened) with its tail read as another key.  A value too
 * long for its buffer is refused, never cut.
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
	T_ASSERT_EQ(conf_write(f, in), 0);
	fclose(f);
	f = fmemopen(buf, len, "r");
	T_ASSERT(f);
	T_ASSERT_EQ(conf_read(f, in->name, out), 0);
	fclose(f);
	free(buf);
}

int main(void)
{
	static char spec[4001], queued[4200];
	struct add_opts in = { 0 }, out;
	char *buf;
	size_t len;
	FILE *f;

	/* A 4000-byte spec whose tail looks like a key of its own. */
	memset(spec, 'p', sizeof(spec) - 1);
	memcpy(spec, "file:/", 6);
	memcpy(spec + 591, "queues=9", 8);	/* where a 600-byte line was cut */
	in.name = "conf-test";
	in.backend = spec;
	in.blk.num_queues = 2;
	in.blk.queue_size = 128;
	in.blk.block_size = 4096;
	in.blk.readonly = true;
	in.blk.serial = "SER-1";
	in.cache = BACKEND_CACHE_BUFFERED;
	in.io_timeout_s = 30;
	in.user = "someone";

	round_trip(&in, &out);
	T_ASSERT_EQ(strlen(out.backend), 4000);
	T_ASSERT(!strcmp(out.backend, spec));
	T_ASSERT(!strcmp(out.name, "conf-test"));
	T_ASSERT_EQ(out.blk.num_queues, 2);
	T_ASSERT_EQ(out.blk.queue_size, 128);
	T_ASSERT_EQ(out.blk.block_size, 4096);
	T_ASSERT_EQ(out.blk.readonly, 1);
	T_ASSERT(out.blk.serial && !strcmp(out.blk.serial, "SER-1"));
	T_ASSERT_EQ(out.cache, BACKEND_CACHE_BUFFERED);
	T_ASSERT_EQ(out.io_timeout_s, 30);
	T_ASSERT(out.user && !strcmp(out.user, "someone"));

	/* No user saved: the default applies. */
	in.user = NULL;
	round_trip(&in, &out);
	T_ASSERT(!out.user);

	/* A spec longer than can be held is refused, not cut. */
	memset(queued, 'q', sizeof(queued) - 1);
	queued[sizeof(queued) - 1] = '\0';
	f = open_memstream(&buf, &len);
	T_ASSERT(f);
	fprintf(f, "backend=%s\nqueues=1\n", queued);
	fclose(f);
	f = fmemopen(buf, len, "r");
	T_ASSERT_EQ(conf_read(f, "conf-test", &out), -EINVAL);
	fclose(f);
	free(buf);
	return T_EXIT_PASS;
}
