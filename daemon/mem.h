/*
 * mem.h - the one allocator interface of tocsin (after redis's zmalloc.h).
 *
 * Normal builds link jemalloc, which replaces malloc; sanitizer and fuzz
 * builds use libc malloc so the sanitizers see every allocation.  Out of
 * memory is not an error a caller handles: xmalloc() and friends log a
 * message naming the size and abort, so no caller checks for NULL.
 *
 * Ownership: a constructor that returns memory says who frees it; free with
 * xfree() or FREE_NULL(), which also clears the pointer.
 */
#ifndef TOCSIN_MEM_H
#define TOCSIN_MEM_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *p, size_t size);
/* Resizes p to an array of n elements of size bytes (overflow aborts). */
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
void	 xfree(void *p);
/* "jemalloc 5.3.0-..." or "libc". */
const char *mem_allocator(void);
/* Bytes the allocator has handed out (jemalloc stats.allocated), or 0. */
size_t	 mem_allocated(void);
/* Bytes of the allocator's pages in memory (jemalloc stats.resident: its
 * metadata, live objects and dirty pages not yet given back), or 0. */
size_t	 mem_resident(void);
/*
 * Gives every page the allocator holds free back to the kernel (jemalloc's
 * arena purge), so the next allocations fault fresh pages as in a new
 * process; a no-op with libc malloc.  For benchmarks that repeat a start.
 */
void	 mem_purge(void);

#define MEM_LINE	64	/* cache line, bytes */

/*
 * n zeroed objects of size bytes starting on a MEM_LINE boundary, so that
 * objects written by different threads never share a cache line when size
 * is a multiple of MEM_LINE.  Free with xfree().  Never NULL.
 */
void	*mem_calloc_lines(size_t n, size_t size);

#define FREE_NULL(p) do { xfree(p); (p) = NULL; } while (0)

/* The object of type that holds member at p (a watcher, a node, a base). */
#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

#endif
