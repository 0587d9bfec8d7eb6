/* Integration tests of retention, at brokers and in the local stores.  A
 * policy whose retention is a few seconds (the `Ns` form, which exists for
 * tests) makes the time pass honestly: brokers delete a delivered message
 * and a queued one, audit each with its envelope hash, keep one a hold
 * covers (audited once as held), and still delete after a kill -9 and
 * restart; a partner deletes its forwarded copy; the casebook and the agent
 * store delete and journal. */
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
#define HELD_CASE "USA-FBI-2026-0007"

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

/* Sends a traveldoc.check from c to `to` (in case_id when not NULL). */
static void
send_check(liaison_client *c, const char *to, const char *case_id, const char *text,
           uint8_t id[16])
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new("traveldoc.check", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "UNCLASSIFIED//LES"), LIAISON_OK);
    if (case_id != NULL)
        assert_int_equal(liaison_message_set_case(m, case_id), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", text, strlen(text), NULL), LIAISON_OK);
    if (liaison_send(c, m, id, in_ms(10 * SECOND)) != LIAISON_OK)
        fail_msg("send to %s: %s", to, liaison_client_error(c));
    liaison_message_destroy(&m);
}

static const char *
state_of(liaison_client *c, const uint8_t id[16], const char *recipient)
{
    static liaison_status_entry entries[64];
    size_t n = 0;

    liaison_err err = liaison_status(c, id, entries, 64, &n, in_ms(5 * SECOND));

    /* What the broker answers for a message it no longer holds. */
    if (err == LIAISON_ERR_REJECTED &&
        strncmp(liaison_client_error(c), "unknown-message", 15) == 0)
        return "unknown-message";
    if (err != LIAISON_OK)
        return "?";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(entries[i].recipient, recipient) == 0)
            return entries[i].state;
    }
    return "none";
}

/* `liaison audit log --data DIR --event EVENT --json` into out. */
static void
audit_log(fed_nation *n, const char *event, char *out, size_t len)
{
    const char *args[] = {"audit", "log", "--data", n->data, "--event", event, "--json", NULL};

    assert_int_equal(fed_run_tool(args, out, len), 0);
}

/* Lines of `audit log --event EVENT` that name the message id. */
static size_t
audit_count(fed_nation *n, const char *event, const uint8_t id[16])
{
    static char out[65536];
    char hex[33], *p = out;
    size_t count = 0;

    proto_id_format(id, hex);
    audit_log(n, event, out, sizeof(out));
    while ((p = strstr(p, hex)) != NULL) {
        count++;
        p += 32;
    }
    return count;
}

typedef struct wait_deleted {
    fed_nation *n;            /* the broker */
    const uint8_t *id;        /* the message */
} wait_deleted;

static bool
deleted_audited(void *ctx)
{
    wait_deleted *w = ctx;

    return audit_count(w->n, "deleted", w->id) >= 1;
}

