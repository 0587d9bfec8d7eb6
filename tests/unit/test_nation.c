/* Nation keys, nation cards and the signed sections of the roster
 * (docs/protocol.md 5.5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "liaison_proto.h"

/* docs/protocol.md 5.5, test vector. */
#define VEC_NATION_PUBLIC "e87358a596e8b66bb89e9eb0f12576ad93df049ed96ddf7fe632a5c00c563abe"
#define VEC_NATION_FINGERPRINT "3dd2fc014d2a53de90a7a7c7cc1d5bcc5f37ad264297a5068f00d02acdf31d37"
#define VEC_SECTION_HASH "754a8230a689d3edfcfdab3a71d11521f15d61c577fb4d2ba6f1dbeb3d772a8b"
#define VEC_SIGNATURE                                                                     \
    "a0394570ec3f988c86a24f42af33b70f57404479cf8d2e68891021c51636fc39"                    \
    "91f5a208afec9707af34b065dd7afbfa4e2ff78d3fc7e7ca5699a99ce48e9902"

typedef struct fixture {
    proto_identity *usa;      /* broker USA, seed 0x04 */
    proto_identity *fbi;      /* USA/FBI, seed 0x01 */
    proto_identity *rcmp;     /* CAN/RCMP, seed 0x02 */
    proto_identity *can;      /* broker CAN, seed 0x07 */
    proto_nation_key *usa_nk; /* nation key of USA, seed 0x05 */
    proto_nation_key *can_nk; /* nation key of CAN, seed 0x06 */
    char dir[256];            /* scratch directory */
} fixture;

static proto_identity *
seeded_identity(const char *addr_text, uint8_t byte)
{
    proto_addr addr;
    proto_identity *id = NULL;
    uint8_t seed[32];
    proto_detail d = {0};

    memset(seed, byte, sizeof(seed));
    assert_proto_ok(proto_addr_parse(addr_text, &addr, &d), &d);
    assert_int_equal(proto_identity_from_seed(&addr, seed, &id), PROTO_OK);
    return id;
}

static proto_nation_key *
seeded_nation_key(const char *nation, uint8_t byte)
{
    proto_nation_key *k = NULL;
    uint8_t seed[32];

    memset(seed, byte, sizeof(seed));
    assert_int_equal(proto_nation_key_from_seed(nation, seed, &k), PROTO_OK);
    return k;
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || proto_init() != PROTO_OK)
        return -1;
    test_quiet_logs();
    f->usa = seeded_identity("USA", 0x04);
    f->fbi = seeded_identity("USA/FBI", 0x01);
    f->rcmp = seeded_identity("CAN/RCMP", 0x02);
    f->can = seeded_identity("CAN", 0x07);
    f->usa_nk = seeded_nation_key("USA", 0x05);
    f->can_nk = seeded_nation_key("CAN", 0x06);
    test_scratch_dir(f->dir, sizeof(f->dir));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    proto_identity_destroy(&f->usa);
    proto_identity_destroy(&f->fbi);
    proto_identity_destroy(&f->rcmp);
    proto_identity_destroy(&f->can);
    proto_nation_key_destroy(&f->usa_nk);
    proto_nation_key_destroy(&f->can_nk);
    test_scratch_remove(f->dir);
    free(f);
    return 0;
}

/* Appends the roster lines of id's card ("card" .. "end") to out. */
static void
card_lines(const proto_identity *id, const char *accepts, char *out, size_t cap)
{
    char card[512];
    proto_card c;
    size_t used = strlen(out);

    proto_identity_card(id, &c);
    assert_int_equal(proto_card_format(&c, card, sizeof(card)), PROTO_OK);
    snprintf(out + used, cap - used, "card\n%s%s%s%send\n", strchr(card, '\n') + 1,
             accepts != NULL ? "accepts " : "", accepts != NULL ? accepts : "",
             accepts != NULL ? "\n" : "");
}

static proto_roster *
parse_ok(const char *text)
{
    proto_roster *r = NULL;
    proto_detail d = {0};

    assert_proto_ok(proto_roster_parse(text, strlen(text), &r, &d), &d);
    return r;
}

