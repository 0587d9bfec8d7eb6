/* Fuzz target: the sanctions list reader of freeze import; every input is read whole or refused
 * with a placed reason, in both formats, without crashing or leaking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "freeze_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every entry must carry a reference and a name. */
static int
check_entry(void *arg, json_t *members, long line)
{
    (void)arg;
    if (!json_is_string(json_object_get(members, "reference")) ||
        !json_is_string(json_object_get(json_object_get(members, "entity"), "name")) || line < 0)
        abort();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const freeze_list_format formats[] = {FREEZE_LIST_UN_XML, FREEZE_LIST_OFAC_XML};
    static int initialised;

    if (!initialised) {
        xmlInitParser();
        initialised = 1;
    }
    for (size_t i = 0; i < 2; i++) {
        char why[512];
        size_t count = 0;
        freeze_list_err err = freeze_list_read_memory((const char *)data, size, "fuzz", formats[i],
                                                      check_entry, NULL, &count, why, sizeof(why));

        if (err == FREEZE_LIST_ERR_DATA && strncmp(why, "fuzz:", 5) != 0)
            abort();
        if (err != FREEZE_LIST_OK && err != FREEZE_LIST_ERR_DATA && err != FREEZE_LIST_ERR_NOINPUT)
            abort();
    }
    return 0;
}
