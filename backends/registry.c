// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The built-in backends, and finding the one a spec names.  This file sits
 * above the backends and their core (backend.c): it calls both, neither
 * calls it.  Thread model: read-only table, safe from any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "backend-plugin.h"
#include "macros.h"
#include "registry.h"

const struct backend_ops *(*const backend_registry[])(void) = {
	backend_file_init,
	backend_memory_init,
	backend_null_init,
#ifdef VDK_HAVE_NBD
	backend_nbd_init,
#endif
#ifdef VDK_HAVE_RBD
	backend_rbd_init,
#endif
	NULL,
};

/* Schemes of backends this build may lack, and the option that adds them. */
static const struct {
	const char *scheme;
	const char *backend;
} optional_schemes[] = {
	{ "nbd", "nbd" }, { "nbds", "nbd" }, { "nbd+unix", "nbd" },
	{ "nbds+unix", "nbd" }, { "rbd", "rbd" },
};

/* Is @spec of the form "scheme:..." with a URI-like scheme? */
static size_t scheme_len(const char *spec)
{
	const char *p = spec;

	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	return *p == ':' ? (size_t)(p - spec) : 0;
}

static void append_prefix(const char *name, const char *usage, void *opaque)
{
	char *buf = opaque;
	size_t len = strlen(buf);

	(void)usage;
	snprintf(buf + len, 256 - len, "%s%s:", len ? ", " : "", name);
}

/*
 * Does @spec start with one of @o's extra prefixes?  Read through
 * struct_size, as backend_load does, since the registry hands out the
 * backend's own struct, which may predate the member.
 */
static bool backend_match_prefixes(const struct backend_ops *o, const char *spec)
{
	const char *const *p;

	if (o->struct_size < offsetof(struct backend_ops, prefixes) + sizeof(o->prefixes) ||
	    !o->prefixes)
		return false;
	for (p = o->prefixes; *p; p++)
		if (!strncmp(spec, *p, strlen(*p)))
			return true;
	return false;
}

/*
 * Finds the backend that owns @spec and the argument it gets: a known
 * prefix wins, an unknown "scheme:" is an error (so that a typo such as
 * "memroy:1G" is not taken for a file name), anything else is a path.
 */
static int backend_lookup(const char *spec, const struct backend_ops **opsp,
			  const char **argp)
{
	const struct backend_ops *file = NULL;
	size_t slen;
	int i;

	for (i = 0; backend_registry[i]; i++) {
		const struct backend_ops *o = backend_registry[i]();
		size_t plen = o->prefix ? strlen(o->prefix) : 0;

		if (plen && !strncmp(spec, o->prefix, plen)) {
			*opsp = o;
			*argp = spec + plen;
			return 0;
		}
		if (backend_match_prefixes(o, spec)) {
			*opsp = o;
			*argp = spec;
			return 0;
		}
		if (o->name && !strcmp(o->name, "file"))
			file = o;
	}
	slen = scheme_len(spec);
	for (i = 0; slen && i < (int)ARRAY_SIZE(optional_schemes); i++) {
		if (strlen(optional_schemes[i].scheme) == slen &&
		    !strncmp(spec, optional_schemes[i].scheme, slen)) {
			msg_error("'%s' needs the %s backend, which this build of vduse-blk leaves out: build it with -D%s=enabled",
				  spec, optional_schemes[i].backend,
				  optional_schemes[i].backend);
			return -ENOTSUP;
		}
	}
	if (slen) {
		char known[256] = "";

		backend_list(append_prefix, known);
		msg_error("unknown backend '%.*s:' in '%s': known backends are %s; to use a file whose name contains ':', write file:%s or ./%s",
			  (int)slen, spec, spec, known, spec, spec);
		return -EINVAL;
	}
	if (!file) {
		msg_error("no file backend is built in; give a backend such as memory:SIZE");
		return -ENOENT;
	}
	*opsp = file;
	*argp = spec;
	return 0;
}

void backend_list(void (*fn)(const char *name, const char *usage, void *opaque),
		  void *opaque)
{
	int i;

	for (i = 0; backend_registry[i]; i++) {
		const struct backend_ops *o = backend_registry[i]();

		fn(o->name, o->usage ? o->usage : "", opaque);
	}
}

int backend_spec_persistent(const char *spec)
{
	const struct backend_ops *ops;
	const char *arg;
	int ret;

	ret = backend_lookup(spec ? spec : "", &ops, &arg);
	if (ret)
		return ret;
	/* Read through struct_size: the member may postdate the backend. */
	if (ops->struct_size < offsetof(struct backend_ops, volatile_data) +
			       sizeof(ops->volatile_data))
		return 1;
	return !ops->volatile_data;
}

int backend_open(const char *spec, const struct backend_open_opts *opts,
		 struct backend **bep)
{
	const struct backend_ops *ops;
	const char *arg;
	int ret;

	if (!spec || !*spec) {
		msg_error("no backend given: use PATH, file:PATH, memory:SIZE or null:SIZE");
		return -EINVAL;
	}
	ret = backend_lookup(spec, &ops, &arg);
	if (ret)
		return ret;
	return backend_open_ops(ops, arg, spec, opts, bep);
}

