// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Device names may hold '"' and '\': every JSON answer escapes them
 * (stats --json and list --json printed them raw, which broke the JSON or
 * let a name inject fields).
 */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vduse-blk.h"

#define NAME "evil\",\"pid\":1,\"x\\"
#define ESCAPED "\"evil\\\",\\\"pid\\\":1,\\\"x\\\\\""

/* The text after "name": must be exactly the escaped name. */
static void check_name(const char *json)
{
	const char *p = strstr(json, "\"name\": ");

	T_ASSERT(p);
	p += strlen("\"name\": ");
	if (strncmp(p, ESCAPED, strlen(ESCAPED))) {
		fprintf(stderr, "name not escaped: %s\n", json);
		exit(T_EXIT_FAIL);
	}
	/* Only one "pid" key may follow, not the one inside the name. */
	T_ASSERT(!strstr(json, ",\"pid\":1,"));
}

int main(void)
{
	struct add_opts opts = {
		.dev.name = NAME,
		.blk = { .backend = "null:1M", .num_queues = 1, .block_size = 512 },
	};
	struct daemon d = { .opts = &opts.dev, .model = &blk_model };
	struct vdk_dev_config cfg = { 0 };
	char why[512];
	char *out;
	size_t len;
	FILE *f;

	T_ASSERT_EQ(vdk_name_check(NAME), 0);
	add_opts_init(&opts);
	T_ASSERT_EQ(blk_model.open(&opts.blk, &d.m, why, sizeof(why)), 0);
	T_ASSERT_EQ(blk_model.init(d.m, &d, &cfg, why, sizeof(why)), 0);

	/* stats --json */
	out = ctl_answer(&d, "stats", &len);
	T_ASSERT(out);
	out[len - 1] = '\0';
	check_name(out);
	free(out);

	/* info, which list --json relays */
	out = ctl_answer(&d, "info", &len);
	T_ASSERT(out);
	out[len - 1] = '\0';
	check_name(out);
	free(out);
	blk_model.close(d.m);

	/* list --json of a device without a daemon */
	f = open_memstream(&out, &len);
	T_ASSERT(f);
	list_orphan(f, NAME, "/dev/vd\"a", true, true);
	fclose(f);
	check_name(out);
	T_ASSERT(strstr(out, "\"node\": \"/dev/vd\\\"a\""));
	free(out);
	return T_EXIT_PASS;
}
