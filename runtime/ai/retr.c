/*
 * retr.c — see retr.h.
 */
#include "ai/retr.h"

#include <libstemmer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "storage/fts.h"

#define WORD_MAX 96  /* bytes of one folded word; longer words are cut */
#define ALT_MAX 8    /* alternatives of one question word */
#define TYPO_MIN 5   /* letters of a word before it may be a typo */
#define RETR_CANDIDATES 16 /* best documents by the rarest words, ranked again with all */
#define RETR_POSTINGS 2000 /* documents the candidates' words may match together */
#define BM25_K1 2.0
#define BM25_B 0.75
#define TITLE_WEIGHT 3.0   /* a heading's word counts as three */

/* Common customer words and the words a knowledge text uses for them. The
 * spec adds the words of its trade (REFERENCE.md, llm: synonyms:). */
static const char *const RETR_BUILTIN_SYNONYMS[] = {
    "price = cost = fee = charge = expensive = cheap = pricey",
    "reservation = booking = reserve = book",
    "papers = documents = document",
    "kid = child = children = baby",
    "refund = released",
    "gas = petrol = fuel = gasoline",
    "terms = conditions = rules = requirements = policy",
    "цена = стоимость = дорого = дешево = дороже = дешевле = прайс",
    "бронь = бронирование = забронировать = резерв",
    "бумаги = документы",
    "ребенок = дети = детский = малыш",
    "бензин = топливо = горючее",
    "условия = правила = требования = правило",
    NULL,
};

static const char *const STOP_WORDS[] = {
    /* English */
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "am", "do", "does", "did",
    "to", "of", "in", "on", "at", "for", "from", "by", "with", "about", "as", "and", "or",
    "but", "if", "then", "than", "so", "that", "this", "these", "those", "it", "its", "i",
    "me", "my", "we", "us", "our", "you", "your", "he", "she", "they", "them", "their",
    "what", "whats", "which", "who", "whom", "when", "where", "wher", "why", "how", "can",
    "could", "would", "should", "will", "shall", "may", "might", "must", "have", "has", "had",
    "there", "here", "not", "no", "yes", "please", "hi", "hello", "thanks", "thank", "much",
    "many", "any", "some", "also", "just", "get", "want", "need", "tell", "know", "cost",
    "costs", "ok", "im", "ill", "dont", "too", "up", "until", "happen", "happens", "take", "bring",
    "go", "going", "let", "there's", "possible", "allowed", "way", "like", "all", "every",
    "number",
    /* Russian (after folding: ё is е) */
    "и", "в", "во", "не", "что", "на", "я", "с", "со", "как", "а", "то", "все", "так", "но",
    "да", "ты", "к", "у", "же", "вы", "за", "бы", "по", "только", "мне", "вот", "от", "меня",
    "еще", "нет", "о", "об", "из", "ли", "если", "уже", "или", "ни", "быть", "до", "вас",
    "вам", "ваш", "ваша", "ваше", "ваши", "там", "себя", "может", "они", "тут", "где", "есть",
    "надо", "нужно", "нужен", "нужна", "для", "мы", "их", "чем", "без", "кто", "этот", "это",
    "эта", "эти", "какой", "какая", "какие", "какое", "здесь", "можно", "при", "сколько",
    "стоит", "стоят", "скажите", "подскажите", "пожалуйста", "здравствуйте", "привет",
    "спасибо", "хочу", "мой", "моя", "мои", "про", "ко", "бывает", "могу", "ли", "тоже",
    "чтобы", "делать", "будет", "когда", "после", "взять", "брать", "забрать", "поехать",
    "ехать", "попал", "попала", "случилось", "случае", "расскажите", "расскажи", "объясните",
    "покажите", "скажи", "весь", "вся", "всю", "всех", "номер",
    NULL,
};

/* ---- a string → int map (open addressing) --------------------------------------- */

typedef struct smap {
    char **key;
    int *val;
    size_t cap, n;
} smap;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void smap_free(smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->key[i]);
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* The slot of key: where it is, or the empty slot where it would go. */
static size_t smap_slot(const smap *m, const char *key)
{
    size_t i = hash(key) & (m->cap - 1);
    while (m->key[i] && strcmp(m->key[i], key))
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* The value of key, or -1. */
static int smap_get(const smap *m, const char *key)
{
    if (!m->cap)
        return -1;
    size_t i = smap_slot(m, key);
    return m->key[i] ? m->val[i] : -1;
}

/* Sets key (copied) to val unless present; *slot_val gets the value's
 * address. 0, -1 on out-of-memory. */
static int smap_put(smap *m, const char *key, int val, int **slot_val)
{
    if (2 * (m->n + 1) > m->cap) {
        smap g = {.cap = m->cap ? 2 * m->cap : 64};
        g.key = calloc(g.cap, sizeof *g.key);
        g.val = calloc(g.cap, sizeof *g.val);
        if (!g.key || !g.val) {
            free(g.key);
            free(g.val);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = smap_slot(&g, m->key[i]);
                g.key[j] = m->key[i];
                g.val[j] = m->val[i];
            }
        g.n = m->n;
        free(m->key);
        free(m->val);
        *m = g;
    }
    size_t i = smap_slot(m, key);
    if (!m->key[i]) {
        if (!(m->key[i] = strdup(key)))
            return -1;
        m->val[i] = val;
        m->n++;
    }
    if (slot_val)
        *slot_val = &m->val[i];
    return 0;
}

/* A string → several ints: chains through item/next. */
typedef struct mmap {
    smap head;   /* key → first link */
    int *item, *next;
    int n, cap;
} mmap;

static void mmap_free(mmap *m)
{
    smap_free(&m->head);
    free(m->item);
    free(m->next);
    memset(m, 0, sizeof *m);
}

static int mmap_add(mmap *m, const char *key, int item)
{
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 1024;
        int *a = realloc(m->item, (size_t)cap * sizeof *a);
        if (a)
            m->item = a;
        int *b = a ? realloc(m->next, (size_t)cap * sizeof *b) : NULL;
        if (!b)
            return -1;
        m->next = b;
        m->cap = cap;
    }
    int *head;
    if (smap_put(&m->head, key, -1, &head))
        return -1;
    m->item[m->n] = item;
    m->next[m->n] = *head;
    *head = m->n++;
    return 0;
}

