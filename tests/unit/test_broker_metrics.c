/* Unit tests of broker/metrics.c: exposition text, escaping, histogram, threads, HTTP, the status JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "helpers.h"
#include "metrics.h"

/* ---- Helpers --------------------------------------------------------------- */

static char *
render(broker_metrics *m)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(broker_metrics_render(m, &text, &len), BROKER_METRICS_OK);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_true(len > 0 && text[len - 1] == '\n');
    return text;
}

/* Fails unless text holds line as a whole line. */
static void
assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    }
    fail_msg("no line '%s' in:\n%s", line, text);
}

/* Fails if any line of text starts with prefix. */
static void
assert_no_line_starting(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        if (strncmp(p, prefix, n) == 0)
            fail_msg("unexpected line starting '%s' in:\n%s", prefix, text);
    }
}

/* Log lines the module wrote, for the tests that expect one. */
static char captured[4096];

static void
capture_sink(void *ctx, proto_log_level level, const char *line)
{
    size_t n = strlen(captured);

    (void)ctx;
    (void)level;
    snprintf(captured + n, sizeof(captured) - n, "%s\n", line);
}

/* A library's message, as libmicrohttpd hands one to its error log. */
static void library_says(const char *fmt, ...) PROTO_PRINTF(1, 2);

static void
library_says(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    proto_log_library("metrics.http", "http_log", fmt, ap);
    va_end(ap);
}

/* What the HTTP server's library logs becomes one warning line of ours, its line break gone. */
static void
test_proto_log_library_one_line(void **state)
{
    (void)state;
    captured[0] = '\0';
    proto_log_configure(capture_sink, NULL, PROTO_LOG_DEBUG);
    library_says("Error: received handshake message out of context %d\n\n", 7);
    test_quiet_logs();
    assert_non_null(strstr(captured, "level=warn id=metrics.http func=http_log Error: received "
                                     "handshake message out of context 7\n"));
    assert_null(strchr(strchr(captured, '\n') + 1, '\n'));
    /* Quieted below warnings, it writes nothing. */
    captured[0] = '\0';
    proto_log_configure(capture_sink, NULL, PROTO_LOG_ERROR);
    library_says("ignored %s\n", "message");
    test_quiet_logs();
    assert_string_equal(captured, "");
}

static int
setup(void **state)
{
    broker_metrics *m = NULL;

    test_quiet_logs();
    if (broker_metrics_new(&m) != BROKER_METRICS_OK)
        return -1;
    *state = m;
    return 0;
}

static int
teardown(void **state)
{
    broker_metrics *m = *state;

    broker_metrics_destroy(&m);
    return m == NULL ? 0 : -1;
}

/* Sends request to 127.0.0.1:port and returns everything read until the
 * server closes (malloc'd), or NULL if nothing could be read. */
