/*
 * lua_front.c — run a Lua spec in a sandbox, convert the returned table
 * into a node tree, and locate every node in the source text.
 */
#include "lua_front.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define LF_MEM_LIMIT ((size_t)64 * 1024 * 1024)
#define LF_HOOK_EVERY 1000          /* instructions between hook calls */
#define LF_MAX_TICKS 50000ul        /* x LF_HOOK_EVERY = 50M instructions */
#define LF_MAX_DEPTH 200
#define LF_NONE SIZE_MAX            /* "no known source offset" */

typedef struct lf {
    arena *a;
    diag_list *d;
    const char *src;
    size_t len;
    size_t *lines;      /* byte offset of each line start */
    size_t n_lines;
    size_t mem;         /* bytes Lua holds now */
    int mem_exhausted;
    unsigned long ticks;
    node *root;
} lf;

/* ---- source positions ------------------------------------------------ */

static src_pos lf_pos(const lf *f, size_t off)
{
    src_pos p = { 1, 1 };
    if (off == LF_NONE || off > f->len)
        return p;
    size_t lo = 0, hi = f->n_lines;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (f->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    p.line = (unsigned)lo + 1;
    unsigned col = 1;
    for (size_t i = f->lines[lo]; i < off; i++)
        if (((unsigned char)f->src[i] & 0xC0) != 0x80)
            col++;
    p.col = col;
    return p;
}

static void lf_index_lines(lf *f)
{
    size_t n = 1;
    for (size_t i = 0; i < f->len; i++)
        if (f->src[i] == '\n')
            n++;
    f->lines = ARENA_ARRAY(f->a, size_t, n);
    f->lines[0] = 0;
    size_t k = 1;
    for (size_t i = 0; i < f->len; i++)
        if (f->src[i] == '\n')
            f->lines[k++] = i + 1;
    f->n_lines = n;
}

static int lf_ident_start(int c) { return isalpha(c) || c == '_'; }
static int lf_ident_char(int c) { return isalnum(c) || c == '_'; }

/* Length of a long bracket opener `[[` / `[==[` at p (its level in *level),
 * 0 if none. */
static size_t lf_long_open(const lf *f, size_t p, int *level)
{
    if (p >= f->len || f->src[p] != '[')
        return 0;
    size_t q = p + 1;
    int lv = 0;
    while (q < f->len && f->src[q] == '=') {
        q++;
        lv++;
    }
    if (q < f->len && f->src[q] == '[') {
        *level = lv;
        return q + 1 - p;
    }
    return 0;
}

static size_t lf_skip_long(const lf *f, size_t p, int level)
{
    for (; p < f->len; p++) {
        if (f->src[p] != ']')
            continue;
        size_t q = p + 1;
        int lv = 0;
        while (q < f->len && f->src[q] == '=') {
            q++;
            lv++;
        }
        if (lv == level && q < f->len && f->src[q] == ']')
            return q + 1;
    }
    return f->len;
}

/* Skip whitespace and comments. */
static size_t lf_skip_ws(const lf *f, size_t p)
{
    while (p < f->len) {
        unsigned char c = (unsigned char)f->src[p];
        if (isspace(c)) {
            p++;
        } else if (c == '-' && p + 1 < f->len && f->src[p + 1] == '-') {
            int level;
            size_t open = lf_long_open(f, p + 2, &level);
            if (open) {
                p = lf_skip_long(f, p + 2 + open, level);
            } else {
                while (p < f->len && f->src[p] != '\n')
                    p++;
            }
        } else {
            break;
        }
    }
    return p;
}

/* Skip a quoted string starting at p (the quote); returns the offset after
 * it. */
static size_t lf_skip_string(const lf *f, size_t p)
{
    char q = f->src[p++];
    while (p < f->len && f->src[p] != q && f->src[p] != '\n') {
        if (f->src[p] == '\\')
            p++;
        p++;
    }
    return p < f->len ? p + 1 : p;
}

/* The fields of one table constructor, as written. */
typedef struct lf_fields {
    const char **keys;  /* keyed fields: key text */
    size_t *key_off;
    size_t *val_off;
    int n_keyed;
    size_t *pos_off;    /* positional fields: start of the expression */
    int n_pos;
} lf_fields;

static void lf_push_keyed(lf *f, lf_fields *fl, int *cap, const char *key,
                          size_t koff, size_t voff)
{
    if (fl->n_keyed == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        const char **k = ARENA_ARRAY(f->a, const char *, nc);
        size_t *ko = ARENA_ARRAY(f->a, size_t, nc), *vo = ARENA_ARRAY(f->a, size_t, nc);
        if (fl->n_keyed) {
            memcpy(k, fl->keys, sizeof *k * (size_t)fl->n_keyed);
            memcpy(ko, fl->key_off, sizeof *ko * (size_t)fl->n_keyed);
            memcpy(vo, fl->val_off, sizeof *vo * (size_t)fl->n_keyed);
        }
        fl->keys = k;
        fl->key_off = ko;
        fl->val_off = vo;
        *cap = nc;
    }
    fl->keys[fl->n_keyed] = key;
    fl->key_off[fl->n_keyed] = koff;
    fl->val_off[fl->n_keyed] = voff;
    fl->n_keyed++;
}

static void lf_push_pos(lf *f, lf_fields *fl, int *cap, size_t off)
{
    if (fl->n_pos == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        size_t *v = ARENA_ARRAY(f->a, size_t, nc);
        if (fl->n_pos)
            memcpy(v, fl->pos_off, sizeof *v * (size_t)fl->n_pos);
        fl->pos_off = v;
        *cap = nc;
    }
    fl->pos_off[fl->n_pos++] = off;
}

/* Decode a simple quoted key ("name" / 'name' without escapes) at p. */
static const char *lf_quoted_key(lf *f, size_t p, size_t *end)
{
    char q = f->src[p];
    size_t s = p + 1, e = s;
    while (e < f->len && f->src[e] != q && f->src[e] != '\\' && f->src[e] != '\n')
        e++;
    if (e >= f->len || f->src[e] != q)
        return NULL;
    *end = e + 1;
    return arena_strndup(f->a, f->src + s, e - s);
}

/* Scan the constructor whose `{` is at `open`: record the keyed and the
 * positional fields at its top level. */
static void lf_scan_ctor(lf *f, size_t open, lf_fields *fl)
{
    memset(fl, 0, sizeof *fl);
    int kcap = 0, pcap = 0, depth = 1, field_start = 1;
    size_t p = open + 1;
    while (p < f->len) {
        p = lf_skip_ws(f, p);
        if (p >= f->len)
            break;
        char c = f->src[p];
        if (field_start && depth == 1) {
            field_start = 0;
            if (c == '}')
                break;
            if (lf_ident_start((unsigned char)c)) {
                size_t s = p;
                while (p < f->len && lf_ident_char((unsigned char)f->src[p]))
                    p++;
                size_t e = p, q = lf_skip_ws(f, p);
                if (q < f->len && f->src[q] == '=' && (q + 1 >= f->len || f->src[q + 1] != '=')) {
                    lf_push_keyed(f, fl, &kcap, arena_strndup(f->a, f->src + s, e - s), s,
                                  lf_skip_ws(f, q + 1));
                    p = q + 1;
                } else {
                    lf_push_pos(f, fl, &pcap, s);
                }
                continue;
            }
            int level;
            if (c == '[' && !lf_long_open(f, p, &level)) {
                size_t q = lf_skip_ws(f, p + 1), end;
                const char *key = NULL;
                if (q < f->len && (f->src[q] == '"' || f->src[q] == '\''))
                    key = lf_quoted_key(f, q, &end);
                if (key) {
                    q = lf_skip_ws(f, end);
                    if (q < f->len && f->src[q] == ']') {
                        q = lf_skip_ws(f, q + 1);
                        if (q < f->len && f->src[q] == '=') {
                            lf_push_keyed(f, fl, &kcap, key, p, lf_skip_ws(f, q + 1));
                            p = q + 1;
                            continue;
                        }
                    }
                }
                /* `[expr] = v` with a computed key: not a positional field */
                depth++;
                p++;
                continue;
            }
            lf_push_pos(f, fl, &pcap, p);
        }
        int level;
        size_t open_len;
        if (c == '"' || c == '\'') {
            p = lf_skip_string(f, p);
        } else if ((open_len = lf_long_open(f, p, &level)) != 0) {
            p = lf_skip_long(f, p + open_len, level);
        } else if (c == '{' || c == '(' || c == '[') {
            depth++;
            p++;
        } else if (c == '}' || c == ')' || c == ']') {
            depth--;
            p++;
            if (depth == 0)
                break;
        } else if ((c == ',' || c == ';') && depth == 1) {
            field_start = 1;
            p++;
        } else if (lf_ident_start((unsigned char)c)) {
            while (p < f->len && lf_ident_char((unsigned char)f->src[p]))
                p++;
        } else {
            p++;
        }
    }
}

/* When `off` holds a plain variable name (`states` in `states = states`),
 * find the constructor it was assigned: the first `name = {` in the file. */
static size_t lf_follow_ident(const lf *f, size_t off)
{
    if (off == LF_NONE || off >= f->len || !lf_ident_start((unsigned char)f->src[off]))
        return off;
    size_t e = off;
    while (e < f->len && lf_ident_char((unsigned char)f->src[e]))
        e++;
    size_t n = e - off;
    size_t after = lf_skip_ws(f, e);
    if (after < f->len && (f->src[after] == '(' || f->src[after] == '.' ||
                           f->src[after] == '[' || f->src[after] == ':'))
        return off; /* a call or a field: not followed */
    for (size_t p = 0; p + n < f->len; p++) {
        if (memcmp(f->src + p, f->src + off, n) != 0)
            continue;
        if (p > 0 && (lf_ident_char((unsigned char)f->src[p - 1]) || f->src[p - 1] == '.'))
            continue;
        if (lf_ident_char((unsigned char)f->src[p + n]))
            continue;
        size_t q = lf_skip_ws(f, p + n);
        if (q < f->len && f->src[q] == '=' && q + 1 < f->len && f->src[q + 1] != '=') {
            q = lf_skip_ws(f, q + 1);
            if (q < f->len && f->src[q] == '{')
                return q;
        }
    }
    return off;
}

/* Fallback: first `key =` / `["key"] =` at or after `from`, anywhere. */
static size_t lf_search_key(const lf *f, size_t from, const char *key, size_t *val)
{
    size_t n = strlen(key);
    if (from == LF_NONE)
        from = 0;
    for (size_t p = from; p + n <= f->len; p++) {
        if (memcmp(f->src + p, key, n) != 0)
            continue;
        size_t e = p + n, s = p;
        if (p > 0 && (f->src[p - 1] == '"' || f->src[p - 1] == '\'') &&
            e < f->len && f->src[e] == f->src[p - 1]) {
            /* ["key"] */
            size_t b = p - 1;
            while (b > 0 && isspace((unsigned char)f->src[b - 1]))
                b--;
            if (b == 0 || f->src[b - 1] != '[')
                continue;
            s = b - 1;
            e = lf_skip_ws(f, e + 1);
            if (e >= f->len || f->src[e] != ']')
                continue;
            e++;
        } else {
            if (p > 0 && (lf_ident_char((unsigned char)f->src[p - 1]) || f->src[p - 1] == '.'))
                continue;
            if (e < f->len && lf_ident_char((unsigned char)f->src[e]))
                continue;
        }
        size_t q = lf_skip_ws(f, e);
        if (q < f->len && f->src[q] == '=' && (q + 1 >= f->len || f->src[q + 1] != '=')) {
            *val = lf_skip_ws(f, q + 1);
            return s;
        }
    }
    return LF_NONE;
}

/* Fallback: the quoted string `s` at or after `from`, else anywhere. */
static size_t lf_search_string(const lf *f, size_t from, const char *s)
{
    size_t n = strlen(s);
    for (int pass = 0; pass < 2; pass++) {
        size_t start = pass == 0 ? (from == LF_NONE ? 0 : from) : 0;
        for (size_t p = start; p + n + 2 <= f->len; p++) {
            char q = f->src[p];
            if ((q == '"' || q == '\'') && memcmp(f->src + p + 1, s, n) == 0 &&
                f->src[p + n + 1] == q)
                return p;
        }
    }
    return LF_NONE;
}

/* Where an item built by code is written: its `name = "X"` field. */
static size_t lf_search_name(const lf *f, const char *name)
{
    size_t val;
    for (size_t from = 0;;) {
        size_t k = lf_search_key(f, from, "name", &val);
        if (k == LF_NONE)
            return LF_NONE;
        size_t end;
        if (val < f->len && (f->src[val] == '"' || f->src[val] == '\'')) {
            const char *s = lf_quoted_key((lf *)f, val, &end);
            if (s && strcmp(s, name) == 0)
                return k;
        }
        from = k + 1;
    }
}

/* The `{` of the constructor around offset `k` (a naive backward scan:
 * braces inside strings before `k` on the same entry are rare), else k. */
static size_t lf_enclosing_ctor(const lf *f, size_t k)
{
    int depth = 0;
    for (size_t p = k; p-- > 0;) {
        char c = f->src[p];
        if (c == '}')
            depth++;
        else if (c == '{' && depth-- == 0)
            return p;
    }
    return k;
}

/* ---- conversion -------------------------------------------------------- */

static lf *lf_ctx(lua_State *L) { return *(lf **)lua_getextraspace(L); }

typedef struct lf_key {
    const char *s;
} lf_key;

static int lf_key_cmp(const void *a, const void *b)
{
    return strcmp(((const lf_key *)a)->s, ((const lf_key *)b)->s);
}

static node *lf_value(lf *f, lua_State *L, size_t off, size_t parent, int depth);

/* The table at the top of the stack. `off`: where its constructor (or the
 * expression that made it) is written. */
static node *lf_table(lf *f, lua_State *L, size_t off, int depth)
{
    node *n = ARENA_NEW(f->a, node);
    n->pos = lf_pos(f, off);
    int t = lua_gettop(L);
    if (depth > LF_MAX_DEPTH) {
        diag_error(f->d, n->pos, NULL, "the spec nests deeper than %d levels", LF_MAX_DEPTH);
        return n;
    }
    luaL_checkstack(L, 8, "spec too deep");
    /* Cycle check: the registry's visiting set. */
    lua_pushlightuserdata(L, (void *)f);
    lua_rawget(L, LUA_REGISTRYINDEX);
    int visiting = lua_gettop(L);
    lua_pushvalue(L, t);
    if (lua_rawget(L, visiting) != LUA_TNIL) {
        lua_pop(L, 2);
        diag_error(f->d, n->pos, NULL, "a table in the spec contains itself");
        return n;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, t);
    lua_pushboolean(L, 1);
    lua_rawset(L, visiting);

    /* Classify the keys. */
    lua_Integer n_int = 0, max_int = 0;
    int n_str = 0, n_other = 0, total = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        total++;
        if (lua_type(L, -1) == LUA_TSTRING)
            n_str++;
        else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            n_int++;
            if (lua_tointeger(L, -1) > max_int)
                max_int = lua_tointeger(L, -1);
        } else
            n_other++;
    }
    lf_fields fl;
    memset(&fl, 0, sizeof fl);
    int is_ctor = off != LF_NONE && off < f->len && f->src[off] == '{';
    if (is_ctor)
        lf_scan_ctor(f, off, &fl);

    if (n_str == 0 && n_other == 0 && n_int == max_int) {
        n->kind = NODE_SEQ;
        n->n = (int)n_int;
        n->items = ARENA_ARRAY(f->a, node *, n->n ? n->n : 1);
        int by_field = is_ctor && fl.n_pos == n->n;
        for (int i = 0; i < n->n; i++) {
            lua_rawgeti(L, t, (lua_Integer)i + 1);
            size_t io = by_field ? fl.pos_off[i] : LF_NONE;
            if (io == LF_NONE && lua_type(L, -1) == LUA_TTABLE) {
                lua_getfield(L, -1, "name");
                if (lua_type(L, -1) == LUA_TSTRING) {
                    size_t k = lf_search_name(f, lua_tostring(L, -1));
                    if (k != LF_NONE)
                        io = lf_enclosing_ctor(f, k);
                }
                lua_pop(L, 1);
            } else if (io == LF_NONE && lua_type(L, -1) == LUA_TSTRING) {
                io = lf_search_string(f, off, lua_tostring(L, -1));
            }
            n->items[i] = lf_value(f, L, io, off, depth + 1);
            lua_pop(L, 1);
        }
    } else {
        n->kind = NODE_MAP;
        if (n_other || (n_int && n_str)) {
            diag_error(f->d, n->pos, "a table is either a list {a, b} or a map {k = v}",
                       n_int && n_str ? "a table mixes list items and named keys"
                                      : "map keys must be strings");
        }
        lf_key *keys = ARENA_ARRAY(f->a, lf_key, n_str ? n_str : 1);
        int k = 0;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TSTRING && k < n_str) {
                size_t kl;
                const char *ks = lua_tolstring(L, -1, &kl);
                keys[k++].s = arena_strndup(f->a, ks, kl);
            }
        }
        qsort(keys, (size_t)k, sizeof *keys, lf_key_cmp);
        n->n = k;
        n->items = ARENA_ARRAY(f->a, node *, k ? k : 1);
        n->keys = ARENA_ARRAY(f->a, const char *, k ? k : 1);
        n->key_pos = ARENA_ARRAY(f->a, src_pos, k ? k : 1);
        for (int i = 0; i < k; i++) {
            size_t ko = LF_NONE, vo = LF_NONE;
            for (int j = 0; j < fl.n_keyed; j++) {
                if (strcmp(fl.keys[j], keys[i].s) == 0) {
                    ko = fl.key_off[j];
                    vo = fl.val_off[j];
                    break;
                }
            }
            n->keys[i] = keys[i].s;
            n->key_pos[i] = ko == LF_NONE ? n->pos : lf_pos(f, ko);
            lua_pushstring(L, keys[i].s);
            lua_rawget(L, t);
            n->items[i] = lf_value(f, L, vo, off, depth + 1);
            lua_pop(L, 1);
        }
    }
    lua_pushvalue(L, t);
    lua_pushnil(L);
    lua_rawset(L, visiting);
    lua_pop(L, 1); /* visiting */
    return n;
}

