/* liaison agent: run the agent, and the operator's commands on its store (which work while it runs). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent.h"
#include "cli.h"
#include "cli_int.h"

#define SUB "agent"

static const char usage_agent[] =
    "NAME\n"
    "    liaison agent - answer partners' queries and acknowledge designations for an agency\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison agent --config FILE\n"
    "    liaison agent add-watchlist --config FILE --file ENTRIES.json [--jsonl] [--json]\n"
    "    liaison agent add-traveldoc --config FILE (--file REPORT.json [--jsonl] |\n"
    "                  --number N --status STATUS --ref REF [--type T] [--country C]\n"
    "                  [--reported DATE]) [--json]\n"
    "    liaison agent reindex --config FILE [--json]\n"
    "    liaison agent remove --config FILE --ref REF [--json]\n"
    "    liaison agent implement --config FILE DESIGNATION [--version N] [--from ADDR]\n"
    "                  [--note TEXT] [--wait SECS] [--json]\n"
    "    liaison agent list --config FILE [--json]\n"
    "    liaison agent lookup --config FILE (--name NAME [--born DATE] | --document N)...\n"
    "                  [--type T] [--country C] [--json]\n"
    "    liaison agent <command> --help\n"
    "\n"
    "DESCRIPTION\n"
    "    Run with only --config, the agent connects to its agency's home broker and\n"
    "    acts on what arrives: it answers watchlist.query and traveldoc.check (hit or\n"
    "    no-hit, a hit carrying a reference), answers watchlist.request with the\n"
    "    entry's details, acknowledges freeze.designation (freeze.ack received) and\n"
    "    mlat.request (mlat.status received), and keeps what partners publish and\n"
    "    report for local lookups.  SIGTERM or SIGINT stops it cleanly.\n"
    "\n"
    "    The other commands work on the agent's store, also while it runs: add\n"
    "    and remove the agency's own records, mark a designation implemented\n"
    "    (the agent then sends freeze.ack implemented), list what is stored, and\n"
    "    look a subject up locally with the scores the agent would give.\n"
    "    docs/agent.md describes the configuration, the matching rules and what\n"
    "    is stored.\n"
    "\n"
    "OPTIONS\n"
    "    --config FILE    the agent's configuration (YAML)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success (lookup: at least one hit); 1 lookup found nothing; 64 bad usage;\n"
    "    65 bad input data (or an unusable key or roster); 66 a file is missing;\n"
    "    69 no broker; 73 the store cannot be created; 74 the store cannot be used;\n"
    "    75 another agent runs with this store, or implement --wait timed out;\n"
    "    77 the broker refused the agency's key; 78 bad configuration.\n";

static const char usage_add_watchlist[] =
    "NAME\n"
    "    liaison agent add-watchlist - add or replace the agency's own watchlist entries\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison agent add-watchlist --config FILE --file ENTRIES.json [--jsonl] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    ENTRIES.json holds entries as in watchlist.publish (docs/messages.md): a\n"
    "    watchlist.publish/1 object, a list of entries, or one entry.  Each needs a\n"
    "    ref and names (or name); an entry with the ref of a stored one replaces it.\n"
    "    An entry may carry \"details\" (text or an object) and \"details_labels\":\n"
    "    they travel in a portion of their own in watchlist.details.  Every entry is\n"
    "    checked first; if one is refused, nothing is stored.  Partners are answered\n"
    "    from these entries only.\n"
    "\n"
    "    A file named *.jsonl, or given with --jsonl, holds JSON Lines: one entry per\n"
    "    line, read and stored as it streams in one transaction.  A line that does\n"
    "    not parse or check, or a ref given twice, is reported as FILE:LINE and\n"
    "    nothing of the file is stored.\n"
    "\n"
    "OPTIONS\n"
    "    --config FILE    the agent's configuration\n"
    "    --file PATH      the entries\n"
    "    --jsonl          read PATH as JSON Lines whatever its name\n"
    "    --json           print {\"added\", \"replaced\", \"refs\"} (JSON Lines:\n"
    "                     {\"added\", \"replaced\", \"lines\"})\n"
    "\n"
    "EXIT STATUS\n"
    "    0 stored; 64 bad usage; 65 an entry is refused; 66 a file is missing;\n"
    "    74 the store cannot be used; 78 bad configuration.\n";

static const char usage_add_traveldoc[] =
    "NAME\n"
    "    liaison agent add-traveldoc - record a document the agency reports\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison agent add-traveldoc --config FILE --file REPORT.json [--jsonl] [--json]\n"
    "    liaison agent add-traveldoc --config FILE --number N --status STATUS --ref REF\n"
    "                  [--type T] [--country C] [--reported DATE] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Records a stolen, lost, forged or fraudulently used travel document, as in\n"
    "    traveldoc.report (docs/messages.md), so that partners' traveldoc.check of\n"
    "    its number is a hit carrying REF.  REPORT.json holds one report or a list.\n"
    "    A report with the ref of a stored one replaces it.  Sharing the report\n"
    "    with partners is `liaison traveldoc report`, not this command.\n"
    "\n"
    "    A file named *.jsonl, or given with --jsonl, holds JSON Lines: one report\n"
    "    per line, read and stored as it streams in one transaction.  A line that\n"
    "    does not parse or check, or a ref given twice, is reported as FILE:LINE\n"
    "    and nothing of the file is stored.\n"
    "\n"
    "OPTIONS\n"
    "    --config FILE     the agent's configuration\n"
    "    --file PATH       the report(s)\n"
    "    --jsonl           read PATH as JSON Lines whatever its name\n"
    "    --number N        the document number (compared as upper-case letters and digits)\n"
    "    --status STATUS   stolen, lost, forged or fraudulently-used\n"
    "    --ref REF         the agency's reference of the report\n"
    "    --type T          passport, id-card, visa, ...\n"
    "    --country C       the issuing nation (ISO 3166 alpha-3)\n"
    "    --reported DATE   YYYY-MM-DD (default today)\n"
    "    --json            print {\"added\", \"replaced\", \"refs\"} (JSON Lines:\n"
    "                      {\"added\", \"replaced\", \"lines\"})\n"
    "\n"
    "EXIT STATUS\n"
    "    0 stored; 64 bad usage; 65 a report is refused; 66 a file is missing;\n"
    "    74 the store cannot be used; 78 bad configuration.\n";

static const char usage_remove[] =
    "NAME\n"
    "    liaison agent remove - remove the agency's own entry or document report\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison agent remove --config FILE --ref REF [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Removes the own watchlist entry and the own document report under REF;\n"
    "    partners are no longer answered from them.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 removed; 64 bad usage; 65 nothing under REF; 74 the store cannot be used;\n"
    "    78 bad configuration.\n";

static const char usage_reindex[] =
    "NAME\n"
    "    liaison agent reindex - build the index of the agent's store again\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison agent reindex --config FILE [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Empties the store's index (name keys, parsed names, document numbers) and\n"
    "    indexes every watchlist entry and document report again, own and\n"
    "    partners', in one transaction.  The agent and every command do so by\n"
    "    themselves when the index is missing or of another version; this command\n"
    "    forces it (docs/agent.md, \"The store's index\").\n"
    "\n"
    "OPTIONS\n"
    "    --config FILE    the agent's configuration\n"
    "    --json           print {\"records\", \"seconds\"}\n"
    "\n"
    "EXIT STATUS\n"
    "    0 reindexed; 64 bad usage; 66 no store; 74 the store cannot be used;\n"
    "    78 bad configuration.\n";

static const char usage_implement[] =
    "NAME\n"
    "    liaison agent implement - mark a designation implemented\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison agent implement --config FILE DESIGNATION [--version N] [--from ADDR]\n"
    "                  [--note TEXT] [--wait SECS] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Records, durably, that the operator has applied designation DESIGNATION\n"
    "    (its latest version received, or --version N).  The running agent sends\n"
    "    freeze.ack implemented to the designating agency within a second; if it\n"
    "    is not running, it does so when it next starts.  With --wait it waits up\n"
    "    to SECS seconds until the agent has sent it.\n"
    "\n"
    "OPTIONS\n"
    "    --version N    the version (default: the latest received)\n"
    "    --from ADDR    the designating agency, when two sent the same designation id\n"
    "    --note TEXT    a note for the acknowledgement\n"
    "    --wait SECS    wait until the acknowledgement is sent\n"
    "    --json         print {\"designation\", \"version\", \"from\", \"ack\"}\n"
    "\n"
    "EXIT STATUS\n"
    "    0 recorded (or sent, with --wait); 64 bad usage; 65 no such designation;\n"
    "    74 the store cannot be used; 75 --wait ran out; 78 bad configuration.\n";

static const char usage_list[] =
    "NAME\n"
    "    liaison agent list - what the agent's store holds\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison agent list --config FILE [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Lists the agency's own watchlist entries and document reports, the\n"
    "    designations received with their acknowledgement state (received,\n"
    "    implement requested, implemented), the agency's own designations (the\n"
    "    latest version of each, as the freeze commands recorded it with\n"
    "    --agent-config), the MLAT requests received, the entries and reports\n"
    "    partners shared, and how many other messages are kept as received.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 listed; 64 bad usage; 74 the store cannot be used; 78 bad configuration.\n";

static const char usage_lookup[] =
    "NAME\n"
    "    liaison agent lookup - look a subject up in the agent's store\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison agent lookup --config FILE [--name NAME]... [--born DATE]\n"
    "                  [--document N] [--type T] [--country C] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Compares NAME with the own entries and those partners published, with the\n"
    "    scores and the threshold the agent answers with (docs/agent.md,\n"
    "    Matching); a different date of birth rules a name out.  --document looks\n"
    "    the number up in the entries' documents and in the document reports\n"
    "    (own and partners').  --type and --country qualify --document.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 at least one hit; 1 no hit; 64 bad usage; 74 the store cannot be used;\n"
    "    78 bad configuration.\n";

/* ---- Shared -------------------------------------------------------------------------- */

