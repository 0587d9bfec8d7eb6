/* Unit tests of broker/refusals.c: refused handshakes counted per key and
 * interval, in a bounded table, with totals that add up. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "refusals.h"

#define MIN_MS BROKER_REFUSALS_INTERVAL_MS

/* A refusal of key number k from address a. */
static broker_refusal_event
event(char key[BROKER_REFUSALS_KEY_MAX + 1], unsigned k, const char *a)
{
    snprintf(key, BROKER_REFUSALS_KEY_MAX + 1, "%064x", k);
    return (broker_refusal_event){"agency", a, key, "", "unknown key"};
}

/* Repeats of a key are counted, summed up once its interval ends, and the
 * key is reported at once again in the next interval. */
static void
test_broker_refusals_one_key(void **state)
{
    static broker_refusals r;
    broker_refusal_count out[4];
    char key[BROKER_REFUSALS_KEY_MAX + 1];
    broker_refusal_event ev = event(key, 7, "10.0.0.1");

    (void)state;
    broker_refusals_init(&r, MIN_MS);
    assert_int_equal(broker_refusals_note(&r, &ev, 1000), BROKER_REFUSAL_FIRST);
    for (unsigned i = 1; i <= 4; i++) {
        ev.address = i == 4 ? "10.0.0.9" : "10.0.0.1";
        assert_int_equal(broker_refusals_note(&r, &ev, 1000 + i), BROKER_REFUSAL_COUNTED);
    }
    assert_int_equal(broker_refusals_due_in(&r, 1004, UINT64_MAX), MIN_MS - 4);
    assert_int_equal(broker_refusals_due(&r, 1000 + MIN_MS - 1, out, 4), 0);
    assert_int_equal(broker_refusals_due(&r, 1000 + MIN_MS, out, 4), 1);
    assert_false(out[0].other);
    assert_string_equal(out[0].key, key);
    assert_int_equal(out[0].count, 4);
    assert_string_equal(out[0].first_address, "10.0.0.1");
    assert_string_equal(out[0].last_address, "10.0.0.9");
    assert_int_equal(out[0].last_ms - out[0].start_ms, 4);
    assert_int_equal(r.used, 0);
    assert_int_equal(broker_refusals_note(&r, &ev, 1000 + MIN_MS), BROKER_REFUSAL_FIRST);
    /* Refused once in its interval: reported whole already, nothing to sum up. */
    assert_int_equal(broker_refusals_due(&r, UINT64_MAX, out, 4), 0);
    assert_int_equal(r.used, 0);
}

/* Past the table's bound, further keys go to one "other keys" count; every
 * refusal is in exactly one place, so the totals add up. */
static void
test_broker_refusals_table_full(void **state)
{
    static broker_refusals r;
    static broker_refusal_count out[BROKER_REFUSALS_KEYS_MAX + 1];
    const unsigned keys = BROKER_REFUSALS_KEYS_MAX + 36, rounds = 5;
    uint64_t first = 0, counted = 0, other = 0, summed = 0;
    size_t n, got = 0;

    (void)state;
    broker_refusals_init(&r, MIN_MS);
    for (unsigned round = 0; round < rounds; round++) {
        for (unsigned k = 0; k < keys; k++) {
            char key[BROKER_REFUSALS_KEY_MAX + 1];
            broker_refusal_event ev = event(key, k, "10.0.0.2");

            switch (broker_refusals_note(&r, &ev, 5000 + round)) {
            case BROKER_REFUSAL_FIRST:
                first++;
                break;
            case BROKER_REFUSAL_COUNTED:
                counted++;
                break;
            case BROKER_REFUSAL_OTHER:
                other++;
                break;
            }
        }
    }
    assert_int_equal(first, BROKER_REFUSALS_KEYS_MAX);
    assert_int_equal(other, 36u * rounds);
    assert_int_equal(first + counted + other, (uint64_t)keys * rounds);
    /* Taken out a few at a time, as the caller's buffer allows. */
    while ((n = broker_refusals_due(&r, UINT64_MAX, out + got, 10)) > 0) {
        got += n;
        if (n < 10)
            break;
    }
    assert_int_equal(got, BROKER_REFUSALS_KEYS_MAX + 1);
    for (size_t i = 0; i < got; i++) {
        summed += out[i].count;
        if (out[i].other)
            assert_int_equal(out[i].count, other);
    }
    assert_int_equal(first + summed, (uint64_t)keys * rounds);
    assert_int_equal(r.used, 0);
    assert_false(r.other_active);
}

/* Refusals the ZAP handler could not pass on still count, as other keys. */
static void
test_broker_refusals_lost_are_counted(void **state)
{
    static broker_refusals r;
    broker_refusal_count out[2];

    (void)state;
    broker_refusals_init(&r, MIN_MS);
    broker_refusals_lost(&r, 0, 10);
    assert_false(r.other_active);
    broker_refusals_lost(&r, 17, 10);
    broker_refusals_lost(&r, 3, 20);
    assert_int_equal(broker_refusals_due_in(&r, 20, UINT64_MAX), MIN_MS - 10);
    assert_int_equal(broker_refusals_due(&r, 10 + MIN_MS, out, 2), 1);
    assert_true(out[0].other);
    assert_int_equal(out[0].count, 20);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_refusals_one_key),
        cmocka_unit_test(test_broker_refusals_table_full),
        cmocka_unit_test(test_broker_refusals_lost_are_counted),
    };

    return cmocka_run_group_tests_name("broker_refusals", tests, NULL, NULL);
}
