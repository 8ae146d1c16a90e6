/* The job's pool of order workers (acme_orders.c): the limit per CA, a
 * slow order that holds back no other, a CA that pushes back, stopping,
 * and which thread calls what.
 *
 * The orders are simulated: run only notes what it saw and, where a test
 * needs orders to overlap, waits on a condition the test controls (never
 * on time), so that "at most 3 at once" is proven by reaching 3, not by
 * luck. acme_orders_run itself runs in a thread of the test's (the
 * "caller"), so that a run that hangs fails the test after RUN_BOUND instead
 * of hanging the suite. */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_portable.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "test_suites.h"
#include "acme_orders.h"

#define CA_A "https://a.test/directory"
#define CA_B "https://b.test/directory"
#define MAX_ORDERS 16
/* Failure bounds only, never reached by a passing test: an order's wait,
 * and the whole run's (longer, so that the order's own says why). */
#define BOUND apr_time_from_sec(5)
#define RUN_BOUND apr_time_from_sec(30)

typedef enum {
    RUN_PLAIN = 0,
    RUN_GATE,           /* each order waits until 3 are in flight at both CAs */
    RUN_SLOW_FIRST,     /* order 0 waits until the others have finished */
    RUN_PUSH_FIRST,     /* the first order at A pushes back */
    RUN_STOP_FIRST,     /* the first order flips stopping */
    RUN_WAIT_MEANWHILE  /* order 0 waits until meanwhile ran during it */
} run_mode_e;

typedef struct {
    apr_pool_t *pool;               /* its own: leaked if a run hangs */
    apr_thread_mutex_t *lock;       /* all below */
    apr_thread_cond_t *cond;        /* anything below changed */
    run_mode_e mode;
    apr_interval_time_t push_for;   /* RUN_PUSH_FIRST's ca_retry_after */
    apr_os_thread_t caller;         /* the thread in acme_orders_run */
    int returned;                   /* acme_orders_run has returned */
    int runs_at_return;
    int ran_after_return;           /* a run began or ended after that */
    int active;                     /* runs in progress */
    int running[2], most[2];        /* per CA: in flight, most at once */
    int run_calls;
    int order_run[MAX_ORDERS];      /* indices, in the order run began */
    int nrun;
    int runs[MAX_ORDERS];
    apr_os_thread_t run_thread[MAX_ORDERS];
    acme_ca_share_t *run_share[MAX_ORDERS];
    int finished[MAX_ORDERS];
    acme_order_state_e finished_state[MAX_ORDERS];
    int nfinished;
    int wrong_thread;               /* finished or meanwhile elsewhere */
    int bad_run;                    /* run without a pool, or not RUNNING */
    int meanwhile_calls;
    /* RUN_GATE */
    int gate_open, gate_timed_out;
    /* RUN_SLOW_FIRST, RUN_WAIT_MEANWHILE */
    int release, slow_timed_out, others_when_slow_finished;
    apr_time_t slow_since, last_meanwhile;
    apr_interval_time_t longest_gap;
    int stop;
    int pushed;
} orders_ctx_t;

static int ca_of(const acme_order_job_t *o)
{
    return strcmp(o->ca, CA_A) ? 1 : 0;
}

/* Under c->lock: waits until pred holds, for at most bound from now. */
static int wait_for(orders_ctx_t *c, int (*pred)(const orders_ctx_t *),
                    apr_interval_time_t bound)
{
    apr_time_t deadline = apr_time_now() + bound;

    while (!pred(c)) {
        apr_time_t left = deadline - apr_time_now();
        if (left <= 0) {
            return 0;
        }
        apr_thread_cond_timedwait(c->cond, c->lock, left);
    }
    return 1;
}

static int gate_reached(const orders_ctx_t *c)
{
    /* Past the limit counts too: the test then fails at once on most[]. */
    return c->gate_open || (c->running[0] >= 3 && c->running[1] >= 3)
           || c->running[0] > 3 || c->running[1] > 3;
}

static int released(const orders_ctx_t *c)
{
    return c->release;
}

static int in_caller(const orders_ctx_t *c)
{
    return apr_os_thread_equal(c->caller, apr_os_thread_current());
}

