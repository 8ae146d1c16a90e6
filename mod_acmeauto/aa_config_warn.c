/* Warnings about a configuration that httpd accepts but that is probably
 * not what was meant (aa_config_warnings): configtest prints them, the
 * parent logs them at every start. Errors stay in aa_config.c. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <util_cfgtree.h>

#include "aa_config.h"
#include "acme_util.h"

/* 1 for an address whose domain could receive mail: at least one dot,
 * and not a name that stays on the machine or its LAN (Debian's default
 * ServerAdmin is webmaster@localhost). */
static int is_deliverable(const char *addr)
{
    static const char *const local[] = {
        ".localhost", ".localdomain", ".local", ".lan", ".home.arpa",
        ".internal", ".invalid", NULL
    };
    const char *at = strrchr(addr, '@'), *dom;
    apr_size_t len, n;
    int i;

    if (!at || at == addr || !strchr(at + 1, '.')) {
        return 0;
    }
    dom = at + 1;
    len = strlen(dom);
    if (dom[0] == '.' || dom[len - 1] == '.') {
        return 0;
    }
    for (i = 0; local[i]; i++) {
        n = strlen(local[i]);
        if ((len > n && !strcasecmp(dom + len - n, local[i]))
            || !strcasecmp(dom, local[i] + 1)) {
            return 0;
        }
    }
    return 1;
}

/* ServerAdmin looks like an e-mail address (it may be a URL too). */
static int is_admin_address(const char *admin)
{
    return admin && strchr(admin, '@') && !strpbrk(admin, " \t<>");
}

int aa_admin_is_contact(const char *admin)
{
    return is_admin_address(admin) && is_deliverable(admin);
}

static void warn(apr_array_header_t *w, const char *logno, const char *text)
{
    aa_warning_t *e = &APR_ARRAY_PUSH(w, aa_warning_t);

    e->logno = logno;
    e->text = text;
}

/* "SSLEngine on|optional" among these directives (and conditional
 * sections in them): only such a host hands out a certificate. */
static int has_ssl_engine(const ap_directive_t *dir)
{
    for (; dir; dir = dir->next) {
        if (!strcasecmp(dir->directive, "SSLEngine") && dir->args
            && (!strcasecmp(dir->args, "on")
                || !strcasecmp(dir->args, "optional"))) {
            return 1;
        }
        if (dir->first_child && strcasecmp(dir->directive, "<VirtualHost")
            && has_ssl_engine(dir->first_child)) {
            return 1;
        }
    }
    return 0;
}

static const char *node_id(apr_pool_t *p, const char *file, int line)
{
    return apr_psprintf(p, "%d:%s", line, file);
}

/* Every <VirtualHost> node of the configuration tree by where it starts
 * (httpd keeps that in the server_rec); the first of a place wins, as
 * for vhosts a macro expands from one line. */
static void index_vhosts(apr_hash_t *nodes, apr_pool_t *p,
                         const ap_directive_t *dir)
{
    for (; dir; dir = dir->next) {
        if (!strcasecmp(dir->directive, "<VirtualHost") && dir->filename) {
            const char *id = node_id(p, dir->filename, dir->line_num);
            if (!apr_hash_get(nodes, id, APR_HASH_KEY_STRING)) {
                apr_hash_set(nodes, id, APR_HASH_KEY_STRING, dir);
            }
        }
        if (dir->first_child) {
            index_vhosts(nodes, p, dir->first_child);
        }
    }
}

/* One walk of the tree for all servers: looking each vhost up in the
 * tree again would be quadratic in the number of vhosts. */
void aa_mark_tls_servers(apr_pool_t *p, server_rec *main_server)
{
    apr_hash_t *nodes = apr_hash_make(p);
    int everywhere = has_ssl_engine(ap_conftree);  /* inherited by all */
    server_rec *s;

    index_vhosts(nodes, p, ap_conftree);
    for (s = main_server; s; s = s->next) {
        const ap_directive_t *node = s->defn_name ? apr_hash_get(nodes,
            node_id(p, s->defn_name, (int)s->defn_line_number),
            APR_HASH_KEY_STRING) : NULL;
        aa_srv_conf(s)->serves_tls = everywhere
            || (node && has_ssl_engine(node->first_child));
    }
}

