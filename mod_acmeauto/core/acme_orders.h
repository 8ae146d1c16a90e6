/* Orders that run at once: the job's pool of worker threads, with a
 * limit per CA and a pause for a CA that pushes back (429, 503). */
#ifndef ACME_ORDERS_H
#define ACME_ORDERS_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include "acme_client.h"

typedef enum {
    ACME_ORDER_QUEUED = 0,
    ACME_ORDER_RUNNING,
    ACME_ORDER_DONE,
    ACME_ORDER_DEFERRED     /* not started: its CA paused, or stopping */
} acme_order_state_e;

typedef struct {
    int index;                      /* the caller's: which domain */
    const char *ca;                 /* its CA's directory URL */
    apr_time_t urgency;             /* lower first (e.g. the time its
                                     * certificate ends; 0 for none) */
    acme_order_state_e state;
    /* Set by run: the CA asked us to slow down (429, 503, rateLimited),
     * and for how long its other orders wait (0: a minute). */
    int ca_pushed_back;
    apr_interval_time_t ca_retry_after;
    int restart_wanted;             /* set by run, read by finished */
    apr_time_t deferred_until;      /* deferred: when to try again (its
                                     * CA's pause, or a minute when the
                                     * pool could not be set up; 0:
                                     * stopping) */
} acme_order_job_t;

typedef struct {
    /* In a worker thread (or the caller's when one order runs): the
     * order of o, with p its own pool and share its CA's share. */
    void (*run)(void *baton, acme_order_job_t *o, acme_ca_share_t *share,
                apr_pool_t *p);
    /* In the caller's thread, for each order as it ends or is deferred. */
    void (*finished)(void *baton, acme_order_job_t *o);
    /* In the caller's thread, at least every ACME_ORDERS_WAKEUP while
     * orders run in workers: work that must not wait for the slowest
     * order. (A single order runs in the caller's thread: not then.) */
    void (*meanwhile)(void *baton);
    int (*stopping)(void *baton);
    void *baton;
    int per_ca;                     /* ACMEMaxOrders; below 1: 1 */
    /* The run's acme_ca_share_t per CA URL (acme_orders_share), in
     * share_pool: the tick's other requests (ARI) use them too. */
    apr_hash_t *shares;
    apr_pool_t *share_pool;
    /* CA URL -> apr_time_t* until when it gets no new orders; kept by the
     * caller across runs, in pause_pool. */
    apr_hash_t *paused;
    apr_pool_t *pause_pool;
} acme_orders_t;

#define ACME_ORDERS_WAKEUP apr_time_from_msec(250)

/* Runs the orders (acme_order_job_t) at most per_ca at a time per CA,
 * the least urgency first (ties in the array's order), and returns when
 * every one has ended or been deferred: no worker runs after. p is the
 * caller's. */
void acme_orders_run(const acme_orders_t *q, apr_array_header_t *orders,
                   apr_pool_t *p);

/* The share of url's clients for this run (made on first use, in the
 * caller's thread); NULL if none can be made. */
acme_ca_share_t *acme_orders_share(const acme_orders_t *q, const char *url);

/* Until when url gets no new orders; 0 when it is not paused. */
apr_time_t acme_orders_paused_until(const acme_orders_t *q, const char *url,
                                  apr_time_t now);

#endif
