/* liaison freeze screen, export and query: customers screened against the designations in force,
 * the designations exported for banks, and freeze.query sent to the designating units. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_freeze_screen.h"
#include "cli_int.h"
#include "country.h"
#include "csv.h"
#include "liaison_proto.h"
#include "screen.h"

#define SUB "freeze"
#define TO_MAX 64
#define DEFAULT_DEADLINE_S 30
/* Largest customer file read, in bytes. */

static const char usage_screen[] =
    "NAME\n"
    "    liaison freeze screen - screen a CSV of customers against the designations in force\n\n"
    "SYNOPSIS\n"
    "    liaison freeze screen --config AGENT.yaml FILE.csv [--name-column C]\n"
    "                          [--born-column C] [--nationality-column C] [--document-column C]\n"
    "                          [--country-column C] [--type-column C] [--id-column C]\n"
    "                          [--threshold T] [--format text|csv|json] [--json] [--own]\n\n"
    "DESCRIPTION\n"
    "    Reads FILE.csv (RFC 4180: a header row, commas, fields in double quotes may\n"
    "    hold commas, newlines and doubled quotes; CRLF or LF) and screens each row\n"
    "    against every designation in force that the agent of AGENT.yaml received\n"
    "    (per designating unit and designation id the latest version, delisted ones\n"
    "    left out), and with --own the agency's own designations too.  Prints, per\n"
    "    customer row, the candidate designations scored at or above the threshold,\n"
    "    best first, with the reasons: which name of the designation matched and how\n"
    "    well, which date of birth, nationality, country, document agreed or\n"
    "    disagreed (docs/agent.md, Screening).  Works while the agent runs.\n\n"
    "OPTIONS\n"
    "    --config FILE          the agent's configuration (its store is read)\n"
    "    --name-column C        the column of names (default name; required)\n"
    "    --born-column C        dates of birth, YYYY-MM-DD, YYYY-MM or YYYY (default born)\n"
    "    --nationality-column C nationalities, ISO alpha-2, alpha-3 or name (default\n"
    "                           nationality)\n"
    "    --document-column C    a document number or identifier (default document)\n"
    "    --country-column C     a country of residence or registration (default country)\n"
    "    --type-column C        individual or entity (default type)\n"
    "    --id-column C          the customer's own id, shown with each candidate (default id)\n"
    "    --threshold T          the score at or above which a designation is a candidate,\n"
    "                           0.50 to 1.00 (default: the agent's name_threshold)\n"
    "    --format F             text (default), csv or json\n"
    "    --json                 the same as --format json\n"
    "    --own                  screen against the agency's own designations as well\n\n"
    "    Only the name column must be in the header; a column named by an option\n"
    "    must be.  At most 1000000 rows, 64 fields a row, 4096 bytes a field (512 for\n"
    "    the fields screened) and 65536 bytes a row.\n\n"
    "EXIT STATUS\n"
    "    0 at least one candidate; 1 no candidate; 64 bad usage; 65 the file was\n"
    "    refused (FILE:LINE: reason); 66 no such file, or no agent store; 74 the\n"
    "    agent's store cannot be read; 78 bad configuration.\n\n"
    "EXAMPLES\n"
    "    liaison freeze screen --config /etc/liaison/agents/can-fintrac.yaml customers.csv\n"
    "    liaison freeze screen --config can-fintrac.yaml customers.csv --format csv > out.csv\n";

static const char usage_export[] =
    "NAME\n"
    "    liaison freeze export - the designations in force received, for the banks supervised\n\n"
    "SYNOPSIS\n"
    "    liaison freeze export --config AGENT.yaml [--format csv|json] [--output FILE]\n\n"
    "DESCRIPTION\n"
    "    Writes one row per designation in force that the agent of AGENT.yaml received\n"
    "    (per designating unit and designation id the latest version; delisted ones\n"
    "    left out): the designating nation and unit, list, reference, designation id,\n"
    "    version, type, name, original name, aliases, dates and places of birth,\n"
    "    nationalities, documents, identifiers, programmes, the listed, amended and\n"
    "    effective dates, when it was received and the acknowledgement state.\n"
    "    CSV (the default) follows RFC 4180 with a header row; lists are joined with\n"
    "    '; '.  A field that begins with = + - @ TAB or CR gets a leading apostrophe,\n"
    "    so that a spreadsheet shows it as text and never runs it as a formula.\n"
    "    JSON is an array of objects with the lists as arrays.\n\n"
    "OPTIONS\n"
    "    --config FILE   the agent's configuration (its store is read)\n"
    "    --format F      csv (default) or json\n"
    "    --output FILE   write there (mode 0600) instead of standard output\n\n"
    "EXIT STATUS\n"
    "    0 written; 64 bad usage; 78 bad configuration; 66 no agent store;\n"
    "    73 the output file cannot be written; 74 the agent's store cannot be read.\n";

