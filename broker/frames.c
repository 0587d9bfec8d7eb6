/* What the broker makes of an agency's frames and envelope, before any I/O. */
#include <stdio.h>
#include <string.h>

#include "frames.h"

uint16_t
broker_frames_check(const proto_frame *frames, size_t count, size_t max_message,
                    proto_cmd *cmd_out, uint64_t *corr_out, char *why, size_t why_len)
{
    proto_detail d = {{0}, {0}};

    *corr_out = 0;
    if (count > PROTO_CMD_FRAMES_MAX) {
        snprintf(why, why_len, "%zu frames: more than any command has", count);
        return PROTO_WIRE_COMMAND;
    }
    if (proto_cmd_parse(frames, count, cmd_out, &d) != PROTO_OK) {
        /* Answer with the request's corr when its frame is where submit,
         * status and ping keep it. */
        if (count > 2 && frames[2].len == 8)
            *corr_out = proto_be64(frames[2].data);
        snprintf(why, why_len, "%.40s: %.200s", d.field, d.text);
        return strcmp(d.field, "command") == 0 || strcmp(d.field, "frames") == 0
                   ? PROTO_WIRE_COMMAND
                   : PROTO_WIRE_MALFORMED;
    }
    *corr_out = cmd_out->corr;
    switch (cmd_out->type) {
    case PROTO_CMD_SUBMIT:
        if (cmd_out->envelope.len > max_message) {
            snprintf(why, why_len, "envelope of %zu bytes; this broker accepts at most %zu",
                     cmd_out->envelope.len, max_message);
            return PROTO_WIRE_TOO_LARGE;
        }
        return 0;
    case PROTO_CMD_RECEIPT:
    case PROTO_CMD_STATUS:
    case PROTO_CMD_PING:
    case PROTO_CMD_PONG:
        return 0;
    default:
        snprintf(why, why_len, "an agency may send submit, receipt, status and ping, not %s",
                 proto_cmd_name(cmd_out->type));
        return PROTO_WIRE_COMMAND;
    }
}

uint16_t
broker_envelope_check(const uint8_t *data, size_t len, proto_envelope *env, char *why,
                      size_t why_len)
{
    proto_detail d = {{0}, {0}};
    proto_err err = proto_envelope_decode(data, len, env, &d);

    /* Stored version-1 envelopes stay valid, but a new one must name its actor. */
    if (err == PROTO_OK && env->version < 2) {
        snprintf(why, why_len, "envelope version 1 names no actor");
        return PROTO_WIRE_MALFORMED;
    }
    if (err == PROTO_OK)
        return 0;
    snprintf(why, why_len, "%.40s: %.200s", d.field, d.text);
    return err == PROTO_ERR_LIMIT && len > PROTO_ENVELOPE_MAX ? PROTO_WIRE_TOO_LARGE
                                                             : PROTO_WIRE_MALFORMED;
}
