/* Delivery reports: a broker's signed statement of a message's state. */
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

/* A report is its body (magic to envelope hash), where it sits in the batch
 * signed with it, and the signature over that batch's Merkle root:
 *   body || u32 batch_size || u32 index || u8 path_count || path || signature
 * The signature covers "liaison report v1" || 0x00 || u32 batch_size || root,
 * the root being RFC 9162's over the leaf hashes SHA-256(0x00 || body). */
#define REPORT_INPUT_BYTES (sizeof(PROTO_REPORT_CONTEXT) + 4 + PROTO_HASH_BYTES)
_Static_assert(REPORT_INPUT_BYTES == PROTO_REPORT_SIGNED_BYTES, "signed bytes of a report batch");
#define REPORT_BODY_MAX                                                                        \
    (4 + 1 + PROTO_ID_BYTES + 1 + PROTO_ADDR_TEXT_MAX + proto_status_encoded_max(1) - 2 +   \
     PROTO_HASH_BYTES)

static void
report_signed_input(uint32_t batch_size, const uint8_t root[PROTO_HASH_BYTES], uint8_t *out)
{
    memcpy(out, PROTO_REPORT_CONTEXT, sizeof(PROTO_REPORT_CONTEXT));
    for (size_t i = 0; i < 4; i++)
        out[sizeof(PROTO_REPORT_CONTEXT) + i] = (uint8_t)(batch_size >> (24 - 8 * i));
    memcpy(out + sizeof(PROTO_REPORT_CONTEXT) + 4, root, PROTO_HASH_BYTES);
}

/* Writes report r's body into a fresh buffer with room for its batch fields. */
static proto_err
report_body(const proto_report *r, const proto_identity *broker, size_t path_count,
            proto_wr *wr)
{
    size_t cap = REPORT_BODY_MAX + 4 + 4 + 1 + path_count * PROTO_HASH_BYTES +
                 PROTO_SIGNATURE_BYTES;

    if (r->broker.kind != PROTO_ADDR_BROKER || proto_id_is_zero(r->id) ||
        !proto_addr_equal(&r->broker, &broker->addr) ||
        proto_entry_check(&r->entry, NULL, "entry") != PROTO_OK)
        return PROTO_ERR_INVALID;
    memset(wr, 0, sizeof(*wr));
    wr->p = proto_alloc(cap);
    wr->cap = cap;
    if (wr->p == NULL)
        return PROTO_ERR_NOMEM;
    proto_wr_bytes(wr, PROTO_REPORT_MAGIC, 4);
    proto_wr_u8(wr, PROTO_FORMAT_VERSION);
    proto_wr_bytes(wr, r->id, PROTO_ID_BYTES);
    proto_addr_write(wr, &r->broker);
    proto_entry_write(wr, &r->entry);
    proto_wr_bytes(wr, r->envelope_hash, PROTO_HASH_BYTES);
    if (wr->overflow) {
        free(wr->p);
        wr->p = NULL;
        return PROTO_ERR_LIMIT;
    }
    return PROTO_OK;
}

