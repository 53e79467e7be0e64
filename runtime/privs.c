// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Whom the daemon runs as once set up: --user, else the system user
 * "vduse", else nobody (65534:65534, with a notice), never root.  Each
 * thread holds no capability at all: memory locking needs none once
 * RLIMIT_MEMLOCK is lifted (see drop_to_user), and everything that needs
 * root after setup (attach, detach, destroy, removing the files under
 * RUN_DIR) is asked of the keeper process (daemon.c).
 *
 * Thread model: resolve_user and drop_to_user on the main thread before
 * any other thread exists; drop_privileges on every thread as it starts;
 * keep_only_caps in the keeper process.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime.h"

#define DEFAULT_USER "vduse"
#define FALLBACK_ID 65534

int resolve_user(const char *user, uid_t *uid, gid_t *gid, char *why, size_t len)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user ? user : DEFAULT_USER);
	if (!pw && !user) {
		*uid = FALLBACK_ID;
		*gid = FALLBACK_ID;
		snprintf(why, len, "there is no user '" DEFAULT_USER "' (scripts/deps.sh "
			 "or 'useradd --system --user-group " DEFAULT_USER "' makes it): "
			 "running as nobody (%d:%d)", FALLBACK_ID, FALLBACK_ID);
		return 1;
	}
	if (!pw) {
		snprintf(why, len, "there is no user '%s'%s%s", user,
			 errno ? ": " : "", errno ? strerror(errno) : "");
		return -ENOENT;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		snprintf(why, len, "user '%s' is root or in group root: the daemon "
			 "must not run with root's files; choose an unprivileged user",
			 pw->pw_name);
		return -EPERM;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* Sets the calling thread's capability sets to @caps (a bit mask). */
static int set_caps(uint64_t caps)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { { 0 } };

	data[0].effective = data[0].permitted = (uint32_t)caps;
	data[1].effective = data[1].permitted = (uint32_t)(caps >> 32);
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/* Drops every capability but @keep from the calling thread's bounding set. */
static void limit_bounding_set(uint64_t keep)
{
	int cap;

	for (cap = 0; cap <= 63; cap++)
		if (!(keep & (1ULL << cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL)
			break;		/* past the last capability */
}

/*
 * Before any thread of ours exists: threads inherit all of it, so none of
 * them ever serves a request with more.  glibc applies the id changes to
 * every thread of the process anyway.
 */
int drop_to_user(uid_t uid, gid_t gid)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	int ret;

	/* mlockall(MCL_FUTURE) goes on locking new memory without CAP_IPC_LOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited) < 0)
		msg_log(MSG_WARN, "RLIMIT_MEMLOCK: %m (memory pressure may stall the device)");
	/* Needs CAP_SETPCAP, so before the uid changes. */
	limit_bounding_set(0);
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	/* The uid change cleared them already; make sure of all five sets. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	ret = set_caps(0);
	if (ret < 0)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Paranoia: the way back must be closed. */
	if (setuid(0) == 0 || setgid(0) == 0)
		return -EPERM;
	return 0;
}

/*
 * A thread inherited an unprivileged user and no capability from the
 * thread that made it (see drop_to_user); this makes sure of that even
 * for a thread started some other way.
 */
void drop_privileges(void)
{
	if (set_caps(0) < 0)
		msg_log(MSG_WARN, "dropping capabilities: %m");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		msg_log(MSG_WARN, "PR_SET_NO_NEW_PRIVS: %m");
	if (getuid() == 0 || geteuid() == 0)
		msg_log(MSG_ERR, "a thread runs as root: the privilege drop was skipped");
}

int keep_only_caps(uint64_t caps)
{
	int ret;

	limit_bounding_set(caps);
	ret = set_caps(caps);
	if (ret < 0)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
