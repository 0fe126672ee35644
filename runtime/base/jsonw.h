/*
 * jsonw.h — writing a JSON text straight into a growing buffer.
 *
 * The Bot API calls the bot makes on every update (sendMessage,
 * editMessageText, answerCallbackQuery) are written as text once, for the
 * outbox row and every attempt: no tree of nodes built, printed and freed.
 *
 *   jw w;
 *   jw_init(&w);
 *   jw_obj(&w);
 *   jw_key(&w, "chat_id"); jw_i64(&w, 42);
 *   jw_key(&w, "text");    jw_str(&w, "hi \"you\"");
 *   jw_end(&w);
 *   char *body = jw_take(&w);   // {"chat_id":42,"text":"hi \"you\""}
 *
 * Commas and nesting are the writer's business; the caller only says what
 * comes. An allocation failure is remembered and jw_take returns NULL.
 * Strings are written as given (UTF-8), with '"', '\\' and control
 * characters escaped.
 */
#ifndef BOTC_JSONW_H
#define BOTC_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_DEPTH 16

typedef struct jw {
    char *p;
    size_t n, cap;
    bool failed;
    bool after_key;      /* the next value follows a key: no comma */
    int depth;
    bool comma[JW_DEPTH]; /* per open object/array: a value was written */
    char close[JW_DEPTH]; /* and the bracket that closes it */
} jw;

void jw_init(jw *w);
/* Frees the buffer (when jw_take was not called). */
void jw_free(jw *w);
/* The text (malloc'd, NUL-terminated; the caller frees it), or NULL when an
 * allocation failed or an object/array is still open. The writer is empty
 * afterwards. */
char *jw_take(jw *w);

void jw_obj(jw *w);  /* { */
void jw_arr(jw *w);  /* [ */
void jw_end(jw *w);  /* closes the innermost open object or array */
void jw_key(jw *w, const char *key);
void jw_str(jw *w, const char *s);
void jw_i64(jw *w, int64_t v);
void jw_bool(jw *w, bool v);
/* A value that is JSON text already (e.g. a cJSON print). */
void jw_raw(jw *w, const char *json);

#endif
