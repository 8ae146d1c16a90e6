/* The job's orders run at once, in a bounded pool of worker threads.
 *
 * Threads rather than libcurl's multi interface: an order is a sequence
 * of blocking steps (JWS signing, store writes, ACMEDNSCmd, the http-01
 * self-test, ACMENotifyCmd), written once in the core and shared with the
 * acmeauto command. Almost all of an order's time is spent waiting for
 * the CA, so a thread per order in flight costs little, and the core's
 * code stays a plain sequence instead of becoming a state machine. The
 * pool is bounded: at most per_ca orders at each CA (ACMEMaxOrders)
 * and ACME_ORDERS_MAX_WORKERS threads in all.
 *
 * Pools: every order gets an unmanaged pool of its own (its own
 * allocator: no locking between orders); the threads and the queues live
 * in a pool whose allocator has a mutex, since threads are created and
 * end concurrently. The CA shares are made in the caller's thread and
 * guard themselves. The caller's pools are only ever used from the
 * caller's thread. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "acme_orders.h"

#define ACME_ORDERS_MAX_WORKERS 64
/* How long a CA that pushed back gets no new orders when the order did
 * not say (ca_retry_after 0); and the wait when nothing could be set up. */
#define ACME_ORDERS_PUSHBACK_PAUSE apr_time_from_sec(60)

typedef struct {
    const char *url;
    apr_array_header_t *queue;      /* acme_order_job_t*, by urgency */
    int next;                       /* first of queue not yet started */
    int running;
    apr_time_t paused_until;
    acme_ca_share_t *share;
} ca_slot_t;

typedef struct {
    const acme_orders_t *q;
    apr_array_header_t *slots;      /* ca_slot_t* */
    apr_thread_mutex_t *lock;       /* all below, and the slots */
    apr_thread_cond_t *changed;     /* an order ended, a worker left */
    apr_array_header_t *ended;      /* acme_order_job_t*: not yet seen by the
                                     * caller; in the caller's pool,
                                     * pushed to under lock (it has room
                                     * for every order: no allocation) */
    int queued;                     /* orders not yet started */
    int workers;                    /* still running */
} run_t;

apr_time_t acme_orders_paused_until(const acme_orders_t *q, const char *url,
                                  apr_time_t now)
{
    apr_time_t *until = q->paused ? apr_hash_get(q->paused, url,
                                                 APR_HASH_KEY_STRING) : NULL;

    return until && *until > now ? *until : 0;
}

acme_ca_share_t *acme_orders_share(const acme_orders_t *q, const char *url)
{
    acme_ca_share_t *share = apr_hash_get(q->shares, url,
                                          APR_HASH_KEY_STRING);

    if (!share && acme_ca_share_create(&share, q->share_pool)
                  == APR_SUCCESS) {
        apr_hash_set(q->shares, apr_pstrdup(q->share_pool, url),
                     APR_HASH_KEY_STRING, share);
    }
    return share;
}

/* At least one at a time: 0 would leave every order queued for ever. */
static int per_ca(const acme_orders_t *q)
{
    return q->per_ca > 0 ? q->per_ca : 1;
}

/* Under r->lock: marks every queued order of slot deferred. */
static void defer_queue(run_t *r, ca_slot_t *slot, int stopping)
{
    while (slot->next < slot->queue->nelts) {
        acme_order_job_t *o = APR_ARRAY_IDX(slot->queue, slot->next++,
                                      acme_order_job_t *);
        o->state = ACME_ORDER_DEFERRED;
        o->deferred_until = stopping ? 0 : slot->paused_until;
        APR_ARRAY_PUSH(r->ended, acme_order_job_t *) = o;
        r->queued--;
    }
}

/* Under r->lock: the next order a worker may start, or NULL. Looks at
 * the CAs, not at the orders: cheap with thousands queued. */
static acme_order_job_t *pick(run_t *r, ca_slot_t **slot_out)
{
    int stopping = r->q->stopping(r->q->baton);
    apr_time_t now = apr_time_now();
    int i;

    for (i = 0; i < r->slots->nelts; i++) {
        ca_slot_t *slot = APR_ARRAY_IDX(r->slots, i, ca_slot_t *);
        if (slot->next == slot->queue->nelts) {
            continue;
        }
        if (stopping || slot->paused_until > now) {
            defer_queue(r, slot, stopping);
            apr_thread_cond_broadcast(r->changed);
            continue;
        }
        if (slot->running < per_ca(r->q)) {
            acme_order_job_t *o = APR_ARRAY_IDX(slot->queue, slot->next++,
                                          acme_order_job_t *);
            o->state = ACME_ORDER_RUNNING;
            slot->running++;
            r->queued--;
            *slot_out = slot;
            return o;
        }
    }
    return NULL;
}

