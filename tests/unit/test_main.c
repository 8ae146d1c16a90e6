/* Unit tests of the ACME core (no httpd). */
#include <stdlib.h>
#include <apr_general.h>

#include "test_suites.h"

apr_pool_t *test_pool;

void test_pool_setup(void)
{
    apr_pool_create(&test_pool, NULL);
}

void test_pool_teardown(void)
{
    apr_pool_destroy(test_pool);
    test_pool = NULL;
}

int main(void)
{
    SRunner *sr;
    int failed;

    apr_initialize();
    sr = srunner_create(util_suite());
    srunner_add_suite(sr, crypto_suite());
    srunner_add_suite(sr, cert_suite());
    srunner_add_suite(sr, client_suite());
    srunner_add_suite(sr, store_suite());
    srunner_add_suite(sr, schedule_suite());
    srunner_add_suite(sr, ari_suite());
    srunner_add_suite(sr, safe_suite());
    srunner_add_suite(sr, identity_suite());
    srunner_add_suite(sr, bounded_suite());
    srunner_add_suite(sr, job_suite());
    srunner_add_suite(sr, state_suite());
    srunner_add_suite(sr, conf_suite());
    srunner_add_suite(sr, probe_suite());
    srunner_add_suite(sr, revoke_suite());
    srunner_add_suite(sr, view_suite());
    srunner_add_suite(sr, account_suite());
    srunner_add_suite(sr, accounts_suite());
    srunner_add_suite(sr, restart_suite());
    srunner_add_suite(sr, alpn_suite());
    srunner_add_suite(sr, dns_suite());
    srunner_add_suite(sr, poll_suite());
    srunner_add_suite(sr, share_suite());
    srunner_add_suite(sr, identity_scale_suite());
    srunner_add_suite(sr, orders_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
