/* libliaison: a query's accounting, agency by agency (pure: no I/O). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

/* The report states that mean an agency will not answer (now), and how a
 * result names them. */
static const struct {
    const char *state;           /* proto_state_name's */
    const char *reason;          /* liaison_not_answered.reason's */
} reasons[] = {
    {"denied", "denied"},        {"refused", "refused"},         {"expired", "expired"},
    {"damaged", "damaged"},      {"recalled", "recalled"},       {"unattended", "no-agent"},
    {"unreachable", "partner-down"},
};

const char *
client_tally_reason(const char *state)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (strcmp(state, reasons[i].state) == 0)
            return reasons[i].reason;
    }
    return NULL;
}

static void
mark(client_tally_agency *a, const char *reason, const char *broker, const char *rule_id,
     const char *detail)
{
    a->status = CLIENT_TALLY_SILENT;
    snprintf(a->why.reason, sizeof(a->why.reason), "%s", reason);
    snprintf(a->why.broker, sizeof(a->why.broker), "%s", broker != NULL ? broker : "");
    snprintf(a->why.rule_id, sizeof(a->why.rule_id), "%s", rule_id != NULL ? rule_id : "");
    snprintf(a->why.detail, sizeof(a->why.detail), "%s", detail != NULL ? detail : "");
}

int
client_tally_init(client_tally *t, const proto_roster_entry *const *agencies, size_t count,
                  const char *kind)
{
    memset(t, 0, sizeof(*t));
    if (count == 0)
        return 0;
    t->agencies = calloc(count, sizeof(*t->agencies));
    if (t->agencies == NULL)
        return -1;
    for (size_t i = 0; i < count; i++) {
        client_tally_agency *a = &t->agencies[i];

        a->addr = agencies[i]->card.addr;
        proto_addr_format(&a->addr, a->why.agency, sizeof(a->why.agency));
        /* The broker delivers to an agency named outright whatever its
         * card accepts, and its agent may well answer: it is waited for like
         * the others, and named so only if it does not answer. */
        a->unaccepting = !proto_roster_accepts(agencies[i], kind);
    }
    t->count = count;
    return 0;
}

void
client_tally_free(client_tally *t)
{
    free(t->agencies);
    memset(t, 0, sizeof(*t));
}

bool
client_tally_answer(client_tally *t, const char *sender)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->agencies[i].why.agency, sender) == 0) {
            t->agencies[i].status = CLIENT_TALLY_ANSWERED;
            return true;
        }
    }
    return false;
}

size_t
client_tally_report(client_tally *t, const char *broker, const char *recipient, const char *state,
                    const char *rule_id, const char *detail)
{
    const char *reason = client_tally_reason(state);
    proto_addr r;
    size_t marked = 0;

    if (reason == NULL || proto_addr_parse(recipient, &r, NULL) != PROTO_OK)
        return 0;
    for (size_t i = 0; i < t->count; i++) {
        client_tally_agency *a = &t->agencies[i];
        bool covers = r.kind == PROTO_ADDR_BROKER ? strcmp(r.nation, a->addr.nation) == 0
                                                  : proto_addr_equal(&r, &a->addr);

        if (!covers || a->status == CLIENT_TALLY_ANSWERED)
            continue;
        mark(a, reason, broker, rule_id, detail);
        marked++;
    }
    return marked;
}

void
client_tally_close(client_tally *t)
{
    for (size_t i = 0; i < t->count; i++) {
        client_tally_agency *a = &t->agencies[i];

        if (a->status == CLIENT_TALLY_WAITING)
            mark(a, a->unaccepting ? "kind-not-accepted" : "deadline", "", "", "");
    }
}

size_t
client_tally_waiting(const client_tally *t)
{
    size_t n = 0;

    for (size_t i = 0; i < t->count; i++)
        n += t->agencies[i].status == CLIENT_TALLY_WAITING;
    return n;
}
