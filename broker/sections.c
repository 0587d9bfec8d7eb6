/* Signed roster sections: the checks of signed roster mode, the sections
 * partners send (kept under data_dir/rosters/), the roster and roster-ack
 * commands, and the merged roster written to data_dir/roster. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "broker.h"

/* ---- Files ------------------------------------------------------------------ */

/* Writes len bytes of text to dir/name durably: a temporary file, fsync,
 * rename over name, fsync of dir (made 0700 if missing).  -1 with the
 * reason in why. */
static int
write_durably(const char *dir, const char *name, const char *text, size_t len, char *why,
              size_t why_len)
{
    char tmp[BROKER_CONFIG_PATH_MAX + 64], path[BROKER_CONFIG_PATH_MAX + 64];
    int fd = -1, dfd = -1, rc = -1;
    size_t done = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_len, "%.300s: %.150s", dir, strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, why_len, "%.300s: %.150s", tmp, strerror(errno));
        goto out;
    }
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(why, why_len, "%.300s: %.150s", tmp, n < 0 ? strerror(errno) : "short write");
            goto out;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        snprintf(why, why_len, "%.300s: %.150s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(why, why_len, "%.300s: %.150s", path, strerror(errno));
        goto out;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        snprintf(why, why_len, "%.300s: %.150s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (dfd >= 0)
        close(dfd);
    return rc;
}

/* The directory of the sections partners sent. */
static void
rosters_dir(const broker *b, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s/rosters", b->cfg->data_dir);
}

/* ---- Signed roster mode: what a roster may hold ---------------------------- */

/* The pinned nation key of nation: this broker's or a peer's of cfg; NULL
 * when it is neither. */
static const uint8_t *
pin_of(const broker *b, const broker_config *cfg, const char *nation)
{
    const broker_config_peer *p;

    if (strcmp(nation, b->cfg->nation) == 0)
        return b->cfg->nation_key;
    p = broker_config_peer_find(cfg, nation);
    return p != NULL && p->has_nation_key ? p->nation_key : NULL;
}

/* Replaces the section of peer in r with the one stored under
 * data_dir/rosters/ when that one's serial is higher and it verifies with
 * pin; a stored file that does not load or verify is logged and left out. */
static void
merge_stored(const broker *b, proto_roster *r, const char *peer, const uint8_t *pin)
{
    char dir[BROKER_CONFIG_PATH_MAX], path[BROKER_CONFIG_PATH_MAX + 32];
    proto_detail d = {{0}, {0}};
    proto_roster *stored = NULL;
    uint64_t held = 0, serial = 0;
    struct stat st;

    rosters_dir(b, dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/%s.roster", dir, peer);
    if (stat(path, &st) != 0)
        return; /* nothing received from it yet */
    if (proto_roster_load(path, &stored, &d) != PROTO_OK) {
        PROTO_LOG(PROTO_LOG_WARN, "B-ROSTER-STORED", "peer=%s file=%s error=\"%s\" action=\"not used\"",
                  peer, path, d.text);
        return;
    }
    if (!proto_roster_section_find(stored, peer, &serial, NULL) ||
        proto_roster_section_verify(stored, peer, pin) != PROTO_OK) {
        PROTO_LOG(PROTO_LOG_WARN, "B-ROSTER-STORED",
                  "peer=%s file=%s error=\"no section of %s that verifies with its pinned "
                  "nation key\" action=\"not used\"",
                  peer, path, peer);
        goto out;
    }
    (void)proto_roster_section_find(r, peer, &held, NULL);
    if (serial <= held)
        goto out; /* the configured roster has it, or a newer one */
    if (proto_roster_section_replace(r, stored, peer, &d) != PROTO_OK) {
        PROTO_LOG(PROTO_LOG_WARN, "B-ROSTER-STORED",
                  "peer=%s file=%s serial=%llu error=\"%s\" action=\"not used\"", peer, path,
                  (unsigned long long)serial, d.text);
        goto out;
    }
    PROTO_LOG(PROTO_LOG_INFO, "B-ROSTER-STORED",
              "peer=%s serial=%llu configured_serial=%llu action=\"the section %s sent is used\"",
              peer, (unsigned long long)serial, (unsigned long long)held, peer);
out:
    proto_roster_destroy(&stored);
}

int
broker_roster_signed_check(const broker *b, const broker_config *cfg, proto_roster *r, char *why,
                           size_t why_len)
{
    if (!b->cfg->nation_keys)
        return EX_OK;
    if (proto_roster_has_unsigned(r)) {
        snprintf(why, why_len,
                 "%s has cards outside any section; with nation keys the broker takes only "
                 "signed sections (liaison roster sign)",
                 b->cfg->roster);
        return EX_CONFIG;
    }
    for (size_t i = 0; i < proto_roster_section_count(r); i++) {
        char nation[PROTO_NATION_LEN + 1];
        const uint8_t *pin;
        bool is_signed = false;
        proto_err err;

        (void)proto_roster_section_at(r, i, nation, NULL, &is_signed);
        pin = pin_of(b, cfg, nation);
        if (pin == NULL) {
            snprintf(why, why_len,
                     "%s: section of %s, which is neither this broker's nation nor a peer's",
                     b->cfg->roster, nation);
            return EX_CONFIG;
        }
        err = proto_roster_section_verify(r, nation, pin);
        if (err != PROTO_OK) {
            snprintf(why, why_len, "%s: section of %s: %s", b->cfg->roster, nation,
                     err == PROTO_ERR_NOMEM ? "out of memory"
                     : !is_signed           ? "not signed"
                                            : "its signature does not verify with the pinned "
                                              "nation key of " "that nation");
            return EX_CONFIG;
        }
    }
    for (size_t i = 0; i < cfg->peer_count; i++)
        merge_stored(b, r, cfg->peers[i].nation, cfg->peers[i].nation_key);
    return EX_OK;
}

/* ---- The roster in force: written out, own section ready to send ---------- */

void
broker_roster_publish(broker *b)
{
    char *text = NULL, *section = NULL, why[512];
    size_t len = 0, section_len = 0;
    uint64_t serial = 0;
    proto_err err;

    pthread_rwlock_rdlock(&b->roster.lock);
    err = proto_roster_format(b->roster.roster, &text, &len);
    if (b->cfg->nation_keys &&
        proto_roster_section_find(b->roster.roster, b->cfg->nation, &serial, NULL) &&
        proto_roster_section_text(b->roster.roster, b->cfg->nation, &section, &section_len) !=
            PROTO_OK) {
        section = NULL;
        serial = 0;
    }
    pthread_rwlock_unlock(&b->roster.lock);
    if (err != PROTO_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-ROSTER-WRITE", "file=%s/roster error=\"%s\"",
                  b->cfg->data_dir, proto_strerror(err));
    } else if (write_durably(b->cfg->data_dir, "roster", text, len, why, sizeof(why)) != 0) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-ROSTER-WRITE", "file=%s/roster error=\"%s\"",
                  b->cfg->data_dir, why);
    }
    free(text);
    if (!b->cfg->nation_keys)
        return;
    free(b->own_section);
    b->own_section = section;
    b->own_section_len = section_len;
    if (serial != b->own_serial) {
        /* Changed: every partner is sent it (now if up, else at link-up). */
        b->own_serial = serial;
        for (size_t i = 0; i < b->peer_count; i++)
            b->peers[i].roster_due = b->own_section != NULL;
    }
}

