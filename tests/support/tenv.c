/*
 * tenv.c - see tenv.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/tenv.h"

int64_t
tenv_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned
tenv_seed(unsigned salt)
{
	return (unsigned)getpid() * 2654435761u + salt * 40503u +
	    (unsigned)tenv_mono_ms();
}

int
tenv_free_port(const char *addr)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, err = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -EINVAL;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		err = -errno;
	close(fd);
	return err != 0 ? err : ntohs(sa.sin_port);
}

void
tenv_write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) != 0) {
		fprintf(stderr, "tenv: cannot write %s: %s\n", path,
		    strerror(errno));
		abort();
	}
}

char *
tenv_read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;

	if (fp == NULL) {
		if ((buf = strdup("")) == NULL)
			abort();
		return buf;
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				abort();
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	buf[len] = '\0';
	return buf;
}
