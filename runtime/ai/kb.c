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
#include "storage/fts.h"

typedef struct kb_chunk {
    char *text;
    const char *source;
    const char *lang;
} kb_chunk;

struct kb {
    fts *index;
    kb_chunk *chunks;
    int n_chunks;
    char **names, **langs; /* copies of the documents' name and lang */
    int n_docs;
};

/* ---- UTF-8 helpers ----------------------------------------------------------- */

/* Decode one code point at s (n bytes left); *len gets its byte length.
 * Invalid bytes decode as themselves with length 1. */
static uint32_t decode(const unsigned char *s, size_t n, size_t *len)
{
    uint32_t c = s[0];
    size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (k > n)
        k = 1;
    if (k > 1) {
        c &= 0xFF >> (k + 1);
        for (size_t i = 1; i < k; i++) {
            if ((s[i] & 0xC0) != 0x80) {
                *len = 1;
                return s[0];
            }
            c = (c << 6) | (s[i] & 0x3F);
        }
    }
    *len = k;
    return c;
}

static size_t count_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Close to FTS5 unicode61: letters and digits make words; punctuation,
 * symbols, currency signs and emoji separate them. */
static bool word_char(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c < 0xC0 || c == 0xD7 || c == 0xF7)
        return false;
    if (c >= 0x2000 && c <= 0x2BFF) /* punctuation, currency, arrows, symbols */
        return false;
    if (c >= 0x3000 && c <= 0x303F)
        return false;
    if (c >= 0xFE00 && c <= 0xFE0F)
        return false;
    if (c >= 0x1F000)
        return false;
    return true;
}

static uint32_t lower(uint32_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0x410 && c <= 0x42F)
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 0x20;
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
                decode((const unsigned char *)s + bytes, left - bytes, &l);
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

int kb_split(const char *text, size_t len, char ***out, int *n_out)
{
    parts out_p = {0};
    span heading = {"", 0};
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
            if (np > 0 && chunk_section(heading, paras, np, &out_p)) {
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
    fts_free(k->index);
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
    const char *nl = strchr(text, '\n');
    size_t tn = nl ? (size_t)(nl - text) : 0;
    return fts_add(k->index, k->n_chunks, text, tn, nl ? nl + 1 : text, c->lang);
}

kb *kb_open(const kb_doc *docs, int n, char *err, size_t errlen)
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
    k->index = fts_open(why, sizeof why);
    if (!k->index) {
        snprintf(err, errlen, "knowledge index: %s", why);
        kb_free(k);
        return NULL;
    }
    if (fts_begin(k->index))
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
    if (fts_commit(k->index))
        goto index_failed;
    return k;
index_failed:
    snprintf(err, errlen, "knowledge index: %s", fts_errmsg(k->index));
    kb_free(k);
    return NULL;
oom:
    snprintf(err, errlen, "out of memory");
    kb_free(k);
    return NULL;
}

/* ---- questions -------------------------------------------------------------------- */

static const char *const STOP_WORDS[] = {
    /* English */
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did",
    "to", "of", "in", "on", "at", "for", "from", "by", "with", "about", "as", "and", "or",
    "but", "if", "then", "than", "so", "that", "this", "these", "those", "it", "its", "i",
    "me", "my", "we", "us", "our", "you", "your", "he", "she", "they", "them", "their",
    "what", "which", "who", "whom", "when", "where", "why", "how", "can", "could", "would",
    "should", "will", "shall", "may", "might", "must", "have", "has", "had", "there", "here",
    "not", "no", "yes", "please", "hi", "hello", "thanks", "thank", "much", "many", "any",
    "some", "also", "just", "get", "want", "need", "tell", "know", "cost", "costs", "ok",
    /* Russian */
    "и", "в", "во", "не", "что", "на", "я", "с", "со", "как", "а", "то", "все", "всё", "так",
    "но", "да", "ты", "к", "у", "же", "вы", "за", "бы", "по", "только", "мне", "вот", "от",
    "меня", "еще", "ещё", "нет", "о", "об", "из", "ли", "если", "уже", "или", "ни", "быть",
    "до", "вас", "вам", "ваш", "ваша", "ваше", "ваши", "там", "себя", "может", "они", "тут",
    "где", "есть", "надо", "нужно", "нужен", "нужна", "для", "мы", "их", "чем", "без", "кто",
    "этот", "это", "эта", "эти", "какой", "какая", "какие", "какое", "здесь", "можно", "при",
    "сколько", "стоит", "стоят", "стоимость", "скажите", "подскажите", "пожалуйста",
    "здравствуйте", "привет", "спасибо", "хочу", "мой", "моя", "мои", "про", "ко", "бывает",
    NULL,
};

