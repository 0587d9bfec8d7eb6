/* Wire commands: the multipart frames of every command, built and parsed. */
#include <stdio.h>
#include <string.h>

#include "proto_int.h"

/* Frames each command has after the signature and command frames. */
static const struct {
    const char *name;
    uint8_t frames;
} commands[] = {
    [PROTO_CMD_SUBMIT] = {"submit", 2},
    [PROTO_CMD_ACCEPTED] = {"accepted", 1},
    [PROTO_CMD_REJECTED] = {"rejected", 4},
    [PROTO_CMD_DELIVER] = {"deliver", 1},
    [PROTO_CMD_RECEIPT] = {"receipt", 1},
    [PROTO_CMD_STATUS] = {"status", 2},
    [PROTO_CMD_STATUS_REPLY] = {"status-reply", 3},
    [PROTO_CMD_PING] = {"ping", 1},
    [PROTO_CMD_PONG] = {"pong", 1},
    [PROTO_CMD_FORWARD] = {"forward", 4},
    [PROTO_CMD_FORWARD_ACK] = {"forward-ack", 4},
    [PROTO_CMD_REPORT] = {"report", 1},
    [PROTO_CMD_TREE_HEAD] = {"tree-head", 1},
    [PROTO_CMD_CONSISTENCY_REQ] = {"consistency-request", 3},
    [PROTO_CMD_CONSISTENCY] = {"consistency", 4},
    [PROTO_CMD_ROSTER] = {"roster", 2},
    [PROTO_CMD_ROSTER_ACK] = {"roster-ack", 4},
};
#define COMMAND_LAST PROTO_CMD_ROSTER_ACK

const char *
proto_cmd_name(uint8_t type)
{
    if (type == 0 || type > COMMAND_LAST)
        return "unknown";
    return commands[type].name;
}

/* True if s (n bytes) is UTF-8 without NUL, overlong forms or surrogates. */
static bool
utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

