/* Integration test of the cargo family: the liaison tool at USA/CBP and the agent of MEX/ANAM,
 * real processes against two real brokers (docs/messages.md, cargo.*; docs/agent.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cargo.h"
#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define OUT_MAX (1u << 20)

static fed *F;                 /* USA and MEX */
static char out[OUT_MAX];      /* the last run's stdout */
static char err[OUT_MAX];      /* and its stderr */

/* Each nation releases cargo.* to the other; nothing else is needed here. */
static const char usa_policy[] =
    "nation: USA\n"
    "partners:\n"
    "  - nation: MEX\n"
    "    egress:\n"
    "      - {id: usa-mex-cargo, kinds: [cargo.*], action: release}\n"
    "    ingress:\n"
    "      - {id: mex-usa-in, kinds: [\"*\"], action: release}\n";
static const char mex_policy[] =
    "nation: MEX\n"
    "partners:\n"
    "  - nation: USA\n"
    "    egress:\n"
    "      - {id: mex-usa-cargo, kinds: [cargo.*], action: release}\n"
    "    ingress:\n"
    "      - {id: usa-mex-in, kinds: [\"*\"], action: release}\n";

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Runs `liaison args...`, as USA/CBP with its state directory when cbp; the
 * output lands in out and err.  Returns the exit status. */
static int
tool(bool cbp, const char *const *args)
{
    return fed_tool(F, cbp ? "USA/CBP" : NULL, cbp ? "cbp" : NULL, args, out, err, sizeof(out));
}

static json_t *
out_json(void)
{
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);

    if (j == NULL)
        fail_msg("not JSON (%s): %s\nstderr: %s", jerr.text, out, err);
    return j;
}

/* The shipment of the story, with container and departure as given; its path. */
static const char *
shipment(const char *name, const char *container, uint64_t departure_ms)
{
    static char path[2][1100];
    static int which;
    char *p = path[which++ % 2], dep[32], text[2048];

    snprintf(p, sizeof(path[0]), "%s/%s", F->dir, name);
    snprintf(text, sizeof(text),
             "{\"container\": \"%s\", \"seals\": [\"MX0048812\"], \"bill_of_lading\": \"MEDUMX123456\","
             " \"vessel\": {\"name\": \"MSC ALINA\", \"imo\": \"9461867\", \"voyage\": \"0412N\"},"
             " \"port_of_loading\": \"MXZLO\", \"port_of_discharge\": \"USLGB\","
             " \"shipper\": {\"name\": \"Autopartes del Pacifico SA\", \"country\": \"MEX\"},"
             " \"consignee\": {\"name\": \"Lakeside Distribution LLC\", \"country\": \"USA\"},"
             " \"goods\": \"auto parts, HS 8708\", \"departure\": \"%s\"}",
             container, proto_time_format(departure_ms, dep));
    write_file(p, text, strlen(text));
    return p;
}

/* CBP's `cargo status ID --json` once the casebook shows pred; fails after 20 s. */
static json_t *
status_until(const char *id, bool (*pred)(const json_t *v))
{
    for (int i = 0; i < 40; i++) {
        const char *args[] = {"cargo", "status", id, "--wait", "1", "--json", NULL};
        json_t *v;

        assert_int_equal(tool(true, args), 0);
        v = out_json();
        if (pred(v))
            return v;
        json_decref(v);
        usleep(250000);
    }
    fail_msg("cargo status %s never got there; last: %s %s", id, out, err);
    return NULL;
}

static bool
is_received(const json_t *v)
{
    return strcmp(json_string_value(json_object_get(v, "state")), "received") == 0;
}

static bool
has_result(const json_t *v)
{
    return strncmp(json_string_value(json_object_get(v, "state")), "result:", 7) == 0;
}

/* The number of events of kind in a status timeline. */
static size_t
timeline_count(const json_t *v, const char *kind)
{
    const json_t *ev;
    size_t i, n = 0;

    json_array_foreach(json_object_get(v, "timeline"), i, ev)
        n += strcmp(json_string_value(json_object_get(ev, "kind")), kind) == 0;
    return n;
}

static const json_t *
timeline_event(const json_t *v, const char *kind)
{
    const json_t *ev;
    size_t i;

    json_array_foreach(json_object_get(v, "timeline"), i, ev) {
        if (strcmp(json_string_value(json_object_get(ev, "kind")), kind) == 0)
            return ev;
    }
    return NULL;
}

