/* Private to the liaison tool: MLAT custody entries, evidence manifests and evidence bundles. */
#ifndef LIAISON_CLI_BUNDLE_H
#define LIAISON_CLI_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "casebook.h"
#include "liaison.h"
#include "liaison_proto.h"

/*
 * Nothing here prints: every function that can fail returns a code and
 * writes a one-line reason into why (why_len bytes).  docs/bundle.md
 * specifies the bundle; libliaison verifies it (liaison_bundle_verify), and
 * the custody and name rules below are the library's.
 */

#define BUNDLE_CUSTODY_CONTEXT LIAISON_BUNDLE_CUSTODY_CONTEXT /* first bytes a custody signature covers */
#define BUNDLE_SIGN_CONTEXT LIAISON_BUNDLE_SIGN_CONTEXT       /* and those of the exporter's signature */
#define BUNDLE_SCHEMA LIAISON_BUNDLE_SCHEMA                   /* manifest.json's "schema" */
#define BUNDLE_NAME_MAX LIAISON_BUNDLE_NAME_MAX               /* bytes of an evidence file name */

/* ---- Custody entries --------------------------------------------------------- */

/* Makes a signed custody entry {time, actor, action, file, sha256,
 * signature} by signer at time_ms.  NULL when out of memory. */
json_t *bundle_custody_new(const proto_identity *signer, uint64_t time_ms, const char *action,
                           const char *file, const char *sha256_hex);

/* Checks entry's signature with its actor's card in roster.  0 if it
 * verifies; -1 with why otherwise (missing field, unknown or revoked actor,
 * bad signature). */
int bundle_custody_check(const json_t *entry, const proto_roster *roster, char *why,
                         size_t why_len);

/* ---- Files -------------------------------------------------------------------- */

/* Called while a file is read, with the bytes read so far. */
typedef void (*bundle_progress_fn)(void *ctx, uint64_t done);

/* SHA-256 of a whole file, read in blocks (any size).  0, or -1 with errno
 * set (errno text in why). */
int bundle_file_sha256(const char *path, uint64_t *size_out, char hex_out[65],
                       bundle_progress_fn progress, void *ctx, char *why, size_t why_len);

/* Number of chunks of a file of size bytes (an empty file has one, empty). */
uint64_t bundle_chunk_count(uint64_t size, uint64_t chunk_size);

/* ---- Export --------------------------------------------------------------------- */

/* What bundle_export needs. */
typedef struct bundle_export_args {
    const char *case_id;               /* the case */
    const casebook_list *messages;     /* the casebook's messages of the case, with raw */
    const proto_identity *me;          /* the exporting agency: opens and signs */
    const char *roster_path;           /* the roster the tool uses */
    const char *out_dir;               /* must not exist, or be empty */
    const char *audit_data;            /* NULL, or the receiving broker's data directory */
    uint64_t now_ms;                   /* the export time */
} bundle_export_args;

/*
 * Writes the evidence bundle of a case into out_dir: every message received
 * (envelopes/<id>.env, as received), the files reassembled from the evidence
 * chunks (each chunk decrypted with me, checked against its manifest hash),
 * the roster, audit inclusion proofs (with audit_data), and manifest.json
 * signed by me (manifest.sig).  *summary_out (may be NULL) receives
 * {dir, files, messages, proofs}, the caller's.  Returns a sysexits code:
 * 0; 65 (EX_DATAERR) when the case's evidence is incomplete or does not
 * check; 66 no audit store; 73 out_dir cannot be made; 74 I/O; 75 no signed
 * tree head covers the evidence yet.
 */
int bundle_export(const bundle_export_args *a, json_t **summary_out, char *why, size_t why_len);

/* ---- Verification ------------------------------------------------------------------ */

/*
 * Verifies the bundle in dir offline: the exporter's signature over
 * manifest.json, every file's hash against it (and no file unlisted), every
 * envelope's signature with the bundle's roster (and, given trusted_roster,
 * that the cards used are the same in it), that each evidence file is the
 * sequence of its chunks whose hashes the manifests list and whose lengths
 * the signed envelopes' portions have, every custody signature, and every
 * audit inclusion proof up to a tree head signed by its broker.
 * *report_out receives {ok, case, checked: {...}, failures: [{file,
 * message}], warnings: [...]}, the caller's.  Returns 0 when everything
 * verifies, 1 when something does not, 66 (EX_NOINPUT) when dir or
 * trusted_roster cannot be read (the report is then {ok, error}), 70
 * (EX_SOFTWARE) when out of memory.  A thin use of liaison_bundle_verify.
 */
int bundle_verify(const char *dir, const char *trusted_roster, json_t **report_out);

#endif
