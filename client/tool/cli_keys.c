/* liaison keygen and liaison roster: identities, cards and the roster file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

static void
keygen_usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    liaison keygen - make the three key pairs of an identity\n\n"
            "SYNOPSIS\n"
            "    liaison keygen ADDRESS --key FILE [--card FILE] [--json]\n"
            "    liaison keygen NATION --nation --key FILE [--card FILE] [--json]\n\n"
            "DESCRIPTION\n"
            "    Generates an Ed25519 signing key, an X25519 box key and a CURVE transport\n"
            "    key for ADDRESS (an agency such as USA/FBI, or a broker such as USA).  The\n"
            "    secret key file is created with mode 0600 and never overwritten; the public\n"
            "    card, which operators exchange for the roster, goes to --card (or stdout).\n"
            "    With --nation, generates instead the nation key of NATION, which signs that\n"
            "    nation's section of the roster (liaison roster sign), and its nation card,\n"
            "    which partners pin (docs/protocol.md 5.5).  Keep the nation key offline.\n\n"
            "OPTIONS\n"
            "    --key FILE    where to write the secret key file (must not exist)\n"
            "    --card FILE   where to write the public card (default: stdout)\n"
            "    --nation      make a nation key and nation card\n"
            "    --json        print the public keys as JSON\n\n"
            "EXIT STATUS\n"
            "    0 written; 64 bad usage; 73 the key file exists or cannot be created.\n");
}

/* Writes text to path, created exclusively with mode. */
static int
write_new(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    size_t len = strlen(text), off = 0;

    if (fd < 0)
        return -1;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);

        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

/* liaison keygen NATION --nation: a nation key and its nation card. */
static int
keygen_nation(const char *nation, const char *key_path, const char *card_path, bool json)
{
    proto_nation_key *k = NULL;
    proto_nation_card card;
    proto_detail d = {{0}, {0}};
    char *text = NULL, h[65];
    int rc = EX_OK;

    if (!proto_nation_valid(nation)) {
        cli_error("keygen", "'%s' is not a nation (three upper-case letters, such as USA)",
                  nation);
        return EX_USAGE;
    }
    if (proto_nation_key_generate(nation, &k) != PROTO_OK)
        return EX_SOFTWARE;
    if (proto_nation_key_save(key_path, k, &d) != PROTO_OK) {
        cli_error("keygen", "%s", d.text);
        proto_nation_key_destroy(&k);
        return EX_CANTCREAT;
    }
    proto_nation_key_card(k, &card);
    proto_nation_key_destroy(&k);
    if (proto_nation_card_format(&card, &text) != PROTO_OK)
        return EX_SOFTWARE;
    if (card_path != NULL && write_new(card_path, text, 0644) != 0) {
        cli_error("keygen", "cannot create %s: %s", card_path, strerror(errno));
        rc = EX_CANTCREAT;
    } else if (json) {
        json_t *o = json_object();

        json_object_set_new(o, "nation", json_string(nation));
        json_object_set_new(o, "key_file", json_string(key_path));
        json_object_set_new(o, "sign_public", json_string(proto_hex(card.sign_public, 32, h)));
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else if (card_path == NULL) {
        fputs(text, stdout);
    } else {
        printf("%s: nation key in %s (mode 0600), nation card in %s\n", nation, key_path,
               card_path);
    }
    free(text);
    return rc;
}

int
cli_keygen_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"card", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"nation", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *card_path = NULL;
    bool json = false, nation = false;
    proto_identity *id = NULL;
    proto_detail d = {{0}, {0}};
    proto_addr addr;
    proto_card card;
    char text[512];
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'k': key = optarg; break;
        case 'c': card_path = optarg; break;
        case 'j': json = true; break;
        case 'n': nation = true; break;
        case 'h': keygen_usage(stdout); return EX_OK;
        default: keygen_usage(stderr); return EX_USAGE;
        }
    }
    if (optind + 1 != argc || key == NULL) {
        cli_error("keygen", "an ADDRESS and --key FILE are required (see --help)");
        return EX_USAGE;
    }
    if (nation)
        return keygen_nation(argv[optind], key, card_path, json);
    if (proto_addr_parse(argv[optind], &addr, &d) != PROTO_OK ||
        (addr.kind != PROTO_ADDR_AGENCY && addr.kind != PROTO_ADDR_BROKER)) {
        cli_error("keygen", "'%s': %s", argv[optind],
                  d.text[0] ? d.text : "an identity is an agency (USA/FBI) or a broker (USA)");
        return EX_USAGE;
    }
    if (proto_identity_generate(&addr, &id) != PROTO_OK)
        return EX_SOFTWARE;
    if (proto_keyfile_write(id, key, &d) != PROTO_OK) {
        cli_error("keygen", "%s", d.text);
        proto_identity_destroy(&id);
        return EX_CANTCREAT;
    }
    proto_identity_card(id, &card);
    proto_identity_destroy(&id);
    if (proto_card_format(&card, text, sizeof(text)) != PROTO_OK)
        return EX_SOFTWARE;
    if (card_path != NULL && write_new(card_path, text, 0644) != 0) {
        cli_error("keygen", "cannot create %s: %s", card_path, strerror(errno));
        return EX_CANTCREAT;
    }
    if (json) {
        char h[65];
        json_t *o = json_object();

        json_object_set_new(o, "identity", json_string(argv[optind]));
        json_object_set_new(o, "key_file", json_string(key));
        json_object_set_new(o, "sign_public", json_string(proto_hex(card.sign_public, 32, h)));
        json_object_set_new(o, "box_public", json_string(proto_hex(card.box_public, 32, h)));
        json_object_set_new(o, "curve_public", json_string(proto_hex(card.curve_public, 32, h)));
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else if (card_path == NULL) {
        fputs(text, stdout);
    } else {
        printf("%s: secret key in %s (mode 0600), card in %s\n", argv[optind], key, card_path);
    }
    return EX_OK;
}

