/*
 * test_whisper.c — the remote speech-to-text client (runtime/ai/whisper.c)
 * with recordings other than voice notes, against the strict fake server
 * (tests/fake_llm/fake_whisper.c): an MP3 and an MP4 go as they are under
 * a name of their type and with their Content-Type; the fake, like
 * OpenAI, refuses a name of no supported format and a name that lies
 * about the bytes (so the e2e transcripts that pass through it prove the
 * runtime names each recording right).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "../fake_llm/fake_whisper.h"
#include "ai/whisper.h"
#include "net/loop.h"

static fakewhisper *g_f;
static loop *g_lp;

typedef struct outcome {
    bool done, ok;
    long status;
    char text[256], error[512];
} outcome;

static void on_done(void *ud, const whisper_result *r)
{
    outcome *o = ud;
    o->done = true;
    o->ok = r->ok;
    o->status = r->status;
    snprintf(o->text, sizeof o->text, "%s", r->ok && r->text ? r->text : "");
    snprintf(o->error, sizeof o->error, "%s", r->error ? r->error : "");
}

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One transcription, waited for. */
static outcome transcribe(const unsigned char *audio, size_t len, const char *name,
                          const char *mime)
{
    char err[256];
    whisper_options o = {.base = fakewhisper_base(g_f), .model = "whisper-1", .timeout_ms = 10000};
    whisper_client *c = whisper_new(g_lp, &o, err, sizeof err);
    outcome out = {0};
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(whisper_transcribe(c, audio, len, name, mime, "en", on_done, &out), 0);
    long end = mono_ms() + 10000;
    while (!out.done && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(out.done);
    whisper_free(c);
    return out;
}

/* MPEG-1 Layer III frames of silence (as tests/e2e/data/silence.mp3) and a
 * lone MP4 ftyp box (tests/e2e/data/videonote.mp4). */
static unsigned char g_mp3[4170];
static const unsigned char g_mp4[28] = {0, 0, 0, 28, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
                                        0, 0, 2, 0, 'i', 's', 'o', 'm', 'i', 's', 'o', '2',
                                        'm', 'p', '4', '1'};

static void make_mp3(void)
{
    memset(g_mp3, 0, sizeof g_mp3);
    for (size_t f = 0; f < 10; f++) {
        static const unsigned char hdr[4] = {0xFF, 0xFB, 0x90, 0xC4};
        memcpy(g_mp3 + f * 417, hdr, 4);
    }
}

static void test_as_they_are(void)
{
    fakewhisper_answer(g_f, "Book a car");
    int n0 = fakewhisper_requests(g_f);
    outcome r = transcribe(g_mp3, sizeof g_mp3, "voice.mp3", "audio/mpeg");
    CU_ASSERT(r.ok);
    CU_ASSERT_STRING_EQUAL(r.text, "Book a car");
    char *req = fakewhisper_request(g_f, n0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "file=voice.mp3 4170 bytes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "type=audio/mpeg"));
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "model=whisper-1"));
    free(req);

    r = transcribe(g_mp4, sizeof g_mp4, "voice.mp4", "video/mp4");
    CU_ASSERT(r.ok);
    req = fakewhisper_request(g_f, n0 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "file=voice.mp4 28 bytes"));
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "type=video/mp4"));
    free(req);
    r = transcribe(g_mp4, sizeof g_mp4, "voice.m4a", "audio/x-m4a");
    CU_ASSERT(r.ok);
}

static void test_fake_strict(void)
{
    /* the bytes are MP3, the name says OGG: a decoder would fail */
    outcome r = transcribe(g_mp3, sizeof g_mp3, "voice.ogg", "audio/ogg");
    CU_ASSERT(!r.ok);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.error, "could not be decoded"));
    /* a name of no format OpenAI takes */
    r = transcribe(g_mp3, sizeof g_mp3, "voice.bin", "application/octet-stream");
    CU_ASSERT(!r.ok);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.error, "Invalid file format"));
    /* MP4 bytes named as MP3 */
    r = transcribe(g_mp4, sizeof g_mp4, "voice.mp3", "audio/mpeg");
    CU_ASSERT(!r.ok);
    CU_ASSERT_EQUAL(r.status, 400);
}

int main(void)
{
    char err[256];
    make_mp3();
    g_f = fakewhisper_start(0, err, sizeof err);
    g_lp = g_f ? loop_new(NULL, err, sizeof err) : NULL;
    if (!g_f || !g_lp) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("whisper", NULL, NULL);
    CU_add_test(s, "an MP3, an MP4, an M4A go as they are, named for their type", test_as_they_are);
    CU_add_test(s, "the fake refuses a name that is no format or lies about the bytes",
                test_fake_strict);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    loop_free(g_lp);
    fakewhisper_stop(g_f);
    return fails ? 1 : 0;
}
