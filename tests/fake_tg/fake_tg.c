/*
 * fake_tg.c — the strict fake Telegram Bot API server (see fake_tg.h).
 *
 * Layout: schema loading and the validator (check_*), the per-chat world
 * (chats, bot messages, events, callback queries, the update queue), the
 * method behaviours (do_*), the HTTP layer (on_request), and the public
 * accessors. One mutex guards the world and the call log; one condition
 * variable is broadcast on every change (new update, call or event), which
 * wakes long polls and test waiters alike.
 */
#include "fake_tg.h"
#include "deliver.h"
#include "../unit/support/slurp.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#define MAX_BODY_DEFAULT (1024u * 1024u)
#define MAX_ALTS 8
#define PATH_MAX_LEN 256
#define MAX_POLL_TIMEOUT 50
#define MAX_WARNINGS 32

/* ---- small helpers ------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d) abort(); /* a test fixture: out of memory is fatal */
    memcpy(d, s, n + 1);
    return d;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) abort();
    return q;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    char buf[1024]; /* only short error descriptions are formatted */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return xstrdup(buf);
}

static cJSON *dup_json(const cJSON *j)
{
    return j ? cJSON_Duplicate(j, 1) : NULL;
}

/* An integral JSON number (ids are 64-bit; cJSON keeps them as doubles,
 * exact up to 2^53, which covers every Telegram id). */
static bool json_is_int(const cJSON *v)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    return isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0;
}

static int64_t json_i64(const cJSON *v)
{
    return (int64_t)v->valuedouble;
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s) return false;
    /* strtoll accepts leading spaces and '+'; Telegram would too, keep it */
    *out = (int64_t)v;
    return true;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Whether s is valid UTF-8 (no overlong forms, no surrogates, at most
 * U+10FFFF), as Telegram requires of every string; written here, not taken
 * from the runtime under test. */
static bool utf8_ok(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s, n, cp;
        if (c < 0x80) { s++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return false;
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        s += n + 1;
    }
    return true;
}

/* Whether any string (or key) inside j is not valid UTF-8. */
static bool has_bad_utf8(const cJSON *j)
{
    if (j->string && !utf8_ok(j->string)) return true;
    if (cJSON_IsString(j)) return !utf8_ok(j->valuestring);
    const cJSON *k;
    cJSON_ArrayForEach(k, j)
        if (has_bad_utf8(k)) return true;
    return false;
}

/* UTF-16 code units of s[0..len) — how Telegram counts message length. */
static size_t utf16_len(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) == 0x80) continue;      /* continuation byte */
        n += (c >= 0xF0) ? 2 : 1;              /* 4-byte sequences are pairs */
    }
    return n;
}

/* Length in UTF-16 units after trimming leading/trailing whitespace. */
static size_t trimmed_utf16_len(const char *s)
{
    size_t b = 0, e = strlen(s);
    while (b < e && isspace((unsigned char)s[b])) b++;
    while (e > b && isspace((unsigned char)s[e - 1])) e--;
    return utf16_len(s + b, e - b);
}

/* ---- the world ------------------------------------------------------------ */

typedef struct bot_msg {
    int64_t id;
    int64_t date;
    char *text;
    cJSON *markup; /* inline markup currently on the message, or NULL */
} bot_msg;

typedef struct event_list {
    fake_tg_event *v;
    size_t n, cap;
} event_list;

typedef struct topic {
    int64_t thread_id;
    char *name;
    bool closed;
} topic;

/* A message the fake knows besides the bot's: pushed in an update. */
typedef struct umsg {
    int64_t id;
    char *text;  /* text or caption, NULL if none */
} umsg;

typedef struct chat {
    bool forum;      /* declared a forum supergroup (fake_tg_declare_forum) */
    topic *topics;
    size_t ntopics;
    umsg *umsgs;
    size_t numsgs;
    int64_t id;
    int64_t next_msg_id;
    cJSON *user;     /* the User behind the private chat (for Chat fields) */
    char *title;     /* groups (id < 0): the title */
    cJSON *reply_kb; /* ReplyKeyboardMarkup currently shown, or NULL */
    bot_msg *msgs;
    size_t nmsgs, capmsgs;
    event_list ev[FAKE_TG_EVENT_KINDS];
} chat;

typedef struct cbq {
    char id[32];
    int64_t chat_id;
    int64_t message_id;
    bool answered;
} cbq;

/* An injected fault (fake_tg_add_fault); strings owned. */
typedef struct fault_rule {
    fake_tg_fault f;
} fault_rule;

/* A 429 given: calls for `chat` (or, bot-wide, of `method`) must wait. */
typedef struct hold {
    int64_t chat;
    char method[64];
    double until;
} hold;

typedef struct fail_rule {
    char *method; /* NULL = any */
    int status;
    char *description;
    int retry_after;
    int count;
} fail_rule;

/* Open addressing over a schema object's members, by name (methods case-
 * insensitively, as Telegram matches them). Read-only after fake_tg_new. */
#define NAME_INDEX_SLOTS 2048 /* a power of two above twice the schema's types */
typedef struct field_ix field_ix;
typedef struct name_index {
    const cJSON *slot[NAME_INDEX_SLOTS];
    field_ix *fields[NAME_INDEX_SLOTS]; /* types: the slot's fields, hashed */
    bool nocase;
} name_index;

/* A type's (or method's) fields by name: [name, type, required, ...]
 * entries of its "fields" array. */
struct field_ix {
    int n_slots;            /* a power of two, at least twice the fields */
    const cJSON **slot;
};

static uint32_t name_hash(const char *s, bool nocase)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (nocase && ch >= 'A' && ch <= 'Z')
            ch = (unsigned char)(ch - 'A' + 'a');
        h = (h ^ ch) * 16777619u;
    }
    return h;
}

static void name_index_build(name_index *ix, const cJSON *obj, bool nocase)
{
    memset(ix, 0, sizeof *ix);
    ix->nocase = nocase;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj) {
        if (!m->string)
            continue;
        uint32_t i = name_hash(m->string, nocase) & (NAME_INDEX_SLOTS - 1);
        while (ix->slot[i])
            i = (i + 1) & (NAME_INDEX_SLOTS - 1);
        ix->slot[i] = m;
    }
}

static int name_index_find(const name_index *ix, const char *name)
{
    uint32_t i = name_hash(name, ix->nocase) & (NAME_INDEX_SLOTS - 1);
    for (const cJSON *m; (m = ix->slot[i]); i = (i + 1) & (NAME_INDEX_SLOTS - 1))
        if (!(ix->nocase ? strcasecmp(m->string, name) : strcmp(m->string, name)))
            return (int)i;
    return -1;
}

static const cJSON *name_index_get(const name_index *ix, const char *name)
{
    int i = name_index_find(ix, name);
    return i < 0 ? NULL : ix->slot[i];
}

static field_ix *field_ix_new(const cJSON *fields)
{
    int n = cJSON_GetArraySize(fields), cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    field_ix *fx = calloc(1, sizeof *fx);
    if (!fx || !(fx->slot = calloc((size_t)cap, sizeof *fx->slot)))
        abort();
    fx->n_slots = cap;
    const cJSON *f;
    cJSON_ArrayForEach(f, fields) {
        const cJSON *name = cJSON_GetArrayItem(f, 0);
        if (!cJSON_IsString(name))
            continue;
        uint32_t i = name_hash(name->valuestring, false) & (uint32_t)(cap - 1);
        while (fx->slot[i])
            i = (i + 1) & (uint32_t)(cap - 1);
        fx->slot[i] = f;
    }
    return fx;
}

/* The [name, type, required] entry of field `name`, or NULL. */
static const cJSON *field_ix_get(const field_ix *fx, const char *name)
{
    uint32_t i = name_hash(name, false) & (uint32_t)(fx->n_slots - 1);
    for (const cJSON *f; (f = fx->slot[i]); i = (i + 1) & (uint32_t)(fx->n_slots - 1))
        if (!strcmp(cJSON_GetArrayItem(f, 0)->valuestring, name))
            return f;
    return NULL;
}

static void name_index_index_fields(name_index *ix)
{
    for (int i = 0; i < NAME_INDEX_SLOTS; i++) {
        const cJSON *fields = ix->slot[i] ? cJSON_GetObjectItemCaseSensitive(ix->slot[i], "fields")
                                          : NULL;
        if (cJSON_IsArray(fields))
            ix->fields[i] = field_ix_new(fields);
    }
}

static void name_index_free(name_index *ix)
{
    for (int i = 0; i < NAME_INDEX_SLOTS; i++) {
        if (ix->fields[i]) {
            free(ix->fields[i]->slot);
            free(ix->fields[i]);
        }
    }
}

/* A file the bot may download (getFile, then /file/bot<token>/<path>). */
typedef struct fake_file {
    char *file_id;
    char *path;              /* file_path getFile answers: "voice/<id>.oga" */
    unsigned char *data;
    size_t len;
} fake_file;

struct fake_tg {
    struct MHD_Daemon *daemon;
    uint16_t port;
    char *token;
    int64_t bot_id;
    char *bot_username;
    int64_t *bad_ids;        /* updates whose update_id getUpdates renders as a string */
    size_t nbad_ids, capbad_ids;
    size_t max_body;
    bool allow_unknown_chats;
    bool verbose;

    fake_file *files;        /* fake_tg_add_file, under mu */
    size_t nfiles;
    cJSON *schema;           /* whole file */
    const cJSON *methods;    /* schema.methods */
    const cJSON *types;      /* schema.types */
    /* Hashed indexes of the two (a cJSON object is a list: the checker
     * looks types up for every field of every call, and the linear search
     * made the fake slower than the bots it measures) */
    name_index type_ix, method_ix;

    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;

    chat **chats;
    size_t nchats, capchats;
    chat **chat_ix;          /* open addressing by id (chats are never removed) */
    size_t chat_ix_cap;      /* a power of two, above twice nchats; 0 = none yet */

    cJSON **updates;         /* queued, ascending update_id */
    size_t nupd, capupd;
    int64_t next_update_id;
    uint64_t poll_gen;       /* bumped by every getUpdates: ends older polls */
    size_t polls_parked;     /* getUpdates waiting for updates (long polls) */
    cJSON *allowed_updates;  /* last non-empty allowed_updates, or NULL */

    cbq *cbqs;
    size_t ncbq, capcbq;
    uint64_t next_cbq;

    cJSON *commands;         /* { lang or "": [BotCommand...] } */
    char *webhook_url;
    char *webhook_secret;    /* secret_token of setWebhook, or NULL */
    int webhook_max_conn;    /* max_connections of setWebhook (default 40) */
    fake_dl *dl;             /* webhook delivery (deliver.c) */
    int latency_ms;          /* every call waits this long before it is handled */

    fake_tg_call *calls;
    size_t ncalls, capcalls;

    fail_rule fail;
    fault_rule *faults;
    size_t nfaults, capfaults;
    hold *holds;
    size_t nholds, capholds;
    size_t early;
};

static size_t chat_slot(const fake_tg *ft, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 32) & (ft->chat_ix_cap - 1);
}

static chat *find_chat(fake_tg *ft, int64_t id)
{
    if (!ft->chat_ix_cap)
        return NULL;
    for (size_t i = chat_slot(ft, id); ft->chat_ix[i]; i = (i + 1) & (ft->chat_ix_cap - 1))
        if (ft->chat_ix[i]->id == id) return ft->chat_ix[i];
    return NULL;
}

static void chat_ix_put(fake_tg *ft, chat *c)
{
    if (2 * (ft->nchats + 1) > ft->chat_ix_cap) {
        free(ft->chat_ix);
        ft->chat_ix_cap = ft->chat_ix_cap ? 2 * ft->chat_ix_cap : 64;
        ft->chat_ix = calloc(ft->chat_ix_cap, sizeof *ft->chat_ix);
        if (!ft->chat_ix) abort();
        for (size_t k = 0; k < ft->nchats; k++) {
            size_t i = chat_slot(ft, ft->chats[k]->id);
            while (ft->chat_ix[i]) i = (i + 1) & (ft->chat_ix_cap - 1);
            ft->chat_ix[i] = ft->chats[k];
        }
    }
    size_t i = chat_slot(ft, c->id);
    while (ft->chat_ix[i]) i = (i + 1) & (ft->chat_ix_cap - 1);
    ft->chat_ix[i] = c;
}

static chat *get_chat(fake_tg *ft, int64_t id)
{
    chat *c = find_chat(ft, id);
    if (c) return c;
    c = calloc(1, sizeof *c);
    if (!c) abort();
    c->id = id;
    c->next_msg_id = 1;
    if (ft->nchats == ft->capchats) {
        ft->capchats = ft->capchats ? ft->capchats * 2 : 16;
        ft->chats = xrealloc(ft->chats, ft->capchats * sizeof *ft->chats);
    }
    chat_ix_put(ft, c);
    ft->chats[ft->nchats++] = c;
    return c;
}

static void chat_free(chat *c)
{
    for (size_t i = 0; i < c->nmsgs; i++) {
        free(c->msgs[i].text);
        cJSON_Delete(c->msgs[i].markup);
    }
    free(c->msgs);
    for (int k = 0; k < FAKE_TG_EVENT_KINDS; k++) {
        for (size_t i = 0; i < c->ev[k].n; i++) fake_tg_event_clear(&c->ev[k].v[i]);
        free(c->ev[k].v);
    }
    for (size_t i = 0; i < c->ntopics; i++) free(c->topics[i].name);
    free(c->topics);
    for (size_t i = 0; i < c->numsgs; i++) free(c->umsgs[i].text);
    free(c->umsgs);
    cJSON_Delete(c->user);
    free(c->title);
    cJSON_Delete(c->reply_kb);
    free(c);
}

static bot_msg *find_msg(chat *c, int64_t id)
{
    for (size_t i = c->nmsgs; i-- > 0;)
        if (c->msgs[i].id == id) return &c->msgs[i];
    return NULL;
}

static fake_tg_event *add_event(chat *c, fake_tg_event_kind kind, uint64_t seq,
                                int64_t message_id, const char *text, const char *query_id,
                                const cJSON *markup)
{
    event_list *l = &c->ev[kind];
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    fake_tg_event *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->seq = seq;
    e->chat_id = c->id;
    e->message_id = message_id;
    e->text = xstrdup(text);
    e->query_id = xstrdup(query_id);
    e->reply_markup = dup_json(markup);
    return e;
}

/* The entities param of a text call, for its event. */
static void event_entities(fake_tg_event *e, const cJSON *params)
{
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(params, "entities");
    if (cJSON_IsArray(ents))
        e->entities = dup_json(ents);
}

