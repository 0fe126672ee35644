/*
 * test_embed.c — embeddings and hybrid retrieval: the client
 * (runtime/ai/embed.c) against the fake server's /v1/embeddings (batches,
 * the request's shape, error bodies, the answer cap, malformed answers),
 * the vector cache (runtime/ai/kbvec.c over storage/store_vectors.c: a
 * second start asks nothing, a changed chunk is asked again), and the
 * fusion (runtime/ai/vec.c, kb_search_hybrid: vectors rescue a question
 * the lexical ranking misses).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "../fake_llm/fake_llm.h"
#include "ai/embed.h"
#include "ai/kb.h"
#include "ai/kbvec.h"
#include "ai/llm.h"
#include "ai/vec.h"
#include "net/http.h"
#include "net/loop.h"
#include "storage/store.h"
#include "storage/store_vectors.h"
#include "support/tiny_machine.h"

static fakellm *g_f;
static loop *g_lp;

typedef struct outcome {
    bool done;
    embed_status st;
    char error[512];
    long http;
    int n, dims, requests;
    float first[8]; /* the first vector's start */
    float *all;     /* every vector, malloc'd */
} outcome;

static void on_done(void *ud, const embed_result *r)
{
    outcome *o = ud;
    o->done = true;
    o->st = r->status;
    snprintf(o->error, sizeof o->error, "%s", r->error);
    o->http = r->http_status;
    o->n = r->n;
    o->dims = r->dims;
    o->requests = r->requests;
    if (r->status == EMBED_OK) {
        memcpy(o->first, r->vecs, (size_t)(r->dims < 8 ? r->dims : 8) * sizeof(float));
        o->all = malloc((size_t)r->n * (size_t)r->dims * sizeof(float));
        if (o->all)
            memcpy(o->all, r->vecs, (size_t)r->n * (size_t)r->dims * sizeof(float));
    }
}

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_for(const bool *done)
{
    long end = mono_ms() + 10000;
    while (!*done && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(*done);
}

static embed_client *client(int batch, size_t max_answer, long total_ms)
{
    char err[256];
    embed_options o = {.base = fakellm_base(g_f), .model = "nomic-embed-text", .key = "sk-emb",
                       .batch = batch, .max_answer = max_answer, .total_ms = total_ms};
    embed_client *c = embed_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    return c;
}

/* Embeds texts with a fresh client; returns after on_done. */
static outcome run(int batch, size_t max_answer, const char *const *texts, int n)
{
    outcome out = {0};
    embed_client *c = client(batch, max_answer, 5000);
    embed_call *k = embed_texts(c, texts, n, on_done, &out);
    CU_ASSERT_PTR_NOT_NULL(k);
    if (k)
        wait_for(&out.done);
    embed_free(c);
    return out;
}

static void test_batches(void)
{
    const char *texts[] = {"red car", "blue car", "red car", "a boat", "the deposit"};
    int before = fakellm_requests(g_f), inputs0;
    int e0 = fakellm_embed_requests(g_f, &inputs0);
    outcome o = run(2, 0, texts, 5);
    CU_ASSERT_EQUAL(o.st, EMBED_OK);
    CU_ASSERT_EQUAL(o.n, 5);
    CU_ASSERT_EQUAL(o.dims, 64);
    CU_ASSERT_EQUAL(o.requests, 3); /* 2 + 2 + 1 */
    int inputs;
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, &inputs) - e0, 3);
    CU_ASSERT_EQUAL(inputs - inputs0, 5);
    /* in the order of the inputs across batches: 0 and 2 are one text */
    CU_ASSERT_PTR_NOT_NULL_FATAL(o.all);
    CU_ASSERT(!memcmp(o.all, o.all + 2 * 64, 64 * sizeof(float)));
    CU_ASSERT(memcmp(o.all, o.all + 1 * 64, 64 * sizeof(float)) != 0);
    free(o.all);
    char *body = fakellm_request(g_f, before);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    CU_ASSERT_STRING_EQUAL(body, "{\"input\":[\"red car\",\"blue car\"],\"model\":\"nomic-embed-text\"}");
    free(body);
    /* a bad argument starts nothing */
    embed_client *c = client(0, 0, 5000);
    const char *empty[] = {"ok", ""};
    outcome none = {0};
    CU_ASSERT_PTR_NULL(embed_texts(c, empty, 2, on_done, &none));
    CU_ASSERT_PTR_NULL(embed_texts(c, texts, 0, on_done, &none));
    embed_free(c);
    CU_ASSERT(!none.done);
}