/* A roster of USA (broker and FBI, section signed with serial 1) and CAN
 * (broker and RCMP, section signed with serial 1), as text. */
static char *
two_nations(fixture *f)
{
    char text[16384] = "liaison-roster 1\n";
    proto_roster *r;
    proto_detail d = {0};
    char *out = NULL;
    size_t len;

    card_lines(f->usa, NULL, text, sizeof(text));
    card_lines(f->fbi, "watchlist.* traveldoc.check", text, sizeof(text));
    card_lines(f->can, NULL, text, sizeof(text));
    card_lines(f->rcmp, "*", text, sizeof(text));
    r = parse_ok(text);
    assert_proto_ok(proto_roster_section_sign(r, f->usa_nk, &d), &d);
    assert_proto_ok(proto_roster_section_sign(r, f->can_nk, &d), &d);
    assert_int_equal(proto_roster_format(r, &out, &len), PROTO_OK);
    proto_roster_destroy(&r);
    return out;
}

/* ---- Nation keys and cards ---------------------------------------------- */

static void
test_nation_key_save_load(void **state)
{
    fixture *f = *state;
    char path[512], *text = NULL;
    proto_nation_key *k = NULL, *back = NULL;
    proto_nation_card card, parsed;
    proto_detail d = {0};
    uint8_t fp1[PROTO_HASH_BYTES], fp2[PROTO_HASH_BYTES];
    struct stat st;

    assert_int_equal(proto_nation_key_generate("usa", &k), PROTO_ERR_INVALID);
    assert_int_equal(proto_nation_key_generate("USA", &k), PROTO_OK);
    snprintf(path, sizeof(path), "%s/usa.nation-key", f->dir);
    assert_proto_ok(proto_nation_key_save(path, k, &d), &d);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(proto_nation_key_save(path, k, &d), PROTO_ERR_EXISTS);
    assert_proto_ok(proto_nation_key_load(path, &back, &d), &d);
    assert_string_equal(back->nation, "USA");
    assert_memory_equal(back->sign_public, k->sign_public, 32);
    assert_memory_equal(back->sign_secret, k->sign_secret, 64);
    proto_nation_key_destroy(&back);
    assert_null(back);

    /* Group or others may read it: refused, like a key file. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(proto_nation_key_load(path, &back, &d), PROTO_ERR_PERMISSION);
    assert_non_null(strstr(d.text, "chmod 600"));
    assert_null(back);

    /* The card round-trips; its fingerprint is over its three lines. */
    proto_nation_key_card(k, &card);
    assert_int_equal(proto_nation_card_format(&card, &text), PROTO_OK);
    assert_int_equal(strncmp(text, "liaison-nation-card 1\nnation USA\nsign-public ", 45), 0);
    assert_proto_ok(proto_nation_card_parse(text, strlen(text), &parsed, &d), &d);
    assert_memory_equal(&parsed, &card, sizeof(card));
    proto_nation_card_fingerprint(&card, fp1);
    proto_sha256((const uint8_t *)text, strlen(text), fp2);
    assert_memory_equal(fp1, fp2, sizeof(fp1));
    free(text);
    proto_nation_key_destroy(&k);
}

static void
test_nation_key_refuses_damage(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"liaison-secret-key 1\n", "line 1: expected 'liaison-nation-key 1'"},
        {"liaison-nation-key 1\nnation usa\n", "line 2: 'usa' is not a nation"},
        {"liaison-nation-key 1\nnation USA\nnation USA\n", "line 3: nation appears twice"},
        {"liaison-nation-key 1\nnation USA\nsign-public 00\n", "line 3: sign-public must be"},
        {"liaison-nation-key 1\nnation USA\nidentity USA\n", "line 3: unknown field"},
        {"liaison-nation-key 1\nnation USA\n", "missing line 'sign-public'"},
        {NULL, "sign-public does not match sign-seed"},
    };
    char h[2][65];

    proto_hex(f->usa_nk->sign_public, 32, h[0]);
    proto_hex(f->can_nk->sign_secret, 32, h[1]);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512], text[512];
        proto_nation_key *k = NULL;
        proto_detail d = {0};
        int fd;

        if (cases[i].text != NULL)
            snprintf(text, sizeof(text), "%s", cases[i].text);
        else
            snprintf(text, sizeof(text),
                     "liaison-nation-key 1\nnation USA\nsign-public %s\nsign-seed %s\n", h[0],
                     h[1]);
        snprintf(path, sizeof(path), "%s/bad%zu.nation-key", f->dir, i);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        assert_int_equal(proto_nation_key_load(path, &k, &d), PROTO_ERR_KEYFILE);
        assert_null(k);
        if (strstr(d.text, cases[i].why) == NULL || strstr(d.text, path) == NULL)
            fail_msg("case %zu: '%s' lacks '%s' or the path", i, d.text, cases[i].why);
    }
}