static const char usage_query[] =
    "NAME\n"
    "    liaison freeze query - ask designating units whether a subject is designated by them\n\n"
    "SYNOPSIS\n"
    "    liaison freeze query --name NAME [--born D] [--nationality C] [--document N]\n"
    "                         [--country C] [--type T] [--to SELECTOR]... --purpose P\n"
    "                         [--deadline SECONDS] [--labels LABELS] [--json]\n"
    "                         [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends one freeze.query to every unit the selectors name (default *: every\n"
    "    partner unit that accepts freeze.*).  Each unit's agent answers from its\n"
    "    own designations in force only, never from what partners designated, with\n"
    "    at most 20 hits, best first, each with its score and reasons.  A query must\n"
    "    state its purpose (--purpose, carried in the labels as PURPOSE:<text>).\n\n"
    "OPTIONS\n"
    "    --name NAME        the subject's name (required)\n"
    "    --born DATE        date of birth, YYYY-MM-DD, YYYY-MM or YYYY\n"
    "    --nationality C    nationality, ISO alpha-2, alpha-3 or name\n"
    "    --document N       a document number or identifier\n"
    "    --country C        a country of residence or registration\n"
    "    --type T           individual or entity\n"
    "    --to SELECTOR      a unit or selector; repeat for several (default *)\n"
    "    --purpose TEXT     why you ask (printable, at most 200 characters, no //)\n"
    "    --deadline SECS    how long to wait for answers (default 30)\n"
    "    --labels LABELS    message labels before the purpose (default LES)\n"
    "    --json             print {id, answers: [{from, id, result, hits}], silent, complete}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 every unit answered; 75 at least one did not answer in time; 2 rejected\n"
    "    by the broker; 64 bad usage (no --purpose, no --name); 65 bad key or roster;\n"
    "    69 broker unreachable; 77 the broker refused the agency's key.\n\n"
    "EXAMPLES\n"
    "    liaison freeze query --to 'USA/*' --name 'Nortwind Tradeing' --country CYP \\\n"
    "        --purpose 'account opening KYC 2026-118'\n";

/* ---- Shared ------------------------------------------------------------------------------ */

/* Loads the agent's configuration and opens its store (which must exist); a sysexits code. */
static int
open_agent(const char *what, const char *config, agent_config **cfg_out, agent_store **st_out)
{
    char sub[32];
    int rc;

    snprintf(sub, sizeof(sub), "%s %s", SUB, what);
    if (config == NULL) {
        cli_error(sub, "--config AGENT.yaml is required (see --help)");
        return EX_USAGE;
    }
    if ((rc = cli_agent_config_load(sub, config, cfg_out)) != EX_OK)
        return rc;
    return cli_agent_store_open(sub, *cfg_out, false, st_out);
}

static const char *
str_of(const json_t *o, const char *member)
{
    const char *s = json_string_value(json_object_get(o, member));

    return s != NULL ? s : "";
}

/* Prints s with control characters shown as '?', at most width bytes (0: all) padded to width. */
static void
print_text(const char *s, size_t width)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++, n++) {
        if (width > 0 && n + 1 >= width && p[1] != '\0') {
            /* Cut at a character boundary and mark the cut. */
            while (((*p) & 0xC0) == 0x80)
                p++;
            fputc('~', stdout);
            n++;
            break;
        }
        fputc(*p < 0x20 || *p == 0x7F ? '?' : *p, stdout);
    }
    for (; n < width; n++)
        fputc(' ', stdout);
}

/* ---- screen ------------------------------------------------------------------------------ */

