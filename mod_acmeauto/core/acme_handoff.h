/* The parent's word to the job about a staged set, in handoff/<key>.json
 * (root owns the area, the job only reads it), and the fingerprint that
 * ties a verdict to one staged set: the SHA-256 of its staged.json, which
 * itself lists the SHA-256 of every file of the set. */
#ifndef ACME_HANDOFF_H
#define ACME_HANDOFF_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#define ACME_HANDOFF_INSTALLED "installed"
#define ACME_HANDOFF_REJECTED  "rejected"

typedef struct {
    const char *staged;     /* digest of the staged.json it is about */
    const char *outcome;    /* ACME_HANDOFF_INSTALLED or _REJECTED */
    const char *why;        /* rejected: what the check found */
    apr_time_t at;
} acme_handoff_t;

/* A new reference the caller owns. */
json_t *acme_handoff_to_json(const acme_handoff_t *h);

/* Parses what was read from handoff/<key>.json; strings in p. APR_EINVAL
 * for anything but an object with string "staged" and "outcome". */
apr_status_t acme_handoff_parse(acme_handoff_t *h, apr_pool_t *p,
                                const char *data, apr_size_t len);

/* Hex SHA-256 of a staged.json as read. In p. */
const char *acme_staged_digest(apr_pool_t *p, const char *data,
                               apr_size_t len);

/* Does data match what staged.json's "files" says of fname? A staged.json
 * without "files" (older versions) vouches for nothing and passes; one
 * that lists files must list this one with its digest. */
int acme_staged_file_ok(const json_t *meta, const char *fname,
                        const char *data, apr_size_t len, apr_pool_t *p);

#endif
