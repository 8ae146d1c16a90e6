/* The ACME directory (RFC 8555 §7.1.1): acme_directory_parse on what
 * acme_json_parse makes of the body. */
#include <strings.h>

#include "fuzz_common.h"
#include "acme_client.h"
#include "acme_json.h"

static int is_http_url(const char *s)
{
    return s && (!strncasecmp(s, "https://", 8) || !strncasecmp(s, "http://", 7));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    json_t *doc = acme_json_parse(p, (const char *)data, size);
    acme_directory_t dir;

    if (doc && acme_directory_parse(&dir, p, doc) == APR_SUCCESS) {
        /* The URLs the client will contact are http(s) URLs. */
        FUZZ_CHECK(is_http_url(dir.new_nonce));
        FUZZ_CHECK(is_http_url(dir.new_account));
        FUZZ_CHECK(is_http_url(dir.new_order));
        FUZZ_CHECK(!dir.renewal_info || is_http_url(dir.renewal_info));
        FUZZ_CHECK(dir.eab_required == 0 || dir.eab_required == 1);
    }
    apr_pool_destroy(p);
    return 0;
}