/* The columns screened, by option. */
enum column {
    COL_NAME = 0,
    COL_BORN,
    COL_NATIONALITY,
    COL_DOCUMENT,
    COL_COUNTRY,
    COL_TYPE,
    COL_ID,
    COL_COUNT,
};

static const char *const column_default[COL_COUNT] = {"name", "born", "nationality", "document",
                                                      "country", "type", "id"};

/* Options of freeze screen. */
typedef struct screen_opts {
    const char *config;               /* --config */
    const char *file;                 /* FILE.csv */
    const char *columns[COL_COUNT];   /* header names */
    bool named[COL_COUNT];            /* given by an option: must be in the header */
    double threshold;                 /* --threshold, or < 0 for the agent's */
    const char *format;               /* text, csv or json */
    bool own;                         /* --own */
} screen_opts;

static int
screen_parse(int argc, char **argv, screen_opts *o)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"name-column", required_argument, NULL, 0 + 1000},
        {"born-column", required_argument, NULL, 1 + 1000},
        {"nationality-column", required_argument, NULL, 2 + 1000},
        {"document-column", required_argument, NULL, 3 + 1000},
        {"country-column", required_argument, NULL, 4 + 1000},
        {"type-column", required_argument, NULL, 5 + 1000},
        {"id-column", required_argument, NULL, 6 + 1000},
        {"threshold", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},
        {"own", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    char *end;

    memset(o, 0, sizeof(*o));
    memcpy(o->columns, column_default, sizeof(o->columns));
    o->threshold = -1.0;
    o->format = "text";
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt >= 1000 && opt < 1000 + COL_COUNT) {
            o->columns[opt - 1000] = optarg;
            o->named[opt - 1000] = true;
            continue;
        }
        switch (opt) {
        case 'c': o->config = optarg; break;
        case 't':
            errno = 0;
            o->threshold = strtod(optarg, &end);
            if (errno != 0 || *end != '\0' || !(o->threshold >= AGENT_THRESHOLD_MIN) ||
                o->threshold > AGENT_THRESHOLD_MAX) {
                cli_error(SUB, "screen: --threshold takes a number from 0.50 to 1.00");
                return EX_USAGE;
            }
            break;
        case 'f': o->format = optarg; break;
        case 'j': o->format = "json"; break;
        case 'o': o->own = true; break;
        case 'h': fputs(usage_screen, stdout); return -1;
        default:
            cli_error(SUB, "screen: unknown option or missing value '%s' (see --help)",
                      argv[optind - 1]);
            return EX_USAGE;
        }
    }
    if (strcmp(o->format, "text") != 0 && strcmp(o->format, "csv") != 0 &&
        strcmp(o->format, "json") != 0) {
        cli_error(SUB, "screen: --format is text, csv or json");
        return EX_USAGE;
    }
    if (optind != argc - 1) {
        cli_error(SUB, "screen: give one FILE.csv (see --help)");
        return EX_USAGE;
    }
    o->file = argv[optind];
    return EX_OK;
}

/* Reads the whole file into *text_out; a sysexits code (said on stderr). */
static int
read_customers(const char *path, char **text_out, size_t *len_out)
{
    uint8_t *data = NULL;

    if (cli_read_file(path, &data, len_out) == 0) {
        *text_out = (char *)data;
        return EX_OK;
    }
    switch (errno) {
    case EFBIG:
        cli_error(SUB, "screen: %s: larger than %ld bytes", path, CLI_FILE_MAX);
        return EX_DATAERR;
    case EISDIR:
        cli_error(SUB, "screen: %s: cannot be read as a file", path);
        return EX_NOINPUT;
    case EIO:
        cli_error(SUB, "screen: %s: cannot be read", path);
        return EX_IOERR;
    default:
        cli_error(SUB, "screen: cannot read %s: %s", path, strerror(errno));
        return EX_NOINPUT;
    }
}

/* The column index of each screened field in the header (-1 when absent); a sysexits code. */
static int
map_columns(const screen_opts *o, const csv_row *header, int idx[COL_COUNT])
{
    for (int c = 0; c < COL_COUNT; c++) {
        idx[c] = -1;
        for (size_t i = 0; i < header->count && idx[c] < 0; i++) {
            if (strcmp(header->fields[i], o->columns[c]) == 0)
                idx[c] = (int)i;
        }
        if (idx[c] < 0 && (c == COL_NAME || o->named[c])) {
            cli_error(SUB, "%s:%zu: no column '%s' in the header", o->file, header->line,
                      o->columns[c]);
            return EX_DATAERR;
        }
    }
    return EX_OK;
}

