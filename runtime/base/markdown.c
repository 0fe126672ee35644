/*
 * markdown.c — see markdown.h.
 *
 * Two levels, as in CommonMark: lines are sorted into blocks (fences,
 * headings, quotes, list items, rules, plain lines), then each line's
 * inline markup is read: a token list (text, delimiter runs, code spans,
 * links), emphasis matched on it the CommonMark way (flanking runs, nearest
 * opener, the rule of three), then written out with the entities. Inline
 * markup pairs within its line (models close what they open on a line; a
 * streamed line then never changes what came before it). Offsets are kept
 * in bytes while writing and turned into UTF-16 units at the end.
 */
#include "base/markdown.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/grapheme.h"
#include "base/text.h"

const char *md_kind_name(md_kind k)
{
    switch (k) {
    case MD_BOLD: return "bold";
    case MD_ITALIC: return "italic";
    case MD_STRIKE: return "strikethrough";
    case MD_CODE: return "code";
    case MD_PRE: return "pre";
    case MD_LINK: return "text_link";
    case MD_QUOTE: return "blockquote";
    }
    return "bold";
}

/* ---- the output --------------------------------------------------------- */

typedef struct rd {
    text_buf out;
    md_text *t;         /* its entities */
    bool oom;
    bool started;       /* a line was written */
    int blank;          /* blank source lines since, not yet written */
} rd;

static void put(rd *r, const char *s, size_t n)
{
    if (!r->oom && text_buf_add(&r->out, s, n))
        r->oom = true;
}

static void puts_(rd *r, const char *s) { put(r, s, strlen(s)); }

static int ent_add(md_text *t, md_kind k, size_t boff, size_t blen, const char *arg,
                   size_t arglen)
{
    if (t->n == t->cap) {
        int nc = t->cap ? t->cap * 2 : 8;
        md_entity *v = realloc(t->ents, (size_t)nc * sizeof *v);
        if (!v)
            return -1;
        t->ents = v;
        t->cap = nc;
    }
    char *a = NULL;
    if (arg) {
        a = malloc(arglen + 1);
        if (!a)
            return -1;
        memcpy(a, arg, arglen);
        a[arglen] = '\0';
    }
    t->ents[t->n++] = (md_entity){.kind = k, .boff = boff, .blen = blen, .arg = a};
    return 0;
}

/* An entity over out[from..now); an empty one is left out. */
static void span(rd *r, md_kind k, size_t from, const char *arg, size_t arglen)
{
    if (r->oom || r->out.len <= from)
        return;
    if (ent_add(r->t, k, from, r->out.len - from, arg, arglen))
        r->oom = true;
}

/* Starts an output line: the line break before it and the blank lines
 * held back (blank lines at the start and the end are never written). */
static void begin_line(rd *r)
{
    if (r->started) {
        put(r, "\n", 1);
        for (; r->blank > 0; r->blank--)
            put(r, "\n", 1);
    }
    r->blank = 0;
    r->started = true;
}

/* ---- inline markup ----------------------------------------------------- */

enum { TK_TEXT, TK_DELIM, TK_CODE, TK_LINK };

typedef struct tok {
    int kind;
    size_t a, b;       /* TEXT: source bytes; CODE: content; LINK: its text;
                          DELIM: the run */
    size_t ua, ub;     /* LINK: the URL */
    char c;            /* DELIM: '*', '_' or '~' */
    bool open, close;  /* DELIM: can open / can close */
    bool dead;         /* DELIM: no longer matchable */
    int used_open, used_close;
    size_t pre, post;  /* output offsets around the token's literal text */
} tok;

typedef struct match {
    int o, c;
    md_kind k;
} match;

typedef struct toks {
    tok *v;
    int n, cap;
    match *m;
    int nm, mcap;
} toks;

