#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "acme_identity.h"
#include "acme_util.h"

/* A domain sharing names with an index entry: the candidates of rules 1
 * and 2. score: shared names * 2, plus 1 when the key is one of the
 * domain's names; same: both hold exactly the same names. */
typedef struct {
    int i, k, score, same;
} pair_t;

/* name -> the domains (ints, configuration order) that hold it. With
 * thousands of domains every question "who has this name" must be one
 * lookup, not a scan: the assignment runs at every start-up. */
static apr_hash_t *name_owners(apr_pool_t *p, apr_array_header_t *const *sets,
                               int n)
{
    apr_hash_t *h = apr_hash_make(p);
    int i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < sets[i]->nelts; j++) {
            const char *name = APR_ARRAY_IDX(sets[i], j, const char *);
            apr_array_header_t *a = apr_hash_get(h, name,
                                                 APR_HASH_KEY_STRING);
            if (!a) {
                a = apr_array_make(p, 1, sizeof(int));
                apr_hash_set(h, name, APR_HASH_KEY_STRING, a);
            }
            /* i's names come one after another: a repeat is the last */
            if (!a->nelts || APR_ARRAY_IDX(a, a->nelts - 1, int) != i) {
                APR_ARRAY_PUSH(a, int) = i;
            }
        }
    }
    return h;
}

static int owns(apr_hash_t *owners, const char *name, int i)
{
    const apr_array_header_t *a = apr_hash_get(owners, name,
                                               APR_HASH_KEY_STRING);
    int j;

    for (j = 0; a && j < a->nelts; j++) {
        if (APR_ARRAY_IDX(a, j, int) == i) {
            return 1;
        }
    }
    return 0;
}

static apr_array_header_t *index_keys(apr_pool_t *p, const json_t *index)
{
    apr_array_header_t *a = apr_array_make(p, 8, sizeof(const char *));
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)index, key, v) {
        /* A key is a directory name: nothing that could walk elsewhere. */
        if (*key && key[0] != '.' && !strchr(key, '/')) {
            APR_ARRAY_PUSH(a, const char *) = apr_pstrdup(p, key);
        }
    }
    return acme_str_sorted(p, a);
}

/* Appends the domains that share names with index key k. count (n ints,
 * all zero) is scratch and left zero. A name listed twice in the entry
 * counts twice, a name listed twice in a set once. */
static void pairs_of_key(apr_array_header_t *pairs, int *count, int *touched,
                         apr_hash_t *owners, apr_array_header_t *const *sets,
                         const json_t *entry, const char *key, int k)
{
    size_t e, size = json_array_size(entry);
    int t, nt = 0;

    if (!json_is_array(entry)) {
        return;
    }
    for (e = 0; e < size; e++) {
        const char *name = json_string_value(json_array_get(entry, e));
        const apr_array_header_t *a = name ? apr_hash_get(owners, name,
            APR_HASH_KEY_STRING) : NULL;
        int j;
        for (j = 0; a && j < a->nelts; j++) {
            int i = APR_ARRAY_IDX(a, j, int);
            if (!count[i]++) {
                touched[nt++] = i;
            }
        }
    }
    for (t = 0; t < nt; t++) {
        int i = touched[t];
        pair_t *pr = apr_array_push(pairs);
        pr->i = i;
        pr->k = k;
        pr->score = count[i] * 2 + owns(owners, key, i);
        pr->same = (size_t)count[i] == size && count[i] == sets[i]->nelts;
        count[i] = 0;
    }
}

/* Best first: score, then configuration order, then key order. */
static int pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;

    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    if (x->i != y->i) {
        return x->i < y->i ? -1 : 1;
    }
    return x->k < y->k ? -1 : x->k > y->k;
}

/* Rule 1 (want_exact) and rule 2: the best pair of an unassigned domain
 * and an untaken key first. Scores do not change as keys are handed out,
 * so taking the sorted pairs in turn is the same as searching for the
 * best remaining pair again and again, without the quadratic search. */
