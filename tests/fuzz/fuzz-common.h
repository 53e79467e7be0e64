/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the fuzz targets: reading the input past its end as zeroes,
 * and (with -DVDK_FUZZ_REPLAY) the main() that replays files or corpus
 * directories without libFuzzer.
 */
#ifndef VDK_FUZZ_COMMON_H
#define VDK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Byte @off of the @n-byte input @d; zero past its end. */
static inline uint8_t in_byte(const uint8_t *d, size_t n, size_t off)
{
	return off < n ? d[off] : 0;
}

/* @len bytes from @off, zero-filled where the input runs out. */
static inline void in_copy(void *dst, const uint8_t *d, size_t n, size_t off,
			   size_t len)
{
	memset(dst, 0, len);
	if (off < n)
		memcpy(dst, d + off, n - off < len ? n - off : len);
}

#ifdef VDK_FUZZ_REPLAY
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Read in chunks rather than trust the size, so pipes work too. */
static int fz_replay_file(const char *path, void (*report)(const char *path))
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;
	FILE *fp = fopen(path, "rb");

	if (!fp)
		return -1;
	do {
		if (len == cap) {
			uint8_t *p = realloc(buf, cap ? 2 * cap : 4096);

			if (!p) {
				free(buf);
				fclose(fp);
				return -1;
			}
			buf = p;
			cap = cap ? 2 * cap : 4096;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n);
	if (ferror(fp)) {
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	report(path);
	return 0;
}

/*
 * Run every file named in @argv, or found in a directory named there,
 * calling @report after each.  Exit status for main().
 */
static int fz_replay_main(int argc, char **argv,
			  void (*report)(const char *path))
{
	unsigned int count = 0;
	char path[4096];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int i;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st)) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (fz_replay_file(argv[i], report))
				return 1;
			count++;
			continue;
		}
		dir = opendir(argv[i]);
		if (!dir) {
			perror(argv[i]);
			return 1;
		}
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			if (fz_replay_file(path, report)) {
				perror(path);
				closedir(dir);
				return 1;
			}
			count++;
		}
		closedir(dir);
	}
	printf("replayed %u inputs\n", count);
	/* An empty corpus would make the test pass without testing. */
	return count ? 0 : 1;
}
#endif /* VDK_FUZZ_REPLAY */

#endif /* VDK_FUZZ_COMMON_H */
