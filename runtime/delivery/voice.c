/*
 * voice.c — see voice.h.
 */
#include "delivery/voice.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ai/tts.h"
#include "base/b64.h"
#include "base/json.h"
#include "base/log.h"

#define VOICE_FILE_NAME "answer.ogg"

bool voice_spoke(const bm_input *in)
{
    return in->kind == BM_IN_VOICE || in->from_voice;
}

size_t voice_max_chars_from_env(void)
{
    const char *v = getenv("TTS_MAX_CHARS");
    if (!v || !*v)
        return VOICE_DEFAULT_CHARS;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 100 || n > 4000) {
        log_warn("voice", "TTS_MAX_CHARS=%s is not 100..4000, using %d", v, VOICE_DEFAULT_CHARS);
        return VOICE_DEFAULT_CHARS;
    }
    return (size_t)n;
}

/* ---- staging ------------------------------------------------------------- */

/* The params every note of the message shares: the rendered sendMessage's
 * minus what only a text message has (text, entities, parse_mode, link
 * previews) and minus its reply_markup (the last note takes it). */
static cJSON *shared_params(const char *body, cJSON **markup)
{
    cJSON *p = cJSON_Parse(body);
    if (!cJSON_IsObject(p)) {
        cJSON_Delete(p);
        return NULL;
    }
    static const char *const text_only[] = {"text", "entities", "parse_mode",
                                            "link_preview_options", NULL};
    for (int i = 0; text_only[i]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(p, text_only[i]);
    cJSON *mk = cJSON_DetachItemFromObjectCaseSensitive(p, "reply_markup");
    if (markup) {
        cJSON_Delete(*markup);
        *markup = mk;
    } else {
        cJSON_Delete(mk);
    }
    return p;
}

static void calls_remove(tgu_calls *calls, int i)
{
    free(calls->v[i].body);
    memmove(&calls->v[i], &calls->v[i + 1], (size_t)(calls->n - i - 1) * sizeof calls->v[0]);
    calls->n--;
}

int voice_stage(const bm_machine *m, const bm_input *in, const bm_effect *e, size_t max_chars,
                tgu_calls *calls, int first)
{
    if (m->voice_reply == BM_VOICE_REPLY_TEXT || !voice_spoke(in) || e->kind != BM_FX_SEND ||
        e->chat_id != in->user.chat_id || !e->text || !*e->text)
        return 0;
    bool only_voice = m->voice_reply == BM_VOICE_REPLY_VOICE;
    /* the rendered text messages: the last one's params (and keyboard) */
    int last = -1;
    for (int i = first; i < calls->n; i++)
        if (!strcmp(calls->v[i].method, "sendMessage"))
            last = i;
    if (last < 0)
        return 0;
    /* An inline keyboard stays on a text message: its buttons edit the
     * message they sit on (editMessageText), which a voice note is not. */
    if (only_voice && strstr(calls->v[last].body, "\"inline_keyboard\""))
        only_voice = false;
    char *spoken = tts_clean(e->text);
    if (!spoken)
        return -1;
    char **parts = NULL;
    int n = 0;
    if (!*spoken) { /* nothing to say (emoji only): the text goes as it is */
        free(spoken);
        return 0;
    }
    if (tts_split(spoken, max_chars, &parts, &n)) {
        free(spoken);
        return -1;
    }
    const char *lang = tts_lang_of(spoken);
    free(spoken);
    int n_all = n;
    /* a text too long for VOICE_MAX_PIECES notes also goes as text */
    bool cut = n > VOICE_MAX_PIECES;
    if (cut)
        n = VOICE_MAX_PIECES;
    cJSON *markup = NULL;
    cJSON *shared = shared_params(calls->v[last].body, only_voice && !cut ? &markup : NULL);
    int n0 = calls->n, rc = 0;
    for (int i = 0; i < n && shared && !rc; i++) {
        cJSON *p = cJSON_Duplicate(shared, 1);
        cJSON *v = p ? cJSON_AddObjectToObject(p, "voice") : NULL;
        bool ok = v && cJSON_AddStringToObject(v, "file_name", VOICE_FILE_NAME) &&
                  cJSON_AddStringToObject(v, "speak", parts[i]) &&
                  cJSON_AddStringToObject(v, "lang", lang);
        if (ok && only_voice && !cut)
            ok = cJSON_AddTrueToObject(p, "fallback") != NULL;
        if (ok && markup && i == n - 1)
            ok = cJSON_AddItemToObject(p, "reply_markup", cJSON_Duplicate(markup, 1));
        char *body = ok ? cJSON_PrintUnformatted(p) : NULL;
        cJSON_Delete(p);
        rc = tgu_calls_add(calls, VOICE_METHOD, calls->v[last].chat_id, body);
    }
    if (!shared)
        rc = -1;
    cJSON_Delete(shared);
    cJSON_Delete(markup);
    tts_parts_free(parts, n_all);
    if (rc) {
        while (calls->n > n0)
            calls_remove(calls, calls->n - 1);
        return -1;
    }
    if (only_voice && !cut) /* the notes say it all */
        for (int i = n0 - 1; i >= first; i--)
            if (!strcmp(calls->v[i].method, "sendMessage"))
                calls_remove(calls, i);
    return 0;
}

/* ---- the stored call, prepared ------------------------------------------ */

char *voice_prepared_body(const char *body, const unsigned char *audio, size_t len,
                          double seconds)
{
    cJSON *p = cJSON_Parse(body);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "voice");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "file_name"));
    char *b64 = cJSON_IsObject(v) && name ? b64_encode(audio, len) : NULL;
    cJSON *up = b64 ? cJSON_CreateObject() : NULL;
    bool ok = up && cJSON_AddStringToObject(up, "file_name", name) &&
              cJSON_AddStringToObject(up, "content_base64", b64);
    free(b64);
    char *out = NULL;
    if (ok) {
        cJSON_ReplaceItemInObjectCaseSensitive(p, "voice", up);
        up = NULL;
        cJSON_DeleteItemFromObjectCaseSensitive(p, "fallback");
        cJSON_DeleteItemFromObjectCaseSensitive(p, "duration");
        /* Telegram shows whole seconds; a note under one second shows 1 */
        int secs = (int)ceil(seconds);
        if (cJSON_AddNumberToObject(p, "duration", secs < 1 ? 1 : secs)) {
            char *js = cJSON_PrintUnformatted(p);
            out = js ? strdup(js) : NULL;
            cJSON_free(js);
        }
    }
    cJSON_Delete(up);
    cJSON_Delete(p);
    return out;
}

