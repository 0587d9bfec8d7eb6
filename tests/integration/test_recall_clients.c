/* Integration tests of recall and rectification in the clients: the liaison tool and real agents
 * against three real brokers (docs/messages.md, recall.*; docs/cli.md, recall). */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define OUT_MAX (1u << 18)

static const char *const three[] = {"USA", "CAN", "MEX"};
static fed *F;
static char out[OUT_MAX];
static char err[OUT_MAX];

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&F);
    return 0;
}

#define assert_rc(got, want)                                                                 \
    do {                                                                                     \
        int rc_ = (got);                                                                     \
        if (rc_ != (want))                                                                   \
            fail_msg("exit %d, wanted %d\nstdout: %s\nstderr: %s", rc_, (want), out, err);   \
    } while (0)

static int
cli(const char *agency, const char *state, const char *const *args)
{
    return fed_tool(F, agency, state, args, out, err, sizeof(out));
}

static const char *
write_file(const char *name, const char *text)
{
    static char path[4][1200];
    static int which;
    char *p = path[which++ % 4];
    FILE *fp;

    snprintf(p, sizeof(path[0]), "%s/%s", F->dir, name);
    fp = fopen(p, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    return p;
}

/* `liaison agent lookup` in addr's store: 0 hit, 1 nothing. */
static int
lookup(const char *addr, const char *how, const char *what)
{
    const char *argv[] = {"agent", "lookup", "--config", fed_agent_config(F, addr, NULL)->config,
                          how, what, "--json", NULL};

    return fed_run_tool(argv, out, sizeof(out));
}

/* Waits until addr's agent has logged needle count times. */
static void
wait_agent_log(const char *addr, const char *needle, size_t count)
{
    for (int i = 0; i < 300 && fed_agent_log_count(F, addr, needle) < count; i++)
        usleep(50000);
    if (fed_agent_log_count(F, addr, needle) < count)
        fail_msg("%s logged '%s' %zu times, wanted %zu", addr, needle,
                 fed_agent_log_count(F, addr, needle), count);
}

/* The first line of out, as an id (static). */
static const char *
last_line_id(void)
{
    static char id[33];
    const char *p = out + strlen(out);

    while (p > out && (p[-1] == '\n'))
        p--;
    while (p > out && p[-1] != '\n')
        p--;
    snprintf(id, sizeof(id), "%.32s", p);
    return id;
}

/* The id a family command printed with --json. */
static const char *
json_id(void)
{
    static char id[33];
    json_t *j = json_loads(out, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "id"));

    if (s == NULL)
        fail_msg("no id in: %s\nstderr: %s", out, err);
    snprintf(id, sizeof(id), "%s", s);
    json_decref(j);
    return id;
}

/*
 * Runs `recall status ID --json` as USA/FBI until every recipient in want
 * has an ack of result; fails after 20 s.  Returns the last status.
 */
static json_t *
wait_acks(const char *id, const char *const *want, const char *result)
{
    const char *args[] = {"recall", "status", id, "--json", "--wait", "1", NULL};

    for (int round = 0; round < 20; round++) {
        json_t *j, *rows;
        size_t ok = 0, i, k;
        json_t *r;

        assert_rc(cli("USA/FBI", "fbi", args), 0);
        j = json_loads(out, 0, NULL);
        assert_non_null(j);
        rows = json_object_get(j, "recipients");
        for (k = 0; want[k] != NULL; k++) {
            json_array_foreach(rows, i, r) {
                const char *who = json_string_value(json_object_get(r, "recipient"));
                json_t *ack = json_object_get(r, "ack");

                if (who != NULL && strcmp(who, want[k]) == 0 && json_is_object(ack) &&
                    strcmp(json_string_value(json_object_get(ack, "result")), result) == 0)
                    ok++;
            }
        }
        if (ok == k)
            return j;
        json_decref(j);
        usleep(500000);
    }
    fail_msg("recall %s: not every ack is %s: %s", id, result, out);
    return NULL;
}

static const char entries[] =
    "[{\"ref\": \"FBI-WL-1\", \"names\": [\"Walter WHITE\"], \"born\": \"1958-09-07\","
    "  \"reason\": \"wanted\"},"
    " {\"ref\": \"FBI-WL-2\", \"names\": [\"Jesse PINKMAN\"], \"born\": \"1984-09-24\","
    "  \"reason\": \"wanted\"}]";

