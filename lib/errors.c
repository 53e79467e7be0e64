// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Thread-local "last error" text.  Each thread gets its own buffer so queue
 * threads and the control thread never see each other's messages.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

/* Long enough for a path plus an explanation; longer messages are cut. */
#define VDK_ERROR_MAX 512

static __thread char last_error[VDK_ERROR_MAX];

int vdk_set_error(int err, const char *fmt, ...)
{
	int saved = errno;	/* callers may still want errno after this */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errno = saved;
	return err;
}

void vdk_clear_error(void)
{
	last_error[0] = '\0';
}

VDK_EXPORT const char *vdk_last_error(void)
{
	return last_error;
}