proto_err
proto_report_sign_batch(const proto_report *reports, size_t count, const proto_identity *broker,
                        uint8_t **bufs_out, size_t *lens_out)
{
    uint8_t input[REPORT_INPUT_BYTES], root[PROTO_HASH_BYTES], sig[PROTO_SIGNATURE_BYTES];
    uint8_t(*leaves)[PROTO_HASH_BYTES] = NULL, (*paths)[PROTO_HASH_BYTES] = NULL;
    uint8_t *filled = NULL;
    proto_wr *wr = NULL;
    proto_err err = PROTO_OK;
    size_t made = 0;

    if (count == 0 || count > PROTO_REPORT_BATCH_MAX)
        return PROTO_ERR_INVALID;
    leaves = proto_alloc(count * sizeof(*leaves));
    paths = proto_alloc(count * PROTO_REPORT_PATH_MAX * sizeof(*paths));
    filled = proto_alloc(count);
    wr = proto_alloc(count * sizeof(*wr));
    if (leaves == NULL || paths == NULL || filled == NULL || wr == NULL) {
        err = PROTO_ERR_NOMEM;
        goto out;
    }
    memset(filled, 0, count);
    for (; made < count; made++) {
        err = report_body(&reports[made], broker, proto_merkle_path_len(made, count), &wr[made]);
        if (err != PROTO_OK)
            goto out;
        proto_merkle_leaf(wr[made].p, wr[made].len, leaves[made]);
    }
    proto_merkle_paths((const uint8_t(*)[PROTO_HASH_BYTES])leaves, count, paths,
                       PROTO_REPORT_PATH_MAX, filled, root);
    report_signed_input((uint32_t)count, root, input);
    proto_sign(sig, input, sizeof(input), broker->sign_secret);
    for (size_t i = 0; i < count; i++) {
        proto_wr_u32(&wr[i], (uint32_t)count);
        proto_wr_u32(&wr[i], (uint32_t)i);
        proto_wr_u8(&wr[i], filled[i]);
        proto_wr_bytes(&wr[i], paths[i * PROTO_REPORT_PATH_MAX], (size_t)filled[i] * PROTO_HASH_BYTES);
        proto_wr_bytes(&wr[i], sig, sizeof(sig));
        if (wr[i].overflow) {
            err = PROTO_ERR_LIMIT;
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        bufs_out[i] = wr[i].p;
        lens_out[i] = wr[i].len;
    }
    made = 0; /* the caller's now */
out:
    for (size_t i = 0; i < made; i++)
        free(wr[i].p);
    free(wr);
    free(filled);
    free(paths);
    free(leaves);
    return err;
}

proto_err
proto_report_sign(const proto_report *r, const proto_identity *broker, uint8_t **buf_out,
                  size_t *len_out)
{
    return proto_report_sign_batch(r, 1, broker, buf_out, len_out);
}

/* Where a report's batch fields are, found by report_parse. */
typedef struct report_batch {
    size_t body_len;                          /* bytes of the body */
    uint32_t size;                            /* reports signed together */
    uint32_t index;                           /* this one's place among them */
    const uint8_t (*path)[PROTO_HASH_BYTES];  /* its inclusion path */
    uint8_t path_count;                       /* hashes in it */
    const uint8_t *signature;                 /* over the batch's root */
} report_batch;

static proto_err
report_parse(const uint8_t *buf, size_t len, proto_report *report_out, report_batch *batch_out,
             proto_detail *detail)
{
    proto_rd rd = {buf, len, detail};
    proto_report r;
    report_batch b;
    const uint8_t *p;
    proto_slice s;
    uint8_t version;
    proto_err err;

    if (buf == NULL && len > 0)
        return PROTO_ERR_INVALID;
    memset(&r, 0, sizeof(r));
    if ((err = proto_rd_bytes(&rd, "report.magic", 4, &p)) != PROTO_OK)
        return err;
    if (memcmp(p, PROTO_REPORT_MAGIC, 4) != 0) {
        proto_detail_set(detail, "report.magic", "not a Liaison delivery report");
        return PROTO_ERR_MAGIC;
    }
    if ((err = proto_rd_u8(&rd, "report.version", &version)) != PROTO_OK)
        return err;
    if (version != PROTO_FORMAT_VERSION) {
        proto_detail_set(detail, "report.version", "report version %u is not known", version);
        return PROTO_ERR_VERSION;
    }
    if ((err = proto_rd_bytes(&rd, "report.id", PROTO_ID_BYTES, &p)) != PROTO_OK)
        return err;
    memcpy(r.id, p, PROTO_ID_BYTES);
    if (proto_id_is_zero(r.id)) {
        proto_detail_set(detail, "report.id", "message id is all zero");
        return PROTO_ERR_SYNTAX;
    }
    if ((err = proto_rd_str8(&rd, "report.broker", PROTO_ADDR_TEXT_MAX, &s)) != PROTO_OK ||
        (err = proto_addr_from_slice(s, &r.broker, detail, "report.broker")) != PROTO_OK)
        return err;
    if (r.broker.kind != PROTO_ADDR_BROKER) {
        proto_detail_set(detail, "report.broker", "report.broker is not a broker (NATION)");
        return PROTO_ERR_SYNTAX;
    }
    if ((err = proto_entry_read(&rd, &r.entry, "report.entry")) != PROTO_OK ||
        (err = proto_rd_bytes(&rd, "report.envelope_hash", PROTO_HASH_BYTES, &p)) != PROTO_OK)
        return err;
    memcpy(r.envelope_hash, p, PROTO_HASH_BYTES);
    b.body_len = len - rd.left;
    if ((err = proto_rd_u32(&rd, "report.batch_size", &b.size)) != PROTO_OK ||
        (err = proto_rd_u32(&rd, "report.index", &b.index)) != PROTO_OK ||
        (err = proto_rd_u8(&rd, "report.path_count", &b.path_count)) != PROTO_OK)
        return err;
    if (b.size == 0 || b.size > PROTO_REPORT_BATCH_MAX) {
        proto_detail_set(detail, "report.batch_size", "batch of %u reports: 1 to %u", b.size,
                         PROTO_REPORT_BATCH_MAX);
        return PROTO_ERR_LIMIT;
    }
    if (b.index >= b.size) {
        proto_detail_set(detail, "report.index", "index %u outside a batch of %u", b.index, b.size);
        return PROTO_ERR_LIMIT;
    }
    if (b.path_count != proto_merkle_path_len(b.index, b.size)) {
        proto_detail_set(detail, "report.path_count",
                         "%u hashes where report %u of %u has a path of %zu", b.path_count,
                         b.index, b.size, proto_merkle_path_len(b.index, b.size));
        return PROTO_ERR_LIMIT;
    }
    if ((err = proto_rd_bytes(&rd, "report.path", (size_t)b.path_count * PROTO_HASH_BYTES, &p)) !=
        PROTO_OK)
        return err;
    b.path = (const void *)p;
    if ((err = proto_rd_bytes(&rd, "report.signature", PROTO_SIGNATURE_BYTES, &p)) != PROTO_OK ||
        (err = proto_rd_end(&rd, "report")) != PROTO_OK)
        return err;
    b.signature = p;
    *report_out = r;
    if (batch_out != NULL)
        *batch_out = b;
    return PROTO_OK;
}

proto_err
proto_report_decode(const uint8_t *buf, size_t len, proto_report *report_out,
                    proto_detail *detail)
{
    return report_parse(buf, len, report_out, NULL, detail);
}

/* The bytes a report's batch signature covers, from its body and path. */
static proto_err
report_signed(const uint8_t *buf, size_t len, uint8_t input[REPORT_INPUT_BYTES],
              report_batch *b)
{
    uint8_t leaf[PROTO_HASH_BYTES], root[PROTO_HASH_BYTES];
    proto_report r;

    if (report_parse(buf, len, &r, b, NULL) != PROTO_OK)
        return PROTO_ERR_SIGNATURE;
    proto_merkle_leaf(buf, b->body_len, leaf);
    if (proto_merkle_root_from_path(b->index, b->size, leaf, b->path, b->path_count, root) !=
        PROTO_OK)
        return PROTO_ERR_SIGNATURE;
    report_signed_input(b->size, root, input);
    return PROTO_OK;
}

proto_err
proto_report_verify(const uint8_t *buf, size_t len,
                    const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES])
{
    uint8_t input[REPORT_INPUT_BYTES];
    report_batch b;

    if (report_signed(buf, len, input, &b) != PROTO_OK)
        return PROTO_ERR_SIGNATURE;
    return proto_sign_verify(b.signature, input, sizeof(input), sign_public);
}