static void test_errors(void)
{
    const char *texts[] = {"hello"};
    static const struct {
        int status;
        const char *body, *want;
    } cases[] = {
        {401, "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}",
         "HTTP 401: Incorrect API key provided / invalid_api_key"},
        {404, "{\"error\":\"model \\\"nomic\\\" not found, try pulling it first\"}",
         "HTTP 404: model \"nomic\" not found, try pulling it first"},
        {400, "{\"object\":\"error\",\"message\":\"This model does not support embeddings\",\"type\":\"BadRequestError\",\"code\":400}",
         "HTTP 400: This model does not support embeddings / 400"},
        {413, "{\"error\":\"Input validation error: inputs must have less than 512 tokens\",\"error_type\":\"Validation\"}",
         "HTTP 413: Input validation error: inputs must have less than 512 tokens"},
        {503, "Service Unavailable", "HTTP 503: Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fakellm_error(g_f, cases[i].status, cases[i].body, 1, 0);
        outcome o = run(0, 0, texts, 1);
        CU_ASSERT_EQUAL(o.st, EMBED_ERR_HTTP);
        CU_ASSERT_EQUAL(o.http, cases[i].status);
        CU_ASSERT_STRING_EQUAL(o.error, cases[i].want);
        fakellm_reset(g_f);
    }
    /* the answer's cap: 64 dims of a few bytes each exceed 100 bytes */
    outcome o = run(0, 100, texts, 1);
    CU_ASSERT_EQUAL(o.st, EMBED_ERR_TOOBIG);
    /* a server slower than the total timeout */
    fakellm_delay(g_f, 1500, 0);
    embed_client *slow = client(0, 0, 300);
    outcome t = {0};
    long t0 = mono_ms();
    CU_ASSERT_PTR_NOT_NULL(embed_texts(slow, texts, 1, on_done, &t));
    wait_for(&t.done);
    CU_ASSERT_EQUAL(t.st, EMBED_ERR_TIMEOUT);
    CU_ASSERT(mono_ms() - t0 < 1400);
    embed_free(slow);
    fakellm_reset(g_f);
    /* nothing listens */
    char err[256];
    embed_options bad = {.base = "http://127.0.0.1:1/v1", .model = "m"};
    embed_client *c = embed_new(g_lp, &bad, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    outcome n = {0};
    CU_ASSERT_PTR_NOT_NULL(embed_texts(c, texts, 1, on_done, &n));
    wait_for(&n.done);
    CU_ASSERT_EQUAL(n.st, EMBED_ERR_NETWORK);
    embed_free(c);
    /* no model, no URL */
    embed_options nomodel = {.base = "http://127.0.0.1:1/v1"};
    CU_ASSERT_PTR_NULL(embed_new(g_lp, &nomodel, err, sizeof err));
    CU_ASSERT_STRING_EQUAL(err, "EMBEDDINGS_MODEL is not set");
    embed_options nourl = {.base = "ftp://x", .model = "m"};
    CU_ASSERT_PTR_NULL(embed_new(g_lp, &nourl, err, sizeof err));
}

static void test_cancel(void)
{
    const char *texts[] = {"hello"};
    embed_client *c = client(0, 0, 5000);
    outcome o = {0};
    embed_call *k = embed_texts(c, texts, 1, on_done, &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    embed_cancel(k);
    embed_call *k2 = embed_texts(c, texts, 1, on_done, &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k2);
    embed_free(c); /* abandons k2 */
    long end = mono_ms() + 300;
    while (mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(!o.done);
}

static void test_parse(void)
{
    static const struct {
        const char *body;
        int n, want_dims, rc;
    } cases[] = {
        {"{\"data\":[{\"index\":1,\"embedding\":[3,4]},{\"index\":0,\"embedding\":[1,2]}]}", 2, 0, 0},
        {"{\"data\":[{\"embedding\":[1,2]},{\"embedding\":[3,4]}]}", 2, 2, 0}, /* no index: in order */
        {"{\"data\":[{\"embedding\":[1,2]}]}", 2, 0, -1},                     /* one short */
        {"{\"data\":[{\"embedding\":[1,2]},{\"embedding\":[3]}]}", 2, 0, -1}, /* sizes differ */
        {"{\"data\":[{\"embedding\":[1,2]}]}", 1, 3, -1},                     /* not the size wanted */
        {"{\"data\":[{\"embedding\":\"AACAPwAAAEA=\"}]}", 1, 0, -1},          /* base64 */
        {"{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}", 2, 0, -1},
        {"{\"data\":[{\"embedding\":[1,\"x\"]}]}", 1, 0, -1},
        /* an index no int holds: out of range (was an undefined conversion) */
        {"{\"data\":[{\"index\":1e300,\"embedding\":[1]}]}", 1, 0, -1},
        {"{\"data\":[{\"index\":-1e300,\"embedding\":[1]}]}", 1, 0, -1},
        {"{\"data\":[{\"embedding\":[]}]}", 1, 0, -1},
        {"[1,2]", 1, 0, -1},
        {"", 1, 0, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float *v;
        int d;
        char err[128];
        int rc = embed_parse(cases[i].body, strlen(cases[i].body), cases[i].n, cases[i].want_dims,
                             &v, &d, err, sizeof err);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (rc == 0) {
            CU_ASSERT_EQUAL(d, 2);
            CU_ASSERT(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4);
        }
        if (rc != cases[i].rc)
            fprintf(stderr, "case %zu: %s\n", i, err);
        free(v);
    }
}

static void test_fuse(void)
{
    int a[] = {1, 2, 3}, b[] = {3, 4};
    vec_fused f[8];
    int n = vec_fuse(a, 3, b, 2, f, 8);
    CU_ASSERT_EQUAL(n, 4);
    /* 3: 1/63 + 1/61 beats 1: 1/61; 2: 1/62 ties 4: 1/62, a's first */
    CU_ASSERT_EQUAL(f[0].id, 3);
    CU_ASSERT_EQUAL(f[1].id, 1);
    CU_ASSERT_EQUAL(f[2].id, 2);
    CU_ASSERT_EQUAL(f[3].id, 4);
    CU_ASSERT_EQUAL(f[0].rank_a, 3);
    CU_ASSERT_EQUAL(f[0].rank_b, 1);
    CU_ASSERT_EQUAL(vec_fuse(a, 3, b, 2, f, 2), 2);
    vec_index *x = vec_new(3, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    float r0[] = {1, 0}, r1[] = {0, 5}, r2[] = {1, 1}, zero[] = {0, 0}, q[] = {0, 2};
    CU_ASSERT_EQUAL(vec_set(x, 0, r0), 0);
    CU_ASSERT_EQUAL(vec_set(x, 1, r1), 0);
    CU_ASSERT_EQUAL(vec_set(x, 2, zero), -1);
    CU_ASSERT_EQUAL(vec_set(x, 3, r2), -1);
    CU_ASSERT_EQUAL(vec_count(x), 2);
    vec_hit h[3];
    CU_ASSERT_EQUAL(vec_top(x, q, NULL, NULL, h, 3), 2);
    CU_ASSERT_EQUAL(h[0].row, 1);
    CU_ASSERT(h[0].cosine > 0.999f);
    CU_ASSERT_EQUAL(h[1].row, 0);
    CU_ASSERT_EQUAL(vec_top(x, zero, NULL, NULL, h, 3), 0);
    vec_free(x);
}

static const char knowledge[] =
    "# Refunds\nRefunds are paid to the card within 14 days after the car is returned.\n\n"
    "# Delivery\nWe deliver the car to the airport or your hotel for 20 euros.\n\n"
    "# Deposit\nThe deposit is 300 euros, blocked on a credit card at pick-up.\n";

static kb *open_kb(const char *text)
{
    char err[256];
    kb_doc d = {.name = "k.txt", .text = text, .len = strlen(text)};
    kb *k = kb_open(&d, 1, NULL, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    return k;
}

typedef struct filled {
    bool done;
    int ok;
} filled;

static void on_filled(void *ud, int ok, const char *why)
{
    filled *f = ud;
    f->done = true;
    f->ok = ok;
}

/* A start: the kb's vectors from the cache and the server. The chunks
 * asked of the server. */
static int start(kb *k, store_vectors *sv, embed_client *c)
{
    char err[256];
    filled f = {0};
    kbvec *v = kbvec_open(k, sv, c, on_filled, &f, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    int missing = kbvec_missing(v);
    if (missing) {
        wait_for(&f.done);
        CU_ASSERT(f.ok);
    }
    CU_ASSERT_EQUAL(kb_vector_count(k), kb_chunk_count(k));
    kbvec_free(v);
    return missing;
}

static void test_cache(void)
{
    char path[] = "/tmp/botc-test-embed-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    unlink(path);
    char err[256];
    store *st = store_open(path, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    store_vectors *sv = store_vectors_open(st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sv);
    embed_client *c = client(2, 0, 5000);
    int e0 = fakellm_embed_requests(g_f, NULL);
    kb *k = open_kb(knowledge);
    CU_ASSERT_EQUAL(start(k, sv, c), 3);
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, NULL) - e0, 2); /* batches of 2 */
    CU_ASSERT_EQUAL(store_vectors_count(sv), 3);
    kb_free(k);
    store_vectors_free(sv);
    store_close(st);

    /* the second start: everything from the cache, no request */
    st = store_open(path, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    sv = store_vectors_open(st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sv);
    k = open_kb(knowledge);
    int e1 = fakellm_embed_requests(g_f, NULL);
    CU_ASSERT_EQUAL(start(k, sv, c), 0);
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, NULL), e1);
    kb_free(k);

    /* one chunk changed: it alone is asked for */
    char changed[sizeof knowledge];
    memcpy(changed, knowledge, sizeof knowledge);
    memcpy(strstr(changed, "20 euros"), "25", 2);
    k = open_kb(changed);
    int in0;
    e1 = fakellm_embed_requests(g_f, &in0);
    CU_ASSERT_EQUAL(start(k, sv, c), 1);
    int in1;
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, &in1) - e1, 1);
    CU_ASSERT_EQUAL(in1 - in0, 1);
    char *body = fakellm_request(g_f, fakellm_requests(g_f) - 1);
    CU_ASSERT_PTR_NOT_NULL(body && strstr(body, "25 euros"));
    free(body);
    CU_ASSERT_EQUAL(store_vectors_count(sv), 4);
    /* another model has its own vectors */
    embed_options o = {.base = fakellm_base(g_f), .model = "bge-m3"};
    embed_client *c2 = embed_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
    kb_free(k);
    k = open_kb(changed);
    CU_ASSERT_EQUAL(start(k, sv, c2), 3);
    embed_free(c2);
    kb_free(k);

    /* a large knowledge is asked for 64 chunks a call, each stored */
    char big[70 * 64];
    size_t len = 0;
    for (int i = 0; i < 70; i++)
        len += (size_t)snprintf(big + len, sizeof big - len, "# Topic %d\nFact number %d.\n\n",
                                i, i);
    k = open_kb(big);
    CU_ASSERT_EQUAL(kb_chunk_count(k), 70);
    embed_options ob = {.base = fakellm_base(g_f), .model = "big", .batch = 100};
    embed_client *cb = embed_new(g_lp, &ob, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cb);
    e1 = fakellm_embed_requests(g_f, NULL);
    CU_ASSERT_EQUAL(start(k, sv, cb), 70);
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, NULL) - e1, 2); /* 64, then 6 */
    CU_ASSERT_EQUAL(store_vectors_count(sv), 77);
    embed_free(cb);
    kb_free(k);

    /* a failed call leaves the kb lexical and caches nothing */
    k = open_kb("# Boats\nWe rent no boats.\n");
    fakellm_error(g_f, 500, NULL, 1, 0);
    filled f = {0};
    kbvec *v = kbvec_open(k, sv, c, on_filled, &f, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    wait_for(&f.done);
    CU_ASSERT_EQUAL(f.ok, 0);
    CU_ASSERT_EQUAL(kb_vector_count(k), 0);
    kbvec_free(v);
    kb_free(k);
    fakellm_reset(g_f);
    CU_ASSERT_EQUAL(store_vectors_count(sv), 77);
    embed_free(c);
    store_vectors_free(sv);
    store_close(st);
    unlink(path);
    char aux[sizeof path + 8];
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", path);
    unlink(aux);
}

/* "zorbling" is no word of the knowledge: bm25 finds nothing, while the
 * (fake) model embeds it as "refunds", and the vectors find the refunds. */
static void test_hybrid_rescues(void)
{
    char err[256];
    store *st = store_open(":memory:", &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    store_vectors *sv = store_vectors_open(st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sv);
    fakellm_embed_alias(g_f, "zorbling", "refunds");
    embed_client *c = client(0, 0, 5000);
    kb *k = open_kb(knowledge);
    start(k, sv, c);
    const char *q = "how long does zorbling take?";
    kb_hit hits[4];
    CU_ASSERT_EQUAL(kb_search(k, q, NULL, hits, 4), 0);
    outcome o = {0};
    CU_ASSERT_PTR_NOT_NULL(embed_texts(c, &q, 1, on_done, &o));
    wait_for(&o.done);
    CU_ASSERT_EQUAL_FATAL(o.st, EMBED_OK);
    int n = kb_search_hybrid(k, q, o.all, o.dims, NULL, hits, 4);
    CU_ASSERT(n >= 1);
    CU_ASSERT_PTR_NOT_NULL(n >= 1 ? strstr(hits[0].text, "Refunds are paid") : NULL);
    CU_ASSERT(n >= 1 && hits[0].cosine > 0.1 && hits[0].coverage == 0);
    CU_ASSERT(n >= 1 && !kb_answers(&hits[0])); /* context for the model, not an offline answer */
    /* a question both find: the lexical best stays first */
    const char *q2 = "what is the deposit";
    outcome o2 = {0};
    CU_ASSERT_PTR_NOT_NULL(embed_texts(c, &q2, 1, on_done, &o2));
    wait_for(&o2.done);
    n = kb_search_hybrid(k, q2, o2.all, o2.dims, NULL, hits, 4);
    CU_ASSERT(n >= 1 && !strncmp(hits[0].text, "Deposit", 7));
    CU_ASSERT(n >= 1 && kb_answers(&hits[0]));
    /* a vector of another size, or none: lexical */
    CU_ASSERT_EQUAL(kb_search_hybrid(k, q, o.all, 3, NULL, hits, 4), 0);
    CU_ASSERT_EQUAL(kb_search_hybrid(k, q, NULL, 0, NULL, hits, 4), 0);
    free(o.all);
    free(o2.all);
    kb_free(k);
    embed_free(c);
    fakellm_reset(g_f);
    store_vectors_free(sv);
    store_close(st);
}

typedef struct posted {
    bool done;
    long status;
    char body[1024];
    size_t len;
} posted;

static int on_posted_data(void *ud, long status, const char *data, size_t n)
{
    posted *p = ud;
    p->status = status;
    size_t room = sizeof p->body - 1 - p->len;
    n = n < room ? n : room;
    memcpy(p->body + p->len, data, n);
    p->len += n;
    p->body[p->len] = '\0';
    return 0;
}

static void on_posted(const http_result *r, void *ud)
{
    ((posted *)ud)->done = true;
}

/* The fake server is as strict as OpenAI about the request: a careless
 * client gets a 400 in OpenAI's error shape, which the client reads. */
static void test_fake_strict(void)
{
    static const char *const bad[] = {
        "[]", "{\"input\":\"x\"}", "{\"model\":\"\",\"input\":\"x\"}",
        "{\"model\":\"m\"}", "{\"model\":\"m\",\"input\":[]}",
        "{\"model\":\"m\",\"input\":[\"a\",\"\"]}", "{\"model\":\"m\",\"input\":[1]}",
        "{\"model\":\"m\",\"input\":\"x\",\"encoding_format\":\"base64\"}",
        "{\"model\":\"m\",\"input\":\"x\",\"prompt\":\"x\"}",
    };
    char url[128];
    snprintf(url, sizeof url, "%s/embeddings", fakellm_base(g_f));
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
        bool good = i == sizeof bad / sizeof bad[0];
        posted p = {0};
        http_stream_opts o = {.url = url, .headers = hdrs,
                              .body = good ? "{\"model\":\"m\",\"input\":\"x y\"}" : bad[i]};
        CU_ASSERT_EQUAL_FATAL(http_stream(g_lp, &o, on_posted_data, NULL, on_posted, &p), HTTP_OK);
        wait_for(&p.done);
        CU_ASSERT_EQUAL(p.status, good ? 200 : 400);
        char msg[256], code[64];
        if (!good) {
            CU_ASSERT_EQUAL(llm_parse_error(p.body, p.len, msg, sizeof msg, code, sizeof code), 0);
            CU_ASSERT(msg[0] != '\0');
        } else {
            CU_ASSERT_PTR_NOT_NULL(strstr(p.body, "\"index\":0,\"embedding\":["));
        }
    }
}

int main(void)
{
    char err[256];
    g_f = fakellm_start(0, err, sizeof err);
    g_lp = loop_new(NULL, err, sizeof err);
    if (!g_f || !g_lp) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("embed", NULL, NULL);
    CU_add_test(s, "batches, in order, the request's shape", test_batches);
    CU_add_test(s, "error bodies, the answer cap, the timeout, no server, bad options", test_errors);
    CU_add_test(s, "cancel and free mid-call", test_cancel);
    CU_add_test(s, "answers: index order, sizes, base64, non-numbers", test_parse);
    CU_add_test(s, "reciprocal rank fusion and the cosine scan", test_fuse);
    CU_add_test(s, "the vector cache: once per chunk and model", test_cache);
    CU_add_test(s, "hybrid retrieval rescues what bm25 misses", test_hybrid_rescues);
    CU_add_test(s, "the fake server refuses a malformed request as OpenAI does", test_fake_strict);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    loop_free(g_lp);
    fakellm_stop(g_f);
    return fails ? 1 : 0;
}
