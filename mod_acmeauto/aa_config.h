#ifndef AA_CONFIG_H
#define AA_CONFIG_H

#include "mod_acmeauto.h"

extern const command_rec aa_directives[];

void *aa_create_srv_conf(apr_pool_t *p, server_rec *s);
void *aa_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);

/* Resolves the settings of every ACMEDomain (vhost names, inherited
 * values) into global->domains. Returns an error text or NULL. */
const char *aa_config_collect(aa_global_t *g, apr_pool_t *p, server_rec *s);

/* The spec the job uses at d's index-th ACMEServer: that URL and its
 * EAB values. */
void aa_domain_spec_at(acme_domain_spec_t *spec, const aa_domain_t *d,
                       int index);

#define AA_DEFAULT_SERVER "https://acme-v02.api.letsencrypt.org/directory"
#define AA_DEFAULT_CHECK_INTERVAL apr_time_from_sec(12 * 3600)
#define AA_DEFAULT_RETRY_DELAY apr_time_from_sec(30)
#define AA_DEFAULT_RENEW_PCT 33
#define AA_MAX_RETRY_DELAY apr_time_from_sec(24 * 3600)

#endif
