// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vdk_dev_create() and friends fail cleanly: bad configs with -EINVAL before
 * the kernel is asked, and a missing VDUSE module with a hint to load it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vdusekit.h"
#include "test.h"

static const uint8_t blk_config[8] = { 0, 0x40 };	/* 16384 sectors */

static struct vdk_dev_config good(void)
{
	struct vdk_dev_config cfg = {
		.name = "vdk-test-errors",
		.device_id = 2,
		.num_queues = 1,
		.queue_size = 64,
		.config = blk_config,
		.config_size = sizeof(blk_config),
	};

	return cfg;
}

/* @cfg is refused with -EINVAL and a reason containing @why. */
static void refused(const struct vdk_dev_config *cfg, const char *why,
		    int line)
{
	struct vdk_dev *dev = NULL;
	int ret = vdk_dev_create(cfg, &dev);

	if (ret != -EINVAL || dev) {
		fprintf(stderr, "line %d: vdk_dev_create gave %d (%s), expected -EINVAL\n",
			line, ret, vdk_last_error());
		exit(T_EXIT_FAIL);
	}
	if (!strstr(vdk_last_error(), why)) {
		fprintf(stderr, "line %d: reason \"%s\" lacks \"%s\"\n", line,
			vdk_last_error(), why);
		exit(T_EXIT_FAIL);
	}
}

int main(void)
{
	struct vdk_dev_config cfg;
	struct vdk_dev *dev = NULL;
	char node[64];
	int ret;

	T_ASSERT_EQ(vdk_dev_create(NULL, &dev), -EINVAL);
	cfg = good();
	T_ASSERT_EQ(vdk_dev_create(&cfg, NULL), -EINVAL);

	cfg = good();
	cfg.name = NULL;
	refused(&cfg, "name", __LINE__);
	cfg.name = "a/b";
	refused(&cfg, "'/'", __LINE__);
	cfg.name = "vq0";
	refused(&cfg, "vqN", __LINE__);

	cfg = good();
	cfg.num_queues = 0;
	refused(&cfg, "at least one queue", __LINE__);
	cfg.num_queues = 0x10000;
	refused(&cfg, "queues", __LINE__);

	cfg = good();
	cfg.queue_size = 0;
	refused(&cfg, "power of two", __LINE__);
	cfg.queue_size = 1;
	refused(&cfg, "power of two", __LINE__);
	cfg.queue_size = 48;
	refused(&cfg, "power of two", __LINE__);
	cfg.queue_size = 65536;
	refused(&cfg, "power of two", __LINE__);

	cfg = good();
	cfg.config_size = 4097;
	refused(&cfg, "too large", __LINE__);
	cfg.config = NULL;
	cfg.config_size = 8;
	refused(&cfg, "no config bytes", __LINE__);

	/* vdk_dev_open validates the same way. */
	cfg = good();
	cfg.queue_size = 3;
	T_ASSERT_EQ(vdk_dev_open(&cfg, &dev), -EINVAL);

	/* Functions taking a bare name refuse bad ones before any path use. */
	T_ASSERT_EQ(vdk_dev_destroy_by_name("../x"), -EINVAL);
	T_ASSERT_EQ(vdk_dev_node("a/b", node, sizeof(node)), -EINVAL);

	if (access("/dev/vduse/control", F_OK) == 0) {
		fprintf(stderr, "/dev/vduse/control exists: skipping the missing-module checks\n");
		return T_EXIT_SKIP;
	}

	cfg = good();
	ret = vdk_dev_create(&cfg, &dev);
	if (ret != -ENOENT || dev ||
	    !strstr(vdk_last_error(), "modprobe vduse")) {
		fprintf(stderr, "vdk_dev_create without VDUSE gave %d: \"%s\"\n",
			ret, vdk_last_error());
		return T_EXIT_FAIL;
	}
	ret = vdk_dev_open(&cfg, &dev);
	if (ret != -ENOENT || dev) {
		fprintf(stderr, "vdk_dev_open of a missing device gave %d: \"%s\"\n",
			ret, vdk_last_error());
		return T_EXIT_FAIL;
	}
	T_ASSERT_EQ(vdk_dev_destroy_by_name("vdk-test-none"), -ENOENT);
	T_ASSERT_EQ(vdk_dev_node("vdk-test-none", node, sizeof(node)), -ENOENT);
	return T_EXIT_PASS;
}
