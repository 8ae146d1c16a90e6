/* Unit tests of root's hardened access to the User's areas (acme_safe),
 * each refused kind of file planted as an attacker would. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <apr_strings.h>

#include "test_suites.h"
#include "acme_safe.h"

static char dir[64];
static int dfd = -1;

static void put(const char *name, const char *text)
{
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
}

static void safe_setup(void)
{
    test_pool_setup();
    snprintf(dir, sizeof(dir), "/tmp/acme-safe-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(dfd, 0);
}

static void safe_teardown(void)
{
    char cmd[128];

    close(dfd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    test_pool_teardown();
}

static acme_safe_e read_why(const char *name, apr_size_t max)
{
    acme_safe_e why = ACME_SAFE_OK;
    char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv = acme_safe_read(&data, &len, &why, dfd, name, getuid(),
                                     max, test_pool);

    ck_assert_int_eq(rv == APR_SUCCESS, why == ACME_SAFE_OK);
    return why;
}

START_TEST(reads_a_plain_file_once)
{
    acme_safe_e why;
    char *data;
    apr_size_t len;

    put("f", "hello");
    ck_assert_int_eq(acme_safe_read(&data, &len, &why, dfd, "f", getuid(),
                                    100, test_pool), APR_SUCCESS);
    ck_assert_uint_eq(len, 5);
    ck_assert_str_eq(data, "hello");
}
END_TEST

START_TEST(refuses_symlink_to_a_good_file)
{
    put("target", "secret");
    ck_assert_int_eq(symlinkat("target", dfd, "link"), 0);
    ck_assert_int_eq(read_why("link", 100), ACME_SAFE_LINK);
    ck_assert_int_eq(symlinkat("/etc/shadow", dfd, "abs"), 0);
    ck_assert_int_eq(read_why("abs", 100), ACME_SAFE_LINK);
}
END_TEST

START_TEST(refuses_fifo_without_blocking)
{
    ck_assert_int_eq(mkfifoat(dfd, "fifo", 0666), 0);
    alarm(5);    /* a blocking open would end the test here */
    ck_assert_int_eq(read_why("fifo", 100), ACME_SAFE_NOT_REGULAR);
    alarm(0);
}
END_TEST

START_TEST(refuses_hard_link)
{
    put("orig", "x");
    ck_assert_int_eq(linkat(dfd, "orig", dfd, "hard", 0), 0);
    ck_assert_int_eq(read_why("hard", 100), ACME_SAFE_HARDLINK);
    ck_assert_int_eq(read_why("orig", 100), ACME_SAFE_HARDLINK);
}
END_TEST

START_TEST(refuses_directory_and_missing)
{
    ck_assert_int_eq(mkdirat(dfd, "sub", 0755), 0);
    ck_assert_int_eq(read_why("sub", 100), ACME_SAFE_NOT_REGULAR);
    ck_assert_int_eq(read_why("nothing", 100), ACME_SAFE_MISSING);
}
END_TEST

START_TEST(refuses_oversized_and_wrong_owner)
{
    acme_safe_e why;
    char *data;
    apr_size_t len;

    put("big", "0123456789");
    ck_assert_int_eq(read_why("big", 9), ACME_SAFE_TOO_BIG);
    ck_assert_int_eq(read_why("big", 10), ACME_SAFE_OK);
    ck_assert_int_ne(acme_safe_read(&data, &len, &why, dfd, "big",
                                    getuid() + 1, 100, test_pool),
                     APR_SUCCESS);
    ck_assert_int_eq(why, ACME_SAFE_OWNER);
}
END_TEST

START_TEST(read_nb_bounds_by_buffer)
{
    char buf[8];
    apr_size_t len;
    acme_safe_e why;

    put("seven", "1234567");
    put("eight", "12345678");
    ck_assert_int_eq(acme_safe_read_nb(buf, sizeof(buf), &len, &why, dfd,
                                       "seven", getuid()), APR_SUCCESS);
    ck_assert_str_eq(buf, "1234567");
    ck_assert_int_ne(acme_safe_read_nb(buf, sizeof(buf), &len, &why, dfd,
                                       "eight", getuid()), APR_SUCCESS);
    ck_assert_int_eq(why, ACME_SAFE_TOO_BIG);
}
END_TEST

