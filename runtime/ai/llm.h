/*
 * llm.h — client of an OpenAI-compatible chat-completions server (OpenAI,
 * vLLM, Ollama, llama.cpp), streamed, as transfers on the event loop
 * (net/http.h's http_stream): nothing blocks.
 *
 *   POST {OPENAI_API_BASE}/chat/completions
 *   {"model": ..., "messages": [...], "stream": true,
 *    "stream_options": {"include_usage": true}}
 *   Authorization: Bearer {OPENAI_API_KEY}     (when set; a log secret)
 *
 * The /v1 rule: OPENAI_API_BASE is the base the OpenAI SDKs take, so it
 * ends in the API version ("https://api.openai.com/v1",
 * "http://localhost:11434/v1", "http://vllm:8000/v1"); only
 * "/chat/completions" is appended (a trailing '/' is dropped). A base
 * without "/v1" is used as given (some proxies mount the API at the root)
 * and logged once as a warning.
 *
 * Bytes go to sse.c; deltas reach the caller as they come (on_delta), the
 * whole answer once at the end (on_done). A server that ignores "stream"
 * and answers with one application/json completion (some proxies and
 * servers do) is read too: its text arrives as one delta at the end. Failures, and what is retried —
 * only before the first token arrived, at most max_retries times, with
 * exponential backoff (Retry-After when the server gives one):
 *   503 (e.g. "Loading model"), 502/504/500, connect/network errors  retried
 *   429                     retried after Retry-After (capped at 30 s)
 *   400 context overflow    the history is trimmed (system prompt and the
 *                           last message kept) and the request sent once more
 *   400/422 to a request with tools  sent again once without them
 *   other 4xx               LLM_ERR_HTTP, not retried
 *   error inside a 200 stream (vLLM, llama.cpp)   LLM_ERR_SERVER
 *   the stream ends without a finish / [DONE]      LLM_ERR_CUT (text kept)
 * Error bodies are read in each server's shape: {"error":{"message":…}},
 * {"error":"…"}, flat {"object":"error","message":…}, {"detail":…}.
 *
 * Timeouts (ms; env LLM_CONNECT_TIMEOUT_MS, LLM_FIRST_TOKEN_TIMEOUT_MS,
 * LLM_IDLE_TIMEOUT_MS, LLM_TOTAL_TIMEOUT_MS): connect 5000; first token
 * 30000 (from the attempt's start: a cold local model is slow); idle 20000
 * between tokens; total 120000 for the whole call, retries included.
 * Deadlines curl does not know are checked on every loop_poll, so they fire
 * within the loop's tick (<= 500 ms in tgbot).
 *
 * Circuit breaker (a dead model costs every question its retries and
 * the chat a 30 s wait): a call that fails without a first token — network,
 * timeout, 5xx or 429 after its retries, an error event or an empty
 * stream — counts; breaker_failures of them within breaker_window_ms (a
 * success starts the count again) open the circuit. While it is open
 * llm_chat starts nothing and returns NULL (llm_circuit_open says why: the
 * caller answers at once), and the client probes the model in the
 * background every breaker_probe_ms: one small request ("ping",
 * max_tokens 1, no retries); its first success closes the circuit. Opening
 * and closing are logged once each (WARN, INFO); probes only at DEBUG.
 * Env LLM_BREAKER_FAILURES (3; 0 = no breaker), LLM_BREAKER_WINDOW_MS
 * (60000), LLM_BREAKER_PROBE_MS (10000).
 *
 * Caps: the answer text at max_answer bytes (then it ends as if finished
 * with "length"), an error body at 8 KiB, one SSE event at 256 KiB.
 */
#ifndef BOTC_LLM_H
#define BOTC_LLM_H

#include <stddef.h>

#include "net/loop.h"

typedef struct llm_options {
    const char *base;     /* OPENAI_API_BASE; NULL/"" = no model */
    const char *key;      /* OPENAI_API_KEY, may be NULL */
    const char *model;    /* OPENAI_MODEL_NAME, default "gpt-4o-mini" */
    long connect_ms, first_token_ms, idle_ms, total_ms; /* 0 = defaults above */
    int max_retries;      /* 3; -1 = none */
    long retry_base_ms;   /* 500, doubled per retry */
    size_t max_answer;    /* 65536 bytes */
    int breaker_failures; /* 3; -1 = no circuit breaker */
    long breaker_window_ms, breaker_probe_ms; /* 60000, 10000 */
} llm_options;

/* The options from the environment (strings borrowed from it). */
llm_options llm_options_from_env(void);

typedef struct llm_client llm_client;

/* lp is borrowed and must outlive the client. Strings are copied; the key
 * is registered with log_add_secret. NULL with a reason when o->base is
 * empty or not http(s). */
