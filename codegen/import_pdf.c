/*
 * import_pdf.c — PDF -> imp_doc, through poppler-utils' `pdftotext -layout`
 * run as a child process (at most IMP_PDF_TIMEOUT seconds and
 * IMP_PDF_TEXT_MAX bytes of text, or the import fails: a PDF is the
 * company's file, not ours, and may be huge or malformed).
 *
 * A PDF has no headings, only text on pages, so they are guessed
 * (spec/REFERENCE.md, "Importing documents"):
 *  - page furniture: a page's first or last line that is a page number
 *    ("7", "- 7 -", "Page 7 of 9", "Стр. 7") or that, digits aside, is the
 *    first (last) line of at least half the pages (two or more) is dropped;
 *  - a heading is a line of at most IMP_PDF_HEADING characters, with a
 *    letter, not ending in '.', ',' or ';', that is numbered ("3. Deposit",
 *    "2.1 Cards": level = how many numbers) or in capitals ("DEPOSIT",
 *    level 1) — the first line of its block of lines — or, alone between
 *    blank lines, starts with a capital and ends with no punctuation
 *    (the level of the heading before it, 1 for the first);
 *  - other blocks of lines are paragraphs: a line broken after a hyphen
 *    before a lower-case letter is joined without it ("depo-\nsit"), a
 *    line starting with a bullet ("•", "-", "–", "*", "1)") starts a line
 *    "- …", and a page break inside a sentence (the line before ends in
 *    no '.', '!', '?' or ':' and the next starts in lower case) does not
 *    end the paragraph.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "import.h"
#include "strbuf.h"

#define IMP_PDF_TIMEOUT 60                   /* seconds pdftotext may take */
#define IMP_PDF_TEXT_MAX ((size_t)16 << 20) /* bytes of text it may print */
#define IMP_PDF_ERR_MAX 512                  /* bytes of its stderr kept */
#define IMP_PDF_HEADING 80                   /* characters in a heading */

/* ---- running pdftotext ------------------------------------------------------- */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Drain `fd` into sb, at most `max` bytes (the rest read and counted in
 * *over). Returns 0 at EOF, 1 for more, -1 on error. */
static int drain(int fd, strbuf *sb, size_t max, size_t *over)
{
    char buf[65536];
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : -1;
    if (r == 0)
        return 0;
    size_t take = sb->len < max ? max - sb->len : 0;
    if (take > (size_t)r)
        take = (size_t)r;
    sb_putn(sb, buf, take);
    *over += (size_t)r - take;
    return 1;
}

/* `pdftotext -layout -enc UTF-8 path -` into out. Returns 0, or -1 with
 * the reason in err. */
static int run_pdftotext(const char *path, strbuf *out, arena *a, char *err, size_t errlen)
{
    int po[2], pe[2];
    if (pipe(po) < 0)
        goto sys;
    if (pipe(pe) < 0) {
        close(po[0]);
        close(po[1]);
        goto sys;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        goto sys;
    }
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        execlp("pdftotext", "pdftotext", "-layout", "-enc", "UTF-8", path, "-", (char *)NULL);
        _exit(errno == ENOENT ? 127 : 126);
    }
    close(po[1]);
    close(pe[1]);
    strbuf errs;
    sb_init(&errs, a);
    size_t over = 0, err_over = 0;
    int open_fds = 2, timed_out = 0, failed = 0;
    long deadline = now_ms() + IMP_PDF_TIMEOUT * 1000L;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    while (open_fds > 0) {
        long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int r = poll(fds, 2, (int)left);
        if (r < 0 && errno != EINTR) {
            failed = 1;
            break;
        }
        for (int i = 0; i < 2 && r > 0; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            int d = i == 0 ? drain(fds[i].fd, out, IMP_PDF_TEXT_MAX, &over)
                           : drain(fds[i].fd, &errs, IMP_PDF_ERR_MAX, &err_over);
            if (d <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                failed |= d < 0;
            }
        }
        if (over) /* no use reading on: the import fails anyway */
            break;
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    if (open_fds > 0)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            goto sys;
    if (timed_out) {
        snprintf(err, errlen, "pdftotext took longer than %d s on %s", IMP_PDF_TIMEOUT, path);
        return -1;
    }
    if (over) {
        snprintf(err, errlen, "%s holds more than %zu MiB of text", path, IMP_PDF_TEXT_MAX >> 20);
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        snprintf(err, errlen, "pdftotext is not installed (apt-get install poppler-utils)");
        return -1;
    }
    if (failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        /* its first line says why ("Syntax Error: Couldn't find trailer") */
        const char *e = sb_str(&errs);
        size_t n = strcspn(e, "\n");
        snprintf(err, errlen, "pdftotext cannot read %s%s%.*s", path, n ? ": " : "", (int)n, e);
        return -1;
    }
    return 0;
sys:
    snprintf(err, errlen, "cannot run pdftotext: %s", strerror(errno));
    return -1;
}

/* ---- lines ------------------------------------------------------------------------ */

