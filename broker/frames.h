/* Private to broker/: checks of an agency's frames and envelopes, without I/O. */
#ifndef LIAISON_BROKER_FRAMES_H
#define LIAISON_BROKER_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "liaison_proto.h"

/*
 * Decides what count frames from an agency (routing id removed) ask for.
 * Returns 0 with *cmd_out filled when they are a command an agency may send
 * within max_message bytes; otherwise a proto_wire_code to reject with and
 * a reason in why.  *corr_out is the correlation to answer with (0 when
 * the frames do not carry one).  Pure: the broker and its fuzz target share it.
 */
uint16_t broker_frames_check(const proto_frame *frames, size_t count, size_t max_message,
                             proto_cmd *cmd_out, uint64_t *corr_out, char *why, size_t why_len);

/* Decodes a submitted or forwarded envelope into *env: 0, or a wire code and
 * why.  A version-1 envelope (no actor) is refused as malformed. */
uint16_t broker_envelope_check(const uint8_t *data, size_t len, proto_envelope *env, char *why,
                               size_t why_len);

#endif
