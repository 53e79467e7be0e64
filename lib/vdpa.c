// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Putting a device on the vdpa bus and taking it off again: generic netlink
 * ("vdpa" family) for DEV_NEW/DEV_DEL, sysfs to pick and bind the bus driver
 * and to find what the driver made of it (a block node, a network
 * interface, a vhost-vdpa node).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>
#include <linux/virtio_ids.h>

#include "internal.h"

#define VDPA_SYSFS		"/sys/bus/vdpa"
#define VDPA_DEVICES		VDPA_SYSFS "/devices/"
#define VDPA_AUTOPROBE		VDPA_SYSFS "/drivers_autoprobe"

/* How long attach waits for the driver's /dev node to show up. */
#define NODE_WAIT_MS		10000

/* Large enough for the vdpa family description and any ACK we get. */
#define NL_BUF_SIZE		16384

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	uint16_t family;
	char ext_msg[256];	/* the kernel's extended-ACK text, if any */
};

/*
 * drivers_autoprobe is bus-wide: serialise our own save/0/restore windows
 * so two attaches in one process cannot restore each other's value.
 */
static pthread_mutex_t autoprobe_lock = PTHREAD_MUTEX_INITIALIZER;

/* Reads a sysfs attribute without its trailing newline. */
static int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return (int)n;
}

static int sysfs_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		n = -errno;
	else if ((size_t)n != len)
		n = -EIO;
	else
		n = 0;
	close(fd);
	return (int)n;
}

static bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

bool vdpa_dev_exists(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), VDPA_DEVICES "%s", name);
	return path_exists(path);
}

/* Walks an NLMSG_ERROR's extended-ACK TLVs for the kernel's message. */
static void nl_ext_ack(struct nl *nl, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t off = sizeof(*e);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* Without CAP_ACK the request's payload sits between the two. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (mnl_nlmsg_size(off) > nlh->nlmsg_len)
		return;
	mnl_attr_for_each(attr, nlh, off) {
		if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG ||
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			continue;
		snprintf(nl->ext_msg, sizeof(nl->ext_msg), "%s",
			 mnl_attr_get_str(attr));
	}
}

/*
 * Sends @nlh and reads until its ACK.  @cb sees every reply message.
 * Returns 0, the kernel's -errno, or -errno from the socket.
 */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh,
		   int (*cb)(const struct nlmsghdr *nlh, void *data), void *data)
{
	union {
		char buf[NL_BUF_SIZE];
		struct nlmsghdr align;
	} u;
	unsigned int seq = nlh->nlmsg_seq;

	nl->ext_msg[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		const struct nlmsghdr *m;
		ssize_t n;
		int len;

		n = mnl_socket_recvfrom(nl->sock, u.buf, sizeof(u.buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len = (int)n;
		for (m = (const struct nlmsghdr *)u.buf; mnl_nlmsg_ok(m, len);
		     m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != seq || m->nlmsg_pid != nl->portid)
				continue;
			if (m->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);

				if (m->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
					return -EPROTO;
				if (e->error)
					nl_ext_ack(nl, m);
				return e->error;
			}
			if (m->nlmsg_type == NLMSG_DONE)
				return 0;
			if (cb) {
				int ret = cb(m, data);

				if (ret)
					return ret;
			}
		}
	}
}

static struct nlmsghdr *nl_put(struct nl *nl, char *buf, uint16_t type,
			       uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	uint16_t *family = data;

	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
	    mnl_attr_validate(attr, MNL_TYPE_U16) >= 0)
		*family = mnl_attr_get_u16(attr);
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data);
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

/* Opens a generic netlink socket and looks up the "vdpa" family. */
static int nl_open(struct nl *nl)
{
	union {
		char buf[512];
		struct nlmsghdr align;
	} u;
	struct nlmsghdr *nlh;
	int one = 1, ret;

	memset(nl, 0, sizeof(*nl));
	nl->sock = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!nl->sock)
		return vdk_set_error(-errno, "cannot open a generic netlink socket: %s",
				     strerror(errno));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = vdk_set_error(-errno, "cannot bind a netlink socket: %s",
				    strerror(errno));
		goto err;
	}
	/* Best effort: the kernel's own words make better errors. */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);

	nlh = nl_put(nl, u.buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME);
	ret = nl_talk(nl, nlh, family_cb, &nl->family);
	if (ret == -ENOENT || (!ret && !nl->family)) {
		ret = vdk_set_error(-ENOENT,
				    "the vdpa netlink family is missing: load the vdpa module (modprobe vdpa)");
		goto err;
	}
	if (ret) {
		ret = vdk_set_error(ret, "looking up the vdpa netlink family failed: %s",
				    strerror(-ret));
		goto err;
	}
	return 0;
