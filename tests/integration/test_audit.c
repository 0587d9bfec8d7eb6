/* Officer accountability across three brokers: audit records name the actor and kind,
 * `liaison audit log` filters them, `liaison audit report` tells a data-protection
 * officer who asked what, why, and what happened (text, CSV and JSON). */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define OUT_MAX (256u * 1024u)

static const char *const three[] = {"USA", "CAN", "MEX"};
static const char *const to_both[] = {"CAN/RCMP", "MEX/FGR", NULL};
static const char *const to_can[] = {"CAN/RCMP", NULL};

static const char purpose_jdoe[] = "fugitive search: armed robbery";
static const char purpose_asmith[] = "border screening of a visa applicant";

/* The federation of the running test, so that a failed test still stops
 * its brokers and agents (in teardown). */
static fed *current;
static char out[OUT_MAX];

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&current);
    return 0;
}

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

/* An RFC 3339 UTC time for ms (static buffer, two in turn). */
static const char *
rfc3339(uint64_t ms)
{
    static char buf[2][40];
    static int which;
    char *b = buf[which++ % 2];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(b, sizeof(buf[0]), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

/* A watchlist.query from actor with purpose to recipients; extra labels
 * (may be "") go before the purpose. */
static liaison_message *
query_msg(const char *actor, const char *const *to, const char *extra, const char *purpose)
{
    static const char body[] = "{\"schema\": \"watchlist.query/1\", \"subject\": {\"type\": "
                               "\"person\", \"name\": \"Jonathan DOE\"}}";
    liaison_message *m = NULL;
    char labels[512];

    snprintf(labels, sizeof(labels), "LES%s//PURPOSE:%s", extra, purpose);
    assert_int_equal(liaison_message_new("watchlist.query", &m), LIAISON_OK);
    for (size_t i = 0; to[i] != NULL; i++)
        assert_int_equal(liaison_message_add_recipient(m, to[i]), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    assert_int_equal(liaison_message_set_actor(m, actor), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL), LIAISON_OK);
    return m;
}

/* Asks to (scatter-gather) as actor and expects an answer from each. */
static void
ask(liaison_client *c, const char *actor, const char *purpose, char id_hex[33])
{
    liaison_message *m = query_msg(actor, to_both, "", purpose);
    liaison_answers *a = NULL;
    uint8_t id[16];

    if (liaison_query(c, m, in_ms(20 * SECOND), &a) != LIAISON_OK)
        fail_msg("query: %s", liaison_client_error(c));
    assert_int_equal(liaison_message_seal(c, m, id), LIAISON_OK);
    assert_int_equal(a->silent_count, 0);
    liaison_answers_free(&a);
    liaison_message_destroy(&m);
    liaison_id_to_hex(id, id_hex);
}

/* Runs `liaison audit ARGS... --data <nation's data>` into out; returns its status. */
static int
audit(fed *f, const char *nation, const char *const *args)
{
    const char *argv[24];
    size_t n = 0;

    argv[n++] = "audit";
    for (size_t i = 0; args[i] != NULL && n < 20; i++)
        argv[n++] = args[i];
    argv[n++] = "--data";
    argv[n++] = fed_nation_get(f, nation)->data;
    argv[n] = NULL;
    out[0] = '\0';
    return fed_run_tool(argv, out, sizeof(out));
}

/* The JSON lines of `audit log` in out: how many, each checked to parse and
 * to carry the given key = value when key is not NULL. */
static size_t
log_lines(const char *key, const char *value)
{
    size_t n = 0;

    for (char *line = out; *line != '\0';) {
        char *end = strchr(line, '\n');
        json_t *j;

        if (end != NULL)
            *end = '\0';
        j = json_loads(line, 0, NULL);
        if (j == NULL)
            fail_msg("audit log printed a line that is not JSON: %s", line);
        if (key != NULL)
            assert_string_equal(json_string_value(json_object_get(j, key)), value);
        json_decref(j);
        n++;
        if (end == NULL)
            break;
        line = end + 1;
    }
    return n;
}

/* The message id of the report's actor entry for actor, with a sent or
 * received list in which exactly one message is id; NULL if none. */
static json_t *
report_message(json_t *doc, const char *actor, const char *agency, const char *list,
               const char *id)
{
    size_t i, k;
    json_t *a, *m;

    json_array_foreach(json_object_get(doc, "actors"), i, a) {
        if (strcmp(json_string_value(json_object_get(a, "actor")), actor) != 0 ||
            strcmp(json_string_value(json_object_get(a, "agency")), agency) != 0)
            continue;
        json_array_foreach(json_object_get(a, list), k, m) {
            if (strcmp(json_string_value(json_object_get(m, "id")), id) == 0)
                return m;
        }
    }
    return NULL;
}

/* The counterpart entry of message m for cp; fails the test if absent. */
static json_t *
counterpart(json_t *m, const char *cp)
{
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(m, "counterparts"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "counterpart")), cp) == 0)
            return c;
    }
    fail_msg("no counterpart %s in %s", cp, json_dumps(m, 0));
    return NULL;
}