static void
test_nation_card_errors(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"liaison-card 1\n", "line 1: expected 'liaison-nation-card 1'"},
        {"liaison-nation-card 1\nnation USA\nsign-seed 00\n", "line 3: unknown field"},
        {"liaison-nation-card 1\nsign-public 0011\n", "line 2: sign-public must be 64 hex"},
        {"liaison-nation-card 1\nnation USA\n", "missing line 'sign-public'"},
        {"", "no 'liaison-nation-card 1' line"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        proto_nation_card card;
        proto_detail d = {0};

        assert_int_equal(proto_nation_card_parse(cases[i].text, strlen(cases[i].text), &card, &d),
                         PROTO_ERR_KEYFILE);
        if (strstr(d.text, cases[i].why) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, d.text, cases[i].why);
    }
}

/* ---- Sections ------------------------------------------------------------ */

static void
test_nation_section_roundtrip(void **state)
{
    fixture *f = *state;
    char *text = two_nations(f), *again = NULL, *part = NULL;
    proto_roster *r = parse_ok(text), *p = NULL;
    size_t len, part_len;
    char nation[4];
    uint64_t serial;
    bool is_signed;

    assert_int_equal(proto_roster_count(r), 4);
    assert_int_equal(proto_roster_section_count(r), 2);
    assert_false(proto_roster_has_unsigned(r));
    assert_true(proto_roster_section_at(r, 0, nation, &serial, &is_signed));
    assert_string_equal(nation, "USA");
    assert_int_equal(serial, 1);
    assert_true(is_signed);
    assert_false(proto_roster_section_at(r, 2, nation, NULL, NULL));
    assert_true(proto_roster_section_find(r, "CAN", &serial, NULL));
    assert_false(proto_roster_section_find(r, "MEX", NULL, NULL));
    assert_int_equal(proto_roster_section_cards(r, "USA"), 2);
    assert_true(proto_roster_entry_signed(r, proto_roster_find(r, &f->rcmp->addr)));
    assert_int_equal(proto_roster_section_verify(r, "USA", f->usa_nk->sign_public), PROTO_OK);
    assert_int_equal(proto_roster_section_verify(r, "CAN", f->can_nk->sign_public), PROTO_OK);
    /* The other nation's key does not verify; no section is not found. */
    assert_int_equal(proto_roster_section_verify(r, "USA", f->can_nk->sign_public),
                     PROTO_ERR_SIGNATURE);
    assert_int_equal(proto_roster_section_verify(r, "MEX", f->can_nk->sign_public),
                     PROTO_ERR_NOT_FOUND);
    /* Formatting what was parsed gives the same text. */
    assert_int_equal(proto_roster_format(r, &again, &len), PROTO_OK);
    assert_string_equal(again, text);
    assert_int_equal(len, strlen(text));
    /* One section alone is a roster of its own that verifies. */
    assert_int_equal(proto_roster_section_text(r, "CAN", &part, &part_len), PROTO_OK);
    assert_int_equal(strncmp(part, "liaison-roster 1\n\nnation CAN\nserial 1\n", 38), 0);
    p = parse_ok(part);
    assert_int_equal(proto_roster_count(p), 2);
    assert_int_equal(proto_roster_section_verify(p, "CAN", f->can_nk->sign_public), PROTO_OK);
    assert_int_equal(proto_roster_section_text(r, "MEX", &part, &part_len), PROTO_ERR_NOT_FOUND);
    proto_roster_destroy(&p);
    proto_roster_destroy(&r);
    free(part);
    free(again);
    free(text);
}

