// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memory:SIZE - a RAM disk.
 *
 * Thread model: PARALLEL.  The disk is one mapping of a memfd shared by
 * every queue thread; each operation is a memcpy, so concurrent queues need
 * no locking (overlapping requests race exactly as they would on a disk).
 * Operations complete inside the submit call.
 *
 * Why a memfd and not anonymous memory: pages are allocated on first write
 * and must go back on discard and write-zeroes, and the daemon locks its
 * memory (mlockall), which makes madvise(MADV_DONTNEED) refuse; punching a
 * hole in the file frees them, locked or not.  And the mapping reserves
 * address space for MEM_GROW_MAX at open, so that resize only grows the
 * file: the disk never moves while queue threads copy to and from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend-plugin.h"
#include "registry.h"

/* Address space reserved for growth: the disk can be resized up to this. */
#define MEM_GROW_MAX	(1ull << 40)

struct mem_disk {
	uint8_t *base;
	_Atomic uint64_t size;
	uint64_t reserved;		/* bytes of address space mapped */
	int fd;				/* the memfd */
	bool readonly;
	size_t page_size;
};

static int mem_open(const char *arg, const struct backend_open_opts *opts,
		    void **handlep)
{
	struct mem_disk *m;
	uint64_t size;
	int ret;

	ret = backend_parse_size(arg, "memory size", &size);
	if (ret)
		return ret;
	m = calloc(1, sizeof(*m));
	if (!m) {
		msg_error("out of memory");
		return -ENOMEM;
	}
	m->size = size;
	m->reserved = size > MEM_GROW_MAX ? size : MEM_GROW_MAX;
	m->readonly = opts->readonly;
	m->page_size = (size_t)sysconf(_SC_PAGESIZE);
	m->fd = memfd_create("vdusekit-memory", MFD_CLOEXEC);
	if (m->fd < 0) {
		ret = -errno;
		msg_error("memory:%s: cannot create its memory file: %m", arg);
		goto err_free;
	}
	if (ftruncate(m->fd, (off_t)size) < 0) {
		ret = -errno;
		msg_error("memory:%s: cannot size its memory file: %m; use a smaller size",
			  arg);
		goto err_close;
	}
	/* Past the file's end nothing is touched: blk checks every range. */
	m->base = mmap(NULL, m->reserved, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (m->base == MAP_FAILED) {
		ret = -errno;
		msg_error("cannot reserve %llu bytes of address space for memory:%s: %m; use a smaller size",
			  (unsigned long long)m->reserved, arg);
		goto err_close;
	}
	*handlep = m;
	return 0;

err_close:
	close(m->fd);
err_free:
	free(m);
	return ret;
}

static void mem_close(void *handle)
{
	struct mem_disk *m = handle;

	munmap(m->base, m->reserved);
	close(m->fd);
	free(m);
}

static int64_t mem_get_size(void *handle)
{
	struct mem_disk *m = handle;

	return (int64_t)atomic_load(&m->size);
}

static bool mem_can_write(void *handle)
{
	struct mem_disk *m = handle;

	return !m->readonly;
}

static bool mem_true(void *handle)
{
	return true;
}

static int mem_queue_init(void *handle, const struct backend_queue_env *env,
			  void **queuep)
{
	/* Stateless per queue: the queue context is the disk itself. */
	*queuep = handle;
	return 0;
}

static void mem_read(void *queue, struct backend_io *io)
{
	struct mem_disk *m = queue;
	const uint8_t *src = m->base + io->offset;
	unsigned int i;

	for (i = 0; i < io->iovcnt; i++) {
		memcpy(io->iov[i].iov_base, src, io->iov[i].iov_len);
		src += io->iov[i].iov_len;
	}
	backend_io_complete(io, 0);
}

static void mem_write(void *queue, struct backend_io *io)
{
	struct mem_disk *m = queue;
	uint8_t *dst = m->base + io->offset;
	unsigned int i;

	for (i = 0; i < io->iovcnt; i++) {
		memcpy(dst, io->iov[i].iov_base, io->iov[i].iov_len);
		dst += io->iov[i].iov_len;
	}
	backend_io_complete(io, 0);
}

/*
 * Zeroes a range, returning whole pages to the kernel: a hole punched in
 * the memfd reads back as zeroes and holds no memory, even where the
 * pages were locked.  The partial pages at the edges are cleared by hand.
 */
static void mem_zero(void *queue, struct backend_io *io)
{
	struct mem_disk *m = queue;
	uint64_t mask = m->page_size - 1;
	uint64_t start = io->offset, end = io->offset + io->len;
	uint64_t pstart = (start + mask) & ~mask, pend = end & ~mask;

	if (pstart < pend &&
	    !fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		       (off_t)pstart, (off_t)(pend - pstart))) {
		memset(m->base + start, 0, pstart - start);
		memset(m->base + pend, 0, end - pend);
	} else {
		memset(m->base + start, 0, io->len);
	}
	backend_io_complete(io, 0);
}

/* Only grows (blk refuses to shrink a device), within the reservation. */
static int mem_resize(void *handle, uint64_t size)
{
	struct mem_disk *m = handle;

	if (size > m->reserved) {
		msg_error("a memory disk can grow to %llu bytes at most (the address space reserved at add); add a larger one instead",
			  (unsigned long long)m->reserved);
		return -EFBIG;
	}
	if (size < atomic_load(&m->size)) {
		msg_error("a memory disk cannot shrink");
		return -EINVAL;
	}
	if (ftruncate(m->fd, (off_t)size) < 0) {
		int ret = -errno;

		msg_error("cannot grow the memory disk to %llu bytes: %m",
			  (unsigned long long)size);
		return ret;
	}
	atomic_store(&m->size, size);
	return 0;
}

static void mem_noop(void *queue, struct backend_io *io)
{
	backend_io_complete(io, 0);
}

static struct backend_ops mem_ops = {
	.name = "memory",
	.prefix = "memory:",
	.usage = "memory:SIZE      RAM disk of SIZE bytes (K, M, G, T suffixes), lost at exit",
	.thread_model = BACKEND_THREAD_PARALLEL,
	.open = mem_open,
	.close = mem_close,
	.get_size = mem_get_size,
	.can_write = mem_can_write,
	/* No volatile cache: a completed write is as stable as RAM gets. */
	.can_discard = mem_true,
	.can_zero_unmap = mem_true,
	.queue_init = mem_queue_init,
	.read = mem_read,
	.write = mem_write,
	.flush = mem_noop,
	.discard = mem_zero,
	.write_zeroes = mem_zero,
	.resize = mem_resize,
	.volatile_data = true,
};

BACKEND_REGISTER(mem_ops, backend_memory_init)
