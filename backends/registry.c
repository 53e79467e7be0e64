// SPDX-License-Identifier: LGPL-2.1-or-later
/* Thread model: read-only table, safe from any thread. */
#include "registry.h"

const struct backend_ops *(*const backend_registry[])(void) = {
	backend_file_init,
	backend_memory_init,
	backend_null_init,
	backend_nbd_init,
	backend_rbd_init,
	NULL,
};
