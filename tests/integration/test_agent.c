/* Integration tests of liaison agent: real brokers, real agent processes, libliaison on the querying side. */
#define _GNU_SOURCE
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u

static const char *const three[] = {"USA", "CAN", "MEX"};
static const char *const usa_mex[] = {"USA", "MEX"};

/* The federation of the running test, so that a failed test still stops
 * its brokers and agents (in teardown). */
static fed *current;

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

/* Writes text to a file in the federation's directory; returns its path (static). */
static const char *
write_file(fed *f, const char *name, const char *text)
{
    static char path[2][1200];
    static int which;
    char *p = path[which++ % 2];
    FILE *fp;

    snprintf(p, sizeof(path[0]), "%s/%s", f->dir, name);
    fp = fopen(p, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    return p;
}

/* Runs `liaison agent <args>` for addr's agent; returns the exit status, stdout in out. */
static int
agent_tool(fed *f, const char *addr, const char *const *args, char *out, size_t out_len)
{
    const char *argv[32];
    size_t n = 0;

    argv[n++] = "agent";
    argv[n++] = args[0];
    argv[n++] = "--config";
    argv[n++] = fed_agent_config(f, addr, NULL)->config;
    for (size_t i = 1; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return fed_run_tool(argv, out, out_len);
}

/* A message with portion 0 the JSON text body. */
static liaison_message *
compose(const char *kind, const char *const *to, const char *labels, const char *case_id,
        const char *body)
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    for (size_t i = 0; to[i] != NULL; i++)
        assert_int_equal(liaison_message_add_recipient(m, to[i]), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    if (case_id != NULL)
        assert_int_equal(liaison_message_set_case(m, case_id), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, labels, body, strlen(body), NULL), LIAISON_OK);
    return m;
}

static void
send_message(liaison_client *c, liaison_message *m, uint8_t id_out[16])
{
    if (liaison_send(c, m, id_out, in_ms(10 * SECOND)) != LIAISON_OK)
        fail_msg("send: %s", liaison_client_error(c));
}

/* Portion 0 of an event as JSON (the caller's). */
static json_t *
body_of(const liaison_event *e)
{
    json_t *o;

    assert_true(e->portion_count >= 1);
    assert_true(e->portions[0].readable);
    o = json_loadb((const char *)e->portions[0].data, e->portions[0].len, 0, NULL);
    assert_non_null(o);
    return o;
}

static const char *
str(const json_t *o, const char *member)
{
    const char *s = json_string_value(json_object_get(o, member));

    return s != NULL ? s : "";
}

/* The answer from sender among answers, or fail. */
static liaison_event *
answer_from(liaison_answers *a, const char *sender)
{
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->answers[i]->sender, sender) == 0)
            return a->answers[i];
    }
    fail_msg("no answer from %s (%zu answers, %zu nations silent)", sender, a->count,
             a->silent_count);
    return NULL;
}

/* Receives the next message (reports are receipted and skipped); NULL at the deadline. */
static liaison_event *
next_message(liaison_client *c, unsigned ms)
{
    uint64_t deadline = in_ms(ms);

    for (;;) {
        liaison_event *e = NULL;

        if (liaison_receive(c, &e, deadline) != LIAISON_OK)
            return NULL;
        if (e->type == LIAISON_EVENT_MESSAGE) {
            assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
            return e;
        }
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
    }
}

/* freeze.ack bodies received but not asked for yet (acks arrive in any order). */
static json_t *acks_seen;

/* Takes the ack of sender, status and version from acks_seen, or NULL. */
static json_t *
take_ack(const char *sender, const char *status, long version)
{
    size_t i;
    json_t *b;

    json_array_foreach(acks_seen, i, b) {
        if (strcmp(str(b, "from"), sender) == 0 && strcmp(str(b, "status"), status) == 0 &&
            json_integer_value(json_object_get(b, "version")) == version) {
            json_incref(b);
            json_array_remove(acks_seen, i);
            return b;
        }
    }
    return NULL;
}

