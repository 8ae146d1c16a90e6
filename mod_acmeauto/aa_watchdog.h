#ifndef AA_WATCHDOG_H
#define AA_WATCHDOG_H

#include "mod_acmeauto.h"

/* Registers the renewal job as a mod_watchdog singleton in one child. */
apr_status_t aa_watchdog_start(aa_global_t *g, apr_pool_t *pconf,
                               server_rec *s);

/* Child: makes the child's exit wait for a job tick under way. */
void aa_watchdog_child_init(apr_pool_t *pchild, server_rec *s);

#endif
