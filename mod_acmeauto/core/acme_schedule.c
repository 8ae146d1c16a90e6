#include "acme_schedule.h"

#define TIME_MAX APR_INT64_MAX
#define TIME_MIN APR_INT64_MIN

apr_time_t acme_time_from_stored(apr_int64_t secs)
{
    if (secs <= 0) {
        return 0;
    }
    return apr_time_from_sec(secs > ACME_STORED_SEC_MAX
                             ? ACME_STORED_SEC_MAX : secs);
}

apr_time_t acme_time_clamp(apr_time_t t, apr_time_t lo, apr_time_t hi)
{
    return t < lo ? lo : (t > hi ? hi : t);
}

apr_time_t acme_time_add(apr_time_t a, apr_interval_time_t b)
{
    if (b > 0 && a > TIME_MAX - b) {
        return TIME_MAX;
    }
    if (b < 0 && a < TIME_MIN - b) {
        return TIME_MIN;
    }
    return a + b;
}

apr_time_t acme_renew_time(apr_time_t not_before, apr_time_t not_after,
                           int pct, apr_interval_time_t left)
{
    apr_interval_time_t lifetime = not_after - not_before;
    apr_time_t at, emergency;

    /* Dates from a certificate are bounded (year 9999), but the
     * difference of two may still be near the range of apr_time_t:
     * divide before multiplying, and never subtract past the start. */
    if (not_before < 0 || not_after <= not_before) {
        return not_before;
    }
    pct = pct < 0 ? 0 : (pct > 100 ? 100 : pct);
    if (left >= lifetime) {
        left = 0;
        pct = ACME_RENEW_PCT_FALLBACK;
    }
    at = left > 0 ? not_after - left : not_after - lifetime / 100 * pct;
    emergency = not_after - lifetime / 100 * ACME_EMERGENCY_PCT;
    if (at > emergency) {
        at = emergency;
    }
    return at < not_before ? not_before : at;
}

apr_interval_time_t acme_retry_delay(int failures,
                                     apr_interval_time_t first_delay,
                                     apr_interval_time_t max_delay,
                                     apr_interval_time_t config_min,
                                     const acme_error_t *err,
                                     int jitter_pct, double jitter_rand)
{
    apr_interval_time_t delay = first_delay;
    int i;

    for (i = 1; i < failures && delay < max_delay; i++) {
        delay *= 2;
    }
    if (delay > max_delay) {
        delay = max_delay;
    }
    /* Jitter spreads many servers (or domains) failing together. */
    if (jitter_pct > 0 && jitter_rand > 0) {
        delay += (apr_interval_time_t)((double)delay * jitter_pct / 100.0
                                       * (jitter_rand > 1 ? 1 : jitter_rand));
    }
    if (err && err->kind == ACME_FAIL_CONFIG && delay < config_min) {
        delay = config_min;
    }
    if (err && err->retry_after > delay) {
        delay = err->retry_after;
    }
    return delay > max_delay ? max_delay : delay;
}

int acme_rate_allow(apr_time_t *tat, apr_time_t now, int burst,
                    apr_interval_time_t interval)
{
    apr_interval_time_t tolerance = (apr_interval_time_t)(burst - 1)
                                    * interval;

    if (*tat > now + tolerance + interval) {
        *tat = now + tolerance;    /* the clock went back */
    }
    if (*tat < now) {
        *tat = now;
    }
    if (*tat - now > tolerance) {
        return 0;
    }
    *tat += interval;
    return 1;
}

int acme_sched_due(const acme_sched_view_t *v, apr_time_t now)
{
    int wanted = !v->is_live || now >= v->renew_at
                 || (v->ari_renew_at && now >= v->ari_renew_at);

    return wanted && now >= v->next_attempt;
}

/* t, if it lies after now and before *next. */
static void earlier(apr_time_t *next, apr_time_t t, apr_time_t now)
{
    if (t > now && t < *next) {
        *next = t;
    }
}

apr_time_t acme_sched_wakeup(const acme_sched_view_t *v, apr_time_t now,
                             apr_time_t until)
{
    apr_time_t next = until;

    earlier(&next, v->next_attempt, now);
    if (v->is_live) {
        earlier(&next, v->renew_at, now);
        earlier(&next, v->expiring_at, now);
        earlier(&next, v->ari_renew_at, now);
        if (v->ari_ids) {
            earlier(&next, v->ari_next_check, now);
        }
    }
    return next;
}