/* Waits for a freeze.ack from sender with status; returns its body (the caller's). */
static json_t *
wait_ack(liaison_client *c, const char *sender, const char *status, long version, unsigned ms)
{
    uint64_t deadline = in_ms(ms);
    json_t *found;

    if (acks_seen == NULL)
        acks_seen = json_array();
    while ((found = take_ack(sender, status, version)) == NULL && liaison_now_ms() < deadline) {
        liaison_event *e = next_message(c, (unsigned)(deadline - liaison_now_ms()) + 1);
        json_t *b;

        if (e == NULL)
            break;
        b = body_of(e);
        if (strcmp(e->kind, "freeze.ack") == 0) {
            assert_true(e->has_reply_to);
            assert_string_equal(e->case_id, "TREAS-2026-0007");
            json_object_set_new(b, "from", json_string(e->sender));
            json_array_append(acks_seen, b);
        }
        json_decref(b);
        liaison_event_free(&e);
    }
    if (found == NULL)
        fail_msg("no freeze.ack %s v%ld from %s", status, version, sender);
    return found;
}

/* ---- Watchlist: hit, no-hit, details (user story 1) ------------------------------------ */

static const char rcmp_entries[] =
    "{\"schema\": \"watchlist.publish/1\", \"entries\": ["
    " {\"ref\": \"RCMP-WL-2026-0007\", \"type\": \"person\", \"names\": [\"Jonathan DOE\"],"
    "  \"born\": \"1980-02-29\", \"nationality\": \"CAN\","
    "  \"documents\": [{\"type\": \"passport\", \"number\": \"X1234567\", \"country\": \"USA\"}],"
    "  \"reason\": \"armed robbery, Toronto 2025\","
    "  \"details\": \"associates: R. ROE; vehicle ON-ABCD-123\", \"details_labels\": \"LES//REL TO CAN,USA\"},"
    " {\"ref\": \"RCMP-WL-2026-0011\", \"names\": [\"Дмитрий Иванов\"], \"born\": \"1975-05-01\"}]}";

static const char *
query_body(const char *name, const char *born)
{
    static char buf[512];

    snprintf(buf, sizeof(buf),
             "{\"schema\": \"watchlist.query/1\", \"subject\": {\"type\": \"person\", "
             "\"name\": \"%s\"%s%s%s}}",
             name, born ? ", \"born\": \"" : "", born ? born : "", born ? "\"" : "");
    return buf;
}

/* Queries CAN/RCMP and MEX/FGR (scatter-gather, 15 s); the caller frees. */
static liaison_answers *
query(liaison_client *fbi, const char *name, const char *born, uint8_t id_out[16])
{
    static const char *const to[] = {"CAN/RCMP", "MEX/FGR", NULL};
    liaison_message *m = compose("watchlist.query", to, "LES//PURPOSE:fugitive search", NULL,
                                 query_body(name, born));
    liaison_answers *a = NULL;

    if (liaison_query(fbi, m, in_ms(15 * SECOND), &a) != LIAISON_OK)
        fail_msg("query: %s", liaison_client_error(fbi));
    if (id_out != NULL)
        assert_int_equal(liaison_message_seal(fbi, m, id_out), LIAISON_OK);
    liaison_message_destroy(&m);
    assert_int_equal(a->silent_count, 0);
    return a;
}

