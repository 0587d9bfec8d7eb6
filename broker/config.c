/* The broker's configuration file: YAML read through a libcyaml schema, checked with positions. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include "config.h"

/*
 * How it works.  yaml/ (liaison_yaml_load) reads the file: its libyaml
 * pass records every node in a node table and refuses what no Liaison file
 * uses, then libcyaml loads the file into the raw_* structures below and
 * enforces the schema: known fields only, required fields present, values
 * of the right type.  A libcyaml error is placed here by matching its code
 * and message against the node table, and the checks made after loading
 * (nations, endpoints, ranges, duplicate peers) look their field up by
 * path.  Every message reads "FILE:LINE:COL: FIELD: what".
 */

/* ---- The schema ---------------------------------------------------------- */

/* A peer as libcyaml loads it. */
typedef struct raw_peer {
    char *nation;     /* NULL if given as null or empty */
    char *endpoint;   /* NULL if given as null or empty */
    char *nation_key; /* optional: the peer's pinned nation key, 64 hex digits */
} raw_peer;

/* The limits block as libcyaml loads it; NULL pointers are absent fields. */
typedef struct raw_limits {
    uint64_t *max_message_bytes;      /* bytes */
    uint64_t *max_in_flight;          /* deliveries per agency */
    uint64_t *max_queue_depth;        /* messages per destination */
    uint64_t *max_pending_per_client; /* submits per connection */
} raw_limits;

/* The whole file as libcyaml loads it; NULL pointers are absent fields. */
typedef struct raw_config {
    char *nation;                      /* required */
    char *identity;                    /* required */
    char *roster;                      /* required */
    char *policy;                      /* required */
    char *data_dir;                    /* required */
    char *agency_endpoint;             /* required */
    char *federation_endpoint;         /* required */
    char *metrics_endpoint;            /* optional */
    raw_peer *peers;                   /* optional */
    unsigned peers_count;              /* entries at peers */
    raw_limits *limits;                /* optional */
    uint64_t *tree_head_interval_s;    /* optional */
    uint64_t *expiry_sweep_interval_s; /* optional */
    int *verify_signatures;            /* optional; 1 or 0 */
    uint64_t *verify_threads;          /* optional */
    int *log_level;                    /* optional; a proto_log_level */
    char *nation_key;                  /* optional: this nation's nation key, 64 hex digits */
} raw_config;

/* Strings may be null or empty in YAML; the loader then names the field. */
#define STR_FLAGS (CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL)
#define REQ_STR_FLAGS CYAML_FLAG_POINTER_NULL_STR
#define OPT_FLAGS (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define NATION_TEXT_MAX 64u /* longer is refused by libcyaml, shorter by our check */
#define NATION_KEY_TEXT_MAX 256u /* likewise for a nation key */
#define NOT_A_NUMBER "is not a whole number (decimal digits, no sign or leading zero)"

static const cyaml_strval_t bool_strings[] = {
    {"true", 1}, {"false", 0}, {"True", 1}, {"False", 0}, {"TRUE", 1}, {"FALSE", 0},
};

static const cyaml_strval_t level_strings[] = {
    {"error", PROTO_LOG_ERROR},
    {"warn", PROTO_LOG_WARN},
    {"info", PROTO_LOG_INFO},
    {"debug", PROTO_LOG_DEBUG},
};

static const cyaml_schema_field_t peer_fields[] = {
    CYAML_FIELD_STRING_PTR("nation", REQ_STR_FLAGS, raw_peer, nation, 0, NATION_TEXT_MAX),
    CYAML_FIELD_STRING_PTR("endpoint", REQ_STR_FLAGS, raw_peer, endpoint, 0,
                           BROKER_CONFIG_ENDPOINT_MAX),
    CYAML_FIELD_STRING_PTR("nation_key", STR_FLAGS, raw_peer, nation_key, 0, NATION_KEY_TEXT_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t peer_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_peer, peer_fields),
};