/* The value at the top of the stack, written at `off` (LF_NONE: unknown,
 * use `parent`'s position). */
static node *lf_value(lf *f, lua_State *L, size_t off, size_t parent, int depth)
{
    if (off == LF_NONE)
        off = parent;
    int type = lua_type(L, -1);
    if (type == LUA_TTABLE)
        return lf_table(f, L, lf_follow_ident(f, off), depth);
    node *n = ARENA_NEW(f->a, node);
    n->pos = lf_pos(f, off);
    switch (type) {
    case LUA_TSTRING: {
        size_t l;
        const char *s = lua_tolstring(L, -1, &l);
        n->kind = NODE_STR;
        n->str = arena_strndup(f->a, s, l);
        if (strlen(n->str) != l)
            diag_error(f->d, n->pos, NULL, "a string in the spec contains a NUL byte");
        break;
    }
    case LUA_TNUMBER:
        n->kind = NODE_NUM;
        if (lua_isinteger(L, -1))
            n->str = arena_printf(f->a, "%lld", (long long)lua_tointeger(L, -1));
        else
            n->str = arena_printf(f->a, "%.17g", (double)lua_tonumber(L, -1));
        break;
    case LUA_TBOOLEAN:
        n->kind = NODE_BOOL;
        n->str = lua_toboolean(L, -1) ? "true" : "false";
        break;
    default:
        n->kind = NODE_NULL;
        diag_error(f->d, n->pos, "a spec holds only tables, strings, numbers and booleans",
                   "a %s cannot appear in a spec", lua_typename(L, type));
        break;
    }
    return n;
}

