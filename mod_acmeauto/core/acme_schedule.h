/* When to act: renewal times and retry delays. Pure functions, so the
 * rules can be tested without a clock or a CA. */
#ifndef ACME_SCHEDULE_H
#define ACME_SCHEDULE_H

#include <apr_time.h>
#include "acme_problem.h"

/* Below this much remaining lifetime a certificate is renewed whatever
 * the window says (a window longer than the lifetime, say). */
#define ACME_EMERGENCY_PCT 10
/* A duration window as long as the whole lifetime or longer (30d for a
 * 6-day certificate) would make every new certificate due at once, and
 * renew it again and again: such a window counts as this share. */
#define ACME_RENEW_PCT_FALLBACK 33

/* The latest time a stored value may name: 9999-12-31T23:59:59Z. */
#define ACME_STORED_SEC_MAX APR_INT64_C(253402300799)

/* Seconds since the epoch as found in a file (anything a damaged or
 * forged file holds) to apr_time_t without overflow: below 0 gives 0,
 * beyond ACME_STORED_SEC_MAX gives that. */
apr_time_t acme_time_from_stored(apr_int64_t secs);

/* t limited to [lo, hi]. */
apr_time_t acme_time_clamp(apr_time_t t, apr_time_t lo, apr_time_t hi);

/* a + b, saturating at the bounds of apr_time_t instead of wrapping. */
apr_time_t acme_time_add(apr_time_t a, apr_interval_time_t b);

/* When to renew a certificate valid from not_before to not_after: when
 * left remains (if > 0 and shorter than the lifetime; else when
 * ACME_RENEW_PCT_FALLBACK percent remains), else when pct percent of the
 * lifetime remains; never later than the emergency point, never before
 * not_before. */
apr_time_t acme_renew_time(apr_time_t not_before, apr_time_t not_after,
                           int pct, apr_interval_time_t left);

/* A rate limit (GCRA): with *tat its state (0 at first), may an event
 * happen at now? Allows `burst` events at once, then one per `interval`;
 * an allowed event is counted. A clock that went back is no reason to
 * refuse for long: *tat never stays more than burst intervals ahead. */
int acme_rate_allow(apr_time_t *tat, apr_time_t now, int burst,
                    apr_interval_time_t interval);

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

/* What the job knows about one domain when it decides whether to order
 * now and when to look again. Times are absolute; 0 means none. */
typedef struct {
    int is_live;                /* a valid certificate is live */
    apr_time_t renew_at;        /* the live one's renewal time (window) */
    apr_time_t expiring_at;     /* when the live one is "expiring" */
    apr_time_t ari_renew_at;    /* the moment picked in the CA's ARI window */
    apr_time_t ari_next_check;  /* when to ask the CA's ARI again */
    int ari_ids;                /* the live certificates have ARI ids */
    apr_time_t next_attempt;    /* not before this (backoff) */
} acme_sched_view_t;

/* Is an order due at now? When nothing is live, when the renewal time or
 * the ARI moment has come, and in any case not before next_attempt. */
int acme_sched_due(const acme_sched_view_t *v, apr_time_t now);

/* The earliest of `until` and every time after now at which something
 * about this domain is due: the next attempt, and for a live certificate
 * its renewal time, its expiring time, the ARI moment and (with ARI ids)
 * the next ARI question. */
apr_time_t acme_sched_wakeup(const acme_sched_view_t *v, apr_time_t now,
                             apr_time_t until);

#endif
