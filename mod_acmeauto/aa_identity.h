/* Gives every configured domain its store key (core/acme_identity.h has
 * the rule) and keeps the index in handoff/domains.json. */
#ifndef AA_IDENTITY_H
#define AA_IDENTITY_H

#include "mod_acmeauto.h"

/* Sets d->key (and d->spec.name) of every domain; writes the index when
 * it changed and write_index is set. Needs aa_store_prepare first. */
void aa_identity_assign(aa_global_t *g, apr_pool_t *p, server_rec *s,
                        int write_index);

#endif