err:
	nl_close(nl);
	return ret;
}

/* The reason to give for a failed vdpa command, kernel text included. */
static int nl_error(struct nl *nl, int err, const char *what, const char *name)
{
	const char *sep = nl->ext_msg[0] ? ": " : "";

	switch (err) {
	case -EPERM:
	case -EACCES:
		return vdk_set_error(err,
				     "%s %s needs CAP_NET_ADMIN (run as root)",
				     what, name);
	case -EEXIST:
		return vdk_set_error(err,
				     "%s %s: a vdpa device of that name exists already%s%s",
				     what, name, sep, nl->ext_msg);
	case -ENODEV:
		return vdk_set_error(err,
				     "%s %s: no such vdpa device or management device (is the vduse module loaded?)%s%s",
				     what, name, sep, nl->ext_msg);
	default:
		return vdk_set_error(err, "%s %s failed: %s%s%s", what, name,
				     strerror(-err), sep, nl->ext_msg);
	}
}

static int vdpa_new(struct nl *nl, const char *name)
{
	union {
		char buf[1024];
		struct nlmsghdr align;
	} u;
	struct nlmsghdr *nlh;
	int ret;

	nlh = nl_put(nl, u.buf, nl->family, VDPA_CMD_DEV_NEW, VDPA_GENL_VERSION);
	mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, name);
	mnl_attr_put_strz(nlh, VDPA_ATTR_MGMTDEV_DEV_NAME, "vduse");
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret)
		return nl_error(nl, ret, "adding vdpa device", name);
	return 0;
}

/* Removes vdpa device @name; -ENODEV if there is none. */
static int vdpa_del(struct nl *nl, const char *name)
{
	union {
		char buf[1024];
		struct nlmsghdr align;
	} u;
	struct nlmsghdr *nlh;

	nlh = nl_put(nl, u.buf, nl->family, VDPA_CMD_DEV_DEL, VDPA_GENL_VERSION);
	mnl_attr_put_strz(nlh, VDPA_ATTR_DEV_NAME, name);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* Writes the driver @name is bound to into @drv; -ENOENT if none. */
static int bound_driver(const char *name, char *drv, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), VDPA_DEVICES "%s/driver", name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strlen(base) >= len)
		return -ERANGE;
	strcpy(drv, base);
	return 0;
}

static bool name_is_vhost_node(const char *s)
{
	static const char prefix[] = "vhost-vdpa-";
	size_t n = sizeof(prefix) - 1;

	return !strncmp(s, prefix, n) && s[n] &&
	       strspn(s + n, "0123456789") == strlen(s + n);
}

