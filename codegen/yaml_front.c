/*
 * yaml_front.c — YAML → node tree over libyaml's event stream.
 *
 * Scalars: a plain (unquoted) scalar that reads as null (`~`, `null`,
 * empty), a boolean (`true`/`false` in any case) or a number becomes
 * NODE_NULL/BOOL/NUM; everything else, and every quoted scalar, is a
 * string. YAML 1.1's yes/no/on/off are kept as strings on purpose: `no` is
 * Norwegian's language code.
 */
#include "yaml_front.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#define YF_MAX_DEPTH 200

typedef struct yf_anchor {
    const char *name;
    node *value;
} yf_anchor;

typedef struct yf {
    arena *a;
    diag_list *d;
    yaml_parser_t p;
    yf_anchor *anchors;
    int n_anchors, cap_anchors;
    const char *src; /* the spec's text, to explain syntax errors */
    size_t len;
} yf;

static src_pos yf_pos(yaml_mark_t m)
{
    src_pos p = { (unsigned)m.line + 1, (unsigned)m.column + 1 };
    return p;
}

/* Line `line` (1-based) of the source: its start, and its length in *n;
 * NULL past the end. */
static const char *yf_line(const yf *y, unsigned line, size_t *n)
{
    const char *p = y->src, *end = y->src + y->len;
    for (unsigned l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return NULL;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    return p;
}

/* Leading spaces of a line; 1 in *blank when it holds nothing but spaces
 * or a comment. */
static size_t yf_indent(const char *s, size_t n, int *blank)
{
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    *blank = i == n || s[i] == '#' || s[i] == '\r';
    return i;
}

/* A tab on `line` before its content or at `col` (libyaml reports tabs as
 * "found character that cannot start any token" or "found a tab character
 * that violates indentation"): its position, or line 0. */
static src_pos yf_find_tab(const yf *y, unsigned line, unsigned col)
{
    src_pos none = {0, 0};
    size_t n;
    const char *s = line ? yf_line(y, line, &n) : NULL;
    if (!s)
        return none;
    for (size_t i = 0; i < n && (s[i] == ' ' || s[i] == '\t' || i + 1 <= col); i++)
        if (s[i] == '\t') {
            src_pos at = {line, (unsigned)i + 1};
            return at;
        }
    return none;
}

/* `key:value` with no space after the colon, on the last line with content
 * before `line`: YAML reads it as one plain text that runs on into the
 * next line, and complains only there ("mapping values are not allowed").
 * The position after the colon (the key in *key, *key_len), or line 0. */
static src_pos yf_find_glued_key(const yf *y, unsigned line, const char **key, size_t *key_len)
{
    src_pos none = {0, 0};
    for (unsigned l = line; l-- > 1;) {
        size_t n;
        int blank;
        const char *s = yf_line(y, l, &n);
        size_t i = s ? yf_indent(s, n, &blank) : 0;
        if (!s)
            return none;
        if (blank)
            continue;
        if (i + 1 < n && s[i] == '-' && s[i + 1] == ' ')
            i += 2;
        size_t k = i;
        while (k < n && (isalnum((unsigned char)s[k]) || s[k] == '_'))
            k++;
        if (k > i && k + 1 < n && s[k] == ':' && s[k + 1] != ' ' && s[k + 1] != '/') {
            src_pos at = {l, (unsigned)k + 2};
            *key = s + i;
            *key_len = k - i;
            return at;
        }
        return none;
    }
    return none;
}

/* libyaml's words are for YAML experts; the three a spec author meets most
 * (a tab, a missing space after `key:`, an indentation that fits no map)
 * get plain ones, at the place to fix. */
static void yf_syntax_error(yf *y)
{
    yaml_parser_t *p = &y->p;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    src_pos at = yf_pos(p->problem_mark);
    if (p->error == YAML_READER_ERROR) {
        /* Reader errors (bad encoding) carry a byte offset, not a mark. */
        diag_error(y->d, at, "a spec must be UTF-8 text",
                   "invalid YAML: %s (byte %zu)", problem, p->problem_offset);
        return;
    }
    src_pos tab = yf_find_tab(y, at.line, at.col);
    if (tab.line && (strstr(problem, "tab") || strstr(problem, "cannot start any token"))) {
        diag_error(y->d, tab, "YAML indents with spaces only: replace the tab with spaces",
                   "a tab character at line %u, column %u", tab.line, tab.col);
        return;
    }
    if (!strcmp(problem, "mapping values are not allowed in this context")) {
        const char *key = NULL;
        size_t key_len = 0;
        src_pos glued = yf_find_glued_key(y, at.line, &key, &key_len);
        if (glued.line) {
            diag_error(y->d, glued, "write a space after the colon: `key: value`",
                       "a space is missing after `%.*s:`", (int)key_len, key);
            return;
        }
    }
    size_t n;
    int blank = 1;
    const char *s = at.line ? yf_line(y, at.line, &n) : NULL;
    size_t indent = s ? yf_indent(s, n, &blank) : 0;
    /* at the line's first character: the key itself is misplaced (later on
     * the line it is something else, e.g. text after a quoted value) */
    if (!strcmp(problem, "did not find expected key") && s && at.col == indent + 1) {
        unsigned above = at.line;
        size_t above_indent = 0;
        while (--above >= 1) {
            const char *t = yf_line(y, above, &n);
            above_indent = t ? yf_indent(t, n, &blank) : 0;
            if (t && !blank)
                break;
        }
        char hint[160];
        snprintf(hint, sizeof hint,
                 "the keys of one map start in the same column; line %u is indented by %zu"
                 " space%s", above, above_indent, above_indent == 1 ? "" : "s");
        diag_error(y->d, at, above >= 1 ? hint : NULL,
                   "this line's indentation (%zu space%s) fits no map above it", indent,
                   indent == 1 ? "" : "s");
        return;
    }
    if (p->context) {
        char hint[128];
        snprintf(hint, sizeof hint, "%s at line %u", p->context,
                 (unsigned)p->context_mark.line + 1);
        diag_error(y->d, at, hint, "invalid YAML: %s", problem);
    } else {
        diag_error(y->d, at, NULL, "invalid YAML: %s", problem);
    }
}

/* Next event into *ev; 0 ok, -1 after reporting a syntax error. */
static int yf_next(yf *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->p, ev)) {
        yf_syntax_error(y);
        return -1;
    }
    return 0;
}

