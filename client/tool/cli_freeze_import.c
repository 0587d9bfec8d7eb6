/* liaison freeze import: a published sanctions list compared with the last import, and only what
 * changed sent as designation versions. */
#include <getopt.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "freeze_list.h"
#include "liaison_proto.h"

#define SUB "freeze import"
#define TO_MAX 64
#define HASH_BYTES 32u

static const char usage_import[] =
    "NAME\n"
    "    liaison freeze import - send what changed in a published sanctions list\n\n"
    "SYNOPSIS\n"
    "    liaison freeze import --format un-xml|ofac-xml FILE [--dry-run] [--json]\n"
    "                          [--to SELECTOR]... [--labels LABELS] [--agent-config F]\n"
    "                          --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Reads FILE, the UN Security Council Consolidated List (--format un-xml) or\n"
    "    OFAC's SDN list (--format ofac-xml) in its published XML form, and compares\n"
    "    each entry with the last version of designation LIST:REFERENCE (UN-SC:QDi.001,\n"
    "    OFAC-SDN:36) that the casebook under --state holds as sent.  An entry not sent\n"
    "    before is sent as version 1 (add); an entry whose data changed as the next\n"
    "    version (amend); a designation of the list that is no longer in the file, and\n"
    "    not delisted, as the next version (delist, with its last data).  Unchanged\n"
    "    entries send nothing, so importing the same file twice sends nothing the\n"
    "    second time.  An entry whose designation was delisted is not sent again (no\n"
    "    version follows a delisting): it is reported as relisted.\n\n"
    "    The whole file is read and checked before anything is sent: a malformed or\n"
    "    truncated file, an entry without a reference, a reference given twice, or a\n"
    "    text or count beyond the bounds of docs/messages.md refuses the file\n"
    "    (FILE:LINE: reason) and sends nothing.  Each version goes to --to (default *)\n"
    "    with the designation id as case id, and is recorded in the casebook as freeze\n"
    "    designate records it.  If the broker refuses one or goes away, the import\n"
    "    stops and says how many were sent; running it again sends the rest.\n\n"
    "OPTIONS\n"
    "    --format FORMAT   un-xml or ofac-xml\n"
    "    --dry-run         print the difference and send nothing\n"
    "    --json            print {list, file, entries, added, amended, delisted,\n"
    "                      relisted, unchanged, dry_run, to_send, sent, result}\n"
    "                      (added, amended, delisted, relisted: references)\n"
    "    --to SELECTOR     recipients (default *); repeatable\n"
    "    --labels LABELS   message labels (default LES)\n"
    "    --agent-config F  then record the agency's designations in the own designations\n"
    "                      of the agency's agent (F, or $LIAISON_AGENT_CONFIG), which\n"
    "                      answers partners' freeze.query from them\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 done (or nothing to send); 2 a version was rejected by the broker;\n"
    "    64 bad usage or no --state; 65 the file was refused (nothing sent);\n"
    "    66 FILE cannot be read; 69 broker unreachable; 75 no answer in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n\n"
    "EXAMPLES\n"
    "    $ liaison freeze import --format un-xml un_v2.xml --dry-run\n"
    "    UN-SC un_v2.xml: 5 entries: 1 added, 1 amended, 1 delisted, 3 unchanged\n"
    "    added     UN-SC:QDe.911  EASTERLY HAWALA NETWORK\n"
    "    amended   UN-SC:QDi.901  KARIM ABDULLAH AL-MUSTAQIL\n"
    "    delisted  UN-SC:TAi.950  MOHAMMAD NAZIR\n"
    "    dry run: nothing sent\n"
    "    $ liaison freeze import --format ofac-xml sdn.xml --json\n"
    "    {\"list\": \"OFAC-SDN\", ..., \"added\": [\"9005\"], \"amended\": [\"9002\"],\n"
    "     \"delisted\": [\"9003\"], ..., \"sent\": 3, \"result\": \"sent\"}\n";

