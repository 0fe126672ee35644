/*
 * memory.c — long-term memory (see memory.h): the part, memory_keep and
 * memory_recall.
 */
#include "actions/memory.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "actions/registry.h"
#include "ai/retr.h"
#include "ai/memvec.h"
#include "ai/vec.h"
#include "base/log.h"
#include "base/text.h"
#include "dialogue/action.h"
#include "storage/store_memory.h"

#define MEMORY_FUSE 16 /* items of each ranking fused (hybrid) */

typedef struct memory_part {
    store_memory *t;
    const bm_machine *m;
    /* analysis and synonyms only: it indexes nothing. Opened on the first
     * item kept or read (analyser()): a bot whose users keep nothing (the
     * rental bot) pays nothing for it. */
    retr *r;
    char *model;       /* EMBEDDINGS_MODEL when EMBEDDINGS_BASE is set, else NULL */
    memvec *mv;        /* the transport's filler of missing vectors, or NULL */
    double min_cosine; /* MEMORY_MIN_COSINE */
} memory_part;

static void part_close(void *state)
{
    memory_part *p = state;
    if (!p)
        return;
    memvec_free(p->mv);
    store_memory_free(p->t);
    retr_free(p->r);
    free(p->model);
    free(p);
}

static int part_open(bot *b, void **state, char *err, size_t errlen)
{
    const bm_machine *m = bot_machine(b);
    memory_part *p = calloc(1, sizeof *p);
    *state = p;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->m = m;
    if (!(p->t = store_memory_open(bot_store(b), err, errlen)))
        return -1;
    const char *base = getenv("EMBEDDINGS_BASE"), *model = getenv("EMBEDDINGS_MODEL");
    if (base && *base && model && *model && !(p->model = strdup(model))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *mc = getenv("MEMORY_MIN_COSINE");
    char *end = NULL;
    p->min_cosine = mc && *mc ? strtod(mc, &end) : 0.5;
    if (mc && *mc && (*end || p->min_cosine < -1 || p->min_cosine > 1)) {
        snprintf(err, errlen, "MEMORY_MIN_COSINE must be a number from -1 to 1, not '%s'", mc);
        return -1;
    }
    return 0;
}

/* The part's retr with the built-in and the spec's synonyms, opened now
 * if need be; NULL (logged) when it cannot be. */
static retr *analyser(memory_part *p)
{
    if (p->r)
        return p->r;
    char err[128];
    retr *r = retr_open(err, sizeof err);
    for (int i = 0; r && p->m->llm && i < p->m->llm->n_synonyms; i++)
        if (retr_synonyms(r, p->m->llm->synonyms[i]) < 0) {
            snprintf(err, sizeof err, "out of memory");
            retr_free(r);
            r = NULL;
        }
    if (!r)
        log_error("memory", "no text analysis: %s", err);
    return p->r = r;
}

static int part_forget(void *state, int64_t user_id)
{
    return store_memory_delete_user(((memory_part *)state)->t, user_id) < 0 ? -1 : 0;
}

static int part_export(void *state, int64_t user_id, struct cJSON *root)
{
    cJSON *a = cJSON_AddArrayToObject(root, "memory");
    cJSON *v = cJSON_AddArrayToObject(root, "memory_vectors");
    return a && v ? store_memory_export(((memory_part *)state)->t, user_id, a, v) : -1;
}

/* ---- the screens: /memory's list, /forget's confirmation -------------------- */

#define MEMORY_CB "mem:"         /* callback data: mem:f:<id>, mem:all:y, mem:all:n */
#define MEMORY_LIST_MAX 20       /* items /memory shows, newest first */
#define MEMORY_LIST_CHARS 200    /* bytes of one item in the list (cut at a character) */
#define MEMORY_ROW 5             /* 🗑 buttons a row */

typedef struct listing {
    int n;
    int64_t id[MEMORY_LIST_MAX];
    text_buf text;
} listing;

static int list_item(void *ud, int64_t id, const char *kind, const char *text, const char *terms,
                     int64_t at)
{
    listing *l = ud;
    (void)kind, (void)terms, (void)at;
    if (l->n == MEMORY_LIST_MAX)
        return 0;
    size_t n = strlen(text);
    bool cut = n > MEMORY_LIST_CHARS;
    if (cut) {
        n = MEMORY_LIST_CHARS;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    char num[24];
    snprintf(num, sizeof num, "\n%d. ", l->n + 1);
    l->id[l->n++] = id;
    return text_buf_adds(&l->text, num) || text_buf_add(&l->text, text, n) ||
           (cut && text_buf_adds(&l->text, "…"));
}

/* Frees a markup's buttons (what bm_effects would on clear). */
static void markup_free(bm_markup *mk)
{
    for (int i = 0; i < mk->n_buttons; i++) {
        free(mk->buttons[i].label);
        free(mk->buttons[i].data);
    }
    free(mk->buttons);
    free(mk->row_len);
    *mk = (bm_markup){0};
}

/* An inline keyboard of n callback buttons, `per_row` a row, into mk. */
static int inline_keyboard(bm_markup *mk, char **labels, char **data, int n, int per_row)
{
    int rows = (n + per_row - 1) / per_row;
    mk->buttons = calloc((size_t)n, sizeof *mk->buttons);
    mk->row_len = calloc((size_t)rows, sizeof *mk->row_len);
    if (!mk->buttons || !mk->row_len) {
        for (int i = 0; i < n; i++) {
            free(labels[i]);
            free(data[i]);
        }
        free(mk->buttons);
        free(mk->row_len);
        *mk = (bm_markup){0};
        return -1;
    }
    mk->kind = BM_MK_INLINE;
    mk->n_rows = rows;
    mk->n_buttons = n;
    for (int i = 0; i < n; i++) {
        mk->buttons[i] = (bm_button_out){.label = labels[i], .data = data[i],
                                         .kind = BM_BTN_CALLBACK};
        mk->row_len[i / per_row]++;
    }
    for (int i = 0; i < n; i++)
        if (!labels[i] || !data[i]) {
            markup_free(mk);
            return -1;
        }
    return 0;
}

/* The user's memory as a message into e (text and markup, e's own): the
 * heading, the newest items numbered, a 🗑 button each; sys_memory_empty
 * when nothing is kept. 0 or -1. */
static int list_screen(memory_part *p, const bm_machine *m, const bm_session *s,
                       const bm_user *u, bm_effect *e)
{
    listing *l = calloc(1, sizeof *l);
    if (!l)
        return -1;
    text_buf_init(&l->text, (size_t)-1);
    char *head = NULL;
    int rc = store_memory_each(p->t, s->user_id, MEMORY_LIST_MAX, list_item, l) < 0 ? -1 : 0;
    if (!rc && l->n == 0) {
        rc = (e->text = bm_render(m, s, u, m->sys_texts[BM_SYS_MEMORY_EMPTY], "")) ? 0 : -1;
    } else if (!rc) {
        head = bm_render(m, s, u, m->sys_texts[BM_SYS_MEMORY_LIST], "");
        char *body = text_buf_take(&l->text);
        size_t len = head && body ? strlen(head) + strlen(body) + 1 : 0;
        e->text = len ? malloc(len) : NULL;
        if (e->text)
            snprintf(e->text, len, "%s%s", head, body);
        free(body);
        char *labels[MEMORY_LIST_MAX], *data[MEMORY_LIST_MAX];
        for (int i = 0; i < l->n; i++) {
            char b[48];
            snprintf(b, sizeof b, "🗑 %d", i + 1);
            labels[i] = strdup(b);
            snprintf(b, sizeof b, MEMORY_CB "f:%" PRId64, l->id[i]);
            data[i] = strdup(b);
        }
        rc = !e->text || inline_keyboard(&e->markup, labels, data, l->n, MEMORY_ROW) ? -1 : 0;
    }
    free(head);
    text_buf_free(&l->text);
    free(l);
    return rc;
}

/* Appends the answer to callback query `in` with the pop-up sys text t
 * (BM_SYS_COUNT: none, the message itself says what happened). */
static int answer_press(const bm_machine *m, const bm_session *s, const bm_input *in,
                        bm_effects *fx, bm_sys_text t)
{
    bm_effect *e = bm_effects_add(fx, BM_FX_ANSWER, s->chat_id);
    if (!e || !(e->callback_id = strdup(in->callback_id ? in->callback_id : "")))
        return -1;
    if (t == BM_SYS_COUNT)
        return 0;
    return (e->text = bm_render(m, s, &in->user, m->sys_texts[t], "")) ? 0 : -1;
}

/* A press of a 🗑 button of /memory or of /forget's confirmation: always
 * answered; the item (of the presser: a forged or another user's id
 * deletes nothing) forgotten and the list shown again in its message, or
 * everything forgotten (or kept) and the confirmation replaced by what
 * happened. */
static int part_pre_step(void *state, const bm_machine *m, bm_session *s, const bm_input *in,
                         bm_effects *step_fx)
{
    memory_part *p = state;
    size_t pl = strlen(MEMORY_CB);
    if (!p || in->kind != BM_IN_CALLBACK || !in->text || strncmp(in->text, MEMORY_CB, pl))
        return 0;
    const char *d = in->text + pl;
    bm_effect *e;
    if (!strncmp(d, "f:", 2)) {
        char *end;
        long long id = strtoll(d + 2, &end, 10);
        int gone = id > 0 && !*end ? store_memory_forget(p->t, s->user_id, id) : 0;
        if (gone < 0)
            return -1;
        log_info("memory", "user %" PRId64 ": item %lld %s", s->user_id, id,
                 gone ? "forgotten" : "was not theirs to forget (gone, or never)");
        if (answer_press(m, s, in, step_fx, gone ? BM_SYS_MEMORY_FORGOTTEN : BM_SYS_MEMORY_GONE))
            return -1;
        if (in->message_id <= 0)
            return 1;
        e = bm_effects_add(step_fx, BM_FX_EDIT, s->chat_id);
        if (!e)
            return -1;
        e->message_id = in->message_id;
        return list_screen(p, m, s, &in->user, e) ? -1 : 1;
    }
    bool yes = !strcmp(d, "all:y");
    if (!yes && strcmp(d, "all:n"))
        return answer_press(m, s, in, step_fx, BM_SYS_MEMORY_GONE) ? -1 : 1;
    int n = yes ? store_memory_delete_user(p->t, s->user_id) : 0;
    if (n < 0)
        return -1;
    if (yes)
        log_info("memory", "user %" PRId64 ": forgot all %d items", s->user_id, n);
    bm_sys_text t = yes ? BM_SYS_MEMORY_ALL_FORGOTTEN : BM_SYS_MEMORY_ALL_KEPT;
    if (answer_press(m, s, in, step_fx, BM_SYS_COUNT))
        return -1;
    e = bm_effects_add(step_fx, in->message_id > 0 ? BM_FX_EDIT : BM_FX_SEND, s->chat_id);
    if (!e)
        return -1;
    e->message_id = in->message_id;
    return (e->text = bm_render(m, s, &in->user, m->sys_texts[t], "")) ? 1 : -1;
}

const bot_part part_memory = {
    .name = "memory",
    .open = part_open,
    .close = part_close,
    .pre_step = part_pre_step,
    .forget_user = part_forget,
    .export_user = part_export,
};

/* text without surrounding blanks, cut at MEMORY_MAX_TEXT bytes on a
 * character boundary; malloc'd, NULL on out-of-memory. */
static char *clean(const char *text)
{
    while (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')
        text++;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\n' || text[n - 1] == '\t' ||
                     text[n - 1] == '\r'))
        n--;
    if (n > MEMORY_MAX_TEXT) {
        n = MEMORY_MAX_TEXT;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, text, n);
        s[n] = '\0';
    }
    return s;
}