static tok *tok_add(toks *ts, int kind, size_t a, size_t b)
{
    if (ts->n == ts->cap) {
        int nc = ts->cap ? ts->cap * 2 : 16;
        tok *v = realloc(ts->v, (size_t)nc * sizeof *v);
        if (!v)
            return NULL;
        ts->v = v;
        ts->cap = nc;
    }
    tok *t = &ts->v[ts->n++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->a = a;
    t->b = b;
    return t;
}

static bool is_punct(unsigned char c)
{
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
           (c >= '{' && c <= '~');
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The byte before s[i] (before) or at s[i] as a class, for the flanking
 * rules: 0 space (also past the line's edge lo..hi), 1 ASCII punctuation,
 * 2 other. Non-ASCII characters count as other. */
static int cls(const char *s, size_t lo, size_t hi, size_t i, bool before)
{
    if (before ? i <= lo : i >= hi)
        return 0;
    unsigned char c = (unsigned char)s[before ? i - 1 : i];
    return is_space(c) ? 0 : is_punct(c) ? 1 : 2;
}

static bool url_ok(const char *u, size_t n)
{
    static const char *const schemes[] = {"http://", "https://", "tg://"};
    for (size_t k = 0; k < sizeof schemes / sizeof *schemes; k++) {
        size_t l = strlen(schemes[k]);
        if (n > l && !strncasecmp(u, schemes[k], l))
            return true;
    }
    return false;
}

/* The end of a backtick run of exactly `run` at or after i in s[..hi), or 0. */
static size_t closing_ticks(const char *s, size_t i, size_t hi, size_t run)
{
    while (i < hi) {
        if (s[i] != '`') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < hi && s[j] == '`')
            j++;
        if (j - i == run)
            return i;
        i = j;
    }
    return 0;
}

/* A link at s[i] == '[': its text [*ta, *tb), URL [*ua, *ub) and end. */
static bool find_link(const char *s, size_t i, size_t hi, size_t *tb, size_t *ua, size_t *ub,
                      size_t *end)
{
    int depth = 0;
    size_t j = i;
    for (; j < hi; j++) {
        if (s[j] == '\\' && j + 1 < hi) {
            j++;
            continue;
        }
        if (s[j] == '[')
            depth++;
        else if (s[j] == ']' && --depth == 0)
            break;
    }
    if (j >= hi || j + 1 >= hi || s[j + 1] != '(')
        return false;
    *tb = j;
    size_t k = j + 2;
    int pd = 1;
    size_t e = k;
    for (; e < hi; e++) {
        if (s[e] == '(')
            pd++;
        else if (s[e] == ')' && --pd == 0)
            break;
    }
    if (e >= hi)
        return false;
    size_t a = k, b = e;
    while (a < b && s[a] == ' ')
        a++;
    if (a < b && s[a] == '<') { /* [t](<url>) */
        a++;
        size_t g = a;
        while (g < b && s[g] != '>')
            g++;
        b = g;
    } else {
        size_t g = a; /* [t](url "title"): the title is dropped */
        while (g < b && s[g] != ' ')
            g++;
        b = g;
    }
    if (!url_ok(s + a, b - a))
        return false;
    for (size_t q = a; q < b; q++)
        if (is_space((unsigned char)s[q]))
            return false;
    *ua = a;
    *ub = b;
    *end = e + 1;
    return true;
}

static int tokenize(const char *s, size_t lo, size_t hi, bool links, toks *ts)
{
    size_t i = lo, text = lo;
#define FLUSH()                                                  \
    do {                                                         \
        if (i > text && !tok_add(ts, TK_TEXT, text, i))          \
            return -1;                                           \
    } while (0)
    while (i < hi) {
        char c = s[i];
        if (c == '\\' && i + 1 < hi && is_punct((unsigned char)s[i + 1])) {
            FLUSH();
            if (!tok_add(ts, TK_TEXT, i + 1, i + 2))
                return -1;
            i += 2;
            text = i;
        } else if (c == '`') {
            size_t j = i;
            while (j < hi && s[j] == '`')
                j++;
            size_t close = closing_ticks(s, j, hi, j - i);
            if (!close) {
                i = j; /* an unclosed run stays as written */
                continue;
            }
            FLUSH();
            size_t a = j, b = close;
            if (b - a >= 2 && s[a] == ' ' && s[b - 1] == ' ') {
                bool all = true;
                for (size_t q = a; q < b && all; q++)
                    all = s[q] == ' ';
                if (!all) {
                    a++;
                    b--;
                }
            }
            if (!tok_add(ts, TK_CODE, a, b))
                return -1;
            i = close + (j - i);
            text = i;
        } else if (c == '*' || c == '_' || c == '~') {
            size_t j = i;
            while (j < hi && s[j] == c)
                j++;
            int before = cls(s, lo, hi, i, true), after = cls(s, lo, hi, j, false);
            bool left = after != 0 && (after == 2 || before != 2);
            bool right = before != 0 && (before == 2 || after != 2);
            bool open = left, close = right;
            if (c == '_') {
                open = left && (!right || before == 1);
                close = right && (!left || after == 1);
            }
            if (c == '~' && j - i != 2) {
                i = j; /* only ~~ marks strikethrough */
                continue;
            }
            FLUSH();
            tok *t = tok_add(ts, TK_DELIM, i, j);
            if (!t)
                return -1;
            t->c = c;
            t->open = open;
            t->close = close;
            i = j;
            text = i;
        } else if (links && (c == '[' || (c == '!' && i + 1 < hi && s[i + 1] == '['))) {
            size_t at = c == '!' ? i + 1 : i, tb, ua, ub, end;
            if (!find_link(s, at, hi, &tb, &ua, &ub, &end)) {
                i = at + 1;
                continue;
            }
            FLUSH();
            tok *t = tok_add(ts, TK_LINK, at + 1, tb);
            if (!t)
                return -1;
            t->ua = ua;
            t->ub = ub;
            i = end;
            text = i;
        } else {
            i++;
        }
    }
    FLUSH();
#undef FLUSH
    return 0;
}

static int match_add(toks *ts, int o, int c, md_kind k)
{
    if (ts->nm == ts->mcap) {
        int nc = ts->mcap ? ts->mcap * 2 : 8;
        match *v = realloc(ts->m, (size_t)nc * sizeof *v);
        if (!v)
            return -1;
        ts->m = v;
        ts->mcap = nc;
    }
    ts->m[ts->nm++] = (match){o, c, k};
    return 0;
}

static int left_of(const tok *t) { return (int)(t->b - t->a) - t->used_open - t->used_close; }

/* CommonMark's "process emphasis", without its bottom-of-stack shortcut
 * (lines are short). */
static int emphasis(toks *ts)
{
    for (int i = 0; i < ts->n; i++) {
        tok *cl = &ts->v[i];
        if (cl->kind != TK_DELIM || !cl->close)
            continue;
        while (left_of(cl) > 0) {
            int j = i - 1;
            for (; j >= 0; j--) {
                tok *op = &ts->v[j];
                if (op->kind != TK_DELIM || op->dead || !op->open || op->c != cl->c ||
                    left_of(op) <= 0)
                    continue;
                int lo = (int)(op->b - op->a), lc = (int)(cl->b - cl->a);
                if ((op->close || cl->open) && (lo + lc) % 3 == 0 && !(lo % 3 == 0 && lc % 3 == 0))
                    continue; /* the rule of three */
                break;
            }
            if (j < 0)
                break;
            tok *op = &ts->v[j];
            int use = left_of(op) >= 2 && left_of(cl) >= 2 ? 2 : 1;
            md_kind k = cl->c == '~' ? MD_STRIKE : use == 2 ? MD_BOLD : MD_ITALIC;
            if (match_add(ts, j, i, k))
                return -1;
            op->used_open += use;
            cl->used_close += use;
            for (int q = j + 1; q < i; q++)
                if (ts->v[q].kind == TK_DELIM)
                    ts->v[q].dead = true; /* CommonMark drops them from the stack */
        }
    }
    return 0;
}

static void render_inline(rd *r, const char *s, size_t lo, size_t hi, bool links);

static void write_toks(rd *r, const char *s, toks *ts)
{
    for (int i = 0; i < ts->n && !r->oom; i++) {
        tok *t = &ts->v[i];
        t->pre = r->out.len;
        switch (t->kind) {
        case TK_TEXT:
            put(r, s + t->a, t->b - t->a);
            break;
        case TK_DELIM:
            put(r, s + t->a, (size_t)left_of(t));
            break;
        case TK_CODE: {
            size_t from = r->out.len;
            put(r, s + t->a, t->b - t->a);
            span(r, MD_CODE, from, NULL, 0);
            break;
        }
        case TK_LINK: {
            size_t from = r->out.len;
            if (t->b > t->a)
                render_inline(r, s, t->a, t->b, false);
            else
                put(r, s + t->ua, t->ub - t->ua);
            span(r, MD_LINK, from, s + t->ua, t->ub - t->ua);
            break;
        }
        }
        t->post = r->out.len;
    }
    for (int k = 0; k < ts->nm && !r->oom; k++) {
        const match *m = &ts->m[k];
        size_t from = ts->v[m->o].post, to = ts->v[m->c].pre;
        if (to > from && ent_add(r->t, m->k, from, to - from, NULL, 0))
            r->oom = true;
    }
}

static void render_inline(rd *r, const char *s, size_t lo, size_t hi, bool links)
{
    toks ts = {0};
    if (tokenize(s, lo, hi, links, &ts) || emphasis(&ts))
        r->oom = true;
    else
        write_toks(r, s, &ts);
    free(ts.v);
    free(ts.m);
}

/* ---- blocks ------------------------------------------------------------ */

/* Up to three leading spaces, as CommonMark allows before a block marker. */
static size_t indent3(const char *s, size_t a, size_t b)
{
    size_t i = a;
    while (i < b && i - a < 3 && s[i] == ' ')
        i++;
    return i;
}

static bool blank(const char *s, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (!is_space((unsigned char)s[i]))
            return false;
    return true;
}

/* A fence line: its character and length, and the info string. */
static bool fence_open(const char *s, size_t a, size_t b, char *fc, size_t *flen, size_t *ia,
                       size_t *ib)
{
    size_t i = indent3(s, a, b);
    if (i >= b || (s[i] != '`' && s[i] != '~'))
        return false;
    char c = s[i];
    size_t j = i;
    while (j < b && s[j] == c)
        j++;
    if (j - i < 3)
        return false;
    for (size_t q = j; c == '`' && q < b; q++)
        if (s[q] == '`')
            return false;
    *fc = c;
    *flen = j - i;
    while (j < b && is_space((unsigned char)s[j]))
        j++;
    size_t e = j;
    while (e < b && !is_space((unsigned char)s[e]))
        e++;
    *ia = j;
    *ib = e;
    return true;
}

/* A fence's info word as a pre's language: a name of at most 32 letters,
 * digits and + # . _ - ("c++", "objective-c"); anything else is no
 * language (the code still shows, only unlabelled). */
static bool lang_ok(const char *s, size_t n)
{
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') &&
            !(c && strchr("+#._-", c)))
            return false;
    }
    return true;
}

