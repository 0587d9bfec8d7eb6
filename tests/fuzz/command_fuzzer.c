/* Fuzz target: the wire command parser, status entries and delivery reports. */
#include <stdlib.h>
#include <string.h>

#include "liaison_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is split into frames: each frame is a one-byte length L
 * followed by L bytes; L = 255, or a length past the end, takes the rest.  The parsed
 * command is rebuilt and must parse to the same command.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_frame frames[PROTO_CMD_FRAMES_MAX + 2];
    size_t count = 0, off = 0;
    proto_cmd cmd, again;
    proto_wire wire;
    proto_detail detail;

    while (off < size && count < sizeof(frames) / sizeof(frames[0])) {
        size_t len = data[off++];

        if (len == 255 || len > size - off || count + 1 == sizeof(frames) / sizeof(frames[0]))
            len = size - off;
        frames[count++] = (proto_frame){data + off, len};
        off += len;
    }
    if (proto_cmd_parse(frames, count, &cmd, &detail) != PROTO_OK)
        return 0;
    if (proto_cmd_build(&cmd, &wire, &detail) != PROTO_OK)
        abort();
    if (proto_cmd_parse(wire.frames, wire.count, &again, &detail) != PROTO_OK ||
        memcmp(&cmd, &again, sizeof(cmd)) != 0)
        abort();
    if (cmd.type == PROTO_CMD_STATUS_REPLY) {
        static proto_status_entry entries[PROTO_STATUS_ENTRIES_MAX];
        size_t n;

        if (proto_status_decode(cmd.entries.data, cmd.entries.len, entries,
                                PROTO_STATUS_ENTRIES_MAX, &n, &detail) == PROTO_OK &&
            n > PROTO_STATUS_ENTRIES_MAX)
            abort();
    }
    if (cmd.type == PROTO_CMD_ROSTER) {
        /* What a broker does first with a partner's roster command. */
        proto_roster *r = NULL;

        if (proto_roster_parse((const char *)cmd.roster.data, cmd.roster.len, &r, &detail) ==
                PROTO_OK &&
            r == NULL)
            abort();
        proto_roster_destroy(&r);
    }
    if (cmd.type == PROTO_CMD_ROSTER_ACK && cmd.text[strlen(cmd.text)] != '\0')
        abort();
    if (cmd.type == PROTO_CMD_REPORT) {
        proto_tagged item;
        proto_report report;
        size_t offset = 0, n = 0;

        /* The walk sees exactly the reports the parse counted, and ends at the frame's end. */
        while (proto_reports_next(&cmd, &offset, &item)) {
            if (item.bytes.len == 0 || item.bytes.len > PROTO_REPORT_MAX)
                abort();
            if (proto_report_decode(item.bytes.data, item.bytes.len, &report, &detail) ==
                    PROTO_OK &&
                proto_id_is_zero(report.id))
                abort();
            n++;
        }
        if (n != cmd.count || offset != cmd.reports.len)
            abort();
    }
    if (cmd.type == PROTO_CMD_DELIVER) {
        proto_tagged item;
        size_t offset = 0, n = 0;

        while (proto_deliveries_next(&cmd, &offset, &item)) {
            if (item.bytes.len == 0 || item.bytes.len > PROTO_ENVELOPE_MAX)
                abort();
            n++;
        }
        if (n != cmd.count || offset != cmd.deliveries.len)
            abort();
    }
    if (cmd.type == PROTO_CMD_RECEIPT) {
        proto_ack r;

        for (size_t i = 0; i < cmd.count; i++) {
            proto_ack_get(&cmd, i, &r);
            if (proto_id_is_zero(r.id))
                abort();
        }
        if (cmd.count == 0 || cmd.acks.len != PROTO_ACKS_BYTES(cmd.count))
            abort();
    }
    return 0;
}
