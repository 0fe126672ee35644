/*
 * b64.h — base64 (RFC 4648, the standard alphabet, padded): how binary
 * files (a voice note) travel inside a JSON text, e.g. an outbox row.
 */
#ifndef BOTC_B64_H
#define BOTC_B64_H

#include <stddef.h>

/* The encoding of p[0..n), NUL-terminated; malloc'd, NULL on out of memory. */
char *b64_encode(const unsigned char *p, size_t n);

/* Decodes s (no blanks; padding required) into *out (malloc'd, *len bytes).
 * 0, or -1 when s is not base64 or memory ran out (*out NULL). */
int b64_decode(const char *s, unsigned char **out, size_t *len);

#endif