/* ---- words ------------------------------------------------------------------------ */

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

/* Latin-1 and Latin Extended-A letters, lowercase and without their marks:
 * "Š" and "š" are "s", so a Serbian name is found typed either way. */
static const struct { uint32_t from, to; char base; } LATIN_FOLD[] = {
    {0xC0, 0xC6, 'a'}, {0xC7, 0xC7, 'c'}, {0xC8, 0xCB, 'e'}, {0xCC, 0xCF, 'i'},
    {0xD0, 0xD0, 'd'}, {0xD1, 0xD1, 'n'}, {0xD2, 0xD6, 'o'}, {0xD8, 0xD8, 'o'},
    {0xD9, 0xDC, 'u'}, {0xDD, 0xDD, 'y'}, {0xDE, 0xDE, 't'}, {0xDF, 0xDF, 's'},
    {0xE0, 0xE6, 'a'}, {0xE7, 0xE7, 'c'}, {0xE8, 0xEB, 'e'}, {0xEC, 0xEF, 'i'},
    {0xF0, 0xF0, 'd'}, {0xF1, 0xF1, 'n'}, {0xF2, 0xF6, 'o'}, {0xF8, 0xF8, 'o'},
    {0xF9, 0xFC, 'u'}, {0xFD, 0xFD, 'y'}, {0xFE, 0xFE, 't'}, {0xFF, 0xFF, 'y'},
    {0x100, 0x105, 'a'}, {0x106, 0x10D, 'c'}, {0x10E, 0x111, 'd'}, {0x112, 0x11B, 'e'},
    {0x11C, 0x123, 'g'}, {0x124, 0x127, 'h'}, {0x128, 0x133, 'i'}, {0x134, 0x135, 'j'},
    {0x136, 0x138, 'k'}, {0x139, 0x142, 'l'}, {0x143, 0x14B, 'n'}, {0x14C, 0x153, 'o'},
    {0x154, 0x159, 'r'}, {0x15A, 0x161, 's'}, {0x162, 0x167, 't'}, {0x168, 0x173, 'u'},
    {0x174, 0x175, 'w'}, {0x176, 0x178, 'y'}, {0x179, 0x17E, 'z'}, {0x17F, 0x17F, 's'},
};

static uint32_t fold(uint32_t c)
{
    if (c < 0x80)
        return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xC0 && c <= 0x17F) {
        for (size_t i = 0; i < sizeof LATIN_FOLD / sizeof *LATIN_FOLD; i++)
            if (c >= LATIN_FOLD[i].from && c <= LATIN_FOLD[i].to)
                return (uint32_t)LATIN_FOLD[i].base;
        return c;
    }
    if (c == 0x401 || c == 0x451) /* Ё ё */
        return 0x435;
    if (c >= 0x410 && c <= 0x42F)
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    return c;
}

enum script { SCRIPT_NUMBER, SCRIPT_LATIN, SCRIPT_CYRILLIC };

typedef struct word {
    char s[WORD_MAX];  /* folded, NUL-terminated */
    size_t bytes, chars;
    enum script script;
    bool capital;      /* written with a capital letter first */
} word;

static bool is_capital(uint32_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
           (c >= 0x100 && c <= 0x17F && c % 2 == 0) || (c >= 0x400 && c <= 0x42F);
}

/* The next word of [*p, end) into w; false at the end. */
static bool next_word(const char **p, const char *end, word *w)
{
    const unsigned char *s = (const unsigned char *)*p;
    const unsigned char *e = (const unsigned char *)end;
    size_t l;
    while (s < e && !word_char(text_utf8_get((const char *)s, (size_t)(e - s), &l)))
        s += l;
    if (s >= e) {
        *p = end;
        return false;
    }
    w->bytes = w->chars = 0;
    w->script = SCRIPT_NUMBER;
    w->capital = is_capital(text_utf8_get((const char *)s, (size_t)(e - s), &l));
    while (s < e) {
        uint32_t c = text_utf8_get((const char *)s, (size_t)(e - s), &l);
        if (!word_char(c))
            break;
        s += l;
        c = fold(c);
        if (w->script == SCRIPT_NUMBER && !(c >= '0' && c <= '9'))
            w->script = c >= 0x400 && c <= 0x4FF ? SCRIPT_CYRILLIC : SCRIPT_LATIN;
        char enc[4];
        size_t el = text_utf8_put(c, enc);
        if (w->bytes + el < sizeof w->s) {
            memcpy(w->s + w->bytes, enc, el);
            w->bytes += el;
            w->chars++;
        }
    }
    w->s[w->bytes] = '\0';
    *p = (const char *)s;
    return true;
}

