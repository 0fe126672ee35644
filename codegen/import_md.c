/*
 * import_md.c — Markdown -> imp_doc: headings (ATX `#`…`######` and setext
 * underlines) and paragraphs; lists keep one item a line ("- x", "2. y",
 * nested items indented), a table row becomes "Header: cell; Header: cell",
 * fenced code keeps its lines, block quotes lose their '>', front matter
 * and HTML comments are dropped, and inline markup is reduced to its text
 * (emphasis, `code`, images to their alt text, links to "text (url)").
 */
#include <ctype.h>
#include <string.h>

#include "import.h"
#include "strbuf.h"

enum md_kind { MD_NONE, MD_TEXT, MD_LIST, MD_TABLE, MD_CODE };

#define MD_MAX_CELLS 32

typedef struct md {
    imp_doc *d;
    arena *a;
    strbuf para;
    enum md_kind kind;
    int text_lines;                   /* lines in an MD_TEXT paragraph */
    const char *head[MD_MAX_CELLS];   /* a table's header cells */
    int n_head, head_state;           /* 0 none, 1 first row seen, 2 confirmed by |---| */
    size_t head_row_at;               /* where the unconfirmed first row starts in para */
} md;

static int md_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

static size_t md_indent(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static void md_flush(md *m)
{
    if (m->kind != MD_NONE && m->para.len)
        imp_para(m->d, m->para.s, m->para.len);
    m->para.len = 0;
    m->para.s[0] = '\0';
    m->kind = MD_NONE;
    m->text_lines = 0;
    m->n_head = m->head_state = 0;
}

/* Is s[i] an emphasis marker run ('*', '_', "~~") rather than text? Not
 * when white space is on both sides ("5 * 3"), and '_' not inside a word
 * (snake_case). */
static int md_emphasis(const char *s, size_t n, size_t i, size_t run)
{
    int before = i > 0 ? (unsigned char)s[i - 1] : ' ';
    int after = i + run < n ? (unsigned char)s[i + run] : ' ';
    if (isspace(before) && isspace(after))
        return 0;
    if (s[i] == '_' && isalnum(before) && isalnum(after))
        return 0;
    return 1;
}

/* Inline markup of s[0..n) -> its plain text, appended to sb. */
static void md_inline(strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '\\' && i + 1 == n)
            break; /* a hard line break: the lines are joined anyway */
        if (c == '\\' && i + 1 < n && ispunct((unsigned char)s[i + 1])) {
            sb_putc(sb, s[i + 1]);
            i += 2;
            continue;
        }
        if (c == '`') {
            size_t run = 0;
            while (i + run < n && s[i + run] == '`')
                run++;
            /* the closing run of the same length */
            for (size_t j = i + run; j + run <= n; j++) {
                size_t k = 0;
                while (j + k < n && s[j + k] == '`')
                    k++;
                if (k == run) {
                    size_t b = i + run, e = j;
                    if (e - b >= 2 && s[b] == ' ' && s[e - 1] == ' ')
                        b++, e--;
                    sb_putn(sb, s + b, e - b);
                    i = j + run;
                    goto next;
                }
                j += k;
            }
            sb_putn(sb, s + i, run);
            i += run;
            continue;
        }
        if (c == '[' || (c == '!' && i + 1 < n && s[i + 1] == '[')) {
            size_t t = i + (c == '!' ? 2 : 1), j = t;
            int depth = 1;
            for (; j < n; j++) {
                if (s[j] == '\\') {
                    j++;
                    continue;
                }
                depth += s[j] == '[' ? 1 : s[j] == ']' ? -1 : 0;
                if (!depth)
                    break;
            }
            const char *close = j + 1 < n && s[j + 1] == '(' ? memchr(s + j + 2, ')', n - j - 2) : NULL;
            if (j < n && close) {
                size_t ub = j + 2, ue = (size_t)(close - s);
                while (ub < ue && s[ub] == ' ')
                    ub++;
                /* a title after the URL: [x](url "title") */
                const char *sp = memchr(s + ub, ' ', ue - ub);
                size_t uend = sp ? (size_t)(sp - s) : ue;
                if (!strncmp(s + ub, "mailto:", 7 < uend - ub ? 7 : uend - ub) && uend - ub > 7)
                    ub += 7;
                size_t before = sb->len;
                md_inline(sb, s + t, j - t);
                size_t tlen = sb->len - before;
                int same = tlen == uend - ub && !memcmp(sb->s + before, s + ub, tlen);
                if (c == '[' && uend > ub && s[ub] != '#' && !same) {
                    sb_puts(sb, " (");
                    sb_putn(sb, s + ub, uend - ub);
                    sb_putc(sb, ')');
                }
                i = ue + 1;
                continue;
            }
        }
        if (c == '<') {
            const char *gt = memchr(s + i, '>', n - i);
            size_t e = gt ? (size_t)(gt - s) : 0;
            if (gt && (!strncmp(s + i + 1, "http", 4 < e - i - 1 ? 4 : e - i - 1) ||
                       memchr(s + i, '@', e - i))) {
                size_t b = i + 1;
                if (e - b > 7 && !strncmp(s + b, "mailto:", 7))
                    b += 7;
                sb_putn(sb, s + b, e - b);
                i = e + 1;
                continue;
            }
            if (gt && i + 1 < n && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/')) {
                sb_putc(sb, ' '); /* an HTML tag: <br>, <b>, </p> */
                i = e + 1;
                continue;
            }
        }
        if (c == '*' || c == '_' || (c == '~' && i + 1 < n && s[i + 1] == '~')) {
            size_t run = 0;
            while (i + run < n && s[i + run] == c)
                run++;
            if (md_emphasis(s, n, i, run)) {
                i += run;
                continue;
            }
            sb_putn(sb, s + i, run);
            i += run;
            continue;
        }
        sb_putc(sb, c);
        i++;
    next:;
    }
}

