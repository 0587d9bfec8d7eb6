/* Unit tests of the liaison tool's MLAT bundle module: custody entries, export and offline verification. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli_bundle.h"
#include "helpers.h"
#include "liaison_proto.h"

/* A small federation: two agencies with deterministic keys, and their roster. */
typedef struct fixture {
    proto_identity *doj;        /* the requested authority: sends evidence, signs custody */
    proto_identity *fgr;        /* the requesting authority: receives, exports */
    proto_roster *roster;       /* both cards */
    char dir[512];              /* scratch directory */
    char roster_path[600];      /* the roster file */
} fixture;

static void
card_text(const proto_identity *id, const char *accepts, char *out, size_t len)
{
    proto_card card;
    char text[512];

    proto_identity_card(id, &card);
    assert_int_equal(proto_card_format(&card, text, sizeof(text)), PROTO_OK);
    /* The card's first line names the block; the roster writes "card" ... "end". */
    snprintf(out + strlen(out), len - strlen(out), "\ncard\n%saccepts %s\nend\n",
             strchr(text, '\n') + 1, accepts);
}

static proto_identity *
identity(const char *addr_text, uint8_t seed_byte)
{
    proto_addr addr;
    uint8_t seed[32];
    proto_identity *id = NULL;

    memset(seed, seed_byte, sizeof(seed));
    assert_int_equal(proto_addr_parse(addr_text, &addr, NULL), PROTO_OK);
    assert_int_equal(proto_identity_from_seed(&addr, seed, &id), PROTO_OK);
    return id;
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char roster[4096] = "liaison-roster 1\n";
    FILE *fp;

    assert_non_null(f);
    f->doj = identity("USA/DOJ", 1);
    f->fgr = identity("MEX/FGR", 2);
    card_text(f->doj, "mlat.*", roster, sizeof(roster));
    card_text(f->fgr, "mlat.*", roster, sizeof(roster));
    assert_int_equal(proto_roster_parse(roster, strlen(roster), &f->roster, NULL), PROTO_OK);
    test_scratch_dir(f->dir, sizeof(f->dir));
    snprintf(f->roster_path, sizeof(f->roster_path), "%s/roster", f->dir);
    fp = fopen(f->roster_path, "w");
    assert_non_null(fp);
    fputs(roster, fp);
    fclose(fp);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    proto_identity_destroy(&f->doj);
    proto_identity_destroy(&f->fgr);
    proto_roster_destroy(&f->roster);
    test_scratch_remove(f->dir);
    free(f);
    return 0;
}

/* ---- Custody entries ------------------------------------------------------------------ */

static void
test_cli_bundle_custody_input_layout(void **state)
{
    static const uint8_t want[] = "liaison custody v1\0" "2026-11-26T10:00:00Z\0" "USA/DOJ\0"
                                  "collected\0" "statements.pdf\0" "abcd";
    uint8_t *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(liaison_bundle_custody_input("2026-11-26T10:00:00Z", "USA/DOJ", "collected",
                                                  "statements.pdf", "abcd", &buf, &len),
                     LIAISON_OK);
    /* docs/messages.md: context, then the five values, each separated by one NUL. */
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(buf, want, len);
    free(buf);
}

static void
test_cli_bundle_custody_sign_and_check(void **state)
{
    fixture *f = *state;
    char sha[65], why[256];
    json_t *e, *bad;

    memset(sha, 'a', 64);
    sha[64] = '\0';
    e = bundle_custody_new(f->doj, 1764151200000ull, "collected from First Bank", "x.pdf", sha);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "actor")), "USA/DOJ");
    assert_string_equal(json_string_value(json_object_get(e, "time")), "2025-11-26T10:00:00Z");
    assert_int_equal(bundle_custody_check(e, f->roster, why, sizeof(why)), 0);

    /* Any changed value breaks the signature. */
    static const char *const fields[] = {"time", "action", "file", "sha256"};
    for (size_t i = 0; i < 4; i++) {
        bad = json_deep_copy(e);
        json_object_set_new(bad, fields[i], json_string("changed"));
        assert_int_equal(bundle_custody_check(bad, f->roster, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "does not verify"));
        json_decref(bad);
    }
    /* Claimed by someone else: their key does not verify it. */
    bad = json_deep_copy(e);
    json_object_set_new(bad, "actor", json_string("MEX/FGR"));
    assert_int_equal(bundle_custody_check(bad, f->roster, why, sizeof(why)), -1);
    json_decref(bad);
    /* An actor outside the roster, a missing field, a short signature. */
    bad = json_deep_copy(e);
    json_object_set_new(bad, "actor", json_string("GBR/NCA"));
    assert_int_equal(bundle_custody_check(bad, f->roster, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "not in the roster"));
    json_object_del(bad, "actor");
    assert_int_equal(bundle_custody_check(bad, f->roster, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "\"actor\""));
    json_decref(bad);
    bad = json_deep_copy(e);
    json_object_set_new(bad, "signature", json_string("00"));
    assert_int_equal(bundle_custody_check(bad, f->roster, why, sizeof(why)), -1);
    json_decref(bad);
    json_decref(e);
}

