/* Inside the issuance job: the state one run of acme_job_issue shares
 * between acme_job.c (orders, keys, staging) and acme_authz.c (proving
 * control of the names: challenge selection, answers, fallback). */
#ifndef ACME_JOB_INT_H
#define ACME_JOB_INT_H

#include "acme_job.h"

typedef struct {
    apr_pool_t *p;
    const acme_domain_spec_t *d;
    const acme_store_t *store;
    const acme_job_env_t *env;
    acme_client_t *client;
    apr_array_header_t *tokens;     /* challenge files we wrote */
    apr_array_header_t *dns;        /* acme_job_txt_t set up by ACMEDNSCmd
                                     * and not torn down yet */
    apr_table_t *failed;            /* identifier ("*.x" for a wildcard) ->
                                     * " type type": failed at the CA in
                                     * this run, not to be chosen again */
    int profile_noted;              /* said once that the CA lacks it */
    int key_type;                   /* acme_key_type_e of the order at
                                     * hand: its key is made while the CA
                                     * validates */
} acme_job_t;

typedef struct {
    const char *name;               /* _acme-challenge.<domain> */
    const char *value;
} acme_job_txt_t;

/* level: 0 error, 1 warning, 2 info, 3 debug; prefixed with the name. */
void acme_job_log(acme_job_t *job, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Gets every authorization of o valid: picks a challenge type per name
 * in ACMEChallenges order among those the CA offers, falls back to the
 * next type when one cannot be set up, answers, and waits. A name whose
 * validation failed at the CA is noted in job->failed. */
apr_status_t acme_job_authorize(acme_job_t *job, const acme_order_t *o);

/* After a failed authorization: is there a type left to try with a new
 * order for every name that failed? */
int acme_job_can_fall_back(acme_job_t *job);

/* Removes every answer this run put up (challenge files, TXT records
 * through ACMEDNSCmd teardown); also those an earlier, interrupted run
 * left, as listed in staging/<name>/dns-records.json. */
void acme_job_unprovision(acme_job_t *job);

#endif
