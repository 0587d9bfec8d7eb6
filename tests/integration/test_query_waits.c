/* Integration tests of a query's waits: real brokers and agents; a query returns as soon as every
 * agency addressed answered or is known not to answer, and says who did not and why. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define DEADLINE_MS (25u * SECOND) /* each query's deadline: far longer than any answer takes */

static const char *const three[] = {"USA", "CAN", "MEX"};

/* The federation of the running test, so that a failed test still stops its processes. */
static fed *current;

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&current);
    return 0;
}

/* What a wait for a log line looks for. */
typedef struct log_wait {
    const char *path;      /* the broker's log */
    const char *id;        /* the line's id, "B-PEER-UP" */
    const char *what;      /* and text it holds, "peer=CAN" */
} log_wait;

static bool
logged(void *ctx)
{
    log_wait *w = ctx;
    FILE *fp = fopen(w->path, "r");
    char line[2048], id[64];
    bool found = false;

    if (fp == NULL)
        return false;
    snprintf(id, sizeof(id), "id=%s ", w->id);
    while (!found && fgets(line, sizeof(line), fp) != NULL)
        found = strstr(line, id) != NULL && strstr(line, w->what) != NULL;
    fclose(fp);
    return found;
}

static void
wait_log(fed *f, const char *nation, const char *id, const char *what)
{
    log_wait w = {fed_nation_get(f, nation)->log, id, what};

    if (!fed_wait_until(logged, &w, 20 * SECOND))
        fail_msg("%s's broker never logged %s %s", nation, id, what);
}

/* Starts addr's agent and waits until its broker heard it ask for deliveries. */
static void
agent_up(fed *f, const char *addr)
{
    char needle[80];

    fed_agent_start(f, addr);
    snprintf(needle, sizeof(needle), "agency=%s event=connected", addr);
    wait_log(f, (char[4]){addr[0], addr[1], addr[2], 0}, "B-SESSION", needle);
}

static const char query_body[] =
    "{\"schema\": \"watchlist.query/1\", \"subject\": {\"type\": \"person\", \"name\": \"Jon Doe\"}}";

/* Sends a watchlist.query from c to the recipients (NULL-ended) with labels; returns the answers
 * and the query id, and checks that it returned before its deadline. */
static liaison_answers *
ask(liaison_client *c, const char *const *to, const char *labels, uint8_t id_out[16])
{
    liaison_message *m = NULL;
    liaison_answers *a = NULL;
    uint64_t deadline = liaison_now_ms() + DEADLINE_MS;

    assert_int_equal(liaison_message_new("watchlist.query", &m), LIAISON_OK);
    for (size_t i = 0; to[i] != NULL; i++)
        assert_int_equal(liaison_message_add_recipient(m, to[i]), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    assert_int_equal(
        liaison_message_add_portion(m, labels, query_body, strlen(query_body), NULL), LIAISON_OK);
    if (liaison_query(c, m, deadline, &a) != LIAISON_OK)
        fail_msg("query: %s", liaison_client_error(c));
    /* Not a wall-clock target: only that nobody was waited for in vain. */
    assert_true(liaison_now_ms() < deadline);
    if (id_out != NULL)
        assert_int_equal(liaison_message_seal(c, m, id_out), LIAISON_OK);
    liaison_message_destroy(&m);
    return a;
}

static bool
answered_by(const liaison_answers *a, const char *sender)
{
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->answers[i]->sender, sender) == 0)
            return true;
    }
    return false;
}

/* The entry of agency among those that did not answer, or fail. */
static const liaison_not_answered *
missing(const liaison_answers *a, const char *agency)
{
    for (size_t i = 0; i < a->not_answered_count; i++) {
        if (strcmp(a->not_answered[i].agency, agency) == 0)
            return &a->not_answered[i];
    }
    fail_msg("%s is not among the %zu agencies that did not answer", agency,
             a->not_answered_count);
    return NULL;
}

static void
test_query_waits_per_agency(void **state)
{
    static const char *const can_all[] = {"CAN/*", NULL};
    static const char *const can_mex[] = {"CAN/RCMP", "MEX/AIC", NULL};
    fed *f = current = fed_new(three, 3, NULL);
    liaison_client *fbi;
    liaison_answers *a;
    const liaison_not_answered *n;
    uint8_t first[16];
    bool late = false;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    wait_log(f, "USA", "B-PEER-UP", "peer=CAN ");
    wait_log(f, "USA", "B-PEER-UP", "peer=MEX ");
    agent_up(f, "CAN/RCMP");
    fbi = fed_client(f, "USA/FBI", true);

    /* A query to every agency of CAN reaches RCMP, whose agent answers, and CBSA, which runs
     * none: CAN's broker says so at once, and the query does not wait for CBSA. */
    a = ask(fbi, can_all, "LES", first);
    assert_true(answered_by(a, "CAN/RCMP"));
    assert_int_equal(a->count, 1);
    assert_int_equal(a->not_answered_count, 1);
    n = missing(a, "CAN/CBSA");
    assert_string_equal(n->reason, "no-agent");
    assert_string_equal(n->broker, "CAN");
    assert_int_equal(a->silent_count, 0); /* CAN answered, through RCMP */
    liaison_answers_free(&a);

    /* CBSA's agent starts late: the query was kept for it, and its answer reaches FBI. */
    agent_up(f, "CAN/CBSA");
    for (uint64_t until = liaison_now_ms() + 20 * SECOND; !late && liaison_now_ms() < until;) {
        liaison_event *e = NULL;

        if (liaison_receive(fbi, &e, until) != LIAISON_OK)
            break;
        late = e->type == LIAISON_EVENT_MESSAGE && e->has_reply_to &&
               memcmp(e->in_reply_to, first, 16) == 0 && strcmp(e->sender, "CAN/CBSA") == 0;
        assert_int_equal(liaison_receipt(fbi, e), LIAISON_OK);
        liaison_event_free(&e);
    }
    assert_true(late);

    /* Two agencies of one nation, both with agents: both answers are in the result. */
    a = ask(fbi, can_all, "LES", NULL);
    assert_int_equal(a->count, 2);
    assert_true(answered_by(a, "CAN/RCMP"));
    assert_true(answered_by(a, "CAN/CBSA"));
    assert_int_equal(a->not_answered_count, 0);
    liaison_answers_free(&a);

    /* USA's egress policy sends nothing SECRET to MEX: AIC is denied, with the rule, at once. */
    a = ask(fbi, can_mex, "SECRET//LES", NULL);
    assert_true(answered_by(a, "CAN/RCMP"));
    n = missing(a, "MEX/AIC");
    assert_string_equal(n->reason, "denied");
    assert_string_equal(n->rule_id, "usa-mex-watchlist");
    assert_string_equal(n->broker, "USA");
    assert_int_equal(a->silent_count, 1);
    assert_string_equal(a->silent[0], "MEX");
    liaison_answers_free(&a);

    /* CAN's broker stops: once USA counts the link down, CAN's agencies are unreachable, at
     * once; the query stays queued toward CAN. */
    fed_kill(f, "CAN");
    wait_log(f, "USA", "B-PEER-DOWN", "peer=CAN ");
    a = ask(fbi, can_all, "LES", NULL);
    assert_int_equal(a->count, 0);
    assert_int_equal(a->not_answered_count, 2);
    assert_string_equal(missing(a, "CAN/RCMP")->reason, "partner-down");
    assert_string_equal(missing(a, "CAN/CBSA")->reason, "partner-down");
    assert_int_equal(a->silent_count, 1);
    liaison_answers_free(&a);
    liaison_client_close(&fbi);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_query_waits_per_agency, teardown),
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
