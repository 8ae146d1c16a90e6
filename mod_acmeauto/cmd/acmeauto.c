/* acmeauto: the command-line entry point. Global options, then one
 * subcommand; each subcommand parses its own arguments (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <openssl/crypto.h>

#include "acmeauto.h"
#include "acme_http.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "?"
#endif

typedef struct {
    const char *name;
    ax_cmd_fn fn;
    const char *summary;
} ax_subcommand_t;

static const ax_subcommand_t subcommands[] = {
    { "status",  ax_cmd_status,
      "status [NAME] [--json]      what each managed domain has and does" },
    { "check",   ax_cmd_check,
      "check [NAME]                everything short of issuing" },
    { "renew",   ax_cmd_renew,
      "renew NAME [--force]        renew now; live without a manual restart" },
    { "revoke",  ax_cmd_revoke,
      "revoke NAME|--cert PATH [--key PATH] [--reason REASON]" },
    { "account", ax_cmd_account,
      "account [--ca URL] [--update-contact]   the account at each CA" },
    { "import-certbot", ax_cmd_import,
      "import-certbot [DIR] [--dry-run]   take over Certbot's accounts and "
      "certificates" },
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out)
{
    size_t i;

    fprintf(out,
        "usage: acmeauto [--store DIR] [--config HTTPD_CONF] [-q] [-v] "
        "COMMAND [ARGS]\n\n"
        "Works on the store of mod_acmeauto, beside the running Apache.\n\n"
        "commands:\n");
    for (i = 0; i < N_SUBCOMMANDS; i++) {
        fprintf(out, "  %s\n", subcommands[i].summary);
    }
    fprintf(out,
        "\noptions:\n"
        "  --store DIR     the module's store (default: ACMEStoreDir in\n"
        "                  httpd.conf, else ServerRoot/acmeauto)\n"
        "  --config FILE   the httpd.conf to find ACMEStoreDir in\n"
        "  -q, --quiet     errors only\n"
        "  -v, --verbose   every step of the ACME exchange\n"
        "  --version       the version\n\n"
        "'acmeauto COMMAND --help' tells more about each command.\n\n"
        "exit codes: 0 done; 1 the CA, the server or a check said no;\n"
        "2 bad arguments; 3 no usable store or configuration, or an\n"
        "unknown name; 4 the background job held the lock too long;\n"
        "5 done at the CA but not live yet.\n");
}

int main(int argc, const char *const *argv)
{
    ax_ctx_t ctx;
    int i, rc;
    size_t k;

    apr_app_initialize(&argc, &argv, NULL);
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    memset(&ctx, 0, sizeof(ctx));
    apr_pool_create(&ctx.pool, NULL);
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return AX_OK;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("acmeauto %s\n", PACKAGE_VERSION);
            return AX_OK;
        }
        if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            ctx.quiet = 1;
        }
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            ctx.verbose = 1;
        }
        else if ((!strcmp(argv[i], "--store")
                  || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            *(argv[i][2] == 's' ? &ctx.store_dir : &ctx.httpd_conf)
                = argv[i + 1];
            i++;
        }
        else {
            fprintf(stderr, "acmeauto: unknown option %s\n", argv[i]);
            usage(stderr);
            return AX_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return AX_USAGE;
    }
    for (k = 0; k < N_SUBCOMMANDS; k++) {
        if (!strcmp(argv[i], subcommands[k].name)) {
            acme_http_global_init();
            rc = subcommands[k].fn(&ctx, argc - i, argv + i);
            ax_unlock(&ctx);
            apr_pool_destroy(ctx.pool);
            apr_terminate();
            return rc;
        }
    }
    fprintf(stderr, "acmeauto: unknown command %s\n", argv[i]);
    usage(stderr);
    return AX_USAGE;
}
