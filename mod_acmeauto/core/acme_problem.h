/* Errors with context: what failed, the ACME problem document (RFC 8555
 * §6.7, RFC 7807), and what the administrator should do about it. */
#ifndef ACME_PROBLEM_H
#define ACME_PROBLEM_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#define ACME_ERR_NS "urn:ietf:params:acme:error:"

typedef enum {
    ACME_FAIL_TRANSIENT = 0,  /* retry with backoff */
    ACME_FAIL_CONFIG,         /* wait for a configuration change */
} acme_fail_kind_e;

typedef struct {
    apr_status_t status;
    int http_status;          /* 0 when no HTTP answer */
    const char *type;         /* short type ("badNonce") or NULL */
    const char *detail;       /* server's text, or ours */
    const char *activity;     /* "creating account at https://..." */
    const char *hint;         /* what to change; never contains secrets */
    acme_fail_kind_e kind;
    apr_interval_time_t retry_after; /* 0 when the server said nothing */
} acme_error_t;

/* Builds an error from a problem document (may be NULL) and the HTTP
 * status; fills type/detail/hint/kind from the problem table. */
acme_error_t *acme_error_from_problem(apr_pool_t *p, const json_t *problem,
                                      int http_status, const char *activity);

/* Our own error (no server document). */
acme_error_t *acme_error_make(apr_pool_t *p, apr_status_t status,
                              acme_fail_kind_e kind, const char *activity,
                              const char *detail, const char *hint);

/* One line for the log: "activity: type: detail (hint)". */
const char *acme_error_line(apr_pool_t *p, const acme_error_t *e);

/* Short type without the URN prefix; type itself if not in the namespace. */
const char *acme_problem_short_type(const char *type);

#endif