enum {
    OPT_CONFIG = 2000,
    OPT_FILE,
    OPT_JSON,
    OPT_NUMBER,
    OPT_STATUS,
    OPT_REF,
    OPT_TYPE,
    OPT_COUNTRY,
    OPT_REPORTED,
    OPT_VERSION,
    OPT_FROM,
    OPT_NOTE,
    OPT_WAIT,
    OPT_NAME,
    OPT_BORN,
    OPT_DOCUMENT,
    OPT_JSONL,
};

/* Prints o as indented JSON; scores keep at most six significant digits. */
static void
print_json(const json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    putchar('\n');
    fflush(stdout);
}

int
cli_agent_config_load(const char *sub, const char *path, agent_config **cfg_out)
{
    agent_config_detail d;
    agent_config_err err;

    if (path == NULL) {
        cli_error(sub, "--config FILE is required");
        return EX_USAGE;
    }
    err = agent_config_load(path, cfg_out, &d);
    if (err == AGENT_CONFIG_OK)
        return EX_OK;
    cli_error(sub, "%s", d.text);
    return err == AGENT_CONFIG_ERR_IO ? EX_NOINPUT : EX_CONFIG;
}

int
cli_agent_store_open(const char *sub, const agent_config *cfg, bool create, agent_store **st_out)
{
    char dir[AGENT_CONFIG_PATH_MAX + 16], why[512];
    agent_store_err err;
    struct stat sb;

    snprintf(dir, sizeof(dir), "%s/agent", cfg->store);
    if (!create && stat(dir, &sb) != 0) {
        cli_error(sub, "no agent store at %s (has the agent run?)", dir);
        return EX_NOINPUT;
    }
    if (create && agent_store_dir_make(cfg->store, why, sizeof(why)) != 0) {
        cli_error(sub, "%s", why);
        return EX_CANTCREAT;
    }
    err = agent_store_open(dir, st_out, why, sizeof(why));
    if (err != AGENT_STORE_OK) {
        cli_error(sub, "%s", why);
        return EX_IOERR;
    }
    return EX_OK;
}

static int
store_failed(agent_store_err err)
{
    cli_error(SUB, "agent store: %s", agent_store_strerror(err));
    return EX_IOERR;
}

