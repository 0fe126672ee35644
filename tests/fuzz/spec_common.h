/*
 * spec_common.h — the body of the two spec fuzz targets (spec_yaml.c,
 * spec_lua.c): the bytes as a spec file's text, through the front-end,
 * build and check (load_spec_text), and on to lowering when the spec has no
 * errors, as `botc check` runs it. Diagnostics are rendered (to a null
 * stream): quoting source lines and placing carets is code too.
 */
#ifndef BOTC_FUZZ_SPEC_COMMON_H
#define BOTC_FUZZ_SPEC_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "diag.h"
#include "load.h"
#include "lower.h"

static int fuzz_spec(const uint8_t *data, size_t size, const char *path)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    arena *a = arena_new();
    char *src = arena_alloc(a, size + 1);
    memcpy(src, data, size);
    src[size] = '\0';
    diag_list *d = NULL;
    ir_spec *s = load_spec_text(a, path, src, size, &d);
    if (s && diag_errors(d) == 0)
        (void)low_lower(a, s, d);
    if (devnull)
        diag_print(d, devnull);
    diag_free(d);
    arena_free(a);
    return 0;
}

#endif