int aa_serves_tls(const server_rec *s)
{
    return aa_srv_conf(s)->serves_tls;
}

/* Appends those of names that d does not list to *missing. */
static void add_missing(const char **missing, apr_pool_t *p,
                        const aa_domain_t *d, const apr_array_header_t *names)
{
    const char *name;
    int i;

    for (i = 0; names && i < names->nelts; i++) {
        const char *raw = APR_ARRAY_IDX(names, i, const char *);
        if (!acme_name_normalize(&name, p, raw)
            || !acme_str_in(d->names, name)) {
            *missing = *missing ? apr_pstrcat(p, *missing, ", ", raw, NULL)
                                : raw;
        }
    }
}

/* Names of a TLS vhost that its ACMEDomain NAME... does not list: the
 * clients asking for them get a certificate that does not match. */
static void warn_uncovered(apr_array_header_t *w, apr_pool_t *p,
                           server_rec *s)
{
    aa_domain_t *d = aa_srv_conf(s)->served;
    apr_array_header_t *own;
    const char *missing = NULL;

    if (!d || d->from_vhost || !aa_serves_tls(s)) {
        return;
    }
    own = apr_array_make(p, 1, sizeof(const char *));
    if (s->server_hostname) {
        APR_ARRAY_PUSH(own, const char *) = s->server_hostname;
    }
    add_missing(&missing, p, d, own);
    add_missing(&missing, p, d, s->names);
    add_missing(&missing, p, d, s->wild_names);
    if (missing) {
        int many = strchr(missing, ',') != NULL;
        warn(w, AA_LOGNO(00602), apr_psprintf(p, "%s is served the "
             "certificate of the ACMEDomain at %s, which does not cover "
             "%s: clients asking for %s get a certificate that is not "
             "valid for %s. Add %s to that ACMEDomain, or write a bare "
             "ACMEDomain in the <VirtualHost> to take its ServerName and "
             "ServerAlias", s->is_virtual && s->defn_name
             ? apr_psprintf(p, "the <VirtualHost> at %s:%d", s->defn_name,
                            s->defn_line_number) : "the main server",
             d->defined_at, missing,
             many ? "these names" : "this name", many ? "them" : "it",
             many ? "them" : "it"));
    }
}

/* ServerAdmin not taken as the contact (once: it is usually inherited by
 * every vhost from Debian's default). */
static void warn_contact(apr_array_header_t *w, apr_pool_t *p,
                         const aa_global_t *g)
{
    int i;

    for (i = 0; i < g->domains->nelts; i++) {
        const aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        const char *admin = d->defined_in->server_admin;
        if (d->spec.contacts->nelts == 0 && is_admin_address(admin)) {
            warn(w, AA_LOGNO(00601), apr_psprintf(p, "ServerAdmin %s is not "
                 "an address the CA can send mail to, so the ACME account gets no "
                 "contact and the CA cannot tell you about certificates "
                 "that expire or are revoked: set ACMEContact to a real "
                 "e-mail address (the ACMEDomain at %s is the first "
                 "affected)", admin, d->defined_at));
            return;
        }
    }
}

typedef struct {
    const ap_directive_t *dir;       /* MDomain or <MDomainSet */
    const char *name;                /* one of its names, normalized */
} md_name_t;

/* mod_md keeps its MDomain names in its own configuration, which no
 * other module can read: the directives themselves tell them. */
static void md_names(apr_array_header_t *out, apr_pool_t *p,
                     const ap_directive_t *dir)
{
    for (; dir; dir = dir->next) {
        int set = !strcasecmp(dir->directive, "<MDomainSet");
        if ((set || !strcasecmp(dir->directive, "MDomain")) && dir->args) {
            const char *args = dir->args, *word;
            while (*args && (word = ap_getword_conf(p, &args)) && *word) {
                apr_size_t len = strlen(word);
                if (set && word[len - 1] == '>') {
                    word = apr_pstrndup(p, word, len - 1);
                }
                /* "auto" and "manual" (MDomain's mode) are no names. */
                if (strcasecmp(word, "auto") && strcasecmp(word, "manual")
                    && acme_dns_name_normalize(&word, p, word)) {
                    md_name_t *e = &APR_ARRAY_PUSH(out, md_name_t);
                    e->dir = dir;
                    e->name = word;
                }
            }
        }
        if (dir->first_child) {
            md_names(out, p, dir->first_child);
        }
    }
}