static json_t *
load_json_file(const char *path, int *rc)
{
    json_error_t jerr;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

    if (o == NULL) {
        FILE *f = fopen(path, "r");

        if (f == NULL) {
            cli_error(SUB, "cannot read %s: %s", path, strerror(errno));
            *rc = EX_NOINPUT;
        } else {
            fclose(f);
            cli_error(SUB, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
            *rc = EX_DATAERR;
        }
    }
    return o;
}

/* ---- add-watchlist, add-traveldoc, remove ---------------------------------------------- */

/* Stores checked records (array) into table by their ref; counts replaced ones. */
static int
store_records(agent_store *st, agent_table table, json_t *records, bool json)
{
    agent_txn *t = NULL;
    json_t *refs = json_array(), *r, *o = NULL;
    size_t i, replaced = 0, added;
    char now[32];
    agent_store_err err;

    proto_time_format(liaison_now_ms(), now);
    if ((err = agent_store_begin(st, true, &t)) != AGENT_STORE_OK)
        goto out;
    json_array_foreach(records, i, r) {
        const char *ref = json_string_value(json_object_get(r, "ref"));
        const void *val;
        size_t len;

        if (agent_store_get(t, table, ref, strlen(ref), &val, &len) == AGENT_STORE_OK)
            replaced++;
        json_object_set_new(r, "added", json_string(now));
        if ((err = agent_json_put(t, table, ref, r)) != AGENT_STORE_OK)
            goto out;
        json_array_append_new(refs, json_string(ref));
    }
    if ((err = agent_store_commit(&t)) != AGENT_STORE_OK)
        goto out;
    added = json_array_size(records) - replaced;
    if (json) {
        o = json_pack("{s:I, s:I, s:O}", "added", (json_int_t)added, "replaced",
                      (json_int_t)replaced, "refs", refs);
        print_json(o);
    } else {
        bool entries = table == AGENT_T_ENTRIES;

        printf("%zu %s added, %zu replaced\n", added,
               entries ? (added == 1 ? "entry" : "entries")
                       : (added == 1 ? "document report" : "document reports"),
               replaced);
    }
out:
    agent_store_abort(&t);
    json_decref(o);
    json_decref(refs);
    return err == AGENT_STORE_OK ? EX_OK : store_failed(err);
}

/* Checks every item of list with check; all or nothing.  The refs seen are kept in a hash
 * table, so that a repeat is found without comparing every pair. */
static int
check_all(const char *path, json_t *list, json_t *(*check)(const json_t *, char *, size_t),
          json_t **checked_out)
{
    json_t *out = json_array(), *seen = json_object(), *v;
    size_t i;
    int rc = EX_DATAERR;

    json_array_foreach(list, i, v) {
        char why[300];
        json_t *c = check(v, why, sizeof(why));
        const char *ref;

        if (c == NULL) {
            cli_error(SUB, "%s: item %zu: %s; nothing stored", path, i, why);
            goto out;
        }
        ref = json_string_value(json_object_get(c, "ref"));
        if (json_object_get(seen, ref) != NULL) {
            cli_error(SUB, "%s: item %zu: ref %s is given twice; nothing stored", path, i, ref);
            json_decref(c);
            goto out;
        }
        json_object_set_new(seen, ref, json_true());
        json_array_append_new(out, c);
    }
    *checked_out = out;
    out = NULL;
    rc = EX_OK;
out:
    json_decref(seen);
    json_decref(out);
    return rc;
}

/* True if path is to be read as JSON Lines: --jsonl, or a name ending in ".jsonl". */
static bool
is_jsonl(const char *path, bool flag)
{
    size_t n = strlen(path);

    return flag || (n > 6 && strcmp(path + n - 6, ".jsonl") == 0);
}

/* Loads the JSON Lines file path into table (agent_bulk_load). */
static int
bulk_store(const agent_config *cfg, agent_table table, const char *path, agent_check_fn check,
           bool json)
{
    FILE *f = fopen(path, "r");
    agent_store *st = NULL;
    agent_bulk_result res;
    agent_store_err err;
    char now[32];
    int rc;

    if (f == NULL) {
        cli_error(SUB, "cannot read %s: %s", path, strerror(errno));
        return EX_NOINPUT;
    }
    if ((rc = cli_agent_store_open(SUB, cfg, true, &st)) != EX_OK)
        goto out;
    proto_time_format(liaison_now_ms(), now);
    err = agent_bulk_load(st, table, f, path, check, now, &res);
    if (err == AGENT_STORE_ERR_INVALID) {
        cli_error(SUB, "%s; nothing stored", res.why);
        rc = EX_DATAERR;
    } else if (err != AGENT_STORE_OK) {
        cli_error(SUB, "%s; nothing stored", res.why[0] != '\0' ? res.why : agent_store_strerror(err));
        rc = EX_IOERR;
    } else if (json) {
        json_t *o = json_pack("{s:I, s:I, s:I}", "added", (json_int_t)res.added, "replaced",
                              (json_int_t)res.replaced, "lines", (json_int_t)res.lines);

        print_json(o);
        json_decref(o);
    } else {
        bool entries = table == AGENT_T_ENTRIES;

        printf("%zu %s added, %zu replaced\n", res.added,
               entries ? (res.added == 1 ? "entry" : "entries")
                       : (res.added == 1 ? "document report" : "document reports"),
               res.replaced);
    }
out:
    agent_store_close(&st);
    fclose(f);
    return rc;
}

static int
cmd_add_watchlist(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"file", required_argument, NULL, OPT_FILE},
        {"jsonl", no_argument, NULL, OPT_JSONL},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *file = NULL;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    json_t *doc = NULL, *list = NULL, *checked = NULL;
    bool json = false, jsonl = false;
    int opt, rc = EX_USAGE;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: config = optarg; break;
        case OPT_FILE: file = optarg; break;
        case OPT_JSON: json = true; break;
        case OPT_JSONL: jsonl = true; break;
        case 'h': fputs(usage_add_watchlist, stdout); return EX_OK;
        default: fputs(usage_add_watchlist, stderr); return EX_USAGE;
        }
    }
    if (file == NULL || optind != argc) {
        cli_error(SUB, "add-watchlist: --file ENTRIES.json is required (see --help)");
        return EX_USAGE;
    }
    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK)
        goto out;
    if (is_jsonl(file, jsonl)) {
        rc = bulk_store(cfg, AGENT_T_ENTRIES, file, agent_entry_check, json);
        goto out;
    }
    if ((doc = load_json_file(file, &rc)) == NULL)
        goto out;
    if (json_is_array(doc)) {
        list = json_incref(doc);
    } else if (json_is_object(doc) && json_object_get(doc, "entries") != NULL) {
        const char *schema = json_string_value(json_object_get(doc, "schema"));

        if (schema != NULL && strcmp(schema, "watchlist.publish/1") != 0) {
            cli_error(SUB, "%s: schema '%s' is not watchlist.publish/1", file, schema);
            rc = EX_DATAERR;
            goto out;
        }
        list = json_incref(json_object_get(doc, "entries"));
    } else {
        list = json_array();
        json_array_append(list, doc);
    }
    if (!json_is_array(list) || json_array_size(list) == 0) {
        cli_error(SUB, "%s: no entries", file);
        rc = EX_DATAERR;
        goto out;
    }
    if ((rc = check_all(file, list, agent_entry_check, &checked)) != EX_OK ||
        (rc = cli_agent_store_open(SUB, cfg, true, &st)) != EX_OK)
        goto out;
    rc = store_records(st, AGENT_T_ENTRIES, checked, json);
