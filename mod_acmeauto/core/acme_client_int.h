/* Shared between the files of the ACME client; not part of its API. */
#ifndef ACME_CLIENT_INT_H
#define ACME_CLIENT_INT_H

#include "acme_client.h"

/* Records an error of our own in c->error and returns rv. */
apr_status_t acme_client_fail(acme_client_t *c, apr_status_t rv,
                              acme_fail_kind_e kind, const char *activity,
                              const char *detail, const char *hint);

/* The one path of signed requests; use_jwk for newAccount. */
apr_status_t acme_signed_post(acme_client_t *c, acme_http_response_t **resp,
                              json_t **json, apr_pool_t *p, const char *url,
                              const json_t *payload, const char *activity,
                              int use_jwk);

int acme_client_aborted(acme_client_t *c);

/* Sleeps up to d in slices; non-zero when the job is to stop. */
int acme_client_pause(acme_client_t *c, apr_interval_time_t d);

#endif
