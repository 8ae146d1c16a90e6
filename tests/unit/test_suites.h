#ifndef TEST_SUITES_H
#define TEST_SUITES_H

#include <check.h>
#include <apr_pools.h>

/* A fresh pool per test, destroyed by the fixture. */
extern apr_pool_t *test_pool;
void test_pool_setup(void);
void test_pool_teardown(void);

Suite *util_suite(void);
Suite *crypto_suite(void);
Suite *cert_suite(void);
Suite *client_suite(void);
Suite *store_suite(void);
Suite *schedule_suite(void);
Suite *ari_suite(void);
Suite *safe_suite(void);
Suite *identity_suite(void);
Suite *bounded_suite(void);
Suite *job_suite(void);
Suite *state_suite(void);
Suite *conf_suite(void);
Suite *probe_suite(void);
Suite *revoke_suite(void);
Suite *view_suite(void);
Suite *account_suite(void);
Suite *accounts_suite(void);
Suite *restart_suite(void);
Suite *alpn_suite(void);
Suite *dns_suite(void);
Suite *poll_suite(void);
Suite *share_suite(void);
Suite *identity_scale_suite(void);
Suite *orders_suite(void);

#endif