/* ---- liaison roster ------------------------------------------------------- */

/* One subcommand of liaison roster: its synopsis and what it does. */
typedef struct roster_sub {
    const char *name;     /* "sign" */
    const char *synopsis; /* the SYNOPSIS line */
    const char *text;     /* DESCRIPTION, indented */
} roster_sub;

static const roster_sub roster_subs[] = {
    {"show", "liaison roster show ROSTER [--json]",
     "    Lists the cards of ROSTER: identity, kind, the start of the signing key,\n"
     "    the kinds accepted, revocations.\n"},
    {"add", "liaison roster add ROSTER CARD [--accepts 'PATTERN ...'] [--sign NATION-KEY]",
     "    Appends a card (creating the roster if it does not exist).  A card of a\n"
     "    nation whose section is signed can only be added with --sign, which signs\n"
     "    the section again with the next serial.\n"},
    {"revoke", "liaison roster revoke ROSTER ADDRESS --reason TEXT [--sign NATION-KEY]",
     "    Marks the identity's active card revoked, so that brokers refuse its keys\n"
     "    once they reload (SIGHUP).  In a signed section it needs --sign, as add.\n"},
    {"sign", "liaison roster sign ROSTER --key NATION-KEY",
     "    Signs the section of the nation key's nation with the next serial (1 for a\n"
     "    new section, which takes every card of that nation) and prints\n"
     "    'USA section serial 5 signed (N cards)'.\n"},
    {"import", "liaison roster import ROSTER FILE [--nation-card CARD]...",
     "    Takes each signed section of FILE (a partner's export) into ROSTER when its\n"
     "    serial is higher than the one ROSTER holds, or ROSTER holds none, after\n"
     "    checking its signature with the --nation-card of that nation, which is\n"
     "    always required.  Prints what it took and what it skipped, and why; exits\n"
     "    1 when a section was refused (no card, bad signature, a rule broken).\n"},
    {"export", "liaison roster export ROSTER NATION [--out FILE]",
     "    Writes the section of NATION alone, as a roster file (what an operator\n"
     "    sends a partner at set-up), to FILE or stdout.\n"},
    {"verify", "liaison roster verify ROSTER [--nation-card CARD]...",
     "    Checks that ROSTER parses and keeps every rule, lists each section (nation,\n"
     "    serial, cards, signature good, BAD or unchecked) and the unsigned cards.\n"
     "    With --nation-card, exits 1 if the section of a card's nation does not\n"
     "    verify with it or is missing, if a card is unsigned, or if a section's\n"
     "    nation has no card given.\n"},
    {"fingerprint", "liaison roster fingerprint CARD|NATION-CARD|ROSTER [ADDRESS]",
     "    Prints the SHA-256 of a card (a card file, or the cards of a roster, or\n"
     "    those of ADDRESS in it) or of a nation card, in groups of four hex digits:\n"
     "    read it to the owner over another channel, at the key ceremony, before\n"
     "    adding the card or pinning the nation key (docs/protocol.md 5.2, 5.5).\n"},
};