out:
    json_decref(checked);
    json_decref(list);
    json_decref(doc);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

static int
cmd_add_traveldoc(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"file", required_argument, NULL, OPT_FILE},
        {"number", required_argument, NULL, OPT_NUMBER},
        {"status", required_argument, NULL, OPT_STATUS},
        {"ref", required_argument, NULL, OPT_REF},
        {"type", required_argument, NULL, OPT_TYPE},
        {"country", required_argument, NULL, OPT_COUNTRY},
        {"reported", required_argument, NULL, OPT_REPORTED},
        {"jsonl", no_argument, NULL, OPT_JSONL},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *file = NULL, *number = NULL, *status = NULL, *ref = NULL;
    const char *type = NULL, *country = NULL, *reported = NULL;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    json_t *doc = NULL, *list = NULL, *checked = NULL;
    bool json = false, jsonl = false;
    int opt, rc = EX_USAGE;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: config = optarg; break;
        case OPT_FILE: file = optarg; break;
        case OPT_JSONL: jsonl = true; break;
        case OPT_NUMBER: number = optarg; break;
        case OPT_STATUS: status = optarg; break;
        case OPT_REF: ref = optarg; break;
        case OPT_TYPE: type = optarg; break;
        case OPT_COUNTRY: country = optarg; break;
        case OPT_REPORTED: reported = optarg; break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(usage_add_traveldoc, stdout); return EX_OK;
        default: fputs(usage_add_traveldoc, stderr); return EX_USAGE;
        }
    }
    if (optind != argc || (file == NULL) == (number == NULL) ||
        (file != NULL && (status || ref || type || country || reported)) ||
        (jsonl && file == NULL) ||
        (number != NULL && (status == NULL || ref == NULL))) {
        cli_error(SUB, "add-traveldoc: give --file, or --number with --status and --ref "
                       "(see --help)");
        return EX_USAGE;
    }
    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK)
        goto out;
    if (file != NULL && is_jsonl(file, jsonl)) {
        rc = bulk_store(cfg, AGENT_T_DOCS, file, agent_doc_check, json);
        goto out;
    }
    if (file != NULL) {
        if ((doc = load_json_file(file, &rc)) == NULL)
            goto out;
        if (json_is_array(doc)) {
            list = json_incref(doc);
        } else {
            list = json_array();
            json_array_append(list, doc);
        }
    } else {
        json_t *d = json_pack("{s:s}", "number", number);

        if (type != NULL)
            json_object_set_new(d, "type", json_string(type));
        if (country != NULL)
            json_object_set_new(d, "country", json_string(country));
        doc = json_pack("{s:s, s:o, s:s}", "ref", ref, "document", d, "status", status);
        if (reported != NULL)
            json_object_set_new(doc, "reported", json_string(reported));
        list = json_array();
        json_array_append(list, doc);
        file = "arguments";
    }
    if ((rc = check_all(file, list, agent_doc_check, &checked)) != EX_OK ||
        (rc = cli_agent_store_open(SUB, cfg, true, &st)) != EX_OK)
        goto out;
    rc = store_records(st, AGENT_T_DOCS, checked, json);
out:
    json_decref(checked);
    json_decref(list);
    json_decref(doc);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

static int
cmd_remove(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"ref", required_argument, NULL, OPT_REF},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *ref = NULL;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    agent_store_err e1, e2, err;
    bool json = false;
    int opt, rc = EX_USAGE;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: config = optarg; break;
        case OPT_REF: ref = optarg; break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(usage_remove, stdout); return EX_OK;
        default: fputs(usage_remove, stderr); return EX_USAGE;
        }
    }
    if (ref == NULL || ref[0] == '\0' || strlen(ref) > AGENT_REF_MAX || optind != argc) {
        cli_error(SUB, "remove: --ref REF is required (see --help)");
        return EX_USAGE;
    }
    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(SUB, cfg, true, &st)) != EX_OK)
        goto out;
    if ((err = agent_store_begin(st, true, &t)) != AGENT_STORE_OK) {
        rc = store_failed(err);
        goto out;
    }
    e1 = agent_store_del(t, AGENT_T_ENTRIES, ref, strlen(ref));
    e2 = agent_store_del(t, AGENT_T_DOCS, ref, strlen(ref));
    if ((e1 != AGENT_STORE_OK && e1 != AGENT_STORE_ERR_NOT_FOUND) ||
        (e2 != AGENT_STORE_OK && e2 != AGENT_STORE_ERR_NOT_FOUND)) {
        rc = store_failed(e1 != AGENT_STORE_OK && e1 != AGENT_STORE_ERR_NOT_FOUND ? e1 : e2);
        goto out;
    }
    if (e1 == AGENT_STORE_ERR_NOT_FOUND && e2 == AGENT_STORE_ERR_NOT_FOUND) {
        cli_error(SUB, "no own entry or document report under ref %s", ref);
        rc = EX_DATAERR;
        goto out;
    }
    if ((err = agent_store_commit(&t)) != AGENT_STORE_OK) {
        rc = store_failed(err);
        goto out;
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:b, s:b}", "ref", ref, "entry", e1 == AGENT_STORE_OK,
                              "document", e2 == AGENT_STORE_OK);

        print_json(o);
        json_decref(o);
    } else {
        printf("removed %s%s%s\n", e1 == AGENT_STORE_OK ? "entry " : "",
               e2 == AGENT_STORE_OK ? "document report " : "", ref);
    }
    rc = EX_OK;
