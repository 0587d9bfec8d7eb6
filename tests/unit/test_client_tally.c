/* Unit tests of a query's accounting, agency by agency (client/lib/client_tally.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client_int.h"

/* Cards: CAN/RCMP and CAN/CBSA accept watchlist.*, MEX/FGR mlat.* only. */
static proto_roster_entry cards[3];

static void
card(proto_roster_entry *e, const char *addr, const char *accepts)
{
    memset(e, 0, sizeof(*e));
    assert_int_equal(proto_addr_parse(addr, &e->card.addr, NULL), PROTO_OK);
    snprintf(e->accepts[0], sizeof(e->accepts[0]), "%s", accepts);
    e->accept_count = 1;
}

static int
setup(void **state)
{
    static const proto_roster_entry *list[3] = {&cards[0], &cards[1], &cards[2]};
    static client_tally t;

    card(&cards[0], "CAN/RCMP", "watchlist.*");
    card(&cards[1], "CAN/CBSA", "watchlist.*");
    card(&cards[2], "MEX/FGR", "mlat.*");
    assert_int_equal(client_tally_init(&t, list, 3, "watchlist.query"), 0);
    *state = &t;
    return 0;
}

static int
teardown(void **state)
{
    client_tally_free(*state);
    return 0;
}

static void
test_client_tally_every_agency_is_awaited(void **state)
{
    client_tally *t = *state;

    /* An agency named outright whose card does not accept the kind is awaited too. */
    assert_int_equal(client_tally_waiting(t), 3);
    assert_true(client_tally_answer(t, "CAN/RCMP"));
    /* One answer of a nation does not stand for its other agencies. */
    assert_int_equal(client_tally_waiting(t), 2);
    assert_false(client_tally_answer(t, "USA/FBI"));
    assert_true(client_tally_answer(t, "CAN/CBSA"));
    assert_true(client_tally_answer(t, "MEX/FGR"));
    assert_int_equal(client_tally_waiting(t), 0);
}

static void
test_client_tally_reports_mark_agencies(void **state)
{
    client_tally *t = *state;

    /* Progress is not news. */
    assert_int_equal(client_tally_report(t, "USA", "CAN/CBSA", "forwarded", "", ""), 0);
    assert_int_equal(client_tally_report(t, "CAN", "CAN/CBSA", "delivered", "", ""), 0);
    assert_int_equal(client_tally_report(t, "CAN", "CAN/CBSA", "unattended", "",
                                         "no agent of the agency is connected"),
                     1);
    assert_int_equal(t->agencies[1].status, CLIENT_TALLY_SILENT);
    assert_string_equal(t->agencies[1].why.reason, "no-agent");
    assert_string_equal(t->agencies[1].why.broker, "CAN");
    assert_int_equal(client_tally_report(t, "USA", "MEX/FGR", "denied", "usa-mex-x", "ceiling"),
                     1);
    assert_string_equal(t->agencies[2].why.reason, "denied");
    assert_string_equal(t->agencies[2].why.rule_id, "usa-mex-x");
    assert_string_equal(t->agencies[2].why.detail, "ceiling");
    assert_int_equal(client_tally_waiting(t), 1);
    /* A late answer still counts. */
    assert_true(client_tally_answer(t, "CAN/CBSA"));
    assert_int_equal(t->agencies[1].status, CLIENT_TALLY_ANSWERED);
    /* A report never undoes an answer. */
    assert_int_equal(client_tally_report(t, "CAN", "CAN/CBSA", "expired", "", ""), 0);
    assert_int_equal(t->agencies[1].status, CLIENT_TALLY_ANSWERED);
}

static void
test_client_tally_broker_report_covers_its_nation(void **state)
{
    client_tally *t = *state;

    assert_true(client_tally_answer(t, "CAN/RCMP"));
    /* A report naming CAN's broker covers every agency of CAN not answered. */
    assert_int_equal(client_tally_report(t, "USA", "CAN", "unreachable", "", "link down"), 1);
    assert_string_equal(t->agencies[1].why.reason, "partner-down");
    assert_int_equal(t->agencies[0].status, CLIENT_TALLY_ANSWERED);
    assert_int_equal(t->agencies[2].status, CLIENT_TALLY_WAITING);
    /* Bad input from a report changes nothing. */
    assert_int_equal(client_tally_report(t, "USA", "not an address", "denied", "", ""), 0);
    assert_int_equal(client_tally_report(t, "USA", "MEX/FGR", "no-such-state", "", ""), 0);
}

static void
test_client_tally_close_names_the_rest(void **state)
{
    client_tally *t = *state;

    assert_true(client_tally_answer(t, "CAN/RCMP"));
    client_tally_close(t);
    assert_string_equal(t->agencies[1].why.reason, "deadline");
    /* Named outright, its card not accepting the kind, and silent. */
    assert_string_equal(t->agencies[2].why.reason, "kind-not-accepted");
    assert_string_equal(t->agencies[2].why.agency, "MEX/FGR");
    assert_int_equal(client_tally_waiting(t), 0);
    assert_null(client_tally_reason("queued"));
    assert_string_equal(client_tally_reason("unreachable"), "partner-down");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client_tally_every_agency_is_awaited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_tally_reports_mark_agencies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_tally_broker_report_covers_its_nation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_tally_close_names_the_rest, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