static bool is_stop(const char *w)
{
    for (int i = 0; STOP_WORDS[i]; i++)
        if (!strcmp(w, STOP_WORDS[i]))
            return true;
    return false;
}

typedef struct term {
    char word[128];    /* the word searched: the stem or the whole word */
    bool prefix;       /* the stem: any word starting with it matches */
    unsigned char *in; /* [n_chunks]: 1 when the chunk matches */
    double idf;
} term;

/* Make the query of a lowercased word of `chars` characters. */
static void make_term(const char *w, size_t bytes, size_t chars, uint32_t first, term *t)
{
    bool digits = true;
    for (size_t i = 0; i < bytes; i++)
        digits = digits && w[i] >= '0' && w[i] <= '9';
    size_t keep = bytes;
    bool prefix = false;
    if (digits) {
        /* numbers match exactly: "12" must not find "120" */
    } else if (first >= 0x400 && first <= 0x4FF) {
        size_t cut = chars >= 6 ? 2 : chars == 5 ? 1 : 0;
        /* drop `cut` characters from the end (2 bytes each in Cyrillic) */
        for (size_t c = 0; c < cut && keep > 0; c++) {
            keep--;
            while (keep > 0 && ((unsigned char)w[keep] & 0xC0) == 0x80)
                keep--;
        }
        prefix = chars >= 4;
    } else {
        if (bytes >= 6 && !memcmp(w + bytes - 3, "ing", 3))
            keep = bytes - 3;
        else if (bytes >= 5 && !memcmp(w + bytes - 2, "ed", 2))
            keep = bytes - 2;
        else if (bytes >= 5 && !memcmp(w + bytes - 2, "es", 2))
            keep = bytes - 2;
        else if (bytes >= 4 && w[bytes - 1] == 's' && w[bytes - 2] != 's')
            keep = bytes - 1;
        prefix = keep >= 3;
    }
    snprintf(t->word, sizeof t->word, "%.*s", (int)keep, w);
    t->prefix = prefix;
}

/* Cut the question into terms (deduplicated, stop words dropped). */
static int question_terms(const char *q, term *terms, int max)
{
    int n = 0;
    const unsigned char *s = (const unsigned char *)q;
    size_t len = strlen(q), i = 0;
    while (i < len && n < max) {
        size_t l;
        uint32_t c = decode(s + i, len - i, &l);
        if (!word_char(c)) {
            i += l;
            continue;
        }
        char w[96];
        size_t wb = 0, wc = 0;
        uint32_t first = lower(c);
        while (i < len) {
            c = decode(s + i, len - i, &l);
            if (!word_char(c))
                break;
            char enc[4];
            size_t el = text_utf8_put(lower(c), enc);
            if (wb + el < sizeof w) {
                memcpy(w + wb, enc, el);
                wb += el;
                wc++;
            }
            i += l;
        }
        w[wb] = '\0';
        if (is_stop(w))
            continue;
        term t;
        memset(&t, 0, sizeof t);
        make_term(w, wb, wc, first, &t);
        bool dup = false;
        for (int k = 0; k < n && !dup; k++)
            dup = !strcmp(terms[k].word, t.word) && terms[k].prefix == t.prefix;
        if (!dup)
            terms[n++] = t;
    }
    return n;
}

typedef struct term_ctx {
    term *t;
    int n_chunks;
    int df;            /* chunks matched */
} term_ctx;

