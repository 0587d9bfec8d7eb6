/* Every call into libsodium that proto/ makes, behind Liaison's names. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

proto_err
proto_init(void)
{
    return sodium_init() < 0 ? PROTO_ERR_CRYPTO : PROTO_OK;
}

void
proto_random(proto_rng_fn rng, void *ctx, uint8_t *buf, size_t len)
{
    if (rng != NULL)
        rng(ctx, buf, len);
    else
        randombytes_buf(buf, len);
}

void
proto_id_time(uint64_t created_ms, uint8_t id_out[PROTO_ID_BYTES])
{
    for (size_t i = 0; i < PROTO_ID_TIME_BYTES; i++)
        id_out[i] = (uint8_t)(created_ms >> (8 * (PROTO_ID_TIME_BYTES - 1 - i)));
}

void
proto_id_new(uint64_t created_ms, uint8_t id_out[PROTO_ID_BYTES])
{
    proto_id_time(created_ms, id_out);
    do
        randombytes_buf(id_out + PROTO_ID_TIME_BYTES, PROTO_ID_BYTES - PROTO_ID_TIME_BYTES);
    while (proto_id_is_zero(id_out));
}

void
proto_sha256(const uint8_t *data, size_t len, uint8_t out[PROTO_HASH_BYTES])
{
    crypto_hash_sha256(out, data, len);
}

void
proto_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

void
proto_merkle_node(const uint8_t left[PROTO_HASH_BYTES], const uint8_t right[PROTO_HASH_BYTES],
                  uint8_t out[PROTO_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    static const uint8_t prefix = 0x01;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, left, PROTO_HASH_BYTES);
    crypto_hash_sha256_update(&st, right, PROTO_HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

/* RFC 9162 section 2.1.1: split at the largest power of two below count. */
void
proto_merkle_root(const uint8_t (*leaves)[PROTO_HASH_BYTES], size_t count,
                  uint8_t out[PROTO_HASH_BYTES])
{
    uint8_t left[PROTO_HASH_BYTES], right[PROTO_HASH_BYTES];
    size_t k = 1;

    if (count == 1) {
        memcpy(out, leaves[0], PROTO_HASH_BYTES);
        return;
    }
    while (k * 2 < count)
        k *= 2;
    proto_merkle_root(leaves, k, left);
    proto_merkle_root(leaves + k, count - k, right);
    proto_merkle_node(left, right, out);
}

void
proto_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[PROTO_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    static const uint8_t prefix = 0x00;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len > 0)
        crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

/* Each node is hashed once; a subtree's root joins the path of every leaf
 * of its sibling, after the hashes below it, so paths run leaf to root. */
static void
merkle_paths(const uint8_t (*leaves)[PROTO_HASH_BYTES], size_t lo, size_t count,
             uint8_t (*paths)[PROTO_HASH_BYTES], size_t stride, uint8_t *filled,
             uint8_t out[PROTO_HASH_BYTES])
{
    uint8_t left[PROTO_HASH_BYTES], right[PROTO_HASH_BYTES];
    size_t k = 1;

    if (count == 1) {
        memcpy(out, leaves[lo], PROTO_HASH_BYTES);
        return;
    }
    while (k * 2 < count)
        k *= 2;
    merkle_paths(leaves, lo, k, paths, stride, filled, left);
    merkle_paths(leaves, lo + k, count - k, paths, stride, filled, right);
    for (size_t i = lo; i < lo + count; i++)
        memcpy(paths[i * stride + filled[i]++], i < lo + k ? right : left, PROTO_HASH_BYTES);
    proto_merkle_node(left, right, out);
}

void
proto_merkle_paths(const uint8_t (*leaves)[PROTO_HASH_BYTES], size_t count,
                   uint8_t (*paths)[PROTO_HASH_BYTES], size_t stride, uint8_t *filled,
                   uint8_t root_out[PROTO_HASH_BYTES])
{
    merkle_paths(leaves, 0, count, paths, stride, filled, root_out);
}

/* RFC 9162 section 2.1.3.1: the leaf's subtree halves, from the root down. */
size_t
proto_merkle_path_len(uint64_t leaf_index, uint64_t tree_size)
{
    size_t count = 0;

    while (tree_size > 1) {
        uint64_t k = 1;

        while (k * 2 < tree_size)
            k *= 2;
        if (leaf_index < k) {
            tree_size = k;
        } else {
            leaf_index -= k;
            tree_size -= k;
        }
        count++;
    }
    return count;
}

/* RFC 9162 section 2.1.3.2. */
proto_err
proto_merkle_root_from_path(uint64_t leaf_index, uint64_t tree_size,
                            const uint8_t leaf_hash[PROTO_HASH_BYTES],
                            const uint8_t (*path)[PROTO_HASH_BYTES], size_t count,
                            uint8_t root_out[PROTO_HASH_BYTES])
{
    uint64_t fn = leaf_index, sn = tree_size - 1;
    uint8_t r[PROTO_HASH_BYTES];

    if (leaf_index >= tree_size || (count > 0 && path == NULL))
        return PROTO_ERR_SIGNATURE;
    memcpy(r, leaf_hash, PROTO_HASH_BYTES);
    for (size_t i = 0; i < count; i++) {
        if (sn == 0)
            return PROTO_ERR_SIGNATURE;
        if ((fn & 1) == 1 || fn == sn) {
            proto_merkle_node(path[i], r, r);
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            proto_merkle_node(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return PROTO_ERR_SIGNATURE;
    memcpy(root_out, r, PROTO_HASH_BYTES);
    return PROTO_OK;
}

void
proto_key_commit(const uint8_t key[PROTO_AEAD_KEY_BYTES], uint8_t out[PROTO_HASH_BYTES])
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)PROTO_COMMIT_CONTEXT,
                              sizeof(PROTO_COMMIT_CONTEXT));
    crypto_hash_sha256_update(&st, key, PROTO_AEAD_KEY_BYTES);
    crypto_hash_sha256_final(&st, out);
}

