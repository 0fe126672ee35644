/*
 * fake_llm.h — a fake OpenAI-compatible chat-completions server for tests
 * (libmicrohttpd on 127.0.0.1, a thread per connection).
 *
 * POST /v1/chat/completions answers with the scripted reply streamed as
 * SSE in one server's style; every request body is recorded so tests can
 * assert what the client sent (the system prompt's chunks, the model).
 * The script applies to every later request until changed; errors queued
 * with fakellm_error are served first, `times` requests each.
 *
 * POST /v1/embeddings answers deterministic vectors: a hashed bag of
 * words (fake_llm.c), 64 dims unless set, strict about the request's shape
 * (a 400 in OpenAI's error shape otherwise). Queued errors apply to it too.
 *
 * Styles (what each server really sends):
 *   OPENAI    role chunk, content chunks with "usage": null, a finish chunk,
 *             a `choices: []` usage chunk, [DONE]
 *   OLLAMA    no usage field until a usage chunk after the finish; no [DONE]
 *   VLLM      non-ASCII escaped as \uXXXX, usage in a last chunk, [DONE]
 *   LLAMACPP  ": ping" comments between events, usage in the finish chunk,
 *             "\r\n\r\n" framing, [DONE]
 */
#ifndef BOTC_FAKE_LLM_H
#define BOTC_FAKE_LLM_H

#include <stddef.h>

typedef enum fakellm_style {
    FAKELLM_OPENAI = 0,
    FAKELLM_OLLAMA,
    FAKELLM_VLLM,
    FAKELLM_LLAMACPP,
} fakellm_style;

typedef struct fakellm fakellm;

/* port 0 = any free port. NULL with a reason on failure. */
fakellm *fakellm_start(int port, char *err, size_t errlen);
void fakellm_stop(fakellm *f);
int fakellm_port(const fakellm *f);
/* "http://127.0.0.1:<port>/v1" (owned by f) */
const char *fakellm_base(const fakellm *f);

/* The answer text (copied), streamed in chunks of about chunk_chars bytes
 * (at word ends; default 8). */
void fakellm_answer(fakellm *f, const char *text);
/* The answer (copied) to a request for a conversation's summary — its
 * system message starts "Summarize", as a closing session's does
 * (actions/session.c) — served the same way; NULL: such requests get the
 * answer too (the default). */
void fakellm_summary(fakellm *f, const char *text);
void fakellm_chunk(fakellm *f, int chunk_chars);
void fakellm_set_style(fakellm *f, fakellm_style s);
int fakellm_style_by_name(const char *name); /* -1 if unknown */
/* usage 0: the stream carries no usage at all. */
void fakellm_usage(fakellm *f, int on);
/* Milliseconds before the first event and between events (an embeddings
 * answer waits first_ms). */
void fakellm_delay(fakellm *f, int first_ms, int between_ms);
/* After `after` content chunks (> 0), a silence of ms before the next one
 * (0 0 = off): a model that stalls mid-answer. */
void fakellm_stall(fakellm *f, int after, int ms);
/* on: every answer is one `application/json` chat completion (the text in
 * choices[0].message), as servers and proxies that ignore "stream": true
 * send it. */
void fakellm_json(fakellm *f, int on);
/* After `after` content chunks the connection breaks (-1 = off). */
void fakellm_cut(fakellm *f, int after);
/* After `after` content chunks an error event (vLLM's data: {"error":…},
 * or llama.cpp's `error:` line when old_llamacpp) ends the stream
 * (-1 = off). */
void fakellm_stream_error(fakellm *f, int after, int old_llamacpp);
/* The next `times` requests (-1 = all until fakellm_reset) get HTTP status
 * with body (NULL = a typical body for the status, see fake_llm.c) and a
 * Retry-After header when retry_after_s > 0. */
void fakellm_error(fakellm *f, int status, const char *body, int times, int retry_after_s);
/* The 400 body server style s sends when the prompt overflows the model's
 * context (OpenAI's error object, vLLM's flat one, llama.cpp's
 * exceed_context_size_error, Ollama's string). Static. */
const char *fakellm_overflow_body(fakellm_style s);
/* The size of the vectors /v1/embeddings answers (1..4096; default 64). */
void fakellm_embed_dims(fakellm *f, int dims);
/* Embeds `word` (lowercase) as if it were `as`: a synonym the lexical
 * index does not know (at most 16, until fakellm_reset). */
void fakellm_embed_alias(fakellm *f, const char *word, const char *as);
/* The embeddings requests answered with 200 so far, and their inputs. */
int fakellm_embed_requests(fakellm *f, int *inputs);
/* Tool calling. The next chat request that offers `tools` and ends with
 * the user's message is answered with the tool calls scripted so far
 * (each fakellm_tool_call adds one: name, arguments JSON text), streamed
 * as OpenAI streams them (id and name first, the arguments in pieces,
 * finish_reason "tool_calls"); they are then used up. Later requests get
 * the scripted answer (with fakellm_json, the calls come in one
 * completion's message.tool_calls). Every request's tool calling is checked as a
 * strict server does: each tool a function with a name and an object
 * schema, each assistant tool call answered by a "tool" message with its
 * tool_call_id (else 400 in OpenAI's error shape). */
void fakellm_tool_call(fakellm *f, const char *name, const char *arguments);
/* Calls scripted and not yet served. */
int fakellm_pending_calls(fakellm *f);
/* on: a server without tool calling — a request with `tools` gets 400
 * (vLLM's words when started without --enable-auto-tool-choice). */
void fakellm_no_tools(fakellm *f, int on);
/* Back to the defaults; recorded requests are kept. */
void fakellm_reset(fakellm *f);

/* Requests received so far; the body of request i (malloc'd copy, NULL
 * when out of range). */
int fakellm_requests(fakellm *f);
char *fakellm_request(fakellm *f, int i);
/* Milliseconds (CLOCK_MONOTONIC) when request i arrived, -1 if none. */
long fakellm_request_at(fakellm *f, int i);

#endif
