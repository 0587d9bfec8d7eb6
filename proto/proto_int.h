/* Private to proto/: byte readers and writers, error details, crypto wrappers. */
#ifndef LIAISON_PROTO_INT_H
#define LIAISON_PROTO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto.h"

/* Magic numbers and context strings of the formats (see docs/protocol.md). */
#define PROTO_ENVELOPE_MAGIC "LSNE"
#define PROTO_REPORT_MAGIC "LSNR"
#define PROTO_FORMAT_VERSION 1u   /* delivery reports; envelope version 1 */
#define PROTO_ENVELOPE_VERSION 2u /* what the envelope encoder writes */
#define PROTO_SIGN_CONTEXT "liaison envelope v1" /* 19 bytes + NUL = 20 signed */
#define PROTO_REPORT_CONTEXT "liaison report v1"
#define PROTO_COMMIT_CONTEXT "liaison key commit v1"

/* Records the field and reason of an error, if detail is not NULL. */
void proto_detail_set(proto_detail *detail, const char *field, const char *fmt, ...)
    PROTO_PRINTF(3, 4);

/* ---- Reading ------------------------------------------------------------ */

/* A bounded reader over borrowed bytes.  Every get fails cleanly at the end. */
typedef struct proto_rd {
    const uint8_t *p;       /* next unread byte */
    size_t left;            /* bytes left */
    proto_detail *detail;   /* where errors are explained; may be NULL */
} proto_rd;

proto_err proto_rd_u8(proto_rd *rd, const char *field, uint8_t *out);
proto_err proto_rd_u16(proto_rd *rd, const char *field, uint16_t *out);
proto_err proto_rd_u32(proto_rd *rd, const char *field, uint32_t *out);
proto_err proto_rd_u64(proto_rd *rd, const char *field, uint64_t *out);
/* Borrows n bytes. */
proto_err proto_rd_bytes(proto_rd *rd, const char *field, size_t n, const uint8_t **out);
/* Borrows a u8-length-prefixed string of at most max bytes. */
proto_err proto_rd_str8(proto_rd *rd, const char *field, size_t max, proto_slice *out);
/* Copies a str8 of at most max bytes, refusing NUL bytes, into dst (max + 1). */
proto_err proto_rd_text(proto_rd *rd, const char *field, size_t max, char *dst);
/* PROTO_ERR_TRAILING unless every byte was read. */
proto_err proto_rd_end(proto_rd *rd, const char *field);

/* ---- Writing ------------------------------------------------------------ */

/* A writer into caller storage of fixed capacity; overflow is sticky. */
typedef struct proto_wr {
    uint8_t *p;             /* start of storage */
    size_t cap;             /* bytes of storage */
    size_t len;             /* bytes written */
    bool overflow;          /* a write did not fit */
} proto_wr;

void proto_wr_u8(proto_wr *wr, uint8_t v);
void proto_wr_u16(proto_wr *wr, uint16_t v);
void proto_wr_u32(proto_wr *wr, uint32_t v);
void proto_wr_u64(proto_wr *wr, uint64_t v);
void proto_wr_bytes(proto_wr *wr, const void *data, size_t n);
/* u8 length then bytes; the caller has checked n <= 255. */
void proto_wr_str8(proto_wr *wr, const char *s, size_t n);

uint16_t proto_be16(const uint8_t *p);
uint32_t proto_be32(const uint8_t *p);

/* ---- Pieces shared between files ----------------------------------------- */

/* True if n bytes at s are 0..PROTO_RULE_ID_MAX of A-Z a-z 0-9 . _ : - */
bool proto_rule_id_valid(const char *s, size_t n);

/* True if n bytes at s are an actor: 1..PROTO_ACTOR_MAX of A-Z a-z 0-9 . _ : @ -
 * (an envelope's, and a consent grant's grantor_actor). */
bool proto_actor_valid_n(const char *s, size_t n);

/* Validates an address's fields (as parse would have made them). */
proto_err proto_addr_check(const proto_addr *addr, proto_detail *detail, const char *field);

/* Parses an address from a u8-length string read off the wire. */
proto_err proto_addr_from_slice(proto_slice s, proto_addr *out, proto_detail *detail,
                                const char *field);

/* Writes the canonical text of addr (no NUL) into wr as a str8. */
void proto_addr_write(proto_wr *wr, const proto_addr *addr);

/* Bytes of the binary labels encoding of labels. */
size_t proto_labels_encoded_len(const proto_labels *labels);

/* Writes the binary labels encoding (labels must pass proto_labels_check). */
void proto_labels_encode(proto_wr *wr, const proto_labels *labels);

/* Decodes labels from the reader (not to its end). */
proto_err proto_labels_read(proto_rd *rd, proto_labels *out, const char *field);

/* Strict check of a free-text field: printable ASCII, no "//", no leading,
 * trailing or doubled '/'; no leading or trailing space. */
bool proto_text_valid(const char *s, size_t n);