static void
test_retention_broker_deletes_holds_and_survives_kill(void **state)
{
    static const char *const one[] = {"USA"};
    static const char retention[] = "retention:\n"
                                    "  - id: checks-short\n"
                                    "    kinds: [traveldoc.check]\n"
                                    "    keep: 3s\n"
                                    "holds:\n"
                                    "  - id: hold-inquiry\n"
                                    "    case: " HELD_CASE "\n"
                                    "    reason: \"inquiry 2026/7 (order of the court)\"\n";
    fed *f = fed_new(one, 1, "expiry_sweep_interval_s: 1\n");
    fed_nation *usa = fed_nation_get(f, "USA");
    liaison_client *fbi, *cbp, *doj;
    uint8_t delivered[16], queued[16], held[16], late[16];
    liaison_event *e = NULL;
    char out[65536], hex[33];
    wait_deleted w = {usa, NULL};
    FILE *fp;

    (void)state;
    fp = fopen(usa->policy, "a");
    assert_non_null(fp);
    fputs(retention, fp);
    fclose(fp);
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", true);
    cbp = fed_client(f, "USA/CBP", true);
    /* One delivered (CBP is online), one queued for USA/DOJ (offline),
     * one queued in a case a hold covers. */
    send_check(fbi, "USA/CBP", NULL, "is passport X1234567 known?", delivered);
    send_check(fbi, "USA/DOJ", NULL, "is passport Y7654321 known?", queued);
    send_check(fbi, "USA/DOJ", HELD_CASE, "is passport Z1111111 known?", held);
    assert_int_equal(liaison_receive(cbp, &e, in_ms(10 * SECOND)), LIAISON_OK);
    assert_memory_equal(e->id, delivered, 16);
    liaison_event_free(&e);
    assert_string_equal(state_of(fbi, queued, "USA/DOJ"), "queued");

    /* Within a few seconds both are deleted: audited with their envelope hashes. */
    w.id = delivered;
    assert_true(fed_wait_until(deleted_audited, &w, 20 * SECOND));
    w.id = queued;
    assert_true(fed_wait_until(deleted_audited, &w, 20 * SECOND));
    audit_log(usa, "deleted", out, sizeof(out));
    proto_id_format(queued, hex);
    assert_non_null(strstr(out, hex));
    assert_non_null(strstr(out, "\"envelope_hash\""));
    assert_non_null(strstr(out, "retention checks-short: created "));
    assert_non_null(strstr(out, "kept 3s"));
    /* The broker no longer knows them. */
    assert_string_equal(state_of(fbi, queued, "USA/DOJ"), "unknown-message");
    assert_string_equal(state_of(fbi, delivered, "USA/CBP"), "unknown-message");
    /* The held one stays, audited once as held whatever the sweeps since. */
    usleep(2500 * 1000);
    assert_string_equal(state_of(fbi, held, "USA/DOJ"), "queued");
    assert_int_equal(audit_count(usa, "held", held), 1);
    audit_log(usa, "held", out, sizeof(out));
    assert_non_null(strstr(out, "hold hold-inquiry: inquiry 2026/7 (order of the court)"));
    assert_int_equal(audit_count(usa, "deleted", held), 0);

    /* One more, and the broker dies (kill -9) before its retention ends. */
    send_check(fbi, "USA/DOJ", NULL, "is passport W2222222 known?", late);
    liaison_client_close(&fbi);
    liaison_client_close(&cbp);
    fed_kill(f, "USA");
    usleep(3500 * 1000);
    fed_start(f, "USA");
    w.id = late;
    assert_true(fed_wait_until(deleted_audited, &w, 20 * SECOND));
    assert_int_equal(audit_count(usa, "held", held), 1);

    /* DOJ, online at last, receives only the held message. */
    doj = fed_client(f, "USA/DOJ", true);
    assert_int_equal(liaison_receive(doj, &e, in_ms(10 * SECOND)), LIAISON_OK);
    assert_memory_equal(e->id, held, 16);
    liaison_event_free(&e);
    assert_int_equal(liaison_receive(doj, &e, in_ms(2 * SECOND)), LIAISON_ERR_TIMEOUT);
    liaison_client_close(&doj);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* Writes a policy of CAN (the example) with retention appended, mode 0600. */
static void
policy_with(fed *f, const char *path, const char *retention)
{
    char cmd[2400];
    FILE *fp;

    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 600 '%s'", fed_nation_get(f, "CAN")->policy,
             path, path);
    assert_int_equal(system(cmd), 0);
    fp = fopen(path, "a");
    assert_non_null(fp);
    fputs(retention, fp);
    fclose(fp);
}

/* The casebook deletes what its retention ends, as `retention sweep` and
 * on every open while LIAISON_POLICY is set, and journals each deletion. */