/* Options of freeze import. */
typedef struct imp_opts {
    cli_conn conn;                 /* connection */
    freeze_list_format fmt;        /* --format */
    bool has_fmt;                  /* --format was given */
    const char *file;              /* FILE */
    bool dry_run;                  /* --dry-run */
    bool json;                     /* --json */
    const char *to[TO_MAX];        /* --to */
    size_t to_count;               /* entries in to */
    const char *labels;            /* --labels */
    const char *agent_config;      /* --agent-config or $LIAISON_AGENT_CONFIG */
} imp_opts;

/* What the import does with one entry or designation. */
typedef enum imp_action {
    IMP_NONE = 0,                  /* unchanged */
    IMP_ADD,                       /* version 1, add */
    IMP_AMEND,                     /* version n+1, amend */
    IMP_DELIST,                    /* version n+1, delist */
    IMP_RELISTED,                  /* in the file again after a delisting: refused */
} imp_action;

/* One entry of the file. */
typedef struct imp_entry {
    char *ref;                     /* its reference (owned) */
    char *name;                    /* its primary name (owned) */
    uint8_t hash[HASH_BYTES];      /* hash of its canonical members */
    imp_action action;             /* what the import does with it */
    int version;                   /* the version to send */
    int last_version;              /* for a relisted entry: the delisting version */
} imp_entry;

/* The latest version sent of a designation of the list. */
typedef struct imp_last {
    char *id;                      /* its designation id (owned) */
    int version;                   /* the latest version */
    bool delisted;                 /* that version is a delisting */
    uint8_t msg[16];               /* the message id of that version, in the casebook */
    uint8_t hash[HASH_BYTES];      /* hash of the list-derived members of that version */
    bool in_file;                  /* the file holds its reference */
} imp_last;

/* The state of one import. */
typedef struct imp {
    imp_opts *o;                   /* options */
    const char *list;              /* "UN-SC" */
    imp_entry *entries;            /* the file's entries, sorted by reference after pass 1 */
    size_t count;                  /* entries */
    size_t cap;                    /* allocated */
    casebook *cb;                  /* the casebook */
    imp_last *lasts;               /* the list's designations, sorted by id */
    size_t last_count;             /* entries in lasts */
    size_t last_cap;               /* allocated */
    int load_rc;                   /* why reading the casebook stopped, or 0 */
    liaison_client *client;        /* the one connection (pass 2) */
    size_t to_send;                /* versions to send */
    size_t sent_count;             /* versions sent */
    char failed[96];               /* the designation not sent, when the import stopped */
    char refused[512];             /* FILE:LINE: why an entry breaks docs/messages.md */
    int rc;                        /* the send's exit status, when it stopped */
    bool changed;                  /* pass 2 found the file changed */
    char today[32];                /* effective date of what is sent */
    cli_progress bar;              /* the progress line, on a terminal */
} imp;

static int
parse(int argc, char **argv, imp_opts *o)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"format", required_argument, NULL, 'f'},
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"to", required_argument, NULL, 't'},
        {"labels", required_argument, NULL, 'l'},
        {"agent-config", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->labels = "LES";
    o->agent_config = getenv("LIAISON_AGENT_CONFIG");
    if (o->agent_config != NULL && o->agent_config[0] == '\0')
        o->agent_config = NULL;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case 'f':
            if (!freeze_list_format_parse(optarg, &o->fmt)) {
                cli_error(SUB, "--format takes un-xml or ofac-xml, not '%s'", optarg);
                return EX_USAGE;
            }
            o->has_fmt = true;
            break;
        case 'n': o->dry_run = true; break;
        case 'j': o->json = true; break;
        case 't':
            if (o->to_count == TO_MAX) {
                cli_error(SUB, "too many --to");
                return EX_USAGE;
            }
            o->to[o->to_count++] = optarg;
            break;
        case 'l': o->labels = optarg; break;
        case 'G': o->agent_config = optarg; break;
        case 'h': fputs(usage_import, stdout); return -1;
        default:
            cli_error(SUB, "unknown option or missing value '%s' (see --help)", argv[optind - 1]);
            return EX_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error(SUB, optind == argc ? "the list FILE is required (see --help)"
                                      : "one FILE only (see --help)");
        return EX_USAGE;
    }
    o->file = argv[optind];
    if (!o->has_fmt) {
        cli_error(SUB, "--format un-xml|ofac-xml is required (see --help)");
        return EX_USAGE;
    }
    return EX_OK;
}