static void copy_event(fake_tg_event *dst, const fake_tg_event *src)
{
    *dst = *src;
    dst->text = xstrdup(src->text);
    dst->query_id = xstrdup(src->query_id);
    dst->reply_markup = dup_json(src->reply_markup);
    dst->entities = dup_json(src->entities);
}

void fake_tg_event_clear(fake_tg_event *e)
{
    if (!e) return;
    free(e->text);
    free(e->query_id);
    cJSON_Delete(e->reply_markup);
    cJSON_Delete(e->entities);
    memset(e, 0, sizeof *e);
}

/* ---- the validator -------------------------------------------------------- */

typedef struct vctx {
    const fake_tg *ft;
    const char *method;
    const cJSON *files;     /* a multipart body's file parts by field name, or NULL */
    bool failed;
    char err[512];          /* "Bad Request: ..." */
    char err_path[PATH_MAX_LEN];
    char *warnings[MAX_WARNINGS];
    int n_warnings;
    char path[PATH_MAX_LEN];
} vctx;

static void vfail(vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vfail(vctx *c, const char *fmt, ...)
{
    if (c->failed) return; /* the first error is the one reported */
    c->failed = true;
    int n = snprintf(c->err, sizeof c->err, "Bad Request: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, sizeof c->err - (size_t)n, fmt, ap);
    va_end(ap);
    snprintf(c->err_path, sizeof c->err_path, "%s", c->path);
}

static void vwarn(vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void vwarn(vctx *c, const char *fmt, ...)
{
    if (c->n_warnings >= MAX_WARNINGS) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->warnings[c->n_warnings++] = xstrdup(buf);
}

static void vctx_free(vctx *c)
{
    for (int i = 0; i < c->n_warnings; i++) free(c->warnings[i]);
    c->n_warnings = 0;
}

/* Appends ".name" or "[i]" to the path; returns the old length to restore. */
static size_t path_push(vctx *c, const char *name, int index)
{
    size_t old = strlen(c->path), room = sizeof c->path - old;
    if (name) {
        size_t n = strlen(name), dot = old ? 1 : 0;
        if (dot + n < room) { /* else the path stays as it was: it only labels messages */
            if (dot)
                c->path[old] = '.';
            memcpy(c->path + old + dot, name, n + 1);
        }
    } else {
        snprintf(c->path + old, room, "[%d]", index);
    }
    return old;
}

static void path_pop(vctx *c, size_t old)
{
    c->path[old] = 0;
}

static bool is_prim(const char *t)
{
    return !strcmp(t, "Integer") || !strcmp(t, "String") || !strcmp(t, "Boolean") ||
           !strcmp(t, "Float") || !strcmp(t, "InputFile");
}

/* Split "A or B or C" into alts (pointers into buf). */
static int split_alts(const char *type, char *buf, size_t buflen, char *alts[MAX_ALTS])
{
    snprintf(buf, buflen, "%s", type);
    int n = 0;
    char *p = buf;
    while (p && n < MAX_ALTS) {
        alts[n++] = p;
        char *sep = strstr(p, " or ");
        if (sep) {
            *sep = 0;
            p = sep + 4;
        } else {
            p = NULL;
        }
    }
    return n;
}

static const cJSON *type_def(const vctx *c, const char *name)
{
    return name_index_get(&c->ft->type_ix, name);
}

/* Does object v structurally look like type `name`: required fields present
 * and discriminator constants equal? (For picking a union member.) */
static bool looks_like(const vctx *c, const char *name, const cJSON *v, int depth)
{
    const cJSON *def = type_def(c, name);
    if (!def || !cJSON_IsObject(v) || depth > 8) return false;
    const cJSON *oneof = cJSON_GetObjectItemCaseSensitive(def, "oneof");
    if (oneof) {
        const cJSON *sub;
        cJSON_ArrayForEach(sub, oneof)
            if (cJSON_IsString(sub) && looks_like(c, sub->valuestring, v, depth + 1)) return true;
        return false;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(def, "fields")) {
        const char *fname = cJSON_GetArrayItem(f, 0)->valuestring;
        bool req = cJSON_IsTrue(cJSON_GetArrayItem(f, 2));
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(v, fname);
        if (req && (!item || cJSON_IsNull(item))) return false;
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(def, "const")) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(v, k->string);
        if (!cJSON_IsString(item) || !cJSON_IsString(k) ||
            strcmp(item->valuestring, k->valuestring) != 0)
            return false;
    }
    return true;
}

/* The field being checked, for messages: `parameter "x"` at the top level,
 * `field "x" of the T` inside an object. */
typedef struct where {
    const char *owner; /* containing type, NULL at the top level */
    const char *field;
} where;

static void fail_type(vctx *c, where w, const char *what)
{
    if (w.owner)
        vfail(c, "field \"%s\" of the %s must be %s", w.field, w.owner, what);
    else
        vfail(c, "parameter \"%s\" must be %s", w.field, what);
}

static void fail_whole(vctx *c, where w, const char *whole)
{
    char what[300];
    if (!strncmp(whole, "Array of ", 9))
        snprintf(what, sizeof what, "an %s", whole);
    else
        snprintf(what, sizeof what, "of type %s", whole);
    fail_type(c, w, what);
}

static bool check_type(vctx *c, const char *type, const cJSON *v, where w, int depth);

static void check_special(vctx *c, const char *name, const cJSON *v);

static bool check_object(vctx *c, const char *name, const cJSON *v, where w,
                         const char *whole, int depth)
{
    int ti = name_index_find(&c->ft->type_ix, name);
    const cJSON *def = ti < 0 ? NULL : c->ft->type_ix.slot[ti];
    if (!def) return true; /* a type the schema only names: nothing to check */
    if (!cJSON_IsObject(v)) {
        fail_whole(c, w, whole);
        return false;
    }
    const cJSON *oneof = cJSON_GetObjectItemCaseSensitive(def, "oneof");
    if (oneof) {
        const cJSON *sub;
        cJSON_ArrayForEach(sub, oneof)
            if (looks_like(c, sub->valuestring, v, depth + 1))
                return check_object(c, sub->valuestring, v, w, whole, depth + 1);
        vfail(c, "can't parse %s JSON object", name);
        return false;
    }
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(def, "fields");
    const field_ix *fx = c->ft->type_ix.fields[ti];
    const cJSON *f;
    /* required fields, in the schema's order */
    cJSON_ArrayForEach(f, fields) {
        if (!cJSON_IsTrue(cJSON_GetArrayItem(f, 2)))
            continue;
        const char *fname = cJSON_GetArrayItem(f, 0)->valuestring;
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(v, fname);
        if (!item || cJSON_IsNull(item)) {
            size_t old = path_push(c, fname, 0);
            vfail(c, "field \"%s\" of the %s is required", fname, name);
            path_pop(c, old);
            return false;
        }
    }
    /* every field present: its type; unknown ones the real server ignores,
     * we tell the test */
    const cJSON *item;
    cJSON_ArrayForEach(item, v) {
        f = item->string && fx ? field_ix_get(fx, item->string) : NULL;
        if (!f) {
            vwarn(c, "%s: unknown field \"%s\" of the %s at %s", c->method,
                  item->string ? item->string : "?", name, c->path[0] ? c->path : "(top)");
            continue;
        }
        if (cJSON_IsNull(item))
            continue;
        const char *fname = cJSON_GetArrayItem(f, 0)->valuestring;
        const char *ftype = cJSON_GetArrayItem(f, 1)->valuestring;
        size_t old = path_push(c, fname, 0);
        where inner = { name, fname };
        check_type(c, ftype, item, inner, depth + 1);
        path_pop(c, old);
        if (c->failed) return false;
    }
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(def, "const")) {
        const cJSON *it2 = cJSON_GetObjectItemCaseSensitive(v, k->string);
        if (!cJSON_IsString(it2) || strcmp(it2->valuestring, k->valuestring) != 0) {
            vfail(c, "field \"%s\" of the %s must be \"%s\"", k->string, name, k->valuestring);
            return false;
        }
    }
    check_special(c, name, v);
    return !c->failed;
}

/* One alternative of a type expression. `whole` is the full expression of
 * the field, for messages. */
static bool check_alt(vctx *c, const char *alt, const cJSON *v, where w,
                      const char *whole, int depth)
{
    if (depth > 32) {
        vfail(c, "nesting is too deep");
        return false;
    }
    if (!strcmp(alt, "Integer")) {
        if (!json_is_int(v)) fail_whole(c, w, whole);
    } else if (!strcmp(alt, "Float")) {
        if (!cJSON_IsNumber(v)) fail_whole(c, w, whole);
    } else if (!strcmp(alt, "Boolean")) {
        if (!cJSON_IsBool(v)) fail_whole(c, w, whole);
    } else if (!strcmp(alt, "String")) {
        if (!cJSON_IsString(v)) fail_whole(c, w, whole);
    } else if (!strcmp(alt, "InputFile")) {
        /* Files are uploaded with multipart/form-data, which the fake does
         * not take; a JSON value is never an InputFile. */
        fail_whole(c, w, whole);
    } else if (!strncmp(alt, "Array of ", 9)) {
        if (!cJSON_IsArray(v)) {
            fail_whole(c, w, whole);
        } else {
            const char *elem = alt + 9;
            int i = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, v) {
                size_t old = path_push(c, NULL, i++);
                if (!is_prim(elem) && strncmp(elem, "Array of ", 9) != 0 && !cJSON_IsObject(e))
                    fail_whole(c, w, whole); /* element of the wrong kind */
                else
                    check_alt(c, elem, e, w, whole, depth + 1);
                path_pop(c, old);
                if (c->failed) break;
            }
        }
    } else {
        check_object(c, alt, v, w, whole, depth);
    }
    return !c->failed;
}

static bool kind_fits(const char *alt, const cJSON *v)
{
    if (!strcmp(alt, "Integer")) return json_is_int(v);
    if (!strcmp(alt, "Float")) return cJSON_IsNumber(v);
    if (!strcmp(alt, "Boolean")) return cJSON_IsBool(v);
    if (!strcmp(alt, "String")) return cJSON_IsString(v);
    if (!strcmp(alt, "InputFile")) return false;
    if (!strncmp(alt, "Array of ", 9)) return cJSON_IsArray(v);
    return cJSON_IsObject(v);
}

static bool check_type(vctx *c, const char *type, const cJSON *v, where w, int depth)
{
    char buf[512];
    char *alts[MAX_ALTS];
    int n = split_alts(type, buf, sizeof buf, alts);
    if (n == 1) return check_alt(c, alts[0], v, w, type, depth);

    bool is_markup = w.field && !w.owner && !strcmp(w.field, "reply_markup");
    if (cJSON_IsObject(v)) {
        int objs = 0, only = -1;
        for (int i = 0; i < n; i++) {
            if (!kind_fits(alts[i], v) || !type_def(c, alts[i])) continue;
            objs++;
            only = i;
            if (looks_like(c, alts[i], v, depth + 1))
                return check_object(c, alts[i], v, w, type, depth);
        }
        if (objs == 1) return check_object(c, alts[only], v, w, type, depth);
        if (objs > 1) {
            if (is_markup)
                vfail(c, "can't parse reply keyboard markup JSON object");
            else
                vfail(c, "can't parse %s JSON object", w.field);
            return false;
        }
    }
    for (int i = 0; i < n; i++)
        if (kind_fits(alts[i], v)) return check_alt(c, alts[i], v, w, type, depth);
    if (is_markup)
        vfail(c, "object expected as reply markup");
    else
        fail_whole(c, w, type);
    return false;
}

/* Rules the schema's types do not say but the server enforces. */
static void check_special(vctx *c, const char *name, const cJSON *v)
{
    if (c->failed) return;
    if (!strcmp(name, "InlineKeyboardButton")) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(v, "callback_data");
        if (cJSON_IsString(data)) {
            size_t len = strlen(data->valuestring);
            if (len < 1 || len > 64) {
                vfail(c, "BUTTON_DATA_INVALID");
                return;
            }
        }
        /* Exactly one action besides the label. */
        static const char *const actions[] = {
            "url", "callback_data", "web_app", "login_url", "switch_inline_query",
            "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
            "copy_text", "callback_game", "pay",
        };
        int n = 0;
        for (size_t i = 0; i < sizeof actions / sizeof *actions; i++) {
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(v, actions[i]);
            if (a && !cJSON_IsNull(a)) n++;
        }
        if (n == 0)
            vfail(c, "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
        else if (n > 1)
            vfail(c, "can't parse inline keyboard button: exactly one of the optional fields must be used");
    } else if (!strcmp(name, "BotCommand")) {
        const char *cmd = cJSON_GetObjectItemCaseSensitive(v, "command")->valuestring;
        size_t len = strlen(cmd);
        bool ok = len >= 1 && len <= 32;
        for (size_t i = 0; ok && i < len; i++)
            ok = (cmd[i] >= 'a' && cmd[i] <= 'z') || (cmd[i] >= '0' && cmd[i] <= '9') ||
                 cmd[i] == '_';
        if (!ok) {
            vfail(c, "BOT_COMMAND_INVALID");
            return;
        }
        const char *desc = cJSON_GetObjectItemCaseSensitive(v, "description")->valuestring;
        size_t dl = trimmed_utf16_len(desc);
        if (dl == 0)
            vfail(c, "command description is empty");
        else if (dl > 256)
            vfail(c, "command description is too long");
    } else if (!strcmp(name, "KeyboardButton")) {
        const char *t = cJSON_GetObjectItemCaseSensitive(v, "text")->valuestring;
        if (trimmed_utf16_len(t) == 0) vfail(c, "keyboard button text is empty");
    }
}

/* Converts a form / query-string value to the field's type: numbers for
 * Integer/Float, booleans, JSON for objects and arrays. Returns a new item or
 * NULL after vfail. */