static bool fence_close(const char *s, size_t a, size_t b, char fc, size_t flen)
{
    size_t i = indent3(s, a, b);
    size_t j = i;
    while (j < b && s[j] == fc)
        j++;
    return j - i >= flen && blank(s, j, b);
}

static bool rule_line(const char *s, size_t a, size_t b)
{
    size_t i = indent3(s, a, b);
    if (i >= b || (s[i] != '-' && s[i] != '*' && s[i] != '_'))
        return false;
    char c = s[i];
    int n = 0;
    for (; i < b; i++) {
        if (s[i] == c)
            n++;
        else if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    }
    return n >= 3;
}

/* One line of text (not in a fence): heading, list item or plain. */
static void render_line(rd *r, const char *s, size_t a, size_t b)
{
    while (b > a && s[b - 1] == '\r')
        b--;
    size_t i = indent3(s, a, b);
    size_t h = i;
    while (h < b && s[h] == '#' && h - i < 7)
        h++;
    if (h > i && h - i <= 6 && (h == b || s[h] == ' ' || s[h] == '\t')) {
        size_t c = h, e = b;
        while (c < e && is_space((unsigned char)s[c]))
            c++;
        while (e > c && is_space((unsigned char)s[e - 1]))
            e--;
        size_t t = e; /* a closing run of # after a space goes */
        while (t > c && s[t - 1] == '#')
            t--;
        if (t == c || (t < e && (s[t - 1] == ' ' || s[t - 1] == '\t')))
            e = t;
        while (e > c && is_space((unsigned char)s[e - 1]))
            e--;
        size_t from = r->out.len;
        render_inline(r, s, c, e, true);
        span(r, MD_BOLD, from, NULL, 0);
        return;
    }
    size_t sp = a;
    while (sp < b && (s[sp] == ' ' || s[sp] == '\t'))
        sp++;
    if (sp + 1 < b && (s[sp] == '-' || s[sp] == '*' || s[sp] == '+') &&
        (s[sp + 1] == ' ' || s[sp + 1] == '\t')) {
        put(r, s + a, sp - a); /* a nested item keeps its indent */
        puts_(r, "\xE2\x80\xA2 ");
        render_inline(r, s, sp + 2, b, true);
        return;
    }
    render_inline(r, s, a, b, true);
}