/* Changes text[i] into another character of the same class. */
static char
changed(char c)
{
    if (c >= '0' && c <= '9')
        return c == '9' ? '0' : (char)(c + 1);
    if (c >= 'a' && c <= 'z')
        return c == 'f' ? 'a' : c == 'z' ? 'y' : (char)(c + 1);
    if (c >= 'A' && c <= 'Z')
        return c == 'Z' ? 'A' : (char)(c + 1);
    return c == ' ' ? '_' : ' ';
}

/* One changed byte anywhere in the text of a section - a card, the serial,
 * the nation, the signature - and the roster either does not parse or the
 * section does not verify. */
static void
test_nation_section_every_byte_change_fails(void **state)
{
    fixture *f = *state;
    char *text = two_nations(f);
    char *start = strstr(text, "nation USA"), *end = strstr(text, "\nnation CAN");
    size_t verified_bad = 0, unparsed = 0;

    assert_non_null(start);
    assert_non_null(end);
    for (char *p = start; p < end; p++) {
        char keep = *p;
        proto_roster *r = NULL;
        proto_detail d = {0};

        *p = changed(keep);
        if (proto_roster_parse(text, strlen(text), &r, &d) != PROTO_OK) {
            unparsed++;
        } else {
            proto_err err = proto_roster_section_verify(r, "USA", f->usa_nk->sign_public);

            if (err == PROTO_OK)
                fail_msg("byte %zu ('%c' to '%c') changed and USA still verifies",
                         (size_t)(p - text), keep, *p);
            verified_bad++;
            /* The other nation's section is untouched. */
            assert_int_equal(proto_roster_section_verify(r, "CAN", f->can_nk->sign_public),
                             PROTO_OK);
            proto_roster_destroy(&r);
        }
        *p = keep;
    }
    /* Both outcomes happen: hex digits of keys, the serial and the
     * signature parse and fail to verify; keywords fail to parse. */
    assert_true(verified_bad > 300);
    assert_true(unparsed > 10);
    free(text);
}

/* Comments, blank lines and upper-case hex are not part of the canonical
 * text: the signature still verifies and the section hash is the same. */
static void
test_nation_section_canonical(void **state)
{
    fixture *f = *state;
    char *text = two_nations(f), messy[32768];
    proto_roster *r = parse_ok(text), *m = NULL;
    uint8_t h1[PROTO_HASH_BYTES], h2[PROTO_HASH_BYTES];
    size_t used = 0;
    bool in_hex = false;

    /* Comments and blank lines between every line, hex in upper case. */
    for (const char *p = text; *p != '\0'; p++) {
        if (p == text || p[-1] == '\n')
            used += (size_t)snprintf(messy + used, sizeof(messy) - used, "# note\n\n");
        if (*p == ' ')
            in_hex = strncmp(p - 6, "public", 6) == 0 || strncmp(p - 9, "signature", 9) == 0;
        if (*p == '\n')
            in_hex = false;
        messy[used++] = in_hex && *p >= 'a' && *p <= 'f' ? (char)(*p - 'a' + 'A') : *p;
        assert_true(used < sizeof(messy) - 16);
    }
    messy[used] = '\0';
    assert_non_null(strstr(messy, "sign-public "));
    assert_null(strstr(strstr(messy, "nation USA"), "ab"));
    m = parse_ok(messy);
    assert_int_equal(proto_roster_section_hash(r, "USA", h1), PROTO_OK);
    assert_int_equal(proto_roster_section_hash(m, "USA", h2), PROTO_OK);
    assert_memory_equal(h1, h2, sizeof(h1));
    assert_int_equal(proto_roster_section_verify(m, "USA", f->usa_nk->sign_public), PROTO_OK);
    assert_int_equal(proto_roster_section_verify(m, "CAN", f->can_nk->sign_public), PROTO_OK);
    assert_int_equal(proto_roster_section_hash(m, "MEX", h2), PROTO_ERR_NOT_FOUND);
    proto_roster_destroy(&m);
    proto_roster_destroy(&r);
    free(text);
}