static cJSON *convert_form_value(vctx *c, const char *name, const char *type, const char *s)
{
    char buf[512];
    char *alts[MAX_ALTS];
    int n = split_alts(type, buf, sizeof buf, alts);
    bool has_int = false, has_float = false, has_bool = false, has_str = false, has_json = false;
    for (int i = 0; i < n; i++) {
        if (!strcmp(alts[i], "Integer")) has_int = true;
        else if (!strcmp(alts[i], "Float")) has_float = true;
        else if (!strcmp(alts[i], "Boolean")) has_bool = true;
        else if (!strcmp(alts[i], "String")) has_str = true;
        else if (strcmp(alts[i], "InputFile") != 0) has_json = true;
    }
    int64_t iv;
    if (has_int && parse_i64(s, &iv)) return cJSON_CreateNumber((double)iv);
    if (has_float) {
        char *end;
        double d = strtod(s, &end);
        if (*s && !*end && isfinite(d)) return cJSON_CreateNumber(d);
    }
    if (has_bool) {
        if (!strcasecmp(s, "true") || !strcmp(s, "1")) return cJSON_CreateTrue();
        if (!strcasecmp(s, "false") || !strcmp(s, "0")) return cJSON_CreateFalse();
    }
    if (has_str) return cJSON_CreateString(s);
    if (has_json) {
        cJSON *j = cJSON_Parse(s);
        if (j) return j;
        if (!strcmp(name, "reply_markup"))
            vfail(c, "can't parse reply keyboard markup JSON object");
        else
            vfail(c, "can't parse JSON in parameter \"%s\"", name);
        return NULL;
    }
    where w = { NULL, name };
    fail_whole(c, w, type);
    return NULL;
}

/* A text's entities as the server checks them ("can't parse entities"):
 * a known type, offset and length in UTF-16 units inside the text (which
 * the server counts before trimming), neither end inside a surrogate pair,
 * a text_link's http(s) or tg url. */
static void check_entities(vctx *c, const char *text, const cJSON *ents)
{
    static const char *const types[] = {
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
        "bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
        "expandable_blockquote", "code", "pre", "text_link", "text_mention",
        "custom_emoji", "date_time",
    };
    size_t len = strlen(text), units = utf16_len(text, len);
    /* the UTF-16 offsets that fall between the halves of a pair */
    unsigned char *mid = calloc(units + 1, 1);
    if (!mid) {
        vfail(c, "out of memory");
        return;
    }
    size_t u = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)text[i];
        if ((b & 0xC0) == 0x80) continue;
        if (b >= 0xF0) {
            mid[u + 1] = 1;
            u += 2;
        } else {
            u++;
        }
    }
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ents) {
        const char *type = cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring;
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "offset");
        const cJSON *ln = cJSON_GetObjectItemCaseSensitive(e, "length");
        bool known = false;
        for (size_t t = 0; t < sizeof types / sizeof *types; t++)
            known |= !strcmp(type, types[t]);
        if (!known) {
            vfail(c, "can't parse entities: unsupported entity type \"%s\" in entity %d", type, k);
            break;
        }
        if (!json_is_int(off) || !json_is_int(ln) || json_i64(off) < 0 || json_i64(ln) <= 0 ||
            (uint64_t)json_i64(off) + (uint64_t)json_i64(ln) > units) {
            vfail(c, "can't parse entities: entity %d (%s) at %lld+%lld is outside the text "
                     "of %zu UTF-16 units", k, type, (long long)json_i64(off),
                  (long long)json_i64(ln), units);
            break;
        }
        size_t a = (size_t)json_i64(off), b = a + (size_t)json_i64(ln);
        if (mid[a] || mid[b]) {
            vfail(c, "can't parse entities: entity %d (%s) at %zu+%zu splits a surrogate pair",
                  k, type, a, b - a);
            break;
        }
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(e, "url");
        if (!strcmp(type, "text_link") && (!cJSON_IsString(url) || !*url->valuestring)) {
            vfail(c, "can't parse entities: text_link entity %d without a url", k);
            break;
        }
        if (!strcmp(type, "text_link") && strncmp(url->valuestring, "http://", 7) &&
            strncmp(url->valuestring, "https://", 8) && strncmp(url->valuestring, "tg://", 5)) {
            vfail(c, "can't parse entities: wrong HTTP URL in entity %d", k);
            break;
        }
        /* (a language that is no string failed the schema's check) */
        const cJSON *lang = cJSON_GetObjectItemCaseSensitive(e, "language");
        if (lang && strcmp(type, "pre") != 0)
            vwarn(c, "%s: a language on a %s entity", c->method, type);
        k++;
    }
    if (!c->failed && k > 100)
        vwarn(c, "%s: %d entities; Telegram formats the first 100 and shows the rest plain",
              c->method, k);
    free(mid);
}

/* Validates params (an object, normalized in place) against method `m`. */
static void check_params(vctx *c, const cJSON *m, cJSON *params)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(m, "fields");
    const cJSON *f;
    cJSON_ArrayForEach(f, fields) {
        const char *fname = cJSON_GetArrayItem(f, 0)->valuestring;
        const char *ftype = cJSON_GetArrayItem(f, 1)->valuestring;
        bool req = cJSON_IsTrue(cJSON_GetArrayItem(f, 2));
        cJSON *item = cJSON_GetObjectItemCaseSensitive(params, fname);
        bool is_text = !strcmp(fname, "text") &&
                       (!strcmp(c->method, "sendMessage") || !strcmp(c->method, "editMessageText"));
        size_t old = path_push(c, fname, 0);
        if (c->files && cJSON_GetObjectItemCaseSensitive(c->files, fname)) {
            /* an uploaded file: only where the field takes one */
            if (!strstr(ftype, "InputFile"))
                vfail(c, "can't use a file as %s (%s expected)", fname, ftype);
        } else if (!item || cJSON_IsNull(item)) {
            if (req) {
                if (is_text)
                    vfail(c, "message text is empty");
                else
                    vfail(c, "%s is empty", fname);
            }
        } else {
            /* A JSON body may carry an object or array serialized as a JSON
             * string, as with form bodies; the real server accepts both. */
            if (cJSON_IsString(item) && !strstr(ftype, "String") &&
                (strstr(ftype, "Array of") || type_def(c, ftype) || strstr(ftype, " or "))) {
                cJSON *parsed = cJSON_Parse(item->valuestring);
                if (parsed && (cJSON_IsObject(parsed) || cJSON_IsArray(parsed))) {
                    cJSON_ReplaceItemInObjectCaseSensitive(params, fname, parsed);
                    item = parsed;
                } else {
                    cJSON_Delete(parsed);
                }
            }
            where w = { NULL, fname };
            check_type(c, ftype, item, w, 0);
            if (!c->failed && is_text && cJSON_IsString(item)) {
                size_t len = trimmed_utf16_len(item->valuestring);
                if (len == 0)
                    vfail(c, "message text is empty");
                else if (len > 4096)
                    vfail(c, "message is too long");
            }
        }
        path_pop(c, old);
        if (c->failed) return;
    }
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(params, "entities");
    const cJSON *txt = cJSON_GetObjectItemCaseSensitive(params, "text");
    if (cJSON_IsArray(ents) && cJSON_IsString(txt)) {
        check_entities(c, txt->valuestring, ents);
        if (c->failed) return;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, params) {
        bool known = false;
        cJSON_ArrayForEach(f, fields)
            if (!strcmp(item->string, cJSON_GetArrayItem(f, 0)->valuestring)) {
                known = true;
                break;
            }
        if (!known && c->files && cJSON_GetObjectItemCaseSensitive(c->files, item->string)) {
            /* a file no field names (the fake knows no attach:// references) */
            vfail(c, "unexpected file \"%s\"", item->string);
            return;
        }
        if (!known) vwarn(c, "%s: unknown parameter \"%s\"", c->method, item->string);
    }
}

/* ---- building objects ----------------------------------------------------- */

static cJSON *bot_user_json(const fake_tg *ft)
{
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "id", (double)ft->bot_id);
    cJSON_AddTrueToObject(u, "is_bot");
    cJSON_AddStringToObject(u, "first_name", "Fake Test Bot");
    cJSON_AddStringToObject(u, "username", ft->bot_username);
    return u;
}

static cJSON *user_json(const fake_tg_user *u)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)u->id);
    cJSON_AddFalseToObject(j, "is_bot");
    cJSON_AddStringToObject(j, "first_name", u->first_name ? u->first_name : "User");
    if (u->last_name) cJSON_AddStringToObject(j, "last_name", u->last_name);
    if (u->username) cJSON_AddStringToObject(j, "username", u->username);
    if (u->language_code) cJSON_AddStringToObject(j, "language_code", u->language_code);
    return j;
}

static cJSON *chat_json(const chat *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)c->id);
    if (c->id < 0 && c->forum) {
        cJSON_AddStringToObject(j, "type", "supergroup");
        cJSON_AddStringToObject(j, "title", c->title ? c->title : "Forum");
        cJSON_AddTrueToObject(j, "is_forum");
        return j;
    }
    if (c->id < 0) {
        cJSON_AddStringToObject(j, "type", "group");
        cJSON_AddStringToObject(j, "title", c->title ? c->title : "Group");
        return j;
    }
    cJSON_AddStringToObject(j, "type", "private");
    const char *keys[] = { "first_name", "last_name", "username" };
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->user, keys[i]);
        if (cJSON_IsString(v)) cJSON_AddStringToObject(j, keys[i], v->valuestring);
    }
    if (!cJSON_GetObjectItemCaseSensitive(j, "first_name"))
        cJSON_AddStringToObject(j, "first_name", "User");
    return j;
}

static cJSON *bot_message_json(const fake_tg *ft, const chat *c, const bot_msg *m, bool edited)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "message_id", (double)m->id);
    cJSON_AddItemToObject(j, "from", bot_user_json(ft));
    cJSON_AddItemToObject(j, "chat", chat_json(c));
    cJSON_AddNumberToObject(j, "date", (double)m->date);
    if (edited) cJSON_AddNumberToObject(j, "edit_date", (double)time(NULL));
    if (m->text) cJSON_AddStringToObject(j, "text", m->text);
    if (m->markup) cJSON_AddItemToObject(j, "reply_markup", dup_json(m->markup));
    return j;
}

/* ---- method behaviours (called with ft->mu held) --------------------------- */

typedef struct reply {
    int status;
    cJSON *result;       /* on success */
    char *description;   /* on error (without "Bad Request: " added) */
    int retry_after;
} reply;

static void reply_err(reply *r, int status, const char *desc)
{
    r->status = status;
    free(r->description);
    r->description = xstrdup(desc);
}

/* chat_id param → chat, or an error reply. */
static chat *chat_param(fake_tg *ft, const cJSON *params, reply *r)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(params, "chat_id");
    int64_t cid = 0;
    bool ok = false;
    if (json_is_int(id)) {
        cid = json_i64(id);
        ok = true;
    } else if (cJSON_IsString(id)) {
        ok = parse_i64(id->valuestring, &cid);
    }
    chat *c = ok ? find_chat(ft, cid) : NULL;
    if (!c && ok && ft->allow_unknown_chats) c = get_chat(ft, cid);
    if (!c) reply_err(r, 400, "Bad Request: chat not found");
    return c;
}

