/* The Liaison wire format and its cryptography: no I/O but key files, no sockets. */
#ifndef LIAISON_PROTO_H
#define LIAISON_PROTO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto_t.h"

#if defined(__GNUC__)
#define PROTO_MUST_CHECK __attribute__((warn_unused_result))
#define PROTO_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#define PROTO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PROTO_MUST_CHECK
#define PROTO_NONNULL(...)
#define PROTO_PRINTF(f, a)
#endif

/*
 * Every function here is thread-safe as long as no two threads use the same
 * object at once.  Where an error can be explained, a proto_detail *detail_r
 * receives the field and a one-line reason; it may be NULL.  After a failure
 * every out-parameter is left as it was unless the function says otherwise.
 */

/* ---- Library ------------------------------------------------------------ */

/* Initialises libsodium.  Call once before anything else; safe to call again.
 * Returns PROTO_OK or PROTO_ERR_CRYPTO. */
proto_err proto_init(void) PROTO_MUST_CHECK;

/* Returns a static, human-readable string for code; never NULL. */
const char *proto_strerror(proto_err code);

/* Returns a static name for a wire code ("malformed", ...); "unknown" otherwise. */
const char *proto_wire_code_name(uint16_t code);

/* Returns a static name for a delivery state ("queued", ...); "unknown" otherwise. */
const char *proto_state_name(uint8_t state);

/* Parses a state name back; PROTO_ERR_SYNTAX if it is none. */
proto_err proto_state_parse(const char *name, uint8_t *state_out) PROTO_NONNULL(1, 2);
/* True if an agency's agent answers messages of kind by itself
 * (watchlist.query, watchlist.request, traveldoc.check, freeze.query,
 * cargo.request): brokers report such a message unattended or unreachable
 * when it cannot reach its agency now (docs/protocol.md section 7.3). */
bool proto_kind_answered(const char *kind) PROTO_NONNULL(1);

/* Fault injection for tests: after n more successful allocations inside
 * proto/, the next one fails (PROTO_ERR_NOMEM); n < 0 turns it off.  Not
 * thread-safe; for single-threaded tests only. */
void proto_fault_alloc_after(long n);

/* Sizes, mirrored as functions so bindings need not hard-code them. */
size_t proto_id_bytes(void);
size_t proto_hash_bytes(void);
size_t proto_signature_bytes(void);
size_t proto_envelope_max(void);

/* ---- Addresses ---------------------------------------------------------- */

// Parses "NATION/AGENCY", "NATION/*", "*" or a bare "NATION" (a broker).
/*
 * NATION is three upper-case letters; AGENCY is 1..32 of A-Z, 0-9, '-' and
 * '_', starting with a letter or digit.  Lower case is refused, not folded.
 * Errors: PROTO_ERR_SYNTAX, PROTO_ERR_LIMIT (with the reason in detail_r).
 */