static void
test_agent_watchlist_hit_no_hit_details(void **state)
{
    fed *f = current = fed_new(three, 3, NULL);
    liaison_client *fbi;
    liaison_answers *a;
    liaison_event *e;
    json_t *b, *hit;
    uint8_t qid[16], rid[16];
    char out[8192];
    const char *args[8];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    fed_agent_start(f, "CAN/RCMP");
    fed_agent_start(f, "MEX/FGR");
    /* Entries added while the agent runs are answered from at once. */
    args[0] = "add-watchlist";
    args[1] = "--file";
    args[2] = write_file(f, "rcmp.json", rcmp_entries);
    args[3] = NULL;
    assert_int_equal(agent_tool(f, "CAN/RCMP", args, out, sizeof(out)), 0);
    fbi = fed_client(f, "USA/FBI", true);

    /* A slightly different spelling, and the same date of birth: a hit from CAN,
     * no-hit from MEX, both before the deadline. */
    a = query(fbi, "Jon DOE", "1980-02-29", qid);
    assert_int_equal(a->count, 2);
    e = answer_from(a, "CAN/RCMP");
    assert_string_equal(e->kind, "watchlist.answer");
    assert_memory_equal(e->in_reply_to, qid, 16);
    assert_non_null(strstr(e->labels, "REL TO CAN,USA"));
    b = body_of(e);
    assert_string_equal(str(b, "schema"), "watchlist.answer/1");
    assert_string_equal(str(b, "result"), "hit");
    assert_int_equal(json_array_size(json_object_get(b, "hits")), 1);
    hit = json_array_get(json_object_get(b, "hits"), 0);
    assert_string_equal(str(hit, "ref"), "RCMP-WL-2026-0007");
    assert_string_equal(str(hit, "name"), "Jonathan DOE");
    assert_true(json_real_value(json_object_get(hit, "score")) >= 0.88);
    assert_true(json_real_value(json_object_get(hit, "score")) < 1.0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(hit, "matched"), 1)), "born");
    /* The record itself never travels in an answer. */
    assert_null(json_object_get(hit, "reason"));
    json_decref(b);
    e = answer_from(a, "MEX/FGR");
    b = body_of(e);
    assert_string_equal(str(b, "result"), "no-hit");
    assert_int_equal(json_array_size(json_object_get(b, "hits")), 0);
    json_decref(b);
    liaison_answers_free(&a);

    /* Cyrillic entry, Latin query. */
    a = query(fbi, "Dmitri Ivanov", NULL, NULL);
    b = body_of(answer_from(a, "CAN/RCMP"));
    assert_string_equal(str(b, "result"), "hit");
    assert_string_equal(str(json_array_get(json_object_get(b, "hits"), 0), "ref"), "RCMP-WL-2026-0011");
    json_decref(b);
    liaison_answers_free(&a);

    /* Near misses: another name, or the same name with another date of birth. */
    a = query(fbi, "Jane Doe", NULL, NULL);
    b = body_of(answer_from(a, "CAN/RCMP"));
    assert_string_equal(str(b, "result"), "no-hit");
    json_decref(b);
    liaison_answers_free(&a);
    a = query(fbi, "Jonathan Doe", "1981-03-01", NULL);
    b = body_of(answer_from(a, "CAN/RCMP"));
    assert_string_equal(str(b, "result"), "no-hit");
    json_decref(b);
    liaison_answers_free(&a);

    /* The follow-up: details, with the details in a portion of their own. */
    {
        static const char *const to[] = {"CAN/RCMP", NULL};
        liaison_message *m = compose("watchlist.request", to, "LES//PURPOSE:fugitive search", NULL,
                                     "{\"schema\": \"watchlist.request/1\", \"ref\": \"RCMP-WL-2026-0007\"}");

        send_message(fbi, m, rid);
        liaison_message_destroy(&m);
        e = next_message(fbi, 10 * SECOND);
        assert_non_null(e);
        assert_string_equal(e->kind, "watchlist.details");
        assert_memory_equal(e->in_reply_to, rid, 16);
        b = body_of(e);
        assert_string_equal(str(b, "result"), "found");
        assert_string_equal(str(json_object_get(b, "entry"), "reason"), "armed robbery, Toronto 2025");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "entry"), "details_portion")), 1);
        assert_int_equal(e->portion_count, 2);
        assert_true(e->portions[1].readable);
        assert_memory_equal(e->portions[1].data, "associates: R. ROE", 18);
        json_decref(b);
        liaison_event_free(&e);

        m = compose("watchlist.request", to, "LES//PURPOSE:fugitive search", NULL,
                    "{\"schema\": \"watchlist.request/1\", \"ref\": \"RCMP-WL-1999-0001\"}");
        send_message(fbi, m, rid);
        liaison_message_destroy(&m);
        e = next_message(fbi, 10 * SECOND);
        assert_non_null(e);
        b = body_of(e);
        assert_string_equal(str(b, "result"), "unknown");
        json_decref(b);
        liaison_event_free(&e);
    }

    /* What a partner publishes is kept for local lookups, never answered from
     * (the third-party rule). */
    {
        static const char *const to[] = {"CAN/RCMP", NULL};
        liaison_message *m = compose(
            "watchlist.publish", to, "LES//REL TO CAN,USA", NULL,
            "{\"schema\": \"watchlist.publish/1\", \"entries\": [{\"ref\": \"FBI-WL-2026-0042\","
            " \"names\": [\"Walter WHITE\"], \"born\": \"1958-09-07\", \"reason\": \"wanted\"}]}");

        send_message(fbi, m, NULL);
        liaison_message_destroy(&m);
    }
    for (int i = 0; i < 100 && fed_agent_log_count(f, "CAN/RCMP", "id=A-PUBLISHED") == 0; i++)
        usleep(50000);
    args[0] = "lookup";
    args[1] = "--name";
    args[2] = "Walter White";
    args[3] = "--json";
    args[4] = NULL;
    assert_int_equal(agent_tool(f, "CAN/RCMP", args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"source\": \"USA/FBI\""));
    assert_non_null(strstr(out, "FBI-WL-2026-0042"));
    a = query(fbi, "Walter White", NULL, NULL);
    b = body_of(answer_from(a, "CAN/RCMP"));
    assert_string_equal(str(b, "result"), "no-hit");
    json_decref(b);
    liaison_answers_free(&a);

    liaison_client_close(&fbi);
    assert_int_equal(fed_agent_stop(f, "CAN/RCMP"), 0);
    assert_int_equal(fed_agent_stop(f, "MEX/FGR"), 0);
    fed_destroy(&f);
    current = NULL;
}

