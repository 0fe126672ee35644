/*
 * proc.h — the bot under test as a child process (e2e driver).
 *
 * The bot runs with its stdout and stderr appended to a log file, so the
 * log of every start (restarts included) is there to show on failure.
 */
#ifndef BOTC_E2E_PROC_H
#define BOTC_E2E_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct proc {
    pid_t pid;       /* 0 when not running */
    int status;      /* waitpid status of the last exit */
    bool exited;     /* the last run has ended (status valid) */
} proc;

/* Starts `path` with `env` added to (and overriding) the environment, a
 * NULL-terminated list of "KEY=VALUE" (a "KEY" alone unsets KEY). Output goes
 * to log_path (appended). Returns 0, or -1 with a reason in err. */
int proc_start(proc *p, const char *path, char *const env[], const char *log_path,
               char *err, size_t errlen);

/* Whether the child is still running; reaps it (and fills status) if not. */
bool proc_alive(proc *p);

/* Sends `sig` and waits up to timeout_ms for the exit; then SIGKILL. Returns
 * true if it exited within the bound (false if it had to be killed). */
bool proc_stop(proc *p, int sig, int timeout_ms);

/* "exit status 1", "killed by signal 9 (Killed)", "running" into buf. */
const char *proc_describe(const proc *p, char *buf, size_t len);

#endif