static int finish(rd *r, md_text *out);

int md_render(const char *md, size_t n, md_text *out)
{
    memset(out, 0, sizeof *out);
    rd r = {.t = out};
    text_buf_init(&r.out, n * 3 + 64); /* "---" becomes 9 bytes */
    size_t pos = 0;
    bool quote = false;
    size_t quote_from = 0;
    while (pos < n && !r.oom) {
        const char *nl = memchr(md + pos, '\n', n - pos);
        size_t eol = nl ? (size_t)(nl - md) : n;
        size_t next = nl ? eol + 1 : n;
        size_t q = indent3(md, pos, eol);
        bool is_quote = q < eol && md[q] == '>';
        if (quote && !is_quote) {
            span(&r, MD_QUOTE, quote_from, NULL, 0);
            quote = false;
        }
        char fc;
        size_t flen, ia, ib;
        if (blank(md, pos, eol)) {
            if (r.started)
                r.blank++;
        } else if (fence_open(md, pos, eol, &fc, &flen, &ia, &ib)) {
            size_t ind = indent3(md, pos, eol) - pos;
            size_t from = (size_t)-1;
            pos = next;
            while (pos < n && !r.oom) {
                nl = memchr(md + pos, '\n', n - pos);
                eol = nl ? (size_t)(nl - md) : n;
                next = nl ? eol + 1 : n;
                if (fence_close(md, pos, eol, fc, flen))
                    break;
                size_t a = pos, b = eol;
                for (size_t k = 0; k < ind && a < b && md[a] == ' '; k++)
                    a++;
                while (b > a && md[b - 1] == '\r')
                    b--;
                if (a == b) {
                    if (from != (size_t)-1)
                        r.blank++; /* kept if more code follows */
                } else {
                    begin_line(&r);
                    if (from == (size_t)-1)
                        from = r.out.len;
                    put(&r, md + a, b - a);
                }
                pos = next;
            }
            if (from != (size_t)-1)
                span(&r, MD_PRE, from, lang_ok(md + ia, ib - ia) ? md + ia : NULL, ib - ia);
        } else if (is_quote) {
            size_t a = q + 1;
            if (a < eol && md[a] == ' ')
                a++;
            begin_line(&r);
            if (!quote) {
                quote = true;
                quote_from = r.out.len;
            }
            render_line(&r, md, a, eol);
        } else if (rule_line(md, pos, eol)) {
            begin_line(&r);
            puts_(&r, "\xE2\x80\x94\xE2\x80\x94\xE2\x80\x94");
        } else {
            begin_line(&r);
            render_line(&r, md, pos, eol);
        }
        pos = next;
    }
    if (quote)
        span(&r, MD_QUOTE, quote_from, NULL, 0);
    return finish(&r, out);
}