/*
 * The layout of libsodium's crypto_box_seal: an ephemeral public key, then
 * crypto_box_easy of the message with nonce BLAKE2b-192(epk || rpk).  The
 * ephemeral key comes from rng so that test vectors can fix it; a recipient
 * opens the result with crypto_box_seal_open.
 */
proto_err
proto_seal_key(const uint8_t key[PROTO_AEAD_KEY_BYTES],
               const uint8_t box_public[PROTO_BOX_PUBLIC_BYTES], proto_rng_fn rng, void *rng_ctx,
               uint8_t out[PROTO_SEAL_BYTES])
{
    uint8_t seed[crypto_box_SEEDBYTES];
    uint8_t epk[crypto_box_PUBLICKEYBYTES], esk[crypto_box_SECRETKEYBYTES];
    uint8_t nonce[crypto_box_NONCEBYTES];
    crypto_generichash_state st;
    proto_err err = PROTO_OK;

    proto_random(rng, rng_ctx, seed, sizeof(seed));
    if (crypto_box_seed_keypair(epk, esk, seed) != 0) {
        err = PROTO_ERR_CRYPTO;
        goto out;
    }
    crypto_generichash_init(&st, NULL, 0, sizeof(nonce));
    crypto_generichash_update(&st, epk, sizeof(epk));
    crypto_generichash_update(&st, box_public, PROTO_BOX_PUBLIC_BYTES);
    crypto_generichash_final(&st, nonce, sizeof(nonce));
    memcpy(out, epk, sizeof(epk));
    if (crypto_box_easy(out + sizeof(epk), key, PROTO_AEAD_KEY_BYTES, nonce, box_public, esk) != 0)
        err = PROTO_ERR_CRYPTO;
out:
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(esk, sizeof(esk));
    return err;
}

proto_err
proto_unseal_key(const uint8_t sealed[PROTO_SEAL_BYTES], const proto_identity *reader,
                 uint8_t key_out[PROTO_AEAD_KEY_BYTES])
{
    if (crypto_box_seal_open(key_out, sealed, PROTO_SEAL_BYTES, reader->box_public,
                             reader->box_secret) != 0)
        return PROTO_ERR_DECRYPT;
    return PROTO_OK;
}

proto_err
proto_aead_encrypt(uint8_t *ct, const uint8_t *plain, size_t plain_len, const uint8_t *ad,
                   size_t ad_len, const uint8_t nonce[PROTO_AEAD_NONCE_BYTES],
                   const uint8_t key[PROTO_AEAD_KEY_BYTES])
{
    unsigned long long ct_len;

    if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &ct_len, plain, plain_len, ad, ad_len,
                                                   NULL, nonce, key) != 0)
        return PROTO_ERR_CRYPTO;
    return PROTO_OK;
}

proto_err
proto_aead_decrypt(uint8_t *plain, const uint8_t *ct, size_t ct_len, const uint8_t *ad,
                   size_t ad_len, const uint8_t nonce[PROTO_AEAD_NONCE_BYTES],
                   const uint8_t key[PROTO_AEAD_KEY_BYTES])
{
    unsigned long long plain_len;

    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plain_len, NULL, ct, ct_len, ad,
                                                   ad_len, nonce, key) != 0)
        return PROTO_ERR_DECRYPT;
    return PROTO_OK;
}

void
proto_sign(uint8_t sig[PROTO_SIGNATURE_BYTES], const uint8_t *msg, size_t len,
           const uint8_t secret[PROTO_SIGN_SECRET_BYTES])
{
    crypto_sign_detached(sig, NULL, msg, len, secret);
}

proto_err
proto_sign_verify(const uint8_t sig[PROTO_SIGNATURE_BYTES], const uint8_t *msg, size_t len,
                  const uint8_t pub[PROTO_SIGN_PUBLIC_BYTES])
{
    return crypto_sign_verify_detached(sig, msg, len, pub) == 0 ? PROTO_OK : PROTO_ERR_SIGNATURE;
}

void
proto_leaf_hash(uint8_t index, const uint8_t *record, size_t len, uint8_t out[PROTO_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    uint8_t head[2] = {0x00, index};

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, head, sizeof(head));
    crypto_hash_sha256_update(&st, record, len);
    crypto_hash_sha256_final(&st, out);
}

/* Allocations left before the injected failure; negative: never fail. */
static long fault_countdown = -1;

void
proto_fault_alloc_after(long n)
{
    fault_countdown = n;
}

static bool
fault_now(void)
{
    if (fault_countdown < 0)
        return false;
    if (fault_countdown == 0)
        return true;
    fault_countdown--;
    return false;
}

void *
proto_alloc(size_t len)
{
    return fault_now() ? NULL : malloc(len);
}

void *
proto_secret_alloc(size_t len)
{
    return fault_now() ? NULL : sodium_malloc(len);
}

void
proto_secret_free(void *p)
{
    if (p != NULL)
        sodium_free(p);
}

bool
proto_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

void
proto_sign_detached(const proto_identity *id, const uint8_t *msg, size_t len,
                    uint8_t sig_out[PROTO_SIGNATURE_BYTES])
{
    crypto_sign_detached(sig_out, NULL, msg, len, id->sign_secret);
}

proto_err
proto_verify_detached(const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES], const uint8_t *msg,
                      size_t len, const uint8_t sig[PROTO_SIGNATURE_BYTES])
{
    return proto_sign_verify(sig, msg, len, sign_public);
}
