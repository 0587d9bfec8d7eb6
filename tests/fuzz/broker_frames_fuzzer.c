/* Fuzz target: what the broker makes of an agency's frames and envelopes. */
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "liaison_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Frames are split as in the command fuzzer: a length byte, then that many
 * bytes (255 or a length past the end takes the rest).  A command the broker
 * admits must be one an agency may send, within the size limit, and a
 * submit's envelope goes through the broker's envelope check.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static proto_envelope env;
    proto_frame frames[PROTO_CMD_FRAMES_MAX + 2];
    size_t count = 0, off = 0, max_message = 65536;
    proto_cmd cmd;
    uint64_t corr;
    char why[PROTO_TEXT_MAX];
    uint16_t code;

    if (proto_init() != PROTO_OK)
        abort();
    while (off < size && count < sizeof(frames) / sizeof(frames[0])) {
        size_t len = data[off++];

        if (len == 255 || len > size - off || count + 1 == sizeof(frames) / sizeof(frames[0]))
            len = size - off;
        frames[count++] = (proto_frame){data + off, len};
        off += len;
    }
    why[0] = '\0';
    code = broker_frames_check(frames, count, max_message, &cmd, &corr, why, sizeof(why));
    if (code != 0) {
        if (code > PROTO_WIRE_CODE_MAX || why[0] == '\0')
            abort(); /* every refusal has a known code and a reason */
        return 0;
    }
    if (cmd.type != PROTO_CMD_SUBMIT && cmd.type != PROTO_CMD_RECEIPT &&
        cmd.type != PROTO_CMD_STATUS && cmd.type != PROTO_CMD_PING && cmd.type != PROTO_CMD_PONG)
        abort();
    if (cmd.type == PROTO_CMD_SUBMIT) {
        if (cmd.envelope.len > max_message || corr != cmd.corr)
            abort();
        code = broker_envelope_check(cmd.envelope.data, cmd.envelope.len, true, &env, why,
                                      sizeof(why));
        if (code != 0 && code != PROTO_WIRE_MALFORMED && code != PROTO_WIRE_TOO_LARGE)
            abort();
    }
    return 0;
}
