#include <apr_strings.h>

#include "acme_json.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *acme_json_pool_own(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

json_t *acme_json_parse(apr_pool_t *p, const char *data, apr_size_t len)
{
    json_error_t err;
    json_t *j;

    if (!data || len == 0 || len > ACME_JSON_MAX) {
        return NULL;
    }
    j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return acme_json_pool_own(p, j);
}

const char *acme_json_dump(apr_pool_t *p, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    const char *copy;

    if (!s) {
        return NULL;
    }
    copy = apr_pstrdup(p, s);
    free(s);
    return copy;
}

const char *acme_json_str(const json_t *obj, const char *key)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;

    return json_is_string(v) ? json_string_value(v) : NULL;
}