/* memory_keep, the item's id into *idp (0 when nothing was kept). */
static int keep(memory_part *p, int64_t user_id, const char *kind, const char *text,
                int64_t session_id, int64_t *idp)
{
    *idp = 0;
    if (!p || !kind || !text)
        return -1;
    retr *r = analyser(p);
    char *t = r ? clean(text) : NULL;
    char *terms = t ? retr_analyse(r, t) : NULL;
    int64_t id = 0;
    /* a session continued and closed again is summed up whole again: its
     * new summary replaces the old one rather than standing beside it */
    bool replaces = t && terms && *t && session_id > 0 && !strcmp(kind, "summary");
    int rc = !t || !terms                                                          ? -1
             : !*t                                                                 ? 0
             : replaces && store_memory_forget_summary(p->t, user_id, session_id) < 0 ? -1
             : store_memory_add(p->t, user_id, kind, t, terms, session_id, &id) ||
                       store_memory_trim(p->t, user_id, MEMORY_MAX_ITEMS) < 0
                 ? -1
                 : 0;
    if (rc == 0 && id) {
        log_info("memory", "user %" PRId64 ": kept %s %" PRId64, user_id, kind, id);
        memvec_dirty(p->mv);
    }
    free(t);
    free(terms);
    *idp = rc == 0 ? id : 0;
    return rc;
}

