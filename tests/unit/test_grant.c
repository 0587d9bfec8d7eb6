/* Unit tests of proto/grant.c: consent grant tokens and their test vector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "liaison_proto.h"

static proto_identity *
identity(const char *addr_text, uint8_t seed_byte)
{
    proto_identity *id = NULL;
    uint8_t seed[32];
    proto_addr addr;

    memset(seed, seed_byte, sizeof(seed));
    assert_int_equal(proto_addr_parse(addr_text, &addr, NULL), PROTO_OK);
    assert_int_equal(proto_identity_from_seed(&addr, seed, &id), PROTO_OK);
    return id;
}

/* The grant of the test vector (docs/protocol.md, "Consent grants"). */
static void
vector_grant(proto_grant *g)
{
    memset(g, 0, sizeof(*g));
    memset(g->id, 0x47, sizeof(g->id));
    assert_int_equal(proto_addr_parse("USA/FBI", &g->grantor, NULL), PROTO_OK);
    strcpy(g->grantor_actor, "fbi.jdoe");
    assert_int_equal(proto_addr_parse("CAN/RCMP", &g->grantee, NULL), PROTO_OK);
    memset(g->content, 0x11, sizeof(g->content));
    g->to_count = 2;
    assert_int_equal(proto_addr_parse("MEX/FGR", &g->to[0], NULL), PROTO_OK);
    assert_int_equal(proto_addr_parse("MEX/SSPC", &g->to[1], NULL), PROTO_OK);
    g->kind_count = 1;
    strcpy(g->kinds[0], "watchlist.details");
    g->issued_ms = 1767225600000ull;           /* 2026-01-01T00:00:00Z */
    g->until_ms = 1767225600000ull + 30ull * 86400000ull;
    strcpy(g->conditions, "case MEX-FGR-2026-0099 only");
}

static void
put_hex(FILE *out, const char *name, const uint8_t *data, size_t len)
{
    fprintf(out, "# %s (%zu bytes)\n", name, len);
    for (size_t i = 0; i < len; i++) {
        fprintf(out, "%02x", data[i]);
        if (i % 32 == 31 || i + 1 == len)
            fputc('\n', out);
    }
}

static void
test_grant_vector_match(void **state)
{
    proto_identity *fbi = identity("USA/FBI", 0x01);
    char path[1024], *generated = NULL;
    size_t gen_len = 0, want_len, doc_len, len;
    uint8_t *buf = NULL, *want, *doc;
    FILE *mem = open_memstream(&generated, &gen_len);
    proto_grant g, d;

    (void)state;
    vector_grant(&g);
    assert_int_equal(proto_grant_sign(&g, fbi, &buf, &len, NULL), PROTO_OK);
    assert_int_equal(proto_grant_decode(buf, len, &d, NULL), PROTO_OK);
    assert_int_equal(proto_grant_verify(&d, fbi->sign_public), PROTO_OK);
    assert_non_null(mem);
    fprintf(mem, "# Liaison consent grant test vector, grant version 1.\n"
                 "# Granted by USA/FBI (seed all 0x01), actor fbi.jdoe, to CAN/RCMP for\n"
                 "# message 11111111111111111111111111111111: onward to MEX/FGR and\n"
                 "# MEX/SSPC in watchlist.details, from 2026-01-01T00:00:00Z for 30 days,\n"
                 "# conditions \"case MEX-FGR-2026-0099 only\"; grant id all 0x47.\n");
    put_hex(mem, "grant hash: SHA-256 of magic .. conditions", d.hash, sizeof(d.hash));
    put_hex(mem, "signature", d.signature, sizeof(d.signature));
    put_hex(mem, "grant token", buf, len);
    fclose(mem);
    /* GRANT_VECTOR_OUT=FILE writes the vector there, to update the data file. */
    if (getenv("GRANT_VECTOR_OUT") != NULL) {
        FILE *f = fopen(getenv("GRANT_VECTOR_OUT"), "w");

        assert_non_null(f);
        fputs(generated, f);
        fclose(f);
    }
    test_data_path("proto/grant_vector.txt", path, sizeof(path));
    want = test_read_file(path, &want_len);
    if (want == NULL)
        fail_msg("missing %s; the generated vector is:\n%s", path, generated);
    if (gen_len != want_len || memcmp(generated, want, gen_len) != 0)
        fail_msg("the code no longer reproduces %s; the generated vector is:\n%s", path,
                 generated);
    test_data_path("../../docs/protocol.md", path, sizeof(path));
    doc = test_read_file(path, &doc_len);
    assert_non_null(doc);
    if (strstr((const char *)doc, generated) == NULL)
        fail_msg("docs/protocol.md does not quote tests/data/proto/grant_vector.txt verbatim");
    free(doc);
    free(want);
    free(generated);
    free(buf);
    proto_identity_destroy(&fbi);
}