/* The manual of liaison roster, or of its subcommand sub when sub names one. */
static void
roster_usage(FILE *out, const char *sub)
{
    size_t n = sizeof(roster_subs) / sizeof(roster_subs[0]), one = n;

    for (size_t i = 0; sub != NULL && i < n; i++) {
        if (strcmp(sub, roster_subs[i].name) == 0)
            one = i;
    }
    fprintf(out, "NAME\n    liaison roster%s%s - %s\n\nSYNOPSIS\n", one < n ? " " : "",
            one < n ? roster_subs[one].name : "",
            "show, extend, revoke, sign, exchange and verify the federation roster");
    for (size_t i = 0; i < n; i++) {
        if (one == n || i == one)
            fprintf(out, "    %s\n", roster_subs[i].synopsis);
    }
    fprintf(out, "\nDESCRIPTION\n");
    if (one == n)
        fprintf(out,
                "    The roster lists every identity of the federation with its public keys,\n"
                "    the message kinds it accepts (agencies) and revocations (docs/protocol.md\n"
                "    5.3).  Each nation may sign the cards of its broker and agencies as one\n"
                "    section with its nation key (5.5).  Files are replaced atomically.\n"
                "    'liaison roster COMMAND --help' describes one command.\n\n");
    for (size_t i = 0; i < n; i++) {
        if (one == n || i == one)
            fprintf(out, "%s%s%s", one == n ? "  " : "", one == n ? roster_subs[i].name : "",
                    one == n ? "\n" : "");
        if (one == n || i == one)
            fputs(roster_subs[i].text, out);
    }
    fprintf(out,
            "\nOPTIONS\n"
            "    --accepts 'P ...'     kind patterns the agency accepts: watchlist.query,\n"
            "                          mlat.*, or * (space separated)\n"
            "    --reason TEXT         why the key is revoked (kept in the roster)\n"
            "    --sign NATION-KEY     sign the changed section again with this nation key\n"
            "    --key NATION-KEY      the nation key that signs (sign)\n"
            "    --nation-card CARD    a partner's (or one's own) nation card; repeatable\n"
            "    --out FILE            where export writes (default: stdout)\n"
            "    --json                machine-readable output (show)\n\n"
            "EXIT STATUS\n"
            "    0 done; 1 verify or import found a problem; 64 bad usage; 65 a file does\n"
            "    not parse; 66 a file is missing; 73 the roster cannot be written.\n");
}

static int
load_roster(const char *path, proto_roster **r, bool create)
{
    proto_detail d = {{0}, {0}};
    proto_err err = proto_roster_load(path, r, &d);

    if (err == PROTO_ERR_IO && create && access(path, F_OK) != 0) {
        static const char empty[] = "liaison-roster 1\n";

        return proto_roster_parse(empty, sizeof(empty) - 1, r, &d) == PROTO_OK ? EX_OK
                                                                               : EX_SOFTWARE;
    }
    if (err != PROTO_OK) {
        cli_error("roster", "%s", d.text);
        return err == PROTO_ERR_IO ? EX_NOINPUT : EX_DATAERR;
    }
    return EX_OK;
}

/* Writes len bytes of text next to path and renames them over path. */
static int
write_atomic(const char *path, const char *text, size_t len)
{
    char tmp[4096];
    FILE *f;
    int rc = EX_OK;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    f = fopen(tmp, "wb");
    if (f == NULL || fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        cli_error("roster", "cannot write %s: %s", tmp, strerror(errno));
        rc = EX_CANTCREAT;
    }
    if (f != NULL && fclose(f) != 0)
        rc = EX_CANTCREAT;
    if (rc == EX_OK && rename(tmp, path) != 0) {
        cli_error("roster", "cannot replace %s: %s", path, strerror(errno));
        rc = EX_CANTCREAT;
    }
    if (rc != EX_OK)
        unlink(tmp);
    return rc;
}

/* Writes the roster over path, atomically. */
static int
save_roster(const proto_roster *r, const char *path)
{
    char *text = NULL;
    size_t len;
    proto_err err = proto_roster_format(r, &text, &len);
    int rc;

    if (err != PROTO_OK) {
        cli_error("roster", "cannot write %s: %s", path, proto_strerror(err));
        return EX_SOFTWARE;
    }
    rc = write_atomic(path, text, len);
    free(text);
    return rc;
}

/* Loads a nation key; the error names the file, the line and the reason. */
static int
load_nation_key(const char *path, proto_nation_key **k)
{
    proto_detail d = {{0}, {0}};
    proto_err err = proto_nation_key_load(path, k, &d);

    if (err == PROTO_OK)
        return EX_OK;
    cli_error("roster", "%s", d.text);
    return err == PROTO_ERR_IO ? EX_NOINPUT : err == PROTO_ERR_PERMISSION ? EX_NOPERM : EX_DATAERR;
}