int memory_keep(bot *b, int64_t user_id, const char *kind, const char *text, int64_t session_id)
{
    int64_t id;
    return keep(bot_part_state(b, BOT_PART_MEMORY), user_id, kind, text, session_id, &id);
}

/* ---- recall ------------------------------------------------------------------ */

#define RECALL_MAX MEMORY_MAX_ITEMS

/* The user's items as read for one question. */
typedef struct recall {
    int n;
    int64_t id[RECALL_MAX];
    char *kind[RECALL_MAX], *text[RECALL_MAX], *terms[RECALL_MAX];
} recall;

static int take_item(void *ud, int64_t id, const char *kind, const char *text, const char *terms,
                     int64_t at)
{
    recall *r = ud;
    (void)at;
    if (r->n == RECALL_MAX)
        return 0;
    int i = r->n;
    r->id[i] = id;
    r->kind[i] = strdup(kind);
    r->text[i] = strdup(text);
    r->terms[i] = strdup(terms);
    r->n++;
    return r->kind[i] && r->text[i] && r->terms[i] ? 0 : -1;
}

static void recall_free(recall *r)
{
    for (int i = 0; r && i < r->n; i++) {
        free(r->kind[i]);
        free(r->text[i]);
        free(r->terms[i]);
    }
    free(r);
}

