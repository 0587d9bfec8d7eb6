/* Benchmark of liaison freeze import: wall time and peak RSS of the tool reading a full-size list
 * (bench/gen_sanctions_list.py) against an empty casebook and against the previous import, and the
 * rate of a real send of every entry to one real broker. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "federation.h"
#include "helpers.h"
#include "liaison_proto.h"

/* One run of the tool. */
typedef struct run_figures {
    int status;                /* exit status */
    double wall_s;             /* wall time */
    long rss_kib;              /* peak resident set */
} run_figures;

static fed *F;

/* Runs `liaison freeze import --format fmt file [extra] --state <dir>/state-<state>` as
 * USA/TREASURY, its stdout to <dir>/bench.out. */
static run_figures
import(const char *fmt, const char *file, const char *extra, const char *state)
{
    const char *bin = getenv("LIAISON_TOOL_BIN");
    char sdir[1100], out_path[1100];
    char *argv[24];
    size_t n = 0;
    run_figures r = {0, 0, 0};
    struct rusage ru;
    double t0 = bench_now();
    int status;
    pid_t pid;

    snprintf(sdir, sizeof(sdir), "%s/state-%s", F->dir, state);
    snprintf(out_path, sizeof(out_path), "%s/bench.out", F->dir);
    argv[n++] = (char *)(uintptr_t) "liaison";
    argv[n++] = (char *)(uintptr_t) "freeze";
    argv[n++] = (char *)(uintptr_t) "import";
    argv[n++] = (char *)(uintptr_t) "--format";
    argv[n++] = (char *)(uintptr_t)fmt;
    argv[n++] = (char *)(uintptr_t)file;
    if (extra != NULL)
        argv[n++] = (char *)(uintptr_t)extra;
    argv[n++] = (char *)(uintptr_t) "--key";
    argv[n++] = fed_agency_get(F, "USA/TREASURY")->key;
    argv[n++] = (char *)(uintptr_t) "--roster";
    argv[n++] = F->roster;
    argv[n++] = (char *)(uintptr_t) "--broker";
    argv[n++] = fed_nation_get(F, "USA")->agency_endpoint;
    argv[n++] = (char *)(uintptr_t) "--state";
    argv[n++] = sdir;
    argv[n++] = (char *)(uintptr_t) "--timeout";
    argv[n++] = (char *)(uintptr_t) "30";
    argv[n] = NULL;
    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (o < 0)
            _exit(126);
        dup2(o, STDOUT_FILENO);
        close(o);
        setenv("LIAISON_ACTOR", "bench.officer", 0);
        execv(bin, argv);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("wait4");
        exit(1);
    }
    r.wall_s = bench_now() - t0;
    r.rss_kib = ru.ru_maxrss;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

/* The first line of the last run's output (its summary). */
static void
summary(char *buf, size_t len)
{
    char path[1100];
    FILE *f;

    snprintf(path, sizeof(path), "%s/bench.out", F->dir);
    buf[0] = '\0';
    if ((f = fopen(path, "r")) != NULL) {
        if (fgets(buf, (int)len, f) == NULL)
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
}

static void
report(const char *what, run_figures r, size_t sent)
{
    char line[512];

    summary(line, sizeof(line));
    printf("%-44s exit %d  %7.2f s  peak RSS %6.1f MiB", what, r.status, r.wall_s,
           (double)r.rss_kib / 1024.0);
    if (sent > 0)
        printf("  %6.0f versions/s", (double)sent / r.wall_s);
    printf("\n    %s\n", line);
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    static const char *const nations[] = {"USA", "CAN"};
    long entries = argc > 1 ? atol(argv[1]) : 20000;
    long changes = argc > 2 ? atol(argv[2]) : 200;
    bool send = getenv("BENCH_NO_SEND") == NULL;
    char cmd[2048], un1[1100], un2[1100], of1[1100];
    run_figures r;

    if (entries < 1 || changes < 0 || 2 * changes > entries) {
        fprintf(stderr, "usage: bench_freeze_import [ENTRIES [CHANGES]]\n");
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
    /* One broker (USA); CAN's stays down, so what is sent to it waits in USA's store. */
    F = fed_new(nations, 2, NULL);
    fed_start(F, "USA");
    snprintf(cmd, sizeof(cmd), "python3 %s/bench/gen_sanctions_list.py --entries %ld --changes %ld "
                               "--seed 1 --out-dir %s/lists > /dev/null",
             LIAISON_SOURCE_DIR, entries, changes, F->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "bench_freeze_import: the generator failed: %s\n", cmd);
        fed_destroy(&F);
        return 1;
    }
    snprintf(un1, sizeof(un1), "%s/lists/un_%ld.xml", F->dir, entries);
    snprintf(un2, sizeof(un2), "%s/lists/un_%ld_v2.xml", F->dir, entries);
    snprintf(of1, sizeof(of1), "%s/lists/ofac_%ld.xml", F->dir, entries);
    printf("freeze import: %ld entries, update of %ld added, %ld amended, %ld removed\n", entries,
           changes, changes, changes);

    r = import("un-xml", un1, "--dry-run", "empty");
    report("un-xml --dry-run, empty casebook", r, 0);
    r = import("ofac-xml", of1, "--dry-run", "empty");
    report("ofac-xml --dry-run, empty casebook", r, 0);
    if (send) {
        r = import("un-xml", un1, NULL, "treasury");
        report("un-xml send of every entry, one broker", r, (size_t)entries);
        r = import("un-xml", un2, "--dry-run", "treasury");
        report("un-xml v2 --dry-run, casebook of the last", r, 0);
        r = import("un-xml", un2, NULL, "treasury");
        report("un-xml v2 send of the difference", r, (size_t)(3 * changes));
        r = import("un-xml", un2, NULL, "treasury");
        report("un-xml v2 again (nothing to send)", r, 0);
    }
    fed_destroy(&F);
    return 0;
}
