/* Test federations with real broker processes on loopback. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison_proto.h"

/* The demo agencies and the kinds they accept. */
static const struct {
    const char *addr;
    const char *accepts;
} demo_agencies[] = {
    {"USA/FBI", "watchlist.* traveldoc.* mlat.* consent.*"},
    {"USA/TREASURY", "freeze.*"},
    {"USA/DOJ", "mlat.*"},
    {"USA/CBP", "watchlist.* traveldoc.* cargo.*"},
    {"CAN/RCMP", "watchlist.* traveldoc.* mlat.* consent.*"},
    {"CAN/FINTRAC", "freeze.*"},
    {"CAN/CBSA", "watchlist.* traveldoc.*"},
    {"MEX/FGR", "mlat.* consent.*"},
    {"MEX/AIC", "watchlist.* traveldoc.*"},
    {"MEX/UIF", "freeze.*"},
    {"MEX/ANAM", "cargo.*"},
};

static void
path_join(char *out, size_t len, const char *dir, const char *name)
{
    char tmp[1024];

    snprintf(tmp, sizeof(tmp), "%s/%s", dir, name);
    snprintf(out, len, "%s", tmp);
}

static void
write_text(const char *path, const char *text, const char *mode)
{
    FILE *f = fopen(path, mode);

    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s: %s", path, strerror(errno));
}

/* Generates an identity, writes its key file, appends its card to roster text. */
static void
make_identity(const char *addr_text, const char *key_path, const char *accepts, char *roster,
              size_t roster_cap)
{
    proto_identity *id = NULL;
    proto_addr addr;
    proto_card card;
    proto_detail d;
    char text[512];
    size_t used = strlen(roster);

    if (proto_addr_parse(addr_text, &addr, &d) != PROTO_OK ||
        proto_identity_generate(&addr, &id) != PROTO_OK ||
        proto_keyfile_write(id, key_path, &d) != PROTO_OK)
        fail_msg("identity %s: %s", addr_text, d.text);
    proto_identity_card(id, &card);
    proto_identity_destroy(&id);
    if (proto_card_format(&card, text, sizeof(text)) != PROTO_OK)
        fail_msg("card %s", addr_text);
    snprintf(roster + used, roster_cap - used, "\ncard\n%s%s%s%send\n", strchr(text, '\n') + 1,
             accepts ? "accepts " : "", accepts ? accepts : "", accepts ? "\n" : "");
}

/* Federations not destroyed yet: a failed test leaves its own, and
 * fed_destroy_all (a teardown) stops their brokers. */
static fed *live[16];

static void
track(fed *f, bool add)
{
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
        if (add && live[i] == NULL) {
            live[i] = f;
            return;
        }
        if (!add && live[i] == f) {
            live[i] = NULL;
            return;
        }
    }
}

int
fed_destroy_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
        if (live[i] != NULL) {
            fed *f = live[i];

            fed_destroy(&f);
        }
    }
    return 0;
}

