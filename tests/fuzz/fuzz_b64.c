/* acme_b64_decode (base64url and standard base64: EAB HMAC keys, JWS parts)
 * on the input as text; and base64url of the input bytes must decode back
 * to the same bytes. */
#include <string.h>

#include "fuzz_common.h"
#include "acme_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *text = fuzz_cstr(p, data, size);
    unsigned char *out = NULL;
    apr_size_t len = 0, inlen = strlen(text);
    const char *enc;

    if (acme_b64_decode(&out, &len, p, text) == APR_SUCCESS) {
        FUZZ_CHECK(len <= inlen / 4 * 3 + 2);
        FUZZ_CHECK(out[len] == '\0');
    }
    enc = acme_b64url_encode(p, data, size);
    FUZZ_CHECK(strlen(enc) == (size * 4 + 2) / 3);
    FUZZ_CHECK(acme_b64_decode(&out, &len, p, enc) == APR_SUCCESS);
    FUZZ_CHECK(len == size && (size == 0 || !memcmp(out, data, size)));
    apr_pool_destroy(p);
    return 0;
}