static int md_covers(const char *md_name, const char *name)
{
    const char *dot = strchr(name, '.');

    return !strcmp(md_name, name)
        || (md_name[0] == '*' && dot && !strcmp(md_name + 1, dot));
}

/* Domains (ints, in order) by a key of their names: the name itself, or
 * what follows its first dot (what "*.<that>" covers). */
static void add_by(apr_hash_t *h, apr_pool_t *p, const char *key, int j)
{
    apr_array_header_t *a = apr_hash_get(h, key, APR_HASH_KEY_STRING);

    if (!a) {
        a = apr_array_make(p, 1, sizeof(int));
        apr_hash_set(h, key, APR_HASH_KEY_STRING, a);
    }
    if (!a->nelts || APR_ARRAY_IDX(a, a->nelts - 1, int) != j) {
        APR_ARRAY_PUSH(a, int) = j;
    }
}

static void warn_md_overlap(apr_array_header_t *w, apr_pool_t *p,
                            const ap_directive_t *dir, const char *md_name,
                            const aa_domain_t *d)
{
    int k;

    for (k = 0; k < d->names->nelts; k++) {
        const char *n = APR_ARRAY_IDX(d->names, k, const char *);
        if (md_covers(md_name, n)) {
            warn(w, AA_LOGNO(00603), apr_psprintf(p, "%s %s at %s:%d "
                 "(mod_md) and the ACMEDomain at %s both manage %s: both "
                 "obtain certificates for it and which one is served is "
                 "not defined. Remove %s from one of them",
                 dir->directive[0] == '<' ? dir->directive + 1
                                          : dir->directive,
                 md_name, dir->filename, dir->line_num, d->defined_at, n,
                 n));
            return;
        }
    }
}

/* Hashed both ways: a migration may list thousands of names in both
 * modules. */
static void warn_mod_md(apr_array_header_t *w, apr_pool_t *p,
                        const aa_global_t *g)
{
    apr_hash_t *exact, *parent;
    apr_array_header_t *md;
    int i, j, k;

    if (!ap_find_linked_module("mod_md.c")) {
        return;
    }
    md = apr_array_make(p, 8, sizeof(md_name_t));
    md_names(md, p, ap_conftree);
    if (!md->nelts) {
        return;
    }
    exact = apr_hash_make(p);
    parent = apr_hash_make(p);
    for (j = 0; j < g->domains->nelts; j++) {
        const aa_domain_t *d = APR_ARRAY_IDX(g->domains, j, aa_domain_t *);
        for (k = 0; k < d->names->nelts; k++) {
            const char *n = APR_ARRAY_IDX(d->names, k, const char *);
            const char *dot = strchr(n, '.');
            add_by(exact, p, n, j);
            if (dot) {
                add_by(parent, p, dot, j);
            }
        }
    }
    for (i = 0; i < md->nelts; i++) {
        const md_name_t *e = &APR_ARRAY_IDX(md, i, md_name_t);
        /* "*.x" covers "*.x" and every "<label>.x": all under ".x" */
        const apr_array_header_t *hits = e->name[0] == '*'
            ? apr_hash_get(parent, e->name + 1, APR_HASH_KEY_STRING)
            : apr_hash_get(exact, e->name, APR_HASH_KEY_STRING);
        for (j = 0; hits && j < hits->nelts; j++) {
            warn_md_overlap(w, p, e->dir, e->name,
                            APR_ARRAY_IDX(g->domains,
                                          APR_ARRAY_IDX(hits, j, int),
                                          aa_domain_t *));
        }
    }
}

apr_array_header_t *aa_config_warnings(const aa_global_t *g, apr_pool_t *p)
{
    apr_array_header_t *w = apr_array_make(p, 2, sizeof(aa_warning_t));
    server_rec *s;

    for (s = g->main_server; s; s = s->next) {
        warn_uncovered(w, p, s);
    }
    warn_contact(w, p, g);
    warn_mod_md(w, p, g);
    return w;
}
