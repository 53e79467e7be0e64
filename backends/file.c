// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * PATH, file:PATH - a regular file or a host block device.
 *
 * Thread model: PARALLEL.  The descriptors are shared by every queue and
 * only used with positioned I/O; each queue thread submits to its own
 * io_uring (env->ring) and reaps there, so nothing is locked.
 *
 * Two descriptors to the same open file: one with O_DIRECT when the
 * alignment allows it, and a buffered one for requests whose buffers are
 * not aligned enough for O_DIRECT, and for flush and fallocate.  The kernel
 * keeps the page cache coherent with direct I/O on the same inode.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "backend-plugin.h"
#include "registry.h"

struct file_disk {
	char *path;
	int fd;			/* buffered */
	int dfd;		/* O_DIRECT, or -1 */
	bool readonly;
	bool is_bdev;
	uint32_t mem_align;	/* O_DIRECT buffer alignment */
	uint32_t off_align;	/* O_DIRECT offset and length alignment */
	uint32_t phys_block;
	bool punch_ok;		/* FALLOC_FL_PUNCH_HOLE works (files) */
	bool zero_ok;		/* FALLOC_FL_ZERO_RANGE works (files) */
	bool bdev_discard;	/* the block device takes discards */
	bool bdev_zero_unmap;	/* the block device zeroes in hardware */
	bool in_memory;		/* tmpfs/ramfs: I/O is a memory copy */
	bool nowait_ok;		/* RWF_NOWAIT works on the buffered fd */
};

struct file_queue {
	struct file_disk *f;
	struct io_uring *ring;
};

/* Per-operation state, in the space behind each struct backend_io. */
struct file_io {
	struct uring_cb cb;
	struct file_queue *fq;
	bool direct;		/* submitted on dfd */
	bool zero_fallback;	/* retried a bdev zeroout without unmap */
};

static uint64_t sysfs_queue_u64(const struct stat *st, const char *attr)
{
	char path[128];
	unsigned long long v = 0;
	FILE *fp;

	/* A partition has no queue/ of its own; its disk's is one level up. */
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/%s",
		 major(st->st_rdev), minor(st->st_rdev), attr);
	fp = fopen(path, "re");
	if (!fp) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../queue/%s",
			 major(st->st_rdev), minor(st->st_rdev), attr);
		fp = fopen(path, "re");
	}
	if (!fp)
		return 0;
	if (fscanf(fp, "%llu", &v) != 1)
		v = 0;
	fclose(fp);
	return v;
}

/*
 * Learns the O_DIRECT alignment: statx(STATX_DIOALIGN) where the kernel and
 * file system report it (Linux 6.1+), else the logical sector size for a
 * block device and 512 bytes for a file (a later EINVAL still falls back
 * to the buffered descriptor).  Returns false when O_DIRECT is impossible.
 */
static bool file_dio_align(struct file_disk *f)
{
	struct statx stx;

	if (!statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align)
			return false;
		f->mem_align = stx.stx_dio_mem_align;
		f->off_align = stx.stx_dio_offset_align;
		return true;
	}
	if (f->is_bdev) {
		int lbs = 512;

		ioctl(f->fd, BLKSSZGET, &lbs);
		f->mem_align = lbs;
		f->off_align = lbs;
	} else {
		f->mem_align = 512;
		f->off_align = 512;
	}
	return true;
}

/* How the file may use the page cache: option "cache". */
enum file_cache {
	FILE_CACHE_AUTO,		/* O_DIRECT when alignment allows */
	FILE_CACHE_DIRECT,		/* O_DIRECT or fail */
	FILE_CACHE_BUFFERED,		/* never O_DIRECT */
};

static int file_cache_mode(const struct backend_open_opts *opts,
			   enum file_cache *mode)
{
	const char *v = backend_param(opts, "cache");

	*mode = FILE_CACHE_AUTO;
	if (!v || !strcmp(v, "auto"))
		return 0;
	if (!strcmp(v, "direct"))
		*mode = FILE_CACHE_DIRECT;
	else if (!strcmp(v, "buffered"))
		*mode = FILE_CACHE_BUFFERED;
	else {
		msg_error("cache is auto, direct or buffered, not '%s'", v);
		return -EINVAL;
	}
	return 0;
}

