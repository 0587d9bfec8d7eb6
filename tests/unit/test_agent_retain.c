/* Unit tests of the agent store's retention: records filed from a message go with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "helpers.h"
#include "liaison_policy.h"

#define DAY 86400000ull
#define NOW (1800000000000ull)

#define MSG_A "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a" /* a publish of two entries, created 10 days ago */
#define MSG_B "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b" /* a publish created yesterday */
#define MSG_C "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c" /* a designation, created 10 days ago, held */
#define MSG_D "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d" /* a traveldoc report in a case that closed */
#define MSG_E "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e" /* the mlat.status that closed it */
#define MSG_F "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f" /* a publish filed by an older agent: not indexed */

static const char policy_text[] =
    "nation: CAN\npartners:\n  - nation: USA\n"
    "retention:\n"
    "  - id: partner-lists-1w\n    kinds: [watchlist.publish, freeze.designation]\n    keep: 1w\n"
    "  - id: reports-case\n    kinds: [traveldoc.report]\n    keep: case\n"
    "holds:\n"
    "  - id: hold-trial\n    message: " MSG_C "\n    until: 2099-01-01\n    reason: \"trial\"\n";

static void
put(agent_txn *t, agent_table table, const char *key, const char *text)
{
    json_t *o = json_loads(text, 0, NULL);

    assert_non_null(o);
    assert_int_equal(agent_json_put(t, table, key, o), AGENT_STORE_OK);
    json_decref(o);
}

/* The filed index entry of message hex, as agent_filed_put writes it. */
static void
filed(agent_txn *t, const char *hex, const char *kind, const char *case_id, uint64_t created)
{
    uint8_t id[16];
    char text[512];

    assert_int_equal(proto_unhex(hex, id, 16), PROTO_OK);
    snprintf(text, sizeof(text), "{\"kind\": \"%s\", \"from\": \"USA/FBI\", \"message\": \"%s\", "
             "\"labels\": \"UNCLASSIFIED//LES\", \"case\": \"%s\", \"created_ms\": %llu, "
             "\"envelope_hash\": \"%064d\"}", kind, hex, case_id, (unsigned long long)created, 7);
    assert_int_equal(agent_store_put(t, AGENT_T_FILED, id, 16, text, strlen(text)),
                     AGENT_STORE_OK);
}

static bool
has(agent_store *st, agent_table table, const char *key)
{
    agent_txn *t = NULL;
    json_t *o = NULL;
    agent_store_err err;

    assert_int_equal(agent_store_begin(st, false, &t), AGENT_STORE_OK);
    err = agent_json_get(t, table, key, &o);
    agent_store_abort(&t);
    json_decref(o);
    return err == AGENT_STORE_OK;
}

static void
collect(void *arg, const agent_deletion *d)
{
    char *out = arg;
    size_t used = strlen(out);

    snprintf(out + used, 4096 - used, "%s %s %s %zu [%s] %llu\n", d->id, d->kind, d->rule,
             d->record_count, d->records, (unsigned long long)d->created_ms);
}

