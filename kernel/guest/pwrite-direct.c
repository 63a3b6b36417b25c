/*
 * pwrite-direct: aligned O_DIRECT writes for the dmsnap kernel recipe.
 *
 *   pwrite-direct DEV SECTOR COUNT TAG [IO_SECTORS]
 *
 * Writes COUNT 512-byte sectors starting at sector SECTOR of block device DEV.
 * Every sector gets deterministic content: 32 records of 16 bytes, each record
 * being TAG (left-justified, padded with spaces to 6 bytes), one space, the
 * absolute sector number as 8 lowercase hex digits, and a newline.  The same
 * pattern generator lives in kernel/lib/pattern.py (host side).
 *
 * The data is submitted with one pwrite() of IO_SECTORS sectors at a time
 * (default: all COUNT sectors in one call), from a page-aligned buffer, on a
 * descriptor opened with O_DIRECT, so the block layer sees exactly these
 * sector ranges (busybox dd would send whole pages).  fsync() at the end,
 * unless DMSNAP_NOSYNC is set (the I/O-order recordings want the writes the
 * program saw return, without the flush an fsync adds).
 * Exit status 0 on success; on failure prints the errno text and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR 512

static void fill_sector(unsigned char *p, const char *tag, unsigned long long sector)
{
	char rec[32];
	char t[8];
	int i;

	snprintf(t, sizeof(t), "%-6.6s", tag);
	snprintf(rec, sizeof(rec), "%s %08llx\n", t, sector & 0xffffffffULL);
	for (i = 0; i < SECTOR / 16; i++)
		memcpy(p + i * 16, rec, 16);
}

int main(int argc, char **argv)
{
	unsigned long long start, count, io, done;
	unsigned char *buf;
	int fd;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: %s DEV SECTOR COUNT TAG [IO_SECTORS]\n", argv[0]);
		return 2;
	}
	start = strtoull(argv[2], NULL, 0);
	count = strtoull(argv[3], NULL, 0);
	io = argc == 6 ? strtoull(argv[5], NULL, 0) : count;
	if (count == 0 || io == 0) {
		fprintf(stderr, "pwrite-direct: COUNT and IO_SECTORS must be > 0\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "pwrite-direct: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (posix_memalign((void **)&buf, 4096, io * SECTOR)) {
		fprintf(stderr, "pwrite-direct: out of memory\n");
		return 1;
	}
	for (done = 0; done < count; done += io) {
		unsigned long long n = count - done < io ? count - done : io;
		unsigned long long i;
		ssize_t r;

		for (i = 0; i < n; i++)
			fill_sector(buf + i * SECTOR, argv[4], start + done + i);
		r = pwrite(fd, buf, n * SECTOR, (off_t)((start + done) * SECTOR));
		if (r < 0) {
			fprintf(stderr, "pwrite-direct: write at sector %llu: %s\n",
				start + done, strerror(errno));
			return 1;
		}
		if ((unsigned long long)r != n * SECTOR) {
			fprintf(stderr, "pwrite-direct: short write at sector %llu: %zd bytes\n",
				start + done, r);
			return 1;
		}
	}
	if (!getenv("DMSNAP_NOSYNC") && fsync(fd) < 0) {
		fprintf(stderr, "pwrite-direct: fsync: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