/* The user's vectors, matched to the items read (r->id is newest first,
 * so descending): the cosine of each to the question. */
typedef struct cosines {
    const recall *r;
    const float *qv;
    int dims;
    double qnorm;
    float cos[RECALL_MAX];
    bool has[RECALL_MAX];
} cosines;

static int take_vec(void *ud, int64_t item_id, const float *v, int dims)
{
    cosines *c = ud;
    if (dims != c->dims)
        return 0;
    int lo = 0, hi = c->r->n - 1, at = -1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c->r->id[mid] == item_id) {
            at = mid;
            break;
        }
        if (c->r->id[mid] > item_id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    if (at < 0)
        return 0;
    double dot = 0, nn = 0;
    for (int i = 0; i < dims; i++) {
        dot += (double)v[i] * c->qv[i];
        nn += (double)v[i] * v[i];
    }
    if (nn > 0 && c->qnorm > 0) {
        c->cos[at] = (float)(dot / (sqrt(nn) * c->qnorm));
        c->has[at] = true;
    }
    return 0;
}

/* The items nearest to qv whose cosine reaches the part's minimum, best
 * first, into ids (indices into r->id). Their number (0 on an error,
 * logged by the store). */
static int nearest(memory_part *p, int64_t user_id, const recall *r, const float *qv, int dims,
                   int *ids, int max)
{
    cosines *c = calloc(1, sizeof *c);
    if (!c)
        return 0;
    c->r = r;
    c->qv = qv;
    c->dims = dims;
    for (int i = 0; i < dims; i++)
        c->qnorm += (double)qv[i] * qv[i];
    c->qnorm = sqrt(c->qnorm);
    int n = 0;
    if (store_memory_vecs(p->t, user_id, p->model, take_vec, c) >= 0) {
        for (int i = 0; i < r->n; i++) {
            if (!c->has[i] || c->cos[i] < p->min_cosine)
                continue;
            if (n < max)
                n++;
            else if (c->cos[i] <= c->cos[ids[n - 1]])
                continue;
            int k = n - 1; /* insertion into the sorted list */
            while (k > 0 && c->cos[ids[k - 1]] < c->cos[i]) {
                ids[k] = ids[k - 1];
                k--;
            }
            ids[k] = i;
        }
    }
    free(c);
    return n;
}

