/*
 * tools.c — see tools.h.
 *
 * A tool's ${NAME} placeholders (its base URL, an API key in a header) are
 * read from the environment once, when the bot opens: a tool with one
 * unset is not offered (logged), so the model never hears of what cannot
 * work. Header values from the environment are log secrets. The model's
 * arguments fill only the tool's own {argument} placeholders, in the
 * executor (ai/tool.h); {user.id} and {user.lang} are the session's.
 */
#include "actions/tools.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "actions/registry.h"
#include "base/json.h"
#include "base/log.h"
#include "storage/store_tool_calls.h"

#define TOOLS_MAX_CALLS_DEFAULT 3

typedef struct tools_part {
    store_tool_calls *calls;
    cJSON *offered; /* tool objects for deferred.h's "list"; NULL = none */
} tools_part;

/* tmpl with each ${NAME} replaced by its environment value, malloc'd;
 * NULL with *missing the first unset name (or "" on out-of-memory). When
 * secret, the values are registered as log secrets. */
static char *resolve_env(const char *tmpl, int secret, char *missing, size_t cap)
{
    size_t n = 0, room = strlen(tmpl) + 1;
    char *out = malloc(room);
    snprintf(missing, cap, "%s", "");
    for (const char *p = tmpl; out && *p;) {
        const char *val = NULL;
        size_t skip = 1;
        if (p[0] == '$' && p[1] == '{') {
            const char *e = strchr(p + 2, '}');
            char name[128];
            if (e && (size_t)(e - p - 2) < sizeof name) {
                snprintf(name, sizeof name, "%.*s", (int)(e - p - 2), p + 2);
                val = getenv(name);
                if (!val || !*val || strchr(val, '{') || strchr(val, '\r') || strchr(val, '\n')) {
                    snprintf(missing, cap, "%s", name);
                    free(out);
                    return NULL;
                }
                if (secret)
                    log_add_secret(val);
                skip = (size_t)(e - p) + 1;
            }
        }
        size_t len = val ? strlen(val) : 1;
        if (n + len + 1 > room) {
            room = (n + len + 1) * 2;
            char *q = realloc(out, room);
            if (!q) {
                free(out);
                out = NULL;
                break;
            }
            out = q;
        }
        memcpy(out + n, val ? val : p, len);
        n += len;
        p += skip;
        if (val && len && val[len - 1] == '/' && *p == '/')
            n--; /* "https://wttr.in/" + "/{city}": one slash */
    }
    if (out)
        out[n] = '\0';
    return out;
}

/* Tool t as deferred.h's list entry, its ${ENV} resolved; NULL when one is
 * unset (why says which) or on out-of-memory. */
