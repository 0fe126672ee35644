/*
 * import.c — the knowledge file an import writes: headings and paragraphs
 * collected in document order, rendered last as `## ` sections.
 *
 * Rules (spec/REFERENCE.md, "Importing documents"):
 *  - every heading, whatever its level, becomes one `## ` section named by
 *    its path: the headings above it and its own text, joined by " — "
 *    ("Deposit — Cards" for a level-3 "Cards" under "Deposit"). The top
 *    level's heading is left out of the paths when it is the only one of
 *    its level (the document's title); its own text still becomes a section;
 *  - a heading with no paragraphs of its own is not written (its
 *    subsections carry its name);
 *  - text before the first heading goes into a section named after the
 *    file, so nothing is lost above the first `##` (which kb never indexes);
 *  - a line starting with '#' would be a heading to kb.c, so a paragraph's
 *    leading '#' characters are dropped.
 */
#include <string.h>

#include "import.h"
#include "strbuf.h"

typedef struct imp_block {
    int level; /* 0: a paragraph */
    const char *text;
} imp_block;

struct imp_doc {
    arena *a;
    const char *name; /* the source's last path component */
    const char *lang;
    imp_block *v;
    int n, cap;
};

imp_doc *imp_new(arena *a, const char *source, const char *lang)
{
    imp_doc *d = ARENA_NEW(a, imp_doc);
    const char *slash = strrchr(source, '/');
    d->a = a;
    d->name = slash ? slash + 1 : source;
    d->lang = lang;
    return d;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One line of `s`: leading indentation kept (nested list items), leading
 * '#' dropped, inner runs of white space as one space, no trailing space. */
static void put_line(strbuf *sb, const char *s, size_t n)
{
    size_t i = 0, indent = 0;
    while (i < n && is_space(s[i]))
        i++, indent++;
    if (indent == 0) {
        while (i < n && s[i] == '#')
            i++;
        while (i < n && is_space(s[i]))
            i++;
    }
    if (i == n)
        return;
    for (size_t k = 0; k < indent && k < 8; k++)
        sb_putc(sb, ' ');
    int gap = 0;
    for (; i < n; i++) {
        if (is_space(s[i])) {
            gap = 1;
            continue;
        }
        if (gap)
            sb_putc(sb, ' ');
        gap = 0;
        sb_putc(sb, s[i]);
    }
}

/* `text` normalised line by line; NULL when nothing is left. */
static const char *normalise(arena *a, const char *text, size_t n, int one_line)
{
    strbuf sb;
    sb_init(&sb, a);
    const char *p = text, *end = text + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t before = sb.len;
        if (before > 0)
            sb_putc(&sb, one_line ? ' ' : '\n');
        put_line(&sb, p, (size_t)(le - p));
        if (sb.len == before + 1) /* a blank line: take the separator back */
            sb.len = before;
        p = nl ? nl + 1 : end;
    }
    if (sb.len == 0)
        return NULL;
    sb.s[sb.len] = '\0';
    return sb_str(&sb);
}

static void add(imp_doc *d, int level, const char *text)
{
    if (!text)
        return;
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        imp_block *v = ARENA_ARRAY(d->a, imp_block, cap);
        if (d->n)
            memcpy(v, d->v, (size_t)d->n * sizeof *v);
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = (imp_block){level, text};
}

void imp_heading(imp_doc *d, int level, const char *text, size_t n)
{
    add(d, level < 1 ? 1 : level, normalise(d->a, text, n, 1));
}

void imp_para(imp_doc *d, const char *text, size_t n)
{
    add(d, 0, normalise(d->a, text, n, 0));
}

/* The paragraphs from block i on, up to the next heading. */
static void put_paras(strbuf *sb, const imp_doc *d, int i)
{
    for (; i < d->n && d->v[i].level == 0; i++)
        sb_printf(sb, "\n%s\n", d->v[i].text);
}

const char *imp_render(imp_doc *d, size_t *len)
{
    strbuf sb;
    sb_init(&sb, d->a);
    sb_printf(&sb, "# Imported from %s by `botc import`", d->name);
    if (d->lang)
        sb_printf(&sb, " (language: %s)", d->lang);
    sb_puts(&sb, ".\n# Re-import the document when it changes rather than editing this file:\n"
                 "# the diff then shows what changed. Only the \"## \" sections are indexed.\n");
    /* the title: the only heading of the top level */
    int top = 7, n_top = 0;
    for (int i = 0; i < d->n; i++)
        if (d->v[i].level && d->v[i].level < top)
            top = d->v[i].level, n_top = 0;
    for (int i = 0; i < d->n; i++)
        n_top += d->v[i].level == top;
    if (d->n && d->v[0].level == 0) {
        const char *dot = strrchr(d->name, '.');
        size_t stem = dot && dot != d->name ? (size_t)(dot - d->name) : strlen(d->name);
        sb_printf(&sb, "\n## %.*s\n", (int)stem, d->name);
        put_paras(&sb, d, 0);
    }
    const char *open[7] = {0}; /* the latest heading of each level */
    for (int i = 0; i < d->n; i++) {
        int lv = d->v[i].level;
        if (!lv)
            continue;
        open[lv] = d->v[i].text;
        for (int k = lv + 1; k < 7; k++)
            open[k] = NULL;
        if (i + 1 >= d->n || d->v[i + 1].level)
            continue;
        sb_puts(&sb, "\n## ");
        int first = 1;
        for (int k = 1; k < lv; k++) {
            if (!open[k] || (k == top && n_top == 1))
                continue;
            sb_printf(&sb, "%s%s", first ? "" : " — ", open[k]);
            first = 0;
        }
        sb_printf(&sb, "%s%s\n", first ? "" : " — ", open[lv]);
        put_paras(&sb, d, i + 1);
    }
    *len = sb.len;
    return sb_str(&sb);
}
