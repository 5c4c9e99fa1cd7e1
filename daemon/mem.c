/*
 * mem.c - see mem.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TOCSIN_JEMALLOC
#include <stdbool.h>

#include <jemalloc/jemalloc.h>
#endif

#include "daemon/mem.h"

#ifdef TOCSIN_JEMALLOC
/*
 * jemalloc reads this at its first allocation.  background_thread: freed
 * pages go back to the kernel on jemalloc's decay schedule (dirty pages
 * after 10 s) from a thread of its own, not only when the arena that
 * holds them happens to allocate again.  Measured in the soak
 * (docs/testing.md, "Soak"): without it a reload's freed engines and
 * configuration stayed resident, +7.5 MB of allocator pages over a heap
 * back at its level, for minutes, some until the next reload, so the RSS
 * stepped up at every reload and crept.  The thread sleeps while nothing
 * is to be purged (an idle daemon: docs/benchmarks.md, "idle").  Redis
 * turns the same option on for the same reason (jemalloc-bg-thread).
 */
const char *malloc_conf = "background_thread:true";
#endif

static void __attribute__((noreturn))
mem_oom(size_t size)
{
	char msg[96];
	int n;

	n = snprintf(msg, sizeof(msg), "fatal: out of memory allocating %zu bytes\n",
	    size);
	if (n > 0 && fwrite(msg, 1, (size_t)n, stderr) == 0)
		abort();
	abort();
}

void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		mem_oom(size);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		mem_oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t size)
{
	void *q;

	/* jemalloc's realloc(NULL) costs about three mallocs (callgrind: 260
	 * instructions against 90), and every array grown from empty (each
	 * incident's timeline and alarms) starts there */
	if (p == NULL)
		return xmalloc(size);
	q = realloc(p, size ? size : 1);

	if (q == NULL)
		mem_oom(size);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		mem_oom(SIZE_MAX);
	return xrealloc(p, n * size);
}

void *
mem_calloc_lines(size_t n, size_t size)
{
	void *p = NULL;
	size_t len;

	if (size != 0 && n > SIZE_MAX / size)
		mem_oom(SIZE_MAX);
	len = n * size != 0 ? n * size : 1;
	/* posix_memalign's memory is free()d like any other */
	if (posix_memalign(&p, MEM_LINE, len) != 0)
		mem_oom(len);
	memset(p, 0, len);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
xfree(void *p)
{
	free(p);
}

const char *
mem_allocator(void)
{
#ifdef TOCSIN_JEMALLOC
	static char name[96];
	const char *v = NULL;
	size_t sz = sizeof(v);

	if (name[0] == '\0') {
		bool bg = false;
		size_t bsz = sizeof(bg);

		if (mallctl("background_thread", &bg, &bsz, NULL, 0) != 0)
			bg = false;
		if (mallctl("version", &v, &sz, NULL, 0) != 0 || v == NULL)
			v = "";
		snprintf(name, sizeof(name), "jemalloc%s%s%s", *v ? " " : "",
		    v, bg ? ", background purge" : "");
	}
	return name;
#else
	return "libc";
#endif
}

void
mem_purge(void)
{
#ifdef TOCSIN_JEMALLOC
	char name[64];

	snprintf(name, sizeof(name), "arena.%u.purge", MALLCTL_ARENAS_ALL);
	(void)mallctl(name, NULL, NULL, NULL, 0);
#endif
}

/* A jemalloc size_t statistic after a fresh epoch, or 0. */
static size_t
mem_stat(const char *name)
{
#ifdef TOCSIN_JEMALLOC
	uint64_t epoch = 1;
	size_t sz = sizeof(epoch), v = 0;

	mallctl("epoch", &epoch, &sz, &epoch, sz);
	sz = sizeof(v);
	if (mallctl(name, &v, &sz, NULL, 0) != 0)
		return 0;
	return v;
#else
	(void)name;
	return 0;
#endif
}

size_t
mem_allocated(void)
{
	return mem_stat("stats.allocated");
}

size_t
mem_resident(void)
{
	return mem_stat("stats.resident");
}