static void
test_grant_roundtrip(void **state)
{
    proto_identity *fbi = identity("USA/FBI", 0x01);
    proto_identity *rcmp = identity("CAN/RCMP", 0x02);
    proto_addr fgr, sspc, can, mex_all;
    uint8_t *buf = NULL;
    size_t len;
    proto_grant g, d;

    (void)state;
    vector_grant(&g);
    assert_int_equal(proto_grant_sign(&g, fbi, &buf, &len, NULL), PROTO_OK);
    assert_int_equal(proto_grant_decode(buf, len, &d, NULL), PROTO_OK);
    assert_memory_equal(d.id, g.id, PROTO_ID_BYTES);
    assert_true(proto_addr_equal(&d.grantor, &g.grantor));
    assert_true(proto_addr_equal(&d.grantee, &g.grantee));
    assert_string_equal(d.grantor_actor, "fbi.jdoe");
    assert_string_equal(d.kinds[0], "watchlist.details");
    assert_string_equal(d.conditions, g.conditions);
    assert_int_equal(d.issued_ms, g.issued_ms);
    assert_int_equal(d.until_ms, g.until_ms);
    assert_int_equal(proto_grant_verify(&d, fbi->sign_public), PROTO_OK);
    /* A key of another agency does not verify it. */
    assert_int_equal(proto_grant_verify(&d, rcmp->sign_public), PROTO_ERR_SIGNATURE);
    assert_int_equal(proto_addr_parse("MEX/FGR", &fgr, NULL), PROTO_OK);
    assert_int_equal(proto_addr_parse("MEX/SSPC", &sspc, NULL), PROTO_OK);
    assert_int_equal(proto_addr_parse("CAN/RCMP", &can, NULL), PROTO_OK);
    assert_int_equal(proto_addr_parse("MEX/*", &mex_all, NULL), PROTO_OK);
    assert_true(proto_grant_covers(&d, &fgr));
    assert_true(proto_grant_covers(&d, &sspc));
    assert_false(proto_grant_covers(&d, &can));
    assert_false(proto_grant_covers_nation(&d, "MEX"));
    assert_true(proto_grant_has_kind(&d, "watchlist.details"));
    assert_false(proto_grant_has_kind(&d, "watchlist.publish"));
    free(buf);
    /* A nation selector covers its agencies and the nation. */
    g.to_count = 1;
    g.to[0] = mex_all;
    assert_int_equal(proto_grant_sign(&g, fbi, &buf, &len, NULL), PROTO_OK);
    assert_int_equal(proto_grant_decode(buf, len, &d, NULL), PROTO_OK);
    assert_true(proto_grant_covers(&d, &fgr));
    assert_true(proto_grant_covers_nation(&d, "MEX"));
    free(buf);
    proto_identity_destroy(&fbi);
    proto_identity_destroy(&rcmp);
}

/* Every byte changed makes the token fail to decode or to verify. */
static void
test_grant_every_byte_matters(void **state)
{
    proto_identity *fbi = identity("USA/FBI", 0x01);
    uint8_t *buf = NULL;
    size_t len;
    proto_grant g, d;

    (void)state;
    vector_grant(&g);
    assert_int_equal(proto_grant_sign(&g, fbi, &buf, &len, NULL), PROTO_OK);
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            if (proto_grant_decode(buf, len, &d, NULL) == PROTO_OK &&
                proto_grant_verify(&d, fbi->sign_public) == PROTO_OK)
                fail_msg("byte %zu bit %u changed and the grant still verifies", i, bit);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Every prefix is truncated; one more byte is trailing. */
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(proto_grant_decode(buf, n, &d, NULL), PROTO_OK);
    {
        uint8_t *longer = malloc(len + 1);

        assert_non_null(longer);
        memcpy(longer, buf, len);
        longer[len] = 0;
        assert_int_equal(proto_grant_decode(longer, len + 1, &d, NULL), PROTO_ERR_TRAILING);
        free(longer);
    }
    free(buf);
    proto_identity_destroy(&fbi);
}

static void
expect_sign_fails(proto_grant *g, const proto_identity *signer, proto_err want,
                  const char *field)
{
    proto_detail detail;
    uint8_t *buf = NULL;
    size_t len = 0;

    memset(&detail, 0, sizeof(detail));
    assert_int_equal(proto_grant_sign(g, signer, &buf, &len, &detail), want);
    assert_null(buf);
    assert_string_equal(detail.field, field);
}

