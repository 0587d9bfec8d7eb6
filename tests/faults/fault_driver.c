/* The fault suite's driver: real brokers under steady load, a nemesis injected by PID, and per-sender checks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"
#include "powerloss.h"

/*
 * Two brokers, USA and CAN.  Four USA agencies send numbered messages at a
 * steady rate, each to one CAN agency; two CAN receivers record every
 * message the application is handed (sender, the sequence number in the
 * body, arrival time) and receipt it.  A message counts as accepted only
 * when liaison_send returned LIAISON_OK for it; a sender resends the same
 * sealed message (same id) until it is accepted, and sends the next one
 * only then, so acceptance order is sequence order.
 *
 * The nemesis acts on broker processes by PID: SIGKILL and restart,
 * SIGSTOP and SIGCONT, a full file system, a damaged data file, a power
 * cut replayed from the preload shim's journal.  After each fault the
 * driver waits until every message accepted before the fault ended has
 * arrived; at the end it stops the senders, drains, stops the brokers and
 * runs `liaison audit verify` on each data directory.
 */

#define MS 1ull
#define SECOND (1000 * MS)

enum { SENDERS = 4, RECEIVERS = 2, FAULTS_MAX = 1024 };

/* What happened to one message of one sender. */
typedef struct msg_rec {
    uint64_t accepted_ms; /* when liaison_send returned OK, or 0 */
    uint64_t arrival_ms;  /* first arrival at the application, or 0 */
    uint32_t arrivals;    /* times the application was handed it */
} msg_rec;

typedef struct sender {
    const char *addr;        /* "USA/FBI" */
    const char *to;          /* "CAN/RCMP" */
    pthread_t thread;        /* its thread */
    msg_rec *recs;           /* by sequence number */
    size_t cap;              /* entries at recs */
    uint64_t accepted;       /* sequence numbers below this were accepted */
    uint64_t max_arrived;    /* highest sequence number that arrived, plus one */
    uint64_t reordered;      /* first arrivals below max_arrived */
    uint64_t duplicated;     /* arrivals after the first */
    uint64_t refused[16];    /* rejections by wire code (docs/protocol.md 9.1) */
    uint64_t timeouts;       /* sends whose answer did not come in time */
    uint64_t other_errors;   /* other send failures */
    uint64_t unaccepted;     /* a message given up at the end, never accepted */
} sender;

typedef struct receiver {
    const char *addr;       /* "CAN/RCMP" */
    pthread_t thread;       /* its thread */
    uint64_t foreign;       /* messages whose body names no sender of ours */
    uint64_t errors;        /* receive errors other than timeouts */
} receiver;

/* One fault injected. */
typedef struct fault {
    char what[64];       /* "kill CAN (frozen 12 ms), restart after 412 ms" */
    uint64_t start_ms;   /* the nemesis acted */
    uint64_t end_ms;     /* the broker served again */
    uint64_t recovery_ms; /* until every message accepted before end_ms arrived; UINT64_MAX: never */
} fault;

static struct {
    const char *scenario;     /* --scenario */
    unsigned rounds;          /* --rounds */
    double rate;              /* --rate: messages per second, all senders together */
    unsigned seed;            /* --seed */
    bool shortrun;            /* --short */
    unsigned max_delay_s;     /* --max-delay */
    const char *shim;         /* --shim, or LIAISON_POWERLOSS_SHIM */
    const char *target;       /* --target: the only broker power-loss cuts, or NULL: both */
} opt = {"mixed", 0, 40.0, 0, false, 30, NULL, NULL};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* guards senders' and receivers' figures */
static sender senders[SENDERS] = {
    {.addr = "USA/FBI", .to = "CAN/RCMP"},
    {.addr = "USA/CBP", .to = "CAN/CBSA"},
    {.addr = "USA/DOJ", .to = "CAN/RCMP"},
    {.addr = "USA/TREASURY", .to = "CAN/CBSA"},
};
static receiver receivers[RECEIVERS] = {{.addr = "CAN/RCMP"}, {.addr = "CAN/CBSA"}};
static volatile int stop_sending;   /* senders finish their current message and end */
static volatile int give_up;        /* senders abandon even their current message */
static volatile int stop_receiving; /* receivers end */
static fault faults[FAULTS_MAX];
static size_t fault_count;
static fed *F;                      /* the federation under test */
static char mounted[1024];          /* a tmpfs mounted by the driver, to unmount */
static char journal[2][1100];       /* power-loss journals, by nation index */
static unsigned violations;         /* checks that failed */
static unsigned crashes;            /* brokers that died without the nemesis */
static unsigned audit_failures;     /* audit verify runs that failed */
static bool keep_dir;               /* LIAISON_KEEP_TEST_DIRS */
static uint64_t t0;                 /* when the driver started, for the log's times */

static uint64_t
now_ms(void)
{
    return liaison_now_ms();
}

static void
sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A uniform number in [lo, hi]. */
static unsigned
pick(unsigned lo, unsigned hi)
{
    return lo + (unsigned)(random() % (long)(hi - lo + 1));
}

static void
note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
note(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("[%7.1f] ", (double)(now_ms() - t0) / 1000.0);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static void
violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
violation(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("VIOLATION: ");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    violations++;
}

/* ---- Broker processes ------------------------------------------------------------ */

/* Kills every broker still running and unmounts what was mounted: the
 * driver leaves no process and no mount behind, whatever ended it. */
static void
cleanup(void)
{
    if (F != NULL) {
        for (size_t i = 0; i < F->nation_count; i++) {
            if (F->nations[i].pid > 0) {
                kill(F->nations[i].pid, SIGCONT);
                kill(F->nations[i].pid, SIGKILL);
                waitpid(F->nations[i].pid, NULL, 0);
                F->nations[i].pid = 0;
            }
        }
    }
    if (mounted[0] != '\0') {
        umount2(mounted, MNT_DETACH);
        mounted[0] = '\0';
    }
    if (F != NULL) {
        if (keep_dir)
            printf("kept %s\n", F->dir);
        else
            test_scratch_remove(F->dir);
        F = NULL;
    }
}

static void
on_signal(int sig)
{
    if (F != NULL) {
        for (size_t i = 0; i < F->nation_count; i++) {
            if (F->nations[i].pid > 0)
                kill(F->nations[i].pid, SIGKILL);
        }
    }
    if (mounted[0] != '\0')
        umount2(mounted, MNT_DETACH);
    _exit(128 + sig);
}

static size_t
nation_index(const fed_nation *n)
{
    return (size_t)(n - F->nations);
}

/*
 * Starts nation's broker (under the power-loss shim if shimmed) without
 * waiting.  The broker gets SIGKILL if the driver dies, so that nothing is
 * left running even when the driver itself is killed.
 */
static void
broker_spawn(fed_nation *n, bool shimmed)
{
    extern char **environ;
    static char preload[1200], file[1200], jour[1200], asan[1200];
    const char *asan_was = getenv("ASAN_OPTIONS");
    char *envp[512];
    size_t k = 0;
    pid_t pid;

    for (char **e = environ; *e != NULL && k < 500; e++) {
        if (strncmp(*e, "LD_PRELOAD=", 11) != 0 && strncmp(*e, "LIAISON_POWERLOSS_", 18) != 0 &&
            (!shimmed || strncmp(*e, "ASAN_OPTIONS=", 13) != 0))
            envp[k++] = *e;
    }
    if (shimmed) {
        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", opt.shim);
        snprintf(file, sizeof(file), "LIAISON_POWERLOSS_FILE=%s/store/data.mdb", n->data);
        snprintf(jour, sizeof(jour), "LIAISON_POWERLOSS_JOURNAL=%s", journal[nation_index(n)]);
        /* A sanitized broker would refuse a preloaded library ahead of its runtime. */
        snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                 asan_was != NULL ? asan_was : "", asan_was != NULL ? ":" : "");
        envp[k++] = preload;
        envp[k++] = file;
        envp[k++] = jour;
        envp[k++] = asan;
    }
    envp[k] = NULL;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        char *argv[] = {(char *)(uintptr_t)"liaison-broker", (char *)(uintptr_t)"--config",
                        n->config, NULL};

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execve(getenv("LIAISON_BROKER_BIN"), argv, envp);
        _exit(127);
    }
    n->pid = pid;
}