/* ---- Travel documents (user story 4) ----------------------------------------------------- */

static liaison_answers *
check(liaison_client *cbp, const char *number)
{
    static const char *const to[] = {"CAN/CBSA", "MEX/FGR", NULL};
    char body[256];
    liaison_message *m;
    liaison_answers *a = NULL;

    snprintf(body, sizeof(body),
             "{\"schema\": \"traveldoc.check/1\", \"document\": {\"type\": \"passport\", "
             "\"number\": \"%s\", \"country\": \"CAN\"}}",
             number);
    m = compose("traveldoc.check", to, "LES//PURPOSE:border check", NULL, body);
    if (liaison_query(cbp, m, in_ms(15 * SECOND), &a) != LIAISON_OK)
        fail_msg("check: %s", liaison_client_error(cbp));
    liaison_message_destroy(&m);
    assert_int_equal(a->silent_count, 0);
    assert_int_equal(a->count, 2);
    return a;
}

static void
test_agent_traveldoc_report_and_check(void **state)
{
    fed *f = current = fed_new(three, 3, NULL);
    liaison_client *cbp, *cbsa;
    liaison_answers *a;
    json_t *b, *hit;
    char out[8192];
    const char *args[16];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    /* The border unit records its report before its agent first runs. */
    {
        const char *rec[] = {"add-traveldoc", "--number", "AB123456", "--type", "passport",
                             "--country", "CAN", "--status", "stolen", "--ref",
                             "CBSA-TD-2026-0007", "--reported", "2026-11-20", NULL};

        assert_int_equal(agent_tool(f, "CAN/CBSA", rec, out, sizeof(out)), 0);
    }
    fed_agent_start(f, "CAN/CBSA");
    fed_agent_start(f, "MEX/FGR");
    /* It shares the report with MEX, whose agent keeps it for local lookups. */
    cbsa = fed_client(f, "CAN/CBSA", false);
    {
        static const char *const to[] = {"MEX/FGR", NULL};
        liaison_message *m = compose(
            "traveldoc.report", to, "LES//REL TO CAN,MEX", NULL,
            "{\"schema\": \"traveldoc.report/1\", \"ref\": \"CBSA-TD-2026-0007\", \"document\": "
            "{\"type\": \"passport\", \"number\": \"AB123456\", \"country\": \"CAN\"}, "
            "\"status\": \"stolen\", \"reported\": \"2026-11-20\"}");

        send_message(cbsa, m, NULL);
        liaison_message_destroy(&m);
    }
    liaison_client_close(&cbsa);

    /* Days later, a USA border officer checks the number as written on the document. */
    cbp = fed_client(f, "USA/CBP", true);
    a = check(cbp, "ab 123-456");
    b = body_of(answer_from(a, "CAN/CBSA"));
    assert_string_equal(str(b, "schema"), "traveldoc.answer/1");
    assert_string_equal(str(b, "result"), "hit");
    hit = json_array_get(json_object_get(b, "hits"), 0);
    assert_string_equal(str(hit, "ref"), "CBSA-TD-2026-0007");
    assert_string_equal(str(hit, "status"), "stolen");
    assert_string_equal(str(hit, "reported"), "2026-11-20");
    json_decref(b);
    /* MEX holds CAN's report but answers only from its own records. */
    b = body_of(answer_from(a, "MEX/FGR"));
    assert_string_equal(str(b, "result"), "no-hit");
    json_decref(b);
    liaison_answers_free(&a);

    /* A number never reported: no-hit from every partner. */
    a = check(cbp, "ZZ9999999");
    for (size_t i = 0; i < a->count; i++) {
        b = body_of(a->answers[i]);
        assert_string_equal(str(b, "result"), "no-hit");
        json_decref(b);
    }
    liaison_answers_free(&a);
    liaison_client_close(&cbp);

    args[0] = "lookup";
    args[1] = "--document";
    args[2] = "AB-123456";
    args[3] = "--json";
    args[4] = NULL;
    for (int i = 0; i < 100 && fed_agent_log_count(f, "MEX/FGR", "id=A-DOC-REPORTED") == 0; i++)
        usleep(50000);
    assert_int_equal(agent_tool(f, "MEX/FGR", args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"source\": \"CAN/CBSA\""));
    assert_int_equal(fed_agent_stop(f, "CAN/CBSA"), 0);
    assert_int_equal(fed_agent_stop(f, "MEX/FGR"), 0);
    fed_destroy(&f);
    current = NULL;
}