static void
start_all(void)
{
    F = fed_new(three, 3, NULL);
    fed_start(F, "USA");
    fed_start(F, "CAN");
    fed_start(F, "MEX");
    fed_agent_start(F, "CAN/RCMP");
    fed_agent_start(F, "MEX/AIC");
}

/* Two watchlist entries to CAN and MEX; one recalled: both agents delete it and only it,
 * both acknowledge, and recall status shows it.  Then a rectification replaces the other. */
static void
test_recall_watchlist_record_and_rectify(void **state)
{
    static const char *const both[] = {"CAN/RCMP", "MEX/AIC", NULL};
    const char *publish[] = {"watchlist", "publish", "--to", "CAN/RCMP", "--to", "MEX/AIC",
                             "--file", NULL, "--json", NULL};
    char pub[33], rid[33];
    json_t *st;

    (void)state;
    start_all();
    publish[7] = write_file("entries.json", entries);
    assert_rc(cli("USA/FBI", "fbi", publish), 0);
    snprintf(pub, sizeof(pub), "%s", json_id());
    wait_agent_log("CAN/RCMP", "id=A-PUBLISHED", 1);
    wait_agent_log("MEX/AIC", "id=A-PUBLISHED", 1);
    assert_int_equal(lookup("CAN/RCMP", "--name", "Walter White"), 0);
    assert_int_equal(lookup("MEX/AIC", "--name", "Walter White"), 0);

    /* Recall one record. */
    {
        const char *args[] = {"recall", pub, "--record", "FBI-WL-1", "--reason",
                              "entered in error", NULL};

        assert_rc(cli("USA/FBI", "fbi", args), 0);
        snprintf(rid, sizeof(rid), "%s", last_line_id());
    }
    wait_agent_log("CAN/RCMP", "id=A-RECALLED", 1);
    wait_agent_log("MEX/AIC", "id=A-RECALLED", 1);
    assert_int_equal(lookup("CAN/RCMP", "--name", "Walter White"), 1);
    assert_int_equal(lookup("MEX/AIC", "--name", "Walter White"), 1);
    assert_int_equal(lookup("CAN/RCMP", "--name", "Jesse Pinkman"), 0);
    assert_int_equal(lookup("MEX/AIC", "--name", "Jesse Pinkman"), 0);
    st = wait_acks(pub, both, "deleted");
    assert_string_equal(json_string_value(json_object_get(st, "recall")), rid);
    {
        size_t i;
        json_t *r;

        json_array_foreach(json_object_get(st, "recipients"), i, r) {
            json_t *del = json_object_get(json_object_get(r, "ack"), "deleted");

            (void)del;
            assert_non_null(json_object_get(r, "original"));
        }
    }
    json_decref(st);
    /* The table form names both recipients. */
    {
        const char *args[] = {"recall", "status", pub, "--wait", "0", NULL};

        assert_rc(cli("USA/FBI", "fbi", args), 0);
        assert_non_null(strstr(out, "CAN/RCMP"));
        assert_non_null(strstr(out, "MEX/AIC"));
        assert_non_null(strstr(out, "deleted"));
    }

    /* Rectify: a corrected entry replaces the original; its date of birth changes. */
    {
        const char *fixed = write_file(
            "fixed.json",
            "{\"schema\": \"watchlist.publish/1\", \"entries\": [{\"ref\": \"FBI-WL-2\","
            " \"names\": [\"Jesse PINKMAN\"], \"born\": \"1984-10-24\", \"reason\": \"wanted\"}]}");
        const char *args[] = {"recall", pub, "--rectify", fixed, "--reason", "date of birth",
                              NULL};
        const char *by_born[] = {"agent", "lookup", "--config", NULL, "--name", "Jesse Pinkman",
                                 "--born", NULL, NULL};

        assert_rc(cli("USA/FBI", "fbi", args), 0);
        assert_non_null(strstr(out, "replacement "));
        wait_agent_log("CAN/RCMP", "id=A-RECALLED", 2);
        wait_agent_log("MEX/AIC", "id=A-RECALLED", 2);
        st = wait_acks(pub, both, "rectified");
        json_decref(st);
        for (int k = 0; k < 2; k++) {
            by_born[3] = fed_agent_config(F, both[k], NULL)->config;
            by_born[7] = "1984-10-24";
            assert_int_equal(fed_run_tool(by_born, out, sizeof(out)), 0);
            by_born[7] = "1984-09-24";
            assert_int_equal(fed_run_tool(by_born, out, sizeof(out)), 1);
        }
    }
    assert_int_equal(fed_agent_stop(F, "CAN/RCMP"), 0);
    assert_int_equal(fed_agent_stop(F, "MEX/AIC"), 0);
    fed_destroy(&F);
}

