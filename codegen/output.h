/*
 * output.h — the files `botc gen` writes for one bot, and writing them.
 *
 * out_render() renders every file in memory first (nothing touches the disk
 * if rendering fails); out_write() then replaces each file atomically (a
 * temporary file in the same directory, then rename) and only when its
 * content changed, so make sees an unchanged file as up to date.
 */
#ifndef BOTC_OUTPUT_H
#define BOTC_OUTPUT_H

#include <stddef.h>

#include "arena.h"
#include "lower.h"

enum { OUT_H = 0, OUT_C, OUT_RE, OUT_MAIN, OUT_N_FILES };

typedef struct out_file {
    const char *name;  /* file name inside the output directory: "<bot>.h" */
    const char *text;  /* whole content (arena) */
} out_file;

/* Render <bot>.h, <bot>.c, <bot>.re and <bot>_main.c (arena memory). With
 * `line_dir` (the directory they will be written to), <bot>.c carries #line
 * directives into the spec (emit_c.h); NULL leaves them out. */
void out_render(arena *a, const low_machine *m, const char *line_dir,
                out_file files[OUT_N_FILES]);

/* Write `text` to dir/name unless it already holds exactly that. Returns 1
 * when written, 0 when unchanged, -1 on error (reason in err). */
int out_write_file(const char *dir, const char *name, const char *text,
                   char *err, size_t errlen);

/* Create `dir` (and its parents) and write every file. Returns the number
 * of files written, or -1 on the first error (reason in err). */
int out_write(const char *dir, const out_file *files, int n, char *err, size_t errlen);

#endif