/* ---- Designations (user story 2) ------------------------------------------------------------ */

static void
designate(liaison_client *treasury, long version, const char *action, uint8_t id_out[16])
{
    static const char *const to[] = {"*", NULL};
    char body[1024];
    liaison_message *m;

    snprintf(body, sizeof(body),
             "{\"schema\": \"freeze.designation/1\", \"designation\": \"TREAS-2026-0007\", "
             "\"version\": %ld, \"action\": \"%s\", \"effective\": \"2026-11-25\", "
             "\"entity\": {\"name\": \"Northwind Trading LLC\", \"aliases\": [\"Northwind Trade\"], "
             "\"identifiers\": [{\"type\": \"registration\", \"value\": \"DE-12345\"}]}, "
             "\"legal_basis\": \"EO 13224\", \"note\": \"\"}",
             version, action);
    m = compose("freeze.designation", to, "LES//REL TO USA,CAN,MEX", "TREAS-2026-0007", body);
    send_message(treasury, m, id_out);
    liaison_message_destroy(&m);
}

static void
test_agent_freeze_acknowledgements(void **state)
{
    fed *f = current = fed_new(three, 3, NULL);
    liaison_client *treasury;
    json_t *b;
    uint8_t id[16];
    char out[16384];
    const char *args[8];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    fed_agent_start(f, "CAN/FINTRAC");
    fed_agent_start(f, "MEX/UIF");
    treasury = fed_client(f, "USA/TREASURY", true);

    /* Every partner unit that accepts freeze.* receives it; each agent says received. */
    designate(treasury, 1, "add", id);
    b = wait_ack(treasury, "CAN/FINTRAC", "received", 1, 15 * SECOND);
    assert_string_equal(str(b, "designation"), "TREAS-2026-0007");
    json_decref(b);
    json_decref(wait_ack(treasury, "MEX/UIF", "received", 1, 15 * SECOND));

    /* FINTRAC's operator applies it while the agent runs: implemented within seconds. */
    args[0] = "implement";
    args[1] = "TREAS-2026-0007";
    args[2] = "--note";
    args[3] = "accounts blocked at 3 banks";
    args[4] = "--wait";
    args[5] = "10";
    args[6] = NULL;
    assert_int_equal(agent_tool(f, "CAN/FINTRAC", args, out, sizeof(out)), 0);
    b = wait_ack(treasury, "CAN/FINTRAC", "implemented", 1, 10 * SECOND);
    assert_string_equal(str(b, "note"), "accounts blocked at 3 banks");
    json_decref(b);

    /* UIF's agent is down when its operator applies it: the acknowledgement
     * goes out when the agent starts again. */
    assert_int_equal(fed_agent_stop(f, "MEX/UIF"), 0);
    args[2] = NULL;
    assert_int_equal(agent_tool(f, "MEX/UIF", args, out, sizeof(out)), 0);
    fed_agent_start(f, "MEX/UIF");
    json_decref(wait_ack(treasury, "MEX/UIF", "implemented", 1, 15 * SECOND));

    /* An amendment and a delisting flow the same way. */
    designate(treasury, 2, "amend", NULL);
    json_decref(wait_ack(treasury, "CAN/FINTRAC", "received", 2, 15 * SECOND));
    json_decref(wait_ack(treasury, "MEX/UIF", "received", 2, 15 * SECOND));
    designate(treasury, 3, "delist", NULL);
    json_decref(wait_ack(treasury, "CAN/FINTRAC", "received", 3, 15 * SECOND));
    json_decref(wait_ack(treasury, "MEX/UIF", "received", 3, 15 * SECOND));
    args[2] = "--version";
    args[3] = "3";
    args[4] = NULL;
    assert_int_equal(agent_tool(f, "CAN/FINTRAC", args, out, sizeof(out)), 0);
    json_decref(wait_ack(treasury, "CAN/FINTRAC", "implemented", 3, 10 * SECOND));

    /* The store says which versions were received and implemented. */
    args[0] = "list";
    args[1] = "--json";
    args[2] = NULL;
    assert_int_equal(agent_tool(f, "CAN/FINTRAC", args, out, sizeof(out)), 0);
    {
        json_t *o = json_loads(out, 0, NULL), *d;
        size_t i, implemented = 0;

        assert_non_null(o);
        assert_int_equal(json_array_size(json_object_get(o, "designations")), 3);
        json_array_foreach(json_object_get(o, "designations"), i, d)
            implemented += strcmp(str(d, "ack"), "implemented") == 0;
        assert_int_equal(implemented, 2);
        json_decref(o);
    }
    /* Implementing a designation never received is refused. */
    args[0] = "implement";
    args[1] = "TREAS-1999-0001";
    args[2] = NULL;
    assert_int_equal(agent_tool(f, "CAN/FINTRAC", args, out, sizeof(out)), 65);

    /* A version that breaks the bounds of docs/messages.md is kept with the
     * member and the reason, and acknowledged by nobody. */
    {
        static const char *const to[] = {"*", NULL};
        liaison_message *m = compose(
            "freeze.designation", to, "LES//REL TO USA,CAN,MEX", "TREAS-2026-0666",
            "{\"schema\": \"freeze.designation/1\", \"designation\": \"TREAS-2026-0666\", "
            "\"version\": 1, \"action\": \"add\", \"entity\": {\"name\": \"Caspian\", "
            "\"type\": \"ship\"}}");

        send_message(treasury, m, NULL);
        liaison_message_destroy(&m);
        for (int i = 0; i < 200 && fed_agent_log_count(f, "CAN/FINTRAC", "entity.type") == 0; i++)
            usleep(50000);
        assert_int_equal(fed_agent_log_count(f, "CAN/FINTRAC", "entity.type"), 1);
        args[0] = "list";
        args[1] = "--json";
        args[2] = NULL;
        assert_int_equal(agent_tool(f, "CAN/FINTRAC", args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "freeze.designation refused: entity.type: not individual, "
                                    "entity, vessel or aircraft"));
    }

    /* Nothing was acknowledged twice, nor the refused version. */
    assert_int_equal(json_array_size(acks_seen), 0);
    assert_null(next_message(treasury, SECOND));
    json_decref(acks_seen);
    acks_seen = NULL;
    liaison_client_close(&treasury);
    assert_int_equal(fed_agent_stop(f, "CAN/FINTRAC"), 0);
    assert_int_equal(fed_agent_stop(f, "MEX/UIF"), 0);
    fed_destroy(&f);
    current = NULL;
}