out:
    agent_store_abort(&t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

/* ---- implement ----------------------------------------------------------------------------- */

/* The designation records that an implement names. */
typedef struct designation_search {
    const char *designation;          /* the id asked for */
    const char *from;                 /* NULL or the designating agency */
    long version;                     /* 0: the latest */
    char key[AGENT_STORE_KEY_MAX];    /* the best record's key */
    long best_version;                /* its version */
    char best_from[PROTO_ADDR_TEXT_MAX + 1]; /* its sender */
    bool ambiguous;                   /* two senders have this designation */
} designation_search;

static int
each_designation(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    designation_search *s = ctx;
    json_t *rec = agent_json_load(val, val_len);
    const char *d = json_string_value(json_object_get(rec, "designation"));
    const char *from = json_string_value(json_object_get(rec, "from"));
    long version = (long)json_integer_value(json_object_get(rec, "version"));

    if (rec != NULL && d != NULL && from != NULL && strcmp(d, s->designation) == 0 &&
        (s->from == NULL || strcmp(from, s->from) == 0) &&
        (s->version == 0 || version == s->version) && key_len < sizeof(s->key)) {
        if (s->best_from[0] != '\0' && strcmp(s->best_from, from) != 0)
            s->ambiguous = true;
        if (version > s->best_version) {
            memcpy(s->key, key, key_len);
            s->key[key_len] = '\0';
            s->best_version = version;
            snprintf(s->best_from, sizeof(s->best_from), "%s", from);
        }
    }
    json_decref(rec);
    return 0;
}

/* The ack state of the designation under key ("" if unknown). */
static void
ack_state(agent_store *st, const char *key, char *out, size_t out_len, char *error, size_t error_len)
{
    agent_txn *t = NULL;
    json_t *rec = NULL;

    out[0] = '\0';
    error[0] = '\0';
    if (agent_store_begin(st, false, &t) != AGENT_STORE_OK)
        return;
    if (agent_json_get(t, AGENT_T_DESIGNATIONS, key, &rec) == AGENT_STORE_OK) {
        const char *ack = json_string_value(json_object_get(rec, "ack"));
        const char *err = json_string_value(json_object_get(rec, "implement_error"));

        snprintf(out, out_len, "%s", ack != NULL ? ack : "");
        snprintf(error, error_len, "%s", err != NULL ? err : "");
    }
    agent_store_abort(&t);
    json_decref(rec);
}

int
cli_agent_implement(const agent_config *cfg, agent_store *st, const char *designation,
                    const char *from, long version, const char *note, long wait_s,
                    json_t **result_out, char *why, size_t why_len)
{
    designation_search s;
    agent_txn *t = NULL;
    json_t *rec = NULL, *req = NULL;
    bool already = false;
    char now[32], ack[32], error[600];
    agent_store_err err;
    int rc;

    memset(&s, 0, sizeof(s));
    why[0] = '\0';
    s.designation = designation;
    s.from = from;
    s.version = version;
    if ((err = agent_store_begin(st, true, &t)) != AGENT_STORE_OK ||
        (err = agent_store_each(t, AGENT_T_DESIGNATIONS, NULL, each_designation, &s)) !=
            AGENT_STORE_OK) {
        rc = store_failed(err);
        goto done;
    }
    if (s.key[0] == '\0') {
        char vtext[32] = "";

        if (s.version != 0)
            snprintf(vtext, sizeof(vtext), " version %ld", s.version);
        snprintf(why, why_len, "no designation %s%s received%s%s (liaison agent list shows them)",
                 s.designation, vtext, s.from ? " from " : "", s.from ? s.from : "");
        rc = EX_DATAERR;
        goto done;
    }
    if (s.ambiguous) {
        snprintf(why, why_len, "designation %s was received from several agencies; say --from ADDR",
                 s.designation);
        rc = EX_USAGE;
        goto done;
    }
    if ((err = agent_json_get(t, AGENT_T_DESIGNATIONS, s.key, &rec)) != AGENT_STORE_OK) {
        rc = store_failed(err);
        goto done;
    }
    already = json_is_string(json_object_get(rec, "ack")) &&
              strcmp(json_string_value(json_object_get(rec, "ack")), "implemented") == 0;
    if (!already) {
        proto_time_format(liaison_now_ms(), now);
        req = json_pack("{s:s, s:s}", "requested", now, "note", note);
        json_object_set_new(rec, "implement_requested", json_string(now));
        json_object_del(rec, "implement_error");
        if ((err = agent_json_put(t, AGENT_T_IMPLEMENT, s.key, req)) != AGENT_STORE_OK ||
            (err = agent_json_put(t, AGENT_T_DESIGNATIONS, s.key, rec)) != AGENT_STORE_OK ||
            (err = agent_store_commit(&t)) != AGENT_STORE_OK) {
            rc = store_failed(err);
            goto done;
        }
    }
    agent_store_abort(&t);
    rc = EX_OK;
    snprintf(ack, sizeof(ack), "%s", already ? "implemented" : "implement-requested");
    if (wait_s > 0 && !already) {
        uint64_t deadline = liaison_now_ms() + (uint64_t)wait_s * 1000u;
        struct timespec pause = {0, 100 * 1000000L};

        rc = EX_TEMPFAIL;
        while (liaison_now_ms() < deadline) {
            char state[32];

            ack_state(st, s.key, state, sizeof(state), error, sizeof(error));
            if (strcmp(state, "implemented") == 0) {
                snprintf(ack, sizeof(ack), "implemented");
                rc = EX_OK;
                break;
            }
            if (error[0] != '\0') {
                snprintf(why, why_len, "the agent could not send the acknowledgement: %s", error);
                rc = EX_UNAVAILABLE;
                break;
            }
            nanosleep(&pause, NULL);
        }
    }
    /* Recorded: what happened since (sent, waited in vain, failed) is said as the command
     * says it. */
    if (rc == EX_OK || rc == EX_TEMPFAIL || rc == EX_UNAVAILABLE) {
        char message[600];

        if (already)
            snprintf(message, sizeof(message), "%s version %ld from %s: already implemented and "
                     "acknowledged", s.designation, s.best_version, s.best_from);
        else if (strcmp(ack, "implemented") == 0)
            snprintf(message, sizeof(message), "%s version %ld: freeze.ack implemented sent to %s",
                     s.designation, s.best_version, s.best_from);
        else if (agent_running(cfg))
            snprintf(message, sizeof(message), "%s version %ld: implementation recorded; the "
                     "running agent sends freeze.ack implemented to %s", s.designation,
                     s.best_version, s.best_from);
        else
            snprintf(message, sizeof(message), "%s version %ld: implementation recorded; the "
                     "agent is not running: it sends freeze.ack implemented to %s when it starts",
                     s.designation, s.best_version, s.best_from);
        *result_out = json_pack("{s:s, s:I, s:s, s:s, s:b, s:s}", "designation", s.designation,
                                "version", (json_int_t)s.best_version, "from", s.best_from, "ack",
                                ack, "already", already, "message", message);
        if (*result_out == NULL)
            rc = EX_SOFTWARE;
    }
done:
    agent_store_abort(&t);
    json_decref(rec);
    json_decref(req);
    return rc;
}

static int
cmd_implement(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"version", required_argument, NULL, OPT_VERSION},
        {"from", required_argument, NULL, OPT_FROM},
        {"note", required_argument, NULL, OPT_NOTE},
        {"wait", required_argument, NULL, OPT_WAIT},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *note = "", *from = NULL;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    json_t *res = NULL;
    long wait_s = 0, version = 0;
    bool json = false;
    char why[700];
    int opt, rc = EX_USAGE;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end = NULL;

        switch (opt) {
        case OPT_CONFIG: config = optarg; break;
        case OPT_VERSION:
            version = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || version < 1) {
                cli_error(SUB, "implement: --version takes a positive whole number");
                return EX_USAGE;
            }
            break;
        case OPT_FROM: from = optarg; break;
        case OPT_NOTE: note = optarg; break;
        case OPT_WAIT:
            wait_s = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || wait_s < 0 || wait_s > 3600) {
                cli_error(SUB, "implement: --wait takes seconds (0 to 3600)");
                return EX_USAGE;
            }
            break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(usage_implement, stdout); return EX_OK;
        default: fputs(usage_implement, stderr); return EX_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error(SUB, "implement: expected one DESIGNATION (see --help)");
        return EX_USAGE;
    }
    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(SUB, cfg, true, &st)) != EX_OK)
        goto out;
    rc = cli_agent_implement(cfg, st, argv[optind], from, version, note, wait_s, &res, why,
                             sizeof(why));
    if (rc == EX_UNAVAILABLE)
        cli_error(SUB, "%s", why);
    if (res != NULL && json) {
        json_t *o = json_pack("{s:O, s:O, s:O, s:O}", "designation",
                              json_object_get(res, "designation"), "version",
                              json_object_get(res, "version"), "from", json_object_get(res, "from"),
                              "ack", json_object_get(res, "ack"));

        print_json(o);
        json_decref(o);
    } else if (res != NULL) {
        printf("%s\n", json_string_value(json_object_get(res, "message")));
    } else if (rc != EX_UNAVAILABLE && why[0] != '\0') {
        cli_error(SUB, "%s", why);
    }
    if (rc == EX_TEMPFAIL)
        cli_error(SUB, "the agent has not sent the acknowledgement within %ld s (is it running?)",
                  wait_s);