bool
proto_rule_id_valid(const char *s, size_t n)
{
    if (n > PROTO_RULE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* ---- Building ----------------------------------------------------------- */

/* Appends a frame of n bytes copied into wire->store. */
static void
small_frame(proto_wire *wire, size_t *used, const void *data, size_t n)
{
    memcpy(wire->store + *used, data, n);
    wire->frames[wire->count++] = (proto_frame){wire->store + *used, n};
    *used += n;
}

static void
u64_frame(proto_wire *wire, size_t *used, uint64_t v)
{
    uint8_t b[8];

    proto_put_be64(b, v);
    small_frame(wire, used, b, sizeof(b));
}

static void
big_frame(proto_wire *wire, proto_slice s)
{
    wire->frames[wire->count++] = (proto_frame){s.data, s.len};
}

proto_err
proto_cmd_build(const proto_cmd *cmd, proto_wire *wire, proto_detail *detail)
{
    size_t used = 0;
    size_t text_len;

    wire->count = 0;
    if (cmd->type == 0 || cmd->type > COMMAND_LAST) {
        proto_detail_set(detail, "command", "unknown command 0x%02x", cmd->type);
        return PROTO_ERR_COMMAND;
    }
    text_len = strnlen(cmd->text, sizeof(cmd->text));
    if (text_len == sizeof(cmd->text) || !utf8_valid((const uint8_t *)cmd->text, text_len)) {
        proto_detail_set(detail, "text", "text is not NUL-terminated UTF-8 under %u bytes",
                         PROTO_TEXT_MAX);
        return PROTO_ERR_LIMIT;
    }
    small_frame(wire, &used, PROTO_WIRE_SIGNATURE_TEXT, PROTO_WIRE_SIGNATURE_LEN);
    small_frame(wire, &used, &cmd->type, 1);
    switch (cmd->type) {
    case PROTO_CMD_SUBMIT:
        u64_frame(wire, &used, cmd->corr);
        big_frame(wire, cmd->envelope);
        break;
    case PROTO_CMD_STATUS:
        u64_frame(wire, &used, cmd->corr);
        small_frame(wire, &used, cmd->id, PROTO_ID_BYTES);
        break;
    case PROTO_CMD_REJECTED:
    case PROTO_CMD_FORWARD_ACK: {
        uint8_t code[2] = {(uint8_t)(cmd->code >> 8), (uint8_t)cmd->code};

        u64_frame(wire, &used, cmd->type == PROTO_CMD_REJECTED ? cmd->corr : cmd->seq);
        small_frame(wire, &used, cmd->id, PROTO_ID_BYTES);
        small_frame(wire, &used, code, sizeof(code));
        small_frame(wire, &used, cmd->text, text_len);
        break;
    }
    case PROTO_CMD_ROSTER:
        if (cmd->roster.len == 0 || cmd->roster.len > PROTO_ROSTER_SECTION_MAX) {
            proto_detail_set(detail, "roster", "roster text of 1 to %u bytes, not %zu",
                             PROTO_ROSTER_SECTION_MAX, cmd->roster.len);
            return PROTO_ERR_LIMIT;
        }
        u64_frame(wire, &used, cmd->corr);
        big_frame(wire, cmd->roster);
        break;
    case PROTO_CMD_ROSTER_ACK: {
        uint8_t code[2] = {(uint8_t)(cmd->code >> 8), (uint8_t)cmd->code};

        u64_frame(wire, &used, cmd->corr);
        u64_frame(wire, &used, cmd->serial);
        small_frame(wire, &used, code, sizeof(code));
        small_frame(wire, &used, cmd->text, text_len);
        break;
    }
    case PROTO_CMD_DELIVER:
        big_frame(wire, cmd->deliveries);
        break;
    case PROTO_CMD_ACCEPTED:
    case PROTO_CMD_RECEIPT:
        big_frame(wire, cmd->acks);
        break;
    case PROTO_CMD_STATUS_REPLY:
        u64_frame(wire, &used, cmd->corr);
        small_frame(wire, &used, cmd->id, PROTO_ID_BYTES);
        big_frame(wire, cmd->entries);
        break;
    case PROTO_CMD_PING:
    case PROTO_CMD_PONG:
        u64_frame(wire, &used, cmd->corr);
        break;
    case PROTO_CMD_FORWARD: {
        uint8_t hops[PROTO_HOPS_MAX * PROTO_NATION_LEN];

        if (cmd->hop_count == 0 || cmd->hop_count > PROTO_HOPS_MAX) {
            proto_detail_set(detail, "hops", "1 to %u hops, not %u", PROTO_HOPS_MAX,
                             cmd->hop_count);
            return PROTO_ERR_LIMIT;
        }
        for (size_t i = 0; i < cmd->hop_count; i++) {
            if (!proto_nation_valid(cmd->hops[i])) {
                proto_detail_set(detail, "hops", "hop %zu is not a nation code", i);
                return PROTO_ERR_LIMIT;
            }
            memcpy(hops + i * PROTO_NATION_LEN, cmd->hops[i], PROTO_NATION_LEN);
        }
        u64_frame(wire, &used, cmd->seq);
        small_frame(wire, &used, hops, (size_t)cmd->hop_count * PROTO_NATION_LEN);
        big_frame(wire, cmd->targets);
        big_frame(wire, cmd->envelope);
        break;
    }
    case PROTO_CMD_REPORT:
        big_frame(wire, cmd->reports);
        break;
    case PROTO_CMD_TREE_HEAD:
        if (cmd->head.len != PROTO_TREE_HEAD_BYTES) {
            proto_detail_set(detail, "head", "a tree head has %u bytes", PROTO_TREE_HEAD_BYTES);
            return PROTO_ERR_LIMIT;
        }
        big_frame(wire, cmd->head);
        break;
    case PROTO_CMD_CONSISTENCY_REQ:
    case PROTO_CMD_CONSISTENCY:
        if (cmd->first > cmd->second ||
            (cmd->type == PROTO_CMD_CONSISTENCY &&
             (cmd->path.len % PROTO_HASH_BYTES != 0 ||
              cmd->path.len > PROTO_PROOF_HASHES_MAX * PROTO_HASH_BYTES))) {
            proto_detail_set(detail, "consistency", "first must not exceed second; at most %u "
                             "hashes", PROTO_PROOF_HASHES_MAX);
            return PROTO_ERR_LIMIT;
        }
        u64_frame(wire, &used, cmd->corr);
        u64_frame(wire, &used, cmd->first);
        u64_frame(wire, &used, cmd->second);
        if (cmd->type == PROTO_CMD_CONSISTENCY)
            big_frame(wire, cmd->path);
        break;
    }
    return PROTO_OK;
}

/* ---- Parsing ------------------------------------------------------------ */

static proto_err
fixed(const proto_frame *f, size_t want, const char *field, proto_detail *detail)
{
    if (f->len != want) {
        proto_detail_set(detail, field, "%s frame has %zu bytes, expected %zu", field, f->len,
                         want);
        return PROTO_ERR_LIMIT;
    }
    return PROTO_OK;
}

static proto_err
get_u64(const proto_frame *f, const char *field, uint64_t *out, proto_detail *detail)
{
    proto_err err = fixed(f, 8, field, detail);

    if (err == PROTO_OK)
        *out = proto_be64(f->data);
    return err;
}

static proto_err
get_id(const proto_frame *f, uint8_t id[PROTO_ID_BYTES], bool allow_zero, proto_detail *detail)
{
    proto_err err = fixed(f, PROTO_ID_BYTES, "message id", detail);

    if (err != PROTO_OK)
        return err;
    memcpy(id, f->data, PROTO_ID_BYTES);
    if (!allow_zero && proto_id_is_zero(id)) {
        proto_detail_set(detail, "message id", "message id is all zero");
        return PROTO_ERR_SYNTAX;
    }
    return PROTO_OK;
}

static proto_err
get_nonempty(const proto_frame *f, size_t max, const char *field, proto_slice *out,
             proto_detail *detail)
{
    if (f->len == 0 || f->len > max) {
        proto_detail_set(detail, field, "%s frame has %zu bytes, 1 to %zu allowed", field, f->len,
                         max);
        return PROTO_ERR_LIMIT;
    }
    *out = (proto_slice){f->data, f->len};
    return PROTO_OK;
}

static proto_err
get_code_text(const proto_frame *code, const proto_frame *text, proto_cmd *cmd,
              proto_detail *detail)
{
    proto_err err = fixed(code, 2, "code", detail);

    if (err != PROTO_OK)
        return err;
    cmd->code = proto_be16(code->data);
    if (text->len >= PROTO_TEXT_MAX || !utf8_valid(text->data, text->len)) {
        proto_detail_set(detail, "text", "text must be UTF-8 without NUL, under %u bytes",
                         PROTO_TEXT_MAX);
        return PROTO_ERR_LIMIT;
    }
    if (text->len > 0)
        memcpy(cmd->text, text->data, text->len);
    cmd->text[text->len] = '\0';
    return PROTO_OK;
}

/* Reads one target; prev (may be empty) must sort before it. */
static proto_err
read_target(proto_rd *rd, proto_slice *prev, size_t i, proto_target *t)
{
    proto_addr *out = &t->agency;
    char field[32];
    proto_slice s;
    proto_err err;

    snprintf(field, sizeof(field), "targets[%zu]", i);
    if ((err = proto_rd_str8(rd, field, PROTO_ADDR_TEXT_MAX, &s)) != PROTO_OK ||
        (err = proto_addr_from_slice(s, out, rd->detail, field)) != PROTO_OK)
        return err;
    if (out->kind != PROTO_ADDR_AGENCY) {
        proto_detail_set(rd->detail, field, "%s is not an agency address", field);
        return PROTO_ERR_SYNTAX;
    }
    if (i > 0) {
        size_t n = prev->len < s.len ? prev->len : s.len;
        int c = memcmp(prev->data, s.data, n);

        if (c > 0 || (c == 0 && prev->len >= s.len)) {
            proto_detail_set(rd->detail, field, "targets must be sorted and unique");
            return PROTO_ERR_NONCANONICAL;
        }
    }
    *prev = s;
    return proto_rd_u64(rd, field, &t->withheld);
}

proto_err
proto_targets_decode(const uint8_t *buf, size_t len, proto_target *targets, size_t cap,
                     size_t *count_out, proto_detail *detail)
{
    proto_rd rd = {buf, len, detail};
    proto_slice prev = {NULL, 0};
    uint8_t count;
    proto_err err;

    if (buf == NULL && len > 0)
        return PROTO_ERR_INVALID;
    if ((err = proto_rd_u8(&rd, "targets.count", &count)) != PROTO_OK)
        return err;
    if (count == 0 || count > cap) {
        proto_detail_set(detail, "targets.count", "%u targets, 1 to %zu allowed", count, cap);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < count; i++) {
        if ((err = read_target(&rd, &prev, i, &targets[i])) != PROTO_OK)
            return err;
    }
    if ((err = proto_rd_end(&rd, "targets")) != PROTO_OK)
        return err;
    *count_out = count;
    return PROTO_OK;
}

static proto_err
check_targets(const proto_frame *f, proto_slice *out, proto_detail *detail)
{
    proto_target scratch;
    proto_rd rd = {f->data, f->len, detail};
    proto_slice prev = {NULL, 0};
    uint8_t count;
    proto_err err;

    if ((err = proto_rd_u8(&rd, "targets.count", &count)) != PROTO_OK)
        return err;
    if (count == 0) {
        proto_detail_set(detail, "targets.count", "a forward needs at least one target");
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < count; i++) {
        if ((err = read_target(&rd, &prev, i, &scratch)) != PROTO_OK)
            return err;
    }
    if ((err = proto_rd_end(&rd, "targets")) != PROTO_OK)
        return err;
    *out = (proto_slice){f->data, f->len};
    return PROTO_OK;
}

proto_err
proto_targets_encode(const proto_target *targets, size_t count, uint8_t *buf, size_t cap,
                     size_t *len_out)
{
    proto_wr wr = {buf, cap, 0, false};
    char prev[PROTO_ADDR_TEXT_MAX + 1] = "", text[PROTO_ADDR_TEXT_MAX + 1];

    if (count == 0 || count > PROTO_TARGETS_MAX)
        return PROTO_ERR_LIMIT;
    proto_wr_u8(&wr, (uint8_t)count);
    for (size_t i = 0; i < count; i++) {
        if (targets[i].agency.kind != PROTO_ADDR_AGENCY ||
            proto_addr_check(&targets[i].agency, NULL, "targets") != PROTO_OK)
            return PROTO_ERR_INVALID;
        proto_addr_format(&targets[i].agency, text, sizeof(text));
        if (i > 0 && strcmp(prev, text) >= 0)
            return PROTO_ERR_INVALID;
        memcpy(prev, text, sizeof(prev));
        proto_wr_str8(&wr, text, strlen(text));
        proto_wr_u64(&wr, targets[i].withheld);
    }
    if (wr.overflow)
        return PROTO_ERR_LIMIT;
    *len_out = wr.len;
    return PROTO_OK;
}

/* ---- Accepted, receipt, report and deliver lists ------------------------ */

/* The list's count: 1 to max items. */
static proto_err
list_count(proto_rd *rd, size_t max, const char *field, uint16_t *count)
{
    proto_err err = proto_rd_u16(rd, field, count);

    if (err == PROTO_OK && (*count == 0 || *count > max)) {
        proto_detail_set(rd->detail, field, "%u items; 1 to %zu allowed", *count, max);
        err = PROTO_ERR_LIMIT;
    }
    return err;
}

/* An accepted or receipt list: field names it in errors. */
static proto_err
check_acks(const proto_frame *f, const char *field, proto_cmd *cmd, proto_detail *detail)
{
    proto_rd rd = {f->data, f->len, detail};
    proto_err err = list_count(&rd, PROTO_ACKS_MAX, field, &cmd->count);

    if (err != PROTO_OK)
        return err;
    if (f->len != PROTO_ACKS_BYTES(cmd->count)) {
        proto_detail_set(detail, field, "%u items take %u bytes, not %zu", cmd->count,
                         PROTO_ACKS_BYTES(cmd->count), f->len);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < cmd->count; i++) {
        if (proto_id_is_zero(f->data + 2 + i * (8 + PROTO_ID_BYTES) + 8)) {
            proto_detail_set(detail, field, "item %zu has an all-zero message id", i);
            return PROTO_ERR_SYNTAX;
        }
    }
    cmd->acks = (proto_slice){f->data, f->len};
    return PROTO_OK;
}

/* The shape of a tagged list: a report or a deliver command's frame. */
typedef struct tagged_shape {
    const char *field;      /* names the frame in errors */
    size_t max_count;       /* items at most */
    size_t width;           /* bytes of each item's length: 2 or 4 */
    size_t max_item;        /* bytes of an item at most */
    size_t max_frame;       /* bytes of the frame at most */
} tagged_shape;

static const tagged_shape reports_shape = {"reports", PROTO_REPORTS_MAX, 2, PROTO_REPORT_MAX,
                                           PROTO_REPORTS_BYTES_MAX};
static const tagged_shape deliveries_shape = {"deliveries", PROTO_DELIVERIES_MAX, 4,
                                              PROTO_ENVELOPE_MAX, PROTO_DELIVERIES_BYTES_MAX};

static size_t
item_len(const uint8_t *p, size_t width)
{
    return width == 2 ? proto_be16(p) : proto_be32(p);
}

static proto_err
check_tagged(const proto_frame *f, const tagged_shape *shape, proto_cmd *cmd, proto_slice *out,
             proto_detail *detail)
{
    proto_rd rd = {f->data, f->len, detail};
    proto_err err;

    if (f->len > shape->max_frame) {
        proto_detail_set(detail, shape->field, "%s frame of %zu bytes; at most %zu", shape->field,
                         f->len, shape->max_frame);
        return PROTO_ERR_LIMIT;
    }
    err = list_count(&rd, shape->max_count, shape->field, &cmd->count);
    for (size_t i = 0; err == PROTO_OK && i < cmd->count; i++) {
        const uint8_t *head, *skip;
        size_t len;

        if ((err = proto_rd_bytes(&rd, shape->field, 8 + shape->width, &head)) != PROTO_OK)
            break;
        len = item_len(head + 8, shape->width);
        if (len == 0 || len > shape->max_item) {
            proto_detail_set(detail, shape->field, "item %zu has %zu bytes, 1 to %zu allowed", i,
                             len, shape->max_item);
            return PROTO_ERR_LIMIT;
        }
        err = proto_rd_bytes(&rd, shape->field, len, &skip);
    }
    if (err == PROTO_OK)
        err = proto_rd_end(&rd, shape->field);
    if (err == PROTO_OK)
        *out = (proto_slice){f->data, f->len};
    return err;
}

static proto_err
tagged_encode(const tagged_shape *shape, const proto_tagged *items, size_t count, uint8_t *buf,
              size_t cap, size_t *len_out)
{
    proto_wr wr = {buf, cap, 0, false};

    if (count == 0 || count > shape->max_count)
        return PROTO_ERR_LIMIT;
    proto_wr_u16(&wr, (uint16_t)count);
    for (size_t i = 0; i < count; i++) {
        if (items[i].bytes.len == 0 || items[i].bytes.len > shape->max_item)
            return PROTO_ERR_LIMIT;
        proto_wr_u64(&wr, items[i].tag);
        if (shape->width == 2)
            proto_wr_u16(&wr, (uint16_t)items[i].bytes.len);
        else
            proto_wr_u32(&wr, (uint32_t)items[i].bytes.len);
        proto_wr_bytes(&wr, items[i].bytes.data, items[i].bytes.len);
    }
    if (wr.overflow || wr.len > shape->max_frame)
        return PROTO_ERR_LIMIT;
    *len_out = wr.len;
    return PROTO_OK;
}

static bool
tagged_next(const tagged_shape *shape, proto_slice list, size_t *offset, proto_tagged *out)
{
    size_t at = *offset == 0 ? 2 : *offset, head = 8 + shape->width, len;

    /* The parse checked the list; stay inside it all the same. */
    if (list.len < at || list.len - at < head)
        return false;
    len = item_len(list.data + at + 8, shape->width);
    if (list.len - at - head < len)
        return false;
    out->tag = proto_be64(list.data + at);
    out->bytes = (proto_slice){list.data + at + head, len};
    *offset = at + head + len;
    return true;
}

proto_err
proto_acks_encode(const proto_ack *items, size_t count, uint8_t *buf, size_t cap, size_t *len_out)
{
    proto_wr wr = {buf, cap, 0, false};

    if (count == 0 || count > PROTO_ACKS_MAX)
        return PROTO_ERR_LIMIT;
    proto_wr_u16(&wr, (uint16_t)count);
    for (size_t i = 0; i < count; i++) {
        if (proto_id_is_zero(items[i].id))
            return PROTO_ERR_INVALID;
        proto_wr_u64(&wr, items[i].n);
        proto_wr_bytes(&wr, items[i].id, PROTO_ID_BYTES);
    }
    if (wr.overflow)
        return PROTO_ERR_LIMIT;
    *len_out = wr.len;
    return PROTO_OK;
}

void
proto_ack_get(const proto_cmd *cmd, size_t i, proto_ack *out)
{
    const uint8_t *p = cmd->acks.data + 2 + i * (8 + PROTO_ID_BYTES);

    out->n = proto_be64(p);
    memcpy(out->id, p + 8, PROTO_ID_BYTES);
}

proto_err
proto_reports_encode(const proto_tagged *items, size_t count, uint8_t *buf, size_t cap,
                     size_t *len_out)
{
    return tagged_encode(&reports_shape, items, count, buf, cap, len_out);
}

bool
proto_reports_next(const proto_cmd *cmd, size_t *offset, proto_tagged *out)
{
    return tagged_next(&reports_shape, cmd->reports, offset, out);
}

proto_err
proto_deliveries_encode(const proto_tagged *items, size_t count, uint8_t *buf, size_t cap,
                        size_t *len_out)
{
    return tagged_encode(&deliveries_shape, items, count, buf, cap, len_out);
}

bool
proto_deliveries_next(const proto_cmd *cmd, size_t *offset, proto_tagged *out)
{
    return tagged_next(&deliveries_shape, cmd->deliveries, offset, out);
}

proto_err
proto_cmd_parse(const proto_frame *frames, size_t count, proto_cmd *cmd_out, proto_detail *detail)
{
    proto_cmd cmd;
    const proto_frame *f = frames + 2;
    proto_err err = PROTO_OK;

    if (count < 2 || frames == NULL) {
        proto_detail_set(detail, "frames", "%zu frames; a command has at least 2", count);
        return PROTO_ERR_FRAMES;
    }
    if (frames[0].len != PROTO_WIRE_SIGNATURE_LEN ||
        memcmp(frames[0].data, PROTO_WIRE_SIGNATURE_TEXT, PROTO_WIRE_SIGNATURE_LEN) != 0) {
        proto_detail_set(detail, "signature", "first frame is not the protocol signature '%s'",
                         PROTO_WIRE_SIGNATURE_TEXT);
        return PROTO_ERR_MAGIC;
    }
    if (frames[1].len != 1 || frames[1].data[0] == 0 || frames[1].data[0] > COMMAND_LAST) {
        proto_detail_set(detail, "command", "unknown command%s 0x%02x",
                         frames[1].len != 1 ? " frame length" : "",
                         frames[1].len > 0 ? frames[1].data[0] : 0);
        return PROTO_ERR_COMMAND;
    }
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = frames[1].data[0];
    if (count != 2u + commands[cmd.type].frames) {
        proto_detail_set(detail, "frames", "%s has %u frames after the command, not %zu",
                         commands[cmd.type].name, commands[cmd.type].frames, count - 2);
        return PROTO_ERR_FRAMES;
    }
    switch (cmd.type) {
    case PROTO_CMD_SUBMIT:
        if ((err = get_u64(&f[0], "corr", &cmd.corr, detail)) == PROTO_OK)
            err = get_nonempty(&f[1], PROTO_ENVELOPE_MAX, "envelope", &cmd.envelope, detail);
        break;
    case PROTO_CMD_ACCEPTED:
        err = check_acks(&f[0], "accepted", &cmd, detail);
        break;
    case PROTO_CMD_STATUS:
        if ((err = get_u64(&f[0], "corr", &cmd.corr, detail)) == PROTO_OK)
            err = get_id(&f[1], cmd.id, false, detail);
        break;
    case PROTO_CMD_REJECTED:
        if ((err = get_u64(&f[0], "corr", &cmd.corr, detail)) == PROTO_OK &&
            (err = get_id(&f[1], cmd.id, true, detail)) == PROTO_OK)
            err = get_code_text(&f[2], &f[3], &cmd, detail);
        if (err == PROTO_OK && cmd.code == 0) {
            proto_detail_set(detail, "code", "rejected with code 0");
            err = PROTO_ERR_SYNTAX;
        }
        break;
    case PROTO_CMD_FORWARD_ACK:
        if ((err = get_u64(&f[0], "seq", &cmd.seq, detail)) == PROTO_OK &&
            (err = get_id(&f[1], cmd.id, false, detail)) == PROTO_OK)
            err = get_code_text(&f[2], &f[3], &cmd, detail);
        break;
    case PROTO_CMD_ROSTER:
        if ((err = get_u64(&f[0], "corr", &cmd.corr, detail)) == PROTO_OK)
            err = get_nonempty(&f[1], PROTO_ROSTER_SECTION_MAX, "roster", &cmd.roster, detail);
        break;
    case PROTO_CMD_ROSTER_ACK:
        if ((err = get_u64(&f[0], "corr", &cmd.corr, detail)) == PROTO_OK &&
            (err = get_u64(&f[1], "serial", &cmd.serial, detail)) == PROTO_OK)
            err = get_code_text(&f[2], &f[3], &cmd, detail);
        break;
    case PROTO_CMD_DELIVER:
        err = check_tagged(&f[0], &deliveries_shape, &cmd, &cmd.deliveries, detail);
        break;
    case PROTO_CMD_RECEIPT:
        err = check_acks(&f[0], "receipts", &cmd, detail);
        break;
    case PROTO_CMD_STATUS_REPLY:
        if ((err = get_u64(&f[0], "corr", &cmd.corr, detail)) == PROTO_OK &&
            (err = get_id(&f[1], cmd.id, false, detail)) == PROTO_OK)
            err = get_nonempty(&f[2], proto_status_encoded_max(PROTO_STATUS_ENTRIES_MAX),
                               "entries", &cmd.entries, detail);
        break;
    case PROTO_CMD_PING:
    case PROTO_CMD_PONG:
        err = get_u64(&f[0], "corr", &cmd.corr, detail);
        break;
    case PROTO_CMD_FORWARD:
        if ((err = get_u64(&f[0], "seq", &cmd.seq, detail)) != PROTO_OK)
            break;
        if (f[1].len == 0 || f[1].len % PROTO_NATION_LEN != 0 ||
            f[1].len > PROTO_HOPS_MAX * PROTO_NATION_LEN) {
            proto_detail_set(detail, "hops", "hops frame of %zu bytes: 1 to %u nation codes",
                             f[1].len, PROTO_HOPS_MAX);
            err = PROTO_ERR_LIMIT;
            break;
        }
        cmd.hop_count = (uint8_t)(f[1].len / PROTO_NATION_LEN);
        for (size_t i = 0; i < cmd.hop_count; i++) {
            memcpy(cmd.hops[i], f[1].data + i * PROTO_NATION_LEN, PROTO_NATION_LEN);
            cmd.hops[i][PROTO_NATION_LEN] = '\0';
            if (!proto_nation_valid(cmd.hops[i])) {
                proto_detail_set(detail, "hops", "hop %zu is not a nation code", i);
                return PROTO_ERR_SYNTAX;
            }
        }
        if ((err = check_targets(&f[2], &cmd.targets, detail)) == PROTO_OK)
            err = get_nonempty(&f[3], PROTO_ENVELOPE_MAX, "envelope", &cmd.envelope, detail);
        break;
    case PROTO_CMD_REPORT:
        err = check_tagged(&f[0], &reports_shape, &cmd, &cmd.reports, detail);
        break;
    case PROTO_CMD_TREE_HEAD:
        if ((err = fixed(&f[0], PROTO_TREE_HEAD_BYTES, "head", detail)) == PROTO_OK)
            cmd.head = (proto_slice){f[0].data, f[0].len};
        break;
    case PROTO_CMD_CONSISTENCY_REQ:
    case PROTO_CMD_CONSISTENCY:
        if ((err = get_u64(&f[0], "corr", &cmd.corr, detail)) != PROTO_OK ||
            (err = get_u64(&f[1], "first", &cmd.first, detail)) != PROTO_OK ||
            (err = get_u64(&f[2], "second", &cmd.second, detail)) != PROTO_OK)
            break;
        if (cmd.first > cmd.second) {
            proto_detail_set(detail, "first", "first size %llu exceeds second %llu",
                             (unsigned long long)cmd.first, (unsigned long long)cmd.second);
            err = PROTO_ERR_SYNTAX;
            break;
        }
        if (cmd.type == PROTO_CMD_CONSISTENCY) {
            if (f[3].len % PROTO_HASH_BYTES != 0 ||
                f[3].len > PROTO_PROOF_HASHES_MAX * PROTO_HASH_BYTES) {
                proto_detail_set(detail, "path", "proof of %zu bytes: up to %u hashes of 32 bytes",
                                 f[3].len, PROTO_PROOF_HASHES_MAX);
                err = PROTO_ERR_LIMIT;
                break;
            }
            cmd.path = (proto_slice){f[3].len > 0 ? f[3].data : NULL, f[3].len};
        }
        break;
    }
    if (err != PROTO_OK)
        return err;
    *cmd_out = cmd;
    return PROTO_OK;
}

/* ---- Status entries ----------------------------------------------------- */

size_t
proto_status_encoded_max(size_t count)
{
    return 2 + count * (1 + PROTO_ADDR_TEXT_MAX + 1 + 8 + 1 + PROTO_RULE_ID_MAX + 1 +
                        PROTO_TEXT_MAX - 1);
}

proto_err
proto_entry_check(const proto_status_entry *e, proto_detail *detail, const char *field)
{
    size_t rule_len = strnlen(e->rule_id, sizeof(e->rule_id));
    size_t detail_len = strnlen(e->detail, sizeof(e->detail));
    proto_err err = proto_addr_check(&e->recipient, detail, field);

    if (err != PROTO_OK)
        return err;
    if (e->state == 0 || e->state > PROTO_STATE_MAX) {
        proto_detail_set(detail, field, "%s: unknown state %u", field, e->state);
        return PROTO_ERR_LIMIT;
    }
    if (rule_len == sizeof(e->rule_id) || !proto_rule_id_valid(e->rule_id, rule_len)) {
        proto_detail_set(detail, field, "%s: rule id must be at most %u of A-Z a-z 0-9 . _ : -",
                         field, PROTO_RULE_ID_MAX);
        return PROTO_ERR_SYNTAX;
    }
    if (detail_len == sizeof(e->detail) || !utf8_valid((const uint8_t *)e->detail, detail_len)) {
        proto_detail_set(detail, field, "%s: detail must be UTF-8 under %u bytes", field,
                         PROTO_TEXT_MAX);
        return PROTO_ERR_SYNTAX;
    }
    return PROTO_OK;
}

void
proto_entry_write(proto_wr *wr, const proto_status_entry *e)
{
    proto_addr_write(wr, &e->recipient);
    proto_wr_u8(wr, e->state);
    proto_wr_u64(wr, e->time_ms);
    proto_wr_str8(wr, e->rule_id, strlen(e->rule_id));
    proto_wr_str8(wr, e->detail, strlen(e->detail));
}

proto_err
proto_entry_read(proto_rd *rd, proto_status_entry *e, const char *field)
{
    proto_slice s;
    proto_err err;

    memset(e, 0, sizeof(*e));
    if ((err = proto_rd_str8(rd, field, PROTO_ADDR_TEXT_MAX, &s)) != PROTO_OK ||
        (err = proto_addr_from_slice(s, &e->recipient, rd->detail, field)) != PROTO_OK ||
        (err = proto_rd_u8(rd, field, &e->state)) != PROTO_OK ||
        (err = proto_rd_u64(rd, field, &e->time_ms)) != PROTO_OK ||
        (err = proto_rd_text(rd, field, PROTO_RULE_ID_MAX, e->rule_id)) != PROTO_OK ||
        (err = proto_rd_text(rd, field, PROTO_TEXT_MAX - 1, e->detail)) != PROTO_OK)
        return err;
    return proto_entry_check(e, rd->detail, field);
}

proto_err
proto_status_encode(const proto_status_entry *entries, size_t count, uint8_t *buf, size_t cap,
                    size_t *len_out)
{
    proto_wr wr = {buf, cap, 0, false};

    if (count > PROTO_STATUS_ENTRIES_MAX)
        return PROTO_ERR_LIMIT;
    for (size_t i = 0; i < count; i++) {
        if (proto_entry_check(&entries[i], NULL, "entries") != PROTO_OK)
            return PROTO_ERR_INVALID;
    }
    proto_wr_u16(&wr, (uint16_t)count);
    for (size_t i = 0; i < count; i++)
        proto_entry_write(&wr, &entries[i]);
    if (wr.overflow)
        return PROTO_ERR_LIMIT;
    *len_out = wr.len;
    return PROTO_OK;
}

proto_err
proto_status_decode(const uint8_t *buf, size_t len, proto_status_entry *entries, size_t cap,
                    size_t *count_out, proto_detail *detail)
{
    proto_rd rd = {buf, len, detail};
    uint16_t count;
    proto_err err;

    if (buf == NULL && len > 0)
        return PROTO_ERR_INVALID;
    if ((err = proto_rd_u16(&rd, "entries.count", &count)) != PROTO_OK)
        return err;
    if (count > PROTO_STATUS_ENTRIES_MAX || count > cap) {
        proto_detail_set(detail, "entries.count", "%u entries, at most %zu", count,
                         cap < PROTO_STATUS_ENTRIES_MAX ? cap : PROTO_STATUS_ENTRIES_MAX);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < count; i++) {
        char field[32];

        snprintf(field, sizeof(field), "entries[%zu]", i);
        if ((err = proto_entry_read(&rd, &entries[i], field)) != PROTO_OK)
            return err;
    }
    if ((err = proto_rd_end(&rd, "entries")) != PROTO_OK)
        return err;
    *count_out = count;
    return PROTO_OK;
}
