/* Nation keys: the secret key file that signs a nation's roster section, and
 * the nation card partners pin (docs/protocol.md 5.5). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

#define NATION_KEY_HEADER "liaison-nation-key 1"
#define NATION_CARD_HEADER "liaison-nation-card 1"
#define NATION_CARD_MAX 4096u
#define KDF_CONTEXT "LSNKEYS1" /* the derivation of 5.4, subkey 1 */

static proto_err
key_alloc(const char *nation, proto_nation_key **key_out)
{
    proto_nation_key *k;

    if (!proto_nation_valid(nation))
        return PROTO_ERR_INVALID;
    k = proto_secret_alloc(sizeof(*k));
    if (k == NULL)
        return PROTO_ERR_NOMEM;
    memset(k, 0, sizeof(*k));
    memcpy(k->nation, nation, PROTO_NATION_LEN + 1);
    *key_out = k;
    return PROTO_OK;
}

/* Makes the key pair of a nation from an Ed25519 seed. */
static proto_err
key_from_sign_seed(const char *nation, const uint8_t sign_seed[32], proto_nation_key **key_out)
{
    proto_nation_key *k = NULL;
    proto_err err;

    err = key_alloc(nation, &k);
    if (err != PROTO_OK)
        return err;
    if (crypto_sign_seed_keypair(k->sign_public, k->sign_secret, sign_seed) != 0) {
        proto_nation_key_destroy(&k);
        return PROTO_ERR_CRYPTO;
    }
    *key_out = k;
    return PROTO_OK;
}

proto_err
proto_nation_key_from_seed(const char *nation, const uint8_t seed[32], proto_nation_key **key_out)
{
    uint8_t sub[32];
    proto_err err;

    crypto_kdf_derive_from_key(sub, sizeof(sub), 1, KDF_CONTEXT, seed);
    err = key_from_sign_seed(nation, sub, key_out);
    sodium_memzero(sub, sizeof(sub));
    return err;
}

proto_err
proto_nation_key_generate(const char *nation, proto_nation_key **key_out)
{
    uint8_t seed[32];
    proto_err err;

    randombytes_buf(seed, sizeof(seed));
    err = key_from_sign_seed(nation, seed, key_out);
    sodium_memzero(seed, sizeof(seed));
    return err;
}

void
proto_nation_key_destroy(proto_nation_key **key)
{
    if (key == NULL || *key == NULL)
        return;
    proto_secret_free(*key); /* wipes before it frees */
    *key = NULL;
}

void
proto_nation_key_card(const proto_nation_key *key, proto_nation_card *card_out)
{
    memset(card_out, 0, sizeof(*card_out));
    memcpy(card_out->nation, key->nation, sizeof(card_out->nation));
    memcpy(card_out->sign_public, key->sign_public, sizeof(card_out->sign_public));
}

/* ---- The line format shared by the key file and the card --------------- */

/* The fields of a nation key file or card, as read. */
typedef struct nation_fields {
    char nation[PROTO_NATION_LEN + 1]; /* from "nation X" */
    uint8_t sign_public[32];           /* from "sign-public" */
    uint8_t sign_seed[32];             /* from "sign-seed" (key files only) */
    bool seen[3];                      /* nation, sign-public, sign-seed */
} nation_fields;

/* Parses text (NUL-terminated, changed in place): the header, then each of
 * nation and sign-public (and sign-seed when with_seed) exactly once, in any
 * order.  what names the file in messages. */
