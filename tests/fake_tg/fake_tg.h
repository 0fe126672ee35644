/*
 * fake_tg.h — a strict fake Telegram Bot API server for tests and benchmarks.
 *
 * An in-process libmicrohttpd server on 127.0.0.1 that answers
 * `/bot<token>/<method>` (GET query strings, POST JSON bodies, POST
 * application/x-www-form-urlencoded, POST multipart/form-data uploads)
 * and checks every request against the
 * Bot API schema (tests/fake_tg/schema.json, derived from the scraped docs by
 * scripts/tg-schema.py) the way the real server does:
 *
 *   wrong token                 401 "Unauthorized"
 *   unknown method              404 "Not Found"
 *   missing / mistyped field    400 "Bad Request: ..."
 *   text outside 1..4096 UTF-16 units (trimmed)   400 "Bad Request: message text is empty" /
 *                                                 "Bad Request: message is too long"
 *   callback_data outside 1..64 bytes             400 "Bad Request: BUTTON_DATA_INVALID"
 *   reply_markup not matching its types, recursively  400
 *   body over opts.max_body                       413
 *   multipart: no boundary, no closing boundary, a part without a name,
 *   an empty file, a file where no InputFile field is (or for no field:
 *   attach:// references are not supported)      400
 *   a JSON value (not an upload) for an InputFile-only use  400
 *   sendVoice's uploaded voice not an Ogg/Opus voice note (OggS pages in
 *   sequence, OpusHead alone first, OpusTags, audio, an end-of-stream
 *   page)                                          400 "Bad Request: voice
 *                                                  is not an OGG/Opus voice note: ..."
 * An upload's file is recorded in the call's params under its field as
 * {"file_name", "size", "content"} (content up to its first NUL byte), and
 * "ogg_opus_seconds" (its duration by the granule positions) or
 * "ogg_opus_error" (what is wrong) as read for sendVoice.
 *
 * Unknown fields are accepted (the real server ignores them) but recorded as
 * warnings on the call, so a test can assert there are none.
 *
 * Webhook: while a webhook is set, getUpdates answers 409 and the queued
 * updates are POSTed to it instead (see the webhook_* options below).
 *
 * Behaviour: getMe, getUpdates (long poll with timeout, offset confirmation,
 * limit, allowed_updates; a newer poll ends an older one with 409 as Telegram
 * does), setWebhook / deleteWebhook / getWebhookInfo, setMyCommands /
 * getMyCommands / deleteMyCommands (per language_code), sendMessage,
 * editMessageText, answerCallbackQuery, sendChatAction. Any other method that
 * passes validation answers {"ok":true,"result":true} (or a minimal Message
 * for methods that return one).
 *
 * Threads: the server runs its own threads (one per connection, so a long
 * poll never blocks other calls). Every function below is thread-safe.
 *
 * Ownership: functions returning cJSON * or struct copies give the caller a
 * deep copy to free with cJSON_Delete / the matching *_free function. Inputs
 * marked "consumed" are owned by the fake afterwards, on success or failure.
 */
#ifndef BOTC_FAKE_TG_H
#define BOTC_FAKE_TG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct fake_tg fake_tg;

#define FAKE_TG_TOKEN "123456789:AAFakeTokenForTestsOnly_0123456789abc"
#define FAKE_TG_SCHEMA "tests/fake_tg/schema.json"

typedef struct fake_tg_opts {
    const char *schema_path; /* NULL: $FAKE_TG_SCHEMA, else FAKE_TG_SCHEMA */
    const char *token;       /* NULL: FAKE_TG_TOKEN; "<bot id>:<secret>" */
    uint16_t port;           /* 0: any free port on 127.0.0.1 */
    const char *bot_username; /* NULL: "fake_test_bot" */
    size_t max_body;         /* 0: 1 MiB; larger bodies get 413 */
    bool allow_unknown_chats; /* false: sending to a chat no update came
                               * from is 400 "Bad Request: chat not found" */
    bool verbose;            /* print every call to stderr as it happens */
    int latency_ms;          /* > 0: every call waits this long before it is
                              * handled, like a server far away (benchmarks) */
    /* Webhook delivery (tests/fake_tg/deliver.h): after setWebhook the fake
     * POSTs queued updates to the URL with the secret header, retrying any
     * non-2xx answer, refusal or timeout. */
    const char *webhook_proxy; /* "http://127.0.0.1:PORT": deliveries go to it
                              * + the URL's path (the TLS-terminating reverse
                              * proxy); NULL: the URL itself, https read as http */
    int webhook_retry_ms;    /* first retry delay, doubling to 10x (0: 100 ms) */
    int webhook_connections; /* cap on parallel deliveries (0: 40) */
} fake_tg_opts;

/* Starts the server. opts may be NULL for defaults. On failure returns NULL
 * and writes the reason into err. */
