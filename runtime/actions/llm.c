/*
 * llm.c — the `llm` action: answer the user's text, and the part behind it
 * (the knowledge index, the model's configuration, daily token limits).
 *
 * Input of only numbers, dates or punctuation is no question: the user is
 * asked what they mean (sys_not_a_question). Offline (no OPENAI_API_BASE),
 * the answer is the best-matching passage of the spec's knowledge
 * (kb_extract: local and fast, so it runs inside the input's transaction).
 * When nothing matches well, or the question is one the spec's
 * handoff_patterns reserve for a human, the user gets sys_no_answer with
 * the "call an operator" button (actions/handoff.h). With OPENAI_API_BASE
 * set the model answers: the request is deferred I/O (dialogue/deferred.h)
 * which the transport streams into the chat as drafts; the input runs
 * again with the whole answer (resume), which keeps the question and the
 * answer in the user's open session (opening one when none is: the
 * model's context is that session's turns, actions/session.h). In strict
 * mode a question the knowledge does not answer goes to a human without
 * asking the model, unless the spec says ask_without_context.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "actions/feedback.h"
#include "actions/handoff.h"
#include "actions/llm.h"
#include "actions/memory.h"
#include "actions/registry.h"
#include "actions/session.h"
#include "actions/tools.h"
#include "ai/kb.h"
#include "ai/llm.h"
#include "ai/token_limits.h"
#include "base/log.h"
#include "dialogue/action.h"
#include "people/handoff.h"
#include "storage/store.h"

#define LLM_TURNS 6 /* earlier messages with the model in its request */
#define LLM_LONG_QUESTION 5 /* words: a trigger's keyword inside gives way to an answer */
#define LLM_FOLLOW_UP_MAX 1024 /* bytes of the previous question a follow-up is searched with */

typedef struct llm_part {
    kb *kb;       /* the spec's knowledge, NULL without any */
    lim *lim;     /* daily token limits */
    bool remote;  /* OPENAI_API_BASE is set */
} llm_part;

/* Opens the knowledge index of the spec's `llm:`. */
static int open_knowledge(llm_part *p, const bm_machine *m, char *err, size_t errlen)
{
    const bm_llm *l = m->llm;
    if (!l || l->n_knowledge == 0)
        return 0;
    kb_doc *docs = calloc((size_t)l->n_knowledge, sizeof *docs);
    if (!docs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < l->n_knowledge; i++) {
        const bm_knowledge *k = &l->knowledge[i];
        docs[i] = (kb_doc){.name = k->name, .text = k->text, .len = k->len,
                           .lang = k->lang >= 0 && k->lang < m->n_langs ? m->langs[k->lang]
                                                                        : NULL};
    }
    p->kb = kb_open(docs, l->n_knowledge, l->synonyms, l->n_synonyms, err, errlen);
    free(docs);
    if (!p->kb)
        return -1;
    log_info("bot", "knowledge: %d chunks from %d files; answers %s", kb_chunk_count(p->kb),
             l->n_knowledge, p->remote ? "by the model" : "offline, from the passages");
    return 0;
}

static void part_close(void *state)
{
    llm_part *p = state;
    if (!p)
        return;
    lim_free(p->lim);
    kb_free(p->kb);
    free(p);
}

static int part_open(bot *b, void **state, char *err, size_t errlen)
{
    const bm_machine *m = bot_machine(b);
    const bm_llm *l = m->llm;
    llm_part *p = calloc(1, sizeof *p);
    *state = p;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *base = getenv("OPENAI_API_BASE");
    p->remote = base && *base;
    if (open_knowledge(p, m, err, errlen))
        return -1;
    if (l && lim_zone_setup(l->timezone) == 0 && l->timezone)
        log_info("bot", "daily limits count days in %s", l->timezone);
    long daily = lim_tokens_from_env(l ? l->daily_tokens : 0);
    p->lim = lim_new(bot_store(b), daily, lim_admin_from_env(), err, errlen);
    if (!p->lim)
        return -1;
    if (daily > 0)
        log_info("bot", "AI answers: %ld tokens per user per day", daily);
    return 0;
}

