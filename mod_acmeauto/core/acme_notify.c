#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <apr_strings.h>

#include "acme_notify.h"

apr_status_t acme_notify_reap(int *status, pid_t pid, apr_time_t until)
{
    pid_t got;

    while ((got = waitpid(pid, status, WNOHANG)) == 0
           || (got < 0 && errno == EINTR)) {
        if (apr_time_now() > until) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
            }
            return APR_TIMEUP;
        }
        apr_sleep(apr_time_from_msec(20));
    }
    return got == pid ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
}

apr_status_t acme_notify_run(int *status, const apr_array_header_t *cmd,
                             const char *event, const char *name,
                             apr_interval_time_t timeout, apr_pool_t *p)
{
    /* No secrets here: the environment is ours, not the caller's. */
    static char *const env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
                                 "LANG=C", NULL };
    posix_spawnattr_t attr;
    char **argv;
    pid_t pid;
    int i, err;

    *status = 0;
    argv = apr_pcalloc(p, sizeof(char *) * (cmd->nelts + 3));
    for (i = 0; i < cmd->nelts; i++) {
        argv[i] = apr_pstrdup(p, APR_ARRAY_IDX(cmd, i, const char *));
    }
    argv[i++] = apr_pstrdup(p, event);
    argv[i] = apr_pstrdup(p, name);
    /* A process group of its own, to be stopped as a whole. */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    err = posix_spawn(&pid, argv[0], NULL, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    if (err) {
        return APR_FROM_OS_ERROR(err);
    }
    return acme_notify_reap(status, pid, apr_time_now() + timeout);
}