/* ---- offsets in UTF-16 units ------------------------------------------- */

static int ent_cmp(const void *pa, const void *pb)
{
    const md_entity *a = pa, *b = pb;
    if (a->boff != b->boff)
        return a->boff < b->boff ? -1 : 1;
    if (a->blen != b->blen)
        return a->blen > b->blen ? -1 : 1;
    return (int)a->kind - (int)b->kind;
}

/* Sorts t's entities, drops those inside one of their own kind (bold in a
 * heading's bold, italic in italic: nothing to add, and Telegram would have
 * to merge them), and fills in their UTF-16 offsets and lengths. */
static void units(md_text *t)
{
    if (t->n > 1)
        qsort(t->ents, (size_t)t->n, sizeof *t->ents, ent_cmp);
    int kept = 0;
    for (int i = 0; i < t->n; i++) {
        md_entity *e = &t->ents[i];
        bool inside = false;
        for (int k = 0; k < kept && !inside; k++) {
            const md_entity *o = &t->ents[k];
            inside = o->kind == e->kind && o->boff <= e->boff &&
                     e->boff + e->blen <= o->boff + o->blen &&
                     (e->kind != MD_LINK || !strcmp(o->arg, e->arg));
        }
        if (inside)
            free(e->arg);
        else
            t->ents[kept++] = *e;
    }
    t->n = kept;
    size_t at = 0, u = 0;
    for (int i = 0; i < t->n; i++) {
        md_entity *e = &t->ents[i];
        u += text_utf16_len(t->text + at, e->boff - at);
        at = e->boff;
        e->off = u;
        e->len = text_utf16_len(t->text + e->boff, e->blen);
    }
}

