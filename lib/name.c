// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device names: what the kernel, sysfs and the paths built from a name
 * accept.  Thread model: any thread.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

VDK_EXPORT int vdk_name_check(const char *name)
{
	size_t len, i;

	if (!name)
		return vdk_set_error(-EINVAL, "no device name given");
	len = strnlen(name, VDK_NAME_MAX + 1);
	if (len == 0)
		return vdk_set_error(-EINVAL, "the device name is empty");
	if (len > VDK_NAME_MAX)
		return vdk_set_error(-EINVAL,
				     "the device name is longer than %d bytes",
				     VDK_NAME_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/')
			return vdk_set_error(-EINVAL,
					     "device name \"%s\" contains '/'",
					     name);
		/* The name becomes a path and a sysfs name: keep it plain. */
		if (c <= ' ' || c > '~')
			return vdk_set_error(-EINVAL,
					     "device name contains a space or a non-printable character at byte %zu; use printable ASCII",
					     i);
	}
	if (strstr(name, ".."))
		return vdk_set_error(-EINVAL,
				     "device name \"%s\" contains \"..\"",
				     name);
	if (!strcmp(name, "."))
		return vdk_set_error(-EINVAL, "device name cannot be \".\"");
	/*
	 * The vdpa device is a sysfs child of the VDUSE device, which already
	 * has children vq0, vq1, ...: such a name makes "vdpa dev add" fail
	 * with EEXIST long after creation, so refuse it up front.
	 */
	if (len > 2 && name[0] == 'v' && name[1] == 'q' &&
	    strspn(name + 2, "0123456789") == len - 2)
		return vdk_set_error(-EINVAL,
				     "device name \"%s\" clashes with the per-queue sysfs directories (vqN); choose another",
				     name);
	return 0;
}