/* ---- MLAT (user story 3) ------------------------------------------------------------------------ */

static void
test_agent_mlat_received(void **state)
{
    static const char *const to[] = {"USA/DOJ", NULL};
    fed *f = current = fed_new(usa_mex, 2, NULL);
    liaison_client *fgr;
    liaison_message *m;
    liaison_event *e;
    json_t *b;
    uint8_t id[16];
    char out[8192];
    const char *args[] = {"list", "--json", NULL};

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "MEX");
    fed_agent_start(f, "USA/DOJ");
    fgr = fed_client(f, "MEX/FGR", true);
    m = compose("mlat.request", to,
                "LES//REL TO MEX,USA//BASIS:USA-MEX-MLAT-1987//OFFENCE:DRUG-TRAFFICKING",
                "MEX-FGR-2026-0099",
                "{\"schema\": \"mlat.request/1\", \"case\": \"MEX-FGR-2026-0099\", \"treaty\": "
                "\"USA-MEX-MLAT-1987\", \"offences\": [\"DRUG-TRAFFICKING\"], \"requesting\": "
                "\"MEX/FGR\", \"requested\": \"USA/DOJ\", \"summary\": \"...\", \"assistance\": "
                "[\"bank records of account 1234\"], \"submitted\": \"2026-11-25T19:20:00Z\"}");
    send_message(fgr, m, id);
    liaison_message_destroy(&m);
    e = next_message(fgr, 15 * SECOND);
    assert_non_null(e);
    assert_string_equal(e->kind, "mlat.status");
    assert_string_equal(e->sender, "USA/DOJ");
    assert_string_equal(e->case_id, "MEX-FGR-2026-0099");
    assert_memory_equal(e->in_reply_to, id, 16);
    assert_non_null(strstr(e->labels, "BASIS:USA-MEX-MLAT-1987"));
    b = body_of(e);
    assert_string_equal(str(b, "schema"), "mlat.status/1");
    assert_string_equal(str(b, "case"), "MEX-FGR-2026-0099");
    assert_string_equal(str(b, "status"), "received");
    json_decref(b);
    liaison_event_free(&e);
    liaison_client_close(&fgr);
    /* The request is kept, as received, for the operator. */
    assert_int_equal(agent_tool(f, "USA/DOJ", args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "MEX-FGR-2026-0099"));
    /* A second agent on the same store is refused while the first runs. */
    {
        const char *run[] = {"agent", "--config", fed_agent_config(f, "USA/DOJ", NULL)->config, NULL};

        assert_int_equal(fed_run_tool(run, out, sizeof(out)), 75);
    }
    assert_int_equal(fed_agent_stop(f, "USA/DOJ"), 0);
    fed_destroy(&f);
    current = NULL;
}

