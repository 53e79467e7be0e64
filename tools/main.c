// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * vduse-blk's entry point: picks the subcommand.  Everything else lives in
 * the other files of tools/ and in runtime/, which the unit tests link
 * without this one.
 *
 * Thread model: the command's only thread.
 */
#include <stdio.h>
#include <string.h>

#include "vduse-blk.h"

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	msg_set_prefix(PROG);
	if (!cmd) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "add"))
		return cmd_add(argc - 1, argv + 1);
	if (!strcmp(cmd, "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(cmd, "del"))
		return cmd_del(argc - 1, argv + 1);
	if (!strcmp(cmd, "resize"))
		return cmd_resize(argc - 1, argv + 1);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(cmd, "recover"))
		return cmd_recover(argc - 1, argv + 1);
	if (!strcmp(cmd, "upgrade"))
		return cmd_upgrade(argc - 1, argv + 1);
	msg_err("unknown command '%s'; commands are add, list, del, resize, stats, recover, upgrade (see '"
		PROG " help')", cmd);
	return 1;
}