/* Protected: convert the returned table (argument 1). */
static int lf_convert(lua_State *L)
{
    lf *f = lf_ctx(L);
    lua_pushlightuserdata(L, (void *)f);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_settop(L, 1);
    /* The returned table: the constructor after the last `return`. */
    size_t off = LF_NONE;
    for (size_t p = f->len; p-- > 0;) {
        if (p + 6 <= f->len && memcmp(f->src + p, "return", 6) == 0 &&
            (p == 0 || !lf_ident_char((unsigned char)f->src[p - 1])) &&
            (p + 6 == f->len || !lf_ident_char((unsigned char)f->src[p + 6]))) {
            off = lf_follow_ident(f, lf_skip_ws(f, p + 6));
            break;
        }
    }
    f->root = lf_table(f, L, off, 0);
    return 0;
}

/* ---- sandbox ----------------------------------------------------------- */

static void *lf_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lf *f = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        f->mem -= old;
        return NULL;
    }
    if (nsize > old && f->mem - old + nsize > LF_MEM_LIMIT) {
        f->mem_exhausted = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        f->mem = f->mem - old + nsize;
    return p;
}

static void lf_hook(lua_State *L, lua_Debug *ar)
{
    lf *f = lf_ctx(L);
    if (++f->ticks <= LF_MAX_TICKS)
        return;
    lua_getinfo(L, "Sl", ar);
    /* lua_error, not luaL_error: the position is the hook's, added here. */
    lua_pushfstring(L, "%s:%d: spec runs too long (over %d million instructions)",
                    ar->short_src, ar->currentline,
                    (int)(LF_MAX_TICKS * LF_HOOK_EVERY / 1000000ul));
    lua_error(L);
}

