/*
 * test_sse.c — runtime/ai/sse.c, data-driven.
 *
 * Every .txt file in tests/unit/data/sse/ holds a stream as a server sends it and
 * the events it must give:
 *
 *   # comment lines
 *   eol: lf | crlf | cr        (optional, default lf: what ends each line)
 *   --- stream
 *   data: {...}                each line is followed by the eol; "\xHH" is
 *                              a raw byte; a line ending in "\c" gets no eol
 *   --- events
 *   delta "json string"        one line per event, in order
 *   finish REASON
 *   usage PROMPT COMPLETION TOTAL
 *   error "json string" [CODE]
 *   done
 *   skipped N                  (optional) events skipped as non-JSON
 *
 * Each stream is fed whole, one byte at a time, and cut in two at every
 * byte position: all must give exactly the expected events, so an event,
 * a "\r\n" or a UTF-8 character split across reads changes nothing.
 */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ai/sse.h"
#include "base/text.h"
#include "support/slurp.h"

#define DATA_DIR "tests/unit/data/sse"

typedef struct evlist {
    text_buf out; /* canonical events, one per line */
} evlist;

static void put_json_string(text_buf *b, const char *s, size_t n)
{
    char *tmp = malloc(n + 1);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    cJSON *j = cJSON_CreateString(tmp);
    char *p = cJSON_PrintUnformatted(j);
    text_buf_adds(b, p);
    cJSON_free(p);
    cJSON_Delete(j);
    free(tmp);
}