static char *
http_exchange(int port, const char *request)
{
    struct sockaddr_in sa;
    struct timeval tv = {.tv_sec = 5};
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t n;

    assert_non_null(buf);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        fail_msg("connect 127.0.0.1:%d: %s", port, strerror(errno));
    assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    while (len + 1 < cap && (n = recv(fd, buf + len, cap - len - 1, 0)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    return buf;
}

/* ---- Exposition ---------------------------------------------------------------- */

static void
test_broker_metrics_render_fresh(void **state)
{
    broker_metrics *m = *state;
    char *text = render(m);

    assert_true(strncmp(text, "# HELP liaison_messages_accepted_total ", 39) == 0);
    assert_line(text, "# TYPE liaison_messages_accepted_total counter");
    assert_line(text, "liaison_messages_accepted_total 0");
    assert_line(text, "liaison_keys_refused_total 0");
    assert_line(text, "liaison_messages_rejected_total{code=\"malformed\"} 0");
    assert_line(text, "liaison_messages_rejected_total{code=\"bad-command\"} 0");
    assert_no_line_starting(text, "liaison_messages_rejected_total{code=\"unknown\"}");
    assert_line(text, "liaison_policy_reloads_total{result=\"ok\"} 0");
    assert_line(text, "liaison_policy_reloads_total{result=\"failed\"} 0");
    assert_line(text, "liaison_roster_reloads_total{result=\"ok\"} 0");
    assert_line(text, "liaison_roster_reloads_total{result=\"failed\"} 0");
    assert_line(text, "# TYPE liaison_queue_depth gauge");
    assert_no_line_starting(text, "liaison_queue_depth{");
    assert_line(text, "liaison_peers_up 0");
    assert_line(text, "liaison_sessions_connected 0");
    assert_line(text, "# TYPE liaison_commit_latency_seconds histogram");
    assert_line(text, "liaison_commit_latency_seconds_bucket{le=\"+Inf\"} 0");
    assert_line(text, "liaison_commit_latency_seconds_sum 0");
    assert_line(text, "liaison_commit_latency_seconds_count 0");
    free(text);
}

static void
test_broker_metrics_render_after_updates(void **state)
{
    broker_metrics *m = *state;
    char *text;

    broker_metrics_inc(m, BROKER_METRICS_ACCEPTED, 3);
    broker_metrics_inc(m, BROKER_METRICS_ACCEPTED, 1);
    broker_metrics_inc(m, BROKER_METRICS_RELEASED, 2);
    broker_metrics_inc(m, BROKER_METRICS_WITHHELD, 1);
    broker_metrics_inc(m, BROKER_METRICS_DENIED, 5);
    broker_metrics_inc(m, BROKER_METRICS_REFUSED, 6);
    broker_metrics_inc(m, BROKER_METRICS_FORWARDED, 7);
    broker_metrics_inc(m, BROKER_METRICS_DELIVERED, 8);
    broker_metrics_inc(m, BROKER_METRICS_RECEIPTED, 9);
    broker_metrics_inc(m, BROKER_METRICS_EXPIRED, 10);
    broker_metrics_inc(m, BROKER_METRICS_DUPLICATES_DROPPED, 11);
    broker_metrics_inc(m, BROKER_METRICS_KEYS_REFUSED, 12);
    broker_metrics_inc(m, BROKER_METRICS_POLICY_RELOAD_OK, 2);
    broker_metrics_inc(m, BROKER_METRICS_POLICY_RELOAD_FAILED, 1);
    broker_metrics_inc(m, BROKER_METRICS_ROSTER_RELOAD_OK, 3);
    broker_metrics_inc(m, BROKER_METRICS_ROSTER_RELOAD_FAILED, 4);
    broker_metrics_inc(m, BROKER_METRICS_COUNTER_COUNT, 1); /* not a counter: ignored */
    broker_metrics_inc_rejected(m, PROTO_WIRE_MALFORMED);
    broker_metrics_inc_rejected(m, PROTO_WIRE_MALFORMED);
    broker_metrics_inc_rejected(m, PROTO_WIRE_RATE);
    broker_metrics_inc_rejected(m, 0);
    broker_metrics_inc_rejected(m, 999);
    assert_int_equal(broker_metrics_inc_consistency_failure(m, "MEX"), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_inc_consistency_failure(m, "MEX"), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_queue_depth(m, "MEX/FGR", 4), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_queue_depth(m, "CAN/RCMP", 12), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_queue_depth(m, "CAN", 1), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_queue_depth(m, "CAN/RCMP", 7), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_up(m, "MEX", false), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_up(m, "CAN", true), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_inflight(m, "CAN", 256), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_inflight(m, "CAN", 3), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_inflight(m, "MEX", 0), BROKER_METRICS_OK);
    broker_metrics_set_sessions_connected(m, 5);
    broker_metrics_set_sessions_connected(m, 3);

    text = render(m);
    assert_line(text, "liaison_messages_accepted_total 4");
    assert_line(text, "liaison_messages_released_total 2");
    assert_line(text, "liaison_messages_withheld_total 1");
    assert_line(text, "liaison_messages_denied_total 5");
    assert_line(text, "liaison_messages_refused_total 6");
    assert_line(text, "liaison_messages_forwarded_total 7");
    assert_line(text, "liaison_messages_delivered_total 8");
    assert_line(text, "liaison_messages_receipted_total 9");
    assert_line(text, "liaison_messages_expired_total 10");
    assert_line(text, "liaison_duplicates_dropped_total 11");
    assert_line(text, "liaison_keys_refused_total 12");
    assert_line(text, "liaison_policy_reloads_total{result=\"ok\"} 2");
    assert_line(text, "liaison_policy_reloads_total{result=\"failed\"} 1");
    assert_line(text, "liaison_roster_reloads_total{result=\"ok\"} 3");
    assert_line(text, "liaison_roster_reloads_total{result=\"failed\"} 4");
    assert_line(text, "liaison_messages_rejected_total{code=\"malformed\"} 2");
    assert_line(text, "liaison_messages_rejected_total{code=\"rate-limited\"} 1");
    assert_line(text, "liaison_messages_rejected_total{code=\"too-large\"} 0");
    assert_line(text, "liaison_messages_rejected_total{code=\"unknown\"} 2");
    assert_line(text, "liaison_tree_head_consistency_failures_total{peer=\"MEX\"} 2");
    assert_line(text, "liaison_peer_up{peer=\"CAN\"} 1");
    assert_line(text, "liaison_peer_up{peer=\"MEX\"} 0");
    assert_line(text, "liaison_peers_up 1");
    assert_line(text, "# TYPE liaison_peer_inflight gauge");
    assert_line(text, "liaison_peer_inflight{peer=\"CAN\"} 3");
    assert_line(text, "liaison_peer_inflight{peer=\"MEX\"} 0");
    assert_line(text, "liaison_sessions_connected 3");
    /* Labelled samples come sorted by label value; a set replaces the value. */
    assert_non_null(strstr(text, "liaison_queue_depth{destination=\"CAN\"} 1\n"
                                 "liaison_queue_depth{destination=\"CAN/RCMP\"} 7\n"
                                 "liaison_queue_depth{destination=\"MEX/FGR\"} 4\n"));
    /* Each family's HELP and TYPE come right before its samples. */
    assert_non_null(strstr(text, "# TYPE liaison_peers_up gauge\nliaison_peers_up 1\n"));
    free(text);

    assert_int_equal(broker_metrics_set_peer_up(m, "MEX", true), BROKER_METRICS_OK);
    text = render(m);
    assert_line(text, "liaison_peers_up 2");
    free(text);
}

/* Every sample line is NAME{LABELS} VALUE or NAME VALUE, named liaison_*. */
static void
test_broker_metrics_render_is_well_formed(void **state)
{
    broker_metrics *m = *state;
    char *text, *line, *save = NULL;
    size_t samples = 0;

    assert_int_equal(broker_metrics_set_queue_depth(m, "USA/FBI", 1), BROKER_METRICS_OK);
    broker_metrics_observe_commit(m, 0.002);
    text = render(m);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        const char *value;
        char *end;

        if (strncmp(line, "# HELP liaison_", 15) == 0 || strncmp(line, "# TYPE liaison_", 15) == 0)
            continue;
        assert_true(strncmp(line, "liaison_", 8) == 0);
        value = strrchr(line, ' ');
        assert_non_null(value);
        strtod(value + 1, &end);
        assert_true(*end == '\0' && end != value + 1);
        samples++;
    }
    assert_true(samples > 30);
    free(text);
}

static void
test_broker_metrics_label_values_are_escaped(void **state)
{
    broker_metrics *m = *state;
    char *text;

    assert_int_equal(broker_metrics_set_queue_depth(m, "a\"b\\c\nd", 5), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_up(m, "\\", true), BROKER_METRICS_OK);
    text = render(m);
    assert_line(text, "liaison_queue_depth{destination=\"a\\\"b\\\\c\\nd\"} 5");
    assert_line(text, "liaison_peer_up{peer=\"\\\\\"} 1");
    free(text);
}

static void
test_broker_metrics_label_limits(void **state)
{
    broker_metrics *m = *state;
    char value[BROKER_METRICS_LABEL_MAX + 2];
    char *text;

    memset(value, 'A', sizeof(value));
    value[BROKER_METRICS_LABEL_MAX + 1] = '\0';
    assert_int_equal(broker_metrics_set_queue_depth(m, value, 1), BROKER_METRICS_ERR_INVALID);
    value[BROKER_METRICS_LABEL_MAX] = '\0';
    assert_int_equal(broker_metrics_set_queue_depth(m, value, 1), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_up(m, "", true), BROKER_METRICS_ERR_INVALID);

    /* Fill the table; the next new value is refused with one log line. */
    for (unsigned i = 1; i < BROKER_METRICS_LABELS_MAX; i++) {
        char dest[32];

        snprintf(dest, sizeof(dest), "CAN/A%u", i);
        assert_int_equal(broker_metrics_set_queue_depth(m, dest, i), BROKER_METRICS_OK);
    }
    captured[0] = '\0';
    proto_log_configure(capture_sink, NULL, PROTO_LOG_DEBUG);
    assert_int_equal(broker_metrics_set_peer_up(m, "CAN", true), BROKER_METRICS_ERR_FULL);
    assert_int_equal(broker_metrics_inc_consistency_failure(m, "CAN"), BROKER_METRICS_ERR_FULL);
    test_quiet_logs();
    assert_non_null(strstr(captured, "level=warn id=metrics.labels_full"));
    assert_non_null(strstr(captured, "label table holds 4096 values; new values such as \"CAN\""));
    assert_null(strchr(strchr(captured, '\n') + 1, '\n')); /* one line, not two */
    /* Known values can still be updated. */
    assert_int_equal(broker_metrics_set_queue_depth(m, "CAN/A7", 70), BROKER_METRICS_OK);
    text = render(m);
    assert_line(text, "liaison_queue_depth{destination=\"CAN/A7\"} 70");
    assert_line(text, "liaison_queue_depth{destination=\"CAN/A4095\"} 4095");
    assert_no_line_starting(text, "liaison_peer_up{");
    free(text);
}

static void
test_broker_metrics_histogram_buckets(void **state)
{
    broker_metrics *m = *state;
    char *text;

    broker_metrics_observe_commit(m, 0.0005); /* on a bound: counts in that bucket */
    broker_metrics_observe_commit(m, 0.0007);
    broker_metrics_observe_commit(m, 0.003);
    broker_metrics_observe_commit(m, 0.3);
    broker_metrics_observe_commit(m, 1.0);
    broker_metrics_observe_commit(m, 2.5);
    broker_metrics_observe_commit(m, -1.0); /* counts as 0 */
    broker_metrics_observe_commit(m, NAN);  /* ignored */
    text = render(m);
    assert_non_null(strstr(text,
                           "liaison_commit_latency_seconds_bucket{le=\"0.0005\"} 2\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.001\"} 3\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.0025\"} 3\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.005\"} 4\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.01\"} 4\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.025\"} 4\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.05\"} 4\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.1\"} 4\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.25\"} 4\n"
                           "liaison_commit_latency_seconds_bucket{le=\"0.5\"} 5\n"
                           "liaison_commit_latency_seconds_bucket{le=\"1\"} 6\n"
                           "liaison_commit_latency_seconds_bucket{le=\"+Inf\"} 7\n"
                           "liaison_commit_latency_seconds_sum 3.8042\n"
                           "liaison_commit_latency_seconds_count 7\n"));
    free(text);
}

/* ---- Threads ------------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 100000

/* What one updating thread is told. */
typedef struct worker_arg {
    broker_metrics *m;  /* shared */
    int id;             /* 0 .. THREADS-1 */
} worker_arg;

static void *
worker(void *p)
{
    worker_arg *a = p;
    char dest[16];

    snprintf(dest, sizeof(dest), "USA/T%d", a->id);
    for (int i = 0; i < ROUNDS; i++) {
        broker_metrics_inc(a->m, BROKER_METRICS_ACCEPTED, 1);
        broker_metrics_inc(a->m, BROKER_METRICS_DELIVERED, 2);
        broker_metrics_inc_rejected(a->m, PROTO_WIRE_BUSY);
        broker_metrics_observe_commit(a->m, 0.001);
        if (i % 1000 == 0) {
            if (broker_metrics_set_queue_depth(a->m, dest, (uint64_t)i) != BROKER_METRICS_OK ||
                broker_metrics_inc_consistency_failure(a->m, "CAN") != BROKER_METRICS_OK)
                return p;
        }
    }
    return NULL;
}

static void
test_broker_metrics_concurrent_increments_sum_exactly(void **state)
{
    broker_metrics *m = *state;
    pthread_t threads[THREADS];
    worker_arg args[THREADS];
    char *text, line[128];

    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){.m = m, .id = i};
        assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
    }
    /* Scrapes run alongside the updates. */
    for (int i = 0; i < 20; i++) {
        text = render(m);
        free(text);
    }
    for (int i = 0; i < THREADS; i++) {
        void *ret = &ret;

        assert_int_equal(pthread_join(threads[i], &ret), 0);
        assert_null(ret);
    }
    text = render(m);
    snprintf(line, sizeof(line), "liaison_messages_accepted_total %d", THREADS * ROUNDS);
    assert_line(text, line);
    snprintf(line, sizeof(line), "liaison_messages_delivered_total %d", 2 * THREADS * ROUNDS);
    assert_line(text, line);
    snprintf(line, sizeof(line), "liaison_messages_rejected_total{code=\"busy\"} %d", THREADS * ROUNDS);
    assert_line(text, line);
    snprintf(line, sizeof(line), "liaison_commit_latency_seconds_count %d", THREADS * ROUNDS);
    assert_line(text, line);
    snprintf(line, sizeof(line), "liaison_commit_latency_seconds_bucket{le=\"0.001\"} %d",
             THREADS * ROUNDS);
    assert_line(text, line);
    assert_line(text, "liaison_commit_latency_seconds_sum 400");
    snprintf(line, sizeof(line), "liaison_tree_head_consistency_failures_total{peer=\"CAN\"} %d",
             THREADS * ROUNDS / 1000);
    assert_line(text, line);
    assert_line(text, "liaison_queue_depth{destination=\"USA/T3\"} 99000");
    free(text);
}