out:
    json_decref(res);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

/* ---- list ------------------------------------------------------------------------------------ */

/* Collects the JSON records of a table into an array. */
static int
collect(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    json_t *arr = ctx, *rec = agent_json_load(val, val_len);

    (void)key;
    (void)key_len;
    if (rec != NULL)
        json_array_append_new(arr, rec);
    return 0;
}

/* Collects the metadata of kept messages: MLAT requests apart, the rest counted. */
typedef struct kept_summary {
    json_t *mlat;          /* metadata of the mlat.request messages */
    json_t *other;         /* metadata of the others, except designations */
} kept_summary;

/* The reason a kept message's metadata gives, or "". */
static const char *
str_reason(const json_t *meta)
{
    const char *s = json_string_value(json_object_get(meta, "reason"));

    return s != NULL ? s : "";
}

static int
collect_kept(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    kept_summary *k = ctx;
    const uint8_t *v = val;
    size_t tlen;
    json_t *meta;
    const char *kind;

    (void)key;
    (void)key_len;
    if (val_len < 4)
        return 0;
    tlen = (size_t)v[0] << 24 | (size_t)v[1] << 16 | (size_t)v[2] << 8 | v[3];
    if (tlen > val_len - 4 || (meta = agent_json_load(v + 4, tlen)) == NULL)
        return 0;
    kind = json_string_value(json_object_get(meta, "kind"));
    if (kind != NULL && strcmp(kind, "mlat.request") == 0)
        json_array_append_new(k->mlat, meta);
    else if (kind != NULL && strcmp(kind, "freeze.designation") == 0 &&
             strncmp(str_reason(meta), "freeze.designation refused", 26) != 0)
        json_decref(meta); /* listed under designations; a refused one is listed here */
    else
        json_array_append_new(k->other, meta);
    return 0;
}

static const char *
str_of(const json_t *o, const char *member)
{
    const char *s = json_string_value(json_object_get(o, member));

    return s != NULL ? s : "";
}

static void
print_names(const json_t *entry)
{
    size_t i;
    const json_t *n;

    json_array_foreach(json_object_get(entry, "names"), i, n)
        printf("%s%s", i > 0 ? "; " : "", json_string_value(n));
}