/* ---- Restarts ------------------------------------------------------------------------------------ */

#define BURST 12

static void
test_agent_restart_loses_nothing_answers_once(void **state)
{
    static const char *const to[] = {"CAN/RCMP", NULL};
    fed *f = current = fed_new(three, 2, NULL);
    liaison_client *fbi;
    uint8_t ids[BURST + 2][16];
    unsigned answers[BURST + 2] = {0};
    uint8_t answer_ids[BURST + 2][16];
    size_t total = 0, distinct = 0;
    char out[8192];
    const char *args[] = {"add-watchlist", "--file", NULL, NULL};

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    args[2] = write_file(f, "rcmp.json", rcmp_entries);
    assert_int_equal(agent_tool(f, "CAN/RCMP", args, out, sizeof(out)), 0);
    fbi = fed_client(f, "USA/FBI", true);
    /* Queries sent while the agent is down wait for it. */
    for (size_t i = 0; i < 2; i++) {
        liaison_message *m = compose("watchlist.query", to, "LES//PURPOSE:fugitive search", NULL,
                                     query_body("Jon Doe", NULL));

        send_message(fbi, m, ids[BURST + i]);
        liaison_message_destroy(&m);
    }
    fed_agent_start(f, "CAN/RCMP");
    /* A burst, and the agent killed while it answers. */
    for (size_t i = 0; i < BURST; i++) {
        liaison_message *m = compose("watchlist.query", to, "LES//PURPOSE:fugitive search", NULL,
                                     query_body(i % 2 ? "Jon Doe" : "Nobody Known", NULL));

        send_message(fbi, m, ids[i]);
        liaison_message_destroy(&m);
    }
    for (int i = 0; i < 200 && fed_agent_log_count(f, "CAN/RCMP", "id=A-SENT") < 4; i++)
        usleep(10000);
    fed_agent_kill(f, "CAN/RCMP");
    fed_agent_start(f, "CAN/RCMP");
    /* Every query is answered, once: any answer delivered twice would carry
     * another message id and reach the application. */
    {
        uint64_t deadline = in_ms(20 * SECOND), quiet = 0;

        while (liaison_now_ms() < deadline) {
            liaison_event *e = next_message(fbi, 500);

            if (e == NULL) {
                if (distinct == BURST + 2 && quiet++ >= 3)
                    break;
                continue;
            }
            for (size_t i = 0; i < BURST + 2; i++) {
                if (e->has_reply_to && memcmp(e->in_reply_to, ids[i], 16) == 0) {
                    if (answers[i]++ == 0)
                        distinct++;
                    else
                        fail_msg("query %zu answered twice (answer %s)", i, e->id_hex);
                    memcpy(answer_ids[i], e->id, 16);
                }
            }
            total++;
            liaison_event_free(&e);
        }
    }
    assert_int_equal(distinct, BURST + 2);
    assert_int_equal(total, BURST + 2);
    /* A clean restart: the entries are still there, and nothing is answered again. */
    assert_int_equal(fed_agent_stop(f, "CAN/RCMP"), 0);
    fed_agent_start(f, "CAN/RCMP");
    assert_null(next_message(fbi, 2 * SECOND));
    {
        liaison_answers *a = NULL;
        liaison_message *m = compose("watchlist.query", to, "LES//PURPOSE:fugitive search", NULL,
                                     query_body("Jon Doe", "1980-02-29"));
        json_t *b;

        assert_int_equal(liaison_query(fbi, m, in_ms(10 * SECOND), &a), LIAISON_OK);
        assert_int_equal(a->count, 1);
        b = body_of(a->answers[0]);
        assert_string_equal(str(b, "result"), "hit");
        json_decref(b);
        liaison_answers_free(&a);
        liaison_message_destroy(&m);
    }
    liaison_client_close(&fbi);
    assert_int_equal(fed_agent_stop(f, "CAN/RCMP"), 0);
    fed_destroy(&f);
    current = NULL;
}

