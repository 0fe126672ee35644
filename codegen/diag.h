/*
 * diag.h — diagnostics of one botc run. Every pass reports into the same
 * list; nothing stops at the first error. Rendered as
 *
 *   file:line:col: error: message
 *     <the offending source line>
 *     <caret under col>
 *     hint: <hint>            (when there is one)
 */
#ifndef BOTC_DIAG_H
#define BOTC_DIAG_H

#include <stdio.h>

typedef struct src_pos {
    unsigned line; /* 1-based; 0 = unknown (then col is 0 too) */
    unsigned col;  /* 1-based, in characters (UTF-8 code points) */
} src_pos;

typedef enum diag_level { DIAG_ERROR = 0, DIAG_WARNING } diag_level;

typedef struct diag_list diag_list;

/* `path` names the spec as given on the command line; `source` is its
 * whole text used to quote lines (both are copied: the list owns them). */
diag_list *diag_new(const char *path, const char *source);
void diag_free(diag_list *d);

void diag_report(diag_list *d, diag_level level, src_pos pos,
                 const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define diag_error(d, pos, hint, ...) diag_report(d, DIAG_ERROR, pos, hint, __VA_ARGS__)
#define diag_warning(d, pos, hint, ...) diag_report(d, DIAG_WARNING, pos, hint, __VA_ARGS__)

int diag_errors(const diag_list *d);
int diag_warnings(const diag_list *d);

/* Print all, sorted by position (stable), to `out`, then a summary line
 * ("2 errors, 1 warning") when there is anything to report. */
void diag_print(const diag_list *d, FILE *out);

/* Refine a position inside a scalar: when `needle` occurs on the source
 * line of `at`, at or after its column, return the position of byte
 * `offset` of that occurrence; otherwise `at` unchanged. Used to point at a
 * placeholder inside a text or at the bad character of a regex. */
src_pos diag_locate(const diag_list *d, src_pos at, const char *needle,
                    size_t offset);

#endif
