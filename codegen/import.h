/*
 * import.h — `botc import`: a company's Markdown or PDF document turned into
 * a knowledge file (`## Heading` sections of plain paragraphs, the format
 * runtime/ai/kb.c splits), the same bytes for the same document.
 *
 * The readers (import_md.c, import_pdf.c) find headings and paragraphs and
 * hand them to an imp_doc in document order; imp_render writes the file
 * last ("render text last"). Everything lives in the arena given to
 * imp_new and is released with it.
 */
#ifndef BOTC_IMPORT_H
#define BOTC_IMPORT_H

#include <stddef.h>

#include "arena.h"

/* The largest knowledge file botc check accepts (check.c); an import
 * that would write more fails instead. */
#define IMP_OUT_MAX ((size_t)1 << 20)

typedef struct imp_doc imp_doc;

/* `source` is the document's file name as given (its last component goes
 * into the header comment, and its stem names the text before the first
 * heading); `lang` the document's language or NULL. */
imp_doc *imp_new(arena *a, const char *source, const char *lang);

/* A heading of `level` (1 = the top) with `n` bytes of `text`. */
void imp_heading(imp_doc *d, int level, const char *text, size_t n);

/* A paragraph: lines separated by '\n' (list items, table rows, code keep
 * their own line); runs of white space become one space, blank lines are
 * dropped. An empty paragraph is ignored. */
void imp_para(imp_doc *d, const char *text, size_t n);

/* The knowledge file (arena, NUL-terminated) and its length. */
const char *imp_render(imp_doc *d, size_t *len);

/* Markdown text -> d. */
void import_md(imp_doc *d, const char *text, size_t len);

/* The PDF at `path`, read with pdftotext (poppler-utils) -> d. Returns 0,
 * or -1 with the reason in err. */
int import_pdf(imp_doc *d, const char *path, char *err, size_t errlen);

#endif
