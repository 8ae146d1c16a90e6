/* The certificate readers again, with the fuzz input as the DER of the
 * leaf: wrapped in PEM and followed by a fixed issuer, so the fuzzer
 * works on ASN.1 structure instead of base64 text. Then what the parent
 * does with a chain: info, names, ARI id, the check against a fixed key
 * (issuer signature, validity, names). */
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_pki.h"
#include "acme_cert.h"
#include "acme_crypto.h"

static apr_pool_t *key_pool;
static EVP_PKEY *leaf_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *pem, *id, *why;
    apr_array_header_t *chain = NULL, *want;
    acme_cert_info_t *info = NULL;

    if (!key_pool) {
        key_pool = fuzz_pool();
        FUZZ_CHECK(acme_key_from_pem(&leaf_key, key_pool, fuzz_leaf_key_pem,
                                     strlen(fuzz_leaf_key_pem))
                   == APR_SUCCESS);
    }
    pem = apr_pstrcat(p, fuzz_pem_wrap(p, "CERTIFICATE", data, size),
                      fuzz_issuer_pem, NULL);
    if (acme_cert_chain_parse(&chain, p, pem, strlen(pem)) == APR_SUCCESS) {
        FUZZ_CHECK(chain->nelts == 2);
        if (acme_cert_info(&info, p, chain) == APR_SUCCESS) {
            FUZZ_CHECK(info->chain_len == 2);
            (void)acme_cert_covers(info, "example.org");
            (void)acme_cert_covers(info, "a.example.org");
        }
        acme_cert_ari_id(&id, p, chain);
        want = apr_array_make(p, 2, sizeof(const char *));
        APR_ARRAY_PUSH(want, const char *) = "example.org";
        APR_ARRAY_PUSH(want, const char *) = "www.example.org";
        if (acme_cert_check(&why, p, chain, leaf_key, want, FUZZ_NOW)
            != APR_SUCCESS) {
            FUZZ_CHECK(why != NULL);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
