/* Integration tests of the liaison tool's family commands: the real binary against real brokers,
 * with the answering side played by libliaison (docs/messages.md). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define OUT_MAX (1u << 20)

static fed *F;                 /* one federation (USA, CAN, MEX) for every test */
static char out[OUT_MAX];      /* the last run's stdout */
static char err[OUT_MAX];      /* and its stderr */

/* ---- Running the tool ------------------------------------------------------------- */

/* A run of the liaison tool in the background. */
typedef fed_run run;

/* Starts `liaison args...` with agency's connection options (agency NULL: none),
 * and --state <dir>/state-<state> when state is not NULL. */
static void
run_start(run *r, const char *agency, const char *state, const char *const *args)
{
    fed_tool_start(F, r, agency, state, args);
}

/* Waits for the run; its output lands in out and err.  Returns its exit status. */
static int
run_wait(run *r)
{
    return fed_tool_wait(r, out, err, sizeof(out));
}

static int
cli(const char *agency, const char *state, const char *const *args)
{
    return fed_tool(F, agency, state, args, out, err, sizeof(out));
}

/* Runs until the exit status is want (every 500 ms, up to ms); returns the last status. */
static int
cli_until(const char *agency, const char *state, const char *const *args, int want, unsigned ms)
{
    int rc = -1;

    for (unsigned waited = 0; waited <= ms; waited += 500) {
        if ((rc = cli(agency, state, args)) == want)
            return rc;
        usleep(500000);
    }
    return rc;
}

static json_t *
out_json(void)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);

    if (j == NULL)
        fail_msg("output is not JSON (%s): %s\nstderr: %s", e.text, out, err);
    return j;
}

#define assert_rc(got, want)                                                                 \
    do {                                                                                     \
        int rc_ = (got);                                                                     \
        if (rc_ != (want))                                                                   \
            fail_msg("exit %d, wanted %d\nstdout: %s\nstderr: %s", rc_, (want), out, err);   \
    } while (0)

/* ---- Playing the answering side with libliaison --------------------------------------- */

/* The next message of kind for c (others are acknowledged and dropped). */
static liaison_event *
next_kind(liaison_client *c, const char *kind, unsigned ms)
{
    uint64_t deadline = liaison_now_ms() + ms;

    for (;;) {
        liaison_event *e = NULL;

        if (liaison_receive(c, &e, deadline) != LIAISON_OK)
            fail_msg("no %s within %u ms", kind, ms);
        if (e->type == LIAISON_EVENT_MESSAGE && strcmp(e->kind, kind) == 0)
            return e;
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
    }
}

static json_t *
body_of(const liaison_event *e)
{
    json_t *j;

    assert_true(e->portion_count > 0 && e->portions[0].readable);
    j = json_loadb((const char *)e->portions[0].data, e->portions[0].len, 0, NULL);
    assert_non_null(j);
    return j;
}

/* Sends kind with content json in reply to e, to its sender, with labels. */
static void
reply(liaison_client *c, const liaison_event *e, const char *kind, const char *labels,
      const char *json)
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, e->sender), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    if (e->case_id[0])
        assert_int_equal(liaison_message_set_case(m, e->case_id), LIAISON_OK);
    assert_int_equal(liaison_message_set_in_reply_to(m, e->id), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", json, strlen(json), NULL), LIAISON_OK);
    if (liaison_send(c, m, NULL, liaison_now_ms() + 10 * SECOND) != LIAISON_OK)
        fail_msg("reply %s: %s", kind, liaison_client_error(c));
    liaison_message_destroy(&m);
}

/* ---- Fixture ---------------------------------------------------------------------------- */

static int
setup(void **state)
{
    static const char *const nations[] = {"USA", "CAN", "MEX"};

    (void)state;
    test_quiet_logs();
    /* Tree heads every second, so that exported evidence is soon covered by one. */
    F = fed_new(nations, 3, "tree_head_interval_s: 1\n");
    for (size_t i = 0; i < 3; i++)
        fed_start(F, nations[i]);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&F);
    return 0;
}

/* ---- Queries need a purpose ------------------------------------------------------------ */

static void
test_cli_query_needs_purpose(void **state)
{
    static const char *const wl[] = {"watchlist", "query", "--to", "CAN/*", "--name", "Jon Doe",
                                     NULL};
    static const char *const td[] = {"traveldoc", "check", "--number", "AB123456", NULL};
    static const char *const help[] = {"watchlist", "query", "--help", NULL};

    (void)state;
    assert_rc(cli("USA/FBI", NULL, wl), 64);
    assert_non_null(strstr(err, "--purpose"));
    assert_non_null(strstr(err, "must state its purpose"));
    assert_rc(cli("USA/CBP", NULL, td), 64);
    assert_non_null(strstr(err, "--purpose"));
    assert_rc(cli(NULL, NULL, help), 0);
    assert_non_null(strstr(out, "SYNOPSIS"));
    assert_non_null(strstr(out, "EXIT STATUS"));
}

/* ---- Every message names its actor --------------------------------------------------------- */

/* Without --actor or LIAISON_ACTOR a command that sends exits 64 before it
 * connects; a command that only reads needs none; the receiving agency sees
 * the actor the sender named, by option, by environment or through the
 * library (with a grant blob too). */