/* print(...) for debugging a spec: to stderr, never into generated files. */
static int lf_print(lua_State *L)
{
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t l;
        const char *s = luaL_tolstring(L, i, &l);
        if (i > 1)
            fputc('\t', stderr);
        fwrite(s, 1, l, stderr);
        lua_pop(L, 1);
    }
    fputc('\n', stderr);
    return 0;
}

static int lf_open_sandbox(lua_State *L)
{
    static const luaL_Reg libs[] = {
        { LUA_GNAME, luaopen_base },         { LUA_STRLIBNAME, luaopen_string },
        { LUA_TABLIBNAME, luaopen_table },   { LUA_MATHLIBNAME, luaopen_math },
        { LUA_UTF8LIBNAME, luaopen_utf8 },   { NULL, NULL },
    };
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    static const char *const banned[] = { "dofile", "loadfile", "load", "require",
                                          "collectgarbage", "warn", NULL };
    for (const char *const *b = banned; *b; b++) {
        lua_pushnil(L);
        lua_setglobal(L, *b);
    }
    lua_pushcfunction(L, lf_print);
    lua_setglobal(L, "print");
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_getglobal(L, LUA_MATHLIBNAME);
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, 0);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    /* The package table is loaded by luaL_requiref's bookkeeping
     * (LOADED registry table) but never exposed as a global. */
    return 0;
}

