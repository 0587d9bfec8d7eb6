/* Integration tests of `liaison match`: the real binary scores and explains names of several scripts. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

#define OUT_MAX (1u << 16)

static char out[OUT_MAX]; /* the last run's stdout */
static char err[OUT_MAX]; /* and its stderr */

/* Reads fd to its end into buf (cut to OUT_MAX - 1 bytes). */
static void
drain(int fd, char *buf)
{
    size_t n = 0;
    ssize_t r;

    while ((r = read(fd, buf + n, OUT_MAX - 1 - n)) > 0 && n + (size_t)r < OUT_MAX - 1)
        n += (size_t)r;
    if (r > 0)
        n += (size_t)r;
    buf[n] = '\0';
}

/* Runs `liaison match args...`; returns its exit status. */
static int
run(const char *const *args)
{
    const char *bin = getenv("LIAISON_TOOL_BIN");
    char *argv[16];
    char out_path[] = "/tmp/liaison-match-out-XXXXXX", err_path[] = "/tmp/liaison-match-err-XXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path), status = -1;
    size_t n = 0;
    pid_t pid;

    if (bin == NULL)
        fail_msg("LIAISON_TOOL_BIN is not set");
    assert_true(fo >= 0 && fe >= 0);
    argv[n++] = strdup(bin);
    argv[n++] = strdup("match");
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = strdup(args[i]);
    argv[n] = NULL;
    for (size_t i = 0; i < n; i++)
        assert_non_null(argv[i]);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        execv(bin, argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    drain(fo, out);
    drain(fe, err);
    close(fo);
    close(fe);
    unlink(out_path);
    unlink(err_path);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

#define assert_rc(got, want)                                                                 \
    do {                                                                                     \
        int rc_ = (got);                                                                     \
        if (rc_ != (want))                                                                   \
            fail_msg("exit %d, wanted %d\nstdout: %s\nstderr: %s", rc_, (want), out, err);   \
    } while (0)

/* An Arabic name and a Latin spelling of it: a hit, explained by skeletons. */
static void
test_match_cli_arabic_latin_hit(void **state)
{
    (void)state;
    assert_rc(run((const char *const[]){"\xd9\x85\xd8\xad\xd9\x85\xd8\xaf \xd8\xb9\xd9\x84\xd9\x8a",
                                         "Mohammed Ali", NULL}),
              0); /* محمد علي */
    assert_non_null(strstr(out, "hit at threshold 0.88"));
    assert_non_null(strstr(out, "arabic"));
    assert_non_null(strstr(out, "Any-Latin"));
    assert_non_null(strstr(out, "mhmd ly"));
    assert_non_null(strstr(out, "skeleton (mhmd = mhmd)"));
    /* The other way round: the same score. */
    assert_rc(run((const char *const[]){"Mohammed Ali",
                                         "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf \xd8\xb9\xd9\x84\xd9\x8a",
                                         NULL}),
              0);
    assert_non_null(strstr(out, "score 0.9500"));
}

/* Other people: no hit, exit 1; a stricter threshold turns a hit into none. */
static void
test_match_cli_false_pair(void **state)
{
    (void)state;
    assert_rc(run((const char *const[]){"John Smith", "Jane Doe", NULL}), 1);
    assert_non_null(strstr(out, "no hit at threshold 0.88"));
    assert_rc(run((const char *const[]){"Jon Doe", "John Doe", NULL}), 0);
    assert_rc(run((const char *const[]){"--threshold", "0.99", "Jon Doe", "John Doe", NULL}), 1);
    assert_non_null(strstr(out, "no hit at threshold 0.99"));
}

/* --json: one object with the score, the sides, the pairs. */
static void
test_match_cli_json(void **state)
{
    json_t *j, *pairs, *a;
    json_error_t e;

    (void)state;
    assert_rc(run((const char *const[]){"--json", "\xd7\x9e\xd7\xa9\xd7\x94 \xd7\x9b\xd7\x94\xd7\x9f",
                                         "Moshe Cohen", NULL}),
              0); /* משה כהן */
    j = json_loads(out, 0, &e);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", e.text, out);
    assert_true(json_is_real(json_object_get(j, "score")));
    assert_true(json_real_value(json_object_get(j, "score")) >= 0.88);
    assert_true(json_is_true(json_object_get(j, "hit")));
    assert_true(json_real_value(json_object_get(j, "threshold")) == 0.88);
    a = json_object_get(j, "a");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "scripts"), 0)),
                        "hebrew");
    assert_true(json_is_string(json_object_get(a, "transform")));
    assert_string_equal(json_string_value(json_object_get(a, "latin")), "msh khn");
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(a, "tokens"), 0), "abjad")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "b"), "transform")));
    pairs = json_object_get(j, "pairs");
    assert_int_equal(json_array_size(pairs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pairs, 0), "how")),
                        "skeleton");
    assert_true(json_is_boolean(json_object_get(j, "joined_won")));
    assert_true(json_is_real(json_object_get(j, "factor")));
    json_decref(j);
}

/* Bad arguments: 64, with the usage on stderr; --help: 0. */
static void
test_match_cli_bad_arguments(void **state)
{
    (void)state;
    assert_rc(run((const char *const[]){"only one", NULL}), 64);
    assert_non_null(strstr(err, "SYNOPSIS"));
    assert_rc(run((const char *const[]){"a", "b", "c", NULL}), 64);
    assert_rc(run((const char *const[]){"--threshold", "x", "a", "b", NULL}), 64);
    assert_rc(run((const char *const[]){"--threshold", "1.5", "a", "b", NULL}), 64);
    assert_rc(run((const char *const[]){"--threshold", "0.9", "--config", "c.yaml", "a", "b", NULL}),
              64);
    assert_rc(run((const char *const[]){"--bogus", "a", "b", NULL}), 64);
    assert_rc(run((const char *const[]){"--config", "/nonexistent/agent.yaml", "a", "b", NULL}), 66);
    assert_rc(run((const char *const[]){"--help", NULL}), 0);
    assert_non_null(strstr(out, "EXIT STATUS"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_cli_arabic_latin_hit),
        cmocka_unit_test(test_match_cli_false_pair),
        cmocka_unit_test(test_match_cli_json),
        cmocka_unit_test(test_match_cli_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
