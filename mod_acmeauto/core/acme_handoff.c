#include <string.h>
#include <apr_strings.h>

#include "acme_handoff.h"
#include "acme_json.h"
#include "acme_schedule.h"
#include "acme_util.h"

json_t *acme_handoff_to_json(const acme_handoff_t *h)
{
    return json_pack("{s:s,s:s,s:s?,s:I}", "staged", h->staged, "outcome",
                     h->outcome, "why", h->why, "at",
                     (json_int_t)apr_time_sec(h->at));
}

apr_status_t acme_handoff_parse(acme_handoff_t *h, apr_pool_t *p,
                                const char *data, apr_size_t len)
{
    json_t *j = acme_json_parse(p, data, len);
    const char *staged = acme_json_str(j, "staged");
    const char *outcome = acme_json_str(j, "outcome");
    const char *why = acme_json_str(j, "why");

    memset(h, 0, sizeof(*h));
    if (!staged || !outcome) {
        return APR_EINVAL;
    }
    h->staged = apr_pstrdup(p, staged);
    h->outcome = apr_pstrdup(p, outcome);
    h->why = why ? apr_pstrdup(p, why) : NULL;
    h->at = acme_time_from_stored(json_integer_value(json_object_get(j,
                                                                     "at")));
    return APR_SUCCESS;
}

const char *acme_staged_digest(apr_pool_t *p, const char *data,
                               apr_size_t len)
{
    return acme_sha256_hex(p, data, len);
}

int acme_staged_file_ok(const json_t *meta, const char *fname,
                        const char *data, apr_size_t len, apr_pool_t *p)
{
    const json_t *files = json_object_get(meta, "files");
    const char *want;

    if (!files) {
        return 1;
    }
    want = json_string_value(json_object_get(files, fname));
    return want && !strcmp(want, acme_sha256_hex(p, data, len));
}