/* A worker: orders one after another until none is left to start. */
static void work(run_t *r)
{
    ca_slot_t *slot;
    acme_order_job_t *o;
    apr_pool_t *p;

    apr_thread_mutex_lock(r->lock);
    while (r->queued > 0) {
        if (!(o = pick(r, &slot))) {
            /* The rest wait for a CA with an order in flight to end
             * (unless pick has just deferred them all). */
            if (r->queued > 0) {
                apr_thread_cond_wait(r->changed, r->lock);
            }
            continue;
        }
        apr_thread_mutex_unlock(r->lock);
        if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) == APR_SUCCESS) {
            r->q->run(r->q->baton, o, slot->share, p);
            apr_pool_destroy(p);
            o->state = ACME_ORDER_DONE;
        }
        else {
            /* Out of memory: not run, tried again later. */
            o->state = ACME_ORDER_DEFERRED;
            o->deferred_until = apr_time_now() + ACME_ORDERS_PUSHBACK_PAUSE;
        }
        apr_thread_mutex_lock(r->lock);
        slot->running--;
        if (o->ca_pushed_back) {
            /* Backpressure: the orders queued for this CA wait for a
             * later run; those in flight finish. */
            slot->paused_until = apr_time_now() + (o->ca_retry_after > 0
                ? o->ca_retry_after : ACME_ORDERS_PUSHBACK_PAUSE);
        }
        APR_ARRAY_PUSH(r->ended, acme_order_job_t *) = o;
        apr_thread_cond_broadcast(r->changed);
    }
    apr_thread_mutex_unlock(r->lock);
}

static void *APR_THREAD_FUNC worker_main(apr_thread_t *t, void *data)
{
    run_t *r = data;

    work(r);
    apr_thread_mutex_lock(r->lock);
    r->workers--;
    apr_thread_cond_broadcast(r->changed);
    apr_thread_mutex_unlock(r->lock);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* A pool that several threads may create and destroy subpools of. */
static apr_status_t shared_pool(apr_pool_t **rp)
{
    apr_allocator_t *al;
    apr_thread_mutex_t *m;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&al)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_unmanaged_ex(rp, NULL, al)) != APR_SUCCESS) {
        apr_allocator_destroy(al);
        return rv;
    }
    apr_allocator_owner_set(al, *rp);
    if ((rv = apr_thread_mutex_create(&m, APR_THREAD_MUTEX_DEFAULT, *rp))
        != APR_SUCCESS) {
        apr_pool_destroy(*rp);
        return rv;
    }
    apr_allocator_mutex_set(al, m);
    return APR_SUCCESS;
}

/* Least urgency first; ties keep the caller's order (a stable sort by
 * hand: qsort is not stable). */
static int by_urgency(const void *a, const void *b)
{
    const acme_order_job_t *x = *(acme_order_job_t *const *)a;
    const acme_order_job_t *y = *(acme_order_job_t *const *)b;

    if (x->urgency != y->urgency) {
        return x->urgency < y->urgency ? -1 : 1;
    }
    return x < y ? -1 : x > y;
}

/* Orders grouped by CA, each queue by urgency. */
static apr_status_t make_slots(run_t *r, apr_array_header_t *orders,
                               apr_pool_t *rp, apr_time_t now)
{
    apr_hash_t *by_url = apr_hash_make(rp);
    int i;

    r->slots = apr_array_make(rp, 4, sizeof(ca_slot_t *));
    for (i = 0; i < orders->nelts; i++) {
        acme_order_job_t *o = &APR_ARRAY_IDX(orders, i, acme_order_job_t);
        ca_slot_t *slot = apr_hash_get(by_url, o->ca, APR_HASH_KEY_STRING);
        if (!slot) {
            slot = apr_pcalloc(rp, sizeof(*slot));
            slot->url = o->ca;
            slot->queue = apr_array_make(rp, 16, sizeof(acme_order_job_t *));
            slot->paused_until = acme_orders_paused_until(r->q, o->ca, now);
            if (!(slot->share = acme_orders_share(r->q, o->ca))) {
                return APR_ENOMEM;
            }
            apr_hash_set(by_url, o->ca, APR_HASH_KEY_STRING, slot);
            APR_ARRAY_PUSH(r->slots, ca_slot_t *) = slot;
        }
        o->state = ACME_ORDER_QUEUED;
        APR_ARRAY_PUSH(slot->queue, acme_order_job_t *) = o;
    }
    for (i = 0; i < r->slots->nelts; i++) {
        apr_array_header_t *queue = APR_ARRAY_IDX(r->slots, i,
                                                  ca_slot_t *)->queue;
        qsort(queue->elts, queue->nelts, sizeof(acme_order_job_t *),
              by_urgency);
    }
    r->queued = orders->nelts;
    return APR_SUCCESS;
}