static void
test_cli_actor(void **state)
{
    static const char *const send[] = {"send", "--kind", "watchlist.publish", "--to", "CAN/RCMP",
                                       "--labels", "LES", "--portion", "LES", "--text",
                                       "{\"schema\": \"watchlist.publish/1\", \"entries\": []}",
                                       NULL};
    static const char *const wl[] = {"watchlist", "query", "--to", "CAN/*", "--name", "Jon Doe",
                                     "--purpose", "fugitive investigation 2026-0042", NULL};
    static const char *const inbox[] = {"inbox", "--wait", "0", NULL};
    static const uint8_t too_long[LIAISON_GRANT_MAX + 1];
    const char *with_actor[16], *bad_actor[16];
    uint8_t *grant = NULL;
    size_t grant_len = 0;
    liaison_client *rcmp = fed_client(F, "CAN/RCMP", true), *fbi = fed_client(F, "USA/FBI", false);
    liaison_message *m = NULL;
    liaison_event *e;
    size_t n = 0;

    (void)state;
    /* A consent grant token USA/FBI signs (brokers decode and verify every
     * grant an envelope carries: a blob that is not one is refused). */
    {
        proto_identity *id = NULL;
        proto_grant g;

        memset(&g, 0, sizeof(g));
        proto_id_new(liaison_now_ms(), g.id);
        assert_int_equal(proto_addr_parse("USA/FBI", &g.grantor, NULL), PROTO_OK);
        strcpy(g.grantor_actor, "usa.fbi.officer");
        assert_int_equal(proto_addr_parse("CAN/RCMP", &g.grantee, NULL), PROTO_OK);
        memset(g.content, 0x11, sizeof(g.content));
        g.to_count = 1;
        assert_int_equal(proto_addr_parse("MEX/*", &g.to[0], NULL), PROTO_OK);
        g.kind_count = 1;
        strcpy(g.kinds[0], "watchlist.publish");
        g.issued_ms = liaison_now_ms();
        g.until_ms = g.issued_ms + 86400000ull;
        assert_int_equal(proto_keyfile_read(fed_agency_get(F, "USA/FBI")->key, &id, NULL),
                         PROTO_OK);
        assert_int_equal(proto_grant_sign(&g, id, &grant, &grant_len, NULL), PROTO_OK);
        proto_identity_destroy(&id);
    }
    for (n = 0; send[n] != NULL; n++)
        with_actor[n] = bad_actor[n] = send[n];
    with_actor[n] = bad_actor[n] = "--actor";
    with_actor[n + 1] = "badge-4411";
    bad_actor[n + 1] = "badge 4411";
    with_actor[n + 2] = bad_actor[n + 2] = NULL;

    setenv("LIAISON_ACTOR", "", 1);
    assert_rc(cli("USA/FBI", NULL, send), 64);
    assert_non_null(strstr(err, "liaison: send: no actor: give --actor or set LIAISON_ACTOR"));
    assert_rc(cli("USA/FBI", NULL, wl), 64);
    assert_non_null(strstr(err, "liaison: watchlist query: no actor: give --actor or set "
                                "LIAISON_ACTOR"));
    assert_rc(cli("USA/FBI", NULL, bad_actor), 64);
    assert_non_null(strstr(err, "actor"));
    assert_rc(cli("USA/CBP", NULL, inbox), 0);
    /* --actor names the officer. */
    assert_rc(cli("USA/FBI", NULL, with_actor), 0);
    unsetenv("LIAISON_ACTOR");
    e = next_kind(rcmp, "watchlist.publish", 10 * SECOND);
    assert_string_equal(e->actor, "badge-4411");
    assert_string_equal(e->sender, "USA/FBI");
    assert_int_equal(e->grant_count, 0);
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    /* LIAISON_ACTOR, as the harness sets it for the tool. */
    assert_rc(cli("USA/FBI", NULL, send), 0);
    e = next_kind(rcmp, "watchlist.publish", 10 * SECOND);
    assert_string_equal(e->actor, "usa.fbi.officer");
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    /* The library: the client's actor, one message's own, and a grant blob. */
    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "CAN/RCMP"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", "{}", 2, NULL), LIAISON_OK);
    assert_int_equal(liaison_message_set_actor(m, "j doe"), LIAISON_ERR_INVALID);
    assert_int_equal(liaison_message_set_actor(m, "system:case-tool"), LIAISON_OK);
    assert_int_equal(liaison_message_add_grant(m, grant, 0), LIAISON_ERR_INVALID);
    assert_int_equal(liaison_message_add_grant(m, too_long, sizeof(too_long)),
                     LIAISON_ERR_INVALID);
    assert_int_equal(liaison_message_add_grant(m, grant, grant_len), LIAISON_OK);
    if (liaison_send(fbi, m, NULL, liaison_now_ms() + 10 * SECOND) != LIAISON_OK)
        fail_msg("send: %s", liaison_client_error(fbi));
    liaison_message_destroy(&m);
    e = next_kind(rcmp, "watchlist.publish", 10 * SECOND);
    assert_string_equal(e->actor, "system:case-tool");
    assert_int_equal(e->grant_count, 1);
    assert_int_equal(e->grants[0].len, grant_len);
    assert_memory_equal(e->grants[0].data, grant, grant_len);
    free(grant);
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    /* The inbox shows it in JSON. */
    assert_rc(cli("USA/FBI", NULL, send), 0);
    {
        const char *in[] = {"inbox", "--wait", "3", "--max", "1", "--kind", "watchlist.publish",
                            NULL};

        assert_rc(cli("CAN/RCMP", NULL, in), 0);
        assert_non_null(strstr(out, "\"actor\":\"usa.fbi.officer\""));
    }
    liaison_client_close(&fbi);
    liaison_client_close(&rcmp);
}

/* ---- Story 1: a Flying Squad asks CAN and MEX, then follows a hit up --------------------- */