static void
test_cli_bundle_names_and_chunks(void **state)
{
    char longname[BUNDLE_NAME_MAX + 2];

    (void)state;
    assert_true(liaison_bundle_name_ok("statements.pdf"));
    assert_true(liaison_bundle_name_ok("bank records 2025.pdf"));
    assert_false(liaison_bundle_name_ok(""));
    assert_false(liaison_bundle_name_ok(NULL));
    assert_false(liaison_bundle_name_ok("."));
    assert_false(liaison_bundle_name_ok(".."));
    assert_false(liaison_bundle_name_ok(".hidden"));
    assert_false(liaison_bundle_name_ok("../etc/passwd"));
    assert_false(liaison_bundle_name_ok("a/b"));
    assert_false(liaison_bundle_name_ok("tab\there"));
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(liaison_bundle_name_ok(longname));
    longname[BUNDLE_NAME_MAX] = '\0';
    assert_true(liaison_bundle_name_ok(longname));

    assert_int_equal(bundle_chunk_count(0, 4u << 20), 1);
    assert_int_equal(bundle_chunk_count(1, 4u << 20), 1);
    assert_int_equal(bundle_chunk_count(4u << 20, 4u << 20), 1);
    assert_int_equal(bundle_chunk_count((4u << 20) + 1, 4u << 20), 2);
    assert_int_equal(bundle_chunk_count(23068672, 4u << 20), 6);
}

/* ---- Export and verification ------------------------------------------------------------ */

/* A received evidence message carrying data (cut into chunks of chunk bytes) as file name. */
static casebook_entry *
evidence(fixture *f, const char *name, const uint8_t *data, size_t len, size_t chunk,
         size_t drop_chunk, bool with_custody)
{
    static proto_reader reader[1];
    proto_draft_portion portions[8];
    proto_draft d;
    proto_addr to;
    json_t *m = json_pack("{s:s, s:s, s:i, s:[], s:[]}", "schema", "mlat.evidence/1", "case",
                          "MEX-FGR-2026-0099", "batch", 1, "files", "custody");
    uint8_t h[32];
    char sha[65], csha[65];
    char *text;
    size_t n = 1, chunks = (size_t)bundle_chunk_count(len, chunk);
    casebook_entry *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    proto_sha256(data, len, h);
    proto_hex(h, 32, sha);
    memset(&d, 0, sizeof(d));
    memset(portions, 0, sizeof(portions));
    reader[0].addr = f->fgr->addr;
    memcpy(reader[0].box_public, f->fgr->box_public, sizeof(reader[0].box_public));
    for (size_t k = 0; k < chunks; k++) {
        size_t off = k * chunk, clen = len - off < chunk ? len - off : chunk;

        if (k == drop_chunk)
            continue;
        proto_sha256(data + off, clen, h);
        proto_hex(h, 32, csha);
        json_array_append_new(json_object_get(m, "files"),
                              json_pack("{s:s, s:i, s:s, s:i, s:i, s:i, s:s}", "name", name,
                                        "size", (int)len, "sha256", sha, "chunk", (int)k, "chunks",
                                        (int)chunks, "portion", (int)n, "chunk_sha256", csha));
        proto_labels_clear(&portions[n].labels);
        portions[n].plain = data + off;
        portions[n].plain_len = clen;
        portions[n].readers = reader;
        portions[n].reader_count = 1;
        n++;
    }
    if (with_custody)
        json_array_append_new(json_object_get(m, "custody"),
                              bundle_custody_new(f->doj, 1764151200000ull, "collected", name, sha));
    text = json_dumps(m, JSON_COMPACT);
    proto_labels_clear(&portions[0].labels);
    portions[0].plain = (const uint8_t *)text;
    portions[0].plain_len = strlen(text);
    portions[0].readers = reader;
    portions[0].reader_count = 1;
    assert_int_equal(proto_addr_parse("MEX/FGR", &to, NULL), PROTO_OK);
    d.kind = "mlat.evidence";
    d.actor = "badge-4411";
    d.created_ms = 1764151200000ull;
    d.expires_ms = d.created_ms + 86400000ull;
    d.recipients = &to;
    d.recipient_count = 1;
    d.case_id = "MEX-FGR-2026-0099";
    proto_labels_clear(&d.labels);
    d.portions = portions;
    d.portion_count = n;
    assert_int_equal(proto_envelope_seal(&d, f->doj, &e->raw, &e->raw_len, NULL), PROTO_OK);
    {
        proto_envelope env;

        assert_int_equal(proto_envelope_decode(e->raw, e->raw_len, &env, NULL), PROTO_OK);
        memcpy(e->id, env.id, 16);
    }
    e->sent = false;
    snprintf(e->kind, sizeof(e->kind), "mlat.evidence");
    snprintf(e->peer, sizeof(e->peer), "USA/DOJ");
    snprintf(e->case_id, sizeof(e->case_id), "MEX-FGR-2026-0099");
    e->time_ms = e->created_ms = d.created_ms;
    e->body = text;
    json_decref(m);
    return e;
}

