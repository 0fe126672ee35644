/*
 * whisper.c — see whisper.h.
 */
#include "ai/whisper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ai/llm.h"
#include "ai/oai.h"
#include "net/http.h"

struct whisper_client {
    loop *lp;
    oai_endpoint ep;
    char *model;
    bool whisper_cpp;
    long timeout_ms;
};

typedef struct whisper_call {
    http_req r; /* first: the loop hands back &r */
    curl_mime *mime;
    struct curl_slist *hdrs;
    whisper_done_fn done;
    void *ud;
} whisper_call;

whisper_options whisper_options_from_env(void)
{
    whisper_options o = {0};
    o.base = getenv("ASR_API_BASE");
    o.key = getenv("ASR_API_KEY");
    o.model = getenv("ASR_MODEL");
    const char *e = getenv("ASR_ENGINE");
    o.whisper_cpp = e && (!strcmp(e, "whisper.cpp") || !strcmp(e, "whispercpp"));
    const char *t = getenv("ASR_TIMEOUT_MS");
    o.timeout_ms = t && *t ? strtol(t, NULL, 10) : 0;
    return o;
}

whisper_client *whisper_new(loop *lp, const whisper_options *o, char *err, size_t errlen)
{
    if (!o->base || (strncmp(o->base, "http://", 7) && strncmp(o->base, "https://", 8))) {
        snprintf(err, errlen, "ASR_API_BASE is not an http(s) URL");
        return NULL;
    }
    whisper_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->lp = lp;
    c->whisper_cpp = o->whisper_cpp;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 60000;
    c->model = strdup(o->model && *o->model ? o->model : "whisper-1");
    int rc = c->whisper_cpp
                 ? oai_endpoint_init(&c->ep, o->base, "/inference", o->key, "whisper", NULL, err, errlen)
                 : oai_endpoint_init(&c->ep, o->base, "/audio/transcriptions", o->key, "whisper",
                                     "ASR_API_BASE", err, errlen);
    if (rc || !c->model) {
        whisper_free(c);
        return NULL;
    }
    return c;
}

void whisper_free(whisper_client *c)
{
    if (!c)
        return;
    loop_cancel(c->lp, c);
    oai_endpoint_free(&c->ep);
    free(c->model);
    free(c);
}

bool whisper_wants_wav(const whisper_client *c) { return c->whisper_cpp; }

/* The transcript of a 2xx answer: {"text": "..."} trimmed and capped; NULL
 * when the answer has no text string. malloc'd. */
static char *answer_text(const char *body, size_t len)
{
    cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
    char *out = NULL;
    if (cJSON_IsString(t)) {
        const char *s = t->valuestring;
        while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
            s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
            n--;
        if (n > WHISPER_MAX_TEXT) {
            n = WHISPER_MAX_TEXT;
            while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
                n--; /* not inside a UTF-8 sequence */
        }
        out = malloc(n + 1);
        if (out) {
            memcpy(out, s, n);
            out[n] = '\0';
        }
    }
    cJSON_Delete(j);
    return out;
}

static void complete(http_req *r, const http_result *res)
{
    whisper_call *w = (whisper_call *)r;
    char why[300];
    whisper_result out = {.status = res->status};
    char *text = NULL;
    if (res->err == HTTP_OK) {
        text = answer_text(res->body, res->body_len);
        out.ok = text != NULL;
        out.text = text;
        if (!text)
            snprintf(why, sizeof why, "an answer without a \"text\" string");
    } else if (res->err == HTTP_ERR_STATUS) {
        char msg[200], code[64];
        llm_parse_error(res->body, res->body_len, msg, sizeof msg, code, sizeof code);
        snprintf(why, sizeof why, "HTTP %ld: %s", res->status, msg);
    } else {
        snprintf(why, sizeof why, "%s: %s", http_err_str(res->err), res->description);
    }
    out.error = out.ok ? NULL : why;
    w->done(w->ud, &out);
    free(text);
    curl_mime_free(w->mime);
    curl_slist_free_all(w->hdrs);
    CURL *e = w->r.x.easy;
    http_req_clean(&w->r);
    curl_easy_cleanup(e);
    free(w);
}

static int part(curl_mime *m, const char *name, const char *value)
{
    curl_mimepart *p = curl_mime_addpart(m);
    return p && curl_mime_name(p, name) == CURLE_OK &&
                   curl_mime_data(p, value, CURL_ZERO_TERMINATED) == CURLE_OK
               ? 0
               : -1;
}

int whisper_transcribe(whisper_client *c, const unsigned char *audio, size_t len,
                       const char *file_name, const char *mime, const char *lang,
                       whisper_done_fn done, void *ud)
{
    whisper_call *w = calloc(1, sizeof *w);
    CURL *e = curl_easy_init();
    if (!w || !e) {
        free(w);
        if (e)
            curl_easy_cleanup(e);
        return -1;
    }
    w->done = done;
    w->ud = ud;
    w->r.x.easy = e;
    w->r.x.owner = c;
    w->r.complete = complete;
    w->r.resp_max = WHISPER_MAX_ANSWER;
    http_easy_setup(e);
    w->mime = curl_mime_init(e);
    curl_mimepart *f = w->mime ? curl_mime_addpart(w->mime) : NULL;
    char hint[8] = "";
    if (lang) /* "en-US" -> "en": the servers take ISO 639-1 */
        for (size_t i = 0; i < sizeof hint - 1 && lang[i] && lang[i] != '-' && lang[i] != '_'; i++)
            hint[i] = lang[i], hint[i + 1] = '\0';
    int bad = !f || curl_mime_name(f, "file") != CURLE_OK ||
              curl_mime_data(f, (const char *)audio, len) != CURLE_OK ||
              curl_mime_filename(f, file_name) != CURLE_OK ||
              curl_mime_type(f, mime ? mime : "application/octet-stream") != CURLE_OK ||
              (!c->whisper_cpp && part(w->mime, "model", c->model)) ||
              (*hint && part(w->mime, "language", hint)) ||
              part(w->mime, "response_format", "json");
    if (!bad && c->ep.auth)
        bad = !(w->hdrs = curl_slist_append(NULL, c->ep.auth));
    if (!bad) {
        curl_easy_setopt(e, CURLOPT_URL, c->ep.url);
        curl_easy_setopt(e, CURLOPT_MIMEPOST, w->mime);
        if (w->hdrs)
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->hdrs);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
        bad = http_req_start(c->lp, &w->r, 0) != HTTP_OK;
    }
    if (bad) {
        curl_mime_free(w->mime);
        curl_slist_free_all(w->hdrs);
        http_req_clean(&w->r);
        curl_easy_cleanup(e);
        free(w);
        return -1;
    }
    return 0;
}
