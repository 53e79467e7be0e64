// SPDX-License-Identifier: LGPL-2.1-or-later
/* Bad files give an error that names the problem and the fix. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk.h"
#include "test.h"

static void expect(const char *msg_part, const char *msg)
{
	if (!strstr(msg, msg_part)) {
		fprintf(stderr, "message '%s' lacks '%s'\n", msg, msg_part);
		exit(T_EXIT_FAIL);
	}
}

static int make_file(const char *dir, const char *name, off_t size, char *path,
		     size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	T_ASSERT(fd >= 0);
	T_ASSERT(!ftruncate(fd, size));
	close(fd);
	return 0;
}

/*
 * Root (as in CI) would open any file whatever its mode: drop the two
 * capabilities that bypass file permissions, so the permission checks run
 * for root too.  Only in a child, which the caller waits for.
 */
static void drop_dac_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	const unsigned int caps[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH };
	unsigned int i;

	T_ASSERT(!syscall(SYS_capget, &hdr, data));
	for (i = 0; i < 2; i++) {
		data[caps[i] / 32].effective &= ~(1u << (caps[i] % 32));
		data[caps[i] / 32].permitted &= ~(1u << (caps[i] % 32));
	}
	T_ASSERT(!syscall(SYS_capset, &hdr, data));
}

/* Runs @fn in a child without the file-permission capabilities. */
static void run_without_dac_caps(void (*fn)(const char *), const char *path)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	T_ASSERT(pid >= 0);
	if (pid == 0) {
		drop_dac_caps();
		fn(path);
		exit(T_EXIT_PASS);
	}
	T_ASSERT_EQ(waitpid(pid, &st, 0), pid);
	T_ASSERT(WIFEXITED(st));
	T_ASSERT_EQ(WEXITSTATUS(st), T_EXIT_PASS);
}

/* A read-only file, opened for writing: the hint names --read-only. */
static void check_not_writable(const char *path)
{
	struct backend_open_opts bo = { .block_size = 512 };
	struct backend *be;

	/* The capabilities are really gone, or the check below means nothing. */
	T_ASSERT(open(path, O_RDWR) < 0 && errno == EACCES);
	T_ASSERT_EQ(backend_open(path, &bo, &be), -EACCES);
	expect("add --read-only", msg_last_error());
}

/* A file nobody may read, even with --read-only. */
static void check_unreadable(const char *path)
{
	struct backend_open_opts bo = { .block_size = 512, .readonly = true };
	struct backend *be;

	T_ASSERT(open(path, O_RDONLY) < 0 && errno == EACCES);
	T_ASSERT_EQ(backend_open(path, &bo, &be), -EACCES);
	expect("Permission denied", msg_last_error());
}

int main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	struct backend_open_opts bo = { .block_size = 512 };
	struct blk_opts o = { .name = "t" };
	char dir[4096], path[4200];
	struct backend *be;
	struct blk_dev dev;

	snprintf(dir, sizeof(dir), "%s/vdk-ferr-XXXXXX", tmp);
	T_ASSERT(mkdtemp(dir));

	/* Missing. */
	snprintf(path, sizeof(path), "%s/missing.img", dir);
	T_ASSERT_EQ(backend_open(path, &bo, &be), -ENOENT);
	expect("No such file or directory", msg_last_error());
	expect("truncate -s", msg_last_error());

	/* Not a file. */
	T_ASSERT_EQ(backend_open(dir, &bo, &be), -EINVAL);
	expect("neither a regular file nor a block device", msg_last_error());

	/* Not writable, without --read-only; fine with it. */
	make_file(dir, "ro.img", 65536, path, sizeof(path));
	T_ASSERT(!chmod(path, 0444));
	run_without_dac_caps(check_not_writable, path);
	bo.readonly = true;
	T_ASSERT_EQ(backend_open(path, &bo, &be), 0);
	T_ASSERT(!backend_can_write(be));
	T_ASSERT(!backend_can_discard(be));
	o.readonly = true;
	T_ASSERT_EQ(blk_dev_init(&dev, be, &o), 0);
	T_ASSERT(dev.features & (1ull << VIRTIO_BLK_F_RO));
	backend_close(be);
	o.readonly = false;
	bo.readonly = false;

	/* Unreadable. */
	make_file(dir, "none.img", 65536, path, sizeof(path));
	T_ASSERT(!chmod(path, 0));
	run_without_dac_caps(check_unreadable, path);

	/* Size not a multiple of the block size. */
	make_file(dir, "odd.img", 1000, path, sizeof(path));
	T_ASSERT_EQ(backend_open(path, &bo, &be), 0);
	T_ASSERT_EQ(blk_dev_init(&dev, be, &o), -EINVAL);
	expect("1000 bytes, not a multiple of the block size 512", msg_last_error());
	expect("truncate -s 1024", msg_last_error());
	backend_close(be);
	make_file(dir, "odd4k.img", 6144, path, sizeof(path));
	bo.block_size = 4096;
	o.block_size = 4096;
	T_ASSERT_EQ(backend_open(path, &bo, &be), 0);
	T_ASSERT_EQ(blk_dev_init(&dev, be, &o), -EINVAL);
	expect("--block-size 512", msg_last_error());
	backend_close(be);
	bo.block_size = 512;
	o.block_size = 0;

	/* Empty. */
	make_file(dir, "empty.img", 0, path, sizeof(path));
	T_ASSERT_EQ(backend_open(path, &bo, &be), 0);
	T_ASSERT_EQ(blk_dev_init(&dev, be, &o), -EINVAL);
	expect("is empty", msg_last_error());
	backend_close(be);

	/* A block-device-only resize complaint does not apply; files grow. */
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	T_ASSERT(!system(path));
	return T_EXIT_PASS;
}