fed *
fed_new(const char *const *nations, size_t count, const char *extra_config)
{
    fed *f = calloc(1, sizeof(*f));
    static char roster[64 * 1024];
    char examples[512];

    if (f == NULL || count > FED_NATIONS_MAX)
        fail_msg("fed_new");
    test_scratch_dir(f->dir, sizeof(f->dir));
    test_data_path("../../deploy/examples", examples, sizeof(examples));
    snprintf(roster, sizeof(roster), "liaison-roster 1\n");
    f->nation_count = count;
    for (size_t i = 0; i < count; i++) {
        fed_nation *n = &f->nations[i];
        char name[64], lower[4];

        snprintf(n->nation, sizeof(n->nation), "%s", nations[i]);
        for (int k = 0; k < 3; k++)
            lower[k] = (char)(n->nation[k] - 'A' + 'a');
        lower[3] = '\0';
        snprintf(name, sizeof(name), "%s-broker.key", lower);
        {
            char key[1024];

            path_join(key, sizeof(key), f->dir, name);
            make_identity(n->nation, key, NULL, roster, sizeof(roster));
        }
        snprintf(n->agency_endpoint, sizeof(n->agency_endpoint), "tcp://127.0.0.1:%d",
                 test_free_port());
        snprintf(n->fed_endpoint, sizeof(n->fed_endpoint), "tcp://127.0.0.1:%d", test_free_port());
        n->metrics_port = test_free_port();
        snprintf(name, sizeof(name), "%s.yaml", lower);
        path_join(n->config, sizeof(n->config), f->dir, name);
        snprintf(name, sizeof(name), "data-%s", lower);
        path_join(n->data, sizeof(n->data), f->dir, name);
        snprintf(name, sizeof(name), "%s.log", lower);
        path_join(n->log, sizeof(n->log), f->dir, name);
        /* Each broker reads a copy, so that a test may change it and reload. */
        {
            char src[1024], *text = NULL;
            size_t len = 0;

            snprintf(src, sizeof(src), "%s/%s.policy.yaml", examples, lower);
            snprintf(name, sizeof(name), "%s.policy.yaml", lower);
            path_join(n->policy, sizeof(n->policy), f->dir, name);
            text = (char *)test_read_file(src, &len);
            if (text == NULL)
                fail_msg("cannot read %s", src);
            write_text(n->policy, text, "w");
            free(text);
        }
    }
    for (size_t a = 0; a < sizeof(demo_agencies) / sizeof(demo_agencies[0]); a++) {
        fed_agency *ag;
        char name[64];

        if (fed_nation_get(f, (char[4]){demo_agencies[a].addr[0], demo_agencies[a].addr[1],
                                        demo_agencies[a].addr[2], 0}) == NULL)
            continue;
        ag = &f->agencies[f->agency_count++];
        snprintf(ag->addr, sizeof(ag->addr), "%s", demo_agencies[a].addr);
        snprintf(ag->accepts, sizeof(ag->accepts), "%s", demo_agencies[a].accepts);
        snprintf(name, sizeof(name), "%.3s-%s.key", ag->addr, ag->addr + 4);
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        path_join(ag->key, sizeof(ag->key), f->dir, name);
        make_identity(ag->addr, ag->key, ag->accepts, roster, sizeof(roster));
    }
    path_join(f->roster, sizeof(f->roster), f->dir, "roster");
    write_text(f->roster, roster, "w");
    for (size_t i = 0; i < count; i++) {
        fed_nation *n = &f->nations[i];
        char cfg[8192], lower[4];
        size_t used;

        for (int k = 0; k < 3; k++)
            lower[k] = (char)(n->nation[k] - 'A' + 'a');
        lower[3] = '\0';
        used = (size_t)snprintf(cfg, sizeof(cfg),
                                "nation: %s\nidentity: %s-broker.key\nroster: roster\n"
                                "policy: %s\ndata_dir: %s\nagency_endpoint: %s\n"
                                "federation_endpoint: %s\nmetrics_endpoint: 127.0.0.1:%d\n"
                                "log_level: info\n",
                                n->nation, lower, n->policy, n->data, n->agency_endpoint,
                                n->fed_endpoint, n->metrics_port);
        if (count > 1)
            used += (size_t)snprintf(cfg + used, sizeof(cfg) - used, "peers:\n");
        for (size_t k = 0; k < count; k++) {
            if (k != i)
                used += (size_t)snprintf(cfg + used, sizeof(cfg) - used,
                                         "  - nation: %s\n    endpoint: %s\n",
                                         f->nations[k].nation, f->nations[k].fed_endpoint);
        }
        if (extra_config != NULL)
            snprintf(cfg + used, sizeof(cfg) - used, "%s", extra_config);
        write_text(n->config, cfg, "w");
    }
    track(f, true);
    return f;
}

