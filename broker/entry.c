/* Message entries of the broker's queues: what a queue entry carries besides the message
 * id (entry.h); pure encoding, no store and no sockets, so unit tests link it. */
#include <string.h>

#include "entry.h"
#include "outbox.h"

bool
broker_entry_is_message(proto_slice extra)
{
    return extra.len > 0 &&
           (extra.data[0] == BROKER_ENTRY_MESSAGE || extra.data[0] == BROKER_ENTRY_NOTED ||
            extra.data[0] == BROKER_ENTRY_ABOUT || extra.data[0] == BROKER_ENTRY_ABOUT_NOTED);
}

/* Writes the notes of mask's portions as str8s at out (room bytes); their
 * length, or 0 when they do not fit or none of them says anything. */
static size_t
notes_encode(uint64_t mask, const char *const *notes, uint8_t *out, size_t room)
{
    size_t len = 0;
    bool any = false;

    for (size_t i = 0; i < PROTO_PORTIONS_MAX; i++) {
        const char *note = notes[i];
        size_t n;

        if (!(mask >> i & 1))
            continue;
        if (note == NULL || proto_note_check(note, strlen(note), NULL) != PROTO_OK)
            note = "";
        n = strlen(note);
        if (len + 1 + n > room)
            return 0;
        out[len++] = (uint8_t)n;
        memcpy(out + len, note, n);
        len += n;
        any = any || n > 0;
    }
    return any ? len : 0;
}

/* Appends s as a str8 (cut to max bytes) at buf + *len; false if it does not fit in cap. */
static bool
put_str8(uint8_t *buf, size_t *len, size_t cap, const char *s, size_t max)
{
    size_t n = s != NULL ? strnlen(s, max) : 0;

    if (cap - *len < 1 + n)
        return false;
    buf[(*len)++] = (uint8_t)n;
    if (n > 0) /* s may be NULL, and memcpy takes no null pointer even for 0 bytes */
        memcpy(buf + *len, s, n);
    *len += n;
    return true;
}

/* Reads a str8 of at most max bytes at *at into out (max + 1 bytes); false
 * if it runs past the entry or is longer. */
static bool
get_str8(proto_slice extra, size_t *at, char *out, size_t max)
{
    size_t n;

    if (*at >= extra.len)
        return false;
    n = extra.data[*at];
    if (n > max || extra.len - *at - 1 < n)
        return false;
    memcpy(out, extra.data + *at + 1, n);
    out[n] = '\0';
    *at += 1 + n;
    return true;
}

int
broker_entry_message_encode(const broker_about *about, uint64_t mask, const proto_addr *sender,
                            const char *const *notes, const uint8_t *targets, size_t targets_len,
                            uint8_t *out, size_t cap, size_t *len_out)
{
    char text[PROTO_ADDR_TEXT_MAX + 1];
    size_t len = 1 + 8 + PROTO_HASH_BYTES, noted = 0;

    proto_addr_format(sender, text, sizeof(text));
    if (cap < len || targets_len > cap - len)
        return -1;
    out[0] = BROKER_ENTRY_ABOUT;
    proto_put_be64(out + 1, mask);
    memcpy(out + 9, about->envelope_hash, PROTO_HASH_BYTES);
    if (!put_str8(out, &len, cap - targets_len, text, PROTO_ADDR_TEXT_MAX) ||
        !put_str8(out, &len, cap - targets_len, about->kind, PROTO_KIND_MAX) ||
        !put_str8(out, &len, cap - targets_len, about->actor, PROTO_ACTOR_MAX) ||
        !put_str8(out, &len, cap - targets_len, about->purpose, PROTO_PURPOSE_MAX))
        return -1;
    if (notes != NULL && mask != 0)
        noted = notes_encode(mask, notes, out + len, cap - len - targets_len);
    if (noted > 0) {
        out[0] = BROKER_ENTRY_ABOUT_NOTED;
        len += noted;
    }
    if (targets_len > 0) {
        memcpy(out + len, targets, targets_len);
        len += targets_len;
    }
    *len_out = len;
    return 0;
}

int
broker_entry_message_parse(proto_slice extra, broker_entry_msg *out)
{
    size_t at = 9 + PROTO_HASH_BYTES;
    uint8_t type;

    if (extra.len < 1 + 8 + PROTO_HASH_BYTES + 1 || !broker_entry_is_message(extra))
        return -1;
    type = extra.data[0];
    out->mask = proto_be64(extra.data + 1);
    out->hash = extra.data + 9;
    out->kind[0] = out->actor[0] = out->purpose[0] = '\0';
    if (!get_str8(extra, &at, out->sender, PROTO_ADDR_TEXT_MAX))
        return -1;
    if ((type == BROKER_ENTRY_ABOUT || type == BROKER_ENTRY_ABOUT_NOTED) &&
        (!get_str8(extra, &at, out->kind, PROTO_KIND_MAX) ||
         !get_str8(extra, &at, out->actor, PROTO_ACTOR_MAX) ||
         !get_str8(extra, &at, out->purpose, PROTO_PURPOSE_MAX)))
        return -1;
    out->notes = (proto_slice){NULL, 0};
    if (type == BROKER_ENTRY_NOTED || type == BROKER_ENTRY_ABOUT_NOTED) {
        size_t start = at;

        for (size_t i = 0; i < PROTO_PORTIONS_MAX; i++) {
            if (!(out->mask >> i & 1))
                continue;
            if (at >= extra.len || extra.len - at - 1 < extra.data[at])
                return -1;
            at += 1 + (size_t)extra.data[at];
        }
        out->notes = (proto_slice){extra.data + start, at - start};
    }
    out->targets = (proto_slice){extra.data + at, extra.len - at};
    return 0;
}

void
broker_about_entry(broker_about *about, const uint8_t *id, const broker_entry_msg *m)
{
    about->id = id;
    about->kind = m->kind;
    about->actor = m->actor;
    about->purpose = m->purpose;
    about->envelope_hash = m->hash;
}

