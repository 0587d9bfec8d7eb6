/* Unit tests of the web console's MLAT and freeze JSON (client/tool/console_mlat.c,
 * console_freeze.c) over a casebook the test fills. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "cli_mlat.h"
#include "console.h"
#include "console_data.h"
#include "helpers.h"
#include "liaison_proto.h"
#include "casebook_fixture.h"

#define DAY_MS 86400000ull
#define NOW_MS 1796083200000ull          /* 2026-12-01T00:00:00Z */

/* The request's parameters of console_param: this test's request carries one "now". */
typedef struct test_params {
    const char *now;             /* ?now=, or NULL */
} test_params;

/* The core's console_param over this test's requests (req->conn: a test_params). */
const char *
console_param(const console_req *req, const char *name)
{
    const test_params *p = req->conn;

    return p != NULL && strcmp(name, "now") == 0 ? p->now : NULL;
}

/* Stores message n of kind in case case_id, sent (to "to") or received (from peer). */
static void
put(uint8_t n, bool sent, const char *peer, const char *kind, const char *case_id, uint64_t t,
    const char *body)
{
    casebook_entry e;

    memset(&e, 0, sizeof(e));
    e.sent = sent;
    e.id[0] = n;
    e.id[15] = 0x5a;
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.case_id, sizeof(e.case_id), "%s", case_id);
    snprintf(e.labels, sizeof(e.labels), "LES//BASIS:USA-MEX-MLAT-1987//OFFENCE:FRAUD");
    if (!sent)
        snprintf(e.peer, sizeof(e.peer), "%s", peer);
    e.body = (char *)(uintptr_t)body;
    e.recipients = sent ? (char *)(uintptr_t)peer : NULL;
    e.time_ms = t;
    e.created_ms = t;
    assert_int_equal(casebook_put(cb, &e), CASEBOOK_OK);
}

/* A request for case id submitted at t (sent to USA/DOJ, or received from MEX/FGR). */
static void
put_request(uint8_t n, bool sent, const char *id, uint64_t t)
{
    char body[1024], when[PROTO_TIME_TEXT_BYTES];

    snprintf(body, sizeof(body),
             "{\"schema\":\"mlat.request/1\",\"case\":\"%s\",\"treaty\":\"USA-MEX-MLAT-1987\","
             "\"offences\":[\"FRAUD\"],\"requesting\":\"%s\",\"requested\":\"%s\","
             "\"summary\":\"s\",\"assistance\":[],\"submitted\":\"%s\"}",
             id, sent ? "MEX/FGR" : "MEX/FGR", sent ? "USA/DOJ" : "USA/DOJ",
             proto_time_format(t, when));
    put(n, sent, sent ? "USA/DOJ" : "MEX/FGR", "mlat.request", id, t, body);
}

static void
put_status(uint8_t n, bool sent, const char *id, const char *status, uint64_t t)
{
    char body[512];

    snprintf(body, sizeof(body),
             "{\"schema\":\"mlat.status/1\",\"case\":\"%s\",\"status\":\"%s\",\"note\":\"\","
             "\"grounds\":\"\"}", id, status);
    put(n, sent, sent ? "MEX/FGR" : "USA/DOJ", "mlat.status", id, t, body);
}

static json_t *
find_case(json_t *cases, const char *id)
{
    json_t *c;
    size_t i;

    json_array_foreach(cases, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "case")), id) == 0)
            return c;
    }
    fail_msg("case %s is not listed", id);
    return NULL;
}

static void
fill_mlat(void)
{
    /* Overdue: submitted 40 days ago, no decision (30 days). */
    put_request(1, true, "MEX-FGR-2026-0001", NOW_MS - 40 * DAY_MS);
    /* On time, decided, with evidence received: 10 days ago. */
    put_request(2, true, "MEX-FGR-2026-0002", NOW_MS - 10 * DAY_MS);
    put_status(3, false, "MEX-FGR-2026-0002", "accepted", NOW_MS - 9 * DAY_MS);
    put(4, false, "USA/DOJ", "mlat.evidence", "MEX-FGR-2026-0002", NOW_MS - 8 * DAY_MS,
        "{\"schema\":\"mlat.evidence/1\",\"case\":\"MEX-FGR-2026-0002\",\"batch\":1,\"files\":["
        "{\"name\":\"a.bin\",\"size\":10,\"sha256\":\"" "aa" "\",\"chunks\":2,\"chunk\":0},"
        "{\"name\":\"a.bin\",\"size\":10,\"sha256\":\"" "aa" "\",\"chunks\":2,\"chunk\":1}]}");
    /* Incoming, 2 days ago: 28 days left to decide. */
    put_request(5, false, "MEX-FGR-2026-0003", NOW_MS - 2 * DAY_MS);
    /* Only a status of a case whose request is not here: not listed. */
    put_status(6, false, "MEX-FGR-2026-0004", "accepted", NOW_MS - DAY_MS);
}

