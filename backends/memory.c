// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memory:SIZE - a RAM disk.
 *
 * Thread model: PARALLEL.  The disk is one anonymous mapping shared by every
 * queue thread; each operation is a memcpy, so concurrent queues need no
 * locking (overlapping requests race exactly as they would on a disk).
 * Pages are allocated on first write (MAP_NORESERVE) and given back on
 * discard and write-zeroes.  Operations complete inside the submit call.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "registry.h"

struct mem_disk {
	uint8_t *base;
	uint64_t size;
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
		backend_error("out of memory");
		return -ENOMEM;
	}
	m->size = size;
	m->readonly = opts->readonly;
	m->page_size = (size_t)sysconf(_SC_PAGESIZE);
	m->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->base == MAP_FAILED) {
		ret = -errno;
		backend_error("cannot reserve %s of address space for memory:%s: %m; use a smaller size",
			      arg, arg);
		free(m);
		return ret;
	}
	*handlep = m;
	return 0;
}

static void mem_close(void *handle)
{
	struct mem_disk *m = handle;

	munmap(m->base, m->size);
	free(m);
}

static int64_t mem_get_size(void *handle)
{
	struct mem_disk *m = handle;

	return (int64_t)m->size;
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
 * Zeroes a range, returning whole pages to the kernel: after MADV_DONTNEED a
 * private anonymous page reads back as zeroes.  The partial pages at the
 * edges, and pages the daemon has locked (mlockall makes madvise fail with
 * EINVAL), are cleared by hand.
 */
static void mem_zero(void *queue, struct backend_io *io)
{
	struct mem_disk *m = queue;
	uint8_t *start = m->base + io->offset;
	uint8_t *end = start + io->len;
	uintptr_t mask = m->page_size - 1;
	uint8_t *pstart = (uint8_t *)(((uintptr_t)start + mask) & ~mask);
	uint8_t *pend = (uint8_t *)((uintptr_t)end & ~mask);

	if (pstart < pend && !madvise(pstart, pend - pstart, MADV_DONTNEED)) {
		memset(start, 0, pstart - start);
		memset(pend, 0, end - pend);
	} else {
		memset(start, 0, io->len);
	}
	backend_io_complete(io, 0);
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
};

BACKEND_REGISTER(mem_ops, backend_memory_init)