/* Signs the section of k's nation in r and says so. */
static int
sign_section(proto_roster *r, const proto_nation_key *k)
{
    proto_detail d = {{0}, {0}};
    uint64_t serial = 0;

    if (proto_roster_section_sign(r, k, &d) != PROTO_OK) {
        cli_error("roster", "cannot sign the section of %s: %s", k->nation, d.text);
        return EX_DATAERR;
    }
    (void)proto_roster_section_find(r, k->nation, &serial, NULL);
    printf("%s section serial %llu signed (%zu cards)\n", k->nation, (unsigned long long)serial,
           proto_roster_section_cards(r, k->nation));
    return EX_OK;
}

/*
 * Before a change to a card of nation: with sign_path, loads the nation key
 * (which must be that nation's) into *k; without, refuses when the nation's
 * section is signed, since the change would break its signature.
 */
static int
prepare_change(const proto_roster *r, const char *path, const char *nation,
               const char *sign_path, proto_nation_key **k)
{
    int rc;

    if (sign_path == NULL) {
        if (!proto_roster_section_find(r, nation, NULL, NULL))
            return EX_OK;
        cli_error("roster",
                  "%s: the cards of %s are in its signed section; give --sign with the nation "
                  "key of %s to change them and sign the section again",
                  path, nation, nation);
        return EX_USAGE;
    }
    if ((rc = load_nation_key(sign_path, k)) != EX_OK)
        return rc;
    if (strcmp((*k)->nation, nation) != 0) {
        cli_error("roster", "%s is the nation key of %s, not of %s", sign_path, (*k)->nation,
                  nation);
        proto_nation_key_destroy(k);
        return EX_USAGE;
    }
    return EX_OK;
}

static int
roster_show(const char *path, bool json)
{
    proto_roster *r = NULL;
    json_t *arr = json ? json_array() : NULL;
    int rc = load_roster(path, &r, false);

    if (rc != EX_OK)
        return rc;
    for (size_t i = 0; i < proto_roster_count(r); i++) {
        const proto_roster_entry *e = proto_roster_at(r, i);
        char addr[PROTO_ADDR_TEXT_MAX + 1], accepts[PROTO_ACCEPTS_MAX * (PROTO_KIND_MAX + 1) + 1] = "";
        char h[65];

        proto_addr_format(&e->card.addr, addr, sizeof(addr));
        for (size_t k = 0; k < e->accept_count; k++) {
            if (k > 0)
                strcat(accepts, " ");
            strcat(accepts, e->accepts[k]);
        }
        if (json) {
            json_t *o = json_object();

            json_object_set_new(o, "identity", json_string(addr));
            json_object_set_new(o, "kind", json_string(e->card.addr.kind == PROTO_ADDR_BROKER
                                                           ? "broker"
                                                           : "agency"));
            json_object_set_new(o, "accepts", json_string(accepts));
            json_object_set_new(o, "sign_public",
                                json_string(proto_hex(e->card.sign_public, 32, h)));
            json_object_set_new(o, "curve_public",
                                json_string(proto_hex(e->card.curve_public, 32, h)));
            json_object_set_new(o, "revoked", json_boolean(e->revoked));
            if (e->revoked) {
                json_object_set_new(o, "revoked_ms", json_integer((json_int_t)e->revoked_ms));
                json_object_set_new(o, "reason", json_string(e->reason));
            }
            json_array_append_new(arr, o);
        } else {
            printf("%-20s %-7s %s%s%s%s\n", addr,
                   e->card.addr.kind == PROTO_ADDR_BROKER ? "broker" : "agency",
                   proto_hex(e->card.sign_public, 8, h), accepts[0] ? "  accepts " : "", accepts,
                   e->revoked ? "  REVOKED" : "");
        }
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(arr);
    }
    proto_roster_destroy(&r);
    return EX_OK;
}