/* Under c->lock: what the mode has order o do while it is in flight. */
static void run_mode(orders_ctx_t *c, acme_order_job_t *o)
{
    switch (c->mode) {
    case RUN_GATE:
        if (!c->gate_open) {
            c->gate_timed_out |= !wait_for(c, gate_reached, BOUND);
            c->gate_open = 1;
            apr_thread_cond_broadcast(c->cond);
        }
        break;
    case RUN_SLOW_FIRST:
    case RUN_WAIT_MEANWHILE:
        if (o->index == 0) {
            c->slow_since = apr_time_now();
            c->last_meanwhile = c->slow_since;
            c->slow_timed_out = !wait_for(c, released, BOUND);
            c->slow_since = 0;
        }
        break;
    case RUN_PUSH_FIRST:
        if (ca_of(o) == 0 && !c->pushed) {
            c->pushed = 1;
            o->ca_pushed_back = 1;
            o->ca_retry_after = c->push_for;
        }
        break;
    case RUN_STOP_FIRST:
        c->stop = 1;
        /* An order's work, long enough that a run returning before its
         * workers ended would be seen ending after the return. */
        apr_thread_mutex_unlock(c->lock);
        apr_sleep(apr_time_from_msec(100));
        apr_thread_mutex_lock(c->lock);
        break;
    case RUN_PLAIN:
        break;
    }
}

static void orders_test_run(void *baton, acme_order_job_t *o,
                            acme_ca_share_t *share, apr_pool_t *p)
{
    orders_ctx_t *c = baton;
    int ca = ca_of(o);

    apr_thread_mutex_lock(c->lock);
    c->ran_after_return += c->returned;
    c->active++;
    c->run_calls++;
    c->order_run[c->nrun++] = o->index;
    c->runs[o->index]++;
    c->run_thread[o->index] = apr_os_thread_current();
    c->run_share[o->index] = share;
    if (!p || o->state != ACME_ORDER_RUNNING) {
        c->bad_run++;
    }
    if (++c->running[ca] > c->most[ca]) {
        c->most[ca] = c->running[ca];
    }
    apr_thread_cond_broadcast(c->cond);
    run_mode(c, o);
    c->running[ca]--;
    c->active--;
    c->ran_after_return += c->returned;
    apr_thread_cond_broadcast(c->cond);
    apr_thread_mutex_unlock(c->lock);
}

static void orders_test_finished(void *baton, acme_order_job_t *o)
{
    orders_ctx_t *c = baton;

    apr_thread_mutex_lock(c->lock);
    c->wrong_thread += !in_caller(c);
    c->finished[o->index]++;
    c->finished_state[o->index] = o->state;
    c->nfinished++;
    if (c->mode == RUN_SLOW_FIRST) {
        if (o->index == 0) {
            c->others_when_slow_finished = c->nfinished - 1;
        }
        else if (c->nfinished == 9) {
            c->release = 1;     /* the 9 others ended: now the slow one */
        }
    }
    apr_thread_cond_broadcast(c->cond);
    apr_thread_mutex_unlock(c->lock);
}

static void orders_test_meanwhile(void *baton)
{
    orders_ctx_t *c = baton;
    apr_time_t now = apr_time_now();

    apr_thread_mutex_lock(c->lock);
    c->wrong_thread += !in_caller(c);
    c->meanwhile_calls++;
    if (c->mode == RUN_WAIT_MEANWHILE && c->slow_since) {
        if (now - c->last_meanwhile > c->longest_gap) {
            c->longest_gap = now - c->last_meanwhile;
        }
        c->last_meanwhile = now;
        if (now - c->slow_since > apr_time_from_msec(300)) {
            c->release = 1;
        }
    }
    apr_thread_cond_broadcast(c->cond);
    apr_thread_mutex_unlock(c->lock);
}

static int orders_test_stopping(void *baton)
{
    orders_ctx_t *c = baton;
    int stop;

    apr_thread_mutex_lock(c->lock);
    stop = c->stop;
    apr_thread_mutex_unlock(c->lock);
    return stop;
}

