/* Test helpers shared by every unit and integration test. */
#define _XOPEN_SOURCE 700
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

void
test_scratch_dir(char *out, size_t out_len)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(out, out_len, "%s/liaison-test-XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(out) == NULL)
        fail_msg("mkdtemp %s: %s", out, strerror(errno));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
test_scratch_remove(const char *path)
{
    if (path != NULL && path[0] != '\0')
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Ports handed out are drawn below the kernel's ephemeral range
 * (net.ipv4.ip_local_port_range, 32768 and up by default): a port the
 * kernel picks for a bind to port 0 is also one it may give any outgoing
 * connection as its source port, between the test choosing it and a broker
 * binding it ("Address already in use"). */
#define PORT_LOW 10000
#define PORT_HIGH 32767

/* True if a socket can bind 127.0.0.1:port now. */
static int
port_free(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    if (fd < 0)
        fail_msg("cannot make a socket: %s", strerror(errno));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* A port no other socket holds now, never one this process handed out
 * before (a broker refuses a configuration whose endpoints share a port),
 * drawn at random below the ephemeral range so that two test processes
 * rarely draw the same one. */
int
test_free_port(void)
{
    enum { REMEMBERED = 256 };
    static int given[REMEMBERED];
    static size_t given_count, next;

    if (sodium_init() < 0)
        fail_msg("libsodium cannot start");
    for (int attempt = 0; attempt < 1000; attempt++) {
        int port = PORT_LOW + (int)randombytes_uniform(PORT_HIGH - PORT_LOW + 1), seen = 0;

        for (size_t i = 0; i < given_count; i++)
            seen |= given[i] == port;
        if (seen || !port_free(port))
            continue;
        given[next] = port;
        next = (next + 1) % REMEMBERED;
        if (given_count < REMEMBERED)
            given_count++;
        return port;
    }
    fail_msg("cannot find a port not handed out before");
    return -1;
}

void
test_rng_fill(void *ctx, uint8_t *buf, size_t len)
{
    test_rng *r = ctx;
    uint8_t seed[randombytes_SEEDBYTES];

    crypto_generichash(seed, sizeof(seed), (const uint8_t *)&r->counter, sizeof(r->counter),
                       r->seed, sizeof(r->seed));
    r->counter++;
    randombytes_buf_deterministic(buf, len, seed);
}

void
test_data_path(const char *rel, char *out, size_t out_len)
{
    const char *root = getenv("LIAISON_TEST_DATA");

    snprintf(out, out_len, "%s/%s", root != NULL ? root : "tests/data", rel);
}

uint8_t *
test_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else if (buf != NULL) {
            buf[n] = 0;
            *len_out = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

static void
discard(void *ctx, proto_log_level level, const char *line)
{
    (void)ctx;
    (void)level;
    (void)line;
}

void
test_quiet_logs(void)
{
    proto_log_configure(discard, NULL, PROTO_LOG_DEBUG);
}
