/*
 * deferred.h — deferred I/O: what an action asks the event loop for before
 * its input can finish, and the answer it then gets.
 *
 * An action that needs a remote answer (an HTTP GET, a Bot API call whose
 * result it needs, a model's streamed answer) fills a bot_io_req; the step
 * is rolled back and the input waits. The transport's executor
 * (delivery/deferred.c) runs the request in the event loop and the same
 * input runs again with the bot_io_res: the step is a pure function of the
 * session and the input, so the second run reaches the same action, which
 * now finishes with the answer. One request per input at a time.
 */
#ifndef BOTC_DEFERRED_H
#define BOTC_DEFERRED_H

#include <stddef.h>
#include <stdint.h>

#include "dialogue/machine.h"

typedef enum bot_io_kind {
    BOT_IO_NONE = 0,
    BOT_IO_HTTP_GET, /* u.get: GET a URL (http_get) */
    BOT_IO_TG_CALL,  /* u.tg: a Bot API call whose answer the action reads
                      * (handoff's createForumTopic); the answer's body is the
                      * Bot API's JSON reply */
    BOT_IO_LLM,      /* u.llm: a model's answer, streamed into the chat
                      * meanwhile (sendMessageDraft in a private chat,
                      * "typing" in a group) unless quiet */
    BOT_IO_EMBED,    /* u.embed: the embedding of a text (the question's,
                      * for hybrid retrieval); the answer's body is its
                      * vector, float32 in host order */
    BOT_IO_VOICE,    /* u.voice: a voice note's transcript (getFile, the
                      * download, then a remote engine or the offline one
                      * on a worker thread); the answer's body is the
                      * transcript; when not ok, status is a bm_voice_fail */
} bot_io_kind;

/* A request. Strings marked malloc'd are owned: free with bot_io_req_free,
 * which leaves the request BOT_IO_NONE. */
typedef struct bot_io_req {
    bot_io_kind kind;
    int owner; /* which of the step's effects asked (set by dialogue/bot.c),
                * so that the answer reaches the same action again */
    union {
        struct {
            char *url; /* malloc'd */
        } get;
        struct {
            const char *method; /* static name */
            char *params;       /* malloc'd JSON object text */
        } tg;
        struct {
            char *text; /* malloc'd */
        } embed;
        struct {
            char *file_id;   /* malloc'd; never logged */
            char *mime;      /* malloc'd, NULL = a voice note (OGG/Opus) */
            char *file_name; /* malloc'd: an audio file's own name, NULL none */
            char *lang;      /* malloc'd: the user's language ("en", "ru"), NULL unknown */
            int64_t duration, file_size; /* as Telegram said, 0 unknown */
            int max_seconds;             /* the spec's voice: max_seconds */
            const bm_voice_grammar *grammar; /* the state's or the field's
                                              * (static tables), NULL none */
        } voice;
        struct {
            char *messages; /* malloc'd JSON array of {role, content} */
            char *model;    /* malloc'd; NULL = OPENAI_MODEL_NAME */
            int64_t chat_id;
            int private_chat;
            int quiet;      /* 1: nothing shown meanwhile (no drafts, no
                             * "typing"): a session's summary */
            char *tools;    /* malloc'd JSON object, NULL = no tools: the
                             * spec's tools offered to the model (ai/tool.h)
                             * {"list": [{name, description, parameters,
                             * method, url, headers, body, result}...],
                             * "vars": {"user.id": ..., "user.lang": ...},
                             * "max_calls": N}; the executor runs the
                             * model's calls and asks it again */
        } llm;
    } u;
} bot_io_req;

void bot_io_req_free(bot_io_req *r);

/* The outcome of a request. Everything borrowed. */
typedef struct bot_io_res {
    int owner;           /* the request's owner */
    bot_io_kind kind;    /* the request's kind (an action may ask twice:
                          * the question's embedding, then the model) */
    int ok;              /* 1 when a 2xx answer arrived */
    long status;         /* HTTP status, 0 if none */
    const char *body;    /* response bytes (NUL-terminated by the executor), may be NULL */
    size_t len;
    const char *error;   /* why not ok, else NULL */
    /* a model answer: body is its whole text (ok = 1 only when complete);
     * tokens used, -1 when the server reported none (0 = not a model answer) */
    long prompt_tokens, completion_tokens;
    int maybe_taken;     /* a failed Bot API call that may have taken effect
                          * (its answer was lost: tg_result.maybe_taken) */
    const char *tool_log; /* a model answer: the tool calls made for it, a JSON
                           * array of {name, arguments, ok, status, result},
                           * NULL when none */
} bot_io_res;

#endif