static const cyaml_schema_field_t limits_fields[] = {
    CYAML_FIELD_UINT_PTR("max_message_bytes", OPT_FLAGS, raw_limits, max_message_bytes),
    CYAML_FIELD_UINT_PTR("max_in_flight", OPT_FLAGS, raw_limits, max_in_flight),
    CYAML_FIELD_UINT_PTR("max_queue_depth", OPT_FLAGS, raw_limits, max_queue_depth),
    CYAML_FIELD_UINT_PTR("max_pending_per_client", OPT_FLAGS, raw_limits, max_pending_per_client),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t config_fields[] = {
    CYAML_FIELD_STRING_PTR("nation", REQ_STR_FLAGS, raw_config, nation, 0, NATION_TEXT_MAX),
    CYAML_FIELD_STRING_PTR("identity", REQ_STR_FLAGS, raw_config, identity, 0,
                           BROKER_CONFIG_PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("roster", REQ_STR_FLAGS, raw_config, roster, 0,
                           BROKER_CONFIG_PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("policy", REQ_STR_FLAGS, raw_config, policy, 0,
                           BROKER_CONFIG_PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("data_dir", REQ_STR_FLAGS, raw_config, data_dir, 0,
                           BROKER_CONFIG_PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("agency_endpoint", REQ_STR_FLAGS, raw_config, agency_endpoint, 0,
                           BROKER_CONFIG_ENDPOINT_MAX),
    CYAML_FIELD_STRING_PTR("federation_endpoint", REQ_STR_FLAGS, raw_config, federation_endpoint,
                           0, BROKER_CONFIG_ENDPOINT_MAX),
    CYAML_FIELD_STRING_PTR("metrics_endpoint", STR_FLAGS, raw_config, metrics_endpoint, 0,
                           BROKER_CONFIG_ENDPOINT_MAX),
    CYAML_FIELD_SEQUENCE("peers", CYAML_FLAG_POINTER_NULL | CYAML_FLAG_OPTIONAL, raw_config, peers,
                         &peer_schema, 0, BROKER_CONFIG_PEERS_MAX),
    CYAML_FIELD_MAPPING_PTR("limits", CYAML_FLAG_POINTER_NULL | CYAML_FLAG_OPTIONAL, raw_config,
                            limits, limits_fields),
    CYAML_FIELD_UINT_PTR("tree_head_interval_s", OPT_FLAGS, raw_config, tree_head_interval_s),
    CYAML_FIELD_UINT_PTR("expiry_sweep_interval_s", OPT_FLAGS, raw_config, expiry_sweep_interval_s),
    CYAML_FIELD_ENUM_PTR("verify_signatures", OPT_FLAGS | CYAML_FLAG_STRICT, raw_config,
                         verify_signatures, bool_strings, CYAML_ARRAY_LEN(bool_strings)),
    CYAML_FIELD_UINT_PTR("verify_threads", OPT_FLAGS, raw_config, verify_threads),
    CYAML_FIELD_ENUM_PTR("log_level", OPT_FLAGS | CYAML_FLAG_STRICT, raw_config, log_level,
                         level_strings, CYAML_ARRAY_LEN(level_strings)),
    CYAML_FIELD_STRING_PTR("nation_key", STR_FLAGS, raw_config, nation_key, 0,
                           NATION_KEY_TEXT_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t config_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_config, config_fields),
};

/* ---- The load ------------------------------------------------------------ */

#define NODES_MAX 4096u /* YAML nodes in one file; more is refused */

typedef liaison_yaml_node node;

/* State of one load. */
typedef struct load_ctx {
    const char *file;                  /* the name used in messages */
    char base[BROKER_CONFIG_PATH_MAX]; /* directory relative paths are resolved against */
    liaison_yaml_doc doc;              /* the node table, in document order */
    broker_config_detail *detail;      /* where the error goes; never NULL */
} load_ctx;

/* ---- Messages ------------------------------------------------------------ */

static broker_config_err fail_pos(load_ctx *c, broker_config_err code, unsigned line,
                                  unsigned col, const char *field, const char *fmt, ...)
    PROTO_PRINTF(6, 7);

/* Records an error at line:col (0: unknown) on field (NULL or "": none). */
static broker_config_err
fail_pos(load_ctx *c, broker_config_err code, unsigned line, unsigned col, const char *field,
         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    liaison_yaml_detail_vset(c->detail, c->file, line, col, field, fmt, ap);
    va_end(ap);
    return code;
}

static broker_config_err fail_at(load_ctx *c, broker_config_err code, const char *path,
                                 const char *fmt, ...) PROTO_PRINTF(4, 5);

/* Records an error on the value of the field at path. */
static broker_config_err
fail_at(load_ctx *c, broker_config_err code, const char *path, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    liaison_yaml_detail_vat(c->detail, c->file, &c->doc, path, fmt, ap);
    va_end(ap);
    return code;
}

/* What the configuration allows; yaml/ reads and refuses by it. */
static const liaison_yaml_spec config_spec = {
    .noun = "a configuration",
    .file_noun = "a configuration file",
    .size_max = BROKER_CONFIG_MAX_BYTES,
    .nodes_max = NODES_MAX,
    .schema = &config_schema,
};

/* Our code for what yaml/ refused. */
static broker_config_err
yaml_code(liaison_yaml_err rc)
{
    return rc == LIAISON_YAML_ERR_NOMEM       ? BROKER_CONFIG_ERR_NOMEM
           : rc == LIAISON_YAML_ERR_DUPLICATE ? BROKER_CONFIG_ERR_DUPLICATE
           : liaison_yaml_err_limit(rc)       ? BROKER_CONFIG_ERR_TOO_LARGE
                                              : BROKER_CONFIG_ERR_SYNTAX;
}

/* Turns what the shared loader refused into our code and message. */
static broker_config_err
yaml_refusal(load_ctx *c, liaison_yaml_err rc, const liaison_yaml_error *e)
{
    return fail_pos(c, yaml_code(rc), e->line, e->column, e->field, "%s", e->what);
}

/* ---- libcyaml's errors --------------------------------------------------- */

static const char *
kind_name(uint8_t kind)
{
    return kind == LIAISON_YAML_SEQUENCE ? "a list" : kind == LIAISON_YAML_MAPPING ? "a mapping" : "a single value";
}

/* True if text is a plain decimal number: digits, no sign, no leading zero. */
static bool
is_decimal(const char *text, bool cut)
{
    if (cut || text[0] == '\0' || (text[0] == '0' && text[1] != '\0'))
        return false;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
    }
    return true;
}

/* Explains a value libcyaml refused at node n. */
static broker_config_err
explain_value(load_ctx *c, const node *n, cyaml_err_t e, const liaison_yaml_log *cap)
{
    const cyaml_schema_value_t *s = n->schema;
    char names[400], text[80];
    bool want_scalar;

    if (s == NULL)
        return fail_pos(c, BROKER_CONFIG_ERR_TYPE, n->line, n->column, n->path, "%s", cap->message);
    want_scalar = s->type != CYAML_MAPPING && s->type != CYAML_SEQUENCE;
    if ((s->type == CYAML_MAPPING && n->kind != LIAISON_YAML_MAPPING) ||
        (s->type == CYAML_SEQUENCE && n->kind != LIAISON_YAML_SEQUENCE) ||
        (want_scalar && n->kind != LIAISON_YAML_SCALAR)) {
        const char *want = s->type == CYAML_MAPPING    ? "a mapping of fields"
                           : s->type == CYAML_SEQUENCE ? "a list"
                           : s->type == CYAML_UINT     ? "a whole number"
                           : s->type == CYAML_ENUM     ? "a single value"
                                                       : "a string";
        return fail_pos(c, BROKER_CONFIG_ERR_TYPE, n->line, n->column, n->path,
                        "expected %s, found %s", want, kind_name(n->kind));
    }
    liaison_yaml_shown(n->text, text, sizeof(text));
    switch (s->type) {
    case CYAML_UINT:
        if (n->text[0] != '\0' && strspn(n->text, "0123456789") == strlen(n->text))
            return fail_pos(c, BROKER_CONFIG_ERR_RANGE, n->line, n->column, n->path,
                            "'%s' is too large", text);
        return fail_pos(c, BROKER_CONFIG_ERR_TYPE, n->line, n->column, n->path, "'%s' %s", text,
                        NOT_A_NUMBER);
    case CYAML_ENUM:
        if (s->enumeration.strings == bool_strings)
            return fail_pos(c, BROKER_CONFIG_ERR_TYPE, n->line, n->column, n->path,
                            "'%s' is not true or false", text);
        liaison_yaml_schema_names(s, names, sizeof(names));
        return fail_pos(c, BROKER_CONFIG_ERR_INVALID, n->line, n->column, n->path,
                        "'%s' is not one of: %s", text, names);
    case CYAML_STRING:
        if (e == CYAML_ERR_STRING_LENGTH_MIN)
            return fail_pos(c, BROKER_CONFIG_ERR_MISSING_FIELD, n->line, n->column, n->path,
                            "has no value");
        if (e == CYAML_ERR_STRING_LENGTH_MAX)
            return fail_pos(c, BROKER_CONFIG_ERR_INVALID, n->line, n->column, n->path,
                            "longer than %u characters", s->string.max);
        break;
    default:
        break;
    }
    return fail_pos(c, BROKER_CONFIG_ERR_INVALID, n->line, n->column, n->path, "%s", cap->message);
}

/* The first mapping (document order) that lacks required field name. */
static const node *
find_missing(const load_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->doc.count; i++) {
        const node *m = &c->doc.nodes[i];
        const cyaml_schema_field_t *f;
        bool has = false;

        if (m->kind != LIAISON_YAML_MAPPING || (f = liaison_yaml_schema_field(m->schema, name)) == NULL ||
            (f->value.flags & CYAML_FLAG_OPTIONAL))
            continue;
        for (size_t j = i + 1; j < c->doc.count && !has; j++)
            has = c->doc.nodes[j].parent == (int)i && strcmp(c->doc.nodes[j].key, name) == 0;
        if (!has)
            return m;
    }
    return NULL;
}

/* Turns a libcyaml failure into our error, placed with the node table. */
static broker_config_err
explain_cyaml(load_ctx *c, cyaml_err_t e, const liaison_yaml_log *cap)
{
    char names[400], path[LIAISON_YAML_PATH_MAX];
    const node *n = NULL;

    if (e == CYAML_ERR_OOM)
        return fail_pos(c, BROKER_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
    if (c->doc.count > 0 && c->doc.nodes[0].kind == LIAISON_YAML_SCALAR && c->doc.nodes[0].text[0] == '\0')
        return fail_pos(c, BROKER_CONFIG_ERR_MISSING_FIELD, 1, 1, "nation",
                        "required field is missing (the configuration is empty)");
    if (c->doc.count > 0 && c->doc.nodes[0].kind != LIAISON_YAML_MAPPING)
        return fail_pos(c, BROKER_CONFIG_ERR_TYPE, c->doc.nodes[0].line, c->doc.nodes[0].column, NULL,
                        "a configuration is a mapping of 'field: value' lines, not %s",
                        kind_name(c->doc.nodes[0].kind));
    if (e == CYAML_ERR_INVALID_KEY) {
        for (size_t i = 0; i < c->doc.count && n == NULL; i++) {
            if (c->doc.nodes[i].unknown)
                n = &c->doc.nodes[i];
        }
        if (n != NULL) {
            liaison_yaml_schema_names(c->doc.nodes[n->parent].schema, names, sizeof(names));
            return fail_pos(c, BROKER_CONFIG_ERR_UNKNOWN_FIELD, n->key_line, n->key_column, n->path,
                            "unknown field (known here: %s)", names);
        }
        return fail_pos(c, BROKER_CONFIG_ERR_UNKNOWN_FIELD, cap->line, cap->column, cap->field,
                        "%s", cap->message);
    }
    if (e == CYAML_ERR_MAPPING_FIELD_MISSING) {
        const char *name = strrchr(cap->message, ' ');

        name = name != NULL ? name + 1 : "";
        n = find_missing(c, name);
        if (n != NULL) {
            int len = snprintf(path, sizeof(path), "%s%s%s", n->path,
                               n->path[0] != '\0' ? "." : "", name);

            (void)len; /* cut on purpose: the message names the start of a long path */
            return fail_pos(c, BROKER_CONFIG_ERR_MISSING_FIELD, n->line, n->column, path,
                            "required field is missing");
        }
        return fail_pos(c, BROKER_CONFIG_ERR_MISSING_FIELD, 0, 0, name, "required field is missing");
    }
    n = liaison_yaml_find_at(&c->doc, cap->line, cap->column);
    if (n != NULL && e == CYAML_ERR_SEQUENCE_ENTRIES_MAX && n->parent >= 0)
        return fail_pos(c, BROKER_CONFIG_ERR_RANGE, n->line, n->column, c->doc.nodes[n->parent].path,
                        "more than %u entries", c->doc.nodes[n->parent].schema != NULL
                                                    ? c->doc.nodes[n->parent].schema->sequence.max
                                                    : 0u);
    if (n != NULL)
        return explain_value(c, n, e, cap);
    return fail_pos(c, e == CYAML_ERR_ALIAS || e == CYAML_ERR_LIBYAML_PARSER ? BROKER_CONFIG_ERR_SYNTAX
                                                                             : BROKER_CONFIG_ERR_INVALID,
                    cap->line, cap->column, cap->field, "%s",
                    cap->message[0] != '\0' ? cap->message : cyaml_strerror(e));
}


/* ---- Checks after loading ------------------------------------------------ */

static broker_config_err
nomem(load_ctx *c)
{
    return fail_pos(c, BROKER_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
}

static broker_config_err
check_nation(load_ctx *c, const char *path, const char *value, char out[PROTO_NATION_LEN + 1])
{
    char text[80];

    if (value == NULL)
        return fail_at(c, BROKER_CONFIG_ERR_MISSING_FIELD, path, "has no value");
    if (!proto_nation_valid(value))
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                       "'%s' is not an upper-case ISO 3166 alpha-3 code", liaison_yaml_shown(value, text, sizeof(text)));
    memcpy(out, value, PROTO_NATION_LEN + 1);
    return BROKER_CONFIG_OK;
}

/* Resolves a path field against the configuration's directory into *out. */
static broker_config_err
check_path(load_ctx *c, const char *path, const char *value, char **out)
{
    liaison_yaml_err rc;

    if (value == NULL)
        return fail_at(c, BROKER_CONFIG_ERR_MISSING_FIELD, path, "has no value");
    rc = liaison_yaml_resolve(c->base, value, BROKER_CONFIG_PATH_MAX, out);
    if (rc == LIAISON_YAML_ERR_PATH)
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                       "longer than %u bytes once resolved against %s", BROKER_CONFIG_PATH_MAX - 1,
                       c->base);
    return rc == LIAISON_YAML_OK ? BROKER_CONFIG_OK : nomem(c);
}

bool
broker_config_split_hostport(const char *text, char *host, size_t host_len, uint16_t *port_out,
                             char *why, size_t why_len)
{
    const char *colon, *h = text, *p;
    size_t hlen;
    unsigned long port = 0;
    unsigned char addr[16];

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL) {
            snprintf(why, why_len, "an IPv6 address in brackets lacks its ']'");
            return false;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        if (*colon != ':') {
            snprintf(why, why_len, "missing ':PORT' after the address");
            return false;
        }
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            snprintf(why, why_len, "missing ':PORT'");
            return false;
        }
        hlen = (size_t)(colon - text);
        if (memchr(text, ':', hlen) != NULL) {
            snprintf(why, why_len, "an IPv6 address must be written in brackets, [::1]:PORT");
            return false;
        }
    }
    if (hlen == 0) {
        snprintf(why, why_len, "missing HOST before ':PORT'");
        return false;
    }
    if (hlen >= host_len || hlen > 253) {
        snprintf(why, why_len, "the host is too long");
        return false;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (text[0] == '[') {
        if (inet_pton(AF_INET6, host, addr) != 1) {
            snprintf(why, why_len, "'%s' is not an IPv6 address", host);
            return false;
        }
    } else if (strcmp(host, "*") != 0) {
        bool numeric = strspn(host, "0123456789.") == hlen;

        if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != hlen ||
            host[0] == '-' || host[0] == '.') {
            snprintf(why, why_len, "the host is not an address or a host name");
            return false;
        }
        if (numeric && inet_pton(AF_INET, host, addr) != 1) {
            snprintf(why, why_len, "'%s' is not an IPv4 address", host);
            return false;
        }
    }
    p = colon + 1;
    if (p[0] == '\0' || p[0] == '0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5) {
        snprintf(why, why_len, "the port must be a number from 1 to 65535");
        return false;
    }
    port = strtoul(p, NULL, 10);
    if (port < 1 || port > 65535) {
        snprintf(why, why_len, "the port must be a number from 1 to 65535");
        return false;
    }
    *port_out = (uint16_t)port;
    return true;
}

/* An endpoint as parsed for the overlap check. */
typedef struct endpoint {
    char host[256];  /* without brackets */
    uint16_t port;   /* 1 .. 65535 */
} endpoint;

/* Checks "tcp://HOST:PORT" (tcp) or "HOST:PORT"; a peer's may not be "*". */
static broker_config_err
check_endpoint(load_ctx *c, const char *path, const char *value, bool tcp, bool bind,
               char **out, endpoint *ep)
{
    char why[160], text[80];
    const char *rest = value;

    if (value == NULL)
        return fail_at(c, BROKER_CONFIG_ERR_MISSING_FIELD, path, "has no value");
    if (tcp) {
        if (strncmp(value, "tcp://", 6) != 0)
            return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                           "'%s' is not an endpoint of the form tcp://HOST:PORT",
                           liaison_yaml_shown(value, text, sizeof(text)));
        rest = value + 6;
    }
    if (!broker_config_split_hostport(rest, ep->host, sizeof(ep->host), &ep->port, why, sizeof(why)))
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path, "'%s' is not %s: %s",
                       liaison_yaml_shown(value, text, sizeof(text)), tcp ? "tcp://HOST:PORT" : "HOST:PORT", why);
    if (!bind && strcmp(ep->host, "*") == 0)
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                       "'%s' names no host; '*' is only for endpoints this broker binds",
                       liaison_yaml_shown(value, text, sizeof(text)));
    *out = strdup(value);
    return *out != NULL ? BROKER_CONFIG_OK : nomem(c);
}

