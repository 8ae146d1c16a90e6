/* A staged set's staged.json as the root parent reads it: its digest
 * (what the parent's verdict names) and acme_staged_file_ok, which ties
 * every staged file to the digest staged.json lists for it. The input is
 * staged.json, then optionally a line "%%" and the bytes of a staged
 * file, checked under a few names; the verdict is compared with a SHA-256
 * computed here, not by the core. */
#include <string.h>
#include <openssl/evp.h>

#include "fuzz_common.h"
#include "acme_json.h"
#include "acme_handoff.h"

static const char *sha256_hex(apr_pool_t *p, const char *data, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char *hex = apr_palloc(p, 65);
    unsigned int i;

    FUZZ_CHECK(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) == 1
               && mdlen == 32);
    for (i = 0; i < 32; i++) {
        hex[2 * i] = "0123456789abcdef"[md[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
    hex[64] = '\0';
    return hex;
}

/* What staged.json vouches for: no "files" vouches for nothing (an older
 * version's set); else the name must be listed with the file's digest. */
static int expected_ok(apr_pool_t *p, const json_t *meta, const char *name,
                       const char *data, size_t len)
{
    const json_t *files = json_object_get(meta, "files");
    const char *want;

    if (!files) {
        return 1;
    }
    want = json_string_value(json_object_get(files, name));
    return want && !strcmp(want, sha256_hex(p, data, len));
}

/* Where the line "%%" begins (after a newline), or NULL. */
static const char *separator(const char *text, size_t size)
{
    size_t i;

    for (i = 0; i + 4 <= size; i++) {
        if (!memcmp(text + i, "\n%%\n", 4)) {
            return text + i;
        }
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "ec256.cert.pem", "ec256.key.pem",
                                         "rsa2048.cert.pem" };
    apr_pool_t *p = fuzz_pool();
    const char *text = fuzz_cstr(p, data, size), *sep, *file = "";
    size_t meta_len = size, file_len = 0, i;
    json_t *meta;

    sep = separator(text, size);
    if (sep) {
        meta_len = (size_t)(sep - text);
        file = sep + 4;
        file_len = size - meta_len - 4;
    }
    FUZZ_CHECK(!strcmp(acme_staged_digest(p, text, meta_len),
                       sha256_hex(p, text, meta_len)));
    meta = acme_json_parse(p, text, meta_len);
    for (i = 0; meta && i < sizeof(names) / sizeof(names[0]); i++) {
        FUZZ_CHECK(acme_staged_file_ok(meta, names[i], file, file_len, p)
                   == expected_ok(p, meta, names[i], file, file_len));
    }
    apr_pool_destroy(p);
    return 0;
}
