/*
 * floor.c — the memory floor under the bot: a program linked with exactly
 * the bot's libraries (libcurl with its TLS and protocol dependencies,
 * SQLite, cJSON, libyaml, libmicrohttpd) that only initializes libcurl
 * and opens a SQLite database, then prints its peak RSS and its private
 * (anonymous) RSS in KiB: "VmHWM RssAnon". bench runs it for the "library
 * floor" row, so the table shows how much of the bot's peak RSS is there
 * before any bot code runs.
 */
#include <stdio.h>
#include <string.h>

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

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    CURLM *m = curl_multi_init();
    CURL *e = curl_easy_init();
    sqlite3 *db = NULL;
    if (!m || !e || sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", NULL, NULL, NULL);
    /* one call into each other library, so the linker keeps them all */
    if (!cJSON_Version() || !yaml_get_version_string() || !MHD_get_version())
        return 1;
    printf("%ld %ld\n", status_kb("VmHWM:"), status_kb("RssAnon:"));
    sqlite3_close(db);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return 0;
}