static int file_open_direct(struct file_disk *f, const struct backend_open_opts *opts,
			    int flags)
{
	enum file_cache cache;
	char proc[64];
	const char *why;
	int ret;

	ret = file_cache_mode(opts, &cache);
	if (ret)
		return ret;
	ret = -EINVAL;
	if (cache == FILE_CACHE_BUFFERED)
		return 0;
	if (!file_dio_align(f)) {
		why = "the file system does not support O_DIRECT";
	} else if (!opts->block_size || opts->block_size % f->off_align) {
		why = "the file system needs larger alignment than the block size";
	} else {
		/* Reopen the very same file, not whatever the path names now. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
		f->dfd = open(proc, flags | O_DIRECT);
		if (f->dfd < 0 && errno == ENOENT)
			f->dfd = open(f->path, flags | O_DIRECT);
		if (f->dfd >= 0)
			return 0;
		ret = -errno;
		why = "opening it with O_DIRECT failed";
	}
	if (cache == FILE_CACHE_AUTO)
		return 0;
	msg_error("cannot use O_DIRECT on '%s': %s (offsets must be multiples of %u bytes, the block size is %u); use buffered caching or a larger --block-size",
		  f->path, why, f->off_align, opts->block_size);
	return ret;
}

/*
 * Asks the file system, once, whether it can punch holes and zero ranges,
 * on a range past the end of the file where it changes no data.
 */
static void file_probe_fallocate(struct file_disk *f, uint64_t size)
{
	uint64_t off = ((size + (1 << 20) - 1) & ~(uint64_t)((1 << 20) - 1)) + (1 << 20);

	f->punch_ok = !fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 off, 4096);
	f->zero_ok = !fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				off, 4096);
	/* ZERO_RANGE allocated a block beyond EOF; give it back. */
	if (f->zero_ok && f->punch_ok)
		fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, 4096);
}