static cJSON *offer_one(const bm_tool *t, char *why, size_t cap)
{
    char *url = resolve_env(t->url, 0, why, cap);
    if (url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        snprintf(why, cap, "its URL is not http(s)");
        free(url);
        return NULL;
    }
    cJSON *o = url ? cJSON_CreateObject() : NULL;
    cJSON *params = o ? cJSON_Parse(t->parameters) : NULL;
    cJSON *hdrs = params ? cJSON_AddArrayToObject(o, "headers") : NULL;
    bool ok = hdrs && cJSON_AddItemToObject(o, "parameters", params) &&
              cJSON_AddStringToObject(o, "name", t->name) &&
              cJSON_AddStringToObject(o, "description", t->description) &&
              cJSON_AddStringToObject(o, "method", t->method) &&
              cJSON_AddStringToObject(o, "url", url) &&
              (!t->body || cJSON_AddStringToObject(o, "body", t->body)) &&
              (!t->result || cJSON_AddStringToObject(o, "result", t->result));
    if (params && !hdrs)
        cJSON_Delete(params);
    free(url);
    for (int i = 0; ok && i < t->n_headers; i++) {
        char *h = resolve_env(t->headers[i], 1, why, cap);
        cJSON *hs = h ? cJSON_CreateString(h) : NULL;
        ok = hs && cJSON_AddItemToArray(hdrs, hs);
        if (!ok)
            cJSON_Delete(hs);
        free(h);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static void part_close(void *state)
{
    tools_part *p = state;
    if (!p)
        return;
    store_tool_calls_free(p->calls);
    cJSON_Delete(p->offered);
    free(p);
}

static int part_open(bot *b, void **state, char *err, size_t errlen)
{
    const bm_machine *m = bot_machine(b);
    tools_part *p = calloc(1, sizeof *p);
    *state = p;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* the table exists whatever the spec: export and delete walk it */
    if (!(p->calls = store_tool_calls_open(bot_store(b), err, errlen)))
        return -1;
    for (int i = 0; i < m->n_tools; i++) {
        char why[160];
        cJSON *o = offer_one(&m->tools[i], why, sizeof why);
        if (!o) {
            if (!why[0]) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            log_info("bot", "tool %s: not offered to the model (%s%s)", m->tools[i].name,
                     isupper((unsigned char)why[0]) ? "set " : "", why);
            continue;
        }
        if (!p->offered && !(p->offered = cJSON_CreateArray())) {
            cJSON_Delete(o);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        cJSON_AddItemToArray(p->offered, o);
        log_info("bot", "tool %s: offered to the model", m->tools[i].name);
    }
    return 0;
}

static int part_forget(void *state, int64_t user_id)
{
    return store_tool_calls_delete_user(((tools_part *)state)->calls, user_id);
}

static int part_export(void *state, int64_t user_id, struct cJSON *root)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "tool_calls");
    return arr ? store_tool_calls_export(((tools_part *)state)->calls, user_id, arr) : -1;
}

const bot_part part_tools = {
    .name = "tools",
    .open = part_open,
    .close = part_close,
    .forget_user = part_forget,
    .export_user = part_export,
};

char *act_tools_offer(bot_act *c, int *err)
{
    tools_part *p = bot_part_state(c->b, BOT_PART_TOOLS);
    const bm_machine *m = bot_machine(c->b);
    *err = 0;
    if (!p || !p->offered)
        return NULL;
    char id[32];
    snprintf(id, sizeof id, "%" PRId64, c->s->user_id);
    cJSON *env = cJSON_CreateObject(), *vars = NULL;
    cJSON *list = env ? cJSON_Duplicate(p->offered, true) : NULL;
    bool ok = list && cJSON_AddItemToObject(env, "list", list) &&
              (vars = cJSON_AddObjectToObject(env, "vars")) &&
              cJSON_AddStringToObject(vars, "user.id", id) &&
              cJSON_AddStringToObject(vars, "user.lang", m->langs[c->s->lang]) &&
              cJSON_AddNumberToObject(env, "max_calls",
                                      m->llm && m->llm->max_tool_calls > 0
                                          ? m->llm->max_tool_calls
                                          : TOOLS_MAX_CALLS_DEFAULT);
    if (list && !ok && !cJSON_GetObjectItemCaseSensitive(env, "list"))
        cJSON_Delete(list);
    char *js = ok ? cJSON_PrintUnformatted(env) : NULL;
    cJSON_Delete(env);
    *err = js == NULL;
    return js;
}

int act_tools_record(bot_act *c, const char *tool_log)
{
    tools_part *p = bot_part_state(c->b, BOT_PART_TOOLS);
    if (!p || !tool_log)
        return 0;
    cJSON *log = cJSON_Parse(tool_log);
    const cJSON *r;
    int rc = 0;
    cJSON_ArrayForEach(r, log) {
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
        if (store_tool_calls_add(p->calls, c->s->user_id, c->s->chat_id, json_str(r, "name"),
                                 json_str(r, "arguments"), cJSON_IsTrue(ok),
                                 cJSON_IsNumber(st) ? (long)st->valuedouble : 0,
                                 json_str(r, "result")))
            rc = -1;
    }
    cJSON_Delete(log);
    return rc;
}
