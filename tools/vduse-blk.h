/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vduse-blk: shared declarations of the command's source files.
 *
 *   main.c        subcommand dispatch
 *   vduse-blk.c   command line: add, recover, upgrade; usage
 *   cmds.c        list, del, resize, stats: clients of the control socket
 *   blk-model.c   the virtio-blk device model (blk-model.h): the only file
 *                 here that includes blk.h and backend.h
 *   bridge-model.c  virtio-blk rings handed to a vhost-user back-end
 *                 (bridge-model.h)
 *
 * The daemon itself (device lifecycle, keeper, control thread, queue
 * threads, control socket, settings file, privileges, messages) is the
 * device-neutral runtime in runtime/ (runtime.h).  Calls go one way:
 * main.c -> vduse-blk.c, cmds.c -> blk-model.c -> runtime/ (see
 * docs/architecture.md).
 */
#ifndef VDUSE_BLK_H
#define VDUSE_BLK_H

#include <stdbool.h>
#include <stdio.h>

#include "blk-model.h"
#include "bridge-model.h"
#include "runtime.h"
#include "vdusekit.h"

#define PROG "vduse-blk"

/*
 * What `add` accepts, within blk's BLK_QUEUES_MAX and the library's
 * VDK_QUEUE_SIZE_MAX: a queue is a thread with its own io_uring and copy
 * budget, so more queues than a host has CPUs only costs; and the state
 * file and every queue's bookkeeping grow with the queue size.
 */
#define ADD_QUEUES_MAX		64
#define ADD_QUEUE_SIZE_MAX	1024

/* What `add` was asked for: the daemon's options and the block model's. */
struct add_opts {
	struct dev_opts dev;
	struct blk_model_opts blk;
};

/*
 * Points @o->dev at the block model and its options (zeroes nothing), as
 * load_conf() needs: the settings file holds the block model's keys for
 * every device.
 */
static inline void add_opts_init(struct add_opts *o)
{
	o->dev.model = &blk_model;
	o->dev.model_opts = &o->blk;
}

/* Once @o->blk.backend is known: the model that serves it. */
static inline void add_opts_choose_model(struct add_opts *o)
{
	o->dev.model = model_for_spec(o->blk.backend);
	o->dev.model_opts = &o->blk;
}

/* cmds.c */
/* One `list` entry for a device no daemon answers for. */
void list_orphan(FILE *out, const char *name, const char *node, bool json,
		 bool first);
int cmd_list(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_stats(int argc, char **argv);

/* vduse-blk.c */
void usage(FILE *out);
int cmd_add(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);

#endif /* VDUSE_BLK_H */