/* ---- Sending our section ------------------------------------------------------ */

void
broker_roster_send(broker *b, broker_peer *p)
{
    proto_cmd cmd;

    if (!p->roster_due || !p->up || p->sock == NULL || b->own_section == NULL)
        return;
    p->roster_due = false;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_ROSTER;
    cmd.corr = ++p->roster_corr;
    cmd.roster = (proto_slice){(const uint8_t *)b->own_section, b->own_section_len};
    if (broker_send(p->sock, NULL, 0, &cmd) != 0) {
        p->roster_due = true; /* tried again at the next tick */
        return;
    }
    p->roster_sent = b->own_serial;
    PROTO_LOG(PROTO_LOG_INFO, "B-ROSTER-SENT", "peer=%s serial=%llu bytes=%zu", p->nation,
              (unsigned long long)b->own_serial, b->own_section_len);
}

void
broker_peer_roster_ack(broker *b, broker_peer *p, const proto_cmd *cmd)
{
    char why[PROTO_TEXT_MAX], detail[STORE_DETAIL_MAX + 1];

    if (cmd->corr != p->roster_corr)
        return; /* the answer to an older send */
    if (cmd->code == 0 && cmd->serial >= p->roster_sent) {
        PROTO_LOG(PROTO_LOG_INFO, "B-ROSTER-ACKED", "peer=%s serial=%llu", p->nation,
                  (unsigned long long)cmd->serial);
        return;
    }
    proto_text_escape(cmd->text, strlen(cmd->text), why, sizeof(why));
    PROTO_LOG(PROTO_LOG_WARN, "B-ROSTER-NOT-TAKEN",
              "peer=%s serial=%llu held=%llu code=%s why=\"%s\" action=\"sent again at the next "
              "link-up or reload\"",
              p->nation, (unsigned long long)p->roster_sent, (unsigned long long)cmd->serial,
              proto_wire_code_name(cmd->code), why);
    snprintf(detail, sizeof(detail), "our roster section serial %llu not taken (%s): %.180s",
             (unsigned long long)p->roster_sent, proto_wire_code_name(cmd->code), why);
    broker_audit_item(b, STORE_EV_REJECTED, NULL, b->id->addr.nation, p->nation, NULL, "", NULL,
                      detail);
    broker_commit_kick(b);
}