static void match_pairs(const char **keys, char *key_taken,
                        const apr_array_header_t *pairs,
                        const apr_array_header_t *ikeys, int want_exact)
{
    int j;

    for (j = 0; j < pairs->nelts; j++) {
        const pair_t *pr = &APR_ARRAY_IDX(pairs, j, pair_t);
        if (!keys[pr->i] && !key_taken[pr->k] && (!want_exact || pr->same)) {
            keys[pr->i] = APR_ARRAY_IDX(ikeys, pr->k, const char *);
            key_taken[pr->k] = 1;
        }
    }
}

static void match_index(const char **keys, apr_pool_t *p, const json_t *index,
                        apr_array_header_t *const *sets, int n,
                        apr_hash_t *owners)
{
    apr_array_header_t *ikeys = index_keys(p, index);
    apr_array_header_t *pairs = apr_array_make(p, ikeys->nelts + 1,
                                               sizeof(pair_t));
    int *count = apr_pcalloc(p, sizeof(int) * (n + 1));
    int *touched = apr_palloc(p, sizeof(int) * (n + 1));
    char *key_taken = apr_pcalloc(p, ikeys->nelts + 1);
    int k;

    for (k = 0; k < ikeys->nelts; k++) {
        const char *key = APR_ARRAY_IDX(ikeys, k, const char *);
        pairs_of_key(pairs, count, touched, owners, sets,
                     json_object_get(index, key), key, k);
    }
    qsort(pairs->elts, pairs->nelts, sizeof(pair_t), pair_cmp);
    match_pairs(keys, key_taken, pairs, ikeys, 1);
    match_pairs(keys, key_taken, pairs, ikeys, 0);
}

static void take(apr_hash_t *taken, const char **keys, int i, const char *key)
{
    keys[i] = key;
    apr_hash_set(taken, key, APR_HASH_KEY_STRING, key);
}

void acme_identity_assign(const char **keys, apr_pool_t *p,
                          const json_t *index,
                          apr_array_header_t *const *sets, int n,
                          int (*in_store)(void *baton, const char *key),
                          void *baton)
{
    apr_hash_t *taken = apr_hash_make(p);
    int i, j;

    memset(keys, 0, sizeof(*keys) * n);
    if (index) {
        match_index(keys, p, index, sets, n, name_owners(p, sets, n));
    }
    for (i = 0; i < n; i++) {
        if (keys[i]) {
            apr_hash_set(taken, keys[i], APR_HASH_KEY_STRING, keys[i]);
        }
    }
    for (i = 0; i < n; i++) {          /* 3: entries from before the index */
        for (j = 0; !keys[i] && in_store && j < sets[i]->nelts; j++) {
            const char *name = APR_ARRAY_IDX(sets[i], j, const char *);
            if (!apr_hash_get(taken, name, APR_HASH_KEY_STRING)
                && !json_object_get(index, name) && in_store(baton, name)) {
                take(taken, keys, i, name);
            }
        }
    }
    for (i = 0; i < n; i++) {          /* 4: a new key */
        const char *first = APR_ARRAY_IDX(sets[i], 0, const char *);
        const char *key = first;
        for (j = 2; !keys[i]; j++) {
            if (!apr_hash_get(taken, key, APR_HASH_KEY_STRING)
                && !json_object_get(index, key)) {
                take(taken, keys, i, key);
            }
            key = apr_psprintf(p, "%s~%d", first, j);
        }
    }
}

json_t *acme_identity_index(const json_t *index, const char *const *keys,
                            apr_array_header_t *const *sets, int n)
{
    json_t *out = index && json_is_object(index) ? json_deep_copy(index)
                                                 : json_object();
    int i, j;

    for (i = 0; out && i < n; i++) {
        apr_array_header_t *sorted = acme_str_sorted(sets[i]->pool, sets[i]);
        json_t *names = json_array();
        for (j = 0; j < sorted->nelts; j++) {
            json_array_append_new(names, json_string(
                APR_ARRAY_IDX(sorted, j, const char *)));
        }
        json_object_set_new(out, keys[i], names);
    }
    return out;
}