/* How a started broker turned out. */
typedef enum { BROKER_READY, BROKER_EXITED, BROKER_HUNG } broker_outcome;

/* Waits until the broker listens on both endpoints or exits (its wait
 * status in status_out), up to ms. */
static broker_outcome
broker_wait(fed_nation *n, uint64_t ms, int *status_out)
{
    uint64_t deadline = now_ms() + ms;

    for (;;) {
        if (waitpid(n->pid, status_out, WNOHANG) == n->pid) {
            n->pid = 0;
            return BROKER_EXITED;
        }
        if (fed_port_open(n->agency_endpoint) && fed_port_open(n->fed_endpoint))
            return BROKER_READY;
        if (now_ms() >= deadline)
            return BROKER_HUNG;
        sleep_ms(25);
    }
}

/* Starts a broker and waits until it serves; a broker that cannot start
 * ends the run (the fixture is broken, not the broker under test). */
static void
broker_start(fed_nation *n, bool shimmed)
{
    int status = 0;
    broker_outcome o;
    int rc = fed_store_init(F, n->nation);

    if (rc != 0) {
        violation("liaison-broker --init for %s failed (status %d); see %s", n->nation, rc,
                  n->log);
        exit(2);
    }
    broker_spawn(n, shimmed);
    o = broker_wait(n, 60 * SECOND, &status);
    if (o == BROKER_READY)
        return;
    if (o == BROKER_EXITED) {
        violation("broker %s did not start: %s %d; see %s", n->nation,
                  WIFSIGNALED(status) ? "killed by signal" : "exit status",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), n->log);
        crashes++;
    } else {
        violation("broker %s did not listen within 60 s; see %s", n->nation, n->log);
    }
}

/* Signals a running broker; never a PID of 0 or less, which would signal
 * the driver's own process group. */
static void
broker_signal(fed_nation *n, int sig)
{
    if (n->pid > 0)
        kill(n->pid, sig);
}

static void
broker_kill(fed_nation *n)
{
    if (n->pid <= 0)
        return;
    kill(n->pid, SIGKILL);
    kill(n->pid, SIGCONT);
    waitpid(n->pid, NULL, 0);
    n->pid = 0;
}

/* True if every broker runs; a round needs them all. */
static bool
all_running(void)
{
    for (size_t i = 0; i < F->nation_count; i++) {
        if (F->nations[i].pid <= 0) {
            note("broker %s is not running; no further rounds", F->nations[i].nation);
            return false;
        }
    }
    return true;
}

/* Reports a broker that died while the nemesis was not acting on it. */
static void
check_alive(void)
{
    for (size_t i = 0; i < F->nation_count; i++) {
        fed_nation *n = &F->nations[i];
        int status;

        if (n->pid > 0 && waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            crashes++;
            violation("broker %s died by itself: %s %d; see %s", n->nation,
                      WIFSIGNALED(status) ? "signal" : "exit status",
                      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), n->log);
            broker_start(n, opt.shim != NULL && strcmp(opt.scenario, "power-loss") == 0);
        }
    }
}

/* Runs `liaison audit verify` on nation's data directory. */
static bool
audit_verify(fed_nation *n, const char *when)
{
    char out[4096];
    const char *args[] = {"audit", "verify", "--data", n->data, NULL};
    int rc = fed_run_tool(args, out, sizeof(out));
    char *nl;

    if (rc == 0 && strstr(out, "ok:") != NULL) {
        if ((nl = strchr(out, '\n')) != NULL)
            *nl = '\0';
        note("audit verify %s (%s): %s", n->nation, when, out);
        return true;
    }
    audit_failures++;
    violation("audit verify %s (%s) exited %d: %s", n->nation, when, rc, out);
    return false;
}

/* ---- Load ------------------------------------------------------------------------ */

static liaison_client *
open_client(const char *addr, bool receive)
{
    fed_agency *a = fed_agency_get(F, addr);
    fed_nation *n = fed_nation_get(F, (char[4]){addr[0], addr[1], addr[2], 0});
    liaison_config cfg = {a->key, F->roster, n->agency_endpoint, NULL, receive, "system:fault-driver"};
    liaison_client *c = NULL;
    char why[512];

    if (liaison_client_open(&cfg, &c, why, sizeof(why)) != LIAISON_OK) {
        fprintf(stderr, "client %s: %s\n", addr, why);
        exit(2);
    }
    return c;
}

