#include <string.h>
#include <sys/wait.h>
#include <httpd.h>
#include <http_log.h>

#include "aa_notify.h"
#include "acme_notify.h"

APLOG_USE_MODULE(acmeauto);

/* Rate limit per domain and event. */
static const apr_interval_time_t min_gap[AA_EV_COUNT] = {
    apr_time_from_sec(60),           /* issued */
    apr_time_from_sec(60),           /* renewed */
    apr_time_from_sec(60),           /* installed */
    apr_time_from_sec(3600),         /* errored */
    apr_time_from_sec(24 * 3600),    /* expiring */
    0,                               /* revoked: the acmeauto command's */
    apr_time_from_sec(3600),         /* restart-blocked */
};

void aa_notify(aa_notify_state_t *ns, const aa_domain_t *d, aa_event_e ev,
               apr_pool_t *p, server_rec *s)
{
    const char *name = acme_event_name((acme_event_e)ev);
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    int status;

    if (!d->notify_cmd || (ns->last[ev] && now - ns->last[ev] < min_gap[ev])) {
        return;
    }
    ns->last[ev] = now;
    rv = acme_notify_run(&status, d->notify_cmd, name, d->name,
                         ACME_NOTIFY_TIMEOUT, p);
    if (rv == APR_TIMEUP) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00502)
                     "%s: ACMENotifyCmd for '%s' took longer than %d s "
                     "and was stopped", d->name, name,
                     (int)apr_time_sec(ACME_NOTIFY_TIMEOUT));
        return;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, AA_LOGNO(00501)
                     "%s: cannot run ACMENotifyCmd %s", d->name,
                     APR_ARRAY_IDX(d->notify_cmd, 0, const char *));
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, AA_LOGNO(00504)
                 "%s: ran ACMENotifyCmd for '%s'", d->name, name);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00503)
                     "%s: ACMENotifyCmd for '%s' failed (%s %d)", d->name,
                     name, WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status)
                                       : WTERMSIG(status));
    }
}

void aa_notify_to_state(apr_time_t *last, const aa_notify_state_t *ns)
{
    memcpy(last, ns->last, sizeof(ns->last));
}

void aa_notify_from_state(aa_notify_state_t *ns, const apr_time_t *last)
{
    memcpy(ns->last, last, sizeof(ns->last));
}
