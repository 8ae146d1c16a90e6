/* Store keys (acme_identity_assign, acme_identity_index) for a few fixed
 * configurations against the index handoff/domains.json as the input
 * gives it. Whatever the index says, every domain gets a key that can
 * name a directory of its own: not empty, no '/', not "." or "..", no
 * two domains the same. The index written afterwards keeps every old
 * entry and lists each domain's names, sorted; assigning again with it
 * gives the same keys (a restart without a configuration change must
 * not move a domain). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "fuzz_common.h"
#include "acme_json.h"
#include "acme_identity.h"

/* Each configuration: domains separated by '|', names by ' '. Names are
 * distinct across domains, as the configuration demands. */
static const char *const configs[] = {
    "a.test www.a.test|b.test|c.test d.test e.test",
    "www.a.test a.test",
    "x.test|*.y.test y.test|z.test b.test",
    "d.test|c.test|b.test|a.test",
};

/* Entries from before the index existed. */
static int in_store(void *baton, const char *key)
{
    return !strcmp(key, "b.test") || !strcmp(key, "d.test");
}

static int parse_config(apr_array_header_t **sets, apr_pool_t *p,
                        const char *config)
{
    char *copy = apr_pstrdup(p, config), *dlast, *nlast, *dom, *name;
    int n = 0;

    for (dom = apr_strtok(copy, "|", &dlast); dom;
         dom = apr_strtok(NULL, "|", &dlast)) {
        sets[n] = apr_array_make(p, 4, sizeof(const char *));
        for (name = apr_strtok(dom, " ", &nlast); name;
             name = apr_strtok(NULL, " ", &nlast)) {
            APR_ARRAY_PUSH(sets[n], const char *) = name;
        }
        n++;
    }
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_keys(const char **keys, int n)
{
    int i, j;

    for (i = 0; i < n; i++) {
        FUZZ_CHECK(keys[i] && *keys[i]);
        FUZZ_CHECK(!strchr(keys[i], '/'));
        FUZZ_CHECK(strcmp(keys[i], ".") && strcmp(keys[i], ".."));
        for (j = 0; j < i; j++) {
            FUZZ_CHECK(strcmp(keys[i], keys[j]));
        }
    }
}

/* out keeps every entry of index (may be NULL) and maps each key to its
 * sorted set. */
static void check_index(const json_t *out, const json_t *index,
                        const char **keys, apr_array_header_t **sets, int n,
                        apr_pool_t *p)
{
    const char *key;
    json_t *v;
    int i, j;

    FUZZ_CHECK(json_is_object(out));
    json_object_foreach((json_t *)index, key, v) {
        FUZZ_CHECK(json_object_get(out, key) != NULL);
    }
    for (i = 0; i < n; i++) {
        apr_array_header_t *sorted = apr_array_copy(p, sets[i]);
        const json_t *names = json_object_get(out, keys[i]);
        qsort(sorted->elts, sorted->nelts, sizeof(const char *), cmp_str);
        FUZZ_CHECK(json_array_size(names) == (size_t)sorted->nelts);
        for (j = 0; j < sorted->nelts; j++) {
            FUZZ_CHECK(!strcmp(json_string_value(json_array_get(names, j)),
                               APR_ARRAY_IDX(sorted, j, const char *)));
        }
    }
}

static void run_config(apr_pool_t *p, const json_t *index,
                       const char *config)
{
    apr_array_header_t *sets[8];
    const char *keys[8], *again[8];
    int n = parse_config(sets, p, config), i;
    json_t *out;

    acme_identity_assign(keys, p, index, sets, n, in_store, NULL);
    check_keys(keys, n);
    out = acme_json_pool_own(p, acme_identity_index(index, keys, sets, n));
    check_index(out, index, keys, sets, n, p);
    acme_identity_assign(again, p, out, sets, n, in_store, NULL);
    for (i = 0; i < n; i++) {
        FUZZ_CHECK(!strcmp(again[i], keys[i]));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    json_t *index = acme_json_parse(p, (const char *)data, size);
    size_t i;

    for (i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        run_config(p, index, configs[i]);
    }
    apr_pool_destroy(p);
    return 0;
}