/* ---- HTTP ---------------------------------------------------------------------- */

static void
test_broker_metrics_http_get(void **state)
{
    broker_metrics *m = *state;
    int port = test_free_port();
    char endpoint[32], err[256];
    char *resp;

    broker_metrics_inc(m, BROKER_METRICS_FORWARDED, 42);
    assert_int_equal(broker_metrics_set_peer_up(m, "CAN", true), BROKER_METRICS_OK);
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", port);
    if (broker_metrics_serve(m, endpoint, err, sizeof(err)) != BROKER_METRICS_OK)
        fail_msg("serve: %s", err);
    assert_int_equal(broker_metrics_port(m), port);

    resp = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(resp, "\r\n\r\n# HELP liaison_messages_accepted_total "));
    assert_line(resp, "liaison_messages_forwarded_total 42");
    assert_line(resp, "liaison_peer_up{peer=\"CAN\"} 1");
    free(resp);

    /* A query string is not part of the path. */
    resp = http_exchange(port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(resp, " 200 OK\r\n"));
    free(resp);

    resp = http_exchange(port, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    free(resp);
    resp = http_exchange(port, "GET /metricsx HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 404 ", 13) == 0);
    free(resp);

    resp = http_exchange(port, "POST /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                               "Content-Length: 3\r\n\r\nabc");
    assert_true(strncmp(resp, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
    assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
    free(resp);

    resp = http_exchange(port, "HEAD /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_null(strstr(resp, "# HELP"));
    free(resp);

    broker_metrics_stop(m);
    assert_int_equal(broker_metrics_port(m), 0);
    broker_metrics_stop(m);
}

static void
test_broker_metrics_serve_port_in_use(void **state)
{
    broker_metrics *m = *state;
    struct sockaddr_in sa;
    int port = test_free_port(), fd = socket(AF_INET, SOCK_STREAM, 0);
    char endpoint[32], err[256], want[256];

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", port);
    captured[0] = '\0';
    proto_log_configure(capture_sink, NULL, PROTO_LOG_DEBUG);
    assert_int_equal(broker_metrics_serve(m, endpoint, err, sizeof(err)), BROKER_METRICS_ERR_LISTEN);
    test_quiet_logs();
    snprintf(want, sizeof(want), "metrics endpoint %s: cannot listen: Address already in use", endpoint);
    assert_string_equal(err, want);
    assert_non_null(strstr(captured, "level=error id=metrics.listen"));
    assert_int_equal(broker_metrics_port(m), 0);
    close(fd);

    /* Free again, the port can be served. */
    assert_int_equal(broker_metrics_serve(m, endpoint, err, sizeof(err)), BROKER_METRICS_OK);
}

static void
test_broker_metrics_serve_errors(void **state)
{
    broker_metrics *m = *state;
    int port = test_free_port();
    char endpoint[32], err[256];
    char *resp;

    assert_int_equal(broker_metrics_serve(m, "127.0.0.1", err, sizeof(err)), BROKER_METRICS_ERR_ENDPOINT);
    assert_string_equal(err, "metrics endpoint '127.0.0.1' is not HOST:PORT: missing ':PORT'");
    assert_int_equal(broker_metrics_serve(m, "127.0.0.1:0", NULL, 0), BROKER_METRICS_ERR_ENDPOINT);
    /* (Names that need DNS are not tried: tests send nothing off this machine.) */

    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", port);
    assert_int_equal(broker_metrics_serve(m, endpoint, err, sizeof(err)), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_serve(m, endpoint, err, sizeof(err)), BROKER_METRICS_ERR_RUNNING);
    /* Stopping closes the listening socket: the same port serves again. */
    broker_metrics_stop(m);
    assert_int_equal(broker_metrics_serve(m, endpoint, err, sizeof(err)), BROKER_METRICS_OK);
    resp = http_exchange(port, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(resp, " 200 OK\r\n"));
    free(resp);
    /* destroy (in teardown) stops a running server. */
}

static void
test_broker_metrics_strerror_complete(void **state)
{
    (void)state;
    for (int code = BROKER_METRICS_OK; code <= BROKER_METRICS_ERR_TOO_LARGE; code++)
        assert_string_not_equal(broker_metrics_strerror((broker_metrics_err)code), "unknown error");
    assert_string_equal(broker_metrics_strerror((broker_metrics_err)999), "unknown error");
}

/* ---- The status page ------------------------------------------------------------ */

/* Renders the status at now_ms and parses it; fails unless it is a JSON object. */
static json_t *
status_json(broker_metrics *m, uint64_t now_ms)
{
    char *text = NULL;
    size_t len = 0;
    json_error_t jerr;
    json_t *root;

    assert_int_equal(broker_metrics_render_status(m, now_ms, &text, &len), BROKER_METRICS_OK);
    assert_int_equal(strlen(text), len);
    root = json_loads(text, 0, &jerr);
    if (root == NULL)
        fail_msg("status is not JSON (%s): %s", jerr.text, text);
    assert_true(json_is_object(root));
    free(text);
    return root;
}

/* 2026-12-06T20:30:00Z in Unix milliseconds. */
#define T0 1796589000000ull

static void
test_broker_metrics_status_fresh(void **state)
{
    broker_metrics *m = *state;
    json_t *root = status_json(m, T0);
    static const char *const counters[] = {"accepted", "released", "withheld", "denied",
                                           "rejected", "refused", "forwarded", "delivered",
                                           "receipted", "expired"};

    assert_true(json_is_null(json_object_get(root, "broker")));
    assert_string_equal(json_string_value(json_object_get(root, "now")), "2026-12-06T20:30:00Z");
    assert_true(json_is_null(json_object_get(root, "started")));
    assert_int_equal(json_array_size(json_object_get(root, "peers")), 0);
    assert_int_equal(json_array_size(json_object_get(root, "queues")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "sessions"),
                                                        "connected")), 0);
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        json_t *c = json_object_get(json_object_get(root, "counters"), counters[i]);

        if (!json_is_integer(c) || json_integer_value(c) != 0)
            fail_msg("counters.%s is not 0", counters[i]);
    }
    assert_int_equal(json_object_size(json_object_get(root, "counters")), 10);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "series"),
                                                        "interval_s")), 10);
    assert_int_equal(json_array_size(json_object_get(json_object_get(root, "series"), "points")), 0);
    assert_true(json_is_null(json_object_get(root, "tree_head")));
    assert_int_equal(json_array_size(json_object_get(root, "refusals")), 0);
    assert_int_equal(json_object_size(root), 10);
    json_decref(root);
}

