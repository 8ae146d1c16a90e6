/* Certificate chains and keys as PEM text, as the job reads a download
 * and as the parent reads a staged set before it goes live:
 * acme_cert_chain_parse, acme_cert_info, acme_cert_covers,
 * acme_cert_ari_id, acme_key_from_pem (a key block in the same text) and
 * acme_cert_check. */
#include <string.h>

#include "fuzz_common.h"
#include "acme_cert.h"
#include "acme_crypto.h"

static void check_chain(apr_pool_t *p, const apr_array_header_t *chain,
                        const char *pem, size_t size)
{
    acme_cert_info_t *info = NULL;
    EVP_PKEY *key = NULL;
    const char *id, *why;
    int i;

    if (acme_cert_info(&info, p, chain) == APR_SUCCESS) {
        FUZZ_CHECK(info->chain_len == chain->nelts && info->names);
        FUZZ_CHECK(info->serial_hex && info->issuer);
        for (i = 0; i < info->names->nelts; i++) {
            const char *n = APR_ARRAY_IDX(info->names, i, const char *);
            FUZZ_CHECK(acme_cert_covers(info, n));
        }
        (void)acme_cert_covers(info, "www.example.org");
        (void)acme_cert_covers(info, ".example.org");
    }
    if (acme_cert_ari_id(&id, p, chain) == APR_SUCCESS) {
        FUZZ_CHECK(strchr(id, '.') != NULL);
    }
    acme_key_from_pem(&key, p, pem, size);
    if (acme_cert_check(&why, p, chain, key, info ? info->names : NULL,
                        FUZZ_NOW) != APR_SUCCESS) {
        FUZZ_CHECK(why != NULL);
    }
    if (info) {
        acme_cert_check(&why, p, chain, key, NULL, info->not_before);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *pem = fuzz_cstr(p, data, size);
    apr_array_header_t *chain = NULL;

    if (acme_cert_chain_parse(&chain, p, pem, size) == APR_SUCCESS) {
        FUZZ_CHECK(chain && chain->nelts >= 1 && chain->nelts <= 10);
        check_chain(p, chain, pem, size);
    }
    else {
        FUZZ_CHECK(chain == NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
