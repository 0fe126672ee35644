/*
 * embed.c — see embed.h.
 *
 * One embed_call lives from embed_texts until its on_done: it always has
 * one http_stream transfer (the next batch is a new transfer), so the loop
 * drives everything, and an abandoned call (embed_cancel, embed_free) is
 * reaped by its transfer's tick.
 */
#include "ai/embed.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ai/oai.h"
#include "ai/llm.h"
#include "base/log.h"
#include "net/http.h"
#include "net/loop.h"

#define EMBED_ERRBODY_MAX 8192
#define EMBED_REASON_MAX 300

struct embed_client {
    loop *lp;
    oai_endpoint ep;  /* the URL and the Authorization header */
    char *model;
    embed_options o;
    struct embed_call *head;
};

struct embed_call {
    struct embed_call *prev, *next;
    embed_client *c;       /* NULL once the client is gone */
    bool dead;             /* cancelled: reap at the next tick */
    char **texts;
    int n, done;           /* inputs, and those embedded so far */
    int dims;
    float *vecs;           /* n × dims once dims is known */
    embed_done_fn on_done;
    void *ud;
    long started;
    int requests;
    /* the batch in flight */
    long status;
    char *resp;            /* the answer, capped */
    size_t resp_len;
    bool toobig, timed_out;
};

const char *embed_status_str(embed_status s)
{
    switch (s) {
    case EMBED_OK: return "ok";
    case EMBED_ERR_HTTP: return "HTTP error";
    case EMBED_ERR_NETWORK: return "network error";
    case EMBED_ERR_TIMEOUT: return "timeout";
    case EMBED_ERR_TOOBIG: return "answer too large";
    case EMBED_ERR_BAD: return "malformed answer";
    case EMBED_ERR_NOMEM: return "out of memory";
    case EMBED_ERR_CANCELLED: return "cancelled";
    }
    return "unknown";
}

static long env_long(const char *name, long def, long max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n <= 0 || n > max) {
        log_warn("embed", "%s=%s is not 1..%ld, using %ld", name, v, max, def);
        return def;
    }
    return n;
}

embed_options embed_options_from_env(void)
{
    embed_options o = {0};
    o.base = getenv("EMBEDDINGS_BASE");
    o.model = getenv("EMBEDDINGS_MODEL");
    o.key = getenv("EMBEDDINGS_API_KEY");
    const char *chat = getenv("OPENAI_API_BASE");
    if ((!o.key || !*o.key) && o.base && chat && !strcmp(o.base, chat))
        o.key = getenv("OPENAI_API_KEY");
    o.total_ms = env_long("EMBEDDINGS_TIMEOUT_MS", 30000, 3600000);
    o.batch = (int)env_long("EMBEDDINGS_BATCH", 32, EMBED_MAX_BATCH);
    return o;
}

