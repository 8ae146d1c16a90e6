#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <apr_strings.h>
#include <apr_network_io.h>
#include <openssl/sha.h>

#include "acme_dns.h"
#include "acme_notify.h"
#include "acme_util.h"

const char *acme_dns01_name(apr_pool_t *p, const char *identifier)
{
    return apr_pstrcat(p, "_acme-challenge.", identifier, NULL);
}

const char *acme_dns01_value(apr_pool_t *p, const char *key_authz)
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)key_authz, strlen(key_authz), md);
    return acme_b64url_encode(p, md, sizeof(md));
}

/* Reads the program's output until it closes it (it and everything it
 * started) or until the deadline; whatever exceeds max is dropped. */
static void collect_output(int fd, char *buf, apr_size_t max,
                           apr_size_t *len, apr_time_t until)
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    char scratch[512];
    ssize_t n;

    for (;;) {
        apr_interval_time_t left = until - apr_time_now();
        if (left <= 0) {
            return;
        }
        if (poll(&pfd, 1, (int)(left / 1000) + 1) < 0 && errno != EINTR) {
            return;
        }
        n = read(fd, scratch, sizeof(scratch));
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            return;
        }
        if (n > 0 && *len < max) {
            apr_size_t take = (apr_size_t)n < max - *len ? (apr_size_t)n
                                                         : max - *len;
            memcpy(buf + *len, scratch, take);
            *len += take;
        }
    }
}

apr_status_t acme_dns_cmd_run(int *status, const char **output,
                              const apr_array_header_t *cmd,
                              const char *action, const char *name,
                              const char *value,
                              apr_interval_time_t timeout, apr_pool_t *p)
{
    /* No secrets here: the environment is ours, not the caller's. */
    static char *const env[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
                                 "LANG=C", NULL };
    apr_time_t until = apr_time_now() + timeout;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    char **argv, *buf = apr_palloc(p, ACME_DNS_OUTPUT_MAX + 1);
    apr_size_t len = 0;
    int i, err, fds[2];
    pid_t pid;

    *status = 0;
    *output = "";
    argv = apr_pcalloc(p, sizeof(char *) * (cmd->nelts + 4));
    for (i = 0; i < cmd->nelts; i++) {
        argv[i] = apr_pstrdup(p, APR_ARRAY_IDX(cmd, i, const char *));
    }
    argv[i++] = apr_pstrdup(p, action);
    argv[i++] = apr_pstrdup(p, name);
    argv[i] = apr_pstrdup(p, value);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    /* stdin from /dev/null: a script that asks a question must not hang. */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    /* A process group of its own, to be stopped as a whole. */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    err = posix_spawn(&pid, argv[0], &fa, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err) {
        close(fds[0]);
        return APR_FROM_OS_ERROR(err);
    }
    collect_output(fds[0], buf, ACME_DNS_OUTPUT_MAX, &len, until);
    close(fds[0]);
    buf[len] = '\0';
    *output = buf;
    return acme_notify_reap(status, pid, until);
}

static apr_status_t resolver_addr(apr_sockaddr_t **sa, const char *resolver,
                                  apr_pool_t *p)
{
    char *host, *scope;
    apr_port_t port;

    if (apr_parse_addr_port(&host, &scope, &port, resolver, p) != APR_SUCCESS
        || !host || scope || !acme_is_ip_literal(host)) {
        return APR_EINVAL;
    }
    return apr_sockaddr_info_get(sa, host, APR_UNSPEC, port ? port : 53, 0,
                                 p);
}

apr_status_t acme_dns_resolver_check(const char *resolver, apr_pool_t *p)
{
    apr_sockaddr_t *sa;

    return resolver_addr(&sa, resolver, p);
}

/* A standard query (RFC 1035 §4.1) for name's TXT records with the
 * recursion-desired bit. 0 when the name is not a DNS name. */
static apr_size_t build_query(unsigned char *q, apr_size_t max,
                              unsigned id, const char *name)
{
    apr_size_t n = 12, l;
    const char *dot;

    memset(q, 0, 12);
    q[0] = (unsigned char)(id >> 8);
    q[1] = (unsigned char)id;
    q[2] = 0x01;                  /* RD */
    q[5] = 1;                     /* QDCOUNT */
    while (*name) {
        dot = strchr(name, '.');
        l = dot ? (apr_size_t)(dot - name) : strlen(name);
        if (l == 0 || l > 63 || n + l + 6 > max) {
            return 0;
        }
        q[n++] = (unsigned char)l;
        memcpy(q + n, name, l);
        n += l;
        name += l + (dot ? 1 : 0);
    }
    q[n++] = 0;
    q[n++] = 0;
    q[n++] = 16;                  /* TXT */
    q[n++] = 0;
    q[n++] = 1;                   /* IN */
    return n;
}