/* ---- Progress ------------------------------------------------------------------------- */

static void
progress(imp *m, const char *what, size_t done, size_t total)
{
    cli_progress_count(&m->bar, what, done, total);
}

static void
progress_end(imp *m)
{
    cli_progress_end(&m->bar);
}

/* ---- Pass 1: the file's entries --------------------------------------------------------- */

/* Hashes the canonical text of members into hash; false when memory is short. */
static bool
members_hash(const json_t *members, uint8_t hash[HASH_BYTES])
{
    json_t *only = freeze_list_members(members);
    char *text = only != NULL ? freeze_list_canonical(only) : NULL;

    json_decref(only);
    if (text == NULL)
        return false;
    crypto_generichash(hash, HASH_BYTES, (const unsigned char *)text, strlen(text), NULL, 0);
    free(text);
    return true;
}

static int
on_entry_pass1(void *arg, json_t *members, long line)
{
    imp *m = arg;
    imp_entry *e;
    json_t *body;
    char why[200];
    bool ok;

    /* The check every receiving agent applies (docs/messages.md), so that
     * nothing is sent that a partner would refuse. */
    body = json_deep_copy(members);
    json_object_set_new(body, "designation", json_string("LIST:REFERENCE"));
    json_object_set_new(body, "version", json_integer(1));
    json_object_set_new(body, "action", json_string("add"));
    ok = body != NULL && agent_designation_check(body, why, sizeof(why));
    json_decref(body);
    if (!ok) {
        snprintf(m->refused, sizeof(m->refused), "%s:%ld: %s", m->o->file, line,
                 body != NULL ? why : "out of memory");
        return 1;
    }
    if (m->count == m->cap) {
        size_t cap = m->cap == 0 ? 1024 : m->cap * 2;
        imp_entry *grown = realloc(m->entries, cap * sizeof(*grown));

        if (grown == NULL)
            return 1;
        m->entries = grown;
        m->cap = cap;
    }
    e = &m->entries[m->count];
    memset(e, 0, sizeof(*e));
    e->ref = strdup(json_string_value(json_object_get(members, "reference")));
    e->name = strdup(json_string_value(json_object_get(json_object_get(members, "entity"), "name")));
    if (e->ref == NULL || e->name == NULL || !members_hash(members, e->hash)) {
        free(e->ref);
        free(e->name);
        return 1;
    }
    m->count++;
    progress(m, "reading: entries", m->count, 0);
    return 0;
}

static int
by_ref(const void *a, const void *b)
{
    return strcmp(((const imp_entry *)a)->ref, ((const imp_entry *)b)->ref);
}

static imp_entry *
entry_find(imp *m, const char *ref)
{
    imp_entry key;

    key.ref = (char *)(uintptr_t)ref;
    if (m->count == 0)
        return NULL;
    return bsearch(&key, m->entries, m->count, sizeof(key), by_ref);
}

/* ---- The casebook: the last import ----------------------------------------------------------- */

static int
by_id_version(const void *a, const void *b)
{
    const imp_last *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    return c != 0 ? c : x->version - y->version;
}

