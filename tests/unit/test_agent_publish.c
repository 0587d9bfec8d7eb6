/* Unit tests of traveldoc.publish: the checks of a part, filing by version, lookup, recall. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_store_fixture.h"
#include "helpers.h"
#include "liaison_policy.h"

#define PUBLISHER "USA/CBP"

/* A base64 text of n bytes. */
static char *
b64(const uint8_t *bytes, size_t n)
{
    size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(len);

    assert_non_null(s);
    sodium_bin2base64(s, len, bytes, n, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

/* A hashed part of version over numbers[first..first+n) with key. */
static json_t *
hashed_body(const uint8_t key[32], uint32_t version, uint32_t part, uint32_t parts,
            uint64_t count, const char *prefix, size_t first, size_t n)
{
    uint8_t *values = malloc(n * 16 + 1);
    char number[64], *kb, *vb;
    json_t *body;

    assert_non_null(values);
    for (size_t i = 0; i < n; i++) {
        snprintf(number, sizeof(number), "%s%06zu", prefix, first + i);
        assert_true(agent_publication_hash(key, number, values + i * 16));
    }
    kb = b64(key, 32);
    vb = b64(values, n * 16);
    body = json_pack("{s:s, s:s, s:i, s:i, s:i, s:I, s:s, s:{s:s, s:s, s:s}}", "schema",
                     "traveldoc.publish/1", "publication", "lost-passports", "version", version,
                     "part", part, "parts", parts, "count", (json_int_t)count, "form", "hashes",
                     "hashes", "algorithm", "blake2b-128-keyed", "key", kb, "values", vb);
    free(values);
    free(kb);
    free(vb);
    assert_non_null(body);
    return body;
}

static json_t *
records_body(uint32_t version, const char *prefix, size_t n)
{
    json_t *recs = json_array();
    char number[64], ref[64];

    for (size_t i = 0; i < n; i++) {
        snprintf(number, sizeof(number), "%s%06zu", prefix, i);
        snprintf(ref, sizeof(ref), "R-%s-%zu", prefix, i);
        json_array_append_new(recs, json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s}", "ref", ref,
                                              "document", "type", "passport", "number", number,
                                              "country", "USA", "status", "stolen", "reported",
                                              "2026-11-02"));
    }
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:I, s:s, s:o}", "schema", "traveldoc.publish/1",
                     "publication", "stolen", "version", version, "part", 1, "parts", 1, "count",
                     (json_int_t)n, "form", "records", "records", recs);
}

/* Checks body and expects it refused with a reason that holds want. */
static void
refused(json_t *body, const char *want)
{
    agent_publication_part p;
    char why[300];

    assert_false(agent_publication_check(body, &p, why, sizeof(why)));
    if (strstr(why, want) == NULL)
        fail_msg("reason '%s' lacks '%s'", why, want);
    json_decref(body);
}

static void
test_agent_publish_check_accepts(void **state)
{
    uint8_t key[32];
    agent_publication_part p;
    char why[300];
    json_t *body;

    (void)state;
    randombytes_buf(key, sizeof(key));
    body = hashed_body(key, 3, 1, 1, 10, "P", 0, 10);
    assert_true(agent_publication_check(body, &p, why, sizeof(why)));
    assert_true(p.hashed);
    assert_int_equal(p.version, 3);
    assert_int_equal(p.hash_count, 10);
    assert_memory_equal(p.key, key, 32);
    agent_publication_part_clear(&p);
    json_decref(body);
    body = records_body(1, "R", 5);
    assert_true(agent_publication_check(body, &p, why, sizeof(why)));
    assert_false(p.hashed);
    assert_int_equal(json_array_size(p.records), 5);
    agent_publication_part_clear(&p);
    json_decref(body);
}

