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
#include <unistd.h>

#include "daemon/clock.h"
#include "daemon/ring.h"
#include "tests/support/tenv.h"

int64_t
tenv_mono_ms(void)
{
	return clock_mono_ms();
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
tenv_demo_yaml(unsigned x, int port, int shortdelay)
{
	static const char listen[] = "listen: \"127.0.0.1:8471\"";
	char *src = tenv_read_file("etc/demo.yaml"), *out, *o;
	char host[32], pline[32];
	const char *s;

	if (strlen(src) < 1000 || strstr(src, "\n  port: 1502\n") == NULL) {
		free(src);
		return NULL;
	}
	if ((out = malloc(strlen(src) * 2 + 1)) == NULL)
		abort();
	snprintf(host, sizeof(host), "host: 127.%u.0.", x);
	snprintf(pline, sizeof(pline), "  port: %d\n", port);
	for (s = src, o = out; *s != '\0'; ) {
		if (strncmp(s, "host: 127.0.1.", 14) == 0) {
			o += sprintf(o, "%s", host);
			s += 14;
		} else if (strncmp(s, "\n  port: 1502\n", 14) == 0) {
			o += sprintf(o, "\n%s", pline);
			s += 14;
		} else if (strncmp(s, listen, strlen(listen)) == 0) {
			/* any free port: tests run side by side */
			o += sprintf(o, "listen: \"127.0.0.1:0\"");
			s += strlen(listen);
		} else if (shortdelay && strncmp(s, "delay_on: ", 10) == 0) {
			o += sprintf(o, "delay_on: 1s");
			s += 10;
			while (*s != ',' && *s != '}' && *s != '\0')
				s++;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	free(src);
	return out;
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

int
tenv_kafka(void)
{
	const char *san = getenv("TOCSIN_SANITIZER");

	return san == NULL || strcmp(san, "thread") != 0;
}
