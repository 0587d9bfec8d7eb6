/* Fuzz target: the audit record decoder; what decodes encodes to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "liaison_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_audit_record rec;
    uint8_t again[STORE_AUDIT_RECORD_MAX];
    size_t len;

    if (store_audit_decode(data, size, &rec, NULL) != STORE_OK)
        return 0;
    /* The encoding is canonical: decoding then encoding gives the input back. */
    if (store_audit_encode(&rec, again, sizeof(again), &len, NULL) != STORE_OK || len != size ||
        memcmp(again, data, size) != 0)
        abort();
    return 0;
}