/* What a Lua runtime error means for a spec author, by the start of its
 * message (Lua 5.4's wording). */
static const struct {
    const char *start, *hint;
} lf_runtime_hints[] = {
    {"attempt to index a nil value",
     "a name or field used here has no value: check its spelling, and that it is"
     " defined above this line (the spec sees only string, table, math and utf8)"},
    {"attempt to call a nil value",
     "a function called here does not exist: check its spelling, and that it is"
     " defined above this line (the spec sees only string, table, math and utf8)"},
    {"attempt to perform arithmetic on",
     "a value in this calculation is not a number (nil is a missing name or field)"},
    {"attempt to concatenate",
     "a value joined with .. here is not a string or number (nil is a missing name"
     " or field)"},
    {"attempt to compare", "the values compared here are of different kinds, or nil"},
    {"bad argument", "a library function got a value it cannot take (see the Lua 5.4 manual)"},
};

/* Where on the line [s, e) of the source the error's named variable is
 * ("... (global 'io')", "(field 'x')"): its first character as a whole
 * word, or `dflt`. */
static size_t lf_named_column(const lf *f, const char *text, size_t s, size_t e, size_t dflt)
{
    const char *open = strstr(text, " '");
    const char *paren = strrchr(text, '(');
    if (!paren || !open || open < paren)
        return dflt;
    const char *name = open + 2, *close = strchr(name, '\'');
    size_t n = close ? (size_t)(close - name) : 0;
    /* a field or method follows its table's `.` or `:`; a variable does not */
    int member = !strncmp(paren, "(field ", 7) || !strncmp(paren, "(method ", 8);
    for (size_t i = s; n && i + n <= e; i++) {
        char before = i > s ? f->src[i - 1] : ' ';
        int starts = member ? before == '.' || before == ':'
                            : !(isalnum((unsigned char)before) || before == '_' || before == '.');
        int ends = i + n == e ||
                   !(isalnum((unsigned char)f->src[i + n]) || f->src[i + n] == '_');
        if (starts && ends && memcmp(f->src + i, name, n) == 0)
            return i;
    }
    return dflt;
}