static imp_last *
last_find(imp *m, const char *id)
{
    size_t lo = 0, hi = m->last_count;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->lasts[mid].id, id);

        if (c == 0)
            return &m->lasts[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Keeps one version sent of a designation of the list (the latest is chosen later). */
static int
on_sent(void *arg, const casebook_entry *e)
{
    imp *m = arg;
    size_t plen = strlen(m->list);
    imp_last *l;
    json_t *body;
    const char *action;
    char why[128];

    if (strncmp(e->case_id, m->list, plen) != 0 || e->case_id[plen] != ':' || e->body == NULL)
        return 0;
    if ((body = cli_body_parse(e->body, "freeze.designation/1", why)) == NULL)
        return 0;
    if (m->last_count == m->last_cap) {
        size_t cap = m->last_cap == 0 ? 1024 : m->last_cap * 2;
        imp_last *grown = realloc(m->lasts, cap * sizeof(*grown));

        if (grown == NULL)
            goto nomem;
        m->lasts = grown;
        m->last_cap = cap;
    }
    l = &m->lasts[m->last_count];
    memset(l, 0, sizeof(*l));
    action = json_string_value(json_object_get(body, "action"));
    l->version = (int)json_integer_value(json_object_get(body, "version"));
    l->delisted = action != NULL && strcmp(action, "delist") == 0;
    memcpy(l->msg, e->id, sizeof(l->msg));
    if ((l->id = strdup(e->case_id)) == NULL || !members_hash(body, l->hash)) {
        free(l->id);
        goto nomem;
    }
    m->last_count++;
    json_decref(body);
    progress(m, "casebook: versions", m->last_count, 0);
    return 0;
nomem:
    json_decref(body);
    m->load_rc = EX_OSERR;
    return 1;
}

/* The designations of the list the casebook holds as sent: the latest version of each.  The
 * casebook is read one message at a time; what is kept per version is its id, number, message
 * id and hash. */
static int
load_lasts(imp *m)
{
    casebook_err err;
    size_t n;

    err = casebook_each_kind(m->cb, true, "freeze.designation", on_sent, m);
    progress_end(m);
    if (err != CASEBOOK_OK) {
        cli_error(SUB, "casebook: %s", casebook_strerror(err));
        return EX_IOERR;
    }
    if (m->load_rc != 0) {
        cli_error(SUB, "out of memory reading the casebook");
        return m->load_rc;
    }
    if (m->last_count > 1)
        qsort(m->lasts, m->last_count, sizeof(*m->lasts), by_id_version);
    /* Keep the latest version of each designation. */
    n = m->last_count;
    m->last_count = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->last_count > 0 && strcmp(m->lasts[m->last_count - 1].id, m->lasts[i].id) == 0) {
            free(m->lasts[m->last_count - 1].id);
            m->lasts[m->last_count - 1] = m->lasts[i];
        } else {
            m->lasts[m->last_count++] = m->lasts[i];
        }
    }
    return EX_OK;
}

/* The body of the latest version sent of l, the caller's; NULL if unreadable. */
static json_t *
last_body(imp *m, const imp_last *l)
{
    casebook_entry *e = NULL;
    json_t *body = NULL;
    char why[128];

    if (casebook_get(m->cb, true, l->msg, false, &e) == CASEBOOK_OK)
        body = cli_body_parse(e->body, "freeze.designation/1", why);
    casebook_entry_free(&e);
    return body;
}

/* Decides what to do with every entry and every designation of the list. */
static int
diff(imp *m)
{
    for (size_t i = 0; i < m->count; i++) {
        imp_entry *e = &m->entries[i];
        char id[FREEZE_LIST_ID_MAX + 1];
        imp_last *l;

        snprintf(id, sizeof(id), "%s:%s", m->list, e->ref);
        if ((l = last_find(m, id)) == NULL) {
            e->action = IMP_ADD;
            e->version = 1;
            m->to_send++;
            continue;
        }
        l->in_file = true;
        if (l->delisted) {
            e->action = IMP_RELISTED;
            e->last_version = l->version;
            continue;
        }
        if (memcmp(l->hash, e->hash, HASH_BYTES) != 0) {
            e->action = IMP_AMEND;
            e->version = l->version + 1;
            m->to_send++;
        }
    }
    for (size_t i = 0; i < m->last_count; i++) {
        if (!m->lasts[i].in_file && !m->lasts[i].delisted)
            m->to_send++;
    }
    return EX_OK;
}

/* ---- Sending ---------------------------------------------------------------------------- */

/*
 * Sends one version of a designation (body: the whole freeze.designation, borrowed) on the
 * import's one connection and records it in the casebook.  Every version an import sends goes
 * through here.  Returns 0 or the exit status of the failure (said on stderr).
 */
