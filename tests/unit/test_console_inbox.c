/* Unit tests of the console's inbox, queries, recalls and consents (client/tool/console_inbox.c)
 * against a casebook the test fills. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "casebook.h"
#include "cli_int.h"
#include "console_inbox.h"
#include "helpers.h"
#include "liaison_proto.h"
#include "casebook_fixture.h"


/* An id whose bytes say n (and direction d, so that a sent and a received id differ). */
static void
id_of(uint32_t n, uint8_t d, uint8_t id[16])
{
    memset(id, 0, 16);
    id[0] = d;
    id[12] = (uint8_t)(n >> 24);
    id[13] = (uint8_t)(n >> 16);
    id[14] = (uint8_t)(n >> 8);
    id[15] = (uint8_t)n;
}

/* Stores a message received: n, kind, from, stored at time_ms, body (may be NULL), in
 * reply to reply (may be NULL). */
static void
put_received(uint32_t n, const char *kind, const char *from, uint64_t time_ms, const char *body,
             const uint8_t *reply)
{
    casebook_entry e;

    memset(&e, 0, sizeof(e));
    id_of(n, 'r', e.id);
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.peer, sizeof(e.peer), "%s", from);
    snprintf(e.labels, sizeof(e.labels), "LES//REL TO USA//PURPOSE:case 7");
    e.time_ms = time_ms;
    e.created_ms = time_ms - 5;
    e.body = (char *)(uintptr_t)body;
    if (reply != NULL) {
        memcpy(e.in_reply_to, reply, 16);
        e.has_reply_to = true;
    }
    assert_int_equal(casebook_put(cb, &e), CASEBOOK_OK);
}

/* Stores a message sent: n, kind, to (space separated), at time_ms, body. */
static void
put_sent(uint32_t n, const char *kind, const char *to, uint64_t time_ms, const char *body)
{
    casebook_entry e;

    memset(&e, 0, sizeof(e));
    e.sent = true;
    id_of(n, 's', e.id);
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.labels, sizeof(e.labels), "LES//PURPOSE:screening");
    e.time_ms = time_ms;
    e.created_ms = time_ms;
    e.recipients = (char *)(uintptr_t)to;
    e.body = (char *)(uintptr_t)body;
    assert_int_equal(casebook_put(cb, &e), CASEBOOK_OK);
}

static json_t *
inbox(size_t limit, const char *before)
{
    int status = 200;
    char why[256] = "";
    json_t *o = console_inbox_json(cb, limit, before, &status, why, sizeof(why));

    if (o == NULL)
        fail_msg("inbox: %d %s", status, why);
    return o;
}

/* A message received through cli_store_event (as every drain stores it) with a portion a
 * broker withheld by its rule: the inbox shows the portion, who withheld it, the rule and
 * the notice the commands print, and the sender's actor. */