static int part_forget(void *state, int64_t user_id)
{
    return lim_forget_user(((llm_part *)state)->lim, user_id);
}

static int part_export(void *state, int64_t user_id, struct cJSON *root)
{
    return lim_export_user(((llm_part *)state)->lim, user_id, root);
}

/* The best chunks for q: in the user's language, or in any language when
 * those do not answer it. The number of hits, -1 on an error. */
/* The question's vector for hybrid retrieval (kb_search_hybrid), or none. */
typedef struct qvec {
    const float *v; /* NULL: lexical only */
    int dims;
} qvec;

static const qvec NO_VECTOR = {NULL, 0};

static int search_in(llm_part *p, const char *q, qvec qv, const char *lang, kb_hit *hits, int max)
{
    return qv.v ? kb_search_hybrid(p->kb, q, qv.v, qv.dims, lang, hits, max)
                : kb_search(p->kb, q, lang, hits, max);
}

static int search(llm_part *p, const char *q, qvec qv, const char *lang, kb_hit *hits, int max)
{
    int n = search_in(p, q, qv, lang, hits, max);
    if (n >= 0 && (n == 0 || !kb_answers(&hits[0]))) {
        kb_hit any[4];
        int na = search_in(p, q, qv, NULL, any, max < 4 ? max : 4);
        if (na > 0 && kb_answers(&any[0])) {
            memcpy(hits, any, (size_t)na * sizeof *hits);
            n = na;
        }
    }
    return n;
}

/* text without the words trigger t needs in state: each word without
 * which t no longer matches. Into rest (cap bytes). */
static void without_keyword(const bm_machine *m, int state, int t, const char *text, char *rest,
                            size_t cap)
{
    char other[LLM_FOLLOW_UP_MAX];
    size_t n = 0;
    rest[0] = '\0';
    for (const char *w = text; *w;) {
        size_t wl = strcspn(w, " ");
        snprintf(other, sizeof other, "%.*s%s", (int)(w - text), text, w + wl);
        if (m->match_text(state, other) == t && wl > 0 && n + wl + 2 < cap) {
            n += (size_t)snprintf(rest + n, cap - n, "%s%.*s", n ? " " : "", (int)wl, w);
        }
        w += wl;
        while (*w == ' ')
            w++;
    }
}

/* The precedence of text triggers and the answerer (spec/REFERENCE.md,
 * "Triggers and the answerer"): a keyword that a trigger catches inside a
 * question of LLM_LONG_QUESTION words or more gives way to the state's
 * any: when that runs llm and the question says more than the keyword:
 * without the keyword's words it still has two words searched, and the
 * knowledge answers it. Commands, button labels and short texts keep
 * their triggers; so does a question for a human (handoff_patterns), one
 * the knowledge does not answer, and one whose other words say nothing
 * of their own ("what is the price of a car?" is the price list). */
static bool part_answers_first(void *state, const bm_machine *m, const bm_session *s,
                               const bm_input *in)
{
    llm_part *p = state;
    if (!p || !p->kb || !m->llm || in->kind != BM_IN_TEXT || s->form >= 0 || s->state < 0 ||
        s->state >= m->n_states || in->text[0] == '/' || !m->match_text)
        return false;
    int any = m->states[s->state].fallback_tr;
    if (any < 0 || m->transitions[any].action != BM_ACT_LLM)
        return false;
    int words = 0;
    for (const char *c = in->text; *c; c++)
        words += *c != ' ' && (c == in->text || c[-1] == ' ');
    int t = m->match_text(s->state, in->text);
    if (words < LLM_LONG_QUESTION || t < 0 || t == any)
        return false;
    for (int i = 0; i < m->llm->n_handoff; i++)
        if (m->match_regex && m->match_regex(m->llm->handoff[i], in->text))
            return false;
    char rest[LLM_FOLLOW_UP_MAX];
    without_keyword(m, s->state, t, in->text, rest, sizeof rest);
    kb_hit h[1];
    return kb_terms(p->kb, rest) >= 2 && search(p, rest, NO_VECTOR, m->langs[s->lang], h, 1) > 0 &&
           kb_answers(&h[0]);
}

