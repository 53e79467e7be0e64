// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * list, del, resize, stats: clients of the running daemons' control
 * sockets, plus what can be done for a device whose daemon is gone.
 *
 * Thread model: the command's only thread.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vduse-blk.h"

#define REPLY_MAX 65536

static bool check_name_arg(const char *cmd, int argc, char **argv, int want)
{
	if (argc < want + 1) {
		msg_err("%s needs a device NAME (see '" PROG " list')", cmd);
		return false;
	}
	if (vdk_name_check(argv[1]) < 0) {
		msg_err("%s: %s", cmd, vdk_last_error());
		return false;
	}
	return true;
}

void list_orphan(FILE *out, const char *name, const char *node, bool json,
		 bool first)
{
	if (json) {
		/* Names may hold any printable character, '"' and '\\' too. */
		fprintf(out, "%s{\"name\": ", first ? "" : ",\n ");
		json_print_str(out, name);
		fprintf(out, ", \"node\": ");
		json_print_str(out, node);
		fprintf(out, ", \"backend\": null, \"size\": null, \"queues\": null, "
			"\"pid\": null, \"state\": \"no daemon\"}");
	} else {
		fprintf(out, "%-16s %-18s %-28s %12s %6s %8s %s\n", name, node, "-",
			"-", "-", "-", "no daemon (recover or del)");
	}
}

/* Lists a device no daemon of ours answers for. */
static void show_orphan(const char *name, bool json, bool first)
{
	char node[64] = "-";

	if (vdk_dev_node(name, node, sizeof(node)) < 0)
		strcpy(node, "-");
	list_orphan(stdout, name, node, json, first);
}

int cmd_list(int argc, char **argv)
{
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	char *reply;
	struct dirent **ents = NULL;
	int n, i, shown = 0;

	if (argc > 2 || (argc == 2 && !json)) {
		msg_err("usage: " PROG " list [--json]");
		return 1;
	}
	if (!check_root("list"))
		return 1;
	reply = malloc(REPLY_MAX);
	if (!reply)
		return 1;
	n = scandir("/sys/class/vduse", &ents, NULL, alphasort);
	if (json)
		printf("[");
	else
		printf("%-16s %-18s %-28s %12s %6s %8s %s\n", "NAME", "NODE", "BACKEND",
		       "SIZE", "QUEUES", "PID", "STATE");
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (name[0] == '.' || !strcmp(name, "control"))
			continue;
		if (ctl_request(name, json ? "info" : "info-tsv", reply, REPLY_MAX) < 0) {
			show_orphan(name, json, shown == 0);
		} else if (json) {
			reply[strcspn(reply, "\n")] = '\0';
			printf("%s%s", shown ? ",\n " : "", reply);
		} else {
			char *f[7], *p = reply;
			int k;

			reply[strcspn(reply, "\n")] = '\0';
			for (k = 0; k < 7; k++)
				f[k] = strsep(&p, "\t");
			if (!f[6]) {
				show_orphan(name, false, false);
			} else {
				printf("%-16s %-18s %-28s %12s %6s %8s %s\n", f[0], f[1],
				       f[2], f[3], f[4], f[5], f[6]);
			}
		}
		shown++;
	}
	if (json)
		printf("]\n");
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(reply);
	return 0;
}

/*
 * Waits for the daemon to exit and the device to go.  Returns 1 when both
 * are gone, 0 if the daemon died and left the device (a crash while
 * detaching: the caller cleans up), -1 on timeout.
 */
