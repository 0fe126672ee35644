/*
 * test_tts.c — answers by voice: speech synthesis (runtime/ai/tts.c:
 * espeak-ng + libopusenc offline, on the worker thread; the remote
 * OpenAI-compatible /v1/audio/speech against tests/fake_llm/fake_speech),
 * the Ogg/Opus check (against the fixtures opusenc made, tests/voice/, and
 * broken files), the text made speakable and cut into pieces, and the
 * staging of voice calls (runtime/delivery/voice.c) for each reply mode.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "../fake_llm/fake_speech.h"
#include "../fake_tg/fake_tg.h"
#include "ai/tts.h"
#include "base/b64.h"
#include "delivery/voice.h"
#include "net/loop.h"
#include "storage/store.h"
#include "support/tiny_machine.h"
#include "telegram/outq.h"
#include "telegram/tg.h"
#include "telegram/tgupdate.h"

static loop *g_lp;

/* A whole file (binary: its length in *n), malloc'd; NULL if unreadable. */
static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *p = malloc(cap + 1);
    size_t k;
    while (p && (k = fread(p + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) {
            char *np = realloc(p, cap * 2 + 1);
            if (!np) {
                free(p);
                p = NULL;
                break;
            }
            p = np;
            cap *= 2;
        }
    }
    fclose(f);
    if (p)
        p[len] = '\0';
    if (n)
        *n = len;
    return p;
}

/* ---- offline synthesis ------------------------------------------------------ */