typedef struct pline {
    const char *s; /* trimmed; NULL for a blank or dropped line */
    size_t n;
    int page;
} pline;

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* An ASCII or Cyrillic letter at s (UTF-8): 'u' upper, 'l' lower, 0 none. */
static int letter_case(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    if (c >= 'A' && c <= 'Z')
        return 'u';
    if (c >= 'a' && c <= 'z')
        return 'l';
    if (n >= 2 && (c == 0xD0 || c == 0xD1)) {
        unsigned char d = (unsigned char)s[1];
        if (c == 0xD0 && (d == 0x81 || (d >= 0x90 && d <= 0xAF)))
            return 'u';
        if ((c == 0xD0 && d >= 0xB0) || (c == 0xD1 && (d <= 0x8F || d == 0x91)))
            return 'l';
    }
    return 0;
}

/* The line with digits as '#' and spaces collapsed: a running header
 * "Rental terms — page 3" is the same on every page. */
static const char *furniture_key(arena *a, const pline *l)
{
    strbuf sb;
    sb_init(&sb, a);
    for (size_t i = 0; i < l->n; i++) {
        if (l->s[i] == ' ' && i > 0 && l->s[i - 1] == ' ')
            continue;
        sb_putc(&sb, is_digit(l->s[i]) ? '#' : l->s[i]);
    }
    return sb_str(&sb);
}

/* "7", "- 7 -", "7 / 9", "Page 7", "Page 7 of 9", "Стр. 7", "Страница 7 из 9". */
static int page_number(const pline *l)
{
    static const char *const words[] = {"Page", "page", "PAGE", "Стр.", "стр.", "Страница", "страница",
                                        "of", "из", "/", "-", "–", "—"};
    const char *s = l->s, *e = l->s + l->n;
    int digits = 0;
    while (s < e) {
        if (*s == ' ') {
            s++;
            continue;
        }
        if (is_digit(*s)) {
            while (s < e && is_digit(*s))
                s++;
            digits++;
            continue;
        }
        size_t k = 0, nw = sizeof words / sizeof words[0];
        for (; k < nw; k++) {
            size_t wn = strlen(words[k]);
            if ((size_t)(e - s) >= wn && !memcmp(s, words[k], wn)) {
                s += wn;
                break;
            }
        }
        if (k == nw)
            return 0;
    }
    return digits >= 1 && digits <= 2;
}

/* Drop headers, footers and page numbers: twice, for a footer above a
 * page number. */
static void drop_furniture(arena *a, pline *v, int n, int pages)
{
    for (int round = 0; round < 2; round++) {
        int *first = ARENA_ARRAY(a, int, pages + 1), *last = ARENA_ARRAY(a, int, pages + 1);
        for (int p = 0; p <= pages; p++)
            first[p] = last[p] = -1;
        for (int i = 0; i < n; i++)
            if (v[i].s) {
                if (first[v[i].page] < 0)
                    first[v[i].page] = i;
                last[v[i].page] = i;
            }
        for (int end = 0; end < 2; end++) {
            int *at = end ? last : first;
            const char **key = ARENA_ARRAY(a, const char *, pages + 1);
            for (int p = 0; p <= pages; p++)
                key[p] = at[p] >= 0 ? furniture_key(a, &v[at[p]]) : NULL;
            int used = 0;
            for (int p = 0; p <= pages; p++)
                used += key[p] != NULL;
            for (int p = 0; p <= pages; p++) {
                if (!key[p])
                    continue;
                int same = 0;
                for (int q = 0; q <= pages; q++)
                    same += key[q] && !strcmp(key[p], key[q]);
                if ((same >= 2 && 2 * same >= used) || page_number(&v[at[p]]))
                    v[at[p]].s = NULL;
            }
        }
    }
}

/* ---- headings and paragraphs ------------------------------------------------------ */

/* Characters (not bytes) of a UTF-8 line. */
static size_t chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* The heading level of line l: 1-6, -1 for an unnumbered heading in
 * lower case (its level is the previous heading's), 0 for none. `alone`
 * when blank lines are around it. */
static int heading_level(const pline *l, int alone)
{
    const char *s = l->s;
    size_t n = l->n;
    char endc = s[n - 1];
    if (chars(s, n) > IMP_PDF_HEADING || endc == '.' || endc == ',' || endc == ';')
        return 0;
    int upper = 0, lower = 0;
    for (size_t i = 0; i < n; i++) {
        int lc = letter_case(s + i, n - i);
        upper += lc == 'u';
        lower += lc == 'l';
    }
    if (!upper && !lower)
        return 0;
    /* "3. Deposit", "2.1 Cards", "2.1. Cards" */
    size_t i = 0;
    int numbers = 0, dot_after = 0;
    while (i < n && is_digit(s[i])) {
        size_t b = i;
        while (i < n && is_digit(s[i]))
            i++;
        numbers++;
        dot_after = i < n && s[i] == '.';
        if (i - b > 2)
            return 0; /* a year or an amount, not a section number */
        if (dot_after)
            i++;
        else
            break;
    }
    if (numbers && i < n && s[i] == ' ' && (dot_after || numbers > 1) &&
        letter_case(s + i + 1, n - i - 1) == 'u')
        return numbers > 6 ? 6 : numbers;
    if (numbers)
        return 0;
    if (upper >= 2 && !lower)
        return 1;
    if (alone && letter_case(s, n) == 'u' && endc != ':' && endc != '!' && endc != '?' &&
        chars(s, n) <= IMP_PDF_HEADING * 3 / 4)
        return -1;
    return 0;
}

/* The length of a bullet at the line's start (with its space), or 0. */
static size_t bullet(const char *s, size_t n)
{
    static const char *const marks[] = {"• ", "◦ ", "▪ ", "· ", "– ", "- ", "* "};
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
        size_t m = strlen(marks[k]);
        if (n > m && !memcmp(s, marks[k], m))
            return m;
    }
    size_t i = 0;
    while (i < n && i < 3 && is_digit(s[i]))
        i++;
    return i > 0 && i + 1 < n && s[i] == ')' && s[i + 1] == ' ' ? i + 2 : 0;
}

