/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-dev builds lib/dev.c and lib/iova.c unchanged with this header
 * forced in front (-include), so that the system calls they make on the
 * VDUSE device go to the simulated kernel in fuzz-dev.c instead.  The
 * system headers come first: their declarations keep the real names, and
 * the macros below only rename the calls in the library's own code.
 */
#ifndef VDK_FUZZ_DEV_SHIM_H
#define VDK_FUZZ_DEV_SHIM_H

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>

int fz_open(const char *path, int flags, ...);
int fz_ioctl(int fd, unsigned long req, ...);
ssize_t fz_read(int fd, void *buf, size_t len);
ssize_t fz_write(int fd, const void *buf, size_t len);
int fz_poll(struct pollfd *fds, nfds_t nfds, int timeout);
int fz_close(int fd);
int fz_eventfd(unsigned int count, int flags);
void *fz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int fz_munmap(void *addr, size_t len);

#ifndef VDK_FUZZ_DEV_HARNESS
#define open fz_open
#define ioctl fz_ioctl
#define read fz_read
#define write fz_write
#define poll fz_poll
#define close fz_close
#define eventfd fz_eventfd
#define mmap fz_mmap
#define munmap fz_munmap
#endif

#endif /* VDK_FUZZ_DEV_SHIM_H */
