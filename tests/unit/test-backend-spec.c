// SPDX-License-Identifier: LGPL-2.1-or-later
/* Backend specs and sizes: good inputs parse, bad ones say what to do. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "backend.h"
#include "test.h"

static void good(const char *s, uint64_t want)
{
	uint64_t v = 0;

	if (backend_parse_size(s, "size", &v)) {
		fprintf(stderr, "'%s': %s\n", s, msg_last_error());
		exit(T_EXIT_FAIL);
	}
	T_ASSERT_EQ(v, want);
}

static void bad(const char *s, int err, const char *msg)
{
	uint64_t v = 12345;

	T_ASSERT_EQ(backend_parse_size(s, "size", &v), err);
	T_ASSERT_EQ(v, 12345);
	if (!strstr(msg_last_error(), msg)) {
		fprintf(stderr, "'%s': message '%s' lacks '%s'\n", s ? s : "(null)",
			msg_last_error(), msg);
		exit(T_EXIT_FAIL);
	}
}

static void open_bad(const char *spec, int err, const char *msg)
{
	struct backend_open_opts bo = { .block_size = 512 };
	struct backend *be = NULL;

	T_ASSERT_EQ(backend_open(spec, &bo, &be), err);
	T_ASSERT(be == NULL);
	if (!strstr(msg_last_error(), msg)) {
		fprintf(stderr, "'%s': message '%s' lacks '%s'\n", spec,
			msg_last_error(), msg);
		exit(T_EXIT_FAIL);
	}
}

static void count(const char *name, const char *usage, void *opaque)
{
	(*(int *)opaque)++;
	T_ASSERT(usage[0]);
}

int main(void)
{
	struct backend_open_opts bo = { .block_size = 512 };
	struct backend *be;
	int n = 0;

	good("1", 1);
	good("512", 512);
	good("64K", 64 << 10);
	good("64k", 64 << 10);
	good("3M", 3 << 20);
	good("2g", 2ull << 30);
	good("1T", 1ull << 40);
	good("8388607T", 8388607ull << 40);
	good("9223372036854775807", INT64_MAX);

	bad(NULL, -EINVAL, "empty");
	bad("", -EINVAL, "empty");
	bad("0", -EINVAL, "zero");
	bad("0G", -EINVAL, "zero");
	bad("-1", -EINVAL, "not a size");
	bad("+1", -EINVAL, "not a size");
	bad(" 1G", -EINVAL, "not a size");
	bad("1G ", -EINVAL, "not a size");
	bad("1.5G", -EINVAL, "not a size");
	bad("12X", -EINVAL, "suffix");
	bad("1GB", -EINVAL, "not a size");
	bad("G", -EINVAL, "not a size");
	bad("0x10", -EINVAL, "not a size");
	bad("8388608T", -ERANGE, "too large");
	bad("9223372036854775808", -ERANGE, "too large");
	bad("18446744073709551616", -ERANGE, "too large");
	bad("99999999999999999999999999K", -ERANGE, "too large");

	/* The registry. */
	backend_list(count, &n);
#if defined(VDK_HAVE_NBD) && defined(VDK_HAVE_RBD)
	T_ASSERT_EQ(n, 5);
#elif !defined(VDK_HAVE_NBD) && !defined(VDK_HAVE_RBD)
	T_ASSERT_EQ(n, 3);
#endif

	T_ASSERT_EQ(backend_open("memory:1M", &bo, &be), 0);
	T_ASSERT(!strcmp(backend_name(be), "memory"));
	T_ASSERT(!strcmp(backend_spec(be), "memory:1M"));
	T_ASSERT_EQ(backend_size(be), 1 << 20);
	backend_close(be);
	T_ASSERT_EQ(backend_open("null:2G", &bo, &be), 0);
	T_ASSERT(!strcmp(backend_name(be), "null"));
	T_ASSERT_EQ(backend_size(be), 2ull << 30);
	backend_close(be);

	/* What survives a daemon restart: everything but memory:. */
	T_ASSERT_EQ(backend_spec_persistent("memory:1M"), 0);
	T_ASSERT_EQ(backend_spec_persistent("null:1M"), 1);
	T_ASSERT_EQ(backend_spec_persistent("/some/disk.img"), 1);
	T_ASSERT_EQ(backend_spec_persistent("file:disk.img"), 1);
#ifdef VDK_HAVE_NBD
	T_ASSERT_EQ(backend_spec_persistent("nbd://127.0.0.1/x"), 1);
#endif
	T_ASSERT_EQ(backend_spec_persistent("memroy:1G"), -EINVAL);

	open_bad("", -EINVAL, "no backend given");
	open_bad("memory:", -EINVAL, "memory size is empty");
	open_bad("memory:lots", -EINVAL, "memory size 'lots' is not a size");
	open_bad("null:0", -EINVAL, "zero");
	open_bad("memroy:1G", -EINVAL, "unknown backend 'memroy:'");
#if defined(VDK_HAVE_NBD) && defined(VDK_HAVE_RBD)
	open_bad("ndb://host/x", -EINVAL, "known backends are file:, memory:, null:, nbd:, rbd:");
#endif
#ifdef VDK_HAVE_NBD
	/* Every NBD URI scheme reaches the nbd backend, whole. */
	open_bad("nbd:x", -EINVAL, "'nbd:x' is not a usable NBD URI");
	open_bad("nbd+unix:///e", -EINVAL, "'nbd+unix:///e' is not a usable NBD URI");
	open_bad("nbd+unix:///e?socket=/nonexistent.sock", -ENOENT, "cannot reach the NBD server");
	open_bad("nbds+unix:///e?socket=/nonexistent.sock", -ENOENT, "cannot reach the NBD server");
#else
	/* A backend left out of the build says so, and how to build it. */
	open_bad("nbd://host/x", -ENOTSUP, "leaves out: build it with -Dnbd=enabled");
	open_bad("nbds+unix:///e", -ENOTSUP, "needs the nbd backend");
#endif
#ifndef VDK_HAVE_RBD
	open_bad("rbd:pool/img", -ENOTSUP, "needs the rbd backend");
#endif
	open_bad("/nonexistent/disk.img", -ENOENT, "No such file or directory");
	open_bad("file:/nonexistent/disk.img", -ENOENT, "truncate -s");
	open_bad("file:", -EINVAL, "no file name");
	/* A path with a colon, but starting with '/' or '.', is a path. */
	open_bad("./no:such", -ENOENT, "'./no:such'");
	return T_EXIT_PASS;
}
