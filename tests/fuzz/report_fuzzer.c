/* Fuzz target: delivery reports.  Whatever the bytes, decoding and checking
 * agree: a report that does not decode never verifies, and a report checks
 * out against a cache of checked batches exactly when it does alone. */
#include <stdlib.h>
#include <string.h>

#include "liaison_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The test vectors' broker USA (seed all 0x04), so seeds verify. */
static proto_identity *
vector_broker(void)
{
    static proto_identity *usa;
    uint8_t seed[32];
    proto_addr addr;

    if (usa == NULL) {
        memset(seed, 0x04, sizeof(seed));
        if (proto_init() != PROTO_OK || proto_addr_parse("USA", &addr, NULL) != PROTO_OK ||
            proto_identity_from_seed(&addr, seed, &usa) != PROTO_OK)
            abort();
    }
    return usa;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static proto_report_cache cache; /* kept across inputs, as a verifier keeps it */
    const proto_identity *usa = vector_broker();
    proto_report r;
    proto_err decoded, alone, cached;

    decoded = proto_report_decode(data, size, &r, NULL);
    alone = proto_report_verify(data, size, usa->sign_public);
    cached = proto_report_verify_cached(data, size, usa->sign_public, &cache);
    if (alone != cached || (decoded != PROTO_OK && alone == PROTO_OK))
        abort();
    return 0;
}