static void
print_list(const json_t *o)
{
    size_t i;
    const json_t *r;

    printf("OWN WATCHLIST ENTRIES (%zu)\n", json_array_size(json_object_get(o, "entries")));
    json_array_foreach(json_object_get(o, "entries"), i, r) {
        printf("  %-24s %-8s ", str_of(r, "ref"), str_of(r, "type"));
        print_names(r);
        if (json_object_get(r, "born") != NULL)
            printf("  born %s", str_of(r, "born"));
        printf("\n");
    }
    printf("OWN DOCUMENT REPORTS (%zu)\n", json_array_size(json_object_get(o, "documents")));
    json_array_foreach(json_object_get(o, "documents"), i, r) {
        const json_t *d = json_object_get(r, "document");

        printf("  %-24s %-10s %-12s %-4s %-8s reported %s\n", str_of(r, "ref"), str_of(d, "type"),
               str_of(d, "number"), str_of(d, "country"), str_of(r, "status"), str_of(r, "reported"));
    }
    printf("DESIGNATIONS RECEIVED (%zu)\n", json_array_size(json_object_get(o, "designations")));
    json_array_foreach(json_object_get(o, "designations"), i, r) {
        const json_t *ent = json_object_get(r, "entity");

        printf("  %-20s v%-3lld %-7s %-14s ack %-12s %s%s%s\n", str_of(r, "designation"),
               (long long)json_integer_value(json_object_get(r, "version")), str_of(r, "action"),
               str_of(r, "from"), str_of(r, "ack"), str_of(ent, "name"),
               json_object_get(r, "implement_requested") != NULL &&
                       strcmp(str_of(r, "ack"), "implemented") != 0
                   ? "  (implement requested)"
                   : "",
               json_object_get(r, "implement_error") != NULL ? "  (failed: see --json)" : "");
    }
    printf("OWN DESIGNATIONS (%zu)\n", json_array_size(json_object_get(o, "own_designations")));
    json_array_foreach(json_object_get(o, "own_designations"), i, r)
        printf("  %-20s v%-3lld %-7s sent %s  %s\n", str_of(r, "designation"),
               (long long)json_integer_value(json_object_get(r, "version")), str_of(r, "action"),
               str_of(r, "sent"), str_of(json_object_get(r, "entity"), "name"));
    printf("MLAT REQUESTS RECEIVED (%zu)\n", json_array_size(json_object_get(o, "mlat_requests")));
    json_array_foreach(json_object_get(o, "mlat_requests"), i, r)
        printf("  %-24s from %-14s received %s\n", str_of(r, "case"), str_of(r, "from"),
               str_of(r, "received"));
    printf("PARTNERS' WATCHLIST ENTRIES (%zu)\n",
           json_array_size(json_object_get(o, "partner_entries")));
    json_array_foreach(json_object_get(o, "partner_entries"), i, r) {
        const json_t *e = json_object_get(r, "entry");

        printf("  %-14s %-24s ", str_of(r, "from"), str_of(e, "ref"));
        print_names(e);
        printf("\n");
    }
    printf("PARTNERS' DOCUMENT REPORTS (%zu)\n",
           json_array_size(json_object_get(o, "partner_documents")));
    json_array_foreach(json_object_get(o, "partner_documents"), i, r) {
        const json_t *rep = json_object_get(r, "report");
        const json_t *d = json_object_get(rep, "document");

        printf("  %-14s %-24s %-12s %-4s %s\n", str_of(r, "from"), str_of(rep, "ref"),
               str_of(d, "number"), str_of(d, "country"), str_of(rep, "status"));
    }
    printf("OTHER MESSAGES KEPT AS RECEIVED (%zu)\n", json_array_size(json_object_get(o, "kept")));
    json_array_foreach(json_object_get(o, "kept"), i, r)
        printf("  %-20s from %-14s %s  %s\n", str_of(r, "kind"), str_of(r, "from"),
               str_of(r, "received"), str_of(r, "reason"));
}

static int
cmd_list(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        const char *name;     /* member of the output */
        agent_table table;    /* where its records are */
    } sections[] = {
        {"entries", AGENT_T_ENTRIES},
        {"documents", AGENT_T_DOCS},
        {"designations", AGENT_T_DESIGNATIONS},
        {"own_designations", AGENT_T_OWN_DESIGNATIONS},
        {"partner_entries", AGENT_T_PARTNER_ENTRIES},
        {"partner_documents", AGENT_T_PARTNER_DOCS},
    };
    const char *config = NULL;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *o = json_object();
    kept_summary k = {json_array(), json_array()};
    agent_store_err err = AGENT_STORE_OK;
    bool json = false;
    int opt, rc = EX_USAGE;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: config = optarg; break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(usage_list, stdout); rc = EX_OK; goto out;
        default: fputs(usage_list, stderr); goto out;
        }
    }
    if (optind != argc) {
        fputs(usage_list, stderr);
        goto out;
    }
    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(SUB, cfg, true, &st)) != EX_OK)
        goto out;
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK)
        goto out;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        json_t *arr = json_array();

        json_object_set_new(o, sections[i].name, arr);
        if ((err = agent_store_each(t, sections[i].table, NULL, collect, arr)) != AGENT_STORE_OK)
            goto out;
    }
    if ((err = agent_store_each(t, AGENT_T_KEPT, NULL, collect_kept, &k)) != AGENT_STORE_OK)
        goto out;
    json_object_set(o, "mlat_requests", k.mlat);
    json_object_set(o, "kept", k.other);
    if (json)
        print_json(o);
    else
        print_list(o);
    rc = EX_OK;
out:
    if (err != AGENT_STORE_OK)
        rc = store_failed(err);
    agent_store_abort(&t);
    json_decref(o);
    json_decref(k.mlat);
    json_decref(k.other);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

/* ---- lookup ------------------------------------------------------------------------------------ */