static orders_ctx_t *ctx_make(acme_orders_t *q, run_mode_e mode, int per_ca)
{
    apr_pool_t *pool;
    orders_ctx_t *c;

    ck_assert_int_eq(apr_pool_create_unmanaged_ex(&pool, NULL, NULL),
                     APR_SUCCESS);
    c = apr_pcalloc(pool, sizeof(*c));
    c->pool = pool;
    c->mode = mode;
    ck_assert_int_eq(apr_thread_mutex_create(&c->lock,
                                             APR_THREAD_MUTEX_DEFAULT, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_thread_cond_create(&c->cond, pool), APR_SUCCESS);
    memset(q, 0, sizeof(*q));
    q->run = orders_test_run;
    q->finished = orders_test_finished;
    q->meanwhile = orders_test_meanwhile;
    q->stopping = orders_test_stopping;
    q->baton = c;
    q->per_ca = per_ca;
    q->shares = apr_hash_make(pool);
    q->share_pool = pool;
    q->paused = apr_hash_make(pool);
    q->pause_pool = pool;
    return c;
}

/* Forgets what the last run saw, keeping q's shares and pauses. */
static void ctx_reset(orders_ctx_t *c, run_mode_e mode)
{
    apr_pool_t *pool = c->pool;
    apr_thread_mutex_t *lock = c->lock;
    apr_thread_cond_t *cond = c->cond;

    memset(c, 0, sizeof(*c));
    c->pool = pool;
    c->lock = lock;
    c->cond = cond;
    c->mode = mode;
}

/* n_a orders at CA A (indices 0..), then n_b at CA B. */
static apr_array_header_t *make_orders(orders_ctx_t *c, int n_a, int n_b)
{
    apr_array_header_t *orders;
    int i;

    ck_assert_int_le(n_a + n_b, MAX_ORDERS);
    orders = apr_array_make(c->pool, n_a + n_b, sizeof(acme_order_job_t));
    for (i = 0; i < n_a + n_b; i++) {
        acme_order_job_t *o = apr_array_push(orders);
        memset(o, 0, sizeof(*o));
        o->index = i;
        /* A copy: slots and shares must go by the URL, not the pointer. */
        o->ca = apr_pstrdup(c->pool, i < n_a ? CA_A : CA_B);
    }
    return orders;
}

static acme_order_job_t *order_at(apr_array_header_t *orders, int i)
{
    return &APR_ARRAY_IDX(orders, i, acme_order_job_t);
}

typedef struct {
    const acme_orders_t *q;
    apr_array_header_t *orders;
    orders_ctx_t *c;
    apr_pool_t *p;
} call_t;

static void *APR_THREAD_FUNC caller_main(apr_thread_t *t, void *data)
{
    call_t *call = data;
    orders_ctx_t *c = call->c;

    apr_thread_mutex_lock(c->lock);
    c->caller = apr_os_thread_current();
    apr_thread_mutex_unlock(c->lock);
    acme_orders_run(call->q, call->orders, call->p);
    apr_thread_mutex_lock(c->lock);
    c->returned = 1;
    c->runs_at_return = c->run_calls;
    apr_thread_cond_broadcast(c->cond);
    apr_thread_mutex_unlock(c->lock);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static int has_returned(const orders_ctx_t *c)
{
    return c->returned;
}

/* acme_orders_run in a thread of its own, which it must return to within
 * RUN_BOUND; then every order has been handed to finished exactly once. */
static void run_orders(const acme_orders_t *q, orders_ctx_t *c,
                       apr_array_header_t *orders)
{
    apr_thread_t *t;
    apr_pool_t *tp;
    apr_status_t rv;
    call_t *call = apr_pcalloc(c->pool, sizeof(*call));
    int ok, i;

    call->q = q;
    call->orders = orders;
    call->c = c;
    ck_assert_int_eq(apr_pool_create(&call->p, c->pool), APR_SUCCESS);
    /* The thread's own pool: it ends in that thread while this one
     * looks at c, and is leaked with c if the run hangs. */
    ck_assert_int_eq(apr_pool_create_unmanaged_ex(&tp, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_thread_create(&t, NULL, caller_main, call, tp),
                     APR_SUCCESS);
    apr_thread_mutex_lock(c->lock);
    ok = wait_for(c, has_returned, RUN_BOUND);
    apr_thread_mutex_unlock(c->lock);
    ck_assert_msg(ok, "acme_orders_run did not return within %ds",
                  (int)apr_time_sec(RUN_BOUND));
    apr_thread_join(&rv, t);
    apr_pool_destroy(tp);
    ck_assert_int_eq(c->wrong_thread, 0);
    ck_assert_int_eq(c->bad_run, 0);
    for (i = 0; i < orders->nelts; i++) {
        ck_assert_msg(c->finished[i] == 1, "order %d finished %d times", i,
                      c->finished[i]);
        ck_assert_int_eq(c->finished_state[i], order_at(orders, i)->state);
    }
    ck_assert_int_eq(c->nfinished, orders->nelts);
}

static void ctx_done(orders_ctx_t *c)
{
    apr_pool_destroy(c->pool);
}

/* 10 orders at A and 4 at B, 3 at a time per CA: each order waits until
 * 3 are in flight at both CAs, so the limit is reached, never passed. */
START_TEST(at_most_per_ca_orders_run_at_each_ca)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_GATE, 3);
    apr_array_header_t *orders = make_orders(c, 10, 4);
    int i;

    run_orders(&q, c, orders);
    ck_assert_msg(!c->gate_timed_out, "3 orders never ran at once at both "
                  "CAs (most: %d at A, %d at B)", c->most[0], c->most[1]);
    ck_assert_int_eq(c->most[0], 3);
    ck_assert_int_eq(c->most[1], 3);
    for (i = 0; i < orders->nelts; i++) {
        ck_assert_int_eq(c->runs[i], 1);
        ck_assert_int_eq(order_at(orders, i)->state, ACME_ORDER_DONE);
    }
    ck_assert_int_eq(acme_orders_paused_until(&q, CA_A, apr_time_now()), 0);
    ctx_done(c);
}
END_TEST

/* Order 0 at A is held until the 9 others at A have been handed to
 * finished: they cannot wait behind it. */
START_TEST(slow_order_holds_back_no_other)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_SLOW_FIRST, 3);
    apr_array_header_t *orders = make_orders(c, 10, 0);
    int i;

    run_orders(&q, c, orders);
    ck_assert_msg(!c->slow_timed_out, "the other orders did not finish while "
                  "order 0 was in flight");
    ck_assert_int_eq(c->others_when_slow_finished, 9);
    for (i = 0; i < orders->nelts; i++) {
        ck_assert_int_eq(order_at(orders, i)->state, ACME_ORDER_DONE);
    }
    ctx_done(c);
}
END_TEST

