/* Fuzz target: the roster parser; what parses formats and parses again alike. */
#include <stdlib.h>
#include <string.h>

#include "liaison_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_roster *r = NULL, *again = NULL;
    char *text = NULL;
    size_t len;

    if (proto_roster_parse((const char *)data, size, &r, NULL) != PROTO_OK)
        return 0;
    if (proto_roster_format(r, &text, &len) != PROTO_OK ||
        proto_roster_parse(text, len, &again, NULL) != PROTO_OK ||
        proto_roster_count(again) != proto_roster_count(r))
        abort();
    for (size_t i = 0; i < proto_roster_count(r); i++) {
        if (memcmp(proto_roster_at(r, i), proto_roster_at(again, i), sizeof(proto_roster_entry)) != 0)
            abort();
    }
    free(text);
    proto_roster_destroy(&again);
    proto_roster_destroy(&r);
    return 0;
}