static bool
wildcard(const char *host)
{
    return strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* True if two endpoints this broker binds would take the same port. */
static bool
overlap(const endpoint *a, const endpoint *b)
{
    return a->port == b->port &&
           (strcmp(a->host, b->host) == 0 || wildcard(a->host) || wildcard(b->host));
}

/* Checks an optional whole number at path against min .. max; absent gives dflt. */
static broker_config_err
check_uint(load_ctx *c, const char *path, const uint64_t *value, uint64_t min, uint64_t max,
           uint64_t dflt, uint64_t *out)
{
    const node *n;
    char text[80];

    if (value == NULL) {
        *out = dflt;
        return BROKER_CONFIG_OK;
    }
    /* libcyaml reads integers with strtoull, which also takes "-1", "12abc",
     * "0x10" and "1.5"; only plain decimal digits are a number here. */
    n = liaison_yaml_find(&c->doc, path);
    if (n != NULL && !is_decimal(n->text, n->text_cut))
        return fail_at(c, BROKER_CONFIG_ERR_TYPE, path, "'%s' %s", liaison_yaml_shown(n->text, text, sizeof(text)),
                       NOT_A_NUMBER);
    if (*value < min || *value > max)
        return fail_at(c, BROKER_CONFIG_ERR_RANGE, path, "%llu is out of range (%llu .. %llu)",
                       (unsigned long long)*value, (unsigned long long)min,
                       (unsigned long long)max);
    *out = *value;
    return BROKER_CONFIG_OK;
}

/* Reads a nation key (64 hex digits) at path into key. */
static broker_config_err
check_nation_key(load_ctx *c, const char *path, const char *value,
                 uint8_t key[PROTO_SIGN_PUBLIC_BYTES])
{
    char text[80];

    if (strlen(value) != 2u * PROTO_SIGN_PUBLIC_BYTES ||
        strspn(value, "0123456789abcdefABCDEF") != 2u * PROTO_SIGN_PUBLIC_BYTES ||
        proto_unhex(value, key, PROTO_SIGN_PUBLIC_BYTES) != PROTO_OK)
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                       "'%s' is not a nation key: 64 hex digits (the sign-public of a nation "
                       "card)",
                       liaison_yaml_shown(value, text, sizeof(text)));
    return BROKER_CONFIG_OK;
}