static void
test_console_inbox_withheld_and_actor(void **state)
{
    liaison_event ev;
    liaison_portion portions[2];
    static const char body[] = "{\"schema\":\"mlat.status/1\",\"status\":\"executed\"}";
    json_t *o, *m, *w;

    (void)state;
    memset(&ev, 0, sizeof(ev));
    memset(portions, 0, sizeof(portions));
    ev.type = LIAISON_EVENT_MESSAGE;
    id_of(1, 'r', ev.id);
    snprintf(ev.kind, sizeof(ev.kind), "mlat.status");
    snprintf(ev.sender, sizeof(ev.sender), "MEX/FGR");
    snprintf(ev.case_id, sizeof(ev.case_id), "MEX-FGR-2026-0099");
    snprintf(ev.labels, sizeof(ev.labels), "LES//REL TO USA");
    snprintf(ev.actor, sizeof(ev.actor), "mex.fgr.fiscal-7");
    ev.created_ms = 1700000000000u;
    snprintf(portions[0].labels, sizeof(portions[0].labels), "LES//REL TO USA");
    portions[0].readable = true;
    portions[0].data = (uint8_t *)(uintptr_t)body;
    portions[0].len = strlen(body);
    snprintf(portions[1].labels, sizeof(portions[1].labels), "LES//ORCON");
    portions[1].withheld = true;
    snprintf(portions[1].withheld_by, sizeof(portions[1].withheld_by), "USA");
    snprintf(portions[1].withheld_rule, sizeof(portions[1].withheld_rule), "usa-orcon-mex");
    ev.portion_count = 2;
    ev.portions = portions;
    assert_int_equal(cli_store_event(cb, &ev), 0);

    o = inbox(100, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "total")), 1);
    m = json_array_get(json_object_get(o, "messages"), 0);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "actor")), "mex.fgr.fiscal-7");
    assert_string_equal(json_string_value(json_object_get(m, "from")), "MEX/FGR");
    assert_string_equal(json_string_value(json_object_get(m, "case")), "MEX-FGR-2026-0099");
    assert_string_equal(json_string_value(json_object_get(m, "summary")), "executed");
    assert_true(json_is_null(json_object_get(m, "unreadable")));
    assert_int_equal(json_array_size(json_object_get(m, "withheld")), 1);
    w = json_array_get(json_object_get(m, "withheld"), 0);
    assert_int_equal(json_integer_value(json_object_get(w, "portion")), 1);
    assert_string_equal(json_string_value(json_object_get(w, "labels")), "LES//ORCON");
    assert_string_equal(json_string_value(json_object_get(w, "by")), "USA");
    assert_string_equal(json_string_value(json_object_get(w, "rule")), "usa-orcon-mex");
    assert_string_equal(json_string_value(json_object_get(w, "notice")),
                        "portion 1 (LES//ORCON) withheld by USA policy rule usa-orcon-mex, as the "
                        "broker states");
    assert_true(json_is_null(json_object_get(o, "next")));
    json_decref(o);
}

/* Portion 0 withheld: the message is listed as unreadable, saying by whom. */
static void
test_console_inbox_portion0_withheld(void **state)
{
    liaison_event ev;
    liaison_portion p;
    json_t *o, *m;

    (void)state;
    memset(&ev, 0, sizeof(ev));
    memset(&p, 0, sizeof(p));
    ev.type = LIAISON_EVENT_MESSAGE;
    id_of(2, 'r', ev.id);
    snprintf(ev.kind, sizeof(ev.kind), "watchlist.publish");
    snprintf(ev.sender, sizeof(ev.sender), "CAN/RCMP");
    snprintf(ev.labels, sizeof(ev.labels), "LES//NOFORN");
    ev.created_ms = 1700000000000u;
    snprintf(p.labels, sizeof(p.labels), "LES//NOFORN");
    p.withheld = true;
    snprintf(p.withheld_by, sizeof(p.withheld_by), "CAN");
    ev.portion_count = 1;
    ev.portions = &p;
    assert_int_equal(cli_store_event(cb, &ev), 0);
    o = inbox(10, NULL);
    m = json_array_get(json_object_get(o, "messages"), 0);
    assert_true(json_is_null(json_object_get(m, "actor")));
    assert_true(json_is_null(json_object_get(m, "summary")));
    assert_string_equal(json_string_value(json_object_get(m, "unreadable")),
                        "portion 0 (LES//NOFORN) withheld by CAN policy, as the broker states");
    assert_true(json_is_null(json_object_get(json_array_get(json_object_get(m, "withheld"), 0),
                                             "rule")));
    json_decref(o);
}

/* A record written before the casebook kept the actor and the withheld portions (its JSON
 * without those members, put in LMDB as the earlier casebook wrote it) still decodes, and
 * is listed without them. */
