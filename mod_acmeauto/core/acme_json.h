/* jansson helpers: tie a json_t's lifetime to an APR pool, and read
 * fields with their type checked (never trust the server). */
#ifndef ACME_JSON_H
#define ACME_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* Maximum size of any JSON document we parse. */
#define ACME_JSON_MAX (1024 * 1024)

/* Registers a cleanup on p that drops one reference of j; returns j. */
json_t *acme_json_pool_own(apr_pool_t *p, json_t *j);

/* Parses len bytes; NULL on error or when the top level is not an object.
 * The result is owned by p. */
json_t *acme_json_parse(apr_pool_t *p, const char *data, apr_size_t len);

/* Compact, key-sorted serialization; lives in p. */
const char *acme_json_dump(apr_pool_t *p, const json_t *j);

/* String member or NULL when absent or not a string. */
const char *acme_json_str(const json_t *obj, const char *key);

#endif