/* ---- Unknown and malformed messages ------------------------------------------------------------------ */

static void
test_agent_unknown_kinds_kept_never_crash(void **state)
{
    static const char *const to[] = {"CAN/RCMP", NULL};
    static const char *const bodies[][2] = {
        {"watchlist.query", "not json"},
        {"watchlist.query", "{\"schema\": \"watchlist.query/9\", \"subject\": {}}"},
        {"watchlist.query", "{\"schema\": \"watchlist.query/1\"}"},
        {"watchlist.request", "{\"schema\": \"watchlist.request/1\", \"ref\": 42}"},
        {"watchlist.answer", "{\"schema\": \"watchlist.answer/1\", \"result\": \"hit\"}"},
        {"consent.request", "[1, 2, 3]"},
    };
    fed *f = current = fed_new(three, 2, NULL);
    liaison_client *fbi;
    char out[16384];
    const char *args[] = {"list", "--json", NULL};
    size_t count = sizeof(bodies) / sizeof(bodies[0]);

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_agent_start(f, "CAN/RCMP");
    fbi = fed_client(f, "USA/FBI", true);
    for (size_t i = 0; i < count; i++) {
        liaison_message *m = compose(bodies[i][0], to, "LES//REL TO CAN,USA//PURPOSE:test", NULL,
                                     bodies[i][1]);

        send_message(fbi, m, NULL);
        liaison_message_destroy(&m);
    }
    for (int i = 0; i < 200 && fed_agent_log_count(f, "CAN/RCMP", "id=A-KEPT") < count; i++)
        usleep(50000);
    assert_int_equal(fed_agent_log_count(f, "CAN/RCMP", "id=A-KEPT"), count);
    /* None of them was answered, and the agent still answers. */
    assert_null(next_message(fbi, SECOND));
    assert_int_equal(agent_tool(f, "CAN/RCMP", args, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "consent.request"));
    assert_non_null(strstr(out, "unknown schema"));
    {
        liaison_answers *a = NULL;
        liaison_message *m = compose("watchlist.query", to, "LES//PURPOSE:test", NULL,
                                     query_body("Nobody", NULL));

        assert_int_equal(liaison_query(fbi, m, in_ms(10 * SECOND), &a), LIAISON_OK);
        assert_int_equal(a->count, 1);
        liaison_answers_free(&a);
        liaison_message_destroy(&m);
    }
    liaison_client_close(&fbi);
    assert_int_equal(fed_agent_stop(f, "CAN/RCMP"), 0);
    fed_destroy(&f);
    current = NULL;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_agent_watchlist_hit_no_hit_details, teardown),
        cmocka_unit_test_teardown(test_agent_traveldoc_report_and_check, teardown),
        cmocka_unit_test_teardown(test_agent_freeze_acknowledgements, teardown),
        cmocka_unit_test_teardown(test_agent_mlat_received, teardown),
        cmocka_unit_test_teardown(test_agent_restart_loses_nothing_answers_once, teardown),
        cmocka_unit_test_teardown(test_agent_unknown_kinds_kept_never_crash, teardown),
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