START_TEST(opendir_refuses_links_files_and_open_dirs)
{
    acme_safe_e why;
    int fd;

    ck_assert_int_eq(mkdirat(dfd, "real", 0700), 0);
    ck_assert_int_eq(symlinkat("real", dfd, "alias"), 0);
    ck_assert_int_ne(acme_safe_opendir(&fd, &why, dfd, "alias", getuid(), 0),
                     APR_SUCCESS);
    ck_assert_int_eq(why, ACME_SAFE_LINK);
    ck_assert_int_eq(fd, -1);
    put("file", "x");
    ck_assert_int_ne(acme_safe_opendir(&fd, &why, dfd, "file", getuid(), 0),
                     APR_SUCCESS);
    ck_assert_int_eq(why, ACME_SAFE_NOT_DIR);
    ck_assert_int_eq(mkdirat(dfd, "open", 0777), 0);
    ck_assert_int_eq(fchmodat(dfd, "open", 0777, 0), 0);
    ck_assert_int_ne(acme_safe_opendir(&fd, &why, dfd, "open", getuid(), 1),
                     APR_SUCCESS);
    ck_assert_int_eq(why, ACME_SAFE_WRITABLE);
    ck_assert_int_eq(acme_safe_opendir(&fd, &why, dfd, "real", getuid(), 1),
                     APR_SUCCESS);
    close(fd);
}
END_TEST

START_TEST(write_replaces_a_planted_link_and_spares_its_target)
{
    struct stat st;
    char buf[16] = "";
    int fd;

    put("outside", "keep");
    ck_assert_int_eq(symlinkat("outside", dfd, "out.pem"), 0);
    ck_assert_int_eq(acme_safe_write(dfd, "out.pem", "new", 3, 0600,
                                     (uid_t)-1, (gid_t)-1), APR_SUCCESS);
    ck_assert_int_eq(fstatat(dfd, "out.pem", &st, AT_SYMLINK_NOFOLLOW), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    fd = openat(dfd, "outside", O_RDONLY);
    ck_assert_int_eq(read(fd, buf, sizeof(buf) - 1), 4);
    close(fd);
    ck_assert_str_eq(buf, "keep");
}
END_TEST

START_TEST(remove_does_not_reach_through_links)
{
    struct stat st;
    int sub;

    ck_assert_int_eq(mkdirat(dfd, "victim", 0755), 0);
    sub = openat(dfd, "victim", O_RDONLY | O_DIRECTORY);
    ck_assert_int_eq(mkdirat(dfd, "gone", 0755), 0);
    close(openat(sub, "precious", O_WRONLY | O_CREAT, 0644));
    /* a link in place of a directory: only the link goes */
    ck_assert_int_eq(symlinkat("victim", dfd, "swapped"), 0);
    ck_assert_int_eq(acme_safe_remove(dfd, "swapped"), APR_SUCCESS);
    ck_assert_int_eq(fstatat(sub, "precious", &st, 0), 0);
    ck_assert_int_ne(fstatat(dfd, "swapped", &st, AT_SYMLINK_NOFOLLOW), 0);
    /* a link inside a directory: the link goes, not what it names */
    ck_assert_int_eq(symlinkat("../victim/precious", dfd, "gone/l"), 0);
    ck_assert_int_eq(acme_safe_remove(dfd, "gone"), APR_SUCCESS);
    ck_assert_int_ne(fstatat(dfd, "gone", &st, AT_SYMLINK_NOFOLLOW), 0);
    ck_assert_int_eq(fstatat(sub, "precious", &st, 0), 0);
    close(sub);
}
END_TEST

START_TEST(mkdir_refuses_a_planted_link)
{
    acme_safe_e why;
    int fd;

    ck_assert_int_eq(mkdirat(dfd, "elsewhere", 0700), 0);
    ck_assert_int_eq(symlinkat("elsewhere", dfd, "live"), 0);
    ck_assert_int_ne(acme_safe_mkdir(&fd, &why, dfd, "live", 0700, getuid(),
                                     getgid()), APR_SUCCESS);
    ck_assert_int_eq(why, ACME_SAFE_LINK);
    ck_assert_int_eq(acme_safe_mkdir(&fd, &why, dfd, "fresh", 0750, getuid(),
                                     getgid()), APR_SUCCESS);
    close(fd);
}
END_TEST

Suite *safe_suite(void)
{
    Suite *s = suite_create("safe");
    TCase *tc = tcase_create("hostile files");

    tcase_add_checked_fixture(tc, safe_setup, safe_teardown);
    tcase_add_test(tc, reads_a_plain_file_once);
    tcase_add_test(tc, refuses_symlink_to_a_good_file);
    tcase_add_test(tc, refuses_fifo_without_blocking);
    tcase_add_test(tc, refuses_hard_link);
    tcase_add_test(tc, refuses_directory_and_missing);
    tcase_add_test(tc, refuses_oversized_and_wrong_owner);
    tcase_add_test(tc, read_nb_bounds_by_buffer);
    tcase_add_test(tc, opendir_refuses_links_files_and_open_dirs);
    tcase_add_test(tc, write_replaces_a_planted_link_and_spares_its_target);
    tcase_add_test(tc, remove_does_not_reach_through_links);
    tcase_add_test(tc, mkdir_refuses_a_planted_link);
    suite_add_tcase(s, tc);
    return s;
}