/* The originator runs an agent: the recall.ack reaches USA/FBI's agent, not the tool's
 * casebook; recall status --agent-config reads the ack the agent kept. */
static void
test_recall_status_from_originators_agent(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    const char *publish[] = {"watchlist", "publish", "--to", "CAN/RCMP", "--file", NULL, "--json",
                             NULL};
    char pub[33], needle[120];
    json_t *j, *r;
    size_t i;

    (void)state;
    F = fed_new(two, 2, NULL);
    fed_start(F, "USA");
    fed_start(F, "CAN");
    fed_agent_start(F, "CAN/RCMP");
    fed_agent_start(F, "USA/FBI");
    publish[5] = write_file("entries.json", entries);
    assert_rc(cli("USA/FBI", "fbi", publish), 0);
    snprintf(pub, sizeof(pub), "%s", json_id());
    wait_agent_log("CAN/RCMP", "id=A-PUBLISHED", 1);
    {
        const char *args[] = {"recall", pub, "--reason", "entered in error", NULL};

        assert_rc(cli("USA/FBI", "fbi", args), 0);
    }
    wait_agent_log("CAN/RCMP", "id=A-RECALLED", 1);
    assert_int_equal(lookup("CAN/RCMP", "--name", "Walter White"), 1);
    snprintf(needle, sizeof(needle), "kind=recall.ack from=CAN/RCMP");
    wait_agent_log("USA/FBI", needle, 1);
    for (int with = 0; with < 2; with++) {
        const char *args[] = {"recall", "status", pub, "--json", "--wait", "0",
                              with ? "--agent-config" : NULL,
                              fed_agent_config(F, "USA/FBI", NULL)->config, NULL};
        bool seen = false;

        assert_rc(cli("USA/FBI", "fbi", args), 0);
        j = json_loads(out, 0, NULL);
        assert_non_null(j);
        json_array_foreach(json_object_get(j, "recipients"), i, r) {
            json_t *ack = json_object_get(r, "ack");

            if (strcmp(json_string_value(json_object_get(r, "recipient")), "CAN/RCMP") != 0)
                continue;
            seen = true;
            if (with) {
                assert_true(json_is_object(ack));
                assert_string_equal(json_string_value(json_object_get(ack, "result")),
                                    "deleted");
                assert_non_null(json_string_value(json_object_get(ack, "at")));
            } else {
                /* The casebook never got it: pending. */
                assert_true(json_is_null(ack));
            }
        }
        if (with)
            assert_true(seen);
        json_decref(j);
    }
    {
        const char *args[] = {"recall", "status", pub, "--wait", "0", "--agent-config",
                              fed_agent_config(F, "USA/FBI", NULL)->config, NULL};

        assert_rc(cli("USA/FBI", "fbi", args), 0);
        assert_non_null(strstr(out, "CAN/RCMP"));
        assert_non_null(strstr(out, "deleted"));
    }
    assert_int_equal(fed_agent_stop(F, "CAN/RCMP"), 0);
    assert_int_equal(fed_agent_stop(F, "USA/FBI"), 0);
    fed_destroy(&F);
}

/* A travel-document report withdrawn: partners' agents delete it; and the tool inbox of an
 * agency without an agent deletes its copy, keeping a tombstone. */
