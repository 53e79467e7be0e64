// SPDX-License-Identifier: LGPL-2.1-or-later
/* vdk_name_check(): which device names are accepted, and why not. */
#include <errno.h>
#include <string.h>

#include "vdusekit.h"
#include "test.h"

static void ok(const char *name)
{
	int ret = vdk_name_check(name);

	if (ret) {
		fprintf(stderr, "\"%s\" refused (%d): %s\n", name, ret,
			vdk_last_error());
		exit(T_EXIT_FAIL);
	}
}

/* Refused with -EINVAL and a reason that contains @why. */
static void bad(const char *name, const char *why)
{
	int ret = vdk_name_check(name);

	if (ret != -EINVAL) {
		fprintf(stderr, "\"%s\" gave %d, expected -EINVAL\n",
			name ? name : "(null)", ret);
		exit(T_EXIT_FAIL);
	}
	if (!strstr(vdk_last_error(), why)) {
		fprintf(stderr, "\"%s\": reason \"%s\" lacks \"%s\"\n",
			name ? name : "(null)", vdk_last_error(), why);
		exit(T_EXIT_FAIL);
	}
}

int main(void)
{
	char name[VDK_NAME_MAX + 2];

	ok("vduse0");
	ok("a");
	ok("disk-1_x.y");
	ok("vq");		/* only vq + digits clashes */
	ok("vqa");
	ok("vq1a");
	ok("avq0");
	ok("a.b");
	ok(".hidden");

	memset(name, 'x', VDK_NAME_MAX);
	name[VDK_NAME_MAX] = '\0';
	ok(name);		/* exactly 255 */
	name[VDK_NAME_MAX] = 'x';
	name[VDK_NAME_MAX + 1] = '\0';
	bad(name, "longer than");	/* 256 */

	bad(NULL, "no device name");
	bad("", "empty");
	bad("a/b", "'/'");
	bad("/", "'/'");
	bad(".", "\".\"");
	bad("..", "..");
	bad("a..b", "..");
	bad("vq0", "vqN");
	bad("vq12", "vqN");
	bad("has space", "space");
	bad("tab\there", "non-printable");
	bad("caf\xc3\xa9", "non-printable");
	bad("nl\n", "non-printable");
	return T_EXIT_PASS;
}
