/* The cargo family's content (docs/messages.md, cargo.*): container, ship and port codes, and the checks of every cargo message. */
#ifndef LIAISON_CARGO_H
#define LIAISON_CARGO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything here is pure (no I/O, no clock: the caller passes "now") and
 * thread-safe.  The tool checks what it is about to send with these
 * functions, and the agent checks what it receives with the same ones, so
 * a message one accepts the other accepts.
 */

#define CARGO_CONTAINER_BYTES 12u   /* "CSQU3054383" and its NUL */
#define CARGO_FILES_MAX 8u          /* files a cargo.result carries */
#define CARGO_FILE_MAX (4u << 20)   /* bytes of one such file */
#define CARGO_FILES_TOTAL_MAX (12u << 20) /* bytes of all of them: a result fits a broker's
                                             default 16 MiB message limit */
#define CARGO_SEALS_MAX 16u         /* seal numbers of a shipment or a result */
#define CARGO_INDICATORS_MAX 32u    /* risk indicators of an alert or a request */

/* What a check can find.  Codes are appended, never renumbered. */
typedef enum cargo_err {
    CARGO_OK = 0,
    CARGO_ERR_SCHEMA = 1,   /* not a cargo kind, or portion 0 names another schema */
    CARGO_ERR_MISSING = 2,  /* a required field is absent or empty */
    CARGO_ERR_INVALID = 3,  /* a field breaks its rule (type, length, code, check digit) */
    CARGO_ERR_DEADLINE = 4, /* a request's deadline is past, or after the departure */
} cargo_err;

/* Where and why a check failed: the field's path and one line of reason. */
typedef struct cargo_detail {
    char field[64];         /* "shipment.container", "deadline", ... */
    char text[256];         /* "check digit is 3, not 7" */
} cargo_detail;

/* A static string for code; never NULL. */
const char *cargo_strerror(cargo_err code);

/*
 * The ISO 6346 check digit of the first ten characters of number (owner
 * code, category U/J/Z, serial number), or -1 if those ten characters are
 * not of that form.  number may be longer (only ten are read) or shorter.
 */
int cargo_container_check_digit(const char *number);

/*
 * Checks an ISO 6346 container number, "CSQU3054383": eleven characters,
 * capitals and digits, no spaces, check digit verified.  detail_out (may
 * be NULL) says why not.
 */
bool cargo_container_valid(const char *number, cargo_detail *detail_out);

/* True if imo is a 7-digit IMO ship number whose check digit verifies. */
bool cargo_imo_valid(const char *imo);

/* True if locode is a UN/LOCODE: two letters, then three of A-Z and 2-9. */
bool cargo_locode_valid(const char *locode);

/* Checks a shipment object (docs/messages.md, cargo.*, the shipment). */
cargo_err cargo_shipment_check(const json_t *shipment, cargo_detail *detail_out);

/*
 * Checks portion 0 of a cargo message of kind ("cargo.alert",
 * "cargo.request", "cargo.ack", "cargo.result", "cargo.donotload"): its
 * schema, every required field and every rule of docs/messages.md.
 * now_ms: when the message is being sent; a request's deadline must then
 * be later.  A receiver passes 0, which skips that one check (a request
 * may arrive after its deadline, and is then overdue, not malformed); the
 * deadline must still be no later than the departure.  detail_out (may
 * be NULL) says where and why on failure.
 */
cargo_err cargo_message_check(const char *kind, const json_t *doc, uint64_t now_ms,
                              cargo_detail *detail_out);

/* True if kind is one of the cargo kinds above. */
bool cargo_kind(const char *kind);

#endif
