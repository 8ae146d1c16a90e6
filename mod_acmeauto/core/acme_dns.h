/* dns-01 (RFC 8555 §8.4): the TXT record's name and value, the running
 * of ACMEDNSCmd, and a look at a resolver the administrator names to see
 * whether the record is there yet. Runs as whoever calls it: the job and
 * the acmeauto command are the server's User by then. */
#ifndef ACME_DNS_H
#define ACME_DNS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* The longest ACMEDNSCmd may run (a DNS provider's API can be slow)
 * before its process group is killed. */
#define ACME_DNS_CMD_TIMEOUT apr_time_from_sec(120)

/* The most of the program's output that is kept for the log. */
#define ACME_DNS_OUTPUT_MAX 2048

/* "_acme-challenge.<identifier>": for a wildcard the authorization's
 * identifier is already the base name (RFC 8555 §7.1.3). In p. */
const char *acme_dns01_name(apr_pool_t *p, const char *identifier);

/* base64url(SHA-256(key authorization)), the TXT record's value. In p. */
const char *acme_dns01_value(apr_pool_t *p, const char *key_authz);

/* Runs cmd (argv: PATH ARG...) as `PATH ARG... action name value`, with
 * a fixed minimal environment, in a process group of its own, for at most
 * timeout. APR_SUCCESS: it ran and *status is its wait status; APR_TIMEUP:
 * killed with its whole group; else it could not be started. *output is
 * what it wrote to stdout and stderr (at most ACME_DNS_OUTPUT_MAX bytes,
 * in p, never NULL). */
apr_status_t acme_dns_cmd_run(int *status, const char **output,
                              const apr_array_header_t *cmd,
                              const char *action, const char *name,
                              const char *value,
                              apr_interval_time_t timeout, apr_pool_t *p);

/* A resolver address for ACMEDNSWait: an IP address with an optional
 * port, "192.0.2.53", "127.0.0.1:8053", "[2001:db8::53]:53" (no names:
 * resolving the resolver would need a resolver). APR_EINVAL otherwise. */
apr_status_t acme_dns_resolver_check(const char *resolver, apr_pool_t *p);

/* Asks resolver (see above) over UDP for name's TXT records, waiting at
 * most timeout for the answer. *found: 1 when one of them is value.
 * APR_SUCCESS when an answer came (found or not). */
apr_status_t acme_dns_txt_has(int *found, const char *resolver,
                              const char *name, const char *value,
                              apr_interval_time_t timeout, apr_pool_t *p);

/* Reads a resolver's datagram m (len bytes, from the network: bounded,
 * never trusted) as the answer to query id: *found is set when one of
 * its TXT records equals value. APR_EINVAL when it is no answer to that
 * query or is malformed; APR_SUCCESS (nothing found) for an error rcode
 * such as NXDOMAIN. */
apr_status_t acme_dns_answer_parse(int *found, const unsigned char *m,
                                   apr_size_t len, unsigned id,
                                   const char *value);

#endif
