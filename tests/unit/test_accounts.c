/* Accounts keyed by CA and EAB key id (acme_job.c): the account id
 * ignores the directory URL's query string and fragment and changes with
 * the key id; an account an earlier version stored under the URL alone
 * is adopted, never registered anew (EAB values are single use at
 * commercial CAs); and handoff/config.json carries the EAB per server
 * (acme_conf.c) so the acmeauto command finds the same account. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_conf.h"
#include "acme_crypto.h"
#include "acme_job.h"
#include "acme_json.h"
#include "acme_store.h"
#include "acme_util.h"

#define CA      "https://ca.test/v2/acme/directory/"
#define CA_Q    CA "?action=renew&orderId=42"
#define OLD_ACCOUNT "https://ca.test/acct/old"

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static apr_status_t store_cleanup(void *base)
{
    nftw((const char *)base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return APR_SUCCESS;
}

static acme_store_t *temp_store(void)
{
    char tmpl[] = "/tmp/acmeauto-test-accounts-XXXXXX";
    acme_store_t *store;

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_int_eq(acme_store_open(&store, test_pool, tmpl), APR_SUCCESS);
    apr_pool_cleanup_register(test_pool, apr_pstrdup(test_pool, tmpl),
                              store_cleanup, apr_pool_cleanup_null);
    ck_assert_int_eq(acme_store_create_dirs(store, test_pool), APR_SUCCESS);
    return store;
}

/* What an earlier version computed: the URL, byte for byte, hashed. */
static const char *old_id(const char *url)
{
    return apr_pstrndup(test_pool, acme_sha256_hex(test_pool, url,
                                                   strlen(url)), 16);
}

static const char *dir_of(const acme_store_t *store, const char *id)
{
    return acme_store_path(test_pool, store, ACME_AREA_ACCOUNTS, id, NULL);
}

/* An account as an earlier version left it: key and a record without
 * "kid". Returns the key's PEM. */
