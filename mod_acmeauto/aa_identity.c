#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

#include "aa_identity.h"
#include "aa_store.h"
#include "acme_identity.h"
#include "acme_json.h"

APLOG_USE_MODULE(acmeauto);

/* Entries under this key in live/ or staging/ (stores from before the
 * index); lstat only: nothing is opened or followed. */
static int in_store(void *baton, const char *key)
{
    const aa_global_t *g = baton;
    static const acme_store_area_e areas[] = { ACME_AREA_LIVE,
                                               ACME_AREA_STAGING };
    struct stat st;
    int i;

    for (i = 0; i < 2; i++) {
        int fd = g->area_fd[areas[i]];
        if (fd >= 0 && fstatat(fd, key, &st, AT_SYMLINK_NOFOLLOW) == 0
            && S_ISDIR(st.st_mode)) {
            return 1;
        }
    }
    return 0;
}

void aa_identity_assign(aa_global_t *g, apr_pool_t *p, server_rec *s,
                        int write_index)
{
    int n = g->domains->nelts, i;
    apr_array_header_t **sets = apr_pcalloc(p, sizeof(*sets) * (n + 1));
    const char **keys = apr_pcalloc(p, sizeof(*keys) * (n + 1));
    json_t *index = NULL, *updated;
    char *data, *text;
    apr_size_t len;

    if (aa_store_read_in(&data, &len, g, ACME_AREA_HANDOFF, ACME_FN_INDEX,
                         ACME_STORE_FILE_MAX, p) == APR_SUCCESS) {
        index = acme_json_parse(p, data, len);
        if (!json_is_object(index)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00113)
                         "%s/handoff/%s is damaged: domains are matched to "
                         "the store by their names only", g->store_dir,
                         ACME_FN_INDEX);
            index = NULL;
        }
    }
    for (i = 0; i < n; i++) {
        sets[i] = APR_ARRAY_IDX(g->domains, i, aa_domain_t *)->names;
    }
    acme_identity_assign(keys, p, index, sets, n, in_store, g);
    for (i = 0; i < n; i++) {
        aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        d->key = apr_pstrdup(g->pool, keys[i]);
        d->spec.name = d->key;
        if (strcmp(d->key, d->name)) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, AA_LOGNO(00114)
                         "%s: its entries in the store are under %s",
                         d->name, d->key);
        }
    }
    updated = acme_json_pool_own(p, acme_identity_index(index, keys, sets,
                                                        n));
    /* No handoff/: AA00101 or AA00111 has said why. */
    if (!write_index || !updated || g->area_fd[ACME_AREA_HANDOFF] < 0
        || (index && json_equal(index, updated))) {
        return;
    }
    text = json_dumps(updated, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text || aa_store_write_in(g, ACME_AREA_HANDOFF, ACME_FN_INDEX, text,
                                   strlen(text), 0644) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00115)
                     "cannot write %s/handoff/%s: reordered names may not "
                     "find their certificate after the next restart",
                     g->store_dir, ACME_FN_INDEX);
    }
    free(text);
}