/* Makes room for sequence number seq (caller holds mu). */
static void
grow(sender *s, uint64_t seq)
{
    if (seq < s->cap)
        return;
    size_t cap = s->cap == 0 ? 4096 : s->cap * 2;
    msg_rec *r = realloc(s->recs, cap * sizeof(*r));

    if (r == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(r + s->cap, 0, (cap - s->cap) * sizeof(*r));
    s->recs = r;
    s->cap = cap;
}

static void *
sender_main(void *arg)
{
    sender *s = arg;
    liaison_client *c = open_client(s->addr, false);
    uint64_t period_us = (uint64_t)(1e6 * SENDERS / opt.rate);
    uint64_t next_us = now_ms() * 1000;

    for (uint64_t seq = 0; !stop_sending; seq++) {
        liaison_message *m = NULL;
        char body[96];
        liaison_err err;
        uint64_t now = now_ms() * 1000;

        /* A steady rate; after a stall, no burst to catch up. */
        if (now < next_us)
            sleep_ms((next_us - now) / 1000);
        else if (now > next_us + 1000000)
            next_us = now;
        next_us += period_us;
        snprintf(body, sizeof(body), "faults %s %llu", s->addr, (unsigned long long)seq);
        if (liaison_message_new("traveldoc.report", &m) != LIAISON_OK ||
            liaison_message_add_recipient(m, s->to) != LIAISON_OK ||
            liaison_message_set_labels(m, "LES//REL TO CAN,USA") != LIAISON_OK ||
            liaison_message_add_portion(m, "LES", body, strlen(body), NULL) != LIAISON_OK ||
            liaison_message_seal(c, m, NULL) != LIAISON_OK) {
            fprintf(stderr, "%s: cannot make message %llu: %s\n", s->addr,
                    (unsigned long long)seq, liaison_client_error(c));
            exit(2);
        }
        /* The same sealed message until it is accepted: a resubmission of
         * an id already accepted is answered accepted again. */
        for (;;) {
            err = liaison_send(c, m, NULL, now_ms() + 5 * SECOND);
            if (err == LIAISON_OK || give_up)
                break;
            pthread_mutex_lock(&mu);
            if (err == LIAISON_ERR_REJECTED) {
                const char *why = NULL;
                uint16_t code = liaison_client_rejection(c, &why);

                if (s->refused[code < 16 ? code : 15] == 0)
                    fprintf(stderr, "%s: message %llu refused, code %u: %s\n", s->addr,
                            (unsigned long long)seq, code, why != NULL ? why : "");

                s->refused[code < 16 ? code : 15]++;
            } else if (err == LIAISON_ERR_TIMEOUT) {
                s->timeouts++;
            } else {
                s->other_errors++;
            }
            pthread_mutex_unlock(&mu);
            if (err != LIAISON_ERR_TIMEOUT)
                sleep_ms(100);
        }
        liaison_message_destroy(&m);
        pthread_mutex_lock(&mu);
        if (err == LIAISON_OK) {
            grow(s, seq);
            s->recs[seq].accepted_ms = now_ms();
            s->accepted = seq + 1;
        } else {
            s->unaccepted++;
        }
        pthread_mutex_unlock(&mu);
        if (err != LIAISON_OK)
            break;
    }
    liaison_client_close(&c);
    return NULL;
}

/* Takes one delivered message: which sender, which number, when. */
static void
record_arrival(receiver *r, const liaison_event *e)
{
    char body[128], addr[40];
    unsigned long long seq;
    uint64_t at = now_ms();
    sender *s = NULL;

    if (e->portion_count != 1 || !e->portions[0].readable ||
        e->portions[0].len >= sizeof(body)) {
        fprintf(stderr, "%s: message %s from %s: %zu portions, the first %s\n", r->addr,
                e->id_hex, e->sender, e->portion_count,
                e->portion_count == 0        ? "missing"
                : e->portions[0].withheld    ? "withheld"
                : !e->portions[0].readable   ? "unreadable"
                                             : "too long");
        pthread_mutex_lock(&mu);
        r->foreign++;
        pthread_mutex_unlock(&mu);
        return;
    }
    memcpy(body, e->portions[0].data, e->portions[0].len);
    body[e->portions[0].len] = '\0';
    if (sscanf(body, "faults %39s %llu", addr, &seq) == 2) {
        for (size_t i = 0; i < SENDERS; i++) {
            if (strcmp(senders[i].addr, addr) == 0 && strcmp(e->sender, addr) == 0)
                s = &senders[i];
        }
    }
    pthread_mutex_lock(&mu);
    if (s == NULL) {
        r->foreign++;
    } else {
        grow(s, seq);
        msg_rec *m = &s->recs[seq];

        if (m->arrivals++ == 0) {
            m->arrival_ms = at;
            if (seq + 1 < s->max_arrived)
                s->reordered++;
            else
                s->max_arrived = seq + 1;
        } else {
            s->duplicated++;
        }
    }
    pthread_mutex_unlock(&mu);
}

static void *
receiver_main(void *arg)
{
    receiver *r = arg;
    liaison_client *c = open_client(r->addr, true);

    while (!stop_receiving) {
        liaison_event *e = NULL;
        liaison_err err = liaison_receive(c, &e, now_ms() + 500);

        if (err == LIAISON_ERR_TIMEOUT)
            continue;
        if (err != LIAISON_OK) {
            pthread_mutex_lock(&mu);
            r->errors++;
            pthread_mutex_unlock(&mu);
            sleep_ms(100);
            continue;
        }
        if (e->type == LIAISON_EVENT_MESSAGE)
            record_arrival(r, e);
        (void)liaison_receipt(c, e);
        liaison_event_free(&e);
    }
    liaison_client_close(&c);
    return NULL;
}

static void
load_start(void)
{
    for (size_t i = 0; i < RECEIVERS; i++)
        pthread_create(&receivers[i].thread, NULL, receiver_main, &receivers[i]);
    for (size_t i = 0; i < SENDERS; i++)
        pthread_create(&senders[i].thread, NULL, sender_main, &senders[i]);
}

/* Accepted counts now, per sender. */
static void
snapshot(uint64_t accepted_out[SENDERS])
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < SENDERS; i++)
        accepted_out[i] = senders[i].accepted;
    pthread_mutex_unlock(&mu);
}

/* Messages below upto[] (per sender) not arrived yet; latest_out: the
 * latest first arrival among those that did. */
static uint64_t
missing(const uint64_t upto[SENDERS], uint64_t *latest_out)
{
    uint64_t miss = 0, latest = 0;

    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < SENDERS; i++) {
        for (uint64_t q = 0; q < upto[i]; q++) {
            if (senders[i].recs[q].arrivals == 0)
                miss++;
            else if (senders[i].recs[q].arrival_ms > latest)
                latest = senders[i].recs[q].arrival_ms;
        }
    }
    pthread_mutex_unlock(&mu);
    if (latest_out != NULL)
        *latest_out = latest;
    return miss;
}

/* Waits until every message accepted up to upto[] arrived, up to deadline;
 * returns how many did not. */
static uint64_t
wait_delivered(const uint64_t upto[SENDERS], uint64_t deadline, uint64_t *latest_out)
{
    uint64_t miss;

    while ((miss = missing(upto, latest_out)) > 0 && now_ms() < deadline) {
        check_alive();
        sleep_ms(50);
    }
    return miss;
}

/* The pipeline works before any fault: each sender has some messages accepted and delivered. */
static void
warm_up(void)
{
    uint64_t upto[SENDERS], deadline = now_ms() + 60 * SECOND;

    for (;;) {
        bool ready = true;

        snapshot(upto);
        for (size_t i = 0; i < SENDERS; i++)
            ready = ready && upto[i] >= 3;
        if (ready)
            break;
        if (now_ms() >= deadline) {
            fprintf(stderr, "setup: senders got nothing accepted within 60 s; see %s\n",
                    F->nations[0].log);
            exit(2);
        }
        sleep_ms(50);
    }
    if (wait_delivered(upto, now_ms() + 60 * SECOND, NULL) > 0) {
        fprintf(stderr, "setup: nothing arrived within 60 s before any fault; see %s\n", F->dir);
        exit(2);
    }
    note("load running: %u senders, %.0f messages/s in all", SENDERS, opt.rate);
}

