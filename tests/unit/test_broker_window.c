/* Unit tests of broker/window.c: a slot per entry sent toward a partner,
 * freed only by that entry's own acknowledgement, so that answers that come
 * twice, late, or from before a rewind never leak a slot nor free one twice. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "window.h"

/* Fills the window with seqs first, first + step, ...; returns the last. */
static uint64_t
fill(broker_window *w, uint64_t first, uint64_t step)
{
    uint64_t seq = first;

    for (size_t i = 0; i < BROKER_WINDOW_SLOTS; i++, seq += step)
        assert_true(broker_window_take(w, seq, 1000 + i));
    return seq - step;
}

/* A full window takes nothing more; acknowledgements in order free it. */
static void
test_broker_window_full_then_acked_in_order(void **state)
{
    static broker_window w;
    uint64_t last, seq = 0, sent = 0;

    (void)state;
    broker_window_reset(&w);
    assert_int_equal(broker_window_room(&w), BROKER_WINDOW_SLOTS);
    assert_false(broker_window_oldest(&w, &seq, &sent));
    last = fill(&w, 10, 1);
    assert_int_equal(broker_window_room(&w), 0);
    assert_int_equal(broker_window_inflight(&w), BROKER_WINDOW_SLOTS);
    assert_false(broker_window_take(&w, last + 1, 5000));
    assert_true(broker_window_oldest(&w, &seq, &sent));
    assert_int_equal(seq, 10);
    assert_int_equal(sent, 1000);
    for (uint64_t s = 10; s <= last; s++)
        assert_true(broker_window_ack(&w, s));
    assert_int_equal(broker_window_room(&w), BROKER_WINDOW_SLOTS);
    assert_int_equal(broker_window_inflight(&w), 0);
    assert_false(broker_window_oldest(&w, &seq, &sent));
}

/* A second answer, an answer for a seq never sent, or one for a seq sent
 * before a reset frees nothing and takes nothing below zero. */
static void
test_broker_window_stray_answers_change_nothing(void **state)
{
    static broker_window w;

    (void)state;
    broker_window_reset(&w);
    assert_true(broker_window_take(&w, 5, 1));
    assert_true(broker_window_take(&w, 7, 2));
    assert_true(broker_window_take(&w, 9, 3));
    assert_true(broker_window_ack(&w, 7));
    assert_false(broker_window_ack(&w, 7));  /* twice */
    assert_false(broker_window_ack(&w, 6));  /* between two sent */
    assert_false(broker_window_ack(&w, 4));  /* below every one */
    assert_false(broker_window_ack(&w, 99)); /* above every one */
    assert_false(broker_window_ack(&w, 0));
    assert_int_equal(broker_window_inflight(&w), 2);
    /* 7 is acknowledged but 5 is not: 7's slot stays taken behind it. */
    assert_int_equal(broker_window_room(&w), BROKER_WINDOW_SLOTS - 3);
    broker_window_reset(&w); /* a new connection: resend from the oldest */
    assert_int_equal(broker_window_inflight(&w), 0);
    assert_false(broker_window_ack(&w, 5)); /* sent before the reset */
    assert_false(broker_window_ack(&w, 9));
    assert_int_equal(broker_window_inflight(&w), 0);
    assert_int_equal(broker_window_room(&w), BROKER_WINDOW_SLOTS);
    /* After a reset the same seqs go out again. */
    assert_true(broker_window_take(&w, 5, 10));
    assert_true(broker_window_ack(&w, 5));
    assert_false(broker_window_ack(&w, 5)); /* the late answer to the first send */
    assert_int_equal(broker_window_inflight(&w), 0);
}

/* Answers out of order: the oldest unacknowledged entry stays the oldest
 * slot, and the slots behind it free once it is answered. */
