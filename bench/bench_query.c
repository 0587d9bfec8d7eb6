/* Benchmark of queries through real brokers and agents: a border check's round trip, and a
 * scatter-gather until every agency answered.  Prints figures; never a timed test.
 *
 *   bench_query [REPORTS [CHECKS [AGENCIES [ENTRIES [QUERIES]]]]]
 *
 * (a) USA/FBI's traveldoc.check to CAN/CBSA, whose agent holds REPORTS (100 000) documents
 *     reported, CHECKS (1 000) checks in sequence: p50, p99, max in ms.
 * (b) USA/FBI's watchlist.query to AGENCIES (10) agencies of CAN, each with an agent holding
 *     ENTRIES (2 000) watchlist entries, QUERIES (500) queries in sequence: p50, p99, max until
 *     every agency answered.
 * Ports are ephemeral, files in a temporary directory, processes stopped by PID. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "bench_util.h"
#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define AGENCIES_MAX 20

static fed *F;

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void
figures(const char *what, double *ms, size_t n, size_t incomplete)
{
    if (n == 0) {
        printf("%s: no samples\n", what);
        return;
    }
    qsort(ms, n, sizeof(*ms), cmp_double);
    printf("%s: n=%zu p50=%.2f ms p99=%.2f ms max=%.2f ms incomplete=%zu\n", what, n,
           ms[n / 2], ms[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], ms[n - 1], incomplete);
}

/* Fills addr's agent store (the agent not running) with count records of table, made by make. */
static void
fill(const char *addr, agent_table table, long count, json_t *(*make)(long i, const char *addr))
{
    agent_store *st = NULL;
    agent_txn *t = NULL;
    char why[256];
    double t0 = bench_now();

    if (agent_store_open(fed_agent_config(F, addr, NULL)->store, &st, why, sizeof(why)) !=
        AGENT_STORE_OK) {
        fprintf(stderr, "bench_query: store of %s: %s\n", addr, why);
        exit(1);
    }
    for (long i = 0; i < count; i++) {
        json_t *raw = make(i, addr), *rec;

        rec = table == AGENT_T_DOCS ? agent_doc_check(raw, why, sizeof(why))
                                    : agent_entry_check(raw, why, sizeof(why));
        if (rec == NULL) {
            fprintf(stderr, "bench_query: record %ld: %s\n", i, why);
            exit(1);
        }
        if ((t == NULL && agent_store_begin(st, true, &t) != AGENT_STORE_OK) ||
            agent_json_put(t, table, json_string_value(json_object_get(rec, "ref")), rec) !=
                AGENT_STORE_OK) {
            fprintf(stderr, "bench_query: cannot store record %ld\n", i);
            exit(1);
        }
        json_decref(raw);
        json_decref(rec);
        if ((i + 1) % 10000 == 0 && agent_store_commit(&t) != AGENT_STORE_OK) {
            fprintf(stderr, "bench_query: commit failed\n");
            exit(1);
        }
    }
    if (t != NULL && agent_store_commit(&t) != AGENT_STORE_OK) {
        fprintf(stderr, "bench_query: commit failed\n");
        exit(1);
    }
    agent_store_close(&st);
    printf("filled %s: %ld records in %.1f s\n", addr, count, bench_now() - t0);
}

static json_t *
make_doc(long i, const char *addr)
{
    char number[16], ref[48];

    (void)addr;
    snprintf(number, sizeof(number), "BQ%07ld", i);
    snprintf(ref, sizeof(ref), "CBSA-TD-%07ld", i);
    return json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s}", "ref", ref, "document", "type",
                     "passport", "number", number, "country", "CAN", "status", "stolen",
                     "reported", "2026-11-20");
}

static json_t *
make_entry(long i, const char *addr)
{
    static const char *const given[] = {"John", "Maria", "Ahmed", "Li", "Olga", "Pierre",
                                        "Ana", "Kenji", "Fatima", "Ivan", "Sofia", "Diego"};
    static const char *const family[] = {"SMITH", "GARCIA", "KHAN", "WANG", "PETROVA",
                                         "MARTIN", "SILVA", "TANAKA", "HASSAN", "IVANOV",
                                         "ROSSI", "LOPEZ", "MUELLER"};
    char name[96], ref[64], born[16];

    snprintf(name, sizeof(name), "%s %s%ld", given[i % 12], family[(i / 12) % 13], i / 156);
    snprintf(ref, sizeof(ref), "%s-WL-%06ld", addr + 4, i);
    snprintf(born, sizeof(born), "19%02ld-%02ld-%02ld", 40 + i % 60, 1 + i % 12, 1 + i % 28);
    return json_pack("{s:s, s:s, s:[s], s:s, s:s}", "ref", ref, "type", "person", "names", name,
                     "born", born, "reason", "benchmark entry");
}