static proto_err
fields_parse(char *text, const char *header, bool with_seed, nation_fields *f, const char *what,
             proto_detail *detail)
{
    static const char *const names[3] = {"nation", "sign-public", "sign-seed"};
    size_t lineno = 0, nfields = with_seed ? 3 : 2;
    bool have_header = false;
    char *line = text;

    memset(f, 0, sizeof(*f));
    while (line != NULL && *line != '\0') {
        char *next = strchr(line, '\n'), *value;
        size_t i;

        if (next != NULL)
            *next++ = '\0';
        lineno++;
        if (line[0] == '#' || line[0] == '\0') {
            line = next;
            continue;
        }
        if (!have_header) {
            if (strcmp(line, header) != 0) {
                proto_detail_set(detail, what, "%s: line %zu: expected '%s' first", what, lineno,
                                 header);
                return PROTO_ERR_KEYFILE;
            }
            have_header = true;
            line = next;
            continue;
        }
        value = strchr(line, ' ');
        if (value == NULL) {
            proto_detail_set(detail, what, "%s: line %zu: expected 'name value'", what, lineno);
            return PROTO_ERR_KEYFILE;
        }
        *value++ = '\0';
        for (i = 0; i < nfields; i++) {
            if (strcmp(line, names[i]) == 0)
                break;
        }
        if (i == nfields) {
            proto_detail_set(detail, what, "%s: line %zu: unknown field '%.40s'", what, lineno,
                             line);
            return PROTO_ERR_KEYFILE;
        }
        if (f->seen[i]) {
            proto_detail_set(detail, what, "%s: line %zu: %s appears twice", what, lineno,
                             names[i]);
            return PROTO_ERR_KEYFILE;
        }
        if (i == 0) {
            if (!proto_nation_valid(value)) {
                proto_detail_set(detail, what,
                                 "%s: line %zu: '%.40s' is not a nation (three upper-case "
                                 "letters)",
                                 what, lineno, value);
                return PROTO_ERR_KEYFILE;
            }
            memcpy(f->nation, value, PROTO_NATION_LEN + 1);
        } else if (proto_unhex(value, i == 1 ? f->sign_public : f->sign_seed, 32) != PROTO_OK) {
            proto_detail_set(detail, what, "%s: line %zu: %s must be 64 hex digits", what, lineno,
                             names[i]);
            return PROTO_ERR_KEYFILE;
        }
        f->seen[i] = true;
        line = next;
    }
    if (!have_header) {
        proto_detail_set(detail, what, "%s: no '%s' line", what, header);
        return PROTO_ERR_KEYFILE;
    }
    for (size_t i = 0; i < nfields; i++) {
        if (!f->seen[i]) {
            proto_detail_set(detail, what, "%s: missing line '%s'", what, names[i]);
            return PROTO_ERR_KEYFILE;
        }
    }
    return PROTO_OK;
}

/* ---- Secret nation key files -------------------------------------------- */

proto_err
proto_nation_key_save(const char *path, const proto_nation_key *key, proto_detail *detail)
{
    char *text = NULL, h[2][65];
    size_t cap = PROTO_SECRET_FILE_MAX;
    proto_err err;
    int n;

    text = proto_secret_alloc(cap);
    if (text == NULL)
        return PROTO_ERR_NOMEM;
    proto_hex(key->sign_public, 32, h[0]);
    proto_hex(key->sign_secret, 32, h[1]); /* the seed half of the secret key */
    n = snprintf(text, cap,
                 "# Liaison nation key.  Keep it mode 0600, offline; it signs %s's roster "
                 "section.\n%s\nnation %s\nsign-public %s\nsign-seed %s\n",
                 key->nation, NATION_KEY_HEADER, key->nation, h[0], h[1]);
    sodium_memzero(h, sizeof(h));
    if (n < 0 || (size_t)n >= cap)
        err = PROTO_ERR_LIMIT;
    else
        err = proto_secret_file_write(path, text, (size_t)n, detail);
    proto_secret_free(text);
    return err;
}