static void
test_cli_watchlist_query_and_request(void **state)
{
    static const char *const query[] = {
        "watchlist", "query", "--to", "CAN/*", "--to", "MEX/*", "--name", "Jon Doe", "--born",
        "1980-02-29", "--purpose", "fugitive investigation 2026-0042", "--deadline", "6", "--json",
        NULL};
    liaison_client *rcmp = fed_client(F, "CAN/RCMP", true);
    liaison_event *q, *rq;
    json_t *body, *j, *answers;
    char answer_id[33], audit[OUT_MAX];
    run r;

    (void)state;
    run_start(&r, "USA/FBI", "fbi", query);
    q = next_kind(rcmp, "watchlist.query", 10 * SECOND);
    assert_non_null(strstr(q->labels, "PURPOSE:fugitive investigation 2026-0042"));
    assert_string_equal(q->actor, "usa.fbi.officer");
    body = body_of(q);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "subject"), "name")),
                        "Jon Doe");
    json_decref(body);
    /* CAN answers with a hit under another spelling; MEX stays silent. */
    reply(rcmp, q, "watchlist.answer", "LES",
          "{\"schema\": \"watchlist.answer/1\", \"result\": \"hit\", \"hits\": [{\"ref\": "
          "\"RCMP-WL-2026-0007\", \"score\": 0.94, \"matched\": [\"name\", \"born\"], \"name\": "
          "\"Jonathan DOE\"}]}");
    assert_int_equal(liaison_receipt(rcmp, q), LIAISON_OK);
    liaison_event_free(&q);
    assert_rc(run_wait(&r), 75);
    j = out_json();
    answers = json_object_get(j, "answers");
    assert_int_equal(json_array_size(answers), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(answers, 0), "from")),
                        "CAN/RCMP");
    assert_string_equal(json_string_value(json_object_get(json_array_get(answers, 0), "actor")),
                        "can.rcmp.officer");
    assert_string_equal(json_string_value(json_object_get(json_array_get(answers, 0), "result")),
                        "hit");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(json_array_get(answers, 0), "hits"), 0),
                            "ref")),
                        "RCMP-WL-2026-0007");
    assert_int_equal(json_array_size(json_object_get(j, "silent")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "silent"), 0)), "MEX");
    snprintf(answer_id, sizeof(answer_id), "%s",
             json_string_value(json_object_get(json_array_get(answers, 0), "id")));
    json_decref(j);

    /* The purpose is in the audit log of every broker on the way. */
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(F, "CAN")->data, "--json",
                              NULL};

        assert_rc(cli(NULL, NULL, args), 0);
        snprintf(audit, sizeof(audit), "%s", out);
        assert_non_null(strstr(audit, "\"purpose\":\"fugitive investigation 2026-0042\""));
        args[3] = fed_nation_get(F, "USA")->data;
        assert_rc(cli(NULL, NULL, args), 0);
        assert_non_null(strstr(out, "\"purpose\":\"fugitive investigation 2026-0042\""));
    }

    /* The follow-up: details of the hit, with the query's purpose taken from the casebook. */
    {
        const char *req[] = {"watchlist", "request", "--to", "CAN/RCMP", "--ref",
                             "RCMP-WL-2026-0007", "--reply-to", answer_id, "--deadline", "10",
                             NULL};

        run_start(&r, "USA/FBI", "fbi", req);
        rq = next_kind(rcmp, "watchlist.request", 10 * SECOND);
        assert_non_null(strstr(rq->labels, "PURPOSE:fugitive investigation 2026-0042"));
        body = body_of(rq);
        assert_string_equal(json_string_value(json_object_get(body, "ref")), "RCMP-WL-2026-0007");
        json_decref(body);
        reply(rcmp, rq, "watchlist.details", "LES",
              "{\"schema\": \"watchlist.details/1\", \"ref\": \"RCMP-WL-2026-0007\", \"result\": "
              "\"found\", \"entry\": {\"ref\": \"RCMP-WL-2026-0007\", \"type\": \"person\", "
              "\"names\": [\"Jonathan DOE\"], \"born\": \"1980-02-29\", \"reason\": \"armed "
              "robbery, Toronto 2025\"}}");
        assert_int_equal(liaison_receipt(rcmp, rq), LIAISON_OK);
        liaison_event_free(&rq);
        assert_rc(run_wait(&r), 0);
        assert_non_null(strstr(out, "found"));
        assert_non_null(strstr(out, "armed robbery, Toronto 2025"));
    }
    liaison_client_close(&rcmp);
}

/* ---- Story 4: a stolen passport, checked days later -------------------------------------- */

/* Answers one traveldoc.check for c: hit with ref when the number is number, else no-hit. */
static void
answer_check(liaison_client *c, const char *number, const char *hit_json)
{
    liaison_event *e = next_kind(c, "traveldoc.check", 10 * SECOND);
    json_t *body = body_of(e);
    const char *n = json_string_value(json_object_get(json_object_get(body, "document"), "number"));

    assert_non_null(strstr(e->labels, "PURPOSE:"));
    reply(c, e, "traveldoc.answer", "LES",
          number != NULL && n != NULL && strcmp(n, number) == 0
              ? hit_json
              : "{\"schema\": \"traveldoc.answer/1\", \"result\": \"no-hit\", \"hits\": []}");
    assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
    liaison_event_free(&e);
    json_decref(body);
}

