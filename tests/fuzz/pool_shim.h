/* Pool shim for the fuzz build only (given to the compiler with -include).
 *
 * APR carves pool allocations out of 8 KB blocks, so AddressSanitizer sees
 * neither an overflow past the end of an apr_palloc'd buffer nor a read of
 * memory the pool handed out to someone else. In the fuzz build the calls
 * the core makes are redirected here: each allocation is its own malloc of
 * the exact size, freed by a cleanup of the pool, so ASan watches the
 * bounds of every buffer the core allocates. APR's own internal
 * allocations (tables, arrays) still come from the pool. */
#ifndef FUZZ_POOL_SHIM_H
#define FUZZ_POOL_SHIM_H

#include <stdarg.h>
#include <string.h>
#include <apr_pools.h>
#include <apr_strings.h>

void *fuzz_palloc(apr_pool_t *p, apr_size_t size);
char *fuzz_pstrdup(apr_pool_t *p, const char *s);
char *fuzz_pstrmemdup(apr_pool_t *p, const char *s, apr_size_t n);
char *fuzz_pstrndup(apr_pool_t *p, const char *s, apr_size_t n);
void *fuzz_pmemdup(apr_pool_t *p, const void *m, apr_size_t n);
char *fuzz_pvsprintf(apr_pool_t *p, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
char *fuzz_psprintf(apr_pool_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *fuzz_pstrcat(apr_pool_t *p, ...) __attribute__((sentinel));

#ifndef FUZZ_POOL_SHIM_IMPL
#undef apr_palloc
#undef apr_pcalloc
#define apr_palloc(p, n)         fuzz_palloc(p, n)
#define apr_pcalloc(p, n)        memset(fuzz_palloc(p, n), 0, n)
#define apr_pstrdup(p, s)        fuzz_pstrdup(p, s)
#define apr_pstrmemdup(p, s, n)  fuzz_pstrmemdup(p, s, n)
#define apr_pstrndup(p, s, n)    fuzz_pstrndup(p, s, n)
#define apr_pmemdup(p, m, n)     fuzz_pmemdup(p, m, n)
#define apr_pvsprintf(p, f, ap)  fuzz_pvsprintf(p, f, ap)
#define apr_psprintf(p, ...)     fuzz_psprintf(p, __VA_ARGS__)
#define apr_pstrcat(p, ...)      fuzz_pstrcat(p, __VA_ARGS__)
#endif

#endif