/* Prints one candidate row of the text table, then its reasons. */
static void
text_candidate(size_t line, const char *customer, const json_t *c)
{
    size_t i;
    const json_t *r;
    char version[16];

    printf("%6zu  ", line);
    print_text(customer, 16);
    printf("  %.3f  ", json_real_value(json_object_get(c, "score")));
    print_text(str_of(c, "from")[0] != '\0' ? str_of(c, "from") : "(own)", 14);
    printf("  ");
    print_text(str_of(c, "designation"), 22);
    snprintf(version, sizeof(version), "%lld",
             (long long)json_integer_value(json_object_get(c, "version")));
    printf("  %-4s  ", version);
    print_text(str_of(c, "list")[0] != '\0' ? str_of(c, "list") : "-", 9);
    printf("  ");
    print_text(str_of(c, "name"), 0);
    putchar('\n');
    json_array_foreach(json_object_get(c, "reasons"), i, r) {
        printf("%8s", "");
        print_text(json_string_value(r), 0);
        putchar('\n');
    }
}

static const char *const csv_header[] = {
    "line", "customer_id", "customer_name", "rank", "score", "from", "list", "reference",
    "designation", "version", "designation_name", "matched_name", "matched_as", "reasons"};

/* Prints one candidate as a CSV record. */
static void
csv_candidate(size_t line, const char *id, const char *name, size_t rank, const json_t *c)
{
    char num[32];
    char *reasons = NULL;
    size_t len = 0, i;
    const json_t *r;
    FILE *m = open_memstream(&reasons, &len);

    json_array_foreach(json_object_get(c, "reasons"), i, r) {
        if (m != NULL)
            fprintf(m, "%s%s", i > 0 ? "; " : "", json_string_value(r));
    }
    if (m != NULL)
        fclose(m);
    snprintf(num, sizeof(num), "%zu", line);
    csv_field_write(stdout, num, true);
    putchar(',');
    csv_field_write(stdout, id, true);
    putchar(',');
    csv_field_write(stdout, name, true);
    snprintf(num, sizeof(num), ",%zu,%.3f,", rank, json_real_value(json_object_get(c, "score")));
    fputs(num, stdout);
    csv_field_write(stdout, str_of(c, "from"), true);
    putchar(',');
    csv_field_write(stdout, str_of(c, "list"), true);
    putchar(',');
    csv_field_write(stdout, str_of(c, "reference"), true);
    putchar(',');
    csv_field_write(stdout, str_of(c, "designation"), true);
    snprintf(num, sizeof(num), ",%lld,", (long long)json_integer_value(json_object_get(c, "version")));
    fputs(num, stdout);
    csv_field_write(stdout, str_of(c, "name"), true);
    putchar(',');
    csv_field_write(stdout, str_of(c, "matched_name"), true);
    putchar(',');
    csv_field_write(stdout, str_of(c, "matched_as"), true);
    putchar(',');
    csv_field_write(stdout, reasons, true);
    fputs("\r\n", stdout);
    free(reasons);
}