static void
test_cli_traveldoc_report_and_check(void **state)
{
    static const char *const report[] = {"traveldoc", "report", "--number", "AB123456",
                                         "--country", "CAN", "--status", "stolen", "--ref",
                                         "CBSA-TD-2026-0007", "--json", NULL};
    static const char *const hit_json =
        "{\"schema\": \"traveldoc.answer/1\", \"result\": \"hit\", \"hits\": [{\"ref\": "
        "\"CBSA-TD-2026-0007\", \"status\": \"stolen\", \"reported\": \"2026-11-20\"}]}";
    liaison_client *cbsa, *fgr, *fbi, *rcmp;
    liaison_event *e;
    json_t *body, *j, *answers, *a;
    size_t i;
    run r;

    (void)state;
    assert_rc(cli("CAN/CBSA", NULL, report), 0);
    /* Every partner agency that accepts traveldoc.* gets the report. */
    fgr = fed_client(F, "MEX/AIC", true);
    e = next_kind(fgr, "traveldoc.report", 10 * SECOND);
    body = body_of(e);
    assert_string_equal(json_string_value(json_object_get(body, "ref")), "CBSA-TD-2026-0007");
    assert_string_equal(json_string_value(json_object_get(body, "status")), "stolen");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "document"), "number")), "AB123456");
    json_decref(body);
    assert_int_equal(liaison_receipt(fgr, e), LIAISON_OK);
    liaison_event_free(&e);

    /* A border officer checks the number: CAN's border unit answers with the report's reference.
     * Without --to the check goes to the partner nations' agencies only: USA/FBI, which
     * accepts traveldoc.* too, is not asked (and, running no agent, not waited for).  Every
     * agency of CAN whose card accepts traveldoc.* is asked, and waited for: CAN/RCMP too. */
    cbsa = fed_client(F, "CAN/CBSA", true);
    rcmp = fed_client(F, "CAN/RCMP", true);
    fbi = fed_client(F, "USA/FBI", true);
    {
        const char *check[] = {"traveldoc", "check", "--number", "AB123456", "--country", "CAN",
                               "--purpose", "secondary inspection, Blaine WA", "--deadline", "15",
                               "--json", NULL};

        run_start(&r, "USA/CBP", NULL, check);
        answer_check(cbsa, "AB123456", hit_json);
        answer_check(fgr, NULL, NULL);
        answer_check(rcmp, NULL, NULL);
        assert_rc(run_wait(&r), 0);
    }
    j = out_json();
    answers = json_object_get(j, "answers");
    assert_int_equal(json_array_size(answers), 3);
    assert_int_equal(json_array_size(json_object_get(j, "silent")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "not_answered")), 0);
    json_array_foreach(answers, i, a) {
        const char *from = json_string_value(json_object_get(a, "from"));
        const char *result = json_string_value(json_object_get(a, "result"));

        if (strcmp(from, "CAN/CBSA") == 0) {
            assert_string_equal(result, "hit");
            assert_string_equal(json_string_value(json_object_get(
                                    json_array_get(json_object_get(a, "hits"), 0), "ref")),
                                "CBSA-TD-2026-0007");
        } else {
            assert_string_equal(result, "no-hit");
        }
    }
    json_decref(j);

    /* The same check, for people: one row per answer, the hit with its reference. */
    {
        const char *check[] = {"traveldoc", "check", "--number", "ab 123-456", "--country", "CAN",
                               "--purpose", "secondary inspection, Blaine WA", "--deadline", "15",
                               NULL};

        run_start(&r, "USA/CBP", NULL, check);
        answer_check(cbsa, "ab 123-456", hit_json);
        answer_check(fgr, NULL, NULL);
        answer_check(rcmp, NULL, NULL);
        assert_rc(run_wait(&r), 0);
        assert_non_null(strstr(out, "CAN/CBSA       HIT"));
        assert_non_null(strstr(out, "CBSA-TD-2026-0007  status=stolen  reported=2026-11-20"));
        assert_non_null(strstr(out, "MEX/AIC        no-hit"));
    }

    /* A number never reported: no-hit from every partner (human output). */
    {
        const char *check[] = {"traveldoc", "check", "--number", "ZZ999999", "--purpose",
                               "secondary inspection, Blaine WA", "--deadline", "15", NULL};

        run_start(&r, "USA/CBP", NULL, check);
        answer_check(cbsa, "AB123456", hit_json);
        answer_check(fgr, NULL, NULL);
        answer_check(rcmp, NULL, NULL);
        assert_rc(run_wait(&r), 0);
        assert_null(strstr(out, "HIT"));
        assert_non_null(strstr(out, "CAN/CBSA"));
        assert_non_null(strstr(out, "MEX/AIC"));
        assert_null(strstr(out, "USA/FBI"));
        assert_null(strstr(out, "NO ANSWER"));
    }
    /* USA/FBI was asked none of the three checks (it got the report, sent to *). */
    {
        liaison_event *ev = NULL;

        while (liaison_receive(fbi, &ev, liaison_now_ms() + 500) == LIAISON_OK) {
            assert_string_not_equal(ev->kind, "traveldoc.check");
            assert_int_equal(liaison_receipt(fbi, ev), LIAISON_OK);
            liaison_event_free(&ev);
        }
    }
    liaison_client_close(&cbsa);
    liaison_client_close(&rcmp);
    liaison_client_close(&fgr);
    liaison_client_close(&fbi);
}

/* ---- Story 2: an asset freeze, its acknowledgements, amend and delist ----------------------- */

/* Receives version of designation on c and acknowledges it with each status given. */
static void
ack_version(liaison_client *c, int version, const char *const *statuses)
{
    liaison_event *e = next_kind(c, "freeze.designation", 10 * SECOND);
    json_t *body = body_of(e);

    assert_string_equal(e->case_id, "TREAS-2026-0007");
    assert_int_equal(json_integer_value(json_object_get(body, "version")), version);
    for (size_t i = 0; statuses[i] != NULL; i++) {
        char ack[256];

        snprintf(ack, sizeof(ack),
                 "{\"schema\": \"freeze.ack/1\", \"designation\": \"TREAS-2026-0007\", "
                 "\"version\": %d, \"status\": \"%s\", \"note\": \"\"}",
                 version, statuses[i]);
        reply(c, e, "freeze.ack", "LES", ack);
    }
    assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
    liaison_event_free(&e);
    json_decref(body);
}

/* The cell of unit for version in a freeze status JSON. */
static json_t *
cell(json_t *status, const char *unit, int version)
{
    json_t *u, *v;
    size_t i, k;

    json_array_foreach(json_object_get(status, "units"), i, u) {
        if (strcmp(json_string_value(json_object_get(u, "unit")), unit) != 0)
            continue;
        json_array_foreach(json_object_get(u, "versions"), k, v) {
            if (json_integer_value(json_object_get(v, "version")) == version)
                return v;
        }
    }
    return NULL;
}

/* Runs freeze status --json until cond holds (up to 15 s); returns the JSON. */
static json_t *
freeze_status_until(bool (*cond)(json_t *))
{
    static const char *const args[] = {"freeze", "status", "TREAS-2026-0007", "--wait", "1",
                                       "--json", NULL};

    for (int i = 0; i < 15; i++) {
        json_t *j;

        assert_rc(cli("USA/TREASURY", "treasury", args), 0);
        j = out_json();
        if (cond(j))
            return j;
        json_decref(j);
        usleep(500000);
    }
    fail_msg("freeze status never showed what was expected; last:\n%s", out);
    return NULL;
}

static bool
v1_acked(json_t *j)
{
    json_t *f = cell(j, "CAN/FINTRAC", 1), *u = cell(j, "MEX/UIF", 1);

    return f != NULL && u != NULL && json_is_string(json_object_get(f, "implemented")) &&
           json_is_string(json_object_get(u, "received"));
}

static bool
v2_fintrac(json_t *j)
{
    json_t *f = cell(j, "CAN/FINTRAC", 2);

    return f != NULL && json_is_string(json_object_get(f, "received"));
}