static void
test_agent_publish_check_refuses(void **state)
{
    uint8_t key[32];
    json_t *body;

    (void)state;
    randombytes_buf(key, sizeof(key));
    body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
    json_object_set_new(json_object_get(body, "hashes"), "values", json_string("not*base64!"));
    refused(body, "hashes.values");
    body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
    /* 15 bytes: "AAAAAAAAAAAAAAAAAAAA" is 15 bytes of zeros. */
    json_object_set_new(json_object_get(body, "hashes"), "values",
                        json_string("AAAAAAAAAAAAAAAAAAAA"));
    refused(body, "not a multiple of 16");
    body = hashed_body(key, 1, 3, 2, 4, "P", 0, 4);
    refused(body, "part:");
    refused(hashed_body(key, 1, 1, 1, 5, "P", 0, 4), "count:");
    refused(hashed_body(key, 1, 1, 2, 4, "P", 0, 4), "count:");
    body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
    json_object_set_new(body, "parts", json_integer(AGENT_PUBLISH_PARTS_MAX + 1));
    refused(body, "parts:");
    body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
    json_object_set_new(body, "version", json_integer(0));
    refused(body, "version:");
    body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
    json_object_set_new(json_object_get(body, "hashes"), "key", json_string("AAAA"));
    refused(body, "hashes.key");
    body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
    json_object_set_new(json_object_get(body, "hashes"), "algorithm", json_string("md5"));
    refused(body, "hashes.algorithm");
    body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
    json_object_set_new(body, "publication", json_string("has space"));
    refused(body, "publication:");
    body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
    json_object_set_new(body, "form", json_string("both"));
    refused(body, "form:");
    body = records_body(1, "R", 3);
    json_object_set_new(json_array_get(json_object_get(body, "records"), 1), "status",
                        json_string("misplaced"));
    refused(body, "records[1]");
    body = records_body(1, "R", 3);
    json_object_set_new(body, "records", json_array());
    refused(body, "records:");
    /* More hashes than a part may hold. */
    {
        size_t n = (size_t)AGENT_PUBLISH_HASHES_MAX + 1;
        uint8_t *v = calloc(n, 16);
        char *vb;

        assert_non_null(v);
        vb = b64(v, n * 16);
        body = hashed_body(key, 1, 1, 1, 4, "P", 0, 4);
        json_object_set_new(json_object_get(body, "hashes"), "values", json_string(vb));
        json_object_set_new(body, "count", json_integer((json_int_t)n));
        refused(body, "hashes.values");
        free(vb);
        free(v);
    }
}

/* A store, and an event from PUBLISHER with message id byte b. */

static void
event(liaison_event *e, uint8_t b)
{
    memset(e, 0, sizeof(*e));
    memset(e->id, b, 16);
    liaison_id_to_hex(e->id, e->id_hex);
    snprintf(e->kind, sizeof(e->kind), "traveldoc.publish");
    snprintf(e->sender, sizeof(e->sender), PUBLISHER);
    snprintf(e->labels, sizeof(e->labels), "LES");
}

/* Files body as message b; returns whether it was refused. */
static bool
file(fixture *f, json_t *body, uint8_t b, bool *complete)
{
    agent_publication_part p;
    liaison_event e;
    agent_txn *t = NULL;
    bool refused_out = false;
    char why[300];

    event(&e, b);
    assert_true(agent_publication_check(body, &p, why, sizeof(why)));
    assert_int_equal(agent_store_begin(f->st, true, &t), AGENT_STORE_OK);
    assert_int_equal(agent_publication_file(t, &e, &p, &refused_out, complete, why, sizeof(why)),
                     AGENT_STORE_OK);
    assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);
    agent_publication_part_clear(&p);
    json_decref(body);
    return refused_out;
}

/* The hash hits of number, and the complete publications held. */
static size_t
hits(fixture *f, const char *number, size_t *complete)
{
    agent_txn *t = NULL;
    json_t *h = NULL, *c = NULL;
    size_t n;

    assert_int_equal(agent_store_begin(f->st, false, &t), AGENT_STORE_OK);
    assert_int_equal(agent_publication_lookup(t, number, &h, &c), AGENT_STORE_OK);
    agent_store_abort(&t);
    n = json_array_size(h);
    if (n > 0)
        assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "owner")),
                            PUBLISHER);
    if (complete != NULL)
        *complete = json_array_size(c);
    json_decref(h);
    json_decref(c);
    return n;
}

static size_t
count(fixture *f, agent_table table)
{
    agent_txn *t = NULL;
    size_t n = 0;

    assert_int_equal(agent_store_begin(f->st, false, &t), AGENT_STORE_OK);
    assert_int_equal(agent_store_count(t, table, &n), AGENT_STORE_OK);
    agent_store_abort(&t);
    return n;
}