/* A line of one repeated character among `set` (spaces allowed), at least
 * `min` times. */
static int md_rule(const char *s, size_t n, const char *set, int min)
{
    char c = 0;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '\t')
            continue;
        if (!strchr(set, s[i]) || (c && s[i] != c))
            return 0;
        c = s[i];
        count++;
    }
    return count >= min;
}

/* ATX heading: up to 3 spaces, 1-6 '#', a space or the end. Returns the
 * level and the text in *t, *tn; 0 when the line is no heading. */
static int md_atx(const char *s, size_t n, const char **t, size_t *tn)
{
    size_t i = md_indent(s, n), lv = 0;
    if (i > 3)
        return 0;
    while (i + lv < n && s[i + lv] == '#')
        lv++;
    if (lv < 1 || lv > 6 || (i + lv < n && s[i + lv] != ' ' && s[i + lv] != '\t'))
        return 0;
    size_t b = i + lv, e = n;
    while (b < e && isspace((unsigned char)s[b]))
        b++;
    while (e > b && isspace((unsigned char)s[e - 1]))
        e--;
    /* a closing sequence: "## Title ##" */
    size_t k = e;
    while (k > b && s[k - 1] == '#')
        k--;
    if (k < e && (k == b || s[k - 1] == ' ' || s[k - 1] == '\t'))
        e = k;
    while (e > b && isspace((unsigned char)s[e - 1]))
        e--;
    *t = s + b;
    *tn = e - b;
    return (int)lv;
}

/* A list item's marker ("- ", "* ", "+ ", "12. ", "3) ") after the
 * indentation: its length, 0 when none. */
static size_t md_marker(const char *s, size_t n)
{
    if (n >= 2 && strchr("-*+", s[0]) && (s[1] == ' ' || s[1] == '\t'))
        return 2;
    size_t i = 0;
    while (i < n && i < 9 && isdigit((unsigned char)s[i]))
        i++;
    if (i > 0 && i + 1 < n && (s[i] == '.' || s[i] == ')') && (s[i + 1] == ' ' || s[i + 1] == '\t'))
        return i + 2;
    return 0;
}

static void md_newline(md *m)
{
    if (m->para.len)
        sb_putc(&m->para, '\n');
}

/* A table row's cells (|-separated, trimmed) in the arena. */
static int md_cells(md *m, const char *s, size_t n, const char **cells)
{
    size_t b = md_indent(s, n), e = n;
    while (e > b && isspace((unsigned char)s[e - 1]))
        e--;
    if (b < e && s[b] == '|')
        b++;
    if (e > b && s[e - 1] == '|' && (e - b < 2 || s[e - 2] != '\\'))
        e--;
    int k = 0;
    for (size_t i = b; i <= e && k < MD_MAX_CELLS;) {
        size_t j = i;
        while (j < e && !(s[j] == '|' && (j == i || s[j - 1] != '\\')))
            j++;
        size_t cb = i, ce = j;
        while (cb < ce && isspace((unsigned char)s[cb]))
            cb++;
        while (ce > cb && isspace((unsigned char)s[ce - 1]))
            ce--;
        strbuf c;
        sb_init(&c, m->a);
        md_inline(&c, s + cb, ce - cb);
        cells[k++] = sb_str(&c);
        i = j + 1;
    }
    return k;
}

/* |---|:--:| — only '|', '-', ':' and spaces, at least one '-'. */
static int md_delimiter_row(const char *s, size_t n)
{
    int dash = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strchr("|-: \t", s[i]))
            return 0;
        dash |= s[i] == '-';
    }
    return dash;
}

/* table-row -> "Header: cell; Header: cell" (a cell under an empty
 * header, or when the table has no header, alone). */
static void md_table_row(md *m, const char *s, size_t n)
{
    if (m->kind != MD_TABLE) {
        md_flush(m);
        m->kind = MD_TABLE;
    }
    if (m->head_state == 1 && md_delimiter_row(s, n)) {
        /* the delimiter row: the first row was the header */
        m->para.len = m->head_row_at;
        m->para.s[m->para.len] = '\0';
        m->head_state = 2;
        return;
    }
    const char *cells[MD_MAX_CELLS];
    int k = md_cells(m, s, n, cells);
    if (m->head_state == 0) {
        for (int i = 0; i < k; i++)
            m->head[i] = cells[i];
        m->n_head = k;
        m->head_state = 1;
        m->head_row_at = m->para.len;
    } else if (m->head_state == 1) {
        m->head_state = 3; /* no delimiter row: plain rows */
    }
    md_newline(m);
    int first = 1;
    for (int i = 0; i < k; i++) {
        if (!cells[i][0])
            continue;
        sb_puts(&m->para, first ? "" : "; ");
        if (m->head_state == 2 && i < m->n_head && m->head[i][0])
            sb_printf(&m->para, "%s: ", m->head[i]);
        sb_puts(&m->para, cells[i]);
        first = 0;
    }
}

