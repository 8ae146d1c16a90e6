/* ARI (RFC 9773) in the child: ask the CA when to renew, pick a time in
 * its window, remember it across restarts. */
#ifndef AA_ARI_H
#define AA_ARI_H

#include "mod_acmeauto.h"
#include "acme_state.h"

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

/* To and from the persisted state (state/<key>.json, acme_state.h, which
 * checks and clamps what it reads). to_state borrows ari's strings;
 * from_state copies the ids into keep. */
void aa_ari_to_state(acme_state_ari_t *out, const aa_ari_state_t *ari);
void aa_ari_from_state(aa_ari_state_t *ari, const acme_state_ari_t *saved,
                       apr_pool_t *keep);

/* The live certificates' IDs joined, or NULL when there are none. */
const char *aa_ari_ids(const aa_domain_t *d, apr_pool_t *p);

#endif
