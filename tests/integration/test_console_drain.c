/* Integration test of what the console reads: a message whose portion a broker withheld,
 * drained by the liaison tool (a real process) into the casebook, keeps who withheld it, by
 * which rule, and the sender's actor. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casebook.h"
#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u

/* What the walk over the received messages found of the message sent. */
typedef struct found {
    const uint8_t *id;        /* the message sent */
    bool seen;                /* it is in the casebook */
    char actor[65];           /* its sender's actor */
    json_t *withheld;         /* its withheld portions, parsed */
} found;

static int
each(void *arg, const casebook_entry *e)
{
    found *f = arg;

    if (memcmp(e->id, f->id, 16) != 0)
        return 0;
    f->seen = true;
    snprintf(f->actor, sizeof(f->actor), "%s", e->actor);
    f->withheld = e->withheld != NULL ? json_loads(e->withheld, 0, NULL) : NULL;
    return 1;
}

static void
test_console_drain_withheld_rule(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    const char *args[] = {"recall", "deleted", "--json", "--wait", "2", NULL};
    liaison_client *fbi;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    uint8_t id[16];
    char out[8192], err[8192], dir[1100], why[256], actor[FED_ACTOR_BYTES];
    found fd;
    json_t *w;
    int rc;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", true);
    /* Portion 1 (HUMINT) may not leave the USA for CAN: its broker withholds it at egress by
     * rule usa-can-watchlist (the example policy), and says so in its note. */
    assert_int_equal(liaison_message_new("watchlist.query", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "CAN/RCMP"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//REL TO CAN,USA//PURPOSE:fugitive search"),
                     LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(
                         m, "LES", "{\"schema\":\"watchlist.query/1\",\"subject\":{\"name\":\"DOE\"}}",
                         56, NULL),
                     LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES//HUMINT", "source CANARY", 13, NULL),
                     LIAISON_OK);
    if (liaison_send(fbi, m, id, liaison_now_ms() + 10 * SECOND) != LIAISON_OK)
        fail_msg("send: %s", liaison_client_error(fbi));
    liaison_message_destroy(&m);
    assert_true(fed_wait_report(fbi, id, "CAN/RCMP", "withheld", NULL, 15 * SECOND));

    /* The tool drains CAN/RCMP's inbox into its casebook (recall deleted drains first). */
    rc = fed_tool(f, "CAN/RCMP", "rcmp", args, out, err, sizeof(out));
    if (rc != 0)
        fail_msg("liaison recall deleted: exit %d: %s", rc, err);

    snprintf(dir, sizeof(dir), "%s/state-rcmp", f->dir);
    if (casebook_open(dir, &cb, why, sizeof(why)) != CASEBOOK_OK)
        fail_msg("casebook_open: %s", why);
    memset(&fd, 0, sizeof(fd));
    fd.id = id;
    assert_int_equal(casebook_each(cb, false, each, &fd), CASEBOOK_OK);
    casebook_close(&cb);
    assert_true(fd.seen);
    assert_string_equal(fd.actor, fed_actor_of("USA/FBI", actor));
    assert_int_equal(json_array_size(fd.withheld), 1);
    w = json_array_get(fd.withheld, 0);
    assert_int_equal(json_integer_value(json_object_get(w, "portion")), 1);
    assert_string_equal(json_string_value(json_object_get(w, "labels")), "LES//HUMINT");
    assert_string_equal(json_string_value(json_object_get(w, "by")), "USA");
    assert_string_equal(json_string_value(json_object_get(w, "rule")), "usa-can-watchlist");
    json_decref(fd.withheld);
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_console_drain_withheld_rule, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("console_drain", tests, NULL, NULL);
}
