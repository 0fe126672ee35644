/*
 * proc.c — start, watch and stop the bot under test (see proc.h).
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int proc_start(proc *p, const char *path, char *const env[], const char *log_path,
               char *err, size_t errlen)
{
    if (access(path, X_OK) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", log_path, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (pid == 0) {
        /* child: only async-signal-safe-ish work between fork and exec */
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        for (int i = 0; env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq) {
                char key[128];
                size_t n = (size_t)(eq - env[i]);
                if (n >= sizeof key) continue;
                memcpy(key, env[i], n);
                key[n] = 0;
                setenv(key, eq + 1, 1);
            } else {
                unsetenv(env[i]);
            }
        }
        signal(SIGPIPE, SIG_DFL);
        execl(path, path, (char *)NULL);
        fprintf(stderr, "e2e: exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fd);
    p->pid = pid;
    p->exited = false;
    p->status = 0;
    return 0;
}

bool proc_alive(proc *p)
{
    if (p->pid <= 0) return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->status = st;
        p->exited = true;
        p->pid = 0;
        return false;
    }
    return r == 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool proc_stop(proc *p, int sig, int timeout_ms)
{
    if (!proc_alive(p)) return true;
    kill(p->pid, sig);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (!proc_alive(p)) return true;
        sleep_ms(10);
    }
    kill(p->pid, SIGKILL);
    int st;
    if (waitpid(p->pid, &st, 0) == p->pid) {
        p->status = st;
        p->exited = true;
    }
    p->pid = 0;
    return false;
}

const char *proc_describe(const proc *p, char *buf, size_t len)
{
    if (p->pid > 0)
        snprintf(buf, len, "running");
    else if (!p->exited)
        snprintf(buf, len, "not started");
    else if (WIFEXITED(p->status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(p->status));
    else if (WIFSIGNALED(p->status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(p->status), strsignal(WTERMSIG(p->status)));
    else
        snprintf(buf, len, "status %d", p->status);
    return buf;
}
