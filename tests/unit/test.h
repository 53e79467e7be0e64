/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tiny helpers for host-side tests: exit 0 pass, 1 fail, 77 skip. */
#ifndef VDK_TEST_H
#define VDK_TEST_H

#include <stdio.h>
#include <stdlib.h>

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

/* Fails the test with the source location when @cond is false. */
#define T_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: assertion failed: %s\n",	\
			__FILE__, __LINE__, #cond);			\
		exit(T_EXIT_FAIL);					\
	}								\
} while (0)

#define T_ASSERT_EQ(a, b) do {						\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a != _b) {							\
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
			__FILE__, __LINE__, #a, _a, #b, _b);		\
		exit(T_EXIT_FAIL);					\
	}								\
} while (0)

#endif