static int
roster_add(const char *path, const char *card_path, const char *accepts, const char *sign_path)
{
    proto_nation_key *k = NULL;
    proto_roster *r = NULL;
    proto_roster_entry e;
    proto_detail d = {{0}, {0}};
    char text[4096];
    FILE *f;
    size_t n;
    int rc;

    f = fopen(card_path, "rb");
    if (f == NULL) {
        cli_error("roster", "cannot open card %s: %s", card_path, strerror(errno));
        return EX_NOINPUT;
    }
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    memset(&e, 0, sizeof(e));
    if (proto_card_parse(text, &e.card, &d) != PROTO_OK) {
        cli_error("roster", "%s: %s", card_path, d.text);
        return EX_DATAERR;
    }
    if (accepts != NULL) {
        char copy[1024], *tok, *save = NULL;

        snprintf(copy, sizeof(copy), "%s", accepts);
        for (tok = strtok_r(copy, " ,", &save); tok != NULL; tok = strtok_r(NULL, " ,", &save)) {
            if (e.accept_count == PROTO_ACCEPTS_MAX || strlen(tok) > PROTO_KIND_MAX) {
                cli_error("roster", "--accepts: at most %u patterns of %u characters",
                          PROTO_ACCEPTS_MAX, PROTO_KIND_MAX);
                return EX_USAGE;
            }
            snprintf(e.accepts[e.accept_count++], sizeof(e.accepts[0]), "%s", tok);
        }
    }
    if ((rc = load_roster(path, &r, true)) != EX_OK)
        return rc;
    if ((rc = prepare_change(r, path, e.card.addr.nation, sign_path, &k)) != EX_OK) {
        proto_roster_destroy(&r);
        return rc;
    }
    if (proto_roster_add(r, &e, &d) != PROTO_OK) {
        cli_error("roster", "cannot add %s: %s", card_path, d.text);
        proto_roster_destroy(&r);
        proto_nation_key_destroy(&k);
        return EX_DATAERR;
    }
    if (k != NULL) {
        rc = sign_section(r, k);
        proto_nation_key_destroy(&k);
        if (rc != EX_OK) {
            proto_roster_destroy(&r);
            return rc;
        }
    }
    /* Check the accepts patterns by parsing what will be written. */
    {
        char *out = NULL;
        size_t len;
        proto_roster *again = NULL;

        if (proto_roster_format(r, &out, &len) != PROTO_OK ||
            proto_roster_parse(out, len, &again, &d) != PROTO_OK) {
            cli_error("roster", "%s", d.text[0] ? d.text : "the roster would not parse");
            free(out);
            proto_roster_destroy(&r);
            return EX_USAGE;
        }
        free(out);
        proto_roster_destroy(&again);
    }
    rc = save_roster(r, path);
    proto_roster_destroy(&r);
    return rc;
}

