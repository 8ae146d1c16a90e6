#include <string.h>
#include <apr_strings.h>
#include <apr_date.h>
#include <apr_general.h>
#include <httpd.h>
#include <http_log.h>

#include "aa_ari.h"
#include "acme_util.h"

APLOG_USE_MODULE(acmeauto);

/* How often to ask when the CA does not say, and the bounds on what it
 * may say (RFC 9773 §4.3 asks clients to keep it reasonable). */
#define ARI_DEFAULT_RECHECK apr_time_from_sec(6 * 3600)
#define ARI_MIN_RECHECK apr_time_from_sec(60)
#define ARI_MAX_RECHECK ACME_ARI_RECHECK_MAX    /* a stored one too */
#define ARI_NONE_RECHECK apr_time_from_sec(24 * 3600)

const char *aa_ari_ids(const aa_domain_t *d, apr_pool_t *p)
{
    const apr_array_header_t *a = d->ari_ids ? apr_table_elts(d->ari_ids)
                                             : NULL;
    const apr_table_entry_t *e;
    const char *s = NULL;
    int i;

    for (i = 0; a && i < a->nelts; i++) {
        e = &APR_ARRAY_IDX(a, i, apr_table_entry_t);
        s = s ? apr_pstrcat(p, s, ",", e->val, NULL) : e->val;
    }
    return s;
}

/* A uniformly random moment in [start, end], or now if that has passed. */
static apr_time_t pick_time(apr_time_t start, apr_time_t end, apr_time_t now)
{
    apr_uint32_t r = 0;

    if (end <= now) {
        return now;
    }
    if (start < now) {
        start = now;
    }
    apr_generate_random_bytes((unsigned char *)&r, sizeof(r));
    return start + (apr_time_t)((double)(end - start) * (r / 4294967295.0));
}

static apr_interval_time_t recheck_after(apr_interval_time_t said)
{
    if (said <= 0) {
        return ARI_DEFAULT_RECHECK;
    }
    return said < ARI_MIN_RECHECK ? ARI_MIN_RECHECK
         : said > ARI_MAX_RECHECK ? ARI_MAX_RECHECK : said;
}

/* One certificate's window; 0 on success, with the earliest pick kept. */
static apr_status_t ask_one(aa_ari_state_t *ari, const char *id,
                            const aa_domain_t *d,
                            const acme_domain_spec_t *spec,
                            const acme_job_env_t *env, apr_pool_t *p,
                            server_rec *s, apr_time_t now,
                            apr_interval_time_t *recheck,
                            apr_interval_time_t *error_wait)
{
    acme_ari_t info;
    acme_error_t *err;
    apr_status_t rv = acme_job_ari(&info, &err, p, spec, id, env);
    apr_time_t at;
    char from[APR_RFC822_DATE_LEN], to[APR_RFC822_DATE_LEN];

    if (rv != APR_SUCCESS) {
        /* A question cut short because the server stops is no failure. */
        if (rv != APR_ENOTIMPL
            && !(env->should_abort && env->should_abort(env->baton))) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00401)
                         "%s: %s", d->name, acme_error_line(p, err));
            if (err->retry_after > *error_wait) {
                *error_wait = err->retry_after;
            }
        }
        return rv;
    }
    /* Keep an earlier pick while the CA keeps the same window. */
    at = (ari->start == info.start && ari->end == info.end && ari->renew_at)
         ? ari->renew_at : pick_time(info.start, info.end, now);
    if (!ari->offered || at < ari->renew_at || ari->start != info.start
        || ari->end != info.end) {
        ari->renew_at = at;
    }
    ari->start = info.start;
    ari->end = info.end;
    ari->offered = 1;
    if (recheck_after(info.retry_after) < *recheck) {
        *recheck = recheck_after(info.retry_after);
    }
    apr_rfc822_date(from, info.start);
    apr_rfc822_date(to, info.end);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, AA_LOGNO(00402)
                 "%s: the CA suggests renewing %s between %s and %s%s%s",
                 d->name, id, from, to, info.explanation_url
                 ? "; explanation: " : "", info.explanation_url
                 ? info.explanation_url : "");
    return APR_SUCCESS;
}

void aa_ari_check(aa_ari_state_t *ari, const aa_domain_t *d,
                  const acme_domain_spec_t *spec, const acme_job_env_t *env,
                  apr_pool_t *keep, apr_pool_t *p, server_rec *s,
                  apr_time_t now)
{
    const apr_array_header_t *a;
    apr_interval_time_t recheck = ARI_MAX_RECHECK, error_wait = 0;
    const char *ids;
    int i, answered = 0, unsupported = 0;

    if (!d->is_live || !d->ari_ids || now < ari->next_check) {
        return;
    }
    /* keep lives as long as the child: copy only what changed. */
    ids = aa_ari_ids(d, p);
    if (!ari->ids || !ids || strcmp(ari->ids, ids)) {
        ari->ids = ids ? apr_pstrdup(keep, ids) : NULL;
    }
    ari->offered = 0;
    a = apr_table_elts(d->ari_ids);
    for (i = 0; i < a->nelts; i++) {
        apr_status_t rv = ask_one(ari, APR_ARRAY_IDX(a, i, apr_table_entry_t).val,
                                  d, spec, env, p, s, now, &recheck,
                                  &error_wait);
        answered += rv == APR_SUCCESS;
        unsupported += rv == APR_ENOTIMPL;
    }
    if (!answered) {
        ari->renew_at = 0;
        recheck = unsupported ? ARI_NONE_RECHECK
                : recheck_after(error_wait);    /* the CA's word, bounded */
    }
    ari->next_check = now + recheck;
}

void aa_ari_to_state(acme_state_ari_t *out, const aa_ari_state_t *ari)
{
    out->ids = ari->ids;
    out->offered = ari->offered;
    out->start = ari->start;
    out->end = ari->end;
    out->renew_at = ari->renew_at;
    out->next_check = ari->next_check;
}

void aa_ari_from_state(aa_ari_state_t *ari, const acme_state_ari_t *saved,
                       apr_pool_t *keep)
{
    ari->ids = saved->ids ? apr_pstrdup(keep, saved->ids) : NULL;
    ari->offered = saved->offered;
    ari->start = saved->start;
    ari->end = saved->end;
    ari->renew_at = saved->renew_at;
    ari->next_check = saved->next_check;
}
