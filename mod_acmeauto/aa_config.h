#ifndef AA_CONFIG_H
#define AA_CONFIG_H

#include "mod_acmeauto.h"

extern const command_rec aa_directives[];

void *aa_create_srv_conf(apr_pool_t *p, server_rec *s);
void *aa_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);

/* Resolves the settings of every ACMEDomain (vhost names, inherited
 * values) into global->domains. Returns an error text or NULL. */
const char *aa_config_collect(aa_global_t *g, apr_pool_t *p, server_rec *s);

/* A configuration that works but is probably not what was meant. */
typedef struct {
    const char *logno;               /* AA_LOGNO(...) */
    const char *text;
} aa_warning_t;

/* After aa_config_collect: the warnings for this configuration
 * (aa_warning_t, in p), for configtest's output and the log at start. */
apr_array_header_t *aa_config_warnings(const aa_global_t *g, apr_pool_t *p);

/* 1 if ServerAdmin is an e-mail address that mail can reach, so it may
 * serve as the account's contact (not webmaster@localhost). */
int aa_admin_is_contact(const char *admin);

/* 1 if s hands out a certificate: SSLEngine on (or optional) in its
 * <VirtualHost> or at the server level. Valid once aa_mark_tls_servers
 * has looked at the configuration (aa_config_collect does). */
int aa_serves_tls(const server_rec *s);
void aa_mark_tls_servers(apr_pool_t *p, server_rec *main_server);

/* The spec the job uses at d's index-th ACMEServer: that URL and its
 * EAB values. */
void aa_domain_spec_at(acme_domain_spec_t *spec, const aa_domain_t *d,
                       int index);

#define AA_DEFAULT_SERVER "https://acme-v02.api.letsencrypt.org/directory"
#define AA_DEFAULT_CHECK_INTERVAL apr_time_from_sec(12 * 3600)
/* Orders in flight at one CA: enough to hide the round trips, few enough
 * for any CA's rate limits on new orders and requests per second. */
#define AA_DEFAULT_MAX_ORDERS 5
#define AA_MAX_ORDERS_LIMIT 64
#define AA_DEFAULT_RETRY_DELAY apr_time_from_sec(30)
#define AA_DEFAULT_RENEW_PCT 33
#define AA_MAX_RETRY_DELAY apr_time_from_sec(24 * 3600)
#define AA_DEFAULT_DNS_WAIT apr_time_from_sec(10)

#endif
