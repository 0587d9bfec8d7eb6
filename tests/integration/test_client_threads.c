/* libliaison used from several threads at once, one client per thread, as liaison.h allows. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

enum { THREADS = 4, PER_THREAD = 400 };

/* One sending client and what it sealed. */
typedef struct sealer {
    fed *f;                          /* the federation (keys and roster) */
    const char *from;                /* the sending agency */
    const char *to;                  /* its one recipient, different for every thread */
    uint8_t *sealed[PER_THREAD];     /* the envelopes */
    size_t sealed_len[PER_THREAD];   /* their sizes */
} sealer;

static void *
seal_many(void *arg)
{
    sealer *s = arg;
    liaison_client *c = fed_client(s->f, s->from, false);

    for (size_t i = 0; i < PER_THREAD; i++) {
        liaison_message *m = NULL;
        const uint8_t *bytes;
        char body[64];

        snprintf(body, sizeof(body), "%s %zu", s->from, i);
        if (liaison_message_new("traveldoc.report", &m) != LIAISON_OK ||
            liaison_message_add_recipient(m, s->to) != LIAISON_OK ||
            liaison_message_add_portion(m, "LES", body, strlen(body), NULL) != LIAISON_OK ||
            liaison_message_seal(c, m, NULL) != LIAISON_OK ||
            liaison_message_envelope(m, &bytes, &s->sealed_len[i]) != LIAISON_OK)
            return (void *)1;
        s->sealed[i] = malloc(s->sealed_len[i]);
        memcpy(s->sealed[i], bytes, s->sealed_len[i]);
        liaison_message_destroy(&m);
    }
    liaison_client_close(&c);
    return NULL;
}

/* Clients of four threads seal at the same time: every portion is sealed to
 * its own message's recipient, who can open it, and to no one else. */
static void
test_client_threads_seal_each_its_own_readers(void **state)
{
    static const char *const one[] = {"USA"};
    static sealer s[THREADS] = {
        {.from = "USA/FBI", .to = "USA/CBP"},
        {.from = "USA/CBP", .to = "USA/DOJ"},
        {.from = "USA/DOJ", .to = "USA/TREASURY"},
        {.from = "USA/TREASURY", .to = "USA/FBI"},
    };
    fed *f = fed_new(one, 1, NULL);
    pthread_t th[THREADS];
    size_t wrong = 0;

    (void)state;
    /* No broker runs: sealing needs only the keys and the roster. */
    for (size_t t = 0; t < THREADS; t++) {
        s[t].f = f;
        assert_int_equal(pthread_create(&th[t], NULL, seal_many, &s[t]), 0);
    }
    for (size_t t = 0; t < THREADS; t++) {
        void *rc = NULL;

        pthread_join(th[t], &rc);
        assert_null(rc);
    }
    for (size_t t = 0; t < THREADS; t++) {
        proto_identity *reader = NULL;
        proto_detail d;

        assert_int_equal(proto_keyfile_read(fed_agency_get(f, s[t].to)->key, &reader, &d),
                         PROTO_OK);
        for (size_t i = 0; i < PER_THREAD; i++) {
            proto_envelope env;
            uint8_t plain[64];
            size_t len = 0;
            char want[64];

            snprintf(want, sizeof(want), "%s %zu", s[t].from, i);
            assert_int_equal(proto_envelope_decode(s[t].sealed[i], s[t].sealed_len[i], &env, &d),
                             PROTO_OK);
            if (proto_envelope_plain_len(&env, 0) > sizeof(plain) ||
                proto_envelope_open(&env, 0, reader, plain, &len) != PROTO_OK ||
                len != strlen(want) || memcmp(plain, want, len) != 0)
                wrong++;
            free(s[t].sealed[i]);
        }
        proto_identity_destroy(&reader);
    }
    if (wrong > 0)
        fail_msg("%zu of %d messages sealed concurrently cannot be opened by their recipient",
                 wrong, THREADS * PER_THREAD);
    fed_destroy(&f);
}

/* One receiving client: counts what it is handed that was not meant for it. */
typedef struct taker {
    fed *f;              /* the federation */
    const char *addr;    /* the receiving agency */
    size_t got;          /* messages handed to it */
    size_t wrong;        /* ... that name another recipient, or do not open */
} taker;

enum { RECEIVED = 300 };

static void *
take_many(void *arg)
{
    taker *t = arg;
    liaison_client *c = fed_client(t->f, t->addr, true);
    uint64_t deadline = liaison_now_ms() + 60000;

    while (t->got < RECEIVED) {
        liaison_event *e = NULL;
        char want[64];

        if (liaison_receive(c, &e, deadline) != LIAISON_OK)
            break;
        if (e->type == LIAISON_EVENT_MESSAGE) {
            snprintf(want, sizeof(want), "for %s", t->addr);
            t->got++;
            if (e->portion_count != 1 || !e->portions[0].readable ||
                e->portions[0].len != strlen(want) ||
                memcmp(e->portions[0].data, want, strlen(want)) != 0)
                t->wrong++;
        }
        (void)liaison_receipt(c, e);
        liaison_event_free(&e);
    }
    liaison_client_close(&c);
    return NULL;
}

/* Two clients of two threads receive at the same time: each is handed its
 * own messages, never the other's. */
static void
test_client_threads_receive_each_its_own_messages(void **state)
{
    static const char *const one[] = {"USA"};
    static const char *const to[] = {"USA/CBP", "USA/DOJ"};
    fed *f = fed_new(one, 1, NULL);
    taker t[2] = {{.f = f, .addr = "USA/CBP"}, {.f = f, .addr = "USA/DOJ"}};
    pthread_t th[2];
    liaison_client *fbi;

    (void)state;
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", false);
    for (size_t i = 0; i < RECEIVED; i++) {
        for (size_t k = 0; k < 2; k++) {
            liaison_message *m = NULL;
            char body[64];

            snprintf(body, sizeof(body), "for %s", to[k]);
            assert_int_equal(liaison_message_new("traveldoc.report", &m), LIAISON_OK);
            assert_int_equal(liaison_message_add_recipient(m, to[k]), LIAISON_OK);
            assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL),
                             LIAISON_OK);
            if (liaison_send(fbi, m, NULL, liaison_now_ms() + 30000) != LIAISON_OK)
                fail_msg("send: %s", liaison_client_error(fbi));
            liaison_message_destroy(&m);
        }
    }
    liaison_client_close(&fbi);
    for (size_t k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&th[k], NULL, take_many, &t[k]), 0);
    for (size_t k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    for (size_t k = 0; k < 2; k++) {
        if (t[k].got != RECEIVED || t[k].wrong != 0)
            fail_msg("%s was handed %zu of %d messages, %zu of them another's or unreadable",
                     t[k].addr, t[k].got, RECEIVED, t[k].wrong);
    }
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_client_threads_seal_each_its_own_readers, fed_destroy_all),
        cmocka_unit_test_teardown(test_client_threads_receive_each_its_own_messages,
                                  fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    test_quiet_logs();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
