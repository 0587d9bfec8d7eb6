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

void
hash_leaf(const uint8_t *data, size_t len, uint8_t out[PROTO_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    static const uint8_t prefix = 0x00;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len > 0)
        crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void
hash_node(const uint8_t left[PROTO_HASH_BYTES], const uint8_t right[PROTO_HASH_BYTES],
          uint8_t out[PROTO_HASH_BYTES])
{
    uint8_t buf[1 + 2 * PROTO_HASH_BYTES];

    buf[0] = 0x01;
    memcpy(buf + 1, left, PROTO_HASH_BYTES);
    memcpy(buf + 1 + PROTO_HASH_BYTES, right, PROTO_HASH_BYTES);
    crypto_hash_sha256(out, buf, sizeof(buf));
}