/*
 * Nation keys are all or nothing: when the top-level one or any peer's is
 * given, each must be ("signed mode"); the message names the first one
 * missing and one that was given.
 */
static broker_config_err
check_nation_keys(load_ctx *c, const raw_config *raw, broker_config *cfg)
{
    const char *given = raw->nation_key != NULL ? "nation_key" : NULL;
    char path[64], given_path[64];
    broker_config_err err;

    for (unsigned i = 0; i < raw->peers_count && given == NULL; i++) {
        if (raw->peers[i].nation_key != NULL) {
            snprintf(given_path, sizeof(given_path), "peers[%u].nation_key", i);
            given = given_path;
        }
    }
    if (given == NULL)
        return BROKER_CONFIG_OK;
    if (raw->nation_key == NULL)
        return fail_at(c, BROKER_CONFIG_ERR_MISSING_FIELD, given,
                       "given without the top-level nation_key, which is missing: nation keys "
                       "are all or nothing");
    if ((err = check_nation_key(c, "nation_key", raw->nation_key, cfg->nation_key)) !=
        BROKER_CONFIG_OK)
        return err;
    for (unsigned i = 0; i < raw->peers_count; i++) {
        snprintf(path, sizeof(path), "peers[%u].nation_key", i);
        if (raw->peers[i].nation_key == NULL) {
            snprintf(path, sizeof(path), "peers[%u]", i);
            return fail_at(c, BROKER_CONFIG_ERR_MISSING_FIELD, path,
                           "nation_key of peer %s is missing: %s is given, and nation keys are "
                           "all or nothing",
                           cfg->peers[i].nation, given);
        }
        if ((err = check_nation_key(c, path, raw->peers[i].nation_key,
                                    cfg->peers[i].nation_key)) != BROKER_CONFIG_OK)
            return err;
        cfg->peers[i].has_nation_key = true;
    }
    cfg->nation_keys = true;
    return BROKER_CONFIG_OK;
}