/* Turn "chunk:12: message" into a diagnostic at line 12. A runtime error
 * of Lua's own (`running`: the chunk was loaded and failed while it ran)
 * says so, points at the variable it names when it names one, and explains
 * itself. */
static void lf_report(lf *f, const char *msg, int running)
{
    src_pos at = { 0, 0 };
    const char *text = msg;
    for (const char *p = msg; *p; p++) {
        if (*p != ':' || !isdigit((unsigned char)p[1]))
            continue;
        const char *q = p + 1;
        unsigned long line = 0;
        while (isdigit((unsigned char)*q))
            line = line * 10 + (unsigned long)(*q++ - '0');
        if (*q != ':')
            continue;
        text = q + 1;
        while (*text == ' ')
            text++;
        if (line >= 1 && line <= f->n_lines) {
            at.line = (unsigned)line;
            /* Lua gives no column: take the token it names ("near 'x'"),
             * or the variable a runtime error names ("(global 'x')"), else
             * the first non-blank character of the line. */
            size_t s = f->lines[line - 1];
            size_t e = line < f->n_lines ? f->lines[line] : f->len;
            size_t c = s;
            while (c < e && isspace((unsigned char)f->src[c]))
                c++;
            const char *near = strstr(text, "near '");
            if (near) {
                near += 6;
                const char *ne = strrchr(near, '\'');
                size_t nl = ne && ne > near ? (size_t)(ne - near) : 0;
                for (size_t i = s; nl && i + nl <= e; i++) {
                    if (memcmp(f->src + i, near, nl) == 0) {
                        c = i;
                        break;
                    }
                }
            } else if (strstr(text, "near <eof>")) {
                c = e;
                while (c > s && isspace((unsigned char)f->src[c - 1]))
                    c--;
            } else if (running) {
                c = lf_named_column(f, text, s, e, c);
            }
            at = lf_pos(f, c);
        }
        break;
    }
    const char *hint = NULL;
    for (size_t i = 0; running && i < sizeof lf_runtime_hints / sizeof lf_runtime_hints[0]; i++)
        if (!strncmp(text, lf_runtime_hints[i].start, strlen(lf_runtime_hints[i].start)))
            hint = lf_runtime_hints[i].hint;
    /* Lua's own words are said to be Lua's; the spec's error("...") and
     * the instruction budget's message are meant for the author as they are */
    if (hint)
        diag_error(f->d, at, hint, "the spec's Lua code failed while running: %s", text);
    else
        diag_error(f->d, at, NULL, "%s", text);
}