static bool
v3_both(json_t *j)
{
    json_t *f = cell(j, "CAN/FINTRAC", 3), *u = cell(j, "MEX/UIF", 3);

    return f != NULL && u != NULL && json_is_true(json_object_get(f, "acknowledged")) &&
           json_is_true(json_object_get(u, "acknowledged"));
}

static void
test_cli_freeze(void **state)
{
    static const char *const designate[] = {
        "freeze", "designate", "--designation", "TREAS-2026-0007", "--name",
        "Northwind Trading LLC", "--alias", "Northwind Trade", "--id", "registration=DE-12345",
        "--legal-basis", "EO 13224", "--json", NULL};
    static const char *const both[] = {"received", "implemented", NULL};
    static const char *const received[] = {"received", NULL};
    static const char *const amend[] = {"freeze", "amend", "TREAS-2026-0007", "--alias",
                                        "Northwind Trade", "--alias", "NW Trading", NULL};
    static const char *const delist[] = {"freeze", "delist", "TREAS-2026-0007", "--note",
                                         "court order 2026-12", NULL};
    static const char *const table[] = {"freeze", "status", "TREAS-2026-0007", "--wait", "1", NULL};
    liaison_client *fintrac, *uif;
    json_t *j, *c;

    (void)state;
    assert_rc(cli("USA/TREASURY", "treasury", designate), 0);
    j = out_json();
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    json_decref(j);
    /* Designating the same id again is refused. */
    assert_rc(cli("USA/TREASURY", "treasury", designate), 65);

    fintrac = fed_client(F, "CAN/FINTRAC", true);
    uif = fed_client(F, "MEX/UIF", true);
    ack_version(fintrac, 1, both);
    ack_version(uif, 1, received);
    j = freeze_status_until(v1_acked);
    assert_int_equal(json_array_size(json_object_get(j, "units")), 2);
    c = cell(j, "MEX/UIF", 1);
    assert_true(json_is_null(json_object_get(c, "implemented")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "entity"), "name")),
                        "Northwind Trading LLC");
    json_decref(j);

    /* Amend: version 2 to the same units; FINTRAC acknowledges, UIF not yet. */
    assert_rc(cli("USA/TREASURY", "treasury", amend), 0);
    assert_non_null(strstr(out, "version 2 (amend)"));
    ack_version(fintrac, 2, received);
    j = freeze_status_until(v2_fintrac);
    json_decref(j);
    assert_rc(cli("USA/TREASURY", "treasury", table), 0);
    assert_non_null(strstr(out, "UNIT"));
    assert_non_null(strstr(out, "MEX/UIF"));
    assert_non_null(strstr(out, "NOT ACKNOWLEDGED"));
    ack_version(uif, 2, received);

    /* Delist: version 3; then no version may follow. */
    assert_rc(cli("USA/TREASURY", "treasury", delist), 0);
    ack_version(fintrac, 3, both);
    ack_version(uif, 3, both);
    j = freeze_status_until(v3_both);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "latest"), "action")),
                        "delist");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "latest"), "implemented")),
                     2);
    json_decref(j);
    assert_rc(cli("USA/TREASURY", "treasury", amend), 65);
    liaison_client_close(&fintrac);
    liaison_client_close(&uif);
}

/* ---- Structured designations, and the agency's own designations in its agent's store ------- */

/* The own designation id in `liaison agent list --json` of the agent at config, or NULL. */
static json_t *
own_designation(const char *config, const char *id)
{
    const char *args[] = {"agent", "list", "--config", config, "--json", NULL};
    json_t *j, *r, *found = NULL;
    size_t i;

    assert_rc(cli(NULL, NULL, args), 0);
    j = out_json();
    json_array_foreach(json_object_get(j, "own_designations"), i, r) {
        if (strcmp(json_string_value(json_object_get(r, "designation")), id) == 0)
            found = json_incref(r);
    }
    json_decref(j);
    return found;
}