static broker_config_err
check_peers(load_ctx *c, const raw_config *raw, broker_config *cfg)
{
    broker_config_err err;
    char path[64], text[80];
    endpoint ep;

    if (raw->peers_count == 0)
        return BROKER_CONFIG_OK;
    cfg->peers = calloc(raw->peers_count, sizeof(*cfg->peers));
    if (cfg->peers == NULL)
        return nomem(c);
    cfg->peer_count = raw->peers_count;
    for (unsigned i = 0; i < raw->peers_count; i++) {
        broker_config_peer *p = &cfg->peers[i];

        snprintf(path, sizeof(path), "peers[%u].nation", i);
        err = check_nation(c, path, raw->peers[i].nation, p->nation);
        if (err != BROKER_CONFIG_OK)
            return err;
        if (strcmp(p->nation, cfg->nation) == 0)
            return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                           "'%s' is this broker's own nation; a broker does not peer with itself",
                           p->nation);
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(cfg->peers[j].nation, p->nation) == 0) {
                char first[64];
                const node *n;

                snprintf(first, sizeof(first), "peers[%u].nation", j);
                n = liaison_yaml_find(&c->doc, first);
                return fail_at(c, BROKER_CONFIG_ERR_DUPLICATE, path,
                               "'%s' is listed twice (first as %s, line %u)", p->nation, first,
                               n != NULL ? n->line : 0);
            }
        }
        snprintf(path, sizeof(path), "peers[%u].endpoint", i);
        err = check_endpoint(c, path, raw->peers[i].endpoint, true, false, &p->endpoint, &ep);
        if (err != BROKER_CONFIG_OK)
            return err;
        if (strcmp(p->endpoint, cfg->federation_endpoint) == 0)
            return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                           "'%s' is this broker's own federation_endpoint",
                           liaison_yaml_shown(p->endpoint, text, sizeof(text)));
    }
    return BROKER_CONFIG_OK;
}

