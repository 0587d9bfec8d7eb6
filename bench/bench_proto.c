/* Benchmark of proto/: seal, decode, verify and open envelopes. */
#include <sodium.h>
#include <stdlib.h>

#include "bench_util.h"
#include "liaison_proto.h"

#define MAX_READERS 20

typedef struct bench {
    proto_identity *sender;                    /* signs */
    proto_identity *readers[MAX_READERS];      /* receive */
    proto_reader cards[MAX_READERS];           /* their box keys */
    uint8_t *plain;                            /* content */
} bench;

typedef void (*op_fn)(bench *b, size_t size, size_t readers, void *arg);

/* Runs op until at least min_seconds have passed; returns ops per second. */
static double
rate(op_fn op, bench *b, size_t size, size_t readers, void *arg, double min_seconds)
{
    double start = bench_now(), elapsed;
    size_t n = 0;

    do {
        op(b, size, readers, arg);
        n++;
        elapsed = bench_now() - start;
    } while (elapsed < min_seconds);
    return (double)n / elapsed;
}

static void
seal(bench *b, size_t size, size_t readers, uint8_t **buf, size_t *len)
{
    proto_draft_portion p;
    proto_addr to;
    proto_draft d;

    memset(&d, 0, sizeof(d));
    memset(&p, 0, sizeof(p));
    to = b->readers[0]->addr;
    p.plain = b->plain;
    p.plain_len = size;
    p.readers = b->cards;
    p.reader_count = readers;
    d.kind = "watchlist.publish";
    d.actor = "badge-4411";
    d.expires_ms = UINT64_MAX;
    d.recipients = &to;
    d.recipient_count = 1;
    d.portions = &p;
    d.portion_count = 1;
    if (proto_envelope_seal(&d, b->sender, buf, len, NULL) != PROTO_OK)
        abort();
}

static void
op_seal(bench *b, size_t size, size_t readers, void *arg)
{
    uint8_t *buf;
    size_t len;

    (void)arg;
    seal(b, size, readers, &buf, &len);
    free(buf);
}

typedef struct sealed {
    uint8_t *buf;          /* a sealed envelope */
    size_t len;            /* its length */
    proto_envelope *env;   /* decoded */
    uint8_t *out;          /* plaintext buffer */
} sealed;

static void
op_decode(bench *b, size_t size, size_t readers, void *arg)
{
    sealed *s = arg;

    (void)b, (void)size, (void)readers;
    if (proto_envelope_decode(s->buf, s->len, s->env, NULL) != PROTO_OK)
        abort();
}

static void
op_decode_verify(bench *b, size_t size, size_t readers, void *arg)
{
    sealed *s = arg;

    (void)size, (void)readers;
    if (proto_envelope_decode(s->buf, s->len, s->env, NULL) != PROTO_OK ||
        proto_envelope_verify(s->env, b->sender->sign_public) != PROTO_OK)
        abort();
}

static void
op_open(bench *b, size_t size, size_t readers, void *arg)
{
    sealed *s = arg;
    size_t n;

    (void)size, (void)readers;
    if (proto_envelope_open(s->env, 0, b->readers[0], s->out, &n) != PROTO_OK)
        abort();
}

static void
op_bare_verify(bench *b, size_t size, size_t readers, void *arg)
{
    sealed *s = arg;

    (void)size, (void)readers;
    /* The same bytes, signed as a whole by the sender (done once, below). */
    if (crypto_sign_verify_detached(s->out, s->buf, s->len, b->sender->sign_public) != 0)
        abort();
}

static void
row(const char *what, size_t size, size_t readers, double per_second)
{
    printf("  %-28s %8zu B  %2zu reader%s  %12.0f /s  %10.1f us/op\n", what, size, readers,
           readers == 1 ? " " : "s", per_second, 1e6 / per_second);
}

int
main(void)
{
    static const size_t sizes[] = {1024, 1u << 20};
    bench b;
    double seconds = 1.0;

    if (proto_init() != PROTO_OK)
        return 1;
    memset(&b, 0, sizeof(b));
    {
        proto_addr a;

        if (proto_addr_parse("USA/FBI", &a, NULL) != PROTO_OK ||
            proto_identity_generate(&a, &b.sender) != PROTO_OK)
            return 1;
        for (size_t i = 0; i < MAX_READERS; i++) {
            char name[32];

            snprintf(name, sizeof(name), "CAN/UNIT%02zu", i);
            if (proto_addr_parse(name, &a, NULL) != PROTO_OK ||
                proto_identity_generate(&a, &b.readers[i]) != PROTO_OK)
                return 1;
            b.cards[i].addr = a;
            memcpy(b.cards[i].box_public, b.readers[i]->box_public, 32);
        }
    }
    b.plain = malloc(1u << 20);
    randombytes_buf(b.plain, 1u << 20);
    bench_print_machine();
    printf("proto benchmark: one portion, content of the given size\n");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t size = sizes[i];
        sealed s;
        double bare, dv;

        s.env = malloc(sizeof(*s.env));
        s.out = malloc(size + 64);
        seal(&b, size, 1, &s.buf, &s.len);
        if (proto_envelope_decode(s.buf, s.len, s.env, NULL) != PROTO_OK)
            return 1;
        row("seal (encrypt+sign)", size, 1, rate(op_seal, &b, size, 1, NULL, seconds));
        row("seal (encrypt+sign)", size, 20, rate(op_seal, &b, size, 20, NULL, seconds));
        row("decode", size, 1, rate(op_decode, &b, size, 1, &s, seconds));
        dv = rate(op_decode_verify, &b, size, 1, &s, seconds);
        row("decode+verify", size, 1, dv);
        row("open (unseal+decrypt)", size, 1, rate(op_open, &b, size, 1, &s, seconds));
        crypto_sign_detached(s.out, NULL, s.buf, s.len, b.sender->sign_secret);
        bare = rate(op_bare_verify, &b, size, 1, &s, seconds);
        row("bare crypto_sign_verify", s.len, 0, bare);
        printf("  decode+verify costs %.2fx a bare crypto_sign_verify_detached of the same %zu "
               "bytes\n",
               bare / dv, s.len);
        free(s.buf);
        free(s.env);
        free(s.out);
    }
    proto_identity_destroy(&b.sender);
    for (size_t i = 0; i < MAX_READERS; i++)
        proto_identity_destroy(&b.readers[i]);
    free(b.plain);
    return 0;
}
