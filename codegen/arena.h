/*
 * arena.h — bump allocator for the generator. One arena per lifetime
 * (the whole compilation, here): nodes, IR and emitted tables are never
 * freed one by one; arena_free releases everything at once.
 */
#ifndef BOTC_ARENA_H
#define BOTC_ARENA_H

#include <stddef.h>

typedef struct arena arena;

arena *arena_new(void);
void arena_free(arena *a);

/* Zeroed memory, aligned for any type. Aborts with a message on OOM:
 * the generator is a short-lived command-line tool. */
void *arena_alloc(arena *a, size_t size);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_ARRAY(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

#endif
