/*
 * emit_c.h — render a lowered machine as C: <bot>.h (state enum, the
 * machine's declaration, the matcher prototypes), <bot>.c (const tables and
 * the bm_machine) and <bot>_main.c (main → botmain_run).
 *
 * Output is deterministic: the same machine gives the same bytes. Every
 * function returns a NUL-terminated string in the arena.
 */
#ifndef BOTC_EMIT_C_H
#define BOTC_EMIT_C_H

#include "arena.h"
#include "lower.h"
#include "strbuf.h"

const char *emit_c_header(arena *a, const low_machine *m);
/* With `line_cfile` (the path the .c file is written to), entries that come
 * from a spec line are preceded by `#line N "<spec path>"` and the file's own
 * numbering is restored after each table. NULL leaves them out: the
 * checked-in generated/ files must change only where the spec changed, and
 * absolute spec line numbers shift with every line added above them. */
const char *emit_c_source(arena *a, const low_machine *m, const char *line_cfile);
const char *emit_c_main(arena *a, const low_machine *m);

/* The first line of every generated file (no newline at the end). */
void emit_banner(strbuf *sb, const low_machine *m);

/* `name` as an upper-case C identifier fragment ("main" → "MAIN"). */
const char *emit_upper(arena *a, const char *name);

#endif