static void
test_retention_casebook_sweep_and_journal(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    static const char *const report1[] = {"traveldoc", "report", "--number", "AB123456",
                                          "--country", "CAN", "--status", "stolen", "--ref",
                                          "CBSA-TD-2026-0007", NULL};
    static const char *const report2[] = {"traveldoc", "report", "--number", "CD765432",
                                          "--country", "CAN", "--status", "lost", "--ref",
                                          "CBSA-TD-2026-0008", NULL};
    static const char *const report3[] = {"traveldoc", "report", "--number", "EF111111",
                                          "--country", "CAN", "--status", "lost", "--ref",
                                          "CBSA-TD-2026-0009", NULL};
    fed *f = fed_new(two, 2, NULL);
    char dir[700], pol_day[800], pol_short[800], out[16384], err[16384];
    const char *sweep_dry[] = {"retention", "sweep", "--state", dir, "--policy", pol_day,
                               "--dry-run", NULL};
    const char *sweep_future[] = {"retention", "sweep", "--state", dir, "--policy", pol_day,
                                  "--now", "2099-01-01", "--json", NULL};
    const char *journal[] = {"retention", "journal", "--state", dir, NULL};
    const char *explain[] = {"retention", "explain", "--policy", pol_day, "--kind",
                             "traveldoc.report", "--created", "2026-01-01", "--now",
                             "2026-01-03", NULL};

    (void)state;
    snprintf(dir, sizeof(dir), "%s/state-cbsa", f->dir);
    snprintf(pol_day, sizeof(pol_day), "%s/retain-day.yaml", f->dir);
    snprintf(pol_short, sizeof(pol_short), "%s/retain-short.yaml", f->dir);
    policy_with(f, pol_day,
                "retention:\n  - id: reports-1d\n    kinds: [traveldoc.report]\n    keep: 1d\n");
    policy_with(f, pol_short,
                "retention:\n  - id: reports-short\n    kinds: [traveldoc.report]\n"
                "    keep: 2s\n");
    fed_start(f, "USA");
    fed_start(f, "CAN");
    assert_int_equal(fed_tool(f, "CAN/CBSA", "cbsa", report1, out, err, sizeof(out)), 0);

    /* explain: the rule and when it ends. */
    assert_int_equal(fed_tool(f, NULL, NULL, explain, out, err, sizeof(out)), 0);
    assert_non_null(strstr(out, "rule reports-1d: kept until 2026-01-02T00:00:00Z (ended)"));
    /* A dry run deletes nothing (the report is not a day old). */
    assert_int_equal(fed_tool(f, NULL, NULL, sweep_dry, out, err, sizeof(out)), 0);
    assert_non_null(strstr(err, "0 messages would be deleted"));
    {
        const char *dry[] = {"retention", "sweep", "--state", dir, "--policy", pol_day, "--now",
                             "2099-01-01", "--dry-run", NULL};

        assert_int_equal(fed_tool(f, NULL, NULL, dry, out, err, sizeof(out)), 0);
        assert_non_null(strstr(out, "would delete"));
        assert_non_null(strstr(out, "traveldoc.report"));
    }
    assert_int_equal(fed_tool(f, NULL, NULL, journal, out, err, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* As of 2099 its day has passed: deleted and journalled, once. */
    assert_int_equal(fed_tool(f, NULL, NULL, sweep_future, out, err, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"rule\":\"reports-1d\""));
    assert_non_null(strstr(out, "\"direction\":\"sent\""));
    assert_int_equal(fed_tool(f, NULL, NULL, sweep_future, out, err, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(fed_tool(f, NULL, NULL, journal, out, err, sizeof(out)), 0);
    assert_non_null(strstr(out, "traveldoc.report"));
    assert_non_null(strstr(out, "reports-1d"));

    /* With LIAISON_POLICY set, every open of the casebook applies it. */
    setenv("LIAISON_POLICY", pol_short, 1);
    assert_int_equal(fed_tool(f, "CAN/CBSA", "cbsa", report2, out, err, sizeof(out)), 0);
    usleep(2500 * 1000);
    assert_int_equal(fed_tool(f, "CAN/CBSA", "cbsa", report3, out, err, sizeof(out)), 0);
    unsetenv("LIAISON_POLICY");
    assert_int_equal(fed_tool(f, NULL, NULL, journal, out, err, sizeof(out)), 0);
    assert_non_null(strstr(out, "reports-short"));
    {
        /* The second report went; the third, just sent, stays. */
        const char *later[] = {"retention", "sweep", "--state", dir, "--policy", pol_short,
                               "--dry-run", NULL};

        assert_int_equal(fed_tool(f, NULL, NULL, later, out, err, sizeof(out)), 0);
        assert_null(strstr(out, "would delete"));
    }
    /* A policy that does not load is refused, with its position. */
    {
        char bad[800];
        const char *sweep_bad[] = {"retention", "sweep", "--state", dir, "--policy", bad, NULL};

        snprintf(bad, sizeof(bad), "%s/retain-bad.yaml", f->dir);
        policy_with(f, bad,
                    "retention:\n  - id: r\n    kinds: [traveldoc.report]\n    keep: 6mo\n");
        assert_int_equal(fed_tool(f, NULL, NULL, sweep_bad, out, err, sizeof(out)), 65);
        assert_non_null(strstr(err, "keep '6mo' is not a duration"));
    }
    fed_destroy(&f);
}

typedef struct agent_wait {
    fed *f;                   /* the federation */
    const char *addr;         /* the agent */
    const char *needle;       /* what its log must show */
} agent_wait;

static bool
agent_logged(void *ctx)
{
    agent_wait *w = ctx;

    return fed_agent_log_count(w->f, w->addr, w->needle) >= 1;
}

/* The agent applies its configuration's policy: to what it kept, at start
 * (and every hour), journals it, and `retention journal --agent` shows it. */
static void
test_retention_agent_deletes_kept_and_journals(void **state)
{
    static const char *const one[] = {"USA"};
    static const char body[] = "{\"schema\": \"watchlist.publish/1\"}";
    fed *f = fed_new(one, 1, NULL);
    char pol[800], extra[900], out[16384], err[16384], hex[33];
    fed_agent *ag;
    liaison_client *fbi;
    liaison_message *m = NULL;
    uint8_t id[16];
    agent_wait w = {f, "USA/CBP", "A-KEPT"};

    (void)state;
    snprintf(pol, sizeof(pol), "%s/usa-retain.yaml", f->dir);
    {
        char cmd[4096];
        FILE *fp;

        snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 600 '%s'",
                 fed_nation_get(f, "USA")->policy, pol, pol);
        assert_int_equal(system(cmd), 0);
        fp = fopen(pol, "a");
        assert_non_null(fp);
        fputs("retention:\n  - id: publish-short\n    kinds: [watchlist.publish]\n"
              "    keep: 2s\n",
              fp);
        fclose(fp);
    }
    snprintf(extra, sizeof(extra), "policy: %s\n", pol);
    ag = fed_agent_config(f, "USA/CBP", extra);
    fed_start(f, "USA");
    fed_agent_start(f, "USA/CBP");
    fbi = fed_client(f, "USA/FBI", true);
    /* A publish without entries: the agent keeps it as received. */
    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/CBP"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "UNCLASSIFIED//LES"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL), LIAISON_OK);
    assert_int_equal(liaison_send(fbi, m, id, in_ms(10 * SECOND)), LIAISON_OK);
    liaison_message_destroy(&m);
    liaison_client_close(&fbi);
    assert_true(fed_wait_until(agent_logged, &w, 20 * SECOND));
    assert_int_equal(fed_agent_stop(f, "USA/CBP"), 0);
    {
        const char *journal[] = {"retention", "journal", "--agent", ag->config, NULL};

        assert_int_equal(fed_tool(f, NULL, NULL, journal, out, err, sizeof(out)), 0);
        assert_string_equal(out, "");
    }
    /* Started again past its retention: it deletes the message at once. */
    usleep(2500 * 1000);
    fed_agent_start(f, "USA/CBP");
    w.needle = "A-DELETED";
    assert_true(fed_wait_until(agent_logged, &w, 20 * SECOND));
    assert_int_equal(fed_agent_stop(f, "USA/CBP"), 0);
    {
        const char *journal[] = {"retention", "journal", "--agent", ag->config, "--json", NULL};
        const char *dry[] = {"retention", "sweep", "--agent", ag->config, "--now", "2099-01-01",
                             "--dry-run", NULL};

        assert_int_equal(fed_tool(f, NULL, NULL, journal, out, err, sizeof(out)), 0);
        proto_id_format(id, hex);
        assert_non_null(strstr(out, hex));
        assert_non_null(strstr(out, "\"rule\":\"publish-short\""));
        assert_non_null(strstr(out, "\"counterpart\":\"USA/FBI\""));
        assert_non_null(strstr(out, "\"envelope_hash\":\""));
        /* Nothing of it is left to delete. */
        assert_int_equal(fed_tool(f, NULL, NULL, dry, out, err, sizeof(out)), 0);
        assert_null(strstr(out, hex));
    }
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

/* The agent's retention deletes what it filed from a message (a partner's
 * watchlist entry), not only what it kept: a lookup no longer hits the entry
 * and the journal names the message, its rule and the entry. */
static void
test_retention_agent_deletes_filed_entries(void **state)
{
    static const char *const one[] = {"USA"};
    static const char body[] =
        "{\"schema\": \"watchlist.publish/1\", \"entries\": [{\"ref\": \"FBI-WL-7001\","
        " \"names\": [\"Walter WHITE\"], \"born\": \"1958-09-07\", \"reason\": \"wanted\"}]}";
    fed *f = fed_new(one, 1, NULL);
    char pol[800], extra[900], out[16384], err[16384], hex[33];
    fed_agent *ag;
    liaison_client *fbi;
    liaison_message *m = NULL;
    uint8_t id[16];
    agent_wait w = {f, "USA/CBP", "A-PUBLISHED"};

    (void)state;
    snprintf(pol, sizeof(pol), "%s/usa-retain.yaml", f->dir);
    {
        char cmd[4096];
        FILE *fp;

        snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 600 '%s'",
                 fed_nation_get(f, "USA")->policy, pol, pol);
        assert_int_equal(system(cmd), 0);
        fp = fopen(pol, "a");
        assert_non_null(fp);
        fputs("retention:\n  - id: partner-lists-short\n    kinds: [watchlist.publish]\n"
              "    keep: 3s\n",
              fp);
        fclose(fp);
    }
    snprintf(extra, sizeof(extra), "policy: %s\n", pol);
    ag = fed_agent_config(f, "USA/CBP", extra);
    fed_start(f, "USA");
    fed_agent_start(f, "USA/CBP");
    fbi = fed_client(f, "USA/FBI", true);
    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/CBP"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "UNCLASSIFIED//LES"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL), LIAISON_OK);
    assert_int_equal(liaison_send(fbi, m, id, in_ms(10 * SECOND)), LIAISON_OK);
    liaison_message_destroy(&m);
    liaison_client_close(&fbi);
    proto_id_format(id, hex);
    assert_true(fed_wait_until(agent_logged, &w, 20 * SECOND));
    assert_int_equal(fed_agent_stop(f, "USA/CBP"), 0);
    {
        const char *lookup[] = {"agent", "lookup", "--config", ag->config, "--name",
                                "Walter White", "--json", NULL};

        /* Filed, not kept: the entry is there for local lookups. */
        assert_int_equal(fed_tool(f, NULL, NULL, lookup, out, err, sizeof(out)), 0);
        assert_non_null(strstr(out, "FBI-WL-7001"));
    }
    /* Started again past its retention (3 s from when FBI created it). */
    usleep(3500 * 1000);
    fed_agent_start(f, "USA/CBP");
    w.needle = "A-DELETED";
    assert_true(fed_wait_until(agent_logged, &w, 20 * SECOND));
    assert_int_equal(fed_agent_stop(f, "USA/CBP"), 0);
    {
        const char *lookup[] = {"agent", "lookup", "--config", ag->config, "--name",
                                "Walter White", "--json", NULL};
        const char *journal[] = {"retention", "journal", "--agent", ag->config, "--json", NULL};
        const char *text[] = {"retention", "journal", "--agent", ag->config, NULL};

        /* Exit 1: no hit. */
        assert_int_equal(fed_tool(f, NULL, NULL, lookup, out, err, sizeof(out)), 1);
        assert_null(strstr(out, "FBI-WL-7001"));
        assert_int_equal(fed_tool(f, NULL, NULL, journal, out, err, sizeof(out)), 0);
        assert_non_null(strstr(out, hex));
        assert_non_null(strstr(out, "\"kind\":\"watchlist.publish\""));
        assert_non_null(strstr(out, "\"rule\":\"partner-lists-short\""));
        assert_non_null(strstr(out, "\"counterpart\":\"USA/FBI\""));
        assert_non_null(strstr(out, "\"records\":[\"FBI-WL-7001\"]"));
        assert_int_equal(fed_tool(f, NULL, NULL, text, out, err, sizeof(out)), 0);
        assert_non_null(strstr(out, "records FBI-WL-7001"));
    }
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

/* Sends kind with body to `to`, in case_id. */
static void
send_json(liaison_client *c, const char *kind, const char *to, const char *case_id,
          const char *body)
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "UNCLASSIFIED//LES"), LIAISON_OK);
    assert_int_equal(liaison_message_set_case(m, case_id), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL), LIAISON_OK);
    if (liaison_send(c, m, NULL, in_ms(10 * SECOND)) != LIAISON_OK)
        fail_msg("send %s: %s", kind, liaison_client_error(c));
    liaison_message_destroy(&m);
}

