/* Unit tests of the tool's casebook (client/tool/casebook.c): reading the messages of a kind one
 * at a time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "casebook.h"
#include "helpers.h"
#include "casebook_fixture.h"


/* Stores a sent message n of kind with case id case_id. */
static void
put(uint8_t n, const char *kind, const char *case_id)
{
    casebook_entry e;
    char body[64];

    memset(&e, 0, sizeof(e));
    e.sent = true;
    e.id[0] = n;
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.case_id, sizeof(e.case_id), "%s", case_id);
    snprintf(e.labels, sizeof(e.labels), "LES");
    snprintf(body, sizeof(body), "{\"n\": %u}", n);
    e.body = body;
    e.recipients = (char *)(uintptr_t) "*";
    e.time_ms = 1000u + n;
    e.created_ms = 1000u + n;
    assert_int_equal(casebook_put(cb, &e), CASEBOOK_OK);
}

/* What the callback saw. */
typedef struct tally {
    unsigned seen;                 /* messages given */
    unsigned ids;                  /* bit n set for message n */
    unsigned stop_after;           /* stop after this many (0: never) */
} tally;

static int
count(void *arg, const casebook_entry *e)
{
    tally *t = arg;

    assert_string_equal(e->kind, "freeze.designation");
    assert_true(e->sent);
    assert_non_null(e->body);
    assert_null(e->raw);
    t->seen++;
    t->ids |= 1u << e->id[0];
    return t->stop_after != 0 && t->seen == t->stop_after;
}

static void
test_casebook_each_kind(void **state)
{
    tally t = {0, 0, 0};

    (void)state;
    put(1, "freeze.designation", "UN-SC:QDi.1");
    put(2, "freeze.ack", "UN-SC:QDi.1");
    put(3, "freeze.designation", "UN-SC:QDi.2");
    put(4, "freeze.designation", "OFAC-SDN:9");
    put(5, "mlat.request", "MEX-FGR-2026-0001");
    /* Kinds that one of them begins with, or that begin with it: not that kind (the walk
     * tells kinds apart before decoding a record). */
    put(6, "freeze.designation.v2", "UN-SC:QDi.3");
    put(7, "freeze.designatio", "UN-SC:QDi.4");
    assert_int_equal(casebook_each_kind(cb, true, "freeze.designation", count, &t), CASEBOOK_OK);
    assert_int_equal(t.seen, 3);
    assert_int_equal(t.ids, (1u << 1) | (1u << 3) | (1u << 4));
    /* Nothing received of that kind. */
    memset(&t, 0, sizeof(t));
    assert_int_equal(casebook_each_kind(cb, false, "freeze.designation", count, &t), CASEBOOK_OK);
    assert_int_equal(t.seen, 0);
    /* The callback stops it. */
    memset(&t, 0, sizeof(t));
    t.stop_after = 2;
    assert_int_equal(casebook_each_kind(cb, true, "freeze.designation", count, &t), CASEBOOK_OK);
    assert_int_equal(t.seen, 2);
    assert_int_equal(casebook_each_kind(cb, true, "freeze.designation", NULL, &t),
                     CASEBOOK_ERR_INVALID);
}

/* Stores a received message n from USA/FBI with body and some envelope bytes. */
static void
put_received(uint8_t n, const char *kind, const char *case_id, const char *body)
{
    casebook_entry e;
    uint8_t raw[32];

    memset(&e, 0, sizeof(e));
    memset(raw, n, sizeof(raw));
    e.id[0] = n;
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.peer, sizeof(e.peer), "USA/FBI");
    snprintf(e.case_id, sizeof(e.case_id), "%s", case_id);
    snprintf(e.labels, sizeof(e.labels), "LES");
    e.body = (char *)(uintptr_t)body;
    e.raw = raw;
    e.raw_len = sizeof(raw);
    e.time_ms = e.created_ms = 2000u + n;
    assert_int_equal(casebook_put(cb, &e), CASEBOOK_OK);
}

static void
tomb_init(casebook_tombstone *t, uint8_t id, uint8_t recall)
{
    memset(t, 0, sizeof(*t));
    t->id[0] = id;
    t->recall[0] = recall;
    t->recall[15] = 1;
    snprintf(t->action, sizeof(t->action), "recall");
    snprintf(t->reason, sizeof(t->reason), "entered in error");
    t->time_ms = 5000u + recall;
}

