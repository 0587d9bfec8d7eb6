/* The broker's /status.json on its metrics listener: two real brokers, a
 * partner going up and down, a denied submission, tree heads and a queue
 * that grows while its agency is away. */
#define _GNU_SOURCE
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

/* nation's status, parsed; NULL when it cannot be read or is not JSON. */
static json_t *
status_of(fed *f, const char *nation)
{
    static char text[1 << 20];
    const char *body;

    if (fed_http_get(f, nation, "/status.json", text, sizeof(text)) != 0)
        return NULL;
    if (strstr(text, "\r\nContent-Type: application/json\r\n") == NULL)
        return NULL;
    body = strstr(text, "\r\n\r\n");
    return body != NULL ? json_loads(body + 4, 0, NULL) : NULL;
}

/* The peers[] entry of nation in status, or NULL. */
static json_t *
peer_in(json_t *status, const char *nation)
{
    json_t *peers = json_object_get(status, "peers"), *p;
    size_t i;

    json_array_foreach(peers, i, p) {
        if (json_is_string(json_object_get(p, "nation")) &&
            strcmp(json_string_value(json_object_get(p, "nation")), nation) == 0)
            return p;
    }
    return NULL;
}

/* What a wait looks for in a broker's status. */
typedef struct want {
    fed *f;              /* the federation */
    const char *broker;  /* whose status */
    bool (*test)(json_t *status, const struct want *w); /* the condition */
    const char *peer;    /* a partner, for the tests that need one */
    bool up;             /* the link state wanted */
    const char *since;   /* a since the peer's must differ from, or NULL */
    const char *queue;   /* a destination */
    long long depth;     /* its depth wanted */
    json_t *last;        /* the status read last (owned) */
} want;

static bool
check(void *ctx)
{
    want *w = ctx;

    json_decref(w->last);
    w->last = status_of(w->f, w->broker);
    return w->last != NULL && w->test(w->last, w);
}

static bool
peer_state(json_t *status, const want *w)
{
    json_t *p = peer_in(status, w->peer);
    json_t *since = p != NULL ? json_object_get(p, "since") : NULL;

    return p != NULL && json_is_boolean(json_object_get(p, "up")) &&
           json_boolean_value(json_object_get(p, "up")) == w->up && json_is_string(since) &&
           (w->since == NULL || strcmp(json_string_value(since), w->since) != 0);
}

static bool
heads_known(json_t *status, const want *w)
{
    json_t *p = peer_in(status, w->peer);
    json_t *head = p != NULL ? json_object_get(p, "head") : NULL;

    /* The first heads may cover nothing yet; the peer-up records come next. */
    return json_integer_value(json_object_get(json_object_get(status, "tree_head"), "tree_size")) >
               0 &&
           json_integer_value(json_object_get(head, "tree_size")) > 0 &&
           json_is_true(json_object_get(head, "ok"));
}

static bool
queue_depth(json_t *status, const want *w)
{
    json_t *queues = json_object_get(status, "queues"), *q;
    size_t i;

    json_array_foreach(queues, i, q) {
        if (strcmp(json_string_value(json_object_get(q, "destination")), w->queue) == 0)
            return json_integer_value(json_object_get(q, "depth")) >= w->depth;
    }
    return false;
}

static void
send_one(liaison_client *c, const char *kind, const char *to, const char *labels,
         liaison_err expect)
{
    liaison_message *m = NULL;
    uint8_t id[16];
    liaison_err e;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", "subject: John DOE", 17, NULL),
                     LIAISON_OK);
    e = liaison_send(c, m, id, in_ms(10 * SECOND));
    if (e != expect)
        fail_msg("send %s to %s: %d, not %d (%s)", kind, to, (int)e, (int)expect,
                 liaison_client_error(c));
    liaison_message_destroy(&m);
}

