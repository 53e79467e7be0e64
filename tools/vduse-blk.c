// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vduse-blk: turn a file, a RAM disk or remote storage into a virtio block
 * device (/dev/vdX, or /dev/vhost-vdpa-N for a VM) through VDUSE.
 *
 * This file: the command line of add, recover and upgrade.  Every input
 * is checked here, with an error that names the problem and the fix,
 * before anything touches the kernel; the daemon runtime (runtime/) then
 * serves the device through the block model (blk-model.c).
 *
 * Thread model: the command's only thread (start_daemon forks the daemon).
 */
#include <errno.h>
#include <getopt.h>
#include <linux/virtio_blk.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vduse-blk.h"

void usage(FILE *out)
{
	fprintf(out,
"Usage: " PROG " COMMAND [OPTIONS]\n"
"\n"
"Serve storage as a virtio block device through VDUSE.\n"
"\n"
"Commands:\n"
"  add [OPTIONS] BACKEND   create a device and serve it (prints its node)\n"
"  list [--json]           devices, their nodes, backends and daemons\n"
"  del [--force] NAME      stop a device cleanly, or clean up after a dead daemon;\n"
"                          --force: the backend is gone, fail its I/O in flight now\n"
"  resize NAME SIZE        grow a device while it is in use\n"
"  stats NAME [--json]     per-queue requests, bytes, errors, latency\n"
"  recover [--foreground] NAME\n"
"                          serve a device whose daemon died, where it stood\n"
"  upgrade NAME            replace a device's daemon with this binary, no I/O error\n"
"  help                    this text\n"
"\n"
"Options of add:\n"
"  -n, --name NAME         device name (default: first free vduse-blkN)\n"
"  -q, --queues N          virtqueues, one serving thread each (default 1)\n"
"  -s, --queue-size N      entries per queue, a power of two 4..1024 (default 256)\n"
"  -b, --block-size N      logical block size, 512 or 4096 (default 512)\n"
"  -r, --read-only         refuse writes\n"
"      --serial STR        serial number the guest sees (up to 20 bytes)\n"
"      --cache MODE        file backend: auto (O_DIRECT when aligned),\n"
"                          direct, or buffered (page cache) (default auto)\n"
"      --io-timeout SEC    nbd, rbd and vhost-user: fail I/O after SEC s without\n"
"                          the server, cluster or back-end\n"
"                          (default 0: wait for it to come back)\n"
"      --msg-timeout SEC   how long the kernel waits for a dead daemon's answer\n"
"                          before it breaks the device; recover must come\n"
"                          within it (1..3600, default 120; the kernel's is 30)\n"
"      --vhost             attach to vhost_vdpa (/dev/vhost-vdpa-N, for a VM)\n"
"                          instead of virtio_vdpa (/dev/vdX on this host)\n"
"  -f, --foreground        stay in the foreground (for systemd); logs on stderr\n"
"      --adopt             if device NAME exists without a daemon, recover it\n"
"                          instead of failing (for systemd restarts)\n"
"      --user USER         run the daemon as USER once set up (default vduse,\n"
"                          or nobody if there is no such user; never root)\n"
"\n"
"Backends:\n");
	blk_model_print_backends(out);
	fprintf(out,
"  vhost-user:PATH         a vhost-user-blk back-end's socket (qemu-storage-daemon,\n"
"                          SPDK, ...): it walks the rings itself, the data never\n"
"                          passes through " PROG "; takes --name, --queues (at most\n"
"                          the back-end's), --queue-size, --read-only, --io-timeout\n"
"  Sizes take K, M, G or T (powers of 1024).\n"
"\n"
"Needs root and the vduse, vdpa and virtio_vdpa (or vhost_vdpa) modules:\n"
"  modprobe -a vduse virtio_vdpa\n"
"Background daemons log to " RUN_DIR "/NAME.log.\n");
}

/* Parses a decimal number in [min, max] for option @opt. */
static bool parse_uint(const char *opt, const char *s, unsigned long min,
		       unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < min || v > max) {
		msg_err("%s takes a whole number from %lu to %lu, not '%s'", opt, min,
			max, s);
		return false;
	}
	*out = v;
	return true;
}

static bool check_serial(const char *s)
{
	size_t i, n = strlen(s);

	if (n > VIRTIO_BLK_ID_BYTES) {
		msg_err("--serial is %zu bytes; the virtio-blk ID holds at most %d", n,
			VIRTIO_BLK_ID_BYTES);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (s[i] < 0x21 || s[i] > 0x7e) {
			msg_err("--serial must be printable ASCII without spaces");
			return false;
		}
	}
	return true;
}

/* Picks the first vduse-blkN that no VDUSE device uses yet. */
static void pick_name(struct dev_opts *o)
{
	struct stat st;
	char path[300];
	unsigned int i;

	for (i = 0; i < 100000; i++) {
		snprintf(o->name_buf, sizeof(o->name_buf), "vduse-blk%u", i);
		snprintf(path, sizeof(path), "/sys/class/vduse/%s", o->name_buf);
		if (stat(path, &st) == 0)
			continue;
		snprintf(path, sizeof(path), "/dev/vduse/%s", o->name_buf);
		if (stat(path, &st) == 0)
			continue;
		break;
	}
	o->name = o->name_buf;
}

