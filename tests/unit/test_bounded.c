/* The job's memory does not grow with the number of polls (issue 6,
 * "bounded job"), and an https directory's http:// URLs are refused. */
#include <malloc.h>
#include <string.h>
#include <apr_strings.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_client.h"

#define SLOW_POLLS 600

/* A CA that keeps an order "processing" for SLOW_POLLS polls; the heap in
 * use is read at the 100th and the last poll. */
typedef struct {
    acme_http_t http;
    int polls;
    size_t heap_at_100, heap_at_end;
} slow_ca_t;

static apr_status_t slow_request(acme_http_t *http,
                                 acme_http_response_t **resp, apr_pool_t *p,
                                 const char *method, const char *url,
                                 const char *content_type, const char *body,
                                 apr_size_t body_len)
{
    slow_ca_t *ca = (slow_ca_t *)http;
    acme_http_response_t *r = apr_pcalloc(p, sizeof(*r));
    int done = ++ca->polls > SLOW_POLLS;

    (void)method; (void)url; (void)content_type; (void)body; (void)body_len;
    if (ca->polls == 100) {
        ca->heap_at_100 = mallinfo2().uordblks;
    }
    if (ca->polls == SLOW_POLLS) {
        ca->heap_at_end = mallinfo2().uordblks;
    }
    r->status = 200;
    r->headers = apr_table_make(p, 2);
    apr_table_set(r->headers, "Content-Type", "application/json");
    apr_table_set(r->headers, "Replay-Nonce",
                  apr_psprintf(p, "nonce%08d", ca->polls));
    r->body = apr_psprintf(p, "{\"status\":\"%s\",\"finalize\":\"https://ca."
                           "test/finalize/1\",\"authorizations\":[\"https://"
                           "ca.test/authz/a\"],\"padding\":\"%0500d\"}",
                           done ? "valid" : "processing", 0);
    r->body_len = strlen(r->body);
    *resp = r;
    return APR_SUCCESS;
}

START_TEST(polling_does_not_grow_memory)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    slow_ca_t ca;
    acme_order_t *o = NULL;

    memset(&ca, 0, sizeof(ca));
    ca.http.request = slow_request;
    c->http = &ca.http;
    c->poll_interval = 1;    /* as fast as the pause allows */
    c->poll_timeout = apr_time_from_sec(600);
    ck_assert_int_eq(acme_order_wait(&o, c, test_pool,
                                     "https://ca.test/order/1", "valid"),
                     APR_SUCCESS);
    ck_assert_str_eq(o->status, "valid");
    ck_assert_int_eq(ca.polls, SLOW_POLLS + 1);
    /* 500 polls of ~600-byte answers kept would be well over 300 KB */
    ck_assert_msg(ca.heap_at_end < ca.heap_at_100 + 64 * 1024,
                  "heap grew from %zu to %zu over %d polls", ca.heap_at_100,
                  ca.heap_at_end, SLOW_POLLS - 100);
}
END_TEST

START_TEST(http_urls_from_an_https_directory_are_refused)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;
    int before = f->nrequests;

    ck_assert_int_ne(acme_order_wait(&o, c, test_pool,
                                     "http://ca.test/order/1", "valid"),
                     APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, before);    /* nothing was sent */
    ck_assert_ptr_nonnull(c->error);
    assert_has(c->error->detail, "not https");
}
END_TEST

Suite *bounded_suite(void)
{
    Suite *s = suite_create("bounded");
    TCase *tc = tcase_create("job bounds");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, polling_does_not_grow_memory);
    tcase_add_test(tc, http_urls_from_an_https_directory_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