static const char *str_param(const cJSON *params, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool is_inline_markup(const cJSON *mk)
{
    return cJSON_IsObject(mk) && cJSON_GetObjectItemCaseSensitive(mk, "inline_keyboard");
}

static topic *find_topic(chat *c, int64_t thread)
{
    for (size_t i = 0; i < c->ntopics; i++)
        if (c->topics[i].thread_id == thread) return &c->topics[i];
    return NULL;
}

static void do_send(fake_tg *ft, uint64_t seq, const cJSON *params, const char *text, reply *r)
{
    chat *c = chat_param(ft, params, r);
    if (!c) return;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(params, "message_thread_id");
    int64_t thread = json_is_int(th) ? json_i64(th) : 0;
    if (thread) {
        topic *t = c->forum ? find_topic(c, thread) : NULL;
        if (!t) {
            reply_err(r, 400, "Bad Request: message thread not found");
            return;
        }
        if (t->closed) {
            reply_err(r, 400, "Bad Request: TOPIC_CLOSED");
            return;
        }
    }
    const cJSON *mk = cJSON_GetObjectItemCaseSensitive(params, "reply_markup");
    if (mk && cJSON_IsNull(mk)) mk = NULL;
    if (c->nmsgs == c->capmsgs) {
        c->capmsgs = c->capmsgs ? c->capmsgs * 2 : 8;
        c->msgs = xrealloc(c->msgs, c->capmsgs * sizeof *c->msgs);
    }
    bot_msg *m = &c->msgs[c->nmsgs++];
    memset(m, 0, sizeof *m);
    m->id = c->next_msg_id++;
    m->date = (int64_t)time(NULL);
    m->text = xstrdup(text);
    if (is_inline_markup(mk)) m->markup = dup_json(mk);
    if (mk && cJSON_GetObjectItemCaseSensitive(mk, "keyboard")) {
        cJSON_Delete(c->reply_kb);
        c->reply_kb = dup_json(mk);
    } else if (mk && cJSON_GetObjectItemCaseSensitive(mk, "remove_keyboard")) {
        cJSON_Delete(c->reply_kb);
        c->reply_kb = NULL;
    }
    fake_tg_event *ev = add_event(c, FAKE_TG_SENT, seq, m->id, text, NULL, mk);
    ev->thread_id = thread;
    event_entities(ev, params);
    r->result = bot_message_json(ft, c, m, false);
    if (thread) cJSON_AddNumberToObject(r->result, "message_thread_id", (double)thread);
}

static void do_edit_text(fake_tg *ft, uint64_t seq, const cJSON *params, reply *r)
{
    if (str_param(params, "inline_message_id")) {
        reply_err(r, 400, "Bad Request: message to edit not found");
        return;
    }
    if (!cJSON_GetObjectItemCaseSensitive(params, "chat_id")) {
        reply_err(r, 400, "Bad Request: chat_id is empty");
        return;
    }
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(params, "message_id");
    if (!json_is_int(mid)) {
        reply_err(r, 400, "Bad Request: message identifier is not specified");
        return;
    }
    const char *text = str_param(params, "text");
    if (!text) {
        reply_err(r, 400, "Bad Request: message text is empty");
        return;
    }
    chat *c = chat_param(ft, params, r);
    if (!c) return;
    bot_msg *m = find_msg(c, json_i64(mid));
    if (!m) {
        reply_err(r, 400, "Bad Request: message to edit not found");
        return;
    }
    const cJSON *mk = cJSON_GetObjectItemCaseSensitive(params, "reply_markup");
    if (mk && cJSON_IsNull(mk)) mk = NULL;
    bool same_markup = (!mk && !m->markup) || (mk && m->markup && cJSON_Compare(mk, m->markup, 1));
    if (m->text && !strcmp(m->text, text) && same_markup) {
        reply_err(r, 400, "Bad Request: message is not modified: specified new message content "
                          "and reply markup are exactly the same as a current content and reply "
                          "markup of the message");
        return;
    }
    free(m->text);
    m->text = xstrdup(text);
    cJSON_Delete(m->markup);
    m->markup = dup_json(mk); /* no reply_markup in an edit removes the keyboard */
    event_entities(add_event(c, FAKE_TG_EDITED, seq, m->id, text, NULL, mk), params);
    r->result = bot_message_json(ft, c, m, true);
}

static void do_answer(fake_tg *ft, uint64_t seq, const cJSON *params, reply *r)
{
    const char *id = str_param(params, "callback_query_id");
    for (size_t i = 0; id && i < ft->ncbq; i++) {
        cbq *q = &ft->cbqs[i];
        if (strcmp(q->id, id) != 0) continue;
        if (q->answered) break;
        q->answered = true;
        chat *c = find_chat(ft, q->chat_id);
        if (c) add_event(c, FAKE_TG_ANSWERED, seq, q->message_id, str_param(params, "text"), q->id, NULL);
        r->result = cJSON_CreateTrue();
        return;
    }
    reply_err(r, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid");
}

static void do_chat_action(fake_tg *ft, uint64_t seq, const cJSON *params, reply *r)
{
    static const char *const actions[] = {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    };
    chat *c = chat_param(ft, params, r);
    if (!c) return;
    const char *a = str_param(params, "action");
    bool ok = false;
    for (size_t i = 0; a && i < sizeof actions / sizeof *actions; i++)
        if (!strcmp(a, actions[i])) ok = true;
    if (!ok) {
        reply_err(r, 400, "Bad Request: wrong parameter action in request");
        return;
    }
    add_event(c, FAKE_TG_ACTION, seq, 0, a, NULL, NULL);
    r->result = cJSON_CreateTrue();
}

static const char *lang_key(const cJSON *params)
{
    const char *l = str_param(params, "language_code");
    return l ? l : "";
}

static void do_commands(fake_tg *ft, const char *method, const cJSON *params, reply *r)
{
    const char *lang = lang_key(params);
    if (!strcmp(method, "setMyCommands")) {
        const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(params, "commands");
        if (cJSON_GetArraySize(cmds) > 100) {
            reply_err(r, 400, "Bad Request: too many commands");
            return;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(ft->commands, lang);
        cJSON_AddItemToObject(ft->commands, lang, dup_json(cmds));
        r->result = cJSON_CreateTrue();
    } else if (!strcmp(method, "getMyCommands")) {
        const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(ft->commands, lang);
        r->result = cmds ? dup_json(cmds) : cJSON_CreateArray();
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(ft->commands, lang);
        r->result = cJSON_CreateTrue();
    }
}

static const char *update_kind(const cJSON *u)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, u)
        if (k->string && strcmp(k->string, "update_id") != 0) return k->string;
    return "";
}

static bool update_allowed(const fake_tg *ft, const cJSON *u)
{
    const char *kind = update_kind(u);
    if (!ft->allowed_updates) /* Telegram's default: all but these three */
        return strcmp(kind, "chat_member") && strcmp(kind, "message_reaction") &&
               strcmp(kind, "message_reaction_count");
    const cJSON *a;
    cJSON_ArrayForEach(a, ft->allowed_updates)
        if (cJSON_IsString(a) && !strcmp(a->valuestring, kind)) return true;
    return false;
}

/* Drops queued updates [0, n). */
static void drop_updates(fake_tg *ft, size_t n)
{
    if (n == 0) return;
    for (size_t i = 0; i < n; i++) cJSON_Delete(ft->updates[i]);
    memmove(ft->updates, ft->updates + n, (ft->nupd - n) * sizeof *ft->updates);
    ft->nupd -= n;
}

static int64_t upd_id(const cJSON *u)
{
    return json_i64(cJSON_GetObjectItemCaseSensitive(u, "update_id"));
}

static void do_get_updates(fake_tg *ft, const cJSON *params, reply *r)
{
    if (ft->webhook_url) {
        reply_err(r, 409, "Conflict: can't use getUpdates method while webhook is active; "
                          "use deleteWebhook to delete the webhook first");
        return;
    }
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(params, "offset");
    const cJSON *jl = cJSON_GetObjectItemCaseSensitive(params, "limit");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(params, "timeout");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(params, "allowed_updates");
    int64_t limit = json_is_int(jl) ? json_i64(jl) : 100;
    if (limit < 1) limit = 1;
    if (limit > 100) limit = 100;
    int64_t timeout = json_is_int(jt) ? json_i64(jt) : 0;
    if (timeout < 0) timeout = 0;
    if (timeout > MAX_POLL_TIMEOUT) timeout = MAX_POLL_TIMEOUT;
    if (cJSON_IsArray(ja)) {
        cJSON_Delete(ft->allowed_updates);
        ft->allowed_updates = cJSON_GetArraySize(ja) ? dup_json(ja) : NULL;
    }
    uint64_t gen = ++ft->poll_gen;
    pthread_cond_broadcast(&ft->cond); /* an older poll ends with 409 */

    struct timespec deadline;
    deadline_after(&deadline, (int)timeout * 1000);
    bool parked = false;
    for (;;) {
        /* Confirmation: everything below offset is forgotten for good. */
        if (json_is_int(jo)) {
            int64_t off = json_i64(jo);
            size_t n = 0;
            if (off >= 0) {
                while (n < ft->nupd && upd_id(ft->updates[n]) < off) n++;
            } else if ((size_t)(-off) < ft->nupd) {
                n = ft->nupd - (size_t)(-off);
            }
            drop_updates(ft, n);
        }
        /* Updates of kinds not allowed are dropped, as Telegram never
         * stores them. */
        for (size_t i = 0; i < ft->nupd;) {
            if (update_allowed(ft, ft->updates[i])) {
                i++;
                continue;
            }
            cJSON_Delete(ft->updates[i]);
            memmove(ft->updates + i, ft->updates + i + 1, (ft->nupd - i - 1) * sizeof *ft->updates);
            ft->nupd--;
        }
        if (ft->nupd > 0 || ft->stopping) break;
        if (ft->poll_gen != gen) {
            if (parked) ft->polls_parked--;
            reply_err(r, 409, "Conflict: terminated by other getUpdates request; "
                              "make sure that only one bot instance is running");
            return;
        }
        if (!parked) ft->polls_parked++;
        parked = true;
        if (pthread_cond_timedwait(&ft->cond, &ft->mu, &deadline) == ETIMEDOUT) {
            if (ft->poll_gen != gen) continue; /* report the conflict */
            break;
        }
    }
    if (parked) ft->polls_parked--;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < ft->nupd && (int64_t)i < limit; i++) {
        cJSON *u = dup_json(ft->updates[i]);
        int64_t id = upd_id(u);
        for (size_t k = 0; k < ft->nbad_ids; k++) {
            if (ft->bad_ids[k] != id) continue;
            /* a broken server: the id as a string ("123") */
            char sid[32];
            snprintf(sid, sizeof sid, "%" PRId64, id);
            cJSON_ReplaceItemInObjectCaseSensitive(u, "update_id", cJSON_CreateString(sid));
            break;
        }
        cJSON_AddItemToArray(arr, u);
    }
    r->result = arr;
}

static void do_webhook(fake_tg *ft, const char *method, const cJSON *params, reply *r)
{
    if (!strcmp(method, "setWebhook")) {
        const char *url = str_param(params, "url");
        if (url && *url && strncmp(url, "https://", 8) != 0) {
            reply_err(r, 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook");
            return;
        }
        free(ft->webhook_url);
        ft->webhook_url = (url && *url) ? xstrdup(url) : NULL;
        free(ft->webhook_secret);
        ft->webhook_secret = xstrdup(str_param(params, "secret_token"));
        const cJSON *mc = cJSON_GetObjectItemCaseSensitive(params, "max_connections");
        ft->webhook_max_conn = json_is_int(mc) ? (int)json_i64(mc) : 40;
        const cJSON *ja = cJSON_GetObjectItemCaseSensitive(params, "allowed_updates");
        if (cJSON_IsArray(ja)) {
            cJSON_Delete(ft->allowed_updates);
            ft->allowed_updates = cJSON_GetArraySize(ja) ? dup_json(ja) : NULL;
        }
        fake_dl_webhook_changed(ft->dl);
    } else if (!strcmp(method, "deleteWebhook")) {
        free(ft->webhook_url);
        ft->webhook_url = NULL;
        fake_dl_webhook_changed(ft->dl);
    } else {
        cJSON *info = cJSON_CreateObject();
        cJSON_AddStringToObject(info, "url", ft->webhook_url ? ft->webhook_url : "");
        cJSON_AddFalseToObject(info, "has_custom_certificate");
        cJSON_AddNumberToObject(info, "pending_update_count", (double)ft->nupd);
        r->result = info;
        return;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "drop_pending_updates")))
        drop_updates(ft, ft->nupd);
    r->result = cJSON_CreateTrue();
}

/* createForumTopic / closeForumTopic in a declared forum. */
static void do_topic(fake_tg *ft, const char *method, const cJSON *params, reply *r)
{
    chat *c = chat_param(ft, params, r);
    if (!c) return;
    if (!c->forum) {
        reply_err(r, 400, "Bad Request: the chat is not a forum");
        return;
    }
    if (!strcmp(method, "createForumTopic")) {
        const char *name = str_param(params, "name");
        size_t n = name ? utf16_len(name, strlen(name)) : 0;
        if (n < 1 || n > 128) {
            reply_err(r, 400, "Bad Request: TOPIC_NAME_INVALID");
            return;
        }
        c->topics = xrealloc(c->topics, (c->ntopics + 1) * sizeof *c->topics);
        topic *t = &c->topics[c->ntopics];
        t->thread_id = 100 + (int64_t)c->ntopics;
        t->name = xstrdup(name);
        t->closed = false;
        c->ntopics++;
        r->result = cJSON_CreateObject();
        cJSON_AddNumberToObject(r->result, "message_thread_id", (double)t->thread_id);
        cJSON_AddStringToObject(r->result, "name", name);
        cJSON_AddNumberToObject(r->result, "icon_color", 7322096);
        return;
    }
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(params, "message_thread_id");
    topic *t = json_is_int(th) ? find_topic(c, json_i64(th)) : NULL;
    if (!t) {
        reply_err(r, 400, "Bad Request: TOPIC_ID_INVALID");
        return;
    }
    if (t->closed) {
        reply_err(r, 400, "Bad Request: TOPIC_NOT_MODIFIED");
        return;
    }
    t->closed = true;
    r->result = cJSON_CreateTrue();
}

/* copyMessage / forwardMessage of a message the fake knows. */
static void do_copy(fake_tg *ft, uint64_t seq, const char *method, const cJSON *params, reply *r)
{
    const cJSON *fid = cJSON_GetObjectItemCaseSensitive(params, "from_chat_id");
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(params, "message_id");
    chat *from = json_is_int(fid) ? find_chat(ft, json_i64(fid)) : NULL;
    if (!from || !json_is_int(mid)) {
        reply_err(r, 400, "Bad Request: chat not found");
        return;
    }
    int64_t id = json_i64(mid);
    const char *text = NULL;
    bool known = false;
    bot_msg *bm = find_msg(from, id);
    if (bm) {
        known = true;
        text = bm->text;
    }
    for (size_t i = 0; !known && i < from->numsgs; i++) {
        if (from->umsgs[i].id == id) {
            known = true;
            text = from->umsgs[i].text;
        }
    }
    if (!known) {
        reply_err(r, 400, "Bad Request: message to copy not found");
        return;
    }
    char fallback[64];
    if (!text) {
        snprintf(fallback, sizeof fallback, "[copy of message %" PRId64 "]", id);
        text = fallback;
    }
    char *t = xstrdup(text); /* do_send may move from's arrays (same chat) */
    do_send(ft, seq, params, t, r);
    free(t);
    if (r->result && !strcmp(method, "copyMessage")) {
        const cJSON *nid = cJSON_GetObjectItemCaseSensitive(r->result, "message_id");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "message_id", nid ? nid->valuedouble : 0);
        cJSON_Delete(r->result);
        r->result = o;
    }
}

static void dispatch(fake_tg *ft, uint64_t seq, const char *method, const cJSON *mdef,
                     const cJSON *params, reply *r)
{
    if (!strcmp(method, "getMe")) {
        cJSON *u = bot_user_json(ft);
        cJSON_AddTrueToObject(u, "can_join_groups");
        cJSON_AddFalseToObject(u, "can_read_all_group_messages");
        cJSON_AddFalseToObject(u, "supports_inline_queries");
        r->result = u;
    } else if (!strcmp(method, "getUpdates")) {
        do_get_updates(ft, params, r);
    } else if (!strcmp(method, "setWebhook") || !strcmp(method, "deleteWebhook") ||
               !strcmp(method, "getWebhookInfo")) {
        do_webhook(ft, method, params, r);
    } else if (!strcmp(method, "setMyCommands") || !strcmp(method, "getMyCommands") ||
               !strcmp(method, "deleteMyCommands")) {
        do_commands(ft, method, params, r);
    } else if (!strcmp(method, "sendMessage")) {
        do_send(ft, seq, params, str_param(params, "text"), r);
    } else if (!strcmp(method, "editMessageText")) {
        do_edit_text(ft, seq, params, r);
    } else if (!strcmp(method, "answerCallbackQuery")) {
        do_answer(ft, seq, params, r);
    } else if (!strcmp(method, "sendChatAction")) {
        do_chat_action(ft, seq, params, r);
    } else if (!strcmp(method, "createForumTopic") || !strcmp(method, "closeForumTopic")) {
        do_topic(ft, method, params, r);
    } else if (!strcmp(method, "copyMessage") || !strcmp(method, "forwardMessage")) {
        do_copy(ft, seq, method, params, r);
    } else if (!strcmp(method, "getFile")) {
        const char *id = str_param(params, "file_id");
        const fake_file *f = NULL;
        for (size_t i = 0; id && i < ft->nfiles && !f; i++)
            if (!strcmp(ft->files[i].file_id, id))
                f = &ft->files[i];
        if (!f) {
            reply_err(r, 400, "invalid file_id");
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file_id", f->file_id);
            cJSON_AddStringToObject(o, "file_unique_id", f->file_id);
            cJSON_AddNumberToObject(o, "file_size", (double)f->len);
            cJSON_AddStringToObject(o, "file_path", f->path);
            r->result = o;
        }
    } else {
        const cJSON *ret = cJSON_GetObjectItemCaseSensitive(mdef, "returns");
        if (cJSON_IsString(ret) && !strcmp(ret->valuestring, "Message") &&
            cJSON_GetObjectItemCaseSensitive(params, "chat_id"))
            do_send(ft, seq, params, str_param(params, "caption"), r);
        else
            r->result = cJSON_CreateTrue();
    }
}

/* ---- recording -------------------------------------------------------------- */

