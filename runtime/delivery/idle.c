/*
 * idle.c — see idle.h.
 */
#include "delivery/idle.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "actions/llm.h"
#include "actions/session.h"
#include "ai/llm.h"
#include "base/log.h"
#include "net/loop.h"
#include "storage/store.h"

#define IDLE_SWEEP_MS 5000 /* how often due sessions are looked for */
#define IDLE_INFLIGHT 4    /* summaries asked of the model at once */
#define IDLE_BATCH 64      /* due sessions read per look (closed at once without a model) */

typedef struct idle_job {
    idle_sweep *w;
    act_idle k;
    llm_call *call; /* NULL: the slot is free */
    size_t asked;   /* bytes of the request, to estimate its tokens */
} idle_job;

struct idle_sweep {
    bot *b;
    loop *lp;
    llm_client *llm;  /* NULL without OPENAI_API_BASE: extractive summaries */
    long next_ms;     /* the next look, monotonic ms */
    idle_job jobs[IDLE_INFLIGHT];
};

idle_sweep *idle_sweep_new(bot *b, loop *lp)
{
    const bm_machine *m = bot_machine(b);
    if (!m->llm || m->llm->session_idle <= 0)
        return NULL;
    idle_sweep *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->b = b;
    w->lp = lp;
    const char *base = getenv("OPENAI_API_BASE");
    if (base && *base) {
        char err[256];
        llm_options o = llm_options_from_env();
        w->llm = llm_new(lp, &o, err, sizeof err);
        if (!w->llm)
            log_warn("idle", "idle sessions get extractive summaries: %s", err);
    }
    for (int i = 0; i < IDLE_INFLIGHT; i++)
        w->jobs[i].w = w;
    log_info("idle", "sessions close after %ld s without a question", m->llm->session_idle);
    return w;
}

void idle_sweep_free(idle_sweep *w)
{
    if (!w)
        return;
    for (int i = 0; i < IDLE_INFLIGHT; i++)
        if (w->jobs[i].call)
            llm_cancel(w->jobs[i].call);
    llm_free(w->llm);
    free(w);
}

static void on_summary(void *ud, const llm_result *r)
{
    idle_job *j = ud;
    j->call = NULL;
    if (r->status != LLM_OK)
        log_warn("idle", "user %" PRId64 ": no summary from the model (%s); an extractive one",
                 j->k.user_id, r->error && *r->error ? r->error : llm_status_str(r->status));
    long tokens = act_session_summary_tokens(r->prompt_tokens, r->completion_tokens, j->asked,
                                             r->len);
    act_session_idle_close(j->w->b, &j->k, r->status == LLM_OK ? r->text : NULL, tokens);
}

static void on_delta(void *ud, const char *text, size_t len)
{
    (void)ud;
    (void)text;
    (void)len;
}

/* Asks the model for k's summary in a free slot: true when it is asked. */
static bool ask(idle_sweep *w, const act_idle *k)
{
    idle_job *j = NULL;
    for (int i = 0; i < IDLE_INFLIGHT && !j; i++) {
        if (w->jobs[i].call && w->jobs[i].k.id == k->id)
            return true; /* already being summarised */
        if (!w->jobs[i].call)
            j = &w->jobs[i];
    }
    if (!j)
        return true; /* all slots busy: the next sweep */
    char *js = act_session_summary_request(w->b, k);
    j->asked = js ? strlen(js) : 0;
    cJSON *arr = js ? cJSON_Parse(js) : NULL;
    free(js);
    int n = cJSON_GetArraySize(arr);
    llm_msg *msgs = n > 0 ? calloc((size_t)n, sizeof *msgs) : NULL;
    for (int i = 0; msgs && i < n; i++) {
        const cJSON *m = cJSON_GetArrayItem(arr, i);
        msgs[i].role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "role"));
        msgs[i].content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "content"));
    }
    j->k = *k;
    j->call = msgs ? llm_chat(w->llm, NULL, msgs, n, on_delta, on_summary, j) : NULL;
    free(msgs);
    cJSON_Delete(arr);
    return j->call != NULL;
}

void idle_sweep_run(idle_sweep *w)
{
    if (!w || loop_now_ms() < w->next_ms || store_in_transaction(bot_store(w->b)))
        return;
    w->next_ms = loop_now_ms() + IDLE_SWEEP_MS;
    act_idle due[IDLE_BATCH];
    /* with a model, the oldest few: those being summarised come first */
    int n = act_session_idle_due(w->b, (int64_t)time(NULL), due,
                                 w->llm ? IDLE_INFLIGHT * 2 : IDLE_BATCH);
    for (int i = 0; i < n; i++)
        if (!w->llm || !act_llm_allowed(w->b, due[i].user_id) || !ask(w, &due[i]))
            act_session_idle_close(w->b, &due[i], NULL, 0);
}
