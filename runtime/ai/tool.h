/*
 * tool.h — the spec's tools (spec/REFERENCE.md, "Tools"): a model's
 * arguments checked against the tool's JSON schema, the tool's HTTP request
 * made from its template, and the answer cut to what the model is given.
 *
 * A template holds placeholders `{name}`: a name of the schema's
 * properties takes the model's argument; a dotted name (`{user.id}`,
 * `{user.lang}`) takes a value the runtime fills (vars) — never the
 * model's arguments, which cannot name a dotted property. One pass: a
 * value put in is never scanned again. Any other `{` is literal (JSON
 * bodies).
 *
 * Functions return 0 / a malloc'd string, or -1 / NULL with the reason in
 * err (a sentence the model may be told).
 */
#ifndef BOTC_TOOL_H
#define BOTC_TOOL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "net/loop.h"

#define TOOL_RESULT_MAX 4096 /* bytes of an answer the model is given */

/* How a value is written into the template. */
typedef enum tool_enc {
    TOOL_ENC_URL = 0, /* percent-encoded: all but letters, digits, - _ ~ (a
                       * '.' too, so ".." cannot climb the path) */
    TOOL_ENC_JSON,    /* escaped for the inside of a JSON string */
    TOOL_ENC_HEADER,  /* as is; a control character (CR, LF) is refused */
} tool_enc;

/* The arguments (a JSON object) against schema (an object schema whose
 * properties are string/integer/number/boolean, with optional enum and
 * required): every required one present, every present one of its type
 * (and among its enum). Arguments the schema does not name are ignored:
 * no template can use them. */
int tool_args_check(const cJSON *schema, const cJSON *args, char *err, size_t errlen);

/* The template with its placeholders filled: dotted names from vars (an
 * object of strings, borrowed; may be NULL), others from args (a missing
 * optional one is empty). An unknown name is an error. */
char *tool_expand(const char *tmpl, const cJSON *args, const cJSON *vars, tool_enc enc,
                  char *err, size_t errlen);

/* What the model is given of an answer body: with path ("current",
 * "data.0.price"), that part of the JSON answer printed (the body itself
 * when it is not JSON or the path is absent); at most cap bytes, cut at a
 * character boundary. Never NULL unless out of memory. */
char *tool_result(const char *body, size_t len, const char *path, size_t cap);

/* ---- running a model's tool calls ----------------------------------------- */

/* The tools offered for one answer (deferred.h's u.llm.tools): "list" of
 * {name, description, parameters, method, url, headers, body, result},
 * "vars" the runtime's values, "max_calls". The model's `tools` (OpenAI's
 * function tools: name, description, parameters) made from it, a new
 * array; NULL on out-of-memory. */
cJSON *tool_openai_list(const cJSON *env);

typedef struct tool_batch tool_batch;
/* All calls of the batch finished; their "tool" messages were appended
 * to msgs and their records to log. */
typedef void (*tool_batch_fn)(void *ud);

typedef struct tool_limits {
    long timeout_ms;  /* a tool's whole request; 0 = 10000 */
    size_t max_body;  /* a tool's answer; 0 = 64 KiB (more: the call failed) */
} tool_limits;

/* Runs calls (the model's tool_calls, OpenAI's shape) against env's tools
 * on lp: the first max of them (the rest are answered "not run"), each
 * checked (tool_args_check), its request made from the templates with
 * env's vars and sent (net/http.h's http_fetch). msgs and log are
 * borrowed and must outlive the batch: each call's answer (or why it
 * failed, for the model to tell the user) becomes a {"role": "tool"}
 * message in msgs, in the calls' order, and a record in log. Returns 1
 * when requests are in flight (done runs once, later, unless abandoned),
 * 0 when every call was answered at once (done never runs), -1 on
 * out-of-memory. */
int tool_batch_start(loop *lp, const cJSON *env, const cJSON *calls, int max,
                     const tool_limits *lim, cJSON *msgs, cJSON *log, tool_batch_fn done,
                     void *ud, tool_batch **out);
/* done will not run; msgs and log are no longer touched. */
void tool_batch_abandon(tool_batch *b);

#endif