static int
import_send_version(imp *m, const char *designation, json_t *body)
{
    static const char *const all[] = {"*"};
    liaison_message *msg = NULL;
    cli_outgoing out;
    uint8_t id[16];
    int rc;

    memset(&out, 0, sizeof(out));
    out.kind = "freeze.designation";
    out.to = m->o->to_count > 0 ? m->o->to : all;
    out.to_count = m->o->to_count > 0 ? m->o->to_count : 1;
    out.labels = m->o->labels;
    out.case_id = designation;
    out.ttl_s = CLI_LONG_TTL_S;
    out.body = body;
    if ((rc = cli_outgoing_build(SUB, &out, &msg)) == EX_OK)
        rc = cli_outgoing_send(SUB, m->client, m->cb, &out, msg, &m->o->conn, false, id);
    liaison_message_destroy(&msg);
    return rc;
}

/* Builds and sends version/action of designation LIST:ref from members (borrowed). */
static int
send_members(imp *m, const json_t *members, int version, const char *action)
{
    char id[FREEZE_LIST_ID_MAX + 1];
    json_t *body = freeze_list_members(members);
    int rc;

    snprintf(id, sizeof(id), "%s:%s", m->list,
             json_string_value(json_object_get(members, "reference")));
    if (body == NULL) {
        cli_error(SUB, "out of memory");
        return EX_OSERR;
    }
    json_object_set_new(body, "schema", json_string("freeze.designation/1"));
    json_object_set_new(body, "designation", json_string(id));
    json_object_set_new(body, "version", json_integer(version));
    json_object_set_new(body, "action", json_string(action));
    json_object_set_new(body, "effective", json_string(m->today));
    rc = import_send_version(m, id, body);
    json_decref(body);
    if (rc != EX_OK) {
        snprintf(m->failed, sizeof(m->failed), "%s version %d (%s)", id, version, action);
        m->rc = rc;
    } else {
        m->sent_count++;
        progress(m, "sending: versions", m->sent_count, m->to_send);
    }
    return rc;
}

static int
on_entry_pass2(void *arg, json_t *members, long line)
{
    imp *m = arg;
    imp_entry *e = entry_find(m, json_string_value(json_object_get(members, "reference")));
    uint8_t h[HASH_BYTES];

    (void)line;
    if (e == NULL || !members_hash(members, h) || memcmp(h, e->hash, HASH_BYTES) != 0) {
        m->changed = true;
        return 1;
    }
    if (e->action != IMP_ADD && e->action != IMP_AMEND)
        return 0;
    return send_members(m, members, e->version, e->action == IMP_ADD ? "add" : "amend") != EX_OK;
}

/* Sends the adds and amends (reading the file again) and then the delistings. */
static int
send_all(imp *m)
{
    char why[512];
    freeze_list_err err;
    size_t n = 0;

    err = freeze_list_read(m->o->file, m->o->fmt, on_entry_pass2, m, &n, why, sizeof(why));
    if (err == FREEZE_LIST_ERR_STOPPED && m->changed) {
        cli_error(SUB, "%s changed while it was imported; run the import again", m->o->file);
        return EX_DATAERR;
    }
    if (err == FREEZE_LIST_ERR_STOPPED)
        return m->rc;
    if (err != FREEZE_LIST_OK) {
        cli_error(SUB, "%s", why[0] ? why : freeze_list_strerror(err));
        return err == FREEZE_LIST_ERR_NOINPUT ? EX_NOINPUT : EX_DATAERR;
    }
    if (n != m->count) {
        cli_error(SUB, "%s changed while it was imported; run the import again", m->o->file);
        return EX_DATAERR;
    }
    for (size_t i = 0; i < m->last_count; i++) {
        imp_last *l = &m->lasts[i];
        json_t *body;
        int rc;

        if (l->in_file || l->delisted)
            continue;
        if ((body = last_body(m, l)) == NULL) {
            cli_error(SUB, "casebook: the last version of %s is unreadable", l->id);
            return EX_SOFTWARE;
        }
        rc = send_members(m, body, l->version + 1, "delist");
        json_decref(body);
        if (rc != EX_OK)
            return rc;
    }
    return EX_OK;
}

/* ---- Output ---------------------------------------------------------------------------- */

