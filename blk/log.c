// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Logging for the device model: one printf-checked entry point, a
 * per-queue rate limit so a misbehaving driver cannot flood the log from
 * the I/O path, and a thread-local message for setup errors.
 *
 * Thread model: any thread.  The sink is set once before queues start; a
 * struct blk_ratelimit belongs to one queue thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "blk.h"

static void stderr_sink(enum blk_log_level level, const char *msg)
{
	static const char *const prefix[] = {
		[BLK_LOG_ERR] = "error: ",
		[BLK_LOG_WARN] = "warning: ",
		[BLK_LOG_INFO] = "",
		[BLK_LOG_DEBUG] = "debug: ",
	};

	fprintf(stderr, "vduse-blk: %s%s\n", prefix[level], msg);
}

static blk_log_sink_fn log_sink = stderr_sink;

void blk_log_set_sink(blk_log_sink_fn fn)
{
	log_sink = fn ? fn : stderr_sink;
}

/* Formats with errno as the caller left it, so %m names the caller's error. */
static void log_emit(enum blk_log_level level, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_sink(level, msg);
}

void blk_log(enum blk_log_level level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

void blk_ratelimit_flush(struct blk_ratelimit *rl)
{
	if (!rl->base.suppressed)
		return;
	blk_log(BLK_LOG_WARN, "suppressed %u messages", rl->base.suppressed);
	rl->base.suppressed = 0;
}

void blk_log_ratelimited(struct blk_ratelimit *rl, enum blk_log_level level,
			 const char *fmt, ...)
{
	int saved = errno;
	unsigned int missed;
	bool ok = backend_ratelimit_allow(&rl->base, &missed);
	va_list ap;

	if (missed)
		blk_log(BLK_LOG_WARN, "suppressed %u messages", missed);
	if (!ok)
		return;
	errno = saved;
	va_start(ap, fmt);
	log_emit(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

/*
 * Setup errors share the backends' buffer: a daemon reading "the last
 * error" after blk_dev_init() or blk_queue_init() gets whichever layer
 * failed, without asking both.
 */
void blk_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	backend_verror(fmt, ap);
	va_end(ap);
}

const char *blk_last_error(void)
{
	return backend_last_error();
}
