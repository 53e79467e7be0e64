/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The built-in backends; a new one adds its init function here and in registry.c. */
#ifndef VDK_BACKEND_REGISTRY_H
#define VDK_BACKEND_REGISTRY_H

#include "backend.h"

const struct backend_ops *backend_file_init(void);
const struct backend_ops *backend_memory_init(void);
const struct backend_ops *backend_null_init(void);
const struct backend_ops *backend_nbd_init(void);
const struct backend_ops *backend_rbd_init(void);

/* NULL-terminated; looked up in order, so prefixes must not overlap. */
extern const struct backend_ops *(*const backend_registry[])(void);

#endif /* VDK_BACKEND_REGISTRY_H */