/* Ends a round: every message accepted before the fault ended must arrive
 * within max_delay of its end.  Returns false if some did not. */
static bool
round_check(fault *flt)
{
    uint64_t upto[SENDERS], latest = 0, miss;

    snapshot(upto);
    miss = wait_delivered(upto, flt->end_ms + opt.max_delay_s * SECOND, &latest);
    if (miss > 0) {
        flt->recovery_ms = UINT64_MAX;
        violation("%s: %llu messages accepted before the fault ended had not arrived %u s "
                  "after it",
                  flt->what, (unsigned long long)miss, opt.max_delay_s);
        return false;
    }
    flt->recovery_ms = latest > flt->end_ms ? latest - flt->end_ms : 0;
    note("%s: fault lasted %llu ms; all accepted before its end arrived %llu ms after it",
         flt->what, (unsigned long long)(flt->end_ms - flt->start_ms),
         (unsigned long long)flt->recovery_ms);
    return true;
}

static fault *
fault_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static fault *
fault_begin(const char *fmt, ...)
{
    fault *flt = &faults[fault_count < FAULTS_MAX ? fault_count++ : FAULTS_MAX - 1];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(flt->what, sizeof(flt->what), fmt, ap);
    va_end(ap);
    flt->start_ms = now_ms();
    return flt;
}

/* ---- Figures ---------------------------------------------------------------------- */

/* The delay of a message: from its acceptance, or from the end of a fault
 * that overlapped its way, whichever is later, to its first arrival. */
static uint64_t
delay_of(const msg_rec *m)
{
    uint64_t from = m->accepted_ms;

    for (size_t f = 0; f < fault_count; f++) {
        if (faults[f].start_ms <= m->arrival_ms && faults[f].end_ms > from)
            from = faults[f].end_ms;
    }
    return m->arrival_ms > from ? m->arrival_ms - from : 0;
}

/* Stops the load, drains, prints the figures, and counts a violation for
 * any message lost, duplicated, reordered or late. */
static void
finish(unsigned rounds_run)
{
    uint64_t upto[SENDERS], miss;
    uint64_t tot_acc = 0, tot_lost = 0, tot_dup = 0, tot_reord = 0, tot_late = 0, worst = 0;
    uint64_t drain_start;

    stop_sending = 1;
    /* A sender may be resending its last message; give it a while, then give up. */
    {
        uint64_t deadline = now_ms() + opt.max_delay_s * SECOND;

        for (size_t i = 0; i < SENDERS; i++) {
            while (pthread_tryjoin_np(senders[i].thread, NULL) != 0) {
                if (now_ms() >= deadline)
                    give_up = 1;
                check_alive();
                sleep_ms(50);
            }
        }
    }
    snapshot(upto);
    drain_start = now_ms();
    miss = wait_delivered(upto, drain_start + 2 * opt.max_delay_s * SECOND, NULL);
    note("drain: %llu accepted messages still missing after %llu ms",
         (unsigned long long)miss, (unsigned long long)(now_ms() - drain_start));
    /* Anything still on its way would show as a duplicate or a late arrival. */
    sleep_ms(1000);
    stop_receiving = 1;
    for (size_t i = 0; i < RECEIVERS; i++)
        pthread_join(receivers[i].thread, NULL);

    printf("\nper sender (max delay allowed after a fault: %u s)\n", opt.max_delay_s);
    printf("%-14s %-10s %9s %6s %6s %6s %6s %10s %9s %9s %8s\n", "sender", "to", "accepted",
           "lost", "dup", "reord", "late", "worst_ms", "refused10", "refused*", "timeouts");
    for (size_t i = 0; i < SENDERS; i++) {
        sender *s = &senders[i];
        uint64_t lost = 0, late = 0, w = 0, refused_other = 0;

        for (uint64_t q = 0; q < upto[i]; q++) {
            if (s->recs[q].arrivals == 0) {
                lost++;
                if (lost <= 5)
                    printf("  lost: %s message %llu (accepted at +%llu ms)\n", s->addr,
                           (unsigned long long)q,
                           (unsigned long long)(s->recs[q].accepted_ms - s->recs[0].accepted_ms));
                continue;
            }
            uint64_t d = delay_of(&s->recs[q]);

            if (d > w)
                w = d;
            if (d > opt.max_delay_s * SECOND)
                late++;
        }
        for (size_t c = 0; c < 16; c++)
            refused_other += c == 10 ? 0 : s->refused[c];
        printf("%-14s %-10s %9llu %6llu %6llu %6llu %6llu %10llu %9llu %9llu %8llu\n", s->addr,
               s->to, (unsigned long long)upto[i], (unsigned long long)lost,
               (unsigned long long)s->duplicated, (unsigned long long)s->reordered,
               (unsigned long long)late, (unsigned long long)w,
               (unsigned long long)s->refused[10], (unsigned long long)refused_other,
               (unsigned long long)s->timeouts);
        tot_acc += upto[i];
        tot_lost += lost;
        tot_dup += s->duplicated;
        tot_reord += s->reordered;
        tot_late += late;
        worst = w > worst ? w : worst;
    }
    for (size_t i = 0; i < SENDERS; i++) {
        if (senders[i].unaccepted > 0)
            note("%s gave up its last message, never accepted within %u s of the end",
                 senders[i].addr, opt.max_delay_s);
    }
    for (size_t i = 0; i < RECEIVERS; i++) {
        if (receivers[i].foreign > 0)
            violation("%s was handed %llu messages that none of our senders sent",
                      receivers[i].addr, (unsigned long long)receivers[i].foreign);
    }
    printf("\nfaults (recovery: until every message accepted before the fault's end arrived)\n");
    for (size_t f = 0; f < fault_count; f++) {
        if (faults[f].recovery_ms == UINT64_MAX)
            printf("  %-48s %7llu ms  recovery: NEVER (within %u s)\n", faults[f].what,
                   (unsigned long long)(faults[f].end_ms - faults[f].start_ms), opt.max_delay_s);
        else
            printf("  %-48s %7llu ms  recovery: %llu ms\n", faults[f].what,
                   (unsigned long long)(faults[f].end_ms - faults[f].start_ms),
                   (unsigned long long)faults[f].recovery_ms);
    }
    printf("\nFIGURES scenario=%s rounds=%u messages=%llu lost=%llu duplicated=%llu "
           "reordered=%llu late=%llu worst_delay_ms=%llu crashes=%u audit_failures=%u\n",
           opt.scenario, rounds_run, (unsigned long long)tot_acc, (unsigned long long)tot_lost,
           (unsigned long long)tot_dup, (unsigned long long)tot_reord,
           (unsigned long long)tot_late, (unsigned long long)worst, crashes, audit_failures);
    if (tot_lost > 0)
        violation("%llu accepted messages never arrived", (unsigned long long)tot_lost);
    if (tot_dup > 0)
        violation("%llu messages reached the application twice", (unsigned long long)tot_dup);
    if (tot_reord > 0)
        violation("%llu messages arrived out of order", (unsigned long long)tot_reord);
    if (tot_late > 0)
        violation("%llu messages arrived later than %u s after the fault", (unsigned long long)tot_late,
                  opt.max_delay_s);
}