/* One line of the document (without its '\n'). */
static void md_line(md *m, const char *s, size_t n)
{
    const char *t;
    size_t tn;
    int lv;
    if (m->kind == MD_CODE) {
        size_t i = md_indent(s, n);
        if (md_rule(s + i, n - i, "`~", 3)) {
            md_flush(m);
            return;
        }
        md_newline(m);
        sb_putn(&m->para, s, n);
        return;
    }
    /* block quotes: their text as if unquoted */
    for (size_t i = md_indent(s, n); i < n && s[i] == '>'; i = md_indent(s, n)) {
        s += i + 1;
        n -= i + 1;
        if (n && s[0] == ' ')
            s++, n--;
    }
    size_t ind = md_indent(s, n);
    if (md_blank(s, n)) {
        md_flush(m);
    } else if (ind <= 3 && n - ind >= 3 && (!strncmp(s + ind, "```", 3) || !strncmp(s + ind, "~~~", 3))) {
        md_flush(m);
        m->kind = MD_CODE;
    } else if ((lv = md_atx(s, n, &t, &tn))) {
        md_flush(m);
        strbuf h;
        sb_init(&h, m->a);
        md_inline(&h, t, tn);
        imp_heading(m->d, lv, h.s, h.len);
    } else if (m->kind == MD_TEXT && m->text_lines == 1 &&
               (md_rule(s, n, "=", 1) || md_rule(s, n, "-", 1))) {
        /* a setext underline: the one line above was a heading */
        imp_heading(m->d, md_rule(s, n, "=", 1) ? 1 : 2, m->para.s, m->para.len);
        m->para.len = 0;
        md_flush(m);
    } else if (md_rule(s, n, "-*_", 3)) {
        md_flush(m);
    } else if (s[ind] == '|') {
        md_table_row(m, s, n);
    } else if (md_marker(s + ind, n - ind)) {
        if (m->kind != MD_LIST)
            md_flush(m);
        m->kind = MD_LIST;
        size_t mk = md_marker(s + ind, n - ind);
        md_newline(m);
        for (size_t k = 0; k < ind / 2 && k < 4; k++)
            sb_puts(&m->para, "  ");
        if (strchr("-*+", s[ind]))
            sb_puts(&m->para, "- ");
        else
            sb_putn(&m->para, s + ind, mk);
        md_inline(&m->para, s + ind + mk, n - ind - mk);
    } else {
        /* text: a paragraph's next line, or a list item's continuation */
        if (m->kind != MD_TEXT && m->kind != MD_LIST)
            md_flush(m);
        if (m->kind == MD_NONE)
            m->kind = MD_TEXT;
        if (m->para.len)
            sb_putc(&m->para, ' ');
        md_inline(&m->para, s + ind, n - ind);
        m->text_lines++;
    }
}

/* Front matter: a first line "---" up to the next "---" or "...". Returns
 * where the document proper starts. */
static size_t md_front_matter(const char *text, size_t len)
{
    if (len < 4 || strncmp(text, "---", 3) || (text[3] != '\n' && text[3] != '\r'))
        return 0;
    for (const char *p = memchr(text, '\n', len); p && p + 1 < text + len;
         p = memchr(p + 1, '\n', (size_t)(text + len - p - 1))) {
        const char *l = p + 1;
        size_t rest = (size_t)(text + len - l);
        if (rest >= 3 && (!strncmp(l, "---", 3) || !strncmp(l, "...", 3)) &&
            (rest == 3 || l[3] == '\n' || l[3] == '\r')) {
            const char *nl = memchr(l, '\n', rest);
            return nl ? (size_t)(nl + 1 - text) : len;
        }
    }
    return 0;
}

void import_md(imp_doc *d, const char *text, size_t len)
{
    arena *a = arena_new();
    md m = {.d = d, .a = a};
    sb_init(&m.para, a);
    int comment = 0;
    for (size_t i = md_front_matter(text, len); i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len, n = e - i;
        const char *s = text + i;
        while (n && s[n - 1] == '\r')
            n--;
        /* HTML comments on lines of their own */
        size_t ind = md_indent(s, n);
        if (!comment && n - ind >= 4 && !strncmp(s + ind, "<!--", 4) && m.kind != MD_CODE)
            comment = 1;
        if (comment) {
            for (size_t k = 0; k + 3 <= n; k++)
                if (!strncmp(s + k, "-->", 3))
                    comment = 0;
        } else {
            md_line(&m, s, n);
        }
        i = e + 1;
    }
    md_flush(&m);
    arena_free(a);
}