static int
roster_revoke(const char *path, const char *who, const char *reason, const char *sign_path)
{
    proto_nation_key *k = NULL;
    proto_roster *r = NULL;
    proto_addr addr;
    proto_detail d = {{0}, {0}};
    struct timespec ts;
    int rc;

    if (proto_addr_parse(who, &addr, &d) != PROTO_OK) {
        cli_error("roster", "'%s': %s", who, d.text);
        return EX_USAGE;
    }
    if ((rc = load_roster(path, &r, false)) != EX_OK)
        return rc;
    if ((rc = prepare_change(r, path, addr.nation, sign_path, &k)) != EX_OK) {
        proto_roster_destroy(&r);
        return rc;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    if (proto_roster_revoke(r, &addr, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
                            reason) != PROTO_OK) {
        cli_error("roster", "%s has no active card to revoke", who);
        proto_roster_destroy(&r);
        proto_nation_key_destroy(&k);
        return EX_DATAERR;
    }
    if (k != NULL) {
        rc = sign_section(r, k);
        proto_nation_key_destroy(&k);
        if (rc != EX_OK) {
            proto_roster_destroy(&r);
            return rc;
        }
    }
    rc = save_roster(r, path);
    proto_roster_destroy(&r);
    if (rc == EX_OK)
        printf("%s revoked in %s; reload the brokers (SIGHUP) to refuse its keys\n", who, path);
    return rc;
}

/* Prints "IDENTITY  SHA256 xxxx xxxx ..." (16 groups of 4 hex digits) for card. */
static void
print_fingerprint(const proto_card *card, const char *note)
{
    uint8_t fp[PROTO_HASH_BYTES];
    char addr[PROTO_ADDR_TEXT_MAX + 1], hex[2 * PROTO_HASH_BYTES + 1];

    proto_card_fingerprint(card, fp);
    proto_hex(fp, sizeof(fp), hex);
    printf("%-16s SHA256", proto_addr_format(&card->addr, addr, sizeof(addr)));
    for (size_t i = 0; i < sizeof(hex) - 1; i += 4)
        printf(" %.4s", hex + i);
    printf("%s\n", note);
}

/*
 * The fingerprint of a card file, or of the cards of a roster (all, or the
 * one of address, with its revoked cards): what two operators read to each
 * other to know they hold the same keys.
 */
static int
roster_fingerprint(const char *path, const char *address)
{
    proto_roster *r = NULL;
    proto_addr addr;
    proto_detail d = {{0}, {0}};
    uint8_t *text = NULL;
    size_t len = 0, shown = 0;
    int rc;

    if (address != NULL && proto_addr_parse(address, &addr, &d) != PROTO_OK) {
        cli_error("roster", "'%s': %s", address, d.text);
        return EX_USAGE;
    }
    if (cli_read_file(path, &text, &len) != 0) {
        cli_error("roster", "%s: %s", path, strerror(errno));
        return EX_NOINPUT;
    }
    text[len] = '\0';
    if (strncmp((const char *)text, "liaison-nation-card 1\n", 22) == 0) {
        proto_nation_card card;
        uint8_t fp[PROTO_HASH_BYTES];
        char hex[2 * PROTO_HASH_BYTES + 1], label[32];

        rc = EX_OK;
        if (proto_nation_card_parse((const char *)text, len, &card, &d) != PROTO_OK) {
            cli_error("roster", "%s: %s", path, d.text);
            rc = EX_DATAERR;
        } else if (address != NULL && strcmp(address, card.nation) != 0) {
            cli_error("roster", "%s is the nation card of %s, not of %s", path, card.nation,
                      address);
            rc = EX_DATAERR;
        } else {
            proto_nation_card_fingerprint(&card, fp);
            proto_hex(fp, sizeof(fp), hex);
            snprintf(label, sizeof(label), "nation %s", card.nation);
            printf("%-16s SHA256", label);
            for (size_t i = 0; i < sizeof(hex) - 1; i += 4)
                printf(" %.4s", hex + i);
            printf("\n");
        }
        free(text);
        return rc;
    }
    if (strncmp((const char *)text, "liaison-card 1\n", 15) == 0) {
        proto_card card;

        rc = EX_OK;
        if (proto_card_parse((const char *)text, &card, &d) != PROTO_OK) {
            cli_error("roster", "%s: %s", path, d.text);
            rc = EX_DATAERR;
        } else if (address != NULL && !proto_addr_equal(&card.addr, &addr)) {
            cli_error("roster", "%s is the card of another identity", path);
            rc = EX_DATAERR;
        } else {
            print_fingerprint(&card, "");
        }
        free(text);
        return rc;
    }
    free(text);
    if ((rc = load_roster(path, &r, false)) != EX_OK)
        return rc;
    for (size_t i = 0; i < proto_roster_count(r); i++) {
        const proto_roster_entry *e = proto_roster_at(r, i);

        if (address != NULL && !proto_addr_equal(&e->card.addr, &addr))
            continue;
        print_fingerprint(&e->card, e->revoked ? "  (revoked)" : "");
        shown++;
    }
    proto_roster_destroy(&r);
    if (address != NULL && shown == 0) {
        cli_error("roster", "%s has no card of %s", path, address);
        return EX_DATAERR;
    }
    return EX_OK;
}

#define NATION_CARDS_MAX 64u /* --nation-card options one command takes */

/* The --nation-card files given, loaded. */
typedef struct nation_cards {
    proto_nation_card cards[NATION_CARDS_MAX]; /* parsed */
    const char *paths[NATION_CARDS_MAX];       /* the files they came from */
    size_t count;                              /* entries in use */
} nation_cards;

/* Loads every --nation-card; one card per nation. */
static int
load_nation_cards(nation_cards *nc)
{
    for (size_t i = 0; i < nc->count; i++) {
        proto_detail d = {{0}, {0}};
        proto_err err = proto_nation_card_load(nc->paths[i], &nc->cards[i], &d);

        if (err != PROTO_OK) {
            cli_error("roster", "%s", d.text);
            return err == PROTO_ERR_IO ? EX_NOINPUT : EX_DATAERR;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(nc->cards[j].nation, nc->cards[i].nation) == 0) {
                cli_error("roster", "%s and %s are both nation cards of %s", nc->paths[j],
                          nc->paths[i], nc->cards[i].nation);
                return EX_USAGE;
            }
        }
    }
    return EX_OK;
}

/* The index of the card of nation in nc, or nc->count. */
static size_t
nation_card_of(const nation_cards *nc, const char *nation)
{
    size_t i;

    for (i = 0; i < nc->count; i++) {
        if (strcmp(nc->cards[i].nation, nation) == 0)
            break;
    }
    return i;
}

static int
roster_sign(const char *path, const char *key_path)
{
    proto_nation_key *k = NULL;
    proto_roster *r = NULL;
    int rc;

    if ((rc = load_nation_key(key_path, &k)) != EX_OK)
        return rc;
    if ((rc = load_roster(path, &r, false)) == EX_OK && (rc = sign_section(r, k)) == EX_OK)
        rc = save_roster(r, path);
    proto_nation_key_destroy(&k);
    proto_roster_destroy(&r);
    return rc;
}