static void check_note(const unsigned char *a, size_t n, double lo, double hi)
{
    CU_ASSERT_FATAL(a != NULL && n > 200);
    CU_ASSERT(memcmp(a, "OggS", 4) == 0);
    CU_ASSERT(n > 36 && memcmp(a + 28, "OpusHead", 8) == 0);
    CU_ASSERT_EQUAL(a[37], 1); /* mono */
    double secs = 0;
    char err[128] = "";
    CU_ASSERT_EQUAL(tts_ogg_check(a, n, &secs, err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "ogg check: %s\n", err);
    CU_ASSERT(secs >= lo && secs <= hi);
    if (secs < lo || secs > hi)
        fprintf(stderr, "duration %.2f s not in [%.1f, %.1f]\n", secs, lo, hi);
}

static void test_espeak(void)
{
    unsigned char *a = NULL;
    size_t n = 0;
    double secs = 0;
    char err[128];
    /* 14 words at 165 a minute: about 5 s */
    const char *en = "Our cars can be delivered to the airport in Belgrade at any time of the day.";
    CU_ASSERT_EQUAL_FATAL(tts_espeak_ogg("en", en, 165, &a, &n, &secs, err, sizeof err), 0);
    check_note(a, n, 3.0, 9.0);
    /* the PCM's length and the stream's agree within a frame or two */
    double checked = 0;
    tts_ogg_check(a, n, &checked, err, sizeof err);
    CU_ASSERT(checked > secs - 0.1 && checked < secs + 0.1);
    /* 24 kbit/s: a few kilobytes a second */
    CU_ASSERT(n < (size_t)(secs * 4500) + 2000);
    free(a);

    const char *ru = "Сколько стоит аренда машины на неделю? Доставка в аэропорт бесплатная.";
    CU_ASSERT_EQUAL_FATAL(tts_espeak_ogg("ru", ru, 165, &a, &n, &secs, err, sizeof err), 0);
    check_note(a, n, 2.5, 9.0);
    free(a);

    /* a faster voice says the same in less time */
    double slow = 0, fast = 0;
    CU_ASSERT_EQUAL(tts_espeak_ogg("en", en, 120, &a, &n, &slow, err, sizeof err), 0);
    free(a);
    CU_ASSERT_EQUAL(tts_espeak_ogg("en", en, 300, &a, &n, &fast, err, sizeof err), 0);
    free(a);
    CU_ASSERT(fast < slow * 0.7);

    /* a language without a voice of its own is spoken in English */
    CU_ASSERT_EQUAL(tts_espeak_ogg("xx", "Hello there.", 165, &a, &n, &secs, err, sizeof err), 0);
    check_note(a, n, 0.3, 3.0);
    free(a);
}

/* ---- the checker ---------------------------------------------------------------- */

static void test_ogg_check(void)
{
    /* every fixture opusenc made passes, with the duration opusenc wrote */
    char *tsv = read_all("tests/voice/fixtures.tsv", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tsv);
    int files = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "file\t", 5))
            continue;
        char name[128], path[192];
        if (sscanf(line, "%127[^\t]", name) != 1)
            continue;
        snprintf(path, sizeof path, "tests/voice/%s", name);
        size_t n = 0;
        char *a = read_all(path, &n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        double secs = 0;
        char err[128] = "";
        CU_ASSERT_EQUAL(tts_ogg_check((unsigned char *)a, n, &secs, err, sizeof err), 0);
        if (err[0])
            fprintf(stderr, "%s: %s\n", name, err);
        bool is_long = strstr(line, "\tlong\t") != NULL;
        CU_ASSERT(is_long ? secs > 60 && secs < 70 : secs > 0.5 && secs < 12);
        files++;
        free(a);
    }
    free(tsv);
    CU_ASSERT(files >= 40);

    unsigned char *a = NULL;
    size_t n = 0;
    char err[128];
    CU_ASSERT_EQUAL_FATAL(tts_espeak_ogg("en", "Book a car.", 165, &a, &n, NULL, err, sizeof err), 0);
    /* a byte changed in the audio: the page's CRC no longer matches */
    unsigned char *b = malloc(n);
    memcpy(b, a, n);
    b[n - 10] ^= 0x55;
    CU_ASSERT_EQUAL(tts_ogg_check(b, n, NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "CRC"));
    /* cut short */
    CU_ASSERT_EQUAL(tts_ogg_check(a, n - 7, NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));
    /* only the headers */
    CU_ASSERT_EQUAL(tts_ogg_check(a, 0, NULL, err, sizeof err), -1);
    /* MP3 and WAV are not voice notes */
    static const unsigned char mp3[] = {'I', 'D', '3', 4, 0, 0, 0, 0, 0, 0, 0xFF, 0xFB};
    CU_ASSERT_EQUAL(tts_ogg_check(mp3, sizeof mp3, NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "OggS"));
    /* OpusHead renamed: an Ogg stream of something else (Vorbis, say) */
    memcpy(b, a, n);
    memcpy(b + 28, "OpusHeaX", 8);
    CU_ASSERT_EQUAL(tts_ogg_check(b, n, NULL, err, sizeof err), -1);
    free(b);
    free(a);
}

/* ---- text ----------------------------------------------------------------------- */

static void test_clean(void)
{
    char *s = tts_clean("🚗 Cars and prices\n📋 Rental conditions: see https://rent.example.com/terms now");
    CU_ASSERT_STRING_EQUAL(s, "Cars and prices.\nRental conditions: see now");
    free(s);
    s = tts_clean("Economy · from €25");
    CU_ASSERT_STRING_EQUAL(s, "Economy, from €25");
    free(s);
    s = tts_clean("**Bold** and `code` — fine!\n\n• one\n• two");
    CU_ASSERT_STRING_EQUAL(s, "Bold and code — fine!\none.\ntwo");
    free(s);
    s = tts_clean("👍👨‍💻🇷🇸");
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
    s = tts_clean("Привет, Анна! 👋");
    CU_ASSERT_STRING_EQUAL(s, "Привет, Анна!");
    free(s);

    CU_ASSERT_STRING_EQUAL(tts_lang_of("Привет, Anna"), "ru");
    CU_ASSERT_STRING_EQUAL(tts_lang_of("Hello, Анна"), "en");
    CU_ASSERT_STRING_EQUAL(tts_lang_of("123"), "en");
}

