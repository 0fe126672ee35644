/*
 * diag.c — collect diagnostics, print them sorted by position with the
 * offending source line and a caret.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_QUOTE_COLS 120 /* characters of a source line quoted at most */

typedef struct diag_item {
    diag_level level;
    src_pos pos;
    char *msg;
    char *hint;
    int seq; /* report order: keeps the sort stable */
} diag_item;

struct diag_list {
    char *path;
    char *source;
    size_t source_len;
    diag_item *v;
    int n, cap;
    int errors, warnings;
};

static void *diag_xalloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (!q) {
        fputs("botc: out of memory\n", stderr);
        abort();
    }
    return q;
}

static char *diag_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = diag_xalloc(NULL, n + 1);
    memcpy(p, s, n + 1);
    return p;
}

diag_list *diag_new(const char *path, const char *source)
{
    diag_list *d = diag_xalloc(NULL, sizeof *d);
    memset(d, 0, sizeof *d);
    d->path = diag_strdup(path ? path : "<spec>");
    d->source = diag_strdup(source ? source : "");
    d->source_len = strlen(d->source);
    return d;
}

void diag_free(diag_list *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++) {
        free(d->v[i].msg);
        free(d->v[i].hint);
    }
    free(d->v);
    free(d->path);
    free(d->source);
    free(d);
}

void diag_report(diag_list *d, diag_level level, src_pos pos,
                 const char *hint, const char *fmt, ...)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = diag_xalloc(d->v, sizeof *d->v * (size_t)d->cap);
    }
    diag_item *it = &d->v[d->n];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        len = 0;
    it->msg = diag_xalloc(NULL, (size_t)len + 1);
    va_start(ap, fmt);
    vsnprintf(it->msg, (size_t)len + 1, fmt, ap);
    va_end(ap);
    it->hint = hint ? diag_strdup(hint) : NULL;
    it->level = level;
    if (pos.line == 0)
        pos.col = 0;
    it->pos = pos;
    it->seq = d->n;
    d->n++;
    if (level == DIAG_ERROR)
        d->errors++;
    else
        d->warnings++;
}

int diag_errors(const diag_list *d) { return d ? d->errors : 0; }
int diag_warnings(const diag_list *d) { return d ? d->warnings : 0; }

/* Start of 1-based line `line` in the source, its length in *len; NULL if
 * the source has fewer lines. */
static const char *diag_line(const diag_list *d, unsigned line, size_t *len)
{
    const char *p = d->source, *end = d->source + d->source_len;
    for (unsigned l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return NULL;
        p = nl + 1;
    }
    if (p >= end && line > 1)
        return NULL;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    *len = n;
    return p;
}

static int diag_is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Byte offset in `s` (length n) of 1-based code-point column `col`. */
static size_t diag_col_offset(const char *s, size_t n, unsigned col)
{
    size_t i = 0;
    for (unsigned c = 1; c < col && i < n; c++) {
        i++;
        while (i < n && diag_is_cont((unsigned char)s[i]))
            i++;
    }
    return i;
}

static unsigned diag_cols(const char *s, size_t n)
{
    unsigned c = 0;
    for (size_t i = 0; i < n; i++)
        if (!diag_is_cont((unsigned char)s[i]))
            c++;
    return c;
}

src_pos diag_locate(const diag_list *d, src_pos at, const char *needle,
                    size_t offset)
{
    size_t len;
    const char *line = at.line ? diag_line(d, at.line, &len) : NULL;
    size_t nlen = strlen(needle);
    if (!line || nlen == 0 || offset > nlen)
        return at;
    size_t from = diag_col_offset(line, len, at.col ? at.col : 1);
    for (size_t i = from; i + nlen <= len; i++) {
        if (memcmp(line + i, needle, nlen) == 0) {
            src_pos p = at;
            p.col = diag_cols(line, i + offset) + 1;
            return p;
        }
    }
    return at;
}

static int diag_cmp(const void *a, const void *b)
{
    const diag_item *x = *(diag_item *const *)a, *y = *(diag_item *const *)b;
    if (x->pos.line != y->pos.line)
        return x->pos.line < y->pos.line ? -1 : 1;
    if (x->pos.col != y->pos.col)
        return x->pos.col < y->pos.col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void diag_print_one(const diag_list *d, const diag_item *it, FILE *out)
{
    const char *lvl = it->level == DIAG_ERROR ? "error" : "warning";
    if (it->pos.line == 0) {
        fprintf(out, "%s: %s: %s\n", d->path, lvl, it->msg);
    } else {
        fprintf(out, "%s:%u:%u: %s: %s\n", d->path, it->pos.line, it->pos.col,
                lvl, it->msg);
        size_t len;
        const char *line = diag_line(d, it->pos.line, &len);
        if (line) {
            /* A long line (a 4,800-character text) is quoted in part: a
             * window of DIAG_QUOTE_COLS around the caret, "…" for the rest. */
            unsigned cols = diag_cols(line, len), first = 1;
            if (cols > DIAG_QUOTE_COLS && it->pos.col > DIAG_QUOTE_COLS / 2)
                first = it->pos.col - DIAG_QUOTE_COLS / 2;
            size_t from = diag_col_offset(line, len, first);
            size_t to = diag_col_offset(line, len, first + DIAG_QUOTE_COLS);
            const char *cut_left = from > 0 ? "…" : "", *cut_right = to < len ? "…" : "";
            fprintf(out, "%5u | %s%.*s%s\n      | %s", it->pos.line, cut_left, (int)(to - from),
                    line + from, cut_right, from > 0 ? " " : "");
            /* Pad with the line's own tabs so the caret lines up. */
            size_t stop = diag_col_offset(line, len, it->pos.col);
            for (size_t i = from; i < stop; i++) {
                if (diag_is_cont((unsigned char)line[i]))
                    continue;
                fputc(line[i] == '\t' ? '\t' : ' ', out);
            }
            fputs("^\n", out);
        }
    }
    if (it->hint)
        fprintf(out, "hint: %s\n", it->hint);
}

void diag_print(const diag_list *d, FILE *out)
{
    if (!d || d->n == 0)
        return;
    const diag_item **sorted = diag_xalloc(NULL, sizeof *sorted * (size_t)d->n);
    for (int i = 0; i < d->n; i++)
        sorted[i] = &d->v[i];
    qsort(sorted, (size_t)d->n, sizeof *sorted, diag_cmp);
    for (int i = 0; i < d->n; i++)
        diag_print_one(d, sorted[i], out);
    free(sorted);
    fprintf(out, "%d error%s, %d warning%s\n", d->errors,
            d->errors == 1 ? "" : "s", d->warnings, d->warnings == 1 ? "" : "s");
}