static int
roster_export(const char *path, const char *nation, const char *out)
{
    proto_roster *r = NULL;
    char *text = NULL;
    size_t len = 0;
    proto_err err;
    int rc;

    if ((rc = load_roster(path, &r, false)) != EX_OK)
        return rc;
    err = proto_roster_section_text(r, nation, &text, &len);
    proto_roster_destroy(&r);
    if (err != PROTO_OK) {
        cli_error("roster", "%s: %s", path,
                  err == PROTO_ERR_NOT_FOUND ? "no signed section of that nation (liaison "
                                               "roster sign makes one)"
                                             : proto_strerror(err));
        return EX_DATAERR;
    }
    if (out == NULL) {
        rc = fwrite(text, 1, len, stdout) == len ? EX_OK : EX_IOERR;
    } else {
        rc = write_atomic(out, text, len);
        if (rc == EX_OK)
            fprintf(stderr, "%s: section of %s written to %s\n", path, nation, out);
    }
    free(text);
    return rc;
}

/*
 * liaison roster import: each signed section of file whose signature
 * verifies with the given card of its nation, and whose serial is higher
 * than the held one, replaces that nation's cards in the roster at path.
 */
static int
roster_import(const char *path, const char *file, nation_cards *nc)
{
    proto_roster *r = NULL, *in = NULL;
    proto_detail d = {{0}, {0}};
    uint8_t *text = NULL;
    size_t len = 0, taken = 0, refused = 0, unsigned_cards = 0;
    int rc;

    if ((rc = load_nation_cards(nc)) != EX_OK)
        return rc;
    if (cli_read_file(file, &text, &len) != 0) {
        cli_error("roster", "%s: %s", file, strerror(errno));
        return EX_NOINPUT;
    }
    /* Its sections are checked against the cards, not against who may write
     * the file, so it is read as it is (from a partner's mail, say). */
    if (proto_roster_parse((const char *)text, len, &in, &d) != PROTO_OK) {
        cli_error("roster", "%s: %s", file, d.text);
        free(text);
        return EX_DATAERR;
    }
    free(text);
    if ((rc = load_roster(path, &r, true)) != EX_OK) {
        proto_roster_destroy(&in);
        return rc;
    }
    for (size_t i = 0; i < proto_roster_count(in); i++)
        unsigned_cards += !proto_roster_entry_signed(in, proto_roster_at(in, i));
    for (size_t i = 0; i < proto_roster_section_count(in); i++) {
        char nation[PROTO_NATION_LEN + 1];
        uint64_t serial = 0, held = 0;
        size_t c;

        (void)proto_roster_section_at(in, i, nation, &serial, NULL);
        c = nation_card_of(nc, nation);
        if (c == nc->count) {
            printf("skipped %s section serial %llu: no --nation-card of %s given\n", nation,
                   (unsigned long long)serial, nation);
            refused++;
        } else if (proto_roster_section_verify(in, nation, nc->cards[c].sign_public) !=
                   PROTO_OK) {
            printf("skipped %s section serial %llu: its signature does not verify with %s\n",
                   nation, (unsigned long long)serial, nc->paths[c]);
            refused++;
        } else if (proto_roster_section_find(r, nation, &held, NULL) && held >= serial) {
            printf("skipped %s section serial %llu: %s holds serial %llu\n", nation,
                   (unsigned long long)serial, path, (unsigned long long)held);
        } else if (proto_roster_section_replace(r, in, nation, &d) != PROTO_OK) {
            printf("skipped %s section serial %llu: %s\n", nation, (unsigned long long)serial,
                   d.text);
            refused++;
        } else {
            printf("took %s section serial %llu (%zu cards)\n", nation,
                   (unsigned long long)serial, proto_roster_section_cards(r, nation));
            taken++;
        }
    }
    if (unsigned_cards > 0)
        printf("skipped %zu unsigned cards of %s (only signed sections are taken)\n",
               unsigned_cards, file);
    if (taken > 0)
        rc = save_roster(r, path);
    proto_roster_destroy(&r);
    proto_roster_destroy(&in);
    if (rc == EX_OK && refused > 0)
        rc = 1;
    return rc;
}

/*
 * liaison roster verify: the roster parses and keeps every rule; each
 * section is listed with its signature checked against the given nation
 * cards; unsigned cards are listed.
 */