static void
test_nation_section_rules(void **state)
{
    fixture *f = *state;
    char usa[1024] = "", fbi[1024] = "", rcmp[1024] = "", text[8192];
    char sig[2 * PROTO_SIGNATURE_BYTES + 32];
    static const struct {
        const char *fmt; /* %1$s USA card, %2$s FBI card, %3$s RCMP card, %4$s signature line */
        const char *why;
    } cases[] = {
        {"nation USA\nserial 1\n%1$s%3$s%4$s", "line 10: card of CAN/RCMP inside the section of USA"},
        {"nation USA\nserial 1\n%1$s%4$snation USA\nserial 2\n%4$s", "line 11: a second section of USA"},
        {"nation USA\nserial 1\n%1$s%4$s%2$s", "line 11: card of USA/FBI outside the section of USA"},
        {"%2$snation USA\nserial 1\n%1$s%4$s", "line 9: section USA opens after card 1 of USA"},
        {"nation USA\n%1$s%4$s", "line 3: expected 'serial N' after 'nation USA'"},
        {"nation USA\nserial 0\n%1$s%4$s", "line 3: serial of section USA must be"},
        {"nation USA\nserial 01\n%1$s%4$s", "line 3: serial of section USA must be"},
        {"nation USA\nserial +1\n%1$s%4$s", "line 3: serial of section USA must be"},
        {"nation USA\nserial 9223372036854775808\n%1$s%4$s", "line 3: serial of section USA"},
        {"nation USA\nserial 1\n%1$s", "section USA not closed with 'signature'"},
        {"nation USA\nserial 1\n%1$snation CAN\nserial 1\n%4$s", "line 10: section USA not closed"},
        {"nation USA\nserial 1\n%1$ssignature 00\n", "line 10: 'signature' of section USA must be 128 hex"},
        {"nation usa\nserial 1\n%4$s", "line 2: 'usa' is not a nation"},
        {"%1$s%4$s", "line 8: expected 'card' or 'nation', found 'signature"},
    };

    card_lines(f->usa, NULL, usa, sizeof(usa));
    card_lines(f->fbi, "*", fbi, sizeof(fbi));
    card_lines(f->rcmp, "*", rcmp, sizeof(rcmp));
    memset(sig, 0, sizeof(sig));
    memcpy(sig, "signature ", 10);
    memset(sig + 10, 'a', 2 * PROTO_SIGNATURE_BYTES);
    sig[10 + 2 * PROTO_SIGNATURE_BYTES] = '\n';
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        proto_roster *r = NULL;
        proto_detail d = {0};
        int n = snprintf(text, sizeof(text), "liaison-roster 1\n");

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(text + n, sizeof(text) - (size_t)n, cases[i].fmt, usa, fbi, rcmp, sig);
#pragma GCC diagnostic pop
        assert_int_equal(proto_roster_parse(text, strlen(text), &r, &d), PROTO_ERR_SYNTAX);
        assert_null(r);
        if (strstr(d.text, cases[i].why) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, d.text, cases[i].why);
    }
    /* The highest serial and a section without cards are valid. */
    snprintf(text, sizeof(text), "liaison-roster 1\n%snation USA\nserial 9223372036854775807\n%s",
             rcmp, sig);
    {
        proto_roster *r = parse_ok(text);
        uint64_t serial = 0;
        proto_detail d = {0};

        assert_true(proto_roster_section_find(r, "USA", &serial, NULL));
        assert_int_equal(serial, PROTO_ROSTER_SERIAL_MAX);
        assert_int_equal(proto_roster_section_cards(r, "USA"), 0);
        assert_true(proto_roster_has_unsigned(r));
        assert_false(proto_roster_entry_signed(r, proto_roster_at(r, 0)));
        /* It cannot be signed again: the serial cannot grow. */
        assert_int_equal(proto_roster_section_sign(r, f->usa_nk, &d), PROTO_ERR_LIMIT);
        assert_true(proto_roster_section_find(r, "USA", &serial, NULL));
        assert_int_equal(serial, PROTO_ROSTER_SERIAL_MAX);
        proto_roster_destroy(&r);
    }
}

/* A change to a card of a signed section drops its signature: the roster
 * cannot be written until it is signed again, with the next serial. */