static void
test_broker_metrics_status_members(void **state)
{
    broker_metrics *m = *state;
    uint8_t root_a[PROTO_HASH_BYTES], root_b[PROTO_HASH_BYTES];
    json_t *root, *peers, *p, *head, *queues;

    memset(root_a, 0xab, sizeof(root_a));
    memset(root_b, 0x01, sizeof(root_b));
    broker_metrics_set_identity(m, "USA", T0 - 3600000u);
    assert_int_equal(broker_metrics_set_peer_since(m, "MEX", false, 0), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_since(m, "CAN", true, T0 - 60000u), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_inflight(m, "CAN", 3), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_head(m, "CAN", 123, root_a, T0 - 30000u, "consistent",
                                                  true, T0 - 29000u),
                     BROKER_METRICS_OK);
    broker_metrics_set_tree_head(m, 77, root_b, T0 - 5000u);
    assert_int_equal(broker_metrics_set_queue_depth(m, "CAN/RCMP", 4), BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_queue_depth(m, "USA/FBI", 9), BROKER_METRICS_OK);
    broker_metrics_set_sessions_connected(m, 5);
    broker_metrics_inc(m, BROKER_METRICS_ACCEPTED, 7);
    broker_metrics_inc_rejected(m, PROTO_WIRE_DENIED);
    broker_metrics_inc_rejected(m, PROTO_WIRE_BUSY);

    root = status_json(m, T0);
    assert_string_equal(json_string_value(json_object_get(root, "broker")), "USA");
    assert_string_equal(json_string_value(json_object_get(root, "started")), "2026-12-06T19:30:00Z");
    peers = json_object_get(root, "peers");
    assert_int_equal(json_array_size(peers), 2);
    p = json_array_get(peers, 0);
    assert_string_equal(json_string_value(json_object_get(p, "nation")), "MEX");
    assert_true(json_is_false(json_object_get(p, "up")));
    assert_true(json_is_null(json_object_get(p, "since")));
    assert_true(json_is_null(json_object_get(p, "head")));
    p = json_array_get(peers, 1);
    assert_string_equal(json_string_value(json_object_get(p, "nation")), "CAN");
    assert_true(json_is_true(json_object_get(p, "up")));
    assert_string_equal(json_string_value(json_object_get(p, "since")), "2026-12-06T20:29:00Z");
    assert_int_equal(json_integer_value(json_object_get(p, "inflight")), 3);
    head = json_object_get(p, "head");
    assert_int_equal(json_integer_value(json_object_get(head, "tree_size")), 123);
    assert_string_equal(json_string_value(json_object_get(head, "root")),
                        "abababababababababababababababababababababababababababababababab");
    assert_string_equal(json_string_value(json_object_get(head, "timestamp")), "2026-12-06T20:29:30Z");
    assert_string_equal(json_string_value(json_object_get(head, "check")), "consistent");
    assert_true(json_is_true(json_object_get(head, "ok")));
    assert_string_equal(json_string_value(json_object_get(head, "checked")), "2026-12-06T20:29:31Z");

    /* Deepest first. */
    queues = json_object_get(root, "queues");
    assert_int_equal(json_array_size(queues), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(queues, 0), "destination")),
                        "USA/FBI");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(queues, 0), "depth")), 9);
    assert_string_equal(json_string_value(json_object_get(json_array_get(queues, 1), "destination")),
                        "CAN/RCMP");

    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "sessions"),
                                                        "connected")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "counters"),
                                                        "accepted")), 7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "counters"),
                                                        "rejected")), 2);
    head = json_object_get(root, "tree_head");
    assert_int_equal(json_integer_value(json_object_get(head, "tree_size")), 77);
    assert_string_equal(json_string_value(json_object_get(head, "root")),
                        "0101010101010101010101010101010101010101010101010101010101010101");
    assert_string_equal(json_string_value(json_object_get(head, "timestamp")), "2026-12-06T20:29:55Z");
    json_decref(root);

    /* A failed check, and the link going down, replace what was shown. */
    assert_int_equal(broker_metrics_set_peer_head(m, "CAN", 100, root_a, T0, "the log shrank", false,
                                                  T0 + 1000u),
                     BROKER_METRICS_OK);
    assert_int_equal(broker_metrics_set_peer_since(m, "CAN", false, T0 + 2000u), BROKER_METRICS_OK);
    root = status_json(m, T0 + 3000u);
    p = json_array_get(json_object_get(root, "peers"), 1);
    assert_true(json_is_false(json_object_get(p, "up")));
    assert_string_equal(json_string_value(json_object_get(p, "since")), "2026-12-06T20:30:02Z");
    head = json_object_get(p, "head");
    assert_string_equal(json_string_value(json_object_get(head, "check")), "the log shrank");
    assert_true(json_is_false(json_object_get(head, "ok")));
    assert_int_equal(json_integer_value(json_object_get(head, "tree_size")), 100);
    json_decref(root);

    assert_int_equal(broker_metrics_set_peer_since(m, "", true, T0), BROKER_METRICS_ERR_INVALID);
    for (unsigned i = 2; i < BROKER_METRICS_STATUS_PEERS_MAX; i++) {
        char nation[16];

        snprintf(nation, sizeof(nation), "P%u", i);
        assert_int_equal(broker_metrics_set_peer_since(m, nation, true, T0), BROKER_METRICS_OK);
    }
    assert_int_equal(broker_metrics_set_peer_since(m, "ONE-TOO-MANY", true, T0), BROKER_METRICS_ERR_FULL);
    root = status_json(m, T0);
    assert_int_equal(json_array_size(json_object_get(root, "peers")), BROKER_METRICS_STATUS_PEERS_MAX);
    json_decref(root);
}

