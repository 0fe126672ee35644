/*
 * output.c — render and write a bot's generated files (see output.h).
 */
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emit_c.h"
#include "emit_re.h"

void out_render(arena *a, const low_machine *m, const char *line_dir,
                out_file files[OUT_N_FILES])
{
    files[OUT_H].name = arena_printf(a, "%s.h", m->name);
    files[OUT_H].text = emit_c_header(a, m);
    files[OUT_C].name = arena_printf(a, "%s.c", m->name);
    files[OUT_C].text = emit_c_source(
        a, m, line_dir ? arena_printf(a, "%s/%s", line_dir, files[OUT_C].name) : NULL);
    files[OUT_RE].name = arena_printf(a, "%s.re", m->name);
    files[OUT_RE].text = emit_re(a, m);
    files[OUT_MAIN].name = arena_printf(a, "%s_main.c", m->name);
    files[OUT_MAIN].text = emit_c_main(a, m);
}

/* 1 when `path` holds exactly `text` (len bytes). */
static int same_content(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int same = 1;
    char buf[8192];
    size_t off = 0, n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (off + n > len || memcmp(buf, text + off, n) != 0) {
            same = 0;
            break;
        }
        off += n;
    }
    if (ferror(f))
        same = 0;
    fclose(f);
    return same && off == len;
}

int out_write_file(const char *dir, const char *name, const char *text,
                   char *err, size_t errlen)
{
    char path[4096], tmp[4096];
    size_t len = strlen(text);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.tmpXXXXXX", dir, name) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s/%s: path too long", dir, name);
        return -1;
    }
    if (same_content(path, text, len))
        return 0;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    int ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    /* mkstemp makes 0600; generated sources are ordinary files */
    if (ok)
        ok = chmod(tmp, 0644) == 0;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 1;
}

/* mkdir -p */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf) {
        snprintf(err, errlen, "bad output directory '%s'", dir);
        return -1;
    }
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", dir);
        return -1;
    }
    return 0;
}

int out_write(const char *dir, const out_file *files, int n, char *err, size_t errlen)
{
    if (make_dirs(dir, err, errlen) != 0)
        return -1;
    int written = 0;
    for (int i = 0; i < n; i++) {
        int r = out_write_file(dir, files[i].name, files[i].text, err, errlen);
        if (r < 0)
            return -1;
        written += r;
    }
    return written;
}