/* Tells the user what is missing from the kernel, before we try. */
static bool check_kernel(bool vhost)
{
	struct stat st;

	if (stat("/dev/vduse/control", &st) != 0) {
		msg_err("/dev/vduse/control is missing: load the VDUSE module with "
			"'modprobe -a vduse %s' (Linux 5.15 or later with CONFIG_VDPA_USER)",
			vhost ? "vhost_vdpa" : "virtio_vdpa");
		return false;
	}
	return true;
}

int cmd_add(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "queues", required_argument, NULL, 'q' },
		{ "queue-size", required_argument, NULL, 's' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
		{ "cache", required_argument, NULL, 'C' },
		{ "io-timeout", required_argument, NULL, 'T' },
		{ "msg-timeout", required_argument, NULL, 'M' },
		{ "vhost", no_argument, NULL, 'V' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "adopt", no_argument, NULL, 'A' },
		{ "user", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct add_opts o = {
		.blk = { .block_size = 512, .num_queues = 1, .queue_size = 256 },
		.dev = { .msg_timeout_s = MSG_TIMEOUT_DEFAULT_S },
	};
	struct dev_opts *dev = &o.dev;
	const char *not_bridged = NULL;
	bool queues_given = false;
	char why[512], sock[128];
	uid_t uid;
	gid_t gid;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:q:s:b:rfh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (vdk_name_check(optarg) < 0) {
				msg_err("bad --name: %s", vdk_last_error());
				return 1;
			}
			/* Its control socket's path must fit a sockaddr_un. */
			if (ctl_sock_path(optarg, sock, sizeof(sock)) < 0) {
				msg_err("bad --name: %zu bytes is too long for its control socket "
					"(%s/NAME.sock); use at most %zu", strlen(optarg),
					RUN_DIR, NAME_SOCK_MAX);
				return 1;
			}
			dev->name = optarg;
			break;
		case 'q':
			queues_given = true;
			if (!parse_uint("--queues", optarg, 1, ADD_QUEUES_MAX, &o.blk.num_queues))
				return 1;
			break;
		case 's':
			if (!parse_uint("--queue-size", optarg, 4, ADD_QUEUE_SIZE_MAX,
				&o.blk.queue_size))
				return 1;
			if (o.blk.queue_size & (o.blk.queue_size - 1)) {
				msg_err("--queue-size must be a power of two (4, 8, ... %u), not %u",
					ADD_QUEUE_SIZE_MAX, o.blk.queue_size);
				return 1;
			}
			break;
		case 'b':
			not_bridged = "--block-size (the back-end sets it)";
			if (strcmp(optarg, "512") && strcmp(optarg, "4096")) {
				msg_err("--block-size is 512 or 4096, not '%s'", optarg);
				return 1;
			}
			o.blk.block_size = atoi(optarg);
			break;
		case 'r':
			o.blk.readonly = true;
			break;
		case 'S':
			not_bridged = "--serial (the back-end answers GET_ID)";
			if (!check_serial(optarg))
				return 1;
			o.blk.serial = optarg;
			break;
		case 'C':
			not_bridged = "--cache (the back-end opens the storage)";
			if (!strcmp(optarg, "auto")) {
				o.blk.cache = BLK_MODEL_CACHE_AUTO;
			} else if (!strcmp(optarg, "direct")) {
				o.blk.cache = BLK_MODEL_CACHE_DIRECT;
			} else if (!strcmp(optarg, "buffered")) {
				o.blk.cache = BLK_MODEL_CACHE_BUFFERED;
			} else {
				msg_err("--cache is auto, direct or buffered, not '%s'", optarg);
				return 1;
			}
			break;
		case 'T':
			if (!parse_uint("--io-timeout", optarg, 0, blk_model_io_timeout_max,
					&o.blk.io_timeout_s))
				return 1;
			break;
		case 'M':
			if (!parse_uint("--msg-timeout", optarg, 1, MSG_TIMEOUT_MAX_S,
					&dev->msg_timeout_s))
				return 1;
			break;
		case 'V':
			not_bridged = "--vhost (give the VM the back-end's socket directly)";
			dev->vhost = true;
			break;
		case 'f':
			dev->foreground = true;
			break;
		case 'A':
			dev->adopt = true;
			break;
		case 'U':
			if (strlen(optarg) >= sizeof(dev->user_buf)) {
				msg_err("--user '%s' is too long", optarg);
				return 1;
			}
			strcpy(dev->user_buf, optarg);
			dev->user = dev->user_buf;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			msg_err("see '" PROG " help'");
			return 1;
		}
	}
	if (optind != argc - 1) {
		msg_err(optind == argc ? "add needs a BACKEND, e.g. '" PROG " add /var/lib/disk.img' (see '" PROG " help')"
				       : "add takes one BACKEND; unexpected '%s'",
			argv[optind + 1 < argc ? optind + 1 : optind]);
		return 1;
	}
	o.blk.backend = argv[optind];
	/* It is saved for recover: one line, and no longer than it can be read back. */
	if (strlen(o.blk.backend) >= sizeof(o.blk.backend_buf) ||
	    strchr(o.blk.backend, '\n')) {
		msg_err("the BACKEND spec must be one line of at most %zu bytes",
			sizeof(o.blk.backend_buf) - 1);
		return 1;
	}
	if (model_for_spec(o.blk.backend) == &bridge_model) {
		if (not_bridged) {
			msg_err("a vhost-user back-end does not take %s", not_bridged);
			return 1;
		}
		/* 0: as many as the back-end serves. */
		if (!queues_given)
			o.blk.num_queues = 0;
	}
	if (dev->user && resolve_user(dev->user, &uid, &gid, why, sizeof(why)) < 0) {
		msg_err("--user: %s", why);
		return 1;
	}

	if (!check_root("add") || !check_kernel(dev->vhost))
		return 1;
	if (!dev->name)
		pick_name(dev);
	if (dev->adopt && device_exists(dev->name)) {
		char *rargv[] = { (char *)"recover", (char *)dev->name, NULL,
				  NULL };

		if (dev->foreground)
			rargv[2] = (char *)"--foreground";
		/* The saved settings, not this command line, describe it. */
		return cmd_recover(dev->foreground ? 3 : 2, rargv);
	}
	add_opts_choose_model(&o);
	return start_daemon(dev, DAEMON_ADD);
}