static int finish(rd *r, md_text *out)
{
    if (r->oom || r->out.overflow) {
        text_buf_free(&r->out);
        md_text_free(out);
        return -1;
    }
    out->text = text_buf_take(&r->out);
    if (!out->text) {
        md_text_free(out);
        return -1;
    }
    out->len = strlen(out->text);
    units(out);
    return 0;
}

void md_text_free(md_text *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->ents[i].arg);
    free(t->ents);
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* ---- splitting ---------------------------------------------------------- */

/* Whether an entity has text on both sides of the cut s[i..j). */
static bool spans_cut(const md_text *t, size_t i, size_t j)
{
    for (int k = 0; k < t->n; k++)
        if (t->ents[k].boff < i && t->ents[k].boff + t->ents[k].blen > j)
            return true;
    return false;
}

/* The last s[i] == c with pos < i <= top (top < t->len), with no entity
 * spanning it unless `cross`; 0 when none. */
static size_t last_cut(const md_text *t, size_t pos, size_t top, const char *sep, size_t n,
                       bool cross)
{
    if (top + n > t->len)
        top = t->len - n;
    for (size_t i = top; i > pos; i--)
        if (!memcmp(t->text + i, sep, n) && (cross || !spans_cut(t, i, i + n)))
            return i;
    return 0;
}

/* Where to cut the text from pos whose whole clusters up to pos+fit fit:
 * *cut ends the part, *skip starts the next (past a dropped separator).
 * First where no entity is cut: a paragraph break, a line break, a space.
 * Else inside the entity (a code block or a quote longer than a message):
 * the last line break before an unindented line in the window's second
 * half, else the last line break (both of a blank line), else the last
 * space, so that its pieces are as long as they can be; else between two
 * clusters. */
static void find_cut(const md_text *t, size_t pos, size_t fit, size_t *cut, size_t *skip)
{
    size_t top = pos + fit; /* a separator right after the fit is fine too */
    static const struct { const char *s; size_t n; } seps[] = {
        {"\n\n", 2}, {"\n", 1}, {" ", 1},
    };
    for (size_t k = 0; k < sizeof seps / sizeof *seps; k++) {
        if (t->len - pos < seps[k].n + 1)
            continue;
        size_t i = last_cut(t, pos, top, seps[k].s, seps[k].n, false);
        if (i) {
            *cut = i;
            *skip = i + seps[k].n;
            return;
        }
    }
    /* a piece that starts unindented: Telegram trims a message's leading
     * blanks, which would eat a code line's indent (in the window's second
     * half, so that the pieces stay long) */
    size_t i = top + 1 < t->len ? top : t->len - 1;
    for (; i > pos + fit / 2; i--)
        if (t->text[i] == '\n' && t->text[i - 1] != '\n' && i + 1 < t->len &&
            !is_space((unsigned char)t->text[i + 1]))
            break;
    if (i <= pos + fit / 2)
        i = last_cut(t, pos, top, "\n", 1, true);
    if (i) {
        *cut = i;
        *skip = i + 1;
        if (i > pos + 1 && t->text[i - 1] == '\n')
            (*cut)--;
        else if (i + 1 < t->len && t->text[i + 1] == '\n')
            (*skip)++;
        return;
    }
    i = last_cut(t, pos, top, " ", 1, true);
    if (i) {
        *cut = i;
        *skip = i + 1;
        return;
    }
    *cut = *skip = pos + fit;
}