proto_err
proto_nation_key_load(const char *path, proto_nation_key **key_out, proto_detail *detail)
{
    struct {
        nation_fields f;
        char text[PROTO_SECRET_FILE_MAX + 1];
    } *s = NULL;
    proto_nation_key *k = NULL;
    proto_err err;

    s = proto_secret_alloc(sizeof(*s));
    if (s == NULL)
        return PROTO_ERR_NOMEM;
    err = proto_secret_file_read(path, "nation key file", s->text, detail);
    if (err == PROTO_OK)
        err = fields_parse(s->text, NATION_KEY_HEADER, true, &s->f, path, detail);
    if (err == PROTO_OK)
        err = key_from_sign_seed(s->f.nation, s->f.sign_seed, &k);
    if (err == PROTO_OK && sodium_memcmp(k->sign_public, s->f.sign_public, 32) != 0) {
        proto_detail_set(detail, path,
                         "%s is damaged: sign-public does not match sign-seed", path);
        err = PROTO_ERR_KEYFILE;
    }
    if (err == PROTO_OK) {
        *key_out = k;
        k = NULL;
    }
    proto_nation_key_destroy(&k);
    proto_secret_free(s);
    return err;
}

/* ---- Nation cards -------------------------------------------------------- */

/* The three lines of a card; 160 bytes always hold them. */
static void
card_text(const proto_nation_card *card, char out[160])
{
    char h[65];

    snprintf(out, 160, "%s\nnation %s\nsign-public %s\n", NATION_CARD_HEADER, card->nation,
             proto_hex(card->sign_public, 32, h));
}

proto_err
proto_nation_card_format(const proto_nation_card *card, char **text_out)
{
    char *text = proto_alloc(160);

    if (text == NULL)
        return PROTO_ERR_NOMEM;
    card_text(card, text);
    *text_out = text;
    return PROTO_OK;
}

void
proto_nation_card_fingerprint(const proto_nation_card *card, uint8_t out[PROTO_HASH_BYTES])
{
    char text[160];

    card_text(card, text);
    proto_sha256((const uint8_t *)text, strlen(text), out);
}

proto_err
proto_nation_card_parse(const char *text, size_t len, proto_nation_card *card_out,
                        proto_detail *detail)
{
    char copy[NATION_CARD_MAX];
    nation_fields f;
    proto_err err;

    if (len >= sizeof(copy) || memchr(text, '\0', len) != NULL) {
        proto_detail_set(detail, "nation card", "nation card: too long or holds a NUL byte");
        return PROTO_ERR_KEYFILE;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    err = fields_parse(copy, NATION_CARD_HEADER, false, &f, "nation card", detail);
    if (err != PROTO_OK)
        return err;
    memset(card_out, 0, sizeof(*card_out));
    memcpy(card_out->nation, f.nation, sizeof(card_out->nation));
    memcpy(card_out->sign_public, f.sign_public, sizeof(card_out->sign_public));
    return PROTO_OK;
}

proto_err
proto_nation_card_load(const char *path, proto_nation_card *card_out, proto_detail *detail)
{
    char buf[NATION_CARD_MAX];
    FILE *fp = fopen(path, "rb");
    size_t len;
    proto_err err;

    if (fp == NULL) {
        proto_detail_set(detail, path, "cannot open nation card %s: %s", path, strerror(errno));
        return PROTO_ERR_IO;
    }
    /* A pinned nation key decides whose sections are believed: a card others
     * could replace would let them sign for a nation. */
    err = proto_file_check_writers(fileno(fp), path, "nation card", detail);
    if (err != PROTO_OK) {
        fclose(fp);
        return err;
    }
    len = fread(buf, 1, sizeof(buf), fp);
    if (ferror(fp)) {
        proto_detail_set(detail, path, "cannot read nation card %s: %s", path, strerror(errno));
        fclose(fp);
        return PROTO_ERR_IO;
    }
    fclose(fp);
    err = proto_nation_card_parse(buf, len, card_out, detail);
    if (err != PROTO_OK && detail != NULL) {
        char text[sizeof(detail->text)];

        /* "nation card: line 2: ..." becomes "PATH: line 2: ...". */
        const char *rest = strncmp(detail->text, "nation card: ", 13) == 0 ? detail->text + 13
                                                                          : detail->text;
        snprintf(text, sizeof(text), "%s", rest);
        proto_detail_set(detail, path, "%s: %s", path, text);
    }
    return err;
}