/* `recover NAME`: a new daemon for a device whose daemon died. */
int cmd_recover(int argc, char **argv)
{
	struct add_opts o = { 0 };
	bool foreground = false;
	char reply[64], what[4200];
	int i, ret;
	const char *name = NULL;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--foreground") || !strcmp(argv[i], "-f"))
			foreground = true;
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else {
			msg_err("usage: " PROG " recover [--foreground] NAME");
			return 1;
		}
	}
	if (!name) {
		msg_err("recover needs the NAME of a device whose daemon died (see '" PROG " list')");
		return 1;
	}
	if (vdk_name_check(name) < 0) {
		msg_err("recover: %s", vdk_last_error());
		return 1;
	}
	if (!check_root("recover") || !check_kernel(false))
		return 1;
	if (!device_exists(name)) {
		msg_err("there is no device named '%s' (see '" PROG " list')", name);
		return 1;
	}
	if (ctl_request(name, "info", reply, sizeof(reply)) == 0) {
		msg_err("%s has a running daemon; nothing to recover", name);
		return 1;
	}
	add_opts_init(&o);
	ret = load_conf(name, &o.dev);
	if (ret < 0) {
		msg_err("%s was not added by " PROG " (no %s/%s.conf): it cannot be recovered; "
			"'" PROG " del %s' removes it", name, RUN_DIR, name, name);
		return 1;
	}
	add_opts_choose_model(&o);
	if (o.dev.model->lost_with_daemon(&o.blk, what, sizeof(what))) {
		msg_err("%s was %s: its data died with its daemon, so serving "
			"it again would hand the kernel an empty disk; remove it with '"
			PROG " del %s'", name, what, name);
		return 1;
	}
	o.dev.foreground = foreground;
	return start_daemon(&o.dev, DAEMON_RECOVER);
}

/*
 * `upgrade NAME`: the running daemon drains and exits without touching the
 * device; this binary (the new one) then recovers it.  Applications see a
 * pause, not an error.
 */
int cmd_upgrade(int argc, char **argv)
{
	char reply[4096], *rargv[3];
	const char *name;
	pid_t pid;
	int i;

	if (argc != 2) {
		msg_err("usage: " PROG " upgrade NAME");
		return 1;
	}
	name = argv[1];
	if (vdk_name_check(name) < 0) {
		msg_err("upgrade: %s", vdk_last_error());
		return 1;
	}
	if (!check_root("upgrade"))
		return 1;
	if (ctl_request(name, "info", reply, sizeof(reply)) < 0) {
		msg_err(device_exists(name) ? "no daemon serves %s; use '" PROG " recover %s'"
					    : "there is no device named '%s' (see '" PROG " list')",
			name, name);
		return 1;
	}
	pid = reply_pid(reply);
	if (ctl_request(name, "handover", reply, sizeof(reply)) < 0 ||
	    strncmp(reply, "OK", 2)) {
		msg_err("the daemon of %s refused to hand over: %s", name, reply);
		return 1;
	}
	/* The old daemon drains its queues, then lets go of the device. */
	for (i = 0; i < 600 && pid > 0 && kill(pid, 0) == 0; i++)
		usleep(50 * 1000);
	if (pid > 0 && kill(pid, 0) == 0) {
		msg_err("the old daemon %d of %s did not exit within 30 s", (int)pid, name);
		return 1;
	}
	rargv[0] = (char *)"recover";
	rargv[1] = (char *)name;
	rargv[2] = NULL;
	return cmd_recover(2, rargv);
}