static void
test_recall_traveldoc_withdraw(void **state)
{
    const char *report[] = {"traveldoc", "report", "--to", "CAN/RCMP", "--to", "MEX/AIC",
                            "--to", "CAN/CBSA", "--number", "ZZ1234567", "--country", "USA",
                            "--status", "stolen", "--ref", "FBI-TD-1", "--json", NULL};
    const char *deleted[] = {"recall", "deleted", "--json", "--wait", "1", NULL};
    char rep[33];

    (void)state;
    start_all();
    assert_rc(cli("USA/FBI", "fbi", report), 0);
    snprintf(rep, sizeof(rep), "%s", json_id());
    wait_agent_log("CAN/RCMP", "id=A-DOC-REPORTED", 1);
    wait_agent_log("MEX/AIC", "id=A-DOC-REPORTED", 1);
    assert_int_equal(lookup("CAN/RCMP", "--document", "ZZ1234567"), 0);
    assert_int_equal(lookup("MEX/AIC", "--document", "ZZ1234567"), 0);
    /* CAN/CBSA takes it into its casebook; nothing deleted yet. */
    assert_rc(cli("CAN/CBSA", "cbsa", deleted), 0);
    assert_string_equal(out, "[]\n");

    {
        const char *args[] = {"traveldoc", "withdraw", "FBI-TD-1", "--reason",
                              "passport recovered", NULL};

        assert_rc(cli("USA/FBI", "fbi", args), 0);
    }
    wait_agent_log("CAN/RCMP", "id=A-RECALLED", 1);
    wait_agent_log("MEX/AIC", "id=A-RECALLED", 1);
    assert_int_equal(lookup("CAN/RCMP", "--document", "ZZ1234567"), 1);
    assert_int_equal(lookup("MEX/AIC", "--document", "ZZ1234567"), 1);

    /* The tool inbox applies it: the report is gone, its tombstone listed. */
    for (int i = 0; i < 20; i++) {
        assert_rc(cli("CAN/CBSA", "cbsa", deleted), 0);
        if (strstr(out, rep) != NULL)
            break;
        usleep(500000);
    }
    assert_non_null(strstr(out, rep));
    assert_non_null(strstr(out, "\"kind\": \"traveldoc.report\""));
    assert_non_null(strstr(out, "\"sender\": \"USA/FBI\""));
    assert_non_null(strstr(out, "passport recovered"));
    assert_non_null(strstr(out, "\"envelope_sha256\": \""));
    {
        static const char *const all[] = {"CAN/RCMP", "MEX/AIC", "CAN/CBSA", NULL};
        json_t *st = wait_acks(rep, all, "deleted");

        json_decref(st);
    }
    assert_int_equal(fed_agent_stop(F, "CAN/RCMP"), 0);
    assert_int_equal(fed_agent_stop(F, "MEX/AIC"), 0);
    fed_destroy(&F);
}

/* A recall from another agency than the originator is not acted upon. */
static void
test_recall_forged(void **state)
{
    const char *publish[] = {"watchlist", "publish", "--to", "MEX/AIC", "--file", NULL,
                             "--json", NULL};
    static const char *const to[] = {"MEX/AIC"};
    liaison_client *rcmp;
    liaison_message *m = NULL;
    uint8_t orig[16], id[16];
    char body[512], pub[33];
    liaison_err e;

    (void)state;
    start_all();
    publish[5] = write_file("entries.json", entries);
    assert_rc(cli("USA/FBI", "fbi", publish), 0);
    snprintf(pub, sizeof(pub), "%s", json_id());
    wait_agent_log("MEX/AIC", "id=A-PUBLISHED", 1);
    assert_int_equal(liaison_id_from_hex(pub, orig), LIAISON_OK);
    snprintf(body, sizeof(body),
             "{\"schema\": \"recall.request/1\", \"message\": \"%s\", \"action\": \"recall\","
             " \"reason\": \"forged\"}", pub);
    rcmp = fed_client(F, "CAN/RCMP", false);
    assert_int_equal(liaison_message_new("recall.request", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to[0]), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES"), LIAISON_OK);
    assert_int_equal(liaison_message_set_in_reply_to(m, orig), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL), LIAISON_OK);
    e = liaison_send(rcmp, m, id, liaison_now_ms() + 10 * SECOND);
    liaison_message_destroy(&m);
    /* CAN's broker never saw the original, so it cannot judge and passes it on;
     * MEX's broker, or else MEX/AIC's agent, refuses it. */
    assert_true(e == LIAISON_OK || e == LIAISON_ERR_REJECTED);
    /* Another agency of the originator's own nation: USA's broker knows the
     * original and refuses (builtin:recall). */
    {
        liaison_client *cbp = fed_client(F, "USA/CBP", false);
        const char *text = "";

        assert_int_equal(liaison_message_new("recall.request", &m), LIAISON_OK);
        assert_int_equal(liaison_message_add_recipient(m, to[0]), LIAISON_OK);
        assert_int_equal(liaison_message_set_labels(m, "LES"), LIAISON_OK);
        assert_int_equal(liaison_message_set_in_reply_to(m, orig), LIAISON_OK);
        assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL),
                         LIAISON_OK);
        assert_int_equal(liaison_send(cbp, m, id, liaison_now_ms() + 10 * SECOND),
                         LIAISON_ERR_REJECTED);
        (void)liaison_client_rejection(cbp, &text);
        assert_non_null(strstr(text, "builtin:recall"));
        assert_non_null(strstr(text, "only USA/FBI"));
        liaison_message_destroy(&m);
        liaison_client_close(&cbp);
    }
    /* Give a forged recall the time to arrive, had it been routed. */
    sleep(2);
    assert_int_equal(fed_agent_log_count(F, "MEX/AIC", "id=A-RECALLED"), 0);
    assert_int_equal(lookup("MEX/AIC", "--name", "Walter White"), 0);
    liaison_client_close(&rcmp);
    assert_int_equal(fed_agent_stop(F, "CAN/RCMP"), 0);
    assert_int_equal(fed_agent_stop(F, "MEX/AIC"), 0);
    fed_destroy(&F);
}