static void
test_agent_publish_hashes_by_version(void **state)
{
    fixture *f = *state;
    uint8_t k1[32], k2[32];
    size_t complete = 9, found = 0;
    bool done = false;
    agent_txn *t = NULL;
    json_t *refs = json_array();
    char hex[33];
    uint8_t id[16];

    randombytes_buf(k1, sizeof(k1));
    randombytes_buf(k2, sizeof(k2));
    /* Version 1 in two parts: no hit until both landed. */
    assert_false(file(f, hashed_body(k1, 1, 1, 2, 6, "A", 0, 3), 1, &done));
    assert_false(done);
    assert_int_equal(hits(f, "A000001", &complete), 0);
    assert_int_equal(complete, 0);
    /* Delivered twice: nothing changes. */
    assert_false(file(f, hashed_body(k1, 1, 1, 2, 6, "A", 0, 3), 1, &done));
    assert_false(done);
    assert_false(file(f, hashed_body(k1, 1, 2, 2, 6, "A", 3, 3), 2, &done));
    assert_true(done);
    assert_int_equal(hits(f, "A000001", &complete), 1);
    assert_int_equal(hits(f, "a-000005", NULL), 1); /* normalised as the publisher did */
    assert_int_equal(hits(f, "A000006", NULL), 0);
    assert_int_equal(complete, 1);
    assert_int_equal(count(f, AGENT_T_DIGESTS), 6);
    /* A part of version 2 with another key than its first part is refused. */
    assert_false(file(f, hashed_body(k2, 2, 1, 2, 4, "B", 0, 2), 3, &done));
    assert_true(file(f, hashed_body(k1, 2, 2, 2, 4, "B", 2, 2), 4, &done));
    assert_false(file(f, hashed_body(k2, 2, 2, 2, 4, "B", 2, 2), 5, &done));
    assert_true(done);
    /* Version 2 replaced version 1. */
    assert_int_equal(hits(f, "A000001", NULL), 0);
    assert_int_equal(hits(f, "B000003", NULL), 1);
    assert_int_equal(count(f, AGENT_T_DIGESTS), 4);
    /* An older version is refused. */
    assert_true(file(f, hashed_body(k1, 1, 1, 1, 1, "C", 0, 1), 6, &done));
    /* Recalling a part of version 2 takes its hashes. */
    memset(id, 5, 16);
    liaison_id_to_hex(id, hex);
    assert_int_equal(agent_store_begin(f->st, true, &t), AGENT_STORE_OK);
    assert_int_equal(agent_records_of_message(t, hex, PUBLISHER, NULL, true, refs, &found, NULL),
                     AGENT_STORE_OK);
    assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);
    assert_int_equal(found, 4);
    assert_string_equal(json_string_value(json_array_get(refs, 0)),
                        "hashes:" PUBLISHER ":lost-passports:2");
    assert_int_equal(count(f, AGENT_T_DIGESTS), 0);
    assert_int_equal(hits(f, "B000003", &complete), 0);
    assert_int_equal(complete, 0);
    json_decref(refs);
}

/* A version of more hashes than one batch of deletion is replaced whole. */
static void
test_agent_publish_large_version_replaced(void **state)
{
    fixture *f = *state;
    uint8_t k[32];
    bool done = false;

    randombytes_buf(k, sizeof(k));
    assert_false(file(f, hashed_body(k, 1, 1, 1, 70000, "L", 0, 70000), 1, &done));
    assert_true(done);
    assert_int_equal(count(f, AGENT_T_DIGESTS), 70000);
    assert_int_equal(hits(f, "L069999", NULL), 1);
    assert_false(file(f, hashed_body(k, 2, 1, 1, 1, "M", 0, 1), 2, &done));
    assert_true(done);
    assert_int_equal(count(f, AGENT_T_DIGESTS), 1);
    assert_int_equal(hits(f, "L069999", NULL), 0);
}

static void
test_agent_publish_parts_short_of_count(void **state)
{
    fixture *f = *state;
    uint8_t k[32];
    size_t complete = 9;
    bool done = true;

    randombytes_buf(k, sizeof(k));
    /* Two parts that claim 5 hashes between them and hold 4. */
    assert_false(file(f, hashed_body(k, 1, 1, 2, 5, "D", 0, 2), 1, &done));
    assert_false(done);
    assert_int_equal(count(f, AGENT_T_DIGESTS), 2);
    assert_true(file(f, hashed_body(k, 1, 2, 2, 5, "D", 2, 2), 2, &done));
    assert_false(done);
    assert_int_equal(count(f, AGENT_T_DIGESTS), 0);
    assert_int_equal(hits(f, "D000001", &complete), 0);
    assert_int_equal(complete, 0);
}

#define DAY 86400000ull
#define CREATED (1800000000000ull)

static const char retention_policy[] =
    "nation: CAN\npartners:\n  - nation: USA\n"
    "retention:\n"
    "  - id: publications-1w\n    kinds: [traveldoc.*]\n    keep: 1w\n";

static void
deleted(void *arg, const agent_deletion *d)
{
    char *out = arg;
    size_t used = strlen(out);

    snprintf(out + used, 1024 - used, "%s %zu [%s]\n", d->kind, d->record_count, d->records);
}

