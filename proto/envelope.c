/* Envelopes: seal (encrypt, sign), decode, verify, open, redact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto_int.h"

#define HEADER_PREFIX_BYTES 9u /* magic, version, header length */

proto_err
proto_kind_check(const char *kind, proto_detail *detail)
{
    size_t n = strnlen(kind, PROTO_KIND_MAX + 1);
    size_t segments = 1;
    bool seg_start = true;

    if (n == 0 || n > PROTO_KIND_MAX) {
        proto_detail_set(detail, "header.kind", "kind must have 1 to %u characters",
                         PROTO_KIND_MAX);
        return n == 0 ? PROTO_ERR_SYNTAX : PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < n; i++) {
        char c = kind[i];

        if (c == '.') {
            if (seg_start || i + 1 == n)
                goto bad;
            segments++;
            seg_start = true;
            continue;
        }
        if (seg_start ? !(c >= 'a' && c <= 'z')
                      : !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            goto bad;
        seg_start = false;
    }
    if (segments >= 2)
        return PROTO_OK;
bad:
    proto_detail_set(detail, "header.kind",
                     "kind '%.64s' must be lower-case 'family.verb' (a-z, 0-9, '-'; segments "
                     "start with a letter)",
                     kind);
    return PROTO_ERR_SYNTAX;
}

static bool
case_id_valid(const char *s, size_t n)
{
    if (n > PROTO_CASE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '-'))
            return false;
    }
    return true;
}

