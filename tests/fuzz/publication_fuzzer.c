/* Fuzz target: a partner's traveldoc.publish part, as the agent checks it before filing anything. */
#include <jansson.h>
#include <stdlib.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    agent_publication_part p;
    json_t *o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    char why[300];
    size_t items;

    if (o == NULL)
        return 0;
    /* A part that checks holds what the filing relies on, within its bounds. */
    if (agent_publication_check(o, &p, why, sizeof(why))) {
        items = p.hashed ? p.hash_count : json_array_size(p.records);
        if (p.version == 0 || p.part == 0 || p.part > p.parts ||
            p.parts > AGENT_PUBLISH_PARTS_MAX || items == 0 || items > p.count ||
            (p.parts == 1 && items != p.count) ||
            (p.hashed && (p.hashes == NULL || p.hash_count > AGENT_PUBLISH_HASHES_MAX)) ||
            (!p.hashed && (p.records == NULL || items > AGENT_PUBLISH_RECORDS_MAX)))
            abort();
        agent_publication_part_clear(&p);
    }
    json_decref(o);
    return 0;
}
