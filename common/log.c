// SPDX-License-Identifier: LGPL-2.1-or-later
/* The daemon's one log and last-error path (log.h).  Thread model: any thread. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "clock.h"
#include "log.h"

static const char *prefix = "vdusekit";

static void stderr_sink(enum msg_level level, const char *msg)
{
	fprintf(stderr, "%s: %s%s\n", prefix, msg_level_tag(level), msg);
}

static _Atomic(msg_sink_fn) sink = stderr_sink;
static __thread char last_error[512];

void msg_set_sink(msg_sink_fn fn)
{
	atomic_store(&sink, fn ? fn : stderr_sink);
}

void msg_set_prefix(const char *p)
{
	if (p && *p)
		prefix = p;
}

const char *msg_prefix(void)
{
	return prefix;
}

const char *msg_level_tag(enum msg_level level)
{
	switch (level) {
	case MSG_ERR:
		return "error: ";
	case MSG_WARN:
		return "warning: ";
	case MSG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

void msg_vlog(enum msg_level level, const char *fmt, va_list ap)
{
	int saved = errno;
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	atomic_load(&sink)(level, line);
	errno = saved;
}

void msg_log(enum msg_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vlog(level, fmt, ap);
	va_end(ap);
}

void msg_verror(const char *fmt, va_list ap)
{
	int saved = errno;

	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	errno = saved;
}

void msg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_verror(fmt, ap);
	va_end(ap);
}

void msg_err(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	fprintf(stderr, "%s: ", prefix);
	errno = saved;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	errno = saved;
}

void msg_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	errno = saved;
}

const char *msg_last_error(void)
{
	return last_error;
}

bool msg_ratelimit_allow(struct msg_ratelimit *rl, unsigned int *missed)
{
	uint64_t interval = rl->interval_ns ? rl->interval_ns : NSEC_PER_SEC;
	unsigned int burst = rl->burst ? rl->burst : MSG_BURST;
	uint64_t now = now_ns();

	*missed = 0;
	if (!rl->window_start_ns || now - rl->window_start_ns >= interval) {
		*missed = rl->suppressed;
		rl->window_start_ns = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < burst) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}

void msg_log_ratelimited(struct msg_ratelimit *rl, enum msg_level level,
			 const char *fmt, ...)
{
	int saved = errno;
	unsigned int missed;
	bool ok = msg_ratelimit_allow(rl, &missed);
	va_list ap;

	if (missed)
		msg_log(MSG_WARN, "suppressed %u messages", missed);
	if (!ok)
		return;
	errno = saved;
	va_start(ap, fmt);
	msg_vlog(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

void msg_ratelimit_flush(struct msg_ratelimit *rl)
{
	if (!rl->suppressed)
		return;
	msg_log(MSG_WARN, "suppressed %u messages", rl->suppressed);
	rl->suppressed = 0;
}
