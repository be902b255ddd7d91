/* SPDX-License-Identifier: MIT */
/*
 * An allocation counter for the zero-allocation tests: malloc and friends
 * are interposed (or, under AddressSanitizer, which owns malloc, counted
 * through its allocation hooks). Include from exactly one file per test.
 */
#ifndef T_ALLOC_H
#define T_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

static volatile long allocations;

#if defined(__SANITIZE_ADDRESS__)
/* From compiler-rt's sanitizer/allocator_interface.h (gcc ships no header). */
int __sanitizer_install_malloc_and_free_hooks(
	void (*malloc_hook)(const volatile void *, size_t),
	void (*free_hook)(const volatile void *));
static void on_malloc(const volatile void *p, size_t n) { (void)p; (void)n; allocations++; }
static void on_free(const volatile void *p) { (void)p; allocations++; }
static void install_counter(void)
{
	__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { allocations++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }
void free(void *p) { if (p) allocations++; __libc_free(p); }
static void install_counter(void) {}
#endif

/* Installs the counter and proves it sees an allocation (a blind counter
 * would pass every zero-allocation check). Returns 1 when it works. */
static inline int t_alloc_counter_ready(void)
{
	install_counter();
	long before = allocations;
	void *volatile probe = malloc(16);
	free(probe);
	return allocations - before == 2;
}

#endif
