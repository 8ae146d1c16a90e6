/* Unit tests of the on-disk store, in a fresh directory under /tmp. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <jansson.h>

#include "test_suites.h"
#include "acme_store.h"
#include "acme_json.h"

/* One directory per test case (made and removed by the parent process,
 * so it goes even when a forked test dies), one below it per test. */
static char basedir[64];
static char tmpdir[96];

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (!d) {
        unlink(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char sub[1024];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) {
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        remove_tree(sub);
    }
    closedir(d);
    rmdir(path);
}

static void tcase_dir_setup(void)
{
    strcpy(basedir, "/tmp/acmeauto-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(basedir));
}

static void tcase_dir_teardown(void)
{
    remove_tree(basedir);
}

static void store_setup(void)
{
    test_pool_setup();
    snprintf(tmpdir, sizeof(tmpdir), "%s/t-XXXXXX", basedir);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void store_teardown(void)
{
    remove_tree(tmpdir);
    test_pool_teardown();
}

static const char *in_tmp(const char *name)
{
    return apr_pstrcat(test_pool, tmpdir, "/", name, NULL);
}

static mode_t mode_of(const char *path)
{
    struct stat st;

    ck_assert_msg(stat(path, &st) == 0, "%s does not exist", path);
    return st.st_mode & 07777;
}

/* Number of entries (other than . and ..) in dir whose name contains
 * needle ("" counts all). */
static int count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")
            && strstr(e->d_name, needle)) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static const char *read_all(const char *path)
{
    char *data = NULL;
    apr_size_t len = 0;

    ck_assert(acme_store_read(&data, &len, path, ACME_STORE_FILE_MAX,
                              test_pool) == APR_SUCCESS);
    ck_assert_uint_eq(strlen(data), len);
    return data;
}

/* --- write and read ---------------------------------------------------- */

START_TEST(write_creates_file_with_0600)
{
    const char *path = in_tmp("key.pem");

    ck_assert(acme_store_write(path, "secret", 6, 0600, test_pool)
              == APR_SUCCESS);
    ck_assert_int_eq(mode_of(path), 0600);
    ck_assert_str_eq(read_all(path), "secret");
}
END_TEST

START_TEST(write_sets_exact_perms_despite_umask)
{
    const char *path = in_tmp("cert.pem");
    mode_t old = umask(077);

    ck_assert(acme_store_write(path, "x", 1, 0644, test_pool) == APR_SUCCESS);
    umask(old);
    ck_assert_int_eq(mode_of(path), 0644);
}
END_TEST

START_TEST(write_overwrite_tightens_perms)
{
    const char *path = in_tmp("key.pem");

    ck_assert(acme_store_write(path, "old", 3, 0644, test_pool) == APR_SUCCESS);
    ck_assert(acme_store_write(path, "new", 3, 0600, test_pool) == APR_SUCCESS);
    ck_assert_int_eq(mode_of(path), 0600);
    ck_assert_str_eq(read_all(path), "new");
}
END_TEST

START_TEST(write_overwrite_leaves_no_temp_files)
{
    const char *path = in_tmp("state.json");

    ck_assert(acme_store_write(path, "first version", 13, 0600, test_pool)
              == APR_SUCCESS);
    ck_assert(acme_store_write(path, "second", 6, 0600, test_pool)
              == APR_SUCCESS);
    ck_assert_str_eq(read_all(path), "second");
    ck_assert_int_eq(count_entries(tmpdir, ".tmp."), 0);
    ck_assert_int_eq(count_entries(tmpdir, ""), 1);
}
END_TEST

START_TEST(write_into_missing_dir_fails_and_creates_nothing)
{
    const char *path = in_tmp("nodir/file.json");

    ck_assert(acme_store_write(path, "x", 1, 0600, test_pool) != APR_SUCCESS);
    ck_assert(!acme_store_exists(in_tmp("nodir"), test_pool));
    ck_assert_int_eq(count_entries(tmpdir, ""), 0);
}
END_TEST

START_TEST(failed_write_keeps_old_content)
{
    /* Root ignores permissions, so make the temp file impossible instead:
     * a directory sits where acme_store_write wants its temp file. */
    const char *path = in_tmp("live.json");
    const char *blocker = apr_psprintf(test_pool, "%s.tmp.%ld", path,
                                       (long)getpid());

    ck_assert(acme_store_write(path, "old", 3, 0600, test_pool) == APR_SUCCESS);
    ck_assert_int_eq(mkdir(blocker, 0700), 0);
    ck_assert(acme_store_write(path, "new", 3, 0600, test_pool) != APR_SUCCESS);
    ck_assert_str_eq(read_all(path), "old");
}
END_TEST

START_TEST(failed_rename_removes_temp_file)
{
    /* The target is a non-empty directory: the temp file is written but
     * cannot be renamed over it, and must not stay behind. */
    const char *path = in_tmp("target");

    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert(acme_store_write(in_tmp("target/inside"), "x", 1, 0600,
                               test_pool) == APR_SUCCESS);
    ck_assert(acme_store_write(path, "new", 3, 0600, test_pool) != APR_SUCCESS);
    ck_assert_int_eq(count_entries(tmpdir, ".tmp."), 0);
    ck_assert_str_eq(read_all(in_tmp("target/inside")), "x");
}
END_TEST

START_TEST(write_binary_with_nul)
{
    static const char data[] = { 'a', '\0', 'b', '\n' };
    const char *path = in_tmp("bin");
    char *got = NULL;
    apr_size_t len = 0;

    ck_assert(acme_store_write(path, data, sizeof(data), 0600, test_pool)
              == APR_SUCCESS);
    ck_assert(acme_store_read(&got, &len, path, 100, test_pool) == APR_SUCCESS);
    ck_assert_uint_eq(len, sizeof(data));
    ck_assert(memcmp(got, data, sizeof(data)) == 0);
    ck_assert_int_eq(got[len], '\0');
}
END_TEST

START_TEST(read_enforces_max)
{
    const char *path = in_tmp("ten");
    char *data = NULL;
    apr_size_t len = 0;

    ck_assert(acme_store_write(path, "0123456789", 10, 0600, test_pool)
              == APR_SUCCESS);
    ck_assert(acme_store_read(&data, &len, path, 9, test_pool) == APR_ENOSPC);
    ck_assert(acme_store_read(&data, &len, path, 10, test_pool) == APR_SUCCESS);
    ck_assert_uint_eq(len, 10);
    ck_assert_str_eq(data, "0123456789");
}
END_TEST

START_TEST(read_missing_is_enoent)
{
    char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv = acme_store_read(&data, &len, in_tmp("absent"), 100,
                                      test_pool);

    ck_assert(APR_STATUS_IS_ENOENT(rv));
}
END_TEST

START_TEST(read_refuses_fifo_and_directory_without_blocking)
{
    char *data = NULL;
    apr_size_t len = 0;

    ck_assert_int_eq(mkfifo(in_tmp("fifo"), 0600), 0);
    alarm(5);    /* a blocking open would end the test here */
    ck_assert_int_eq(acme_store_read(&data, &len, in_tmp("fifo"), 100,
                                     test_pool), APR_EINVAL);
    alarm(0);
    ck_assert_int_eq(mkdir(in_tmp("dir"), 0700), 0);
    ck_assert_int_eq(acme_store_read(&data, &len, in_tmp("dir"), 100,
                                     test_pool), APR_FROM_OS_ERROR(EISDIR));
}
END_TEST

START_TEST(read_empty_file)
{
    const char *path = in_tmp("empty");
    char *data = NULL;
    apr_size_t len = 99;

    ck_assert(acme_store_write(path, "", 0, 0600, test_pool) == APR_SUCCESS);
    ck_assert(acme_store_read(&data, &len, path, 100, test_pool) == APR_SUCCESS);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(data, "");
}
END_TEST

/* --- JSON -------------------------------------------------------------- */

START_TEST(json_roundtrip)
{
    const char *path = in_tmp("state.json");
    json_t *doc = acme_json_pool_own(test_pool, json_pack(
        "{s:s, s:i, s:[s,s], s:{s:b}}", "domain", "example.org",
        "attempts", 3, "names", "example.org", "www.example.org",
        "flags", "staged", 1));
    json_t *back = NULL;

    ck_assert(acme_store_write_json(path, doc, 0600, test_pool) == APR_SUCCESS);
    ck_assert_int_eq(mode_of(path), 0600);
    ck_assert(acme_store_read_json(&back, path, test_pool) == APR_SUCCESS);
    ck_assert(json_equal(doc, back));
}
END_TEST

START_TEST(read_json_rejects_non_object)
{
    const char *path = in_tmp("bad.json");
    json_t *back = NULL;

    ck_assert(acme_store_write(path, "[1,2]", 5, 0600, test_pool) == APR_SUCCESS);
    ck_assert(acme_store_read_json(&back, path, test_pool) == APR_EINVAL);
    ck_assert(acme_store_write(path, "{\"a\":", 5, 0600, test_pool) == APR_SUCCESS);
    ck_assert(acme_store_read_json(&back, path, test_pool) == APR_EINVAL);
    ck_assert(APR_STATUS_IS_ENOENT(acme_store_read_json(&back,
                                   in_tmp("absent.json"), test_pool)));
}
END_TEST

/* --- layout ------------------------------------------------------------ */

START_TEST(path_composition)
{
    acme_store_t *s;

    ck_assert(acme_store_open(&s, test_pool, "/var/lib/acme") == APR_SUCCESS);
    ck_assert_str_eq(acme_store_path(test_pool, s, ACME_AREA_ACCOUNTS, NULL,
                                     NULL), "/var/lib/acme/accounts");
    ck_assert_str_eq(acme_store_path(test_pool, s, ACME_AREA_LIVE,
                                     "example.org", NULL),
                     "/var/lib/acme/live/example.org");
    ck_assert_str_eq(acme_store_path(test_pool, s, ACME_AREA_STAGING,
                                     "example.org", "ec256.cert.pem"),
                     "/var/lib/acme/staging/example.org/ec256.cert.pem");
    ck_assert_str_eq(acme_store_path(test_pool, s, ACME_AREA_STATE, NULL,
                                     "example.org.json"),
                     "/var/lib/acme/state/example.org.json");
    ck_assert_str_eq(acme_store_path(test_pool, s, ACME_AREA_CHALLENGES,
                                     "tok1", NULL),
                     "/var/lib/acme/challenges/tok1");
}
END_TEST

START_TEST(area_names)
{
    ck_assert_str_eq(acme_store_area_name(ACME_AREA_ACCOUNTS), "accounts");
    ck_assert_str_eq(acme_store_area_name(ACME_AREA_CHALLENGES), "challenges");
    ck_assert_str_eq(acme_store_area_name(ACME_AREA_STAGING), "staging");
    ck_assert_str_eq(acme_store_area_name(ACME_AREA_LIVE), "live");
    ck_assert_str_eq(acme_store_area_name(ACME_AREA_FALLBACK), "fallback");
    ck_assert_str_eq(acme_store_area_name(ACME_AREA_REJECTED), "rejected");
    ck_assert_str_eq(acme_store_area_name(ACME_AREA_STATE), "state");
    ck_assert_str_eq(acme_store_area_name(ACME_AREA_COUNT), "?");
}
END_TEST

START_TEST(create_dirs_makes_private_areas_0700)
{
    acme_store_t *s;
    const char *base = in_tmp("store/sub");
    mode_t old = umask(022);
    int i;

    ck_assert(acme_store_open(&s, test_pool, base) == APR_SUCCESS);
    ck_assert(acme_store_create_dirs(s, test_pool) == APR_SUCCESS);
    umask(old);
    ck_assert_int_eq(mode_of(base), 0755);
    for (i = 0; i < ACME_AREA_COUNT; i++) {
        const char *dir = acme_store_path(test_pool, s, i, NULL, NULL);
        int private = (i == ACME_AREA_ACCOUNTS || i == ACME_AREA_LIVE
                       || i == ACME_AREA_STAGING || i == ACME_AREA_REJECTED);
        ck_assert_msg(mode_of(dir) == (private ? 0700 : 0755),
                      "%s has mode %o", dir, (unsigned)mode_of(dir));
    }
    ck_assert_int_eq(count_entries(base, ""), ACME_AREA_COUNT);
    /* A second run over an existing store is fine. */
    ck_assert(acme_store_create_dirs(s, test_pool) == APR_SUCCESS);
}
END_TEST

START_TEST(mkdirs_existing_is_ok)
{
    const char *dir = in_tmp("a/b/c");

    ck_assert(acme_store_mkdirs(dir, 0700, test_pool) == APR_SUCCESS);
    ck_assert(acme_store_exists(dir, test_pool));
    ck_assert(acme_store_mkdirs(dir, 0700, test_pool) == APR_SUCCESS);
}
END_TEST

START_TEST(remove_dir_removes_files_and_dir)
{
    const char *dir = in_tmp("staged");

    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert(acme_store_write(in_tmp("staged/a.pem"), "a", 1, 0600,
                               test_pool) == APR_SUCCESS);
    ck_assert(acme_store_write(in_tmp("staged/b.json"), "{}", 2, 0600,
                               test_pool) == APR_SUCCESS);
    ck_assert(acme_store_write(in_tmp("outside"), "o", 1, 0600, test_pool)
              == APR_SUCCESS);
    ck_assert_int_eq(symlink(in_tmp("outside"), in_tmp("staged/link")), 0);
    ck_assert(acme_store_remove_dir(dir, test_pool) == APR_SUCCESS);
    ck_assert(!acme_store_exists(dir, test_pool));
    /* The symlink went, not what it pointed to. */
    ck_assert_str_eq(read_all(in_tmp("outside")), "o");
}
END_TEST

START_TEST(remove_dir_missing_is_ok)
{
    ck_assert(acme_store_remove_dir(in_tmp("never"), test_pool) == APR_SUCCESS);
}
END_TEST

START_TEST(remove_dir_does_not_recurse)
{
    const char *dir = in_tmp("outer");

    ck_assert(acme_store_mkdirs(in_tmp("outer/inner"), 0700, test_pool)
              == APR_SUCCESS);
    ck_assert(acme_store_write(in_tmp("outer/inner/keep"), "k", 1, 0600,
                               test_pool) == APR_SUCCESS);
    ck_assert(acme_store_remove_dir(dir, test_pool) != APR_SUCCESS);
    ck_assert(acme_store_exists(in_tmp("outer/inner/keep"), test_pool));
}
END_TEST

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc;

    tc = tcase_create("files");
    tcase_add_unchecked_fixture(tc, tcase_dir_setup, tcase_dir_teardown);
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, write_creates_file_with_0600);
    tcase_add_test(tc, write_sets_exact_perms_despite_umask);
    tcase_add_test(tc, write_overwrite_tightens_perms);
    tcase_add_test(tc, write_overwrite_leaves_no_temp_files);
    tcase_add_test(tc, write_into_missing_dir_fails_and_creates_nothing);
    tcase_add_test(tc, failed_write_keeps_old_content);
    tcase_add_test(tc, failed_rename_removes_temp_file);
    tcase_add_test(tc, write_binary_with_nul);
    tcase_add_test(tc, read_enforces_max);
    tcase_add_test(tc, read_missing_is_enoent);
    tcase_add_test(tc, read_refuses_fifo_and_directory_without_blocking);
    tcase_add_test(tc, read_empty_file);
    tcase_add_test(tc, json_roundtrip);
    tcase_add_test(tc, read_json_rejects_non_object);
    suite_add_tcase(s, tc);

    tc = tcase_create("layout");
    tcase_add_unchecked_fixture(tc, tcase_dir_setup, tcase_dir_teardown);
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, path_composition);
    tcase_add_test(tc, area_names);
    tcase_add_test(tc, create_dirs_makes_private_areas_0700);
    tcase_add_test(tc, mkdirs_existing_is_ok);
    tcase_add_test(tc, remove_dir_removes_files_and_dir);
    tcase_add_test(tc, remove_dir_missing_is_ok);
    tcase_add_test(tc, remove_dir_does_not_recurse);
    suite_add_tcase(s, tc);

    return s;
}