static void copy_call(fake_tg_call *dst, const fake_tg_call *src)
{
    *dst = *src;
    dst->params = dup_json(src->params);
    dst->response = xstrdup(src->response);
    dst->description = xstrdup(src->description);
    dst->warnings = NULL;
    if (src->n_warnings) {
        dst->warnings = calloc((size_t)src->n_warnings, sizeof *dst->warnings);
        if (!dst->warnings) abort();
        for (int i = 0; i < src->n_warnings; i++) dst->warnings[i] = xstrdup(src->warnings[i]);
    }
}

void fake_tg_call_clear(fake_tg_call *c)
{
    if (!c) return;
    cJSON_Delete(c->params);
    free(c->response);
    free(c->description);
    for (int i = 0; i < c->n_warnings; i++) free(c->warnings[i]);
    free(c->warnings);
    memset(c, 0, sizeof *c);
}

/* Appends a call (with ft->mu held); takes params and the warnings. */
static void record(fake_tg *ft, const char *method, cJSON *params, int status,
                   const char *response, const char *description, vctx *v)
{
    if (ft->ncalls == ft->capcalls) {
        ft->capcalls = ft->capcalls ? ft->capcalls * 2 : 64;
        ft->calls = xrealloc(ft->calls, ft->capcalls * sizeof *ft->calls);
    }
    fake_tg_call *c = &ft->calls[ft->ncalls];
    memset(c, 0, sizeof *c);
    c->seq = ft->ncalls++;
    c->at = mono_s();
    snprintf(c->method, sizeof c->method, "%s", method);
    c->params = params;
    c->status = status;
    c->response = xstrdup(response);
    c->description = xstrdup(description);
    if (v && v->n_warnings) {
        c->warnings = calloc((size_t)v->n_warnings, sizeof *c->warnings);
        if (!c->warnings) abort();
        for (int i = 0; i < v->n_warnings; i++) {
            c->warnings[i] = v->warnings[i];
            v->warnings[i] = NULL;
        }
        c->n_warnings = v->n_warnings;
        v->n_warnings = 0;
    }
    if (ft->verbose) {
        char *p = params ? cJSON_PrintUnformatted(params) : NULL;
        fprintf(stderr, "fake_tg: #%" PRIu64 " %s %d %s -> %s\n", c->seq, method, status,
                p ? p : "{}", response);
        for (int i = 0; i < c->n_warnings; i++)
            fprintf(stderr, "fake_tg:   warning: %s\n", c->warnings[i]);
        free(p);
    }
    pthread_cond_broadcast(&ft->cond);
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct req {
    char *body;
    size_t len, cap;
    bool too_big;
} req;

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) ('+' is a space) into a new string. */
static char *url_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out) abort();
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = 0;
    return out;
}

/* s[0..n) as a new string. */
static char *url_decode_raw(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out) abort();
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

/* a=1&b=x%20y → {"a":"1","b":"x y"} (strings; converted later by type). */
static void parse_form(const char *body, size_t len, cJSON *into)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&') j++;
        size_t eq = i;
        while (eq < j && body[eq] != '=') eq++;
        if (eq > i) {
            char *k = url_decode(body + i, eq - i);
            char *v = eq < j ? url_decode(body + eq + 1, j - eq - 1) : xstrdup("");
            cJSON_DeleteItemFromObjectCaseSensitive(into, k);
            cJSON_AddStringToObject(into, k, v);
            free(k);
            free(v);
        }
        i = j + 1;
    }
}

/* The first n-byte needle in hay[0..len), or NULL. */
static const char *find_bytes(const char *hay, size_t len, const char *needle, size_t n)
{
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (!memcmp(hay + i, needle, n)) return hay + i;
    return NULL;
}

/* The value of `key="..."` (or key=token) among a header's parameters, as a
 * new string; NULL when absent. */
static char *header_param(const char *h, size_t len, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 1 < len; i++) {
        if ((i == 0 || h[i - 1] == ';' || h[i - 1] == ' ') && !strncasecmp(h + i, key, kl) &&
            h[i + kl] == '=') {
            const char *v = h + i + kl + 1, *end = h + len;
            if (*v == '"') {
                const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
                if (!q) return NULL;
                return url_decode_raw(v + 1, (size_t)(q - v - 1));
            }
            const char *e = v;
            while (e < end && *e != ';' && *e != ' ' && *e != '\r') e++;
            return url_decode_raw(v, (size_t)(e - v));
        }
    }
    return NULL;
}

/* What Telegram checks of a voice note (sendVoice's `voice`): an Ogg
 * stream (every page "OggS", version 0, one serial, pages in sequence, the
 * last one marked end-of-stream) whose first page holds only an OpusHead
 * (version 1, 1 or 2 channels) and whose second packet is OpusTags. Its
 * duration, from the last page's granule position less the pre-skip, into
 * *secs. NULL, or what is wrong. Written apart from the runtime's checker
 * (ai/tts.c), so the fake does not share its mistakes. */
static const char *ogg_opus_info(const unsigned char *p, size_t n, double *secs)
{
    size_t off = 0;
    unsigned long serial = 0, seq = 0;
    int pages = 0;
    int64_t last_gp = 0;
    unsigned preskip = 0;
    bool eos = false;
    while (off < n) {
        if (eos) return "data after the end of the Ogg stream";
        if (n - off < 27 || memcmp(p + off, "OggS", 4)) return "not an Ogg file (no OggS page)";
        const unsigned char *h = p + off;
        if (h[4] != 0) return "an Ogg page of an unknown version";
        unsigned long ser = h[14] | h[15] << 8 | h[16] << 16 | (unsigned long)h[17] << 24;
        unsigned long sq = h[18] | h[19] << 8 | h[20] << 16 | (unsigned long)h[21] << 24;
        size_t nseg = h[26], body = 0;
        if (n - off < 27 + nseg) return "a truncated Ogg page";
        for (size_t i = 0; i < nseg; i++) body += h[27 + i];
        if (n - off < 27 + nseg + body) return "a truncated Ogg page";
        const unsigned char *d = h + 27 + nseg;
        if (pages == 0) {
            if (!(h[5] & 2)) return "the first Ogg page does not begin a stream";
            if (body < 19 || memcmp(d, "OpusHead", 8)) return "no OpusHead: not an Opus stream";
            if (d[8] != 1) return "OpusHead of an unknown version";
            if (d[9] < 1 || d[9] > 2) return "OpusHead with an unusual channel count";
            preskip = d[10] | d[11] << 8;
            serial = ser;
            seq = sq;
        } else {
            if (ser != serial) return "more than one Ogg stream";
            if (sq != ++seq) return "Ogg pages out of sequence";
            if (pages == 1 && (body < 8 || memcmp(d, "OpusTags", 8))) return "no OpusTags after OpusHead";
        }
        int64_t gp = 0;
        for (int i = 7; i >= 0; i--) gp = gp << 8 | h[6 + i];
        if (gp != -1) last_gp = gp;
        eos = h[5] & 4;
        off += 27 + nseg + body;
        pages++;
    }
    if (pages < 3) return "an Ogg/Opus file without audio pages";
    if (!eos) return "the Ogg stream does not end (no end-of-stream page)";
    if (last_gp < (int64_t)preskip) return "less audio than the pre-skip";
    *secs = (double)(last_gp - preskip) / 48000.0;
    return NULL;
}

/* multipart/form-data (RFC 7578), as strictly as the real server reads it:
 * the boundary from the Content-Type, a delimiter line first, every part
 * with `Content-Disposition: form-data; name="..."`, the closing delimiter
 * last. Fields go into form (strings, converted later by type); a part with
 * a filename goes into files as {"file_name", "size", "content"}. NULL, or
 * what is wrong (a static string). */