const bot_part part_llm = {
    .name = "llm",
    .open = part_open,
    .close = part_close,
    .answers_first = part_answers_first,
    .forget_user = part_forget,
    .export_user = part_export,
};

/* ---- the action ------------------------------------------------------------ */

/* "I could not find that": sys_no_answer with the operator button. */
static int offer_operator(bot_act *c) { return act_offer_operator(c, BM_SYS_NO_ANSWER); }

/* The earlier turns with the model (store_history_turns) as chat messages. */
static int add_turn(void *ud, const char *role, const char *text, int64_t at)
{
    (void)at;
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddItemToArray(ud, m) ||
        !cJSON_AddStringToObject(m, "role", !strcmp(role, "user") ? "user" : "assistant") ||
        !cJSON_AddStringToObject(m, "content", text))
        return -1;
    return 0;
}


/* The open session's turns (act_session_turns) as chat messages. */
static int add_session_turn(void *ud, const char *role, const char *text)
{
    return add_turn(ud, role, text, 0);
}

/* The system prompt's persona: the spec's `persona:` text, then the
 * prompt of the persona the variable `persona` names (llm: personas:).
 * malloc'd, NULL when there is neither (or on out-of-memory: *oom). */
static char *persona_prompt(bot_act *c, const char *q, bool *oom)
{
    const bm_machine *m = bot_machine(c->b);
    const bm_llm *l = m->llm;
    char *base = l->persona != BM_NONE ? bm_render(m, c->s, &c->in->user, l->persona, q) : NULL;
    *oom = l->persona != BM_NONE && !base;
    if (l->n_personas <= 0 || l->persona_var < 0 || l->persona_var >= m->n_vars)
        return base;
    const char *v = c->s->vars[l->persona_var] ? c->s->vars[l->persona_var]
                                               : m->vars[l->persona_var].initial;
    int which = -1;
    for (int i = 0; i < l->n_personas && which < 0; i++)
        if (!strcmp(l->personas[i].name, v))
            which = i;
    if (which < 0) {
        log_warn("bot", "user %" PRId64 ": persona '%s' is none of the spec's; its base prompt only",
                 c->s->user_id, v);
        return base;
    }
    char *role = bm_render(m, c->s, &c->in->user, l->personas[which].prompt, q);
    if (!role) {
        *oom = true;
        free(base);
        return NULL;
    }
    if (!base)
        return role;
    size_t n = strlen(base) + strlen(role) + 3;
    char *both = malloc(n);
    if (both)
        snprintf(both, n, "%s\n\n%s", base, role);
    *oom = !both;
    free(base);
    free(role);
    return both;
}

/* The user's earlier questions to the model, oldest first (history's
 * "user" turns), for follow-ups. */
typedef struct asked {
    char q[LLM_TURNS][LLM_FOLLOW_UP_MAX];
    int n;
} asked;

/* store_history_turns: keeps the user's turns. */
static int take_asked(void *ud, const char *role, const char *text, int64_t at)
{
    asked *a = ud;
    (void)at;
    if (!strcmp(role, "user") && a->n < LLM_TURNS)
        snprintf(a->q[a->n++], LLM_FOLLOW_UP_MAX, "%s", text);
    return 0;
}

/* The context for q. A follow-up ("and for a week?", "and for a month?")
 * names nothing the knowledge knows: when q alone finds no answer, it is
 * searched together with each earlier question to the model, newest
 * first, and then with that question alone (the model still says the
 * marker when its context lacks the answer). The number of hits (0 on an
 * error, logged). */