/* Turns the loaded raw configuration into a checked broker_config. */
static broker_config_err
build(load_ctx *c, const raw_config *raw, broker_config **cfg_out)
{
    broker_config *cfg = NULL;
    const raw_limits none = {0};
    const raw_limits *lim = raw->limits != NULL ? raw->limits : &none;
    endpoint agency, federation, metrics;
    broker_config_err err;
    uint64_t v;
    char text[80];

    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        err = nomem(c);
        goto out;
    }
    cfg->source = strdup(c->file);
    if (cfg->source == NULL) {
        err = nomem(c);
        goto out;
    }
    if ((err = check_nation(c, "nation", raw->nation, cfg->nation)) != BROKER_CONFIG_OK ||
        (err = check_path(c, "identity", raw->identity, &cfg->identity)) != BROKER_CONFIG_OK ||
        (err = check_path(c, "roster", raw->roster, &cfg->roster)) != BROKER_CONFIG_OK ||
        (err = check_path(c, "policy", raw->policy, &cfg->policy)) != BROKER_CONFIG_OK ||
        (err = check_path(c, "data_dir", raw->data_dir, &cfg->data_dir)) != BROKER_CONFIG_OK ||
        (err = check_endpoint(c, "agency_endpoint", raw->agency_endpoint, true, true,
                              &cfg->agency_endpoint, &agency)) != BROKER_CONFIG_OK ||
        (err = check_endpoint(c, "federation_endpoint", raw->federation_endpoint, true, true,
                              &cfg->federation_endpoint, &federation)) != BROKER_CONFIG_OK)
        goto out;
    if (overlap(&agency, &federation)) {
        err = fail_at(c, BROKER_CONFIG_ERR_INVALID, "federation_endpoint",
                      "'%s' takes the same port as agency_endpoint",
                      liaison_yaml_shown(cfg->federation_endpoint, text, sizeof(text)));
        goto out;
    }
    if (raw->metrics_endpoint != NULL) {
        err = check_endpoint(c, "metrics_endpoint", raw->metrics_endpoint, false, true,
                             &cfg->metrics_endpoint, &metrics);
        if (err != BROKER_CONFIG_OK)
            goto out;
        if (overlap(&metrics, &agency) || overlap(&metrics, &federation)) {
            err = fail_at(c, BROKER_CONFIG_ERR_INVALID, "metrics_endpoint",
                          "'%s' takes the same port as %s", liaison_yaml_shown(cfg->metrics_endpoint, text, sizeof(text)),
                          overlap(&metrics, &agency) ? "agency_endpoint" : "federation_endpoint");
            goto out;
        }
    }
    err = check_peers(c, raw, cfg);
    if (err != BROKER_CONFIG_OK)
        goto out;
    err = check_nation_keys(c, raw, cfg);
    if (err != BROKER_CONFIG_OK)
        goto out;

    if ((err = check_uint(c, "limits.max_message_bytes", lim->max_message_bytes, 1024,
                          64u << 20, 16u << 20, &cfg->limits.max_message_bytes)) != BROKER_CONFIG_OK)
        goto out;
    if ((err = check_uint(c, "limits.max_in_flight", lim->max_in_flight, 1, 10000, 64, &v)) !=
        BROKER_CONFIG_OK)
        goto out;
    cfg->limits.max_in_flight = (uint32_t)v;
    if ((err = check_uint(c, "limits.max_queue_depth", lim->max_queue_depth, 1, 100000000,
                          1000000, &v)) != BROKER_CONFIG_OK)
        goto out;
    cfg->limits.max_queue_depth = (uint32_t)v;
    if ((err = check_uint(c, "limits.max_pending_per_client", lim->max_pending_per_client, 1,
                          1000000, 1024, &v)) != BROKER_CONFIG_OK)
        goto out;
    cfg->limits.max_pending_per_client = (uint32_t)v;
    if ((err = check_uint(c, "tree_head_interval_s", raw->tree_head_interval_s, 1, 86400, 60,
                          &v)) != BROKER_CONFIG_OK)
        goto out;
    cfg->tree_head_interval_s = (uint32_t)v;
    if ((err = check_uint(c, "expiry_sweep_interval_s", raw->expiry_sweep_interval_s, 1, 3600, 5,
                          &v)) != BROKER_CONFIG_OK)
        goto out;
    cfg->expiry_sweep_interval_s = (uint32_t)v;
    if ((err = check_uint(c, "verify_threads", raw->verify_threads, 0, 64, 0, &v)) !=
        BROKER_CONFIG_OK)
        goto out;
    cfg->verify_threads = (uint32_t)v;
    cfg->verify_signatures = raw->verify_signatures == NULL || *raw->verify_signatures != 0;
    cfg->log_level = raw->log_level != NULL ? (proto_log_level)*raw->log_level : PROTO_LOG_INFO;

    *cfg_out = cfg;
    cfg = NULL;