fake_tg *fake_tg_new(const fake_tg_opts *opts, char *err, size_t errlen);
/* Stops the server (ends pending long polls) and frees everything. */
void fake_tg_free(fake_tg *ft);

uint16_t fake_tg_port(const fake_tg *ft);
const char *fake_tg_token(const fake_tg *ft);   /* owned by ft */
/* "http://127.0.0.1:<port>" into buf (the TELEGRAM_API_BASE to give a bot). */
void fake_tg_base_url(const fake_tg *ft, char *buf, size_t len);

/* ---- Updates the "users" send ------------------------------------------ */

typedef struct fake_tg_user {
    int64_t id;                /* also the private chat id */
    const char *first_name;    /* NULL: "User" */
    const char *last_name;     /* may be NULL */
    const char *username;      /* may be NULL */
    const char *language_code; /* may be NULL */
} fake_tg_user;

/* Queue an update for getUpdates. `update` is consumed. update_id is assigned
 * when absent. The chat of a message / callback query becomes known (see
 * allow_unknown_chats). The update is checked against the schema's Update
 * type; problems are printed to stderr, the update is queued anyway.
 * Returns the update_id, or -1 if update is not an object. */
int64_t fake_tg_push_update(fake_tg *ft, cJSON *update);

/* A private text message from u (a leading /command gets its bot_command
 * entity). Returns the update_id. */
int64_t fake_tg_push_text(fake_tg *ft, const fake_tg_user *u, const char *text);

/* A shared contact; own = the user's own contact (contact.user_id = u->id),
 * as the request_contact button sends it. */
int64_t fake_tg_push_contact(fake_tg *ft, const fake_tg_user *u,
                             const char *phone, bool own);

/* A press of the inline button carrying `data` on bot message `message_id`
 * in u's chat. The message must be one the bot sent (else -1). The callback
 * query id the fake issued goes into query_id (may be NULL). */
int64_t fake_tg_push_callback(fake_tg *ft, const fake_tg_user *u,
                              int64_t message_id, const char *data,
                              char *query_id, size_t query_id_len);

/* The same, as a broken server would serve it: getUpdates renders its
 * update_id as a string ("123"), though the fake keeps it as a number for
 * the offset (a confirmation past it drops it). Returns the update_id. */
int64_t fake_tg_push_update_bad_id(fake_tg *ft, cJSON *update);

/* The same press by u on bot message `message_id` in chat chat_id (e.g. a
 * group u is in): the query's message is in that chat. */
int64_t fake_tg_push_callback_in(fake_tg *ft, const fake_tg_user *u, int64_t chat_id,
                                 int64_t message_id, const char *data, char *query_id,
                                 size_t query_id_len);

/* Updates queued and not yet confirmed by a getUpdates offset. */
size_t fake_tg_pending_updates(fake_tg *ft);

/* A file the bot may download: getFile answers its file_path, and GET
 * /file/bot<token>/<file_path> serves data (copied). */
void fake_tg_add_file(fake_tg *ft, const char *file_id, const void *data, size_t len);
/* The same under Telegram's folder for its kind and an extension, as the
 * real file_path says: "music" + "mp3" (an audio), "video_notes" + "mp4",
 * "documents" + "m4a"; fake_tg_add_file is "voice" + "oga". */
void fake_tg_add_file_as(fake_tg *ft, const char *file_id, const char *dir, const char *ext,
                         const void *data, size_t len);

/* ---- Recorded calls ------------------------------------------------------ */

typedef struct fake_tg_call {
    uint64_t seq;       /* 0, 1, 2, ... in arrival order */
    char method[64];    /* as the schema spells it (or as requested if unknown) */
    cJSON *params;      /* parsed, with form values converted to their types */
    int status;         /* HTTP status answered */
    char *response;     /* the JSON body answered */
    char *description;  /* "description" of an error answer, else NULL */
    char **warnings;    /* unknown fields etc. (e.g. "sendMessage: unknown field \"foo\"") */
    int n_warnings;
    double at;          /* when it arrived: seconds on the monotonic clock */
    bool faulted;       /* answered by an injected fault (fake_tg_add_fault) */
} fake_tg_call;

void fake_tg_call_clear(fake_tg_call *c);

/* Number of calls recorded so far (the seq the next call gets). */
uint64_t fake_tg_ncalls(fake_tg *ft);

/* Copies of calls with seq >= since (up to the current end). *n gets the
 * count. Free with fake_tg_calls_free. NULL with *n = 0 when none. */
fake_tg_call *fake_tg_calls_since(fake_tg *ft, uint64_t since, size_t *n);
void fake_tg_calls_free(fake_tg_call *calls, size_t n);

typedef bool (*fake_tg_pred)(const fake_tg_call *call, void *ud);