/* Skipped everywhere: numbers, stop words (stop: STOP_WORDS as a set),
 * single Latin letters (the "s" and "m" of "it's", "I'm"). */
static bool skipped(const smap *stop, const word *w)
{
    return w->script == SCRIPT_NUMBER || (w->script == SCRIPT_LATIN && w->chars < 2) ||
           smap_get(stop, w->s) >= 0;
}

bool retr_has_words(const char *q)
{
    const char *p = q, *end = q + strlen(q);
    word w;
    while (next_word(&p, end, &w))
        if (w.script != SCRIPT_NUMBER)
            return true;
    return false;
}

/* Words of an analysed text. */
static int words_in(const char *text)
{
    int n = *text != '\0';
    for (; *text; text++)
        n += *text == ' ';
    return n;
}

/* ---- the index ------------------------------------------------------------------------ */

typedef struct syn_group {
    char **member;  /* analysed: stems separated by spaces */
    int n;
} syn_group;

typedef struct raw_word {
    char *word;     /* folded, before stemming */
    int stem;       /* index into stems */
    int chars;
} raw_word;

struct retr {
    fts *index;
    struct sb_stemmer *en, *ru;
    syn_group *groups;
    int n_groups;
    smap syn;         /* single-stem member → its group (the last one given) */
    smap syn_word;    /* the same by the folded word as written, before stemming */
    smap df;          /* stem → documents holding it (after retr_commit) */
    smap raw_seen;    /* folded word → index into raw */
    raw_word *raw;    /* the index's words before stemming, for typos */
    int n_raw, cap_raw;
    char **stems;     /* stem strings of raw words (owned) */
    int n_stems, cap_stems;
    smap stem_ix;     /* stem → index into stems */
    smap stop;        /* STOP_WORDS */
    mmap deletes;     /* a raw word, and it with one letter deleted → raw words (typos) */
    mmap longer;      /* a stem less its last one or two letters → stems (other forms) */
    int n_docs;
    /* per document, by id: weighed length, language (0 none, else an
     * index into langs + 1), and a search's scratch: scores, one word's
     * frequencies, the documents touched */
    int max_id, cap_id;
    float *len, *score, *tf;
    unsigned char *lang;
    int *docs, *tf_docs;
    int n_scored, n_tf;
    char *langs[8];
    int n_langs;
    double avg_len;   /* words per passage, the title's weighed as in bm25 */
    double sum_len;
    char err[128];
};

/* The stem of w into out (cap bytes). */
static void stem(retr *r, const word *w, char *out, size_t cap)
{
    struct sb_stemmer *st = w->script == SCRIPT_CYRILLIC ? r->ru
                            : w->script == SCRIPT_LATIN  ? r->en : NULL;
    const sb_symbol *s = st ? sb_stemmer_stem(st, (const sb_symbol *)w->s, (int)w->bytes) : NULL;
    if (s)
        snprintf(out, cap, "%.*s", sb_stemmer_length(st), (const char *)s);
    else
        snprintf(out, cap, "%s", w->s);
}

/* text analysed: its stems separated by spaces, malloc'd. When `learn`,
 * every word is remembered with its stem for the typo check. NULL on
 * out-of-memory. */
static char *analyse(retr *r, const char *text, bool learn)
{
    text_buf b;
    text_buf_init(&b, (size_t)-1);
    const char *p = text, *end = text + strlen(text);
    word w;
    int rc = 0;
    while (!rc && next_word(&p, end, &w)) {
        if (skipped(&r->stop, &w))
            continue;
        char st[WORD_MAX];
        stem(r, &w, st, sizeof st);
        rc = (b.len && text_buf_addc(&b, ' ')) || text_buf_adds(&b, st);
        if (rc || !learn || smap_get(&r->raw_seen, w.s) >= 0)
            continue;
        int *six;
        if (smap_put(&r->stem_ix, st, r->n_stems, &six)) {
            rc = -1;
            break;
        }
        if (*six == r->n_stems) {
            if (r->n_stems == r->cap_stems) {
                int nc = r->cap_stems ? 2 * r->cap_stems : 256;
                char **v = realloc(r->stems, (size_t)nc * sizeof *v);
                if (!v) {
                    rc = -1;
                    break;
                }
                r->stems = v;
                r->cap_stems = nc;
            }
            if (!(r->stems[r->n_stems] = strdup(st))) {
                rc = -1;
                break;
            }
            r->n_stems++;
        }
        if (r->n_raw == r->cap_raw) {
            int nc = r->cap_raw ? 2 * r->cap_raw : 256;
            raw_word *v = realloc(r->raw, (size_t)nc * sizeof *v);
            if (!v) {
                rc = -1;
                break;
            }
            r->raw = v;
            r->cap_raw = nc;
        }
        raw_word *rw = &r->raw[r->n_raw];
        if (!(rw->word = strdup(w.s)) || smap_put(&r->raw_seen, w.s, r->n_raw, NULL)) {
            free(rw->word);
            rc = -1;
            break;
        }
        rw->stem = *six;
        rw->chars = (int)w.chars;
        r->n_raw++;
    }
    if (rc) {
        text_buf_free(&b);
        return NULL;
    }
    char *s = text_buf_take(&b);
    return s ? s : strdup("");
}

