/* acme_parse_rfc3339 (ARI windows, order and authorization expiry). A
 * time it accepts, written back as "YYYY-MM-DDTHH:MM:SSZ", must parse to
 * the same second. */
#include <string.h>
#include <apr_strings.h>

#include "fuzz_common.h"
#include "acme_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *text = fuzz_cstr(p, data, size);
    apr_time_t t, again;
    apr_time_exp_t xt;
    const char *s;

    if (acme_parse_rfc3339(&t, text) == APR_SUCCESS) {
        FUZZ_CHECK(apr_time_exp_gmt(&xt, t) == APR_SUCCESS);
        s = apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                         xt.tm_year + 1900, xt.tm_mon + 1, xt.tm_mday,
                         xt.tm_hour, xt.tm_min, xt.tm_sec);
        /* Before 1970 APR cannot say; anything it can say must agree. */
        if (xt.tm_year >= 70 && xt.tm_year + 1900 <= 9999) {
            FUZZ_CHECK(acme_parse_rfc3339(&again, s) == APR_SUCCESS);
            FUZZ_CHECK(apr_time_sec(again) == apr_time_sec(t));
        }
    }
    apr_pool_destroy(p);
    return 0;
}