static void assert_deferred_until(const acme_order_job_t *o, apr_time_t from,
                                  apr_time_t to)
{
    ck_assert_int_eq(o->state, ACME_ORDER_DEFERRED);
    ck_assert_msg(o->deferred_until >= from && o->deferred_until <= to,
                  "order %d deferred until %" APR_TIME_T_FMT ", not within "
                  "[%" APR_TIME_T_FMT ", %" APR_TIME_T_FMT "]", o->index,
                  o->deferred_until, from, to);
}

/* One at a time per CA; the first order at A pushes back for 30 s: A's
 * other orders wait for a later run, B's run; a second run with the same
 * pauses leaves A alone. */
START_TEST(ca_that_pushes_back_gets_no_new_orders)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_PUSH_FIRST, 1);
    apr_array_header_t *orders = make_orders(c, 5, 3);
    apr_interval_time_t pause = apr_time_from_sec(30);
    apr_time_t before, after, until;
    int i;

    c->push_for = pause;
    before = apr_time_now();
    run_orders(&q, c, orders);
    after = apr_time_now();
    ck_assert_int_eq(c->runs[0], 1);
    ck_assert_int_eq(order_at(orders, 0)->state, ACME_ORDER_DONE);
    for (i = 1; i < 5; i++) {
        ck_assert_msg(c->runs[i] == 0, "order %d at A ran after A pushed "
                      "back", i);
        assert_deferred_until(order_at(orders, i), before + pause,
                              after + pause);
    }
    for (i = 5; i < 8; i++) {
        ck_assert_int_eq(c->runs[i], 1);
        ck_assert_int_eq(order_at(orders, i)->state, ACME_ORDER_DONE);
    }
    until = acme_orders_paused_until(&q, CA_A, apr_time_now());
    ck_assert(until >= before + pause && until <= after + pause);
    ck_assert_int_eq(acme_orders_paused_until(&q, CA_B, apr_time_now()), 0);
    ck_assert_int_eq(acme_orders_paused_until(&q, CA_A, until), 0);

    /* The next run (the next tick): A is still paused. */
    ctx_reset(c, RUN_PLAIN);
    orders = make_orders(c, 3, 2);
    run_orders(&q, c, orders);
    for (i = 0; i < 3; i++) {
        ck_assert_msg(c->runs[i] == 0, "order %d at paused A ran", i);
        ck_assert_int_eq(order_at(orders, i)->state, ACME_ORDER_DEFERRED);
        ck_assert_int_eq(order_at(orders, i)->deferred_until, until);
    }
    for (i = 3; i < 5; i++) {
        ck_assert_int_eq(c->runs[i], 1);
        ck_assert_int_eq(order_at(orders, i)->state, ACME_ORDER_DONE);
    }
    ck_assert_int_eq(acme_orders_paused_until(&q, CA_A, apr_time_now()),
                     until);
    ctx_done(c);
}
END_TEST