static void
test_broker_metrics_status_refusal_ring(void **state)
{
    broker_metrics *m = *state;
    json_t *root, *list, *r;

    for (unsigned i = 0; i < BROKER_METRICS_REFUSALS_MAX + 10; i++) {
        char reason[32];

        snprintf(reason, sizeof(reason), "refusal %u", i);
        broker_metrics_note_refusal(m, &(broker_metrics_refusal){
                                           BROKER_METRICS_REFUSED_SUBMISSION, T0 + i * 1000u,
                                           "USA/FBI", i % 2 ? "watchlist.query" : NULL, "denied",
                                           i % 2 ? "no-mex" : NULL, reason});
    }
    broker_metrics_note_refusal(m, &(broker_metrics_refusal){BROKER_METRICS_REFUSED_FORWARD,
                                                             T0 + 100000u, "MEX", NULL, "malformed",
                                                             NULL, "a forward"});
    broker_metrics_note_refusal(m, &(broker_metrics_refusal){BROKER_METRICS_REFUSED_HANDSHAKE,
                                                             T0 + 101000u, "agency 10.0.0.9", NULL,
                                                             "key-refused", NULL, "unknown key"});
    root = status_json(m, T0 + 200000u);
    list = json_object_get(root, "refusals");
    assert_int_equal(json_array_size(list), BROKER_METRICS_REFUSALS_MAX);
    /* Newest first. */
    r = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(r, "what")), "handshake");
    assert_string_equal(json_string_value(json_object_get(r, "from")), "agency 10.0.0.9");
    assert_string_equal(json_string_value(json_object_get(r, "time")), "2026-12-06T20:31:41Z");
    r = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(r, "what")), "forward");
    assert_string_equal(json_string_value(json_object_get(r, "code")), "malformed");
    r = json_array_get(list, 2);
    assert_string_equal(json_string_value(json_object_get(r, "what")), "submission");
    assert_string_equal(json_string_value(json_object_get(r, "reason")), "refusal 59");
    assert_string_equal(json_string_value(json_object_get(r, "kind")), "watchlist.query");
    assert_string_equal(json_string_value(json_object_get(r, "rule")), "no-mex");
    r = json_array_get(list, 3);
    assert_string_equal(json_string_value(json_object_get(r, "reason")), "refusal 58");
    assert_true(json_is_null(json_object_get(r, "kind")));
    assert_true(json_is_null(json_object_get(r, "rule")));
    /* The oldest kept: 60 + 2 noted, 50 kept, so refusals 0..11 are gone. */
    r = json_array_get(list, BROKER_METRICS_REFUSALS_MAX - 1);
    assert_string_equal(json_string_value(json_object_get(r, "reason")), "refusal 12");
    assert_int_equal(json_object_size(r), 7);
    json_decref(root);
}