/* First entry of @dir accepted by @match (or any non-dot entry). */
static int find_entry(const char *dir, bool (*match)(const char *),
		      char *out, size_t len)
{
	struct dirent *de;
	int ret = -ENOENT;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (match && !match(de->d_name))
			continue;
		if (strlen(de->d_name) >= len) {
			ret = -ERANGE;
			break;
		}
		strcpy(out, de->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

static bool name_is_virtio(const char *s)
{
	return !strncmp(s, "virtio", 6);
}

/*
 * Checks that /dev/@kname is a node of @type (S_IFBLK or S_IFCHR: anything
 * else, e.g. a stray regular file, is not ours) and writes its path to
 * @out (size PATH_MAX).
 */
static int dev_node(const char *kname, mode_t type, char *out)
{
	struct stat st;

	snprintf(out, PATH_MAX, "/dev/%s", kname);
	if (stat(out, &st) < 0)
		return -errno;
	return (st.st_mode & S_IFMT) == type ? 0 : -ENOENT;
}

/* Copies @path to the caller's @node, if it wants it. */
static int put_node(const char *path, char *node, size_t len)
{
	if (!node)
		return 0;
	if (strlen(path) >= len)
		return -ERANGE;
	strcpy(node, path);
	return 0;
}

/* What a virtio driver makes of a device, by its virtio device id. */
enum node_kind {
	NODE_NONE,		/* nothing we know how to name */
	NODE_BLOCK,		/* virtioN/block/vdX, and /dev/vdX */
	NODE_NET,		/* virtioN/net/IFNAME */
};

static enum node_kind node_kind(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_BLOCK:
		return NODE_BLOCK;
	case VIRTIO_ID_NET:
		return NODE_NET;
	default:
		return NODE_NONE;
	}
}

/*
 * virtio_vdpa: /sys/bus/vdpa/devices/NAME/virtioN/ is the virtio device;
 * its driver adds block/vdX (virtio_blk) or net/IFNAME (virtio_net).
 * With @kind NODE_NONE the node is found from whichever is there, or is
 * empty (a device kind with no node of its own) once the driver is bound.
 */
static int find_virtio_node(const char *name, enum node_kind kind,
			    char *node, size_t len)
{
	char path[PATH_MAX], virtio[NAME_MAX + 1], kname[NAME_MAX + 1];
	int ret;

	snprintf(path, sizeof(path), VDPA_DEVICES "%s", name);
	ret = find_entry(path, name_is_virtio, virtio, sizeof(virtio));
	if (ret)
		return ret;
	if (kind == NODE_NONE) {
		snprintf(path, sizeof(path), VDPA_DEVICES "%s/%s/block", name, virtio);
		if (path_exists(path))
			kind = NODE_BLOCK;
		snprintf(path, sizeof(path), VDPA_DEVICES "%s/%s/net", name, virtio);
		if (path_exists(path))
			kind = NODE_NET;
	}
	switch (kind) {
	case NODE_BLOCK:
		snprintf(path, sizeof(path), VDPA_DEVICES "%s/%s/block", name, virtio);
		ret = find_entry(path, NULL, kname, sizeof(kname));
		if (!ret)
			ret = dev_node(kname, S_IFBLK, path);
		if (ret)
			return ret;
		break;
	case NODE_NET:
		snprintf(path, sizeof(path), VDPA_DEVICES "%s/%s/net", name, virtio);
		ret = find_entry(path, NULL, kname, sizeof(kname));
		if (ret)
			return ret;
		/* An interface has no /dev node: its name is what users need. */
		snprintf(path, sizeof(path), "%s", kname);
		break;
	default:
		snprintf(path, sizeof(path), VDPA_DEVICES "%s/%s/driver", name, virtio);
		if (!path_exists(path))
			return -ENOENT;
		path[0] = '\0';
		break;
	}
	return put_node(path, node, len);
}

/*
 * vhost_vdpa: the class device vhost-vdpa-N sits right under the vdpa
 * device or, with a class glue directory, under NAME/vhost-vdpa/.
 */
static int find_vhost_node(const char *name, char *node, size_t len)
{
	char path[PATH_MAX], kname[NAME_MAX + 1];
	int ret;

	snprintf(path, sizeof(path), VDPA_DEVICES "%s", name);
	ret = find_entry(path, name_is_vhost_node, kname, sizeof(kname));
	if (ret == -ENOENT) {
		snprintf(path, sizeof(path), VDPA_DEVICES "%s/vhost-vdpa", name);
		ret = find_entry(path, name_is_vhost_node, kname, sizeof(kname));
	}
	if (!ret)
		ret = dev_node(kname, S_IFCHR, path);
	return ret ? ret : put_node(path, node, len);
}

/* Finds what @bus's driver made of @name once; -ENOENT if not there yet. */
static int find_node(const char *name, enum vdk_bus bus, enum node_kind kind,
		     char *node, size_t len)
{
	if (bus == VDK_BUS_VIRTIO)
		return find_virtio_node(name, kind, node, len);
	return find_vhost_node(name, node, len);
}

static const char *node_what(enum vdk_bus bus, enum node_kind kind)
{
	if (bus == VDK_BUS_VHOST)
		return "vhost-vdpa node";
	switch (kind) {
	case NODE_BLOCK:
		return "block device";
	case NODE_NET:
		return "network interface";
	default:
		return "virtio device";
	}
}

/* Restores drivers_autoprobe and drops the lock, if @saved is set. */
static void autoprobe_restore(char *saved)
{
	if (!saved[0])
		return;
	sysfs_write(VDPA_AUTOPROBE, saved);
	saved[0] = '\0';
	pthread_mutex_unlock(&autoprobe_lock);
}

/*
 * Runs @fn(@a, @b) in a short-lived child process and returns its result
 * (and error message).  Binding and removing a vdpa device make the kernel
 * probe or remove the driver in the caller's context, and that waits for
 * I/O the device must serve (the partition scan, the final flush).  If the
 * serving process were killed meanwhile, it would hang in the kernel
 * holding its own device open, and no other process could ever adopt the
 * device to finish that I/O.  A child holds nothing: the server can die,
 * and a new one can take over and unblock the child.
 */
struct child_result {
	int ret;
	char msg[480];
};

static int run_in_child(int (*fn)(const char *, const char *), const char *a,
			const char *b)
{
	struct child_result res = { .ret = -EIO };
	int pipefd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return vdk_set_error(-errno, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return vdk_set_error(-errno, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/*
		 * Hold nothing of the parent's, above all not its device fd:
		 * fork copies even O_CLOEXEC descriptors.
		 */
		if (pipefd[1] > 0)
			close_range(0, pipefd[1] - 1, 0);
		close_range(pipefd[1] + 1, ~0U, 0);
		res.ret = fn(a, b);
		snprintf(res.msg, sizeof(res.msg), "%s", vdk_last_error());
		if (write(pipefd[1], &res, sizeof(res)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	do {
		n = read(pipefd[0], &res, sizeof(res));
	} while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(res))
		return vdk_set_error(-EIO, "the helper process for %s died", a);
	if (res.ret)
		vdk_set_error(res.ret, "%s", res.msg);
	return res.ret;
}

/*
 * Makes sure @name ends up bound to @drv: bind it, or move it there if
 * something grabbed it before our driver_override took effect.
 */
static int bind_driver(const char *name, const char *drv)
{
	char path[PATH_MAX], cur[NAME_MAX + 1];
	int ret;

	if (!bound_driver(name, cur, sizeof(cur))) {
		if (!strcmp(cur, drv))
			return 0;
		snprintf(path, sizeof(path), VDPA_DEVICES "%s/driver/unbind", name);
		ret = sysfs_write(path, name);
		if (ret)
			return vdk_set_error(ret,
					     "vdpa device %s was bound to %s and unbinding it failed: %s",
					     name, cur, strerror(-ret));
	}
	/* Probing talks to the device: the control thread answers. */
	snprintf(path, sizeof(path), VDPA_SYSFS "/drivers/%s/bind", drv);
	ret = sysfs_write(path, name);
	if (ret)
		return vdk_set_error(ret,
				     "binding vdpa device %s to %s failed: %s (is the control loop running on another thread?)",
				     name, drv, strerror(-ret));
	return 0;
}

VDK_EXPORT int vdk_dev_attach(struct vdk_dev *dev, enum vdk_bus bus,
			      char *node, size_t len)
{
	char path[PATH_MAX], saved[16] = "", msg[512];
	const char *drv;
	uint64_t deadline;
	struct nl nl;
	int ret;

	if (bus == VDK_BUS_VIRTIO)
		drv = "virtio_vdpa";
	else if (bus == VDK_BUS_VHOST)
		drv = "vhost_vdpa";
	else
		return vdk_set_error(-EINVAL, "unknown vdpa bus driver %d", (int)bus);
	if (node && len)
		node[0] = '\0';
	if (dev->attached)
		return vdk_set_error(-EBUSY, "device %s is attached already",
				     dev->name);

	ret = nl_open(&nl);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), VDPA_SYSFS "/drivers/%s", drv);
	if (!path_exists(path)) {
		ret = vdk_set_error(-ENOENT,
				    "the %s driver is missing: load the %s module (modprobe %s)",
				    drv, drv, drv);
		goto out;
	}

	/*
	 * Keep every driver off the new device until driver_override names
	 * ours, so the choice does not depend on which modules are loaded.
	 */
	pthread_mutex_lock(&autoprobe_lock);
	if (sysfs_read(VDPA_AUTOPROBE, saved, sizeof(saved)) > 0 &&
	    !sysfs_write(VDPA_AUTOPROBE, "0")) {
		/* the lock is dropped by autoprobe_restore() */
	} else {
		saved[0] = '\0';
		pthread_mutex_unlock(&autoprobe_lock);
	}

	ret = vdpa_new(&nl, dev->name);
	if (ret) {
		autoprobe_restore(saved);
		goto out;
	}

	snprintf(path, sizeof(path), VDPA_DEVICES "%s/driver_override", dev->name);
	ret = sysfs_write(path, drv);
	autoprobe_restore(saved);
	if (ret) {
		vdk_set_error(ret,
			      "cannot choose the driver of vdpa device %s (driver_override: %s)",
			      dev->name, strerror(-ret));
		goto err_del;
	}
	ret = run_in_child(bind_driver, dev->name, drv);
	if (ret)
		goto err_del;

	/* The node appears once the driver (and devtmpfs/udev) are done. */
	deadline = now_ms() + NODE_WAIT_MS;
	for (;;) {
		ret = find_node(dev->name, bus, node_kind(dev->device_id),
				node, len);
		if (ret != -ENOENT || now_ms() >= deadline)
			break;
		sleep_ms(10);
	}
	if (ret == -ENOENT) {
		vdk_set_error(ret,
			      "vdpa device %s is bound to %s but no %s appeared within %d s",
			      dev->name, drv,
			      node_what(bus, node_kind(dev->device_id)),
			      NODE_WAIT_MS / 1000);
		goto err_del;
	}
	if (ret) {
		vdk_set_error(ret, "finding the node of vdpa device %s failed: %s",
			      dev->name, strerror(-ret));
		goto err_del;
	}
	dev->attached = true;
	goto out;

err_del:
	/* Take it off the bus again, keeping the first error. */
	snprintf(msg, sizeof(msg), "%s", vdk_last_error());
	vdpa_del(&nl, dev->name);
	vdk_set_error(ret, "%s", msg);
out:
	nl_close(&nl);
	return ret;
}

static int detach_now(const char *name, const char *unused)
{
	struct nl nl;
	int ret;

	(void)unused;
	ret = nl_open(&nl);
	if (ret)
		return ret;
	ret = vdpa_del(&nl, name);
	if (ret == -ENODEV)	/* went away meanwhile */
		ret = 0;
	if (ret)
		nl_error(&nl, ret, "removing vdpa device", name);
	nl_close(&nl);
	return ret;
}

int vdpa_detach_by_name(const char *name)
{
	uint64_t deadline;
	int ret;

	if (!vdpa_dev_exists(name))
		return 0;
	/* Removal waits for the driver's last I/O: see run_in_child(). */
	ret = run_in_child(detach_now, name, NULL);
	if (ret)
		return ret;
	/*
	 * A removal another process started (one that died meanwhile) may
	 * still be finishing: our DEV_DEL then found nothing to do.  Wait for
	 * it; the caller's control thread answers what it still asks.
	 */
	deadline = now_ms() + 60000;
	while (vdpa_dev_exists(name)) {
		if (now_ms() > deadline)
			return vdk_set_error(-EBUSY,
				"vdpa device %s is still being removed after 60 s", name);
		sleep_ms(50);
	}
	return 0;
}

VDK_EXPORT int vdk_dev_detach(struct vdk_dev *dev)
{
	int ret;

	/* Also covers an adopted device that a previous process attached. */
	if (!dev->attached && !vdpa_dev_exists(dev->name))
		return 0;
	ret = vdpa_detach_by_name(dev->name);
	if (!ret)
		dev->attached = false;
	return ret;
}

VDK_EXPORT int vdk_dev_node(const char *name, char *node, size_t len)
{
	char drv[NAME_MAX + 1];
	enum vdk_bus bus;
	int ret;

	ret = vdk_name_check(name);
	if (ret)
		return ret;
	if (!node || !len)
		return vdk_set_error(-EINVAL, "no buffer for the node name");
	node[0] = '\0';
	if (!vdpa_dev_exists(name))
		return vdk_set_error(-ENOENT, "device %s is not attached", name);
	if (bound_driver(name, drv, sizeof(drv)))
		return vdk_set_error(-ENOENT,
				     "vdpa device %s is not bound to a driver", name);
	if (!strcmp(drv, "virtio_vdpa"))
		bus = VDK_BUS_VIRTIO;
	else if (!strcmp(drv, "vhost_vdpa"))
		bus = VDK_BUS_VHOST;
	else
		return vdk_set_error(-ENOENT,
				     "vdpa device %s is bound to %s, which has no node we know",
				     name, drv);
	ret = find_node(name, bus, NODE_NONE, node, len);
	if (ret == -ERANGE)
		return vdk_set_error(ret, "the node name does not fit in %zu bytes",
				     len);
	if (ret)
		return vdk_set_error(-ENOENT, "vdpa device %s has no %s node",
				     name, drv);
	return 0;
}