/* Bad command lines: 64 for usage, 65 for data, 66 for a missing file, with clear words. */
static void
test_recall_bad_input(void **state)
{
    const char *no_id[] = {"recall", "--reason", "x", NULL};
    const char *bad_id[] = {"recall", "zz", "--reason", "x", NULL};
    const char *no_reason[] = {"recall", "00112233445566778899aabbccddeeff", NULL};
    const char *unknown[] = {"recall", "00112233445566778899aabbccddeeff", "--reason", "x", NULL};
    const char *missing[] = {"recall", "00112233445566778899aabbccddeeff", "--reason", "x",
                             "--rectify", "/nonexistent/fixed.json", NULL};
    const char *notobj[] = {"recall", "00112233445566778899aabbccddeeff", "--reason", "x",
                            "--rectify", NULL, NULL};
    const char *withdraw[] = {"traveldoc", "withdraw", "NO-SUCH-REF", "--reason", "x", NULL};
    const char *no_ref[] = {"traveldoc", "withdraw", "--reason", "x", NULL};

    (void)state;
    F = fed_new(three, 3, NULL);
    notobj[5] = write_file("array.json", "[1, 2]");
    assert_rc(cli("USA/FBI", "fbi", no_id), 64);
    assert_non_null(strstr(err, "MSGID"));
    assert_rc(cli("USA/FBI", "fbi", bad_id), 64);
    assert_non_null(strstr(err, "not a message id"));
    assert_rc(cli("USA/FBI", "fbi", no_reason), 64);
    assert_non_null(strstr(err, "--reason"));
    assert_rc(cli("USA/FBI", "fbi", unknown), 65);
    assert_non_null(strstr(err, "only the originator may recall"));
    assert_rc(cli("USA/FBI", "fbi", missing), 66);
    assert_rc(cli("USA/FBI", "fbi", notobj), 65);
    assert_non_null(strstr(err, "not a JSON object"));
    assert_rc(cli("USA/FBI", "fbi", withdraw), 65);
    assert_non_null(strstr(err, "no traveldoc.report with ref NO-SUCH-REF"));
    assert_rc(cli("USA/FBI", "fbi", no_ref), 64);
    fed_destroy(&F);
}

/* MLAT: a status recalled by the requested side is named, not exported, in the requester's
 * bundle; a request recalled by its requester is gone from the requested side's case. */