node *lua_front_parse(arena *a, diag_list *d, const char *source, size_t len,
                      const char *chunkname)
{
    lf f;
    memset(&f, 0, sizeof f);
    f.a = a;
    f.d = d;
    f.src = source;
    f.len = len;
    lf_index_lines(&f);

    lua_State *L = lua_newstate(lf_alloc, &f);
    if (!L) {
        src_pos at = { 0, 0 };
        diag_error(d, at, NULL, "cannot start the Lua interpreter");
        return NULL;
    }
    *(lf **)lua_getextraspace(L) = &f;
    node *root = NULL;
    lua_pushcfunction(L, lf_open_sandbox);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        lf_report(&f, lua_tostring(L, -1), 0);
        goto out;
    }
    char *name = arena_printf(a, "@%s", chunkname ? chunkname : "spec");
    /* Text chunks only: a precompiled binary chunk could break the VM. */
    int rc = luaL_loadbufferx(L, source, len, name, "t");
    if (rc == LUA_OK) {
        lua_sethook(L, lf_hook, LUA_MASKCOUNT, LF_HOOK_EVERY);
        rc = lua_pcall(L, 0, 1, 0);
        lua_sethook(L, NULL, 0, 0);
    }
    if (rc != LUA_OK) {
        if (rc == LUA_ERRMEM || f.mem_exhausted) {
            src_pos at = { 0, 0 };
            diag_error(d, at, "build smaller tables, or fewer of them",
                       "spec uses too much memory (over %zu MiB)", LF_MEM_LIMIT >> 20);
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            /* loaded: it failed while running; else a syntax error */
            lf_report(&f, lua_tostring(L, -1), rc != LUA_ERRSYNTAX);
        } else {
            src_pos at = { 0, 0 };
            diag_error(d, at, "call error() with a string", "the spec raised an error (a %s)",
                       luaL_typename(L, -1));
        }
        goto out;
    }
    if (lua_type(L, -1) != LUA_TTABLE) {
        src_pos at = { 1, 1 };
        diag_error(d, at, "end the file with `return { bot = {...}, states = {...} }`",
                   "a Lua spec must return a table, not %s", luaL_typename(L, -1));
        goto out;
    }
    lua_pushcfunction(L, lf_convert);
    lua_insert(L, -2);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        src_pos at = { 0, 0 };
        diag_error(d, at, NULL, "cannot read the spec's table: %s",
                   lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "out of memory");
        goto out;
    }
    root = f.root;
out:
    lua_close(L);
    return root;
}