static const char *store_account(const acme_store_t *store, const char *id,
                                 const char *record)
{
    const char *dir = dir_of(store, id), *pem;
    EVP_PKEY *key;

    ck_assert_int_eq(acme_store_mkdirs(dir, 0700, test_pool), APR_SUCCESS);
    ck_assert(acme_key_generate(&key, test_pool, ACME_KEY_EC256)
              == APR_SUCCESS);
    ck_assert(acme_key_to_pem(&pem, test_pool, key) == APR_SUCCESS);
    ck_assert_int_eq(acme_store_write(apr_pstrcat(test_pool, dir,
                     "/" ACME_FN_ACCOUNT_KEY, NULL), pem, strlen(pem), 0600,
                     test_pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_write(apr_pstrcat(test_pool, dir,
                     "/" ACME_FN_ACCOUNT, NULL), record, strlen(record), 0600,
                     test_pool), APR_SUCCESS);
    return pem;
}

static const char *read_text(const char *path)
{
    char *data = NULL;
    apr_size_t len;

    ck_assert_int_eq(acme_store_read(&data, &len, path, ACME_STORE_FILE_MAX,
                                     test_pool), APR_SUCCESS);
    return data;
}

static acme_domain_spec_t spec_for(const char *url, const char *kid)
{
    acme_domain_spec_t spec;

    memset(&spec, 0, sizeof(spec));
    spec.name = "example.org";
    spec.server_url = url;
    spec.eab_kid = kid;
    spec.tos_agreed = 1;
    return spec;
}

START_TEST(query_and_fragment_do_not_change_the_account)
{
    const char *id = acme_job_account_id(test_pool, CA, "kid-a");

    ck_assert_str_eq(acme_job_account_base_url(test_pool, CA_Q), CA);
    ck_assert_str_eq(acme_job_account_base_url(test_pool, CA "#x"), CA);
    ck_assert_str_eq(acme_job_account_id(test_pool, CA_Q, "kid-a"), id);
    ck_assert_str_eq(acme_job_account_id(test_pool, CA "?a=1#f", "kid-a"),
                     id);
    ck_assert_int_eq(strlen(id), 16);
    ck_assert_int_eq(strspn(id, "0123456789abcdef"), 16);
}
END_TEST

START_TEST(key_id_changes_the_account)
{
    const char *a = acme_job_account_id(test_pool, CA, "kid-a");
    const char *b = acme_job_account_id(test_pool, CA, "kid-b");
    const char *none = acme_job_account_id(test_pool, CA, NULL);

    ck_assert_str_ne(a, b);
    ck_assert_str_ne(a, none);
    ck_assert_str_ne(b, none);
    /* another CA, same key id: another account */
    ck_assert_str_ne(acme_job_account_id(test_pool, "https://ca2.test/dir",
                                         "kid-a"), a);
    /* Without key id and query the id stays what it always was, so
     * those stores need no adoption at all. */
    ck_assert_str_eq(none, old_id(CA));
    ck_assert_str_eq(acme_job_account_id(test_pool, CA_Q, NULL), old_id(CA));
}
END_TEST

/* An earlier version's account for the URL with its query string: both
 * key ids configured for that CA take it over, with no request to the
 * CA (a new registration would need fresh EAB values). */
START_TEST(old_account_is_adopted_by_each_key_id)
{
    acme_store_t *store = temp_store();
    fake_http_t *f = fake_create();
    acme_job_env_t env;
    const char *legacy = old_id(CA_Q), *kids[] = { "kid-a", "kid-b" };
    const char *pem = store_account(store, legacy, "{\"url\":\""
        OLD_ACCOUNT "\",\"server\":\"" CA_Q "\",\"created\":7}");
    int i;

    memset(&env, 0, sizeof(env));
    env.http = &f->http;
    ck_assert_str_eq(acme_job_account_dir(test_pool, store, CA_Q, "kid-a"),
                     dir_of(store, legacy));
    for (i = 0; i < 2; i++) {
        acme_domain_spec_t spec = spec_for(CA_Q, kids[i]);
        const char *own = dir_of(store, acme_job_account_id(test_pool, CA,
                                                            kids[i]));
        acme_client_t *c;
        acme_error_t *err;
        const char *text;
        json_t *rec;

        ck_assert_int_eq(acme_job_account(&c, &err, test_pool, &spec, store,
                                          &env), APR_SUCCESS);
        ck_assert_str_eq(c->account_url, OLD_ACCOUNT);
        text = read_text(apr_pstrcat(test_pool, own, "/" ACME_FN_ACCOUNT,
                                     NULL));
        rec = acme_json_parse(test_pool, text, strlen(text));
        ck_assert_str_eq(acme_json_str(rec, "url"), OLD_ACCOUNT);
        ck_assert_str_eq(acme_json_str(rec, "kid"), kids[i]);
        ck_assert_str_eq(acme_json_str(rec, "adopted_from"), legacy);
        ck_assert_int_eq(json_integer_value(json_object_get(rec, "created")),
                         7);
        ck_assert_str_eq(read_text(apr_pstrcat(test_pool, own,
                         "/" ACME_FN_ACCOUNT_KEY, NULL)), pem);
        ck_assert_str_eq(acme_job_account_dir(test_pool, store, CA,
                                              kids[i]), own);
    }
    ck_assert_int_eq(f->nrequests, 0);
    /* the original stays for whoever else used it */
    ck_assert(acme_store_exists(apr_pstrcat(test_pool, dir_of(store, legacy),
                                "/" ACME_FN_ACCOUNT, NULL), test_pool));
}
END_TEST

/* An account this version registered is some key id's own (its record
 * says which): another key id never takes it. */
START_TEST(an_account_with_a_key_id_is_not_adopted)
{
    acme_store_t *store = temp_store();
    fake_http_t *f = fake_create();
    acme_domain_spec_t spec = spec_for(CA, "kid-b");
    acme_job_env_t env;
    acme_client_t *c;
    acme_error_t *err;
    apr_array_header_t *paths;

    /* CA without key id: the id an earlier version gave the URL too */
    store_account(store, acme_job_account_id(test_pool, CA, NULL),
                  "{\"url\":\"" OLD_ACCOUNT "\",\"server\":\"" CA "\","
                  "\"kid\":null,\"created\":7}");
    memset(&env, 0, sizeof(env));
    env.http = &f->http;
    ck_assert_ptr_null(acme_job_account_dir(test_pool, store, CA, "kid-b"));
    /* no HMAC at hand: the job would have to register */
    ck_assert_int_eq(acme_job_account(&c, &err, test_pool, &spec, store,
                                      &env), APR_EAGAIN);
    ck_assert_int_eq(f->nrequests, 0);
    /* root's view: own path first, then where an earlier version kept it */
    paths = acme_job_account_paths(test_pool, store, CA_Q, "kid-b");
    ck_assert_int_eq(paths->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(paths, 0, const char *),
                     apr_pstrcat(test_pool, dir_of(store,
                     acme_job_account_id(test_pool, CA, "kid-b")),
                     "/" ACME_FN_ACCOUNT, NULL));
    ck_assert_str_eq(APR_ARRAY_IDX(paths, 1, const char *),
                     apr_pstrcat(test_pool, dir_of(store, old_id(CA_Q)),
                     "/" ACME_FN_ACCOUNT, NULL));
    ck_assert_str_eq(APR_ARRAY_IDX(paths, 2, const char *),
                     apr_pstrcat(test_pool, dir_of(store, old_id(CA)),
                     "/" ACME_FN_ACCOUNT, NULL));
}
END_TEST

/* handoff/config.json: the EAB of each server travels, and a file from
 * before has the first server's for every server. */
START_TEST(config_carries_the_eab_per_server)
{
    acme_conf_t c, *back;
    acme_conf_domain_t d, *bd;
    acme_conf_eab_t *e;
    const char *why = NULL, *text;
    json_t *j;

    memset(&c, 0, sizeof(c));
    memset(&d, 0, sizeof(d));
    c.store = "/var/lib/acme";
    c.domains = apr_array_make(test_pool, 1, sizeof(acme_conf_domain_t *));
    APR_ARRAY_PUSH(c.domains, acme_conf_domain_t *) = &d;
    d.key = d.name = "a.test";
    d.names = apr_array_make(test_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(d.names, const char *) = "a.test";
    d.key_types = apr_array_make(test_pool, 1, sizeof(acme_key_type_e));
    APR_ARRAY_PUSH(d.key_types, acme_key_type_e) = ACME_KEY_EC256;
    d.servers = apr_array_make(test_pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(d.servers, const char *) = CA_Q;
    APR_ARRAY_PUSH(d.servers, const char *) = "https://ca2.test/dir";
    d.contacts = apr_array_make(test_pool, 1, sizeof(const char *));
    d.eab_kid = "kid-a";
    d.eab_file = "/etc/apache2/eab-a.json";
    d.server_eab = apr_array_make(test_pool, 2, sizeof(acme_conf_eab_t));
    e = apr_array_push(d.server_eab);
    e->kid = "kid-a";
    e->file = "/etc/apache2/eab-a.json";
    e = apr_array_push(d.server_eab);
    e->kid = "kid-2";
    e->inline_hmac = 1;

    j = acme_json_pool_own(test_pool, acme_conf_to_json(&c));
    text = acme_json_dump(test_pool, j);
    ck_assert_int_eq(acme_conf_parse(&back, &why, test_pool, text,
                                     strlen(text)), APR_SUCCESS);
    bd = APR_ARRAY_IDX(back->domains, 0, acme_conf_domain_t *);
    ck_assert_str_eq(acme_conf_eab(bd, CA_Q)->kid, "kid-a");
    ck_assert_str_eq(acme_conf_eab(bd, CA_Q)->file, "/etc/apache2/eab-a.json");
    ck_assert_str_eq(acme_conf_eab(bd, "https://ca2.test/dir")->kid, "kid-2");
    ck_assert_ptr_null(acme_conf_eab(bd, "https://ca2.test/dir")->file);
    ck_assert(acme_conf_eab(bd, "https://ca2.test/dir")->inline_hmac);
    /* a URL the domain does not list: its first server's */
    ck_assert_str_eq(acme_conf_eab(bd, "https://other.test/")->kid, "kid-a");

    /* one entry per server, or the file is refused */
    json_array_remove(json_object_get(json_array_get(json_object_get(j,
                      "domains"), 0), "server_eab"), 1);
    text = acme_json_dump(test_pool, j);
    ck_assert_int_eq(acme_conf_parse(&back, &why, test_pool, text,
                                     strlen(text)), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "server_eab"));

    /* an older file: every server has the domain's EAB */
    json_object_del(json_array_get(json_object_get(j, "domains"), 0),
                    "server_eab");
    text = acme_json_dump(test_pool, j);
    ck_assert_int_eq(acme_conf_parse(&back, &why, test_pool, text,
                                     strlen(text)), APR_SUCCESS);
    bd = APR_ARRAY_IDX(back->domains, 0, acme_conf_domain_t *);
    ck_assert_str_eq(acme_conf_eab(bd, "https://ca2.test/dir")->kid, "kid-a");
    ck_assert_str_eq(acme_conf_eab(bd, "https://ca2.test/dir")->file,
                     "/etc/apache2/eab-a.json");
}
END_TEST

Suite *accounts_suite(void)
{
    Suite *s = suite_create("accounts");
    TCase *tc = tcase_create("accounts");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, query_and_fragment_do_not_change_the_account);
    tcase_add_test(tc, key_id_changes_the_account);
    tcase_add_test(tc, old_account_is_adopted_by_each_key_id);
    tcase_add_test(tc, an_account_with_a_key_id_is_not_adopted);
    tcase_add_test(tc, config_carries_the_eab_per_server);
    suite_add_tcase(s, tc);
    return s;
}
