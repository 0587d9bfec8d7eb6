/* Fuzz target: the envelope decoder, then verify, redact and re-decode. */
#include <stdlib.h>
#include <string.h>

#include "liaison_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static proto_envelope env, again;
    static const uint8_t zero_key[PROTO_SIGN_PUBLIC_BYTES];
    proto_detail detail;
    uint8_t *copy = NULL;
    size_t copy_len;

    if (proto_init() != PROTO_OK)
        abort();
    if (proto_envelope_decode(data, size, &env, &detail) != PROTO_OK)
        return 0;
    if (proto_envelope_verify(&env, zero_key) == PROTO_OK)
        abort(); /* nothing verifies under the all-zero (small-order) key */
    for (size_t i = 0; i < env.portion_count; i++) {
        proto_labels labels;

        if (proto_envelope_portion_labels(&env, i, &labels) != PROTO_OK)
            abort(); /* decode validated every portion's labels */
    }
    /* A redacted copy must decode and keep the signed hashes. */
    if (proto_envelope_redact(&env, 1, &copy, &copy_len) != PROTO_OK)
        abort();
    if (proto_envelope_decode(copy, copy_len, &again, &detail) != PROTO_OK ||
        memcmp(again.header_hash, env.header_hash, PROTO_HASH_BYTES) != 0 ||
        memcmp(again.portions_root, env.portions_root, PROTO_HASH_BYTES) != 0)
        abort();
    free(copy);
    copy = NULL;
    /* So must a copy redacted with notes; a note that came keeps its words. */
    {
        static const char *notes[PROTO_PORTIONS_MAX];
        char nation[PROTO_NATION_LEN + 1], rule[PROTO_RULE_ID_MAX + 1];
        char nation2[PROTO_NATION_LEN + 1], rule2[PROTO_RULE_ID_MAX + 1];

        for (size_t i = 0; i < env.portion_count; i++)
            notes[i] = i % 2 == 0 ? "USA usa-fuzz" : "CAN";
        if (proto_envelope_redact_noted(&env, 1, notes, &copy, &copy_len) != PROTO_OK)
            abort();
        if (proto_envelope_decode(copy, copy_len, &again, &detail) != PROTO_OK ||
            memcmp(again.portions_root, env.portions_root, PROTO_HASH_BYTES) != 0 ||
            !proto_envelope_portion_note(&again, 0, nation, rule))
            abort();
        for (size_t i = 0; i < env.portion_count; i++) {
            if (proto_envelope_portion_note(&env, i, nation, rule) &&
                (!proto_envelope_portion_note(&again, i, nation2, rule2) ||
                 strcmp(nation, nation2) != 0 || strcmp(rule, rule2) != 0))
                abort();
        }
        free(copy);
    }
    return 0;
}