static int file_open(const char *arg, const struct backend_open_opts *opts,
		     void **handlep)
{
	struct file_disk *f;
	struct stat st;
	int flags = (opts->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int ret;

	if (!*arg) {
		msg_error("no file name given: use PATH or file:PATH");
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	f->fd = -1;
	f->dfd = -1;
	f->readonly = opts->readonly;
	f->path = strdup(arg);
	if (!f->path) {
		ret = -ENOMEM;
		msg_error("out of memory");
		goto err;
	}

	f->fd = open(arg, flags);
	if (f->fd < 0) {
		ret = -errno;
		if (ret == -EISDIR)
			msg_error("'%s' is a directory, neither a regular file nor a block device",
				  arg);
		else if (ret == -ENOENT)
			msg_error("cannot open '%s': %m; check the path, or create the file first (e.g. truncate -s 1G %s)",
				  arg, arg);
		else if (!opts->readonly && (ret == -EACCES || ret == -EROFS || ret == -EPERM))
			msg_error("cannot open '%s' for writing: %m; fix its permissions or add --read-only",
				  arg);
		else
			msg_error("cannot open '%s': %m", arg);
		if (ret == -EISDIR)
			ret = -EINVAL;
		goto err;
	}
	if (fstat(f->fd, &st)) {
		ret = -errno;
		msg_error("cannot stat '%s': %m", arg);
		goto err;
	}
	if (S_ISBLK(st.st_mode)) {
		unsigned int lbs = 512, pbs = 0;

		f->is_bdev = true;
		ioctl(f->fd, BLKSSZGET, &lbs);
		if (opts->block_size && lbs > opts->block_size) {
			ret = -EINVAL;
			msg_error("'%s' has %u-byte logical blocks, larger than the block size %u; use --block-size %u",
				  arg, lbs, opts->block_size, lbs);
			goto err;
		}
		if (!ioctl(f->fd, BLKPBSZGET, &pbs))
			f->phys_block = pbs;
		f->bdev_discard = sysfs_queue_u64(&st, "discard_max_bytes") > 0;
		f->bdev_zero_unmap = sysfs_queue_u64(&st, "write_zeroes_max_bytes") > 0;
	} else if (S_ISREG(st.st_mode)) {
		struct statfs sfs;

		f->phys_block = st.st_blksize;
		if (!fstatfs(f->fd, &sfs))
			f->in_memory = sfs.f_type == TMPFS_MAGIC ||
				       sfs.f_type == RAMFS_MAGIC;
		f->nowait_ok = true;
		if (!opts->readonly)
			file_probe_fallocate(f, st.st_size);
	} else {
		ret = -EINVAL;
		msg_error("'%s' is neither a regular file nor a block device", arg);
		goto err;
	}

	ret = file_open_direct(f, opts, flags);
	if (ret)
		goto err;
	*handlep = f;
	return 0;

err:
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
	return ret;
}

static void file_close(void *handle)
{
	struct file_disk *f = handle;

	if (f->dfd >= 0)
		close(f->dfd);
	close(f->fd);
	free(f->path);
	free(f);
}

static int64_t file_get_size(void *handle)
{
	struct file_disk *f = handle;
	struct stat st;
	uint64_t size;

	if (f->is_bdev) {
		if (ioctl(f->fd, BLKGETSIZE64, &size)) {
			msg_error("cannot get the size of '%s': %m", f->path);
			return -errno;
		}
		return (int64_t)size;
	}
	if (fstat(f->fd, &st)) {
		msg_error("cannot stat '%s': %m", f->path);
		return -errno;
	}
	return st.st_size;
}

static uint32_t file_phys_block_size(void *handle)
{
	struct file_disk *f = handle;

	return f->phys_block;
}

static bool file_can_write(void *handle)
{
	struct file_disk *f = handle;

	return !f->readonly;
}

static bool file_can_flush(void *handle)
{
	/* The page cache and the disk's write cache both need fdatasync. */
	return true;
}

static bool file_can_discard(void *handle)
{
	struct file_disk *f = handle;

	return f->is_bdev ? f->bdev_discard : f->punch_ok;
}

static enum backend_cap file_can_write_zeroes(void *handle)
{
	struct file_disk *f = handle;

	/* Block devices zero in the kernel, with its own fallback to writes. */
	if (f->is_bdev || f->zero_ok)
		return BACKEND_CAP_NATIVE;
	return BACKEND_CAP_EMULATE;
}

static bool file_can_zero_unmap(void *handle)
{
	struct file_disk *f = handle;

	return f->is_bdev ? f->bdev_zero_unmap : (f->zero_ok && f->punch_ok);
}

static int file_resize(void *handle, uint64_t size)
{
	struct file_disk *f = handle;

	if (f->is_bdev) {
		int64_t have = file_get_size(f);

		/* A block device is grown on the host; here it is only adopted. */
		if (have < 0)
			return (int)have;
		if ((uint64_t)have < size) {
			msg_error("'%s' is a block device of %lld bytes: grow it on the host first (e.g. losetup -c, lvextend), then resize the device",
				  f->path, (long long)have);
			return -EINVAL;
		}
		return 0;
	}
	if (ftruncate(f->fd, (off_t)size)) {
		msg_error("cannot resize '%s': %m", f->path);
		return -errno;
	}
	return 0;
}

static int file_queue_init(void *handle, const struct backend_queue_env *env,
			   void **queuep)
{
	struct file_queue *fq;

	if (!env->ring) {
		msg_error("the file backend needs the queue's io_uring");
		return -EINVAL;
	}
	fq = calloc(1, sizeof(*fq));
	if (!fq) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	fq->f = handle;
	fq->ring = env->ring;
	*queuep = fq;
	return 0;
}

static void file_queue_fini(void *queue)
{
	free(queue);
}

/*
 * Gets an SQE; when the ring's submission queue is full, submits what is
 * queued to make room (harmless: the daemon submits again anyway).
 */
static struct io_uring_sqe *file_get_sqe(struct file_queue *fq)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(fq->ring);

	if (!sqe) {
		io_uring_submit(fq->ring);
		sqe = io_uring_get_sqe(fq->ring);
	}
	return sqe;
}

/* Can this request go to the O_DIRECT descriptor? */
static bool file_io_direct_ok(const struct file_disk *f, const struct backend_io *io)
{
	unsigned int i;

	if (f->dfd < 0 || (io->offset | io->len) % f->off_align)
		return false;
	for (i = 0; i < io->iovcnt; i++) {
		if ((uintptr_t)io->iov[i].iov_base % f->mem_align ||
		    io->iov[i].iov_len % f->off_align)
			return false;
	}
	return true;
}

static void file_rw_done(struct uring_cb *cb, int res, uint32_t cqe_flags);

static void file_rw_prep(struct file_io *fio, bool direct)
{
	struct backend_io *io = backend_io_from_priv(fio);
	struct file_disk *f = fio->fq->f;
	struct io_uring_sqe *sqe = file_get_sqe(fio->fq);
	int fd = direct ? f->dfd : f->fd;

	if (!sqe) {
		backend_io_complete(io, -EAGAIN);
		return;
	}
	fio->direct = direct;
	fio->cb.fn = file_rw_done;
	if (io->op == BACKEND_OP_READ)
		io_uring_prep_readv(sqe, fd, io->iov, io->iovcnt, io->offset);
	else
		io_uring_prep_writev(sqe, fd, io->iov, io->iovcnt, io->offset);
	io_uring_sqe_set_data(sqe, &fio->cb);
}

/*
 * Finishes a short transfer synchronously.  It only happens when the file
 * shrank under us or a signal interrupted the kernel, so blocking the queue
 * thread briefly is simpler than requeueing a trimmed iovec.
 */
static int file_rw_rest(struct file_io *fio, uint64_t done)
{
	struct backend_io *io = backend_io_from_priv(fio);
	int fd = fio->fq->f->fd;
	uint64_t pos = 0;
	unsigned int i;

	for (i = 0; i < io->iovcnt && done < io->len; i++) {
		uint64_t end = pos + io->iov[i].iov_len;

		while (done < end) {
			uint8_t *p = (uint8_t *)io->iov[i].iov_base + (done - pos);
			ssize_t n;

			if (io->op == BACKEND_OP_READ)
				n = pread(fd, p, end - done, io->offset + done);
			else
				n = pwrite(fd, p, end - done, io->offset + done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EIO;	/* past the end of the file */
			done += n;
		}
		pos = end;
	}
	return 0;
}

static void file_rw_done(struct uring_cb *cb, int res, uint32_t cqe_flags)
{
	struct file_io *fio = (struct file_io *)cb;
	struct backend_io *io = backend_io_from_priv(fio);

	/* The file system refused the alignment after all: go buffered. */
	if (res == -EINVAL && fio->direct) {
		file_rw_prep(fio, false);
		return;
	}
	if (res < 0) {
		backend_io_complete(io, res);
		return;
	}
	if ((uint64_t)res < io->len) {
		backend_io_complete(io, file_rw_rest(fio, res));
		return;
	}
	backend_io_complete(io, 0);
}

static struct file_io *file_io_init(void *queue, struct backend_io *io)
{
	struct file_io *fio = backend_io_priv(io);

	fio->fq = queue;
	fio->zero_fallback = false;
	return fio;
}

/*
 * Reads and writes that cannot block are done at once, in the queue
 * thread: io_uring would hand them to a worker thread (tmpfs cannot do
 * non-blocking I/O), and that hand-off costs more than the copy itself.
 * A file in memory never waits for a disk; a page-cache hit on another
 * file is tried with RWF_NOWAIT.  Direct I/O always goes to io_uring,
 * since RWF_NOWAIT does not stop it from waiting for the device.
 * Returns true if @io was completed here.
 */
#define FILE_INLINE_MAX	(32u << 10)

static bool file_rw_inline(struct file_io *fio, bool direct)
{
	struct backend_io *io = backend_io_from_priv(fio);
	struct file_disk *f = fio->fq->f;
	int flags;
	ssize_t n;

	/*
	 * Large copies are better spread over io_uring's workers, which run
	 * on other CPUs while this thread takes the next request: inline,
	 * eight 128 KiB reads in flight were copied one after another.
	 */
	if (io->len > FILE_INLINE_MAX)
		return false;
	if (f->in_memory)
		flags = 0;
	else if (!direct && __atomic_load_n(&f->nowait_ok, __ATOMIC_RELAXED))
		flags = RWF_NOWAIT;
	else
		return false;
	if (io->op == BACKEND_OP_READ)
		n = preadv2(f->fd, io->iov, io->iovcnt, io->offset, flags);
	else
		n = pwritev2(f->fd, io->iov, io->iovcnt, io->offset, flags);
	if (n >= 0 && (uint64_t)n == io->len) {
		backend_io_complete(io, 0);
		return true;
	}
	if (n < 0 && errno == EOPNOTSUPP && flags)
		__atomic_store_n(&f->nowait_ok, false, __ATOMIC_RELAXED);
	if (n < 0 && errno != EAGAIN && errno != EOPNOTSUPP && !flags) {
		backend_io_complete(io, -errno);
		return true;
	}
	if (n > 0 && !flags) {
		backend_io_complete(io, file_rw_rest(fio, n));
		return true;
	}
	/* Would block, or partly done: io_uring does it all (idempotent). */
	return false;
}

static void file_rw(void *queue, struct backend_io *io)
{
	struct file_io *fio = file_io_init(queue, io);
	bool direct = file_io_direct_ok(fio->fq->f, io);

	if (!file_rw_inline(fio, direct))
		file_rw_prep(fio, direct);
}

static void file_simple_done(struct uring_cb *cb, int res, uint32_t cqe_flags)
{
	struct file_io *fio = (struct file_io *)cb;

	backend_io_complete(backend_io_from_priv(fio), res < 0 ? res : 0);
}

static void file_flush(void *queue, struct backend_io *io)
{
	struct file_io *fio = file_io_init(queue, io);
	struct io_uring_sqe *sqe = file_get_sqe(fio->fq);

	if (!sqe) {
		backend_io_complete(io, -EAGAIN);
		return;
	}
	fio->cb.fn = file_simple_done;
	io_uring_prep_fsync(sqe, fio->fq->f->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &fio->cb);
}

static void file_fallocate_done(struct uring_cb *cb, int res, uint32_t cqe_flags);

static void file_fallocate(struct file_io *fio, int mode)
{
	struct backend_io *io = backend_io_from_priv(fio);
	struct io_uring_sqe *sqe = file_get_sqe(fio->fq);

	if (!sqe) {
		backend_io_complete(io, -EAGAIN);
		return;
	}
	fio->cb.fn = file_fallocate_done;
	io_uring_prep_fallocate(sqe, fio->fq->f->fd, mode | FALLOC_FL_KEEP_SIZE,
				io->offset, io->len);
	io_uring_sqe_set_data(sqe, &fio->cb);
}

static void file_fallocate_done(struct uring_cb *cb, int res, uint32_t cqe_flags)
{
	struct file_io *fio = (struct file_io *)cb;
	struct backend_io *io = backend_io_from_priv(fio);

	/*
	 * On a block device PUNCH_HOLE means "zero, unmapping if the device
	 * can, without falling back to writes": when it cannot, zero with
	 * writes instead, which the unmap flag allows.
	 */
	if (res == -EOPNOTSUPP && io->op == BACKEND_OP_WRITE_ZEROES &&
	    fio->fq->f->is_bdev && !fio->zero_fallback) {
		fio->zero_fallback = true;
		file_fallocate(fio, FALLOC_FL_ZERO_RANGE);
		return;
	}
	backend_io_complete(io, res < 0 ? res : 0);
}

static void file_discard(void *queue, struct backend_io *io)
{
	struct file_io *fio = file_io_init(queue, io);
	struct file_disk *f = fio->fq->f;
	uint64_t range[2] = { io->offset, io->len };

	if (!f->is_bdev) {
		file_fallocate(fio, FALLOC_FL_PUNCH_HOLE);
		return;
	}
	/*
	 * io_uring has no discard before Linux 6.12 (and liburing 2.3 none at
	 * all), and fallocate on a block device no longer discards, so this
	 * blocks the queue thread for the duration of the discard.  Discards
	 * are rare and large; a helper thread is the upgrade if it matters.
	 */
	if (ioctl(f->fd, BLKDISCARD, range))
		backend_io_complete(io, -errno);
	else
		backend_io_complete(io, 0);
}

static void file_write_zeroes(void *queue, struct backend_io *io)
{
	struct file_io *fio = file_io_init(queue, io);
	struct file_disk *f = fio->fq->f;
	bool unmap = io->flags & BACKEND_IO_MAY_UNMAP;

	/*
	 * Block devices: fallocate maps to the kernel's zeroout (ZERO_RANGE
	 * never unmaps, PUNCH_HOLE may), like BLKZEROOUT but asynchronous
	 * through io_uring.  Files: PUNCH_HOLE deallocates, ZERO_RANGE keeps
	 * the blocks allocated as the spec requires without the unmap flag.
	 */
	if (unmap && file_can_zero_unmap(f))
		file_fallocate(fio, FALLOC_FL_PUNCH_HOLE);
	else
		file_fallocate(fio, FALLOC_FL_ZERO_RANGE);
}

static struct backend_ops file_ops = {
	.name = "file",
	.prefix = "file:",
	.usage = "[file:]PATH      regular file or host block device (see --cache)",
	.thread_model = BACKEND_THREAD_PARALLEL,
	.io_priv_size = sizeof(struct file_io),
	.open = file_open,
	.close = file_close,
	.get_size = file_get_size,
	.get_phys_block_size = file_phys_block_size,
	.can_write = file_can_write,
	.can_flush = file_can_flush,
	.can_discard = file_can_discard,
	.can_write_zeroes = file_can_write_zeroes,
	.can_zero_unmap = file_can_zero_unmap,
	.queue_init = file_queue_init,
	.queue_fini = file_queue_fini,
	.read = file_rw,
	.write = file_rw,
	.flush = file_flush,
	.discard = file_discard,
	.write_zeroes = file_write_zeroes,
	.resize = file_resize,
	.params = (const char *const[]){ "cache", NULL },
};

BACKEND_REGISTER(file_ops, backend_file_init)