static void
test_cli_freeze_structured(void **state)
{
    const char *config = fed_agent_config(F, "USA/TREASURY", NULL)->config;
    const char *designate[] = {
        "freeze", "designate", "--designation", "OFAC-SDN:9001", "--name",
        "Caspian Maritime Holdings", "--type", "entity", "--original-name",
        "\xd0\x9a\xd0\xb0\xd1\x81\xd0\xbf\xd0\xb8\xd0\xb9", "--alias", "Caspian Maritime",
        "--weak-alias", "CMH", "--id", "IMO=9312345", "--address",
        "street=4 Harbour Road;city=Limassol;postal_code=3035;country=Cyprus", "--list",
        "OFAC-SDN", "--reference", "9001", "--programme", "SDGT", "--programme", "IRAN",
        "--listed", "2024-03-01", "--reasons", "owned by a designated person",
        "--agent-config", config, "--json", NULL};
    const char *amend[] = {"freeze", "amend", "OFAC-SDN:9001", "--programme", "SDGT",
                           "--agent-config", config, NULL};
    const char *status[] = {"freeze", "status", "OFAC-SDN:9001", "--wait", "1", "--json",
                            "--agent-config", config, NULL};
    static const struct {
        const char *option;
        const char *value;
        const char *says;
    } bad[] = {
        {"--born", "31/01/1970", "--born '31/01/1970'"},
        {"--document", "passport", "--document 'passport'"},
        {"--address", "town=Limassol", "'town=Limassol'"},
        {"--type", "ship", "entity.type"},
        {"--listed", "2024-3-1", "--listed takes a date"},
    };
    liaison_client *fintrac;
    liaison_event *e;
    json_t *body, *ent, *own;

    (void)state;
    assert_rc(cli("USA/TREASURY", "treasury", designate), 0);
    /* USA/TREASURY's agent runs from now on: it receives the acknowledgements. */
    fed_agent_start(F, "USA/TREASURY");
    /* The receiving unit gets every member as given. */
    fintrac = fed_client(F, "CAN/FINTRAC", true);
    e = next_kind(fintrac, "freeze.designation", 10 * SECOND);
    assert_string_equal(e->case_id, "OFAC-SDN:9001");
    body = body_of(e);
    ent = json_object_get(body, "entity");
    assert_string_equal(json_string_value(json_object_get(body, "list")), "OFAC-SDN");
    assert_string_equal(json_string_value(json_object_get(body, "reference")), "9001");
    assert_int_equal(json_array_size(json_object_get(body, "programmes")), 2);
    assert_string_equal(json_string_value(json_object_get(body, "listed")), "2024-03-01");
    assert_string_equal(json_string_value(json_object_get(ent, "type")), "entity");
    assert_string_equal(json_string_value(json_object_get(ent, "original_name")),
                        "\xd0\x9a\xd0\xb0\xd1\x81\xd0\xbf\xd0\xb8\xd0\xb9");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ent, "aliases"), 1), "quality")),
                        "weak");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ent, "addresses"), 0), "city")),
                        "Limassol");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ent, "identifiers"), 0), "type")),
                        "IMO");
    json_decref(body);
    reply(fintrac, e, "freeze.ack", "LES",
          "{\"schema\": \"freeze.ack/1\", \"designation\": \"OFAC-SDN:9001\", \"version\": 1, "
          "\"status\": \"received\", \"note\": \"\"}");
    assert_int_equal(liaison_receipt(fintrac, e), LIAISON_OK);
    liaison_event_free(&e);
    /* The agent files the acknowledgement; freeze status finds it there. */
    for (int i = 0; i < 100 && fed_agent_log_count(F, "USA/TREASURY", "A-FREEZE-ACK") == 0; i++)
        usleep(50000);
    assert_rc(cli("USA/TREASURY", "treasury", status), 0);
    {
        json_t *j = out_json(), *c = cell(j, "CAN/FINTRAC", 1);

        assert_non_null(c);
        assert_true(json_is_string(json_object_get(c, "received")));
        json_decref(j);
    }
    /* The agency's own agent now holds version 1 among its own designations. */
    own = own_designation(config, "OFAC-SDN:9001");
    assert_non_null(own);
    assert_int_equal(json_integer_value(json_object_get(own, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(own, "action")), "add");
    json_decref(own);

    /* Amend one list: the others are carried over from version 1. */
    assert_rc(cli("USA/TREASURY", "treasury", amend), 0);
    assert_non_null(strstr(out, "version 2 (amend)"));
    assert_non_null(strstr(out, "recorded in the agent's own designations"));
    e = next_kind(fintrac, "freeze.designation", 10 * SECOND);
    body = body_of(e);
    ent = json_object_get(body, "entity");
    assert_int_equal(json_integer_value(json_object_get(body, "version")), 2);
    assert_int_equal(json_array_size(json_object_get(body, "programmes")), 1);
    assert_int_equal(json_array_size(json_object_get(ent, "aliases")), 2);
    assert_int_equal(json_array_size(json_object_get(ent, "addresses")), 1);
    assert_string_equal(json_string_value(json_object_get(body, "reference")), "9001");
    json_decref(body);
    assert_int_equal(liaison_receipt(fintrac, e), LIAISON_OK);
    liaison_event_free(&e);
    own = own_designation(config, "OFAC-SDN:9001");
    assert_int_equal(json_integer_value(json_object_get(own, "version")), 2);
    json_decref(own);

    /* Bad members are refused before anything is sent: the casebook knows nothing of them. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[] = {"freeze", "designate", "--designation", "TREAS-BAD-1", "--name",
                              "Somebody", bad[i].option, bad[i].value, NULL};
        const char *unknown[] = {"freeze", "status", "TREAS-BAD-1", "--wait", "1", NULL};

        assert_rc(cli("USA/TREASURY", "treasury", args), 64);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("%s %s: stderr does not say '%s': %s", bad[i].option, bad[i].value,
                     bad[i].says, err);
        assert_rc(cli("USA/TREASURY", "treasury", unknown), 66);
    }
    liaison_client_close(&fintrac);
    assert_int_equal(fed_agent_stop(F, "USA/TREASURY"), 0);
}

/* ---- Story 3: an MLAT request, its statuses, evidence, the bundle ------------------------- */

static void
write_big_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "wb");
    uint8_t block[4096];

    assert_non_null(f);
    for (size_t off = 0; off < size; off += sizeof(block)) {
        size_t n = size - off < sizeof(block) ? size - off : sizeof(block);

        for (size_t i = 0; i < n; i++)
            block[i] = (uint8_t)((off + i) * 2654435761u >> 13);
        assert_int_equal(fwrite(block, 1, n, f), n);
    }
    assert_int_equal(fclose(f), 0);
}

static void
flip_byte(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    int c;

    assert_non_null(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    fputc(c ^ 0x01, f);
    assert_int_equal(fclose(f), 0);
}

static long
file_size(const char *path)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return (long)sb.st_size;
}

static void
respond(const char *status)
{
    const char *args[] = {"mlat", "respond", "MEX-FGR-2026-0099", "--status", status, "--note",
                          "as agreed", "--wait", "1", NULL};

    assert_rc(cli("USA/DOJ", "doj", args), 0);
}