/* Retention deletes a hashed version's part, and its hashes with it. */
static void
test_agent_publish_retention(void **state)
{
    fixture *f = *state;
    agent_publication_part p;
    liaison_event e;
    agent_txn *t = NULL;
    policy *pol = NULL;
    uint8_t k[32];
    json_t *body;
    bool refused_out = true;
    char why[300], seen[1024] = "";
    size_t n = 0;

    randombytes_buf(k, sizeof(k));
    body = hashed_body(k, 1, 1, 1, 3, "E", 0, 3);
    assert_true(agent_publication_check(body, &p, why, sizeof(why)));
    event(&e, 7);
    e.created_ms = CREATED;
    e.raw = (uint8_t *)"envelope";
    e.raw_len = 8;
    assert_int_equal(agent_store_begin(f->st, true, &t), AGENT_STORE_OK);
    assert_int_equal(agent_publication_file(t, &e, &p, &refused_out, NULL, why, sizeof(why)),
                     AGENT_STORE_OK);
    assert_false(refused_out);
    assert_int_equal(agent_filed_put(t, &e), AGENT_STORE_OK);
    assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);
    agent_publication_part_clear(&p);
    json_decref(body);
    assert_int_equal(hits(f, "E000002", NULL), 1);
    assert_int_equal(policy_load_buffer((const uint8_t *)retention_policy,
                                        strlen(retention_policy), "t", &pol, NULL), POLICY_OK);
    /* Within the week: nothing goes. */
    assert_int_equal(agent_retention_sweep(f->st, pol, CREATED + 6 * DAY, false, deleted, seen, &n),
                     AGENT_STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(count(f, AGENT_T_DIGESTS), 3);
    assert_int_equal(agent_retention_sweep(f->st, pol, CREATED + 8 * DAY, false, deleted, seen, &n),
                     AGENT_STORE_OK);
    assert_int_equal(n, 1);
    assert_non_null(strstr(seen, "traveldoc.publish 3 [hashes:" PUBLISHER ":lost-passports:1]"));
    assert_int_equal(count(f, AGENT_T_DIGESTS), 0);
    assert_int_equal(hits(f, "E000002", NULL), 0);
    policy_destroy(&pol);
}

static void
test_agent_publish_records_by_version(void **state)
{
    fixture *f = *state;
    agent_txn *t = NULL;
    json_t *doc, *h = NULL, *rec = NULL;
    bool done = false;

    assert_false(file(f, records_body(1, "X", 5), 1, &done));
    assert_true(done);
    assert_int_equal(count(f, AGENT_T_PARTNER_DOCS), 5);
    assert_int_equal(agent_store_begin(f->st, false, &t), AGENT_STORE_OK);
    assert_int_equal(agent_json_get(t, AGENT_T_PARTNER_DOCS, PUBLISHER " R-X-2", &rec),
                     AGENT_STORE_OK);
    assert_int_equal(json_integer_value(json_object_get(rec, "version")), 1);
    assert_string_equal(json_string_value(json_object_get(rec, "publication")), "stolen");
    doc = json_pack("{s:s, s:s}", "type", "passport", "number", "X000002");
    assert_int_equal(agent_lookup_document(t, doc, AGENT_SCOPE_PARTNERS, true, &h),
                     AGENT_STORE_OK);
    assert_int_equal(json_array_size(h), 1);
    agent_store_abort(&t);
    json_decref(h);
    json_decref(rec);
    /* Version 2 holds other reports: version 1's go. */
    assert_false(file(f, records_body(2, "Y", 3), 2, &done));
    assert_true(done);
    assert_int_equal(count(f, AGENT_T_PARTNER_DOCS), 3);
    assert_int_equal(agent_store_begin(f->st, false, &t), AGENT_STORE_OK);
    assert_int_equal(agent_lookup_document(t, doc, AGENT_SCOPE_PARTNERS, true, &h),
                     AGENT_STORE_OK);
    assert_int_equal(json_array_size(h), 0);
    agent_store_abort(&t);
    json_decref(h);
    json_decref(doc);
}

static void
test_agent_publish_next_version(void **state)
{
    fixture *f = *state;
    agent_txn *t = NULL;
    uint32_t v = 0;

    for (uint32_t want = 1; want <= 3; want++) {
        assert_int_equal(agent_store_begin(f->st, true, &t), AGENT_STORE_OK);
        assert_int_equal(agent_publication_next_version(t, &v), AGENT_STORE_OK);
        assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);
        assert_int_equal(v, want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_publish_check_accepts),
        cmocka_unit_test(test_agent_publish_check_refuses),
        cmocka_unit_test_setup_teardown(test_agent_publish_hashes_by_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_publish_parts_short_of_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_publish_large_version_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_publish_records_by_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_publish_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_publish_next_version, setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
