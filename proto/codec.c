/* Bounded byte readers and writers, hex, and error details for proto/. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto_int.h"

void
proto_detail_set(proto_detail *detail, const char *field, const char *fmt, ...)
{
    char text[sizeof(detail->text)];
    size_t o = 0;
    va_list ap;

    if (detail == NULL)
        return;
    snprintf(detail->field, sizeof(detail->field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    /* Every byte of a detail is printable ASCII, whatever a caller quoted
     * from a peer: a byte outside it becomes \xNN (proto_text_escape), so a
     * detail can go into a log line, an audit record or an answer as it is.
     * Callers escape what they quote themselves, quotes included; this
     * catches the rest, and leaves an escaped text unchanged. */
    for (const char *p = text; *p != '\0' && o + 1 < sizeof(detail->text); p++) {
        uint8_t c = (uint8_t)*p;
        size_t n = 1;

        if (c >= 0x20 && c < 0x7F)
            detail->text[o] = (char)c;
        else if (o + 5 > sizeof(detail->text))
            break;
        else
            n = strlen(proto_text_escape(&c, 1, detail->text + o, 5));
        o += n;
    }
    detail->text[o] = '\0';
}

uint16_t
proto_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

uint32_t
proto_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t
proto_be64(const uint8_t *p)
{
    return (uint64_t)proto_be32(p) << 32 | proto_be32(p + 4);
}

void
proto_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static proto_err
need(proto_rd *rd, const char *field, size_t n)
{
    if (rd->left < n) {
        proto_detail_set(rd->detail, field, "%s: input ends inside the field (%zu of %zu bytes)",
                         field, rd->left, n);
        return PROTO_ERR_TRUNCATED;
    }
    return PROTO_OK;
}

proto_err
proto_rd_u8(proto_rd *rd, const char *field, uint8_t *out)
{
    proto_err err = need(rd, field, 1);

    if (err != PROTO_OK)
        return err;
    *out = rd->p[0];
    rd->p++;
    rd->left--;
    return PROTO_OK;
}

proto_err
proto_rd_u16(proto_rd *rd, const char *field, uint16_t *out)
{
    proto_err err = need(rd, field, 2);

    if (err != PROTO_OK)
        return err;
    *out = proto_be16(rd->p);
    rd->p += 2;
    rd->left -= 2;
    return PROTO_OK;
}

proto_err
proto_rd_u32(proto_rd *rd, const char *field, uint32_t *out)
{
    proto_err err = need(rd, field, 4);

    if (err != PROTO_OK)
        return err;
    *out = proto_be32(rd->p);
    rd->p += 4;
    rd->left -= 4;
    return PROTO_OK;
}

proto_err
proto_rd_u64(proto_rd *rd, const char *field, uint64_t *out)
{
    proto_err err = need(rd, field, 8);

    if (err != PROTO_OK)
        return err;
    *out = proto_be64(rd->p);
    rd->p += 8;
    rd->left -= 8;
    return PROTO_OK;
}

proto_err
proto_rd_bytes(proto_rd *rd, const char *field, size_t n, const uint8_t **out)
{
    proto_err err = need(rd, field, n);

    if (err != PROTO_OK)
        return err;
    *out = rd->p;
    rd->p += n;
    rd->left -= n;
    return PROTO_OK;
}

proto_err
proto_rd_str8(proto_rd *rd, const char *field, size_t max, proto_slice *out)
{
    uint8_t n;
    proto_err err = proto_rd_u8(rd, field, &n);

    if (err != PROTO_OK)
        return err;
    if (n > max) {
        proto_detail_set(rd->detail, field, "%s: %u bytes, at most %zu allowed", field, n, max);
        return PROTO_ERR_LIMIT;
    }
    out->len = n;
    return proto_rd_bytes(rd, field, n, &out->data);
}

proto_err
proto_rd_text(proto_rd *rd, const char *field, size_t max, char *dst)
{
    proto_slice s;
    proto_err err = proto_rd_str8(rd, field, max, &s);

    if (err != PROTO_OK)
        return err;
    if (memchr(s.data, '\0', s.len) != NULL) {
        proto_detail_set(rd->detail, field, "%s contains a NUL byte", field);
        return PROTO_ERR_SYNTAX;
    }
    if (s.len > 0)
        memcpy(dst, s.data, s.len);
    dst[s.len] = '\0';
    return PROTO_OK;
}