static int context(bot_act *c, llm_part *p, const char *q, qvec qv, kb_hit *hits, int max)
{
    if (!p->kb)
        return 0;
    const char *lang = bot_machine(c->b)->langs[c->s->lang];
    int n = search(p, q, qv, lang, hits, max);
    asked *a = n >= 0 && (n == 0 || !kb_answers(&hits[0])) ? calloc(1, sizeof *a) : NULL;
    if (a && store_history_turns(bot_store(c->b), c->s->user_id, LLM_TURNS, take_asked, a) < 0)
        a->n = 0;
    for (int i = a ? a->n - 1 : -1; i >= 0; i--) {
        char both[2 * LLM_FOLLOW_UP_MAX + 2];
        snprintf(both, sizeof both, "%s\n%s", a->q[i], q);
        kb_hit h2[8];
        int n2 = search(p, both, NO_VECTOR, lang, h2, max < 8 ? max : 8);
        if (n2 >= 0 && (n2 == 0 || !kb_answers(&h2[0])))
            n2 = search(p, a->q[i], NO_VECTOR, lang, h2, max < 8 ? max : 8);
        if (n2 > 0 && kb_answers(&h2[0])) {
            memcpy(hits, h2, (size_t)n2 * sizeof *hits);
            n = n2;
            break;
        }
    }
    free(a);
    if (n < 0)
        log_error("bot", "user %" PRId64 ": knowledge search failed", c->s->user_id);
    return n < 0 ? 0 : n;
}

/* sys (taken) and, after it, what the user's long-term memory holds about
 * q (actions/memory.h; by qv too when there is one), marked as memory;
 * NULL on out-of-memory. */
static char *with_memory(bot_act *c, char *sys, const char *q, qvec qv)
{
    /* private: never in a group's answers, which the group reads */
    char *mem = sys && c->s->chat_id > 0 ? memory_recall_hybrid(c->b, c->s->user_id, q, qv.v, qv.dims)
                                         : NULL;
    if (!mem)
        return sys;
    size_t a = strlen(sys), b = strlen(mem);
    char *both = malloc(a + b + 3);
    if (both)
        snprintf(both, a + b + 3, "%s\n\n%s", sys, mem);
    free(sys);
    free(mem);
    return both;
}

/* The model's request: the grounded system prompt (persona and the active
 * role's prompt, policy, the best chunks for q, the user's memory of q),
 * the open session's latest turns (actions/session.h), q. A malloc'd JSON
 * array, NULL on out-of-memory. */
static char *llm_messages(bot_act *c, llm_part *p, const char *q, qvec qv)
{
    const bm_machine *m = bot_machine(c->b);
    const bm_llm *l = m->llm;
    const char *lang = m->langs[c->s->lang];
    kb_hit hits[4];
    int n = context(c, p, q, qv, hits, 4);
    bool oom = false;
    char *persona = persona_prompt(c, q, &oom);
    if (oom)
        return NULL;
    char *policy = l->policy != BM_NONE ? bm_render(m, c->s, &c->in->user, l->policy, q) : NULL;
    char *sys = kb_system_prompt(persona, policy, l->strict, lang, hits, n, 6000);
    free(persona);
    free(policy);
    sys = with_memory(c, sys, q, qv);
    cJSON *arr = cJSON_CreateArray();
    cJSON *sm = arr ? cJSON_AddObjectToObject(arr, "") : NULL;
    bool ok = sys && sm && cJSON_AddStringToObject(sm, "role", "system") &&
              cJSON_AddStringToObject(sm, "content", sys);
    free(sys);
    cJSON *um = NULL;
    ok = ok &&
         act_session_turns(c, LLM_TURNS, add_session_turn, arr) >= 0 &&
         (um = cJSON_AddObjectToObject(arr, "")) &&
         cJSON_AddStringToObject(um, "role", "user") && cJSON_AddStringToObject(um, "content", q);
    char *js = ok ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return js;
}

int act_llm_allowed(bot *b, int64_t user_id)
{
    llm_part *p = bot_part_state(b, BOT_PART_LLM);
    if (!p || !p->lim || lim_daily(p->lim) <= 0)
        return 1;
    int manager = ho_is_manager(bot_part_state(b, BOT_PART_HANDOFF), user_id);
    return lim_check(p->lim, user_id, manager) != 0;
}