int
cli_freeze_screen(int argc, char **argv)
{
    screen_opts o;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    screen_set *set = NULL;
    char *text = NULL, why[256];
    size_t len = 0, rows = 0, rows_hit = 0, total = 0;
    csv_reader rd;
    csv_row *row = NULL;
    int idx[COL_COUNT], rc;
    json_t *all = NULL;
    agent_store_err err;
    double threshold;
    bool json, csv;

    if ((rc = screen_parse(argc, argv, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    json = strcmp(o.format, "json") == 0;
    csv = strcmp(o.format, "csv") == 0;
    if ((rc = read_customers(o.file, &text, &len)) != EX_OK)
        goto out;
    if ((rc = open_agent("screen", o.config, &cfg, &st)) != EX_OK)
        goto out;
    threshold = o.threshold >= 0.0 ? o.threshold : cfg->name_threshold;
    set = screen_set_new();
    row = malloc(sizeof(*row));
    all = json_array();
    if (set == NULL || row == NULL || all == NULL) {
        cli_error(SUB, "screen: out of memory");
        rc = EX_SOFTWARE;
        goto out;
    }
    /* One read transaction: a consistent view while the agent goes on writing. */
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK ||
        (err = screen_set_load(t, SCREEN_RECEIVED | (o.own ? SCREEN_OWN : 0u), set)) !=
            AGENT_STORE_OK) {
        cli_error(SUB, "screen: agent store: %s", agent_store_strerror(err));
        rc = EX_IOERR;
        goto out;
    }
    agent_store_abort(&t);
    csv_reader_init(&rd, text, len);
    if (csv_row_read(&rd, row, why, sizeof(why)) != CSV_OK) {
        cli_error(SUB, "%s:%s", o.file, rd.pos >= len && rd.rows == 0 ? "1: no header row" : why);
        rc = EX_DATAERR;
        goto out;
    }
    if ((rc = map_columns(&o, row, idx)) != EX_OK)
        goto out;
    {
        size_t header_count = row->count;
        csv_err cerr;

        if (csv)
            for (size_t i = 0; i < sizeof(csv_header) / sizeof(csv_header[0]); i++)
                printf("%s%s", i > 0 ? "," : "", csv_header[i]);
        if (csv)
            fputs("\r\n", stdout);
        if (!csv && !json)
            printf("%6s  %-16s  %-5s  %-14s  %-22s  %-4s  %-9s  %s\n", "LINE", "CUSTOMER", "SCORE",
                   "FROM", "DESIGNATION", "V", "LIST", "NAME");
        while ((cerr = csv_row_read(&rd, row, why, sizeof(why))) == CSV_OK) {
            screen_subject s;
            const char *f[COL_COUNT];
            json_t *cands = NULL;
            size_t i;
            const json_t *c;

            if (row->count == 1 && row->fields[0][0] == '\0' && header_count > 1)
                continue; /* a blank line */
            if (row->count != header_count) {
                cli_error(SUB, "%s:%zu: %zu fields, the header has %zu", o.file, row->line,
                          row->count, header_count);
                rc = EX_DATAERR;
                goto out;
            }
            for (int k = 0; k < COL_COUNT; k++) {
                f[k] = idx[k] >= 0 ? row->fields[idx[k]] : NULL;
                if (k != COL_ID && f[k] != NULL && strlen(f[k]) > SCREEN_FIELD_MAX) {
                    cli_error(SUB, "%s:%zu: column '%s' longer than %u bytes", o.file, row->line,
                              o.columns[k], SCREEN_FIELD_MAX);
                    rc = EX_DATAERR;
                    goto out;
                }
            }
            rows++;
            s = (screen_subject){f[COL_NAME], f[COL_BORN], f[COL_NATIONALITY], f[COL_COUNTRY],
                                 f[COL_DOCUMENT], f[COL_TYPE]};
            if (!screen_subject_run(set, &s, threshold, SCREEN_CANDIDATES_MAX, false, &cands, NULL)) {
                cli_error(SUB, "screen: out of memory");
                rc = EX_SOFTWARE;
                goto out;
            }
            if (json_array_size(cands) > 0)
                rows_hit++;
            total += json_array_size(cands);
            json_array_foreach(cands, i, c) {
                const char *customer = f[COL_ID] != NULL && f[COL_ID][0] != '\0' ? f[COL_ID]
                                                                                  : f[COL_NAME];

                if (json) {
                    json_t *j = json_pack("{s:I, s:s, s:I}", "line", (json_int_t)row->line,
                                          "customer_name", f[COL_NAME], "rank", (json_int_t)i + 1);

                    if (f[COL_ID] != NULL)
                        json_object_set_new(j, "customer_id", json_string(f[COL_ID]));
                    json_object_update(j, (json_t *)(uintptr_t)c);
                    json_array_append_new(all, j);
                } else if (csv) {
                    csv_candidate(row->line, f[COL_ID], f[COL_NAME], i + 1, c);
                } else {
                    text_candidate(row->line, customer, c);
                }
            }
            json_decref(cands);
        }
        if (cerr == CSV_REFUSED) {
            fflush(stdout);
            cli_error(SUB, "%s:%s", o.file, why);
            rc = EX_DATAERR;
            goto out;
        }
    }
    if (json) {
        json_t *doc = json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:o}", "file", o.file, "threshold",
                                threshold, "designations", (json_int_t)screen_set_count(set),
                                "rows", (json_int_t)rows, "rows_with_candidates",
                                (json_int_t)rows_hit, "candidate_count", (json_int_t)total,
                                "candidates", all);

        all = NULL;
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        putchar('\n');
        json_decref(doc);
    } else if (!csv) {
        printf("%zu row%s screened against %zu designation%s in force (threshold %.2f): %zu "
               "candidate%s for %zu row%s\n",
               rows, rows == 1 ? "" : "s", screen_set_count(set),
               screen_set_count(set) == 1 ? "" : "s", threshold, total, total == 1 ? "" : "s",
               rows_hit, rows_hit == 1 ? "" : "s");
    }
    rc = total > 0 ? EX_OK : 1;
out:
    fflush(stdout);
    agent_store_abort(&t);
    screen_set_destroy(&set);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    json_decref(all);
    free(row);
    free(text);
    return rc;
}

