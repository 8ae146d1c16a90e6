#ifndef AA_ACTIVATE_H
#define AA_ACTIVATE_H

#include "mod_acmeauto.h"

/* Parent: checks staged certificates and makes the good ones live, then
 * sets d->is_live/renew_at and makes a fallback where nothing is live.
 * quiet: no per-domain summary (the first of the two start-up passes). */
void aa_activate_all(aa_global_t *g, apr_pool_t *p, server_rec *s,
                     int quiet);

/* What the parent last judged (or holds back) of a domain's staged sets
 * is known by a hash of its staged.json: a cheap one without allocation,
 * so that the restart watcher thread may use it. */
unsigned int aa_staged_hash(const char *meta, apr_size_t len);
/* Is this staged.json the one the parent saw at start-up? */
int aa_staged_seen(const aa_domain_t *d, const char *meta, apr_size_t len);

/* mod_ssl hooks. */
int aa_add_cert_files(server_rec *s, apr_pool_t *p,
                      apr_array_header_t *cert_files,
                      apr_array_header_t *key_files);
int aa_add_fallback_cert_files(server_rec *s, apr_pool_t *p,
                               apr_array_header_t *cert_files,
                               apr_array_header_t *key_files);

#endif
