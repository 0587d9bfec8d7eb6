/* Unit tests of broker/outbox.c: which entries go together, and what the
 * other end of a real ZeroMQ socket receives. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "helpers.h"
#include "outbox.h"

/* An entry of the given kind; extra points at static bytes. */
static store_queue_entry
entry(uint64_t seq, uint8_t kind)
{
    static uint8_t extra[3][8] = {{BROKER_ENTRY_MESSAGE},
                                  {BROKER_ENTRY_REPORT},
                                  {BROKER_ENTRY_SIGNED, 'L', 'S', 'N', 'R', 1, 2, 3}};
    store_queue_entry e;

    memset(&e, 0, sizeof(e));
    e.seq = seq;
    memset(e.id, (int)seq, sizeof(e.id));
    e.extra = (proto_slice){extra[kind == BROKER_ENTRY_MESSAGE ? 0 : kind == BROKER_ENTRY_REPORT ? 1 : 2],
                            8};
    return e;
}

/* Receives one command from s into *cmd; its frames stay in msgs (closed by the caller). */
static void
receive(void *s, zmq_msg_t msgs[3], proto_cmd *cmd)
{
    proto_frame pf[3];
    proto_detail d = {{0}, {0}};

    for (size_t i = 0; i < 3; i++) {
        zmq_msg_init(&msgs[i]);
        assert_true(zmq_msg_recv(&msgs[i], s, 0) >= 0);
        pf[i] = (proto_frame){zmq_msg_data(&msgs[i]), zmq_msg_size(&msgs[i])};
        assert_int_equal(zmq_msg_more(&msgs[i]), i < 2);
    }
    if (proto_cmd_parse(pf, 3, cmd, &d) != PROTO_OK)
        fail_msg("%s: %s", d.field, d.text);
}

static void
test_outbox_entry_report(void **state)
{
    static uint8_t signed_bytes[] = "signed report";
    broker_signed signed_report = {signed_bytes, sizeof(signed_bytes)};
    broker_signed none = {NULL, 0};
    store_queue_entry m = entry(1, BROKER_ENTRY_MESSAGE), r = entry(2, BROKER_ENTRY_REPORT),
                      s = entry(3, BROKER_ENTRY_SIGNED);
    proto_slice got;

    (void)state;
    /* A message is not a report; this broker's report is the signed copy;
     * a partner's report goes as it came, without its kind byte. */
    assert_null(broker_entry_report(&m, &none).data);
    got = broker_entry_report(&r, &signed_report);
    assert_ptr_equal(got.data, signed_bytes);
    assert_int_equal(got.len, sizeof(signed_bytes));
    assert_null(broker_entry_report(&r, &none).data); /* a report that did not sign */
    got = broker_entry_report(&s, &none);
    assert_int_equal(got.len, 7);
    assert_memory_equal(got.data, "LSNR\x01\x02\x03", 7);
}

static void
test_outbox_fits(void **state)
{
    static uint8_t big[BROKER_DELIVER_BYTES];
    store_queue_entry entries[BROKER_SEND_MAX + 1];
    broker_outbox box;

    (void)state;
    memset(&box, 0, sizeof(box));
    for (size_t i = 0; i <= BROKER_SEND_MAX; i++)
        entries[i] = entry(i + 1, BROKER_ENTRY_REPORT);
    /* Anything fits an empty box, even one envelope over the budget. */
    assert_true(broker_outbox_fits(&box, PROTO_CMD_DELIVER, 3 * BROKER_DELIVER_BYTES));
    broker_outbox_add(&box, PROTO_CMD_REPORT, &entries[0], (proto_slice){big, 200}, NULL, 41);
    assert_int_equal(box.kind, PROTO_CMD_REPORT);
    assert_int_equal(box.cursor_before, 41);
    /* The other kind waits for the box to go first. */
    assert_false(broker_outbox_fits(&box, PROTO_CMD_DELIVER, 10));
    for (size_t i = 1; i < BROKER_SEND_MAX; i++) {
        assert_true(broker_outbox_fits(&box, PROTO_CMD_REPORT, 200));
        broker_outbox_add(&box, PROTO_CMD_REPORT, &entries[i], (proto_slice){big, 200}, NULL, i);
    }
    assert_int_equal(box.cursor_before, 41); /* the cursor before the first stays */
    assert_false(broker_outbox_fits(&box, PROTO_CMD_REPORT, 200)); /* full: 64 */
    broker_outbox_clear(&box);
    assert_int_equal(box.count, 0);
    /* Messages: up to the byte budget, then the next waits. */
    broker_outbox_add(&box, PROTO_CMD_DELIVER, &entries[0],
                      (proto_slice){big, BROKER_DELIVER_BYTES - 100}, NULL, 0);
    assert_true(broker_outbox_fits(&box, PROTO_CMD_DELIVER, 100));
    assert_false(broker_outbox_fits(&box, PROTO_CMD_DELIVER, 101));
    broker_outbox_clear(&box);
}