static void
test_cli_mlat(void **state)
{
    static const char *const submit[] = {
        "mlat", "submit", "--to", "USA/DOJ", "--case", "MEX-FGR-2026-0099", "--treaty",
        "USA-MEX-MLAT-1987", "--offence", "DRUG-TRAFFICKING", "--summary",
        "proceeds of cocaine sales moved through US accounts", "--assistance",
        "bank records of account 1234", NULL};
    static const char *const received[] = {"mlat", "respond", "MEX-FGR-2026-0099", "--status",
                                           "received", "--wait", "1", NULL};
    char big[1100], small[1100], bundle[1100], path[2200];
    json_t *j, *t;
    size_t i;

    (void)state;
    assert_rc(cli("MEX/FGR", "fgr", submit), 0);
    assert_non_null(strstr(out, "accepted"));
    /* The requested side: the request arrives in its casebook, then its statuses go back. */
    assert_rc(cli_until("USA/DOJ", "doj", received, 0, 15 * SECOND), 0);
    respond("accepted");
    respond("executing");

    snprintf(big, sizeof(big), "%s/statements.bin", F->dir);
    snprintf(small, sizeof(small), "%s/summary.txt", F->dir);
    write_big_file(big, (21u << 20) + 12345);
    {
        FILE *f = fopen(small, "w");

        assert_non_null(f);
        fputs("Account 1234: statements 2025-01 .. 2026-10, certified by the custodian.\n", f);
        fclose(f);
    }
    {
        const char *args[] = {"mlat", "evidence", "MEX-FGR-2026-0099", "--file", big, "--file",
                              small, "--custody", "collected from First Bank by FBI SA 123",
                              "--custody", "reviewed by AUSA", "--wait", "1", NULL};

        assert_rc(cli("USA/DOJ", "doj", args), 0);
        assert_non_null(strstr(out, "2 files"));
    }
    respond("executed");

    /* The requesting side sees the whole timeline and the evidence complete. */
    {
        const char *args[] = {"mlat", "status", "MEX-FGR-2026-0099", "--wait", "1", "--json", NULL};
        bool done = false;

        for (int k = 0; k < 20 && !done; k++) {
            json_t *ev;

            assert_rc(cli("MEX/FGR", "fgr", args), 0);
            j = out_json();
            ev = json_object_get(j, "evidence");
            done = strcmp(json_string_value(json_object_get(j, "status")), "executed") == 0 &&
                   json_array_size(ev) == 2 &&
                   json_is_true(json_object_get(json_array_get(ev, 0), "complete")) &&
                   json_is_true(json_object_get(json_array_get(ev, 1), "complete"));
            if (!done) {
                json_decref(j);
                usleep(500000);
            }
        }
        if (!done)
            fail_msg("mlat status never showed the executed case: %s", out);
        {
            static const char *const order[] = {"received", "accepted", "executing", "executed"};
            size_t next = 0;

            json_array_foreach(json_object_get(j, "timeline"), i, t) {
                const char *ev = json_string_value(json_object_get(t, "event"));

                if (next < 4 && strncmp(ev, order[next], strlen(order[next])) == 0)
                    next++;
            }
            assert_int_equal(next, 4);
        }
        assert_false(json_is_true(json_object_get(j, "overdue")));
        json_decref(j);
    }

    /* Export with the receiving broker's audit proofs, and verify offline. */
    snprintf(bundle, sizeof(bundle), "%s/bundle", F->dir);
    {
        const char *args[] = {"mlat", "export", "MEX-FGR-2026-0099", "--out", bundle, "--audit-data",
                              fed_nation_get(F, "MEX")->data, "--wait", "1", NULL};
        int rc = -1;

        for (int k = 0; k < 30; k++) {
            rc = cli("MEX/FGR", "fgr", args);
            if (rc != 75)
                break;
            /* No signed tree head covers the evidence yet (and nothing was left): again. */
            sleep(1);
        }
        assert_rc(rc, 0);
    }
    {
        const char *args[] = {"mlat", "verify-bundle", bundle, "--roster", F->roster, "--json", NULL};

        assert_rc(cli(NULL, NULL, args), 0);
        j = out_json();
        assert_true(json_is_true(json_object_get(j, "ok")));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "checked"), "files")), 2);
        assert_true(json_integer_value(json_object_get(json_object_get(j, "checked"), "proofs")) > 0);
        assert_true(json_integer_value(json_object_get(json_object_get(j, "checked"), "custody")) >= 6);
        json_decref(j);
    }
    snprintf(path, sizeof(path), "%s/files/statements.bin", bundle);
    assert_int_equal(file_size(path), (21l << 20) + 12345);

    /* One changed byte in any file of the bundle makes it fail, naming the file. */
    {
        const char *verify[] = {"mlat", "verify-bundle", bundle, NULL};
        const char *subdirs[] = {"", "files", "envelopes", "proofs"};
        size_t tried = 0;

        for (size_t s = 0; s < 4; s++) {
            char dir[1300];
            DIR *d;
            struct dirent *de;

            snprintf(dir, sizeof(dir), "%s/%s", bundle, subdirs[s]);
            d = opendir(dir);
            assert_non_null(d);
            while ((de = readdir(d)) != NULL) {
                char rel[600];
                long size;

                if (de->d_name[0] == '.' || (s == 0 && (strcmp(de->d_name, "files") == 0 ||
                                                        strcmp(de->d_name, "envelopes") == 0 ||
                                                        strcmp(de->d_name, "proofs") == 0)))
                    continue;
                snprintf(rel, sizeof(rel), "%s%s%s", subdirs[s], s > 0 ? "/" : "", de->d_name);
                snprintf(path, sizeof(path), "%s/%s", bundle, rel);
                size = file_size(path);
                flip_byte(path, size / 2);
                assert_rc(cli(NULL, NULL, verify), 1);
                if (strstr(err, rel) == NULL)
                    fail_msg("changing %s: the failure does not name it: %s", rel, err);
                flip_byte(path, size / 2);
                assert_rc(cli(NULL, NULL, verify), 0);
                tried++;
            }
            closedir(d);
        }
        assert_true(tried >= 8);
    }

    /* Deadlines: a second case with no decision is OVERDUE 31 days on. */
    {
        const char *submit2[] = {"mlat", "submit", "--to", "USA/DOJ", "--case", "MEX-FGR-2026-0100",
                                 "--treaty", "USA-MEX-MLAT-1987", "--offence", "MONEY-LAUNDERING",
                                 "--summary", "shell companies", NULL};
        const char *later[] = {"mlat", "status", "MEX-FGR-2026-0100", "--offline", "--now",
                               "2099-01-01", NULL};
        const char *later_json[] = {"mlat", "status", "MEX-FGR-2026-0100", "--offline", "--now",
                                    "2099-01-01", "--json", NULL};
        const char *first[] = {"mlat", "status", "MEX-FGR-2026-0099", "--offline", "--now",
                               "2099-01-01", NULL};

        assert_rc(cli("MEX/FGR", "fgr", submit2), 0);
        assert_rc(cli("MEX/FGR", "fgr", later), 0);
        assert_non_null(strstr(out, "OVERDUE"));
        assert_rc(cli("MEX/FGR", "fgr", later_json), 0);
        j = out_json();
        assert_true(json_is_true(json_object_get(j, "overdue")));
        assert_true(json_is_true(
            json_object_get(json_object_get(json_object_get(j, "deadlines"), "decide"), "overdue")));
        json_decref(j);
        /* The executed case met both deadlines: nothing is overdue. */
        assert_rc(cli("MEX/FGR", "fgr", first), 0);
        assert_null(strstr(out, "OVERDUE"));
    }

    /* A treaty that does not cover the offence: rejected with the rule id. */
    {
        const char *tax[] = {"mlat", "submit", "--to", "USA/DOJ", "--case", "MEX-FGR-2026-0101",
                             "--treaty", "USA-MEX-MLAT-1987", "--offence", "TAX-EVASION",
                             "--summary", "undeclared income", NULL};

        const char *tax_json[] = {"mlat", "submit", "--to", "USA/DOJ", "--case", "MEX-FGR-2026-0101",
                                  "--treaty", "USA-MEX-MLAT-1987", "--offence", "TAX-EVASION",
                                  "--summary", "undeclared income", "--json", NULL};

        assert_rc(cli("MEX/FGR", "fgr", tax), 2);
        assert_non_null(strstr(err, "rule builtin:mlat-treaty"));
        assert_non_null(strstr(err, "TAX-EVASION"));
        assert_rc(cli("MEX/FGR", "fgr", tax_json), 2);
        j = out_json();
        assert_string_equal(json_string_value(json_object_get(j, "result")), "rejected");
        assert_string_equal(json_string_value(json_object_get(j, "rule")), "builtin:mlat-treaty");
        json_decref(j);
    }

    /* Either side closes a case once it is over; the other side's timeline shows it,
     * and a status the tool does not know is refused. */
    {
        const char *closed[] = {"mlat", "respond", "MEX-FGR-2026-0099", "--status", "closed",
                                "--note", "trial ended", "--wait", "1", NULL};
        const char *bogus[] = {"mlat", "respond", "MEX-FGR-2026-0099", "--status", "completed",
                               "--wait", "1", NULL};
        const char *args[] = {"mlat", "status", "MEX-FGR-2026-0099", "--wait", "1", NULL};

        assert_rc(cli("MEX/FGR", "fgr", closed), 0);
        assert_rc(cli("MEX/FGR", "fgr", bogus), 64);
        assert_non_null(strstr(err, "closed"));
        for (int tries = 0; tries < 30 && (cli("USA/DOJ", "doj", args) != 0 ||
                                   strstr(out, "closed: trial ended") == NULL); tries++)
            usleep(500000);
        assert_non_null(strstr(out, "closed: trial ended"));
    }
}

