/* Writes handoff/config.json for the acmeauto command (core/acme_conf.h
 * has the format): what this start resolved, no secrets. */
#ifndef AA_CMDCONF_H
#define AA_CMDCONF_H

#include "mod_acmeauto.h"

/* After mod_ssl's post_config (which asks the module for each vhost's
 * certificates, and so learns of a previous SSLCertificateFile); not at
 * configtest. Logs when it cannot. */
void aa_cmdconf_write(aa_global_t *g, apr_pool_t *p, server_rec *s);

#endif