static int workers_wanted(const run_t *r)
{
    int i, n = 0;

    for (i = 0; i < r->slots->nelts; i++) {
        int queued = APR_ARRAY_IDX(r->slots, i, ca_slot_t *)->queue->nelts;
        n += queued < per_ca(r->q) ? queued : per_ca(r->q);
    }
    return n < ACME_ORDERS_MAX_WORKERS ? n : ACME_ORDERS_MAX_WORKERS;
}

/* The caller's thread while the workers run: hands each ended order to
 * finished, and calls meanwhile at least every ACME_ORDERS_WAKEUP. */
static void watch(run_t *r)
{
    const acme_orders_t *q = r->q;
    int seen = 0;

    apr_thread_mutex_lock(r->lock);
    for (;;) {
        while (seen < r->ended->nelts) {
            acme_order_job_t *o = APR_ARRAY_IDX(r->ended, seen++,
                                                acme_order_job_t *);
            apr_thread_mutex_unlock(r->lock);
            q->finished(q->baton, o);
            apr_thread_mutex_lock(r->lock);
        }
        if (r->workers == 0) {
            break;
        }
        apr_thread_cond_timedwait(r->changed, r->lock, ACME_ORDERS_WAKEUP);
        if (q->meanwhile) {
            apr_thread_mutex_unlock(r->lock);
            q->meanwhile(q->baton);
            apr_thread_mutex_lock(r->lock);
        }
    }
    apr_thread_mutex_unlock(r->lock);
}

/* Pauses a CA pushed back on beyond this run, in the caller's hash. */
static void keep_pauses(const run_t *r)
{
    const acme_orders_t *q = r->q;
    int i;

    for (i = 0; q->paused && i < r->slots->nelts; i++) {
        const ca_slot_t *slot = APR_ARRAY_IDX(r->slots, i, ca_slot_t *);
        apr_time_t *until = apr_hash_get(q->paused, slot->url,
                                         APR_HASH_KEY_STRING);
        if (!slot->paused_until || (until && *until >= slot->paused_until)) {
            continue;
        }
        if (!until) {
            until = apr_palloc(q->pause_pool, sizeof(*until));
            apr_hash_set(q->paused, apr_pstrdup(q->pause_pool, slot->url),
                         APR_HASH_KEY_STRING, until);
        }
        *until = slot->paused_until;
    }
}

/* Nothing could be set up (no memory, no mutex): every order is
 * deferred for a minute, and said so. */
static void defer_all(const acme_orders_t *q, apr_array_header_t *orders)
{
    apr_time_t until = apr_time_now() + ACME_ORDERS_PUSHBACK_PAUSE;
    int i;

    for (i = 0; i < orders->nelts; i++) {
        acme_order_job_t *o = &APR_ARRAY_IDX(orders, i, acme_order_job_t);
        o->state = ACME_ORDER_DEFERRED;
        o->deferred_until = until;
        q->finished(q->baton, o);
    }
}

void acme_orders_run(const acme_orders_t *q, apr_array_header_t *orders,
                   apr_pool_t *p)
{
    apr_thread_t **threads;
    apr_pool_t *rp;
    run_t r;
    int i, n, started = 0;

    if (!orders->nelts) {
        return;
    }
    if (shared_pool(&rp) != APR_SUCCESS) {
        defer_all(q, orders);
        return;
    }
    memset(&r, 0, sizeof(r));
    r.q = q;
    r.ended = apr_array_make(p, orders->nelts, sizeof(acme_order_job_t *));
    if (make_slots(&r, orders, rp, apr_time_now()) != APR_SUCCESS
        || apr_thread_mutex_create(&r.lock, APR_THREAD_MUTEX_DEFAULT, rp)
           != APR_SUCCESS
        || apr_thread_cond_create(&r.changed, rp) != APR_SUCCESS) {
        apr_pool_destroy(rp);
        defer_all(q, orders);
        return;
    }
    n = orders->nelts == 1 ? 0 : workers_wanted(&r);
    threads = apr_pcalloc(rp, (n + 1) * sizeof(*threads));
    /* The workers begin by taking the lock: none starts (or ends) before
     * the count is right. */
    apr_thread_mutex_lock(r.lock);
    for (i = 0; i < n; i++) {
        if (apr_thread_create(&threads[started], NULL, worker_main, &r, rp)
            == APR_SUCCESS) {
            started++;
        }
    }
    r.workers = started;
    apr_thread_mutex_unlock(r.lock);
    if (!started) {
        work(&r);    /* one order, or no thread to be had: right here */
    }
    watch(&r);
    for (i = 0; i < started; i++) {
        apr_status_t ignored;
        apr_thread_join(&ignored, threads[i]);
    }
    keep_pauses(&r);
    apr_pool_destroy(rp);
}