proto_err proto_addr_parse(const char *text, proto_addr *addr_out,
                           proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Same, for text that is not NUL-terminated. */
proto_err proto_addr_parse_n(const char *text, size_t len, proto_addr *addr_out,
                             proto_detail *detail_r) PROTO_NONNULL(3) PROTO_MUST_CHECK;

/* Writes the canonical text of addr into buf (at least PROTO_ADDR_TEXT_MAX + 1
 * bytes) and returns buf. */
char *proto_addr_format(const proto_addr *addr, char *buf, size_t buf_len) PROTO_NONNULL(1, 2);

/* True if the two addresses are the same. */
bool proto_addr_equal(const proto_addr *a, const proto_addr *b) PROTO_NONNULL(1, 2);

/* True if selector (an address or selector) names the agency address. */
bool proto_addr_matches(const proto_addr *selector, const proto_addr *agency) PROTO_NONNULL(1, 2);

/* True if nation is three upper-case ASCII letters. */
bool proto_nation_valid(const char *nation) PROTO_NONNULL(1);

/* True if actor (may be NULL: false) is an actor reference: 1 to
 * PROTO_ACTOR_MAX of A-Z a-z 0-9 . _ : @ - (docs/protocol.md section 6). */
bool proto_actor_valid(const char *actor);

/* ---- Labels ------------------------------------------------------------- */

/* Sets labels to the empty (unclassified, unrestricted) value. */
void proto_labels_clear(proto_labels *labels) PROTO_NONNULL(1);

/*
 * Parses the text form, segments joined by "//", in any order:
 *   UNCLASSIFIED | RESTRICTED | CONFIDENTIAL | SECRET | TOP SECRET
 *   LES  ORCON  NOFORN  REL TO USA,CAN  <CAVEAT>
 *   HANDLING:CRIME-ONLY,NO-COURT,NO-ONWARD  RESTRICT:<text>
 *   EVAL:<A|B|C|X><1-4>  ORIGIN:<NATION>  BASIS:<id>  OFFENCE:<id>,<id>
 *   PURPOSE:<text>
 * Lists may come in any order and are sorted; a repeated item or segment
 * is refused.  Errors:
 * PROTO_ERR_SYNTAX, PROTO_ERR_LIMIT; detail_r names the segment.
 */
proto_err proto_labels_parse(const char *text, proto_labels *labels_out,
                             proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Writes the canonical text of labels into buf (PROTO_LABELS_TEXT_MAX bytes
 * suffice).  Returns PROTO_ERR_LIMIT if buf is too small. */
proto_err proto_labels_format(const proto_labels *labels, char *buf,
                              size_t buf_len) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Checks that labels is valid and canonical (what a decoder would accept). */
proto_err proto_labels_check(const proto_labels *labels,
                             proto_detail *detail_r) PROTO_NONNULL(1) PROTO_MUST_CHECK;

/* Decodes the binary form from exactly len bytes. */
proto_err proto_labels_decode(const uint8_t *buf, size_t len, proto_labels *labels_out,
                              proto_detail *detail_r) PROTO_NONNULL(3) PROTO_MUST_CHECK;

/* Returns the name of a classification level ("SECRET"), or NULL if out of range. */
const char *proto_class_name(uint8_t level);

/* True if labels releases to nation: no NOFORN (unless nation is home), and if
 * there is a REL TO list, nation is on it. */
bool proto_labels_releasable_to(const proto_labels *labels, const char *home_nation,
                                const char *nation) PROTO_NONNULL(1, 2, 3);

/* ---- Identities, key files and cards ---------------------------------- */

/* Generates the three key pairs for addr (an agency or a broker address).
 * *id_out is the caller's, to free with proto_identity_destroy. */
proto_err proto_identity_generate(const proto_addr *addr,
                                  proto_identity **id_out) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Builds an identity deterministically from a 32-byte seed (test vectors). */
proto_err proto_identity_from_seed(const proto_addr *addr, const uint8_t seed[32],
                                   proto_identity **id_out) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/* Wipes and frees *id, and sets *id to NULL.  Accepts NULL and *id == NULL. */
void proto_identity_destroy(proto_identity **id);

/* The public half of id. */
void proto_identity_card(const proto_identity *id, proto_card *card_out) PROTO_NONNULL(1, 2);

/*
 * Writes id as a secret key file at path, mode 0600, created exclusively
 * and synced.  Errors: PROTO_ERR_EXISTS, PROTO_ERR_IO (detail_r has errno text).
 */
proto_err proto_keyfile_write(const proto_identity *id, const char *path,
                              proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/*
 * Checks that the file open as fd, read from path, cannot be changed by
 * anyone but its owner: it is a regular file that group and others cannot
 * write, in a directory that group and others cannot write either (a sticky
 * directory such as /tmp passes when the file is this user's or root's: no
 * one else can rename or remove it there).  When path goes through a
 * symbolic link, the directory that really holds the file is checked too.
 * what names the file in the message ("roster", "policy").  Errors:
 * PROTO_ERR_PERMISSION (detail_r names the file or directory, its mode and
 * the chmod that fixes it), PROTO_ERR_IO (not a regular file, or the
 * directory cannot be examined).  Thread-safe.
 */
proto_err proto_file_check_writers(int fd, const char *path, const char *what,
                                   proto_detail *detail_r) PROTO_NONNULL(2, 3) PROTO_MUST_CHECK;

/*
 * Reads a secret key file.  Refuses a file that group or others may access,
 * or whose directory they may write (PROTO_ERR_PERMISSION), a damaged file whose public keys do not match its
 * secret keys or whose lines do not parse (PROTO_ERR_KEYFILE, detail_r names
 * the line), and a missing file (PROTO_ERR_IO).
 */
proto_err proto_keyfile_read(const char *path, proto_identity **id_out,
                             proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Writes the text form of a card into buf (512 bytes suffice). */
proto_err proto_card_format(const proto_card *card, char *buf,
                            size_t buf_len) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* The card's fingerprint (docs/protocol.md 5.2): SHA-256 of its text form as
 * proto_card_format writes it, what operators compare out of band. */
void proto_card_fingerprint(const proto_card *card, uint8_t out[PROTO_HASH_BYTES]) PROTO_NONNULL(1, 2);

/* Parses the text form of a card.  Errors: PROTO_ERR_KEYFILE with the line. */
proto_err proto_card_parse(const char *text, proto_card *card_out,
                           proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* ---- The roster -------------------------------------------------------- */

/*
 * The roster lists every identity of the federation (docs/protocol.md,
 * "Roster"): its card, the kinds it accepts, and a revocation if any.  At
 * most one card per identity is not revoked; no key appears twice.
 * A loaded roster is immutable and may be read by many threads.
 */

/* Parses len bytes of roster text.  *roster_out is the caller's, to free with
 * proto_roster_destroy.  Errors: PROTO_ERR_SYNTAX (detail_r has the line),
 * PROTO_ERR_LIMIT, PROTO_ERR_NOMEM. */
proto_err proto_roster_parse(const char *text, size_t len, proto_roster **roster_out,
                             proto_detail *detail_r) PROTO_NONNULL(1, 3) PROTO_MUST_CHECK;

/* Reads and parses a roster file; PROTO_ERR_IO if it cannot be read,
 * PROTO_ERR_PERMISSION if others could change it (proto_file_check_writers). */
proto_err proto_roster_load(const char *path, proto_roster **roster_out,
                            proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Frees *r and sets it to NULL; accepts NULL. */
void proto_roster_destroy(proto_roster **r);

/* Number of cards, and card i (NULL past the end); borrowed until destroy. */
size_t proto_roster_count(const proto_roster *r) PROTO_NONNULL(1);
const proto_roster_entry *proto_roster_at(const proto_roster *r, size_t i) PROTO_NONNULL(1);

/* The card of addr: the active one if any, else a revoked one, else NULL. */
const proto_roster_entry *proto_roster_find(const proto_roster *r,
                                            const proto_addr *addr) PROTO_NONNULL(1, 2);

/* The card whose CURVE key is curve_public (revoked or not), or NULL. */
const proto_roster_entry *proto_roster_find_curve(const proto_roster *r,
                                                  const uint8_t curve_public[PROTO_CURVE_KEY_BYTES]) PROTO_NONNULL(1, 2);

/* True if the card accepts messages of kind. */
bool proto_roster_accepts(const proto_roster_entry *e, const char *kind) PROTO_NONNULL(1, 2);

/* True if kind matches pattern: an exact kind, "family.*" or "*". */
bool proto_kind_matches(const char *pattern, const char *kind) PROTO_NONNULL(1, 2);

/* SHA-256 of the text the roster was parsed from. */
void proto_roster_hash(const proto_roster *r, uint8_t out[PROTO_HASH_BYTES]) PROTO_NONNULL(1, 2);

/* Writes the roster's text (canonical layout) into a malloc'd *text_out:
 * unsigned cards first, then each section.  PROTO_ERR_UNSIGNED if a section
 * changed since it was signed (see proto_roster_section_sign). */
proto_err proto_roster_format(const proto_roster *r, char **text_out,
                              size_t *len_out) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/* Appends a card; refused (roster unchanged) if it breaks a roster rule.
 * A card of a nation with a section goes into it and drops its signature. */
proto_err proto_roster_add(proto_roster *r, const proto_roster_entry *e,
                           proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Revokes the active card of addr.  PROTO_ERR_INVALID if there is none.
 * A card in a section drops the section's signature. */
proto_err proto_roster_revoke(proto_roster *r, const proto_addr *addr, uint64_t when_ms,
                              const char *reason) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* ---- Nation keys and signed roster sections (docs/protocol.md 5.5) ----- */

/*
 * A roster may group the cards of a nation in a section that the nation
 * signs with its nation key.  Membership follows the nation: when nation X
 * has a section, every card of X (identity "X" or "X/...") is in it; cards
 * of a nation without a section are "unsigned cards".  Parsing does not
 * check signatures (it has no keys); proto_roster_section_verify does.
 *
 * proto_roster_add and proto_roster_revoke on a card whose nation has a
 * section succeed and drop that section's signature: the section is then
 * unsigned until proto_roster_section_sign signs it again, and
 * proto_roster_format and proto_roster_section_text refuse
 * (PROTO_ERR_UNSIGNED) while any section is, so a section whose signature
 * no longer matches its cards is never written.
 */

/* Generates a nation key for nation (three upper-case letters).
 * *key_out is the caller's, to free with proto_nation_key_destroy.
 * Errors: PROTO_ERR_INVALID (not a nation), PROTO_ERR_NOMEM, PROTO_ERR_CRYPTO. */
proto_err proto_nation_key_generate(const char *nation,
                                    proto_nation_key **key_out) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* The same from a 32-byte seed, derived as 5.4 derives an identity's
 * signing key (subkey 1), for test vectors. */
proto_err proto_nation_key_from_seed(const char *nation, const uint8_t seed[32],
                                     proto_nation_key **key_out) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/* Wipes and frees *key, and sets *key to NULL.  Accepts NULL and *key == NULL. */
void proto_nation_key_destroy(proto_nation_key **key);

/* Writes key as a secret nation key file at path, mode 0600, created
 * exclusively and synced.  Errors: PROTO_ERR_EXISTS, PROTO_ERR_IO (detail_r
 * has the errno text); nothing is left at path after an error. */
proto_err proto_nation_key_save(const char *path, const proto_nation_key *key,
                                proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Reads a secret nation key file.  Refuses it as proto_keyfile_read refuses
 * a key file: PROTO_ERR_PERMISSION (group or others may access it or change
 * its directory), PROTO_ERR_KEYFILE (a line does not parse, or sign-public
 * does not match sign-seed; detail_r names the file and line), PROTO_ERR_IO. */
proto_err proto_nation_key_load(const char *path, proto_nation_key **key_out,
                                proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* The public half of key. */
void proto_nation_key_card(const proto_nation_key *key,
                           proto_nation_card *card_out) PROTO_NONNULL(1, 2);

/* Writes the text form of a nation card (three lines) into a malloc'd
 * *text_out, the caller's to free.  Errors: PROTO_ERR_NOMEM. */
proto_err proto_nation_card_format(const proto_nation_card *card,
                                   char **text_out) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Parses len bytes of a nation card.  Errors: PROTO_ERR_KEYFILE (detail_r
 * names the line and the reason); *card_out unchanged then. */
proto_err proto_nation_card_parse(const char *text, size_t len, proto_nation_card *card_out,
                                  proto_detail *detail_r) PROTO_NONNULL(1, 3) PROTO_MUST_CHECK;

/* Reads and parses a nation card file: PROTO_ERR_IO if it cannot be read,
 * PROTO_ERR_PERMISSION if others could change it (proto_file_check_writers),
 * PROTO_ERR_KEYFILE (detail_r names the file and line). */
proto_err proto_nation_card_load(const char *path, proto_nation_card *card_out,
                                 proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* The nation card's fingerprint: SHA-256 of its three-line text form. */
void proto_nation_card_fingerprint(const proto_nation_card *card,
                                   uint8_t out[PROTO_HASH_BYTES]) PROTO_NONNULL(1, 2);

/* Number of sections, in roster order. */
size_t proto_roster_section_count(const proto_roster *r) PROTO_NONNULL(1);

/* Section i: its nation (4 bytes with the NUL), serial and whether it holds
 * a signature (false after a change not yet signed again).  Any out may be
 * NULL.  false past the end. */
bool proto_roster_section_at(const proto_roster *r, size_t i, char nation_out[4],
                             uint64_t *serial_out, bool *signed_out) PROTO_NONNULL(1);

/* The section of nation: true if there is one, with its serial and whether
 * it holds a signature (either out may be NULL). */
bool proto_roster_section_find(const proto_roster *r, const char *nation, uint64_t *serial_out,
                               bool *signed_out) PROTO_NONNULL(1, 2);

/* Number of cards in the section of nation (0 if none). */
size_t proto_roster_section_cards(const proto_roster *r, const char *nation) PROTO_NONNULL(1, 2);

/* SHA-256 of the section's canonical text (5.5), what its signature covers.
 * PROTO_ERR_NOT_FOUND, PROTO_ERR_NOMEM, PROTO_ERR_LIMIT. */
proto_err proto_roster_section_hash(const proto_roster *r, const char *nation,
                                    uint8_t out[PROTO_HASH_BYTES]) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/* Checks the section of nation against the nation key sign_public.
 * PROTO_OK; PROTO_ERR_SIGNATURE (does not verify, or changed and not signed
 * again); PROTO_ERR_NOT_FOUND (no section); PROTO_ERR_NOMEM.  Read-only:
 * any number of threads may verify one roster at once. */
proto_err proto_roster_section_verify(const proto_roster *r, const char *nation,
                                      const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/* Signs the section of key's nation: makes one (serial 1) if there is none,
 * which takes every card of that nation, else raises its serial by one;
 * then signs its canonical text.  Errors: PROTO_ERR_LIMIT (serial at
 * PROTO_ROSTER_SERIAL_MAX), PROTO_ERR_NOMEM; r unchanged then. */
proto_err proto_roster_section_sign(proto_roster *r, const proto_nation_key *key,
                                    proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* A standalone roster text holding only the section of nation ("liaison-roster
 * 1", the section), malloc'd into *text_out (*len_out bytes, NUL after), the
 * caller's to free: what a broker sends a partner.  Errors:
 * PROTO_ERR_NOT_FOUND, PROTO_ERR_UNSIGNED, PROTO_ERR_NOMEM, PROTO_ERR_LIMIT. */
proto_err proto_roster_section_text(const proto_roster *r, const char *nation, char **text_out,
                                    size_t *len_out) PROTO_NONNULL(1, 2, 3, 4) PROTO_MUST_CHECK;

/* Replaces the section of nation in dst, and every card of nation, with
 * those of src (dst gets the section if it had none; dst's unsigned cards
 * of that nation go).  Signatures are not checked here.  Errors:
 * PROTO_ERR_NOT_FOUND (src has no section of nation), PROTO_ERR_UNSIGNED
 * (src's section is not signed), PROTO_ERR_SYNTAX (the result would break a
 * roster rule, such as a key on two cards; detail_r says which),
 * PROTO_ERR_LIMIT, PROTO_ERR_NOMEM.  dst is unchanged after any error. */
proto_err proto_roster_section_replace(proto_roster *dst, const proto_roster *src,
                                       const char *nation,
                                       proto_detail *detail_r) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/* True when some card is outside any section. */
bool proto_roster_has_unsigned(const proto_roster *r) PROTO_NONNULL(1);

/* True when the card e (of roster r) is inside a section. */
bool proto_roster_entry_signed(const proto_roster *r,
                               const proto_roster_entry *e) PROTO_NONNULL(1, 2);

/* ---- Detached signatures -------------------------------------------------- */

/* Signs len bytes with id's Ed25519 key (for application records such as
 * chain-of-custody entries; envelopes and reports have their own functions,
 * with their own context strings). */
void proto_sign_detached(const proto_identity *id, const uint8_t *msg, size_t len,
                         uint8_t sig_out[PROTO_SIGNATURE_BYTES]) PROTO_NONNULL(1, 4);

/* Checks a detached signature.  PROTO_OK or PROTO_ERR_SIGNATURE. */
proto_err proto_verify_detached(const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES],
                                const uint8_t *msg, size_t len,
                                const uint8_t sig[PROTO_SIGNATURE_BYTES]) PROTO_NONNULL(1, 4) PROTO_MUST_CHECK;

/* ---- Hashing and hex ---------------------------------------------------- */

/* SHA-256 of len bytes. */
void proto_sha256(const uint8_t *data, size_t len, uint8_t out[PROTO_HASH_BYTES]) PROTO_NONNULL(3);

/* Writes 2*len lower-case hex digits and a NUL into out (2*len + 1 bytes). */
char *proto_hex(const uint8_t *data, size_t len, char *out) PROTO_NONNULL(3);

/* ---- Text from the wire ------------------------------------------------- */

/* Bytes proto_text_escape needs for len bytes of input, with the NUL. */
#define PROTO_ESCAPED_MAX(len) (4u * (len) + 1u)

/*
 * Makes bytes from a peer safe to log, audit or echo in an answer: printable
 * ASCII (0x20-0x7E) is copied, except that a backslash and a double quote
 * get a backslash before them, and every other byte (controls, DEL,
 * 0x80-0xFF, NUL) becomes \xNN with two lower-case hex digits.  The result
 * is printable ASCII, so it is valid UTF-8, fits every text field of the
 * protocol and the audit log, and cannot end or forge a quoted key="value"
 * of a log line.  data (len bytes; may be NULL when len is 0) is read; out
 * (out_len bytes, at least 1) receives the text and a NUL, cut before an
 * escape that would not fit (PROTO_ESCAPED_MAX(len) bytes always suffice).
 * Returns out.  Any thread.
 */
char *proto_text_escape(const void *data, size_t len, char *out, size_t out_len)
    PROTO_NONNULL(3);

/* Parses exactly 2*len hex digits into out.  PROTO_ERR_SYNTAX otherwise. */
proto_err proto_unhex(const char *hex, uint8_t *out, size_t len) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Overwrites len bytes at p with zeros in a way the compiler keeps. */
void proto_wipe(void *p, size_t len);

/* Reads and writes a big-endian u64, as every integer on the wire is. */
uint64_t proto_be64(const uint8_t *p) PROTO_NONNULL(1);
void proto_put_be64(uint8_t *p, uint64_t v) PROTO_NONNULL(1);

/* Makes a message id for a message created at created_ms: that time, big-endian
 * in PROTO_ID_TIME_BYTES, then random bytes.  Ids made close together sort
 * close together, so the tables a broker keys by id grow at their end
 * instead of in a random page each (docs/protocol.md, section 4). */
#define PROTO_ID_TIME_BYTES 6
void proto_id_new(uint64_t created_ms, uint8_t id_out[PROTO_ID_BYTES]) PROTO_NONNULL(2);

/* True if all PROTO_ID_BYTES bytes of id are zero. */
bool proto_id_is_zero(const uint8_t id[PROTO_ID_BYTES]) PROTO_NONNULL(1);

/* ---- Times (time.c) ---------------------------------------------------- */

/* Bytes of a time as text, with its NUL ("2026-11-25T19:17:50Z" is 20). */
#define PROTO_TIME_TEXT_BYTES 32u

/* Writes ms (Unix milliseconds) as RFC 3339 UTC to the second,
 * "2026-11-25T19:17:50Z", into buf and returns buf ("?" if the time cannot
 * be shown).  Thread-safe. */
char *proto_time_format(uint64_t ms, char buf[PROTO_TIME_TEXT_BYTES]) PROTO_NONNULL(2);
/* The same, the date only: "2026-11-25". */
char *proto_date_format(uint64_t ms, char buf[PROTO_TIME_TEXT_BYTES]) PROTO_NONNULL(2);
/* Parses a date, "2026-11-25" (midnight UTC), or an RFC 3339 UTC time,
 * "2026-11-25T19:17:50Z" (a fraction and a "+00:00" offset allowed), from
 * 1970 on, into Unix ms (*ms_out, out).  False, and *ms_out unchanged, if
 * text (may be NULL) is neither. */
bool proto_time_parse(const char *text, uint64_t *ms_out) PROTO_NONNULL(2);

/* ---- Envelopes ---------------------------------------------------------- */

/*
 * Encrypts and signs a message, in envelope version 2.  Each portion gets a
 * fresh key and nonce; the key is sealed to each of the portion's readers.
 * The sender is signer->addr; draft->actor (required) names who sends, and
 * draft->grants travel opaque in the signed header.  On success *buf_out (malloc'd, the caller's to free) holds
 * *len_out bytes of envelope.  Errors: PROTO_ERR_INVALID, PROTO_ERR_LIMIT,
 * PROTO_ERR_SYNTAX (detail_r names the field), PROTO_ERR_NOMEM.
 */
proto_err proto_envelope_seal(const proto_draft *draft, const proto_identity *signer,
                              uint8_t **buf_out, size_t *len_out,
                              proto_detail *detail_r) PROTO_NONNULL(1, 2, 3, 4) PROTO_MUST_CHECK;

/*
 * Decodes and validates len bytes at buf into *env (caller's storage).  It
 * checks structure, bounds and canonical form and computes the header hash,
 * the portion leaf hashes and their root, but not the signature: call
 * proto_envelope_verify.  env borrows buf.  Errors: PROTO_ERR_TRUNCATED,
 * PROTO_ERR_TRAILING, PROTO_ERR_MAGIC, PROTO_ERR_VERSION, PROTO_ERR_LIMIT,
 * PROTO_ERR_SYNTAX, PROTO_ERR_NONCANONICAL; detail_r names the field.
 * After a failure *env is undefined.
 */
proto_err proto_envelope_decode(const uint8_t *buf, size_t len, proto_envelope *env,
                                proto_detail *detail_r) PROTO_NONNULL(3) PROTO_MUST_CHECK;

/* Checks env's signature with the sender's Ed25519 public key.  Returns
 * PROTO_OK or PROTO_ERR_SIGNATURE. */
proto_err proto_envelope_verify(const proto_envelope *env,
                                const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* The bytes the sender signs: context string, header hash, portions root.
 * Writes them into out (PROTO_SIGNED_INPUT_BYTES) for test vectors. */
#define PROTO_SIGNED_INPUT_BYTES (20u + 2u * PROTO_HASH_BYTES)
void proto_envelope_signed_input(const proto_envelope *env,
                                 uint8_t out[PROTO_SIGNED_INPUT_BYTES]) PROTO_NONNULL(1, 2);

/* Decodes the labels of portion index into *labels_out. */
proto_err proto_envelope_portion_labels(const proto_envelope *env, size_t index,
                                        proto_labels *labels_out) PROTO_NONNULL(1, 3) PROTO_MUST_CHECK;

/* True if portion index has a key seal filed under reader. */
bool proto_envelope_has_seal(const proto_envelope *env, size_t index,
                             const proto_addr *reader) PROTO_NONNULL(1, 3);

/* True if portion index was withheld by a broker (state 2 or 3). */
bool proto_envelope_portion_withheld(const proto_envelope *env, size_t index) PROTO_NONNULL(1);

/*
 * Reads the note of portion index (state 3): the withholding broker's nation
 * into nation_out and the rule id into rule_out ("" when the note names the
 * nation alone).  False, with both set to "", when the portion carries no
 * note (present, state 2, or index out of range).  The note is the broker's
 * statement, not signed by the sender: show it as such.
 */
bool proto_envelope_portion_note(const proto_envelope *env, size_t index,
                                 char nation_out[PROTO_NATION_LEN + 1],
                                 char rule_out[PROTO_RULE_ID_MAX + 1]) PROTO_NONNULL(1, 3, 4);

/*
 * Checks len bytes at note against the grammar of a withholding note: a
 * nation (3 of A-Z), then optionally one space and a rule id (1 to
 * PROTO_RULE_ID_MAX of A-Z a-z 0-9 . _ : -); PROTO_NOTE_MAX bytes at most.
 * Errors: PROTO_ERR_SYNTAX, PROTO_ERR_LIMIT (too long); detail_r says why.
 */
proto_err proto_note_check(const char *note, size_t len,
                           proto_detail *detail_r) PROTO_MUST_CHECK;

/* Plaintext bytes portion index opens to (0 when withheld). */
size_t proto_envelope_plain_len(const proto_envelope *env, size_t index) PROTO_NONNULL(1);

/*
 * Opens portion index as reader: unseals its key with reader's box keys,
 * checks the key commitment, and decrypts into plain_out, which must hold
 * proto_envelope_plain_len bytes.  Errors: PROTO_ERR_INVALID (index),
 * PROTO_ERR_WITHHELD, PROTO_ERR_NOT_RECIPIENT, PROTO_ERR_DECRYPT.  The
 * signature is not checked here: verify first.
 */
proto_err proto_envelope_open(const proto_envelope *env, size_t index,
                              const proto_identity *reader, uint8_t *plain_out,
                              size_t *plain_len_out) PROTO_NONNULL(1, 3, 4, 5) PROTO_MUST_CHECK;

/*
 * Makes a redacted copy: each portion whose bit is set in withhold_mask
 * (bit i for portion i) keeps only its leaf hash (state 2), dropping its
 * ciphertext and key seals.  The sender's signature stays valid, and the
 * reader sees which portions were withheld.  *buf_out is the caller's to
 * free.  Errors: PROTO_ERR_INVALID (a bit beyond the last portion),
 * PROTO_ERR_NOMEM.
 */
proto_err proto_envelope_redact(const proto_envelope *env, uint64_t withhold_mask,
                                uint8_t **buf_out, size_t *len_out) PROTO_NONNULL(1, 3, 4) PROTO_MUST_CHECK;

/*
 * The same, with notes: a portion withheld here (its bit set in
 * withhold_mask) or that came withheld without a note (state 2) is written
 * as state 3 with notes[i] when notes is not NULL and notes[i] is neither
 * NULL nor "", else as state 2.  A portion that came with a note (state 3)
 * is copied as it came.  notes, when not NULL, has env->portion_count
 * entries, each valid for proto_note_check.  Errors: PROTO_ERR_INVALID (a
 * bit beyond the last portion, or a note that breaks its grammar),
 * PROTO_ERR_NOMEM.
 */
proto_err proto_envelope_redact_noted(const proto_envelope *env, uint64_t withhold_mask,
                                      const char *const *notes, uint8_t **buf_out,
                                      size_t *len_out) PROTO_NONNULL(1, 4, 5) PROTO_MUST_CHECK;

/* The bitmask of withheld portions of env. */
uint64_t proto_envelope_withheld_mask(const proto_envelope *env) PROTO_NONNULL(1);

/* Writes "0123..." (32 hex digits) for a message id into out (33 bytes). */
char *proto_id_format(const uint8_t id[PROTO_ID_BYTES], char *out) PROTO_NONNULL(1, 2);

/* Parses 32 hex digits into a message id.  PROTO_ERR_SYNTAX otherwise. */
proto_err proto_id_parse(const char *text, uint8_t id_out[PROTO_ID_BYTES]) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Validates a kind: lower-case "family.verb" segments of a-z, 0-9 and '-'. */
proto_err proto_kind_check(const char *kind, proto_detail *detail_r) PROTO_NONNULL(1) PROTO_MUST_CHECK;

/* ---- Wire commands ------------------------------------------------------ */

/*
 * Builds the frames of cmd (signature, command, then its own frames) into
 * *wire.  Large frames (envelope, entries, report) borrow cmd's slices, so
 * wire is valid while those are.  Errors: PROTO_ERR_COMMAND, PROTO_ERR_LIMIT.
 */
proto_err proto_cmd_build(const proto_cmd *cmd, proto_wire *wire,
                          proto_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/*
 * Parses count frames into *cmd_out, validating the signature frame, the
 * command byte, the frame count and every field.  Slices borrow frames.
 * Errors: PROTO_ERR_MAGIC, PROTO_ERR_COMMAND, PROTO_ERR_FRAMES,
 * PROTO_ERR_LIMIT, PROTO_ERR_SYNTAX; detail_r names the frame.
 */
proto_err proto_cmd_parse(const proto_frame *frames, size_t count, proto_cmd *cmd_out,
                          proto_detail *detail_r) PROTO_NONNULL(3) PROTO_MUST_CHECK;

/* Returns a static name for a command type ("submit"), or "unknown". */
const char *proto_cmd_name(uint8_t type);

/*
 * Encodes the list frame of an accepted or a receipt: count
 * (1..PROTO_ACKS_MAX) numbers (corr or tag) and ids, into buf (cap bytes,
 * PROTO_ACKS_BYTES(count) needed).
 * PROTO_ERR_LIMIT if count is out of range or buf too small; PROTO_ERR_INVALID
 * for an all-zero id.
 */
proto_err proto_acks_encode(const proto_ack *items, size_t count, uint8_t *buf, size_t cap,
                             size_t *len_out) PROTO_NONNULL(1, 3, 5) PROTO_MUST_CHECK;

/* Item i (< cmd->count) of a parsed accepted or receipt. */
void proto_ack_get(const proto_cmd *cmd, size_t i, proto_ack *out) PROTO_NONNULL(1, 3);

/*
 * Encodes the list frame of a report command: count (1..PROTO_REPORTS_MAX)
 * tagged reports of 1..PROTO_REPORT_MAX bytes each, into buf (cap bytes,
 * PROTO_REPORTS_BYTES_MAX always suffices).  PROTO_ERR_LIMIT otherwise.
 */
proto_err proto_reports_encode(const proto_tagged *items, size_t count, uint8_t *buf,
                               size_t cap, size_t *len_out) PROTO_NONNULL(1, 3, 5) PROTO_MUST_CHECK;

/*
 * Encodes the list frame of a deliver command: count
 * (1..PROTO_DELIVERIES_MAX) tagged envelopes of 1..PROTO_ENVELOPE_MAX bytes,
 * the whole at most PROTO_DELIVERIES_BYTES_MAX.  PROTO_ERR_LIMIT otherwise.
 */
proto_err proto_deliveries_encode(const proto_tagged *items, size_t count, uint8_t *buf,
                                  size_t cap, size_t *len_out) PROTO_NONNULL(1, 3, 5) PROTO_MUST_CHECK;

/*
 * Walk the items of a parsed report or deliver command: start with
 * *offset = 0; each call fills *out (borrowing the frame) and returns true,
 * until the list ends.
 */
bool proto_reports_next(const proto_cmd *cmd, size_t *offset, proto_tagged *out)
    PROTO_NONNULL(1, 2, 3);
bool proto_deliveries_next(const proto_cmd *cmd, size_t *offset, proto_tagged *out)
    PROTO_NONNULL(1, 2, 3);

/*
 * Encodes count status entries into buf (cap bytes); *len_out receives the
 * length.  PROTO_ERR_LIMIT if they do not fit or count is too large.
 */
proto_err proto_status_encode(const proto_status_entry *entries, size_t count, uint8_t *buf,
                              size_t cap, size_t *len_out) PROTO_NONNULL(3, 5) PROTO_MUST_CHECK;

/* Encodes the targets of a forward (1 to PROTO_TARGETS_MAX agencies, strictly
 * ascending, each with the portions withheld from it) into buf.
 * PROTO_ERR_LIMIT if they do not fit, PROTO_ERR_INVALID if one is not an
 * agency or the order is wrong. */
proto_err proto_targets_encode(const proto_target *targets, size_t count, uint8_t *buf, size_t cap,
                               size_t *len_out) PROTO_NONNULL(3, 5) PROTO_MUST_CHECK;

/* Decodes a targets frame into targets (cap of them). */
proto_err proto_targets_decode(const uint8_t *buf, size_t len, proto_target *targets, size_t cap,
                               size_t *count_out, proto_detail *detail_r) PROTO_NONNULL(3, 5) PROTO_MUST_CHECK;

/* Bytes needed to encode count entries at most. */
size_t proto_status_encoded_max(size_t count);

/*
 * Decodes encoded status entries into entries (cap of them); *count_out
 * receives how many.  Errors as for the envelope decoder.
 */
proto_err proto_status_decode(const uint8_t *buf, size_t len, proto_status_entry *entries,
                              size_t cap, size_t *count_out,
                              proto_detail *detail_r) PROTO_NONNULL(3, 5) PROTO_MUST_CHECK;

/* ---- Merkle trees (RFC 9162 section 2.1) --------------------------------- */

/* SHA-256(0x00 || data): the hash of a leaf's data. */
void proto_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[PROTO_HASH_BYTES]) PROTO_NONNULL(3);

/* SHA-256(0x01 || left || right): the hash of an interior node.  out may be
 * left or right. */
void proto_merkle_node(const uint8_t left[PROTO_HASH_BYTES], const uint8_t right[PROTO_HASH_BYTES],
                       uint8_t out[PROTO_HASH_BYTES]) PROTO_NONNULL(1, 2, 3);

/* Hashes a leaf's path up to the root of a tree of tree_size leaves (section
 * 2.1.3.2 without the final comparison): the root a signature can then be
 * checked over.  PROTO_ERR_SIGNATURE when leaf_index is not in the tree or
 * the path is not exactly as long as that leaf's path. */
proto_err proto_merkle_root_from_path(uint64_t leaf_index, uint64_t tree_size,
                                      const uint8_t leaf_hash[PROTO_HASH_BYTES],
                                      const uint8_t (*path)[PROTO_HASH_BYTES], size_t count,
                                      uint8_t root_out[PROTO_HASH_BYTES]) PROTO_NONNULL(3, 6) PROTO_MUST_CHECK;

/* Hashes of a leaf's inclusion path in a tree of tree_size leaves. */
size_t proto_merkle_path_len(uint64_t leaf_index, uint64_t tree_size);

/* ---- Delivery reports --------------------------------------------------- */

/* Reports one signature covers at most, and the hashes of a report's path. */
#define PROTO_REPORT_BATCH_MAX 4096u
#define PROTO_REPORT_PATH_MAX  12u

/* Encodes and signs a report with the broker's identity.  *buf_out is the
 * caller's to free.  Errors: PROTO_ERR_INVALID, PROTO_ERR_LIMIT, PROTO_ERR_NOMEM. */
proto_err proto_report_sign(const proto_report *report, const proto_identity *broker,
                            uint8_t **buf_out, size_t *len_out) PROTO_NONNULL(1, 2, 3, 4) PROTO_MUST_CHECK;

/* Encodes count reports (1..PROTO_REPORT_BATCH_MAX) and signs them with one
 * Ed25519 signature over the Merkle root of their bodies; each carries its
 * own inclusion path, so each verifies alone (docs/protocol.md 7.3).
 * bufs_out[i] and lens_out[i] receive report i, the caller's to free; on an
 * error nothing is allocated.  Errors as for proto_report_sign. */
proto_err proto_report_sign_batch(const proto_report *reports, size_t count,
                                  const proto_identity *broker, uint8_t **bufs_out,
                                  size_t *lens_out) PROTO_NONNULL(1, 3, 4, 5) PROTO_MUST_CHECK;

/* Decodes a report (without checking its signature). */
proto_err proto_report_decode(const uint8_t *buf, size_t len, proto_report *report_out,
                              proto_detail *detail_r) PROTO_NONNULL(3) PROTO_MUST_CHECK;

/* Checks a report's signature with the broker's public key. */
proto_err proto_report_verify(const uint8_t *buf, size_t len,
                              const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]) PROTO_NONNULL(3) PROTO_MUST_CHECK;

/* As proto_report_verify, remembering in cache the batches whose signature
 * checked out: a report of a batch seen before is checked by its path alone
 * (the same key, signed bytes and signature verified before). */
proto_err proto_report_verify_cached(const uint8_t *buf, size_t len,
                                     const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES],
                                     proto_report_cache *cache) PROTO_NONNULL(3, 4) PROTO_MUST_CHECK;

/* ---- Consent grants (grant.c) -------------------------------------------- */

/*
 * Encodes grant g (every field but hash and signature) and signs it with
 * grantor's Ed25519 key; grantor->addr must be g->grantor.  On success
 * *buf_out (malloc'd, the caller's to free) holds *len_out bytes of token.
 * Errors: PROTO_ERR_INVALID (the signer is not the grantor), PROTO_ERR_SYNTAX,
 * PROTO_ERR_LIMIT (detail_r names the field), PROTO_ERR_NOMEM.  Any thread.
 */
proto_err proto_grant_sign(const proto_grant *g, const proto_identity *grantor,
                           uint8_t **buf_out, size_t *len_out,
                           proto_detail *detail_r) PROTO_NONNULL(1, 2, 3, 4) PROTO_MUST_CHECK;

/*
 * Decodes len bytes of token at buf into *g_out (caller's storage) and
 * computes g_out->hash; checks every bound, the grammar of each field and
 * the one canonical encoding, not the signature (proto_grant_verify).
 * Errors: PROTO_ERR_TRUNCATED, PROTO_ERR_TRAILING, PROTO_ERR_MAGIC,
 * PROTO_ERR_VERSION, PROTO_ERR_LIMIT, PROTO_ERR_SYNTAX,
 * PROTO_ERR_NONCANONICAL; *g_out is then unspecified.  Any thread.
 */
proto_err proto_grant_decode(const uint8_t *buf, size_t len, proto_grant *g_out,
                             proto_detail *detail_r) PROTO_NONNULL(3) PROTO_MUST_CHECK;

/* Checks a decoded grant's signature with the grantor's public key (from
 * its card).  PROTO_OK or PROTO_ERR_SIGNATURE. */
proto_err proto_grant_verify(const proto_grant *g,
                             const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES])
    PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* True if one of g's `to` entries is agency, or its nation selector. */
bool proto_grant_covers(const proto_grant *g, const proto_addr *agency) PROTO_NONNULL(1, 2);

/* True if g's `to` has the selector of every agency of nation. */
bool proto_grant_covers_nation(const proto_grant *g, const char *nation) PROTO_NONNULL(1, 2);

/* True if kind is one of g's kinds. */
bool proto_grant_has_kind(const proto_grant *g, const char *kind) PROTO_NONNULL(1, 2);

/* ---- Logging ------------------------------------------------------------ */

typedef enum proto_log_level {
    PROTO_LOG_ERROR = 0,
    PROTO_LOG_WARN = 1,
    PROTO_LOG_INFO = 2,
    PROTO_LOG_DEBUG = 3,
} proto_log_level;

/* A log sink: one finished line, without newline. */
typedef void (*proto_log_sink)(void *ctx, proto_log_level level, const char *line);

/* Sets the sink (NULL: stderr) and the highest level that is written. */
void proto_log_configure(proto_log_sink sink, void *ctx, proto_log_level max_level);

/* True if level would be written; callers check before formatting. */
bool proto_log_enabled(proto_log_level level);

/* Writes one logfmt line: level, id (stable short id), func, then msg. */
void proto_log_write(proto_log_level level, const char *id, const char *func,
                     const char *fmt, ...) PROTO_PRINTF(4, 5);

/* Writes, at WARN with id, a message another library formatted (libmicrohttpd's error
 * log: fmt and ap as it gives them), on one line: its trailing line breaks are dropped and
 * it is cut at 255 bytes. */
void proto_log_library(const char *id, const char *func, const char *fmt, va_list ap)
    PROTO_PRINTF(3, 0);

/* Logs at level with a stable id; arguments are formatted only if enabled. */
#define PROTO_LOG(level, id, ...)                                              \
    do {                                                                       \
        if (proto_log_enabled(level))                                          \
            proto_log_write((level), (id), __func__, __VA_ARGS__);             \
    } while (0)

#endif