static void
list_free(casebook_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->entries[i]->body);
        free(l->entries[i]->raw);
        free(l->entries[i]->recipients);
        free(l->entries[i]);
    }
}

static int
export_to(fixture *f, casebook_list *l, const char *out, char *why, size_t why_len)
{
    bundle_export_args a;

    memset(&a, 0, sizeof(a));
    a.case_id = "MEX-FGR-2026-0099";
    a.messages = l;
    a.me = f->fgr;
    a.roster_path = f->roster_path;
    a.out_dir = out;
    a.now_ms = 1764151300000ull;
    return bundle_export(&a, NULL, why, why_len);
}

static int
verify(const char *dir, json_t **report)
{
    json_decref(*report);
    *report = NULL;
    return bundle_verify(dir, NULL, report);
}

static void
flip(const char *path, long at)
{
    FILE *fp = fopen(path, "r+b");
    int c;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, at, SEEK_SET), 0);
    c = fgetc(fp);
    assert_int_equal(fseek(fp, at, SEEK_SET), 0);
    fputc(c ^ 0x20, fp);
    fclose(fp);
}

static const char *
first_failure_file(json_t *report)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(report, "failures"), 0), "file"));
}

static void
test_cli_bundle_export_and_verify(void **state)
{
    fixture *f = *state;
    size_t len = 10000;
    uint8_t *data = malloc(len);
    casebook_entry *entries[1];
    casebook_list l = {1, entries};
    char out[700], path[900], why[512];
    json_t *report = NULL;

    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    entries[0] = evidence(f, "statements.pdf", data, len, 4096, SIZE_MAX, true);
    snprintf(out, sizeof(out), "%s/bundle", f->dir);
    if (export_to(f, &l, out, why, sizeof(why)) != EX_OK)
        fail_msg("export: %s", why);
    assert_int_equal(verify(out, &report), 0);
    assert_true(json_is_true(json_object_get(report, "ok")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(report, "checked"), "chunks")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(report, "checked"), "custody")), 1);
    /* Without --audit-data: a warning, not a failure. */
    assert_int_equal(json_array_size(json_object_get(report, "warnings")), 1);

    /* Exporting into a directory that is not empty is refused. */
    assert_int_equal(export_to(f, &l, out, why, sizeof(why)), EX_CANTCREAT);
    assert_non_null(strstr(why, "not an empty directory"));

    /* A changed byte of the file, of the envelope, of the manifest: each fails, named. */
    snprintf(path, sizeof(path), "%s/files/statements.pdf", out);
    flip(path, 5000);
    assert_int_equal(verify(out, &report), 1);
    assert_string_equal(first_failure_file(report), "files/statements.pdf");
    flip(path, 5000);
    assert_int_equal(verify(out, &report), 0);
    {
        char id[33], rel[64];

        proto_id_format(entries[0]->id, id);
        snprintf(rel, sizeof(rel), "envelopes/%s.env", id);
        snprintf(path, sizeof(path), "%s/%s", out, rel);
        flip(path, 200);
        assert_int_equal(verify(out, &report), 1);
        assert_string_equal(first_failure_file(report), rel);
        flip(path, 200);
    }
    snprintf(path, sizeof(path), "%s/manifest.json", out);
    flip(path, 40);
    assert_int_equal(verify(out, &report), 1);
    assert_string_equal(first_failure_file(report), "manifest.json");
    flip(path, 40);
    assert_int_equal(verify(out, &report), 0);

    /* An extra file, unlisted. */
    snprintf(path, sizeof(path), "%s/files/planted.txt", out);
    {
        FILE *fp = fopen(path, "w");

        assert_non_null(fp);
        fputs("x", fp);
        fclose(fp);
    }
    assert_int_equal(verify(out, &report), 1);
    assert_string_equal(first_failure_file(report), "files/planted.txt");
    remove(path);
    assert_int_equal(verify(out, &report), 0);

    /* No such bundle. */
    json_decref(report);
    assert_int_equal(bundle_verify("/nonexistent/bundle", NULL, &report), EX_NOINPUT);
    json_decref(report);
    list_free(&l);
    free(data);
}

