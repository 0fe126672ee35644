/*
 * Fuzz target: one Update's JSON text through tgu_parse_text, as the inbox
 * parses every update that came by polling or webhook. Beyond "no crash, no
 * sanitizer report" it checks what the parser promises its callers: the
 * strings of a parsed input lie in the space given (or are static ""), and
 * every one of them is valid UTF-8 (invalid bytes and lone surrogates were
 * replaced at the door: nothing invalid reaches history, the model or a
 * sendMessage). Corpus: tests/fuzz/corpus/tgupdate/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "telegram/tgupdate.h"

static void check_str(const char *s, const tgu_strings *owned, const char *what)
{
    if (!s)
        return;
    if (*s && (s < owned->p || s >= owned->p + owned->len)) {
        fprintf(stderr, "tgupdate fuzz: %s points outside the parse's space\n", what);
        abort();
    }
    if (!text_utf8_valid(s, strlen(s))) {
        fprintf(stderr, "tgupdate fuzz: %s is not valid UTF-8\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* as the inbox lays it out: the text, then the strings' space */
    size_t cap = TGU_STRINGS_CAP(size);
    char *buf = malloc(size + cap);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    tgu_strings owned = {.p = buf + size, .cap = cap};
    int64_t update_id = 0;
    bm_input in;
    memset(&in, 0, sizeof in);
    char err[256];
    tgu_status st = tgu_parse_text(buf, size, &owned, &update_id, &in, err, sizeof err);
    if (owned.len > owned.cap) {
        fprintf(stderr, "tgupdate fuzz: used %zu of %zu bytes\n", owned.len, owned.cap);
        abort();
    }
    if (st == TGU_OK) {
        if (!in.text)
            abort();
        check_str(in.text, &owned, "text");
        check_str(in.callback_id, &owned, "callback_id");
        check_str(in.user.first_name, &owned, "first_name");
        check_str(in.user.last_name, &owned, "last_name");
        check_str(in.user.username, &owned, "username");
        check_str(in.user.language_code, &owned, "language_code");
    } else if (st == TGU_ERROR && !memchr(err, '\0', sizeof err)) {
        abort();
    }
    free(buf);
    return 0;
}
