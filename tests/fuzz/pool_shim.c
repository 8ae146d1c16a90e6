/* Exact-size allocations for the fuzz build; see pool_shim.h. Compiled
 * without the redirection so it can call the real APR functions. */
#define FUZZ_POOL_SHIM_IMPL 1
#include <stdio.h>
#include <stdlib.h>

#include "pool_shim.h"

static apr_status_t free_cleanup(void *data)
{
    free(data);
    return APR_SUCCESS;
}

void *fuzz_palloc(apr_pool_t *p, apr_size_t size)
{
    /* malloc(0) may return NULL; one byte keeps the pointer unique. ASan
     * still reports any access past size (0 included). */
    void *m = malloc(size ? size : 1);

    if (!m) {
        fprintf(stderr, "fuzz_palloc: out of memory (%lu bytes)\n",
                (unsigned long)size);
        abort();
    }
    apr_pool_cleanup_register(p, m, free_cleanup, apr_pool_cleanup_null);
    return m;
}

char *fuzz_pstrmemdup(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *d;

    if (!s) {
        return NULL;
    }
    d = fuzz_palloc(p, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *fuzz_pstrdup(apr_pool_t *p, const char *s)
{
    return s ? fuzz_pstrmemdup(p, s, strlen(s)) : NULL;
}

char *fuzz_pstrndup(apr_pool_t *p, const char *s, apr_size_t n)
{
    return s ? fuzz_pstrmemdup(p, s, strnlen(s, n)) : NULL;
}

void *fuzz_pmemdup(apr_pool_t *p, const void *m, apr_size_t n)
{
    void *d;

    if (!m) {
        return NULL;
    }
    d = fuzz_palloc(p, n);
    memcpy(d, m, n);
    return d;
}

char *fuzz_pvsprintf(apr_pool_t *p, const char *fmt, va_list ap)
{
    /* APR's formatter (it prints "(null)" for a NULL %s, where glibc's
     * behaviour differs), then copied into an exact-size block. */
    const char *s = apr_pvsprintf(p, fmt, ap);

    return fuzz_pstrdup(p, s);
}

char *fuzz_psprintf(apr_pool_t *p, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = fuzz_pvsprintf(p, fmt, ap);
    va_end(ap);
    return s;
}

char *fuzz_pstrcat(apr_pool_t *p, ...)
{
    va_list ap;
    const char *part;
    apr_size_t len = 0;
    char *s, *at;

    va_start(ap, p);
    while ((part = va_arg(ap, const char *)) != NULL) {
        len += strlen(part);
    }
    va_end(ap);
    s = at = fuzz_palloc(p, len + 1);
    va_start(ap, p);
    while ((part = va_arg(ap, const char *)) != NULL) {
        apr_size_t n = strlen(part);
        memcpy(at, part, n);
        at += n;
    }
    va_end(ap);
    *at = '\0';
    return s;
}