/* Waits up to timeout_ms for a call with seq >= since for which pred (NULL =
 * any call) returns true; the first one found is copied into *out (may be
 * NULL). Returns true if found. pred runs under the fake's lock: keep it
 * short and do not call back into the fake. */
bool fake_tg_wait_call(fake_tg *ft, uint64_t since, fake_tg_pred pred, void *ud,
                       int timeout_ms, fake_tg_call *out);

/* ---- What the bot did, per chat ------------------------------------------ */

typedef enum fake_tg_event_kind {
    FAKE_TG_SENT = 0,   /* sendMessage (or another send*) accepted */
    FAKE_TG_EDITED,     /* editMessageText accepted */
    FAKE_TG_ANSWERED,   /* answerCallbackQuery for a query from this chat */
    FAKE_TG_ACTION,     /* sendChatAction accepted */
    FAKE_TG_EVENT_KINDS
} fake_tg_event_kind;

typedef struct fake_tg_event {
    fake_tg_event_kind kind;
    uint64_t seq;        /* the call that made it */
    int64_t chat_id;
    int64_t message_id;  /* SENT/EDITED: the message; ANSWERED: the message
                          * whose button was pressed */
    char *text;          /* SENT/EDITED: message text; ANSWERED: answer text
                          * or NULL; ACTION: the action */
    char *query_id;      /* ANSWERED */
    cJSON *reply_markup; /* SENT/EDITED: as sent, or NULL */
    cJSON *entities;     /* SENT/EDITED: the MessageEntity array as sent
                          * (checked: types, UTF-16 bounds), or NULL */
    int64_t thread_id;   /* SENT: message_thread_id (a forum topic), 0 = none */
} fake_tg_event;

void fake_tg_event_clear(fake_tg_event *e);

/* Number of events of `kind` recorded for chat_id. */
size_t fake_tg_count_events(fake_tg *ft, int64_t chat_id, fake_tg_event_kind kind);

/* All the counts of chat_id at once (one lock; benchmarks poll this):
 * out[kind] = fake_tg_count_events(ft, chat_id, kind). */
void fake_tg_event_counts(fake_tg *ft, int64_t chat_id, size_t out[FAKE_TG_EVENT_KINDS]);

/* Waits up to timeout_ms until chat_id has more than `index` events of
 * `kind` and copies event number `index` (0-based, in order) into *out.
 * Returns false on timeout. */
bool fake_tg_wait_event(fake_tg *ft, int64_t chat_id, fake_tg_event_kind kind,
                        size_t index, int timeout_ms, fake_tg_event *out);

/* The reply keyboard currently shown in chat_id: the ReplyKeyboardMarkup of
 * the latest message that carried one, NULL if none or a later message
 * removed it. Copy; caller frees. */
cJSON *fake_tg_reply_keyboard(fake_tg *ft, int64_t chat_id);

/* The latest bot message in chat_id whose current markup is an inline
 * keyboard: its message_id into *message_id and a copy of the markup. NULL if
 * none. */
cJSON *fake_tg_last_inline(fake_tg *ft, int64_t chat_id, int64_t *message_id);

/* The text of bot message (chat_id, message_id) as it stands now (after
 * edits). Copy (free()), NULL if no such message. */
char *fake_tg_message_text(fake_tg *ft, int64_t chat_id, int64_t message_id);

/* Whether the bot answered callback query `query_id`. */
bool fake_tg_callback_answered(fake_tg *ft, const char *query_id);

/* The commands last set with setMyCommands for language_code `lang` (NULL or
 * "" = no language_code): a copy of the BotCommand array, NULL if never set. */
cJSON *fake_tg_commands(fake_tg *ft, const char *lang);

/* ---- Fault injection (for retry and rate-limit tests) -------------------- */

/* The next `count` calls of `method` (NULL = any method) that pass
 * validation fail with `status` and `description`; retry_after > 0 adds
 * "parameters":{"retry_after":N} (use with 429). Replaces any earlier rule. */
void fake_tg_fail_next(fake_tg *ft, const char *method, int status,
                       const char *description, int retry_after, int count);

/* Faults of every kind, matched by method and chat. Rules are tried in
 * the order added; the first that matches a call (after validation: an
 * invalid call gets its 400 as always) applies and counts down. A call a
 * fault answered is recorded with faulted = true (status 0 for DROP). */
typedef enum fake_tg_fault_kind {
    FAKE_TG_FAULT_ERROR = 0, /* a Bot API error reply: status, description,
                              * retry_after (429), migrate_to (400) */
    FAKE_TG_FAULT_HTML,      /* status (500, 502, ...) with an HTML page */
    FAKE_TG_FAULT_DROP,      /* the connection breaks a few bytes into the answer */
    FAKE_TG_FAULT_TRUNCATE,  /* 200 with the JSON answer cut in half */
    FAKE_TG_FAULT_MISTYPED,  /* 200 with {"ok":"true",...}: ok not a boolean */
    FAKE_TG_FAULT_SLOW,      /* the normal answer, after delay_ms */
    FAKE_TG_FAULT_TRICKLE,   /* the normal answer, one byte every delay_ms */
} fake_tg_fault_kind;

