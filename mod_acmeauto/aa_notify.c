#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_log.h>

#include "aa_notify.h"

APLOG_USE_MODULE(acmeauto);

#define NOTIFY_TIMEOUT apr_time_from_sec(30)

/* Rate limit per domain and event. */
static const apr_interval_time_t min_gap[AA_EV_COUNT] = {
    apr_time_from_sec(60),           /* issued */
    apr_time_from_sec(60),           /* renewed */
    apr_time_from_sec(60),           /* installed */
    apr_time_from_sec(3600),         /* errored */
    apr_time_from_sec(24 * 3600),    /* expiring */
};

/* Waits for the program; when it takes too long, its whole process group
 * is killed, so that a script's own children (a `sleep` it waits for, say)
 * do not outlive it. */
static void reap(pid_t pid, const aa_domain_t *d, const char *ev,
                 server_rec *s)
{
    apr_time_t until = apr_time_now() + NOTIFY_TIMEOUT;
    int status = 0;
    pid_t got;

    while ((got = waitpid(pid, &status, WNOHANG)) == 0
           || (got < 0 && errno == EINTR)) {
        if (apr_time_now() > until) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00502)
                         "%s: ACMENotifyCmd for '%s' took longer than %d s "
                         "and was stopped", d->name, ev,
                         (int)apr_time_sec(NOTIFY_TIMEOUT));
            return;
        }
        apr_sleep(apr_time_from_msec(50));
    }
    if (got == pid && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00503)
                     "%s: ACMENotifyCmd for '%s' failed (%s %d)", d->name, ev,
                     WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status)
                                       : WTERMSIG(status));
    }
}

void aa_notify(aa_notify_state_t *ns, const aa_domain_t *d, aa_event_e ev,
               apr_pool_t *p, server_rec *s)
{
    /* No secrets here: the environment is ours, not Apache's. */
    static char *const env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
                                 "LANG=C", NULL };
    const apr_array_header_t *cmd = d->notify_cmd;
    const char *name = acme_event_name((acme_event_e)ev);
    apr_time_t now = apr_time_now();
    posix_spawnattr_t attr;
    char **argv;
    pid_t pid;
    int i, err;

    if (!cmd || (ns->last[ev] && now - ns->last[ev] < min_gap[ev])) {
        return;
    }
    ns->last[ev] = now;
    argv = apr_pcalloc(p, sizeof(char *) * (cmd->nelts + 3));
    for (i = 0; i < cmd->nelts; i++) {
        argv[i] = apr_pstrdup(p, APR_ARRAY_IDX(cmd, i, const char *));
    }
    argv[i++] = apr_pstrdup(p, name);
    argv[i] = apr_pstrdup(p, d->name);
    /* A process group of its own, to be stopped as a whole. */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    err = posix_spawn(&pid, argv[0], NULL, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, APR_FROM_OS_ERROR(err), s,
                     AA_LOGNO(00501) "%s: cannot run ACMENotifyCmd %s",
                     d->name, argv[0]);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, AA_LOGNO(00504)
                 "%s: ran ACMENotifyCmd for '%s'", d->name, name);
    reap(pid, d, name, s);
}

void aa_notify_to_state(apr_time_t *last, const aa_notify_state_t *ns)
{
    memcpy(last, ns->last, sizeof(ns->last));
}

void aa_notify_from_state(aa_notify_state_t *ns, const apr_time_t *last)
{
    memcpy(ns->last, last, sizeof(ns->last));
}
