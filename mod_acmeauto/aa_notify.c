#include <string.h>
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

/* Waits for the program, killing it when it takes too long. */
static void reap(apr_proc_t *proc, const aa_domain_t *d, const char *ev,
                 server_rec *s)
{
    apr_time_t until = apr_time_now() + NOTIFY_TIMEOUT;
    apr_exit_why_e why;
    int code = 0;

    while (apr_proc_wait(proc, &code, &why, APR_NOWAIT) == APR_CHILD_NOTDONE) {
        if (apr_time_now() > until) {
            apr_proc_kill(proc, SIGKILL);
            apr_proc_wait(proc, &code, &why, APR_WAIT);
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00502)
                         "%s: ACMENotifyCmd for '%s' took longer than %d s "
                         "and was stopped", d->name, ev,
                         (int)apr_time_sec(NOTIFY_TIMEOUT));
            return;
        }
        apr_sleep(apr_time_from_msec(50));
    }
    if (why != APR_PROC_EXIT || code != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00503)
                     "%s: ACMENotifyCmd for '%s' failed (%s %d)", d->name, ev,
                     why == APR_PROC_EXIT ? "exit status" : "signal", code);
    }
}

void aa_notify(aa_notify_state_t *ns, const aa_domain_t *d, aa_event_e ev,
               apr_pool_t *p, server_rec *s)
{
    /* No secrets here: the environment is ours, not Apache's. */
    static const char *const env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
                                       "LANG=C", NULL };
    const apr_array_header_t *cmd = d->notify_cmd;
    const char *name = acme_event_name((acme_event_e)ev);
    apr_time_t now = apr_time_now();
    const char **argv;
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_status_t rv;
    int i;

    if (!cmd || (ns->last[ev] && now - ns->last[ev] < min_gap[ev])) {
        return;
    }
    ns->last[ev] = now;
    argv = apr_pcalloc(p, sizeof(char *) * (cmd->nelts + 3));
    for (i = 0; i < cmd->nelts; i++) {
        argv[i] = APR_ARRAY_IDX(cmd, i, const char *);
    }
    argv[i++] = name;
    argv[i] = d->name;
    if ((rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM)) != APR_SUCCESS
        || (rv = apr_procattr_detach_set(attr, 0)) != APR_SUCCESS
        || (rv = apr_proc_create(&proc, argv[0], argv, env, attr, p))
           != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, AA_LOGNO(00501)
                     "%s: cannot run ACMENotifyCmd %s", d->name, argv[0]);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, AA_LOGNO(00504)
                 "%s: ran ACMENotifyCmd for '%s'", d->name, name);
    reap(&proc, d, name, s);
}

void aa_notify_to_state(apr_time_t *last, const aa_notify_state_t *ns)
{
    memcpy(last, ns->last, sizeof(ns->last));
}

void aa_notify_from_state(aa_notify_state_t *ns, const apr_time_t *last)
{
    memcpy(ns->last, last, sizeof(ns->last));
}