static void test_split(void)
{
    char **p;
    int n;
    CU_ASSERT_EQUAL(tts_split("One. Two.", 600, &p, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_STRING_EQUAL(p[0], "One. Two.");
    tts_parts_free(p, n);

    /* sentences packed up to the cap, cut at a sentence end */
    char text[4096] = "";
    for (int i = 0; i < 30; i++)
        strcat(text, "This sentence has exactly forty-nine characters. ");
    CU_ASSERT_EQUAL(tts_split(text, 200, &p, &n), 0);
    CU_ASSERT(n >= 8);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(p[i]);
        CU_ASSERT(l <= 200);
        CU_ASSERT(p[i][l - 1] == '.');
        total += l;
    }
    CU_ASSERT(total + (size_t)n - 1 == strlen(text) - 1); /* only blanks at the cuts went */
    tts_parts_free(p, n);

    /* one long sentence: at commas, then spaces */
    char one[2048] = "";
    for (int i = 0; i < 20; i++)
        strcat(one, "a clause with several words in it, ");
    CU_ASSERT_EQUAL(tts_split(one, 100, &p, &n), 0);
    for (int i = 0; i < n; i++) {
        CU_ASSERT(strlen(p[i]) <= 100);
        CU_ASSERT(p[i][strlen(p[i]) - 1] == ',' || i == n - 1);
    }
    tts_parts_free(p, n);

    /* a word longer than the cap: at a character boundary (UTF-8 kept whole) */
    char word[512] = "";
    for (int i = 0; i < 100; i++)
        strcat(word, "щ");
    CU_ASSERT_EQUAL(tts_split(word, 65, &p, &n), 0);
    CU_ASSERT(n >= 3);
    for (int i = 0; i < n; i++)
        CU_ASSERT(strlen(p[i]) % 2 == 0 && strlen(p[i]) <= 65);
    tts_parts_free(p, n);
}

/* ---- the client: worker thread and remote ------------------------------------------ */

typedef struct got {
    int n;
    tts_status st[8];
    double secs[8];
    char why[8][160];
    int order[8];
} got;

typedef struct tag {
    got *g;
    int id;
} tag;

static void on_spoken(void *ud, const tts_result *r)
{
    tag *t = ud;
    got *g = t->g;
    if (g->n >= 8)
        return;
    g->st[g->n] = r->status;
    g->secs[g->n] = r->seconds;
    snprintf(g->why[g->n], sizeof g->why[0], "%s", r->error);
    g->order[g->n] = t->id;
    if (r->status == TTS_OK) {
        char err[128];
        CU_ASSERT_EQUAL(tts_ogg_check(r->audio, r->len, NULL, err, sizeof err), 0);
    }
    g->n++;
}

static void run_until(tts *t, got *g, int want, int ms)
{
    long end = loop_now_ms() + ms;
    while (g->n < want && loop_now_ms() < end) {
        loop_poll(g_lp, 50);
        tts_dispatch(t);
    }
}

static void test_worker(void)
{
    tts_options o = {0};
    char err[256];
    tts *t = tts_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_STRING_EQUAL(tts_engine(t), "espeak-ng");
    got g = {0};
    tag tags[3] = {{&g, 0}, {&g, 1}, {&g, 2}};
    CU_ASSERT_EQUAL(tts_speak(t, "en", "First answer, a little longer than the others.", on_spoken, &tags[0]), 0);
    CU_ASSERT_EQUAL(tts_speak(t, "ru", "Второй ответ.", on_spoken, &tags[1]), 0);
    CU_ASSERT_EQUAL(tts_speak(t, "en", "Third.", on_spoken, &tags[2]), 0);
    CU_ASSERT_EQUAL(tts_speak(t, "en", "", on_spoken, &tags[2]), -1); /* nothing to say */
    CU_ASSERT_EQUAL(tts_pending(t), 3);
    /* nothing is reported before the loop thread asks */
    CU_ASSERT_EQUAL(g.n, 0);
    run_until(t, &g, 3, 20000);
    CU_ASSERT_EQUAL(g.n, 3);
    for (int i = 0; i < g.n; i++) {
        CU_ASSERT_EQUAL(g.st[i], TTS_OK);
        CU_ASSERT_EQUAL(g.order[i], i); /* in the order asked */
    }
    CU_ASSERT(g.secs[0] > g.secs[2]);
    /* freed with work queued: reported cancelled, none lost */
    got h = {0};
    tag ht[2] = {{&h, 0}, {&h, 1}};
    tts_speak(t, "en", "Queued when the bot stops.", on_spoken, &ht[0]);
    tts_speak(t, "en", "And this one too.", on_spoken, &ht[1]);
    tts_free(t);
    CU_ASSERT_EQUAL(h.n, 2);
    for (int i = 0; i < h.n; i++)
        CU_ASSERT(h.st[i] == TTS_ERR_CANCELLED || h.st[i] == TTS_OK);
}

static void test_remote(void)
{
    char err[256];
    fakespeech *f = fakespeech_start(0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fakespeech_key(f, "sk-test");
    tts_options o = {.base = fakespeech_base(f), .key = "sk-test", .model = "tts-1-hd",
                     .voice = "nova", .total_ms = 3000};
    tts *t = tts_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_STRING_EQUAL(tts_engine(t), "tts-1-hd");
    got g = {0};
    tag tg0 = {&g, 0};
    CU_ASSERT_EQUAL(tts_speak(t, "en", "Your booking is confirmed.", on_spoken, &tg0), 0);
    run_until(t, &g, 1, 10000);
    CU_ASSERT_EQUAL(g.n, 1);
    CU_ASSERT_EQUAL(g.st[0], TTS_OK);
    CU_ASSERT(g.secs[0] > 0.8 && g.secs[0] < 5);
    char *req = fakespeech_request(f, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    CU_ASSERT_STRING_EQUAL(req, "{\"model\":\"tts-1-hd\",\"input\":\"Your booking is confirmed.\","
                                "\"voice\":\"nova\",\"response_format\":\"opus\"}");
    free(req);

    /* a 5xx: reported with OpenAI's message */
    fakespeech_error(f, 503, 1);
    tag tg1 = {&g, 1};
    tts_speak(t, "en", "Again.", on_spoken, &tg1);
    run_until(t, &g, 2, 10000);
    CU_ASSERT_EQUAL(g.st[1], TTS_ERR_HTTP);
    CU_ASSERT_PTR_NOT_NULL(strstr(g.why[1], "HTTP 503"));

    /* MP3 despite response_format: not a voice note */
    fakespeech_wrong_format(f, 1);
    tag tg2 = {&g, 2};
    tts_speak(t, "en", "Wrong format.", on_spoken, &tg2);
    run_until(t, &g, 3, 10000);
    CU_ASSERT_EQUAL(g.st[2], TTS_ERR_BAD);
    fakespeech_wrong_format(f, 0);

    /* slower than the timeout */
    fakespeech_delay(f, 4500);
    tag tg3 = {&g, 3};
    tts_speak(t, "en", "Too slow.", on_spoken, &tg3);
    run_until(t, &g, 4, 10000);
    CU_ASSERT_EQUAL(g.st[3], TTS_ERR_TIMEOUT);
    fakespeech_delay(f, 0);
    tts_free(t);

    /* a wrong key: 401 */
    o.key = "sk-wrong";
    t = tts_new(g_lp, &o, err, sizeof err);
    tag tg4 = {&g, 4};
    tts_speak(t, "en", "Who am I?", on_spoken, &tg4);
    run_until(t, &g, 5, 10000);
    CU_ASSERT_EQUAL(g.st[4], TTS_ERR_HTTP);
    CU_ASSERT_PTR_NOT_NULL(strstr(g.why[4], "401"));
    /* freed mid-call: reported cancelled at once, the transfer reaped later */
    fakespeech_delay(f, 300);
    tag tg5 = {&g, 5};
    tts_speak(t, "en", "Stopping.", on_spoken, &tg5);
    tts_free(t);
    CU_ASSERT_EQUAL(g.n, 6);
    CU_ASSERT_EQUAL(g.st[5], TTS_ERR_CANCELLED);
    for (int i = 0; i < 10; i++)
        loop_poll(g_lp, 50);

    /* the fake is strict about the JSON */
    CU_ASSERT(fakespeech_requests(f) >= 6);
    fakespeech_stop(f);

    o.base = "ftp://example.com/v1";
    CU_ASSERT_PTR_NULL(tts_new(g_lp, &o, err, sizeof err));
}

/* ---- staging voice calls ------------------------------------------------------------- */

static int count(const tgu_calls *c, const char *method)
{
    int n = 0;
    for (int i = 0; i < c->n; i++)
        n += !strcmp(c->v[i].method, method);
    return n;
}

static void stage(bm_voice_reply mode, bm_input_kind kind, bool from_voice, const char *text,
                  tgu_calls *calls)
{
    bm_machine m = {.voice_reply = mode};
    bm_input in = {.kind = kind, .text = "x", .from_voice = from_voice,
                   .user = {.id = 7, .chat_id = 7}};
    bm_effect e = {.kind = BM_FX_SEND, .chat_id = 7, .text = (char *)text};
    bm_button_out btn = {.label = "⬅️ Back", .kind = BM_BTN_REPLY};
    int rl = 1;
    e.markup = (bm_markup){.kind = BM_MK_REPLY, .n_rows = 1, .row_len = &rl, .n_buttons = 1,
                           .buttons = &btn};
    char err[128];
    tgu_calls_clear(calls);
    CU_ASSERT_EQUAL_FATAL(tgu_render(&e, calls, err, sizeof err), 0);
    CU_ASSERT_EQUAL(voice_stage(&m, &in, &e, 600, calls, 0), 0);
}

static void test_stage(void)
{
    tgu_calls c;
    tgu_calls_init(&c);
    const char *answer = "🚗 Our fleet: Economy from €25 a day.\nDelivery is free.";

    /* text mode, or a user who typed: nothing changes */
    stage(BM_VOICE_REPLY_TEXT, BM_IN_VOICE, false, answer, &c);
    CU_ASSERT(c.n == 1 && count(&c, "sendMessage") == 1);
    stage(BM_VOICE_REPLY_BOTH, BM_IN_TEXT, false, answer, &c);
    CU_ASSERT(c.n == 1 && count(&c, "sendMessage") == 1);

    /* both: the text, then the note (to be spoken); the keyboard stays on the text */
    stage(BM_VOICE_REPLY_BOTH, BM_IN_TEXT, true, answer, &c);
    CU_ASSERT_EQUAL_FATAL(c.n, 2);
    CU_ASSERT_STRING_EQUAL(c.v[0].method, "sendMessage");
    CU_ASSERT_STRING_EQUAL(c.v[1].method, "sendVoice");
    CU_ASSERT_EQUAL(c.v[1].chat_id, 7);
    cJSON *p = cJSON_Parse(c.v[1].body);
    cJSON *v = cJSON_GetObjectItem(p, "voice");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(v, "speak")),
                           "Our fleet: Economy from €25 a day.\nDelivery is free.");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(v, "lang")), "en");
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(p, "reply_markup"));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(p, "fallback"));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(p, "text"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.v[0].body, "keyboard"));
    cJSON_Delete(p);

    /* voice: the note only, with the keyboard and a fallback */
    stage(BM_VOICE_REPLY_VOICE, BM_IN_VOICE, false, answer, &c);
    CU_ASSERT_EQUAL_FATAL(c.n, 1);
    CU_ASSERT_STRING_EQUAL(c.v[0].method, "sendVoice");
    p = cJSON_Parse(c.v[0].body);
    CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "reply_markup"), "keyboard"));
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(p, "fallback")));
    cJSON_Delete(p);

    /* prepared: the upload, its duration; the fallback: the piece as text */
    unsigned char audio[] = {1, 2, 3, 0, 255};
    char *prep = voice_prepared_body(c.v[0].body, audio, sizeof audio, 2.2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(prep);
    p = cJSON_Parse(prep);
    v = cJSON_GetObjectItem(p, "voice");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(v, "file_name")), "answer.ogg");
    unsigned char *dec;
    size_t dn;
    CU_ASSERT_EQUAL(b64_decode(cJSON_GetStringValue(cJSON_GetObjectItem(v, "content_base64")), &dec, &dn), 0);
    CU_ASSERT(dn == sizeof audio && !memcmp(dec, audio, dn));
    free(dec);
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(p, "duration")->valueint, 3);
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(p, "fallback"));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(v, "speak"));
    cJSON_Delete(p);
    free(prep);
    char *fb = voice_fallback_body(c.v[0].body);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fb);
    p = cJSON_Parse(fb);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(p, "text")),
                           "Our fleet: Economy from €25 a day.\nDelivery is free.");
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(p, "voice"));
    CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(p, "reply_markup"));
    cJSON_Delete(p);
    free(fb);

    /* a long answer: pieces, the keyboard on the last one only */
    char longer[8192] = "";
    for (int i = 0; i < 40; i++)
        strcat(longer, "The deposit is returned within seven days after the car comes back. ");
    stage(BM_VOICE_REPLY_VOICE, BM_IN_VOICE, false, longer, &c);
    CU_ASSERT(c.n >= 5 && count(&c, "sendVoice") == c.n);
    for (int i = 0; i < c.n; i++)
        CU_ASSERT_EQUAL(strstr(c.v[i].body, "reply_markup") != NULL, i == c.n - 1);

    /* too long for VOICE_MAX_PIECES notes: the text goes too, the first notes are spoken */
    char *huge = malloc(20000);
    huge[0] = '\0';
    for (int i = 0; i < 150; i++)
        strcat(huge, "Every sentence here is spoken or written, nothing is lost at all. ");
    stage(BM_VOICE_REPLY_VOICE, BM_IN_VOICE, false, huge, &c);
    CU_ASSERT_EQUAL(count(&c, "sendVoice"), VOICE_MAX_PIECES);
    CU_ASSERT(count(&c, "sendMessage") >= 3);
    free(huge);

    /* an inline keyboard stays on the text (its buttons edit that message) */
    {
        bm_machine m = {.voice_reply = BM_VOICE_REPLY_VOICE};
        bm_input in = {.kind = BM_IN_VOICE, .text = "x", .user = {.id = 7, .chat_id = 7}};
        bm_effect e = {.kind = BM_FX_SEND, .chat_id = 7, .text = "Pick a class."};
        bm_button_out btn = {.label = "SUV", .data = "suv", .kind = BM_BTN_CALLBACK};
        int rl = 1;
        e.markup = (bm_markup){.kind = BM_MK_INLINE, .n_rows = 1, .row_len = &rl,
                               .n_buttons = 1, .buttons = &btn};
        char err[128];
        tgu_calls_clear(&c);
        CU_ASSERT_EQUAL(tgu_render(&e, &c, err, sizeof err), 0);
        CU_ASSERT_EQUAL(voice_stage(&m, &in, &e, 600, &c, 0), 0);
        CU_ASSERT(c.n == 2 && !strcmp(c.v[0].method, "sendMessage") &&
                  strstr(c.v[0].body, "inline_keyboard") && !strcmp(c.v[1].method, "sendVoice") &&
                  !strstr(c.v[1].body, "reply_markup") && !strstr(c.v[1].body, "fallback"));
    }

    /* emoji only: nothing to say, the text goes */
    stage(BM_VOICE_REPLY_VOICE, BM_IN_VOICE, false, "👍", &c);
    CU_ASSERT(c.n == 1 && count(&c, "sendMessage") == 1);

    /* Russian */
    stage(BM_VOICE_REPLY_BOTH, BM_IN_VOICE, false, "Доставка бесплатная.", &c);
    CU_ASSERT(c.n == 2 && strstr(c.v[1].body, "\"lang\":\"ru\""));
    tgu_calls_free(&c);
}


