/*
 * sse.h — an incremental parser for the Server-Sent-Events streams of
 * OpenAI-compatible chat completions (`stream: true`).
 *
 * Feed it the response body in whatever pieces the transport delivers (a
 * curl write callback gets arbitrary cuts: inside a line, inside a UTF-8
 * character, between "\r" and "\n"); it calls back once per meaningful
 * event, in stream order:
 *
 *   SSE_DELTA   a piece of the answer's content (choices[0].delta.content)
 *   SSE_FINISH  choices[0].finish_reason ("stop", "length", ...)
 *   SSE_USAGE   token counts (the `usage` object; `usage: null` is skipped)
 *   SSE_ERROR   the server reported an error inside the 200 stream
 *   SSE_DONE    `data: [DONE]`
 *   SSE_TOOL_CALL  a piece of a tool call (choices[0].delta.tool_calls[i]):
 *               index, and id and name when this piece carries them; text
 *               is a piece of its arguments (JSON text, joined by the caller)
 *
 * What real servers send, and how it is read:
 *   - events end with a blank line; lines end with "\n", "\r\n" or "\r"
 *     (the SSE rule), so "\n\n" and "\r\n\r\n" framing both work;
 *   - `: ping` comment lines (llama.cpp keep-alives) are ignored;
 *   - `[DONE]` may be missing (Ollama, some llama.cpp builds): the caller
 *     decides completeness from SSE_FINISH, not from SSE_DONE;
 *   - OpenAI with include_usage sends a last chunk with `choices: []` and
 *     the usage, and `usage: null` in every other chunk;
 *   - Ollama sends the usage in the chunk after the finish chunk (or in it);
 *   - vLLM and newer llama.cpp put errors in the stream as
 *     `data: {"error": {...}}` (or `{"error": "..."}`), older llama.cpp as
 *     an `error: {...}` line, some proxies as `event: error` + `data:`.
 *
 * Content deltas are always whole UTF-8 characters: an incomplete sequence
 * at the end of a delta (a byte-fallback token of a local model) is held
 * back and joined to the next delta; invalid bytes become U+FFFD. A
 * malformed JSON event is skipped and counted (sse_skipped), not fatal.
 *
 * Memory: one event is buffered at a time, capped at `max_event` bytes; a
 * longer event ends the parse with SSE_ERROR ("event too large").
 */
#ifndef BOTC_SSE_H
#define BOTC_SSE_H

#include <stddef.h>

#define SSE_MAX_EVENT_DEFAULT (256 * 1024)

typedef enum sse_kind {
    SSE_DELTA = 0,
    SSE_FINISH,
    SSE_USAGE,
    SSE_ERROR,
    SSE_DONE,
    SSE_TOOL_CALL,
} sse_kind;

typedef struct sse_event {
    sse_kind kind;
    /* DELTA: content; FINISH: the reason; ERROR: the message. Valid only
     * during the callback; NUL-terminated; len bytes. */
    const char *text;
    size_t len;
    const char *code;  /* ERROR: error code or type when given, else NULL */
    long prompt_tokens, completion_tokens, total_tokens; /* USAGE; -1 unknown */
    int index;             /* TOOL_CALL: which call */
    const char *id, *name; /* TOOL_CALL: when this piece carries them, else NULL */
} sse_event;

/* Return 0 to go on, non-zero to stop parsing (sse_feed then returns -1). */
typedef int (*sse_fn)(void *ud, const sse_event *ev);

typedef struct sse_parser sse_parser;

/* max_event 0 = SSE_MAX_EVENT_DEFAULT. NULL on out-of-memory. */
sse_parser *sse_new(sse_fn fn, void *ud, size_t max_event);
void sse_free(sse_parser *p);

/* Feed n bytes. Returns 0, or -1 once the callback asked to stop, an event
 * exceeded the cap, or memory ran out; after -1 every call returns -1. */
int sse_feed(sse_parser *p, const char *buf, size_t n);

/* The body ended. An event whose last line was complete but whose blank
 * line never came is dispatched (servers that close right after the last
 * `data:` line); a partial last line is dropped (a cut stream). Returns as
 * sse_feed. */
int sse_end(sse_parser *p);

/* Events skipped because their data was not JSON. */
int sse_skipped(const sse_parser *p);

/* Parse one chat-completion chunk (the JSON of a `data:` line) into events
 * as the stream parser does; exposed for non-streamed bodies, which have the
 * same shape with `message` instead of `delta`. Returns 0, 1 when `json` is
 * not a JSON object, -1 when the callback stopped. */
int sse_parse_chunk(const char *json, size_t len, sse_fn fn, void *ud);

#endif
