/* Authorization and challenge objects (RFC 8555 §7.1.4, §8):
 * acme_authz_parse. A token that reaches a file name or a response must
 * be plain base64url. */
#include "fuzz_common.h"
#include "acme_client.h"
#include "acme_json.h"
#include "acme_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    json_t *doc = acme_json_parse(p, (const char *)data, size);
    acme_authz_t *a = NULL;
    int i;

    if (doc && acme_authz_parse(&a, p, "https://ca.test/authz/1", doc)
        == APR_SUCCESS) {
        FUZZ_CHECK(a->status && a->identifier && a->challenges);
        for (i = 0; i < a->challenges->nelts; i++) {
            const acme_challenge_t *ch =
                &APR_ARRAY_IDX(a->challenges, i, acme_challenge_t);
            FUZZ_CHECK(ch->type && ch->url && ch->status);
            FUZZ_CHECK(!ch->token || acme_token_is_valid(ch->token));
        }
    }
    apr_pool_destroy(p);
    return 0;
}