/* fts_each: marks chunk id as matching the term. */
static int mark_in(void *ud, int64_t id)
{
    term_ctx *c = ud;
    if (id >= 1 && id <= c->n_chunks) {
        c->t->in[id - 1] = 1;
        c->df++;
    }
    return 0;
}

/* Which chunks each term matches, and its idf over the whole knowledge. */
static int term_stats(kb *k, term *t)
{
    t->in = calloc((size_t)k->n_chunks + 1, 1);
    if (!t->in)
        return -1;
    term_ctx c = {.t = t, .n_chunks = k->n_chunks};
    if (fts_each(k->index, &(fts_term){.word = t->word, .prefix = t->prefix}, mark_in, &c) < 0)
        return -1;
    double N = k->n_chunks;
    t->idf = log((N - c.df + 0.5) / (c.df + 0.5) + 1.0);
    return 0;
}

typedef struct search_ctx {
    const kb *k;
    const term *terms;
    int nt;
    double total;      /* the terms' idf summed */
    kb_hit *hits;
    int n;
} search_ctx;

/* fts_search: chunk id as the next hit, with its coverage. */
static int add_hit(void *ud, int64_t id, double rank)
{
    search_ctx *c = ud;
    if (id < 1 || id > c->k->n_chunks)
        return 0;
    kb_hit *h = &c->hits[c->n++];
    const kb_chunk *ch = &c->k->chunks[id - 1];
    h->chunk = (int)id - 1;
    h->text = ch->text;
    h->source = ch->source;
    h->lang = ch->lang;
    h->rank = rank;
    double got = 0;
    for (int i = 0; i < c->nt; i++)
        if (c->terms[i].in[id - 1])
            got += c->terms[i].idf;
    h->coverage = c->total > 0 ? got / c->total : 0;
    return 0;
}

int kb_search(kb *k, const char *question, const char *lang, kb_hit *hits, int max)
{
    term terms[KB_MAX_TERMS];
    int nt = question_terms(question ? question : "", terms, KB_MAX_TERMS);
    if (nt == 0 || max <= 0 || k->n_chunks == 0)
        return 0;
    search_ctx c = {.k = k, .terms = terms, .nt = nt, .hits = hits};
    fts_term q[KB_MAX_TERMS];
    int rc = 0;
    for (int i = 0; i < nt && !rc; i++) {
        rc = term_stats(k, &terms[i]);
        c.total += terms[i].idf;
        q[i] = (fts_term){.word = terms[i].word, .prefix = terms[i].prefix};
    }
    if (!rc)
        rc = fts_search(k->index, q, nt, lang, max, add_hit, &c) < 0;
    for (int i = 0; i < nt; i++)
        free(terms[i].in);
    return rc ? -1 : c.n;
}

/* The best hit by coverage (ties: rank order), -1 when none is enough. */
static int best_covered(const kb_hit *h, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (h[i].coverage >= KB_MIN_COVERAGE && (best < 0 || h[i].coverage > h[best].coverage + 1e-9))
            best = i;
    return best;
}

int kb_extract(kb *k, const char *question, const char *lang, char **answer)
{
    kb_hit hits[8];
    *answer = NULL;
    int n = kb_search(k, question, lang, hits, 8);
    if (n < 0)
        return -1;
    int b = best_covered(hits, n);
    if (b < 0 && lang) {
        n = kb_search(k, question, NULL, hits, 8);
        if (n < 0)
            return -1;
        b = best_covered(hits, n);
    }
    if (b < 0)
        return 0;
    text_buf out;
    text_buf_init(&out, 3500);
    int rc = text_buf_adds(&out, hits[b].text);
    /* a second passage when it is as well covered and ranked close */
    for (int i = 0; i < n && !rc; i++) {
        if (i == b || hits[i].coverage + 1e-9 < hits[b].coverage ||
            hits[i].rank < 0.8 * hits[b].rank)
            continue;
        if ((hits[b].lang && hits[i].lang && strcmp(hits[b].lang, hits[i].lang)))
            continue;
        rc = text_buf_adds(&out, "\n\n") | text_buf_adds(&out, hits[i].text);
        break;
    }
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
