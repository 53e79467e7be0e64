// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket's path is never cut to fit a sockaddr_un: a device
 * named P + ".sock..." used to reach P's socket, so `del` of the long name
 * stopped P.  Now the long name has no path at all, and a client refuses
 * to connect rather than reach another device's daemon.
 */
#include <errno.h>
#include <string.h>
#include <sys/un.h>

#include "test.h"
#include "runtime.h"

int main(void)
{
	struct sockaddr_un sa;
	char p[NAME_SOCK_MAX + 1], l[200], pp[sizeof(sa.sun_path)];
	char lp[sizeof(sa.sun_path)], big[400], reply[64];

	/* The longest name that fits, and one that used to collide with it. */
	memset(p, 'a', NAME_SOCK_MAX);
	p[NAME_SOCK_MAX] = '\0';
	snprintf(l, sizeof(l), "%s.sock-victim-is-the-other-one", p);
	T_ASSERT_EQ(vdk_name_check(p), 0);
	T_ASSERT_EQ(vdk_name_check(l), 0);

	T_ASSERT_EQ(ctl_sock_path(p, pp, sizeof(pp)), 0);
	T_ASSERT_EQ(strlen(pp), sizeof(sa.sun_path) - 1);
	T_ASSERT(!strcmp(pp + strlen(pp) - 5, ".sock"));

	memset(lp, 'x', sizeof(lp));
	T_ASSERT_EQ(ctl_sock_path(l, lp, sizeof(lp)), -ENAMETOOLONG);
	T_ASSERT_EQ(lp[0], '\0');
	/* A larger buffer does not help: the path must fit in sun_path. */
	T_ASSERT_EQ(ctl_sock_path(l, big, sizeof(big)), -ENAMETOOLONG);
	/* One byte over the limit is refused too. */
	snprintf(l, sizeof(l), "%sb", p);
	T_ASSERT_EQ(ctl_sock_path(l, big, sizeof(big)), -ENAMETOOLONG);

	/* The client side refuses before it connects anywhere. */
	snprintf(l, sizeof(l), "%s.sock-victim-is-the-other-one", p);
	T_ASSERT_EQ(ctl_request(l, "stop", reply, sizeof(reply)), -ENAMETOOLONG);

	/* Other paths built from a name report a cut instead of making one. */
	T_ASSERT_EQ(run_path(p, "state", big, sizeof(big)), 0);
	T_ASSERT_EQ(run_path(p, "state", big, 40), -ENAMETOOLONG);
	return T_EXIT_PASS;
}