static void yf_add_anchor(yf *y, const yaml_char_t *name, node *value)
{
    if (!name)
        return;
    if (y->n_anchors == y->cap_anchors) {
        int cap = y->cap_anchors ? y->cap_anchors * 2 : 8;
        yf_anchor *v = ARENA_ARRAY(y->a, yf_anchor, cap);
        if (y->n_anchors)
            memcpy(v, y->anchors, sizeof *v * (size_t)y->n_anchors);
        y->anchors = v;
        y->cap_anchors = cap;
    }
    y->anchors[y->n_anchors].name = arena_strdup(y->a, (const char *)name);
    y->anchors[y->n_anchors].value = value;
    y->n_anchors++;
}

static int yf_is_number(const char *s)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits++;
        }
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static node *yf_scalar(yf *y, const yaml_event_t *ev)
{
    node *n = ARENA_NEW(y->a, node);
    n->pos = yf_pos(ev->start_mark);
    const char *v = arena_strndup(y->a, (const char *)ev->data.scalar.value,
                                  ev->data.scalar.length);
    const char *tag = (const char *)ev->data.scalar.tag;
    int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                (!tag || strcmp(tag, "!") != 0) &&
                (!tag || strcmp(tag, YAML_STR_TAG) != 0);
    n->kind = NODE_STR;
    n->str = v;
    if (!plain)
        return n;
    if (!*v || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0) {
        n->kind = NODE_NULL;
        n->str = NULL;
    } else if (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0) {
        n->kind = NODE_BOOL;
        n->str = (v[0] == 't' || v[0] == 'T') ? "true" : "false";
    } else if (yf_is_number(v)) {
        n->kind = NODE_NUM;
    }
    return n;
}

static node *yf_value(yf *y, yaml_event_t *ev, int depth);

