/* Unit tests of the store-key assignment at scale (acme_identity): the
 * hashed matching gives exactly what the plain search of rules 1 and 2
 * gives, and thousands of domains are matched at once. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "test_suites.h"
#include "acme_identity.h"
#include "acme_util.h"

/* ---- the rules as README states them, searched the slow way ------- */

static int ref_contains(const apr_array_header_t *set, const char *name)
{
    int i;

    for (i = 0; i < set->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(set, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

static int ref_taken(const char **keys, int n, const char *key)
{
    int i;

    for (i = 0; i < n; i++) {
        if (keys[i] && !strcmp(keys[i], key)) {
            return 1;
        }
    }
    return 0;
}

/* Shared names (-1: no array); *same: exactly the same names. */
static int ref_overlap(const apr_array_header_t *set, const json_t *entry,
                       int *same)
{
    size_t i, n = json_array_size(entry);
    int common = 0;

    *same = 0;
    if (!json_is_array(entry)) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(entry, i));
        common += name && ref_contains(set, name);
    }
    *same = (size_t)common == n && common == set->nelts;
    return common;
}

/* Again and again: the best remaining pair (score, then domain order,
 * then key order) until none is left. */
static void ref_match(const char **keys, const json_t *index,
                      const apr_array_header_t *ikeys,
                      apr_array_header_t *const *sets, int n, int exact)
{
    for (;;) {
        int i, k, best_i = -1, best_k = -1, best = 0;
        for (i = 0; i < n; i++) {
            for (k = 0; !keys[i] && k < ikeys->nelts; k++) {
                const char *key = APR_ARRAY_IDX(ikeys, k, const char *);
                int same, score = ref_overlap(sets[i],
                                              json_object_get(index, key),
                                              &same);
                if (ref_taken(keys, n, key) || score <= 0
                    || (exact && !same)) {
                    continue;
                }
                score = score * 2 + ref_contains(sets[i], key);
                if (score > best) {
                    best = score;
                    best_i = i;
                    best_k = k;
                }
            }
        }
        if (best_i < 0) {
            return;
        }
        keys[best_i] = APR_ARRAY_IDX(ikeys, best_k, const char *);
    }
}

static void ref_assign(const char **keys, const json_t *index,
                       apr_array_header_t *const *sets, int n,
                       int (*in_store)(void *, const char *))
{
    apr_array_header_t *ikeys = apr_array_make(test_pool, 8, sizeof(char *));
    const char *key;
    json_t *v;
    int i, j;

    json_object_foreach((json_t *)index, key, v) {
        if (*key && key[0] != '.' && !strchr(key, '/')) {
            APR_ARRAY_PUSH(ikeys, const char *) = key;
        }
    }
    ikeys = acme_str_sorted(test_pool, ikeys);
    memset(keys, 0, sizeof(*keys) * n);
    ref_match(keys, index, ikeys, sets, n, 1);
    ref_match(keys, index, ikeys, sets, n, 0);
    for (i = 0; i < n; i++) {
        for (j = 0; !keys[i] && j < sets[i]->nelts; j++) {
            const char *name = APR_ARRAY_IDX(sets[i], j, const char *);
            if (!ref_taken(keys, n, name) && !json_object_get(index, name)
                && in_store(NULL, name)) {
                keys[i] = name;
            }
        }
    }
    for (i = 0; i < n; i++) {
        const char *first = APR_ARRAY_IDX(sets[i], 0, const char *);
        for (key = first, j = 2; !keys[i]; j++) {
            if (!ref_taken(keys, n, key) && !json_object_get(index, key)) {
                keys[i] = key;
            }
            key = apr_psprintf(test_pool, "%s~%d", first, j);
        }
    }
}

/* ---- random configurations over a small alphabet of names ---------- */

#define NAMES 12

static const char *name_of(int i)
{
    static const char *const names[NAMES] = {
        "a.test", "b.test", "c.test", "d.test", "e.test", "f.test",
        "g.test", "h.test", "i.test", "j.test", "k.test", "a.test~2" };
    return names[i];
}

/* Half the names are "in the store" (stores from before the index). */
static int odd_in_store(void *baton, const char *key)
{
    (void)baton;
    return strlen(key) == 6 && (key[0] - 'a') % 2;
}

/* Domains never share a name (configtest refuses that), index entries
 * may: an old index holds whatever was configured over the years. */
static int random_sets(apr_array_header_t **sets, unsigned *seed)
{
    int order[NAMES], i, n = 0, used = 0;

    for (i = 0; i < NAMES; i++) {
        int j = rand_r(seed) % (i + 1);
        order[i] = order[j];
        order[j] = i;
    }
    while (used < NAMES - 1 && n < 6) {
        int size = 1 + rand_r(seed) % 3;
        sets[n] = apr_array_make(test_pool, size, sizeof(char *));
        for (i = 0; i < size && used < NAMES - 1; i++) {
            APR_ARRAY_PUSH(sets[n], const char *) = name_of(order[used++]);
        }
        n++;
        if (rand_r(seed) % 4 == 0) {
            break;
        }
    }
    return n;
}

static json_t *random_index(unsigned *seed)
{
    json_t *index = json_object();
    int entries = rand_r(seed) % 7, e, i;

    for (e = 0; e < entries; e++) {
        json_t *names = json_array();
        int size = rand_r(seed) % 4;
        for (i = 0; i < size; i++) {
            json_array_append_new(names, json_string(
                name_of(rand_r(seed) % NAMES)));
        }
        if (rand_r(seed) % 9 == 0) {
            json_array_append_new(names, json_integer(7));
        }
        json_object_set_new(index, name_of(rand_r(seed) % NAMES),
                            rand_r(seed) % 11 ? names : json_string("x"));
    }
    return index;
}

START_TEST(hashed_matching_equals_the_plain_search)
{
    unsigned seed = 11;
    int round;

    for (round = 0; round < 3000; round++) {
        apr_array_header_t *sets[6];
        const char *want[6], *got[6];
        int n = random_sets(sets, &seed), i;
        json_t *index = random_index(&seed);

        ref_assign(want, index, sets, n, odd_in_store);
        acme_identity_assign(got, test_pool, index, sets, n, odd_in_store,
                             NULL);
        for (i = 0; i < n; i++) {
            ck_assert_msg(!strcmp(want[i], got[i]),
                          "round %d, domain %d (%s): %s, not %s; index %s",
                          round, i, acme_str_join(test_pool, sets[i], " "),
                          got[i], want[i], json_dumps(index, JSON_COMPACT));
        }
        json_decref(index);
    }
}
END_TEST

/* ---- thousands of domains --------------------------------------- */

#define MANY 10000

/* Every domain's names changed a little since the index was written:
 * each keeps its key. The plain search needs minutes for this (and
 * Check's timeout ends the test long before). */
START_TEST(ten_thousand_changed_domains_keep_their_keys)
{
    apr_array_header_t **sets = apr_palloc(test_pool, sizeof(*sets) * MANY);
    const char **keys = apr_palloc(test_pool, sizeof(*keys) * MANY);
    json_t *index = json_object();
    int i;

    for (i = 0; i < MANY; i++) {
        const char *name = apr_psprintf(test_pool, "d%05d.test", i);
        json_t *old = json_array();
        json_array_append_new(old, json_string(name));
        json_array_append_new(old, json_string(apr_pstrcat(test_pool, "old.",
                                                           name, NULL)));
        /* keys from before a rename: not the domain's first name */
        json_object_set_new(index, apr_pstrcat(test_pool, "k.", name, NULL),
                            old);
        sets[i] = apr_array_make(test_pool, 2, sizeof(char *));
        APR_ARRAY_PUSH(sets[i], const char *) = apr_pstrcat(test_pool, "new.",
                                                            name, NULL);
        APR_ARRAY_PUSH(sets[i], const char *) = name;
    }
    acme_identity_assign(keys, test_pool, index, sets, MANY, NULL, NULL);
    for (i = 0; i < MANY; i++) {
        ck_assert_str_eq(keys[i], apr_psprintf(test_pool, "k.d%05d.test", i));
    }
    json_decref(index);
}
END_TEST

Suite *identity_scale_suite(void)
{
    Suite *s = suite_create("identity_scale");
    TCase *tc = tcase_create("store keys at scale");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, hashed_matching_equals_the_plain_search);
    tcase_add_test(tc, ten_thousand_changed_domains_keep_their_keys);
    suite_add_tcase(s, tc);
    return s;
}