static const char *parse_multipart(const char *ctype, const char *body, size_t len,
                                   cJSON *form, cJSON *files)
{
    char *b = header_param(ctype, strlen(ctype), "boundary");
    if (!b || !*b || strlen(b) > 70) {
        free(b);
        return "multipart body without a valid boundary";
    }
    char delim[80];
    int dl = snprintf(delim, sizeof delim, "\r\n--%s", b);
    free(b);
    /* the body starts with the delimiter (no preamble: no client sends one) */
    if (len < (size_t)dl - 2 || memcmp(body, delim + 2, (size_t)dl - 2))
        return "multipart body does not start with its boundary";
    const char *p = body + dl - 2, *end = body + len;
    for (;;) {
        if (end - p >= 2 && !memcmp(p, "--", 2)) return NULL; /* the closing delimiter */
        if (end - p < 2 || memcmp(p, "\r\n", 2)) return "malformed multipart boundary line";
        p += 2;
        const char *hend = find_bytes(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) return "multipart part without the end of its headers";
        char *name = NULL, *fname = NULL;
        for (const char *l = p; l < hend;) {
            const char *le = find_bytes(l, (size_t)(hend + 2 - l), "\r\n", 2);
            size_t ll = (size_t)(le - l);
            if (ll > 20 && !strncasecmp(l, "Content-Disposition:", 20)) {
                const char *v = l + 20;
                while (*v == ' ') v++;
                if (strncasecmp(v, "form-data", 9)) {
                    free(name);
                    return "multipart part is not form-data";
                }
                free(name);
                free(fname);
                name = header_param(v, (size_t)(le - v), "name");
                fname = header_param(v, (size_t)(le - v), "filename");
            }
            l = le + 2;
        }
        const char *data = hend + 4;
        const char *dend = find_bytes(data, (size_t)(end - data), delim, (size_t)dl);
        if (!name || !*name || !dend) {
            free(name);
            free(fname);
            return !dend ? "multipart body without its closing boundary"
                         : "multipart part without a name";
        }
        size_t n = (size_t)(dend - data);
        char *val = malloc(n + 1);
        if (!val) abort();
        memcpy(val, data, n);
        val[n] = 0;
        const char *bad = NULL;
        if (fname) {
            if (n == 0) bad = "file must be non-empty";
            else if (cJSON_GetObjectItemCaseSensitive(files, name)) bad = "a file sent twice";
            else {
                cJSON *f = cJSON_CreateObject();
                cJSON_AddStringToObject(f, "file_name", fname);
                cJSON_AddNumberToObject(f, "size", (double)n);
                cJSON_AddStringToObject(f, "content", val);
                /* an audio file: what sendVoice checks of it (handle) */
                double secs = 0;
                const char *why = ogg_opus_info((const unsigned char *)data, n, &secs);
                if (why)
                    cJSON_AddStringToObject(f, "ogg_opus_error", why);
                else
                    cJSON_AddNumberToObject(f, "ogg_opus_seconds", secs);
                cJSON_AddItemToObject(files, name, f);
            }
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(form, name);
            cJSON_AddStringToObject(form, name, val);
        }
        free(val);
        free(name);
        free(fname);
        if (bad) return bad;
        p = dend + dl;
    }
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    cJSON *into = cls;
    if (!key) return MHD_YES;
    cJSON_DeleteItemFromObjectCaseSensitive(into, key);
    cJSON_AddStringToObject(into, key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result respond(struct MHD_Connection *conn, int status, const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* An answer that arrives one byte every delay_ms. */
typedef struct trickle {
    char *body;
    size_t len, pos;
    int delay_ms;
    size_t cut;    /* > 0: the connection breaks after this many bytes */
} trickle;

static ssize_t trickle_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    trickle *t = cls;
    (void)pos;
    if (t->pos >= t->len) return MHD_CONTENT_READER_END_OF_STREAM;
    if (t->cut && t->pos >= t->cut) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (max == 0) return 0;
    struct timespec ts = { t->delay_ms / 1000, (long)(t->delay_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    buf[0] = t->body[t->pos++];
    return 1;
}

static void trickle_free(void *cls)
{
    trickle *t = cls;
    free(t->body);
    free(t);
}

static enum MHD_Result respond_trickle(struct MHD_Connection *conn, int status, char *body,
                                       int delay_ms, bool cut)
{
    trickle *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->body = body;
    t->len = strlen(body);
    t->delay_ms = delay_ms > 0 ? delay_ms : 1;
    /* cut: the headers and a few bytes go out, then the connection breaks
     * (closing before any byte would let curl retry a reused connection
     * silently, hiding the fault from the bot) */
    t->cut = cut ? (t->len > 8 ? 8 : 1) : 0;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(t->len, 1, trickle_read, t, trickle_free);
    if (!resp) {
        trickle_free(t);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result respond_html(struct MHD_Connection *conn, int status, const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/html");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static char *error_body_mig(int status, const char *desc, int retry_after, int64_t migrate_to)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddFalseToObject(j, "ok");
    cJSON_AddNumberToObject(j, "error_code", status);
    cJSON_AddStringToObject(j, "description", desc);
    if (retry_after > 0 || migrate_to) {
        cJSON *p = cJSON_AddObjectToObject(j, "parameters");
        if (retry_after > 0) cJSON_AddNumberToObject(p, "retry_after", retry_after);
        if (migrate_to) cJSON_AddNumberToObject(p, "migrate_to_chat_id", (double)migrate_to);
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static char *error_body(int status, const char *desc, int retry_after)
{
    return error_body_mig(status, desc, retry_after, 0);
}

/* What on_request does at the HTTP level after handle(). */
typedef struct fault_act {
    fake_tg_fault_kind kind;
    bool active;
    int delay_ms;
} fault_act;

/* params.chat_id as a number, 0 when absent. */
static int64_t call_chat(const cJSON *params)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(params, "chat_id");
    int64_t v = 0;
    if (json_is_int(id)) return json_i64(id);
    if (cJSON_IsString(id) && parse_i64(id->valuestring, &v)) return v;
    return 0;
}

/* A retry that comes before the retry_after the fake gave: counted. */
static void check_hold(fake_tg *ft, int64_t chat_, const char *method, double now)
{
    for (size_t i = 0; i < ft->nholds; i++) {
        hold *h = &ft->holds[i];
        if (h->chat != chat_ || (chat_ == 0 && strcmp(h->method, method))) continue;
        if (now < h->until - 0.05) {
            ft->early++;
            fprintf(stderr, "fake_tg: %s for chat_ %" PRId64 " came %.2f s before its retry_after "
                    "ran out\n", method, chat_, h->until - now);
        }
    }
}

static void add_hold(fake_tg *ft, int64_t chat_, const char *method, double until)
{
    for (size_t i = 0; i < ft->nholds; i++) {
        hold *h = &ft->holds[i];
        if (h->chat == chat_ && (chat_ != 0 || !strcmp(h->method, method))) {
            if (until > h->until) h->until = until;
            return;
        }
    }
    if (ft->nholds == ft->capholds) {
        ft->capholds = ft->capholds ? ft->capholds * 2 : 16;
        ft->holds = xrealloc(ft->holds, ft->capholds * sizeof *ft->holds);
    }
    hold *h = &ft->holds[ft->nholds++];
    h->chat = chat_;
    snprintf(h->method, sizeof h->method, "%s", method);
    h->until = until;
}

/* The first armed fault for this call, counted down; NULL if none. */
static const fake_tg_fault *match_fault(fake_tg *ft, const char *method, int64_t chat_)
{
    for (size_t i = 0; i < ft->nfaults; i++) {
        fake_tg_fault *f = &ft->faults[i].f;
        if (f->count == 0) continue;
        if (f->method && strcasecmp(f->method, method)) continue;
        if (f->chat_id && f->chat_id != chat_) continue;
        if (f->count > 0) f->count--;
        return f;
    }
    return NULL;
}

static const char *const HTML_PAGE =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n";

static const cJSON *find_method(const fake_tg *ft, const char *name)
{
    return name_index_get(&ft->method_ix, name); /* Telegram ignores case */
}

/* Finishes a request: returns the response status and body (malloc'd). */
static int handle(fake_tg *ft, struct MHD_Connection *conn, const char *url,
                  const char *http_method, req *rq, char **body_out, fault_act *fa)
{
    char method[64] = "";
    cJSON *params = NULL;
    cJSON *files = NULL; /* a multipart body's files (v.files) */
    vctx v;
    memset(&v, 0, sizeof v);
    v.ft = ft;
    int status = 200;
    char *desc = NULL;
    reply r;
    memset(&r, 0, sizeof r);

    /* /bot<token>/<method> */
    const char *tok = NULL, *slash = NULL;
    if (!strncmp(url, "/bot", 4)) {
        tok = url + 4;
        slash = strchr(tok, '/');
    }
    if (!slash || strchr(slash + 1, '/') || !slash[1]) {
        status = 404;
        desc = xstrdup("Not Found");
        snprintf(method, sizeof method, "%s", url);
        goto out;
    }
    snprintf(method, sizeof method, "%s", slash + 1);
    if ((size_t)(slash - tok) != strlen(ft->token) || strncmp(tok, ft->token, (size_t)(slash - tok))) {
        status = 401;
        desc = xstrdup("Unauthorized");
        goto out;
    }
    const cJSON *mdef = find_method(ft, slash + 1);
    if (!mdef) {
        status = 404;
        desc = xstrdup("Not Found");
        goto out;
    }
    snprintf(method, sizeof method, "%s", mdef->string);
    v.method = mdef->string;
    if (rq->too_big) {
        status = 413;
        desc = xstrdup("Request Entity Too Large");
        goto out;
    }
    if (strcmp(http_method, "GET") && strcmp(http_method, "POST")) {
        status = 405;
        desc = xstrdup("Method Not Allowed");
        goto out;
    }

    /* Parameters: the query string, then the body (the body wins). */
    cJSON *form = cJSON_CreateObject();
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, form);
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    cJSON *json = NULL;
    if (rq->len > 0) {
        if (ctype && !strncasecmp(ctype, "application/json", 16)) {
            json = cJSON_ParseWithLength(rq->body, rq->len);
            if (!cJSON_IsObject(json)) {
                cJSON_Delete(json);
                cJSON_Delete(form);
                status = 400;
                desc = xstrdup("Bad Request: can't parse JSON object");
                goto out;
            }
        } else if (!ctype || !strncasecmp(ctype, "application/x-www-form-urlencoded", 33)) {
            parse_form(rq->body, rq->len, form);
        } else if (!strncasecmp(ctype, "multipart/form-data", 19)) {
            files = cJSON_CreateObject();
            const char *bad = parse_multipart(ctype, rq->body, rq->len, form, files);
            if (bad) {
                cJSON_Delete(form);
                status = 400;
                desc = xprintf("Bad Request: %s", bad);
                goto out;
            }
        } else {
            cJSON_Delete(form);
            status = 400;
            desc = xprintf("Bad Request: unsupported Content-Type %s (the fake takes JSON, "
                           "urlencoded and multipart bodies)", ctype);
            goto out;
        }
    }
    /* Form values are strings: convert each known one to its schema type. */
    params = json ? json : cJSON_CreateObject();
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(mdef, "fields");
    cJSON *fv;
    cJSON_ArrayForEach(fv, form) {
        if (json && cJSON_GetObjectItemCaseSensitive(json, fv->string)) continue;
        const char *ftype = NULL;
        const cJSON *f;
        cJSON_ArrayForEach(f, fields)
            if (!strcmp(cJSON_GetArrayItem(f, 0)->valuestring, fv->string))
                ftype = cJSON_GetArrayItem(f, 1)->valuestring;
        cJSON *conv = ftype ? convert_form_value(&v, fv->string, ftype, fv->valuestring)
                            : cJSON_CreateString(fv->valuestring);
        if (!conv) break;
        cJSON_AddItemToObject(params, fv->string, conv);
    }
    cJSON_Delete(form);
    /* Telegram refuses a call with a string that is not UTF-8 (a name or
     * text the bot passed on unchecked): checked before the files join,
     * whose content is bytes */
    if (has_bad_utf8(params)) {
        status = 400;
        desc = xstrdup("Bad Request: strings must be encoded in UTF-8");
        vwarn(&v, "%s: a string parameter is not valid UTF-8", v.method);
        goto out;
    }
    /* the files join the params as recorded (name, size, content) */
    v.files = files;
    cJSON *fp;
    cJSON_ArrayForEach(fp, files) {
        cJSON_DeleteItemFromObjectCaseSensitive(params, fp->string);
        cJSON_AddItemToObject(params, fp->string, dup_json(fp));
    }
    if (!v.failed) check_params(&v, mdef, params);
    /* sendVoice takes an OGG/Opus file (else Telegram would send it as a
     * document or refuse it): an upload must be one */
    const cJSON *vf = !v.failed && !strcmp(mdef->string, "sendVoice") && files
                          ? cJSON_GetObjectItemCaseSensitive(files, "voice") : NULL;
    const char *vwhy = vf ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(vf, "ogg_opus_error")) : NULL;
    if (vwhy) {
        status = 400;
        desc = xprintf("Bad Request: voice is not an OGG/Opus voice note: %s", vwhy);
        goto out;
    }
    if (v.failed) {
        status = 400;
        desc = xstrdup(v.err);
        if (v.err_path[0]) vwarn(&v, "%s: rejected at %s", v.method, v.err_path);
        goto out;
    }

    pthread_mutex_lock(&ft->mu);
    fail_rule *fr = &ft->fail;
    int64_t cchat = call_chat(params);
    double now = mono_s();
    check_hold(ft, cchat, mdef->string, now);
    const fake_tg_fault *flt = match_fault(ft, mdef->string, cchat);
    int64_t migrate_to = 0;
    if (flt) {
        fa->active = true;
        fa->kind = flt->kind;
        fa->delay_ms = flt->delay_ms;
    }
    if (flt && (flt->kind == FAKE_TG_FAULT_ERROR || flt->kind == FAKE_TG_FAULT_HTML)) {
        status = flt->status ? flt->status : 500;
        desc = xstrdup(flt->description ? flt->description : "Internal Server Error");
        r.retry_after = flt->kind == FAKE_TG_FAULT_ERROR ? flt->retry_after : 0;
        migrate_to = flt->kind == FAKE_TG_FAULT_ERROR ? flt->migrate_to : 0;
        if (migrate_to) { /* the supergroup now exists */
            chat *sg = get_chat(ft, migrate_to);
            if (!sg->title) sg->title = xstrdup("Supergroup");
        }
        if (status == 429 && r.retry_after > 0)
            add_hold(ft, cchat, mdef->string, now + r.retry_after);
    } else if (flt && !flt->performed && flt->kind != FAKE_TG_FAULT_SLOW &&
               flt->kind != FAKE_TG_FAULT_TRICKLE) {
        r.result = cJSON_CreateTrue(); /* lost before it was done */
    } else if (fr->count > 0 && (!fr->method || !strcasecmp(fr->method, mdef->string))) {
        fr->count--;
        status = fr->status;
        desc = xstrdup(fr->description);
        r.retry_after = fr->retry_after;
    } else {
        /* The seq this call will get, so its events point back at it; a long
         * poll records later, which is fine: getUpdates makes no events. */
        dispatch(ft, ft->ncalls, mdef->string, mdef, params, &r);
        if (r.description) {
            status = r.status;
            desc = r.description;
            r.description = NULL;
        }
    }
    char *body;
    if (desc && fa->active && fa->kind == FAKE_TG_FAULT_HTML) {
        body = xstrdup(HTML_PAGE);
        cJSON_Delete(r.result);
    } else if (desc) {
        body = error_body_mig(status, desc, r.retry_after, migrate_to);
        cJSON_Delete(r.result);
    } else if (fa->active && fa->kind == FAKE_TG_FAULT_MISTYPED) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "ok", "true");
        cJSON_AddItemToObject(j, "result", r.result ? r.result : cJSON_CreateTrue());
        body = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    } else {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddTrueToObject(j, "ok");
        cJSON_AddItemToObject(j, "result", r.result ? r.result : cJSON_CreateTrue());
        body = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    }
    if (fa->active && fa->kind == FAKE_TG_FAULT_TRUNCATE && !desc) {
        size_t bl = strlen(body);
        body[bl / 2] = 0;
    }
    record(ft, method, params, status, body, desc, &v);
    if (fa->active) {
        fake_tg_call *rc = &ft->calls[ft->ncalls - 1];
        rc->faulted = true;
        bool performed = flt && (flt->performed || flt->kind == FAKE_TG_FAULT_SLOW ||
                                 flt->kind == FAKE_TG_FAULT_TRICKLE);
        if (fa->kind == FAKE_TG_FAULT_DROP && !performed) rc->status = 0;
    }
    pthread_mutex_unlock(&ft->mu);
    free(desc);
    vctx_free(&v);
    cJSON_Delete(files);
    *body_out = body;
    return status;

out:
    body = error_body(status, desc, 0);
    pthread_mutex_lock(&ft->mu);
    record(ft, method, params, status, body, desc, &v);
    pthread_mutex_unlock(&ft->mu);
    free(desc);
    vctx_free(&v);
    cJSON_Delete(files);
    *body_out = body;
    return status;
}

/* GET /file/bot<token>/<file_path>: a file fake_tg_add_file gave. */
static enum MHD_Result serve_file(fake_tg *ft, struct MHD_Connection *conn, const char *rest)
{
    size_t tl = strlen(ft->token);
    const char *path = !strncmp(rest, ft->token, tl) && rest[tl] == '/' ? rest + tl + 1 : NULL;
    struct MHD_Response *resp = NULL;
    unsigned status = 404;
    pthread_mutex_lock(&ft->mu);
    for (size_t i = 0; path && i < ft->nfiles && !resp; i++) {
        if (!strcmp(ft->files[i].path, path)) {
            resp = MHD_create_response_from_buffer(ft->files[i].len, ft->files[i].data,
                                                   MHD_RESPMEM_MUST_COPY);
            status = 200;
        }
    }
    pthread_mutex_unlock(&ft->mu);
    if (!path)
        status = 401;
    if (!resp)
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

void fake_tg_add_file(fake_tg *ft, const char *file_id, const void *data, size_t len)
{
    fake_tg_add_file_as(ft, file_id, "voice", "oga", data, len);
}

void fake_tg_add_file_as(fake_tg *ft, const char *file_id, const char *dir, const char *ext,
                         const void *data, size_t len)
{
    pthread_mutex_lock(&ft->mu);
    ft->files = xrealloc(ft->files, (ft->nfiles + 1) * sizeof *ft->files);
    fake_file *f = &ft->files[ft->nfiles++];
    f->file_id = xstrdup(file_id);
    f->path = xprintf("%s/%s.%s", dir, file_id, ext);
    f->data = xrealloc(NULL, len ? len : 1);
    memcpy(f->data, data, len);
    f->len = len;
    pthread_mutex_unlock(&ft->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *http_method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    fake_tg *ft = cls;
    req *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        if (!rq->too_big && rq->len + n <= ft->max_body) {
            if (rq->len + n + 1 > rq->cap) {
                rq->cap = (rq->len + n + 1) * 2;
                if (rq->cap > ft->max_body + 1) rq->cap = ft->max_body + 1;
                rq->body = xrealloc(rq->body, rq->cap);
            }
            memcpy(rq->body + rq->len, upload_data, n);
            rq->len += n;
            rq->body[rq->len] = 0;
        } else {
            rq->too_big = true; /* keep reading, answer 413 at the end */
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ft->latency_ms > 0) { /* a far server: every call takes this long to arrive */
        struct timespec ts = { ft->latency_ms / 1000, (long)(ft->latency_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    if (!strncmp(url, "/file/bot", 9))
        return serve_file(ft, conn, url + 9);
    char *body = NULL;
    fault_act fa;
    memset(&fa, 0, sizeof fa);
    int status = handle(ft, conn, url, http_method, rq, &body, &fa);
    enum MHD_Result rc;
    if (fa.active && (fa.kind == FAKE_TG_FAULT_DROP || fa.kind == FAKE_TG_FAULT_TRICKLE)) {
        rc = respond_trickle(conn, status, body, fa.kind == FAKE_TG_FAULT_DROP ? 1 : fa.delay_ms,
                             fa.kind == FAKE_TG_FAULT_DROP);
        body = NULL; /* the response owns it */
    } else {
        if (fa.active && fa.kind == FAKE_TG_FAULT_SLOW && fa.delay_ms > 0) {
            struct timespec ts = { fa.delay_ms / 1000, (long)(fa.delay_ms % 1000) * 1000000L };
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        rc = (fa.active && fa.kind == FAKE_TG_FAULT_HTML) ? respond_html(conn, status, body)
                                                          : respond(conn, status, body);
    }
    free(body);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- lifecycle --------------------------------------------------------------- */

static cJSON *load_file_json(const char *path, char *err, size_t errlen)
{
    char *buf = slurp(path);
    if (!buf) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!j) snprintf(err, errlen, "%s: not valid JSON", path);
    return j;
}

fake_tg *fake_tg_new(const fake_tg_opts *opts, char *err, size_t errlen)
{
    fake_tg_opts o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    const char *schema_path = o.schema_path;
    if (!schema_path) schema_path = getenv("FAKE_TG_SCHEMA");
    if (!schema_path) schema_path = FAKE_TG_SCHEMA;

    fake_tg *ft = calloc(1, sizeof *ft);
    if (!ft) abort();
    ft->schema = load_file_json(schema_path, err, errlen);
    if (!ft->schema) {
        free(ft);
        return NULL;
    }
    ft->methods = cJSON_GetObjectItemCaseSensitive(ft->schema, "methods");
    ft->types = cJSON_GetObjectItemCaseSensitive(ft->schema, "types");
    if (!cJSON_IsObject(ft->methods) || !cJSON_IsObject(ft->types)) {
        snprintf(err, errlen, "%s: no methods/types", schema_path);
        cJSON_Delete(ft->schema);
        free(ft);
        return NULL;
    }
    if (cJSON_GetArraySize(ft->types) * 2 > NAME_INDEX_SLOTS ||
        cJSON_GetArraySize(ft->methods) * 2 > NAME_INDEX_SLOTS) {
        snprintf(err, errlen, "%s: more types or methods than NAME_INDEX_SLOTS / 2", schema_path);
        cJSON_Delete(ft->schema);
        free(ft);
        return NULL;
    }
    name_index_build(&ft->type_ix, ft->types, false);
    name_index_build(&ft->method_ix, ft->methods, true);
    name_index_index_fields(&ft->type_ix);
    ft->token = xstrdup(o.token ? o.token : FAKE_TG_TOKEN);
    ft->bot_id = strtoll(ft->token, NULL, 10);
    ft->bot_username = xstrdup(o.bot_username ? o.bot_username : "fake_test_bot");
    ft->max_body = o.max_body ? o.max_body : MAX_BODY_DEFAULT;
    ft->allow_unknown_chats = o.allow_unknown_chats;
    ft->verbose = o.verbose;
    ft->latency_ms = o.latency_ms > 0 ? o.latency_ms : 0;
    ft->next_update_id = 870000001;
    ft->next_cbq = 1;
    ft->commands = cJSON_CreateObject();
    pthread_mutex_init(&ft->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&ft->cond, &ca);
    pthread_condattr_destroy(&ca);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(o.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ft->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
        o.port, NULL, NULL, on_request, ft,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, ft,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)2000,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (!ft->daemon) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1:%u", (unsigned)o.port);
        fake_tg_free(ft);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(ft->daemon, MHD_DAEMON_INFO_BIND_PORT);
    ft->port = info ? info->port : o.port;
    ft->dl = fake_dl_start(ft, &o);
    if (!ft->dl) {
        snprintf(err, errlen, "cannot start webhook delivery");
        fake_tg_free(ft);
        return NULL;
    }
    return ft;
}

void fake_tg_free(fake_tg *ft)
{
    if (!ft) return;
    if (ft->daemon) {
        pthread_mutex_lock(&ft->mu);
        ft->stopping = true;
        pthread_cond_broadcast(&ft->cond); /* long polls answer now */
        pthread_mutex_unlock(&ft->mu);
        fake_dl_stop(ft->dl); /* before the world it reads goes away */
        MHD_stop_daemon(ft->daemon);
    }
    for (size_t i = 0; i < ft->nchats; i++) chat_free(ft->chats[i]);
    free(ft->chats);
    for (size_t i = 0; i < ft->nfiles; i++) {
        free(ft->files[i].file_id);
        free(ft->files[i].path);
        free(ft->files[i].data);
    }
    free(ft->files);
    free(ft->chat_ix);
    drop_updates(ft, ft->nupd);
    free(ft->updates);
    cJSON_Delete(ft->allowed_updates);
    free(ft->cbqs);
    cJSON_Delete(ft->commands);
    free(ft->webhook_url);
    free(ft->webhook_secret);
    for (size_t i = 0; i < ft->ncalls; i++) fake_tg_call_clear(&ft->calls[i]);
    free(ft->calls);
    free(ft->fail.method);
    free(ft->fail.description);
    fake_tg_clear_faults(ft);
    free(ft->faults);
    free(ft->holds);
    name_index_free(&ft->type_ix);
    cJSON_Delete(ft->schema);
    free(ft->token);
    free(ft->bot_username);
    free(ft->bad_ids);
    pthread_mutex_destroy(&ft->mu);
    pthread_cond_destroy(&ft->cond);
    free(ft);
}

uint16_t fake_tg_port(const fake_tg *ft)
{
    return ft->port;
}

const char *fake_tg_token(const fake_tg *ft)
{
    return ft->token;
}

void fake_tg_base_url(const fake_tg *ft, char *buf, size_t len)
{
    snprintf(buf, len, "http://127.0.0.1:%u", (unsigned)ft->port);
}

/* ---- updates ----------------------------------------------------------------- */

/* Registers the private chat behind a user object seen in an update. */
static void learn_chat(fake_tg *ft, const cJSON *chat_obj, const cJSON *from)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(chat_obj, "id");
    if (!json_is_int(id)) return;
    chat *c = get_chat(ft, json_i64(id));
    if (from && !c->user) c->user = dup_json(from);
}

/* Remembers a pushed message, so that copyMessage can find it. */
static void learn_message(fake_tg *ft, const cJSON *msg)
{
    const cJSON *chat_obj = cJSON_GetObjectItemCaseSensitive(msg, "chat");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(chat_obj, "id");
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(msg, "message_id");
    if (!json_is_int(id) || !json_is_int(mid)) return;
    chat *c = get_chat(ft, json_i64(id));
    const char *text = str_param(msg, "text");
    if (!text) text = str_param(msg, "caption");
    c->umsgs = xrealloc(c->umsgs, (c->numsgs + 1) * sizeof *c->umsgs);
    c->umsgs[c->numsgs].id = json_i64(mid);
    c->umsgs[c->numsgs].text = xstrdup(text);
    c->numsgs++;
}

int64_t fake_tg_push_update(fake_tg *ft, cJSON *update)
{
    if (!cJSON_IsObject(update)) {
        cJSON_Delete(update);
        return -1;
    }
    pthread_mutex_lock(&ft->mu);
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(update, "update_id");
    int64_t id;
    if (json_is_int(uid)) {
        id = json_i64(uid);
        if (id >= ft->next_update_id) ft->next_update_id = id + 1;
    } else {
        id = ft->next_update_id++;
        cJSON_DeleteItemFromObjectCaseSensitive(update, "update_id");
        cJSON_AddNumberToObject(update, "update_id", (double)id);
    }
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(update, "message");
    if (msg) learn_chat(ft, cJSON_GetObjectItemCaseSensitive(msg, "chat"),
                        cJSON_GetObjectItemCaseSensitive(msg, "from"));
    if (msg) learn_message(ft, msg);
    const cJSON *cq = cJSON_GetObjectItemCaseSensitive(update, "callback_query");
    if (cq) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(cq, "message");
        learn_chat(ft, cJSON_GetObjectItemCaseSensitive(m, "chat"),
                   cJSON_GetObjectItemCaseSensitive(cq, "from"));
    }
    /* Keep the queue sorted by update_id (pushes with explicit ids may
     * arrive out of order). */
    if (ft->nupd == ft->capupd) {
        ft->capupd = ft->capupd ? ft->capupd * 2 : 64;
        ft->updates = xrealloc(ft->updates, ft->capupd * sizeof *ft->updates);
    }
    size_t at = ft->nupd;
    while (at > 0 && upd_id(ft->updates[at - 1]) > id) at--;
    memmove(ft->updates + at + 1, ft->updates + at, (ft->nupd - at) * sizeof *ft->updates);
    ft->updates[at] = update;
    ft->nupd++;
    pthread_cond_broadcast(&ft->cond);

    /* Our own updates must be valid Bot API objects too. */
    vctx v;
    memset(&v, 0, sizeof v);
    v.ft = ft;
    v.method = "update";
    where w = { NULL, "update" };
    check_type(&v, "Update", update, w, 0);
    if (v.failed) fprintf(stderr, "fake_tg: pushed update %" PRId64 " is invalid: %s at %s\n",
                          id, v.err, v.err_path);
    vctx_free(&v);
    pthread_mutex_unlock(&ft->mu);
    return id;
}

/* A message from u in its private chat with the next message id. */
static cJSON *user_message(fake_tg *ft, const fake_tg_user *u)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = get_chat(ft, u->id);
    int64_t mid = c->next_msg_id++;
    cJSON_Delete(c->user);
    c->user = user_json(u);
    cJSON *chatj = chat_json(c);
    pthread_mutex_unlock(&ft->mu);

    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "message_id", (double)mid);
    cJSON_AddItemToObject(m, "from", user_json(u));
    cJSON_AddItemToObject(m, "chat", chatj);
    cJSON_AddNumberToObject(m, "date", (double)time(NULL));
    return m;
}

/* A message's text, with the bot_command entity Telegram adds when it
 * starts with '/'. */
static void add_text(cJSON *m, const char *text)
{
    cJSON_AddStringToObject(m, "text", text);
    if (text[0] != '/')
        return;
    size_t n = 1;
    while (text[n] && !isspace((unsigned char)text[n])) n++;
    cJSON *ents = cJSON_AddArrayToObject(m, "entities");
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "bot_command");
    cJSON_AddNumberToObject(e, "offset", 0);
    cJSON_AddNumberToObject(e, "length", (double)utf16_len(text, n));
    cJSON_AddItemToArray(ents, e);
}

int64_t fake_tg_push_text(fake_tg *ft, const fake_tg_user *u, const char *text)
{
    cJSON *m = user_message(ft, u);
    add_text(m, text);
    cJSON *up = cJSON_CreateObject();
    cJSON_AddItemToObject(up, "message", m);
    return fake_tg_push_update(ft, up);
}

int64_t fake_tg_push_contact(fake_tg *ft, const fake_tg_user *u, const char *phone, bool own)
{
    cJSON *m = user_message(ft, u);
    cJSON *c = cJSON_AddObjectToObject(m, "contact");
    cJSON_AddStringToObject(c, "phone_number", phone);
    cJSON_AddStringToObject(c, "first_name", own && u->first_name ? u->first_name : "Contact");
    if (own && u->last_name) cJSON_AddStringToObject(c, "last_name", u->last_name);
    if (own) cJSON_AddNumberToObject(c, "user_id", (double)u->id);
    cJSON *up = cJSON_CreateObject();
    cJSON_AddItemToObject(up, "message", m);
    return fake_tg_push_update(ft, up);
}

int64_t fake_tg_push_callback(fake_tg *ft, const fake_tg_user *u, int64_t message_id,
                              const char *data, char *query_id, size_t query_id_len)
{
    return fake_tg_push_callback_in(ft, u, u->id, message_id, data, query_id, query_id_len);
}

int64_t fake_tg_push_callback_in(fake_tg *ft, const fake_tg_user *u, int64_t chat_id,
                                 int64_t message_id, const char *data, char *query_id,
                                 size_t query_id_len)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = find_chat(ft, chat_id);
    bot_msg *m = c ? find_msg(c, message_id) : NULL;
    if (!m) {
        pthread_mutex_unlock(&ft->mu);
        return -1;
    }
    if (ft->ncbq == ft->capcbq) {
        ft->capcbq = ft->capcbq ? ft->capcbq * 2 : 32;
        ft->cbqs = xrealloc(ft->cbqs, ft->capcbq * sizeof *ft->cbqs);
    }
    cbq *q = &ft->cbqs[ft->ncbq++];
    memset(q, 0, sizeof *q);
    /* Telegram's ids are long decimal strings that overflow 32 and 53 bits. */
    snprintf(q->id, sizeof q->id, "%" PRIu64, (uint64_t)6020000000000000000ULL + ft->next_cbq++);
    q->chat_id = chat_id;
    q->message_id = message_id;
    if (query_id) snprintf(query_id, query_id_len, "%s", q->id);
    cJSON *msg = bot_message_json(ft, c, m, false);
    char inst[48];
    snprintf(inst, sizeof inst, "%" PRId64, (int64_t)(u->id * 7 + 1));
    char qid[32];
    snprintf(qid, sizeof qid, "%s", q->id);
    pthread_mutex_unlock(&ft->mu);

    cJSON *cqj = cJSON_CreateObject();
    cJSON_AddStringToObject(cqj, "id", qid);
    cJSON_AddItemToObject(cqj, "from", user_json(u));
    cJSON_AddItemToObject(cqj, "message", msg);
    cJSON_AddStringToObject(cqj, "chat_instance", inst);
    cJSON_AddStringToObject(cqj, "data", data);
    cJSON *up = cJSON_CreateObject();
    cJSON_AddItemToObject(up, "callback_query", cqj);
    return fake_tg_push_update(ft, up);
}

int64_t fake_tg_push_update_bad_id(fake_tg *ft, cJSON *update)
{
    if (!cJSON_IsObject(update)) {
        cJSON_Delete(update);
        return -1;
    }
    /* The id is marked bad before the update is queued: a poll parked on
     * the queue wakes at the push and must already see it as broken. */
    pthread_mutex_lock(&ft->mu);
    int64_t id = ft->next_update_id++;
    if (ft->nbad_ids == ft->capbad_ids) {
        ft->capbad_ids = ft->capbad_ids ? ft->capbad_ids * 2 : 8;
        ft->bad_ids = xrealloc(ft->bad_ids, ft->capbad_ids * sizeof *ft->bad_ids);
    }
    ft->bad_ids[ft->nbad_ids++] = id;
    pthread_mutex_unlock(&ft->mu);
    cJSON_DeleteItemFromObjectCaseSensitive(update, "update_id");
    cJSON_AddNumberToObject(update, "update_id", (double)id);
    return fake_tg_push_update(ft, update);
}

size_t fake_tg_pending_updates(fake_tg *ft)
{
    pthread_mutex_lock(&ft->mu);
    size_t n = ft->nupd;
    pthread_mutex_unlock(&ft->mu);
    return n;
}

/* ---- calls -------------------------------------------------------------------- */

uint64_t fake_tg_ncalls(fake_tg *ft)
{
    pthread_mutex_lock(&ft->mu);
    uint64_t n = ft->ncalls;
    pthread_mutex_unlock(&ft->mu);
    return n;
}

fake_tg_call *fake_tg_calls_since(fake_tg *ft, uint64_t since, size_t *n)
{
    *n = 0;
    pthread_mutex_lock(&ft->mu);
    fake_tg_call *out = NULL;
    if (since < ft->ncalls) {
        size_t cnt = ft->ncalls - (size_t)since;
        out = calloc(cnt, sizeof *out);
        if (!out) abort();
        for (size_t i = 0; i < cnt; i++) copy_call(&out[i], &ft->calls[since + i]);
        *n = cnt;
    }
    pthread_mutex_unlock(&ft->mu);
    return out;
}

void fake_tg_calls_free(fake_tg_call *calls, size_t n)
{
    for (size_t i = 0; i < n; i++) fake_tg_call_clear(&calls[i]);
    free(calls);
}

bool fake_tg_wait_call(fake_tg *ft, uint64_t since, fake_tg_pred pred, void *ud,
                       int timeout_ms, fake_tg_call *out)
{
    struct timespec deadline;
    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&ft->mu);
    uint64_t next = since;
    for (;;) {
        for (; next < ft->ncalls; next++) {
            if (!pred || pred(&ft->calls[next], ud)) {
                if (out) copy_call(out, &ft->calls[next]);
                pthread_mutex_unlock(&ft->mu);
                return true;
            }
        }
        if (pthread_cond_timedwait(&ft->cond, &ft->mu, &deadline) == ETIMEDOUT) {
            bool more = next < ft->ncalls;
            if (!more) break;
        }
    }
    pthread_mutex_unlock(&ft->mu);
    return false;
}

/* ---- per-chat views -------------------------------------------------------- */

size_t fake_tg_count_events(fake_tg *ft, int64_t chat_id, fake_tg_event_kind kind)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = find_chat(ft, chat_id);
    size_t n = (c && kind < FAKE_TG_EVENT_KINDS) ? c->ev[kind].n : 0;
    pthread_mutex_unlock(&ft->mu);
    return n;
}

void fake_tg_event_counts(fake_tg *ft, int64_t chat_id, size_t out[FAKE_TG_EVENT_KINDS])
{
    pthread_mutex_lock(&ft->mu);
    chat *c = find_chat(ft, chat_id);
    for (int k = 0; k < FAKE_TG_EVENT_KINDS; k++) out[k] = c ? c->ev[k].n : 0;
    pthread_mutex_unlock(&ft->mu);
}

bool fake_tg_wait_event(fake_tg *ft, int64_t chat_id, fake_tg_event_kind kind, size_t index,
                        int timeout_ms, fake_tg_event *out)
{
    if (kind >= FAKE_TG_EVENT_KINDS) return false;
    struct timespec deadline;
    deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&ft->mu);
    bool found = false;
    for (;;) {
        chat *c = find_chat(ft, chat_id);
        if (c && c->ev[kind].n > index) {
            if (out) copy_event(out, &c->ev[kind].v[index]);
            found = true;
            break;
        }
        if (timeout_ms <= 0) break;
        if (pthread_cond_timedwait(&ft->cond, &ft->mu, &deadline) == ETIMEDOUT) {
            c = find_chat(ft, chat_id);
            if (c && c->ev[kind].n > index) continue;
            break;
        }
    }
    pthread_mutex_unlock(&ft->mu);
    return found;
}

