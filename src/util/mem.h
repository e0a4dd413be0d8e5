/* Allocation wrappers: zeroed memory, never NULL. Every input is capped, so
 * running out of memory is a bug or a broken machine: log and abort. */
#ifndef POSTHORN_UTIL_MEM_H
#define POSTHORN_UTIL_MEM_H

#include <stddef.h>

void *xmalloc(size_t size);               /* zeroed */
void *xcalloc(size_t n, size_t size);     /* zeroed, overflow-checked */
void *xrealloc(void *p, size_t size);     /* new bytes are NOT zeroed */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);  /* copies at most n bytes, NUL-terminates */
void *xmemdup(const void *p, size_t n);   /* n bytes plus a trailing NUL */

/* Frees *pp and sets it to NULL. */
#define XFREE(pp) do { free(*(pp)); *(pp) = NULL; } while (0)

#endif