static void
fill(agent_store *st)
{
    agent_txn *t = NULL;
    char key[AGENT_STORE_KEY_MAX];
    uint8_t id[16];
    const char meta[] = "{\"kind\": \"mlat.status\", \"from\": \"USA/DOJ\", \"message\": \"" MSG_E
                        "\", \"labels\": \"UNCLASSIFIED\", \"case\": \"CASE-9\", \"status\": "
                        "\"closed\", \"received\": \"2027-01-15T08:00:00Z\"}";
    json_t *m = json_loads(meta, 0, NULL);

    assert_int_equal(agent_store_begin(st, true, &t), AGENT_STORE_OK);
    put(t, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-1", "{\"from\": \"USA/FBI\", \"message\": \"" MSG_A
        "\", \"entry\": {\"ref\": \"W-1\", \"names\": [\"Ann Example\"]}}");
    put(t, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-2", "{\"from\": \"USA/FBI\", \"message\": \"" MSG_A
        "\", \"entry\": {\"ref\": \"W-2\", \"names\": [\"Bob Example\"]}}");
    put(t, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-3", "{\"from\": \"USA/FBI\", \"message\": \"" MSG_B
        "\", \"entry\": {\"ref\": \"W-3\", \"names\": [\"Cy Example\"]}}");
    filed(t, MSG_A, "watchlist.publish", "", NOW - 10 * DAY);
    filed(t, MSG_B, "watchlist.publish", "", NOW - 1 * DAY);
    agent_designation_key("USA/FBI", "D-1", 1, key, sizeof(key));
    put(t, AGENT_T_DESIGNATIONS, key, "{\"designation\": \"D-1\", \"version\": 1, \"from\": "
        "\"USA/FBI\", \"message\": \"" MSG_C "\"}");
    filed(t, MSG_C, "freeze.designation", "", NOW - 10 * DAY);
    put(t, AGENT_T_PARTNER_DOCS, "USA/FBI T-1", "{\"from\": \"USA/FBI\", \"message\": \"" MSG_D
        "\", \"report\": {\"ref\": \"T-1\"}}");
    filed(t, MSG_D, "traveldoc.report", "CASE-9", NOW - 1 * DAY);
    assert_int_equal(proto_unhex(MSG_E, id, 16), PROTO_OK);
    assert_int_equal(agent_blob_put(t, AGENT_T_KEPT, id, 16, m, "envelope", 8), AGENT_STORE_OK);
    assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);
    json_decref(m);
}

/* Retention deletes the records filed from a message whose retention ended,
 * counted from its created time, and journals them with the rule. */
static void
test_agent_retain_deletes_filed_records(void **state)
{
    char dir[512], why[256], seen[4096] = "", journal[4096] = "", key[AGENT_STORE_KEY_MAX];
    agent_store *st = NULL;
    policy *pol = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(policy_load_buffer((const uint8_t *)policy_text, strlen(policy_text), "t",
                                        &pol, NULL), POLICY_OK);
    test_scratch_dir(dir, sizeof(dir));
    assert_int_equal(agent_store_open(dir, &st, why, sizeof(why)), AGENT_STORE_OK);
    fill(st);
    /* A dry run reports and deletes nothing. */
    assert_int_equal(agent_retention_sweep(st, pol, NOW, true, collect, seen, &n), AGENT_STORE_OK);
    assert_int_equal(n, 2);
    assert_non_null(strstr(seen, MSG_A " watchlist.publish partner-lists-1w 2 [W-1 W-2]"));
    assert_non_null(strstr(seen, MSG_D " traveldoc.report reports-case 1 [T-1]"));
    assert_true(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-1"));
    seen[0] = '\0';
    assert_int_equal(agent_retention_sweep(st, pol, NOW, false, collect, seen, &n), AGENT_STORE_OK);
    assert_int_equal(n, 2);
    assert_false(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-1"));
    assert_false(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-2"));
    assert_false(has(st, AGENT_T_PARTNER_DOCS, "USA/FBI T-1"));
    /* Created yesterday: kept.  Held: kept. */
    assert_true(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-3"));
    agent_designation_key("USA/FBI", "D-1", 1, key, sizeof(key));
    assert_true(has(st, AGENT_T_DESIGNATIONS, key));
    assert_int_equal(agent_journal_each(st, collect, journal), AGENT_STORE_OK);
    assert_non_null(strstr(journal, MSG_A " watchlist.publish partner-lists-1w 2 [W-1 W-2]"));
    assert_non_null(strstr(journal, MSG_D " traveldoc.report reports-case 1 [T-1]"));
    /* Nothing more to delete; a week later the second publish goes too. */
    seen[0] = '\0';
    assert_int_equal(agent_retention_sweep(st, pol, NOW, false, collect, seen, &n), AGENT_STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(agent_retention_sweep(st, pol, NOW + 7 * DAY, false, collect, seen, &n),
                     AGENT_STORE_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(seen, MSG_B " watchlist.publish partner-lists-1w 1 [W-3]"));
    assert_false(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-3"));
    assert_true(has(st, AGENT_T_DESIGNATIONS, key));
    agent_store_close(&st);
    policy_destroy(&pol);
}

/* What a recall deletes: only the named records, only of the message's
 * sender; a designation with its pending implement request. */
static void
test_agent_retain_records_of_message(void **state)
{
    char dir[512], why[256], key[AGENT_STORE_KEY_MAX], foreign[40];
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *named = json_pack("[s]", "W-2"), *refs = json_array();
    size_t found = 0;

    (void)state;
    test_scratch_dir(dir, sizeof(dir));
    assert_int_equal(agent_store_open(dir, &st, why, sizeof(why)), AGENT_STORE_OK);
    fill(st);
    assert_int_equal(agent_store_begin(st, true, &t), AGENT_STORE_OK);
    agent_designation_key("USA/FBI", "D-1", 1, key, sizeof(key));
    put(t, AGENT_T_IMPLEMENT, key, "{\"designation\": \"D-1\"}");
    /* Another sender: nothing deleted, and it is named. */
    assert_int_equal(agent_records_of_message(t, MSG_A, "MEX/FGR", NULL, true, refs, &found,
                                              foreign), AGENT_STORE_OK);
    assert_int_equal(found, 0);
    assert_string_equal(foreign, "USA/FBI");
    assert_int_equal(agent_records_of_message(t, MSG_A, "USA/FBI", named, true, refs, &found,
                                              foreign), AGENT_STORE_OK);
    assert_int_equal(found, 1);
    assert_string_equal(foreign, "");
    assert_string_equal(json_string_value(json_array_get(refs, 0)), "W-2");
    assert_int_equal(agent_records_of_message(t, MSG_C, "USA/FBI", NULL, true, NULL, &found, NULL),
                     AGENT_STORE_OK);
    assert_int_equal(found, 1);
    assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);
    assert_true(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-1"));
    assert_false(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-2"));
    assert_false(has(st, AGENT_T_DESIGNATIONS, key));
    assert_false(has(st, AGENT_T_IMPLEMENT, key));
    json_decref(named);
    json_decref(refs);
    agent_store_close(&st);
}

/* A record filed before the filed table: reached through the record itself,
 * counted from when it was received; kept when the first rule for its kind
 * requires markings (its labels are not known). */
static void
test_agent_retain_unindexed_records(void **state)
{
    static const char marked[] =
        "nation: CAN\npartners:\n  - nation: USA\n"
        "retention:\n"
        "  - id: les-long\n    kinds: [watchlist.publish]\n    require: [LES]\n    keep: 10y\n"
        "  - id: all-short\n    kinds: ['*']\n    keep: 1d\n";
    char dir[512], why[256], seen[4096] = "", received[PROTO_TIME_TEXT_BYTES], text[512];
    agent_store *st = NULL;
    agent_txn *t = NULL;
    policy *pol = NULL, *pol2 = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(policy_load_buffer((const uint8_t *)policy_text, strlen(policy_text), "t",
                                        &pol, NULL), POLICY_OK);
    assert_int_equal(policy_load_buffer((const uint8_t *)marked, strlen(marked), "m", &pol2,
                                        NULL), POLICY_OK);
    test_scratch_dir(dir, sizeof(dir));
    assert_int_equal(agent_store_open(dir, &st, why, sizeof(why)), AGENT_STORE_OK);
    assert_int_equal(agent_store_begin(st, true, &t), AGENT_STORE_OK);
    proto_time_format(NOW - 10 * DAY, received);
    snprintf(text, sizeof(text), "{\"from\": \"USA/FBI\", \"message\": \"" MSG_F "\", "
             "\"received\": \"%s\", \"entry\": {\"ref\": \"W-9\"}}", received);
    put(t, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-9", text);
    assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);
    assert_int_equal(agent_retention_sweep(st, pol2, NOW, false, collect, seen, &n),
                     AGENT_STORE_OK);
    assert_int_equal(n, 0);
    assert_true(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-9"));
    assert_int_equal(agent_retention_sweep(st, pol, NOW, false, collect, seen, &n),
                     AGENT_STORE_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(seen, MSG_F " watchlist.publish partner-lists-1w 1 [W-9]"));
    assert_false(has(st, AGENT_T_PARTNER_ENTRIES, "USA/FBI W-9"));
    agent_store_close(&st);
    policy_destroy(&pol);
    policy_destroy(&pol2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_retain_deletes_filed_records),
        cmocka_unit_test(test_agent_retain_records_of_message),
        cmocka_unit_test(test_agent_retain_unindexed_records),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