/* Pushed back without Retry-After: a minute. */
START_TEST(ca_that_pushes_back_without_a_time_pauses_a_minute)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_PUSH_FIRST, 1);
    apr_array_header_t *orders = make_orders(c, 2, 0);
    apr_interval_time_t minute = apr_time_from_sec(60);
    apr_time_t before, after;

    before = apr_time_now();
    run_orders(&q, c, orders);
    after = apr_time_now();
    ck_assert_int_eq(c->runs[1], 0);
    assert_deferred_until(order_at(orders, 1), before + minute,
                          after + minute);
    ctx_done(c);
}
END_TEST

/* Stopping flips as the first order starts: what is queued is deferred
 * (until 0), only what had started runs, and no order runs once
 * acme_orders_run has returned. */
START_TEST(stopping_defers_the_queue_and_waits_for_the_workers)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_STOP_FIRST, 1);
    apr_array_header_t *orders = make_orders(c, 4, 4);
    int i, deferred = 0, calls;

    run_orders(&q, c, orders);
    /* At most one per worker can have been picked before the flip. */
    ck_assert_int_ge(c->runs_at_return, 1);
    ck_assert_int_le(c->runs_at_return, 2);
    for (i = 0; i < orders->nelts; i++) {
        const acme_order_job_t *o = order_at(orders, i);
        if (c->runs[i]) {
            ck_assert_int_eq(o->state, ACME_ORDER_DONE);
            continue;
        }
        ck_assert_int_eq(o->state, ACME_ORDER_DEFERRED);
        ck_assert_int_eq(o->deferred_until, 0);
        deferred++;
    }
    ck_assert_int_eq(deferred + c->runs_at_return, orders->nelts);
    apr_thread_mutex_lock(c->lock);
    ck_assert_int_eq(c->active, 0);
    apr_thread_mutex_unlock(c->lock);
    /* The one wait for something that must not happen: a worker left
     * behind would start or end an order within an order's time. */
    apr_sleep(apr_time_from_msec(300));
    apr_thread_mutex_lock(c->lock);
    calls = c->run_calls;
    ck_assert_int_eq(c->ran_after_return, 0);
    apr_thread_mutex_unlock(c->lock);
    ck_assert_int_eq(calls, c->runs_at_return);
    ck_assert_int_eq(acme_orders_paused_until(&q, CA_A, apr_time_now()), 0);
    ctx_done(c);
}
END_TEST

/* Order 0 is held until meanwhile is called more than 300 ms into it:
 * the caller's thread wakes on its own while nothing ends. finished and
 * meanwhile are checked to run in the caller's thread by run_orders. */
START_TEST(meanwhile_runs_in_the_caller_while_an_order_is_in_flight)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_WAIT_MEANWHILE, 2);
    apr_array_header_t *orders = make_orders(c, 4, 0);
    int i;

    run_orders(&q, c, orders);
    ck_assert_msg(!c->slow_timed_out, "meanwhile was not called while an "
                  "order was in flight (%d calls)", c->meanwhile_calls);
    /* At least every ACME_ORDERS_WAKEUP, with room for a loaded host. */
    ck_assert_msg(c->longest_gap < apr_time_from_sec(2), "meanwhile was not "
                  "called for %" APR_TIME_T_FMT " us", c->longest_gap);
    for (i = 0; i < orders->nelts; i++) {
        ck_assert(!apr_os_thread_equal(c->run_thread[i], c->caller));
    }
    ctx_done(c);
}
END_TEST