cJSON *fake_tg_reply_keyboard(fake_tg *ft, int64_t chat_id)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = find_chat(ft, chat_id);
    cJSON *kb = c ? dup_json(c->reply_kb) : NULL;
    pthread_mutex_unlock(&ft->mu);
    return kb;
}

cJSON *fake_tg_last_inline(fake_tg *ft, int64_t chat_id, int64_t *message_id)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = find_chat(ft, chat_id);
    cJSON *mk = NULL;
    for (size_t i = c ? c->nmsgs : 0; i-- > 0;) {
        if (c->msgs[i].markup) {
            mk = dup_json(c->msgs[i].markup);
            if (message_id) *message_id = c->msgs[i].id;
            break;
        }
    }
    pthread_mutex_unlock(&ft->mu);
    return mk;
}

char *fake_tg_message_text(fake_tg *ft, int64_t chat_id, int64_t message_id)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = find_chat(ft, chat_id);
    bot_msg *m = c ? find_msg(c, message_id) : NULL;
    char *t = m ? xstrdup(m->text ? m->text : "") : NULL;
    pthread_mutex_unlock(&ft->mu);
    return t;
}

bool fake_tg_callback_answered(fake_tg *ft, const char *query_id)
{
    bool ans = false;
    pthread_mutex_lock(&ft->mu);
    for (size_t i = 0; i < ft->ncbq; i++)
        if (!strcmp(ft->cbqs[i].id, query_id)) ans = ft->cbqs[i].answered;
    pthread_mutex_unlock(&ft->mu);
    return ans;
}