char *memory_recall_hybrid(bot *b, int64_t user_id, const char *q, const float *qv, int dims)
{
    memory_part *p = bot_part_state(b, BOT_PART_MEMORY);
    if (!p || !q || !retr_has_words(q))
        return NULL;
    recall *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (store_memory_each(p->t, user_id, RECALL_MAX, take_item, r) < 0 || r->n == 0) {
        recall_free(r);
        return NULL;
    }
    /* the words' ranking, and with a vector the meaning's, fused */
    retr *an = analyser(p);
    if (!an) {
        recall_free(r);
        return NULL;
    }
    retr_hit hits[MEMORY_FUSE];
    int nl = retr_rank(an, q, (const char *const *)r->terms, r->n, hits, MEMORY_FUSE);
    int order[2 * MEMORY_FUSE], n = 0;
    if (qv && dims > 0 && p->model) {
        int lex[MEMORY_FUSE], near[MEMORY_FUSE];
        for (int i = 0; i < nl; i++)
            lex[i] = (int)hits[i].id;
        int nv = nearest(p, user_id, r, qv, dims, near, MEMORY_FUSE);
        vec_fused f[2 * MEMORY_FUSE];
        n = vec_fuse(lex, nl, near, nv, f, MEMORY_HITS);
        for (int i = 0; i < n; i++)
            order[i] = f[i].id;
    } else {
        for (int i = 0; i < nl && i < MEMORY_HITS; i++)
            order[n++] = (int)hits[i].id;
    }
    text_buf out;
    text_buf_init(&out, (size_t)-1);
    int rc = n > 0 ? text_buf_adds(&out, "Long-term memory: what this user asked you to remember and "
                                         "summaries of earlier sessions with them. Use it when it is "
                                         "relevant to the question; do not mention it otherwise.\n")
                   : 0;
    size_t budget = (size_t)MEMORY_TOKENS * 4, used = 0;
    for (int i = 0; i < n && !rc; i++) {
        const char *text = r->text[order[i]];
        size_t len = strlen(text);
        if (used + len > budget) /* a shorter one further down may fit */
            continue;
        used += len;
        char line[64];
        snprintf(line, sizeof line, "- (%s) ", r->kind[order[i]]);
        rc = text_buf_adds(&out, line) || text_buf_adds(&out, text) || text_buf_addc(&out, '\n');
    }
    recall_free(r);
    if (rc || n <= 0) {
        text_buf_free(&out);
        return NULL;
    }
    return text_buf_take(&out);
}

