/* Consent grants: the originator's signed permission to pass its content on. */
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

#define GRANT_MAGIC "LSNG"
#define GRANT_VERSION 1u
#define GRANT_CONTEXT "liaison consent grant v1" /* 24 bytes + NUL = 25 signed */
#define GRANT_INPUT_BYTES (sizeof(GRANT_CONTEXT) + PROTO_HASH_BYTES)

static bool
conditions_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            return false;
    }
    return true;
}

/* Canonical text of an address, for ordering and for the wire. */
static void
addr_text(const proto_addr *a, char out[PROTO_ADDR_TEXT_MAX + 1])
{
    proto_addr_format(a, out, PROTO_ADDR_TEXT_MAX + 1);
}

/* Byte-wise order of two strings, as on the wire (a shorter prefix first). */
static int
text_cmp(const char *a, const char *b)
{
    return strcmp(a, b);
}

/* Every rule a grant's fields must keep, for the encoder and the decoder. */
static proto_err
grant_check(const proto_grant *g, proto_detail *detail)
{
    char prev[PROTO_ADDR_TEXT_MAX + 1], cur[PROTO_ADDR_TEXT_MAX + 1];
    size_t n;
    proto_err err;

    if (proto_id_is_zero(g->id)) {
        proto_detail_set(detail, "grant.id", "grant id is all zero");
        return PROTO_ERR_SYNTAX;
    }
    if ((err = proto_addr_check(&g->grantor, detail, "grant.grantor")) != PROTO_OK)
        return err;
    if (g->grantor.kind != PROTO_ADDR_AGENCY) {
        proto_detail_set(detail, "grant.grantor", "grantor must be an agency (NATION/AGENCY)");
        return PROTO_ERR_SYNTAX;
    }
    n = strnlen(g->grantor_actor, PROTO_GRANT_ACTOR_MAX + 1);
    if (!proto_actor_valid_n(g->grantor_actor, n)) {
        proto_detail_set(detail, "grant.grantor_actor",
                         "grantor_actor must be 1 to %u of A-Z a-z 0-9 . _ : @ -",
                         PROTO_GRANT_ACTOR_MAX);
        return n > PROTO_GRANT_ACTOR_MAX ? PROTO_ERR_LIMIT : PROTO_ERR_SYNTAX;
    }
    if ((err = proto_addr_check(&g->grantee, detail, "grant.grantee")) != PROTO_OK)
        return err;
    if (g->grantee.kind != PROTO_ADDR_AGENCY) {
        proto_detail_set(detail, "grant.grantee", "grantee must be an agency (NATION/AGENCY)");
        return PROTO_ERR_SYNTAX;
    }
    if (proto_id_is_zero(g->content)) {
        proto_detail_set(detail, "grant.content", "content message id is all zero");
        return PROTO_ERR_SYNTAX;
    }
    if (g->to_count == 0 || g->to_count > PROTO_GRANT_TO_MAX) {
        proto_detail_set(detail, "grant.to", "1 to %u recipients, not %u", PROTO_GRANT_TO_MAX,
                         g->to_count);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < g->to_count; i++) {
        if ((err = proto_addr_check(&g->to[i], detail, "grant.to")) != PROTO_OK)
            return err;
        if (g->to[i].kind != PROTO_ADDR_AGENCY && g->to[i].kind != PROTO_ADDR_NATION_ALL) {
            proto_detail_set(detail, "grant.to", "to[%zu] must be NATION/AGENCY or NATION/*", i);
            return PROTO_ERR_SYNTAX;
        }
        addr_text(&g->to[i], cur);
        if (i > 0 && text_cmp(prev, cur) >= 0) {
            proto_detail_set(detail, "grant.to", "to[%zu] '%s' is not after '%s': sort and "
                             "do not repeat", i, cur, prev);
            return PROTO_ERR_NONCANONICAL;
        }
        memcpy(prev, cur, sizeof(prev));
    }
    if (g->kind_count == 0 || g->kind_count > PROTO_GRANT_KINDS_MAX) {
        proto_detail_set(detail, "grant.kinds", "1 to %u kinds, not %u", PROTO_GRANT_KINDS_MAX,
                         g->kind_count);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < g->kind_count; i++) {
        proto_detail kd;

        if (proto_kind_check(g->kinds[i], &kd) != PROTO_OK) {
            proto_detail_set(detail, "grant.kinds", "kinds[%zu]: %s", i, kd.text);
            return strnlen(g->kinds[i], PROTO_KIND_MAX + 1) > PROTO_KIND_MAX ? PROTO_ERR_LIMIT
                                                                           : PROTO_ERR_SYNTAX;
        }
        if (i > 0 && text_cmp(g->kinds[i - 1], g->kinds[i]) >= 0) {
            proto_detail_set(detail, "grant.kinds", "kinds[%zu] '%s' is not after '%s': sort "
                             "and do not repeat", i, g->kinds[i], g->kinds[i - 1]);
            return PROTO_ERR_NONCANONICAL;
        }
    }
    if (g->until_ms <= g->issued_ms) {
        proto_detail_set(detail, "grant.until", "until must be after issued");
        return PROTO_ERR_SYNTAX;
    }
    n = strnlen(g->conditions, PROTO_GRANT_COND_MAX + 1);
    if (n > PROTO_GRANT_COND_MAX) {
        proto_detail_set(detail, "grant.conditions", "conditions have more than %u bytes",
                         PROTO_GRANT_COND_MAX);
        return PROTO_ERR_LIMIT;
    }
    if (!conditions_valid(g->conditions, n)) {
        proto_detail_set(detail, "grant.conditions", "conditions must be printable ASCII");
        return PROTO_ERR_SYNTAX;
    }
    return PROTO_OK;
}