static void
test_recall_mlat(void **state)
{
    static const char *const submit[] = {
        "mlat", "submit", "--to", "USA/DOJ", "--case", "MEX-FGR-2026-0099", "--treaty",
        "USA-MEX-MLAT-1987", "--offence", "DRUG-TRAFFICKING", "--summary",
        "proceeds of cocaine sales moved through US accounts", "--assistance",
        "bank records of account 1234", "--json", NULL};
    static const char *const received[] = {"mlat", "respond", "MEX-FGR-2026-0099", "--status",
                                           "received", "--wait", "1", "--json", NULL};
    static const char *const accepted[] = {"mlat", "respond", "MEX-FGR-2026-0099", "--status",
                                           "accepted", "--wait", "1", NULL};
    char req[33], st[33], bundle[1100];
    int rc = -1;

    (void)state;
    F = fed_new(three, 3, NULL);
    fed_start(F, "USA");
    fed_start(F, "MEX");
    assert_rc(cli("MEX/FGR", "fgr", submit), 0);
    snprintf(req, sizeof(req), "%s", json_id());
    for (int i = 0; i < 30 && (rc = cli("USA/DOJ", "doj", received)) != 0; i++)
        usleep(500000);
    assert_rc(rc, 0);
    snprintf(st, sizeof(st), "%s", json_id());
    assert_rc(cli("USA/DOJ", "doj", accepted), 0);
    {
        const char *args[] = {"mlat", "evidence", "MEX-FGR-2026-0099", "--file",
                              write_file("summary.txt", "Account 1234: statements.\n"),
                              "--custody", "collected by FBI SA 123", "--wait", "1", NULL};

        assert_rc(cli("USA/DOJ", "doj", args), 0);
    }
    /* The requester takes both statuses and the evidence in. */
    {
        const char *args[] = {"mlat", "status", "MEX-FGR-2026-0099", "--wait", "1", "--json", NULL};
        bool in = false;

        for (int i = 0; i < 20 && !in; i++) {
            json_t *j;

            assert_rc(cli("MEX/FGR", "fgr", args), 0);
            j = json_loads(out, 0, NULL);
            in = j != NULL &&
                 strcmp(json_string_value(json_object_get(j, "status")), "accepted") == 0 &&
                 json_array_size(json_object_get(j, "evidence")) == 1;
            json_decref(j);
            if (!in)
                usleep(500000);
        }
        assert_true(in);
    }
    {
        const char *args[] = {"recall", st, "--reason", "sent in error", NULL};

        assert_rc(cli("USA/DOJ", "doj", args), 0);
    }
    {
        const char *args[] = {"mlat", "export", "MEX-FGR-2026-0099", "--out", bundle, "--wait",
                              "1", NULL};
        bool named = false;

        for (int i = 0; i < 20 && !named; i++) {
            snprintf(bundle, sizeof(bundle), "%s/bundle-%d", F->dir, i);
            assert_rc(cli("MEX/FGR", "fgr", args), 0);
            named = strstr(out, "recalled, not exported: mlat.status") != NULL;
            if (!named)
                usleep(500000);
        }
        if (!named) {
            const char *del[] = {"recall", "deleted", "--json", "--offline", NULL};
            char keep[4096];

            snprintf(keep, sizeof(keep), "%.2000s / %.2000s", out, err);
            (void)cli("MEX/FGR", "fgr", del);
            fail_msg("export does not name the recalled status: %s\ndeleted: %s\n%s", keep, out,
                     err);
        }
        assert_non_null(strstr(out, st));
        assert_non_null(strstr(out, "sent in error"));
    }
    /* The requester recalls its request: the requested side keeps nothing of it. */
    {
        const char *args[] = {"recall", req, "--reason", "request withdrawn", NULL};
        const char *status[] = {"mlat", "status", "MEX-FGR-2026-0099", "--wait", "1", NULL};

        assert_rc(cli("MEX/FGR", "fgr", args), 0);
        for (int i = 0; i < 20 && (rc = cli("USA/DOJ", "doj", status)) == 0; i++)
            usleep(500000);
        assert_rc(rc, 66);
        assert_non_null(strstr(err, "was recalled by MEX/FGR"));
        assert_non_null(strstr(err, "request withdrawn"));
    }
    fed_destroy(&F);
}

/* Sends kind with body from c to one agency; id_out gets its id. */
static void
send_one(liaison_client *c, const char *kind, const char *to, const char *labels,
         const char *case_id, const uint8_t *reply_to, const char *body, uint8_t id_out[16])
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    if (case_id != NULL)
        assert_int_equal(liaison_message_set_case(m, case_id), LIAISON_OK);
    if (reply_to != NULL)
        assert_int_equal(liaison_message_set_in_reply_to(m, reply_to), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, labels, body, strlen(body), NULL), LIAISON_OK);
    if (liaison_send(c, m, id_out, liaison_now_ms() + 10 * SECOND) != LIAISON_OK)
        fail_msg("send %s: %s", kind, liaison_client_error(c));
    liaison_message_destroy(&m);
}

