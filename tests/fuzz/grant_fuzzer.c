/* Fuzz target: consent grant tokens.  Whatever the bytes, a token that
 * decodes is the one canonical encoding of what it decoded to: signing the
 * decoded grant again (with the vectors' USA/FBI, when it is the grantor)
 * gives the same bytes, and the signature verifies exactly when it is the
 * one that signing makes. */
#include <stdlib.h>
#include <string.h>

#include "liaison_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The test vector's grantor USA/FBI (seed all 0x01), so seeds verify. */
static proto_identity *
vector_grantor(void)
{
    static proto_identity *fbi;
    uint8_t seed[32];
    proto_addr addr;

    if (fbi == NULL) {
        memset(seed, 0x01, sizeof(seed));
        if (proto_init() != PROTO_OK || proto_addr_parse("USA/FBI", &addr, NULL) != PROTO_OK ||
            proto_identity_from_seed(&addr, seed, &fbi) != PROTO_OK)
            abort();
    }
    return fbi;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const proto_identity *fbi = vector_grantor();
    proto_detail detail;
    uint8_t *again = NULL;
    size_t again_len = 0;
    proto_grant g;
    bool verifies;

    if (proto_grant_decode(data, size, &g, &detail) != PROTO_OK)
        return 0;
    verifies = proto_grant_verify(&g, fbi->sign_public) == PROTO_OK;
    if (!proto_addr_equal(&g.grantor, &fbi->addr)) {
        if (verifies)
            abort(); /* the signature is over the grantor: another's does not verify */
        return 0;
    }
    if (proto_grant_sign(&g, fbi, &again, &again_len, NULL) != PROTO_OK)
        abort(); /* what decodes must encode */
    if (again_len != size || memcmp(again, data, size - PROTO_SIGNATURE_BYTES) != 0)
        abort(); /* not canonical */
    if (verifies != (memcmp(again + size - PROTO_SIGNATURE_BYTES,
                            data + size - PROTO_SIGNATURE_BYTES, PROTO_SIGNATURE_BYTES) == 0))
        abort();
    free(again);
    return 0;
}
