/*
 * main.c — the botc command line.
 *
 *   botc check SPEC            load and check; print diagnostics
 *   botc gen SPEC -o DIR [--line-directives]
 *                              ... and write DIR/<bot>.{h,c,re} and <bot>_main.c
 *   botc graph SPEC [-o BASE]  the machine as a Graphviz graph
 *   botc diff OLD NEW [--db FILE]  what a spec change means for live users
 *   botc test SPEC [--bin PATH] [--min-states P] [--min-transitions P]
 *                              run the transcripts in spec/<bot>/tests/ (bin/<bot>-test --test)
 *   botc import DOC.md|DOC.pdf [-o FILE.txt] [--lang LANG]
 *                              a document as a knowledge file (codegen/import.h)
 *   botc --help | -h | help,  botc --version
 *
 * Exit status: 0 ok (warnings go to stderr), 1 errors in the spec (every
 * diagnostic printed) or an I/O failure, 2 a usage error.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "diag.h"
#include "emit_dot.h"
#include "import.h"
#include "load.h"
#include "lower.h"
#include "output.h"
#include "spec_diff.h"

#define BOTC_VERSION "0.1.0"

/* Each command: its synopsis and what it does, for `botc --help` (all of
 * them) and `botc CMD --help` (its own); `status` when its exit status
 * means other than a spec's errors. */
typedef struct command_help {
    const char *name, *synopsis, *what, *status;
} command_help;

static const command_help commands[] = {
    {"check", "botc check SPEC",
     "    read SPEC (bot.yaml or bot.lua, or the folder holding one) and report\n"
     "    every error and warning\n", NULL},
    {"gen", "botc gen SPEC -o DIR [--line-directives]",
     "    check SPEC, then write DIR/<bot>.h, <bot>.c, <bot>.re and <bot>_main.c\n"
     "    (files whose content is unchanged are not touched). --line-directives\n"
     "    puts #line directives into <bot>.c, so that compiler messages and gdb\n"
     "    point at the spec's lines (the build does so outside generated/)\n", NULL},
    {"graph", "botc graph SPEC [-o BASE]",
     "    draw the state machine: Graphviz DOT on stdout, or with -o BASE.dot and\n"
     "    (when Graphviz is installed) BASE.svg, BASE.png\n", NULL},
    {"diff", "botc diff OLD_SPEC NEW_SPEC [--db FILE]",
     "    list states, fields and commands added, removed or renamed between two\n"
     "    versions of a spec; with --db, count the users stranded in removed states\n", NULL},
    {"test", "botc test SPEC [--bin PATH] [--min-states PCT] [--min-transitions PCT]",
     "    run the conversation tests SPEC_DIR/tests/*.yaml in the bot's test build\n"
     "    (bin/<bot>-test, or --bin PATH; run make first) and print coverage; exit 1\n"
     "    when a test fails or coverage is below a threshold\n", NULL},
    {"import", "botc import DOC.md|DOC.pdf [-o FILE.txt] [--lang LANG]",
     "    turn a Markdown or PDF document (contract, terms, FAQ) into a knowledge\n"
     "    file for llm: knowledge: -- every heading a '## ' section of plain\n"
     "    paragraphs -- on stdout or into FILE.txt (beside the spec: -o\n"
     "    spec/<bot>/terms.txt). The same document gives the same bytes, so a\n"
     "    re-import shows what changed in the diff. --lang LANG: the document's\n"
     "    language, which the file's name must carry (terms.LANG.txt). A PDF is\n"
     "    read with pdftotext (apt-get install poppler-utils) and its headings are\n"
     "    guessed: review them (spec/REFERENCE.md, \"Importing documents\")\n",
     "exit status: 0 written, 1 the document cannot be read or has no text, 2 usage error\n"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static const command_help *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

/* Every command's usage, or only `only`'s. */
static void usage(FILE *out, const command_help *only)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (!only || only == &commands[i])
            fprintf(out, "%s %s\n", i == 0 || only ? "usage:" : "      ", commands[i].synopsis);
    if (!only)
        fputs("       botc --help | --version | COMMAND --help\n", out);
    fputs("\n", out);
    for (int i = 0; i < N_COMMANDS; i++)
        if (!only || only == &commands[i])
            fprintf(out, "%s%s%s%s", only ? "" : "  ", only ? "" : commands[i].name,
                    only ? "" : "\n", commands[i].what);
    fputs("\n", out);
    fputs(only && only->status ? only->status : "exit status: 0 ok, 1 errors in the spec, 2 usage error\n",
          out);
}

static int usage_error(const command_help *cmd, const char *fmt, const char *arg)
{
    fputs("botc: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n", stderr);
    usage(stderr, cmd);
    return 2;
}

/* A folder stands for the spec inside it (as `botc test` takes one): its
 * bot.yaml, else its bot.lua. Returns the spec's path (arena), or NULL with
 * the reason printed when the folder holds neither. */
static const char *spec_in(arena *a, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return path;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    static const char *const names[] = {"bot.yaml", "bot.lua"};
    for (int i = 0; i < 2; i++) {
        const char *spec = arena_printf(a, "%.*s/%s", (int)n, path, names[i]);
        if (stat(spec, &st) == 0)
            return spec;
    }
    fprintf(stderr, "botc: no bot.yaml or bot.lua in %s\n", path);
    return NULL;
}

/* Load and check `path`; with `m`, lower it too (lowering reports what
 * only it can see, e.g. a pattern shadowed by an earlier one). Prints every
 * diagnostic once. Returns the IR, or NULL when there are errors. */
static ir_spec *load_checked(arena *a, const char *path, low_machine **m)
{
    diag_list *d = NULL;
    ir_spec *s = load_spec(a, path, &d);
    if (s && diag_errors(d) == 0 && m)
        *m = low_lower(a, s, d);
    int errors = diag_errors(d);
    diag_print(d, stderr);
    diag_free(d);
    return (s && errors == 0) ? s : NULL;
}

/* Two or three lower-case letters: "en", "ru", "srp". */
static int lang_ok(const char *lang)
{
    size_t n = strlen(lang);
    if (n < 2 || n > 3)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lang[i] < 'a' || lang[i] > 'z')
            return 0;
    return 1;
}