/* keep: case deletes the messages of a case once an mlat.status closes it. */
static void
test_retention_casebook_keep_case(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    char dir[700], pol[800], out[16384], err[16384], cmd[4096];
    const char *drain[] = {"mlat", "status", "USA-FBI-2026-0001", "--wait", "3", "--json", NULL};
    const char *dry[] = {"retention", "sweep", "--state", dir, "--policy", pol, "--dry-run",
                         "--json", NULL};
    liaison_client *fbi;
    FILE *fp;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/state-doj", f->dir);
    snprintf(pol, sizeof(pol), "%s/usa-case.yaml", f->dir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 600 '%s'", fed_nation_get(f, "USA")->policy,
             pol, pol);
    assert_int_equal(system(cmd), 0);
    fp = fopen(pol, "a");
    assert_non_null(fp);
    fputs("retention:\n  - id: mlat-case-life\n    kinds: [mlat.*]\n    keep: case\n", fp);
    fclose(fp);
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", true);
    send_json(fbi, "mlat.request", "USA/DOJ", "USA-FBI-2026-0001",
              "{\"schema\": \"mlat.request/1\", \"case\": \"USA-FBI-2026-0001\"}");
    send_json(fbi, "mlat.status", "USA/DOJ", "USA-FBI-2026-0001",
              "{\"schema\": \"mlat.status/1\", \"case\": \"USA-FBI-2026-0001\", "
              "\"status\": \"closed\", \"note\": \"\", \"grounds\": \"\"}");
    send_json(fbi, "mlat.request", "USA/DOJ", "USA-FBI-2026-0002",
              "{\"schema\": \"mlat.request/1\", \"case\": \"USA-FBI-2026-0002\"}");
    liaison_client_close(&fbi);
    /* USA/DOJ's tool drains its inbox into its casebook. */
    (void)fed_tool(f, "USA/DOJ", "doj", drain, out, err, sizeof(out));
    assert_int_equal(fed_tool(f, NULL, NULL, dry, out, err, sizeof(out)), 0);
    /* The closed case's two messages would go; the open case's stays. */
    assert_non_null(strstr(out, "\"kind\":\"mlat.request\""));
    assert_non_null(strstr(out, "\"kind\":\"mlat.status\""));
    assert_non_null(strstr(out, "\"case\":\"USA-FBI-2026-0001\""));
    assert_null(strstr(out, "USA-FBI-2026-0002"));
    assert_non_null(strstr(out, "\"rule\":\"mlat-case-life\""));
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

/* The envelope_hash of the first record of `audit log --event EVENT --json`
 * that names id, into out (65 bytes); false if none. */
static bool
audit_hash(fed_nation *n, const char *event, const uint8_t id[16], char out[65])
{
    static char log[65536];
    char hex[33], *p, *h;

    proto_id_format(id, hex);
    audit_log(n, event, log, sizeof(log));
    if ((p = strstr(log, hex)) == NULL)
        return false;
    while (p > log && p[-1] != '\n')
        p--;
    if ((h = strstr(p, "\"envelope_hash\":")) == NULL)
        return false;
    h = strchr(h + 16, '"');
    if (h == NULL)
        return false;
    memcpy(out, h + 1, 64);
    out[64] = '\0';
    return true;
}

/* Three brokers: CAN's policy keeps traveldoc.check two seconds, MEX's and
 * USA's keep it as before.  What USA forwarded is deleted at CAN (audited
 * there with the hash USA recorded) and never reaches CAN/CBSA, while
 * MEX/AIC still gets its copy. */
static void
test_retention_partner_deletes_its_copy(void **state)
{
    static const char *const three[] = {"USA", "CAN", "MEX"};
    static const char text[] = "is passport X1234567 known?";
    fed *f = fed_new(three, 3, "expiry_sweep_interval_s: 1\n");
    fed_nation *usa = fed_nation_get(f, "USA"), *can = fed_nation_get(f, "CAN");
    liaison_client *fbi, *cbsa, *aic;
    liaison_message *m = NULL;
    liaison_event *e = NULL;
    uint8_t id[16];
    char usa_hash[65], can_hash[65];
    wait_deleted w = {can, id};
    FILE *fp;

    (void)state;
    fp = fopen(can->policy, "a");
    assert_non_null(fp);
    fputs("retention:\n  - id: checks-2s\n    kinds: [traveldoc.check]\n    keep: 2s\n", fp);
    fclose(fp);
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    fbi = fed_client(f, "USA/FBI", true);
    assert_int_equal(liaison_message_new("traveldoc.check", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "CAN/CBSA"), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "MEX/AIC"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "UNCLASSIFIED//LES"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", text, strlen(text), NULL), LIAISON_OK);
    if (liaison_send(fbi, m, id, in_ms(10 * SECOND)) != LIAISON_OK)
        fail_msg("send: %s", liaison_client_error(fbi));
    liaison_message_destroy(&m);
    assert_true(fed_wait_until(deleted_audited, &w, 30 * SECOND));
    /* CAN's record carries the hash of the envelope USA received. */
    assert_true(audit_hash(usa, "received", id, usa_hash));
    assert_true(audit_hash(can, "deleted", id, can_hash));
    assert_string_equal(can_hash, usa_hash);
    assert_int_equal(audit_count(usa, "deleted", id), 0);
    assert_int_equal(audit_count(fed_nation_get(f, "MEX"), "deleted", id), 0);
    /* CAN/CBSA never gets it; MEX/AIC does. */
    cbsa = fed_client(f, "CAN/CBSA", true);
    assert_int_equal(liaison_receive(cbsa, &e, in_ms(3 * SECOND)), LIAISON_ERR_TIMEOUT);
    aic = fed_client(f, "MEX/AIC", true);
    assert_int_equal(liaison_receive(aic, &e, in_ms(10 * SECOND)), LIAISON_OK);
    assert_memory_equal(e->id, id, 16);
    liaison_event_free(&e);
    liaison_client_close(&cbsa);
    liaison_client_close(&aic);
    liaison_client_close(&fbi);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_retention_broker_deletes_holds_and_survives_kill,
                                  fed_destroy_all),
        cmocka_unit_test_teardown(test_retention_casebook_sweep_and_journal, fed_destroy_all),
        cmocka_unit_test_teardown(test_retention_agent_deletes_kept_and_journals, fed_destroy_all),
        cmocka_unit_test_teardown(test_retention_agent_deletes_filed_entries, fed_destroy_all),
        cmocka_unit_test_teardown(test_retention_casebook_keep_case, fed_destroy_all),
        cmocka_unit_test_teardown(test_retention_partner_deletes_its_copy, fed_destroy_all),
    };

    signal(SIGPIPE, SIG_IGN);
    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
