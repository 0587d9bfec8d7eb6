/* Fills an agency's inbox: N watchlist.publish messages from another agency, for the
 * console's load-time benchmark (bench/console_load.sh).
 *
 *   bench_fill_inbox KEY ROSTER BROKER TO N [LABELS]
 *
 * KEY, ROSTER, BROKER: the sending agency's key file, the roster and its home broker
 * ("tcp://127.0.0.1:7002"); TO: the recipient ("USA/FBI"); LABELS default
 * "LES//REL TO USA".  Each message carries one small entry named "Bench Person <i>".
 * Prints the rate; exits 0 when every message was accepted, 1 otherwise, 64 on usage. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "liaison.h"

#define SEND_TIMEOUT_MS 30000u /* how long one submission may wait for the broker */

int
main(int argc, char **argv)
{
    liaison_client *client = NULL;
    char why[256] = "";
    char *end = NULL;
    unsigned long n;
    unsigned long sent = 0;
    const char *labels;
    double t0, dt;
    int rc = 1;

    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: bench_fill_inbox KEY ROSTER BROKER TO N [LABELS]\n");
        return 64;
    }
    n = strtoul(argv[5], &end, 10);
    if (*end != '\0' || n == 0 || n > 1000000) {
        fprintf(stderr, "bench_fill_inbox: N must be 1..1000000, not '%s'\n", argv[5]);
        return 64;
    }
    labels = argc == 7 ? argv[6] : "LES//REL TO USA";

    liaison_config cfg = {.key_file = argv[1], .roster_file = argv[2], .endpoint = argv[3],
                          .actor = "system:bench-fill-inbox"};
    if (liaison_client_open(&cfg, &client, why, sizeof(why)) != LIAISON_OK) {
        fprintf(stderr, "bench_fill_inbox: cannot connect: %s\n", why);
        return 1;
    }
    t0 = bench_now();
    for (unsigned long i = 0; i < n; i++) {
        liaison_message *msg = NULL;
        char body[512];
        int len = snprintf(body, sizeof(body),
                           "{\"schema\": \"watchlist.publish/1\", \"entries\": [{\"ref\": "
                           "\"BENCH-%06lu\", \"type\": \"person\", \"names\": [\"Bench Person "
                           "%lu\"], \"reason\": \"console load benchmark\"}]}",
                           i, i);
        liaison_err err = liaison_message_new("watchlist.publish", &msg);

        if (err == LIAISON_OK)
            err = liaison_message_add_recipient(msg, argv[4]);
        if (err == LIAISON_OK)
            err = liaison_message_set_labels(msg, labels);
        if (err == LIAISON_OK)
            err = liaison_message_add_portion(msg, labels, body, (size_t)len, NULL);
        if (err == LIAISON_OK)
            err = liaison_send(client, msg, NULL, liaison_now_ms() + SEND_TIMEOUT_MS);
        liaison_message_destroy(&msg);
        if (err != LIAISON_OK) {
            const char *text = NULL;

            liaison_client_rejection(client, &text);
            fprintf(stderr, "bench_fill_inbox: message %lu: %s: %s%s%s\n", i,
                    liaison_strerror(err), liaison_client_error(client), text ? " " : "",
                    text ? text : "");
            goto out;
        }
        sent++;
    }
    rc = 0;
out:
    dt = bench_now() - t0;
    printf("fill: %lu messages from %s to %s in %.1f s (%.0f messages/s)\n", sent,
           liaison_client_address(client), argv[4], dt, dt > 0 ? (double)sent / dt : 0.0);
    liaison_client_close(&client);
    return rc;
}