void retr_free(retr *r)
{
    if (!r)
        return;
    fts_free(r->index);
    if (r->en)
        sb_stemmer_delete(r->en);
    if (r->ru)
        sb_stemmer_delete(r->ru);
    for (int g = 0; g < r->n_groups; g++) {
        for (int i = 0; i < r->groups[g].n; i++)
            free(r->groups[g].member[i]);
        free(r->groups[g].member);
    }
    free(r->groups);
    smap_free(&r->syn);
    smap_free(&r->syn_word);
    smap_free(&r->df);
    smap_free(&r->raw_seen);
    for (int i = 0; i < r->n_raw; i++)
        free(r->raw[i].word);
    free(r->raw);
    for (int i = 0; i < r->n_stems; i++)
        free(r->stems[i]);
    free(r->stems);
    smap_free(&r->stem_ix);
    smap_free(&r->stop);
    free(r->len);
    free(r->score);
    free(r->tf);
    free(r->lang);
    free(r->docs);
    free(r->tf_docs);
    for (int i = 0; i < r->n_langs; i++)
        free(r->langs[i]);
    mmap_free(&r->deletes);
    mmap_free(&r->longer);
    free(r);
}

int retr_synonyms(retr *r, const char *group)
{
    syn_group g = {0};
    int rc = 0;
    char *words[ALT_MAX * 4];  /* one-word members as written, folded */
    int n_words = 0;
    for (const char *p = group; *p && !rc;) {
        size_t n = strcspn(p, "=");
        char *part = strndup(p, n);
        const char *q = part, *qend = part ? part + n : NULL;
        word w;
        if (part && next_word(&q, qend, &w) && !next_word(&q, qend, &w) &&
            n_words < ALT_MAX * 4) {
            q = part;
            next_word(&q, qend, &w);
            words[n_words] = strdup(w.s);
            n_words += words[n_words] != NULL;
        }
        char *a = part ? analyse(r, part, false) : NULL;
        char **v = a ? realloc(g.member, (size_t)(g.n + 1) * sizeof *v) : NULL;
        free(part);
        if (!v) {
            free(a);
            rc = -1;
            break;
        }
        g.member = v;
        if (*a)
            g.member[g.n++] = a;
        else
            free(a);
        p += n + (p[n] == '=');
    }
    syn_group *v = NULL;
    if (!rc && g.n < 2)
        rc = 1;
    else if (!rc && !(v = realloc(r->groups, (size_t)(r->n_groups + 1) * sizeof *v)))
        rc = -1;
    if (rc) {
        for (int i = 0; i < g.n; i++)
            free(g.member[i]);
        free(g.member);
        for (int i = 0; i < n_words; i++)
            free(words[i]);
        return rc;
    }
    r->groups = v;
    int id = r->n_groups++;
    r->groups[id] = g;
    /* the word as written first: "летом" (summer) and "лет" (years) have
     * one Russian stem, but are told apart as written */
    for (int i = 0; i < n_words; i++) {
        int *slot;
        if (!rc && !smap_put(&r->syn_word, words[i], id, &slot))
            *slot = id;
        else
            rc = -1;
        free(words[i]);
    }
    if (rc)
        return -1;
    /* a one-word member finds its group; a word in several groups finds
     * the last one given, so the spec's groups win over the built-in ones */
    for (int i = 0; i < g.n; i++) {
        int *slot;
        if (strchr(g.member[i], ' '))
            continue;
        if (smap_put(&r->syn, g.member[i], id, &slot))
            return -1;
        *slot = id;
    }
    return 0;
}

retr *retr_open(char *err, size_t errlen)
{
    retr *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; STOP_WORDS[i]; i++)
        if (smap_put(&r->stop, STOP_WORDS[i], i, NULL)) {
            snprintf(err, errlen, "out of memory");
            retr_free(r);
            return NULL;
        }
    r->en = sb_stemmer_new("english", "UTF_8");
    r->ru = sb_stemmer_new("russian", "UTF_8");
    if (!r->en || !r->ru) {
        snprintf(err, errlen, "the Snowball stemmers could not be made");
        retr_free(r);
        return NULL;
    }
    r->index = fts_open(err, errlen);
    if (!r->index) {
        retr_free(r);
        return NULL;
    }
    for (int i = 0; RETR_BUILTIN_SYNONYMS[i]; i++)
        if (retr_synonyms(r, RETR_BUILTIN_SYNONYMS[i]) < 0) {
            snprintf(err, errlen, "out of memory");
            retr_free(r);
            return NULL;
        }
    return r;
}

const char *retr_errmsg(retr *r)
{
    return r->err[0] ? r->err : fts_errmsg(r->index);
}

int retr_begin(retr *r)
{
    r->err[0] = '\0';
    return fts_begin(r->index);
}

/* Room for document id in the per-document arrays. 0, -1. */
static int grow_docs(retr *r, int64_t id)
{
    if (id < r->cap_id)
        return 0;
    int cap = r->cap_id ? r->cap_id : 64;
    while (cap <= id)
        cap *= 2;
    float *a = realloc(r->len, (size_t)cap * sizeof *a);
    if (a)
        r->len = a;
    float *b = a ? realloc(r->score, (size_t)cap * sizeof *b) : NULL;
    if (b)
        r->score = b;
    float *c = b ? realloc(r->tf, (size_t)cap * sizeof *c) : NULL;
    if (c)
        r->tf = c;
    unsigned char *d = c ? realloc(r->lang, (size_t)cap) : NULL;
    if (d)
        r->lang = d;
    int *e = d ? realloc(r->docs, (size_t)cap * sizeof *e) : NULL;
    if (e)
        r->docs = e;
    int *f = e ? realloc(r->tf_docs, (size_t)cap * sizeof *f) : NULL;
    if (!f)
        return -1;
    r->tf_docs = f;
    for (int i = r->cap_id; i < cap; i++) {
        r->len[i] = r->score[i] = r->tf[i] = 0;
        r->lang[i] = 0;
    }
    r->cap_id = cap;
    return 0;
}