static void
test_console_inbox_old_record(void **state)
{
    static const char meta[] =
        "{\"kind\":\"mlat.status\",\"peer\":\"MEX/FGR\",\"case\":\"MEX-FGR-2026-0099\","
        "\"labels\":\"LES\",\"time_ms\":1700000000000,\"created_ms\":1699999999000,"
        "\"body\":\"{\\\"status\\\":\\\"received\\\"}\"}";
    char path[1100];
    uint8_t id[16], rec[sizeof(meta) + 3];
    size_t n = sizeof(meta) - 1;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_val k = {16, id}, v = {4 + n, rec};
    casebook_entry *e = NULL;
    char why[128];
    json_t *o, *m;

    (void)state;
    casebook_close(&cb);
    snprintf(path, sizeof(path), "%s/casebook", dir);
    id_of(3, 'r', id);
    rec[0] = (uint8_t)(n >> 24);
    rec[1] = (uint8_t)(n >> 16);
    rec[2] = (uint8_t)(n >> 8);
    rec[3] = (uint8_t)n;
    memcpy(rec + 4, meta, n);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 1u << 26), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "received", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    if (casebook_open(dir, &cb, why, sizeof(why)) != CASEBOOK_OK)
        fail_msg("casebook_open: %s", why);

    assert_int_equal(casebook_get(cb, false, id, false, &e), CASEBOOK_OK);
    assert_string_equal(e->actor, "");
    assert_null(e->withheld);
    assert_string_equal(e->body, "{\"status\":\"received\"}");
    casebook_entry_free(&e);
    o = inbox(10, NULL);
    m = json_array_get(json_object_get(o, "messages"), 0);
    assert_true(json_is_null(json_object_get(m, "actor")));
    assert_int_equal(json_array_size(json_object_get(m, "withheld")), 0);
    assert_string_equal(json_string_value(json_object_get(m, "summary")), "received");
    assert_string_equal(json_string_value(json_object_get(m, "created")),
                        "2023-11-14T22:13:19Z");
    json_decref(o);
}

/* Pages of 100 over 250 messages (some stored in the same millisecond): each message comes
 * exactly once, newest first across pages, and the last page has no cursor. */
static void
test_console_inbox_paging(void **state)
{
    static uint8_t seen[250];
    char cursor[64] = "";
    size_t pages = 0, count = 0;
    uint64_t last_time = UINT64_MAX;

    (void)state;
    memset(seen, 0, sizeof(seen));
    for (uint32_t i = 0; i < 250; i++)
        put_received(i, "watchlist.answer", "CAN/RCMP", 1700000000000u + i / 3,
                     "{\"result\":\"no-hit\",\"hits\":[]}", NULL);
    for (;;) {
        json_t *o = inbox(100, cursor[0] ? cursor : NULL), *m, *next;
        size_t i;

        pages++;
        assert_int_equal(json_integer_value(json_object_get(o, "total")), 250);
        json_array_foreach(json_object_get(o, "messages"), i, m) {
            uint8_t id[16];
            uint32_t n;
            const char *received = json_string_value(json_object_get(m, "received"));
            uint64_t t;

            assert_int_equal(proto_id_parse(json_string_value(json_object_get(m, "id")), id),
                             PROTO_OK);
            n = (uint32_t)id[14] << 8 | id[15];
            assert_true(n < 250);
            assert_int_equal(seen[n], 0);
            seen[n] = 1;
            count++;
            t = 1700000000000u + n / 3;
            assert_true(t <= last_time);
            last_time = t;
            assert_non_null(received);
        }
        next = json_object_get(o, "next");
        if (json_is_null(next)) {
            json_decref(o);
            break;
        }
        assert_int_equal(json_array_size(json_object_get(o, "messages")), 100);
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(o);
        assert_true(pages < 10);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(count, 250);
}

/* A cursor that is not one, and a limit out of range, are refused with 400. */
static void
test_console_inbox_bad_parameters(void **state)
{
    int status = 200;
    char why[256];

    (void)state;
    assert_null(console_inbox_json(cb, 100, "../etc", &status, why, sizeof(why)));
    assert_int_equal(status, 400);
    status = 200;
    assert_null(console_inbox_json(cb, 501, NULL, &status, why, sizeof(why)));
    assert_int_equal(status, 400);
}

/* 10 000 messages received, listed 100 at a time: the first page holds the 100 newest in
 * order, says 10 000 in all and gives a cursor, and the page after it starts at the 101st
 * newest.  (The listing keeps 101 keys while it reads the casebook, console_inbox.h.) */
static void
test_console_inbox_ten_thousand(void **state)
{
    json_t *o, *o2;
    char cursor[64];

    (void)state;
    for (uint32_t i = 0; i < 10000; i++)
        put_received(i, "freeze.ack", "CAN/FINTRAC", 1700000000000u + i,
                     "{\"status\":\"received\",\"designation\":\"OFAC-SDN:36\"}", NULL);
    o = inbox(100, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "total")), 10000);
    assert_int_equal(json_array_size(json_object_get(o, "messages")), 100);
    for (size_t i = 0; i < 100; i++) {
        uint8_t want[16];
        char hex[33];

        id_of(9999 - (uint32_t)i, 'r', want);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(o, "messages"), i), "id")),
                            proto_id_format(want, hex));
    }
    assert_true(json_is_string(json_object_get(o, "next")));
    snprintf(cursor, sizeof(cursor), "%s", json_string_value(json_object_get(o, "next")));
    o2 = inbox(100, cursor);
    {
        uint8_t want[16];
        char hex[33];

        id_of(9899, 'r', want);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(o2, "messages"), 0), "id")),
                            proto_id_format(want, hex));
    }
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(o, "messages"), 0), "summary")),
                        "received - OFAC-SDN:36");
    json_decref(o);
    json_decref(o2);
}