static void
print_text(imp *m)
{
    size_t added = 0, amended = 0, delisted = 0, relisted = 0;

    for (size_t i = 0; i < m->count; i++) {
        added += m->entries[i].action == IMP_ADD;
        amended += m->entries[i].action == IMP_AMEND;
        relisted += m->entries[i].action == IMP_RELISTED;
    }
    for (size_t i = 0; i < m->last_count; i++)
        delisted += !m->lasts[i].in_file && !m->lasts[i].delisted;
    printf("%s %s: %zu entr%s: %zu added, %zu amended, %zu delisted, %zu unchanged", m->list,
           m->o->file, m->count, m->count == 1 ? "y" : "ies", added, amended, delisted,
           m->count - added - amended - relisted);
    if (relisted > 0)
        printf(", %zu relisted (not sent)", relisted);
    putchar('\n');
    for (size_t i = 0; i < m->count; i++) {
        const imp_entry *e = &m->entries[i];

        if (e->action == IMP_ADD || e->action == IMP_AMEND)
            printf("%-9s %s:%s  %s\n", e->action == IMP_ADD ? "added" : "amended", m->list, e->ref,
                   e->name);
    }
    for (size_t i = 0; i < m->last_count; i++) {
        const imp_last *l = &m->lasts[i];

        if (!l->in_file && !l->delisted) {
            json_t *body = last_body(m, l);
            const char *name =
                json_string_value(json_object_get(json_object_get(body, "entity"), "name"));

            printf("%-9s %s  %s\n", "delisted", l->id, name != NULL ? name : "?");
            json_decref(body);
        }
    }
    for (size_t i = 0; i < m->count; i++) {
        const imp_entry *e = &m->entries[i];

        if (e->action == IMP_RELISTED)
            printf("%-9s %s:%s  %s: delisted in version %d; no version can follow a delisting, "
                   "so it is not sent\n",
                   "relisted", m->list, e->ref, e->name, e->last_version);
    }
}

static json_t *
json_result(imp *m, const char *result)
{
    json_t *j = json_object(), *added = json_array(), *amended = json_array();
    json_t *delisted = json_array(), *relisted = json_array();
    size_t unchanged = 0;

    for (size_t i = 0; i < m->count; i++) {
        const imp_entry *e = &m->entries[i];

        if (e->action == IMP_ADD)
            json_array_append_new(added, json_string(e->ref));
        else if (e->action == IMP_AMEND)
            json_array_append_new(amended, json_string(e->ref));
        else if (e->action == IMP_RELISTED)
            json_array_append_new(relisted, json_string(e->ref));
        else
            unchanged++;
    }
    for (size_t i = 0; i < m->last_count; i++) {
        const imp_last *l = &m->lasts[i];

        if (!l->in_file && !l->delisted)
            json_array_append_new(delisted, json_string(l->id + strlen(m->list) + 1));
    }
    json_object_set_new(j, "list", json_string(m->list));
    json_object_set_new(j, "file", json_string(m->o->file));
    json_object_set_new(j, "entries", json_integer((json_int_t)m->count));
    json_object_set_new(j, "added", added);
    json_object_set_new(j, "amended", amended);
    json_object_set_new(j, "delisted", delisted);
    json_object_set_new(j, "relisted", relisted);
    json_object_set_new(j, "unchanged", json_integer((json_int_t)unchanged));
    json_object_set_new(j, "dry_run", json_boolean(m->o->dry_run));
    json_object_set_new(j, "to_send", json_integer((json_int_t)m->to_send));
    json_object_set_new(j, "sent", json_integer((json_int_t)m->sent_count));
    json_object_set_new(j, "result", json_string(result));
    if (m->failed[0] != '\0')
        json_object_set_new(j, "not_sent", json_string(m->failed));
    return j;
}

/* With --agent-config, records the agency's own designations in its agent's
 * store (cli_freeze_own_record); says so on stderr, so that --json's output
 * stays one object. */
static int
record_own(imp *m)
{
    size_t n = 0;
    int rc;

    if (m->o->agent_config == NULL)
        return EX_OK;
    rc = cli_freeze_own_record(SUB, m->cb, m->o->agent_config, &n);
    if (rc != EX_OK)
        cli_error(SUB, "what was sent is not recorded in the agent's store; run the import "
                       "again with --agent-config %s to record it", m->o->agent_config);
    else if (n > 0)
        fprintf(stderr, "recorded in the agent's own designations (%s): %zu\n",
                m->o->agent_config, n);
    return rc;
}

