/* Fuzz target: the roster parser; what parses formats and parses again alike:
 * the same cards (formatting puts unsigned cards before the sections, so
 * their order may change once), the same sections, the same text. */
#include <stdlib.h>
#include <string.h>

#include "liaison_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_roster *r = NULL, *again = NULL;
    char *text = NULL, *text2 = NULL;
    size_t len, len2;

    if (proto_roster_parse((const char *)data, size, &r, NULL) != PROTO_OK)
        return 0;
    if (proto_roster_format(r, &text, &len) != PROTO_OK ||
        proto_roster_parse(text, len, &again, NULL) != PROTO_OK ||
        proto_roster_count(again) != proto_roster_count(r) ||
        proto_roster_section_count(again) != proto_roster_section_count(r) ||
        proto_roster_format(again, &text2, &len2) != PROTO_OK || len2 != len ||
        memcmp(text, text2, len) != 0)
        abort();
    for (size_t i = 0; i < proto_roster_count(r); i++) {
        size_t j = 0;

        while (j < proto_roster_count(again) &&
               memcmp(proto_roster_at(r, i), proto_roster_at(again, j),
                      sizeof(proto_roster_entry)) != 0)
            j++;
        if (j == proto_roster_count(again))
            abort();
    }
    for (size_t i = 0; i < proto_roster_section_count(r); i++) {
        char nation[4];
        uint64_t serial = 0, serial2 = 0;
        uint8_t h[PROTO_HASH_BYTES], h2[PROTO_HASH_BYTES];

        (void)proto_roster_section_at(r, i, nation, &serial, NULL);
        if (!proto_roster_section_find(again, nation, &serial2, NULL) || serial2 != serial ||
            proto_roster_section_hash(r, nation, h) != PROTO_OK ||
            proto_roster_section_hash(again, nation, h2) != PROTO_OK ||
            memcmp(h, h2, sizeof(h)) != 0)
            abort();
    }
    free(text2);
    free(text);
    proto_roster_destroy(&again);
    proto_roster_destroy(&r);
    return 0;
}
