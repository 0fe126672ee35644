/*
 * Fuzz target: the webhook's request handling (delivery/webhook.c) as a
 * client on the network drives it. One wh_server listens on a loopback port
 * for the whole run, in-process, with libmicrohttpd's own thread as in the
 * bot; each input is written as raw bytes to a fresh connection (request
 * line, headers, body: the parsing is libmicrohttpd's, the path, secret,
 * size and body checks are ours), and the requests that pass every check are taken by wh_drain (as the main loop
 * does) and their bodies parsed as the inbox parses them (tgu_parse_text).
 * The seeds carry the secret below. Corpus: tests/fuzz/corpus/webhook/.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "delivery/webhook.h"
#include "telegram/tgupdate.h"

#define FUZZ_SECRET "fuzz_secret-0123456789"

static wh_server *server;
static uint16_t port;

static int accept_update(const char *json, size_t len, void *ud)
{
    (void)ud;
    size_t cap = TGU_STRINGS_CAP(len);
    char *space = malloc(cap);
    if (!space)
        return -1;
    tgu_strings owned = {.p = space, .cap = cap};
    int64_t id;
    bm_input in;
    char err[256];
    (void)tgu_parse_text(json, len, &owned, &id, &in, err, sizeof err);
    free(space);
    return len % 7 == 0 ? -1 : 0; /* now and then "not taken now": a 503 */
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR); /* a WARN per refused request would drown the run */
    wh_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.url, sizeof c.url, "https://bot.fuzz.invalid/tg/hook");
    snprintf(c.path, sizeof c.path, "/tg/hook");
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:0");
    snprintf(c.secret, sizeof c.secret, FUZZ_SECRET);
    c.max_body = 16 * 1024; /* small, so that 413 is within the fuzzer's reach */
    c.timeout_s = 2;
    char err[256];
    server = wh_new(&c, NULL, NULL, err, sizeof err);
    if (!server) {
        fprintf(stderr, "webhook fuzz: %s\n", err);
        exit(1);
    }
    port = wh_port(server);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return 0;
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    /* Take what the server parks, read what it answers; stop once the
     * answers have paused for 10 ms, or after 100 ms without one (a cut or
     * incomplete request: the server would wait out its idle limit, and
     * our close is the client giving up, which is handled too). Closing
     * the write side instead would not help: libmicrohttpd keeps a
     * keep-alive connection until its idle limit either way. */
    long long start = now_ms(), last = 0;
    char buf[4096];
    for (;;) {
        wh_drain(server, 0, accept_update, NULL);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5) > 0) {
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got <= 0)
                break;
            last = now_ms();
        }
        long long t = now_ms();
        if (last ? t - last > 10 : t - start > 100)
            break;
    }
    close(fd);
    wh_drain(server, 0, accept_update, NULL);
    return 0;
}