/* An application recalls a designation: the partner's agent deletes the designation it
 * received (and its pending implement request) and acknowledges. */
static void
test_recall_designation(void **state)
{
    const char *list[] = {"agent", "list", "--config", NULL, "--json", NULL};
    liaison_client *treasury;
    liaison_event *e = NULL;
    uint8_t id[16], rid[16];
    char hex[33], body[512];
    json_t *o;

    (void)state;
    F = fed_new(three, 3, NULL);
    fed_start(F, "USA");
    fed_start(F, "CAN");
    fed_agent_start(F, "CAN/FINTRAC");
    list[3] = fed_agent_config(F, "CAN/FINTRAC", NULL)->config;
    treasury = fed_client(F, "USA/TREASURY", true);
    send_one(treasury, "freeze.designation", "CAN/FINTRAC", "LES//REL TO USA,CAN",
             "TREAS-2026-0007", NULL,
             "{\"schema\": \"freeze.designation/1\", \"designation\": \"TREAS-2026-0007\", "
             "\"version\": 1, \"action\": \"add\", \"effective\": \"2026-11-25\", "
             "\"entity\": {\"name\": \"Northwind Trading LLC\"}, \"legal_basis\": \"EO 13224\", "
             "\"note\": \"\"}", id);
    wait_agent_log("CAN/FINTRAC", "id=A-DESIGNATION", 1);
    assert_int_equal(fed_run_tool(list, out, sizeof(out)), 0);
    o = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(o, "designations")), 1);
    json_decref(o);

    liaison_id_to_hex(id, hex);
    snprintf(body, sizeof(body),
             "{\"schema\": \"recall.request/1\", \"message\": \"%s\", \"action\": \"recall\","
             " \"reason\": \"designated in error\"}", hex);
    send_one(treasury, "recall.request", "CAN/FINTRAC", "LES//REL TO USA,CAN", "TREAS-2026-0007",
             id, body, rid);
    wait_agent_log("CAN/FINTRAC", "id=A-RECALLED", 1);
    assert_int_equal(fed_run_tool(list, out, sizeof(out)), 0);
    o = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(o, "designations")), 0);
    json_decref(o);
    /* The ack comes back to the recall's sender, in reply to the recall. */
    for (uint64_t end = liaison_now_ms() + 15 * SECOND; liaison_now_ms() < end;) {
        if (liaison_receive(treasury, &e, end) != LIAISON_OK)
            break;
        (void)liaison_receipt(treasury, e);
        if (e->type == LIAISON_EVENT_MESSAGE && strcmp(e->kind, "recall.ack") == 0)
            break;
        liaison_event_free(&e);
    }
    assert_non_null(e);
    assert_string_equal(e->kind, "recall.ack");
    assert_memory_equal(e->in_reply_to, rid, 16);
    assert_string_equal(e->case_id, "TREAS-2026-0007");
    {
        json_t *b = json_loadb((const char *)e->portions[0].data, e->portions[0].len, 0, NULL);

        assert_string_equal(json_string_value(json_object_get(b, "schema")), "recall.ack/1");
        assert_string_equal(json_string_value(json_object_get(b, "message")), hex);
        assert_string_equal(json_string_value(json_object_get(b, "result")), "deleted");
        json_decref(b);
    }
    liaison_event_free(&e);
    liaison_client_close(&treasury);
    assert_int_equal(fed_agent_stop(F, "CAN/FINTRAC"), 0);
    fed_destroy(&F);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_recall_bad_input, teardown),
        cmocka_unit_test_teardown(test_recall_watchlist_record_and_rectify, teardown),
        cmocka_unit_test_teardown(test_recall_status_from_originators_agent, teardown),
        cmocka_unit_test_teardown(test_recall_traveldoc_withdraw, teardown),
        cmocka_unit_test_teardown(test_recall_forged, teardown),
        cmocka_unit_test_teardown(test_recall_mlat, teardown),
        cmocka_unit_test_teardown(test_recall_designation, teardown),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    test_quiet_logs();
    return cmocka_run_group_tests(tests, NULL, fed_destroy_all);
}