static void
test_console_data_mlat_list(void **state)
{
    char why[256] = "";
    json_t *out, *cases, *c;
    size_t i;

    (void)state;
    fill_mlat();
    /* Through the handler, as of three months later: every case is overdue. */
    {
        console_ctx ctx;
        test_params p = {"2027-03-01"};
        console_req req = {"", "mex.fgr.officer", NULL, &p};
        int status = 200;

        memset(&ctx, 0, sizeof(ctx));
        ctx.conn.state = dir;
        ctx.cb = cb;
        out = console_api_mlat_list(&ctx, &req, &status, why, sizeof(why));
        assert_non_null(out);
        cases = json_object_get(out, "cases");
        assert_int_equal(json_array_size(cases), 3);
        json_array_foreach(cases, i, c) assert_true(json_is_true(json_object_get(c, "overdue")));
        json_decref(out);
        p.now = "not a date";
        assert_null(console_api_mlat_list(&ctx, &req, &status, why, sizeof(why)));
        assert_int_equal(status, 400);
    }
    out = console_mlat_cases(cb, dir, NOW_MS, why, sizeof(why));
    if (out == NULL)
        fail_msg("console_mlat_cases: %s", why);
    cases = json_object_get(out, "cases");
    assert_int_equal(json_array_size(cases), 3);
    /* Overdue first, then by the next due date: 0002 is decided (execute due in 80
     * days), 0003 must be decided in 28. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(cases, 0), "case")),
                        "MEX-FGR-2026-0001");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cases, 1), "case")),
                        "MEX-FGR-2026-0003");
    assert_string_equal(json_string_value(json_object_get(json_array_get(cases, 2), "case")),
                        "MEX-FGR-2026-0002");
    c = find_case(cases, "MEX-FGR-2026-0001");
    assert_true(json_is_true(json_object_get(c, "overdue")));
    assert_string_equal(json_string_value(json_object_get(c, "role")), "requesting");
    assert_string_equal(json_string_value(json_object_get(c, "peer")), "USA/DOJ");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(c, "deadlines"), "decide"), "days_left")),
                     -11); /* due 10 days ago to the second: "OVERDUE by 11 days", as the
                              * command counts */
    assert_int_equal(json_integer_value(json_object_get(c, "evidence_files")), 0);
    assert_false(json_is_true(json_object_get(c, "evidence_complete")));
    c = find_case(cases, "MEX-FGR-2026-0002");
    assert_false(json_is_true(json_object_get(c, "overdue")));
    assert_string_equal(json_string_value(json_object_get(c, "status")), "accepted");
    assert_true(json_is_null(json_object_get(
        json_object_get(json_object_get(c, "deadlines"), "decide"), "days_left")));
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(c, "deadlines"), "execute"), "days_left")),
                     80);
    assert_int_equal(json_integer_value(json_object_get(c, "evidence_files")), 1);
    assert_true(json_is_true(json_object_get(c, "evidence_complete")));
    c = find_case(cases, "MEX-FGR-2026-0003");
    assert_string_equal(json_string_value(json_object_get(c, "role")), "requested");
    assert_string_equal(json_string_value(json_object_get(c, "peer")), "MEX/FGR");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(c, "deadlines"), "decide"), "days_left")),
                     28);
    json_decref(out);
}