/* ---- Receiving a partner's section ---------------------------------------------- */

/* Answers a roster command. */
static void
answer(broker *b, const uint8_t *rid, size_t rid_len, uint64_t corr, uint64_t serial,
       uint16_t code, const char *text)
{
    proto_cmd ack;

    memset(&ack, 0, sizeof(ack));
    ack.type = PROTO_CMD_ROSTER_ACK;
    ack.corr = corr;
    ack.serial = serial;
    ack.code = code;
    snprintf(ack.text, sizeof(ack.text), "%s", text);
    broker_fed_answer(b, rid, rid_len, &ack);
}

/* Refuses a partner's section: log, audit (rejected), answer. */
static void
refuse(broker *b, const proto_addr *peer, const uint8_t *rid, size_t rid_len, uint64_t corr,
       uint64_t held, uint16_t code, const char *why)
{
    char detail[STORE_DETAIL_MAX + 1];

    PROTO_LOG(PROTO_LOG_WARN, "B-ROSTER-REFUSED", "peer=%s code=%s why=\"%s\"", peer->nation,
              proto_wire_code_name(code), why);
    snprintf(detail, sizeof(detail), "roster section refused (%s): %.200s",
             proto_wire_code_name(code), why);
    broker_audit_item(b, STORE_EV_REJECTED, NULL, peer->nation, b->id->addr.nation, NULL, "",
                      NULL, detail);
    broker_commit_kick(b);
    answer(b, rid, rid_len, corr, held, code, why);
}

/* A copy of the roster in force (read-locked by the caller), through its
 * text; NULL when it cannot be made. */
static proto_roster *
roster_copy(const proto_roster *r)
{
    proto_detail d = {{0}, {0}};
    proto_roster *copy = NULL;
    char *text = NULL;
    size_t len = 0;

    if (proto_roster_format(r, &text, &len) == PROTO_OK &&
        proto_roster_parse(text, len, &copy, &d) != PROTO_OK)
        copy = NULL;
    free(text);
    return copy;
}

