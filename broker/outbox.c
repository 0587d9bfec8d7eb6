/* Sending queue entries: runs of reports or messages as one command each. */
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "outbox.h"

int
broker_send(void *sock, const uint8_t *rid, size_t rid_len, const proto_cmd *cmd)
{
    proto_wire wire;
    proto_detail d;

    if (proto_cmd_build(cmd, &wire, &d) != PROTO_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-BUILD", "command=%s error=\"%s\"", proto_cmd_name(cmd->type),
                  d.text);
        return -1;
    }
    if (rid != NULL && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    for (size_t i = 0; i < wire.count; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < wire.count ? ZMQ_SNDMORE : 0);

        if (zmq_send(sock, wire.frames[i].data, wire.frames[i].len, flags) < 0)
            return -1;
    }
    return 0;
}

proto_slice
broker_entry_report(const store_queue_entry *e, const broker_signed *report)
{
    if (e->extra.len > 0 && e->extra.data[0] == BROKER_ENTRY_REPORT)
        return (proto_slice){report->data, report->len};
    if (e->extra.len > 1 && e->extra.data[0] == BROKER_ENTRY_SIGNED)
        return (proto_slice){e->extra.data + 1, e->extra.len - 1};
    return (proto_slice){NULL, 0};
}

bool
broker_outbox_fits(const broker_outbox *box, uint8_t kind, size_t len)
{
    if (box->count == 0)
        return true;
    return box->kind == kind && box->count < BROKER_SEND_MAX &&
           (kind != PROTO_CMD_DELIVER || box->bytes + len <= BROKER_DELIVER_BYTES);
}

void
broker_outbox_add(broker_outbox *box, uint8_t kind, const store_queue_entry *e, proto_slice bytes,
                  uint8_t *owned, uint64_t cursor)
{
    if (box->count == 0) {
        box->kind = kind;
        box->bytes = 0;
        box->cursor_before = cursor;
    }
    box->items[box->count] = (proto_tagged){e->seq, bytes};
    box->entries[box->count] = e;
    box->owned[box->count] = owned;
    box->bytes += bytes.len;
    box->count++;
}

int
broker_outbox_send(void *sock, const uint8_t *rid, size_t rid_len, const broker_outbox *box)
{
    static uint8_t reports_buf[PROTO_REPORTS_BYTES_MAX]; /* the main thread's */
    uint8_t *buf = reports_buf;
    size_t len = 0;
    proto_cmd cmd;
    proto_err err;
    int rc;

    if (box->count == 0)
        return 0;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = box->kind;
    if (box->kind == PROTO_CMD_REPORT) {
        err = proto_reports_encode(box->items, box->count, buf, sizeof(reports_buf), &len);
        cmd.reports = (proto_slice){buf, len};
    } else {
        size_t cap = 2 + box->count * 12 + box->bytes;

        if ((buf = malloc(cap)) == NULL)
            return -1;
        err = proto_deliveries_encode(box->items, box->count, buf, cap, &len);
        cmd.deliveries = (proto_slice){buf, len};
    }
    if (err != PROTO_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-BUILD", "command=%s items=%zu error=\"%s\"",
                  proto_cmd_name(box->kind), box->count, proto_strerror(err));
        rc = -1;
    } else {
        rc = broker_send(sock, rid, rid_len, &cmd);
    }
    if (buf != reports_buf)
        free(buf);
    return rc;
}

void
broker_outbox_clear(broker_outbox *box)
{
    for (size_t i = 0; i < box->count; i++)
        free(box->owned[i]);
    box->count = 0;
    box->kind = 0;
    box->bytes = 0;
}