/* Status entries, shared by status replies and reports (command.c). */
proto_err proto_entry_check(const proto_status_entry *e, proto_detail *detail, const char *field);
void proto_entry_write(proto_wr *wr, const proto_status_entry *e);
proto_err proto_entry_read(proto_rd *rd, proto_status_entry *e, const char *field);

/* ---- libsodium, in one place (crypto.c) --------------------------------- */

void proto_random(proto_rng_fn rng, void *ctx, uint8_t *buf, size_t len);

/* Writes created_ms into the first PROTO_ID_TIME_BYTES of a message id. */
void proto_id_time(uint64_t created_ms, uint8_t id_out[PROTO_ID_BYTES]);
/* RFC 9162 Merkle tree hash of count leaf hashes (count >= 1). */
void proto_merkle_root(const uint8_t (*leaves)[PROTO_HASH_BYTES], size_t count,
                       uint8_t out[PROTO_HASH_BYTES]);
/* The root of count leaf hashes and every leaf's inclusion path at once:
 * leaf i's path is paths[i * stride ...], proto_merkle_path_len(i, count)
 * hashes from the leaf up (stride >= the longest).  filled: count zeroed
 * bytes of scratch. */
void proto_merkle_paths(const uint8_t (*leaves)[PROTO_HASH_BYTES], size_t count,
                        uint8_t (*paths)[PROTO_HASH_BYTES], size_t stride, uint8_t *filled,
                        uint8_t root_out[PROTO_HASH_BYTES]);
/* Key commitment: SHA-256(context || key). */
void proto_key_commit(const uint8_t key[PROTO_AEAD_KEY_BYTES], uint8_t out[PROTO_HASH_BYTES]);
/* A sealed box (libsodium crypto_box_seal layout) with an ephemeral key
 * drawn from rng, so that test vectors are reproducible. */
proto_err proto_seal_key(const uint8_t key[PROTO_AEAD_KEY_BYTES],
                         const uint8_t box_public[PROTO_BOX_PUBLIC_BYTES], proto_rng_fn rng,
                         void *rng_ctx, uint8_t out[PROTO_SEAL_BYTES]);
proto_err proto_unseal_key(const uint8_t sealed[PROTO_SEAL_BYTES], const proto_identity *reader,
                           uint8_t key_out[PROTO_AEAD_KEY_BYTES]);
proto_err proto_aead_encrypt(uint8_t *ct, const uint8_t *plain, size_t plain_len,
                             const uint8_t *ad, size_t ad_len,
                             const uint8_t nonce[PROTO_AEAD_NONCE_BYTES],
                             const uint8_t key[PROTO_AEAD_KEY_BYTES]);
proto_err proto_aead_decrypt(uint8_t *plain, const uint8_t *ct, size_t ct_len,
                             const uint8_t *ad, size_t ad_len,
                             const uint8_t nonce[PROTO_AEAD_NONCE_BYTES],
                             const uint8_t key[PROTO_AEAD_KEY_BYTES]);
void proto_sign(uint8_t sig[PROTO_SIGNATURE_BYTES], const uint8_t *msg, size_t len,
                const uint8_t secret[PROTO_SIGN_SECRET_BYTES]);
proto_err proto_sign_verify(const uint8_t sig[PROTO_SIGNATURE_BYTES], const uint8_t *msg,
                            size_t len, const uint8_t pub[PROTO_SIGN_PUBLIC_BYTES]);
/* Merkle leaf hash of a present portion: SHA-256(0x00 || index || record),
 * record being its encoding from state byte to last seal. */
void proto_leaf_hash(uint8_t index, const uint8_t *record, size_t len,
                     uint8_t out[PROTO_HASH_BYTES]);
/* Every allocation of proto/ goes through these, so that tests can make
 * the n-th one fail (proto_fault_alloc_after). */
void *proto_alloc(size_t len);
/* Guarded memory for keys; proto_secret_free wipes and accepts NULL. */
void *proto_secret_alloc(size_t len);
void proto_secret_free(void *p);
/* Secret files (key files, nation key files): at most this many bytes. */
#define PROTO_SECRET_FILE_MAX 4096u
/* Creates path exclusively with mode 0600, writes len bytes of text and
 * syncs; nothing is left at path after an error.  PROTO_ERR_EXISTS,
 * PROTO_ERR_IO. */
proto_err proto_secret_file_write(const char *path, const char *text, size_t len,
                                  proto_detail *detail);
/* Reads a secret file into buf (PROTO_SECRET_FILE_MAX + 1 bytes, the
 * caller's guarded memory), NUL-terminated, after refusing a file group or
 * others may access or change (what names it: "key file").  PROTO_ERR_IO,
 * PROTO_ERR_PERMISSION, PROTO_ERR_KEYFILE (too large, a NUL byte). */
proto_err proto_secret_file_read(const char *path, const char *what, char *buf,
                                 proto_detail *detail);
/* Constant-time comparison. */
bool proto_equal(const void *a, const void *b, size_t len);

#endif
