/* The only file of store/ that calls libsodium: hashes, tree-head signatures, key memory. */
#include <sodium.h>

#include "store_int.h"

store_err
sign_key_copy(const uint8_t secret[PROTO_SIGN_SECRET_BYTES], uint8_t **key_out)
{
    uint8_t *k = sodium_malloc(PROTO_SIGN_SECRET_BYTES);

    if (k == NULL)
        return STORE_ERR_NOMEM;
    memcpy(k, secret, PROTO_SIGN_SECRET_BYTES);
    *key_out = k;
    return STORE_OK;
}

void
sign_key_free(uint8_t **key)
{
    if (key == NULL || *key == NULL)
        return;
    sodium_free(*key); /* wipes before freeing */
    *key = NULL;
}

void
sign_detached(const uint8_t *secret, const uint8_t *msg, size_t len,
              uint8_t sig_out[PROTO_SIGNATURE_BYTES])
{
    crypto_sign_detached(sig_out, NULL, msg, len, secret);
}

bool
sign_verify(const uint8_t pub[PROTO_SIGN_PUBLIC_BYTES], const uint8_t *msg, size_t len,
            const uint8_t sig[PROTO_SIGNATURE_BYTES])
{
    return crypto_sign_verify_detached(sig, msg, len, pub) == 0;
}

bool
ct_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