static char *dup_s(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

embed_client *embed_new(loop *lp, const embed_options *o, char *err, size_t errlen)
{
    if (!o || !o->base || (strncmp(o->base, "http://", 7) && strncmp(o->base, "https://", 8))) {
        snprintf(err, errlen, "EMBEDDINGS_BASE must be an http(s) URL");
        return NULL;
    }
    if (!o->model || !*o->model) {
        snprintf(err, errlen, "EMBEDDINGS_MODEL is not set");
        return NULL;
    }
    embed_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->lp = lp;
    c->o = *o;
    if (c->o.connect_ms <= 0) c->o.connect_ms = 5000;
    if (c->o.total_ms <= 0) c->o.total_ms = 30000;
    if (c->o.batch <= 0 || c->o.batch > EMBED_MAX_BATCH) c->o.batch = 32;
    if (!c->o.max_answer) c->o.max_answer = (size_t)8 << 20;
    if (oai_endpoint_init(&c->ep, o->base, "/embeddings", o->key, "embed",
                          "EMBEDDINGS_BASE", err, errlen)) {
        free(c);
        return NULL;
    }
    c->model = dup_s(o->model);
    if (!c->model) {
        embed_free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->o.base = c->o.key = c->o.model = NULL; /* not kept: copied above */
    return c;
}

static void call_unlink(embed_call *k)
{
    if (!k->c)
        return;
    if (k->prev)
        k->prev->next = k->next;
    else
        k->c->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
    k->c = NULL;
}

void embed_free(embed_client *c)
{
    if (!c)
        return;
    while (c->head) {
        embed_call *k = c->head;
        k->dead = true; /* its transfer's tick or cancel reaps it */
        call_unlink(k);
    }
    oai_endpoint_free(&c->ep);
    free(c->model);
    free(c);
}

const char *embed_model(const embed_client *c) { return c->model; }

static void call_free(embed_call *k)
{
    call_unlink(k);
    for (int i = 0; k->texts && i < k->n; i++)
        free(k->texts[i]);
    free(k->texts);
    free(k->vecs);
    free(k->resp);
    free(k);
}

void embed_cancel(embed_call *k)
{
    if (k) {
        k->dead = true;
        call_unlink(k);
    }
}

/* ---- the answer ------------------------------------------------------------- */

int embed_parse(const char *body, size_t len, int n, int want_dims, float **vecs, int *dims,
                char *err, size_t errlen)
{
    *vecs = NULL;
    *dims = 0;
    cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    const char *why = NULL;
    float *v = NULL;
    bool *seen = NULL;
    int d = want_dims;
    if (!cJSON_IsArray(data))
        why = "no \"data\" array";
    else if (cJSON_GetArraySize(data) != n)
        why = "not one embedding per input";
    else if (!(seen = calloc((size_t)n, sizeof *seen)))
        why = "out of memory";
    int pos = 0;
    const cJSON *items = why ? NULL : data;
    const cJSON *item;
    cJSON_ArrayForEach(item, items) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(item, "embedding");
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(item, "index");
        /* "index" says which input; servers that omit it answer in order */
        /* (a number out of int's range does not convert: it is out of range) */
        int at = !cJSON_IsNumber(ix) ? pos
                 : ix->valuedouble >= 0 && ix->valuedouble < n ? (int)ix->valuedouble : -1;
        pos++;
        int m = cJSON_GetArraySize(e);
        if (!cJSON_IsArray(e) || m < 1 || m > EMBED_MAX_DIMS) {
            why = cJSON_IsString(e) ? "a base64 embedding (float wanted)"
                                    : "an embedding that is not an array of 1..8192 numbers";
            break;
        }
        if (at < 0 || at >= n || seen[at]) {
            why = "an index out of range or repeated";
            break;
        }
        if (!d)
            d = m;
        if (m != d) {
            why = "embeddings of different sizes";
            break;
        }
        if (!v && !(v = malloc((size_t)n * (size_t)d * sizeof *v))) {
            why = "out of memory";
            break;
        }
        seen[at] = true;
        int i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, e) {
            if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
                break;
            v[(size_t)at * (size_t)d + (size_t)i++] = (float)x->valuedouble;
        }
        if (i != d) {
            why = "an embedding with a value that is not a number";
            break;
        }
    }
    cJSON_Delete(j);
    free(seen);
    if (why) {
        free(v);
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    *vecs = v;
    *dims = d;
    return 0;
}

/* ---- one batch ---------------------------------------------------------------- */

static int on_data(void *ud, long status, const char *data, size_t n)
{
    embed_call *k = ud;
    if (k->dead || !k->c)
        return 1;
    k->status = status;
    size_t cap = status >= 200 && status < 300 ? k->c->o.max_answer : EMBED_ERRBODY_MAX;
    if (k->resp_len + n > cap) {
        if (cap == EMBED_ERRBODY_MAX) /* an error body is read from its start */
            n = cap - k->resp_len;
        else {
            k->toobig = true;
            return 1;
        }
    }
    char *p = realloc(k->resp, k->resp_len + n + 1);
    if (!p)
        return 1;
    k->resp = p;
    memcpy(k->resp + k->resp_len, data, n);
    k->resp_len += n;
    k->resp[k->resp_len] = '\0';
    return 0;
}

static int on_tick(void *ud)
{
    embed_call *k = ud;
    if (k->dead || !k->c)
        return 1;
    if (loop_now_ms() - k->started > k->c->o.total_ms)
        k->timed_out = true;
    return k->timed_out;
}

static void on_finished(const http_result *r, void *ud);

static int start_batch(embed_call *k)
{
    embed_client *c = k->c;
    int m = k->n - k->done < c->o.batch ? k->n - k->done : c->o.batch;
    cJSON *req = cJSON_CreateObject();
    cJSON *in = req ? cJSON_AddArrayToObject(req, "input") : NULL;
    bool ok = in && cJSON_AddStringToObject(req, "model", c->model);
    for (int i = 0; ok && i < m; i++) {
        cJSON *s = cJSON_CreateString(k->texts[k->done + i]);
        ok = s && cJSON_AddItemToArray(in, s);
    }
    char *body = ok ? cJSON_PrintUnformatted(req) : NULL;
    cJSON_Delete(req);
    if (!body)
        return -1;
    free(k->resp);
    k->resp = NULL;
    k->resp_len = 0;
    k->status = 0;
    k->requests++;
    const char *hdrs[3] = {"Content-Type: application/json", c->ep.auth, NULL};
    long left = c->o.total_ms - (loop_now_ms() - k->started);
    /* curl's own total is a backstop a second later: the tick names it */
    http_stream_opts so = {.url = c->ep.url, .body = body, .headers = hdrs,
                           .connect_timeout_ms = c->o.connect_ms,
                           .timeout_ms = (left > 1 ? left : 1) + 1000};
    http_err e = http_stream(c->lp, &so, on_data, on_tick, on_finished, k);
    cJSON_free(body);
    return e == HTTP_OK ? 0 : -1;
}

static void report(embed_call *k, embed_status st, const char *why)
{
    if (!k->dead && k->on_done) {
        embed_result res = {.status = st, .error = why ? why : "", .http_status = k->status,
                            .n = st == EMBED_OK ? k->n : 0, .dims = k->dims,
                            .vecs = st == EMBED_OK ? k->vecs : NULL, .requests = k->requests};
        k->on_done(k->ud, &res);
    }
    call_free(k);
}

static void on_finished(const http_result *r, void *ud)
{
    embed_call *k = ud;
    if (k->dead || !k->c) {
        call_free(k);
        return;
    }
    char why[EMBED_REASON_MAX + 160];
    if (k->timed_out) {
        report(k, EMBED_ERR_TIMEOUT, "total timeout");
        return;
    }
    if (k->toobig) {
        snprintf(why, sizeof why, "the answer exceeds %zu bytes", k->c->o.max_answer);
        report(k, EMBED_ERR_TOOBIG, why);
        return;
    }
    if (r->err == HTTP_ERR_CANCELLED) {
        report(k, EMBED_ERR_CANCELLED, r->description);
        return;
    }
    if (r->err == HTTP_ERR_NETWORK || r->err == HTTP_ERR_NOMEM || r->err == HTTP_ERR_CONFIG) {
        report(k, r->err == HTTP_ERR_NOMEM ? EMBED_ERR_NOMEM : EMBED_ERR_NETWORK,
               r->description);
        return;
    }
    long st = k->status ? k->status : r->status;
    k->status = st;
    if (st < 200 || st >= 300 || r->err == HTTP_ERR_STATUS) {
        char msg[EMBED_REASON_MAX], code[64];
        llm_parse_error(k->resp, k->resp_len, msg, sizeof msg, code, sizeof code);
        snprintf(why, sizeof why, "HTTP %ld: %s%s%s", st, msg, code[0] ? " / " : "", code);
        report(k, EMBED_ERR_HTTP, why);
        return;
    }
    int m = k->n - k->done < k->c->o.batch ? k->n - k->done : k->c->o.batch;
    float *v;
    int d;
    char perr[128];
    if (embed_parse(k->resp, k->resp_len, m, k->dims, &v, &d, perr, sizeof perr)) {
        snprintf(why, sizeof why, "the answer has %s", perr);
        report(k, EMBED_ERR_BAD, why);
        return;
    }
    if (!k->vecs) {
        k->dims = d;
        k->vecs = malloc((size_t)k->n * (size_t)d * sizeof *k->vecs);
    }
    if (!k->vecs) {
        free(v);
        report(k, EMBED_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(k->vecs + (size_t)k->done * (size_t)d, v, (size_t)m * (size_t)d * sizeof *v);
    free(v);
    k->done += m;
    if (k->done == k->n) {
        report(k, EMBED_OK, NULL);
        return;
    }
    if (start_batch(k))
        report(k, EMBED_ERR_NOMEM, "the next batch could not start");
}

embed_call *embed_texts(embed_client *c, const char *const *texts, int n, embed_done_fn on_done,
                        void *ud)
{
    if (n < 1)
        return NULL;
    for (int i = 0; i < n; i++)
        if (!texts[i] || !*texts[i])
            return NULL;
    embed_call *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->on_done = on_done;
    k->ud = ud;
    k->started = loop_now_ms();
    k->texts = calloc((size_t)n, sizeof *k->texts);
    bool ok = k->texts != NULL;
    k->n = ok ? n : 0;
    for (int i = 0; ok && i < n; i++)
        ok = (k->texts[i] = dup_s(texts[i])) != NULL;
    /* linked before the transfer starts: its callbacks need k->c */
    k->c = c;
    k->next = c->head;
    if (c->head)
        c->head->prev = k;
    c->head = k;
    if (!ok || start_batch(k)) {
        call_free(k);
        return NULL;
    }
    return k;
}