/* A query with a hit whose name is markup: the name is kept byte for byte in the JSON (the
 * page puts it in as text); the partner that has not answered is waiting. */
static void
test_console_queries_hit_kept_as_text(void **state)
{
    static const char evil[] = "<script>alert(1)</script>";
    uint8_t qid[16];
    char *text;
    json_t *o, *q, *a, *h;
    int status = 200;
    char why[256];

    (void)state;
    put_sent(1, "watchlist.query", "CAN MEX/FGR", 1700000000000u,
             "{\"schema\":\"watchlist.query/1\",\"subject\":{\"type\":\"person\","
             "\"name\":\"Marco VIDAL\"}}");
    put_sent(2, "mlat.request", "MEX/FGR", 1700000000001u, "{\"schema\":\"mlat.request/1\"}");
    id_of(1, 's', qid);
    put_received(10, "watchlist.answer", "CAN/RCMP", 1700000001000u,
                 "{\"schema\":\"watchlist.answer/1\",\"result\":\"hit\",\"hits\":[{\"ref\":"
                 "\"RCMP-WL-7\",\"score\":0.94,\"name\":\"<script>alert(1)</script>\","
                 "\"matched\":[\"name\"]}]}",
                 qid);
    o = console_queries_json(cb, NULL, NULL, &status, why, sizeof(why));
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "queries")), 1);
    q = json_array_get(json_object_get(o, "queries"), 0);
    assert_string_equal(json_string_value(json_object_get(q, "kind")), "watchlist.query");
    assert_string_equal(json_string_value(json_object_get(q, "subject")), "Marco VIDAL");
    assert_string_equal(json_string_value(json_object_get(q, "purpose")), "screening");
    assert_int_equal(json_array_size(json_object_get(q, "answers")), 1);
    a = json_array_get(json_object_get(q, "answers"), 0);
    assert_string_equal(json_string_value(json_object_get(a, "from")), "CAN/RCMP");
    assert_string_equal(json_string_value(json_object_get(a, "result")), "hit");
    h = json_array_get(json_object_get(a, "hits"), 0);
    assert_string_equal(json_string_value(json_object_get(h, "name")), evil);
    assert_string_equal(json_string_value(json_object_get(h, "ref")), "RCMP-WL-7");
    assert_non_null(json_object_get(json_object_get(h, "details"), "matched"));
    assert_int_equal(json_array_size(json_object_get(q, "waiting")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(q, "waiting"), 0)),
                        "MEX/FGR");
    /* As sent to the page: the bytes of the name, unchanged. */
    text = json_dumps(o, JSON_COMPACT);
    assert_non_null(strstr(text, "\"name\":\"<script>alert(1)</script>\""));
    free(text);
    json_decref(o);
}

