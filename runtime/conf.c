// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The settings file RUN_DIR/NAME.conf: how a device was added, so that
 * `recover` (after a crash) and `del` (of a device whose daemon died) can
 * bring the same device back.  One key=value a line; the device model
 * reads and writes its own keys, this file the runtime's.
 *
 * Thread model: whichever thread starts or sets up a daemon (main).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

int conf_write(FILE *f, const struct dev_opts *o)
{
	int ret;

	ret = o->model->conf_write(f, o->model_opts);
	if (ret < 0)
		return ret;
	fprintf(f, "vhost=%d\n", o->vhost);
	if (o->user)
		fprintf(f, "user=%s\n", o->user);
	if (o->msg_timeout_s)
		fprintf(f, "msg_timeout=%u\n", o->msg_timeout_s);
	return ferror(f) ? -EIO : 0;
}

int conf_copy(char *buf, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -E2BIG;
	strcpy(buf, v);
	return 0;
}

int conf_read(FILE *f, const char *name, struct dev_opts *o)
{
	const struct device_model *model = o->model;
	void *mopts = o->model_opts;
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	memset(o, 0, sizeof(*o));
	o->model = model;
	o->model_opts = mopts;
	model->conf_reset(mopts);
	if (conf_copy(o->name_buf, sizeof(o->name_buf), name))
		return -EINVAL;
	o->name = o->name_buf;
	while (ret == 0 && getline(&line, &cap, f) > 0) {
		char *v = strchr(line, '=');

		if (!v)
			continue;
		*v++ = '\0';
		v[strcspn(v, "\n")] = '\0';
		if (!strcmp(line, "vhost")) {
			o->vhost = atoi(v);
		} else if (!strcmp(line, "user")) {
			ret = conf_copy(o->user_buf, sizeof(o->user_buf), v);
			o->user = o->user_buf;
		} else if (!strcmp(line, "msg_timeout")) {
			unsigned long t = strtoul(v, NULL, 10);

			/* Out of range: leave the kernel's value alone. */
			o->msg_timeout_s = t <= MSG_TIMEOUT_MAX_S ? t : 0;
		} else {
			/* Keys nobody knows are skipped: a newer writer's. */
			ret = model->conf_key(mopts, line, v);
			if (ret > 0)
				ret = 0;
		}
	}
	free(line);
	if (ret)
		return -EINVAL;
	return model->conf_end(mopts);
}

int save_conf(const struct dev_opts *o)
{
	char path[300], tmp[310];
	FILE *f;
	int ret;

	ret = run_path(o->name, "conf", path, sizeof(path));
	if (ret < 0)
		return ret;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	ret = conf_write(f, o);
	if (ret || fflush(f) || fsync(fileno(f))) {
		fclose(f);
		unlink(tmp);
		return -EIO;
	}
	if (fclose(f)) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

int load_conf(const char *name, struct dev_opts *o)
{
	char path[300];
	FILE *f;
	int ret;

	ret = run_path(name, "conf", path, sizeof(path));
	if (ret < 0)
		return ret;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	ret = conf_read(f, name, o);
	fclose(f);
	return ret;
}