static int
cmd_lookup(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"name", required_argument, NULL, OPT_NAME},
        {"born", required_argument, NULL, OPT_BORN},
        {"document", required_argument, NULL, OPT_DOCUMENT},
        {"type", required_argument, NULL, OPT_TYPE},
        {"country", required_argument, NULL, OPT_COUNTRY},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *born = NULL, *document = NULL, *type = NULL, *country = NULL;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *names = json_array(), *subject = json_object(), *doc = NULL;
    json_t *hits = NULL, *doc_hits = NULL, *o = NULL;
    agent_store_err err = AGENT_STORE_OK;
    bool json = false;
    int opt, rc = EX_USAGE;
    size_t i;
    const json_t *h;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: config = optarg; break;
        case OPT_NAME: json_array_append_new(names, json_string(optarg)); break;
        case OPT_BORN: born = optarg; break;
        case OPT_DOCUMENT: document = optarg; break;
        case OPT_TYPE: type = optarg; break;
        case OPT_COUNTRY: country = optarg; break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(usage_lookup, stdout); rc = EX_OK; goto out;
        default: fputs(usage_lookup, stderr); goto out;
        }
    }
    if (optind != argc || (json_array_size(names) == 0 && document == NULL)) {
        cli_error(SUB, "lookup: give --name NAME or --document N (see --help)");
        goto out;
    }
    for (i = 0; i < json_array_size(names); i++) {
        if (json_array_get(names, i) == NULL ||
            json_string_length(json_array_get(names, i)) > MATCH_NAME_BYTES_MAX) {
            cli_error(SUB, "lookup: a --name is not UTF-8 text of at most %u bytes",
                      MATCH_NAME_BYTES_MAX);
            goto out;
        }
    }
    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(SUB, cfg, true, &st)) != EX_OK)
        goto out;
    json_object_set(subject, "names", names);
    if (born != NULL)
        json_object_set_new(subject, "born", json_string(born));
    if (document != NULL) {
        json_t *docs = json_array();

        doc = json_pack("{s:s}", "number", document);
        if (type != NULL)
            json_object_set_new(doc, "type", json_string(type));
        if (country != NULL)
            json_object_set_new(doc, "country", json_string(country));
        json_array_append(docs, doc);
        json_object_set_new(subject, "documents", docs);
    }
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK ||
        (err = agent_lookup_subject(t, subject, cfg->name_threshold,
                                    AGENT_SCOPE_OWN | AGENT_SCOPE_PARTNERS, true, &hits)) !=
            AGENT_STORE_OK ||
        (doc != NULL &&
         (err = agent_lookup_document(t, doc, AGENT_SCOPE_OWN | AGENT_SCOPE_PARTNERS, true,
                                      &doc_hits)) != AGENT_STORE_OK)) {
        rc = store_failed(err);
        goto out;
    }
    agent_store_abort(&t);
    if (doc_hits == NULL)
        doc_hits = json_array();
    if (json) {
        json_t *normalised = json_array();

        json_array_foreach(names, i, h) {
            char buf[MATCH_NAME_BYTES_MAX];

            json_array_append_new(normalised,
                                  json_string(match_name_normalise(json_string_value(h), buf, sizeof(buf))));
        }
        o = json_pack("{s:o, s:f, s:O, s:O}", "normalised", normalised, "threshold",
                      cfg->name_threshold, "hits", hits, "documents", doc_hits);
        print_json(o);
    } else {
        json_array_foreach(names, i, h) {
            char buf[MATCH_NAME_BYTES_MAX];

            printf("name %s -> \"%s\" (threshold %.2f)\n", json_string_value(h),
                   match_name_normalise(json_string_value(h), buf, sizeof(buf)), cfg->name_threshold);
        }
        json_array_foreach(hits, i, h) {
            size_t k;
            const json_t *m;

            printf("  hit  %.3f  %-14s %-24s %s  [", json_real_value(json_object_get(h, "score")),
                   str_of(h, "source"), str_of(h, "ref"), str_of(h, "name"));
            json_array_foreach(json_object_get(h, "matched"), k, m)
                printf("%s%s", k > 0 ? "," : "", json_string_value(m));
            printf("]\n");
        }
        json_array_foreach(doc_hits, i, h)
            printf("  document %-14s %-24s %s reported %s\n", str_of(h, "source"), str_of(h, "ref"),
                   str_of(h, "status"), str_of(h, "reported"));
        if (json_array_size(hits) == 0 && json_array_size(doc_hits) == 0)
            printf("  no hit\n");
    }
    rc = json_array_size(hits) > 0 || json_array_size(doc_hits) > 0 ? EX_OK : 1;
out:
    agent_store_abort(&t);
    json_decref(o);
    json_decref(hits);
    json_decref(doc_hits);
    json_decref(doc);
    json_decref(subject);
    json_decref(names);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

/* ---- reindex -------------------------------------------------------------------------------- */

static int
cmd_reindex(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *txn = NULL;
    agent_store_err err = AGENT_STORE_OK;
    struct timespec t0, t1;
    size_t records = 0;
    bool json = false;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: config = optarg; break;
        case OPT_JSON: json = true; break;
        case 'h': fputs(usage_reindex, stdout); return EX_OK;
        default: fputs(usage_reindex, stderr); return EX_USAGE;
        }
    }
    if (optind != argc) {
        cli_error(SUB, "reindex: unexpected '%s' (see --help)", argv[optind]);
        return EX_USAGE;
    }
    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK)
        goto out;
    if ((rc = cli_agent_store_open(SUB, cfg, false, &st)) != EX_OK)
        goto out;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((err = agent_store_begin(st, true, &txn)) != AGENT_STORE_OK ||
        (err = agent_index_rebuild(txn, &records)) != AGENT_STORE_OK ||
        (err = agent_store_commit(&txn)) != AGENT_STORE_OK) {
        rc = store_failed(err);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

        if (json) {
            json_t *o = json_pack("{s:I, s:f}", "records", (json_int_t)records, "seconds", secs);

            print_json(o);
            json_decref(o);
        } else {
            printf("%zu records indexed in %.2f s\n", records, secs);
        }
    }
out:
    agent_store_abort(&txn);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

/* ---- run ------------------------------------------------------------------------------------- */

static int
cmd_run(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    agent_config *cfg = NULL;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: config = optarg; break;
        case 'h': fputs(usage_agent, stdout); return EX_OK;
        default: fputs(usage_agent, stderr); return EX_USAGE;
        }
    }
    if (optind != argc) {
        cli_error(SUB, "unexpected '%s' (see liaison agent --help)", argv[optind]);
        return EX_USAGE;
    }
    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK)
        return rc;
    rc = agent_run(cfg);
    agent_config_destroy(&cfg);
    return rc;
}

int
cli_agent_main(int argc, char **argv)
{
    static const struct {
        const char *name;              /* what the operator types */
        int (*fn)(int, char **);       /* its entry point */
    } commands[] = {
        {"add-watchlist", cmd_add_watchlist}, {"add-traveldoc", cmd_add_traveldoc},
        {"remove", cmd_remove},               {"implement", cmd_implement},
        {"list", cmd_list},                   {"lookup", cmd_lookup},
        {"reindex", cmd_reindex},
    };

    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].fn(argc - 1, argv + 1);
        }
        if (strcmp(argv[1], "help") == 0) {
            fputs(usage_agent, stdout);
            return EX_OK;
        }
        cli_error(SUB, "unknown command '%s' (see liaison agent --help)", argv[1]);
        return EX_USAGE;
    }
    return cmd_run(argc, argv);
}