void
fed_agency_add(fed *f, const char *addr, const char *accepts)
{
    static char card[4096];
    fed_agency *ag;
    char name[64];

    if (f->agency_count == FED_AGENCIES_MAX)
        fail_msg("too many agencies");
    ag = &f->agencies[f->agency_count++];
    snprintf(ag->addr, sizeof(ag->addr), "%s", addr);
    snprintf(ag->accepts, sizeof(ag->accepts), "%s", accepts);
    snprintf(name, sizeof(name), "%.3s-%s.key", ag->addr, ag->addr + 4);
    for (char *c = name; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    path_join(ag->key, sizeof(ag->key), f->dir, name);
    card[0] = '\0';
    make_identity(ag->addr, ag->key, ag->accepts, card, sizeof(card));
    write_text(f->roster, card, "a");
}

fed_nation *
fed_nation_get(fed *f, const char *nation)
{
    for (size_t i = 0; i < f->nation_count; i++) {
        if (strcmp(f->nations[i].nation, nation) == 0)
            return &f->nations[i];
    }
    return NULL;
}

fed_agency *
fed_agency_get(fed *f, const char *addr)
{
    for (size_t i = 0; i < f->agency_count; i++) {
        if (strcmp(f->agencies[i].addr, addr) == 0)
            return &f->agencies[i];
    }
    return NULL;
}

static const char *
broker_bin(void)
{
    const char *bin = getenv("LIAISON_BROKER_BIN");

    if (bin == NULL)
        fail_msg("LIAISON_BROKER_BIN is not set");
    return bin;
}

bool
fed_port_open(const char *endpoint)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    const char *colon = strrchr(endpoint, ':');
    bool ok;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Copies a broker's log to stderr, so that a failed start says why even
 * where the test directory is removed afterwards. */
static void
print_log(const fed_nation *n)
{
    FILE *fp = fopen(n->log, "r");
    char line[1024];

    if (fp == NULL)
        return;
    fprintf(stderr, "---- %s ----\n", n->log);
    while (fgets(line, sizeof(line), fp) != NULL)
        fputs(line, stderr);
    fprintf(stderr, "----\n");
    fclose(fp);
}

int
fed_store_init(fed *f, const char *nation)
{
    fed_nation *n = fed_nation_get(f, nation);
    char mark[1100];
    struct stat st;
    pid_t pid;
    int status = 0;

    if (n == NULL)
        return -1;
    snprintf(mark, sizeof(mark), "%s/store.created", n->data);
    if (stat(mark, &st) == 0)
        return 0;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execl(broker_bin(), "liaison-broker", "--config", n->config, "--init", (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* fed_store_init, failing the test when the store cannot be created. */
static void
init_store(fed *f, fed_nation *n)
{
    int rc = fed_store_init(f, n->nation);

    if (rc != 0) {
        print_log(n);
        fail_msg("liaison-broker --init for %s failed (status %d); see %s", n->nation, rc,
                 n->log);
    }
}

void
fed_start(fed *f, const char *nation)
{
    fed_nation *n = fed_nation_get(f, nation);
    pid_t pid;

    if (n == NULL || n->pid != 0)
        fail_msg("fed_start %s", nation);
    init_store(f, n);
    pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execl(broker_bin(), "liaison-broker", "--config", n->config, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    for (int i = 0; i < 200; i++) {
        int status;

        if (waitpid(pid, &status, WNOHANG) == pid) {
            n->pid = 0;
            print_log(n);
            fail_msg("broker %s exited at start with status %d; see %s", nation,
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, n->log);
        }
        if (fed_port_open(n->agency_endpoint) && fed_port_open(n->fed_endpoint))
            return;
        usleep(50000);
    }
    print_log(n);
    fail_msg("broker %s did not start listening; see %s", nation, n->log);
}

int
fed_stop(fed *f, const char *nation)
{
    fed_nation *n = fed_nation_get(f, nation);
    int status = -1;

    if (n == NULL || n->pid == 0)
        return -1;
    kill(n->pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            n->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(50000);
    }
    kill(n->pid, SIGKILL);
    waitpid(n->pid, &status, 0);
    n->pid = 0;
    fprintf(stderr, "broker %s did not stop on SIGTERM within 10 s; killed\n", nation);
    return -1;
}

void
fed_kill(fed *f, const char *nation)
{
    fed_nation *n = fed_nation_get(f, nation);

    if (n == NULL || n->pid == 0)
        return;
    kill(n->pid, SIGKILL);
    waitpid(n->pid, NULL, 0);
    n->pid = 0;
}

void
fed_reload(fed *f, const char *nation)
{
    fed_nation *n = fed_nation_get(f, nation);

    if (n != NULL && n->pid != 0)
        kill(n->pid, SIGHUP);
}

void
fed_destroy(fed **fp)
{
    fed *f = fp != NULL ? *fp : NULL;
    bool keep = false;

    if (f == NULL)
        return;
    for (size_t i = 0; i < f->agent_count; i++) {
        if (f->agents[i].pid != 0 && fed_agent_stop(f, f->agents[i].addr) != 0)
            fprintf(stderr, "agent %s did not exit cleanly; see %s\n", f->agents[i].addr,
                    f->agents[i].log);
    }
    for (size_t i = 0; i < f->nation_count; i++) {
        int rc;

        if (f->nations[i].pid != 0 && (rc = fed_stop(f, f->nations[i].nation)) != 0) {
            fprintf(stderr, "broker %s did not exit cleanly (status %d); see %s\n",
                    f->nations[i].nation, rc, f->nations[i].log);
            keep = true;
        }
    }
    if (!keep && getenv("LIAISON_KEEP_TEST_DIRS") == NULL)
        test_scratch_remove(f->dir);
    else
        fprintf(stderr, "kept %s\n", f->dir);
    track(f, false);
    free(f);
    *fp = NULL;
}

char *
fed_actor_of(const char *addr, char buf[FED_ACTOR_BYTES])
{
    size_t n = 0;

    for (const char *p = addr; *p != '\0' && n + 9 < FED_ACTOR_BYTES; p++)
        buf[n++] = *p == '/' ? '.' : (char)tolower((unsigned char)*p);
    snprintf(buf + n, FED_ACTOR_BYTES - n, ".officer");
    return buf;
}

liaison_client *
fed_client(fed *f, const char *addr, bool receive)
{
    fed_agency *a = fed_agency_get(f, addr);
    fed_nation *n = a != NULL ? fed_nation_get(f, (char[4]){addr[0], addr[1], addr[2], 0}) : NULL;
    liaison_config cfg;
    liaison_client *c = NULL;
    char why[512], actor[FED_ACTOR_BYTES];

    if (a == NULL || n == NULL)
        fail_msg("no agency %s in the test federation", addr);
    memset(&cfg, 0, sizeof(cfg));
    cfg.key_file = a->key;
    cfg.roster_file = f->roster;
    cfg.endpoint = n->agency_endpoint;
    cfg.receive = receive;
    cfg.actor = fed_actor_of(addr, actor);
    if (liaison_client_open(&cfg, &c, why, sizeof(why)) != LIAISON_OK)
        fail_msg("client %s: %s", addr, why);
    return c;
}

int
fed_run_tool(const char *const *args, char *out, size_t out_len)
{
    const char *bin = getenv("LIAISON_TOOL_BIN");
    int pipefd[2], status;
    pid_t pid;
    size_t used = 0;

    if (bin == NULL)
        fail_msg("LIAISON_TOOL_BIN is not set");
    if (pipe(pipefd) != 0)
        fail_msg("pipe");
    pid = fork();
    if (pid == 0) {
        size_t n = 0;
        char *argv[64];

        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        setenv("LIAISON_ACTOR", "test.officer", 0);
        argv[n++] = (char *)(uintptr_t)"liaison";
        while (args[n - 1] != NULL && n < 63) {
            argv[n] = (char *)(uintptr_t)args[n - 1];
            n++;
        }
        argv[n] = NULL;
        execv(bin, argv);
        _exit(127);
    }
    close(pipefd[1]);
    for (;;) {
        char buf[4096];
        ssize_t r = read(pipefd[0], buf, sizeof(buf));

        if (r <= 0)
            break;
        if (out != NULL && used + 1 < out_len) {
            size_t take = (size_t)r < out_len - used - 1 ? (size_t)r : out_len - used - 1;

            memcpy(out + used, buf, take);
            used += take;
        }
    }
    if (out != NULL && out_len > 0)
        out[used] = '\0';
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void
fed_assert_audit_verifies(fed *f, const char *nation)
{
    char out[4096];
    const char *args[] = {"audit", "verify", "--data", fed_nation_get(f, nation)->data, NULL};
    int rc = fed_run_tool(args, out, sizeof(out));

    if (rc != 0)
        fail_msg("liaison audit verify of %s exited %d: %s", nation, rc, out);
    if (strstr(out, "ok:") == NULL)
        fail_msg("liaison audit verify of %s printed no ok: %s", nation, out);
}

size_t
fed_log_count(fed *f, const char *nation, const char *needle)
{
    fed_nation *n = fed_nation_get(f, nation);
    FILE *fp = n != NULL ? fopen(n->log, "r") : NULL;
    char line[4096];
    size_t count = 0;

    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
        if (strstr(line, needle) != NULL)
            count++;
    }
    if (fp != NULL)
        fclose(fp);
    return count;
}

bool
fed_wait_until(bool (*fn)(void *ctx), void *ctx, unsigned ms)
{
    for (unsigned waited = 0;; waited += 20) {
        if (fn(ctx))
            return true;
        if (waited >= ms)
            return false;
        usleep(20000);
    }
}

int
fed_metrics(fed *f, const char *nation, char *out, size_t out_len)
{
    return fed_http_get(f, nation, "/metrics", out, out_len);
}

int
fed_http_get(fed *f, const char *nation, const char *path, char *out, size_t out_len)
{
    fed_nation *n = fed_nation_get(f, nation);
    char req[256];
    struct sockaddr_in sa;
    size_t used = 0;
    ssize_t r;
    int fd;

    if (n == NULL || out_len == 0)
        return -1;
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)n->metrics_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (used + 1 < out_len && (r = read(fd, out + used, out_len - used - 1)) > 0)
        used += (size_t)r;
    out[used] = '\0';
    close(fd);
    return strstr(out, "200 OK") != NULL ? 0 : -1;
}

bool
fed_wait_report(liaison_client *c, const uint8_t id[16], const char *recipient,
                const char *state, liaison_event **report_out, unsigned ms)
{
    uint64_t deadline = liaison_now_ms() + ms;

    for (;;) {
        liaison_event *e = NULL;
        bool hit;

        if (liaison_receive(c, &e, deadline) != LIAISON_OK)
            return false;
        hit = e->type == LIAISON_EVENT_REPORT && memcmp(e->id, id, 16) == 0 &&
              strcmp(e->recipient, recipient) == 0 && strcmp(e->state, state) == 0;
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        if (hit && report_out != NULL) {
            *report_out = e;
            return true;
        }
        liaison_event_free(&e);
        if (hit)
            return true;
    }
}

long long
fed_metric(fed *f, const char *nation, const char *sample)
{
    static char text[1 << 20];
    char needle[256];
    const char *p;

    if (fed_metrics(f, nation, text, sizeof(text)) != 0)
        return -1;
    snprintf(needle, sizeof(needle), "\n%s ", sample);
    p = strstr(text, needle);
    return p == NULL ? -1 : strtoll(p + strlen(needle), NULL, 10);
}

/* ---- Agents ------------------------------------------------------------------ */

static fed_agent *
agent_get(fed *f, const char *addr)
{
    for (size_t i = 0; i < f->agent_count; i++) {
        if (strcmp(f->agents[i].addr, addr) == 0)
            return &f->agents[i];
    }
    return NULL;
}

fed_agent *
fed_agent_config(fed *f, const char *addr, const char *extra_yaml)
{
    fed_agency *ag = fed_agency_get(f, addr);
    fed_nation *n = ag != NULL ? fed_nation_get(f, (char[4]){addr[0], addr[1], addr[2], 0}) : NULL;
    fed_agent *a = agent_get(f, addr);
    char name[64], text[4096];

    if (ag == NULL || n == NULL)
        fail_msg("no agency %s in the test federation", addr);
    if (a == NULL) {
        if (f->agent_count == FED_AGENCIES_MAX)
            fail_msg("too many agents");
        a = &f->agents[f->agent_count++];
        memset(a, 0, sizeof(*a));
        snprintf(a->addr, sizeof(a->addr), "%s", addr);
        snprintf(name, sizeof(name), "agent-%.3s-%s", addr, addr + 4);
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        char file[80];

        path_join(a->store, sizeof(a->store), f->dir, name);
        snprintf(file, sizeof(file), "%s.yaml", name);
        path_join(a->config, sizeof(a->config), f->dir, file);
        snprintf(file, sizeof(file), "%s.log", name);
        path_join(a->log, sizeof(a->log), f->dir, file);
    } else if (extra_yaml == NULL) {
        return a;
    }
    /* Relative paths resolve against the configuration's directory. */
    snprintf(text, sizeof(text), "key: %s\nroster: roster\nbroker: %s\nstore: %s\nlog_level: debug\n%s",
             strrchr(ag->key, '/') + 1, n->agency_endpoint, strrchr(a->store, '/') + 1,
             extra_yaml != NULL ? extra_yaml : "");
    write_text(a->config, text, "w");
    return a;
}

void
fed_agent_start(fed *f, const char *addr)
{
    fed_agent *a = fed_agent_config(f, addr, NULL);
    const char *bin = getenv("LIAISON_TOOL_BIN");
    size_t started = fed_agent_log_count(f, addr, "id=A-START");
    pid_t pid;

    if (bin == NULL)
        fail_msg("LIAISON_TOOL_BIN is not set");
    if (a->pid != 0)
        fail_msg("agent %s runs already", addr);
    pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(a->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execl(bin, "liaison", "agent", "--config", a->config, (char *)NULL);
        _exit(127);
    }
    a->pid = pid;
    for (int i = 0; i < 200; i++) {
        int status;

        if (waitpid(pid, &status, WNOHANG) == pid) {
            a->pid = 0;
            fail_msg("agent %s exited at start with status %d; see %s", addr,
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1, a->log);
        }
        if (fed_agent_log_count(f, addr, "id=A-START") > started)
            return;
        usleep(50000);
    }
    fail_msg("agent %s did not start; see %s", addr, a->log);
}

int
fed_agent_stop(fed *f, const char *addr)
{
    fed_agent *a = agent_get(f, addr);
    int status = -1;

    if (a == NULL || a->pid == 0)
        return -1;
    kill(a->pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
            a->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(50000);
    }
    kill(a->pid, SIGKILL);
    waitpid(a->pid, &status, 0);
    a->pid = 0;
    fail_msg("agent %s did not stop on SIGTERM within 15 s", addr);
    return -1;
}

void
fed_agent_kill(fed *f, const char *addr)
{
    fed_agent *a = agent_get(f, addr);

    if (a == NULL || a->pid == 0)
        return;
    kill(a->pid, SIGKILL);
    waitpid(a->pid, NULL, 0);
    a->pid = 0;
}

size_t
fed_agent_log_count(fed *f, const char *addr, const char *needle)
{
    fed_agent *a = agent_get(f, addr);
    FILE *fp = a != NULL ? fopen(a->log, "r") : NULL;
    char line[4096];
    size_t count = 0;

    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
        if (strstr(line, needle) != NULL)
            count++;
    }
    if (fp != NULL)
        fclose(fp);
    return count;
}

/* ---- The liaison tool as a process ---------------------------------------------------- */

/* fed_tool_start, with the child's stderr on err_fd when it is not -1. */
static void
tool_spawn(fed *f, fed_run *r, const char *agency, const char *state, const char *const *args,
           int err_fd)
{
    static int seq;
    const char *bin = getenv("LIAISON_TOOL_BIN");
    char *argv[96], sdir[1100];
    size_t n = 0;

    if (bin == NULL)
        fail_msg("LIAISON_TOOL_BIN is not set");
    snprintf(r->out_path, sizeof(r->out_path), "%s/run-%d.out", f->dir, seq);
    snprintf(r->err_path, sizeof(r->err_path), "%s/run-%d.err", f->dir, seq++);
    argv[n++] = (char *)(uintptr_t) "liaison";
    for (size_t i = 0; args[i] != NULL; i++) {
        if (n == 80)
            fail_msg("fed_tool_start: too many arguments");
        argv[n++] = (char *)(uintptr_t)args[i];
    }
    if (agency != NULL) {
        fed_agency *a = fed_agency_get(f, agency);
        fed_nation *nat = fed_nation_get(f, (char[4]){agency[0], agency[1], agency[2], 0});

        argv[n++] = (char *)(uintptr_t) "--key";
        argv[n++] = a->key;
        argv[n++] = (char *)(uintptr_t) "--roster";
        argv[n++] = f->roster;
        argv[n++] = (char *)(uintptr_t) "--broker";
        argv[n++] = nat->agency_endpoint;
    }
    if (state != NULL) {
        snprintf(sdir, sizeof(sdir), "%s/state-%s", f->dir, state);
        argv[n++] = (char *)(uintptr_t) "--state";
        argv[n++] = sdir;
    }
    argv[n] = NULL;
    r->pid = fork();
    if (r->pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (r->pid == 0) {
        int o = open(r->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = err_fd >= 0 ? dup(err_fd) : open(r->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        close(o);
        close(e);
        {
            char actor[FED_ACTOR_BYTES];

            setenv("LIAISON_ACTOR",
                   agency != NULL ? fed_actor_of(agency, actor) : "test.officer", 0);
        }
        execv(bin, argv);
        _exit(127);
    }
}

void
fed_tool_start(fed *f, fed_run *r, const char *agency, const char *state, const char *const *args)
{
    tool_spawn(f, r, agency, state, args, -1);
}

/* Reads the file at path into buf (len bytes, NUL-terminated; "" if absent). */
static void
slurp(const char *path, char *buf, size_t len)
{
    FILE *fp = fopen(path, "r");
    size_t n = fp != NULL ? fread(buf, 1, len - 1, fp) : 0;

    buf[n] = '\0';
    if (fp != NULL)
        fclose(fp);
}

int
fed_tool_wait(fed_run *r, char *out, char *err, size_t len)
{
    int status;

    if (waitpid(r->pid, &status, 0) != r->pid)
        fail_msg("waitpid: %s", strerror(errno));
    slurp(r->out_path, out, len);
    slurp(r->err_path, err, len);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
fed_tool(fed *f, const char *agency, const char *state, const char *const *args, char *out,
         char *err, size_t len)
{
    fed_run r;

    fed_tool_start(f, &r, agency, state, args);
    return fed_tool_wait(&r, out, err, len);
}

int
fed_tool_tty(fed *f, const char *agency, const char *state, const char *const *args, char *out,
             char *err, size_t len)
{
    fed_run r;
    int master, slave, status;
    size_t used = 0;
    char scratch[4096];

    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
        fail_msg("pseudo-terminal: %s", strerror(errno));
    /* Opened here and kept by the child alone after the fork, so that the
     * master reads EIO exactly when the tool has exited. */
    slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        fail_msg("pseudo-terminal %s: %s", ptsname(master), strerror(errno));
    tool_spawn(f, &r, agency, state, args, slave);
    close(slave);
    for (;;) {
        bool room = used + 1 < len;
        ssize_t n = read(master, room ? err + used : scratch, room ? len - 1 - used : sizeof(scratch));

        if (n > 0 && room)
            used += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n <= 0)
            break; /* EIO: every copy of the terminal's other side is closed */
    }
    err[used] = '\0';
    close(master);
    if (waitpid(r.pid, &status, 0) != r.pid)
        fail_msg("waitpid: %s", strerror(errno));
    slurp(r.out_path, out, len);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