/* liaison mlat evidence draws its bar (MiB, MiB/s, time left) on a terminal only. */
static void
test_cli_mlat_evidence_progress(void **state)
{
    static const char *const submit[] = {
        "mlat", "submit", "--to", "USA/DOJ", "--case", "MEX-FGR-2026-0177", "--treaty",
        "USA-MEX-MLAT-1987", "--offence", "MONEY-LAUNDERING", "--summary",
        "transfers through a money service business", "--assistance", "records of transfers", NULL};
    static const char *const statuses[] = {"received", "accepted", "executing"};
    char first[1100], second[1100];
    const char *p;
    bool left = false;

    (void)state;
    assert_rc(cli("MEX/FGR", "fgr", submit), 0);
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        const char *args[] = {"mlat", "respond", "MEX-FGR-2026-0177", "--status", statuses[i],
                              "--wait", "1", NULL};

        assert_rc(i == 0 ? cli_until("USA/DOJ", "doj", args, 0, 15 * SECOND)
                         : cli("USA/DOJ", "doj", args),
                  0);
    }
    snprintf(first, sizeof(first), "%s/transfers-1.bin", F->dir);
    snprintf(second, sizeof(second), "%s/transfers-2.bin", F->dir);
    write_big_file(first, (6u << 20) + 777);
    write_big_file(second, (3u << 20) + 555);

    /* stderr a terminal: the bar, with the rate and the time left. */
    {
        const char *args[] = {"mlat", "evidence", "MEX-FGR-2026-0177", "--file", first,
                              "--custody", "collected by FBI SA 456", "--wait", "1", NULL};
        int rc = fed_tool_tty(F, "USA/DOJ", "doj", args, out, err, sizeof(out));

        if (rc != 0)
            fail_msg("mlat evidence under a terminal: %d\n%s\n%s", rc, out, err);
    }
    assert_non_null(strstr(err, "\rhashing"));
    assert_non_null(strstr(err, "MiB/s"));
    assert_non_null(strstr(err, "/6.0 MiB"));
    assert_non_null(strstr(err, "sent"));
    for (p = err; (p = strstr(p, " left")) != NULL; p++) {
        /* "m:ss left": digits, a colon, two digits. */
        const char *q = p;

        if (q - err >= 4 && q[-3] == ':' && q[-2] >= '0' && q[-2] <= '9' && q[-1] >= '0' &&
            q[-1] <= '9' && q[-4] >= '0' && q[-4] <= '9')
            left = true;
    }
    if (!left)
        fail_msg("no time left in the bar:\n%s", err);

    /* stderr a file: no bar at all. */
    {
        const char *args[] = {"mlat", "evidence", "MEX-FGR-2026-0177", "--file", second,
                              "--custody", "collected by FBI SA 456", "--wait", "1", NULL};

        assert_rc(cli("USA/DOJ", "doj", args), 0);
    }
    assert_non_null(strstr(out, "1 file"));
    assert_null(strstr(err, "MiB"));
    assert_null(strstr(err, "left"));
    assert_null(strchr(err, '\r'));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_query_needs_purpose),
        cmocka_unit_test(test_cli_actor),
        cmocka_unit_test(test_cli_watchlist_query_and_request),
        cmocka_unit_test(test_cli_traveldoc_report_and_check),
        cmocka_unit_test(test_cli_freeze),
        cmocka_unit_test(test_cli_freeze_structured),
        cmocka_unit_test(test_cli_mlat),
        cmocka_unit_test(test_cli_mlat_evidence_progress),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
