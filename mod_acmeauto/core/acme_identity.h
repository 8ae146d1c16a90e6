/* Identity: a managed certificate belongs to its set of names, not to its
 * first name. Each domain has a store key (the directory name of its
 * entries in staging/, live/, state/...) that is chosen once and then
 * stays with the domain: reordering its names, swapping ServerName and
 * ServerAlias, or changing which name comes first keeps the key, and so
 * the live certificate, the account's orders and the job's state.
 *
 * The index (handoff/domains.json, root's) maps each key to the names it
 * was last configured with. A configured set of names takes, in order:
 *   1. the key whose names are exactly the same set;
 *   2. else the key sharing the most names with it (ties: a key that
 *      is one of its names, then the first configured domain);
 *   3. else a name of the set that already has entries in the store
 *      (stores written before the index existed);
 *   4. else its first name (with "~2", "~3"... if that key is taken).
 * Keys of domains no longer configured stay in the index: removing an
 * ACMEDomain deletes nothing, and adding it back finds its entries. */
#ifndef ACME_IDENTITY_H
#define ACME_IDENTITY_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* sets: n arrays of names (const char*, lower case). index: the parsed
 * index, or NULL. in_store(baton, name): does the store hold entries for
 * this key. Fills keys[0..n-1] (in p). */
void acme_identity_assign(const char **keys, apr_pool_t *p,
                          const json_t *index,
                          apr_array_header_t *const *sets, int n,
                          int (*in_store)(void *baton, const char *key),
                          void *baton);

/* The index after the assignment: old entries kept, assigned keys set to
 * their (sorted) names. A new reference. */
json_t *acme_identity_index(const json_t *index, const char *const *keys,
                            apr_array_header_t *const *sets, int n);

#endif