static int collect(void *ud, const sse_event *ev)
{
    evlist *l = ud;
    char num[96];
    switch (ev->kind) {
    case SSE_DELTA:
        text_buf_adds(&l->out, "delta ");
        put_json_string(&l->out, ev->text, ev->len);
        break;
    case SSE_FINISH:
        text_buf_adds(&l->out, "finish ");
        text_buf_add(&l->out, ev->text, ev->len);
        break;
    case SSE_USAGE:
        snprintf(num, sizeof num, "usage %ld %ld %ld", ev->prompt_tokens, ev->completion_tokens,
                 ev->total_tokens);
        text_buf_adds(&l->out, num);
        break;
    case SSE_ERROR:
        text_buf_adds(&l->out, "error ");
        put_json_string(&l->out, ev->text, ev->len);
        if (ev->code) {
            text_buf_adds(&l->out, " ");
            text_buf_adds(&l->out, ev->code);
        }
        break;
    case SSE_DONE:
        text_buf_adds(&l->out, "done");
        break;
    case SSE_TOOL_CALL: /* test_tool.c reads these */
        snprintf(num, sizeof num, "tool_call %d %s %s ", ev->index, ev->id ? ev->id : "-",
                 ev->name ? ev->name : "-");
        text_buf_adds(&l->out, num);
        put_json_string(&l->out, ev->text, ev->len);
        break;
    }
    text_buf_adds(&l->out, "\n");
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

typedef struct tcase {
    text_buf stream;
    text_buf want; /* canonical */
    int skipped;   /* -1: not checked */
} tcase;

/* Parse a case file; returns 0 or -1 (reported). */
static int parse_case(const char *path, tcase *tc)
{
    char *src = slurp(path);
    if (!src) {
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    text_buf_init(&tc->stream, 1 << 20);
    text_buf_init(&tc->want, 1 << 20);
    tc->skipped = -1;
    const char *eol = "\n";
    int section = 0; /* 0 header, 1 stream, 2 events */
    char *next = src;
    while (*next) {
        /* by hand: blank lines are part of a stream */
        char *line = next, *nl = strchr(next, '\n');
        if (nl) {
            *nl = '\0';
            next = nl + 1;
        } else {
            next = line + strlen(line);
        }
        if (!strcmp(line, "--- stream")) {
            section = 1;
            continue;
        }
        if (!strcmp(line, "--- events")) {
            section = 2;
            continue;
        }
        if (section == 0) {
            if (!strcmp(line, "eol: crlf"))
                eol = "\r\n";
            else if (!strcmp(line, "eol: cr"))
                eol = "\r";
            continue;
        }
        if (section == 1) {
            size_t n = strlen(line);
            bool no_eol = n >= 2 && !strcmp(line + n - 2, "\\c");
            if (no_eol)
                n -= 2;
            for (size_t i = 0; i < n; i++) {
                if (line[i] == '\\' && i + 3 < n + 1 && line[i + 1] == 'x' &&
                    hexval(line[i + 2]) >= 0 && hexval(line[i + 3]) >= 0) {
                    text_buf_addc(&tc->stream, (char)(hexval(line[i + 2]) * 16 + hexval(line[i + 3])));
                    i += 3;
                } else {
                    text_buf_addc(&tc->stream, line[i]);
                }
            }
            if (!no_eol)
                text_buf_adds(&tc->stream, eol);
            continue;
        }
        if (!*line || line[0] == '#')
            continue;
        if (!strncmp(line, "skipped ", 8)) {
            tc->skipped = atoi(line + 8);
            continue;
        }
        if (!strncmp(line, "delta ", 6) || !strncmp(line, "error ", 6)) {
            /* re-print the JSON string so both sides are canonical */
            const char *end = NULL;
            cJSON *j = cJSON_ParseWithOpts(line + 6, &end, 0);
            if (!cJSON_IsString(j)) {
                fprintf(stderr, "%s: bad event line: %s\n", path, line);
                cJSON_Delete(j);
                free(src);
                return -1;
            }
            text_buf_add(&tc->want, line, 6);
            put_json_string(&tc->want, j->valuestring, strlen(j->valuestring));
            text_buf_adds(&tc->want, end);
            cJSON_Delete(j);
        } else {
            text_buf_adds(&tc->want, line);
        }
        text_buf_adds(&tc->want, "\n");
    }
    free(src);
    if (section != 2) {
        fprintf(stderr, "%s: no '--- events' section\n", path);
        return -1;
    }
    return 0;
}

/* Feed `s` cut at the given positions (ascending, within n). */
static char *run(const char *s, size_t n, const size_t *cuts, size_t ncuts, int *skipped)
{
    evlist l;
    text_buf_init(&l.out, 1 << 20);
    sse_parser *p = sse_new(collect, &l, 0);
    size_t at = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        sse_feed(p, s + at, to - at);
        at = to;
    }
    sse_end(p);
    *skipped = sse_skipped(p);
    sse_free(p);
    return text_buf_take(&l.out);
}

static int g_files;

static void check_case(const char *path)
{
    tcase tc;
    if (parse_case(path, &tc)) {
        CU_FAIL("unreadable case");
        return;
    }
    g_files++;
    const char *s = tc.stream.p ? tc.stream.p : "";
    size_t n = tc.stream.len;
    const char *want = tc.want.p ? tc.want.p : "";
    int skipped;
    char *whole = run(s, n, NULL, 0, &skipped);
    if (strcmp(whole, want))
        fprintf(stderr, "\n%s (whole): got\n%s---- want\n%s", path, whole, want);
    CU_ASSERT_STRING_EQUAL(whole, want);
    if (tc.skipped >= 0)
        CU_ASSERT_EQUAL(skipped, tc.skipped);
    free(whole);

    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    for (size_t i = 0; i < n; i++)
        cuts[i] = i + 1;
    char *bytes = run(s, n, cuts, n ? n - 1 : 0, &skipped);
    if (strcmp(bytes, want))
        fprintf(stderr, "\n%s (byte by byte): got\n%s---- want\n%s", path, bytes, want);
    CU_ASSERT_STRING_EQUAL(bytes, want);
    free(bytes);

    int bad = 0;
    for (size_t k = 1; k < n && bad < 3; k++) {
        char *two = run(s, n, &k, 1, &skipped);
        if (strcmp(two, want)) {
            fprintf(stderr, "\n%s (cut at %zu): got\n%s---- want\n%s", path, k, two, want);
            bad++;
        }
        free(two);
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(cuts);
    text_buf_free(&tc.stream);
    text_buf_free(&tc.want);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_data_files(void)
{
    DIR *d = opendir(DATA_DIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".txt"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", DATA_DIR, names[i]);
        check_case(path);
        free(names[i]);
    }
    CU_ASSERT(g_files >= 10);
}

static int stop_after_first(void *ud, const sse_event *ev)
{
    (void)ev;
    (*(int *)ud)++;
    return 1;
}

/* The callback can stop the parse; later feeds are refused. */
static void test_stop(void)
{
    int calls = 0;
    sse_parser *p = sse_new(stop_after_first, &calls, 0);
    const char *s = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                    "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n";
    CU_ASSERT_EQUAL(sse_feed(p, s, strlen(s)), -1);
    CU_ASSERT_EQUAL(calls, 1);
    CU_ASSERT_EQUAL(sse_feed(p, "\n", 1), -1);
    CU_ASSERT_EQUAL(sse_end(p), -1);
    sse_free(p);
}

/* An event larger than the cap ends the parse with one error. */
static void test_cap(void)
{
    evlist l;
    text_buf_init(&l.out, 1 << 20);
    sse_parser *p = sse_new(collect, &l, 1024);
    char big[600];
    memset(big, 'x', sizeof big);
    CU_ASSERT_EQUAL(sse_feed(p, "data: ", 6), 0);
    CU_ASSERT_EQUAL(sse_feed(p, big, sizeof big), 0);
    CU_ASSERT_EQUAL(sse_feed(p, "\ndata: ", 7), 0);
    CU_ASSERT_EQUAL(sse_feed(p, big, sizeof big), 0);
    CU_ASSERT_EQUAL(sse_feed(p, "\n\n", 2), -1); /* the event: 1,201 bytes > 1,024 */
    CU_ASSERT_EQUAL(sse_feed(p, "\n", 1), -1);
    CU_ASSERT_STRING_EQUAL(l.out.p, "error \"event too large\"\n");
    sse_free(p);
    text_buf_free(&l.out);

    /* one endless line with no newline at all is capped the same way */
    text_buf_init(&l.out, 1 << 20);
    p = sse_new(collect, &l, 1024);
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++)
        rc = sse_feed(p, big, sizeof big);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_STRING_EQUAL(l.out.p, "error \"event too large\"\n");
    sse_free(p);
    text_buf_free(&l.out);
}

/* A whole (non-streamed) completion body parses with the same code. */
static void test_whole_body(void)
{
    evlist l;
    text_buf_init(&l.out, 1 << 20);
    const char *body = "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                       "\"message\":{\"role\":\"assistant\",\"content\":\"Hi \xD1\"},"
                       "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
                       "\"completion_tokens\":1,\"total_tokens\":4}}";
    CU_ASSERT_EQUAL(sse_parse_chunk(body, strlen(body), collect, &l), 0);
    CU_ASSERT_STRING_EQUAL(l.out.p, "delta \"Hi \xEF\xBF\xBD\"\nfinish stop\nusage 3 1 4\n");
    CU_ASSERT_EQUAL(sse_parse_chunk("nope", 4, collect, &l), 1);
    text_buf_free(&l.out);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("sse", NULL, NULL);
    CU_add_test(s, "streams in tests/unit/data/sse, split at every byte", test_data_files);
    CU_add_test(s, "callback stops the parse", test_stop);
    CU_add_test(s, "event size cap", test_cap);
    CU_add_test(s, "whole completion body", test_whole_body);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
