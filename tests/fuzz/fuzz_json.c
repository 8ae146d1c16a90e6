/* acme_json_parse: every JSON document the client reads from the CA and
 * from the store goes through it (size bound, duplicate keys, object at
 * the top). A parsed document must survive dump and parse unchanged. */
#include <string.h>
#include <jansson.h>

#include "fuzz_common.h"
#include "acme_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    json_t *j = acme_json_parse(p, (const char *)data, size);

    if (j) {
        const char *dump = acme_json_dump(p, j);
        json_t *again;

        FUZZ_CHECK(json_is_object(j));
        FUZZ_CHECK(size <= ACME_JSON_MAX);
        FUZZ_CHECK(dump != NULL);
        again = acme_json_parse(p, dump, strlen(dump));
        FUZZ_CHECK(again != NULL && json_equal(j, again));
        (void)acme_json_str(j, "status");
        (void)acme_json_str(j, "url");
    }
    apr_pool_destroy(p);
    return 0;
}