/* Before the action: 1 when the user may have an answer, 0 when the daily
 * limit is reached (sys_limit_reached and the operator button sent), -1 on
 * out-of-memory. Managers and the admin answer customers: the limit is not
 * for them. A database error lets the answer through (logged by
 * lim_check): a broken counter should not silence the bot. */
static int llm_gate(bot_act *c)
{
    if (act_llm_allowed(c->b, c->s->user_id))
        return 1;
    return act_offer_operator(c, BM_SYS_LIMIT_REACHED) ? -1 : 0;
}

/* The vote buttons under an answer, unless the spec says `feedback: false`. */
static int attach_feedback(bot_act *c)
{
    const bm_machine *m = bot_machine(c->b);
    return m->llm && m->llm->no_feedback ? 0 : act_feedback_attach(c);
}

/* Defers the model's request, its context found with qv when there is one. */
static int ask_model(bot_act *c, llm_part *p, qvec qv)
{
    const bm_machine *m = bot_machine(c->b);
    char *msgs = llm_messages(c, p, c->text, qv);
    if (!msgs)
        return -1;
    char *model = m->llm->model ? strdup(m->llm->model) : NULL;
    if (m->llm->model && !model) {
        free(msgs);
        return -1;
    }
    c->io_req->kind = BOT_IO_LLM;
    c->io_req->u.llm.messages = msgs;
    c->io_req->u.llm.model = model;
    c->io_req->u.llm.chat_id = c->s->chat_id;
    c->io_req->u.llm.private_chat = c->s->chat_id > 0;
    int oom;
    c->io_req->u.llm.tools = act_tools_offer(c, &oom);
    return oom ? -1 : 0;
}

/* The question's embedding arrived: the model is asked with the context
 * (and the memory) found by both rankings; without a usable vector (the
 * server failed, or the vector's size is not the chunks': kb_search_hybrid
 * and the memory check it), by the lexical one alone. */
static int resume_embedded(bot_act *c, llm_part *p)
{
    const bot_io_res *res = c->io_res;
    qvec qv = NO_VECTOR;
    int dims = res->ok && res->body ? (int)(res->len / sizeof(float)) : 0;
    if (dims > 0 && res->len % sizeof(float) == 0) {
        qv.v = (const float *)(const void *)res->body;
        qv.dims = dims;
        if (p->kb && kb_vector_count(p->kb) > 0 && dims != kb_vector_dims(p->kb))
            log_warn("bot", "user %" PRId64 ": the question's embedding has %d dims, the "
                     "knowledge's %d; lexical context only", c->s->user_id, dims,
                     kb_vector_dims(p->kb));
    } else {
        log_warn("bot", "user %" PRId64 ": no usable embedding of the question (%s); "
                 "lexical context only", c->s->user_id, res->error ? res->error : "empty");
    }
    if (!c->io_req || !bot_act_can_defer(c))
        return 0;
    return ask_model(c, p, qv);
}

static int llm_run(bot_act *c)
{
    llm_part *p = bot_part_state(c->b, BOT_PART_LLM);
    const bm_machine *m = bot_machine(c->b);
    const char *q = c->text;
    if (!m->llm || !p || (!p->kb && !p->remote))
        return bot_act_say_sys(c, BM_SYS_UNAVAILABLE);
    if (!kb_is_question(q))
        return bot_act_say_sys(c, BM_SYS_NOT_A_QUESTION);
    for (int i = 0; i < m->llm->n_handoff; i++) {
        if (m->match_regex && m->match_regex(m->llm->handoff[i], q)) {
            log_info("bot", "user %" PRId64 ": a question for a human (handoff pattern %d)",
                     c->s->user_id, i);
            return offer_operator(c);
        }
    }
    if (p->remote && c->io_req) {
        /* the model's answer: the transport streams it into the chat */
        if (!bot_act_can_defer(c))
            return 0;
        if (act_session_expire(c))
            return -1;
        kb_hit hits[4];
        if (m->llm->strict && !m->llm->ask_without_context && p->kb &&
            (context(c, p, q, NO_VECTOR, hits, 4) == 0 || !kb_answers(&hits[0]))) {
            log_info("bot", "user %" PRId64 ": the knowledge does not answer; not asking the model",
                     c->s->user_id);
            return offer_operator(c);
        }
        if ((p->kb && kb_vector_count(p->kb) > 0) ||
            (c->s->chat_id > 0 && memory_wants_vector(c->b, c->s->user_id))) {
            /* the knowledge or the user's memory has vectors: the
             * question's own comes first, then the model is asked with the
             * hybrid context (resume) */
            char *text = strdup(q);
            if (!text)
                return -1;
            c->io_req->kind = BOT_IO_EMBED;
            c->io_req->u.embed.text = text;
            return 0;
        }
        return ask_model(c, p, NO_VECTOR);
    }
    if (!p->kb) /* the console has no event loop to stream in */
        return bot_act_say_sys(c, BM_SYS_UNAVAILABLE);
    char *answer = NULL;
    int found = kb_extract(p->kb, q, m->langs[c->s->lang], &answer);
    if (found < 0)
        log_error("bot", "user %" PRId64 ": knowledge search failed", c->s->user_id);
    if (found <= 0)
        return offer_operator(c);
    int rc = bot_act_say_long(c, answer);
    free(answer);
    return rc || attach_feedback(c);
}