/* A query to selectors waits for the agencies they select that accept its kind (the roster
 * of tests/data/bundle: CAN/RCMP and MEX/AIC take watchlist.*, CAN/CBSA and the financial
 * units do not), not for the selectors themselves; without a roster, a selector counts as
 * answered once any agency it selects answered. */
static void
test_console_queries_waiting_resolves_selectors(void **state)
{
    const char *data = getenv("LIAISON_TEST_DATA");
    char path[1200], why[256];
    proto_roster *roster = NULL;
    proto_detail d = {{0}, {0}};
    uint8_t qid[16];
    int status = 200;
    json_t *o, *waiting;

    (void)state;
    assert_non_null(data);
    snprintf(path, sizeof(path), "%s/bundle/trusted.roster", data);
    if (proto_roster_load(path, &roster, &d) != PROTO_OK)
        fail_msg("roster %s: %s", path, d.text);
    put_sent(1, "watchlist.query", "CAN/* MEX/*", 1700000000000u,
             "{\"schema\":\"watchlist.query/1\",\"subject\":{\"type\":\"person\","
             "\"name\":\"Jon DOE\"}}");
    id_of(1, 's', qid);
    put_received(10, "watchlist.answer", "CAN/RCMP", 1700000001000u,
                 "{\"schema\":\"watchlist.answer/1\",\"result\":\"no-hit\"}", qid);

    o = console_queries_json(cb, roster, "USA/FBI", &status, why, sizeof(why));
    assert_non_null(o);
    waiting = json_object_get(json_array_get(json_object_get(o, "queries"), 0), "waiting");
    assert_int_equal(json_array_size(waiting), 1);
    assert_string_equal(json_string_value(json_array_get(waiting, 0)), "MEX/AIC");
    json_decref(o);

    o = console_queries_json(cb, NULL, NULL, &status, why, sizeof(why));
    assert_non_null(o);
    waiting = json_object_get(json_array_get(json_object_get(o, "queries"), 0), "waiting");
    assert_int_equal(json_array_size(waiting), 1);
    assert_string_equal(json_string_value(json_array_get(waiting, 0)), "MEX/*");
    json_decref(o);
    proto_roster_destroy(&roster);
}

/* A recall sent, with a delivery report about it, and a message recalled here: both lists,
 * as `liaison recall status` and `recall deleted` compute them. */
