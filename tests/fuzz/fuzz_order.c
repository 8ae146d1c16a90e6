/* Order objects (RFC 8555 §7.1.3): acme_order_parse. */
#include <strings.h>

#include "fuzz_common.h"
#include "acme_client.h"
#include "acme_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    json_t *doc = acme_json_parse(p, (const char *)data, size);
    acme_order_t *o = NULL;
    int i;

    if (doc && acme_order_parse(&o, p, "https://ca.test/order/1", doc)
        == APR_SUCCESS) {
        FUZZ_CHECK(o->status && o->finalize_url && o->authz_urls);
        FUZZ_CHECK(!strncasecmp(o->finalize_url, "http", 4));
        FUZZ_CHECK(o->authz_urls->nelts <= 100);
        for (i = 0; i < o->authz_urls->nelts; i++) {
            FUZZ_CHECK(APR_ARRAY_IDX(o->authz_urls, i, const char *) != NULL);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