/* With the whole answer: the marker offers the operator, a failure says
 * sys_llm_down with the operator button, else the answer goes as the final
 * message(s) — committed to the outbox with the new state, so it is
 * delivered even if every draft was dropped. Tokens are recorded per user
 * and day (the server's usage, else an estimate of 4 bytes a token). */
static int llm_resume(bot_act *c)
{
    llm_part *p = bot_part_state(c->b, BOT_PART_LLM);
    const bot_io_res *res = c->io_res;
    const char *q = c->text;
    if (res->kind == BOT_IO_EMBED)
        return resume_embedded(c, p);
    long used = 0;
    if (res->prompt_tokens > 0 || res->completion_tokens > 0) {
        used = (res->prompt_tokens > 0 ? res->prompt_tokens : 0) +
               (res->completion_tokens > 0 ? res->completion_tokens : 0);
    } else {
        char *msgs = llm_messages(c, p, q, NO_VECTOR); /* about the same request, to estimate it */
        used = (long)((msgs ? strlen(msgs) : strlen(q)) + res->len) / 4 + 1;
        free(msgs);
    }
    if (p->lim && lim_record(p->lim, c->s->user_id, used))
        return -1;
    if (act_tools_record(c, res->tool_log))
        return -1;
    if (!res->ok || !res->body) {
        /* while the circuit is open the client logged it once: one line a
         * question would be the flood the breaker is there to stop */
        bool open = res->error && !strcmp(res->error, LLM_CIRCUIT_REASON);
        log_msg(open ? LOG_DEBUG : LOG_WARN, "bot", "user %" PRId64 ": no model answer (%s)",
                c->s->user_id, res->error ? res->error : "?");
        return act_offer_operator(c, BM_SYS_LLM_DOWN);
    }
    if (strstr(res->body, KB_MARKER)) {
        log_info("bot", "user %" PRId64 ": the knowledge does not answer (marker)",
                 c->s->user_id);
        return offer_operator(c);
    }
    c->ai_from = c->out->n;
    /* run's closing of an idle session was rolled back with the deferral */
    if (act_session_expire(c) || bot_act_say_markdown(c, res->body) ||
        act_session_record(c, q, res->body))
        return -1;
    c->ai_to = c->out->n;
    c->ai_answered = true;
    return attach_feedback(c);
}

int act_llm_count(bot *b, int64_t user_id, long tokens)
{
    llm_part *p = bot_part_state(b, BOT_PART_LLM);
    return p && p->lim && tokens > 0 ? lim_record(p->lim, user_id, tokens) : 0;
}


kb *act_llm_kb(bot *b)
{
    llm_part *p = bot_part_state(b, BOT_PART_LLM);
    return p ? p->kb : NULL;
}

const bot_action act_llm = {.name = "llm", .gate = llm_gate, .run = llm_run,
                            .resume = llm_resume};
