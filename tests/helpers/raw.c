/* Raw CurveZMQ connections to a test federation's brokers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <zmq.h>

#include "raw.h"

/* Connects with the keys in key_path to endpoint, checking the server
 * against the roster's card of server_nation. */
static fed_raw *
raw_connect(fed *f, const char *key_path, const char *server_nation, const char *endpoint)
{
    fed_raw *r = calloc(1, sizeof(*r));
    proto_roster *roster = NULL;
    proto_addr server;
    const proto_roster_entry *e;
    int linger = 0;

    assert_non_null(r);
    assert_int_equal(proto_keyfile_read(key_path, &r->id, NULL), PROTO_OK);
    assert_int_equal(proto_roster_load(f->roster, &roster, NULL), PROTO_OK);
    assert_int_equal(proto_addr_parse(server_nation, &server, NULL), PROTO_OK);
    e = proto_roster_find(roster, &server);
    assert_non_null(e);
    r->ctx = zmq_ctx_new();
    r->sock = zmq_socket(r->ctx, ZMQ_DEALER);
    assert_non_null(r->sock);
    zmq_setsockopt(r->sock, ZMQ_CURVE_SERVERKEY, e->card.curve_public, PROTO_CURVE_KEY_BYTES);
    zmq_setsockopt(r->sock, ZMQ_CURVE_PUBLICKEY, r->id->curve_public, PROTO_CURVE_KEY_BYTES);
    zmq_setsockopt(r->sock, ZMQ_CURVE_SECRETKEY, r->id->curve_secret, PROTO_CURVE_KEY_BYTES);
    zmq_setsockopt(r->sock, ZMQ_LINGER, &linger, sizeof(linger));
    assert_int_equal(zmq_connect(r->sock, endpoint), 0);
    proto_roster_destroy(&roster);
    return r;
}

fed_raw *
fed_raw_agency(fed *f, const char *agency)
{
    fed_agency *a = fed_agency_get(f, agency);
    char nation[4];

    assert_non_null(a);
    snprintf(nation, sizeof(nation), "%.3s", agency);
    return raw_connect(f, a->key, nation, fed_nation_get(f, nation)->agency_endpoint);
}

fed_raw *
fed_raw_peer(fed *f, const char *as_nation, const char *to_nation)
{
    char key[1100], lower[4];

    for (int i = 0; i < 3; i++)
        lower[i] = (char)(as_nation[i] - 'A' + 'a');
    lower[3] = '\0';
    snprintf(key, sizeof(key), "%s/%s-broker.key", f->dir, lower);
    return raw_connect(f, key, to_nation, fed_nation_get(f, to_nation)->fed_endpoint);
}

void
fed_raw_close(fed_raw **rp)
{
    fed_raw *r = rp != NULL ? *rp : NULL;

    if (r == NULL)
        return;
    zmq_close(r->sock);
    zmq_ctx_term(r->ctx);
    proto_identity_destroy(&r->id);
    free(r);
    *rp = NULL;
}