/* ---- export ------------------------------------------------------------------------------- */

/* The columns of the export, in order. */
static const char *const export_columns[] = {
    "nation", "from", "list", "reference", "designation", "version", "type", "name",
    "original_name", "aliases", "born", "birth_places", "nationalities", "documents",
    "identifiers", "programmes", "listed", "amended", "effective", "received", "ack"};

/* The export's context: the rows gathered. */
typedef struct export_ctx {
    json_t *rows; /* one object per designation in force */
} export_ctx;

/* A list member of entity as an array of strings: texts as they are; aliases
 * "NAME" or "NAME (weak)"; documents and identifiers "TYPE NUMBER (COUNTRY)". */
static json_t *
text_list(const json_t *list, const char *kind)
{
    json_t *out = json_array();
    size_t i;
    const json_t *v;

    json_array_foreach(list, i, v) {
        char buf[1200];

        if (json_is_string(v)) {
            json_array_append(out, (json_t *)(uintptr_t)v);
            continue;
        }
        if (!json_is_object(v))
            continue;
        if (strcmp(kind, "aliases") == 0) {
            const char *q = str_of(v, "quality");

            snprintf(buf, sizeof(buf), "%s%s%s%s", str_of(v, "name"), q[0] ? " (" : "", q,
                     q[0] ? ")" : "");
        } else if (strcmp(kind, "documents") == 0 || strcmp(kind, "identifiers") == 0) {
            const char *type = str_of(v, "type"), *country = str_of(v, "country");

            snprintf(buf, sizeof(buf), "%s%s%s%s%s%s", type, type[0] ? " " : "",
                     str_of(v, strcmp(kind, "documents") == 0 ? "number" : "value"),
                     country[0] ? " (" : "", country, country[0] ? ")" : "");
        } else {
            continue;
        }
        json_array_append_new(out, json_string(buf));
    }
    return out;
}

static int
export_one(void *ctx, const json_t *rec)
{
    export_ctx *x = ctx;
    const json_t *entity = json_object_get(rec, "entity");
    const char *from = str_of(rec, "from");
    char nation[4] = "";
    json_t *row;

    if (strlen(from) >= 3 && from[3] == '/')
        snprintf(nation, sizeof(nation), "%.3s", from);
    row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "nation", nation, "from",
                    from, "list", str_of(rec, "list"), "reference", str_of(rec, "reference"),
                    "designation", str_of(rec, "designation"), "version",
                    json_integer_value(json_object_get(rec, "version")), "type",
                    str_of(entity, "type")[0] ? str_of(entity, "type") : "entity", "name",
                    str_of(entity, "name"), "original_name", str_of(entity, "original_name"));
    if (row == NULL)
        return 1;
    json_object_set_new(row, "aliases", text_list(json_object_get(entity, "aliases"), "aliases"));
    json_object_set_new(row, "born", text_list(json_object_get(entity, "born"), "born"));
    json_object_set_new(row, "birth_places",
                        text_list(json_object_get(entity, "birth_places"), "birth_places"));
    json_object_set_new(row, "nationalities",
                        text_list(json_object_get(entity, "nationalities"), "nationalities"));
    json_object_set_new(row, "documents",
                        text_list(json_object_get(entity, "documents"), "documents"));
    json_object_set_new(row, "identifiers",
                        text_list(json_object_get(entity, "identifiers"), "identifiers"));
    json_object_set_new(row, "programmes", text_list(json_object_get(rec, "programmes"), "programmes"));
    json_object_set_new(row, "listed", json_string(str_of(rec, "listed")));
    json_object_set_new(row, "amended", json_string(str_of(rec, "amended")));
    json_object_set_new(row, "effective", json_string(str_of(rec, "effective")));
    json_object_set_new(row, "received", json_string(str_of(rec, "received")));
    json_object_set_new(row, "ack", json_string(str_of(rec, "ack")));
    json_array_append_new(x->rows, row);
    return 0;
}

