/* Revocation: keys the roster no longer admits lose their open connections. */
#include <stdio.h>
#include <string.h>

#include "broker.h"

/* Whether the roster (read-locked by the caller) admits key as who's; why
 * gets the reason when it does not. */
static bool
admitted(const proto_roster *r, const uint8_t key[PROTO_CURVE_KEY_BYTES], const proto_addr *who,
         char *why, size_t why_len)
{
    const proto_roster_entry *e = proto_roster_find_curve(r, key);
    char addr[PROTO_ADDR_TEXT_MAX + 1];

    proto_addr_format(who, addr, sizeof(addr));
    if (e == NULL) {
        snprintf(why, why_len, "the key of %s is no longer in the roster", addr);
        return false;
    }
    if (e->revoked) {
        snprintf(why, why_len, "revoked key of %s", addr);
        return false;
    }
    if (!proto_addr_equal(&e->card.addr, who)) {
        snprintf(why, why_len, "the key %s connected with is no longer its own", addr);
        return false;
    }
    return true;
}

bool
broker_key_admitted(broker *b, const zmq_msg_t *frame, const proto_addr *who,
                    uint8_t key_out[PROTO_CURVE_KEY_BYTES], char *why, size_t why_len)
{
    /* libzmq checks a key once, at the handshake, and keeps the connection
     * after the roster changed: each command is checked again here. */
    const char *hex = zmq_msg_gets(frame, BROKER_KEY_PROPERTY);
    uint8_t key[PROTO_CURVE_KEY_BYTES];
    bool ok;

    if (hex == NULL || strlen(hex) != 2 * PROTO_CURVE_KEY_BYTES ||
        proto_unhex(hex, key, sizeof(key)) != PROTO_OK) {
        snprintf(why, why_len, "the connection names no key");
        return false;
    }
    pthread_rwlock_rdlock(&b->roster.lock);
    ok = admitted(b->roster.roster, key, who, why, why_len);
    pthread_rwlock_unlock(&b->roster.lock);
    if (key_out != NULL)
        memcpy(key_out, key, sizeof(key));
    return ok;
}

/* Closes s: nothing more goes to its connection, whose commands are refused
 * from now on (broker_key_admitted); what its queue holds stays there. */
static void
session_close(broker *b, broker_session *s, const char *why)
{
    char detail[256];

    PROTO_LOG(PROTO_LOG_WARN, "B-SESSION-REVOKED",
              "agency=%s why=\"%s\" action=\"closed: no delivery, its commands refused\"", s->dest,
              why);
    s->rid_len = 0;
    s->inflight = 0;
    s->cursor = 0;
    s->keyed = false;
    broker_metrics_inc(b->metrics, BROKER_METRICS_KEYS_REFUSED, 1);
    snprintf(detail, sizeof(detail), "open session closed at roster reload: %s", why);
    broker_audit_item(b, STORE_EV_KEY_REFUSED, NULL, s->dest, b->id->addr.nation, NULL, "", NULL,
                      detail);
}

void
broker_revoke_sessions(broker *b)
{
    for (size_t i = 0; i < b->session_count; i++) {
        broker_session *s = &b->sessions[i];
        char why[160];
        bool ok;

        if (s->rid_len == 0 || !s->keyed)
            continue;
        pthread_rwlock_rdlock(&b->roster.lock);
        ok = admitted(b->roster.roster, s->key, &s->addr, why, sizeof(why));
        pthread_rwlock_unlock(&b->roster.lock);
        if (!ok)
            session_close(b, s, why);
    }
    broker_peers_roster_changed(b);
    broker_commit_kick(b);
}