/* One query from c to the recipients; its time in ms, and whether every agency answered. */
static double
one(liaison_client *c, const char *kind, const char *const *to, size_t to_count,
    const char *body, bool *complete)
{
    liaison_message *m = NULL;
    liaison_answers *a = NULL;
    double t0 = bench_now();

    if (liaison_message_new(kind, &m) != LIAISON_OK ||
        liaison_message_set_labels(m, "LES//PURPOSE:benchmark") != LIAISON_OK ||
        liaison_message_add_portion(m, "LES//PURPOSE:benchmark", body, strlen(body), NULL) !=
            LIAISON_OK) {
        fprintf(stderr, "bench_query: cannot compose\n");
        exit(1);
    }
    for (size_t i = 0; i < to_count; i++)
        (void)liaison_message_add_recipient(m, to[i]);
    if (liaison_query(c, m, liaison_now_ms() + 30000, &a) != LIAISON_OK) {
        fprintf(stderr, "bench_query: query: %s\n", liaison_client_error(c));
        exit(1);
    }
    *complete = a->not_answered_count == 0 && a->count == to_count;
    t0 = (bench_now() - t0) * 1000.0;
    liaison_answers_free(&a);
    liaison_message_destroy(&m);
    /* The query's delivery reports wait for liaison_receive: take and receipt them, or they
     * fill the broker's window of unacknowledged deliveries (outside the time measured). */
    for (;;) {
        liaison_event *e = NULL;

        if (liaison_receive(c, &e, liaison_now_ms()) != LIAISON_OK)
            break;
        (void)liaison_receipt(c, e);
        liaison_event_free(&e);
    }
    return t0;
}

/* Waits until the broker of nation logged a line holding both texts. */
static void
wait_log(const char *nation, const char *id, const char *what)
{
    char line[2048], tag[64];

    snprintf(tag, sizeof(tag), "id=%s ", id);
    for (int tries = 0; tries < 600; tries++) {
        FILE *fp = fopen(fed_nation_get(F, nation)->log, "r");
        bool found = false;

        while (fp != NULL && !found && fgets(line, sizeof(line), fp) != NULL)
            found = strstr(line, tag) != NULL && strstr(line, what) != NULL;
        if (fp != NULL)
            fclose(fp);
        if (found)
            return;
        usleep(50 * 1000);
    }
    fprintf(stderr, "bench_query: %s never logged %s %s\n", nation, id, what);
    exit(1);
}

/* Lets CAN's egress policy release watchlist answers from the benchmark's agencies too. */
static void
widen_can_policy(const char *const *names, long count)
{
    const char *path = fed_nation_get(F, "CAN")->policy;
    static const char needle[] = "from: [CAN/RCMP, CAN/CBSA]\n        ceiling: SECRET";
    size_t len = 0, used;
    char *text = (char *)test_read_file(path, &len), *at, *out;
    FILE *fp;

    at = text != NULL ? strstr(text, needle) : NULL;
    out = malloc(len + 64 * (size_t)count + 64);
    if (at == NULL || out == NULL) {
        fprintf(stderr, "bench_query: CAN's policy has no rule can-usa-watchlist to widen\n");
        exit(1);
    }
    used = (size_t)(at - text);
    memcpy(out, text, used);
    used += (size_t)sprintf(out + used, "from: [CAN/RCMP, CAN/CBSA");
    for (long i = 0; i < count; i++)
        used += (size_t)sprintf(out + used, ", %s", names[i]);
    sprintf(out + used, "]%s", at + strlen("from: [CAN/RCMP, CAN/CBSA]"));
    fp = fopen(path, "w");
    if (fp == NULL || fputs(out, fp) < 0 || fclose(fp) != 0) {
        fprintf(stderr, "bench_query: cannot write %s\n", path);
        exit(1);
    }
    free(out);
    free(text);
}

/* Drops USA's rate limits: the benchmark sends more queries a minute than they allow. */
static void
drop_usa_rate_limits(void)
{
    const char *path = fed_nation_get(F, "USA")->policy;
    size_t len = 0;
    char *text = (char *)test_read_file(path, &len), *at;
    FILE *fp;

    at = text != NULL ? strstr(text, "\nrate_limits:") : NULL;
    if (at == NULL) {
        fprintf(stderr, "bench_query: USA's policy has no rate limits to drop\n");
        exit(1);
    }
    at[1] = '\0';
    fp = fopen(path, "w");
    if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
        fprintf(stderr, "bench_query: cannot write %s\n", path);
        exit(1);
    }
    free(text);
}