/* Writes the rows as CSV to f. */
static void
export_csv(FILE *f, const json_t *rows)
{
    size_t n = sizeof(export_columns) / sizeof(export_columns[0]), i;
    const json_t *row;

    for (size_t c = 0; c < n; c++)
        fprintf(f, "%s%s", c > 0 ? "," : "", export_columns[c]);
    fputs("\r\n", f);
    json_array_foreach(rows, i, row) {
        for (size_t c = 0; c < n; c++) {
            const json_t *v = json_object_get(row, export_columns[c]);

            if (c > 0)
                fputc(',', f);
            if (json_is_integer(v)) {
                fprintf(f, "%lld", (long long)json_integer_value(v));
            } else if (json_is_array(v)) {
                char *joined = NULL;
                size_t len = 0, k;
                const json_t *s;
                FILE *m = open_memstream(&joined, &len);

                json_array_foreach(v, k, s) {
                    if (m != NULL)
                        fprintf(m, "%s%s", k > 0 ? "; " : "", json_string_value(s));
                }
                if (m != NULL)
                    fclose(m);
                csv_field_write(f, joined, true);
                free(joined);
            } else {
                csv_field_write(f, json_string_value(v), true);
            }
        }
        fputs("\r\n", f);
    }
}

int
cli_freeze_export(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *format = "csv", *output = NULL;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    export_ctx x = {json_array()};
    agent_store_err err;
    FILE *f = stdout;
    int opt, rc;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'f': format = optarg; break;
        case 'o': output = optarg; break;
        case 'h': fputs(usage_export, stdout); rc = EX_OK; goto out;
        default:
            cli_error(SUB, "export: unknown option or missing value '%s' (see --help)",
                      argv[optind - 1]);
            rc = EX_USAGE;
            goto out;
        }
    }
    if (optind != argc || (strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)) {
        cli_error(SUB, "export: %s (see --help)", optind != argc ? "unexpected argument"
                                                                 : "--format is csv or json");
        rc = EX_USAGE;
        goto out;
    }
    if ((rc = open_agent("export", config, &cfg, &st)) != EX_OK)
        goto out;
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK ||
        (err = screen_each_in_force(t, AGENT_T_DESIGNATIONS, export_one, &x)) != AGENT_STORE_OK) {
        cli_error(SUB, "export: agent store: %s", agent_store_strerror(err));
        rc = EX_IOERR;
        goto out;
    }
    agent_store_abort(&t);
    if (output != NULL) {
        mode_t old = umask(077);

        f = fopen(output, "w");
        umask(old);
        if (f == NULL) {
            cli_error(SUB, "export: cannot write %s: %s", output, strerror(errno));
            rc = EX_CANTCREAT;
            goto out;
        }
    }
    if (strcmp(format, "json") == 0) {
        json_dumpf(x.rows, f, JSON_INDENT(2));
        fputc('\n', f);
    } else {
        export_csv(f, x.rows);
    }
    if (f != stdout && fclose(f) != 0) {
        f = stdout;
        cli_error(SUB, "export: cannot write %s: %s", output, strerror(errno));
        rc = EX_CANTCREAT;
        goto out;
    }
    f = stdout;
    if (output != NULL)
        fprintf(stderr, "liaison: freeze export: %zu designation%s in force written to %s\n",
                json_array_size(x.rows), json_array_size(x.rows) == 1 ? "" : "s", output);
    rc = EX_OK;
out:
    if (f != stdout)
        fclose(f);
    fflush(stdout);
    agent_store_abort(&t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    json_decref(x.rows);
    return rc;
}