proto_err
proto_report_verify_cached(const uint8_t *buf, size_t len,
                           const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES],
                           proto_report_cache *cache)
{
    uint8_t input[REPORT_INPUT_BYTES];
    report_batch b;
    unsigned k;

    if (report_signed(buf, len, input, &b) != PROTO_OK)
        return PROTO_ERR_SIGNATURE;
    for (k = 0; k < PROTO_REPORT_CACHE_SLOTS; k++) {
        if (cache->slot[k].used &&
            memcmp(cache->slot[k].key, sign_public, PROTO_SIGN_PUBLIC_BYTES) == 0 &&
            memcmp(cache->slot[k].signed_bytes, input, sizeof(input)) == 0 &&
            memcmp(cache->slot[k].signature, b.signature, PROTO_SIGNATURE_BYTES) == 0)
            return PROTO_OK;
    }
    if (proto_sign_verify(b.signature, input, sizeof(input), sign_public) != PROTO_OK)
        return PROTO_ERR_SIGNATURE;
    k = cache->next++ % PROTO_REPORT_CACHE_SLOTS;
    cache->slot[k].used = true;
    memcpy(cache->slot[k].key, sign_public, PROTO_SIGN_PUBLIC_BYTES);
    memcpy(cache->slot[k].signed_bytes, input, sizeof(input));
    memcpy(cache->slot[k].signature, b.signature, PROTO_SIGNATURE_BYTES);
    return PROTO_OK;
}
