/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one logging and last-error path of the daemon's layers (runtime,
 * device models, blk, backends).  libvdusekit is not one of them: it
 * prints nothing and keeps its own vdk_last_error().
 *
 * - msg_log() sends one line to the sink: stderr with the program's prefix
 *   until the program sets another (the daemon's log file).  errno is
 *   kept, so %m names the caller's error.
 * - msg_error() leaves a sentence naming a setup problem and its fix in a
 *   thread-local buffer, whichever layer failed; msg_last_error() reads it.
 * - struct msg_ratelimit bounds what something outside the daemon (a
 *   driver, a server) can make it log.
 *
 * Thread model: any thread.  The sink and prefix are set once, before any
 * other thread starts; a struct msg_ratelimit belongs to one thread.
 */
#ifndef VDK_COMMON_LOG_H
#define VDK_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum msg_level {
	MSG_ERR,
	MSG_WARN,
	MSG_INFO,
	MSG_DEBUG,
};

typedef void (*msg_sink_fn)(enum msg_level level, const char *msg);

/* NULL: back to stderr. */
void msg_set_sink(msg_sink_fn fn);
/* The program's name for the default sink's lines ("vduse-blk"); kept, not copied. */
void msg_set_prefix(const char *prefix);
const char *msg_prefix(void);
/* "error: ", "warning: ", "" or "debug: ". */
const char *msg_level_tag(enum msg_level level);

__attribute__((format(printf, 2, 3)))
void msg_log(enum msg_level level, const char *fmt, ...);
void msg_vlog(enum msg_level level, const char *fmt, va_list ap);

__attribute__((format(printf, 1, 2)))
void msg_error(const char *fmt, ...);
void msg_verror(const char *fmt, va_list ap);
/*
 * Messages for the user of a command, on stderr whatever the sink:
 * msg_err() with the prefix ("vduse-blk: ..."), msg_info() bare.
 */
__attribute__((format(printf, 1, 2)))
void msg_err(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void msg_info(const char *fmt, ...);

/* The last msg_error() of this thread; "" if none.  Valid until the next. */
const char *msg_last_error(void);

/*
 * At most @burst lines per @interval_ns (zeroes: MSG_BURST per second);
 * the rest are counted and reported as one "suppressed N messages" line
 * when the next window opens.  Start zeroed.
 */
#define MSG_BURST	10

struct msg_ratelimit {
	uint64_t interval_ns;
	unsigned int burst;
	uint64_t window_start_ns;
	unsigned int count;
	unsigned int suppressed;
};

/*
 * True if a line may go out now; if not, it is counted.  *@missed gets the
 * number suppressed in the window that just ended (0 if none), for the
 * caller to report first.
 */
bool msg_ratelimit_allow(struct msg_ratelimit *rl, unsigned int *missed);
__attribute__((format(printf, 3, 4)))
void msg_log_ratelimited(struct msg_ratelimit *rl, enum msg_level level,
			 const char *fmt, ...);
/* Reports what @rl suppressed so far, if anything. */
void msg_ratelimit_flush(struct msg_ratelimit *rl);

#endif /* VDK_COMMON_LOG_H */