static void
agent_up(const char *addr)
{
    char what[80];

    fed_agent_start(F, addr);
    snprintf(what, sizeof(what), "agency=%s event=connected", addr);
    wait_log("CAN", "B-SESSION", what);
}

int
main(int argc, char **argv)
{
    static const char *const nations[] = {"USA", "CAN"};
    long reports = argc > 1 ? atol(argv[1]) : 100000;
    long checks = argc > 2 ? atol(argv[2]) : 1000;
    long agencies = argc > 3 ? atol(argv[3]) : 10;
    long entries = argc > 4 ? atol(argv[4]) : 2000;
    long queries = argc > 5 ? atol(argv[5]) : 500;
    char names[AGENCIES_MAX][40];
    const char *to[AGENCIES_MAX];
    static const char *const cbsa[] = {"CAN/CBSA"};
    double *ms;
    size_t incomplete = 0, n = 0;
    liaison_client *fbi;

    if (reports < 1 || checks < 1 || agencies < 1 || agencies > AGENCIES_MAX || entries < 1 ||
        queries < 1) {
        fprintf(stderr, "usage: bench_query [REPORTS [CHECKS [AGENCIES [ENTRIES [QUERIES]]]]]\n");
        return 64;
    }
    if (getenv("LIAISON_TOOL_BIN") == NULL)
        setenv("LIAISON_TOOL_BIN", LIAISON_TOOL_BIN_DEFAULT, 0);
    if (getenv("LIAISON_BROKER_BIN") == NULL)
        setenv("LIAISON_BROKER_BIN", LIAISON_BROKER_BIN_DEFAULT, 0);
    if (getenv("LIAISON_TEST_DATA") == NULL)
        setenv("LIAISON_TEST_DATA", LIAISON_SOURCE_DIR "/tests/data", 0);
    if (proto_init() != PROTO_OK)
        return 1;
    test_quiet_logs();
    bench_print_machine();
    ms = calloc((size_t)(checks > queries ? checks : queries), sizeof(*ms));
    if (ms == NULL)
        return 1;
    F = fed_new(nations, 2, NULL);
    for (long i = 0; i < agencies; i++) {
        snprintf(names[i], sizeof(names[i]), "CAN/BQ%02ld", i + 1);
        to[i] = names[i];
        fed_agency_add(F, names[i], "watchlist.*");
    }
    fill("CAN/CBSA", AGENT_T_DOCS, reports, make_doc);
    for (long i = 0; i < agencies; i++)
        fill(names[i], AGENT_T_ENTRIES, entries, make_entry);
    widen_can_policy(to, agencies);
    drop_usa_rate_limits();
    fed_start(F, "USA");
    fed_start(F, "CAN");
    wait_log("USA", "B-PEER-UP", "peer=CAN ");
    agent_up("CAN/CBSA");
    for (long i = 0; i < agencies; i++)
        agent_up(names[i]);
    fbi = fed_client(F, "USA/FBI", true);

    /* (a) A border check's round trip through two brokers, one agent with many reports. */
    for (long i = 0; i < checks; i++) {
        char body[256];
        bool complete;

        snprintf(body, sizeof(body),
                 "{\"schema\": \"traveldoc.check/1\", \"document\": {\"type\": \"passport\", "
                 "\"number\": \"BQ%07ld\", \"country\": \"CAN\"}}",
                 (i * 7919) % (reports * 2)); /* half hits, half misses */
        ms[n++] = one(fbi, "traveldoc.check", cbsa, 1, body, &complete);
        incomplete += !complete;
    }
    printf("(a) traveldoc.check USA/FBI -> CAN/CBSA, %ld reports held\n", reports);
    figures("(a) round trip", ms, n, incomplete);

    /* (b) Scatter-gather to many agencies of one partner, until every one answered. */
    n = 0;
    incomplete = 0;
    for (long i = 0; i < queries; i++) {
        char body[256];
        bool complete;
        json_t *e = make_entry((i * 31) % (entries * 2), names[0]);

        snprintf(body, sizeof(body),
                 "{\"schema\": \"watchlist.query/1\", \"subject\": {\"type\": \"person\", "
                 "\"name\": \"%s\"}}",
                 json_string_value(json_array_get(json_object_get(e, "names"), 0)));
        json_decref(e);
        ms[n++] = one(fbi, "watchlist.query", to, (size_t)agencies, body, &complete);
        incomplete += !complete;
    }
    printf("(b) watchlist.query USA/FBI -> %ld agencies of CAN, %ld entries each\n", agencies,
           entries);
    figures("(b) until all answered", ms, n, incomplete);
    liaison_client_close(&fbi);
    fed_destroy(&F);
    free(ms);
    return 0;
}
