/*
 * floor.c — the floors under the bot, measured with nothing of the bot in
 * them. Linked with exactly the bot's libraries (libcurl with its TLS and
 * protocol dependencies, SQLite, cJSON, libyaml, libmicrohttpd).
 *
 *   bench-floor
 *       memory: only initializes libcurl and opens a SQLite database, then
 *       prints its peak RSS and its private (anonymous) RSS in KiB:
 *       "VmHWM RssAnon". The "library floor" row: how much of the bot's
 *       peak RSS is there before any bot code runs.
 *
 *   bench-floor URL CALLS PARALLEL
 *       calls: POSTs CALLS sendMessage bodies like the menu's replies to
 *       URL over PARALLEL keep-alive connections with libcurl multi (the
 *       bot's transport), reading each answer and nothing more, then
 *       prints "VmHWM RssAnon CPU_SECONDS FAILED". The "libcurl call floor"
 *       row: what the menu benchmark's Bot API calls cost in CPU and
 *       memory before anything is parsed, handled or stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <yaml.h>

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && sscanf(line + n, "%ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* The calls mode (see the top). Returns the number of failed calls, or -1
 * when libcurl could not be set up. */
static int make_calls(const char *url, int total, int parallel, double *cpu)
{
    /* a menu reply: a short text under a two-button inline keyboard */
    static const char body[] =
        "{\"chat_id\":424242,\"text\":\"Which car class? Prices are per day, the deposit "
        "is returned at the end.\",\"reply_markup\":{\"inline_keyboard\":[[{\"text\":"
        "\"Economy\",\"callback_data\":\"class:economy\"},{\"text\":\"Business\","
        "\"callback_data\":\"class:business\"}]]}}";
    CURLM *m = curl_multi_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *hd2 = hd ? curl_slist_append(hd, "Expect:") : NULL;
    CURL **hs = calloc((size_t)parallel, sizeof *hs);
    if (!m || !hd2 || !hs) {
        curl_slist_free_all(hd);
        curl_multi_cleanup(m);
        free(hs);
        return -1;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);
    double cpu0 = cpu_s();
    int started = 0, done = 0, failed = 0;
    for (int i = 0; i < parallel && started < total; i++, started++) {
        hs[i] = curl_easy_init();
        if (!hs[i]) {
            failed = -1;
            goto out;
        }
        curl_easy_setopt(hs[i], CURLOPT_URL, url);
        curl_easy_setopt(hs[i], CURLOPT_HTTPHEADER, hd2);
        curl_easy_setopt(hs[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(hs[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(hs[i], CURLOPT_BUFFERSIZE, 4096L); /* as the bot's calls */
        curl_multi_add_handle(m, hs[i]);
    }
    while (done < total) {
        int running = 0, left;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *h = msg->easy_handle;
            long status = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            failed += msg->data.result != CURLE_OK || status != 200;
            done++;
            curl_multi_remove_handle(m, h);
            if (started < total) {
                started++;
                curl_multi_add_handle(m, h); /* the same handle: its connection is reused */
            }
        }
        if (done < total)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    *cpu = cpu_s() - cpu0;
out:
    for (int i = 0; i < parallel; i++) {
        if (hs[i])
            curl_multi_remove_handle(m, hs[i]);
        curl_easy_cleanup(hs[i]);
    }
    free(hs);
    curl_slist_free_all(hd2);
    curl_multi_cleanup(m);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc != 1 && argc != 4) {
        fprintf(stderr, "usage: bench-floor [URL CALLS PARALLEL]\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", NULL, NULL, NULL);
    /* one call into each other library, so the linker keeps them all */
    if (!cJSON_Version() || !yaml_get_version_string() || !MHD_get_version())
        return 1;
    int rc = 0;
    if (argc == 4) {
        int total = atoi(argv[2]), parallel = atoi(argv[3]);
        double cpu = 0;
        int failed = total > 0 && parallel > 0 ? make_calls(argv[1], total, parallel, &cpu) : -1;
        if (failed < 0)
            return 1;
        printf("%ld %ld %.3f %d\n", status_kb("VmHWM:"), status_kb("RssAnon:"), cpu, failed);
        rc = failed != 0;
    } else {
        CURLM *m = curl_multi_init();
        CURL *e = curl_easy_init();
        if (!m || !e)
            return 1;
        printf("%ld %ld\n", status_kb("VmHWM:"), status_kb("RssAnon:"));
        curl_easy_cleanup(e);
        curl_multi_cleanup(m);
    }
    sqlite3_close(db);
    curl_global_cleanup();
    return rc;
}
