/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small macros every layer uses; header-only, no state. */
#ifndef VDK_COMMON_MACROS_H
#define VDK_COMMON_MACROS_H

#include <stddef.h>

/* The struct that holds @ptr as its @member. */
#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#endif /* VDK_COMMON_MACROS_H */