static void
test_nation_section_change_needs_signing(void **state)
{
    fixture *f = *state;
    char *text = two_nations(f), *out = NULL;
    proto_roster *r = parse_ok(text), *back = NULL;
    proto_identity *cia = seeded_identity("USA/CIA", 0x09);
    proto_roster_entry e;
    proto_detail d = {0};
    uint64_t serial;
    bool is_signed;
    size_t len;

    memset(&e, 0, sizeof(e));
    proto_identity_card(cia, &e.card);
    assert_proto_ok(proto_roster_add(r, &e, &d), &d);
    assert_true(proto_roster_section_find(r, "USA", &serial, &is_signed));
    assert_false(is_signed);
    assert_true(proto_roster_entry_signed(r, proto_roster_find(r, &cia->addr)));
    assert_int_equal(proto_roster_format(r, &out, &len), PROTO_ERR_UNSIGNED);
    assert_int_equal(proto_roster_section_text(r, "USA", &out, &len), PROTO_ERR_UNSIGNED);
    assert_int_equal(proto_roster_section_verify(r, "USA", f->usa_nk->sign_public),
                     PROTO_ERR_SIGNATURE);
    assert_proto_ok(proto_roster_section_sign(r, f->usa_nk, &d), &d);
    assert_true(proto_roster_section_find(r, "USA", &serial, &is_signed));
    assert_true(is_signed);
    assert_int_equal(serial, 2);
    assert_int_equal(proto_roster_format(r, &out, &len), PROTO_OK);
    back = parse_ok(out);
    assert_int_equal(proto_roster_section_cards(back, "USA"), 3);
    assert_int_equal(proto_roster_section_verify(back, "USA", f->usa_nk->sign_public), PROTO_OK);
    free(out);
    out = NULL;

    /* Revoking is a change too; the other nation's section is untouched. */
    assert_int_equal(proto_roster_revoke(back, &cia->addr, 1767225600000ull, "test"), PROTO_OK);
    assert_true(proto_roster_section_find(back, "USA", NULL, &is_signed));
    assert_false(is_signed);
    assert_true(proto_roster_section_find(back, "CAN", NULL, &is_signed));
    assert_true(is_signed);
    assert_int_equal(proto_roster_format(back, &out, &len), PROTO_ERR_UNSIGNED);
    assert_proto_ok(proto_roster_section_sign(back, f->usa_nk, &d), &d);
    assert_true(proto_roster_section_find(back, "USA", &serial, NULL));
    assert_int_equal(serial, 3);
    assert_int_equal(proto_roster_section_verify(back, "USA", f->usa_nk->sign_public), PROTO_OK);

    /* An unsigned card of a nation without a section changes nothing. */
    {
        proto_identity *fgr = seeded_identity("MEX/FGR", 0x03);

        memset(&e, 0, sizeof(e));
        proto_identity_card(fgr, &e.card);
        assert_proto_ok(proto_roster_add(back, &e, &d), &d);
        assert_true(proto_roster_has_unsigned(back));
        assert_int_equal(proto_roster_format(back, &out, &len), PROTO_OK);
        assert_non_null(strstr(out, "liaison-roster 1\n\ncard\nidentity MEX/FGR\n"));
        free(out);
        proto_identity_destroy(&fgr);
    }
    proto_identity_destroy(&cia);
    proto_roster_destroy(&back);
    proto_roster_destroy(&r);
    free(text);
}

