/* Unit tests of broker/entry.c: the message entries of the broker's queues, with the kind,
 * actor and purpose their audit records name, and the entries queued before those existed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "entry.h"
#include "outbox.h"

static const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static uint8_t hash[32];

static proto_addr
addr(const char *text)
{
    proto_addr a;

    assert_int_equal(proto_addr_parse(text, &a, NULL), PROTO_OK);
    return a;
}

/* An entry as a broker before kind and actor wrote it: 'M' or 'N'. */
static size_t
old_entry(uint8_t type, uint64_t mask, const char *sender, const uint8_t *tail, size_t tail_len,
          uint8_t *out)
{
    size_t len = 0, n = strlen(sender);

    out[len++] = type;
    for (int i = 7; i >= 0; i--)
        out[len++] = (uint8_t)(mask >> (8 * i));
    memcpy(out + len, hash, 32);
    len += 32;
    out[len++] = (uint8_t)n;
    memcpy(out + len, sender, n);
    len += n;
    memcpy(out + len, tail, tail_len);
    return len + tail_len;
}

static void
test_broker_entry_round_trip_names_kind_actor_purpose(void **state)
{
    broker_about about = {id, "watchlist.query", "fbi.jdoe", "fugitive search", hash};
    proto_addr sender = addr("USA/FBI");
    uint8_t buf[STORE_QUEUE_EXTRA_MAX];
    size_t len = 0;
    broker_entry_msg m;
    broker_about back;

    (void)state;
    assert_int_equal(broker_entry_message_encode(&about, 0, &sender, NULL, NULL, 0, buf,
                                                 sizeof(buf), &len),
                     0);
    assert_int_equal(buf[0], BROKER_ENTRY_ABOUT);
    assert_true(broker_entry_is_message((proto_slice){buf, len}));
    assert_int_equal(broker_entry_message_parse((proto_slice){buf, len}, &m), 0);
    assert_string_equal(m.sender, "USA/FBI");
    assert_string_equal(m.kind, "watchlist.query");
    assert_string_equal(m.actor, "fbi.jdoe");
    assert_string_equal(m.purpose, "fugitive search");
    assert_memory_equal(m.hash, hash, 32);
    assert_int_equal(m.mask, 0);
    assert_int_equal(m.notes.len, 0);
    assert_int_equal(m.targets.len, 0);
    broker_about_entry(&back, id, &m);
    assert_ptr_equal(back.id, id);
    assert_string_equal(back.actor, "fbi.jdoe");
    assert_memory_equal(back.envelope_hash, hash, 32);
    /* Every cut inside the fixed fields and the four texts is refused. */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(broker_entry_message_parse((proto_slice){buf, n}, &m), -1);
    /* Unknown fields (NULL) are empty. */
    about.kind = about.actor = about.purpose = NULL;
    assert_int_equal(broker_entry_message_encode(&about, 0, &sender, NULL, NULL, 0, buf,
                                                 sizeof(buf), &len),
                     0);
    assert_int_equal(broker_entry_message_parse((proto_slice){buf, len}, &m), 0);
    assert_string_equal(m.kind, "");
    assert_string_equal(m.actor, "");
    assert_string_equal(m.purpose, "");
}

static void
test_broker_entry_notes_and_targets_keep_their_place(void **state)
{
    broker_about about = {id, "watchlist.details", "fbi.asmith", "visa screening", hash};
    proto_addr sender = addr("USA/FBI");
    const char *notes[PROTO_PORTIONS_MAX] = {"USA usa-mex-watchlist", NULL, "USA"};
    static const uint8_t targets[] = {1, 7, 'M', 'E', 'X', '/', 'F', 'G', 'R', 0, 0, 0, 0,
                                      0, 0, 0, 5};
    uint8_t buf[STORE_QUEUE_EXTRA_MAX];
    size_t len = 0;
    broker_entry_msg m;

    (void)state;
    assert_int_equal(broker_entry_message_encode(&about, 5, &sender, notes, targets,
                                                 sizeof(targets), buf, sizeof(buf), &len),
                     0);
    assert_int_equal(buf[0], BROKER_ENTRY_ABOUT_NOTED);
    assert_int_equal(broker_entry_message_parse((proto_slice){buf, len}, &m), 0);
    assert_int_equal(m.mask, 5);
    assert_string_equal(m.actor, "fbi.asmith");
    assert_string_equal(m.purpose, "visa screening");
    /* Two notes (bits 0 and 2), then the targets as given. */
    assert_int_equal(m.notes.len, 1 + strlen(notes[0]) + 1 + strlen(notes[2]));
    assert_int_equal(m.targets.len, sizeof(targets));
    assert_memory_equal(m.targets.data, targets, sizeof(targets));
    /* What does not fit is refused, not cut. */
    assert_int_equal(broker_entry_message_encode(&about, 5, &sender, notes, targets,
                                                 sizeof(targets), buf, 60, &len),
                     -1);
}

/* Entries queued before an upgrade ('M', 'N') still parse, with no kind,
 * actor or purpose, so they are delivered and audited as before. */
static void
test_broker_entry_old_entries_parse_without_actor(void **state)
{
    static const uint8_t targets[] = {1, 7, 'C', 'A', 'N', '/', 'R', 'C', 'M', 'P', 0, 0, 0,
                                      0, 0, 0, 0, 0};
    static const uint8_t noted[] = {3, 'U', 'S', 'A', 1, 7, 'C', 'A', 'N', '/', 'R', 'C',
                                    'M', 'P', 0, 0, 0, 0, 0, 0, 0, 1};
    uint8_t buf[256];
    size_t len;
    broker_entry_msg m;

    (void)state;
    len = old_entry(BROKER_ENTRY_MESSAGE, 0, "USA/FBI", targets, sizeof(targets), buf);
    assert_int_equal(broker_entry_message_parse((proto_slice){buf, len}, &m), 0);
    assert_string_equal(m.sender, "USA/FBI");
    assert_string_equal(m.kind, "");
    assert_string_equal(m.actor, "");
    assert_int_equal(m.targets.len, sizeof(targets));
    assert_memory_equal(m.targets.data, targets, sizeof(targets));

    len = old_entry(BROKER_ENTRY_NOTED, 1, "USA/FBI", noted, sizeof(noted), buf);
    assert_int_equal(broker_entry_message_parse((proto_slice){buf, len}, &m), 0);
    assert_int_equal(m.notes.len, 4);
    assert_int_equal(m.targets.len, sizeof(noted) - 4);
    assert_string_equal(m.purpose, "");

    /* A report entry is no message; an 'A' whose kind claims more than 64
     * bytes is refused. */
    buf[0] = BROKER_ENTRY_REPORT;
    assert_false(broker_entry_is_message((proto_slice){buf, len}));
    assert_int_equal(broker_entry_message_parse((proto_slice){buf, len}, &m), -1);
    {
        uint8_t bad[256];
        size_t n = old_entry(BROKER_ENTRY_ABOUT, 0, "USA/FBI", (const uint8_t *)"", 0, bad);

        bad[n++] = PROTO_KIND_MAX + 1;
        memset(bad + n, 'k', PROTO_KIND_MAX + 1);
        n += PROTO_KIND_MAX + 1;
        bad[n++] = 0;
        bad[n++] = 0;
        assert_int_equal(broker_entry_message_parse((proto_slice){bad, n}, &m), -1);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_entry_round_trip_names_kind_actor_purpose),
        cmocka_unit_test(test_broker_entry_notes_and_targets_keep_their_place),
        cmocka_unit_test(test_broker_entry_old_entries_parse_without_actor),
    };

    memset(hash, 0x5a, sizeof(hash));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