static int
roster_verify(const char *path, nation_cards *nc)
{
    proto_roster *r = NULL;
    size_t problems = 0, unsigned_count = 0;
    int rc;

    if ((rc = load_nation_cards(nc)) != EX_OK)
        return rc;
    rc = load_roster(path, &r, false);
    if (rc == EX_DATAERR)
        return 1;
    if (rc != EX_OK)
        return rc;
    printf("%s: %zu cards, valid\n", path, proto_roster_count(r));
    for (size_t i = 0; i < proto_roster_section_count(r); i++) {
        char nation[PROTO_NATION_LEN + 1];
        const char *verdict = "unchecked";
        uint64_t serial = 0;
        size_t c;

        (void)proto_roster_section_at(r, i, nation, &serial, NULL);
        c = nation_card_of(nc, nation);
        if (c < nc->count) {
            bool good = proto_roster_section_verify(r, nation, nc->cards[c].sign_public) ==
                        PROTO_OK;

            verdict = good ? "good" : "BAD";
            problems += !good;
        } else if (nc->count > 0) {
            verdict = "unchecked (no --nation-card of this nation)";
            problems++;
        }
        printf("section %s serial %llu: %zu cards, signature %s\n", nation,
               (unsigned long long)serial, proto_roster_section_cards(r, nation), verdict);
    }
    for (size_t i = 0; i < nc->count; i++) {
        if (!proto_roster_section_find(r, nc->cards[i].nation, NULL, NULL)) {
            printf("no section of %s, whose nation card %s was given\n", nc->cards[i].nation,
                   nc->paths[i]);
            problems++;
        }
    }
    for (size_t i = 0; i < proto_roster_count(r); i++) {
        const proto_roster_entry *e = proto_roster_at(r, i);
        char addr[PROTO_ADDR_TEXT_MAX + 1];

        if (proto_roster_entry_signed(r, e))
            continue;
        printf("unsigned card %s%s\n", proto_addr_format(&e->card.addr, addr, sizeof(addr)),
               e->revoked ? " (revoked)" : "");
        unsigned_count++;
    }
    if (nc->count > 0 && unsigned_count > 0)
        problems++;
    proto_roster_destroy(&r);
    if (problems > 0) {
        fprintf(stderr, "liaison roster: %s: the signatures do not all check out (see above)\n",
                path);
        return 1;
    }
    return EX_OK;
}

int
cli_roster_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"accepts", required_argument, NULL, 'a'},
        {"reason", required_argument, NULL, 'r'},
        {"sign", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"nation-card", required_argument, NULL, 'n'},
        {"out", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *accepts = NULL, *reason = NULL, *sign = NULL, *key = NULL, *out = NULL, *sub;
    static nation_cards nc; /* large; one command a process */
    bool json = false, help = false;
    int opt, rest;

    optind = 1;
    nc.count = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'a': accepts = optarg; break;
        case 'r': reason = optarg; break;
        case 's': sign = optarg; break;
        case 'k': key = optarg; break;
        case 'o': out = optarg; break;
        case 'n':
            if (nc.count == NATION_CARDS_MAX) {
                cli_error("roster", "at most %u --nation-card options", NATION_CARDS_MAX);
                return EX_USAGE;
            }
            nc.paths[nc.count++] = optarg;
            break;
        case 'j': json = true; break;
        case 'h': help = true; break;
        default: roster_usage(stderr, NULL); return EX_USAGE;
        }
    }
    rest = argc - optind;
    sub = rest > 0 ? argv[optind] : "";
    if (help) {
        roster_usage(stdout, sub);
        return EX_OK;
    }
    if (strcmp(sub, "show") == 0 && rest == 2)
        return roster_show(argv[optind + 1], json);
    if (strcmp(sub, "verify") == 0 && rest == 2)
        return roster_verify(argv[optind + 1], &nc);
    if (strcmp(sub, "fingerprint") == 0 && (rest == 2 || rest == 3))
        return roster_fingerprint(argv[optind + 1], rest == 3 ? argv[optind + 2] : NULL);
    if (strcmp(sub, "add") == 0 && rest == 3)
        return roster_add(argv[optind + 1], argv[optind + 2], accepts, sign);
    if (strcmp(sub, "revoke") == 0 && rest == 3) {
        if (reason == NULL) {
            cli_error("roster", "revoke needs --reason TEXT");
            return EX_USAGE;
        }
        return roster_revoke(argv[optind + 1], argv[optind + 2], reason, sign);
    }
    if (strcmp(sub, "sign") == 0 && rest == 2) {
        if (key == NULL) {
            cli_error("roster", "sign needs --key NATION-KEY");
            return EX_USAGE;
        }
        return roster_sign(argv[optind + 1], key);
    }
    if (strcmp(sub, "import") == 0 && rest == 3)
        return roster_import(argv[optind + 1], argv[optind + 2], &nc);
    if (strcmp(sub, "export") == 0 && rest == 3)
        return roster_export(argv[optind + 1], argv[optind + 2], out);
    cli_error("roster", "expected show, add, revoke, sign, import, export, verify or "
                        "fingerprint with their arguments (see --help)");
    return EX_USAGE;
}