/* The index + 1 of language l among the index's languages (added when
 * new), 0 for none; -1 when there are too many. */
static int lang_index(retr *r, const char *l)
{
    if (!l)
        return 0;
    for (int i = 0; i < r->n_langs; i++)
        if (!strcmp(r->langs[i], l))
            return i + 1;
    if (r->n_langs == (int)(sizeof r->langs / sizeof *r->langs) ||
        !(r->langs[r->n_langs] = strdup(l)))
        return -1;
    return ++r->n_langs;
}

int retr_add(retr *r, int64_t id, const char *title, const char *body, const char *lang)
{
    int li = id >= 1 && id <= RETR_MAX_ID && !grow_docs(r, id) ? lang_index(r, lang) : -1;
    char *t = li >= 0 ? analyse(r, title, true) : NULL, *b = t ? analyse(r, body, true) : NULL;
    int rc = b ? fts_add(r->index, id, t, b, lang) : -1;
    if (!b) {
        snprintf(r->err, sizeof r->err, li < 0 ? "bad id, too many languages or out of memory"
                                               : "out of memory");
    } else if (rc == 0) {
        r->len[id] = (float)(TITLE_WEIGHT * words_in(t) + words_in(b));
        r->lang[id] = (unsigned char)li;
        r->sum_len += r->len[id];
        if (id > r->max_id)
            r->max_id = (int)id;
    }
    free(t);
    free(b);
    r->n_docs += rc == 0;
    r->avg_len = r->n_docs ? r->sum_len / r->n_docs : 1;
    return rc;
}

/* s without its letter at byte offset at (l bytes long) into out. */
static void without(const char *s, size_t at, size_t l, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s%s", (int)at, s, s + at + l);
}

/* The typo and other-form maps over the words indexed so far: a question
 * word the index lacks finds its neighbours by lookups, not by a scan of
 * the vocabulary (100,000 passages have ~80,000 words). */
static int build_neighbours(retr *r)
{
    mmap_free(&r->deletes);
    mmap_free(&r->longer);
    char buf[WORD_MAX];
    for (int i = 0; i < r->n_raw; i++) {
        const char *w = r->raw[i].word;
        if (r->raw[i].chars < TYPO_MIN - 1)
            continue;
        if (mmap_add(&r->deletes, w, i))
            return -1;
        size_t l;
        for (size_t at = 0; w[at]; at += l) {
            text_utf8_get((const char *)w + at, strlen(w + at), &l);
            without(w, at, l, buf, sizeof buf);
            if (mmap_add(&r->deletes, buf, i))
                return -1;
        }
    }
    for (int i = 0; i < r->n_stems; i++) {
        const char *st = r->stems[i];
        size_t n = strlen(st), unit = (unsigned char)st[0] >= 0x80 ? 2 : 1;
        for (size_t cut = 1; cut <= 2 && n >= (3 + cut) * unit; cut++) {
            snprintf(buf, sizeof buf, "%.*s", (int)(n - cut * unit), st);
            if (mmap_add(&r->longer, buf, i))
                return -1;
        }
    }
    return 0;
}

static int take_df(void *ud, const char *term, int docs)
{
    return smap_put(ud, term, docs, NULL);
}

int retr_commit(retr *r)
{
    if (fts_commit(r->index))
        return -1;
    smap_free(&r->df);
    if (fts_vocab(r->index, take_df, &r->df) || build_neighbours(r)) {
        snprintf(r->err, sizeof r->err, "out of memory reading the vocabulary");
        return -1;
    }
    return 0;
}

/* ---- questions ----------------------------------------------------------------------- */

/* Whether a and b (UTF-8) are at most one edit apart: an insertion, a
 * deletion, a substitution or a transposition of neighbours. */
static bool one_edit(const char *a, const char *b)
{
    uint32_t x[WORD_MAX], y[WORD_MAX];
    size_t nx = 0, ny = 0, l;
    for (const char *p = a; *p && nx < WORD_MAX; p += l)
        x[nx++] = text_utf8_get((const char *)p, strlen(p), &l);
    for (const char *p = b; *p && ny < WORD_MAX; p += l)
        y[ny++] = text_utf8_get((const char *)p, strlen(p), &l);
    if (nx > ny + 1 || ny > nx + 1)
        return false;
    size_t i = 0;
    while (i < nx && i < ny && x[i] == y[i])
        i++;
    if (i == nx && i == ny)
        return true;
    if (nx == ny) {
        if (i + 1 < nx && x[i] == y[i + 1] && x[i + 1] == y[i]) /* transposition */
            i += 2;
        else
            i++;
        for (; i < nx; i++)
            if (x[i] != y[i])
                return false;
        return true;
    }
    const uint32_t *lo = nx > ny ? x : y, *sh = nx > ny ? y : x;
    size_t nl = nx > ny ? nx : ny;
    for (size_t j = i + 1; j < nl; j++)
        if (lo[j] != sh[j - 1])
            return false;
    return true;
}

typedef struct qterm {
    char stem[WORD_MAX];
    const char *alt[ALT_MAX]; /* alt[0] is stem; the others belong to a group */
    int n_alt;
    double idf;
} qterm;