/* ---- The command ------------------------------------------------------------------------- */

int
cli_freeze_import(int argc, char **argv)
{
    imp_opts o;
    imp m;
    char why[512];
    freeze_list_err ferr;
    int rc;

    memset(&m, 0, sizeof(m));
    if ((rc = parse(argc, argv, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    m.o = &o;
    m.list = freeze_list_name(o.fmt);
    cli_progress_start_count(&m.bar);
    proto_date_format(liaison_now_ms(), m.today);
    if (sodium_init() < 0) {
        cli_error(SUB, "libsodium cannot start");
        return EX_SOFTWARE;
    }
    if ((rc = cli_casebook_open(SUB, &o.conn, &m.cb)) != EX_OK)
        return rc;
    xmlInitParser();
    /* Pass 1: the whole file, checked, before anything is sent. */
    ferr = freeze_list_read(o.file, o.fmt, on_entry_pass1, &m, NULL, why, sizeof(why));
    progress_end(&m);
    if (ferr != FREEZE_LIST_OK) {
        if (ferr == FREEZE_LIST_ERR_STOPPED && m.refused[0] != '\0')
            cli_error(SUB, "%s; nothing sent", m.refused);
        else if (ferr == FREEZE_LIST_ERR_STOPPED)
            cli_error(SUB, "out of memory reading %s", o.file);
        else
            cli_error(SUB, "%s; nothing sent", why[0] ? why : freeze_list_strerror(ferr));
        rc = ferr == FREEZE_LIST_ERR_NOINPUT                        ? EX_NOINPUT
             : ferr == FREEZE_LIST_ERR_DATA || m.refused[0] != '\0' ? EX_DATAERR
                                                                     : EX_OSERR;
        goto done;
    }
    if (m.count > 1)
        qsort(m.entries, m.count, sizeof(*m.entries), by_ref);
    if ((rc = load_lasts(&m)) != EX_OK || (rc = diff(&m)) != EX_OK)
        goto done;
    if (!o.json)
        print_text(&m);
    if (o.dry_run || m.to_send == 0) {
        if (o.json) {
            json_t *j = json_result(&m, o.dry_run ? "dry-run" : "unchanged");

            cli_print_json(j, false);
            json_decref(j);
        } else {
            puts(o.dry_run ? "dry run: nothing sent" : "nothing to send");
        }
        rc = o.dry_run ? EX_OK : record_own(&m);
        goto done;
    }
    /* Pass 2: the file again, sending what changed, on one connection. */
    if ((rc = cli_connect(SUB, &o.conn, false, &m.client)) != EX_OK)
        goto done;
    rc = send_all(&m);
    progress_end(&m);
    if (rc != EX_OK) {
        if (m.failed[0] != '\0')
            cli_error(SUB, "stopped after sending %zu of %zu versions: %s was not sent; run the "
                           "import again to send the rest", m.sent_count, m.to_send, m.failed);
        else
            cli_error(SUB, "stopped after sending %zu of %zu versions", m.sent_count, m.to_send);
    }
    if (o.json) {
        json_t *j = json_result(&m, rc == EX_OK ? "sent" : "stopped");

        cli_print_json(j, false);
        json_decref(j);
    } else if (rc == EX_OK) {
        printf("sent %zu version%s\n", m.sent_count, m.sent_count == 1 ? "" : "s");
    }
    /* What was sent is recorded even when the import stopped part way. */
    if (m.sent_count > 0) {
        int record_rc = record_own(&m);

        rc = rc != EX_OK ? rc : record_rc;
    }
done:
    for (size_t i = 0; i < m.count; i++) {
        free(m.entries[i].ref);
        free(m.entries[i].name);
    }
    free(m.entries);
    for (size_t i = 0; i < m.last_count; i++)
        free(m.lasts[i].id);
    free(m.lasts);
    liaison_client_close(&m.client);
    casebook_close(&m.cb);
    xmlCleanupParser();
    return rc;
}