typedef struct fake_tg_fault {
    fake_tg_fault_kind kind;
    const char *method;      /* NULL = any method (copied) */
    int64_t chat_id;         /* 0 = any call; else calls with this chat_id */
    int status;              /* ERROR, HTML */
    const char *description; /* ERROR (copied; NULL: a standard one) */
    int retry_after;         /* ERROR: parameters.retry_after */
    int64_t migrate_to;      /* ERROR: parameters.migrate_to_chat_id */
    int delay_ms;            /* SLOW, TRICKLE */
    int count;               /* calls it answers; < 0: until cleared */
    bool performed;          /* DROP, TRUNCATE, MISTYPED, SLOW, TRICKLE: the
                              * call takes effect (Telegram did it; only the
                              * answer is lost or mangled) */
} fake_tg_fault;

void fake_tg_add_fault(fake_tg *ft, const fake_tg_fault *f);
void fake_tg_clear_faults(fake_tg *ft);
/* Faults still armed (count > 0 or unlimited). */
size_t fake_tg_faults_left(fake_tg *ft);

/* Client connections open to the fake right now, less the long polls
 * waiting in getUpdates. After killing a bot, 0 means every request it had
 * written was read and recorded (or refused): a test that attributes calls
 * to one run of the bot waits for it (a dead bot's parked long poll ends
 * on its own and records no message). */
size_t fake_tg_busy_connections(fake_tg *ft);

/* ---- Measurements ---------------------------------------------------------- */

/* Calls that arrived for a chat while a 429 the fake gave that chat (or a
 * bot-wide call, for chat 0) still had retry_after running: each one is a
 * retry sent too early. */
size_t fake_tg_early_retries(fake_tg *ft);

typedef enum fake_tg_scope {
    FAKE_TG_ALL = 0,   /* every chat together */
    FAKE_TG_PER_CHAT,  /* each chat on its own (the worst one reported) */
    FAKE_TG_PER_GROUP, /* each group (chat_id < 0) on its own */
} fake_tg_scope;

/* The most message calls (send*, editMessage*, copy*, forward*; not
 * sendChatAction) accepted within any window of window_s seconds, in
 * `scope`; *chat gets the chat where it happened (0 for ALL; may be NULL). */
size_t fake_tg_max_in_window(fake_tg *ft, fake_tg_scope scope, double window_s, int64_t *chat);

/* Accepted message calls that repeat the chat's previous accepted message
 * call exactly (method and params): resends of a call that had in fact
 * arrived. */
size_t fake_tg_identical_resends(fake_tg *ft);

/* A text message from u in group `group_id` (< 0). */
int64_t fake_tg_push_group_text(fake_tg *ft, const fake_tg_user *u, int64_t group_id,
                                const char *title, const char *text);

/* ---- Forum topics (operator handoff) -------------------------------------
 * A chat declared a forum supergroup (fake_tg_declare_forum) accepts
 * createForumTopic (the answer: a ForumTopic with a new message_thread_id,
 * 100, 101, ...), closeForumTopic of one of its open topics, and sends with
 * message_thread_id of an open topic; elsewhere they are 400 ("the chat is
 * not a forum", "message thread not found", "TOPIC_CLOSED"). copyMessage /
 * forwardMessage need a message the fake knows in from_chat_id (one the bot
 * sent, or one pushed as an update); the copy is recorded as a SENT event
 * in the target chat with the original's text (or caption; else
 * "[copy of message M]"), and copyMessage answers a MessageId. */

/* Declares chat_id (< 0) a forum supergroup titled `title` (NULL: "Forum"). */
void fake_tg_declare_forum(fake_tg *ft, int64_t chat_id, const char *title);

/* Declares chat_id (< 0) a group that is not a forum, titled `title` (NULL:
 * "Group"): the bot may send to it; topics there are 400 "the chat is not a
 * forum" (a managers' group without topics). */
void fake_tg_declare_group(fake_tg *ft, int64_t chat_id, const char *title);

/* A text message from u in topic thread_id of forum group_id (thread 0: the
 * General topic, no message_thread_id). Returns the update_id. */
int64_t fake_tg_push_topic_text(fake_tg *ft, const fake_tg_user *u, int64_t group_id,
                                int64_t thread_id, const char *text);

/* The name of topic thread_id in chat_id (copy to free()), NULL if none;
 * *closed (may be NULL) says whether it was closed. */
char *fake_tg_topic(fake_tg *ft, int64_t chat_id, int64_t thread_id, bool *closed);

#endif
