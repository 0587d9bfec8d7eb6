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
            "    liaison keygen ADDRESS --key FILE [--card FILE] [--json]\n\n"
            "DESCRIPTION\n"
            "    Generates an Ed25519 signing key, an X25519 box key and a CURVE transport\n"
            "    key for ADDRESS (an agency such as USA/FBI, or a broker such as USA).  The\n"
            "    secret key file is created with mode 0600 and never overwritten; the public\n"
            "    card, which operators exchange for the roster, goes to --card (or stdout).\n\n"
            "OPTIONS\n"
            "    --key FILE    where to write the secret key file (must not exist)\n"
            "    --card FILE   where to write the public card (default: stdout)\n"
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

int
cli_keygen_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"card", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *card_path = NULL;
    bool json = false;
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
        case 'h': keygen_usage(stdout); return EX_OK;
        default: keygen_usage(stderr); return EX_USAGE;
        }
    }
    if (optind + 1 != argc || key == NULL) {
        cli_error("keygen", "an ADDRESS and --key FILE are required (see --help)");
        return EX_USAGE;
    }
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

static void
roster_usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    liaison roster - show, extend, revoke and verify the federation roster\n\n"
            "SYNOPSIS\n"
            "    liaison roster show ROSTER [--json]\n"
            "    liaison roster add ROSTER CARD [--accepts 'PATTERN ...']\n"
            "    liaison roster revoke ROSTER ADDRESS --reason TEXT\n"
            "    liaison roster verify ROSTER\n"
            "    liaison roster fingerprint CARD|ROSTER [ADDRESS]\n\n"
            "DESCRIPTION\n"
            "    The roster lists every identity of the federation with its public keys,\n"
            "    the message kinds it accepts (agencies) and revocations (docs/protocol.md,\n"
            "    \"Roster\").  add appends a card (creating the roster if it does not exist);\n"
            "    revoke marks the identity's active card revoked, so that brokers refuse its\n"
            "    keys once they reload (SIGHUP).  Files are replaced atomically.\n"
            "    fingerprint prints the SHA-256 of a card (a card file, or the cards of a\n"
            "    roster, or those of ADDRESS in it) in groups of four hex digits: read it\n"
            "    to the card's owner over another channel, at the key ceremony, before\n"
            "    adding the card (docs/protocol.md 5.2).\n\n"
            "OPTIONS\n"
            "    --accepts 'P ...'  kind patterns the agency accepts: watchlist.query,\n"
            "                       mlat.*, or * (space separated)\n"
            "    --reason TEXT      why the key is revoked (kept in the roster)\n"
            "    --json             machine-readable output\n\n"
            "EXIT STATUS\n"
            "    0 done; 1 verify found a problem; 64 bad usage; 65 a file does not parse;\n"
            "    66 a file is missing; 73 the roster cannot be written.\n");
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

/* Writes the roster next to path and renames it over path. */
static int
save_roster(const proto_roster *r, const char *path)
{
    char tmp[4096], *text = NULL;
    size_t len;
    FILE *f;
    int rc = EX_OK;

    if (proto_roster_format(r, &text, &len) != PROTO_OK)
        return EX_SOFTWARE;
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
    free(text);
    return rc;
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
roster_add(const char *path, const char *card_path, const char *accepts)
{
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
    if (proto_roster_add(r, &e, &d) != PROTO_OK) {
        cli_error("roster", "cannot add %s: %s", card_path, d.text);
        proto_roster_destroy(&r);
        return EX_DATAERR;
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
roster_revoke(const char *path, const char *who, const char *reason)
{
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
    clock_gettime(CLOCK_REALTIME, &ts);
    if (proto_roster_revoke(r, &addr, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
                            reason) != PROTO_OK) {
        cli_error("roster", "%s has no active card to revoke", who);
        proto_roster_destroy(&r);
        return EX_DATAERR;
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

int
cli_roster_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"accepts", required_argument, NULL, 'a'},
        {"reason", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *accepts = NULL, *reason = NULL, *sub;
    bool json = false;
    int opt, rest;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'a': accepts = optarg; break;
        case 'r': reason = optarg; break;
        case 'j': json = true; break;
        case 'h': roster_usage(stdout); return EX_OK;
        default: roster_usage(stderr); return EX_USAGE;
        }
    }
    rest = argc - optind;
    sub = rest > 0 ? argv[optind] : "";
    if (strcmp(sub, "show") == 0 && rest == 2)
        return roster_show(argv[optind + 1], json);
    if (strcmp(sub, "verify") == 0 && rest == 2) {
        proto_roster *r = NULL;
        int rc = load_roster(argv[optind + 1], &r, false);

        if (rc == EX_DATAERR)
            return 1;
        if (rc == EX_OK)
            printf("%s: %zu cards, valid\n", argv[optind + 1], proto_roster_count(r));
        proto_roster_destroy(&r);
        return rc;
    }
    if (strcmp(sub, "fingerprint") == 0 && (rest == 2 || rest == 3))
        return roster_fingerprint(argv[optind + 1], rest == 3 ? argv[optind + 2] : NULL);
    if (strcmp(sub, "add") == 0 && rest == 3)
        return roster_add(argv[optind + 1], argv[optind + 2], accepts);
    if (strcmp(sub, "revoke") == 0 && rest == 3) {
        if (reason == NULL) {
            cli_error("roster", "revoke needs --reason TEXT");
            return EX_USAGE;
        }
        return roster_revoke(argv[optind + 1], argv[optind + 2], reason);
    }
    cli_error("roster",
              "expected show, add, revoke, verify or fingerprint with their arguments (see --help)");
    return EX_USAGE;
}