/* s ends with suffix, ignoring ASCII case. */
static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* The whole of `path` (arena), at most `max` bytes. NULL with the reason
 * printed. */
static char *read_doc(arena *a, const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "botc: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = arena_alloc(a, max + 1);
    size_t n = fread(buf, 1, max + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        fprintf(stderr, bad ? "botc: cannot read %s\n" : "botc: %s is larger than %zu MiB\n", path,
                max >> 20);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* botc import: the document through its reader (import_md.c,
 * import_pdf.c) into a knowledge file on stdout or in `out`. */
static int cmd_import(const char *path, const char *out, const char *lang)
{
    arena *a = arena_new();
    imp_doc *d = imp_new(a, path, lang);
    int rc = 1;
    if (ends_with(path, ".pdf")) {
        char err[1024];
        if (import_pdf(d, path, err, sizeof err) < 0) {
            fprintf(stderr, "botc: %s\n", err);
            goto done;
        }
    } else {
        size_t len;
        char *text = read_doc(a, path, 4 * IMP_OUT_MAX, &len);
        if (!text)
            goto done;
        import_md(d, text, len);
    }
    size_t len;
    const char *kb = imp_render(d, &len);
    if (!strstr(kb, "\n## ")) {
        fprintf(stderr, "botc: %s has no text to import\n", path);
        goto done;
    }
    if (len > IMP_OUT_MAX) {
        fprintf(stderr, "botc: %s makes %zu KiB of knowledge, more than the %zu KiB a knowledge "
                        "file may hold: split the document\n", path, len >> 10, IMP_OUT_MAX >> 10);
        goto done;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "botc: cannot write %s: %s\n", out, strerror(errno));
        goto done;
    }
    int bad = fwrite(kb, 1, len, f) != len;
    bad |= out ? fclose(f) != 0 : fflush(f) != 0;
    if (bad) {
        fprintf(stderr, "botc: cannot write %s\n", out ? out : "stdout");
        goto done;
    }
    rc = 0;
done:
    arena_free(a);
    return rc;
}

static int cmd_check(const char *path)
{
    arena *a = arena_new();
    low_machine *m = NULL;
    int rc = load_checked(a, path, &m) && m ? 0 : 1;
    arena_free(a);
    return rc;
}

static int cmd_gen(const char *path, const char *dir, int line_directives)
{
    arena *a = arena_new();
    int rc = 1;
    low_machine *m = NULL;
    if (load_checked(a, path, &m) && m) {
        out_file files[OUT_N_FILES];
        char err[512];
        out_render(a, m, line_directives ? dir : NULL, files);
        if (out_write(dir, files, OUT_N_FILES, err, sizeof err) < 0)
            fprintf(stderr, "botc: %s\n", err);
        else
            rc = 0;
    } else {
        fprintf(stderr, "botc: %s has errors; nothing written\n", path);
    }
    arena_free(a);
    return rc;
}

/* Run Graphviz's `dot -T<format> in -o out`. Returns 0 on success, 1 when
 * dot is not installed, -1 when it failed. */
static int run_graphviz(const char *format, const char *in, const char *out)
{
    char fmt_arg[16];
    snprintf(fmt_arg, sizeof fmt_arg, "-T%s", format);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("dot", "dot", fmt_arg, in, "-o", out, (char *)NULL);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return 1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* DOT on stdout, or BASE.dot plus BASE.svg and BASE.png when Graphviz is
 * installed. */
static int cmd_graph(const char *path, const char *base)
{
    arena *a = arena_new();
    ir_spec *s = load_checked(a, path, NULL);
    int rc = 1;
    if (s && !base) {
        rc = emit_dot(s, stdout) == 0 && fflush(stdout) == 0 ? 0 : 1;
    } else if (s) {
        char *dot_path = arena_printf(a, "%s.dot", base);
        FILE *f = fopen(dot_path, "w");
        if (!f) {
            fprintf(stderr, "botc: cannot write %s: %s\n", dot_path, strerror(errno));
        } else {
            int bad = emit_dot(s, f);
            if (fclose(f) != 0 || bad) {
                fprintf(stderr, "botc: cannot write %s\n", dot_path);
            } else {
                rc = 0;
                static const char *const formats[] = {"svg", "png"};
                for (int i = 0; i < 2 && rc == 0; i++) {
                    char *img = arena_printf(a, "%s.%s", base, formats[i]);
                    int g = run_graphviz(formats[i], dot_path, img);
                    if (g == 1) {
                        fprintf(stderr, "botc: Graphviz is not installed (apt-get install graphviz);"
                                        " wrote %s only\n", dot_path);
                        break;
                    }
                    if (g < 0) {
                        fprintf(stderr, "botc: dot failed to render %s\n", img);
                        rc = 1;
                    }
                }
            }
        }
    }
    arena_free(a);
    return rc;
}

static int cmd_diff(const char *old_path, const char *new_path, const char *db)
{
    arena *a = arena_new();
    ir_spec *o = load_checked(a, old_path, NULL);
    ir_spec *n = o ? load_checked(a, new_path, NULL) : NULL;
    int rc = 1;
    if (o && n)
        rc = spec_diff(o, n, db, stdout) == 0 ? 0 : 1;
    arena_free(a);
    return rc;
}

/* botc test: find the spec's folder, its bot's test build (the production
 * bin/<bot> has no test runner) and its transcripts, then become
 * `BIN --test [thresholds] FILE...`: the transcripts run in-process against
 * the generated machine (runtime/front/convtest.c). */
static int cmd_test(const char *spec, const char *bin, const char *min_states,
                    const char *min_tr)
{
    char dir[4096], name[256], spec_file[4200], binbuf[4400], pattern[4200];
    struct stat st;
    snprintf(dir, sizeof dir, "%s", spec);
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof dir, ".");
    }
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    const char *base = strrchr(dir, '/');
    snprintf(name, sizeof name, "%s", base ? base + 1 : dir);
    snprintf(spec_file, sizeof spec_file, "%s/bot.yaml", dir);
    if (stat(spec_file, &st) != 0)
        snprintf(spec_file, sizeof spec_file, "%s/bot.lua", dir);
    struct stat spec_st;
    if (stat(spec_file, &spec_st) != 0) {
        fprintf(stderr, "botc: no bot.yaml or bot.lua in %s\n", dir);
        return 1;
    }
    if (!bin) {
        snprintf(binbuf, sizeof binbuf, "bin/%s-test", name);
        bin = binbuf;
    }
    struct stat bin_st;
    if (stat(bin, &bin_st) != 0) {
        fprintf(stderr, "botc: %s is not built; run `make` first (or pass --bin PATH)\n", bin);
        return 1;
    }
    if (bin_st.st_mtime < spec_st.st_mtime) {
        fprintf(stderr, "botc: %s is older than %s; run `make` to rebuild it\n", bin, spec_file);
        return 1;
    }
    snprintf(pattern, sizeof pattern, "%s/tests/*.yaml", dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        fprintf(stderr, "botc: no conversation tests: %s matches nothing\n", pattern);
        return 1;
    }
    char **args = calloc(g.gl_pathc + 8, sizeof *args);
    if (!args) {
        globfree(&g);
        return 1;
    }
    int k = 0;
    args[k++] = (char *)bin;
    args[k++] = "--test";
    if (min_states) {
        args[k++] = "--min-states";
        args[k++] = (char *)min_states;
    }
    if (min_tr) {
        args[k++] = "--min-transitions";
        args[k++] = (char *)min_tr;
    }
    for (size_t i = 0; i < g.gl_pathc; i++)
        args[k++] = g.gl_pathv[i];
    fflush(stdout);
    execv(bin, args);
    fprintf(stderr, "botc: cannot run %s: %s\n", bin, strerror(errno));
    free(args);
    globfree(&g);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error(NULL, "%s", "no command given");
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout, argc > 2 ? find_command(argv[2]) : NULL);
        return 0;
    }
    if (!strcmp(name, "--version")) {
        printf("botc %s\n", BOTC_VERSION);
        return 0;
    }
    const command_help *cmd = find_command(name);
    if (!cmd)
        return usage_error(NULL, "unknown command '%s'", name);
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0, line_directives = 0;
    const char *out = NULL, *db = NULL, *bin = NULL, *min_states = NULL, *min_tr = NULL;
    const char *lang = NULL;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        const char **test_opt = !strcmp(arg, "--bin") ? &bin
                                : !strcmp(arg, "--min-states") ? &min_states
                                : !strcmp(arg, "--min-transitions") ? &min_tr : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout, cmd);
            return 0;
        } else if (test_opt) {
            if (i + 1 >= argc)
                return usage_error(cmd, "%s needs a value", arg);
            if (strcmp(name, "test"))
                return usage_error(cmd, "%s applies to 'test' only", arg);
            *test_opt = argv[++i];
        } else if (!strcmp(arg, "--lang")) {
            if (i + 1 >= argc)
                return usage_error(cmd, "%s needs a value", arg);
            if (strcmp(name, "import"))
                return usage_error(cmd, "%s applies to 'import' only", arg);
            lang = argv[++i];
        } else if (!strcmp(arg, "--line-directives")) {
            if (strcmp(name, "gen"))
                return usage_error(cmd, "%s applies to 'gen' only", arg);
            line_directives = 1;
        } else if (!strcmp(arg, "-o") || !strcmp(arg, "--db")) {
            if (i + 1 >= argc)
                return usage_error(cmd, "%s needs a value", arg);
            if (arg[1] == 'o')
                out = argv[++i];
            else
                db = argv[++i];
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return usage_error(cmd, "unknown option '%s'", arg);
        } else if (n_pos < 2) {
            pos[n_pos++] = arg;
        } else {
            return usage_error(cmd, "unexpected argument '%s'", arg);
        }
    }
    int want = !strcmp(name, "diff") ? 2 : 1;
    if (n_pos != want)
        return usage_error(cmd, n_pos >= want              ? "'%s': too many arguments"
                                : !strcmp(name, "import") ? "'%s': missing DOC"
                                                          : "'%s': missing SPEC",
                           name);
    if (out && strcmp(name, "gen") && strcmp(name, "graph") && strcmp(name, "import"))
        return usage_error(cmd, "'%s' takes no -o", name);
    if (db && strcmp(name, "diff"))
        return usage_error(cmd, "'%s' takes no --db", name);
    if (!strcmp(name, "gen") && !out)
        return usage_error(cmd, "%s", "gen needs -o DIR");
    if (!strcmp(name, "test"))
        return cmd_test(pos[0], bin, min_states, min_tr);
    if (!strcmp(name, "import")) {
        if (!ends_with(pos[0], ".md") && !ends_with(pos[0], ".markdown") && !ends_with(pos[0], ".pdf"))
            return usage_error(cmd, "cannot import '%s': name a Markdown (.md) or PDF (.pdf) file",
                               pos[0]);
        if (lang && !lang_ok(lang))
            return usage_error(cmd, "--lang '%s': a language code such as en or ru", lang);
        if (lang && out) {
            char suffix[16];
            snprintf(suffix, sizeof suffix, ".%s.txt", lang);
            if (!ends_with(out, suffix))
                return usage_error(cmd, "-o '%s': a knowledge file's language is in its name; "
                                        "with --lang LANG, name it NAME.LANG.txt", out);
        }
        return cmd_import(pos[0], out, lang);
    }
    arena *a = arena_new();
    const char *spec = spec_in(a, pos[0]);
    const char *spec2 = want == 2 && spec ? spec_in(a, pos[1]) : NULL;
    int rc = 1;
    if (spec && !strcmp(name, "check"))
        rc = cmd_check(spec);
    else if (spec && !strcmp(name, "gen"))
        rc = cmd_gen(spec, out, line_directives);
    else if (spec && !strcmp(name, "graph"))
        rc = cmd_graph(spec, out);
    else if (spec2)
        rc = cmd_diff(spec, spec2, db);
    arena_free(a);
    return rc;
}