static void
test_console_data_mlat_case(void **state)
{
    console_ctx ctx;
    test_params p = {"2026-12-01T00:00:00Z"};
    console_req req = {"MEX-FGR-2026-0002", "mex.fgr.officer", NULL, &p};
    char why[256] = "";
    int status = 200;
    json_t *j, *ev, *st;

    (void)state;
    fill_mlat();
    memset(&ctx, 0, sizeof(ctx));
    ctx.conn.state = dir;
    ctx.cb = cb;
    ctx.agency = "MEX/FGR";
    j = console_api_mlat_case(&ctx, &req, &status, why, sizeof(why));
    if (j == NULL)
        fail_msg("console_api_mlat_case: %d %s", status, why);
    assert_int_equal(status, 200);
    assert_int_equal(json_array_size(json_object_get(j, "timeline")), 3);
    ev = json_array_get(json_object_get(j, "evidence"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "a.bin");
    assert_int_equal(json_integer_value(json_object_get(ev, "chunks_seen")), 2);
    assert_true(json_is_true(json_object_get(ev, "complete")));
    /* The requesting side may withdraw or close; never accept. */
    st = json_object_get(j, "statuses");
    assert_int_equal(json_array_size(st), 2);
    assert_string_equal(json_string_value(json_array_get(st, 0)), "withdrawn");
    assert_string_equal(json_string_value(json_array_get(st, 1)), "closed");
    assert_int_equal(json_array_size(json_object_get(j, "exports")), 0);
    json_decref(j);

    /* The requested side of 0003 may send every status but withdrawn. */
    req.arg = "MEX-FGR-2026-0003";
    j = console_api_mlat_case(&ctx, &req, &status, why, sizeof(why));
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "statuses")), 8);
    json_decref(j);

    /* Hostile or unknown ids: 400 before the casebook is read, 404 when not there. */
    req.arg = "../../etc/passwd";
    status = 200;
    assert_null(console_api_mlat_case(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 400);
    assert_non_null(strstr(why, "case id"));
    req.arg = "";
    status = 200;
    assert_null(console_api_mlat_case(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 400);
    req.arg = "MEX-FGR-2026-0004";
    status = 200;
    assert_null(console_api_mlat_case(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 404);
    req.arg = "MEX-FGR-2026-0002";
    p.now = "yesterday";
    status = 200;
    assert_null(console_api_mlat_case(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 400);
}

static void
test_console_data_mlat_respond_refused(void **state)
{
    console_ctx ctx;
    console_req req = {"MEX-FGR-2026-0002", "mex.fgr.officer", NULL, NULL};
    char why[256] = "";
    int status = 200;
    json_t *body;

    (void)state;
    fill_mlat();
    memset(&ctx, 0, sizeof(ctx));
    ctx.conn.state = dir;
    ctx.cb = cb;
    /* No broker is needed to refuse these: they fail before connecting. */
    body = json_pack("{s:s}", "status", "accepted");
    req.body = body;
    assert_null(console_api_mlat_respond(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 409);
    assert_non_null(strstr(why, "requesting side"));
    json_decref(body);
    body = json_pack("{s:s}", "status", "refused");
    req.body = body;
    req.arg = "MEX-FGR-2026-0003";
    status = 200;
    assert_null(console_api_mlat_respond(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 400);
    assert_non_null(strstr(why, "grounds"));
    json_decref(body);
    body = json_pack("{s:i}", "status", 3);
    req.body = body;
    status = 200;
    assert_null(console_api_mlat_respond(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 400);
    json_decref(body);
}

static void
test_console_data_case_index(void **state)
{
    casebook_case_ids *ids = NULL;

    (void)state;
    fill_mlat();
    put(20, true, "CAN/FINTRAC", "freeze.designation", "USA-T-1", NOW_MS, "{}");
    assert_int_equal(casebook_cases(cb, "mlat", 100, &ids), CASEBOOK_OK);
    assert_int_equal(ids->count, 4);
    assert_string_equal(ids->ids[0], "MEX-FGR-2026-0001");
    assert_string_equal(ids->ids[3], "MEX-FGR-2026-0004");
    assert_false(ids->truncated);
    casebook_case_ids_free(&ids);
    assert_null(ids);
    assert_int_equal(casebook_cases(cb, "mlat", 2, &ids), CASEBOOK_OK);
    assert_int_equal(ids->count, 2);
    assert_true(ids->truncated);
    casebook_case_ids_free(&ids);
    assert_int_equal(casebook_cases(cb, "freeze", 100, &ids), CASEBOOK_OK);
    assert_int_equal(ids->count, 1);
    assert_string_equal(ids->ids[0], "USA-T-1");
    casebook_case_ids_free(&ids);
    assert_int_equal(casebook_cases(cb, "cargo", 100, &ids), CASEBOOK_OK);
    assert_int_equal(ids->count, 0);
    casebook_case_ids_free(&ids);
    assert_int_equal(casebook_cases(cb, "ml/at", 100, &ids), CASEBOOK_ERR_INVALID);
}

static void
put_ack(uint8_t n, const char *from, const char *status, uint64_t t)
{
    char body[512];

    snprintf(body, sizeof(body),
             "{\"schema\":\"freeze.ack/1\",\"designation\":\"USA-TREAS-2026-7\",\"version\":1,"
             "\"status\":\"%s\",\"note\":\"\"}", status);
    put(n, false, from, "freeze.ack", "USA-TREAS-2026-7", t, body);
}

static void
test_console_data_freeze(void **state)
{
    char path[1200], why[512] = "";
    const char *data = getenv("LIAISON_TEST_DATA");
    proto_roster *roster = NULL;
    proto_detail d = {{0}, {0}};
    json_t *sent, *row, *one = NULL, *units, *u, *cells;
    size_t i;
    int implemented = 0, received = 0;

    (void)state;
    assert_non_null(data);
    snprintf(path, sizeof(path), "%s/bundle/trusted.roster", data);
    if (proto_roster_load(path, &roster, &d) != PROTO_OK)
        fail_msg("roster %s: %s", path, d.text);
    put(30, true, "CAN/FINTRAC MEX/UIF", "freeze.designation", "USA-TREAS-2026-7",
        NOW_MS - 3 * DAY_MS,
        "{\"schema\":\"freeze.designation/1\",\"designation\":\"USA-TREAS-2026-7\","
        "\"version\":1,\"action\":\"add\",\"entity\":{\"name\":\"Marco VIDAL\"}}");
    put_ack(31, "CAN/FINTRAC", "received", NOW_MS - 2 * DAY_MS);
    put_ack(32, "CAN/FINTRAC", "implemented", NOW_MS - DAY_MS);
    put_ack(33, "MEX/UIF", "received", NOW_MS - DAY_MS);
    /* A designation received from a partner, acknowledged received by this agency. */
    put(34, false, "CAN/FINTRAC", "freeze.designation", "CAN-FIN-9",
        NOW_MS - DAY_MS,
        "{\"schema\":\"freeze.designation/1\",\"designation\":\"CAN-FIN-9\","
        "\"version\":2,\"action\":\"amend\",\"entity\":{\"name\":\"<b>X</b>\"}}");
    put(35, true, "CAN/FINTRAC", "freeze.ack", "CAN-FIN-9", NOW_MS,
        "{\"schema\":\"freeze.ack/1\",\"designation\":\"CAN-FIN-9\",\"version\":2,"
        "\"status\":\"received\",\"note\":\"\"}");

    sent = console_freeze_sent(cb, roster, "USA/TREASURY", dir, NULL, why, sizeof(why));
    if (sent == NULL)
        fail_msg("console_freeze_sent: %s", why);
    assert_int_equal(json_array_size(sent), 1);  /* CAN-FIN-9 was received, not sent */
    row = json_array_get(sent, 0);
    assert_string_equal(json_string_value(json_object_get(row, "designation")), "USA-TREAS-2026-7");
    assert_string_equal(json_string_value(json_object_get(row, "name")), "Marco VIDAL");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(row, "latest"), "units")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(row, "latest"), "received")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(row, "latest"), "implemented")), 1);
    json_decref(sent);

    assert_int_equal(cli_freeze_status_json(cb, roster, "USA/TREASURY", dir, "USA-TREAS-2026-7",
                                            NULL, &one, why, sizeof(why)),
                     EX_OK);
    units = json_object_get(one, "units");
    assert_int_equal(json_array_size(units), 2);
    json_array_foreach(units, i, u) {
        cells = json_object_get(u, "versions");
        assert_int_equal(json_array_size(cells), 1);
        received += json_is_string(json_object_get(json_array_get(cells, 0), "received"));
        if (json_is_string(json_object_get(json_array_get(cells, 0), "implemented"))) {
            implemented++;
            assert_string_equal(json_string_value(json_object_get(u, "unit")), "CAN/FINTRAC");
        }
    }
    assert_int_equal(received, 2);
    assert_int_equal(implemented, 1);
    json_decref(one);
    one = NULL;
    assert_int_equal(cli_freeze_status_json(cb, roster, "USA/TREASURY", dir, "NOPE", NULL, &one,
                                            why, sizeof(why)),
                     EX_NOINPUT);
    assert_null(one);

    sent = console_freeze_received_casebook(cb, why, sizeof(why));
    assert_non_null(sent);
    assert_int_equal(json_array_size(sent), 1);
    row = json_array_get(sent, 0);
    assert_string_equal(json_string_value(json_object_get(row, "designation")), "CAN-FIN-9");
    assert_string_equal(json_string_value(json_object_get(row, "from")), "CAN/FINTRAC");
    assert_string_equal(json_string_value(json_object_get(row, "name")), "<b>X</b>");
    assert_string_equal(json_string_value(json_object_get(row, "ack")), "received");
    assert_int_equal(json_integer_value(json_object_get(row, "version")), 2);
    json_decref(sent);
    proto_roster_destroy(&roster);
}

static void
test_console_data_freeze_implement_without_agent(void **state)
{
    console_ctx ctx;
    console_req req = {"USA-TREAS-2026-7", "can.fintrac.analyst", NULL, NULL};
    char why[256] = "";
    int status = 200;

    (void)state;
    memset(&ctx, 0, sizeof(ctx));
    ctx.conn.state = dir;
    ctx.cb = cb;
    assert_null(console_api_freeze_implement(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 409);
    req.arg = "a b";
    status = 200;
    assert_null(console_api_freeze_implement(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 400);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_data_case_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_data_mlat_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_data_mlat_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_data_mlat_respond_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_data_freeze, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_data_freeze_implement_without_agent, setup,
                                        teardown),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