/* Stops every broker with SIGTERM and verifies each audit log. */
static void
stop_and_verify(void)
{
    for (size_t i = 0; i < F->nation_count; i++) {
        fed_nation *n = &F->nations[i];

        if (n->pid > 0) {
            int rc = fed_stop(F, n->nation);

            if (rc != 0)
                violation("broker %s did not stop cleanly on SIGTERM (status %d); see %s",
                          n->nation, rc, n->log);
        }
        audit_verify(n, "at the end");
    }
}

/* ---- Scenarios ------------------------------------------------------------------- */

static const char *const two[] = {"USA", "CAN"};

static void
federation_up(bool shimmed)
{
    for (size_t i = 0; i < F->nation_count; i++)
        broker_start(&F->nations[i], shimmed);
    if (violations > 0) {
        fprintf(stderr, "setup: the brokers did not start\n");
        exit(2);
    }
    load_start();
    warm_up();
}

/* The nemeses of the kill and pause scenarios, on USA (sending) or CAN (receiving). */
typedef enum {
    NEM_PARTNER_RESTART, /* SIGKILL CAN, restart within 1 s */
    NEM_PARTNER_PAUSE,   /* SIGSTOP CAN for 2-9 s */
    NEM_SENDER_KILL,     /* SIGKILL USA, restart within 1 s */
    NEM_RECEIVER_KILL,   /* SIGKILL CAN, down 2-9 s */
    NEM_SENDER_PAUSE,    /* SIGSTOP USA for 2-9 s */
    NEM_COUNT
} nemesis;

static fault *
inject(nemesis nem)
{
    fed_nation *usa = fed_nation_get(F, "USA"), *can = fed_nation_get(F, "CAN");
    fault *flt = NULL;
    unsigned ms;

    switch (nem) {
    case NEM_PARTNER_RESTART: {
        /* Frozen first for up to 300 ms, so that forwards sent to it in the
         * meantime are in flight, unacknowledged, when it dies; then back
         * within 1 s, before its partner sees the link go down. */
        unsigned frozen = pick(0, 300);

        ms = pick(0, 600);
        flt = fault_begin("kill %s (frozen %u ms), restart after %u ms", can->nation, frozen, ms);
        if (frozen > 0) {
            broker_signal(can, SIGSTOP);
            sleep_ms(frozen);
        }
        broker_kill(can);
        sleep_ms(ms);
        broker_start(can, false);
        break;
    }
    case NEM_SENDER_KILL:
        ms = pick(0, 900);
        flt = fault_begin("kill %s, restart after %u ms", usa->nation, ms);
        broker_kill(usa);
        sleep_ms(ms);
        broker_start(usa, false);
        break;
    case NEM_RECEIVER_KILL:
        ms = pick(2000, 9000);
        flt = fault_begin("kill %s, down %u ms", can->nation, ms);
        broker_kill(can);
        sleep_ms(ms);
        broker_start(can, false);
        break;
    case NEM_PARTNER_PAUSE:
    case NEM_SENDER_PAUSE: {
        fed_nation *n = nem == NEM_SENDER_PAUSE ? usa : can;

        ms = pick(2000, 9000);
        flt = fault_begin("stop %s for %u ms", n->nation, ms);
        broker_signal(n, SIGSTOP);
        sleep_ms(ms);
        broker_signal(n, SIGCONT);
        break;
    }
    default:
        abort();
    }
    flt->end_ms = now_ms();
    return flt;
}

static int
run_kills(int nem_fixed)
{
    unsigned r;

    F = fed_new(two, 2, NULL);
    federation_up(false);
    for (r = 0; r < opt.rounds; r++) {
        nemesis nem = nem_fixed >= 0 ? (nemesis)nem_fixed : (nemesis)pick(0, NEM_COUNT - 1);
        fault *flt;

        sleep_ms(pick(opt.shortrun ? 500 : 1000, opt.shortrun ? 1500 : 4000));
        check_alive();
        if (!all_running())
            break;
        flt = inject(nem);
        note("round %u: %s", r + 1, flt->what);
        if (!round_check(flt)) {
            note("the federation did not recover; no further rounds");
            r++;
            break;
        }
    }
    finish(r);
    stop_and_verify();
    return 0;
}

/* Fills the file system at dir until it refuses one more byte. */
static void
fill(const char *path)
{
    static char chunk[1 << 20];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t sz = sizeof(chunk);

    memset(chunk, 0x5a, sizeof(chunk));
    while (fd >= 0 && sz >= 512) {
        if (write(fd, chunk, sz) < (ssize_t)sz)
            sz /= 2;
    }
    if (fd >= 0)
        close(fd);
}

static int
run_disk_full(void)
{
    fed_nation *usa;
    char filler[1200];
    unsigned r;

    F = fed_new(two, 2, NULL);
    usa = fed_nation_get(F, "USA");
    if (mkdir(usa->data, 0700) != 0 ||
        mount("tmpfs", usa->data, "tmpfs", 0, "size=20m,mode=0700") != 0) {
        printf("SKIP: cannot mount a 20 MiB tmpfs at %s: %s (needs root and mount(2))\n",
               usa->data, strerror(errno));
        return 77;
    }
    snprintf(mounted, sizeof(mounted), "%s", usa->data);
    snprintf(filler, sizeof(filler), "%s/filler", usa->data);
    federation_up(false);
    for (r = 0; r < opt.rounds; r++) {
        uint64_t refused_before = 0, refused_after = 0, deadline, upto[SENDERS], after[SENDERS];
        fault *flt;

        sleep_ms(pick(500, 1500));
        check_alive();
        if (!all_running())
            break;
        pthread_mutex_lock(&mu);
        for (size_t i = 0; i < SENDERS; i++)
            refused_before += senders[i].refused[10];
        pthread_mutex_unlock(&mu);
        flt = fault_begin("fill USA's file system");
        fill(filler);
        /* The audit log grows with every message, so the store soon needs a page it cannot have. */
        deadline = now_ms() + 60 * SECOND;
        do {
            sleep_ms(100);
            check_alive();
            pthread_mutex_lock(&mu);
            refused_after = 0;
            for (size_t i = 0; i < SENDERS; i++)
                refused_after += senders[i].refused[10];
            pthread_mutex_unlock(&mu);
        } while (refused_after == refused_before && now_ms() < deadline);
        if (refused_after == refused_before) {
            violation("round %u: with its file system full USA refused nothing for 60 s",
                      r + 1);
        } else {
            note("round %u: full: submits refused with code 10 (internal)", r + 1);
            sleep_ms(pick(1000, 3000));
        }
        check_alive();
        snapshot(upto);
        unlink(filler);
        flt->end_ms = now_ms();
        pthread_mutex_lock(&mu);
        refused_after = 0;
        for (size_t i = 0; i < SENDERS; i++)
            refused_after += senders[i].refused[10];
        pthread_mutex_unlock(&mu);
        note("round %u: space freed after %llu refusals", r + 1,
             (unsigned long long)(refused_after - refused_before));
        /* Accepting resumes for every sender. */
        deadline = now_ms() + opt.max_delay_s * SECOND;
        for (;;) {
            bool all = true;

            snapshot(after);
            for (size_t i = 0; i < SENDERS; i++)
                all = all && after[i] > upto[i];
            if (all || now_ms() >= deadline)
                break;
            sleep_ms(50);
        }
        {
            bool all = true;

            for (size_t i = 0; i < SENDERS; i++)
                all = all && after[i] > upto[i];
            if (!all)
                violation("round %u: accepting did not resume within %u s of freeing space",
                          r + 1, opt.max_delay_s);
            else
                note("round %u: accepting resumed %llu ms after space was freed", r + 1,
                     (unsigned long long)(now_ms() - flt->end_ms));
        }
        if (!round_check(flt)) {
            r++;
            break;
        }
        audit_verify(usa, "after the disk was full");
    }
    finish(r);
    stop_and_verify();
    return 0;
}

