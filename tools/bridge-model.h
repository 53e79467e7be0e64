/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vhost-user bridge (bridge-model.c): a block device whose rings a
 * vhost-user-blk back-end walks.  It takes the same options as the block
 * model (struct blk_model_opts, the same settings-file keys), and `add`
 * chooses it by the BACKEND spec's prefix.
 */
#ifndef VDUSE_BRIDGE_MODEL_H
#define VDUSE_BRIDGE_MODEL_H

#include "blk-model.h"
#include "runtime.h"

#define BRIDGE_PREFIX "vhost-user:"

extern const struct device_model bridge_model;

/* The model that serves BACKEND spec @spec: the bridge or the block model. */
const struct device_model *model_for_spec(const char *spec);

#endif /* VDUSE_BRIDGE_MODEL_H */