static void
test_console_recalls(void **state)
{
    uint8_t orig[16], rid[16];
    char ohex[33], body[256];
    casebook_report r;
    casebook_tombstone t;
    json_t *o, *s, *rec, *g;
    int status = 200;
    char why[256];

    (void)state;
    put_sent(1, "watchlist.publish", "CAN/RCMP", 1700000000000u, "{\"ref\":\"FBI-WL-1\"}");
    id_of(1, 's', orig);
    proto_id_format(orig, ohex);
    snprintf(body, sizeof(body),
             "{\"schema\":\"recall.request/1\",\"message\":\"%s\",\"action\":\"recall\","
             "\"reason\":\"entered in error\"}",
             ohex);
    put_sent(2, "recall.request", "CAN/RCMP", 1700000001000u, body);
    id_of(2, 's', rid);
    memset(&r, 0, sizeof(r));
    memcpy(r.id, rid, 16);
    snprintf(r.recipient, sizeof(r.recipient), "CAN/RCMP");
    snprintf(r.state, sizeof(r.state), "delivered");
    snprintf(r.broker, sizeof(r.broker), "CAN");
    r.time_ms = 1700000002000u;
    assert_int_equal(casebook_put_report(cb, &r), CASEBOOK_OK);

    put_received(5, "watchlist.publish", "MEX/FGR", 1700000000000u, "{\"ref\":\"FGR-1\"}", NULL);
    memset(&t, 0, sizeof(t));
    id_of(5, 'r', t.id);
    id_of(6, 'r', t.recall);
    snprintf(t.action, sizeof(t.action), "recall");
    snprintf(t.reason, sizeof(t.reason), "<b>wrong person</b>");
    t.time_ms = 1700000003000u;
    assert_int_equal(casebook_recall(cb, NULL, 0, &t), CASEBOOK_OK);

    o = console_recalls_json(cb, NULL, &status, why, sizeof(why));
    assert_non_null(o);
    s = json_array_get(json_object_get(o, "sent"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "message")), ohex);
    assert_string_equal(json_string_value(json_object_get(s, "kind")), "watchlist.publish");
    assert_string_equal(json_string_value(json_object_get(s, "reason")), "entered in error");
    g = json_array_get(json_object_get(s, "recipients"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "agency")), "CAN/RCMP");
    assert_string_equal(json_string_value(json_object_get(g, "recall")), "delivered");
    assert_true(json_is_null(json_object_get(g, "ack")));
    rec = json_array_get(json_object_get(o, "received"), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "from")), "MEX/FGR");
    assert_string_equal(json_string_value(json_object_get(rec, "reason")), "<b>wrong person</b>");
    assert_string_equal(json_string_value(json_object_get(rec, "deleted")), "2023-11-14T22:13:23Z");
    assert_int_equal(json_array_size(json_object_get(o, "received")), 1);
    json_decref(o);
}

/* A consent request received and the grant sent for it: sorted into their lists, the
 * grant with its grantor (this agency) and grantee. */
static void
test_console_consents(void **state)
{
    json_t *o, *g;
    int status = 200;
    char why[256];

    (void)state;
    put_received(1, "consent.request", "MEX/FGR", 1700000000000u,
                 "{\"schema\":\"consent.request/1\",\"content\":\"FBI-WL-1\",\"purpose\":\"x\"}",
                 NULL);
    put_sent(2, "consent.grant", "MEX/FGR", 1700000001000u,
             "{\"schema\":\"consent.grant/1\",\"id\":\"00112233445566778899aabbccddeeff\","
             "\"content\":\"FBI-WL-1\",\"to\":[\"MEX/SSPC\"],\"kinds\":[\"watchlist.publish\"],"
             "\"until\":\"2027-01-01T00:00:00Z\"}");
    o = console_consents_json(cb, "USA/FBI", &status, why, sizeof(why));
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "requests_in")), 1);
    assert_int_equal(json_array_size(json_object_get(o, "requests_out")), 0);
    assert_int_equal(json_array_size(json_object_get(o, "denials")), 0);
    g = json_array_get(json_object_get(o, "grants"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "id")),
                        "00112233445566778899aabbccddeeff");
    assert_string_equal(json_string_value(json_object_get(g, "grantor")), "USA/FBI");
    assert_string_equal(json_string_value(json_object_get(g, "grantee")), "MEX/FGR");
    assert_string_equal(json_string_value(json_array_get(json_object_get(g, "recipients"), 0)),
                        "MEX/SSPC");
    assert_string_equal(json_string_value(json_object_get(g, "until")), "2027-01-01T00:00:00Z");
    json_decref(o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_inbox_withheld_and_actor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_inbox_portion0_withheld, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_inbox_old_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_inbox_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_inbox_bad_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_inbox_ten_thousand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_queries_hit_kept_as_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_queries_waiting_resolves_selectors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_console_recalls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_consents, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