/* The lines of v[b..e) as one paragraph (a block that runs across a page
 * break has blank and dropped lines inside). */
static void put_block(imp_doc *d, arena *a, const pline *v, int b, int e)
{
    strbuf sb;
    sb_init(&sb, a);
    for (int i = b; i < e; i++) {
        const char *s = v[i].s;
        if (!s)
            continue;
        size_t n = v[i].n, mk = bullet(s, n);
        if (mk) {
            if (sb.len)
                sb_putc(&sb, '\n');
            sb_puts(&sb, "- ");
            s += mk, n -= mk;
        } else if (sb.len) {
            /* "depo-" + "sit" = "deposit"; U+00AD, a soft hyphen, too */
            int soft = sb.len >= 2 && (unsigned char)sb.s[sb.len - 2] == 0xC2 &&
                       (unsigned char)sb.s[sb.len - 1] == 0xAD;
            int hard = sb.len >= 2 && sb.s[sb.len - 1] == '-' &&
                       (letter_case(sb.s + sb.len - 2, 2) ||
                        ((unsigned char)sb.s[sb.len - 2] & 0x80));
            if ((soft || hard) && letter_case(s, n) == 'l')
                sb.len -= soft ? 2 : 1;
            else
                sb_putc(&sb, ' ');
        }
        sb_putn(&sb, s, n);
    }
    imp_para(d, sb.s, sb.len);
}

int import_pdf(imp_doc *d, const char *path, char *err, size_t errlen)
{
    arena *a = arena_new();
    strbuf text;
    sb_init(&text, a);
    if (run_pdftotext(path, &text, a, err, errlen) < 0) {
        arena_free(a);
        return -1;
    }
    /* lines, trimmed, with their page (pages end in '\f') */
    int n = 0, cap = 0, page = 0;
    pline *v = NULL;
    for (const char *p = text.s, *end = text.s + text.len; p < end;) {
        size_t ln = strcspn(p, "\n\f");
        if (p + ln > end)
            ln = (size_t)(end - p);
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            pline *w = ARENA_ARRAY(a, pline, cap);
            if (n)
                memcpy(w, v, (size_t)n * sizeof *v);
            v = w;
        }
        const char *s = p;
        size_t m = ln;
        while (m && (*s == ' ' || *s == '\t'))
            s++, m--;
        while (m && (s[m - 1] == ' ' || s[m - 1] == '\t' || s[m - 1] == '\r'))
            m--;
        v[n++] = (pline){m ? s : NULL, m, page};
        p += ln;
        if (p < end && *p == '\f')
            page++;
        if (p < end)
            p++;
    }
    drop_furniture(a, v, n, page);
    /* blocks of lines between blank ones; a page break is a blank line
     * unless a sentence runs on across it */
    int b = -1, last = -1, any = 0, prev_level = 1;
    for (int i = 0; i <= n; i++) {
        int at_end = i == n;
        if (!at_end && !v[i].s)
            continue;
        int cont = 0;
        if (!at_end && last >= 0 && v[i].page != v[last].page) {
            char c = v[last].s[v[last].n - 1];
            cont = c != '.' && c != '!' && c != '?' && c != ':' && letter_case(v[i].s, v[i].n) == 'l';
        } else if (!at_end && last >= 0) {
            cont = i == last + 1;
        }
        if (b >= 0 && !cont) {
            int alone = last == b, next = b + 1;
            while (next < last && !v[next].s)
                next++;
            /* "1. Passport" over "2. Licence" is a list, not a heading */
            int listed = !alone && (is_digit(v[next].s[0]) || bullet(v[next].s, v[next].n));
            int lv = listed ? 0 : heading_level(&v[b], alone);
            if (lv) {
                prev_level = lv = lv < 0 ? prev_level : lv;
                imp_heading(d, lv, v[b].s, v[b].n);
                b = next;
            }
            if (b <= last)
                put_block(d, a, v, b, last + 1);
            any = 1;
            b = -1;
        }
        if (at_end)
            break;
        if (b < 0)
            b = i;
        last = i;
    }
    if (!any)
        snprintf(err, errlen, "%s has no text (a scanned PDF needs OCR first)", path);
    arena_free(a);
    return any ? 0 : -1;
}
