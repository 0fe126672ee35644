/*
 * slurp.c — see slurp.h.
 */
#include "slurp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    /* read to the end, growing, rather than by a size taken beforehand:
     * nothing to disagree with what is read (a pipe has no size at all) */
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf && (len += fread(buf + len, 1, cap - 1 - len, f)) == cap - 1) {
        char *more = realloc(buf, cap *= 2);
        if (!more)
            free(buf);
        buf = more;
    }
    int err = !buf ? ENOMEM : ferror(f) ? EIO : 0;
    fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}
