/* ACMEDeployCmd: once a new certificate is live, the parent runs the
 * administrator's program as root, as
 *
 *   PATH ARG... DOMAIN CERTFILE KEYFILE CHAINFILE [CERTFILE KEYFILE
 *   CHAINFILE]...
 *
 * one triple per key type, in ACMEKeyType order, all in live/<key>/:
 * CERTFILE the certificate followed by its chain (what mod_ssl serves),
 * KEYFILE its key, CHAINFILE the chain alone. No shell, stdin
 * /dev/null, a fixed environment, the working directory /, a process
 * group of its own; stopped with its group after 30 s. Its output and
 * exit status go to the error log. It never holds up the restart that
 * installed the certificate, and its failure stops nothing. */
#ifndef AA_DEPLOY_H
#define AA_DEPLOY_H

#include "mod_acmeauto.h"

/* After activation, in whichever pass installed something: runs the
 * command of every domain whose set went live in this pass (deploy_due),
 * one after the other, under a process of its own, and returns at once. */
void aa_deploy_launch(aa_global_t *g, apr_pool_t *p, server_rec *s);

/* Once per generation (not in the first start-up pass): logs the
 * outcome of every deploy command still under way, this generation's or
 * an earlier one's, from a thread that ends with pconf. */
void aa_deploy_watch(aa_global_t *g, apr_pool_t *pconf, server_rec *s);

#endif
