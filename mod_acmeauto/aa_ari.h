/* ARI (RFC 9773) in the child: ask the CA when to renew, pick a time in
 * its window, remember it across restarts. */
#ifndef AA_ARI_H
#define AA_ARI_H

#include <jansson.h>
#include "mod_acmeauto.h"

typedef struct {
    const char *ids;          /* cert IDs this is about ("," joined) */
    int offered;              /* the CA has renewalInfo */
    apr_time_t start, end;    /* last suggested window */
    apr_time_t renew_at;      /* our pick in it; 0: none */
    apr_time_t next_check;    /* when to ask again */
} aa_ari_state_t;

/* Asks the CA (through spec's server) about every live certificate of d,
 * when ari->next_check has come. Logs what it learns. */
void aa_ari_check(aa_ari_state_t *ari, const aa_domain_t *d,
                  const acme_domain_spec_t *spec, const acme_job_env_t *env,
                  apr_pool_t *keep, apr_pool_t *p, server_rec *s,
                  apr_time_t now);

/* Persistence in state/<name>.json; from_json drops a state that is about
 * other certificates than d's live ones. Strings kept go in keep. */
json_t *aa_ari_to_json(const aa_ari_state_t *ari);
void aa_ari_from_json(aa_ari_state_t *ari, const json_t *j,
                      const aa_domain_t *d, apr_pool_t *keep, apr_pool_t *p);

/* The live certificates' IDs joined, or NULL when there are none. */
const char *aa_ari_ids(const aa_domain_t *d, apr_pool_t *p);

#endif
