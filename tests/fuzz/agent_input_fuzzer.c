/* Fuzz target: what partners send the agent: names (UTF-8 folding and scoring), document numbers, entries and reports. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *half, buf[256], doc[MATCH_DOC_MAX], why[300];
    json_t *o, *checked;
    match_name m;
    double s;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* A name: folded tokens within their bounds; scores in [0, 1], symmetric. */
    match_name_parse(text, &m);
    if (m.count > MATCH_TOKENS_MAX)
        abort();
    for (size_t i = 0; i < m.count; i++) {
        if (m.lens[i] == 0 || m.lens[i] > MATCH_TOKEN_CHARS_MAX)
            abort();
    }
    match_name_normalise(text, buf, sizeof(buf));
    if (strlen(buf) >= sizeof(buf))
        abort();
    half = text + strlen(text) / 2;
    s = match_name_score(text, half);
    if (!(s >= 0.0 && s <= 1.0) || fabs(s - match_name_score(half, text)) > 1e-9)
        abort();
    if (m.count > 0 && !match_is_hit(match_name_score(text, text), 1.0))
        abort();
    /* A document number: only upper-case letters and digits survive. */
    if (match_doc_normalise(text, doc, sizeof(doc))) {
        for (const char *p = doc; *p != '\0'; p++) {
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                abort();
        }
        if (!match_doc_same(text, NULL, NULL, doc, NULL, NULL))
            abort();
    }
    (void)match_date_compare(text, half);
    /* An entry or a report: a checked copy always has what the agent relies on. */
    o = json_loadb((const char *)data, size, 0, NULL);
    if (o != NULL) {
        checked = agent_entry_check(o, why, sizeof(why));
        if (checked != NULL && (!json_is_string(json_object_get(checked, "ref")) ||
                                !json_is_array(json_object_get(checked, "names")) ||
                                json_array_size(json_object_get(checked, "names")) == 0))
            abort();
        json_decref(checked);
        checked = agent_doc_check(o, why, sizeof(why));
        if (checked != NULL && (!json_is_string(json_object_get(checked, "reported")) ||
                                !json_is_object(json_object_get(checked, "document"))))
            abort();
        json_decref(checked);
        json_decref(o);
    }
    free(text);
    return 0;
}