/* The weight of a word the index never saw, as a share of the most a
 * known word can weigh. A name ("Tesla", "Zagreb", "Niš": a capital
 * letter after the first word) is what the question is about: full
 * weight. An everyday word the knowledge happens not to use ("happen",
 * "взять") says less. */
#define UNKNOWN_NAME 1.0
#define UNKNOWN_WORD 0.75

static int df_of(const retr *r, const char *alt)
{
    if (!strchr(alt, ' '))
        return smap_get(&r->df, alt) > 0 ? smap_get(&r->df, alt) : 0;
    /* a phrase: at most as many documents as its rarest word */
    int df = r->n_docs;
    char buf[WORD_MAX * 4];
    snprintf(buf, sizeof buf, "%s", alt);
    for (char *save, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        int d = smap_get(&r->df, t);
        if (d <= 0)
            return 0;
        if (d < df)
            df = d;
    }
    return df;
}

/* The known stem that an unknown stem is another form of: one of them
 * starts with the other, which has 3 letters or more, and they differ by
 * at most two letters ("задерж" of "задержится" is "задержк" of
 * "задержка"; "отмен" of "отменить" is "отм" of "отмена"). Snowball's
 * Russian stemmer leaves such pairs apart. NULL when there is none. */
static bool near_form(const char *k, const char *st)
{
    size_t n = strlen(st), kn = strlen(k);
    size_t shorter = kn < n ? kn : n, longer = kn < n ? n : kn;
    /* letters: Cyrillic takes two bytes, Latin one */
    size_t unit = (unsigned char)st[0] >= 0x80 ? 2 : 1;
    return shorter >= 3 * unit && longer - shorter <= 2 * unit && !strncmp(k, st, shorter);
}

/* The synonym group of stem st, or of another form of it; -1. */
static int group_of(const retr *r, const char *st)
{
    int g = smap_get(&r->syn, st);
    for (size_t i = 0; g < 0 && i < r->syn.cap; i++)
        if (r->syn.key[i] && near_form(r->syn.key[i], st))
            g = r->syn.val[i];
    return g;
}

static const char *other_form(const retr *r, const char *st)
{
    const char *best = NULL;
    int best_df = 0;
    size_t n = strlen(st), unit = (unsigned char)st[0] >= 0x80 ? 2 : 1;
    char buf[WORD_MAX];
    /* shorter: st less one or two letters */
    for (size_t cut = 1; cut <= 2 && n >= (3 + cut) * unit; cut++) {
        snprintf(buf, sizeof buf, "%.*s", (int)(n - cut * unit), st);
        int i = smap_get(&r->stem_ix, buf), df = i >= 0 ? df_of(r, r->stems[i]) : 0;
        if (df > best_df) {
            best = r->stems[i];
            best_df = df;
        }
    }
    /* longer: stems that are st and one or two letters more */
    for (int e = n >= 3 * unit ? smap_get(&r->longer.head, st) : -1; e >= 0; e = r->longer.next[e]) {
        const char *k = r->stems[r->longer.item[e]];
        int df = df_of(r, k);
        if (df > best_df) {
            best = k;
            best_df = df;
        }
    }
    return best;
}

/* The raw words under key in the deletes map one edit from w: the one
 * whose stem is in the most passages goes to *best. */
static void consider_typo(const retr *r, const char *w, const char *key, const char **best,
                          int *best_df)
{
    for (int e = smap_get(&r->deletes.head, key); e >= 0; e = r->deletes.next[e]) {
        const raw_word *rw = &r->raw[r->deletes.item[e]];
        if (!one_edit(w, rw->word))
            continue;
        int df = df_of(r, r->stems[rw->stem]);
        if (df > *best_df) {
            *best = r->stems[rw->stem];
            *best_df = df;
        }
    }
}

/* The known stem of a typo'd word, NULL when there is none (or when the
 * word is a typo of a stop word: *stop is set). */
static const char *typo(const retr *r, const word *w, bool *stop)
{
    *stop = false;
    if (w->chars < TYPO_MIN)
        return NULL;
    for (int i = 0; STOP_WORDS[i]; i++)
        if (strlen(STOP_WORDS[i]) >= TYPO_MIN - 1 && one_edit(w->s, STOP_WORDS[i])) {
            *stop = true;
            return NULL;
        }
    /* one edit apart: the same string after deleting one letter of
     * either (an insertion, a deletion), or of both (a substitution, a
     * transposition) */
    const char *best = NULL;
    int best_df = 0;
    char buf[WORD_MAX];
    consider_typo(r, w->s, w->s, &best, &best_df);
    size_t l;
    for (size_t at = 0; w->s[at]; at += l) {
        text_utf8_get((const char *)w->s + at, strlen(w->s + at), &l);
        without(w->s, at, l, buf, sizeof buf);
        consider_typo(r, w->s, buf, &best, &best_df);
    }
    return best;
}