static void
test_outbox_sends_one_command(void **state)
{
    void *ctx = zmq_ctx_new(), *out = zmq_socket(ctx, ZMQ_PAIR), *in = zmq_socket(ctx, ZMQ_PAIR);
    store_queue_entry entries[3] = {entry(7, BROKER_ENTRY_MESSAGE), entry(8, BROKER_ENTRY_MESSAGE),
                                    entry(10, BROKER_ENTRY_MESSAGE)};
    static uint8_t report[PROTO_REPORT_MAX];
    static store_queue_entry reports[BROKER_SEND_MAX];
    size_t sizes[3] = {1, 1400, 3 * BROKER_DELIVER_BYTES};
    broker_outbox box;
    zmq_msg_t msgs[3];
    proto_tagged item;
    proto_cmd cmd;
    size_t offset = 0, n = 0;

    (void)state;
    assert_int_equal(zmq_bind(in, "inproc://outbox"), 0);
    assert_int_equal(zmq_connect(out, "inproc://outbox"), 0);
    memset(&box, 0, sizeof(box));
    /* Three envelopes, the box owning copies of them (freed on clear, as
     * the broker's redacted copies are). */
    for (size_t i = 0; i < 3; i++) {
        uint8_t *copy = malloc(sizes[i]);

        assert_non_null(copy);
        memset(copy, 'a' + (int)i, sizes[i]);
        broker_outbox_add(&box, PROTO_CMD_DELIVER, &entries[i], (proto_slice){copy, sizes[i]}, copy,
                          6);
    }
    assert_int_equal(broker_outbox_send(out, NULL, 0, &box), 0);
    assert_int_equal(box.count, 3); /* unchanged until cleared */
    receive(in, msgs, &cmd);
    assert_int_equal(cmd.type, PROTO_CMD_DELIVER);
    assert_int_equal(cmd.count, 3);
    while (proto_deliveries_next(&cmd, &offset, &item)) {
        assert_int_equal(item.tag, entries[n].seq);
        assert_int_equal(item.bytes.len, sizes[n]);
        assert_int_equal(item.bytes.data[0], 'a' + (int)n);
        assert_int_equal(item.bytes.data[sizes[n] - 1], 'a' + (int)n);
        n++;
    }
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        zmq_msg_close(&msgs[i]);
    broker_outbox_clear(&box);

    /* The largest report command: 64 reports of the largest size. */
    memset(report, 'r', sizeof(report));
    for (size_t i = 0; i < BROKER_SEND_MAX; i++) {
        reports[i] = entry(100 + i, BROKER_ENTRY_REPORT);
        broker_outbox_add(&box, PROTO_CMD_REPORT, &reports[i], (proto_slice){report, sizeof(report)},
                          NULL, 99);
    }
    assert_int_equal(broker_outbox_send(out, NULL, 0, &box), 0);
    receive(in, msgs, &cmd);
    assert_int_equal(cmd.type, PROTO_CMD_REPORT);
    assert_int_equal(cmd.count, BROKER_SEND_MAX);
    offset = 0;
    n = 0;
    while (proto_reports_next(&cmd, &offset, &item))
        assert_int_equal(item.tag, 100 + n++);
    assert_int_equal(n, BROKER_SEND_MAX);
    for (size_t i = 0; i < 3; i++)
        zmq_msg_close(&msgs[i]);
    broker_outbox_clear(&box);
    /* An empty box sends nothing and succeeds. */
    assert_int_equal(broker_outbox_send(out, NULL, 0, &box), 0);
    zmq_close(out);
    zmq_close(in);
    zmq_ctx_term(ctx);
}

/* A command that cannot go reports it and leaves the box as it was, so the
 * caller can count its entries as never sent. */
static void
test_outbox_send_fails_whole(void **state)
{
    void *ctx = zmq_ctx_new(), *router = zmq_socket(ctx, ZMQ_ROUTER);
    store_queue_entry e = entry(5, BROKER_ENTRY_REPORT);
    static uint8_t report[10] = "LSNR";
    int one = 1;
    broker_outbox box;

    (void)state;
    assert_int_equal(zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)), 0);
    assert_int_equal(zmq_bind(router, "inproc://nobody"), 0);
    memset(&box, 0, sizeof(box));
    broker_outbox_add(&box, PROTO_CMD_REPORT, &e, (proto_slice){report, sizeof(report)}, NULL, 4);
    assert_int_equal(broker_outbox_send(router, (const uint8_t *)"gone", 4, &box), -1);
    assert_int_equal(zmq_errno(), EHOSTUNREACH);
    assert_int_equal(box.count, 1);
    assert_int_equal(box.cursor_before, 4);
    broker_outbox_clear(&box);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbox_entry_report),
        cmocka_unit_test(test_outbox_fits),
        cmocka_unit_test(test_outbox_sends_one_command),
        cmocka_unit_test(test_outbox_send_fails_whole),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests_name("broker_outbox", tests, NULL, NULL);
}
