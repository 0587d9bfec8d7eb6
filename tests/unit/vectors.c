/* Known-answer vectors of the wire format: fixed keys, fixed random draws. */
#include <stdlib.h>
#include <string.h>

#include "liaison_proto.h"
#include "vectors.h"

/* Draw k (from 0) of the vector rng returns bytes all equal to 0x40 + k. */
typedef struct draws {
    unsigned k;   /* draws so far */
} draws;

static void
vector_rng(void *ctx, uint8_t *buf, size_t len)
{
    draws *d = ctx;

    memset(buf, 0x40 + (int)d->k, len);
    d->k++;
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

static int
identity(const char *addr_text, uint8_t seed_byte, proto_identity **id_out)
{
    uint8_t seed[32];
    proto_addr addr;

    memset(seed, seed_byte, sizeof(seed));
    if (proto_addr_parse(addr_text, &addr, NULL) != PROTO_OK)
        return -1;
    return proto_identity_from_seed(&addr, seed, id_out) == PROTO_OK ? 0 : -1;
}

/*
 * The envelope of format version 1 that these vectors carried before version
 * 2 (the same draft, no actor): encoders no longer write it, decoders still
 * read and verify it, so stored envelopes and exported bundles stay valid.
 */
static const char legacy_v1_hex[] =
    "4c534e4501000000c00f77617463686c6973742e717565727900112233445566"
    "778899aabbccddeeff0000019b76daa8000000019b7c010400075553412f4642"
    "49020843414e2f52434d50054d45582f2a0e434153452d323032362d30303031"
    "0000000000000000000000000000000000010000000000000343414e4d455855"
    "53410000000016467567697469766520696e7665737469676174696f6e020001"
    "0000000000000343414e4d455855534100000000000003000000000000024341"
    "4e55534100000000000141414141414141414141414141414141414141414141"
    "4141ac784e675834c23f7ac38af523a0b35c9f6afc39e2ea44d31a0eea174555"
    "4f5200000037e74dec0fdc1ff16bd68f9c1bbaa6681ef1fa09338148ab16e2d1"
    "cc8d5bae6cce92064007fc68a97bc06337ae47af7d08269fe9b565458f020843"
    "414e2f52434d50cc4f2cdb695dd766f34118eb67b98652fed1d8bc49c330b119"
    "bbfa8a6498937856cef7fb80a1d08580ff3cf5ee234abd603aa78b199af08885"
    "9151d2a5c4d5cd2bc61faf7b4beac944cccfb45a035ea9074d45582f464752e6"
    "db38861185a2f47216afb5e68409a1c32dc9cb73d6c538a537fb8ef5716852e5"
    "dfb644dcf8fc5a26ba1560ead69a4e7b0c75071f7866dd5a203ce9c4f5aab2e1"
    "34a253729e4976c6c21264696f309c0145454545454545454545454545454545"
    "4545454545454545e390dc765fd67bed596fdec58eed2dc9ab63395c95dff0b5"
    "fbab73d118f11b33000000258f24aa637ed7b7e967cbd16402aed74440e290e3"
    "a3b8dd247ba3516b35147336c3eac42019010843414e2f52434d508f9db132b3"
    "e06588583669b740d323dff45d5d10b3cfd27b8487c5563ab7416101c585ed14"
    "4dab47935183fa16ca9b09e34b096130f658023351faf860936b2ce571e67ec5"
    "722dbfa6d546256809749f0f67c7ce910552741f14798004c1ede568b8084da8"
    "af9b0e7b6f95b7eca8442b28207a4fbb86079b0e3252d3858a9fa147cad527e2"
    "c190e72314871cbae26209";

static int
hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The legacy envelope: decodes as version 1 with no actor and no grant,
 * verifies with USA/FBI's key, and opens for MEX/FGR. */
static int
legacy_vector(FILE *out, const proto_identity *fbi, const proto_identity *fgr,
              const char *p0)
{
    static proto_envelope env;
    uint8_t buf[sizeof(legacy_v1_hex) / 2], plain[64];
    size_t len = (sizeof(legacy_v1_hex) - 1) / 2, plain_len;

    for (size_t i = 0; i < len; i++) {
        int hi = hex_value(legacy_v1_hex[2 * i]), lo = hex_value(legacy_v1_hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    if (proto_envelope_decode(buf, len, &env, NULL) != PROTO_OK || env.version != 1 ||
        env.actor[0] != '\0' || env.grant_count != 0 ||
        proto_envelope_verify(&env, fbi->sign_public) != PROTO_OK ||
        proto_envelope_open(&env, 0, fgr, plain, &plain_len) != PROTO_OK ||
        plain_len != strlen(p0) || memcmp(plain, p0, plain_len) != 0)
        return -1;
    fprintf(out, "# Legacy: the same message as an envelope of version 1 (no actor, no\n"
                 "# grants), as written before version 2; it still decodes and verifies.\n");
    put_hex(out, "version 1 envelope", buf, len);
    return 0;
}

/* Three delivery reports about the envelope, signed together by broker USA. */
static int
report_vectors(FILE *out, const proto_envelope *env, const uint8_t *envelope, size_t envelope_len)
{
    static const struct {
        const char *recipient;
        uint8_t state;
        const char *rule;
    } what[3] = {
        {"CAN/RCMP", PROTO_STATE_DELIVERED, ""},
        {"CAN/RCMP", PROTO_STATE_RECEIPTED, ""},
        {"MEX/FGR", PROTO_STATE_WITHHELD, "usa-orcon-mex"},
    };
    proto_identity *usa = NULL;
    proto_report reports[3];
    uint8_t *bufs[3] = {NULL, NULL, NULL}, leaf_input[1 + 512], leaf[32], root[32];
    size_t lens[3], body, list_len;
    proto_tagged items[3];
    proto_ack acks[3];
    static uint8_t list[2048];
    int rc = -1;

    if (identity("USA", 0x04, &usa) != 0)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        memset(&reports[i], 0, sizeof(reports[i]));
        memcpy(reports[i].id, env->id, PROTO_ID_BYTES);
        reports[i].broker = usa->addr;
        if (proto_addr_parse(what[i].recipient, &reports[i].entry.recipient, NULL) != PROTO_OK)
            goto out;
        reports[i].entry.state = what[i].state;
        reports[i].entry.time_ms = env->created_ms + 1000u * (i + 1);
        snprintf(reports[i].entry.rule_id, sizeof(reports[i].entry.rule_id), "%s", what[i].rule);
        proto_sha256(envelope, envelope_len, reports[i].envelope_hash);
    }
    if (proto_report_sign_batch(reports, 3, usa, bufs, lens) != PROTO_OK)
        goto out;
    /* The root, from report 2's body and path (section 7.3). */
    body = lens[2] - PROTO_SIGNATURE_BYTES - proto_merkle_path_len(2, 3) * 32 - 9;
    if (body + 1 > sizeof(leaf_input))
        goto out;
    leaf_input[0] = 0x00;
    memcpy(leaf_input + 1, bufs[2], body);
    proto_sha256(leaf_input, body + 1, leaf);
    if (proto_merkle_root_from_path(2, 3, leaf, (const void *)(bufs[2] + body + 9), 1, root) !=
        PROTO_OK)
        goto out;
    fprintf(out, "# Delivery reports about that envelope, signed together by broker USA\n"
                 "# (seed all 0x04): delivered to CAN/RCMP at created + 1 s, receipted at\n"
                 "# + 2 s, withheld from MEX/FGR by rule usa-orcon-mex at + 3 s.\n");
    put_hex(out, "USA sign public", usa->sign_public, 32);
    put_hex(out, "report batch root", root, sizeof(root));
    put_hex(out, "report 0", bufs[0], lens[0]);
    put_hex(out, "report 1", bufs[1], lens[1]);
    put_hex(out, "report 2", bufs[2], lens[2]);
    /* The list frames that carry them (section 7.1). */
    for (size_t i = 0; i < 3; i++) {
        items[i] = (proto_tagged){5 + i, {bufs[i], lens[i]}};
        acks[i].n = 5 + i;
        memcpy(acks[i].id, env->id, PROTO_ID_BYTES);
    }
    if (proto_reports_encode(items, 3, list, sizeof(list), &list_len) != PROTO_OK)
        goto out;
    fprintf(out, "# The three reports in one report command, tags 5, 6 and 7; the receipt\n"
                 "# that takes them; the accepted for the envelope submitted with corr 1.\n");
    put_hex(out, "reports frame", list, list_len);
    if (proto_acks_encode(acks, 3, list, sizeof(list), &list_len) != PROTO_OK)
        goto out;
    put_hex(out, "receipts frame", list, list_len);
    acks[0].n = 1;
    if (proto_acks_encode(acks, 1, list, sizeof(list), &list_len) != PROTO_OK)
        goto out;
    put_hex(out, "accepted frame", list, list_len);
    rc = 0;
out:
    for (size_t i = 0; i < 3; i++)
        free(bufs[i]);
    proto_identity_destroy(&usa);
    return rc;
}

int
vectors_write(FILE *out)
{
    proto_identity *fbi = NULL, *rcmp = NULL, *fgr = NULL;
    proto_reader readers[2];
    proto_draft_portion portions[2];
    proto_addr recipients[2];
    proto_draft draft;
    proto_envelope env;
    proto_detail detail;
    draws d = {0};
    uint8_t *buf = NULL, *red = NULL, input[PROTO_SIGNED_INPUT_BYTES];
    size_t len, red_len;
    uint8_t plain[64];
    size_t plain_len;
    static const char p0[] = "{\"name\":\"John DOE\",\"born\":\"1980-02-29\"}";
    static const char p1[] = "passport USA X1234567";
    int rc = -1;

    if (identity("USA/FBI", 0x01, &fbi) != 0 || identity("CAN/RCMP", 0x02, &rcmp) != 0 ||
        identity("MEX/FGR", 0x03, &fgr) != 0)
        goto out;
    fprintf(out, "# Liaison wire format test vectors, envelope version 2.\n"
                 "# Identities are built from 32-byte seeds (all 0x01 for USA/FBI, 0x02 for\n"
                 "# CAN/RCMP, 0x03 for MEX/FGR); the derived keys follow.\n");
    put_hex(out, "USA/FBI sign seed", fbi->sign_secret, 32);
    put_hex(out, "USA/FBI sign public", fbi->sign_public, 32);
    put_hex(out, "CAN/RCMP box secret", rcmp->box_secret, 32);
    put_hex(out, "CAN/RCMP box public", rcmp->box_public, 32);
    put_hex(out, "MEX/FGR box secret", fgr->box_secret, 32);
    put_hex(out, "MEX/FGR box public", fgr->box_public, 32);

    memset(&draft, 0, sizeof(draft));
    memset(portions, 0, sizeof(portions));
    if (proto_addr_parse("MEX/*", &recipients[0], NULL) != PROTO_OK ||
        proto_addr_parse("CAN/RCMP", &recipients[1], NULL) != PROTO_OK)
        goto out;
    readers[0].addr = rcmp->addr;
    memcpy(readers[0].box_public, rcmp->box_public, 32);
    readers[1].addr = fgr->addr;
    memcpy(readers[1].box_public, fgr->box_public, 32);
    if (proto_labels_parse("LES//REL TO CAN,MEX,USA//PURPOSE:Fugitive investigation",
                           &draft.labels, NULL) != PROTO_OK ||
        proto_labels_parse("LES//REL TO CAN,MEX,USA", &portions[0].labels, NULL) != PROTO_OK ||
        proto_labels_parse("LES//ORCON//REL TO CAN,USA", &portions[1].labels, NULL) != PROTO_OK)
        goto out;
    portions[0].plain = (const uint8_t *)p0;
    portions[0].plain_len = strlen(p0);
    portions[0].readers = readers;
    portions[0].reader_count = 2;
    portions[1].plain = (const uint8_t *)p1;
    portions[1].plain_len = strlen(p1);
    portions[1].readers = readers;
    portions[1].reader_count = 1;
    draft.kind = "watchlist.query";
    draft.actor = "jdoe@fbi";
    if (proto_id_parse("00112233445566778899aabbccddeeff", draft.id) != PROTO_OK)
        goto out;
    draft.created_ms = 1767225600000ull; /* 2026-01-01T00:00:00Z */
    draft.expires_ms = draft.created_ms + 86400000ull;
    draft.recipients = recipients;
    draft.recipient_count = 2;
    draft.case_id = "CASE-2026-0001";
    draft.portions = portions;
    draft.portion_count = 2;
    draft.rng = vector_rng;
    draft.rng_ctx = &d;
    if (proto_envelope_seal(&draft, fbi, &buf, &len, &detail) != PROTO_OK ||
        proto_envelope_decode(buf, len, &env, &detail) != PROTO_OK ||
        proto_envelope_verify(&env, fbi->sign_public) != PROTO_OK)
        goto out;
    proto_envelope_signed_input(&env, input);
    fprintf(out, "# Envelope: watchlist.query from USA/FBI, draws 0x40 (portion 0 key),\n"
                 "# 0x41 (its nonce), 0x42 (seal seed, CAN/RCMP), 0x43 (seal seed, MEX/FGR),\n"
                 "# 0x44 (portion 1 key), 0x45 (its nonce), 0x46 (seal seed, CAN/RCMP).\n");
    put_hex(out, "portion 0 plaintext", portions[0].plain, portions[0].plain_len);
    put_hex(out, "portion 1 plaintext", portions[1].plain, portions[1].plain_len);
    put_hex(out, "header block", env.header_block.data, env.header_block.len);
    put_hex(out, "header hash", env.header_hash, PROTO_HASH_BYTES);
    put_hex(out, "portion 0 leaf hash", env.portions[0].leaf_hash, PROTO_HASH_BYTES);
    put_hex(out, "portion 1 leaf hash", env.portions[1].leaf_hash, PROTO_HASH_BYTES);
    put_hex(out, "portions root", env.portions_root, PROTO_HASH_BYTES);
    put_hex(out, "signed input", input, sizeof(input));
    put_hex(out, "signature", env.signature, PROTO_SIGNATURE_BYTES);
    put_hex(out, "envelope", buf, len);
    if (proto_envelope_open(&env, 0, fgr, plain, &plain_len) != PROTO_OK ||
        plain_len != portions[0].plain_len || memcmp(plain, p0, plain_len) != 0)
        goto out;
    if (proto_envelope_redact(&env, 2, &red, &red_len) != PROTO_OK)
        goto out;
    fprintf(out, "# The same envelope with portion 1 withheld (for MEX); the signature\n"
                 "# above still verifies.\n");
    put_hex(out, "redacted envelope", red, red_len);
    {
        static const char *const notes[2] = {NULL, "USA usa-orcon-mex"};
        uint8_t *noted = NULL;
        size_t noted_len;

        if (proto_envelope_redact_noted(&env, 2, notes, &noted, &noted_len) != PROTO_OK)
            goto out;
        fprintf(out, "# The same with a note (state 3): portion 1 withheld by broker USA's\n"
                     "# rule usa-orcon-mex, the note \"USA usa-orcon-mex\" after its leaf hash;\n"
                     "# the note is not signed, and the signature above still verifies.\n");
        put_hex(out, "noted envelope", noted, noted_len);
        free(noted);
    }
    if (report_vectors(out, &env, buf, len) != 0)
        goto out;
    {
        proto_tagged item = {4, {red, red_len}};
        uint8_t list[1024];
        size_t list_len;

        if (proto_deliveries_encode(&item, 1, list, sizeof(list), &list_len) != PROTO_OK)
            goto out;
        fprintf(out, "# The redacted envelope delivered with tag 4: a deliver command's list.\n");
        put_hex(out, "deliveries frame", list, list_len);
    }
    {
        /* Opaque to the envelope: grant tokens are checked by brokers, not here. */
        static const uint8_t blob[8] = {0x4c, 0x53, 0x4e, 0x47, 0x01, 0xa1, 0xa2, 0xa3};
        proto_slice grant = {blob, sizeof(blob)};
        uint8_t *granted = NULL;
        size_t granted_len;
        static proto_envelope genv;

        d.k = 0;
        draft.grants = &grant;
        draft.grant_count = 1;
        if (proto_envelope_seal(&draft, fbi, &granted, &granted_len, &detail) != PROTO_OK)
            goto out;
        if (proto_envelope_decode(granted, granted_len, &genv, &detail) != PROTO_OK ||
            proto_envelope_verify(&genv, fbi->sign_public) != PROTO_OK || genv.grant_count != 1 ||
            genv.grants[0].len != sizeof(blob)) {
            free(granted);
            goto out;
        }
        fprintf(out, "# The same draft carrying one grant blob of 8 bytes (4c534e4701a1a2a3,\n"
                     "# opaque to the envelope), the draws restarted from 0x40.\n");
        put_hex(out, "granted header block", genv.header_block.data, genv.header_block.len);
        put_hex(out, "granted signature", genv.signature, PROTO_SIGNATURE_BYTES);
        put_hex(out, "granted envelope", granted, granted_len);
        free(granted);
    }
    if (legacy_vector(out, fbi, fgr, p0) != 0)
        goto out;
    rc = 0;
out:
    free(buf);
    free(red);
    proto_identity_destroy(&fbi);
    proto_identity_destroy(&rcmp);
    proto_identity_destroy(&fgr);
    return rc;
}