static void
test_casebook_recall_whole(void **state)
{
    casebook_tombstone t, got, *all = NULL;
    casebook_entry *e = NULL;
    casebook_list *l = NULL;
    size_t n = 0;

    (void)state;
    put_received(7, "mlat.request", "MEX-FGR-2026-0099", "{\"schema\":\"mlat.request/1\"}");
    put_received(8, "mlat.status", "MEX-FGR-2026-0099", "{\"schema\":\"mlat.status/1\"}");
    tomb_init(&t, 7, 0x70);
    assert_int_equal(casebook_recall(cb, NULL, 0, &t), CASEBOOK_OK);
    assert_string_equal(t.kind, "mlat.request");
    assert_string_equal(t.peer, "USA/FBI");
    assert_string_equal(t.case_id, "MEX-FGR-2026-0099");
    assert_true(t.whole);
    assert_true(t.has_hash);
    /* The content is gone; the case lists only what is left. */
    assert_int_equal(casebook_get(cb, false, t.id, true, &e), CASEBOOK_ERR_NOT_FOUND);
    assert_int_equal(casebook_list_case(cb, "mlat", "MEX-FGR-2026-0099", true, &l), CASEBOOK_OK);
    assert_int_equal(l->count, 1);
    assert_int_equal(l->entries[0]->id[0], 8);
    casebook_list_free(&l);
    /* The tombstone says what it was, who recalled it and why. */
    assert_int_equal(casebook_tombstone_get(cb, t.id, &got), CASEBOOK_OK);
    assert_string_equal(got.reason, "entered in error");
    assert_string_equal(got.action, "recall");
    assert_int_equal(got.recall[0], 0x70);
    assert_memory_equal(got.envelope_hash, t.envelope_hash, 32);
    assert_int_equal(got.time_ms, 5000u + 0x70);
    /* The same recall again (delivered again after a crash): the same tombstone. */
    memset(&got, 0, sizeof(got));
    tomb_init(&got, 7, 0x70);
    assert_int_equal(casebook_recall(cb, NULL, 0, &got), CASEBOOK_OK);
    assert_string_equal(got.kind, "mlat.request");
    /* Another recall of it: nothing held any more. */
    tomb_init(&got, 7, 0x71);
    assert_int_equal(casebook_recall(cb, NULL, 0, &got), CASEBOOK_ERR_NOT_FOUND);
    /* A message never received: not held. */
    tomb_init(&got, 9, 0x72);
    assert_int_equal(casebook_recall(cb, NULL, 0, &got), CASEBOOK_ERR_NOT_FOUND);
    assert_int_equal(casebook_tombstone_get(cb, got.id, &got), CASEBOOK_ERR_NOT_FOUND);
    assert_int_equal(casebook_tombstones(cb, &all, &n), CASEBOOK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(all[0].id[0], 7);
    free(all);
}

static void
test_casebook_recall_records(void **state)
{
    const char *one[] = {"FBI-WL-1"}, *other[] = {"FBI-WL-9"}, *two[] = {"FBI-WL-2", "FBI-WL-3"};
    casebook_tombstone t, *all = NULL;
    casebook_entry *e = NULL;
    size_t n = 0;

    (void)state;
    put_received(3, "watchlist.publish", "",
                 "{\"schema\":\"watchlist.publish/1\",\"entries\":[{\"ref\":\"FBI-WL-1\"},"
                 "{\"ref\":\"FBI-WL-2\"},{\"ref\":\"FBI-WL-3\"}]}");
    put_received(4, "traveldoc.report", "", "{\"schema\":\"traveldoc.report/1\",\"ref\":\"TD-1\"}");
    /* A record the message does not hold: nothing changes. */
    tomb_init(&t, 3, 0x30);
    assert_int_equal(casebook_recall(cb, other, 1, &t), CASEBOOK_ERR_NOT_FOUND);
    /* One entry goes, the others stay, the envelope bytes (which hold it) go. */
    tomb_init(&t, 3, 0x31);
    assert_int_equal(casebook_recall(cb, one, 1, &t), CASEBOOK_OK);
    assert_false(t.whole);
    assert_string_equal(t.records, "FBI-WL-1");
    assert_int_equal(casebook_get(cb, false, t.id, true, &e), CASEBOOK_OK);
    assert_null(strstr(e->body, "FBI-WL-1"));
    assert_non_null(strstr(e->body, "FBI-WL-2"));
    assert_non_null(strstr(e->body, "FBI-WL-3"));
    assert_null(e->raw);
    casebook_entry_free(&e);
    /* The last two: the whole message goes. */
    tomb_init(&t, 3, 0x32);
    assert_int_equal(casebook_recall(cb, two, 2, &t), CASEBOOK_OK);
    assert_true(t.whole);
    assert_string_equal(t.records, "FBI-WL-2 FBI-WL-3");
    assert_int_equal(casebook_get(cb, false, t.id, false, &e), CASEBOOK_ERR_NOT_FOUND);
    /* A report of one document, named: the whole message. */
    one[0] = "TD-1";
    tomb_init(&t, 4, 0x40);
    assert_int_equal(casebook_recall(cb, one, 1, &t), CASEBOOK_OK);
    assert_true(t.whole);
    assert_int_equal(casebook_tombstones(cb, &all, &n), CASEBOOK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(all[0].recall[0], 0x31);
    assert_int_equal(all[2].recall[0], 0x40);
    free(all);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_casebook_each_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_casebook_recall_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_casebook_recall_records, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
