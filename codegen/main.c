/*
 * main.c — the botc command line.
 *
 *   botc check SPEC            load and check; print diagnostics
 *   botc gen SPEC -o DIR       ... and write DIR/<bot>.{h,c,re} and <bot>_main.c
 *   botc graph SPEC [-o BASE]  the machine as a Graphviz graph
 *   botc diff OLD NEW [--db FILE]  what a spec change means for live users
 *   botc --help | -h | help,  botc --version
 *
 * Exit status: 0 ok (warnings go to stderr), 1 errors in the spec (every
 * diagnostic printed) or an I/O failure, 2 a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "diag.h"
#include "emit_dot.h"
#include "load.h"
#include "lower.h"
#include "output.h"
#include "spec_diff.h"

#define BOTC_VERSION "0.1.0"

static void usage(FILE *out)
{
    fputs("usage: botc check SPEC\n"
          "       botc gen SPEC -o DIR\n"
          "       botc graph SPEC [-o BASE]\n"
          "       botc diff OLD_SPEC NEW_SPEC [--db FILE]\n"
          "       botc --help | --version\n"
          "\n"
          "  check   read SPEC (bot.yaml or bot.lua), report every error and warning\n"
          "  gen     check SPEC, then write DIR/<bot>.h, <bot>.c, <bot>.re and\n"
          "          <bot>_main.c (files whose content is unchanged are not touched)\n"
          "  graph   draw the state machine: Graphviz DOT on stdout, or with -o\n"
          "          BASE.dot and (when Graphviz is installed) BASE.svg, BASE.png\n"
          "  diff    list states, fields and commands added, removed or renamed\n"
          "          between two versions of a spec; with --db, count the users\n"
          "          stranded in removed states\n"
          "\n"
          "exit status: 0 ok, 1 errors in the spec, 2 usage error\n",
          out);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("botc: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n", stderr);
    usage(stderr);
    return 2;
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

static int cmd_check(const char *path)
{
    arena *a = arena_new();
    low_machine *m = NULL;
    int rc = load_checked(a, path, &m) && m ? 0 : 1;
    arena_free(a);
    return rc;
}

static int cmd_gen(const char *path, const char *dir)
{
    arena *a = arena_new();
    int rc = 1;
    low_machine *m = NULL;
    if (load_checked(a, path, &m) && m) {
        out_file files[OUT_N_FILES];
        char err[512];
        out_render(a, m, files);
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

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "no command given");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("botc %s\n", BOTC_VERSION);
        return 0;
    }
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0;
    const char *out = NULL, *db = NULL;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-o") || !strcmp(arg, "--db")) {
            if (i + 1 >= argc)
                return usage_error("%s needs a value", arg);
            if (arg[1] == 'o')
                out = argv[++i];
            else
                db = argv[++i];
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return usage_error("unknown option '%s'", arg);
        } else if (n_pos < 2) {
            pos[n_pos++] = arg;
        } else {
            return usage_error("unexpected argument '%s'", arg);
        }
    }
    int want = !strcmp(cmd, "diff") ? 2 : 1;
    if (strcmp(cmd, "check") && strcmp(cmd, "gen") && strcmp(cmd, "graph") && strcmp(cmd, "diff"))
        return usage_error("unknown command '%s'", cmd);
    if (n_pos != want)
        return usage_error(n_pos < want ? "'%s': missing SPEC" : "'%s': too many arguments", cmd);
    if (out && strcmp(cmd, "gen") && strcmp(cmd, "graph"))
        return usage_error("'%s' takes no -o", cmd);
    if (db && strcmp(cmd, "diff"))
        return usage_error("'%s' takes no --db", cmd);
    if (!strcmp(cmd, "check"))
        return cmd_check(pos[0]);
    if (!strcmp(cmd, "gen")) {
        if (!out)
            return usage_error("%s", "gen needs -o DIR");
        return cmd_gen(pos[0], out);
    }
    if (!strcmp(cmd, "graph"))
        return cmd_graph(pos[0], out);
    return cmd_diff(pos[0], pos[1], db);
}