/* Skips a possibly compressed name at *off; 0 when it runs off the end. */
static int skip_name(const unsigned char *m, apr_size_t len, apr_size_t *off)
{
    while (*off < len) {
        unsigned l = m[*off];
        if (l == 0) {
            *off += 1;
            return 1;
        }
        if ((l & 0xC0) == 0xC0) {
            *off += 2;
            return *off <= len;
        }
        *off += 1 + l;
    }
    return 0;
}

/* Does the TXT rdata (character-strings, joined) equal value? */
static int txt_equals(const unsigned char *rd, apr_size_t rdlen,
                      const char *value)
{
    apr_size_t off = 0, vlen = strlen(value), got = 0;

    while (off < rdlen) {
        apr_size_t l = rd[off++];
        if (off + l > rdlen || got + l > vlen
            || memcmp(rd + off, value + got, l)) {
            return 0;
        }
        got += l;
        off += l;
    }
    return got == vlen;
}

apr_status_t acme_dns_answer_parse(int *found, const unsigned char *m,
                                   apr_size_t len, unsigned id,
                                   const char *value)
{
    apr_size_t off = 12;
    unsigned qd, an, i;

    *found = 0;
    if (len < 12 || ((unsigned)m[0] << 8 | m[1]) != id || !(m[2] & 0x80)) {
        return APR_EINVAL;
    }
    if ((m[3] & 0x0F) != 0) {
        return APR_SUCCESS;       /* NXDOMAIN and such: not there */
    }
    qd = (unsigned)m[4] << 8 | m[5];
    an = (unsigned)m[6] << 8 | m[7];
    for (i = 0; i < qd; i++) {
        if (!skip_name(m, len, &off) || (off += 4) > len) {
            return APR_EINVAL;
        }
    }
    for (i = 0; i < an && !*found; i++) {
        unsigned type, rdlen;
        if (!skip_name(m, len, &off) || off + 10 > len) {
            return APR_EINVAL;
        }
        type = (unsigned)m[off] << 8 | m[off + 1];
        rdlen = (unsigned)m[off + 8] << 8 | m[off + 9];
        off += 10;
        if (off + rdlen > len) {
            return APR_EINVAL;
        }
        *found = type == 16 && txt_equals(m + off, rdlen, value);
        off += rdlen;
    }
    return APR_SUCCESS;
}

apr_status_t acme_dns_txt_has(int *found, const char *resolver,
                              const char *name, const char *value,
                              apr_interval_time_t timeout, apr_pool_t *p)
{
    unsigned char q[300], a[4096];
    apr_time_t until = apr_time_now() + timeout;
    apr_sockaddr_t *sa;
    apr_socket_t *sock;
    apr_size_t qlen, alen;
    unsigned char rnd[2];
    unsigned id;
    apr_status_t rv;

    *found = 0;
    if ((rv = resolver_addr(&sa, resolver, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_generate_random_bytes(rnd, sizeof(rnd));
    id = (unsigned)rnd[0] << 8 | rnd[1];
    if (!(qlen = build_query(q, sizeof(q), id, name))) {
        return APR_EINVAL;
    }
    if ((rv = apr_socket_create(&sock, sa->family, SOCK_DGRAM, APR_PROTO_UDP,
                                p)) != APR_SUCCESS) {
        return rv;
    }
    /* connect(): only the resolver's answers reach the socket. */
    if ((rv = apr_socket_connect(sock, sa)) == APR_SUCCESS
        && (rv = apr_socket_send(sock, (const char *)q, &qlen))
           == APR_SUCCESS) {
        /* Stray datagrams (another id) are skipped until the deadline. */
        do {
            apr_interval_time_t left = until - apr_time_now();
            if (left <= 0) {
                rv = APR_TIMEUP;
                break;
            }
            apr_socket_timeout_set(sock, left);
            alen = sizeof(a);
            rv = apr_socket_recv(sock, (char *)a, &alen);
            if (rv == APR_SUCCESS) {
                rv = acme_dns_answer_parse(found, a, alen, id, value);
            }
        } while (rv == APR_EINVAL);
    }
    apr_socket_close(sock);
    return rv;
}