static void
signed_input(const uint8_t hash[PROTO_HASH_BYTES], uint8_t out[GRANT_INPUT_BYTES])
{
    memcpy(out, GRANT_CONTEXT, sizeof(GRANT_CONTEXT)); /* with its NUL: the 0x00 separator */
    memcpy(out + sizeof(GRANT_CONTEXT), hash, PROTO_HASH_BYTES);
}

proto_err
proto_grant_sign(const proto_grant *g, const proto_identity *grantor, uint8_t **buf_out,
                 size_t *len_out, proto_detail *detail)
{
    uint8_t hash[PROTO_HASH_BYTES], input[GRANT_INPUT_BYTES], sig[PROTO_SIGNATURE_BYTES];
    char text[PROTO_ADDR_TEXT_MAX + 1];
    proto_wr wr;
    proto_err err;

    if ((err = grant_check(g, detail)) != PROTO_OK)
        return err;
    if (!proto_addr_equal(&g->grantor, &grantor->addr)) {
        proto_detail_set(detail, "grant.grantor", "the grant must be signed by its grantor");
        return PROTO_ERR_INVALID;
    }
    memset(&wr, 0, sizeof(wr));
    wr.cap = PROTO_GRANT_TOKEN_MAX;
    wr.p = proto_alloc(wr.cap);
    if (wr.p == NULL)
        return PROTO_ERR_NOMEM;
    proto_wr_bytes(&wr, GRANT_MAGIC, 4);
    proto_wr_u8(&wr, GRANT_VERSION);
    proto_wr_bytes(&wr, g->id, PROTO_ID_BYTES);
    proto_addr_write(&wr, &g->grantor);
    proto_wr_str8(&wr, g->grantor_actor, strlen(g->grantor_actor));
    proto_addr_write(&wr, &g->grantee);
    proto_wr_bytes(&wr, g->content, PROTO_ID_BYTES);
    proto_wr_u8(&wr, g->to_count);
    for (size_t i = 0; i < g->to_count; i++) {
        addr_text(&g->to[i], text);
        proto_wr_str8(&wr, text, strlen(text));
    }
    proto_wr_u8(&wr, g->kind_count);
    for (size_t i = 0; i < g->kind_count; i++)
        proto_wr_str8(&wr, g->kinds[i], strlen(g->kinds[i]));
    proto_wr_u64(&wr, g->issued_ms);
    proto_wr_u64(&wr, g->until_ms);
    proto_wr_str8(&wr, g->conditions, strlen(g->conditions));
    if (wr.overflow || wr.len + PROTO_SIGNATURE_BYTES > wr.cap) {
        free(wr.p);
        proto_detail_set(detail, "grant", "the grant would exceed %u bytes",
                         PROTO_GRANT_TOKEN_MAX);
        return PROTO_ERR_LIMIT;
    }
    proto_sha256(wr.p, wr.len, hash);
    signed_input(hash, input);
    proto_sign(sig, input, sizeof(input), grantor->sign_secret);
    proto_wr_bytes(&wr, sig, sizeof(sig));
    *buf_out = wr.p;
    *len_out = wr.len;
    return PROTO_OK;
}

/* Reads a str8 address and keeps its canonical form. */
static proto_err
read_addr(proto_rd *rd, const char *field, proto_addr *out)
{
    char text[PROTO_ADDR_TEXT_MAX + 1];
    proto_slice s;
    proto_err err;

    if ((err = proto_rd_str8(rd, field, PROTO_ADDR_TEXT_MAX, &s)) != PROTO_OK ||
        (err = proto_addr_from_slice(s, out, rd->detail, field)) != PROTO_OK)
        return err;
    addr_text(out, text);
    if (strlen(text) != s.len || memcmp(text, s.data, s.len) != 0) {
        proto_detail_set(rd->detail, field, "%s is not written in its canonical form", field);
        return PROTO_ERR_NONCANONICAL;
    }
    return PROTO_OK;
}