bool
proto_actor_valid_n(const char *s, size_t n)
{
    if (n == 0 || n > PROTO_ACTOR_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

bool
proto_actor_valid(const char *actor)
{
    return actor != NULL && proto_actor_valid_n(actor, strnlen(actor, PROTO_ACTOR_MAX + 1));
}

static int
addr_cmp(const proto_addr *a, const proto_addr *b)
{
    char ta[PROTO_ADDR_TEXT_MAX + 1], tb[PROTO_ADDR_TEXT_MAX + 1];

    return strcmp(proto_addr_format(a, ta, sizeof(ta)), proto_addr_format(b, tb, sizeof(tb)));
}

static int
addr_qcmp(const void *a, const void *b)
{
    return addr_cmp(a, b);
}

static int
reader_qcmp(const void *a, const void *b)
{
    const proto_reader *const *ra = a, *const *rb = b;

    return addr_cmp(&(*ra)->addr, &(*rb)->addr);
}

/* Compares a str8 slice with a C string, as unsigned bytes (strcmp order). */
static int
slice_cmp(proto_slice a, proto_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.data, b.data, n) : 0;

    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

/* ---- Hash inputs ------------------------------------------------------- */

static void
make_ad(const uint8_t header_hash[PROTO_HASH_BYTES], uint8_t index,
        uint8_t ad[PROTO_HASH_BYTES + 1])
{
    memcpy(ad, header_hash, PROTO_HASH_BYTES);
    ad[PROTO_HASH_BYTES] = index;
}

static void
signed_input(const uint8_t header_hash[PROTO_HASH_BYTES], const uint8_t root[PROTO_HASH_BYTES],
             uint8_t out[PROTO_SIGNED_INPUT_BYTES])
{
    memcpy(out, PROTO_SIGN_CONTEXT, sizeof(PROTO_SIGN_CONTEXT)); /* with its NUL: 20 bytes */
    memcpy(out + 20, header_hash, PROTO_HASH_BYTES);
    memcpy(out + 20 + PROTO_HASH_BYTES, root, PROTO_HASH_BYTES);
}

void
proto_envelope_signed_input(const proto_envelope *env, uint8_t out[PROTO_SIGNED_INPUT_BYTES])
{
    signed_input(env->header_hash, env->portions_root, out);
}

/* ---- Sealing ------------------------------------------------------------ */

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static proto_err
check_draft(const proto_draft *d, const proto_identity *signer, proto_addr *sorted,
            proto_detail *detail)
{
    proto_err err;
    size_t case_len;

    if (signer->addr.kind != PROTO_ADDR_AGENCY) {
        proto_detail_set(detail, "header.sender", "only an agency identity can send messages");
        return PROTO_ERR_INVALID;
    }
    if (d->kind == NULL) {
        proto_detail_set(detail, "header.kind", "kind is missing");
        return PROTO_ERR_INVALID;
    }
    err = proto_kind_check(d->kind, detail);
    if (err != PROTO_OK)
        return err;
    if (d->actor == NULL || d->actor[0] == '\0') {
        proto_detail_set(detail, "actor", "no actor: name the officer or system that sends");
        return PROTO_ERR_INVALID;
    }
    if (!proto_actor_valid(d->actor)) {
        proto_detail_set(detail, "actor", "actor must be 1 to %u of A-Z a-z 0-9 . _ : @ -",
                         PROTO_ACTOR_MAX);
        return PROTO_ERR_INVALID;
    }
    if (d->grant_count > PROTO_GRANTS_MAX || (d->grant_count > 0 && d->grants == NULL)) {
        proto_detail_set(detail, "header.grants", "0 to %u consent grants, not %zu",
                         PROTO_GRANTS_MAX, d->grant_count);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < d->grant_count; i++) {
        if (d->grants[i].len == 0 || d->grants[i].len > PROTO_GRANT_MAX ||
            d->grants[i].data == NULL) {
            proto_detail_set(detail, "header.grants", "grant %zu has %zu bytes, 1 to %u allowed",
                             i, d->grants[i].len, PROTO_GRANT_MAX);
            return PROTO_ERR_LIMIT;
        }
    }
    if (d->recipient_count == 0 || d->recipient_count > PROTO_RECIPIENTS_MAX) {
        proto_detail_set(detail, "header.recipients", "1 to %u recipients, not %zu",
                         PROTO_RECIPIENTS_MAX, d->recipient_count);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < d->recipient_count; i++) {
        err = proto_addr_check(&d->recipients[i], detail, "header.recipients");
        if (err != PROTO_OK)
            return err;
        if (d->recipients[i].kind == PROTO_ADDR_BROKER) {
            proto_detail_set(detail, "header.recipients",
                             "a recipient is an agency or a selector, not a broker");
            return PROTO_ERR_INVALID;
        }
        sorted[i] = d->recipients[i];
    }
    qsort(sorted, d->recipient_count, sizeof(sorted[0]), addr_qcmp);
    for (size_t i = 1; i < d->recipient_count; i++) {
        if (addr_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            proto_detail_set(detail, "header.recipients", "a recipient is listed twice");
            return PROTO_ERR_INVALID;
        }
    }
    case_len = d->case_id != NULL ? strnlen(d->case_id, PROTO_CASE_ID_MAX + 1) : 0;
    if (!case_id_valid(d->case_id, case_len)) {
        proto_detail_set(detail, "header.case_id",
                         "case id must be at most %u of A-Z a-z 0-9 . _ : / -",
                         PROTO_CASE_ID_MAX);
        return PROTO_ERR_SYNTAX;
    }
    err = proto_labels_check(&d->labels, detail);
    if (err != PROTO_OK)
        return err;
    if (d->portion_count == 0 || d->portion_count > PROTO_PORTIONS_MAX) {
        proto_detail_set(detail, "portions", "1 to %u portions, not %zu", PROTO_PORTIONS_MAX,
                         d->portion_count);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < d->portion_count; i++) {
        const proto_draft_portion *p = &d->portions[i];

        err = proto_labels_check(&p->labels, detail);
        if (err != PROTO_OK)
            return err;
        if (p->plain_len > PROTO_PORTION_MAX - PROTO_AEAD_TAG_BYTES ||
            (p->plain == NULL && p->plain_len > 0)) {
            proto_detail_set(detail, "portions", "portion %zu has %zu bytes, at most %u", i,
                             p->plain_len, PROTO_PORTION_MAX - PROTO_AEAD_TAG_BYTES);
            return PROTO_ERR_LIMIT;
        }
        if (p->reader_count > PROTO_SEALS_MAX) {
            proto_detail_set(detail, "portions", "portion %zu has %zu readers, at most %u", i,
                             p->reader_count, PROTO_SEALS_MAX);
            return PROTO_ERR_LIMIT;
        }
        for (size_t r = 0; r < p->reader_count; r++) {
            if (p->readers[r].addr.kind != PROTO_ADDR_AGENCY ||
                proto_addr_check(&p->readers[r].addr, NULL, "") != PROTO_OK) {
                proto_detail_set(detail, "portions",
                                 "portion %zu: reader %zu is not an agency address", i, r);
                return PROTO_ERR_INVALID;
            }
        }
    }
    return PROTO_OK;
}

static size_t
portion_size(const proto_draft_portion *p)
{
    size_t n = 1 + PROTO_AEAD_NONCE_BYTES + PROTO_HASH_BYTES + 4 + p->plain_len +
               PROTO_AEAD_TAG_BYTES + 1;

    for (size_t r = 0; r < p->reader_count; r++) {
        char t[PROTO_ADDR_TEXT_MAX + 1];

        n += 1 + strlen(proto_addr_format(&p->readers[r].addr, t, sizeof(t))) + PROTO_SEAL_BYTES;
    }
    return n;
}

/* Writes portion index: fresh key, nonce and commitment; ciphertext written
 * straight into the output; seals in address order. */
static proto_err
seal_portion(proto_wr *wr, const proto_draft *d, uint8_t index,
             const uint8_t header_hash[PROTO_HASH_BYTES], uint8_t leaf_out[PROTO_HASH_BYTES],
             proto_detail *detail)
{
    const proto_draft_portion *p = &d->portions[index];
    const proto_reader **order = NULL;
    uint8_t *key = NULL;
    uint8_t nonce[PROTO_AEAD_NONCE_BYTES], commit[PROTO_HASH_BYTES];
    uint8_t ad[PROTO_HASH_BYTES + 1];
    size_t ct_len = p->plain_len + PROTO_AEAD_TAG_BYTES;
    size_t record;
    uint8_t *ct;
    proto_err err = PROTO_OK;

    key = proto_secret_alloc(PROTO_AEAD_KEY_BYTES);
    order = proto_alloc((p->reader_count > 0 ? p->reader_count : 1) * sizeof(*order));
    if (key == NULL || order == NULL) {
        err = PROTO_ERR_NOMEM;
        goto out;
    }
    proto_random(d->rng, d->rng_ctx, key, PROTO_AEAD_KEY_BYTES);
    proto_random(d->rng, d->rng_ctx, nonce, sizeof(nonce));
    proto_key_commit(key, commit);
    make_ad(header_hash, index, ad);

    record = wr->len;
    proto_wr_u8(wr, PROTO_PORTION_PRESENT);
    proto_wr_bytes(wr, nonce, sizeof(nonce));
    proto_wr_bytes(wr, commit, sizeof(commit));
    proto_wr_u32(wr, (uint32_t)ct_len);
    if (wr->overflow || wr->cap - wr->len < ct_len) {
        err = PROTO_ERR_INVALID;
        goto out;
    }
    ct = wr->p + wr->len;
    err = proto_aead_encrypt(ct, p->plain, p->plain_len, ad, sizeof(ad), nonce, key);
    if (err != PROTO_OK)
        goto out;
    wr->len += ct_len;

    for (size_t r = 0; r < p->reader_count; r++)
        order[r] = &p->readers[r];
    qsort(order, p->reader_count, sizeof(*order), reader_qcmp);
    proto_wr_u8(wr, (uint8_t)p->reader_count);
    for (size_t r = 0; r < p->reader_count; r++) {
        uint8_t sealed[PROTO_SEAL_BYTES];

        if (r > 0 && addr_cmp(&order[r - 1]->addr, &order[r]->addr) == 0) {
            proto_detail_set(detail, "portions", "portion %u: a reader is listed twice", index);
            err = PROTO_ERR_INVALID;
            goto out;
        }
        err = proto_seal_key(key, order[r]->box_public, d->rng, d->rng_ctx, sealed);
        if (err != PROTO_OK)
            goto out;
        proto_addr_write(wr, &order[r]->addr);
        proto_wr_bytes(wr, sealed, sizeof(sealed));
    }
    if (wr->overflow) {
        err = PROTO_ERR_INVALID;
        goto out;
    }
    proto_leaf_hash(index, wr->p + record, wr->len - record, leaf_out);
out:
    proto_secret_free(key);
    free(order);
    return err;
}

proto_err
proto_envelope_seal(const proto_draft *d, const proto_identity *signer, uint8_t **buf_out,
                    size_t *len_out, proto_detail *detail)
{
    proto_addr sorted[PROTO_RECIPIENTS_MAX];
    uint8_t leaves[PROTO_PORTIONS_MAX][PROTO_HASH_BYTES];
    uint8_t header_hash[PROTO_HASH_BYTES], root[PROTO_HASH_BYTES];
    uint8_t input[PROTO_SIGNED_INPUT_BYTES], sig[PROTO_SIGNATURE_BYTES];
    uint8_t id[PROTO_ID_BYTES];
    size_t header_len, total, case_len;
    uint64_t created;
    proto_wr wr = {0};
    proto_err err;

    err = check_draft(d, signer, sorted, detail);
    if (err != PROTO_OK)
        return err;
    case_len = d->case_id != NULL ? strlen(d->case_id) : 0;
    created = d->created_ms != 0 ? d->created_ms : now_ms();
    if (d->expires_ms <= created) {
        proto_detail_set(detail, "header.expires", "expiry must be after creation");
        return PROTO_ERR_LIMIT;
    }
    if (proto_id_is_zero(d->id)) {
        proto_id_time(created, id);
        do
            proto_random(d->rng, d->rng_ctx, id + PROTO_ID_TIME_BYTES,
                         sizeof(id) - PROTO_ID_TIME_BYTES);
        while (proto_id_is_zero(id));
    } else {
        memcpy(id, d->id, sizeof(id));
    }

    {
        char t[PROTO_ADDR_TEXT_MAX + 1];

        header_len = 1 + strlen(d->kind) + PROTO_ID_BYTES + 8 + 8 + 1 +
                     strlen(proto_addr_format(&signer->addr, t, sizeof(t))) + 1 +
                     strlen(d->actor) + 1;
        for (size_t i = 0; i < d->recipient_count; i++)
            header_len += 1 + strlen(proto_addr_format(&sorted[i], t, sizeof(t)));
    }
    header_len += 1 + case_len + PROTO_ID_BYTES + proto_labels_encoded_len(&d->labels) + 1;
    for (size_t i = 0; i < d->portion_count; i++)
        header_len += proto_labels_encoded_len(&d->portions[i].labels);
    header_len += 1;
    for (size_t i = 0; i < d->grant_count; i++)
        header_len += 2 + d->grants[i].len;
    total = HEADER_PREFIX_BYTES + header_len + PROTO_SIGNATURE_BYTES;
    for (size_t i = 0; i < d->portion_count; i++)
        total += portion_size(&d->portions[i]);
    if (total > PROTO_ENVELOPE_MAX) {
        proto_detail_set(detail, "envelope", "envelope would have %zu bytes, at most %u", total,
                         PROTO_ENVELOPE_MAX);
        return PROTO_ERR_LIMIT;
    }
    wr.p = proto_alloc(total);
    wr.cap = total;
    if (wr.p == NULL)
        return PROTO_ERR_NOMEM;

    proto_wr_bytes(&wr, PROTO_ENVELOPE_MAGIC, 4);
    proto_wr_u8(&wr, PROTO_ENVELOPE_VERSION);
    proto_wr_u32(&wr, (uint32_t)header_len);
    proto_wr_str8(&wr, d->kind, strlen(d->kind));
    proto_wr_bytes(&wr, id, sizeof(id));
    proto_wr_u64(&wr, created);
    proto_wr_u64(&wr, d->expires_ms);
    proto_addr_write(&wr, &signer->addr);
    proto_wr_str8(&wr, d->actor, strlen(d->actor));
    proto_wr_u8(&wr, (uint8_t)d->recipient_count);
    for (size_t i = 0; i < d->recipient_count; i++)
        proto_addr_write(&wr, &sorted[i]);
    proto_wr_str8(&wr, d->case_id != NULL ? d->case_id : "", case_len);
    proto_wr_bytes(&wr, d->in_reply_to, PROTO_ID_BYTES);
    proto_labels_encode(&wr, &d->labels);
    proto_wr_u8(&wr, (uint8_t)d->portion_count);
    for (size_t i = 0; i < d->portion_count; i++)
        proto_labels_encode(&wr, &d->portions[i].labels);
    proto_wr_u8(&wr, (uint8_t)d->grant_count);
    for (size_t i = 0; i < d->grant_count; i++) {
        proto_wr_u16(&wr, (uint16_t)d->grants[i].len);
        proto_wr_bytes(&wr, d->grants[i].data, d->grants[i].len);
    }
    if (wr.overflow || wr.len != HEADER_PREFIX_BYTES + header_len) {
        err = PROTO_ERR_INVALID;
        goto fail;
    }
    proto_sha256(wr.p, wr.len, header_hash);

    for (size_t i = 0; i < d->portion_count; i++) {
        err = seal_portion(&wr, d, (uint8_t)i, header_hash, leaves[i], detail);
        if (err != PROTO_OK)
            goto fail;
    }
    proto_merkle_root((const uint8_t(*)[PROTO_HASH_BYTES])leaves, d->portion_count, root);
    signed_input(header_hash, root, input);
    proto_sign(sig, input, sizeof(input), signer->sign_secret);
    proto_wr_bytes(&wr, sig, sizeof(sig));
    if (wr.overflow || wr.len != total) {
        err = PROTO_ERR_INVALID;
        goto fail;
    }
    *buf_out = wr.p;
    *len_out = wr.len;
    return PROTO_OK;
fail:
    free(wr.p);
    return err;
}

/* ---- Decoding ----------------------------------------------------------- */

static proto_err
read_addr(proto_rd *rd, const char *field, proto_addr *out)
{
    proto_slice s;
    proto_err err = proto_rd_str8(rd, field, PROTO_ADDR_TEXT_MAX, &s);

    if (err != PROTO_OK)
        return err;
    return proto_addr_from_slice(s, out, rd->detail, field);
}

static proto_err
decode_header(proto_rd *rd, proto_envelope *env)
{
    proto_slice s;
    const uint8_t *p;
    proto_err err;
    char field[40];

    err = proto_rd_str8(rd, "header.kind", PROTO_KIND_MAX, &s);
    if (err != PROTO_OK)
        return err;
    memcpy(env->kind, s.data, s.len);
    env->kind[s.len] = '\0';
    if (memchr(s.data, '\0', s.len) != NULL || proto_kind_check(env->kind, rd->detail) != PROTO_OK) {
        proto_detail_set(rd->detail, "header.kind", "kind is not lower-case 'family.verb'");
        return PROTO_ERR_SYNTAX;
    }
    if ((err = proto_rd_bytes(rd, "header.id", PROTO_ID_BYTES, &p)) != PROTO_OK)
        return err;
    memcpy(env->id, p, PROTO_ID_BYTES);
    if (proto_id_is_zero(env->id)) {
        proto_detail_set(rd->detail, "header.id", "message id is all zero");
        return PROTO_ERR_SYNTAX;
    }
    if ((err = proto_rd_u64(rd, "header.created", &env->created_ms)) != PROTO_OK ||
        (err = proto_rd_u64(rd, "header.expires", &env->expires_ms)) != PROTO_OK)
        return err;
    if (env->expires_ms <= env->created_ms) {
        proto_detail_set(rd->detail, "header.expires", "expiry is not after creation");
        return PROTO_ERR_LIMIT;
    }
    if ((err = read_addr(rd, "header.sender", &env->sender)) != PROTO_OK)
        return err;
    if (env->sender.kind != PROTO_ADDR_AGENCY) {
        proto_detail_set(rd->detail, "header.sender", "sender must be an agency NATION/AGENCY");
        return PROTO_ERR_SYNTAX;
    }
    env->actor[0] = '\0';
    if (env->version >= 2) {
        if ((err = proto_rd_str8(rd, "header.actor", PROTO_ACTOR_MAX, &s)) != PROTO_OK)
            return err;
        if (!proto_actor_valid_n((const char *)s.data, s.len)) {
            proto_detail_set(rd->detail, "header.actor",
                             "actor must be 1 to %u of A-Z a-z 0-9 . _ : @ -", PROTO_ACTOR_MAX);
            return PROTO_ERR_SYNTAX;
        }
        memcpy(env->actor, s.data, s.len);
        env->actor[s.len] = '\0';
    }
    if ((err = proto_rd_u8(rd, "header.recipient_count", &env->recipient_count)) != PROTO_OK)
        return err;
    if (env->recipient_count == 0 || env->recipient_count > PROTO_RECIPIENTS_MAX) {
        proto_detail_set(rd->detail, "header.recipient_count", "%u recipients, 1 to %u allowed",
                         env->recipient_count, PROTO_RECIPIENTS_MAX);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < env->recipient_count; i++) {
        snprintf(field, sizeof(field), "header.recipients[%zu]", i);
        if ((err = read_addr(rd, field, &env->recipients[i])) != PROTO_OK)
            return err;
        if (env->recipients[i].kind == PROTO_ADDR_BROKER) {
            proto_detail_set(rd->detail, field, "a broker address is not a recipient");
            return PROTO_ERR_SYNTAX;
        }
        if (i > 0 && addr_cmp(&env->recipients[i - 1], &env->recipients[i]) >= 0) {
            proto_detail_set(rd->detail, field, "recipients must be sorted and unique");
            return PROTO_ERR_NONCANONICAL;
        }
    }
    err = proto_rd_str8(rd, "header.case_id", PROTO_CASE_ID_MAX, &s);
    if (err != PROTO_OK)
        return err;
    if (!case_id_valid((const char *)s.data, s.len)) {
        proto_detail_set(rd->detail, "header.case_id", "case id has characters not allowed");
        return PROTO_ERR_SYNTAX;
    }
    if (s.len > 0)
        memcpy(env->case_id, s.data, s.len);
    env->case_id[s.len] = '\0';
    if ((err = proto_rd_bytes(rd, "header.in_reply_to", PROTO_ID_BYTES, &p)) != PROTO_OK)
        return err;
    memcpy(env->in_reply_to, p, PROTO_ID_BYTES);
    if ((err = proto_labels_read(rd, &env->labels, "header.labels")) != PROTO_OK)
        return err;
    if ((err = proto_rd_u8(rd, "header.portion_count", &env->portion_count)) != PROTO_OK)
        return err;
    if (env->portion_count == 0 || env->portion_count > PROTO_PORTIONS_MAX) {
        proto_detail_set(rd->detail, "header.portion_count", "%u portions, 1 to %u allowed",
                         env->portion_count, PROTO_PORTIONS_MAX);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < env->portion_count; i++) {
        proto_labels scratch;
        const uint8_t *start = rd->p;

        if ((err = proto_labels_read(rd, &scratch, "header.portion_labels")) != PROTO_OK)
            return err;
        env->portions[i].labels.data = start;
        env->portions[i].labels.len = (size_t)(rd->p - start);
    }
    env->grant_count = 0;
    if (env->version < 2)
        return PROTO_OK;
    if ((err = proto_rd_u8(rd, "header.grant_count", &env->grant_count)) != PROTO_OK)
        return err;
    if (env->grant_count > PROTO_GRANTS_MAX) {
        proto_detail_set(rd->detail, "header.grant_count", "%u consent grants, 0 to %u allowed",
                         env->grant_count, PROTO_GRANTS_MAX);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < env->grant_count; i++) {
        uint16_t glen;

        snprintf(field, sizeof(field), "header.grants[%zu]", i);
        if ((err = proto_rd_u16(rd, field, &glen)) != PROTO_OK)
            return err;
        if (glen == 0 || glen > PROTO_GRANT_MAX) {
            proto_detail_set(rd->detail, field, "grant of %u bytes, 1 to %u allowed", glen,
                             PROTO_GRANT_MAX);
            return PROTO_ERR_LIMIT;
        }
        if ((err = proto_rd_bytes(rd, field, glen, &p)) != PROTO_OK)
            return err;
        env->grants[i] = (proto_slice){p, glen};
    }
    return PROTO_OK;
}

static proto_err note_check(const char *note, size_t len, proto_detail *detail,
                            const char *field);

static proto_err
decode_portion(proto_rd *rd, proto_envelope *env, uint8_t index)
{
    proto_portion *p = &env->portions[index];
    char field[40];
    uint32_t ct_len;
    const uint8_t *hash, *record;
    proto_err err;

    snprintf(field, sizeof(field), "portions[%u]", index);
    record = rd->p;
    if ((err = proto_rd_u8(rd, field, &p->state)) != PROTO_OK)
        return err;
    p->note = (proto_slice){NULL, 0};
    if (p->state == PROTO_PORTION_WITHHELD || p->state == PROTO_PORTION_NOTED) {
        if ((err = proto_rd_bytes(rd, field, PROTO_HASH_BYTES, &hash)) != PROTO_OK)
            return err;
        memcpy(p->leaf_hash, hash, PROTO_HASH_BYTES);
        p->nonce = p->commitment = NULL;
        p->ciphertext = p->seals = (proto_slice){NULL, 0};
        p->seal_count = 0;
        if (p->state == PROTO_PORTION_WITHHELD)
            return PROTO_OK;
        snprintf(field, sizeof(field), "portions[%u].note", index);
        /* One byte past the limit, so that a long note is named as such. */
        if ((err = proto_rd_str8(rd, field, 255, &p->note)) != PROTO_OK)
            return err;
        return note_check((const char *)p->note.data, p->note.len, rd->detail, field);
    }
    if (p->state != PROTO_PORTION_PRESENT) {
        proto_detail_set(rd->detail, field, "%s: unknown portion state %u", field, p->state);
        return PROTO_ERR_SYNTAX;
    }
    if ((err = proto_rd_bytes(rd, field, PROTO_AEAD_NONCE_BYTES, &p->nonce)) != PROTO_OK ||
        (err = proto_rd_bytes(rd, field, PROTO_HASH_BYTES, &p->commitment)) != PROTO_OK ||
        (err = proto_rd_u32(rd, field, &ct_len)) != PROTO_OK)
        return err;
    if (ct_len < PROTO_AEAD_TAG_BYTES || ct_len > PROTO_PORTION_MAX) {
        proto_detail_set(rd->detail, field, "%s: ciphertext of %u bytes, %u to %u allowed",
                         field, ct_len, PROTO_AEAD_TAG_BYTES, PROTO_PORTION_MAX);
        return PROTO_ERR_LIMIT;
    }
    if ((err = proto_rd_bytes(rd, field, ct_len, &p->ciphertext.data)) != PROTO_OK)
        return err;
    p->ciphertext.len = ct_len;
    if ((err = proto_rd_u8(rd, field, &p->seal_count)) != PROTO_OK)
        return err;
    p->seals.data = rd->p;
    {
        proto_slice prev = {NULL, 0};

        for (size_t s = 0; s < p->seal_count; s++) {
            proto_slice name;
            proto_addr who;
            const uint8_t *sealed;

            snprintf(field, sizeof(field), "portions[%u].seals[%zu]", index, s);
            if ((err = proto_rd_str8(rd, field, PROTO_ADDR_TEXT_MAX, &name)) != PROTO_OK)
                return err;
            if ((err = proto_addr_from_slice(name, &who, rd->detail, field)) != PROTO_OK)
                return err;
            if (who.kind != PROTO_ADDR_AGENCY) {
                proto_detail_set(rd->detail, field, "%s: seal is not filed under an agency", field);
                return PROTO_ERR_SYNTAX;
            }
            if (s > 0 && slice_cmp(prev, name) >= 0) {
                proto_detail_set(rd->detail, field, "%s: seals must be sorted and unique", field);
                return PROTO_ERR_NONCANONICAL;
            }
            if ((err = proto_rd_bytes(rd, field, PROTO_SEAL_BYTES, &sealed)) != PROTO_OK)
                return err;
            prev = name;
        }
    }
    p->seals.len = (size_t)(rd->p - p->seals.data);
    proto_leaf_hash(index, record, (size_t)(rd->p - record), p->leaf_hash);
    return PROTO_OK;
}

proto_err
proto_envelope_decode(const uint8_t *buf, size_t len, proto_envelope *env, proto_detail *detail)
{
    proto_rd rd = {buf, len, detail};
    uint8_t leaves[PROTO_PORTIONS_MAX][PROTO_HASH_BYTES];
    const uint8_t *magic;
    uint32_t header_len;
    proto_rd hr;
    proto_err err;

    if (buf == NULL && len > 0)
        return PROTO_ERR_INVALID;
    if (len > PROTO_ENVELOPE_MAX) {
        proto_detail_set(detail, "envelope", "envelope has %zu bytes, at most %u", len,
                         PROTO_ENVELOPE_MAX);
        return PROTO_ERR_LIMIT;
    }
    if ((err = proto_rd_bytes(&rd, "magic", 4, &magic)) != PROTO_OK)
        return err;
    if (memcmp(magic, PROTO_ENVELOPE_MAGIC, 4) != 0) {
        proto_detail_set(detail, "magic", "not a Liaison envelope (magic is not 'LSNE')");
        return PROTO_ERR_MAGIC;
    }
    if ((err = proto_rd_u8(&rd, "version", &env->version)) != PROTO_OK)
        return err;
    if (env->version != 1 && env->version != PROTO_ENVELOPE_VERSION) {
        proto_detail_set(detail, "version", "envelope version %u is not known (1 and %u are)",
                         env->version, PROTO_ENVELOPE_VERSION);
        return PROTO_ERR_VERSION;
    }
    if ((err = proto_rd_u32(&rd, "header_len", &header_len)) != PROTO_OK)
        return err;
    if (header_len > rd.left) {
        proto_detail_set(detail, "header_len", "header of %u bytes is longer than the input",
                         header_len);
        return PROTO_ERR_TRUNCATED;
    }
    hr = (proto_rd){rd.p, header_len, detail};
    if ((err = decode_header(&hr, env)) != PROTO_OK)
        return err;
    if ((err = proto_rd_end(&hr, "header")) != PROTO_OK)
        return err;
    rd.p += header_len;
    rd.left -= header_len;
    env->header_block = (proto_slice){buf, HEADER_PREFIX_BYTES + header_len};
    proto_sha256(buf, env->header_block.len, env->header_hash);

    for (uint8_t i = 0; i < env->portion_count; i++) {
        if ((err = decode_portion(&rd, env, i)) != PROTO_OK)
            return err;
        memcpy(leaves[i], env->portions[i].leaf_hash, PROTO_HASH_BYTES);
    }
    if ((err = proto_rd_bytes(&rd, "signature", PROTO_SIGNATURE_BYTES, &env->signature)) !=
        PROTO_OK)
        return err;
    if ((err = proto_rd_end(&rd, "envelope")) != PROTO_OK)
        return err;
    proto_merkle_root((const uint8_t(*)[PROTO_HASH_BYTES])leaves, env->portion_count,
                      env->portions_root);
    env->bytes = (proto_slice){buf, len};
    return PROTO_OK;
}

proto_err
proto_envelope_verify(const proto_envelope *env, const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES])
{
    uint8_t input[PROTO_SIGNED_INPUT_BYTES];

    signed_input(env->header_hash, env->portions_root, input);
    return proto_sign_verify(env->signature, input, sizeof(input), sign_public);
}

proto_err
proto_envelope_portion_labels(const proto_envelope *env, size_t index, proto_labels *labels_out)
{
    if (index >= env->portion_count)
        return PROTO_ERR_INVALID;
    return proto_labels_decode(env->portions[index].labels.data, env->portions[index].labels.len,
                               labels_out, NULL);
}

uint64_t
proto_envelope_withheld_mask(const proto_envelope *env)
{
    uint64_t mask = 0;

    for (size_t i = 0; i < env->portion_count; i++) {
        if (proto_envelope_portion_withheld(env, i))
            mask |= (uint64_t)1 << i;
    }
    return mask;
}

bool
proto_envelope_portion_withheld(const proto_envelope *env, size_t index)
{
    return index < env->portion_count &&
           (env->portions[index].state == PROTO_PORTION_WITHHELD ||
            env->portions[index].state == PROTO_PORTION_NOTED);
}

/* ---- Withholding notes --------------------------------------------------- */

/* proto_note_check, naming field in the detail. */
static proto_err
note_check(const char *note, size_t len, proto_detail *detail, const char *field)
{
    char shown[PROTO_ESCAPED_MAX(PROTO_NOTE_MAX)];
    bool ok;

    if (len > PROTO_NOTE_MAX) {
        proto_detail_set(detail, field, "%s: withholding note of %zu bytes, at most %u", field,
                         len, PROTO_NOTE_MAX);
        return PROTO_ERR_LIMIT;
    }
    ok = note != NULL && len >= PROTO_NATION_LEN;
    for (size_t i = 0; ok && i < PROTO_NATION_LEN; i++)
        ok = note[i] >= 'A' && note[i] <= 'Z';
    if (ok && len > PROTO_NATION_LEN)
        ok = len > PROTO_NATION_LEN + 1 && note[PROTO_NATION_LEN] == ' ' &&
             proto_rule_id_valid(note + PROTO_NATION_LEN + 1, len - PROTO_NATION_LEN - 1);
    if (!ok) {
        /* The bytes came from a peer: quote them escaped. */
        proto_text_escape(note != NULL ? note : "", note != NULL ? len : 0, shown, sizeof(shown));
        proto_detail_set(detail, field,
                         "%s: withholding note '%s' is not a nation (3 of A-Z), optionally a "
                         "space and a rule id (1-%u of A-Z a-z 0-9 . _ : -)",
                         field, shown, PROTO_RULE_ID_MAX);
        return PROTO_ERR_SYNTAX;
    }
    return PROTO_OK;
}

proto_err
proto_note_check(const char *note, size_t len, proto_detail *detail)
{
    return note_check(note, len, detail, "note");
}

bool
proto_envelope_portion_note(const proto_envelope *env, size_t index,
                            char nation_out[PROTO_NATION_LEN + 1],
                            char rule_out[PROTO_RULE_ID_MAX + 1])
{
    const proto_portion *p;

    nation_out[0] = rule_out[0] = '\0';
    if (index >= env->portion_count)
        return false;
    p = &env->portions[index];
    /* Decode checked the grammar; check the length again before copying. */
    if (p->state != PROTO_PORTION_NOTED || p->note.len < PROTO_NATION_LEN ||
        p->note.len > PROTO_NOTE_MAX)
        return false;
    memcpy(nation_out, p->note.data, PROTO_NATION_LEN);
    nation_out[PROTO_NATION_LEN] = '\0';
    if (p->note.len > PROTO_NATION_LEN + 1) {
        memcpy(rule_out, p->note.data + PROTO_NATION_LEN + 1, p->note.len - PROTO_NATION_LEN - 1);
        rule_out[p->note.len - PROTO_NATION_LEN - 1] = '\0';
    }
    return true;
}

size_t
proto_envelope_plain_len(const proto_envelope *env, size_t index)
{
    if (index >= env->portion_count || env->portions[index].state != PROTO_PORTION_PRESENT)
        return 0;
    return env->portions[index].ciphertext.len - PROTO_AEAD_TAG_BYTES;
}

/* Walks the seal list of a present portion; calls fn for each seal. */
typedef bool (*seal_fn)(void *ctx, proto_slice name, const uint8_t *sealed);

static void
each_seal(const proto_portion *p, seal_fn fn, void *ctx)
{
    const uint8_t *q = p->seals.data;

    for (size_t s = 0; s < p->seal_count; s++) {
        proto_slice name = {q + 1, q[0]};

        if (!fn(ctx, name, name.data + name.len))
            return;
        q = name.data + name.len + PROTO_SEAL_BYTES;
    }
}

typedef struct find_ctx {
    proto_slice want;        /* the reader's address text */
    const uint8_t *sealed;   /* set when found */
} find_ctx;

static bool
find_one(void *ctx, proto_slice name, const uint8_t *sealed)
{
    find_ctx *f = ctx;

    if (slice_cmp(name, f->want) == 0) {
        f->sealed = sealed;
        return false;
    }
    return true;
}

static const uint8_t *
find_seal(const proto_portion *p, const proto_addr *reader)
{
    char text[PROTO_ADDR_TEXT_MAX + 1];
    find_ctx f;

    proto_addr_format(reader, text, sizeof(text));
    f.want = (proto_slice){(const uint8_t *)text, strlen(text)};
    f.sealed = NULL;
    each_seal(p, find_one, &f);
    return f.sealed;
}

bool
proto_envelope_has_seal(const proto_envelope *env, size_t index, const proto_addr *reader)
{
    if (index >= env->portion_count || env->portions[index].state != PROTO_PORTION_PRESENT)
        return false;
    return find_seal(&env->portions[index], reader) != NULL;
}

proto_err
proto_envelope_open(const proto_envelope *env, size_t index, const proto_identity *reader,
                    uint8_t *plain_out, size_t *plain_len_out)
{
    const proto_portion *p;
    const uint8_t *sealed;
    uint8_t *key = NULL;
    uint8_t commit[PROTO_HASH_BYTES], ad[PROTO_HASH_BYTES + 1];
    proto_err err;

    if (index >= env->portion_count)
        return PROTO_ERR_INVALID;
    p = &env->portions[index];
    if (p->state != PROTO_PORTION_PRESENT)
        return PROTO_ERR_WITHHELD;
    sealed = find_seal(p, &reader->addr);
    if (sealed == NULL)
        return PROTO_ERR_NOT_RECIPIENT;
    key = proto_secret_alloc(PROTO_AEAD_KEY_BYTES);
    if (key == NULL)
        return PROTO_ERR_NOMEM;
    err = proto_unseal_key(sealed, reader, key);
    if (err != PROTO_OK)
        goto out;
    proto_key_commit(key, commit);
    if (!proto_equal(commit, p->commitment, sizeof(commit))) {
        err = PROTO_ERR_DECRYPT;
        goto out;
    }
    make_ad(env->header_hash, (uint8_t)index, ad);
    err = proto_aead_decrypt(plain_out, p->ciphertext.data, p->ciphertext.len, ad, sizeof(ad),
                             p->nonce, key);
    if (err == PROTO_OK)
        *plain_len_out = p->ciphertext.len - PROTO_AEAD_TAG_BYTES;
out:
    proto_secret_free(key);
    return err;
}

/* ---- Redaction ---------------------------------------------------------- */

/* Bytes of a present portion's record, state byte to last seal. */
static size_t
record_len(const proto_portion *p)
{
    return (size_t)(p->seals.data + p->seals.len - (p->nonce - 1));
}

proto_err
proto_envelope_redact(const proto_envelope *env, uint64_t withhold_mask, uint8_t **buf_out,
                      size_t *len_out)
{
    return proto_envelope_redact_noted(env, withhold_mask, NULL, buf_out, len_out);
}

/* The note withheld portion i (p) is written with: the one it came with,
 * else notes[i] (empty: none, so state 2). */
static proto_slice
note_of(const proto_portion *p, const char *const *notes, size_t i)
{
    if (p->state == PROTO_PORTION_NOTED)
        return p->note;
    if (notes == NULL || notes[i] == NULL)
        return (proto_slice){NULL, 0};
    return (proto_slice){(const uint8_t *)notes[i], strlen(notes[i])};
}

proto_err
proto_envelope_redact_noted(const proto_envelope *env, uint64_t withhold_mask,
                            const char *const *notes, uint8_t **buf_out, size_t *len_out)
{
    proto_wr wr = {0};
    size_t total = env->header_block.len + PROTO_SIGNATURE_BYTES;

    if (env->portion_count < 64 && (withhold_mask >> env->portion_count) != 0)
        return PROTO_ERR_INVALID;
    for (size_t i = 0; i < env->portion_count; i++) {
        const proto_portion *p = &env->portions[i];
        proto_slice note = note_of(p, notes, i);

        if (p->state == PROTO_PORTION_PRESENT && !(withhold_mask >> i & 1)) {
            total += record_len(p);
            continue;
        }
        if (note.len > 0 && proto_note_check((const char *)note.data, note.len, NULL) != PROTO_OK)
            return PROTO_ERR_INVALID;
        total += 1 + PROTO_HASH_BYTES + (note.len > 0 ? 1 + note.len : 0);
    }
    wr.p = proto_alloc(total);
    wr.cap = total;
    if (wr.p == NULL)
        return PROTO_ERR_NOMEM;
    proto_wr_bytes(&wr, env->header_block.data, env->header_block.len);
    for (size_t i = 0; i < env->portion_count; i++) {
        const proto_portion *p = &env->portions[i];
        proto_slice note = note_of(p, notes, i);

        if (p->state == PROTO_PORTION_PRESENT && !(withhold_mask >> i & 1)) {
            proto_wr_bytes(&wr, p->nonce - 1, record_len(p));
        } else if (note.len > 0) {
            proto_wr_u8(&wr, PROTO_PORTION_NOTED);
            proto_wr_bytes(&wr, p->leaf_hash, PROTO_HASH_BYTES);
            proto_wr_str8(&wr, (const char *)note.data, note.len);
        } else {
            proto_wr_u8(&wr, PROTO_PORTION_WITHHELD);
            proto_wr_bytes(&wr, p->leaf_hash, PROTO_HASH_BYTES);
        }
    }
    proto_wr_bytes(&wr, env->signature, PROTO_SIGNATURE_BYTES);
    if (wr.overflow || wr.len != total) {
        free(wr.p);
        return PROTO_ERR_INVALID;
    }
    *buf_out = wr.p;
    *len_out = wr.len;
    return PROTO_OK;
}