cJSON *fake_tg_commands(fake_tg *ft, const char *lang)
{
    pthread_mutex_lock(&ft->mu);
    cJSON *c = dup_json(cJSON_GetObjectItemCaseSensitive(ft->commands, lang ? lang : ""));
    pthread_mutex_unlock(&ft->mu);
    return c;
}

void fake_tg_fail_next(fake_tg *ft, const char *method, int status, const char *description,
                       int retry_after, int count)
{
    pthread_mutex_lock(&ft->mu);
    free(ft->fail.method);
    free(ft->fail.description);
    ft->fail.method = xstrdup(method);
    ft->fail.status = status;
    ft->fail.description = xstrdup(description ? description : "Internal Server Error");
    ft->fail.retry_after = retry_after;
    ft->fail.count = count;
    pthread_mutex_unlock(&ft->mu);
}

/* ---- hooks for webhook delivery (deliver.h) ----------------------------- */

void fake__lock(fake_tg *ft)
{
    pthread_mutex_lock(&ft->mu);
}

void fake__unlock(fake_tg *ft)
{
    pthread_mutex_unlock(&ft->mu);
}

void fake__wait(fake_tg *ft, const struct timespec *abs)
{
    pthread_cond_timedwait(&ft->cond, &ft->mu, abs);
}

void fake__wait_on(fake_tg *ft, pthread_cond_t *cv, const struct timespec *abs)
{
    pthread_cond_timedwait(cv, &ft->mu, abs);
}

void fake__broadcast(fake_tg *ft)
{
    pthread_cond_broadcast(&ft->cond);
}

bool fake__stopping(const fake_tg *ft)
{
    return ft->stopping;
}

const char *fake__webhook_url(const fake_tg *ft)
{
    return ft->webhook_url;
}

const char *fake__webhook_secret(const fake_tg *ft)
{
    return ft->webhook_secret ? ft->webhook_secret : "";
}

int fake__webhook_max_connections(const fake_tg *ft)
{
    return ft->webhook_max_conn > 0 ? ft->webhook_max_conn : 40;
}

size_t fake__nupdates(const fake_tg *ft)
{
    return ft->nupd;
}

const cJSON *fake__update(const fake_tg *ft, size_t i)
{
    return i < ft->nupd ? ft->updates[i] : NULL;
}

bool fake__update_allowed(const fake_tg *ft, const cJSON *u)
{
    return update_allowed(ft, u);
}

void fake__remove_update(fake_tg *ft, int64_t update_id)
{
    for (size_t i = 0; i < ft->nupd; i++) {
        if (upd_id(ft->updates[i]) != update_id) continue;
        cJSON_Delete(ft->updates[i]);
        memmove(ft->updates + i, ft->updates + i + 1, (ft->nupd - i - 1) * sizeof *ft->updates);
        ft->nupd--;
        pthread_cond_broadcast(&ft->cond);
        return;
    }
}

/* ---- faults and measurements --------------------------------------------- */

void fake_tg_add_fault(fake_tg *ft, const fake_tg_fault *f)
{
    pthread_mutex_lock(&ft->mu);
    if (ft->nfaults == ft->capfaults) {
        ft->capfaults = ft->capfaults ? ft->capfaults * 2 : 8;
        ft->faults = xrealloc(ft->faults, ft->capfaults * sizeof *ft->faults);
    }
    fault_rule *r = &ft->faults[ft->nfaults++];
    r->f = *f;
    r->f.method = xstrdup(f->method);
    r->f.description = xstrdup(f->description);
    pthread_mutex_unlock(&ft->mu);
}

void fake_tg_clear_faults(fake_tg *ft)
{
    pthread_mutex_lock(&ft->mu);
    for (size_t i = 0; i < ft->nfaults; i++) {
        free((char *)ft->faults[i].f.method);
        free((char *)ft->faults[i].f.description);
    }
    ft->nfaults = 0;
    pthread_mutex_unlock(&ft->mu);
}

size_t fake_tg_faults_left(fake_tg *ft)
{
    pthread_mutex_lock(&ft->mu);
    size_t n = 0;
    for (size_t i = 0; i < ft->nfaults; i++)
        if (ft->faults[i].f.count != 0) n++;
    pthread_mutex_unlock(&ft->mu);
    return n;
}

size_t fake_tg_early_retries(fake_tg *ft)
{
    pthread_mutex_lock(&ft->mu);
    size_t n = ft->early;
    pthread_mutex_unlock(&ft->mu);
    return n;
}

static bool is_message_method(const char *m)
{
    if (!strncmp(m, "send", 4)) return strcmp(m, "sendChatAction") != 0;
    return !strncmp(m, "editMessage", 11) || !strncmp(m, "copyMessage", 11) ||
           !strncmp(m, "forwardMessage", 14);
}

/* Most events of one chat (or all) in a window; times ascending. */
static size_t window_max(const double *t, size_t n, double w)
{
    size_t best = 0, lo = 0;
    for (size_t hi = 0; hi < n; hi++) {
        while (t[hi] - t[lo] >= w) lo++;
        if (hi - lo + 1 > best) best = hi - lo + 1;
    }
    return best;
}

size_t fake_tg_max_in_window(fake_tg *ft, fake_tg_scope scope, double window_s, int64_t *chat_)
{
    pthread_mutex_lock(&ft->mu);
    double *t = calloc(ft->ncalls + 1, sizeof *t);
    int64_t *cid = calloc(ft->ncalls + 1, sizeof *cid);
    if (!t || !cid) abort();
    size_t n = 0;
    for (size_t i = 0; i < ft->ncalls; i++) {
        const fake_tg_call *c = &ft->calls[i];
        if (c->status != 200 || !is_message_method(c->method)) continue;
        t[n] = c->at;
        cid[n] = call_chat(c->params);
        n++;
    }
    pthread_mutex_unlock(&ft->mu);
    size_t best = 0;
    int64_t best_chat = 0;
    if (scope == FAKE_TG_ALL) {
        best = window_max(t, n, window_s);
    } else {
        double *tc = calloc(n + 1, sizeof *tc);
        bool *done = calloc(n + 1, sizeof *done);
        if (!tc || !done) abort();
        for (size_t i = 0; i < n; i++) {
            if (done[i] || (scope == FAKE_TG_PER_GROUP && cid[i] >= 0)) continue;
            size_t m = 0;
            for (size_t j = i; j < n; j++)
                if (cid[j] == cid[i]) {
                    tc[m++] = t[j];
                    done[j] = true;
                }
            size_t b = window_max(tc, m, window_s);
            if (b > best) {
                best = b;
                best_chat = cid[i];
            }
        }
        free(tc);
        free(done);
    }
    free(t);
    free(cid);
    if (chat_) *chat_ = best_chat;
    return best;
}

size_t fake_tg_busy_connections(fake_tg *ft)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(ft->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    size_t n = info ? info->num_connections : 0;
    pthread_mutex_lock(&ft->mu);
    size_t parked = ft->polls_parked;
    pthread_mutex_unlock(&ft->mu);
    return n > parked ? n - parked : 0;
}

size_t fake_tg_identical_resends(fake_tg *ft)
{
    pthread_mutex_lock(&ft->mu);
    size_t n = 0;
    for (size_t i = 0; i < ft->ncalls; i++) {
        const fake_tg_call *c = &ft->calls[i];
        if (c->status != 200 || !is_message_method(c->method)) continue;
        int64_t chat_ = call_chat(c->params);
        for (size_t j = i; j-- > 0;) {
            const fake_tg_call *p = &ft->calls[j];
            if (p->status != 200 || !is_message_method(p->method) || call_chat(p->params) != chat_)
                continue;
            if (!strcmp(p->method, c->method) && cJSON_Compare(p->params, c->params, 1)) n++;
            break;
        }
    }
    pthread_mutex_unlock(&ft->mu);
    return n;
}

int64_t fake_tg_push_group_text(fake_tg *ft, const fake_tg_user *u, int64_t group_id,
                                const char *title, const char *text)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = get_chat(ft, group_id);
    if (!c->title) c->title = xstrdup(title ? title : "Group");
    int64_t mid = c->next_msg_id++;
    cJSON *chatj = chat_json(c);
    pthread_mutex_unlock(&ft->mu);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "message_id", (double)mid);
    cJSON_AddItemToObject(m, "from", user_json(u));
    cJSON_AddItemToObject(m, "chat", chatj);
    cJSON_AddNumberToObject(m, "date", (double)time(NULL));
    cJSON_AddStringToObject(m, "text", text);
    cJSON *up = cJSON_CreateObject();
    cJSON_AddItemToObject(up, "message", m);
    return fake_tg_push_update(ft, up);
}

/* ---- forum topics ------------------------------------------------------------- */

void fake_tg_declare_forum(fake_tg *ft, int64_t chat_id, const char *title)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = get_chat(ft, chat_id);
    c->forum = true;
    free(c->title);
    c->title = xstrdup(title ? title : "Forum");
    pthread_mutex_unlock(&ft->mu);
}

void fake_tg_declare_group(fake_tg *ft, int64_t chat_id, const char *title)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = get_chat(ft, chat_id);
    c->forum = false;
    free(c->title);
    c->title = xstrdup(title ? title : "Group");
    pthread_mutex_unlock(&ft->mu);
}

int64_t fake_tg_push_topic_text(fake_tg *ft, const fake_tg_user *u, int64_t group_id,
                                int64_t thread_id, const char *text)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = get_chat(ft, group_id);
    int64_t mid = c->next_msg_id++;
    cJSON *chatj = chat_json(c);
    pthread_mutex_unlock(&ft->mu);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "message_id", (double)mid);
    if (thread_id) {
        cJSON_AddNumberToObject(m, "message_thread_id", (double)thread_id);
        cJSON_AddTrueToObject(m, "is_topic_message");
    }
    cJSON_AddItemToObject(m, "from", user_json(u));
    cJSON_AddItemToObject(m, "chat", chatj);
    cJSON_AddNumberToObject(m, "date", (double)time(NULL));
    add_text(m, text);
    cJSON *up = cJSON_CreateObject();
    cJSON_AddItemToObject(up, "message", m);
    return fake_tg_push_update(ft, up);
}

char *fake_tg_topic(fake_tg *ft, int64_t chat_id, int64_t thread_id, bool *closed)
{
    pthread_mutex_lock(&ft->mu);
    chat *c = find_chat(ft, chat_id);
    topic *t = c ? find_topic(c, thread_id) : NULL;
    char *name = t ? xstrdup(t->name) : NULL;
    if (closed) *closed = t && t->closed;
    pthread_mutex_unlock(&ft->mu);
    return name;
}
