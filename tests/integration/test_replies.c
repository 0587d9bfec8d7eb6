/* Integration test of answers when two programs of one agency are connected
 * at once: the answer goes to the program that asked. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

static void
send_one(liaison_client *c, const char *kind, const char *to, const uint8_t *reply_to,
         uint8_t id_out[16])
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//REL TO CAN,USA//PURPOSE:fugitive search"),
                     LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES//REL TO CAN,USA", "DOE, JOHN", 9, NULL),
                     LIAISON_OK);
    if (reply_to != NULL)
        assert_int_equal(liaison_message_set_in_reply_to(m, reply_to), LIAISON_OK);
    if (liaison_send(c, m, id_out, in_ms(20 * SECOND)) != LIAISON_OK)
        fail_msg("send %s to %s: %s", kind, to, liaison_client_error(c));
    liaison_message_destroy(&m);
}

typedef struct wait_ctx {
    fed *f;                 /* the federation */
    const char *needle;     /* a log text */
    size_t count;           /* lines to wait for */
} wait_ctx;

static bool
logged(void *ctx)
{
    wait_ctx *w = ctx;

    return fed_log_count(w->f, "USA", w->needle) >= w->count;
}

static bool
delivered_at_usa(void *ctx)
{
    static char text[1 << 16];

    return fed_metrics(ctx, "USA", text, sizeof(text)) == 0 &&
           strstr(text, "\nliaison_messages_delivered_total 0\n") == NULL &&
           strstr(text, "\nliaison_messages_delivered_total ") != NULL;
}

/* Receives (and receipts) events until a message arrives or the deadline;
 * returns it, or NULL. */
static liaison_event *
next_message(liaison_client *c, uint64_t deadline)
{
    for (;;) {
        liaison_event *e = NULL;

        if (liaison_receive(c, &e, deadline) != LIAISON_OK)
            return NULL;
        if (e->type == LIAISON_EVENT_MESSAGE)
            return e;
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
    }
}

static void
test_replies_answer_goes_to_the_connection_that_asked(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    liaison_client *officer, *agent, *rcmp;
    liaison_event *e;
    uint8_t query[16], answer[16];
    wait_ctx w = {f, "agency=USA/FBI event=connected", 2};

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    rcmp = fed_client(f, "CAN/RCMP", true);
    /* The officer asks; then the agency's agent connects, and deliveries to
     * USA/FBI go to the agent's connection, its latest. */
    officer = fed_client(f, "USA/FBI", true);
    send_one(officer, "watchlist.query", "CAN/RCMP", NULL, query);
    agent = fed_client(f, "USA/FBI", true);
    assert_true(fed_wait_until(logged, &w, 20 * SECOND));
    /* RCMP answers. */
    e = next_message(rcmp, in_ms(20 * SECOND));
    assert_non_null(e);
    assert_memory_equal(e->id, query, 16);
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    send_one(rcmp, "watchlist.answer", "USA/FBI", query, answer);
    /* The broker delivers the answer; the agent takes whatever comes to it,
     * as `liaison agent` does, and must not get the answer. */
    assert_true(fed_wait_until(delivered_at_usa, f, 20 * SECOND));
    {
        uint64_t until = in_ms(2 * SECOND);

        while ((e = next_message(agent, until)) != NULL) {
            bool is_answer = memcmp(e->id, answer, 16) == 0;

            assert_int_equal(liaison_receipt(agent, e), LIAISON_OK);
            liaison_event_free(&e);
            if (is_answer)
                fail_msg("the agent's connection took the answer meant for the officer");
        }
    }
    /* The officer gets it. */
    e = next_message(officer, in_ms(20 * SECOND));
    if (e == NULL)
        fail_msg("the officer got no answer: %s", liaison_client_error(officer));
    assert_memory_equal(e->id, answer, 16);
    assert_true(e->has_reply_to);
    assert_memory_equal(e->in_reply_to, query, 16);
    assert_int_equal(liaison_receipt(officer, e), LIAISON_OK);
    liaison_event_free(&e);
    liaison_client_close(&officer);
    liaison_client_close(&agent);
    liaison_client_close(&rcmp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_destroy(&f);
}

/* The asking program is gone before its answer comes: the answer stays
 * queued and goes to the agency's other connection, not nowhere. */
static void
test_replies_answer_to_a_gone_connection_reaches_the_agency(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    liaison_client *officer, *agent, *rcmp;
    liaison_event *e;
    uint8_t query[16], answer[16];
    wait_ctx w = {f, "agency=USA/FBI event=connected", 2};

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    rcmp = fed_client(f, "CAN/RCMP", true);
    officer = fed_client(f, "USA/FBI", true);
    send_one(officer, "watchlist.query", "CAN/RCMP", NULL, query);
    agent = fed_client(f, "USA/FBI", true);
    assert_true(fed_wait_until(logged, &w, 20 * SECOND));
    liaison_client_close(&officer);
    e = next_message(rcmp, in_ms(20 * SECOND));
    assert_non_null(e);
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    send_one(rcmp, "watchlist.answer", "USA/FBI", query, answer);
    /* At once when the broker sees the connection gone, else once it has
     * been silent for the session idle time (30 s). */
    e = next_message(agent, in_ms(90 * SECOND));
    if (e == NULL)
        fail_msg("the answer did not reach the agency: %s", liaison_client_error(agent));
    assert_memory_equal(e->id, answer, 16);
    assert_int_equal(liaison_receipt(agent, e), LIAISON_OK);
    liaison_event_free(&e);
    liaison_client_close(&agent);
    liaison_client_close(&rcmp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_destroy(&f);
}

/* The asking program got its answer on its connection but ended without
 * receipting it: the answer is delivered again, to the agency's other
 * connection, once the first has been silent for the idle time. */
static void
test_replies_unreceipted_answer_delivered_again(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    liaison_client *officer, *agent, *rcmp;
    liaison_event *e;
    uint8_t query[16], answer[16];
    wait_ctx w = {f, "agency=USA/FBI event=connected", 2};

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    rcmp = fed_client(f, "CAN/RCMP", true);
    officer = fed_client(f, "USA/FBI", true);
    send_one(officer, "watchlist.query", "CAN/RCMP", NULL, query);
    agent = fed_client(f, "USA/FBI", true);
    assert_true(fed_wait_until(logged, &w, 20 * SECOND));
    e = next_message(rcmp, in_ms(20 * SECOND));
    assert_non_null(e);
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    send_one(rcmp, "watchlist.answer", "USA/FBI", query, answer);
    assert_true(fed_wait_until(delivered_at_usa, f, 20 * SECOND));
    /* Sent on the officer's connection; the officer ends without reading. */
    liaison_client_close(&officer);
    e = next_message(agent, in_ms(120 * SECOND));
    if (e == NULL)
        fail_msg("the unreceipted answer was not delivered again: %s",
                 liaison_client_error(agent));
    assert_memory_equal(e->id, answer, 16);
    assert_int_equal(liaison_receipt(agent, e), LIAISON_OK);
    liaison_event_free(&e);
    liaison_client_close(&agent);
    liaison_client_close(&rcmp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_replies_answer_goes_to_the_connection_that_asked,
                                  fed_destroy_all),
        cmocka_unit_test_teardown(test_replies_answer_to_a_gone_connection_reaches_the_agency,
                                  fed_destroy_all),
        cmocka_unit_test_teardown(test_replies_unreceipted_answer_delivered_again,
                                  fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("replies", tests, NULL, NULL);
}
