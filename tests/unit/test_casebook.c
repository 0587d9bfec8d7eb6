/* Unit tests of the tool's casebook (client/tool/casebook.c): reading the messages of a kind one
 * at a time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "casebook.h"
#include "helpers.h"

static char dir[1024];
static casebook *cb;

static int
setup(void **state)
{
    char why[128];

    (void)state;
    test_scratch_dir(dir, sizeof(dir));
    if (casebook_open(dir, &cb, why, sizeof(why)) != CASEBOOK_OK)
        fail_msg("casebook_open: %s", why);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    casebook_close(&cb);
    test_scratch_remove(dir);
    return 0;
}

/* Stores a sent message n of kind with case id case_id. */
static void
put(uint8_t n, const char *kind, const char *case_id)
{
    casebook_entry e;
    char body[64];

    memset(&e, 0, sizeof(e));
    e.sent = true;
    e.id[0] = n;
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.case_id, sizeof(e.case_id), "%s", case_id);
    snprintf(e.labels, sizeof(e.labels), "LES");
    snprintf(body, sizeof(body), "{\"n\": %u}", n);
    e.body = body;
    e.recipients = (char *)(uintptr_t) "*";
    e.time_ms = 1000u + n;
    e.created_ms = 1000u + n;
    assert_int_equal(casebook_put(cb, &e), CASEBOOK_OK);
}

/* What the callback saw. */
typedef struct tally {
    unsigned seen;                 /* messages given */
    unsigned ids;                  /* bit n set for message n */
    unsigned stop_after;           /* stop after this many (0: never) */
} tally;

static int
count(void *arg, const casebook_entry *e)
{
    tally *t = arg;

    assert_string_equal(e->kind, "freeze.designation");
    assert_true(e->sent);
    assert_non_null(e->body);
    assert_null(e->raw);
    t->seen++;
    t->ids |= 1u << e->id[0];
    return t->stop_after != 0 && t->seen == t->stop_after;
}

static void
test_casebook_each_kind(void **state)
{
    tally t = {0, 0, 0};

    (void)state;
    put(1, "freeze.designation", "UN-SC:QDi.1");
    put(2, "freeze.ack", "UN-SC:QDi.1");
    put(3, "freeze.designation", "UN-SC:QDi.2");
    put(4, "freeze.designation", "OFAC-SDN:9");
    put(5, "mlat.request", "MEX-FGR-2026-0001");
    assert_int_equal(casebook_each_kind(cb, true, "freeze.designation", count, &t), CASEBOOK_OK);
    assert_int_equal(t.seen, 3);
    assert_int_equal(t.ids, (1u << 1) | (1u << 3) | (1u << 4));
    /* Nothing received of that kind. */
    memset(&t, 0, sizeof(t));
    assert_int_equal(casebook_each_kind(cb, false, "freeze.designation", count, &t), CASEBOOK_OK);
    assert_int_equal(t.seen, 0);
    /* The callback stops it. */
    memset(&t, 0, sizeof(t));
    t.stop_after = 2;
    assert_int_equal(casebook_each_kind(cb, true, "freeze.designation", count, &t), CASEBOOK_OK);
    assert_int_equal(t.seen, 2);
    assert_int_equal(casebook_each_kind(cb, true, "freeze.designation", NULL, &t),
                     CASEBOOK_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_casebook_each_kind, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
