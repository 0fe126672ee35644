/*
 * rx.h — the spec's regex dialect, translated to re2c.
 *
 * Spec authors write familiar regexes (a subset of POSIX ERE / PCRE):
 * literals (any UTF-8), `.`, classes `[a-zа-я0-9_]` `[^...]`, escapes
 * `\d \w \s \D \W \S \. \\ \( ...`, `* + ? {n} {n,} {n,m}`, `|`, `( )`,
 * `(?: )`, `^` at the start and `$` at the end. Back-references,
 * look-around and lazy quantifiers are rejected with the reason.
 *
 * `pattern:` triggers are case-insensitive (ASCII and Cyrillic letters are
 * folded) and match anywhere in the text unless anchored; form `regex:`
 * validators are case-sensitive and must match the whole text (as if
 * wrapped in ^...$).
 */
#ifndef BOTC_RX_H
#define BOTC_RX_H

#include <stddef.h>

#include "arena.h"

typedef enum rx_mode {
    RX_TRIGGER = 0,   /* case-insensitive, unanchored unless ^/$ */
    RX_VALIDATOR,     /* case-sensitive, whole text */
} rx_mode;

typedef struct rx_error {
    size_t offset;        /* byte offset in the pattern where it went wrong */
    char message[160];    /* e.g. "unbalanced ')'" */
    const char *hint;     /* static string or NULL */
} rx_error;

/* Translate `pattern` into an re2c regular expression that matches the
 * whole NUL-terminated input (the caller appends the "\x00" sentinel rule
 * itself). Returns the re2c text (in arena) or NULL with *err filled. */
const char *rx_to_re2c(arena *a, const char *pattern, rx_mode mode, rx_error *err);

#endif
