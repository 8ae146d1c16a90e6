#include "acme_schedule.h"

apr_time_t acme_renew_time(apr_time_t not_before, apr_time_t not_after,
                           int pct, apr_interval_time_t left)
{
    apr_interval_time_t lifetime = not_after - not_before;
    apr_time_t at, emergency;

    if (lifetime <= 0) {
        return not_before;
    }
    at = left > 0 ? not_after - left : not_after - lifetime * pct / 100;
    emergency = not_after - lifetime * ACME_EMERGENCY_PCT / 100;
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