proto_err
proto_rd_end(proto_rd *rd, const char *field)
{
    if (rd->left != 0) {
        proto_detail_set(rd->detail, field, "%s: %zu unexpected bytes after the last field",
                         field, rd->left);
        return PROTO_ERR_TRAILING;
    }
    return PROTO_OK;
}

void
proto_wr_bytes(proto_wr *wr, const void *data, size_t n)
{
    if (wr->overflow || wr->cap - wr->len < n) {
        wr->overflow = true;
        return;
    }
    if (n > 0)
        memcpy(wr->p + wr->len, data, n);
    wr->len += n;
}

void
proto_wr_u8(proto_wr *wr, uint8_t v)
{
    proto_wr_bytes(wr, &v, 1);
}

void
proto_wr_u16(proto_wr *wr, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    proto_wr_bytes(wr, b, 2);
}

void
proto_wr_u32(proto_wr *wr, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    proto_wr_bytes(wr, b, 4);
}

void
proto_wr_u64(proto_wr *wr, uint64_t v)
{
    uint8_t b[8];

    proto_put_be64(b, v);
    proto_wr_bytes(wr, b, 8);
}

void
proto_wr_str8(proto_wr *wr, const char *s, size_t n)
{
    if (n > 255) {
        wr->overflow = true;
        return;
    }
    proto_wr_u8(wr, (uint8_t)n);
    proto_wr_bytes(wr, s, n);
}

char *
proto_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

char *
proto_text_escape(const void *data, size_t len, char *out, size_t out_len)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        char esc[4];
        size_t n;

        if (c == '\\' || c == '"') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c >= 0x20 && c < 0x7F) {
            esc[0] = (char)c;
            n = 1;
        } else {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = digits[c >> 4];
            esc[3] = digits[c & 15];
            n = 4;
        }
        if (o + n + 1 > out_len)
            break;
        memcpy(out + o, esc, n);
        o += n;
    }
    if (out_len > 0)
        out[o] = '\0';
    return out;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

proto_err
proto_unhex(const char *hex, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi, lo;

        if (hex[2 * i] == '\0' || hex[2 * i + 1] == '\0')
            return PROTO_ERR_SYNTAX;
        hi = hexval(hex[2 * i]);
        lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return PROTO_ERR_SYNTAX;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * len] == '\0' ? PROTO_OK : PROTO_ERR_SYNTAX;
}

char *
proto_id_format(const uint8_t id[PROTO_ID_BYTES], char *out)
{
    return proto_hex(id, PROTO_ID_BYTES, out);
}

proto_err
proto_id_parse(const char *text, uint8_t id_out[PROTO_ID_BYTES])
{
    uint8_t id[PROTO_ID_BYTES];

    if (proto_unhex(text, id, sizeof(id)) != PROTO_OK)
        return PROTO_ERR_SYNTAX;
    memcpy(id_out, id, sizeof(id));
    return PROTO_OK;
}

bool
proto_id_is_zero(const uint8_t id[PROTO_ID_BYTES])
{
    uint8_t acc = 0;

    for (size_t i = 0; i < PROTO_ID_BYTES; i++)
        acc |= id[i];
    return acc == 0;
}

size_t proto_id_bytes(void) { return PROTO_ID_BYTES; }
size_t proto_hash_bytes(void) { return PROTO_HASH_BYTES; }
size_t proto_signature_bytes(void) { return PROTO_SIGNATURE_BYTES; }
size_t proto_envelope_max(void) { return PROTO_ENVELOPE_MAX; }