static int wait_gone(const char *name, pid_t pid, int seconds)
{
	struct timespec ts = { .tv_nsec = 50 * 1000 * 1000 };
	int i, dead_for = 0;

	for (i = 0; i < seconds * 20; i++) {
		bool alive = pid > 0 && kill(pid, 0) == 0;

		if (!alive && !device_exists(name))
			return 1;
		/* Give the kernel a moment to finish removing the device. */
		if (!alive && ++dead_for > 20)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* The device's msg_timeout in seconds; the kernel's default if unknown. */
static int msg_timeout_of(const char *name)
{
	char path[300], buf[16] = "";
	int t = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/vduse/%s/msg_timeout", name);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			t = atoi(buf);
		fclose(f);
	}
	return t > 0 ? t : 30;
}

/* Asks the daemon to stop; 0, or 1 with the reason printed. */
static int request_stop(const char *name, bool force)
{
	char reply[4096];
	int ret;

	ret = ctl_request(name, force ? "stop-force" : "stop", reply, sizeof(reply));
	if (force && ret == 0 && !strncmp(reply, "ERR unknown request", 19)) {
		/* A daemon of an older version: it fails them after 10 s. */
		msg_info(PROG ": the daemon of %s predates --force; its backend gets 10 s to answer first",
			 name);
		ret = ctl_request(name, "stop", reply, sizeof(reply));
	}
	if (ret < 0 || strncmp(reply, "OK", 2)) {
		msg_err("the daemon of %s did not accept the stop request: %s",
			name, ret < 0 ? strerror(-ret) : reply);
		return 1;
	}
	return 0;
}

int cmd_del(int argc, char **argv)
{
	char reply[4096];
	struct add_opts o = { 0 };
	const char *name;
	bool force = false;
	int i, ret, wait_s;
	pid_t pid;

	/* del [--force] NAME, or del NAME --force */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") && strcmp(argv[i], "-f"))
			continue;
		force = true;
		memmove(&argv[i], &argv[i + 1], (argc - i) * sizeof(*argv));
		argc--;
		break;
	}
	if (!check_name_arg("del", argc, argv, 1))
		return 1;
	if (argc > 2) {
		msg_err("usage: " PROG " del [--force] NAME");
		return 1;
	}
	if (!check_root("del"))
		return 1;
	name = argv[1];

	ret = ctl_request(name, "info", reply, sizeof(reply));
	if (ret == 0) {
		pid = reply_pid(reply);
		if (request_stop(name, force))
			return 1;
		/* Detach waits for I/O in flight; give it time. */
		ret = wait_gone(name, pid, 120);
		if (ret > 0)
			return 0;
		if (ret < 0) {
			msg_err("%s is still there after 120 s; see %s/%s.log", name,
				RUN_DIR, name);
			return 1;
		}
		msg_err("the daemon of %s died while removing it; cleaning up", name);
	}
	if (!device_exists(name)) {
		msg_err("there is no device named '%s' (see '" PROG " list')", name);
		return 1;
	}
	/*
	 * No daemon answers.  If we know how the device was made, serve it
	 * once more so the driver's last requests complete and the detach is
	 * clean (the kernel's detach waits for them); otherwise just make it
	 * go away.  Forced, the backend is taken to be gone: every request
	 * still in flight fails with an I/O error instead.
	 */
	add_opts_init(&o);
	if (load_conf(name, &o.dev) == 0) {
		add_opts_choose_model(&o);
		o.blk.fail_io = force;
		o.dev.force = force;
		if (force)
			msg_info(PROG ": no daemon serves %s; --force: its requests in flight fail with an I/O error",
				 name);
		if (start_daemon(&o.dev, DAEMON_CLEANUP) == 0)
			return 0;
		if (force)
			msg_err("cleaning %s up through its saved state failed; removing it anyway",
				name);
		else
			msg_err("cleaning %s up through its saved state failed; removing it anyway "
				"(if that waits for requests in flight because the backend is gone, "
				"'" PROG " del --force %s' fails them instead)", name, name);
	}
	/*
	 * A daemon killed in the middle of a removal can hold the device
	 * until the kernel gives up on the message it was answering (the
	 * device's msg_timeout as it was when the message was sent;
	 * destroy_by_name shortens it for the next ones): retry that long.
	 */
	wait_s = msg_timeout_of(name) + 30;
	if (wait_s < 90)
		wait_s = 90;
	for (i = 0; i < wait_s; i++) {
		ret = vdk_dev_destroy_by_name(name);
		if (ret != -EBUSY || !device_exists(name))
			break;
		if (i == 0)
			msg_info(PROG ": %s is still held by a dying process; waiting", name);
		sleep(1);
	}
	if (ret < 0 && device_exists(name)) {
		msg_err("cannot remove %s: %s", name, vdk_last_error());
		return 1;
	}
	remove_run_files(name);
	return 0;
}

int cmd_resize(int argc, char **argv)
{
	char reply[4096], req[128], why[512];
	uint64_t size;
	int ret;

	if (!check_name_arg("resize", argc, argv, 2))
		return 1;
	if (argc != 3) {
		msg_err(argc < 3 ? "resize needs a SIZE, e.g. '" PROG " resize %s 20G'"
				 : "usage: " PROG " resize NAME SIZE", argv[1]);
		return 1;
	}
	if (blk_model_parse_size(argv[2], "SIZE", &size, why, sizeof(why)) < 0) {
		msg_err("%s", why);
		return 1;
	}
	if (!check_root("resize"))
		return 1;
	snprintf(req, sizeof(req), "resize %llu", (unsigned long long)size);
	ret = ctl_request(argv[1], req, reply, sizeof(reply));
	if (ret < 0) {
		msg_err(device_exists(argv[1]) ? "no daemon serves %s; resize needs a running device"
					       : "there is no device named '%s' (see '" PROG " list')",
			argv[1]);
		return 1;
	}
	if (strncmp(reply, "OK", 2)) {
		msg_err("resize %s: %s", argv[1], reply + (strncmp(reply, "ERR ", 4) ? 0 : 4));
		return 1;
	}
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	bool json = argc > 2 && !strcmp(argv[2], "--json");
	char *reply;
	int ret;

	if (!check_name_arg("stats", argc, argv, 1))
		return 1;
	if (argc > 3 || (argc == 3 && !json)) {
		msg_err("usage: " PROG " stats NAME [--json]");
		return 1;
	}
	if (!check_root("stats"))
		return 1;
	reply = malloc(REPLY_MAX);
	if (!reply)
		return 1;
	ret = ctl_request(argv[1], json ? "stats" : "stats-text", reply, REPLY_MAX);
	if (ret < 0) {
		msg_err(device_exists(argv[1]) ? "no daemon serves %s, so it has no statistics"
					       : "there is no device named '%s' (see '" PROG " list')",
			argv[1]);
		free(reply);
		return 1;
	}
	fputs(reply, stdout);
	free(reply);
	return 0;
}