/* The question's words as search terms (deduplicated). */
static int question_terms(retr *r, const char *q, qterm *t, int max)
{
    const char *p = q, *end = q + strlen(q);
    word w;
    int n = 0;
    int words = 0; /* words before this one */
    for (; n < max && next_word(&p, end, &w); words++) {
        if (skipped(&r->stop, &w))
            continue;
        qterm *cur = &t[n];
        stem(r, &w, cur->stem, sizeof cur->stem);
        int g = smap_get(&r->syn_word, w.s);
        if (g < 0)
            g = df_of(r, cur->stem) ? smap_get(&r->syn, cur->stem) : group_of(r, cur->stem);
        if (g < 0 && df_of(r, cur->stem) == 0) {
            bool stop;
            const char *fix = typo(r, &w, &stop);
            if (stop)
                continue;
            if (!fix)
                fix = other_form(r, cur->stem);
            if (fix) {
                snprintf(cur->stem, sizeof cur->stem, "%s", fix);
                g = group_of(r, cur->stem);
            }
        }
        bool dup = false;
        for (int k = 0; k < n && !dup; k++)
            dup = !strcmp(t[k].stem, cur->stem);
        if (dup)
            continue;
        cur->alt[0] = cur->stem;
        cur->n_alt = 1;
        for (int i = 0; g >= 0 && i < r->groups[g].n && cur->n_alt < ALT_MAX; i++)
            if (strcmp(r->groups[g].member[i], cur->stem))
                cur->alt[cur->n_alt++] = r->groups[g].member[i];
        long df = 0;
        for (int i = 0; i < cur->n_alt; i++)
            df += df_of(r, cur->alt[i]);
        if (df > r->n_docs)
            df = r->n_docs;
        double N = r->n_docs;
        cur->idf = log((N - (double)df + 0.5) / ((double)df + 0.5) + 1.0);
        if (df == 0)
            cur->idf *= w.capital && words > 0 ? UNKNOWN_NAME : UNKNOWN_WORD;
        n++;
    }
    return n;
}

/* Accumulates one word's occurrences (title ones weigh TITLE_WEIGHT). */
static int add_posting(void *ud, int64_t id, int col)
{
    retr *r = ud;
    if (id < 1 || id > r->max_id)
        return 0;
    if (r->tf[id] == 0)
        r->tf_docs[r->n_tf++] = (int)id;
    r->tf[id] += col == 0 ? (float)TITLE_WEIGHT : 1.0f;
    return 0;
}

/* Adds term t's bm25 to the scores of the documents that hold it. */
static int score_term(retr *r, const qterm *t)
{
    for (int a = 0; a < t->n_alt; a++) {
        /* a phrase by its rarest word: score() checks the words stand together */
        const char *w = t->alt[a];
        char buf[WORD_MAX * 4];
        if (strchr(w, ' ')) {
            snprintf(buf, sizeof buf, "%s", w);
            int best = -1;
            for (char *save, *x = strtok_r(buf, " ", &save); x; x = strtok_r(NULL, " ", &save)) {
                int d = smap_get(&r->df, x);
                if (d > 0 && (best < 0 || d < best)) {
                    best = d;
                    w = x;
                }
            }
        }
        if (fts_postings(r->index, w, add_posting, r) < 0)
            return -1;
    }
    for (int i = 0; i < r->n_tf; i++) {
        int d = r->tf_docs[i];
        double tf = r->tf[d], norm = BM25_K1 * (1 - BM25_B + BM25_B * r->len[d] / r->avg_len);
        if (r->score[d] == 0)
            r->docs[r->n_scored++] = d;
        r->score[d] += (float)(t->idf * tf * (BM25_K1 + 1) / (tf + norm));
        r->tf[d] = 0;
    }
    r->n_tf = 0;
    return 0;
}

/* The best RETR_CANDIDATES scored documents in language lang (or none)
 * into cand; the scores are cleared for the next search. */
static int take_candidates(retr *r, const char *lang, retr_hit *cand)
{
    int want = 0; /* 0: any language; else the language's index + 1 */
    for (int i = 0; lang && i < r->n_langs && !want; i++)
        if (!strcmp(r->langs[i], lang))
            want = i + 1;
    int n = 0;
    for (int i = 0; i < r->n_scored; i++) {
        int d = r->docs[i];
        double sc = r->score[d];
        r->score[d] = 0;
        if (lang && r->lang[d] != 0 && r->lang[d] != want)
            continue;
        if (n < RETR_CANDIDATES)
            n++;
        else if (sc <= cand[n - 1].rank)
            continue;
        int k = n - 1; /* insertion into the sorted list */
        while (k > 0 && cand[k - 1].rank < sc) {
            cand[k] = cand[k - 1];
            k--;
        }
        cand[k] = (retr_hit){.id = d, .rank = sc};
    }
    r->n_scored = 0;
    return n;
}

typedef struct score_ctx {
    const retr *r;
    const qterm *t;
    int nt;
    double got;   /* idf of the terms the passage holds */
    double rank;  /* bm25 of the passage, a synonym group as one term */
} score_ctx;

