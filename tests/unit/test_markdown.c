/*
 * test_markdown.c — runtime/base/grapheme.c (UAX #29 clusters) and
 * runtime/base/markdown.c (the model's Markdown as text + Telegram
 * entities in UTF-16 units, and splitting it into messages).
 */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grapheme.h"
#include "base/markdown.h"
#include "base/text.h"

/* ---- grapheme clusters -------------------------------------------------- */

/* The clusters of s, written "a|b|c". */
static char *clusters(const char *s)
{
    static char buf[4096];
    size_t n = strlen(s), i = 0, o = 0;
    buf[0] = '\0';
    while (i < n) {
        size_t g = gc_next(s + i, n - i);
        CU_ASSERT_TRUE_FATAL(g > 0);
        if (i > 0)
            buf[o++] = '|';
        memcpy(buf + o, s + i, g);
        o += g;
        i += g;
    }
    buf[o] = '\0';
    return buf;
}

static void check_clusters(const char *s, const char *want)
{
    const char *got = clusters(s);
    if (strcmp(got, want))
        fprintf(stderr, "\nclusters of '%s': got '%s', want '%s'\n", s, got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
}

#define FAMILY "👨\u200D👩\u200D👧\u200D👦" /* man ZWJ woman ZWJ girl ZWJ boy: 11 units */
#define FLAG_RU "🇷🇺"
#define FLAG_UA "🇺🇦"
#define THUMB_DARK "👍🏿"                    /* thumbs up + skin tone 6 */
#define HEART_VS "❤\uFE0F"                  /* heart + emoji presentation */
#define E_ACUTE "e\u0301"                   /* e + combining acute */
#define RAINBOW_FLAG "🏳\uFE0F\u200D🌈"

static void test_clusters(void)
{
    check_clusters("abc", "a|b|c");
    check_clusters("a\r\nb", "a|\r\n|b");
    check_clusters("Привет", "П|р|и|в|е|т");
    check_clusters(FAMILY "x", FAMILY "|x");
    check_clusters(FLAG_RU FLAG_UA, FLAG_RU "|" FLAG_UA);
    check_clusters("🇷🇺🇺", FLAG_RU "|🇺"); /* an odd indicator stands alone */
    check_clusters(THUMB_DARK THUMB_DARK, THUMB_DARK "|" THUMB_DARK);
    check_clusters(HEART_VS "!", HEART_VS "|!");
    check_clusters(E_ACUTE E_ACUTE, E_ACUTE "|" E_ACUTE);
    check_clusters("й", "й");                 /* и + combining breve */
    check_clusters(RAINBOW_FLAG, RAINBOW_FLAG);
    check_clusters("각", "각");      /* Hangul jamo L V T */
    check_clusters("क्षि", "क्|षि");           /* virama (GB9c not implemented), matra */
    check_clusters("a\u200Db", "a\u200D|b");  /* ZWJ joins only pictographs */
    check_clusters("\xFF" "a", "\xFF|a");     /* an invalid byte is its own */
    check_clusters("\u0600" "1", "\u06001");  /* a prepended mark */
}

static void test_prefix(void)
{
    /* "ab" + family (11 units): 12 units fit only "ab" + nothing of it */
    const char *s = "ab" FAMILY "c";
    size_t n = strlen(s);
    CU_ASSERT_EQUAL(gc_prefix16(s, n, 12), 2);
    CU_ASSERT_EQUAL(gc_prefix16(s, n, 13), 2 + strlen(FAMILY));
    CU_ASSERT_EQUAL(gc_prefix16(s, n, 3), 2);
    /* a first cluster longer than the limit falls back to code points */
    CU_ASSERT_EQUAL(gc_prefix16(FAMILY, strlen(FAMILY), 4), strlen("👨\u200D"));
    CU_ASSERT_EQUAL(gc_prefix16("", 0, 10), 0);
}

/* text_split keeps clusters whole where no space is near (issue #16, 10) */
static void test_text_split_clusters(void)
{
    char s[8192];
    size_t o = 0;
    for (int i = 0; i < 4090; i++)
        s[o++] = 'x';
    memcpy(s + o, FAMILY FLAG_RU "tail", strlen(FAMILY FLAG_RU "tail"));
    o += strlen(FAMILY FLAG_RU "tail");
    s[o] = '\0';
    char **parts;
    int n;
    CU_ASSERT_EQUAL_FATAL(text_split(s, TEXT_TG_MAX, &parts, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(strlen(parts[0]), 4090);
    CU_ASSERT_STRING_EQUAL(parts[1], FAMILY FLAG_RU "tail");
    text_parts_free(parts, n);
    /* flags back to back: the cut falls between two pairs */
    o = 0;
    for (int i = 0; i < 4095; i++)
        s[o++] = 'y';
    for (int i = 0; i < 3; i++) {
        memcpy(s + o, FLAG_RU, strlen(FLAG_RU));
        o += strlen(FLAG_RU);
    }
    s[o] = '\0';
    CU_ASSERT_EQUAL_FATAL(text_split(s, TEXT_TG_MAX, &parts, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(strlen(parts[0]), 4095);
    CU_ASSERT_STRING_EQUAL(parts[1], FLAG_RU FLAG_RU FLAG_RU);
    text_parts_free(parts, n);
}

/* ---- rendering --------------------------------------------------------- */

/* t as "text" + " [kind off+len arg]..." in UTF-16 units. */
static char *describe(const md_text *t)
{
    static char buf[16384];
    size_t o = (size_t)snprintf(buf, sizeof buf, "%s", t->text);
    for (int i = 0; i < t->n; i++) {
        const md_entity *e = &t->ents[i];
        o += (size_t)snprintf(buf + o, sizeof buf - o, " [%s %zu+%zu%s%s]", md_kind_name(e->kind),
                              e->off, e->len, e->arg ? " " : "", e->arg ? e->arg : "");
    }
    return buf;
}

/* Entity invariants every md_text keeps: inside the text, on UTF-8
 * boundaries, byte and unit spans agreeing, properly nested, sorted. */
static void check_invariants(const md_text *t)
{
    size_t units = text_utf16_len(t->text, t->len);
    for (int i = 0; i < t->n; i++) {
        const md_entity *e = &t->ents[i];
        CU_ASSERT_TRUE(e->len > 0);
        CU_ASSERT_TRUE(e->off + e->len <= units);
        CU_ASSERT_TRUE(e->boff + e->blen <= t->len);
        CU_ASSERT_TRUE(e->boff == t->len || (t->text[e->boff] & 0xC0) != 0x80);
        CU_ASSERT_TRUE(e->boff + e->blen == t->len ||
                       (t->text[e->boff + e->blen] & 0xC0) != 0x80);
        CU_ASSERT_EQUAL(text_utf16_len(t->text, e->boff), e->off);
        CU_ASSERT_EQUAL(text_utf16_len(t->text + e->boff, e->blen), e->len);
        for (int j = 0; j < i; j++) {
            const md_entity *p = &t->ents[j];
            CU_ASSERT_TRUE(p->off <= e->off);
            bool inside = e->off >= p->off && e->off + e->len <= p->off + p->len;
            bool apart = e->off >= p->off + p->len;
            CU_ASSERT_TRUE(inside || apart);
        }
    }
}

static void check_md(const char *md, const char *want)
{
    md_text t;
    CU_ASSERT_EQUAL_FATAL(md_render(md, strlen(md), &t), 0);
    const char *got = describe(&t);
    if (strcmp(got, want))
        fprintf(stderr, "\nmarkdown '%s':\n got '%s'\nwant '%s'\n", md, got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
    check_invariants(&t);
    md_text_free(&t);
}

static void test_inline(void)
{
    check_md("plain text, no markup", "plain text, no markup");
    check_md("a **bold** word", "a bold word [bold 2+4]");
    check_md("a __bold__ and _it_ and *it*", "a bold and it and it [bold 2+4] [italic 11+2] [italic 18+2]");
    check_md("~~gone~~ ok", "gone ok [strikethrough 0+4]");
    check_md("***both***", "both [bold 0+4] [italic 0+4]");
    check_md("**bold *and italic* inside**",
             "bold and italic inside [bold 0+22] [italic 5+10]");
    check_md("use `x = *y*` here", "use x = *y* here [code 4+7]");
    check_md("``a ` b``", "a ` b [code 0+5]");
    check_md("see [the docs](https://example.com/a_b) now",
             "see the docs now [text_link 4+8 https://example.com/a_b]");
    check_md("[**bold link**](https://x.io)", "bold link [bold 0+9] [text_link 0+9 https://x.io]");
    check_md("![logo](https://x.io/l.png)", "logo [text_link 0+4 https://x.io/l.png]");
    check_md("[t](https://x.io \"title\")", "t [text_link 0+1 https://x.io]");
    check_md("\\*not italic\\* and a\\_b", "*not italic* and a_b");
    check_md("snake_case_name and 2*3*4=24", "snake_case_name and 234=24 [italic 21+1]");
    check_md("a * b * c", "a * b * c");
}

static void test_broken(void)
{
    /* markers without partners stay as written: nothing is lost */
    check_md("**unclosed bold", "**unclosed bold");
    check_md("an *unclosed italic", "an *unclosed italic");
    check_md("`unclosed code", "`unclosed code");
    check_md("[text](not a url) and [t](javascript:alert(1))",
             "[text](not a url) and [t](javascript:alert(1))");
    check_md("[unclosed link(https://x.io", "[unclosed link(https://x.io");
    /* as CommonMark reads it, <em><em>a <em>b</em></em> c</em>: an italic
     * inside an italic adds nothing and is left out */
    check_md("**a *b** c*", "a b c [italic 0+5]");
    check_md("~single~ tilde", "~single~ tilde");
    check_md("__", "__");
    check_md("", "");
}

static void test_blocks(void)
{
    check_md("# Title\ntext", "Title\ntext [bold 0+5]");
    check_md("### Sub **x** ###", "Sub x [bold 0+5]"); /* no bold in the bold */
    check_md("#hashtag", "#hashtag");
    check_md("- one\n- **two**\n  * nested\n1. first",
             "• one\n• two\n  • nested\n1. first [bold 8+3]");
    check_md("> quoted **line**\n> second\n\nafter",
             "quoted line\nsecond\n\nafter [blockquote 0+18] [bold 7+4]");
    check_md("a\n\n---\nb", "a\n\n———\nb");
    check_md("\n\nleading and trailing blanks\n\n\n", "leading and trailing blanks");
    check_md("Here:\n```python\ndef f(x):\n    return x * 2\n```\nDone.",
             "Here:\ndef f(x):\n    return x * 2\nDone. [pre 6+26 python]");
    check_md("~~~\nno *lang*\n~~~", "no *lang* [pre 0+9]");
    check_md("```c\na\n\nb\n```", "a\n\nb [pre 0+4 c]");
    /* a fence never closed runs to the end (a draft still being written) */
    check_md("Code:\n```js\nlet a = 1;\nlet b", "Code:\nlet a = 1;\nlet b [pre 6+16 js]");
    check_md("```\n```", "");
    check_md("```c++\nx\n```", "x [pre 0+1 c++]");
    check_md("```{weird}\nx\n```", "x [pre 0+1]"); /* no language rather than a strange one */
    check_md("  ```sh\n  ls -l\n  ```", "ls -l [pre 0+5 sh]");
}

static void test_units(void)
{
    /* offsets and lengths in UTF-16 units: Cyrillic is 1 unit a letter,
     * most emoji 2, a ZWJ family 11 */
    check_md("Привет, **мир**!", "Привет, мир! [bold 8+3]");
    check_md("😀 **😀x** `👍🏿`", "😀 😀x 👍🏿 [bold 3+3] [code 7+4]");
    check_md(FAMILY " *семья*", FAMILY " семья [italic 12+5]");
    check_md("```\n" FLAG_RU "\n```\n**я**", FLAG_RU "\nя [pre 0+4] [bold 5+1]");
}

/* ---- splitting ----------------------------------------------------------- */

/* Splits md at max units; checks every part and that the parts hold the
 * whole text but the separators dropped. */
static md_text *split(const char *md, size_t max, int *n)
{
    md_text t;
    CU_ASSERT_EQUAL_FATAL(md_render(md, strlen(md), &t), 0);
    md_text *parts;
    CU_ASSERT_EQUAL_FATAL(md_split(&t, max, &parts, n), 0);
    size_t total = 0;
    for (int i = 0; i < *n; i++) {
        CU_ASSERT_TRUE(text_utf16_len(parts[i].text, parts[i].len) <= max);
        CU_ASSERT_TRUE(parts[i].len > 0);
        check_invariants(&parts[i]);
        total += parts[i].len;
    }
    CU_ASSERT_TRUE(total <= t.len);
    CU_ASSERT_TRUE(total + (size_t)(*n > 0 ? *n - 1 : 0) * 2 >= t.len);
    md_text_free(&t);
    return parts;
}

static void check_part(const md_text *p, const char *want)
{
    const char *got = describe(p);
    if (strcmp(got, want))
        fprintf(stderr, "\npart:\n got '%s'\nwant '%s'\n", got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
}

static void test_split_entities(void)
{
    int n;
    /* short: one part, entities as they were */
    md_text *p = split("**a** b", 10, &n);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    check_part(&p[0], "a b [bold 0+1]");
    md_parts_free(p, n);
    /* the cut avoids the bold words: at a space outside them */
    p = split("aa **bb cc** dd", 7, &n);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    check_part(&p[0], "aa");
    check_part(&p[1], "bb cc [bold 0+5]");
    check_part(&p[2], "dd");
    md_parts_free(p, n);
    /* a code block longer than a message: each part has its own pre */
    p = split("Intro\n\n```py\nline1\nline2\nline3\nline4\n```\nend", 12, &n);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    check_part(&p[0], "Intro");
    check_part(&p[1], "line1\nline2 [pre 0+11 py]");
    check_part(&p[2], "line3\nline4 [pre 0+11 py]");
    check_part(&p[3], "end");
    md_parts_free(p, n);
    /* code is cut before an unindented line, not before "    y = 2"
     * (Telegram trims a message's leading blanks) */
    p = split("```py\ndef a():\n    x = 1\ndef b():\n    y = 2\n```", 30, &n);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    check_part(&p[0], "def a():\n    x = 1 [pre 0+18 py]");
    check_part(&p[1], "def b():\n    y = 2 [pre 0+18 py]");
    md_parts_free(p, n);
    /* a bold run with no space outside it: cut inside, reopened */
    p = split("**abcdefghij**", 4, &n);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    check_part(&p[0], "abcd [bold 0+4]");
    check_part(&p[2], "ij [bold 0+2]");
    md_parts_free(p, n);
    /* an emoji family near the cut stays whole, with its entity */
    p = split("xxxxxxx**" FAMILY "**", 12, &n);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    check_part(&p[0], "xxxxxxx");
    check_part(&p[1], FAMILY " [bold 0+11]");
    md_parts_free(p, n);
    p = split("", 10, &n);
    CU_ASSERT_EQUAL(n, 0);
    md_parts_free(p, n);
}

/* Telegram formats 100 entities a message: 250 bold words (1,500 units,
 * one message by length) go in three messages of at most 100 each. */
static void test_split_entity_limit(void)
{
    char md[4096];
    size_t o = 0;
    for (int i = 0; i < 250; i++)
        o += (size_t)snprintf(md + o, sizeof md - o, "**w%03d** ", i);
    int n;
    md_text *p = split(md, TEXT_TG_MAX, &n);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(p[0].n, 100);
    CU_ASSERT_EQUAL(p[1].n, 100);
    CU_ASSERT_EQUAL(p[2].n, 50);
    CU_ASSERT_STRING_EQUAL(p[1].text + strlen(p[1].text) - 4, "w199");
    md_parts_free(p, n);
}

/* A long answer: 5,000-character code block between paragraphs, Cyrillic
 * and emoji, split at Telegram's limit. */
static void test_split_long(void)
{
    size_t cap = 64 * 1024, o = 0;
    char *md = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    o += (size_t)snprintf(md + o, cap - o, "## Пример 😀\n\nСмотрите **код**:\n\n```c\n");
    for (int i = 0; i < 250; i++)
        o += (size_t)snprintf(md + o, cap - o, "int v%03d = %d; /* 👍 */\n", i, i);
    o += (size_t)snprintf(md + o, cap - o, "```\n\nГотово, [ссылка](https://example.com).");
    int n;
    md_text *p = split(md, TEXT_TG_MAX, &n);
    CU_ASSERT_TRUE_FATAL(n >= 3);
    /* the heading and the intro come first, then the code in pieces */
    CU_ASSERT_STRING_EQUAL(p[0].text, "Пример 😀\n\nСмотрите код:");
    int pres = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < p[i].n; k++)
            if (p[i].ents[k].kind == MD_PRE) {
                pres++;
                CU_ASSERT_STRING_EQUAL(p[i].ents[k].arg, "c");
                CU_ASSERT_EQUAL(p[i].ents[k].off, 0);
            }
    CU_ASSERT_TRUE(pres >= 2);
    const md_text *last = &p[n - 1];
    CU_ASSERT_TRUE(last->n >= 1);
    CU_ASSERT_EQUAL(last->ents[last->n - 1].kind, MD_LINK);
    md_parts_free(p, n);
    free(md);
}

/* Random Markdown-ish text (markers, brackets, fences, quotes, lists,
 * emoji, Cyrillic, combining marks, flags, blank lines), deterministic:
 * rendering and splitting never fail, every entity keeps the invariants,
 * every part fits, and letters are never lost outside fences and links. */
static void test_random(void)
{
    static const char *const atoms[] = {
        "*", "**", "_", "__", "~~", "~", "`", "```", "```py\n", "\n", "\n\n", " ", "  ",
        "[", "]", "](https://x.io)", "(", ")", "> ", "- ", "# ", "\\", "!", "1. ", "---\n",
        "a", "b", "word", "я", "слово", "😀", FAMILY, FLAG_RU, THUMB_DARK, E_ACUTE, "\u200D",
    };
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    char buf[2048];
    for (int round = 0; round < 3000; round++) {
        size_t o = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int n_atoms = (int)(x % 120);
        for (int i = 0; i < n_atoms; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *a = atoms[x % (sizeof atoms / sizeof *atoms)];
            size_t l = strlen(a);
            if (o + l >= sizeof buf)
                break;
            memcpy(buf + o, a, l);
            o += l;
        }
        buf[o] = '\0';
        md_text t;
        CU_ASSERT_EQUAL_FATAL(md_render(buf, o, &t), 0);
        check_invariants(&t);
        /* Cyrillic letters are never markup and never in a URL here: all
         * reach the text but those a fence's info string (its language)
         * may take, on a line opening with ``` or ~~~ */
        size_t in_ya = 0, info_ya = 0, out_ya = 0;
        for (const char *line = buf; *line;) {
            const char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            const char *q = line;
            while (q < line + len && q - line < 3 && *q == ' ')
                q++;
            bool fence = !strncmp(q, "```", 3) || !strncmp(q, "~~~", 3);
            for (const char *p = line; (p = strstr(p, "я")) && p < line + len; p += 2)
                *(fence ? &info_ya : &in_ya) += 1;
            line += len + (end ? 1 : 0);
        }
        for (const char *p = t.text; (p = strstr(p, "я")); p += 2)
            out_ya++;
        CU_ASSERT_TRUE(out_ya >= in_ya && out_ya <= in_ya + info_ya);
        if (!(out_ya >= in_ya && out_ya <= in_ya + info_ya) && getenv("MD_DEBUG"))
            fprintf(stderr, "\n--- in:\n%s\n--- out:\n%s\n", buf, t.text);
        size_t max = 4 + (size_t)(x % 40);
        md_text *parts;
        int np;
        CU_ASSERT_EQUAL_FATAL(md_split(&t, max, &parts, &np), 0);
        for (int i = 0; i < np; i++) {
            check_invariants(&parts[i]);
            size_t u = text_utf16_len(parts[i].text, parts[i].len);
            /* a cluster longer than max (a family is 11) may be cut at
             * code points; else every part fits */
            CU_ASSERT_TRUE(u <= max);
        }
        md_parts_free(parts, np);
        md_text_free(&t);
    }
}

static void test_entities_json(void)
{
    md_text t;
    const char *md = "**b** [l](https://x.io) ```sh\nls\n```";
    CU_ASSERT_EQUAL_FATAL(md_render(md, strlen(md), &t), 0);
    jw w;
    jw_init(&w);
    md_write_entities(&w, &t);
    char *js = jw_take(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_STRING_EQUAL(js, "[{\"type\":\"bold\",\"offset\":0,\"length\":1},"
                               "{\"type\":\"text_link\",\"offset\":2,\"length\":1,"
                               "\"url\":\"https://x.io\"}]");
    free(js);
    md_text_free(&t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("markdown", NULL, NULL);
    CU_add_test(s, "grapheme clusters", test_clusters);
    CU_add_test(s, "cluster prefixes in UTF-16 units", test_prefix);
    CU_add_test(s, "text_split keeps clusters whole", test_text_split_clusters);
    CU_add_test(s, "inline markup", test_inline);
    CU_add_test(s, "broken markup loses nothing", test_broken);
    CU_add_test(s, "blocks", test_blocks);
    CU_add_test(s, "offsets in UTF-16 units", test_units);
    CU_add_test(s, "split without cutting entities", test_split_entities);
    CU_add_test(s, "split a long answer with a code block", test_split_long);
    CU_add_test(s, "at most 100 entities a message", test_split_entity_limit);
    CU_add_test(s, "entities as JSON", test_entities_json);
    CU_add_test(s, "random Markdown keeps the invariants", test_random);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