static void
test_nation_section_replace(void **state)
{
    fixture *f = *state;
    char *text = two_nations(f), *part = NULL, *before = NULL, *after = NULL;
    char newer[16384] = "liaison-roster 1\n";
    proto_roster *dst = parse_ok(text), *src = NULL, *bad = NULL;
    proto_identity *border = seeded_identity("CAN/CBSA", 0x0a);
    proto_detail d = {0};
    uint64_t serial;
    size_t len;

    /* CAN adds an agency and signs serial 2; USA takes CAN's section. */
    card_lines(f->can, NULL, newer, sizeof(newer));
    card_lines(f->rcmp, "*", newer, sizeof(newer));
    card_lines(border, "traveldoc.*", newer, sizeof(newer));
    src = parse_ok(newer);
    assert_proto_ok(proto_roster_section_sign(src, f->can_nk, &d), &d);
    assert_proto_ok(proto_roster_section_sign(src, f->can_nk, &d), &d);
    assert_proto_ok(proto_roster_section_replace(dst, src, "CAN", &d), &d);
    assert_int_equal(proto_roster_count(dst), 5);
    assert_true(proto_roster_section_find(dst, "CAN", &serial, NULL));
    assert_int_equal(serial, 2);
    assert_non_null(proto_roster_find(dst, &border->addr));
    assert_int_equal(proto_roster_section_verify(dst, "CAN", f->can_nk->sign_public), PROTO_OK);
    assert_int_equal(proto_roster_section_verify(dst, "USA", f->usa_nk->sign_public), PROTO_OK);
    assert_int_equal(proto_roster_section_replace(dst, src, "MEX", &d), PROTO_ERR_NOT_FOUND);

    /* A section whose card reuses a key of USA's: refused, dst unchanged. */
    {
        char evil[16384] = "liaison-roster 1\n";
        proto_identity *copy = seeded_identity("CAN/CSIS", 0x01); /* FBI's keys */

        card_lines(f->can, NULL, evil, sizeof(evil));
        card_lines(copy, "*", evil, sizeof(evil));
        bad = parse_ok(evil);
        assert_proto_ok(proto_roster_section_sign(bad, f->can_nk, &d), &d);
        assert_int_equal(proto_roster_format(dst, &before, &len), PROTO_OK);
        assert_int_equal(proto_roster_section_replace(dst, bad, "CAN", &d), PROTO_ERR_SYNTAX);
        assert_non_null(strstr(d.text, "reuses a key"));
        assert_int_equal(proto_roster_format(dst, &after, &len), PROTO_OK);
        assert_string_equal(before, after);
        proto_identity_destroy(&copy);
    }

    /* A nation dst held only as unsigned cards: the section replaces them. */
    {
        char old[16384] = "liaison-roster 1\n";
        proto_roster *plain;

        card_lines(f->usa, NULL, old, sizeof(old));
        card_lines(f->rcmp, "*", old, sizeof(old));
        plain = parse_ok(old);
        assert_true(proto_roster_has_unsigned(plain));
        assert_proto_ok(proto_roster_section_replace(plain, src, "CAN", &d), &d);
        assert_int_equal(proto_roster_count(plain), 4);
        assert_int_equal(proto_roster_section_cards(plain, "CAN"), 3);
        assert_int_equal(proto_roster_section_verify(plain, "CAN", f->can_nk->sign_public),
                         PROTO_OK);
        assert_int_equal(proto_roster_section_text(plain, "CAN", &part, &len), PROTO_OK);
        proto_roster_destroy(&plain);
    }
    proto_identity_destroy(&border);
    proto_roster_destroy(&bad);
    proto_roster_destroy(&src);
    proto_roster_destroy(&dst);
    free(part);
    free(before);
    free(after);
    free(text);
}

/* Allocation failures one at a time: replace, sign and parse fail with
 * PROTO_ERR_NOMEM and leave the roster as it was. */