proto_err
proto_grant_decode(const uint8_t *buf, size_t len, proto_grant *g_out, proto_detail *detail)
{
    proto_rd rd = {buf, len, detail};
    const uint8_t *p;
    proto_grant g;
    uint8_t version;
    size_t body_len;
    proto_err err;

    if (buf == NULL && len > 0)
        return PROTO_ERR_INVALID;
    if (len > PROTO_GRANT_TOKEN_MAX) {
        proto_detail_set(detail, "grant", "a grant token has at most %u bytes, not %zu",
                         PROTO_GRANT_TOKEN_MAX, len);
        return PROTO_ERR_LIMIT;
    }
    memset(&g, 0, sizeof(g));
    if ((err = proto_rd_bytes(&rd, "grant.magic", 4, &p)) != PROTO_OK)
        return err;
    if (memcmp(p, GRANT_MAGIC, 4) != 0) {
        proto_detail_set(detail, "grant.magic", "not a Liaison consent grant");
        return PROTO_ERR_MAGIC;
    }
    if ((err = proto_rd_u8(&rd, "grant.version", &version)) != PROTO_OK)
        return err;
    if (version != GRANT_VERSION) {
        proto_detail_set(detail, "grant.version", "grant version %u is not known", version);
        return PROTO_ERR_VERSION;
    }
    if ((err = proto_rd_bytes(&rd, "grant.id", PROTO_ID_BYTES, &p)) != PROTO_OK)
        return err;
    memcpy(g.id, p, PROTO_ID_BYTES);
    if ((err = read_addr(&rd, "grant.grantor", &g.grantor)) != PROTO_OK ||
        (err = proto_rd_text(&rd, "grant.grantor_actor", PROTO_GRANT_ACTOR_MAX,
                             g.grantor_actor)) != PROTO_OK ||
        (err = read_addr(&rd, "grant.grantee", &g.grantee)) != PROTO_OK ||
        (err = proto_rd_bytes(&rd, "grant.content", PROTO_ID_BYTES, &p)) != PROTO_OK)
        return err;
    memcpy(g.content, p, PROTO_ID_BYTES);
    if ((err = proto_rd_u8(&rd, "grant.to_count", &g.to_count)) != PROTO_OK)
        return err;
    if (g.to_count == 0 || g.to_count > PROTO_GRANT_TO_MAX) {
        proto_detail_set(detail, "grant.to", "1 to %u recipients, not %u", PROTO_GRANT_TO_MAX,
                         g.to_count);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < g.to_count; i++) {
        if ((err = read_addr(&rd, "grant.to", &g.to[i])) != PROTO_OK)
            return err;
    }
    if ((err = proto_rd_u8(&rd, "grant.kind_count", &g.kind_count)) != PROTO_OK)
        return err;
    if (g.kind_count == 0 || g.kind_count > PROTO_GRANT_KINDS_MAX) {
        proto_detail_set(detail, "grant.kinds", "1 to %u kinds, not %u", PROTO_GRANT_KINDS_MAX,
                         g.kind_count);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < g.kind_count; i++) {
        if ((err = proto_rd_text(&rd, "grant.kinds", PROTO_KIND_MAX, g.kinds[i])) != PROTO_OK)
            return err;
    }
    if ((err = proto_rd_u64(&rd, "grant.issued", &g.issued_ms)) != PROTO_OK ||
        (err = proto_rd_u64(&rd, "grant.until", &g.until_ms)) != PROTO_OK ||
        (err = proto_rd_text(&rd, "grant.conditions", PROTO_GRANT_COND_MAX, g.conditions)) !=
            PROTO_OK)
        return err;
    body_len = len - rd.left;
    if ((err = proto_rd_bytes(&rd, "grant.signature", PROTO_SIGNATURE_BYTES, &p)) != PROTO_OK ||
        (err = proto_rd_end(&rd, "grant")) != PROTO_OK)
        return err;
    memcpy(g.signature, p, PROTO_SIGNATURE_BYTES);
    if ((err = grant_check(&g, detail)) != PROTO_OK)
        return err;
    proto_sha256(buf, body_len, g.hash);
    *g_out = g;
    return PROTO_OK;
}

proto_err
proto_grant_verify(const proto_grant *g, const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES])
{
    uint8_t input[GRANT_INPUT_BYTES];

    signed_input(g->hash, input);
    return proto_sign_verify(g->signature, input, sizeof(input), sign_public) == PROTO_OK
               ? PROTO_OK
               : PROTO_ERR_SIGNATURE;
}

bool
proto_grant_covers(const proto_grant *g, const proto_addr *agency)
{
    for (size_t i = 0; i < g->to_count; i++) {
        if (proto_addr_equal(&g->to[i], agency) || proto_addr_matches(&g->to[i], agency))
            return true;
    }
    return false;
}

bool
proto_grant_covers_nation(const proto_grant *g, const char *nation)
{
    for (size_t i = 0; i < g->to_count; i++) {
        if (g->to[i].kind == PROTO_ADDR_NATION_ALL && strcmp(g->to[i].nation, nation) == 0)
            return true;
    }
    return false;
}

bool
proto_grant_has_kind(const proto_grant *g, const char *kind)
{
    for (size_t i = 0; i < g->kind_count; i++) {
        if (strcmp(g->kinds[i], kind) == 0)
            return true;
    }
    return false;
}
