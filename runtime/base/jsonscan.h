/*
 * jsonscan.h — validating JSON without building it: spans, no allocation.
 *
 * The hot path reads two things from Telegram's answers that need no tree:
 * whether a call was accepted ({"ok":true,...,"result":...}), and the bytes
 * of each Update in a getUpdates answer (stored in the inbox as they came,
 * each parsed once, by itself). A scan checks the grammar of RFC 8259 as
 * cJSON does (strings with valid escapes and no control characters,
 * numbers, literals, nesting up to JSCAN_DEPTH) and returns spans into the
 * caller's buffer; anything unexpected is "malformed" and the caller falls
 * back to a full parse for the details. jscan_i64 and jscan_str read one
 * scanned value (an exact integer id, a string decoded into the caller's
 * space): with them an Update is read from its text (tgupdate.h).
 */
#ifndef BOTC_JSONSCAN_H
#define BOTC_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

#define JSCAN_DEPTH 64

/* Bytes [p, end) of one value (borrowed from the scanned buffer). */
typedef struct jscan_span {
    const char *p, *end;
} jscan_span;

/* The end of the one JSON value starting at p (blanks before it skipped),
 * or NULL when there is none or it is malformed. */
const char *jscan_value(const char *p, const char *end);

/* Looks up key among the members of the object that is the whole of
 * [p, p + n) (blanks around it allowed); the object is validated entirely.
 * Returns 1 with *out = the member's value, 0 when the object has no such
 * member, -1 when the text is not exactly one well-formed object. Keys are
 * compared as written (no escapes decoded), as Telegram writes them. */
int jscan_member(const char *p, size_t n, const char *key, jscan_span *out);
/* The same for n_keys keys in one pass: out[i] is keys[i]'s value, or
 * {NULL, NULL} when absent. Returns how many were found, or -1. */
int jscan_members(const char *p, size_t n, const char *const *keys, jscan_span *out,
                  int n_keys);

/* The same lookup in an object inside text a validating call (above)
 * already checked, e.g. a member's value: skips values by their strings
 * and brackets without checking the grammar again. On text never
 * validated the spans may be wrong but never leave [obj.p, obj.end).
 * Returns how many were found, -1 when obj is not an object. */
int jscan_members_of(jscan_span obj, const char *const *keys, jscan_span *out, int n_keys);

/* 1 when [p, p + n) is exactly one well-formed JSON object, else 0. */
int jscan_is_object(const char *p, size_t n);

/* Walks the items of the array [arr.p, arr.end) (a value jscan_member
 * returned):
 *
 *   jscan_iter it = jscan_items(arr);
 *   jscan_span item;
 *   int rc;
 *   while ((rc = jscan_next(&it, &item)) == 1) ...
 *
 * jscan_next returns 1 with the next item, 0 after the last, -1 when the
 * array is malformed (or not an array). */
typedef struct jscan_iter {
    const char *p, *end;
    int state; /* 0 before '[', 1 inside, 2 done */
} jscan_iter;

jscan_iter jscan_items(jscan_span arr);
int jscan_next(jscan_iter *it, jscan_span *item);

/* The value [v.p, v.end) as an exact integer: an optional '-' and digits,
 * no fraction, no exponent, within int64_t (Telegram's 64-bit ids).
 * Returns 0 with *out set, or -1 (*out untouched). */
int jscan_i64(jscan_span v, int64_t *out);

/* Decodes the string value [v.p, v.end) (its quotes included, as a scan
 * returned it) into out as valid UTF-8 with a terminating NUL: \" \\ \/ \b
 * \f \n \r \t, and \uXXXX (a surrogate pair as one character). One rule for
 * what is not text, raw or escaped: every byte of invalid UTF-8 (FF, C0 AF,
 * ED A0 80, a cut sequence), a lone surrogate escape (\ud800) and \u0000
 * (a C string cannot hold it) each become U+FFFD, so what the bot reads of
 * a string — and stores, sends to the model, writes back to Telegram — is
 * always valid. Refuses (-1) what is not a string, an unknown escape or
 * \u without four hex digits, a raw control character, and an out too
 * small. cap >= JSCAN_STR_CAP(v.end - v.p) always suffices (a U+FFFD
 * written for one raw byte takes three); v.end - v.p - 1 suffices when the
 * raw bytes are valid UTF-8. Returns the decoded length. out is the
 * caller's. */
#define JSCAN_STR_CAP(quoted_len) (3 * (size_t)(quoted_len))
#define JSCAN_REPLACEMENT 0xFFFD
long jscan_str(jscan_span v, char *out, size_t cap);

#endif