/* ---- Damaged data files --------------------------------------------------------- */

static bool
copy_file(const char *from, const char *to)
{
    size_t len = 0;
    uint8_t *data = test_read_file(from, &len);
    int fd = data != NULL ? open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600) : -1;
    bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;

    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    free(data);
    return ok;
}

static long
file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The log text written since offset (a malloc'd string). */
static char *
log_since(const char *path, long offset)
{
    size_t len = 0;
    char *text = (char *)test_read_file(path, &len);
    char *out;

    if (text == NULL)
        return strdup("");
    if (offset < 0 || (size_t)offset > len)
        offset = 0;
    out = strndup(text + offset, len - (size_t)offset);
    free(text);
    return out;
}

#define DATA_FILE_QUEUED 50 /* messages queued for USA/CBP before each damage */

/* How many messages USA/CBP is handed (none receipted), waiting up to 10 s
 * for each. */
static int
queued_for_cbp(void)
{
    liaison_client *c = open_client("USA/CBP", true);
    int n = 0;

    for (;;) {
        liaison_event *e = NULL;

        if (liaison_receive(c, &e, now_ms() + 10 * SECOND) != LIAISON_OK)
            break;
        if (e->type == LIAISON_EVENT_MESSAGE)
            n++;
        liaison_event_free(&e);
    }
    liaison_client_close(&c);
    return n;
}

/*
 * The broker must refuse a damaged store: exit non-zero, by itself (never
 * by a signal), with an error naming the file, and never serve.  One
 * exception: a file that ends a few pages short of its last page in use
 * may have lost only free pages (a page the last commit freed, say); the
 * broker then reads every database whole before it serves (STO-SHORT-TAIL),
 * and it may serve only if nothing was lost: every queued message is still
 * there and the audit log verifies.
 */
static void
expect_refusal(fed_nation *n, const char *damage, const char *file_name)
{
    long offset = file_size(n->log);
    unsigned before = violations;
    int status = 0;
    broker_outcome o;
    char *text;

    broker_spawn(n, false);
    o = broker_wait(n, 30 * SECOND, &status);
    text = log_since(n->log, offset);
    if (o == BROKER_READY && strstr(text, "STO-SHORT-TAIL") != NULL) {
        int got = queued_for_cbp();

        if (fed_stop(F, n->nation) != 0)
            violation("%s: the broker did not stop cleanly", damage);
        else if (got != DATA_FILE_QUEUED)
            violation("%s: the broker served a store that lost %d of its %d queued messages",
                      damage, DATA_FILE_QUEUED - got, DATA_FILE_QUEUED);
        else if (audit_verify(n, damage))
            note("%s: only free pages were cut; every database read whole, all %d queued "
                 "messages there, audit verifies",
                 damage, got);
    } else if (o == BROKER_READY) {
        violation("%s: the broker started and serves (it must refuse a damaged store)", damage);
        broker_kill(n);
    } else if (o == BROKER_HUNG) {
        violation("%s: the broker neither served nor exited within 30 s", damage);
        broker_kill(n);
    } else if (WIFSIGNALED(status)) {
        violation("%s: the broker died by signal %d (%s) instead of refusing", damage,
                  WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else if (WEXITSTATUS(status) == 0) {
        violation("%s: the broker exited 0", damage);
    } else if (strstr(text, file_name) == NULL) {
        violation("%s: the broker exited %d but its error does not name %s", damage,
                  WEXITSTATUS(status), file_name);
    } else {
        note("%s: refused, exit %d", damage, WEXITSTATUS(status));
    }
    if (violations > before && strlen(text) > 0) {
        printf("---- broker log of this start ----\n%.*s----\n", 2000, text);
    }
    free(text);
}

static int
run_data_file(bool truncated)
{
    static const char *const one[] = {"USA"};
    fed_nation *usa;
    char data[1200], saved[1200], lock[1200];
    liaison_client *c;
    long size;
    unsigned r;

    F = fed_new(one, 1, NULL);
    usa = fed_nation_get(F, "USA");
    snprintf(data, sizeof(data), "%s/store/data.mdb", usa->data);
    snprintf(lock, sizeof(lock), "%s/store/lock.mdb", usa->data);
    snprintf(saved, sizeof(saved), "%s/data.mdb.saved", F->dir);
    broker_start(usa, false);
    if (violations > 0)
        return 2;
    /* A store with something in it: messages queued for an agency that never comes. */
    c = open_client("USA/FBI", false);
    for (int i = 0; i < DATA_FILE_QUEUED; i++) {
        liaison_message *m = NULL;
        char body[32];

        snprintf(body, sizeof(body), "queued %d", i);
        if (liaison_message_new("traveldoc.check", &m) != LIAISON_OK ||
            liaison_message_add_recipient(m, "USA/CBP") != LIAISON_OK ||
            liaison_message_add_portion(m, "LES", body, strlen(body), NULL) != LIAISON_OK ||
            liaison_send(c, m, NULL, now_ms() + 30 * SECOND) != LIAISON_OK) {
            fprintf(stderr, "setup: send %d: %s\n", i, liaison_client_error(c));
            return 2;
        }
        liaison_message_destroy(&m);
    }
    liaison_client_close(&c);
    if (fed_stop(F, "USA") != 0 || !audit_verify(usa, "before the damage") ||
        !copy_file(data, saved)) {
        fprintf(stderr, "setup: cannot stop USA cleanly or keep its store\n");
        return 2;
    }
    size = file_size(data);
    note("store: %s, %ld bytes", data, size);
    for (r = 0; r < opt.rounds; r++) {
        char damage[128];

        if (truncated) {
            /* Cut at half, at a quarter, or just the last page. */
            long to = r % 3 == 0 ? size / 2 : r % 3 == 1 ? size / 4 : size - 4096;

            to -= to % 4096;
            if (to <= 0)
                to = 4096;
            snprintf(damage, sizeof(damage), "round %u: data.mdb truncated from %ld to %ld bytes",
                     r + 1, size, to);
            if (truncate(data, to) != 0) {
                perror("truncate");
                return 2;
            }
        } else {
            /* The data file gone; every other round its lock file too. */
            snprintf(damage, sizeof(damage), "round %u: data.mdb missing%s", r + 1,
                     r % 2 ? " (and lock.mdb)" : "");
            unlink(data);
            if (r % 2)
                unlink(lock);
        }
        expect_refusal(usa, damage, "data.mdb");
        if (!truncated && file_size(data) == 0)
            violation("%s: the broker made a new, empty data.mdb", damage);
        /* The undamaged store still starts and verifies: the refusal was the damage's doing. */
        if (!copy_file(saved, data)) {
            fprintf(stderr, "cannot restore %s\n", data);
            return 2;
        }
        broker_start(usa, false);
        if (usa->pid > 0 && fed_stop(F, "USA") != 0)
            violation("round %u: the restored store did not stop cleanly", r + 1);
        audit_verify(usa, "restored");
    }
    printf("\nFIGURES scenario=%s rounds=%u violations=%u\n", opt.scenario, r, violations);
    return 0;
}

/* ---- Power loss -------------------------------------------------------------------- */

/*
 * Replays a power cut on data: every write the journal holds (made since
 * the last sync) is undone, newest first.  keep_some: each page of each
 * write is undone only with probability 1/2, as a disk that wrote some of
 * its cache before the power went.  Returns the number of writes undone
 * and their bytes through the out-parameters; false if the journal does
 * not parse.
 */
static bool
powerloss_revert(const char *journal_path, const char *data, bool keep_some,
                 uint64_t *writes_out, uint64_t *bytes_out)
{
    size_t len = 0, pos = 0, count = 0;
    uint8_t *j = test_read_file(journal_path, &len);
    size_t *at = NULL;
    uint64_t min_size = UINT64_MAX, bytes = 0;
    int fd = -1;
    bool ok = false;

    *writes_out = *bytes_out = 0;
    if (j == NULL)
        return true; /* no journal: nothing was written since the start */
    at = calloc(len / sizeof(powerloss_record) + 1, sizeof(*at));
    while (at != NULL && pos + sizeof(powerloss_record) <= len) {
        powerloss_record rec;

        memcpy(&rec, j + pos, sizeof(rec));
        if (rec.magic != POWERLOSS_MAGIC || rec.len > len - pos - sizeof(rec))
            break; /* a record cut short by the kill: its write never started */
        at[count++] = pos;
        pos += sizeof(rec) + rec.len;
    }
    fd = open(data, O_WRONLY);
    if (fd < 0 || at == NULL)
        goto out;
    for (size_t i = count; i-- > 0;) {
        powerloss_record rec;
        const uint8_t *pre = j + at[i] + sizeof(rec);

        memcpy(&rec, j + at[i], sizeof(rec));
        if (rec.old_size < min_size)
            min_size = rec.old_size;
        for (uint64_t o = 0; o < rec.len; o += 4096) {
            uint64_t n = rec.len - o < 4096 ? rec.len - o : 4096;

            if (keep_some && random() % 2 == 0)
                continue;
            if (pwrite(fd, pre + o, n, (off_t)(rec.offset + o)) != (ssize_t)n)
                goto out;
            bytes += n;
        }
    }
    /* Growth of the file is undone too, unless some writes were kept. */
    if (!keep_some && count > 0 && ftruncate(fd, (off_t)min_size) != 0)
        goto out;
    ok = fsync(fd) == 0;
    *writes_out = count;
    *bytes_out = bytes;
out:
    if (fd >= 0)
        close(fd);
    free(at);
    free(j);
    return ok;
}

static long
journal_len(size_t nation)
{
    return file_size(journal[nation]);
}

static int
run_power_loss(void)
{
    unsigned r, cuts_with_writes = 0;
    uint64_t total_writes = 0, total_bytes = 0;

    if (opt.shim == NULL || access(opt.shim, R_OK) != 0) {
        printf("SKIP: the power-loss shim is not built (LIAISON_POWERLOSS_SHIM or --shim)\n");
        return 77;
    }
    F = fed_new(two, 2, NULL);
    for (size_t i = 0; i < F->nation_count; i++)
        snprintf(journal[i], sizeof(journal[i]), "%s/%s.powerloss-journal", F->dir,
                 F->nations[i].nation);
    federation_up(true);
    for (r = 0; r < opt.rounds; r++) {
        /* USA (accepts from agencies), then CAN (accepts forwards), unless --target. */
        size_t target = opt.target == NULL ? r % 2 : strcmp(opt.target, "CAN") == 0 ? 1 : 0;
        fed_nation *n = &F->nations[target];
        bool keep_some = (opt.target == NULL ? r / 2 : r) % 2 == 1;
        uint64_t writes = 0, bytes = 0;
        int tries;
        fault *flt;
        char when[64];

        sleep_ms(pick(500, 2000));
        check_alive();
        if (!all_running())
            break;
        /* Cut while a commit's pages are written but not yet synced: stop the
         * broker, look at the journal, and go on a little if it is empty. */
        flt = fault_begin("power cut %s (%s)", n->nation,
                          keep_some ? "some unsynced pages kept" : "all unsynced writes lost");
        for (tries = 0; tries < 400; tries++) {
            int status;

            if (n->pid <= 0)
                break;
            broker_signal(n, SIGSTOP);
            waitpid(n->pid, &status, WUNTRACED);
            if (journal_len(target) > 0)
                break;
            broker_signal(n, SIGCONT);
            sleep_ms(pick(1, 15));
        }
        broker_kill(n);
        {
            char data[1200];

            snprintf(data, sizeof(data), "%s/store/data.mdb", n->data);
            if (!powerloss_revert(journal[target], data, keep_some, &writes, &bytes)) {
                violation("round %u: cannot replay the power cut on %s", r + 1, data);
                break;
            }
        }
        if (truncate(journal[target], 0) != 0 && errno != ENOENT)
            perror("truncate journal");
        if (writes > 0)
            cuts_with_writes++;
        total_writes += writes;
        total_bytes += bytes;
        snprintf(when, sizeof(when), "after power cut %u", r + 1);
        audit_verify(n, when);
        broker_start(n, true);
        flt->end_ms = now_ms();
        note("round %u: %s: %llu unsynced writes undone (%llu bytes), after %d looks", r + 1,
             flt->what, (unsigned long long)writes, (unsigned long long)bytes, tries + 1);
        if (!round_check(flt)) {
            r++;
            break;
        }
    }
    note("power cuts: %u, %u of them with unsynced writes undone (%llu writes, %llu bytes)", r,
         cuts_with_writes, (unsigned long long)total_writes, (unsigned long long)total_bytes);
    finish(r);
    stop_and_verify();
    return 0;
}

/* ---- Main ---------------------------------------------------------------------------- */

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: fault_driver [--scenario NAME] [--rounds N] [--rate R] [--seed S]\n"
            "                    [--max-delay SECONDS] [--shim PATH] [--target NATION] [--short]\n\n"
            "Runs real brokers (USA sending, CAN receiving) under steady load and injects\n"
            "faults by PID; checks, per sender, that nothing accepted is lost, nothing\n"
            "reaches the application twice, order is kept and every message arrives within\n"
            "--max-delay seconds of the fault's end; runs `liaison audit verify` on every\n"
            "broker.  Exit 0: every check passed; 1: a check failed; 2: the setup failed;\n"
            "77: the scenario cannot run here (skipped).\n\n"
            "scenarios:\n"
            "  partner-restart       SIGKILL the receiving broker (frozen up to 300 ms first),\n"
            "                        restart within 1 s\n"
            "  partner-pause         SIGSTOP the receiving broker for 2-9 s, then SIGCONT\n"
            "  sender-broker-kill    SIGKILL the sending broker, restart within 1 s\n"
            "  receiver-broker-kill  SIGKILL the receiving broker, restart after 2-9 s\n"
            "  mixed                 each round one of the above or a 2-9 s SIGSTOP of the\n"
            "                        sending broker, chosen at random (default)\n"
            "  disk-full             fill the sending broker's 20 MiB tmpfs, then free it\n"
            "  truncated-file        truncate data.mdb of a stopped broker; it must refuse\n"
            "  missing-file          remove data.mdb of a stopped broker; it must refuse\n"
            "  power-loss            SIGKILL a broker mid-commit and undo every write not\n"
            "                        yet synced (the preload shim's journal)\n\n"
            "options:\n"
            "  --rounds N      faults to inject (default 3 with --short, else 20)\n"
            "  --rate R        messages per second, all senders together (default 40)\n"
            "  --seed S        random seed (default: the time; printed)\n"
            "  --max-delay S   seconds within which every message must arrive after a\n"
            "                  fault ends (default 30)\n"
            "  --shim PATH     the power-loss shim (default $LIAISON_POWERLOSS_SHIM)\n"
            "  --target NATION power-loss cuts only USA or only CAN (default: each in turn)\n"
            "  --short         the CI variant: 3 rounds, shorter quiet spells\n\n"
            "environment: LIAISON_BROKER_BIN, LIAISON_TOOL_BIN, LIAISON_TEST_DATA (as for\n"
            "the integration tests); LIAISON_KEEP_TEST_DIRS keeps the scratch directory.\n");
}

int
main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"scenario", required_argument, NULL, 'n'}, {"rounds", required_argument, NULL, 'r'},
        {"rate", required_argument, NULL, 'R'},     {"seed", required_argument, NULL, 's'},
        {"max-delay", required_argument, NULL, 'd'}, {"shim", required_argument, NULL, 'S'},
        {"short", no_argument, NULL, 'q'},          {"help", no_argument, NULL, 'h'},
        {"target", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    bool seeded = false;
    int c, rc;

    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'n':
            opt.scenario = optarg;
            break;
        case 'r':
            opt.rounds = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'R':
            opt.rate = strtod(optarg, NULL);
            break;
        case 's':
            opt.seed = (unsigned)strtoul(optarg, NULL, 10);
            seeded = true;
            break;
        case 'd':
            opt.max_delay_s = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'S':
            opt.shim = optarg;
            break;
        case 'q':
            opt.shortrun = true;
            break;
        case 't':
            opt.target = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (optind != argc || opt.rate <= 0 || opt.max_delay_s == 0 ||
        (opt.target != NULL && strcmp(opt.target, "USA") != 0 && strcmp(opt.target, "CAN") != 0)) {
        usage(stderr);
        return 64;
    }
    if (opt.rounds == 0)
        opt.rounds = opt.shortrun ? 3 : 20;
    if (!seeded)
        opt.seed = (unsigned)(time(NULL) ^ getpid());
    if (opt.shim == NULL)
        opt.shim = getenv("LIAISON_POWERLOSS_SHIM");
    if (getenv("LIAISON_BROKER_BIN") == NULL || getenv("LIAISON_TOOL_BIN") == NULL ||
        getenv("LIAISON_TEST_DATA") == NULL) {
        fprintf(stderr, "fault_driver: set LIAISON_BROKER_BIN, LIAISON_TOOL_BIN and "
                        "LIAISON_TEST_DATA (see --help)\n");
        return 64;
    }
    keep_dir = getenv("LIAISON_KEEP_TEST_DIRS") != NULL;
    t0 = now_ms();
    srandom(opt.seed);
    if (proto_init() != PROTO_OK) {
        fprintf(stderr, "fault_driver: cannot initialise libsodium\n");
        return 70;
    }
    test_quiet_logs();
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("fault_driver: scenario %s, %u rounds, %.0f messages/s, seed %u, max delay %u s\n",
           opt.scenario, opt.rounds, opt.rate, opt.seed, opt.max_delay_s);
    fflush(stdout);

    if (strcmp(opt.scenario, "partner-restart") == 0)
        rc = run_kills(NEM_PARTNER_RESTART);
    else if (strcmp(opt.scenario, "partner-pause") == 0)
        rc = run_kills(NEM_PARTNER_PAUSE);
    else if (strcmp(opt.scenario, "sender-broker-kill") == 0)
        rc = run_kills(NEM_SENDER_KILL);
    else if (strcmp(opt.scenario, "receiver-broker-kill") == 0)
        rc = run_kills(NEM_RECEIVER_KILL);
    else if (strcmp(opt.scenario, "mixed") == 0)
        rc = run_kills(-1);
    else if (strcmp(opt.scenario, "disk-full") == 0)
        rc = run_disk_full();
    else if (strcmp(opt.scenario, "truncated-file") == 0)
        rc = run_data_file(true);
    else if (strcmp(opt.scenario, "missing-file") == 0)
        rc = run_data_file(false);
    else if (strcmp(opt.scenario, "power-loss") == 0)
        rc = run_power_loss();
    else {
        fprintf(stderr, "fault_driver: unknown scenario %s (see --help)\n", opt.scenario);
        return 64;
    }
    if (rc != 0)
        return rc;
    printf("RESULT %s: %s (%u violations, seed %u)\n", opt.scenario,
           violations == 0 ? "PASS" : "FAIL", violations, opt.seed);
    return violations == 0 ? 0 : 1;
}
