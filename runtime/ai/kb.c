/*
 * kb.c — see kb.h.
 */
#include "ai/kb.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "ai/retr.h"
#include "ai/vec.h"

typedef struct kb_chunk {
    char *text;
    const char *source;
    const char *lang;
} kb_chunk;

struct kb {
    retr *index;
    kb_chunk *chunks;
    int n_chunks;
    char **names, **langs; /* copies of the documents' name and lang */
    int n_docs;
    vec_index *vecs;       /* the chunks' embeddings, NULL until the first */
};

/* ---- UTF-8 helpers ----------------------------------------------------------- */

static size_t count_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* ---- chunking ------------------------------------------------------------------- */

typedef struct parts {
    char **v;
    int n, cap;
} parts;

static int parts_push(parts *p, char *s)
{
    if (!s)
        return -1;
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        char **v = realloc(p->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(s);
            return -1;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = s;
    return 0;
}

typedef struct span {
    const char *s;
    size_t n;
} span;

/* Cut a paragraph longer than `max` characters at sentence ends (". ",
 * "! ", "? ", "; "), else at the last space, else anywhere on a character
 * boundary. Appends the pieces to *out. */
static int cut_paragraph(span para, size_t max, span **out, int *n, int *cap)
{
    const char *s = para.s;
    size_t left = para.n;
    while (left > 0) {
        size_t take = left;
        if (count_chars(s, left) > max) {
            size_t bytes = 0, chars = 0, last_sentence = 0, last_space = 0;
            while (bytes < left && chars < max) {
                size_t l;
                text_utf8_get((const char *)s + bytes, left - bytes, &l);
                if (s[bytes] == ' ') {
                    last_space = bytes;
                    if (bytes > 0 && strchr(".!?;", s[bytes - 1]))
                        last_sentence = bytes;
                }
                bytes += l;
                chars++;
            }
            take = last_sentence ? last_sentence : last_space ? last_space : bytes;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            span *v = realloc(*out, (size_t)*cap * sizeof *v);
            if (!v)
                return -1;
            *out = v;
        }
        (*out)[(*n)++] = (span){s, take};
        s += take;
        left -= take;
        while (left > 0 && *s == ' ') {
            s++;
            left--;
        }
    }
    return 0;
}

/* Chunks of one section: heading + paragraphs, cut at KB_CHUNK_MAX with a
 * one-paragraph overlap. */
static int chunk_section(span heading, const span *paras, int np, parts *out)
{
    size_t hchars = count_chars(heading.s, heading.n);
    size_t room = KB_CHUNK_MAX > hchars + 2 ? KB_CHUNK_MAX - hchars - 2 : 200;
    span *pieces = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < np; i++)
        if (cut_paragraph(paras[i], room, &pieces, &n, &cap)) {
            free(pieces);
            return -1;
        }
    int first = 0;
    while (first < n) {
        /* take pieces while they fit */
        size_t chars = 0;
        int last = first;
        while (last < n) {
            size_t c = count_chars(pieces[last].s, pieces[last].n) + (last > first ? 2 : 0);
            if (last > first && chars + c > room)
                break;
            chars += c;
            last++;
        }
        text_buf b;
        text_buf_init(&b, (size_t)-1);
        int rc = 0;
        if (heading.n)
            rc |= text_buf_add(&b, heading.s, heading.n) | text_buf_adds(&b, "\n");
        for (int i = first; i < last; i++) {
            if (i > first)
                rc |= text_buf_adds(&b, "\n\n");
            rc |= text_buf_add(&b, pieces[i].s, pieces[i].n);
        }
        if (rc || parts_push(out, text_buf_take(&b))) {
            text_buf_free(&b);
            free(pieces);
            return -1;
        }
        if (last >= n)
            break;
        /* the next chunk starts with this one's last piece, unless that
         * would not move forward */
        first = last - 1 > first ? last - 1 : last;
    }
    free(pieces);
    return 0;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Whether the text has a heading of level 2 or deeper ("## ..."). */
static bool has_subheadings(const char *text, size_t len)
{
    for (const char *p = text; p && p < text + len;) {
        if (p + 1 < text + len && p[0] == '#' && p[1] == '#')
            return true;
        p = memchr(p, '\n', (size_t)(text + len - p));
        p = p ? p + 1 : NULL;
    }
    return false;
}

int kb_split(const char *text, size_t len, char ***out, int *n_out)
{
    parts out_p = {0};
    span heading = {"", 0};
    bool deep = has_subheadings(text, len);
    bool in_section = false; /* the text since the last heading is served */
    span *paras = NULL;
    int np = 0, cap = 0;
    const char *p = text, *end = text + len;
    const char *para_start = NULL, *para_end = NULL;
    int rc = 0;
    for (;;) {
        const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const char *le = nl ? nl : end;
        size_t ln = (size_t)(le - p);
        while (ln > 0 && (p[ln - 1] == '\r' || p[ln - 1] == ' '))
            ln--;
        bool at_end = p >= end;
        bool is_blank = at_end || blank(p, ln);
        bool is_heading = !at_end && ln > 0 && p[0] == '#';
        if ((is_blank || is_heading) && para_start) {
            if (np == cap) {
                cap = cap ? cap * 2 : 16;
                span *v = realloc(paras, (size_t)cap * sizeof *v);
                if (!v) {
                    rc = -1;
                    break;
                }
                paras = v;
            }
            paras[np++] = (span){para_start, (size_t)(para_end - para_start)};
            para_start = NULL;
        }
        if (is_heading || at_end) {
            if (np > 0 && in_section && chunk_section(heading, paras, np, &out_p)) {
                rc = -1;
                break;
            }
            np = 0;
            if (is_heading) {
                const char *h = p;
                size_t hn = ln;
                while (hn > 0 && (*h == '#' || *h == ' ')) {
                    h++;
                    hn--;
                }
                heading = (span){h, hn};
                in_section = !deep || p[1] == '#';
            }
        } else if (!is_blank) {
            if (!para_start)
                para_start = p;
            para_end = p + ln;
        }
        if (at_end)
            break;
        p = nl ? nl + 1 : end;
    }
    free(paras);
    if (rc) {
        text_parts_free(out_p.v, out_p.n);
        return -1;
    }
    /* paragraphs of a section were joined in place: a paragraph spanning
     * several lines keeps its line breaks */
    *out = out_p.v;
    *n_out = out_p.n;
    return 0;
}

/* ---- index ---------------------------------------------------------------------- */

void kb_free(kb *k)
{
    if (!k)
        return;
    retr_free(k->index);
    vec_free(k->vecs);
    for (int i = 0; i < k->n_chunks; i++)
        free(k->chunks[i].text);
    free(k->chunks);
    for (int i = 0; i < k->n_docs; i++) {
        free(k->names[i]);
        free(k->langs[i]);
    }
    free(k->names);
    free(k->langs);
    free(k);
}

int kb_chunk_count(const kb *k) { return k->n_chunks; }

const char *kb_chunk_text(const kb *k, int i)
{
    return i >= 0 && i < k->n_chunks ? k->chunks[i].text : NULL;
}

static int add_chunk(kb *k, char *text, int doc, int *cap)
{
    if (k->n_chunks == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        kb_chunk *v = realloc(k->chunks, (size_t)nc * sizeof *v);
        if (!v) {
            free(text);
            return -1;
        }
        k->chunks = v;
        *cap = nc;
    }
    kb_chunk *c = &k->chunks[k->n_chunks++];
    c->text = text;
    c->source = k->names[doc];
    c->lang = k->langs[doc];
    /* the heading is the first line; the index takes it apart */
    const char *nl = strchr(text, '\n');
    char *title = strndup(text, nl ? (size_t)(nl - text) : 0);
    int rc = title ? retr_add(k->index, k->n_chunks, title, nl ? nl + 1 : text, c->lang) : -1;
    free(title);
    return rc;
}

kb *kb_open(const kb_doc *docs, int n, const char *const *synonyms, int n_syn, char *err,
            size_t errlen)
{
    kb *k = calloc(1, sizeof *k);
    int cap = 0;
    if (!k)
        goto oom;
    k->names = calloc((size_t)n + 1, sizeof *k->names);
    k->langs = calloc((size_t)n + 1, sizeof *k->langs);
    if (!k->names || !k->langs)
        goto oom;
    char why[256];
    k->index = retr_open(why, sizeof why);
    if (!k->index) {
        snprintf(err, errlen, "knowledge index: %s", why);
        kb_free(k);
        return NULL;
    }
    for (int i = 0; i < n_syn; i++)
        if (retr_synonyms(k->index, synonyms[i]) < 0)
            goto oom;
    if (retr_begin(k->index))
        goto index_failed;
    for (int d = 0; d < n; d++) {
        k->n_docs++;
        k->names[d] = strdup(docs[d].name ? docs[d].name : "");
        k->langs[d] = docs[d].lang ? strdup(docs[d].lang) : NULL;
        if (!k->names[d] || (docs[d].lang && !k->langs[d]))
            goto oom;
        char **v;
        int nv;
        if (kb_split(docs[d].text, docs[d].len, &v, &nv))
            goto oom;
        for (int i = 0; i < nv; i++) {
            char *t = v[i];
            v[i] = NULL;
            if (add_chunk(k, t, d, &cap)) {
                text_parts_free(v, nv);
                goto index_failed;
            }
        }
        text_parts_free(v, nv);
    }
    if (retr_commit(k->index))
        goto index_failed;
    return k;
index_failed:
    snprintf(err, errlen, "knowledge index: %s", retr_errmsg(k->index));
    kb_free(k);
    return NULL;
oom:
    snprintf(err, errlen, "out of memory");
    kb_free(k);
    return NULL;
}

/* ---- questions -------------------------------------------------------------------- */

int kb_search(kb *k, const char *question, const char *lang, kb_hit *hits, int max)
{
    retr_hit rh[KB_MAX_HITS];
    if (max > KB_MAX_HITS)
        max = KB_MAX_HITS;
    int n = retr_search(k->index, question ? question : "", lang, rh, max);
    for (int i = 0; i < n; i++) {
        const kb_chunk *ch = &k->chunks[rh[i].id - 1];
        hits[i] = (kb_hit){.chunk = (int)rh[i].id - 1, .text = ch->text, .source = ch->source,
                           .lang = ch->lang, .rank = rh[i].rank, .coverage = rh[i].coverage};
    }
    return n;
}

int kb_vector(kb *k, int chunk, const float *v, int dims)
{
    if (chunk < 0 || chunk >= k->n_chunks)
        return -1;
    if (!k->vecs && !(k->vecs = vec_new(k->n_chunks, dims)))
        return -1;
    if (dims != vec_dims(k->vecs))
        return -1;
    return vec_set(k->vecs, chunk, v);
}

int kb_vector_count(const kb *k)
{
    return k->vecs ? vec_count(k->vecs) : 0;
}

int kb_vector_dims(const kb *k)
{
    return k->vecs ? vec_dims(k->vecs) : 0;
}

typedef struct lang_filter {
    const kb *k;
    const char *lang;
} lang_filter;

/* A chunk in the question's language or in none, as retr_search keeps. */
static bool keep_lang(void *ud, int row)
{
    const lang_filter *f = ud;
    const char *l = f->k->chunks[row].lang;
    return !f->lang || !l || !strcmp(l, f->lang);
}

int kb_search_hybrid(kb *k, const char *question, const float *qv, int dims, const char *lang,
                     kb_hit *hits, int max)
{
    if (!qv || !k->vecs || dims != vec_dims(k->vecs))
        return kb_search(k, question, lang, hits, max);
    if (max > KB_MAX_HITS)
        max = KB_MAX_HITS;
    kb_hit lex[KB_MAX_HITS];
    int nl = kb_search(k, question, lang, lex, KB_MAX_HITS);
    if (nl < 0)
        return -1;
    vec_hit vh[KB_MAX_HITS];
    lang_filter lf = {k, lang};
    int nv = vec_top(k->vecs, qv, keep_lang, &lf, vh, KB_MAX_HITS);
    int a[KB_MAX_HITS], b[KB_MAX_HITS];
    for (int i = 0; i < nl; i++)
        a[i] = lex[i].chunk;
    for (int i = 0; i < nv; i++)
        b[i] = vh[i].row;
    vec_fused f[2 * KB_MAX_HITS];
    int n = vec_fuse(a, nl, b, nv, f, max);
    for (int i = 0; i < n; i++) {
        const kb_chunk *ch = &k->chunks[f[i].id];
        hits[i] = (kb_hit){.chunk = f[i].id, .text = ch->text, .source = ch->source,
                           .lang = ch->lang, .rank = f[i].score,
                           .coverage = f[i].rank_a ? lex[f[i].rank_a - 1].coverage : 0,
                           .cosine = f[i].rank_b ? vh[f[i].rank_b - 1].cosine : 0};
    }
    return n;
}

bool kb_answers(const kb_hit *best)
{
    return best->coverage >= RETR_MIN_COVERAGE;
}

int kb_terms(kb *k, const char *question)
{
    return retr_terms(k->index, question);
}

bool kb_is_question(const char *question)
{
    return retr_has_words(question);
}

int kb_extract(kb *k, const char *question, const char *lang, char **answer)
{
    kb_hit hits[8];
    *answer = NULL;
    if (!kb_is_question(question))
        return 0;
    int n = kb_search(k, question, lang, hits, 8);
    if (n < 0)
        return -1;
    if ((n == 0 || !kb_answers(&hits[0])) && lang) {
        n = kb_search(k, question, NULL, hits, 8);
        if (n < 0)
            return -1;
    }
    if (n == 0 || !kb_answers(&hits[0]))
        return 0;
    text_buf out;
    text_buf_init(&out, 3500);
    int rc = text_buf_adds(&out, hits[0].text);
    /* the runner-up too when it answers as fully and ranks close */
    if (!rc && n > 1 && hits[1].coverage + 1e-9 >= hits[0].coverage &&
        hits[1].rank >= 0.8 * hits[0].rank &&
        !(hits[0].lang && hits[1].lang && strcmp(hits[0].lang, hits[1].lang)))
        rc = text_buf_adds(&out, "\n\n") | text_buf_adds(&out, hits[1].text);
    if (rc) {
        text_buf_free(&out);
        return -1;
    }
    *answer = text_buf_take(&out);
    return *answer ? 1 : -1;
}

/* ---- prompt ------------------------------------------------------------------------- */

char *kb_system_prompt(const char *persona, const char *policy, bool strict, const char *lang,
                       const kb_hit *hits, int n, size_t max_context)
{
    text_buf b;
    text_buf_init(&b, max_context + 8192);
    int rc = 0;
    if (persona && *persona)
        rc |= text_buf_adds(&b, persona) | text_buf_adds(&b, "\n\n");
    if (policy && *policy)
        rc |= text_buf_adds(&b, policy) | text_buf_adds(&b, "\n\n");
    rc |= text_buf_adds(&b, "Rules:\n");
    if (strict)
        rc |= text_buf_adds(&b, "- Answer only from the CONTEXT below. Do not use other knowledge "
                                "and never guess prices, dates, availability or conditions.\n");
    else
        rc |= text_buf_adds(&b, "- Take everything about the company from the CONTEXT below; "
                                "general questions you may answer from general knowledge.\n");
    rc |= text_buf_adds(&b, "- Answer in the language of the user's last message");
    if (lang && *lang)
        rc |= text_buf_adds(&b, " (their Telegram language is \"") | text_buf_adds(&b, lang) |
              text_buf_adds(&b, "\")");
    rc |= text_buf_adds(&b, ".\n- If the CONTEXT does not contain the answer, reply with exactly "
                            KB_MARKER " and nothing else: a manager will take over.\n"
                            "- Be brief and friendly; plain text, no Markdown.\n\nCONTEXT:\n");
    size_t used = 0;
    for (int i = 0; i < n && !rc; i++) {
        size_t len = strlen(hits[i].text);
        if (used + len > max_context)
            break;
        char head[64];
        snprintf(head, sizeof head, "[%d] ", i + 1);
        rc |= text_buf_adds(&b, head) | text_buf_adds(&b, hits[i].text) | text_buf_adds(&b, "\n\n");
        used += len;
    }
    if (n == 0)
        rc |= text_buf_adds(&b, "(nothing relevant was found)\n");
    if (rc) {
        text_buf_free(&b);
        return NULL;
    }
    return text_buf_take(&b);
}

/* ---- marker ---------------------------------------------------------------------------- */

void kb_marker_init(kb_marker *m)
{
    memset(m, 0, sizeof *m);
}

int kb_marker_feed(kb_marker *m, const char *s, size_t n, text_buf *show)
{
    static const char mk[] = KB_MARKER;
    const size_t ml = sizeof mk - 1;
    for (size_t i = 0; i < n && !m->found; i++) {
        m->hold[m->nhold++] = s[i];
        /* shrink the held text to its longest suffix that is a prefix of
         * the marker, showing what falls off the front */
        for (;;) {
            if (m->nhold <= ml && !memcmp(m->hold, mk, m->nhold))
                break;
            if (text_buf_add(show, m->hold, 1))
                return -1;
            memmove(m->hold, m->hold + 1, --m->nhold);
        }
        if (m->nhold == ml) {
            m->found = true;
            m->nhold = 0;
        }
    }
    return 0;
}

int kb_marker_end(kb_marker *m, text_buf *show)
{
    int rc = 0;
    if (!m->found && m->nhold)
        rc = text_buf_add(show, m->hold, m->nhold);
    m->nhold = 0;
    return rc;
}