char *memory_recall(bot *b, int64_t user_id, const char *q)
{
    return memory_recall_hybrid(b, user_id, q, NULL, 0);
}

int memory_embed_start(bot *b, embed_client *ec)
{
    memory_part *p = bot_part_state(b, BOT_PART_MEMORY);
    if (!p || !p->model || !ec || p->mv)
        return 0;
    p->mv = memvec_new(p->t, ec);
    return p->mv ? 0 : -1;
}

void memory_embed_pump(bot *b)
{
    memory_part *p = bot_part_state(b, BOT_PART_MEMORY);
    if (p)
        memvec_pump(p->mv);
}

void memory_embed_stop(bot *b)
{
    memory_part *p = bot_part_state(b, BOT_PART_MEMORY);
    if (p) {
        memvec_free(p->mv);
        p->mv = NULL;
    }
}

bool memory_wants_vector(bot *b, int64_t user_id)
{
    memory_part *p = bot_part_state(b, BOT_PART_MEMORY);
    return p && p->model && store_memory_has_vecs(p->t, user_id, p->model) == 1;
}

/* ---- the actions --------------------------------------------------------------- */

/* How a request to remember may start; the rest is the fact. Longest
 * first; ASCII letters match in any case. */
static const char *const REMEMBER_PREFIXES[] = {
    "please remember that", "please remember", "remember that", "remember:", "remember",
    "запомни, пожалуйста, что", "запомни пожалуйста что", "запомни, что", "запомни что",
    "запомни:", "запомни", "Запомни, пожалуйста, что", "Запомни пожалуйста что",
    "Запомни, что", "Запомни что", "Запомни:", "Запомни", NULL,
};

/* The fact in a request to remember: text after its prefix (and the
 * commas, colons and dashes after that). Borrowed from text. */
static const char *the_fact(const char *text)
{
    for (int i = 0; REMEMBER_PREFIXES[i]; i++) {
        size_t n = strlen(REMEMBER_PREFIXES[i]);
        if (strncasecmp(text, REMEMBER_PREFIXES[i], n))
            continue;
        /* a whole word: "remembering" is no prefix */
        unsigned char next = (unsigned char)text[n];
        if (next && next != ' ' && next != ',' && next != ':' && next != '-' && next != '\n' &&
            REMEMBER_PREFIXES[i][n - 1] != ':')
            continue;
        text += n;
        break;
    }
    while (*text == ' ' || *text == ',' || *text == ':' || *text == '-' || *text == '\n')
        text++;
    return text;
}

/* Keeps fact (with its vector when vec is not NULL) and says it back. */
static int keep_and_say(bot_act *c, const char *fact, const float *vec, int dims)
{
    memory_part *p = bot_part_state(c->b, BOT_PART_MEMORY);
    int64_t id;
    if (keep(p, c->s->user_id, "fact", fact, 0, &id))
        return -1;
    if (vec && id && store_memory_put_vec(p->t, c->s->user_id, id, p->model, vec, dims))
        return -1;
    const bm_machine *m = bot_machine(c->b);
    char *said = bm_render(m, c->s, &c->in->user, m->sys_texts[BM_SYS_MEMORY_KEPT], fact);
    return said ? bot_act_say(c, said) : -1;
}

/* Memory is private: in a group (chat id < 0) the actions say so instead
 * (1), and the model's prompts there carry none of it (llm.c). */
static int in_group(bot_act *c, int *rc)
{
    if (c->s->chat_id > 0)
        return 0;
    *rc = bot_act_say_sys(c, BM_SYS_MEMORY_PRIVATE);
    return 1;
}

/* `remember`: keeps the fact of "remember that …" and says it back. With
 * an embeddings model and an event loop, the fact is embedded first
 * (remember_resume keeps it). */