/* Collect SEQ items / MAP pairs until the matching end event. */
static node *yf_collection(yf *y, yaml_event_t *start, int depth)
{
    int is_map = start->type == YAML_MAPPING_START_EVENT;
    node *n = ARENA_NEW(y->a, node);
    n->kind = is_map ? NODE_MAP : NODE_SEQ;
    n->pos = yf_pos(start->start_mark);
    const yaml_char_t *anchor = is_map ? start->data.mapping_start.anchor
                                       : start->data.sequence_start.anchor;
    const char *anchor_name = anchor ? arena_strdup(y->a, (const char *)anchor) : NULL;
    yaml_event_t ev;
    int cap = 0;
    for (;;) {
        if (yf_next(y, &ev))
            return NULL;
        if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        const char *key = NULL;
        src_pos key_pos = { 0, 0 };
        if (is_map) {
            node *k = yf_value(y, &ev, depth + 1); /* deletes ev */
            if (!k)
                return NULL;
            key_pos = k->pos;
            if (k->kind == NODE_SEQ || k->kind == NODE_MAP) {
                diag_error(y->d, key_pos, NULL, "a map key must be a plain string, not a %s",
                           node_kind_name(k->kind));
                key = "";
            } else {
                key = k->str ? k->str : "";
            }
            if (yf_next(y, &ev))
                return NULL;
        }
        node *v = yf_value(y, &ev, depth + 1);
        if (!v)
            return NULL;
        if (n->n == cap) {
            cap = cap ? cap * 2 : 4;
            node **items = ARENA_ARRAY(y->a, node *, cap);
            if (n->n)
                memcpy(items, n->items, sizeof *items * (size_t)n->n);
            n->items = items;
            if (is_map) {
                const char **keys = ARENA_ARRAY(y->a, const char *, cap);
                src_pos *kp = ARENA_ARRAY(y->a, src_pos, cap);
                if (n->n) {
                    memcpy(keys, n->keys, sizeof *keys * (size_t)n->n);
                    memcpy(kp, n->key_pos, sizeof *kp * (size_t)n->n);
                }
                n->keys = keys;
                n->key_pos = kp;
            }
        }
        n->items[n->n] = v;
        if (is_map) {
            n->keys[n->n] = key;
            n->key_pos[n->n] = key_pos;
        }
        n->n++;
    }
    if (anchor_name)
        yf_add_anchor(y, (const yaml_char_t *)anchor_name, n);
    return n;
}

/* One value starting with event *ev (consumed). NULL after an error. */
static node *yf_value(yf *y, yaml_event_t *ev, int depth)
{
    node *n = NULL;
    if (depth > YF_MAX_DEPTH) {
        diag_error(y->d, yf_pos(ev->start_mark), NULL,
                   "the spec nests deeper than %d levels", YF_MAX_DEPTH);
        yaml_event_delete(ev);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = yf_scalar(y, ev);
        yf_add_anchor(y, ev->data.scalar.anchor, n);
        break;
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        for (int i = y->n_anchors - 1; i >= 0; i--) {
            if (strcmp(y->anchors[i].name, name) == 0) {
                /* Share the anchored value; only the position is the alias's
                 * own, so messages point where the author wrote it. */
                n = ARENA_NEW(y->a, node);
                *n = *y->anchors[i].value;
                n->pos = yf_pos(ev->start_mark);
                break;
            }
        }
        if (!n)
            diag_error(y->d, yf_pos(ev->start_mark), "define it first with &name",
                       "unknown alias '*%s'", name);
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        n = yf_collection(y, ev, depth);
        break;
    default:
        diag_error(y->d, yf_pos(ev->start_mark), NULL, "unexpected YAML event");
        break;
    }
    yaml_event_delete(ev);
    return n;
}

static node *yf_document(yf *y)
{
    yaml_event_t ev;
    if (yf_next(y, &ev))
        return NULL;
    /* STREAM_START */
    yaml_event_delete(&ev);
    if (yf_next(y, &ev))
        return NULL;
    if (ev.type == YAML_STREAM_END_EVENT) {
        src_pos at = { 1, 1 };
        diag_error(y->d, at, "a spec starts with `bot:`", "the spec is empty");
        yaml_event_delete(&ev);
        return NULL;
    }
    yaml_event_delete(&ev); /* DOCUMENT_START */
    if (yf_next(y, &ev))
        return NULL;
    node *root = yf_value(y, &ev, 0);
    if (!root)
        return NULL;
    if (yf_next(y, &ev)) /* DOCUMENT_END */
        return NULL;
    yaml_event_delete(&ev);
    if (yf_next(y, &ev))
        return NULL;
    if (ev.type == YAML_DOCUMENT_START_EVENT) {
        diag_error(y->d, yf_pos(ev.start_mark), "remove the second `---` and what follows",
                   "a spec is a single YAML document; found another one");
        yaml_event_delete(&ev);
        return NULL;
    }
    yaml_event_delete(&ev);
    return root;
}

node *yaml_front_parse(arena *a, diag_list *d, const char *source, size_t len)
{
    yf y;
    memset(&y, 0, sizeof y);
    y.a = a;
    y.d = d;
    y.src = source;
    y.len = len;
    if (!yaml_parser_initialize(&y.p)) {
        src_pos at = { 0, 0 };
        diag_error(d, at, NULL, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&y.p, (const unsigned char *)source, len);
    yaml_parser_set_encoding(&y.p, YAML_UTF8_ENCODING);
    node *root = yf_document(&y);
    yaml_parser_delete(&y.p);
    return root;
}
