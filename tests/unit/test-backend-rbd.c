// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The RBD backend's checks that need no cluster: spec syntax, options,
 * a snapshot without --read-only, a missing configuration file, and a
 * cluster that does not answer (a monitor address nothing listens on)
 * failing within the open timeout.  The data path is tested against a
 * real cluster in the VM (tests/vm/rbd-*.sh).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "test.h"

static void expect(const char *spec, bool readonly, int err, const char *msg)
{
	struct backend_open_opts o = { .readonly = readonly, .block_size = 512 };
	struct backend *be = NULL;
	int ret = backend_open(spec, &o, &be);

	if (ret != err || !strstr(msg_last_error(), msg)) {
		fprintf(stderr, "%s: got %d '%s', expected %d '%s'\n", spec, ret,
			msg_last_error(), err, msg);
		exit(T_EXIT_FAIL);
	}
}

int main(void)
{
	char conf[] = "/tmp/test-rbd.XXXXXX", spec[128];
	struct timespec t0, t1;
	FILE *f;
	int fd;

	expect("rbd:", false, -EINVAL, "is not an RBD image");
	expect("rbd:pool/", false, -EINVAL, "is not an RBD image");
	expect("rbd:/img", false, -EINVAL, "is not an RBD image");
	expect("rbd:p//img", false, -EINVAL, "is not an RBD image");
	expect("rbd:a/b/c/d", false, -EINVAL, "is not an RBD image");
	expect("rbd:p/img@", false, -EINVAL, "is not an RBD image");
	expect("rbd:p@s/img", false, -EINVAL, "is not an RBD image");
	expect("rbd:p/img?user=x", false, -EINVAL, "unknown option 'user=x'");
	expect("rbd:p/img?conf=", false, -EINVAL, "conf= needs a value");
	expect("rbd:p/img@s1", false, -EROFS,
	       "p/img@s1 is a snapshot, which cannot be written: add --read-only");
	expect("rbd:p/ns/img@s1", false, -EROFS, "p/ns/img@s1 is a snapshot");
	expect("rbd:p/img?conf=/nonexistent/ceph.conf", false, -ENOENT,
	       "cannot read the Ceph configuration /nonexistent/ceph.conf");

	/* Port 1 on loopback refuses: the monitors never answer. */
	fd = mkstemp(conf);
	T_ASSERT(fd >= 0);
	f = fdopen(fd, "w");
	T_ASSERT(f);
	fprintf(f, "[global]\nmon host = v2:127.0.0.1:1\nauth client required = none\n"
		"log file = /dev/null\n");
	fclose(f);
	snprintf(spec, sizeof(spec), "rbd:p/img?conf=%s&id=nobody", conf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect(spec, false, -ETIMEDOUT, "no answer from the Ceph monitors within 10 s");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unlink(conf);
	T_ASSERT(t1.tv_sec - t0.tv_sec <= 15);
	return T_EXIT_PASS;
}