static void
test_broker_window_out_of_order(void **state)
{
    static broker_window w;
    uint64_t seq = 0, sent = 0;

    (void)state;
    broker_window_reset(&w);
    for (uint64_t s = 1; s <= 4; s++)
        assert_true(broker_window_take(&w, s * 10, s));
    assert_true(broker_window_ack(&w, 30));
    assert_true(broker_window_ack(&w, 10));
    assert_true(broker_window_oldest(&w, &seq, &sent));
    assert_int_equal(seq, 20);
    assert_int_equal(sent, 2);
    assert_int_equal(broker_window_room(&w), BROKER_WINDOW_SLOTS - 3); /* 20, 30, 40 */
    assert_true(broker_window_ack(&w, 20));
    assert_int_equal(broker_window_room(&w), BROKER_WINDOW_SLOTS - 1); /* 40 */
    assert_true(broker_window_oldest(&w, &seq, &sent));
    assert_int_equal(seq, 40);
    assert_int_equal(broker_window_inflight(&w), 1);
}

/* Seqs only grow between resets; untake gives back the last slots taken. */
static void
test_broker_window_take_order_and_untake(void **state)
{
    static broker_window w;

    (void)state;
    broker_window_reset(&w);
    assert_true(broker_window_take(&w, 3, 1));
    assert_false(broker_window_take(&w, 3, 1));
    assert_false(broker_window_take(&w, 2, 1));
    assert_true(broker_window_take(&w, 4, 1));
    assert_true(broker_window_take(&w, 5, 1));
    assert_true(broker_window_ack(&w, 5));
    broker_window_untake(&w, 2); /* 4 and 5 did not go out after all */
    assert_int_equal(broker_window_inflight(&w), 1);
    assert_int_equal(broker_window_room(&w), BROKER_WINDOW_SLOTS - 1);
    assert_true(broker_window_take(&w, 4, 2)); /* sent again */
    broker_window_untake(&w, 100);             /* more than there are: all */
    assert_int_equal(broker_window_inflight(&w), 0);
    assert_int_equal(broker_window_room(&w), BROKER_WINDOW_SLOTS);
}

/* Many rounds around the ring against a plain model: answers shuffled,
 * doubled and stale, resets now and then; the counts always match. */
static void
test_broker_window_model(void **state)
{
    enum { ROUNDS = 20000 };
    static broker_window w;
    static uint64_t out[BROKER_WINDOW_SLOTS]; /* the model: seqs sent, unanswered */
    static uint64_t answered[4 * BROKER_WINDOW_SLOTS];
    size_t out_n = 0, answered_n = 0;
    uint64_t next = 1;

    (void)state;
    srand(7);
    broker_window_reset(&w);
    for (int round = 0; round < ROUNDS; round++) {
        int what = rand() % 100;

        if (what < 50) {
            bool room = broker_window_room(&w) > 0;

            assert_int_equal(broker_window_take(&w, next, (uint64_t)round), room);
            if (room)
                out[out_n++] = next;
            next += 1 + (uint64_t)(rand() % 3);
        } else if (what < 90 && out_n > 0) {
            size_t i = (size_t)rand() % (out_n < 8 ? out_n : 8); /* mostly near the front */

            assert_true(broker_window_ack(&w, out[i]));
            if (answered_n < sizeof(answered) / sizeof(answered[0]))
                answered[answered_n++] = out[i];
            memmove(&out[i], &out[i + 1], (out_n - i - 1) * sizeof(out[0]));
            out_n--;
        } else if (what < 98 && answered_n > 0) {
            assert_false(broker_window_ack(&w, answered[(size_t)rand() % answered_n]));
        } else if (what < 99) {
            broker_window_reset(&w);
            out_n = 0;
        }
        assert_int_equal(broker_window_inflight(&w), out_n);
        assert_true(broker_window_room(&w) <= BROKER_WINDOW_SLOTS - out_n);
        if (out_n > 0) {
            uint64_t seq = 0, sent = 0;

            assert_true(broker_window_oldest(&w, &seq, &sent));
            assert_int_equal(seq, out[0]);
        }
        if (answered_n == sizeof(answered) / sizeof(answered[0]))
            answered_n = 0;
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_window_full_then_acked_in_order),
        cmocka_unit_test(test_broker_window_stray_answers_change_nothing),
        cmocka_unit_test(test_broker_window_out_of_order),
        cmocka_unit_test(test_broker_window_take_order_and_untake),
        cmocka_unit_test(test_broker_window_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
