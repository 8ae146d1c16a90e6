#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "fuzz_common.h"

static apr_pool_t *root;

static void terminate(void)
{
    apr_terminate();
}

apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p;

    if (!root) {
        apr_initialize();
        atexit(terminate);
        apr_pool_create(&root, NULL);
    }
    apr_pool_create(&p, root);
    return p;
}

char *fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *s = apr_palloc(p, size + 1);

    if (size) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

const char *fuzz_pem_wrap(apr_pool_t *p, const char *label,
                          const uint8_t *der, size_t len)
{
    /* 48 input bytes make one 64-character line. */
    apr_size_t lines = len / 48 + 1;
    char *body = apr_palloc(p, lines * 66 + 1), *at = body;
    size_t off, n;

    for (off = 0; off < len; off += n) {
        n = len - off > 48 ? 48 : len - off;
        at += EVP_EncodeBlock((unsigned char *)at, der + off, (int)n);
        *at++ = '\n';
    }
    *at = '\0';
    return apr_psprintf(p, "-----BEGIN %s-----\n%s-----END %s-----\n",
                        label, body, label);
}

void fuzz_check_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", what, file, line);
    abort();
}
