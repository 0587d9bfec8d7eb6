/* Benchmark: policy_decide with 100 partners x 50 rules; prints ns/decision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liaison_policy.h"

#define PARTNERS 100
#define RULES 50
#define ROUNDS 2000000

static const char *const kinds[] = {"watchlist.query", "watchlist.publish", "traveldoc.check",
                                    "freeze.designation", "mlat.status"};

static void
partner_name(int i, char out[4])
{
    out[0] = (char)('B' + i / 26 % 26);
    out[1] = (char)('A' + i % 26);
    out[2] = 'X';
    out[3] = '\0';
}

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(void)
{
    size_t cap = 8u << 20, n = 0;
    char *buf = malloc(cap);
    policy *p = NULL;
    policy_load_error e;
    proto_labels labels, portions[4];
    proto_addr senders[RULES], recipient;
    policy_request req;
    policy_decision d;
    double t0, t1;
    unsigned long released = 0;

    if (buf == NULL)
        return 1;
    n += (size_t)snprintf(buf + n, cap - n, "nation: USA\nvocabulary:\n  caveats: [HUMINT, FININT]\npartners:\n");
    for (int i = 0; i < PARTNERS; i++) {
        char nat[4];

        partner_name(i, nat);
        n += (size_t)snprintf(buf + n, cap - n, "  - nation: %s\n    egress:\n", nat);
        for (int j = 0; j < RULES; j++)
            n += (size_t)snprintf(buf + n, cap - n,
                                  "      - id: %s-r%d\n        kinds: [%s]\n        from: [USA/AG%d]\n"
                                  "        exclude: [FININT]\n        ceiling: SECRET\n"
                                  "        action: withhold\n        withhold: [HUMINT]\n",
                                  nat, j, kinds[j % 5], j);
    }
    if (policy_load_buffer((const uint8_t *)buf, n, "bench", &p, &e) != POLICY_OK) {
        fprintf(stderr, "bench: %u:%u: %s\n", e.line, e.column, e.message);
        return 1;
    }
    if (proto_labels_parse("SECRET//LES", &labels, NULL) != PROTO_OK ||
        proto_labels_parse("LES", &portions[0], NULL) != PROTO_OK ||
        proto_labels_parse("SECRET//LES//HUMINT", &portions[1], NULL) != PROTO_OK ||
        proto_labels_parse("CONFIDENTIAL//LES", &portions[2], NULL) != PROTO_OK ||
        proto_labels_parse("LES//NOFORN", &portions[3], NULL) != PROTO_OK)
        return 1;
    for (int j = 0; j < RULES; j++) {
        char a[32];

        snprintf(a, sizeof(a), "USA/AG%d", j);
        if (proto_addr_parse(a, &senders[j], NULL) != PROTO_OK)
            return 1;
    }
    memset(&req, 0, sizeof(req));
    req.direction = POLICY_EGRESS;
    req.labels = &labels;
    req.portions = portions;
    req.portion_count = 4;
    req.recipients = &recipient;
    req.recipient_count = 1;
    req.now_ms = 1717200000000ull;
    memset(&recipient, 0, sizeof(recipient));
    recipient.kind = PROTO_ADDR_ALL;
    t0 = now_ns();
    for (unsigned long k = 0; k < ROUNDS; k++) {
        /* Vary partner, sender (so the matching rule is spread over the list) and kind. */
        partner_name((int)(k * 7919 % PARTNERS), req.partner);
        req.sender = &senders[k * 31 % RULES];
        req.kind = kinds[k * 31 % RULES % 5];
        if (policy_decide(p, &req, NULL, &d) != POLICY_OK)
            return 1;
        released += d.action != POLICY_DENY;
    }
    t1 = now_ns();
    printf("bench_policy: %d partners x %d rules, 4 portions: %.1f ns/decision "
           "(%d decisions, %lu released)\n",
           PARTNERS, RULES, (t1 - t0) / ROUNDS, ROUNDS, released);
    policy_destroy(&p);
    free(buf);
    return 0;
}