static void
test_cli_bundle_export_refuses_incomplete(void **state)
{
    fixture *f = *state;
    size_t len = 10000;
    uint8_t *data = calloc(1, len);
    casebook_entry *entries[1];
    casebook_list l = {1, entries};
    char out[700], why[512];

    /* Chunk 1 of 3 never arrived; nothing is left behind. */
    entries[0] = evidence(f, "statements.pdf", data, len, 4096, 1, true);
    snprintf(out, sizeof(out), "%s/incomplete", f->dir);
    assert_int_equal(export_to(f, &l, out, why, sizeof(why)), EX_DATAERR);
    assert_non_null(strstr(why, "chunk 1 of 3"));
    {
        struct stat sb;

        assert_int_not_equal(stat(out, &sb), 0);
    }
    list_free(&l);

    /* A chunk that does not match its manifest hash is found while writing: the
     * partial bundle is removed. */
    entries[0] = evidence(f, "statements.pdf", data, len, 4096, SIZE_MAX, true);
    {
        json_t *m = json_loads(entries[0]->body, 0, NULL);
        json_t *fe = json_array_get(json_object_get(m, "files"), 1);

        json_object_set_new(fe, "chunk_sha256", json_string("0000000000000000000000000000000000000000000000000000000000000000"));
        free(entries[0]->body);
        entries[0]->body = json_dumps(m, JSON_COMPACT);
        json_decref(m);
    }
    assert_int_equal(export_to(f, &l, out, why, sizeof(why)), EX_DATAERR);
    assert_non_null(strstr(why, "does not match its manifest hash"));
    {
        struct stat sb;
        char partial[800];

        assert_int_not_equal(stat(out, &sb), 0);
        snprintf(partial, sizeof(partial), "%s.partial-%ld", out, (long)getpid());
        assert_int_not_equal(stat(partial, &sb), 0);
    }
    list_free(&l);

    /* No custody entry for the file. */
    entries[0] = evidence(f, "statements.pdf", data, len, 4096, SIZE_MAX, false);
    assert_int_equal(export_to(f, &l, out, why, sizeof(why)), EX_DATAERR);
    assert_non_null(strstr(why, "custody"));
    list_free(&l);

    /* No evidence at all. */
    l.count = 0;
    assert_int_equal(export_to(f, &l, out, why, sizeof(why)), EX_DATAERR);
    assert_non_null(strstr(why, "no evidence"));
    free(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_bundle_custody_input_layout),
        cmocka_unit_test(test_cli_bundle_custody_sign_and_check),
        cmocka_unit_test(test_cli_bundle_names_and_chunks),
        cmocka_unit_test(test_cli_bundle_export_and_verify),
        cmocka_unit_test(test_cli_bundle_export_refuses_incomplete),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    test_quiet_logs();
    return cmocka_run_group_tests(tests, setup, teardown);
}
