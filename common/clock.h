/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Clocks and sleeps; header-only.  Every deadline and interval in the
 * project is CLOCK_MONOTONIC, so that a change of the wall clock moves no
 * timeout.  Safe from any thread.
 */
#ifndef VDK_COMMON_CLOCK_H
#define VDK_COMMON_CLOCK_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC	1000000000ull
#define NSEC_PER_MSEC	1000000ull

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline uint64_t now_ms(void)
{
	return now_ns() / NSEC_PER_MSEC;
}

/* Sleeps @ms milliseconds, through signals. */
static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

#endif /* VDK_COMMON_CLOCK_H */
