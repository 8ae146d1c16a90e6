/* A scripted fake HTTP transport for the client tests: a test queues the
 * server's replies, runs a client step, then inspects what was sent. */
#ifndef FAKE_HTTP_H
#define FAKE_HTTP_H

#include <jansson.h>
#include <apr_thread_mutex.h>

#include "acme_client.h"

#define DIR_URL  "https://ca.test/dir"
#define NONCE_URL "https://ca.test/nonce-plz"
#define ACCT_URL "https://ca.test/sign-me-up"
#define ORDER_URL "https://ca.test/order-plz"
#define KID_URL  "https://ca.test/my-account/1"
#define TOS_URL  "data:text/plain,Do%20what%20thou%20wilt"
/* Pebble's renewalInfo URL, with its trailing slash. */
#define ARI_URL  "https://ca.test/draft-ietf-acme-ari-03/renewalInfo/"

#define CT_JSON    "application/json; charset=utf-8"
#define CT_PROBLEM "application/problem+json; charset=utf-8"

#define FAKE_MAX 64

typedef struct {
    int status;
    const char *content_type;
    const char *body;
    const char *nonce;          /* Replay-Nonce, or NULL */
    const char *location;
    const char *retry_after;
    apr_status_t transport_rv;  /* non-zero: no HTTP answer at all */
    const char *error_text;
} fake_reply_t;

typedef struct {
    const char *method;
    const char *url;
    const char *content_type;
    const char *body;
    apr_time_t at;              /* when the request came in */
    const char *reply_nonce;    /* the Replay-Nonce it was answered with */
} fake_request_t;

typedef struct fake_http_t fake_http_t;

/* Answers rq instead of the queue: fills *r (zeroed), with strings that
 * live as long as p (the requester's pool). Called outside the
 * transport's lock, from the requesting thread: it may block. */
typedef void fake_respond_fn(fake_http_t *f, const fake_request_t *rq,
                             fake_reply_t *r, apr_pool_t *p);

struct fake_http_t {
    acme_http_t http;           /* first, so acme_http_t* casts back */
    apr_pool_t *pool;
    fake_reply_t replies[FAKE_MAX];
    int nreplies, next;
    fake_request_t requests[FAKE_MAX];
    int nrequests;
    fake_respond_fn *respond;   /* NULL: the queued replies */
    void *baton;                /* for respond */
    apr_thread_mutex_t *lock;   /* NULL: one thread only */
};

/* A transport in test_pool; a request beyond the queued replies fails the
 * test. */
fake_http_t *fake_create(void);
/* A transport that several threads may use at once, answering every
 * request with respond; requests and their replies' nonces are recorded
 * in arrival order (at most FAKE_MAX, more fail the test). */
fake_http_t *fake_create_responder(fake_respond_fn *respond, void *baton);

/* Queues a reply; the caller may set more fields on the result. */
fake_reply_t *fake_push(fake_http_t *f, int status, const char *content_type,
                        const char *body);

/* Pebble's directory with ARI_URL as renewalInfo. */
void push_directory(fake_http_t *f, int eab_required);
/* The same with renewal_info as renewalInfo; NULL: no renewalInfo. */
void push_directory_ari(fake_http_t *f, int eab_required,
                        const char *renewal_info);
void push_nonce(fake_http_t *f, const char *nonce);
fake_reply_t *push_problem(fake_http_t *f, int status, const char *type,
                           const char *detail);

/* How many requests used method. */
int count_method(const fake_http_t *f, const char *method);

/* A client on f with a new EC P-256 account key; nothing requested yet. */
acme_client_t *client_new(fake_http_t *f);
/* A client that has read the directory and is registered, with a nonce in
 * hand: the next request is the signed POST itself. */
acme_client_t *client_registered(fake_http_t *f);

void assert_has(const char *hay, const char *needle);
/* base64url of a JSON object, decoded and parsed (owned by test_pool). */
json_t *b64_json(const char *b64);

typedef struct {
    json_t *hdr;            /* decoded protected header */
    json_t *payload;        /* decoded payload; NULL for POST-as-GET */
    const char *payload_b64;
} jws_parts_t;

/* Checks that rq is a JWS POST and decodes it. */
jws_parts_t jws_decode(const fake_request_t *rq);

#endif