static void
test_cargo_request_result_overdue_donotload(void **state)
{
    uint64_t now = liaison_now_ms();
    char deadline[32], soon[32], scan[1100], xray[2][1100], image[4096];
    const char *good = shipment("msc-alina.json", "CSQU3054383", now + 3 * 86400000ull);
    const char *anam = fed_agent_config(F, "MEX/ANAM", NULL)->config;
    json_t *v;
    const json_t *res, *file;

    (void)state;
    proto_time_format(now + 2 * 86400000ull, deadline);
    fed_agent_start(F, "MEX/ANAM");

    /* 0. An alert to every service that accepts cargo.*, with the enforcement note. */
    {
        const char *args[] = {"cargo", "alert", "--alert", "CBP-ALERT-2026-0001", "--shipment",
                              good, "--risk", "high", "--indicator", "consignee first import",
                              "--indicator", "transshipment via high-risk port", "--note",
                              "consignee linked to an open investigation", NULL};

        assert_int_equal(tool(true, args), 0);
        assert_non_null(strstr(out, "accepted: cargo.alert CBP-ALERT-2026-0001"));
    }

    /* 1. A request CBP sends is acknowledged received by ANAM's agent. */
    {
        const char *args[] = {"cargo", "request", "--request", "CBP-CSR-2026-0001", "--to",
                              "MEX/ANAM", "--shipment", good, "--indicator",
                              "consignee first import", "--examination", "scan", "--deadline",
                              deadline, NULL};

        assert_int_equal(tool(true, args), 0);
        assert_non_null(strstr(out, "accepted: cargo.request CBP-CSR-2026-0001"));
    }
    v = status_until("CBP-CSR-2026-0001", is_received);
    assert_false(json_is_true(json_object_get(v, "overdue")));
    assert_int_equal(timeline_count(v, "cargo.ack"), 1);
    json_decref(v);
    assert_int_equal(fed_agent_log_count(F, "MEX/ANAM", "id=A-CARGO-REQUEST"), 1);

    /* 2. A bad check digit is refused by the tool: exit 65, the field named, nothing sent. */
    {
        const char *bad = shipment("bad.json", "CSQU3054384", now + 3 * 86400000ull);
        const char *args[] = {"cargo", "request", "--request", "CBP-CSR-2026-0009", "--to",
                              "MEX/ANAM", "--shipment", bad, "--indicator", "x",
                              "--examination", "scan", "--deadline", deadline, NULL};
        const char *st[] = {"cargo", "status", "CBP-CSR-2026-0009", NULL};

        assert_int_equal(tool(true, args), 65);
        assert_non_null(strstr(err, "liaison: cargo: shipment.container:"));
        assert_int_equal(tool(true, st), 66);
    }
    /* A past deadline too. */
    {
        const char *args[] = {"cargo", "request", "--request", "CBP-CSR-2026-0010", "--to",
                              "MEX/ANAM", "--shipment", good, "--indicator", "x",
                              "--examination", "scan", "--deadline", "2020-01-01T00:00:00Z", NULL};

        assert_int_equal(tool(true, args), 65);
        assert_non_null(strstr(err, "liaison: cargo: deadline:"));
    }
    /* A note that could not carry its ENFORCEMENT caveat (eight caveats already) is
     * refused, not sent without it. */
    {
        const char *args[] = {"cargo", "request", "--request", "CBP-CSR-2026-0011", "--to",
                              "MEX/ANAM", "--shipment", good, "--indicator", "x",
                              "--examination", "scan", "--deadline", deadline, "--note", "n",
                              "--labels", "LES//A1//A2//A3//A4//A5//A6//A7//A8", NULL};
        const char *st[] = {"cargo", "status", "CBP-CSR-2026-0011", NULL};

        assert_int_equal(tool(true, args), 64);
        assert_non_null(strstr(err, "no room for ENFORCEMENT"));
        assert_int_equal(tool(true, st), 66);
    }

    /* 3. A bad request forged past the tool is acknowledged declined, naming the field. */
    {
        liaison_client *c = fed_client(F, "USA/CBP", true);
        liaison_message *m = NULL;
        liaison_event *e = NULL;
        static const char *const to[] = {"MEX/ANAM"};
        char body[4096], dep[32];
        json_t *ack;
        uint8_t id[16];

        snprintf(body, sizeof(body),
                 "{\"schema\": \"cargo.request/1\", \"request\": \"CBP-CSR-2026-0666\","
                 " \"requesting\": \"USA/CBP\", \"requested\": \"MEX/ANAM\","
                 " \"shipment\": {\"container\": \"CSQU3054384\", \"bill_of_lading\": \"B1\","
                 " \"vessel\": {\"name\": \"MSC ALINA\", \"voyage\": \"0412N\"},"
                 " \"port_of_loading\": \"MXZLO\", \"port_of_discharge\": \"USLGB\","
                 " \"shipper\": {\"name\": \"S\", \"country\": \"MEX\"},"
                 " \"consignee\": {\"name\": \"C\", \"country\": \"USA\"},"
                 " \"goods\": \"g\", \"departure\": \"%s\"}, \"indicators\": [\"x\"],"
                 " \"examination\": \"scan\", \"deadline\": \"%s\"}",
                 proto_time_format(now + 3 * 86400000ull, dep), deadline);
        assert_int_equal(liaison_message_new("cargo.request", &m), LIAISON_OK);
        assert_int_equal(liaison_message_add_recipient(m, to[0]), LIAISON_OK);
        assert_int_equal(liaison_message_set_labels(m, "LES"), LIAISON_OK);
        assert_int_equal(liaison_message_set_case(m, "CBP-CSR-2026-0666"), LIAISON_OK);
        assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL), LIAISON_OK);
        assert_int_equal(liaison_send(c, m, id, liaison_now_ms() + 10000), LIAISON_OK);
        for (;;) {
            assert_int_equal(liaison_receive(c, &e, liaison_now_ms() + 15000), LIAISON_OK);
            if (e->type == LIAISON_EVENT_MESSAGE && strcmp(e->kind, "cargo.ack") == 0 &&
                strcmp(e->case_id, "CBP-CSR-2026-0666") == 0)
                break;
            assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
            liaison_event_free(&e);
        }
        assert_true(e->has_reply_to);
        assert_memory_equal(e->in_reply_to, id, 16);
        ack = json_loadb((const char *)e->portions[0].data, e->portions[0].len, 0, NULL);
        assert_non_null(ack);
        assert_string_equal(json_string_value(json_object_get(ack, "status")), "declined");
        assert_non_null(strstr(json_string_value(json_object_get(ack, "note")),
                               "shipment.container"));
        json_decref(ack);
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
        liaison_message_destroy(&m);
        liaison_client_close(&c);
    }

    /* 4. The officer records a scan with an image while the agent cannot send (stopped),
     * the agent is killed (-9) and restarted: the result arrives, exactly once. */
    snprintf(scan, sizeof(scan), "%s/scan-0412.png", F->dir);
    for (size_t i = 0; i < sizeof(image); i++)
        image[i] = (char)(i * 7 + 3);
    write_file(scan, image, sizeof(image));
    /* Two X-ray images of the largest size a file may have: the result is then near
     * its 12 MiB in all, and must still pass the brokers' default message limit. */
    {
        char *big = malloc(CARGO_FILE_MAX);

        assert_non_null(big);
        for (size_t k = 0; k < 2; k++) {
            for (size_t i = 0; i < CARGO_FILE_MAX; i++)
                big[i] = (char)(i * 13 + k);
            snprintf(xray[k], sizeof(xray[k]), "%s/xray-%zu.tif", F->dir, k + 1);
            write_file(xray[k], big, CARGO_FILE_MAX);
        }
        free(big);
    }
    assert_int_equal(kill(fed_agent_config(F, "MEX/ANAM", NULL)->pid, SIGSTOP), 0);
    {
        const char *args[] = {"cargo", "result", "CBP-CSR-2026-0001", "--config", anam,
                              "--outcome", "scanned", "--findings",
                              "density anomaly behind the front wall", "--anomaly",
                              "--seal-after", "MX0051177", "--officer", "ANAM-MZO-4411",
                              "--file", scan, "--file", xray[0], "--file", xray[1], NULL};
        const char *reqs[] = {"cargo", "requests", "--config", anam, "--json", NULL};

        assert_int_equal(tool(false, args), 0);
        assert_int_equal(tool(false, args), 65); /* recorded once */
        assert_int_equal(tool(false, reqs), 0);
        assert_non_null(strstr(out, "\"result\": \"recorded\""));
    }
    fed_agent_kill(F, "MEX/ANAM");
    assert_int_equal(fed_agent_log_count(F, "MEX/ANAM", "id=A-CARGO-RESULT-SENT"), 0);
    fed_agent_start(F, "MEX/ANAM");
    v = status_until("CBP-CSR-2026-0001", has_result);
    assert_string_equal(json_string_value(json_object_get(v, "state")), "result: scanned ANOMALY");
    res = json_object_get(timeline_event(v, "cargo.result"), "result");
    assert_string_equal(json_string_value(json_object_get(res, "officer")), "ANAM-MZO-4411");
    file = json_array_get(json_object_get(timeline_event(v, "cargo.result"), "files"), 0);
    assert_non_null(file);
    assert_string_equal(json_string_value(json_object_get(file, "name")), "scan-0412.png");
    assert_true(json_is_true(json_object_get(file, "hash_ok")));
    assert_true(json_is_true(json_object_get(file, "custody_ok")));
    assert_int_equal(json_integer_value(json_object_get(file, "custody")), 2);
    assert_int_equal(json_array_size(json_object_get(timeline_event(v, "cargo.result"), "files")), 3);
    for (size_t k = 1; k < 3; k++) {
        file = json_array_get(json_object_get(timeline_event(v, "cargo.result"), "files"), k);
        assert_int_equal(json_integer_value(json_object_get(file, "size")), CARGO_FILE_MAX);
        assert_true(json_is_true(json_object_get(file, "hash_ok")));
        assert_true(json_is_true(json_object_get(file, "custody_ok")));
    }
    json_decref(v);
    /* Exactly once: wait a little more, the casebook holds one result. */
    sleep(2);
    {
        const char *args[] = {"cargo", "status", "CBP-CSR-2026-0001", "--wait", "1", "--json",
                              NULL};
        const char *text[] = {"cargo", "status", "CBP-CSR-2026-0001", NULL};

        assert_int_equal(tool(true, args), 0);
        v = out_json();
        assert_int_equal(timeline_count(v, "cargo.result"), 1);
        json_decref(v);
        assert_int_equal(tool(true, text), 0);
        assert_non_null(strstr(out, "hash checks; custody signatures verify"));
    }
    assert_int_equal(fed_agent_log_count(F, "MEX/ANAM", "id=A-CARGO-RESULT-SENT"), 1);

    /* 5. A request due in a few seconds gets no result: OVERDUE once the deadline passes. */
    proto_time_format(liaison_now_ms() + 4000, soon);
    {
        const char *args[] = {"cargo", "request", "--request", "CBP-CSR-2026-0002", "--to",
                              "MEX/ANAM", "--shipment", good, "--indicator", "x",
                              "--examination", "physical", "--deadline", soon, NULL};
        const char *st[] = {"cargo", "status", NULL};

        assert_int_equal(tool(true, args), 0);
        assert_int_equal(tool(true, st), 0);
        assert_null(strstr(out, "OVERDUE"));
    }
    sleep(5);
    {
        const char *st[] = {"cargo", "status", NULL};
        const char *reqs[] = {"cargo", "requests", "--config", anam, NULL};
        char *first;

        assert_int_equal(tool(true, st), 0);
        first = strchr(out, '\n') + 1; /* after the header: flagged requests come first */
        assert_true(strncmp(first, "CBP-CSR-2026-0002", 17) == 0);
        assert_non_null(strstr(first, "OVERDUE"));
        assert_int_equal(tool(false, reqs), 0);
        assert_non_null(strstr(out, "OVERDUE"));
        assert_non_null(strstr(out, "alert CBP-ALERT-2026-0001 from USA/CBP: CSQU3054383 risk high"));
    }

    /* 6. A do-not-load recommendation shows, and its lifting clears it. */
    {
        const char *rec[] = {"cargo", "donotload", "--recommend", "--recommendation",
                             "CBP-DNL-2026-0001", "--container", "CSQU3054383", "--request",
                             "CBP-CSR-2026-0001", "--reason", "anomaly found by MEX/ANAM scan",
                             "--to", "MEX/ANAM", NULL};
        const char *lift[] = {"cargo", "donotload", "--lift", "--recommendation",
                              "CBP-DNL-2026-0001", "--container", "CSQU3054383", "--request",
                              "CBP-CSR-2026-0001", "--reason", "cleared after devanning",
                              "--to", "MEX/ANAM", NULL};
        const char *st[] = {"cargo", "status", NULL};

        assert_int_equal(tool(true, rec), 0);
        assert_int_equal(tool(true, st), 0);
        assert_non_null(strstr(out, "DO-NOT-LOAD"));
        usleep(1100000); /* the lift is later, to the millisecond */
        assert_int_equal(tool(true, lift), 0);
        assert_int_equal(tool(true, st), 0);
        assert_null(strstr(out, "DO-NOT-LOAD"));
    }
    assert_int_equal(fed_agent_stop(F, "MEX/ANAM"), 0);
}

static void
test_cargo_usage(void **state)
{
    const char *unknown[] = {"cargo", "request", "--bogus", NULL};
    const char *foreign[] = {"cargo", "status", "--outcome", "scanned", NULL};
    const char *help[] = {"cargo", "result", "--help", NULL};

    (void)state;
    assert_int_equal(tool(true, unknown), 64);
    assert_non_null(strstr(err, "unknown option"));
    assert_int_equal(tool(true, foreign), 64);
    assert_non_null(strstr(err, "--outcome is not an option of this command"));
    assert_int_equal(tool(false, help), 0);
    assert_non_null(strstr(out, "SYNOPSIS"));
}

static int
setup(void **state)
{
    static const char *const nations[] = {"USA", "MEX"};

    (void)state;
    test_quiet_logs();
    F = fed_new(nations, 2, NULL);
    write_file(fed_nation_get(F, "USA")->policy, usa_policy, strlen(usa_policy));
    write_file(fed_nation_get(F, "MEX")->policy, mex_policy, strlen(mex_policy));
    fed_start(F, "USA");
    fed_start(F, "MEX");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&F);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cargo_usage),
        cmocka_unit_test(test_cargo_request_result_overdue_donotload),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