static void
test_status_federation(void **state)
{
    static const char *const two[] = {"USA", "MEX"};
    fed *f = fed_new(two, 2, "tree_head_interval_s: 1\n");
    want w = {.f = f, .broker = "USA"};
    liaison_client *fbi;
    json_t *status, *r, *p;
    char since[64];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "MEX");

    /* The partner is up, since a time. */
    w.test = peer_state;
    w.peer = "MEX";
    w.up = true;
    if (!fed_wait_until(check, &w, 30 * SECOND))
        fail_msg("MEX never shown up: %s", w.last != NULL ? json_dumps(w.last, 0) : "(none)");
    status = w.last;
    assert_string_equal(json_string_value(json_object_get(status, "broker")), "USA");
    assert_true(json_is_string(json_object_get(status, "started")));
    assert_true(json_is_string(json_object_get(status, "now")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(status, "series"),
                                                        "interval_s")), 10);
    p = peer_in(status, "MEX");
    snprintf(since, sizeof(since), "%s", json_string_value(json_object_get(p, "since")));
    assert_int_equal(strlen(since), 20); /* 2026-12-06T20:30:00Z */

    /* Its signed tree head and ours, after tree_head_interval_s. */
    w.test = heads_known;
    if (!fed_wait_until(check, &w, 30 * SECOND))
        fail_msg("no tree heads: %s", json_dumps(w.last, 0));
    status = w.last;
    assert_true(json_integer_value(json_object_get(json_object_get(status, "tree_head"),
                                                   "tree_size")) > 0);
    assert_int_equal(strlen(json_string_value(json_object_get(json_object_get(status, "tree_head"),
                                                              "root"))), 64);
    p = json_object_get(peer_in(status, "MEX"), "head");
    assert_true(json_integer_value(json_object_get(p, "tree_size")) > 0);
    assert_true(json_is_string(json_object_get(p, "check")));
    assert_true(json_is_string(json_object_get(p, "checked")));

    /* A denied submission appears in the refusals with its rule. */
    fbi = fed_client(f, "USA/FBI", true);
    send_one(fbi, "watchlist.query", "MEX/FGR", "SECRET//LES", LIAISON_ERR_REJECTED);
    status = status_of(f, "USA");
    assert_non_null(status);
    r = json_array_get(json_object_get(status, "refusals"), 0);
    if (r == NULL)
        fail_msg("no refusal: %s", json_dumps(status, 0));
    assert_string_equal(json_string_value(json_object_get(r, "what")), "submission");
    assert_string_equal(json_string_value(json_object_get(r, "from")), "USA/FBI");
    assert_string_equal(json_string_value(json_object_get(r, "kind")), "watchlist.query");
    assert_string_equal(json_string_value(json_object_get(r, "code")), "denied");
    assert_string_equal(json_string_value(json_object_get(r, "rule")), "usa-mex-watchlist");
    assert_non_null(strstr(json_string_value(json_object_get(r, "reason")), "usa-mex-watchlist"));
    assert_true(json_integer_value(json_object_get(json_object_get(status, "counters"),
                                                   "rejected")) >= 1);
    json_decref(status);

    /* The queue of an agency that is not connected grows. */
    for (int i = 0; i < 3; i++)
        send_one(fbi, "traveldoc.check", "USA/CBP", "LES//PURPOSE:border check", LIAISON_OK);
    w.test = queue_depth;
    w.queue = "USA/CBP";
    w.depth = 3;
    if (!fed_wait_until(check, &w, 30 * SECOND))
        fail_msg("USA/CBP's queue not shown: %s", json_dumps(w.last, 0));
    assert_true(json_integer_value(json_object_get(json_object_get(w.last, "counters"),
                                                   "accepted")) >= 3);
    liaison_client_close(&fbi);

    /* The partner stops: down, since a later time. */
    assert_int_equal(fed_stop(f, "MEX"), 0);
    w.test = peer_state;
    w.peer = "MEX";
    w.up = false;
    w.since = since;
    if (!fed_wait_until(check, &w, 60 * SECOND))
        fail_msg("MEX never shown down: %s", json_dumps(w.last, 0));
    json_decref(w.last);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_status_federation, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
