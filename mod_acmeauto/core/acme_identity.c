#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "acme_identity.h"
#include "acme_util.h"

static int contains(const apr_array_header_t *set, const char *name)
{
    int i;

    for (i = 0; i < set->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(set, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

/* Names of set that the index entry (a JSON array) also holds; -1 if the
 * entry is no array. *same: both hold exactly the same names. */
static int overlap(const apr_array_header_t *set, const json_t *entry,
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
        common += name && contains(set, name);
    }
    *same = (size_t)common == n && common == set->nelts;
    return common;
}

static int taken(const char *const *keys, int n, const char *key)
{
    int i;

    for (i = 0; i < n; i++) {
        if (keys[i] && !strcmp(keys[i], key)) {
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

/* Rule 1 (want_exact) and rule 2: the best pair of an unassigned domain
 * and an untaken key first: most shared names, then the key being one
 * of the domain's names, then configuration order. */
static void match_index(const char **keys, const json_t *index,
                        const apr_array_header_t *ikeys,
                        apr_array_header_t *const *sets, int n,
                        int want_exact)
{
    for (;;) {
        int i, k, best_i = -1, best_k = -1, best_score = 0;
        for (i = 0; i < n; i++) {
            for (k = 0; !keys[i] && k < ikeys->nelts; k++) {
                const char *key = APR_ARRAY_IDX(ikeys, k, const char *);
                int same, score = overlap(sets[i], json_object_get(index,
                                                                   key),
                                          &same);
                if (taken(keys, n, key) || score <= 0
                    || (want_exact && !same)) {
                    continue;
                }
                score = score * 2 + contains(sets[i], key);
                if (score > best_score) {
                    best_score = score;
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

void acme_identity_assign(const char **keys, apr_pool_t *p,
                          const json_t *index,
                          apr_array_header_t *const *sets, int n,
                          int (*in_store)(void *baton, const char *key),
                          void *baton)
{
    apr_array_header_t *ikeys = index_keys(p, index);
    int i, j;

    memset(keys, 0, sizeof(*keys) * n);
    match_index(keys, index, ikeys, sets, n, 1);
    match_index(keys, index, ikeys, sets, n, 0);
    for (i = 0; i < n; i++) {          /* 3: entries from before the index */
        for (j = 0; !keys[i] && in_store && j < sets[i]->nelts; j++) {
            const char *name = APR_ARRAY_IDX(sets[i], j, const char *);
            if (!taken(keys, n, name) && !json_object_get(index, name)
                && in_store(baton, name)) {
                keys[i] = name;
            }
        }
    }
    for (i = 0; i < n; i++) {          /* 4: a new key */
        const char *first = APR_ARRAY_IDX(sets[i], 0, const char *);
        const char *key = first;
        for (j = 2; !keys[i]; j++) {
            if (!taken(keys, n, key) && !json_object_get(index, key)) {
                keys[i] = key;
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