static int part_add(const md_text *t, size_t a, size_t b, md_text **parts, int *n, int *cap)
{
    bool all_blank = true;
    for (size_t i = a; i < b && all_blank; i++)
        all_blank = is_space((unsigned char)t->text[i]);
    if (all_blank)
        return 0;
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        md_text *v = realloc(*parts, (size_t)nc * sizeof *v);
        if (!v)
            return -1;
        *parts = v;
        *cap = nc;
    }
    md_text *p = &(*parts)[*n];
    memset(p, 0, sizeof *p);
    p->text = malloc(b - a + 1);
    if (!p->text)
        return -1;
    (*n)++;
    memcpy(p->text, t->text + a, b - a);
    p->text[b - a] = '\0';
    p->len = b - a;
    for (int k = 0; k < t->n; k++) {
        const md_entity *e = &t->ents[k];
        size_t ea = e->boff > a ? e->boff : a;
        size_t eb = e->boff + e->blen < b ? e->boff + e->blen : b;
        if (eb <= ea)
            continue;
        if (ent_add(p, e->kind, ea - a, eb - ea, e->arg, e->arg ? strlen(e->arg) : 0))
            return -1;
    }
    units(p);
    return 0;
}

/* Where the text from pos must end at the latest (at most `end`) so that
 * its part carries at most MD_MAX_ENTITIES entities: the start of the first
 * entity past the limit. Telegram formats only the first 100 of a message
 * and shows the rest plain. */
static size_t entity_limit(const md_text *t, size_t pos, size_t end)
{
    int count = 0;
    for (int k = 0; k < t->n && t->ents[k].boff < end; k++) {
        const md_entity *e = &t->ents[k];
        if (e->boff + e->blen <= pos)
            continue;
        if (++count > MD_MAX_ENTITIES && e->boff > pos)
            return e->boff;
    }
    return end;
}

int md_split(const md_text *t, size_t max_units, md_text **parts, int *n_parts)
{
    *parts = NULL;
    *n_parts = 0;
    int cap = 0;
    if (max_units < 2)
        max_units = 2;
    size_t pos = 0;
    while (pos < t->len) {
        size_t rest = t->len - pos, cut, skip, fit;
        bool all = rest <= max_units || text_utf16_len(t->text + pos, rest) <= max_units;
        if (all) {
            fit = rest;
        } else {
            fit = gc_prefix16(t->text + pos, rest, max_units);
            if (fit == 0)
                fit = text_utf8_prefix(t->text + pos, rest, 4) ? text_utf8_prefix(t->text + pos, rest, 4) : 1;
        }
        size_t lim = entity_limit(t, pos, pos + fit);
        if (lim < pos + fit) {
            fit = lim - pos;
            all = false;
        }
        if (all)
            cut = skip = t->len;
        else
            find_cut(t, pos, fit, &cut, &skip);
        if (part_add(t, pos, cut, parts, n_parts, &cap)) {
            md_parts_free(*parts, *n_parts);
            *parts = NULL;
            *n_parts = 0;
            return -1;
        }
        pos = skip;
    }
    return 0;
}

void md_parts_free(md_text *parts, int n_parts)
{
    for (int i = 0; i < n_parts; i++)
        md_text_free(&parts[i]);
    free(parts);
}

void md_write_entities(jw *w, const md_text *t)
{
    jw_arr(w);
    for (int i = 0; i < t->n; i++) {
        const md_entity *e = &t->ents[i];
        jw_obj(w);
        jw_key(w, "type");
        jw_str(w, md_kind_name(e->kind));
        jw_key(w, "offset");
        jw_i64(w, (int64_t)e->off);
        jw_key(w, "length");
        jw_i64(w, (int64_t)e->len);
        if (e->kind == MD_PRE && e->arg) {
            jw_key(w, "language");
            jw_str(w, e->arg);
        } else if (e->kind == MD_LINK) {
            jw_key(w, "url");
            jw_str(w, e->arg ? e->arg : "");
        }
        jw_end(w);
    }
    jw_end(w);
}