/* ---- query --------------------------------------------------------------------------------- */

int
cli_freeze_query(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"name", required_argument, NULL, 'n'},
        {"born", required_argument, NULL, 'b'},
        {"nationality", required_argument, NULL, 'N'},
        {"document", required_argument, NULL, 'd'},
        {"country", required_argument, NULL, 'c'},
        {"type", required_argument, NULL, 'y'},
        {"to", required_argument, NULL, 't'},
        {"purpose", required_argument, NULL, 'P'},
        {"deadline", required_argument, NULL, 'D'},
        {"labels", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const all[] = {"*"};
    const char *fields[6] = {NULL}; /* name, born, nationality, document, country, type */
    static const char *const field_names[6] = {"name", "born", "nationality", "document",
                                               "country", "type"};
    const char *to[TO_MAX], *purpose = NULL, *labels = "LES";
    size_t to_count = 0;
    long deadline_s = DEFAULT_DEADLINE_S;
    bool json = false;
    cli_conn conn;
    cli_outgoing out;
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    json_t *body = NULL, *subject = NULL;
    char label_buf[2048];
    int opt, rc;

    cli_conn_defaults(&conn);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&conn, opt, optarg))
            continue;
        switch (opt) {
        case 'n': fields[0] = optarg; break;
        case 'b': fields[1] = optarg; break;
        case 'N': fields[2] = optarg; break;
        case 'd': fields[3] = optarg; break;
        case 'c': fields[4] = optarg; break;
        case 'y': fields[5] = optarg; break;
        case 't':
            if (to_count == TO_MAX) {
                cli_error(SUB, "query: at most %d of --to", TO_MAX);
                return EX_USAGE;
            }
            to[to_count++] = optarg;
            break;
        case 'P': purpose = optarg; break;
        case 'l': labels = optarg; break;
        case 'D':
            deadline_s = atol(optarg);
            if (deadline_s <= 0 || deadline_s > 86400) {
                cli_error(SUB, "query: --deadline takes a number of seconds");
                return EX_USAGE;
            }
            break;
        case 'j': json = true; break;
        case 'h': fputs(usage_query, stdout); return EX_OK;
        default:
            cli_error(SUB, "query: unknown option or missing value '%s' (see --help)",
                      argv[optind - 1]);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        cli_error(SUB, "query: unexpected argument '%s' (see --help)", argv[optind]);
        return EX_USAGE;
    }
    if ((rc = cli_purpose_check("freeze query", purpose)) != EX_OK)
        return rc;
    if (fields[0] == NULL || fields[0][0] == '\0') {
        cli_error(SUB, "query: --name is required");
        return EX_USAGE;
    }
    subject = json_object();
    for (size_t i = 0; i < 6; i++) {
        json_t *v;

        if (fields[i] == NULL)
            continue;
        if (strlen(fields[i]) > SCREEN_FIELD_MAX || (v = json_string(fields[i])) == NULL) {
            cli_error(SUB, "query: --%s is not UTF-8 text of at most %u bytes", field_names[i],
                      SCREEN_FIELD_MAX);
            json_decref(subject);
            return EX_USAGE;
        }
        json_object_set_new(subject, field_names[i], v);
    }
    body = json_pack("{s:s, s:o}", "schema", "freeze.query/1", "subject", subject);
    memset(&out, 0, sizeof(out));
    out.kind = "freeze.query";
    out.to = to_count > 0 ? to : all;
    out.to_count = to_count > 0 ? to_count : 1;
    out.labels = cli_labels_with_purpose(labels, purpose, label_buf, sizeof(label_buf));
    out.portion_labels = labels;
    out.body = body;
    if ((rc = cli_outgoing_build("freeze query", &out, &m)) != EX_OK)
        goto done;
    if (conn.state != NULL && (rc = cli_casebook_open("freeze query", &conn, &cb)) != EX_OK)
        goto done;
    if ((rc = cli_connect("freeze query", &conn, true, &c)) != EX_OK)
        goto done;
    rc = cli_query_run("freeze query", c, cb, &conn, &out, m,
                       liaison_now_ms() + (uint64_t)deadline_s * 1000u, "freeze.answer/1", json,
                       NULL, NULL);
done:
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    json_decref(body);
    return rc;
}