void
broker_fed_roster(broker *b, const proto_addr *peer, const uint8_t *rid, size_t rid_len,
                  const proto_cmd *cmd)
{
    proto_detail d = {{0}, {0}};
    proto_roster *got = NULL, *merged = NULL, *old = NULL;
    const broker_peer *p = NULL;
    char nation[PROTO_NATION_LEN + 1] = "", why[PROTO_TEXT_MAX], dir[BROKER_CONFIG_PATH_MAX];
    char name[16], hex[2 * PROTO_HASH_BYTES + 1], detail[STORE_DETAIL_MAX + 1];
    uint8_t hash[PROTO_HASH_BYTES];
    uint64_t serial = 0, held = 0;
    bool is_signed = false, active;
    const proto_roster_entry *e;
    proto_err err;

    p = broker_peer_find(b, peer->nation);
    pthread_rwlock_rdlock(&b->roster.lock);
    (void)proto_roster_section_find(b->roster.roster, peer->nation, &held, NULL);
    pthread_rwlock_unlock(&b->roster.lock);
    if (!b->cfg->nation_keys) {
        refuse(b, peer, rid, rid_len, cmd->corr, 0, PROTO_WIRE_UNSIGNED_MODE,
               "unsigned roster mode");
        return;
    }
    if (p == NULL)
        return; /* broker_fed_readable answers only configured peers */
    if (proto_roster_parse((const char *)cmd->roster.data, cmd->roster.len, &got, &d) != PROTO_OK) {
        snprintf(why, sizeof(why), "the roster text does not parse: %.200s", d.text);
        refuse(b, peer, rid, rid_len, cmd->corr, held, PROTO_WIRE_MALFORMED, why);
        goto out;
    }
    if (proto_roster_has_unsigned(got) || proto_roster_section_count(got) != 1) {
        snprintf(why, sizeof(why), "a roster command holds exactly one section and no card "
                                   "outside it, not %zu sections%s",
                 proto_roster_section_count(got),
                 proto_roster_has_unsigned(got) ? " and unsigned cards" : "");
        refuse(b, peer, rid, rid_len, cmd->corr, held, PROTO_WIRE_MALFORMED, why);
        goto out;
    }
    (void)proto_roster_section_at(got, 0, nation, &serial, &is_signed);
    if (strcmp(nation, peer->nation) != 0) {
        snprintf(why, sizeof(why), "a section of %s sent by %s: a nation sends only its own",
                 nation, peer->nation);
        refuse(b, peer, rid, rid_len, cmd->corr, held, PROTO_WIRE_SENDER, why);
        goto out;
    }
    err = proto_roster_section_verify(got, nation, p->nation_key);
    if (err != PROTO_OK) {
        snprintf(why, sizeof(why), "section of %s serial %llu: %s", nation,
                 (unsigned long long)serial,
                 !is_signed ? "not signed"
                            : "its signature does not verify with the pinned nation key");
        refuse(b, peer, rid, rid_len, cmd->corr, held,
               err == PROTO_ERR_NOMEM ? PROTO_WIRE_INTERNAL : PROTO_WIRE_SIGNATURE, why);
        goto out;
    }
    if (serial < held) {
        snprintf(why, sizeof(why), "section of %s serial %llu is older than the serial %llu held",
                 nation, (unsigned long long)serial, (unsigned long long)held);
        refuse(b, peer, rid, rid_len, cmd->corr, held, PROTO_WIRE_STALE, why);
        goto out;
    }
    if (serial == held) {
        answer(b, rid, rid_len, cmd->corr, held, 0, "held already");
        goto out;
    }
    pthread_rwlock_rdlock(&b->roster.lock);
    merged = roster_copy(b->roster.roster);
    pthread_rwlock_unlock(&b->roster.lock);
    if (merged == NULL) {
        refuse(b, peer, rid, rid_len, cmd->corr, held, PROTO_WIRE_INTERNAL,
               "the roster in force could not be copied");
        goto out;
    }
    if (proto_roster_section_replace(merged, got, nation, &d) != PROTO_OK) {
        snprintf(why, sizeof(why), "section of %s serial %llu: %.200s", nation,
                 (unsigned long long)serial, d.text);
        refuse(b, peer, rid, rid_len, cmd->corr, held, PROTO_WIRE_ROSTER_CONFLICT, why);
        goto out;
    }
    e = proto_roster_find(merged, peer);
    active = e != NULL && !e->revoked;
    if (!active) {
        snprintf(why, sizeof(why), "section of %s serial %llu holds no active card of broker %s",
                 nation, (unsigned long long)serial, nation);
        refuse(b, peer, rid, rid_len, cmd->corr, held, PROTO_WIRE_ROSTER_CONFLICT, why);
        goto out;
    }
    /* Durable before anything depends on it: a restart merges it again. */
    rosters_dir(b, dir, sizeof(dir));
    snprintf(name, sizeof(name), "%s.roster", nation);
    if (write_durably(dir, name, (const char *)cmd->roster.data, cmd->roster.len, why,
                      sizeof(why)) != 0) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-ROSTER-WRITE", "peer=%s error=\"%s\"", nation, why);
        answer(b, rid, rid_len, cmd->corr, held, PROTO_WIRE_INTERNAL,
               "the section could not be stored");
        goto out;
    }
    if (proto_roster_section_hash(got, nation, hash) != PROTO_OK)
        memset(hash, 0, sizeof(hash));
    proto_hex(hash, sizeof(hash), hex);
    PROTO_LOG(PROTO_LOG_INFO, "B-ROSTER-UPDATED",
              "peer=%s serial=%llu previous=%llu section_hash=%s action=\"applied as a roster "
              "reload\"",
              nation, (unsigned long long)serial, (unsigned long long)held, hex);
    snprintf(detail, sizeof(detail), "serial %llu (was %llu) section %s",
             (unsigned long long)serial, (unsigned long long)held, hex);
    broker_audit_item(b, STORE_EV_ROSTER_UPDATED, NULL, nation, b->id->addr.nation, NULL, "",
                      NULL, detail);
    pthread_rwlock_wrlock(&b->roster.lock);
    old = b->roster.roster;
    b->roster.roster = merged;
    merged = NULL;
    pthread_rwlock_unlock(&b->roster.lock);
    broker_revoke_sessions(b);
    broker_roster_publish(b);
    answer(b, rid, rid_len, cmd->corr, serial, 0, "");
out:
    proto_roster_destroy(&old);
    proto_roster_destroy(&merged);
    proto_roster_destroy(&got);
}
