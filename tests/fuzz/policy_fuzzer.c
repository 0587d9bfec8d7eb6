/* Fuzz target: loads a policy from arbitrary bytes; every load succeeds or fails cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liaison_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    policy *p = NULL;
    policy_load_error e;

    if (policy_load_buffer(data, size, "fuzz", &p, &e) == POLICY_OK) {
        policy_rate *rate = NULL;
        proto_labels l;
        proto_addr from;
        policy_request r;
        policy_decision d;

        /* Exercise the compiled form once with a simple request. */
        proto_labels_clear(&l);
        memset(&from, 0, sizeof(from));
        from.kind = PROTO_ADDR_AGENCY;
        memcpy(from.nation, policy_nation(p), PROTO_NATION_LEN + 1);
        memcpy(from.agency, "X", 2);
        memset(&r, 0, sizeof(r));
        memcpy(r.partner, strcmp(policy_nation(p), "CAN") == 0 ? "USA" : "CAN", 4);
        r.kind = "watchlist.query";
        r.labels = &l;
        r.sender = &from;
        if (policy_rate_new(p, &rate) == POLICY_OK) {
            /* The request is valid, so a decision must be made. */
            if (policy_decide(p, &r, rate, &d) != POLICY_OK)
                __builtin_trap();
            policy_rate_destroy(&rate);
        }
        policy_destroy(&p);
    }
    return 0;
}
