/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio-blk device model of vduse-blk (blk-model.c): what the
 * daemon runtime (runtime/) needs to serve a block device over a storage
 * backend.  Only blk-model.c includes blk.h and backend.h; the commands
 * reach both through this header.
 */
#ifndef VDUSE_BLK_MODEL_H
#define VDUSE_BLK_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime.h"

struct backend;

/* What `add` was asked for about the block device and its backend. */
struct blk_model_opts {
	const char *backend;		/* the BACKEND spec */
	uint32_t num_queues;
	uint32_t queue_size;
	uint32_t block_size;
	bool readonly;
	const char *serial;		/* NULL: none */
	unsigned int cache;		/* BLK_MODEL_CACHE_* */
	uint32_t io_timeout_s;		/* network backends; 0 = wait forever */
	/*
	 * del --force of a device whose daemon is dead: open no backend (it
	 * is gone) and answer every request with an I/O error, so that the
	 * kernel's detach, which waits for the requests in flight, finishes.
	 * Never saved.
	 */
	bool fail_io;
	char backend_buf[4096];
	char serial_buf[32];
};

/* --cache, as saved in the settings file; the file backend's option "cache". */
#define BLK_MODEL_CACHE_AUTO		0	/* O_DIRECT when aligned */
#define BLK_MODEL_CACHE_DIRECT		1
#define BLK_MODEL_CACHE_BUFFERED	2

extern const struct device_model blk_model;

/* The backends and their usage lines, one "  USAGE\n" each, to @out. */
void blk_model_print_backends(FILE *out);
/* The longest --io-timeout the network backends take, in seconds. */
extern const unsigned int blk_model_io_timeout_max;
/*
 * Parses a size with an optional K, M, G or T suffix; 0, or -EINVAL with
 * the reason (naming @what) in @why.
 */
int blk_model_parse_size(const char *s, const char *what, uint64_t *size,
			 char *why, size_t why_len);
/*
 * The model's state over a backend that is open already (tests); @be then
 * belongs to it.  0 or -ENOMEM.
 */
int blk_model_open_backend(struct backend *be, const struct blk_model_opts *opts,
			   void **m);

#endif /* VDUSE_BLK_MODEL_H */
