/*
 * memory.c — long-term memory (see memory.h): the part, memory_keep and
 * memory_recall.
 */
#include "actions/memory.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "actions/registry.h"
#include "ai/retr.h"
#include "base/log.h"
#include "base/text.h"
#include "dialogue/action.h"
#include "storage/store_memory.h"

typedef struct memory_part {
    store_memory *t;
    retr *r;  /* analysis and synonyms only: it indexes nothing */
} memory_part;

static void part_close(void *state)
{
    memory_part *p = state;
    if (!p)
        return;
    store_memory_free(p->t);
    retr_free(p->r);
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
    if (!(p->t = store_memory_open(bot_store(b), err, errlen)) || !(p->r = retr_open(err, errlen)))
        return -1;
    for (int i = 0; m->llm && i < m->llm->n_synonyms; i++)
        if (retr_synonyms(p->r, m->llm->synonyms[i]) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    return 0;
}

static int part_forget(void *state, int64_t user_id)
{
    return store_memory_delete_user(((memory_part *)state)->t, user_id) < 0 ? -1 : 0;
}

static int part_export(void *state, int64_t user_id, struct cJSON *root)
{
    cJSON *a = cJSON_AddArrayToObject(root, "memory");
    return a ? store_memory_export(((memory_part *)state)->t, user_id, a) : -1;
}

const bot_part part_memory = {
    .name = "memory",
    .open = part_open,
    .close = part_close,
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

int memory_keep(bot *b, int64_t user_id, const char *kind, const char *text, int64_t session_id)
{
    memory_part *p = bot_part_state(b, BOT_PART_MEMORY);
    if (!p || !kind || !text)
        return -1;
    char *t = clean(text);
    char *terms = t ? retr_analyse(p->r, t) : NULL;
    int64_t id = 0;
    int rc = !t || !terms ? -1
             : !*t        ? 0
             : store_memory_add(p->t, user_id, kind, t, terms, session_id, &id) ||
                       store_memory_trim(p->t, user_id, MEMORY_MAX_ITEMS) < 0
                 ? -1
                 : 0;
    if (rc == 0 && id)
        log_info("memory", "user %" PRId64 ": kept %s %" PRId64, user_id, kind, id);
    free(t);
    free(terms);
    return rc;
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

char *memory_recall(bot *b, int64_t user_id, const char *q)
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
    retr_hit hits[MEMORY_HITS];
    int n = retr_rank(p->r, q, (const char *const *)r->terms, r->n, hits, MEMORY_HITS);
    text_buf out;
    text_buf_init(&out, (size_t)-1);
    int rc = n > 0 ? text_buf_adds(&out, "Long-term memory: what this user asked you to remember and "
                                         "summaries of earlier sessions with them. Use it when it is "
                                         "relevant to the question; do not mention it otherwise.\n")
                   : 0;
    size_t budget = (size_t)MEMORY_TOKENS * 4, used = 0;
    for (int i = 0; i < n && !rc; i++) {
        const char *text = r->text[hits[i].id];
        size_t len = strlen(text);
        if (used + len > budget) /* a shorter one further down may fit */
            continue;
        used += len;
        char line[64];
        snprintf(line, sizeof line, "- (%s) ", r->kind[hits[i].id]);
        rc = text_buf_adds(&out, line) || text_buf_adds(&out, text) || text_buf_addc(&out, '\n');
    }
    recall_free(r);
    if (rc || n <= 0) {
        text_buf_free(&out);
        return NULL;
    }
    return text_buf_take(&out);
}