static int remember_run(bot_act *c)
{
    memory_part *p = bot_part_state(c->b, BOT_PART_MEMORY);
    int rc;
    if (!p)
        return bot_act_say_sys(c, BM_SYS_UNAVAILABLE);
    if (in_group(c, &rc))
        return rc;
    char *fact = clean(the_fact(c->text));
    if (!fact)
        return -1;
    if (!*fact || !retr_has_words(fact)) {
        rc = bot_act_say_sys(c, BM_SYS_MEMORY_WHAT);
    } else if (p->model && c->io_req) {
        if (!bot_act_can_defer(c)) {
            free(fact);
            return 0;
        }
        c->io_req->kind = BOT_IO_EMBED;
        c->io_req->u.embed.text = fact; /* taken */
        return 0;
    } else {
        rc = keep_and_say(c, fact, NULL, 0);
    }
    free(fact);
    return rc;
}

/* The fact's embedding arrived, or failed: then the fact is kept without
 * one, recalled by its words. */
static int remember_resume(bot_act *c)
{
    const bot_io_res *res = c->io_res;
    char *fact = clean(the_fact(c->text));
    if (!fact)
        return -1;
    int dims = res->ok && res->body && res->len % sizeof(float) == 0
                   ? (int)(res->len / sizeof(float)) : 0;
    if (!dims)
        log_warn("memory", "user %" PRId64 ": no embedding of the fact (%s); kept for its words",
                 c->s->user_id, res->error ? res->error : "an empty answer");
    int rc = keep_and_say(c, fact, dims ? (const float *)(const void *)res->body : NULL, dims);
    free(fact);
    return rc;
}

/* `memory_list`: the list with a 🗑 button an item. */
static int memory_list_run(bot_act *c)
{
    memory_part *p = bot_part_state(c->b, BOT_PART_MEMORY);
    int rc;
    if (!p)
        return bot_act_say_sys(c, BM_SYS_UNAVAILABLE);
    if (in_group(c, &rc))
        return rc;
    bm_effect *e = bm_effects_add(c->out, BM_FX_SEND, c->s->chat_id);
    return e ? list_screen(p, bot_machine(c->b), c->s, &c->in->user, e) : -1;
}

/* `memory_forget`: asks to confirm (the press is part_pre_step's). */
static int memory_forget_run(bot_act *c)
{
    memory_part *p = bot_part_state(c->b, BOT_PART_MEMORY);
    int rc;
    if (!p)
        return bot_act_say_sys(c, BM_SYS_UNAVAILABLE);
    if (in_group(c, &rc))
        return rc;
    long n = store_memory_count(p->t, c->s->user_id);
    if (n < 0)
        return -1;
    if (n == 0)
        return bot_act_say_sys(c, BM_SYS_MEMORY_EMPTY);
    const bm_machine *m = bot_machine(c->b);
    char num[24];
    snprintf(num, sizeof num, "%ld", n);
    bm_effect *e = bm_effects_add(c->out, BM_FX_SEND, c->s->chat_id);
    if (!e || !(e->text = bm_render(m, c->s, &c->in->user,
                                    m->sys_texts[BM_SYS_MEMORY_FORGET_CONFIRM], num)))
        return -1;
    char *labels[2] = {
        bm_render(m, c->s, &c->in->user, m->sys_texts[BM_SYS_MEMORY_FORGET_YES], ""),
        bm_render(m, c->s, &c->in->user, m->sys_texts[BM_SYS_MEMORY_FORGET_NO], ""),
    };
    char *data[2] = {strdup(MEMORY_CB "all:y"), strdup(MEMORY_CB "all:n")};
    return inline_keyboard(&e->markup, labels, data, 2, 1);
}

const bot_action act_remember = {.name = "remember", .run = remember_run,
                                  .resume = remember_resume};
const bot_action act_memory_list = {.name = "memory_list", .run = memory_list_run};
const bot_action act_memory_forget = {.name = "memory_forget", .run = memory_forget_run};