out:
    broker_config_destroy(&cfg);
    return err;
}

/* ---- Public functions ------------------------------------------------------ */

broker_config_err
broker_config_load_buffer(const char *text, size_t len, const char *path_for_messages,
                          broker_config **cfg_out, broker_config_detail *detail_r)
{
    broker_config_detail scratch;
    load_ctx c;
    liaison_yaml_log cap;
    liaison_yaml_error ye;
    raw_config *raw = NULL;
    cyaml_err_t e;
    liaison_yaml_err rc;
    broker_config_err err;

    memset(&c, 0, sizeof(c));
    c.file = path_for_messages != NULL ? path_for_messages : "<config>";
    c.detail = detail_r != NULL ? detail_r : &scratch;
    memset(c.detail, 0, sizeof(*c.detail));
    liaison_yaml_base_dir(path_for_messages, c.base, sizeof(c.base));

    rc = liaison_yaml_load(text, len, &config_spec, &config_schema, (void **)&raw, &c.doc, &cap, &e, &ye);
    if (rc == LIAISON_YAML_ERR_SCHEMA) {
        err = explain_cyaml(&c, e, &cap);
        goto out;
    }
    if (rc != LIAISON_YAML_OK) {
        err = yaml_refusal(&c, rc, &ye);
        goto out;
    }
    if (raw == NULL) {
        /* An empty document: libcyaml loads nothing and calls it success. */
        err = fail_pos(&c, BROKER_CONFIG_ERR_MISSING_FIELD, 1, 1, "nation",
                       "required field is missing (the configuration is empty)");
        goto out;
    }
    err = build(&c, raw, cfg_out);
out:
    liaison_yaml_free(&config_schema, raw);
    liaison_yaml_doc_clear(&c.doc);
    return err;
}

