#ifndef AA_WATCHDOG_H
#define AA_WATCHDOG_H

#include "mod_acmeauto.h"

/* Registers the renewal job as a mod_watchdog singleton in one child. */
apr_status_t aa_watchdog_start(aa_global_t *g, apr_pool_t *pconf,
                               server_rec *s);

/* Child: makes the child's exit wait for a job tick under way. */
void aa_watchdog_child_init(apr_pool_t *pchild, server_rec *s);

/* The fingerprint of d's configuration the job writes into its state
 * (no secrets, only their hash), and the path of state/<key>.json. */
const char *aa_state_fingerprint(apr_pool_t *p, const aa_domain_t *d);
const char *aa_state_path(apr_pool_t *p, const aa_global_t *g,
                          const aa_domain_t *d);

#endif
