/*
 * markdown.h — the model's Markdown as Telegram sees formatting: plain text
 * plus a list of entities (bold, italic, strikethrough, code, pre with its
 * language, text_link, blockquote) whose offsets and lengths are in UTF-16
 * code units, as the Bot API counts them. No parse_mode string is ever
 * built, so nothing in the text needs escaping.
 *
 * What becomes what (spec/REFERENCE.md, "Formatted answers"):
 *   **b** __b__ -> bold        *i* _i_ -> italic       ~~s~~ -> strikethrough
 *   `c`         -> code        ```lang fenced``` -> pre (language "lang")
 *   [t](url)    -> text_link (http, https and tg URLs; else left as written)
 *   # Heading   -> the heading's text in bold
 *   - item      -> "• item" (also * and +); "1. item" stays as written
 *   > quote     -> blockquote (consecutive lines, one entity)
 *   ---         -> "———"
 *   \*          -> a literal * (backslash escapes of ASCII punctuation)
 * Broken Markdown never loses text: a marker without its partner stays in
 * the text as written. A fence that is never closed runs to the end of the
 * text (CommonMark's rule), so a streamed answer shows its code block as
 * `pre` while it is still being written.
 */
#ifndef BOTC_MARKDOWN_H
#define BOTC_MARKDOWN_H

#include <stddef.h>

#include "base/jsonw.h"

typedef enum md_kind {
    MD_BOLD,
    MD_ITALIC,
    MD_STRIKE,
    MD_CODE,
    MD_PRE,
    MD_LINK,
    MD_QUOTE,
} md_kind;

/* The Bot API's name of the entity type ("bold", "text_link", ...). */
const char *md_kind_name(md_kind k);

typedef struct md_entity {
    md_kind kind;
    size_t off, len;   /* in the text, UTF-16 code units (what Telegram takes) */
    size_t boff, blen; /* the same span in bytes */
    char *arg;         /* MD_PRE: its language or NULL; MD_LINK: its URL.
                          Owned by the md_text. */
} md_entity;

/* Text and entities, ordered by offset, an enclosing entity before what it
 * encloses. Entities nest, never overlap partly; none is empty; none lies
 * outside the text or cuts a UTF-8 sequence. Owns everything in it. */
typedef struct md_text {
    char *text;  /* NUL-terminated */
    size_t len;  /* bytes */
    md_entity *ents;
    int n, cap;
} md_text;

/* Renders md[0..n) into *out (which the caller frees with md_text_free).
 * Returns 0, or -1 on out-of-memory (*out then empty). */
int md_render(const char *md, size_t n, md_text *out);
void md_text_free(md_text *t);

/* Telegram formats at most this many entities of a message (the rest show
 * as plain text, without an error); md_split keeps each part within it. */
#define MD_MAX_ENTITIES 100

/* Splits t into parts of at most max_units (>= 2) UTF-16 units each, as
 * text_split cuts plain text (a paragraph break, else a line break, else a
 * space, the separator dropped; else the last whole grapheme cluster) but
 * first at a place no entity spans, if the window has one. An entity that
 * must be cut (a code block longer than a message) becomes one entity of
 * its kind, language or URL in each part; offsets are re-based per part.
 * A part also ends before its 101st entity (MD_MAX_ENTITIES).
 * Parts of only blanks are left out. *parts is a malloc'd array of n
 * md_texts (free with md_parts_free); 0 parts for an empty text. Returns 0,
 * or -1 on out-of-memory. */
int md_split(const md_text *t, size_t max_units, md_text **parts, int *n_parts);
void md_parts_free(md_text *parts, int n_parts);

/* Writes t's entities as the Bot API's `entities` array value. */
void md_write_entities(jw *w, const md_text *t);

#endif