broker_config_err
broker_config_load(const char *path, broker_config **cfg_out, broker_config_detail *detail_r)
{
    broker_config_detail scratch;
    broker_config_detail *d = detail_r != NULL ? detail_r : &scratch;
    broker_config_err err;
    liaison_yaml_error ye;
    liaison_yaml_err rc;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0;

    memset(d, 0, sizeof(*d));
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(d->text, sizeof(d->text), "%s: cannot open: %s", path, strerror(errno));
        err = BROKER_CONFIG_ERR_IO;
        goto out;
    }
    /* The configuration names the key, roster and policy the broker trusts:
     * others who could write it could name their own. */
    {
        proto_detail pd = {{0}, {0}};
        proto_err perr = proto_file_check_writers(fileno(f), path, "configuration", &pd);

        if (perr != PROTO_OK) {
            snprintf(d->text, sizeof(d->text), "%s", pd.text);
            err = perr == PROTO_ERR_PERMISSION ? BROKER_CONFIG_ERR_PERMISSION
                                               : BROKER_CONFIG_ERR_IO;
            goto out;
        }
    }
    rc = liaison_yaml_read(f, &config_spec, &buf, &len, &ye);
    if (rc != LIAISON_YAML_OK) {
        liaison_yaml_message(d->text, sizeof(d->text), path, 0, 0, NULL, ye.what);
        err = rc == LIAISON_YAML_ERR_IO ? BROKER_CONFIG_ERR_IO : yaml_code(rc);
        goto out;
    }
    err = broker_config_load_buffer(buf, len, path, cfg_out, d);
out:
    free(buf);
    if (f != NULL)
        fclose(f);
    return err;
}

void
broker_config_destroy(broker_config **cfg)
{
    broker_config *c;

    if (cfg == NULL || *cfg == NULL)
        return;
    c = *cfg;
    for (size_t i = 0; i < c->peer_count; i++)
        free(c->peers[i].endpoint);
    free(c->peers);
    free(c->source);
    free(c->identity);
    free(c->roster);
    free(c->policy);
    free(c->data_dir);
    free(c->agency_endpoint);
    free(c->federation_endpoint);
    free(c->metrics_endpoint);
    free(c);
    *cfg = NULL;
}

const char *
broker_config_strerror(broker_config_err code)
{
    switch (code) {
    case BROKER_CONFIG_OK: return "success";
    case BROKER_CONFIG_ERR_IO: return "configuration file cannot be read";
    case BROKER_CONFIG_ERR_TOO_LARGE: return "configuration is too large";
    case BROKER_CONFIG_ERR_SYNTAX: return "configuration is not well-formed YAML";
    case BROKER_CONFIG_ERR_UNKNOWN_FIELD: return "unknown configuration field";
    case BROKER_CONFIG_ERR_MISSING_FIELD: return "required configuration field is missing";
    case BROKER_CONFIG_ERR_TYPE: return "configuration value has the wrong type";
    case BROKER_CONFIG_ERR_RANGE: return "configuration value is out of range";
    case BROKER_CONFIG_ERR_INVALID: return "configuration value is invalid";
    case BROKER_CONFIG_ERR_DUPLICATE: return "configuration field or peer given twice";
    case BROKER_CONFIG_ERR_NOMEM: return "out of memory";
    case BROKER_CONFIG_ERR_PERMISSION: return "configuration file or its directory is writable by others";
    }
    return "unknown error";
}

const broker_config_peer *
broker_config_peer_find(const broker_config *cfg, const char *nation)
{
    for (size_t i = 0; i < cfg->peer_count; i++) {
        if (strcmp(cfg->peers[i].nation, nation) == 0)
            return &cfg->peers[i];
    }
    return NULL;
}

unsigned
broker_config_verify_thread_count(const broker_config *cfg)
{
    long n;

    if (cfg->verify_threads > 0)
        return cfg->verify_threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > 64 ? 64u : (unsigned)n;
}
