/* Unit tests of broker/order.c: verified jobs come back from the pool in
 * any order and leave for routing in the order they were dispatched. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "order.h"

#define ITEMS_MAX 1000

/* Chains items[first..first+n-1] together and hands them to the pool. */
static broker_ordered *
dispatch(broker_order *q, broker_ordered *items, size_t first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&items[first + i], 0, sizeof(items[0]));
        if (i > 0)
            items[first + i - 1].chain = &items[first + i];
    }
    assert_int_equal(broker_order_number(q, &items[first]), n);
    broker_order_sent(q, n);
    return &items[first];
}

/* Appends the orders of a ready list to out; checks that its links are clean. */
static size_t
collect(broker_ordered *ready, uint64_t *out, size_t at)
{
    while (ready != NULL) {
        assert_null(ready->chain);
        out[at++] = ready->order;
        ready = ready->next;
    }
    return at;
}

/* Five single jobs back as 2, 0, 4, 1, 3 leave as 0, then 1 2, then 3 4. */
static void
test_broker_order_singles_out_of_order(void **state)
{
    broker_order q;
    broker_ordered items[5], *job[5];
    uint64_t got[5];
    size_t n = 0;

    (void)state;
    memset(&q, 0, sizeof(q));
    for (size_t i = 0; i < 5; i++)
        job[i] = dispatch(&q, items, i, 1);
    assert_int_equal(q.in_pool, 5);
    assert_null(broker_order_back(&q, job[2]));
    n = collect(broker_order_back(&q, job[0]), got, n);
    assert_int_equal(n, 1);
    assert_null(broker_order_back(&q, job[4]));
    n = collect(broker_order_back(&q, job[1]), got, n);
    assert_int_equal(n, 3);
    n = collect(broker_order_back(&q, job[3]), got, n);
    assert_int_equal(n, 5);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(got[i], i);
    assert_int_equal(q.in_pool, 0);
    assert_null(q.parked);
    assert_null(q.parked_last);
}

/* A chain (a partner's report list) counts as its members: a single job
 * dispatched after it waits for the whole chain, and the chain's members
 * leave in their own order. */
static void
test_broker_order_chains(void **state)
{
    broker_order q;
    broker_ordered items[6], *a, *b, *c;
    uint64_t got[6];
    size_t n;

    (void)state;
    memset(&q, 0, sizeof(q));
    a = dispatch(&q, items, 0, 3);
    b = dispatch(&q, items, 3, 1);
    c = dispatch(&q, items, 4, 2);
    assert_int_equal(q.in_pool, 6);
    assert_int_equal(items[2].order, 2);
    assert_int_equal(items[5].order, 5);
    assert_null(broker_order_back(&q, c));
    assert_null(broker_order_back(&q, b));
    assert_int_equal(q.in_pool, 3);
    n = collect(broker_order_back(&q, a), got, 0);
    assert_int_equal(n, 6);
    for (uint64_t i = 0; i < 6; i++)
        assert_int_equal(got[i], i);
    assert_int_equal(q.in_pool, 0);
}

/* Numbers are only taken once the jobs went: a send that failed leaves the
 * next dispatch the same numbers, so nothing waits for a job never sent. */
static void
test_broker_order_failed_send_takes_nothing(void **state)
{
    broker_order q;
    broker_ordered items[3];
    uint64_t got[2];

    (void)state;
    memset(&q, 0, sizeof(q));
    memset(items, 0, sizeof(items));
    items[0].chain = &items[1];
    assert_int_equal(broker_order_number(&q, &items[0]), 2); /* the send fails */
    assert_int_equal(q.next_order, 0);
    assert_int_equal(q.in_pool, 0);
    dispatch(&q, items, 2, 1);
    assert_int_equal(items[2].order, 0);
    assert_int_equal(collect(broker_order_back(&q, &items[2]), got, 0), 1);
    assert_int_equal(got[0], 0);
}

/* At stop, jobs parked behind one that never came back are handed over
 * for freeing, in order, and the parked list is empty. */
static void
test_broker_order_drain(void **state)
{
    broker_order q;
    broker_ordered items[3], *job[3], *left;

    (void)state;
    memset(&q, 0, sizeof(q));
    for (size_t i = 0; i < 3; i++)
        job[i] = dispatch(&q, items, i, 1);
    assert_null(broker_order_back(&q, job[2]));
    assert_null(broker_order_back(&q, job[1]));
    left = broker_order_drain(&q);
    assert_ptr_equal(left, job[1]);
    assert_ptr_equal(left->next, job[2]);
    assert_null(left->next->next);
    assert_null(q.parked);
    assert_null(q.parked_last);
    assert_null(broker_order_drain(&q));
}

/* 1000 jobs in chains of 1 to 8, back in a shuffled order: each leaves
 * exactly once, all in dispatch order. */
static void
test_broker_order_shuffled(void **state)
{
    static broker_ordered items[ITEMS_MAX];
    static broker_ordered *chains[ITEMS_MAX];
    static uint64_t got[ITEMS_MAX];
    broker_order q;
    size_t nchains = 0, n = 0;

    (void)state;
    memset(&q, 0, sizeof(q));
    srand(20261126);
    for (size_t at = 0; at < ITEMS_MAX;) {
        size_t len = 1 + (size_t)rand() % 8;

        if (len > ITEMS_MAX - at)
            len = ITEMS_MAX - at;
        chains[nchains++] = dispatch(&q, items, at, len);
        at += len;
    }
    for (size_t i = nchains - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        broker_ordered *t = chains[i];

        chains[i] = chains[j];
        chains[j] = t;
    }
    for (size_t i = 0; i < nchains; i++)
        n = collect(broker_order_back(&q, chains[i]), got, n);
    assert_int_equal(n, ITEMS_MAX);
    for (uint64_t i = 0; i < ITEMS_MAX; i++)
        assert_int_equal(got[i], i);
    assert_int_equal(q.in_pool, 0);
    assert_int_equal(q.next_routed, ITEMS_MAX);
    assert_null(q.parked);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_order_singles_out_of_order),
        cmocka_unit_test(test_broker_order_chains),
        cmocka_unit_test(test_broker_order_failed_send_takes_nothing),
        cmocka_unit_test(test_broker_order_drain),
        cmocka_unit_test(test_broker_order_shuffled),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
