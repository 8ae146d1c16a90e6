/* The strict small parsers: acme_parse_int64 (stored counters and times,
 * Retry-After seconds), acme_parse_duration and acme_duration_str,
 * acme_dns_name_normalize, acme_token_is_valid, acme_key_type_parse. */
#include <string.h>
#include <apr_lib.h>

#include "fuzz_common.h"
#include "acme_crypto.h"
#include "acme_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *text = fuzz_cstr(p, data, size);
    apr_int64_t n;
    apr_interval_time_t d;
    const char *name;
    size_t i;

    if (acme_parse_int64(&n, text, 0, 366 * 86400) == APR_SUCCESS) {
        FUZZ_CHECK(n >= 0 && n <= 366 * 86400);
    }
    if (acme_parse_int64(&n, text, -5, 5) == APR_SUCCESS) {
        FUZZ_CHECK(n >= -5 && n <= 5);
    }
    (void)acme_parse_int64(&n, text, APR_INT64_MIN, APR_INT64_MAX);
    if (acme_parse_duration(&d, text) == APR_SUCCESS) {
        FUZZ_CHECK(d >= 0 && d <= apr_time_from_sec(APR_INT64_C(10) * 366
                                                    * 86400));
        FUZZ_CHECK(acme_duration_str(p, d) != NULL);
    }
    if (acme_dns_name_normalize(&name, p, text)) {
        FUZZ_CHECK(strlen(name) <= 253 && name[0] != '.');
        for (i = 0; name[i]; i++) {
            FUZZ_CHECK(!apr_isupper(name[i]));
        }
    }
    if (acme_token_is_valid(text)) {
        FUZZ_CHECK(strlen(text) >= 1 && strlen(text) <= ACME_TOKEN_MAX);
    }
    (void)acme_key_type_parse(text);
    apr_pool_destroy(p);
    return 0;
}
