/* Delivery reports: a broker's signed statement of a message's state. */
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

/* Bytes signed: context with its NUL, then SHA-256 of the report body. */
static void
report_signed_input(const uint8_t *body, size_t len, uint8_t *out)
{
    memcpy(out, PROTO_REPORT_CONTEXT, sizeof(PROTO_REPORT_CONTEXT));
    proto_sha256(body, len, out + sizeof(PROTO_REPORT_CONTEXT));
}
#define REPORT_INPUT_BYTES (sizeof(PROTO_REPORT_CONTEXT) + PROTO_HASH_BYTES)

proto_err
proto_report_sign(const proto_report *r, const proto_identity *broker, uint8_t **buf_out,
                  size_t *len_out)
{
    uint8_t input[REPORT_INPUT_BYTES];
    size_t cap = 4 + 1 + PROTO_ID_BYTES + 1 + PROTO_ADDR_TEXT_MAX +
                 proto_status_encoded_max(1) - 2 + PROTO_HASH_BYTES + PROTO_SIGNATURE_BYTES;
    proto_wr wr = {0};

    if (r->broker.kind != PROTO_ADDR_BROKER || proto_id_is_zero(r->id) ||
        !proto_addr_equal(&r->broker, &broker->addr) ||
        proto_entry_check(&r->entry, NULL, "entry") != PROTO_OK)
        return PROTO_ERR_INVALID;
    wr.p = proto_alloc(cap);
    wr.cap = cap;
    if (wr.p == NULL)
        return PROTO_ERR_NOMEM;
    proto_wr_bytes(&wr, PROTO_REPORT_MAGIC, 4);
    proto_wr_u8(&wr, PROTO_FORMAT_VERSION);
    proto_wr_bytes(&wr, r->id, PROTO_ID_BYTES);
    proto_addr_write(&wr, &r->broker);
    proto_entry_write(&wr, &r->entry);
    proto_wr_bytes(&wr, r->envelope_hash, PROTO_HASH_BYTES);
    if (wr.overflow || wr.cap - wr.len < PROTO_SIGNATURE_BYTES) {
        free(wr.p);
        return PROTO_ERR_LIMIT;
    }
    report_signed_input(wr.p, wr.len, input);
    proto_sign(wr.p + wr.len, input, sizeof(input), broker->sign_secret);
    wr.len += PROTO_SIGNATURE_BYTES;
    *buf_out = wr.p;
    *len_out = wr.len;
    return PROTO_OK;
}

proto_err
proto_report_decode(const uint8_t *buf, size_t len, proto_report *report_out,
                    proto_detail *detail)
{
    proto_rd rd = {buf, len, detail};
    proto_report r;
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
    if ((err = proto_rd_bytes(&rd, "report.signature", PROTO_SIGNATURE_BYTES, &p)) != PROTO_OK ||
        (err = proto_rd_end(&rd, "report")) != PROTO_OK)
        return err;
    *report_out = r;
    return PROTO_OK;
}

proto_err
proto_report_verify(const uint8_t *buf, size_t len,
                    const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES])
{
    uint8_t input[REPORT_INPUT_BYTES];
    proto_report r;

    if (proto_report_decode(buf, len, &r, NULL) != PROTO_OK)
        return PROTO_ERR_SIGNATURE;
    report_signed_input(buf, len - PROTO_SIGNATURE_BYTES, input);
    return proto_sign_verify(buf + len - PROTO_SIGNATURE_BYTES, input, sizeof(input), sign_public);
}
