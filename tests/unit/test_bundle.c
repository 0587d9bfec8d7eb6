/* Unit tests of libliaison's evidence bundle verification on the committed vector (tests/data/bundle). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "liaison.h"

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The vector's paths are relative to its folder, as in its expected reports. */
static int
setup(void **state)
{
    char dir[1024];

    (void)state;
    test_data_path("bundle", dir, sizeof(dir));
    if (chdir(dir) != 0)
        fail_msg("cannot enter %s: %s", dir, strerror(errno));
    return 0;
}

/* Verifies dir with the vector's trusted roster; the report's JSON must be
 * the committed expected file byte for byte (the tool adds the newline). */
static liaison_bundle_report *
verify_as_expected(const char *dir, liaison_err want, const char *expected_path)
{
    liaison_bundle_report *r = NULL;
    char *json = NULL, *expected = slurp(expected_path);
    liaison_err err = liaison_bundle_verify(dir, "trusted.roster", &r);

    if (err != want)
        fail_msg("%s: %s, wanted %s", dir, liaison_strerror(err), liaison_strerror(want));
    assert_non_null(r);
    assert_int_equal(liaison_bundle_report_json(r, &json), LIAISON_OK);
    assert_true(strlen(expected) > 0 && expected[strlen(expected) - 1] == '\n');
    expected[strlen(expected) - 1] = '\0';
    assert_string_equal(json, expected);
    free(json);
    free(expected);
    return r;
}

static void
test_bundle_good_vector_verifies(void **state)
{
    liaison_bundle_report *r;
    liaison_bundle_counts c;
    const char *file = "unchanged";

    (void)state;
    r = verify_as_expected("good", LIAISON_OK, "good.expected.json");
    assert_true(liaison_bundle_report_ok(r));
    assert_string_equal(liaison_bundle_report_case(r), "MEX-FGR-2026-0099");
    liaison_bundle_report_counts(r, &c);
    assert_int_equal(c.envelopes, 5);
    assert_int_equal(c.files, 2);
    assert_int_equal(c.chunks, 4);
    assert_int_equal(c.custody, 6);
    assert_true(c.proofs > 0);
    assert_int_equal(liaison_bundle_report_problem_count(r), 0);
    assert_int_equal(liaison_bundle_report_problem(r, 0, &file, NULL), LIAISON_ERR_INVALID);
    assert_string_equal(file, "unchanged");
    assert_int_equal(liaison_bundle_report_warning_count(r), 0);
    assert_null(liaison_bundle_report_warning(r, 0));
    liaison_bundle_report_destroy(&r);
    assert_null(r);
    liaison_bundle_report_destroy(&r);
    liaison_bundle_report_destroy(NULL);

    /* Without a trusted roster the bundle's own roster is used: the same verdict. */
    assert_int_equal(liaison_bundle_verify("good", NULL, &r), LIAISON_OK);
    assert_true(liaison_bundle_report_ok(r));
    liaison_bundle_report_destroy(&r);
}

static void
test_bundle_tampered_vector_names_the_file(void **state)
{
    liaison_bundle_report *r;
    const char *file = NULL, *reason = NULL;

    (void)state;
    r = verify_as_expected("tampered", LIAISON_ERR_BUNDLE, "tampered.expected.json");
    assert_false(liaison_bundle_report_ok(r));
    assert_true(liaison_bundle_report_problem_count(r) >= 1);
    assert_int_equal(liaison_bundle_report_problem(r, 0, &file, &reason), LIAISON_OK);
    assert_string_equal(file, "files/ledger.csv");
    assert_non_null(strstr(reason, "the file was changed"));
    liaison_bundle_report_destroy(&r);
}

static void
test_bundle_unusable_inputs(void **state)
{
    liaison_bundle_report *r = (liaison_bundle_report *)&r;

    (void)state;
    assert_int_equal(liaison_bundle_verify("/nonexistent/bundle", NULL, &r), LIAISON_ERR_NOT_FOUND);
    assert_null(r);
    assert_int_equal(liaison_bundle_verify("good.expected.json", NULL, &r), LIAISON_ERR_NOT_FOUND);
    assert_int_equal(liaison_bundle_verify("good", "/nonexistent/roster", &r), LIAISON_ERR_ROSTER);
    assert_null(r);
    /* A roster file that is no roster. */
    assert_int_equal(liaison_bundle_verify("good", "good.expected.json", &r), LIAISON_ERR_ROSTER);
    assert_int_equal(liaison_bundle_verify(NULL, NULL, &r), LIAISON_ERR_INVALID);
    assert_int_equal(liaison_bundle_verify("good", NULL, NULL), LIAISON_ERR_INVALID);
    assert_string_equal(liaison_strerror(LIAISON_ERR_BUNDLE), "the evidence bundle does not verify");
    assert_string_not_equal(liaison_strerror(LIAISON_ERR_NOT_FOUND), "unknown error");
}

/* docs/bundle.md: the custody input is the context and the five values, NUL-separated. */
static void
test_bundle_custody_input_and_names(void **state)
{
    static const uint8_t want[] = "liaison custody v1\0" "2026-11-26T10:00:00Z\0" "USA/DOJ\0"
                                  "collected\0" "ledger.csv\0" "abcd";
    uint8_t *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(liaison_bundle_custody_input("2026-11-26T10:00:00Z", "USA/DOJ", "collected",
                                                  "ledger.csv", "abcd", &buf, &len),
                     LIAISON_OK);
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(buf, want, len);
    free(buf);
    assert_int_equal(liaison_bundle_custody_input(NULL, "a", "b", "c", "d", &buf, &len),
                     LIAISON_ERR_INVALID);
    assert_int_equal(liaison_bundle_custody_verify("t", "a", "b", "c", "d", "00",
                                                   (const uint8_t *)"0123456789abcdef0123456789abcdef"),
                     LIAISON_ERR_INVALID);
    assert_true(liaison_bundle_name_ok("ledger.csv"));
    assert_false(liaison_bundle_name_ok(".ledger.csv"));
    assert_false(liaison_bundle_name_ok("a/b"));
    assert_false(liaison_bundle_name_ok(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_good_vector_verifies),
        cmocka_unit_test(test_bundle_tampered_vector_names_the_file),
        cmocka_unit_test(test_bundle_unusable_inputs),
        cmocka_unit_test(test_bundle_custody_input_and_names),
    };

    test_quiet_logs();
    return cmocka_run_group_tests(tests, setup, NULL);
}
