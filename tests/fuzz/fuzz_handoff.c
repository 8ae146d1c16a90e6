/* The parent's verdict on a staged set, handoff/<key>.json, as the job
 * reads it (acme_handoff_parse). A verdict it accepts names the staged
 * set and an outcome, its time is within what a store may hold, and
 * writing it out again gives the same verdict. */
#include <string.h>

#include "fuzz_common.h"
#include "acme_json.h"
#include "acme_handoff.h"

/* 9999-12-31T23:59:59Z, the latest time a stored value may name. */
#define LATEST APR_INT64_C(253402300799000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    acme_handoff_t h, again;
    const char *text;
    json_t *j;

    if (acme_handoff_parse(&h, p, (const char *)data, size) != APR_SUCCESS) {
        FUZZ_CHECK(!h.staged && !h.outcome && !h.why && !h.at);
        apr_pool_destroy(p);
        return 0;
    }
    FUZZ_CHECK(h.staged && h.outcome);
    FUZZ_CHECK(h.at >= 0 && h.at <= LATEST);
    FUZZ_CHECK(h.at % 1000000 == 0);

    j = acme_json_pool_own(p, acme_handoff_to_json(&h));
    FUZZ_CHECK(j != NULL);
    text = acme_json_dump(p, j);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(acme_handoff_parse(&again, p, text, strlen(text))
               == APR_SUCCESS);
    FUZZ_CHECK(!strcmp(again.staged, h.staged));
    FUZZ_CHECK(!strcmp(again.outcome, h.outcome));
    FUZZ_CHECK((!again.why) == (!h.why));
    FUZZ_CHECK(!h.why || !strcmp(again.why, h.why));
    FUZZ_CHECK(again.at == h.at);
    apr_pool_destroy(p);
    return 0;
}