static void
test_broker_metrics_status_series(void **state)
{
    broker_metrics *m = *state;
    json_t *root, *points, *pt;

    broker_metrics_inc(m, BROKER_METRICS_ACCEPTED, 100); /* before the baseline: not in a point */
    broker_metrics_sample(m, T0);                        /* the baseline */
    broker_metrics_inc(m, BROKER_METRICS_ACCEPTED, 3);
    broker_metrics_inc(m, BROKER_METRICS_DELIVERED, 2);
    broker_metrics_inc(m, BROKER_METRICS_WITHHELD, 1);
    broker_metrics_inc_rejected(m, PROTO_WIRE_DENIED);
    broker_metrics_inc(m, BROKER_METRICS_DENIED, 4);
    broker_metrics_sample(m, T0 + 5000u); /* not due yet */
    root = status_json(m, T0 + 5000u);
    assert_int_equal(json_array_size(json_object_get(json_object_get(root, "series"), "points")), 0);
    json_decref(root);
    broker_metrics_sample(m, T0 + 10000u);
    broker_metrics_inc(m, BROKER_METRICS_ACCEPTED, 1);
    broker_metrics_sample(m, T0 + 20000u);
    root = status_json(m, T0 + 20000u);
    points = json_object_get(json_object_get(root, "series"), "points");
    assert_int_equal(json_array_size(points), 2);
    pt = json_array_get(points, 0); /* oldest first */
    assert_string_equal(json_string_value(json_object_get(pt, "time")), "2026-12-06T20:30:10Z");
    assert_int_equal(json_integer_value(json_object_get(pt, "accepted")), 3);
    assert_int_equal(json_integer_value(json_object_get(pt, "delivered")), 2);
    assert_int_equal(json_integer_value(json_object_get(pt, "withheld")), 1);
    assert_int_equal(json_integer_value(json_object_get(pt, "rejected")), 1);
    assert_int_equal(json_integer_value(json_object_get(pt, "denied")), 4);
    assert_int_equal(json_object_size(pt), 6);
    pt = json_array_get(points, 1);
    assert_int_equal(json_integer_value(json_object_get(pt, "accepted")), 1);
    assert_int_equal(json_integer_value(json_object_get(pt, "delivered")), 0);
    json_decref(root);

    /* The ring keeps the last hour: 360 points, oldest first. */
    for (unsigned i = 3; i <= BROKER_METRICS_SERIES_POINTS + 10; i++) {
        broker_metrics_inc(m, BROKER_METRICS_ACCEPTED, i);
        broker_metrics_sample(m, T0 + i * 10000ull);
    }
    root = status_json(m, T0 + 4000000u);
    points = json_object_get(json_object_get(root, "series"), "points");
    assert_int_equal(json_array_size(points), BROKER_METRICS_SERIES_POINTS);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(points, 0), "accepted")), 11);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(points, BROKER_METRICS_SERIES_POINTS - 1), "accepted")),
                     BROKER_METRICS_SERIES_POINTS + 10);
    json_decref(root);
}

