/* The job's state of one domain between runs, as kept in state/<key>.json
 * (see acme_store.h): consecutive failures and the next attempt, ARI's
 * window and pick, when each notification was last sent, the last error.
 *
 * The file lives in an area the server's User writes, survives clock
 * jumps and may be damaged or forged: nothing in it may stop renewals.
 * Reading it therefore clamps every value (times, counters, string sizes)
 * to what the job itself could have written, checks the JSON type of
 * every member and drops a state that belongs to another configuration
 * or to certificates that are no longer live. Pure: `now` is a parameter,
 * so every rule is tested without a clock.
 *
 * The format (unchanged from the version that kept it in the glue):
 *   {"domain": "<name>", "config": "<fingerprint>", "failures": N,
 *    "next_attempt": SEC, "updated": SEC, "server": "<URL>",
 *    "ari": {"ids": "<id>,<id>" | null, "offered": BOOL,
 *            "window_start": SEC, "window_end": SEC,
 *            "renew_at": SEC, "next_check": SEC},
 *    "notified": {"<event>": SEC, ...},
 *    "last_error": {"type", "detail", "activity", "hint": STR | null,
 *                   "http_status": N, "kind": "configuration" |
 *                   "transient", "at": SEC}}        (when there is one)
 * SEC: seconds since the epoch; 0 for "none". */
#ifndef ACME_STATE_H
#define ACME_STATE_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>
#include "acme_problem.h"

/* The longest delay the job ever chooses between attempts; a stored next
 * attempt further away than this from now is brought back to it. */
#define ACME_RETRY_DELAY_MAX apr_time_from_sec(24 * 3600)

/* The longest the CA may make us wait before asking about ARI again
 * (RFC 9773 §4.3 asks clients to keep it reasonable). */
#define ACME_ARI_RECHECK_MAX apr_time_from_sec(24 * 3600)

/* More consecutive failures than this count as this many: the backoff
 * is at its maximum long before. */
#define ACME_STATE_FAILURES_MAX 1000

/* The largest state file read; a bigger one is damaged. */
#define ACME_STATE_FILE_MAX (64 * 1024)

/* Longest text kept of a last error's member (bytes; cut on a character
 * boundary), and of the fingerprint and ARI ids (longer: not ours). */
#define ACME_STATE_TEXT_MAX 1024
#define ACME_STATE_ID_MAX 4096

/* What ACMENotifyCmd is told about; the names are both the
 * program's argument and the members of "notified". */
typedef enum {
    ACME_EV_ISSUED = 0,
    ACME_EV_RENEWED,
    ACME_EV_INSTALLED,
    ACME_EV_ERRORED,
    ACME_EV_EXPIRING,
    ACME_EV_REVOKED,          /* acmeauto revoke; the job never sends it */
    ACME_EV_RESTART_BLOCKED,  /* the configuration on disk fails its test */
    ACME_EV_COUNT
} acme_event_e;

/* "issued", "renewed"...; "?" for a value out of range. */
const char *acme_event_name(acme_event_e ev);

typedef struct {
    const char *ids;          /* live cert IDs this is about ("," joined) */
    int offered;              /* the CA has renewalInfo */
    apr_time_t start, end;    /* last suggested window; 0: none */
    apr_time_t renew_at;      /* our pick; 0: none */
    apr_time_t next_check;    /* when to ask again */
} acme_state_ari_t;

typedef struct {
    const char *domain;       /* written for a reader; not read back */
    const char *config;       /* fingerprint of the configuration */
    int failures;             /* consecutive, 0..ACME_STATE_FAILURES_MAX */
    apr_time_t next_attempt;  /* 0: whenever due */
    const char *server;       /* the ACMEServer that last issued; NULL */
    acme_state_ari_t ari;
    apr_time_t notified[ACME_EV_COUNT];
    json_t *last_error;       /* an object, or NULL; see below */
} acme_state_t;

/* Reads len bytes of state/<key>.json into *st, clamped as of now:
 *  - failures within [0, ACME_STATE_FAILURES_MAX];
 *  - next_attempt within [0, now + ACME_RETRY_DELAY_MAX];
 *  - ARI taken only when its ids equal ari_ids (the live certificates;
 *    NULL: none, so never); a window that ends before it starts is
 *    dropped with its pick; a pick is brought inside its window;
 *    next_check within [0, now + ACME_ARI_RECHECK_MAX];
 *  - notification times within [0, now] (a time in the future would
 *    silence the event);
 *  - last_error rebuilt from its known members, type-checked and bounded.
 * Members of the wrong type count as absent. A file about another
 * configuration than `config` gives a fresh state (all zero, config
 * set) and APR_SUCCESS; APR_EINVAL (and a fresh state) when the data is
 * not a JSON object of at most ACME_STATE_FILE_MAX bytes (an empty file
 * included): the file is damaged. Strings and st->last_error are owned
 * by p (json_incref to keep the latter). */
apr_status_t acme_state_parse(acme_state_t *st, apr_pool_t *p,
                              const char *data, apr_size_t len,
                              const char *config, const char *ari_ids,
                              apr_time_t now);

/* The document to write for st, "updated" being now. Owned by p. */
json_t *acme_state_to_json(apr_pool_t *p, const acme_state_t *st,
                           apr_time_t now);

/* A last_error object for err at time at, strings bounded as on reading.
 * A new reference the caller owns (it outlives the pools of one tick). */
json_t *acme_state_error_new(const acme_error_t *err, apr_time_t at);

#endif