char *voice_fallback_body(const char *body)
{
    cJSON *p = cJSON_Parse(body);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "fallback"))) {
        cJSON_Delete(p);
        return NULL;
    }
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(p, "voice");
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "speak"));
    char *out = NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(p, "fallback");
    cJSON_DeleteItemFromObjectCaseSensitive(p, "duration");
    if (text && cJSON_AddStringToObject(p, "text", text)) {
        char *js = cJSON_PrintUnformatted(p);
        out = js ? strdup(js) : NULL;
        cJSON_free(js);
    }
    cJSON_Delete(v);
    cJSON_Delete(p);
    return out;
}

/* ---- synthesis --------------------------------------------------------- */

typedef struct voice_job {
    struct voice_job *next;    /* the `failed` list */
    voice_synth *v;
    outq_call *call;
    int64_t chat_id;
    char *body;                /* the stored params */
    char why[160];             /* a failure before the engine was asked */
} voice_job;

struct voice_synth {
    loop *lp;
    tts *engine;               /* NULL: could not start (logged) */
    int pending;
    voice_job *failed;         /* answered at the next dispatch */
};

voice_synth *voice_synth_new(loop *lp)
{
    voice_synth *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->lp = lp;
    tts_options o = tts_options_from_env();
    char err[256];
    v->engine = tts_new(lp, &o, err, sizeof err);
    if (v->engine)
        log_info("voice", "answers by voice speak with %s", tts_engine(v->engine));
    else
        log_error("voice", "no speech engine (%s): voice answers go as text", err);
    return v;
}

/* Answers job's call: the voice note, else the fallback, else dropped. */
static void answer(voice_job *j, const tts_result *r)
{
    voice_synth *v = j->v;
    v->pending--;
    char *body = NULL;
    const char *method = VOICE_METHOD;
    outq_prep what = OUTQ_PREP_SEND;
    if (r && r->status == TTS_OK) {
        body = voice_prepared_body(j->body, r->audio, r->len, r->seconds);
        if (!body)
            log_error("voice", "chat %" PRId64 ": out of memory preparing a voice note",
                      j->chat_id);
    } else if (r && r->status == TTS_ERR_CANCELLED) {
        what = OUTQ_PREP_CANCELLED;
    } else {
        log_warn("voice", "chat %" PRId64 ": no voice note (%s)", j->chat_id,
                 r ? r->error : j->why);
    }
    if (what == OUTQ_PREP_SEND && !body) {
        body = voice_fallback_body(j->body);
        method = "sendMessage";
        if (body)
            log_info("voice", "chat %" PRId64 ": the answer goes as text instead", j->chat_id);
        else
            what = OUTQ_PREP_DROP;
    }
    outq_prepared(j->call, what, method, body);
    free(j->body);
    free(j);
}

static void on_spoken(void *ud, const tts_result *r)
{
    answer(ud, r);
}

int voice_synth_prepare(void *ud, outq_call *call, int64_t chat_id, const char *body)
{
    voice_synth *v = ud;
    cJSON *p = cJSON_Parse(body);
    cJSON *vo = cJSON_GetObjectItemCaseSensitive(p, "voice");
    const char *speak = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vo, "speak"));
    const char *lang = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vo, "lang"));
    if (!speak) { /* a voice note already (a file, or prepared before a restart) */
        cJSON_Delete(p);
        return 1;
    }
    voice_job *j = calloc(1, sizeof *j);
    if (!j || !(j->body = strdup(body))) {
        free(j);
        cJSON_Delete(p);
        return -1;
    }
    j->v = v;
    j->call = call;
    j->chat_id = chat_id;
    int rc = v->engine ? tts_speak(v->engine, lang ? lang : "en", speak, on_spoken, j) : -1;
    cJSON_Delete(p);
    v->pending++;
    if (rc) {
        snprintf(j->why, sizeof j->why, "%s",
                 v->engine ? "the text cannot be spoken (too long or not UTF-8)"
                           : "no speech engine");
        j->next = v->failed;
        v->failed = j;
        loop_wakeup(v->lp);
    }
    return 0;
}

int voice_synth_dispatch(voice_synth *v)
{
    if (!v)
        return 0;
    int n = v->engine ? tts_dispatch(v->engine) : 0;
    while (v->failed) {
        voice_job *j = v->failed;
        v->failed = j->next;
        answer(j, NULL);
        n++;
    }
    return n;
}

int voice_synth_pending(const voice_synth *v) { return v ? v->pending : 0; }

void voice_synth_free(voice_synth *v)
{
    if (!v)
        return;
    tts_free(v->engine); /* answers what it holds: cancelled */
    while (v->failed) {
        voice_job *j = v->failed;
        v->failed = j->next;
        tts_result r = {.status = TTS_ERR_CANCELLED, .error = "the bot is stopping"};
        answer(j, &r);
    }
    free(v);
}