static void
test_nation_alloc_failures(void **state)
{
    fixture *f = *state;
    char *text = two_nations(f), newer[16384] = "liaison-roster 1\n", *before = NULL;
    proto_roster *dst = parse_ok(text), *src;
    proto_detail d = {0};
    size_t len, failed = 0;

    card_lines(f->can, NULL, newer, sizeof(newer));
    src = parse_ok(newer);
    assert_proto_ok(proto_roster_section_sign(src, f->can_nk, &d), &d);
    assert_proto_ok(proto_roster_section_sign(src, f->can_nk, &d), &d);
    assert_int_equal(proto_roster_format(dst, &before, &len), PROTO_OK);
    for (int n = 0;; n++) {
        proto_err err;
        char *after = NULL;

        proto_fault_alloc_after(n);
        err = proto_roster_section_replace(dst, src, "CAN", &d);
        proto_fault_alloc_after(-1);
        if (err == PROTO_OK)
            break;
        assert_int_equal(err, PROTO_ERR_NOMEM);
        failed++;
        assert_int_equal(proto_roster_format(dst, &after, &len), PROTO_OK);
        assert_string_equal(after, before);
        free(after);
    }
    assert_true(failed >= 1);
    assert_true(proto_roster_section_find(dst, "CAN", NULL, NULL));
    assert_int_equal(proto_roster_section_verify(dst, "CAN", f->can_nk->sign_public), PROTO_OK);
    for (int n = 0;; n++) {
        proto_err err;
        uint64_t serial = 0;

        proto_fault_alloc_after(n);
        err = proto_roster_section_sign(dst, f->usa_nk, &d);
        proto_fault_alloc_after(-1);
        assert_true(proto_roster_section_find(dst, "USA", &serial, NULL));
        if (err == PROTO_OK) {
            assert_int_equal(serial, 2);
            break;
        }
        assert_int_equal(err, PROTO_ERR_NOMEM);
        assert_int_equal(serial, 1);
        assert_int_equal(proto_roster_section_verify(dst, "USA", f->usa_nk->sign_public),
                         PROTO_OK);
    }
    for (int n = 0;; n++) {
        proto_roster *r = NULL;
        proto_err err;

        proto_fault_alloc_after(n);
        err = proto_roster_parse(text, strlen(text), &r, &d);
        proto_fault_alloc_after(-1);
        if (err == PROTO_OK) {
            proto_roster_destroy(&r);
            break;
        }
        assert_int_equal(err, PROTO_ERR_NOMEM);
        assert_null(r);
    }
    proto_roster_destroy(&src);
    proto_roster_destroy(&dst);
    free(before);
    free(text);
}

/* docs/protocol.md 5.5: nation key USA from a seed of 32 bytes 0x05, the
 * section of USA holding the card of USA/FBI (seed 0x01, accepts
 * "watchlist.* traveldoc.check"), serial 1. */
static void
test_nation_vector(void **state)
{
    fixture *f = *state;
    char text[4096] = "liaison-roster 1\n", hex[2 * PROTO_SIGNATURE_BYTES + 1];
    char *part = NULL;
    proto_roster *r;
    proto_nation_card card;
    uint8_t h[PROTO_HASH_BYTES];
    proto_detail d = {0};
    size_t len;

    card_lines(f->fbi, "watchlist.* traveldoc.check", text, sizeof(text));
    r = parse_ok(text);
    assert_proto_ok(proto_roster_section_sign(r, f->usa_nk, &d), &d);
    proto_nation_key_card(f->usa_nk, &card);
    proto_nation_card_fingerprint(&card, h);
    if (getenv("LIAISON_PRINT_VECTOR") != NULL) {
        assert_int_equal(proto_roster_section_text(r, "USA", &part, &len), PROTO_OK);
        printf("nation public %s\n", proto_hex(f->usa_nk->sign_public, 32, hex));
        printf("fingerprint %s\n", proto_hex(h, 32, hex));
        assert_int_equal(proto_roster_section_hash(r, "USA", h), PROTO_OK);
        printf("hash %s\n%s", proto_hex(h, 32, hex), part);
        free(part);
        part = NULL;
        proto_nation_card_fingerprint(&card, h);
    }
    assert_string_equal(proto_hex(f->usa_nk->sign_public, 32, hex), VEC_NATION_PUBLIC);
    assert_string_equal(proto_hex(h, 32, hex), VEC_NATION_FINGERPRINT);
    assert_int_equal(proto_roster_section_hash(r, "USA", h), PROTO_OK);
    assert_string_equal(proto_hex(h, 32, hex), VEC_SECTION_HASH);
    assert_int_equal(proto_roster_section_text(r, "USA", &part, &len), PROTO_OK);
    assert_non_null(strstr(part, "\nsignature " VEC_SIGNATURE "\n"));
    free(part);
    proto_roster_destroy(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nation_key_save_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nation_key_refuses_damage, setup, teardown),
        cmocka_unit_test(test_nation_card_errors),
        cmocka_unit_test_setup_teardown(test_nation_section_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nation_section_every_byte_change_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nation_section_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nation_section_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nation_section_change_needs_signing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nation_section_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nation_alloc_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nation_vector, setup, teardown),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests_name("nation", tests, NULL, NULL);
}