START_TEST(one_order_runs_in_the_callers_thread)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_PLAIN, 3);
    apr_array_header_t *orders = make_orders(c, 1, 0);

    run_orders(&q, c, orders);
    ck_assert_int_eq(c->runs[0], 1);
    ck_assert(apr_os_thread_equal(c->run_thread[0], c->caller));
    ck_assert_int_eq(order_at(orders, 0)->state, ACME_ORDER_DONE);
    ctx_done(c);
}
END_TEST

/* One at a time at A: the orders start by urgency, least first, and in
 * the array's order among equals (new sites before renewals, the renewal
 * that ends soonest first). */
START_TEST(orders_start_by_urgency)
{
    static const apr_time_t urgency[] = { 50, 0, 30, 0, 10 };
    static const int expected[] = { 1, 3, 4, 2, 0 };
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_PLAIN, 1);
    apr_array_header_t *orders = make_orders(c, 5, 0);
    int i;

    for (i = 0; i < 5; i++) {
        order_at(orders, i)->urgency = urgency[i];
    }
    run_orders(&q, c, orders);
    ck_assert_int_eq(c->nrun, 5);
    for (i = 0; i < 5; i++) {
        ck_assert_msg(c->order_run[i] == expected[i], "run %d was order %d, "
                      "not %d", i, c->order_run[i], expected[i]);
    }
    ctx_done(c);
}
END_TEST

/* A limit below 1 counts as 1: every order runs, one at a time, and the
 * run returns (it used to wait for ever). */
START_TEST(a_limit_below_one_is_one)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_PLAIN, 0);
    apr_array_header_t *orders = make_orders(c, 4, 2);
    int i;

    run_orders(&q, c, orders);
    for (i = 0; i < orders->nelts; i++) {
        ck_assert_int_eq(c->runs[i], 1);
        ck_assert_int_eq(order_at(orders, i)->state, ACME_ORDER_DONE);
    }
    ck_assert_int_eq(c->most[0], 1);
    ck_assert_int_eq(c->most[1], 1);
    ctx_done(c);
}
END_TEST

/* One share per CA URL, whoever asks; each order gets its CA's. */
START_TEST(orders_get_their_cas_share)
{
    acme_orders_t q;
    orders_ctx_t *c = ctx_make(&q, RUN_PLAIN, 2);
    apr_array_header_t *orders = make_orders(c, 3, 3);
    acme_ca_share_t *a, *b;
    int i;

    a = acme_orders_share(&q, CA_A);
    b = acme_orders_share(&q, CA_B);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_ptr_eq(acme_orders_share(&q, apr_pstrdup(c->pool, CA_A)), a);
    run_orders(&q, c, orders);
    for (i = 0; i < orders->nelts; i++) {
        ck_assert_ptr_eq(c->run_share[i], i < 3 ? a : b);
    }
    ck_assert_ptr_eq(acme_orders_share(&q, CA_B), b);
    ck_assert_int_eq(apr_hash_count(q.shares), 2);
    ctx_done(c);
}
END_TEST

Suite *orders_suite(void)
{
    Suite *s = suite_create("orders");
    TCase *tc = tcase_create("pool");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, at_most_per_ca_orders_run_at_each_ca);
    tcase_add_test(tc, slow_order_holds_back_no_other);
    tcase_add_test(tc, ca_that_pushes_back_gets_no_new_orders);
    tcase_add_test(tc, ca_that_pushes_back_without_a_time_pauses_a_minute);
    tcase_add_test(tc, stopping_defers_the_queue_and_waits_for_the_workers);
    tcase_add_test(tc, meanwhile_runs_in_the_caller_while_an_order_is_in_flight);
    tcase_add_test(tc, one_order_runs_in_the_callers_thread);
    tcase_add_test(tc, orders_get_their_cas_share);
    tcase_add_test(tc, orders_start_by_urgency);
    tcase_add_test(tc, a_limit_below_one_is_one);
    suite_add_tcase(s, tc);
    return s;
}