llm_client *llm_new(loop *lp, const llm_options *o, char *err, size_t errlen);
/* Calls still running are abandoned: their callbacks never run. */
void llm_free(llm_client *c);
const char *llm_model(const llm_client *c); /* the default model, borrowed */

typedef struct llm_msg {
    const char *role;     /* "system", "user", "assistant" */
    const char *content;
} llm_msg;

typedef enum llm_status {
    LLM_OK = 0,
    LLM_ERR_HTTP,       /* a 4xx/5xx answer (after retries) */
    LLM_ERR_OVERFLOW,   /* the context was too long even trimmed */
    LLM_ERR_SERVER,     /* an error event inside the stream */
    LLM_ERR_TIMEOUT,    /* first token, idle or total deadline */
    LLM_ERR_NETWORK,    /* connect / transfer failure */
    LLM_ERR_CUT,        /* the stream ended without its end */
    LLM_ERR_EMPTY,      /* a complete stream with no content */
    LLM_ERR_NOMEM,
    LLM_ERR_CANCELLED,  /* the loop shut down */
} llm_status;

const char *llm_status_str(llm_status s); /* static */

/* Everything borrowed for the callback. */
typedef struct llm_result {
    llm_status status;
    const char *text;      /* the answer so far (whole when LLM_OK), NUL-terminated */
    size_t len;
    const char *finish;    /* finish_reason, "" if none */
    const char *error;     /* why, when not LLM_OK; else "" */
    long http_status;
    long prompt_tokens, completion_tokens; /* -1 when the server sent no usage */
    int attempts;          /* requests made */
    int first_token_ms;    /* from llm_chat to the first delta, -1 if none */
    const char *tool_calls; /* LLM_OK: the answer's tool calls, OpenAI's shape
                             * ([{id, type, function: {name, arguments}}], JSON
                             * text), NULL when none; text may then be "" */
} llm_result;

/* on_delta: the text grew; text is the whole answer so far (whole UTF-8
 * characters), borrowed. on_done runs exactly once (unless llm_cancel). */
typedef void (*llm_delta_fn)(void *ud, const char *text, size_t len);
typedef void (*llm_done_fn)(void *ud, const llm_result *r);

typedef struct llm_call llm_call;

/* Starts a chat completion of msgs (copied). model NULL = the client's.
 * Returns the call (owned by the client until on_done has run), NULL on
 * out-of-memory or when the transfer cannot start (callbacks never run). */
llm_call *llm_chat(llm_client *c, const char *model, const llm_msg *msgs, int n,
                   llm_delta_fn on_delta, llm_done_fn on_done, void *ud);
/* Whether the circuit is open (above): llm_chat refuses until a probe
 * succeeds. */
int llm_circuit_open(const llm_client *c);
/* The reason a caller gives for a question not asked while it is open. */
#define LLM_CIRCUIT_REASON "the model is not answering (circuit open, probing)"
/* The same with tool calling: messages is a JSON array of OpenAI chat
 * messages of any shape (an assistant's tool_calls, role "tool" answers),
 * tools the request's `tools` (OpenAI's function tools) or NULL; both
 * copied. tool_choice ("none", "auto"; NULL = not sent) goes with tools.
 * A server that answers 400 (or 422) to a request with tools is asked
 * again without them; when that answer comes, the client never sends it
 * tools again (a server without tool calling gets plain questions). The answer's tool
 * calls are in llm_result.tool_calls. */
struct cJSON;
llm_call *llm_chat_tools(llm_client *c, const char *model, const struct cJSON *messages,
                         const struct cJSON *tools, const char *tool_choice,
                         llm_delta_fn on_delta, llm_done_fn on_done, void *ud);
/* 1 once the server refused tools and then answered without them. */
int llm_tools_refused(const llm_client *c);

/* Stops a call: no callback runs after this. */
void llm_cancel(llm_call *call);

/* A clock for the caller: fn(ud) (ud is the call's) runs on every loop_poll
 * while the call is in flight — waiting for its first token, between
 * retries, streaming — so that the caller keeps time without a transfer of
 * its own (delivery/draft.c renews "typing" while the model is silent). It
 * may queue work but must not cancel the call. NULL turns it off. */
typedef void (*llm_tick_fn)(void *ud);
void llm_set_tick(llm_call *call, llm_tick_fn fn);

/* Reads an error body in any of the shapes above into msg (and the code or
 * type into code, "" if none). Returns 0 when it was JSON of a known
 * shape, 1 when msg is the body's start as text. */
int llm_parse_error(const char *body, size_t len, char *msg, size_t msglen, char *code,
                    size_t codelen);

/* Whether an HTTP 400 error message says the prompt is too long. */
int llm_is_overflow(const char *msg, const char *code);

#endif
