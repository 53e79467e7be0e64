// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Built as strict ISO C99 and C11 with -pedantic-errors: vdusekit.h must
 * compile first and alone, with no GNU extensions.
 */
#include "vdusekit.h"

int main(void)
{
	struct vdk_req req = { 0 };
	struct vdk_dev_ops ops = { 0 };

	(void)ops;
	return req.head + (VDK_NAME_MAX != 255) + VDK_BUS_VIRTIO;
}