/* ---- the outbox's preparer ------------------------------------------------------------ */

static const char *voice_body(int64_t chat, const char *speak)
{
    static char b[512];
    snprintf(b, sizeof b, "{\"chat_id\":%lld,\"voice\":{\"file_name\":\"answer.ogg\","
             "\"speak\":\"%s\",\"lang\":\"en\"}}", (long long)chat, speak);
    return b;
}

static int rows_cb(void *ud, const store_outbox_row *r)
{
    (void)r;
    (*(int *)ud)++;
    return 0;
}

static void pump_all(outq *q, voice_synth *vs, long max_ms)
{
    long end = loop_now_ms() + max_ms;
    while ((outq_pending(q) > 0 || voice_synth_pending(vs) > 0) && loop_now_ms() < end) {
        voice_synth_dispatch(vs);
        outq_flush(q);
        long w = outq_pump(q);
        loop_poll(g_lp, w < 0 || w > 50 ? 50 : (int)w);
    }
    outq_flush(q);
}

static bool is_call(const fake_tg_call *c, void *ud)
{
    (void)ud;
    return c->status == 200 && (!strcmp(c->method, "sendVoice") || !strcmp(c->method, "sendMessage"));
}

static void test_outbox_prepare(void)
{
    char err[256], dir[64] = "/tmp/botc-tts-XXXXXX", path[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    fake_tg_opts fo = {.allow_unknown_chats = true};
    fake_tg *ft = fake_tg_new(&fo, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
    char base[64];
    fake_tg_base_url(ft, base, sizeof base);
    tg_options to = {.api_base = base, .token = fake_tg_token(ft)};
    tg_client *tg = tg_new(g_lp, &to, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tg);
    snprintf(path, sizeof path, "%s/v.db", dir);
    store *st = store_open(path, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    voice_synth *vs = voice_synth_new(g_lp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(vs);
    outq_options qo = {.st = st, .prepare = voice_synth_prepare, .prepare_method = VOICE_METHOD,
                       .prepare_ud = vs};

    /* chat 10: a note to speak, then a text; chat 20: a text */
    outq *q = outq_new(tg, &qo);
    uint64_t seq0 = fake_tg_ncalls(ft);
    CU_ASSERT_EQUAL(outq_push_body(q, 10, "sendVoice", strdup(voice_body(10, "A voice answer of several words, spoken first."))), 0);
    CU_ASSERT_EQUAL(outq_push_body(q, 10, "sendMessage", strdup("{\"chat_id\":10,\"text\":\"after the note\"}")), 0);
    CU_ASSERT_EQUAL(outq_push_body(q, 20, "sendMessage", strdup("{\"chat_id\":20,\"text\":\"another chat\"}")), 0);
    pump_all(q, vs, 20000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    size_t n = 0;
    fake_tg_call *calls = fake_tg_calls_since(ft, seq0, &n);
    int voice_at = -1, after_at = -1, other_at = -1;
    for (size_t i = 0; i < n; i++) {
        const cJSON *chat = cJSON_GetObjectItem(calls[i].params, "chat_id");
        if (calls[i].status != 200)
            fprintf(stderr, "%s: %d %s\n", calls[i].method, calls[i].status, calls[i].description);
        if (!strcmp(calls[i].method, "sendVoice")) {
            voice_at = (int)i;
            const cJSON *v = cJSON_GetObjectItem(calls[i].params, "voice");
            CU_ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(v, "ogg_opus_seconds")));
            CU_ASSERT(cJSON_GetObjectItem(calls[i].params, "duration")->valueint >= 2);
        } else if (chat && chat->valueint == 10) {
            after_at = (int)i;
        } else if (chat && chat->valueint == 20) {
            other_at = (int)i;
        }
    }
    CU_ASSERT(voice_at >= 0 && after_at > voice_at); /* the chat's order */
    CU_ASSERT(other_at >= 0 && other_at < voice_at);  /* others do not wait for speech */
    fake_tg_calls_free(calls, n);
    int rows = 0;
    store_outbox_load(st, rows_cb, &rows);
    CU_ASSERT_EQUAL(rows, 0);

    /* stopped while the note is being spoken: the row stays, the next
     * start speaks it and sends it */
    CU_ASSERT_EQUAL(outq_push_body(q, 10, "sendVoice", strdup(voice_body(10, "Left by a stop."))), 0);
    outq_pump(q); /* handed to the preparer */
    CU_ASSERT_EQUAL(voice_synth_pending(vs), 1);
    outq_free(q);
    voice_synth_free(vs); /* cancelled: the orphaned call is freed */
    rows = 0;
    store_outbox_load(st, rows_cb, &rows);
    CU_ASSERT_EQUAL(rows, 1);
    vs = voice_synth_new(g_lp);
    qo.prepare_ud = vs;
    q = outq_new(tg, &qo);
    seq0 = fake_tg_ncalls(ft);
    CU_ASSERT_EQUAL(outq_restore(q), 1);
    pump_all(q, vs, 20000);
    fake_tg_call c;
    CU_ASSERT(fake_tg_wait_call(ft, seq0, is_call, NULL, 2000, &c));
    CU_ASSERT_STRING_EQUAL(c.method, "sendVoice");
    fake_tg_call_clear(&c);
    rows = 0;
    store_outbox_load(st, rows_cb, &rows);
    CU_ASSERT_EQUAL(rows, 0);

    /* a voice call that is already a file: sent as it is; one Telegram
     * refuses (not Ogg/Opus) is dropped like any 400 */
    seq0 = fake_tg_ncalls(ft);
    CU_ASSERT_EQUAL(outq_push_body(q, 10, "sendVoice", strdup("{\"chat_id\":10,\"voice\":{\"file_name\":\"x.ogg\",\"content\":\"not ogg\"}}")), 0);
    pump_all(q, vs, 5000);
    CU_ASSERT(fake_tg_wait_call(ft, seq0, NULL, NULL, 2000, &c));
    CU_ASSERT_EQUAL(c.status, 400);
    CU_ASSERT_PTR_NOT_NULL(c.description && strstr(c.description, "not an OGG/Opus voice note"));
    fake_tg_call_clear(&c);

    /* an upload whose base64 is broken can never go: refused at once */
    CU_ASSERT_EQUAL(tg_call_body(tg, "sendVoice", "{\"chat_id\":10,\"voice\":{\"file_name\":"
                                 "\"a.ogg\",\"content_base64\":\"@@@\"}}", NULL, NULL),
                    TG_ERR_CONFIG);

    outq_free(q);
    voice_synth_free(vs);
    store_close(st);
    tg_free(tg);
    fake_tg_free(ft);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    char err[256];
    g_lp = loop_new(NULL, err, sizeof err);
    if (!g_lp) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("tts", NULL, NULL);
    CU_add_test(s, "espeak-ng: English and Russian voice notes of plausible length", test_espeak);
    CU_add_test(s, "Ogg/Opus check: the opusenc fixtures pass, broken files fail", test_ogg_check);
    CU_add_test(s, "text made speakable; the language by its letters", test_clean);
    CU_add_test(s, "pieces at sentences, clauses, words, characters", test_split);
    CU_add_test(s, "the worker thread: in order, reported on the loop thread, cancelled at free", test_worker);
    CU_add_test(s, "remote /v1/audio/speech: ok, 5xx, wrong format, timeout, 401, free mid-call", test_remote);
    CU_add_test(s, "staging voice calls for text, both and voice", test_stage);
    CU_add_test(s, "the outbox's preparer: chat order, other chats, a stop mid-speech, refusals", test_outbox_prepare);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    loop_free(g_lp);
    return fails ? 1 : 0;
}
