/*
 * load.c — spec file → checked IR.
 */
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "build.h"
#include "check.h"
#include "lua_front.h"
#include "node.h"
#include "yaml_front.h"

#define LOAD_MAX_BYTES ((size_t)16 * 1024 * 1024) /* a spec is hand-written */

static int load_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The whole file in the arena, NUL-terminated; NULL with errno-ish text. */
static char *load_read(arena *a, const char *path, size_t *len, const char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = strerror(errno);
        return NULL;
    }
    size_t cap = 64 * 1024, n = 0;
    char *buf = arena_alloc(a, cap + 1);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            if (ferror(f)) {
                *why = "read error";
                fclose(f);
                return NULL;
            }
            break;
        }
        if (cap >= LOAD_MAX_BYTES) {
            *why = "file is larger than 16 MiB";
            fclose(f);
            return NULL;
        }
        char *bigger = arena_alloc(a, cap * 2 + 1);
        memcpy(bigger, buf, n);
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

ir_spec *load_spec(arena *a, const char *path, diag_list **diags)
{
    src_pos nowhere = { 0, 0 };
    size_t len = 0;
    const char *why = NULL;
    char *src = load_read(a, path, &len, &why);
    if (!src) {
        *diags = diag_new(path, "");
        diag_error(*diags, nowhere, NULL, "cannot read the spec: %s", why);
        return NULL;
    }
    return load_spec_text(a, path, src, len, diags);
}

ir_spec *load_spec_text(arena *a, const char *path, const char *src, size_t len,
                        diag_list **diags)
{
    src_pos nowhere = { 0, 0 };
    *diags = diag_new(path, src);
    diag_list *d = *diags;
    if (memchr(src, '\0', len)) {
        diag_error(d, nowhere, "a spec is UTF-8 text", "the spec contains a NUL byte");
        return NULL;
    }
    node *root;
    if (load_ends_with(path, ".yaml") || load_ends_with(path, ".yml")) {
        root = yaml_front_parse(a, d, src, len);
    } else if (load_ends_with(path, ".lua")) {
        root = lua_front_parse(a, d, src, len, path);
    } else {
        diag_error(d, nowhere, "name the spec *.yaml, *.yml or *.lua",
                   "cannot tell the spec's language from its name");
        return NULL;
    }
    if (!root)
        return NULL;
    ir_spec *s = build_spec(a, d, root, path);
    check_spec(a, d, s);
    return s;
}
