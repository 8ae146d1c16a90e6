/* When to act: renewal times and retry delays. Pure functions, so the
 * rules can be tested without a clock or a CA. */
#ifndef ACME_SCHEDULE_H
#define ACME_SCHEDULE_H

#include <apr_time.h>
#include "acme_problem.h"

/* Below this much remaining lifetime a certificate is renewed whatever
 * the window says (a window longer than the lifetime, say). */
#define ACME_EMERGENCY_PCT 10

/* When to renew a certificate valid from not_before to not_after: when
 * left remains (if > 0), else when pct percent of the lifetime remains;
 * never later than the emergency point, never before not_before. */
apr_time_t acme_renew_time(apr_time_t not_before, apr_time_t not_after,
                           int pct, apr_interval_time_t left);

/* Delay before the next attempt after `failures` consecutive failures
 * (1 = the first): first_delay doubled each time, capped at max_delay,
 * plus up to jitter_pct percent of random extra (jitter_rand in [0,1]).
 * A configuration problem waits at least config_min; a Retry-After from
 * the CA is always honoured (still capped at max_delay). */
apr_interval_time_t acme_retry_delay(int failures,
                                     apr_interval_time_t first_delay,
                                     apr_interval_time_t max_delay,
                                     apr_interval_time_t config_min,
                                     const acme_error_t *err,
                                     int jitter_pct, double jitter_rand);

#endif