const char *
proto_strerror(proto_err code)
{
    switch (code) {
    case PROTO_OK: return "success";
    case PROTO_ERR_INVALID: return "invalid argument";
    case PROTO_ERR_NOMEM: return "out of memory";
    case PROTO_ERR_SYNTAX: return "syntax error";
    case PROTO_ERR_LIMIT: return "value out of bounds";
    case PROTO_ERR_TRUNCATED: return "input truncated";
    case PROTO_ERR_TRAILING: return "trailing bytes";
    case PROTO_ERR_MAGIC: return "not a Liaison object";
    case PROTO_ERR_VERSION: return "unknown format version";
    case PROTO_ERR_NONCANONICAL: return "non-canonical encoding";
    case PROTO_ERR_SIGNATURE: return "signature does not verify";
    case PROTO_ERR_WITHHELD: return "portion withheld";
    case PROTO_ERR_NOT_RECIPIENT: return "not a reader of this portion";
    case PROTO_ERR_DECRYPT: return "decryption failed";
    case PROTO_ERR_IO: return "input/output error";
    case PROTO_ERR_PERMISSION: return "a file is accessible or changeable by others";
    case PROTO_ERR_KEYFILE: return "damaged key file or card";
    case PROTO_ERR_COMMAND: return "unknown command";
    case PROTO_ERR_FRAMES: return "wrong frame count";
    case PROTO_ERR_CRYPTO: return "cryptographic library failure";
    case PROTO_ERR_EXISTS: return "file exists";
    case PROTO_ERR_NOT_FOUND: return "no such roster section";
    case PROTO_ERR_UNSIGNED: return "roster section changed and not signed again";
    }
    return "unknown error";
}

const char *
proto_wire_code_name(uint16_t code)
{
    static const char *const names[] = {
        [PROTO_WIRE_MALFORMED] = "malformed",
        [PROTO_WIRE_TOO_LARGE] = "too-large",
        [PROTO_WIRE_SIGNATURE] = "bad-signature",
        [PROTO_WIRE_SENDER] = "wrong-sender",
        [PROTO_WIRE_EXPIRED] = "expired",
        [PROTO_WIRE_RECIPIENT] = "bad-recipient",
        [PROTO_WIRE_DENIED] = "denied",
        [PROTO_WIRE_RATE] = "rate-limited",
        [PROTO_WIRE_BUSY] = "busy",
        [PROTO_WIRE_INTERNAL] = "internal",
        [PROTO_WIRE_UNKNOWN_MESSAGE] = "unknown-message",
        [PROTO_WIRE_REVOKED] = "revoked",
        [PROTO_WIRE_LOOP] = "loop",
        [PROTO_WIRE_COMMAND] = "bad-command",
        [PROTO_WIRE_STALE] = "stale",
        [PROTO_WIRE_UNSIGNED_MODE] = "unsigned-mode",
        [PROTO_WIRE_ROSTER_CONFLICT] = "roster-conflict",
    };

    if (code == 0)
        return "ok";
    if (code >= sizeof(names) / sizeof(names[0]) || names[code] == NULL)
        return "unknown";
    return names[code];
}

static const char *const state_names[] = {
    [PROTO_STATE_QUEUED] = "queued",
    [PROTO_STATE_FORWARDED] = "forwarded",
    [PROTO_STATE_DELIVERED] = "delivered",
    [PROTO_STATE_RECEIPTED] = "receipted",
    [PROTO_STATE_WITHHELD] = "withheld",
    [PROTO_STATE_DENIED] = "denied",
    [PROTO_STATE_REFUSED] = "refused",
    [PROTO_STATE_EXPIRED] = "expired",
    [PROTO_STATE_ACCEPTED] = "accepted",
    [PROTO_STATE_DAMAGED] = "damaged",
    [PROTO_STATE_RECALLED] = "recalled",
    [PROTO_STATE_UNATTENDED] = "unattended",
    [PROTO_STATE_UNREACHABLE] = "unreachable",
};

/* The kinds an agency's agent answers by itself (docs/messages.md). */
static const char *const answered_kinds[] = {
    "watchlist.query", "watchlist.request", "traveldoc.check", "freeze.query", "cargo.request",
};

bool
proto_kind_answered(const char *kind)
{
    for (size_t i = 0; i < sizeof(answered_kinds) / sizeof(answered_kinds[0]); i++) {
        if (strcmp(kind, answered_kinds[i]) == 0)
            return true;
    }
    return false;
}

const char *
proto_state_name(uint8_t state)
{
    if (state == 0 || state > PROTO_STATE_MAX)
        return "unknown";
    return state_names[state];
}

proto_err
proto_state_parse(const char *name, uint8_t *state_out)
{
    for (uint8_t s = 1; s <= PROTO_STATE_MAX; s++) {
        if (strcmp(name, state_names[s]) == 0) {
            *state_out = s;
            return PROTO_OK;
        }
    }
    return PROTO_ERR_SYNTAX;
}
