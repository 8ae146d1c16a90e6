/* Private keys from the store (account key, certificate keys, staged
 * keys): acme_key_from_pem on the input as PEM text and, wrapped, as the
 * DER of a PKCS#8 key; then what the job does with a key it loaded: its
 * type, and for one of ours the JWK, thumbprint and a JWS signature. */
#include <string.h>

#include "fuzz_common.h"
#include "acme_crypto.h"

static void use_key(apr_pool_t *p, EVP_PKEY *key)
{
    acme_key_type_e t = acme_key_type_of(key);
    const char *tp, *sig;
    json_t *jwk;

    if (t == ACME_KEY_NONE) {
        return;
    }
    FUZZ_CHECK(acme_key_type_name(t) != NULL);
    FUZZ_CHECK(acme_key_jws_alg(key) != NULL);
    FUZZ_CHECK(acme_jwk_create(&jwk, p, key) == APR_SUCCESS);
    FUZZ_CHECK(acme_jwk_thumbprint(&tp, p, key) == APR_SUCCESS);
    (void)acme_jws_sign(&sig, p, key, "eyJhbGciOiJFUzI1NiJ9", "e30");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *text = fuzz_cstr(p, data, size);
    const char *wrapped;
    EVP_PKEY *key = NULL;

    if (acme_key_from_pem(&key, p, text, size) == APR_SUCCESS) {
        FUZZ_CHECK(key != NULL);
        use_key(p, key);
    }
    else {
        FUZZ_CHECK(key == NULL);
    }
    wrapped = fuzz_pem_wrap(p, "PRIVATE KEY", data, size);
    if (acme_key_from_pem(&key, p, wrapped, strlen(wrapped)) == APR_SUCCESS) {
        use_key(p, key);
    }
    apr_pool_destroy(p);
    return 0;
}