static void
test_broker_metrics_status_invalid_utf8(void **state)
{
    broker_metrics *m = *state;
    char out[16];
    json_t *root, *r;

    /* A partner's reason and kind with bytes that are not UTF-8. */
    broker_metrics_note_refusal(m, &(broker_metrics_refusal){
                                       BROKER_METRICS_REFUSED_FORWARD, T0, "MEX",
                                       "kind\xff", "malformed", NULL,
                                       "bad \xc0\xaf \xed\xa0\x80 caf\xc3\xa9 \xf4\x90\x80\x80 \xe2\x82"});
    root = status_json(m, T0);
    r = json_array_get(json_object_get(root, "refusals"), 0);
    assert_string_equal(json_string_value(json_object_get(r, "kind")), "kind\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(r, "reason")),
                        "bad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9 "
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
    json_decref(root);

    /* Cut on a character boundary, never in the middle of one. */
    broker_metrics_utf8_copy(out, sizeof(out), "abcdefghijkl\xc3\xa9\xc3\xa9");
    assert_string_equal(out, "abcdefghijkl\xc3\xa9");
    broker_metrics_utf8_copy(out, 5, "abc\xe2\x82\xac");
    assert_string_equal(out, "abc");
    broker_metrics_utf8_copy(out, sizeof(out), "\xf0\x9f\x98\x80 ok");
    assert_string_equal(out, "\xf0\x9f\x98\x80 ok");
}

static void
test_broker_metrics_status_http_get(void **state)
{
    broker_metrics *m = *state;
    int port = test_free_port();
    char endpoint[32], err[256];
    char *resp, *body;
    json_t *root;

    broker_metrics_set_identity(m, "USA", T0);
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", port);
    if (broker_metrics_serve(m, endpoint, err, sizeof(err)) != BROKER_METRICS_OK)
        fail_msg("serve: %s", err);
    resp = http_exchange(port, "GET /status.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(resp, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(resp, "\r\nCache-Control: no-store\r\n"));
    body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    root = json_loads(body + 4, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "broker")), "USA");
    assert_true(json_is_string(json_object_get(root, "now")));
    json_decref(root);
    free(resp);
    resp = http_exchange(port, "POST /status.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                               "Content-Length: 0\r\n\r\n");
    assert_true(strncmp(resp, "HTTP/1.1 405 ", 13) == 0);
    free(resp);
    broker_metrics_stop(m);
}

/* Writers from several threads while another renders: every render parses. */
static void *
refusal_writer(void *arg)
{
    broker_metrics *m = arg;

    for (unsigned i = 0; i < 2000; i++) {
        broker_metrics_note_refusal(m, &(broker_metrics_refusal){
                                           BROKER_METRICS_REFUSED_SUBMISSION, T0 + i, "USA/FBI",
                                           "watchlist.query", "denied", "rule", "a reason"});
        (void)broker_metrics_set_peer_since(m, "CAN", i % 2 == 0, T0 + i);
        broker_metrics_inc(m, BROKER_METRICS_ACCEPTED, 1);
        broker_metrics_sample(m, T0 + i * 10000ull);
    }
    return NULL;
}

static void
test_broker_metrics_status_concurrent(void **state)
{
    broker_metrics *m = *state;
    pthread_t t[2];

    for (size_t i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, refusal_writer, m), 0);
    for (unsigned i = 0; i < 50; i++)
        json_decref(status_json(m, T0));
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    json_decref(status_json(m, T0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_log_library_one_line),
        cmocka_unit_test_setup_teardown(test_broker_metrics_render_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_render_after_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_render_is_well_formed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_label_values_are_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_label_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_histogram_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_concurrent_increments_sum_exactly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_http_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_serve_port_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_serve_errors, setup, teardown),
        cmocka_unit_test(test_broker_metrics_strerror_complete),
        cmocka_unit_test_setup_teardown(test_broker_metrics_status_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_status_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_status_refusal_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_status_series, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_status_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_status_http_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_metrics_status_concurrent, setup, teardown),
    };

    return cmocka_run_group_tests_name("broker_metrics", tests, NULL, NULL);
}