#define FIELD(o, k) json_string_value(json_object_get((o), (k)))

static void
test_audit_report_names_officers_purposes_and_outcomes(void **state)
{
    fed *f = current = fed_new(three, 3, NULL);
    liaison_client *fbi;
    liaison_message *m;
    char q1[33], q2[33], q3[33], since[40], until[40];
    uint8_t id3[16];
    uint64_t t0 = liaison_now_ms() - 2 * SECOND;
    json_t *doc, *msg, *c, *ans;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    fed_agent_start(f, "CAN/RCMP");
    fed_agent_start(f, "MEX/FGR");
    fbi = fed_client(f, "USA/FBI", true);

    /* Two officers of USA/FBI query CAN and MEX, each for their own purpose;
     * a third query carries grand-jury material, which USA never releases. */
    ask(fbi, "fbi.jdoe", purpose_jdoe, q1);
    ask(fbi, "fbi.asmith", purpose_asmith, q2);
    m = query_msg("fbi.asmith", to_can, "//GRAND-JURY", purpose_asmith);
    assert_int_equal(liaison_message_seal(fbi, m, id3), LIAISON_OK);
    assert_int_not_equal(liaison_send(fbi, m, id3, in_ms(10 * SECOND)), LIAISON_OK);
    assert_non_null(strstr(liaison_client_error(fbi), "usa-can-grand-jury"));
    liaison_message_destroy(&m);
    liaison_id_to_hex(id3, q3);
    liaison_client_close(&fbi);
    snprintf(since, sizeof(since), "%s", rfc3339(t0));
    snprintf(until, sizeof(until), "%s", rfc3339(liaison_now_ms() + 60 * SECOND));
    assert_int_equal(fed_agent_stop(f, "CAN/RCMP"), 0);
    assert_int_equal(fed_agent_stop(f, "MEX/FGR"), 0);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    assert_int_equal(fed_stop(f, "MEX"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_assert_audit_verifies(f, "CAN");

    /* ---- audit log: the filters select exactly what they say ---- */
    {
        const char *a[] = {"log", "--json", "--actor", "fbi.asmith", "--event", "denied", NULL};

        assert_int_equal(audit(f, "USA", a), 0);
        assert_int_equal(log_lines("id", q3), 1);
        assert_int_equal(audit(f, "USA", a), 0);
        assert_int_equal(log_lines("rule", "usa-can-grand-jury"), 1);
    }
    {
        /* Every record of the officer's messages names her and the kind. */
        const char *a[] = {"log", "--json", "--actor", "fbi.asmith", NULL};

        assert_int_equal(audit(f, "USA", a), 0);
        assert_true(log_lines("actor", "fbi.asmith") >= 8);
        assert_int_equal(audit(f, "USA", a), 0);
        log_lines("kind", "watchlist.query");
    }
    {
        const char *a[] = {"log",     "--json",        "--kind",   "watchlist.*", "--event",
                           "received", "--purpose",    "BORDER SCREENING", "--since", since,
                           "--until", until,           NULL};

        /* Purpose is a substring in any case: asmith's query (her denied
         * one was refused before it was received). */
        assert_int_equal(audit(f, "USA", a), 0);
        assert_int_equal(log_lines("id", q2), 1);
    }
    {
        const char *a[] = {"log", "--json", "--actor", "fbi.jdoe", "--counterpart", "MEX/*",
                           "--event", "released", NULL};

        assert_int_equal(audit(f, "USA", a), 0);
        assert_int_equal(log_lines("id", q1), 1);
    }
    {
        /* Delivered at CAN: the partner's records name USA's officer too. */
        const char *a[] = {"log", "--json", "--actor", "fbi.jdoe", "--event", "delivered",
                           "--party", "USA/*", NULL};

        assert_int_equal(audit(f, "CAN", a), 0);
        assert_int_equal(log_lines("counterpart", "CAN/RCMP"), 1);
    }
    {
        const char *a[] = {"log", "--json", "--since", "2099-01-01", NULL};

        assert_int_equal(audit(f, "USA", a), 0);
        assert_string_equal(out, "");
    }
    {
        const char *bad_date[] = {"log", "--since", "2026-02-30", NULL};
        const char *bad_kind[] = {"log", "--kind", "watch*", NULL};
        const char *bad_actor[] = {"log", "--actor", "j doe", NULL};
        const char *no_period[] = {"report", "--since", "2026-01-01", NULL};
        const char *inverted[] = {"report", "--since", "2026-02-01", "--until", "2026-01-01",
                                  NULL};

        assert_int_equal(audit(f, "USA", bad_date), 64);
        assert_int_equal(audit(f, "USA", bad_kind), 64);
        assert_int_equal(audit(f, "USA", bad_actor), 64);
        assert_int_equal(audit(f, "USA", no_period), 64);
        assert_int_equal(audit(f, "USA", inverted), 64);
    }

    /* ---- audit report at USA, JSON ---- */
    {
        const char *a[] = {"report", "--since", since, "--until", until, "--format", "json",
                           NULL};

        assert_int_equal(audit(f, "USA", a), 0);
    }
    doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    msg = report_message(doc, "fbi.jdoe", "USA/FBI", "sent", q1);
    assert_non_null(msg);
    assert_string_equal(FIELD(msg, "kind"), "watchlist.query");
    assert_string_equal(FIELD(msg, "purpose"), purpose_jdoe);
    assert_int_equal(json_array_size(json_object_get(msg, "counterparts")), 2);
    c = counterpart(msg, "CAN/RCMP");
    assert_string_equal(FIELD(c, "decision"), "released");
    assert_string_equal(FIELD(c, "rule"), "usa-can-watchlist");
    assert_string_equal(FIELD(c, "outcome"), "forwarded");
    c = counterpart(msg, "MEX/FGR");
    assert_string_equal(FIELD(c, "decision"), "released");
    assert_string_equal(FIELD(c, "outcome"), "forwarded");
    /* Both partners' agents answered, and their answers reached the FBI. */
    assert_int_equal(json_array_size(json_object_get(msg, "answers")), 2);
    ans = json_array_get(json_object_get(msg, "answers"), 0);
    assert_string_equal(FIELD(ans, "kind"), "watchlist.answer");
    assert_string_equal(FIELD(ans, "actor"), "system:liaison-agent");
    assert_string_equal(FIELD(ans, "to"), "USA/FBI");
    assert_true(strcmp(FIELD(ans, "outcome"), "delivered") == 0 ||
                strcmp(FIELD(ans, "outcome"), "receipted") == 0);
    /* The other officer: her query and her denied one, not jdoe's. */
    assert_null(report_message(doc, "fbi.asmith", "USA/FBI", "sent", q1));
    msg = report_message(doc, "fbi.asmith", "USA/FBI", "sent", q2);
    assert_non_null(msg);
    assert_string_equal(FIELD(msg, "purpose"), purpose_asmith);
    msg = report_message(doc, "fbi.asmith", "USA/FBI", "sent", q3);
    assert_non_null(msg);
    c = counterpart(msg, "CAN/RCMP");
    assert_string_equal(FIELD(c, "decision"), "denied");
    assert_string_equal(FIELD(c, "rule"), "usa-can-grand-jury");
    assert_string_equal(FIELD(c, "outcome"), "");
    assert_int_equal(json_array_size(json_object_get(doc, "recalls")), 0);
    json_decref(doc);

    /* --actor keeps one officer's messages only. */
    {
        const char *a[] = {"report", "--since", since, "--until", until, "--format", "json",
                           "--actor", "fbi.jdoe", NULL};

        assert_int_equal(audit(f, "USA", a), 0);
        doc = json_loads(out, 0, NULL);
        assert_non_null(doc);
        assert_int_equal(json_array_size(json_object_get(doc, "actors")), 1);
        assert_non_null(report_message(doc, "fbi.jdoe", "USA/FBI", "sent", q1));
        json_decref(doc);
    }

    /* ---- at CAN: the incoming queries with the officer who asked ---- */
    {
        const char *a[] = {"report", "--since", since, "--until", until, "--format", "json",
                           NULL};

        assert_int_equal(audit(f, "CAN", a), 0);
    }
    doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    msg = report_message(doc, "fbi.jdoe", "USA/FBI", "received", q1);
    if (msg == NULL)
        fail_msg("CAN's report lacks jdoe's query %s:\n%s", q1, out);
    assert_string_equal(FIELD(msg, "purpose"), purpose_jdoe);
    c = counterpart(msg, "CAN/RCMP");
    assert_string_equal(FIELD(c, "decision"), "released");
    assert_string_equal(FIELD(c, "outcome"), "receipted");
    assert_non_null(report_message(doc, "fbi.asmith", "USA/FBI", "received", q2));
    /* The denied query never reached CAN. */
    assert_null(report_message(doc, "fbi.asmith", "USA/FBI", "received", q3));
    json_decref(doc);

    /* ---- text and CSV ---- */
    {
        const char *a[] = {"report", "--since", since, "--until", until, NULL};

        assert_int_equal(audit(f, "USA", a), 0);
        assert_non_null(strstr(out, "fbi.jdoe (USA/FBI): 1 sent or consulted"));
        assert_non_null(strstr(out, "fbi.asmith (USA/FBI): 2 sent or consulted"));
        assert_non_null(strstr(out, purpose_jdoe));
        assert_non_null(strstr(out, "denied by usa-can-grand-jury"));
    }
    {
        const char *a[] = {"report", "--since", since, "--until", until, "--format", "csv",
                           NULL};
        static csv_row row;
        csv_reader r;
        char why[256];
        size_t rows = 0, denied = 0, answers = 0;

        assert_int_equal(audit(f, "USA", a), 0);
        csv_reader_init(&r, out, strlen(out));
        assert_int_equal(csv_row_read(&r, &row, why, sizeof(why)), CSV_OK);
        assert_int_equal(row.count, 13);
        assert_string_equal(row.fields[0], "record");
        assert_string_equal(row.fields[2], "actor");
        for (csv_err e; (e = csv_row_read(&r, &row, why, sizeof(why))) != CSV_END;) {
            if (e != CSV_OK)
                fail_msg("the report's CSV does not parse: %s", why);
            assert_int_equal(row.count, 13);
            rows++;
            if (strcmp(row.fields[9], "denied") == 0) {
                assert_string_equal(row.fields[2], "fbi.asmith");
                assert_string_equal(row.fields[5], q3);
                denied++;
            }
            if (strcmp(row.fields[0], "answer") == 0) {
                assert_true(strcmp(row.fields[6], q1) == 0 || strcmp(row.fields[6], q2) == 0);
                answers++;
            }
        }
        /* Two rows for each of the two queries, one for the denied one, and
         * an answer from each partner to each query. */
        assert_int_equal(denied, 1);
        assert_int_equal(answers, 4);
        assert_true(rows >= 5 + 4);
    }
    fed_destroy(&f);
    current = NULL;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_audit_report_names_officers_purposes_and_outcomes,
                                  teardown),
    };

    if (getenv("LIAISON_BROKER_BIN") == NULL || getenv("LIAISON_TOOL_BIN") == NULL) {
        fprintf(stderr, "LIAISON_BROKER_BIN and LIAISON_TOOL_BIN must be set (ctest sets them)\n");
        return 77;
    }
    if (proto_init() != PROTO_OK)
        return 1;
    test_quiet_logs();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