/* How often the analysed text holds alt as whole words in a row. */
static int count(const char *text, const char *alt)
{
    size_t n = strlen(alt);
    int c = 0;
    for (const char *p = text; (p = strstr(p, alt)); p += n)
        c += (p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0');
    return c;
}

/* The passage's coverage and bm25 over all the question's words, the
 * phrases checked. As in the candidates' scores, a synonym group is one
 * term with the group's idf and its occurrences count together (FTS5's
 * bm25 weighed each member by its own rarity: a rare one, "авто",
 * outweighed the word the question was about). */
static int score(void *ud, const char *title, const char *body)
{
    score_ctx *c = ud;
    double len = TITLE_WEIGHT * words_in(title) + words_in(body);
    double norm = BM25_K1 * (1 - BM25_B + BM25_B * len / c->r->avg_len);
    for (int i = 0; i < c->nt; i++) {
        double tf = 0;
        for (int a = 0; a < c->t[i].n_alt; a++)
            tf += TITLE_WEIGHT * count(title, c->t[i].alt[a]) + count(body, c->t[i].alt[a]);
        if (tf > 0) {
            c->got += c->t[i].idf;
            c->rank += c->t[i].idf * tf * (BM25_K1 + 1) / (tf + norm);
        }
    }
    return 0;
}

/* Hits that answer (coverage reaches the threshold) first, each part by
 * rank: a passage that repeats a common word of the question ("drive")
 * must not push the one with its rare word ("Montenegro") out of the
 * answer. */
static int by_rank(const void *a, const void *b)
{
    const retr_hit *x = a, *y = b;
    bool ax = x->coverage >= RETR_MIN_COVERAGE, ay = y->coverage >= RETR_MIN_COVERAGE;
    if (ax != ay)
        return ax ? -1 : 1;
    return x->rank < y->rank ? 1 : x->rank > y->rank ? -1 : (x->id > y->id) - (x->id < y->id);
}

int retr_terms(retr *r, const char *q)
{
    qterm t[RETR_MAX_TERMS];
    return question_terms(r, q, t, RETR_MAX_TERMS);
}

int retr_search(retr *r, const char *q, const char *lang, retr_hit *hits, int max)
{
    qterm t[RETR_MAX_TERMS];
    int nt = question_terms(r, q ? q : "", t, RETR_MAX_TERMS);
    if (nt == 0 || max <= 0 || r->n_docs == 0)
        return 0;
    /* Candidates: bm25 over the words' postings, read from the index
     * (FTS5's own bm25 cost ~1.5 µs a document, a posting read here
     * ~0.2 µs). A common word ("car" in a third of 100,000 passages)
     * costs milliseconds and hardly moves the ranking: the candidates come
     * from the rarest words, up to RETR_POSTINGS documents together (the
     * rarest one always); every word counts in the ranking and the
     * coverage below. */
    int order[RETR_MAX_TERMS];
    long dfs[RETR_MAX_TERMS];
    double total = 0;
    for (int i = 0; i < nt; i++) {
        total += t[i].idf;
        dfs[i] = 0;
        for (int a = 0; a < t[i].n_alt; a++)
            dfs[i] += df_of(r, t[i].alt[a]);
        int k = i;
        while (k > 0 && dfs[order[k - 1]] > dfs[i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    int used = 0;
    long postings = 0;
    for (int k = 0; k < nt; k++) {
        int i = order[k];
        if (dfs[i] == 0) /* a word the index lacks matches nothing */
            continue;
        if (used > 0 && postings + dfs[i] > RETR_POSTINGS)
            break;
        postings += dfs[i];
        used++;
        if (score_term(r, &t[i])) {
            for (int d = 0; d < r->n_scored; d++)
                r->score[r->docs[d]] = 0;
            r->n_scored = 0;
            return -1;
        }
    }
    if (used == 0)
        return 0;
    retr_hit cand[RETR_CANDIDATES];
    int nc = take_candidates(r, lang, cand);
    for (int i = 0; i < nc; i++) {
        score_ctx sc = {.r = r, .t = t, .nt = nt};
        if (fts_text(r->index, cand[i].id, score, &sc) < 0)
            return -1;
        cand[i].coverage = total > 0 ? sc.got / total : 0;
        cand[i].rank = sc.rank;
    }
    qsort(cand, (size_t)nc, sizeof *cand, by_rank);
    int n = nc < max ? nc : max;
    memcpy(hits, cand, (size_t)n * sizeof *hits);
    return n;
}

char *retr_analyse(retr *r, const char *text) { return analyse(r, text ? text : "", false); }

int retr_rank(retr *r, const char *q, const char *const *docs, int n, retr_hit *hits, int max)
{
    qterm t[RETR_MAX_TERMS];
    int nt = question_terms(r, q ? q : "", t, RETR_MAX_TERMS);
    if (nt == 0 || n <= 0 || max <= 0)
        return 0;
    /* the idf of each term among these documents, a synonym group as one */
    double total = 0, sum_len = 0;
    for (int d = 0; d < n; d++)
        sum_len += words_in(docs[d]);
    double avg = sum_len > 0 ? sum_len / n : 1;
    for (int i = 0; i < nt; i++) {
        int df = 0;
        for (int d = 0; d < n; d++) {
            bool has = false;
            for (int a = 0; a < t[i].n_alt && !has; a++)
                has = count(docs[d], t[i].alt[a]) > 0;
            df += has;
        }
        t[i].idf = log(((double)n - df + 0.5) / (df + 0.5) + 1.0);
        total += t[i].idf;
    }
    int nh = 0;
    for (int d = 0; d < n; d++) {
        double norm = BM25_K1 * (1 - BM25_B + BM25_B * words_in(docs[d]) / avg);
        double got = 0, rank = 0;
        for (int i = 0; i < nt; i++) {
            double tf = 0;
            for (int a = 0; a < t[i].n_alt; a++)
                tf += count(docs[d], t[i].alt[a]);
            if (tf > 0) {
                got += t[i].idf;
                rank += t[i].idf * tf * (BM25_K1 + 1) / (tf + norm);
            }
        }
        if (rank <= 0)
            continue;
        retr_hit h = {.id = d, .rank = rank, .coverage = total > 0 ? got / total : 0};
        if (nh < max)
            nh++;
        else if (rank <= hits[nh - 1].rank)
            continue;
        int k = nh - 1; /* insertion into the sorted list */
        while (k > 0 && hits[k - 1].rank < rank) {
            hits[k] = hits[k - 1];
            k--;
        }
        hits[k] = h;
    }
    return nh;
}