static void
test_grant_bounds(void **state)
{
    proto_identity *fbi = identity("USA/FBI", 0x01);
    proto_identity *rcmp = identity("CAN/RCMP", 0x02);
    proto_grant g;

    (void)state;
    vector_grant(&g);
    expect_sign_fails(&g, rcmp, PROTO_ERR_INVALID, "grant.grantor");
    memset(g.id, 0, sizeof(g.id));
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.id");
    vector_grant(&g);
    memset(g.content, 0, sizeof(g.content));
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.content");
    vector_grant(&g);
    strcpy(g.grantor_actor, "j doe");
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.grantor_actor");
    g.grantor_actor[0] = '\0';
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.grantor_actor");
    vector_grant(&g);
    assert_int_equal(proto_addr_parse("MEX/*", &g.grantee, NULL), PROTO_OK);
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.grantee");
    vector_grant(&g);
    g.to_count = 0;
    expect_sign_fails(&g, fbi, PROTO_ERR_LIMIT, "grant.to");
    g.to_count = PROTO_GRANT_TO_MAX + 1;
    expect_sign_fails(&g, fbi, PROTO_ERR_LIMIT, "grant.to");
    vector_grant(&g);
    g.to[1] = g.to[0]; /* repeated */
    expect_sign_fails(&g, fbi, PROTO_ERR_NONCANONICAL, "grant.to");
    vector_grant(&g);
    assert_int_equal(proto_addr_parse("CAN/RCMP", &g.to[1], NULL), PROTO_OK); /* not ascending */
    expect_sign_fails(&g, fbi, PROTO_ERR_NONCANONICAL, "grant.to");
    vector_grant(&g);
    assert_int_equal(proto_addr_parse("*", &g.to[1], NULL), PROTO_OK);
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.to");
    vector_grant(&g);
    g.kind_count = 0;
    expect_sign_fails(&g, fbi, PROTO_ERR_LIMIT, "grant.kinds");
    g.kind_count = PROTO_GRANT_KINDS_MAX + 1;
    expect_sign_fails(&g, fbi, PROTO_ERR_LIMIT, "grant.kinds");
    vector_grant(&g);
    strcpy(g.kinds[0], "watchlist.*");
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.kinds");
    vector_grant(&g);
    g.kind_count = 2;
    strcpy(g.kinds[1], "mlat.request"); /* before watchlist.details */
    expect_sign_fails(&g, fbi, PROTO_ERR_NONCANONICAL, "grant.kinds");
    vector_grant(&g);
    g.until_ms = g.issued_ms;
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.until");
    vector_grant(&g);
    strcpy(g.conditions, "tab\there");
    expect_sign_fails(&g, fbi, PROTO_ERR_SYNTAX, "grant.conditions");
    vector_grant(&g);
    memset(g.conditions, 'x', PROTO_GRANT_COND_MAX + 1);
    expect_sign_fails(&g, fbi, PROTO_ERR_LIMIT, "grant.conditions");
    proto_identity_destroy(&fbi);
    proto_identity_destroy(&rcmp);
}

/* The largest grant the bounds allow is larger than a token may be. */
static void
test_grant_too_large(void **state)
{
    proto_identity *fbi = identity("USA/FBI", 0x01);
    proto_detail detail;
    uint8_t *buf = NULL;
    size_t len;
    proto_grant g;

    (void)state;
    vector_grant(&g);
    g.to_count = PROTO_GRANT_TO_MAX;
    for (unsigned i = 0; i < PROTO_GRANT_TO_MAX; i++) {
        char text[PROTO_ADDR_TEXT_MAX + 1];

        snprintf(text, sizeof(text), "MEX/AGENCY-WITH-A-LONG-NAME-%02u", i);
        assert_int_equal(proto_addr_parse(text, &g.to[i], NULL), PROTO_OK);
    }
    g.kind_count = PROTO_GRANT_KINDS_MAX;
    for (unsigned i = 0; i < PROTO_GRANT_KINDS_MAX; i++)
        snprintf(g.kinds[i], sizeof(g.kinds[i]), "watchlist.details-with-a-long-name-%02u", i);
    memset(g.conditions, 'x', PROTO_GRANT_COND_MAX);
    g.conditions[PROTO_GRANT_COND_MAX] = '\0';
    memset(&detail, 0, sizeof(detail));
    assert_int_equal(proto_grant_sign(&g, fbi, &buf, &len, &detail), PROTO_ERR_LIMIT);
    assert_null(buf);
    assert_string_equal(detail.field, "grant");
    {
        uint8_t big[PROTO_GRANT_TOKEN_MAX + 1];
        proto_grant d;

        memset(big, 0, sizeof(big));
        memcpy(big, "LSNG", 4);
        assert_int_equal(proto_grant_decode(big, sizeof(big), &d, NULL), PROTO_ERR_LIMIT);
        big[4] = 2;
        assert_int_equal(proto_grant_decode(big, 100, &d, NULL), PROTO_ERR_VERSION);
        big[0] = 'X';
        assert_int_equal(proto_grant_decode(big, 100, &d, NULL), PROTO_ERR_MAGIC);
    }
    proto_identity_destroy(&fbi);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grant_vector_match),
        cmocka_unit_test(test_grant_roundtrip),
        cmocka_unit_test(test_grant_every_byte_matters),
        cmocka_unit_test(test_grant_bounds),
        cmocka_unit_test(test_grant_too_large),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
