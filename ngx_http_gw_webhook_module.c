
/*
 * Copyright (C) nginx-gw authors
 *
 * ngx_http_gw_webhook_module: verifies the HMAC signature of webhook
 * deliveries (GitHub, Stripe, Standard Webhooks, Slack, Shopify and a
 * generic scheme) in the access phase, before the body reaches a backend,
 * and answers replays of deliveries the backend already accepted.
 *
 * The body is read in the access phase, as the mirror module does, and is
 * kept for proxy_pass.  The MAC is computed while the body is read, by a
 * request body filter that sees every byte once, decoded from chunked
 * encoding, before it is buffered in memory or written to a temporary
 * file; so a large body is never read back from disk to be verified.
 *
 * For gw_status it counts requests by scheme and verdict, where the
 * verdict is set, once per request, and the body bytes it MACs.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>

#include "ngx_http_gw_common.h"
#include "ngx_http_gw_sig.h"
#include "ngx_http_gw_shm_cache.h"
#include "ngx_http_gw_status.h"


#define NGX_HTTP_GW_WEBHOOK_OFF          0
#define NGX_HTTP_GW_WEBHOOK_GITHUB       1
#define NGX_HTTP_GW_WEBHOOK_STRIPE       2
#define NGX_HTTP_GW_WEBHOOK_STANDARD     3
#define NGX_HTTP_GW_WEBHOOK_SLACK        4
#define NGX_HTTP_GW_WEBHOOK_SHOPIFY      5
#define NGX_HTTP_GW_WEBHOOK_HMAC         6

#define NGX_HTTP_GW_WEBHOOK_NONE         0
#define NGX_HTTP_GW_WEBHOOK_VERIFIED     1
#define NGX_HTTP_GW_WEBHOOK_MISSING      2
#define NGX_HTTP_GW_WEBHOOK_INVALID      3
#define NGX_HTTP_GW_WEBHOOK_EXPIRED      4
#define NGX_HTTP_GW_WEBHOOK_REPLAYED     5

#define NGX_HTTP_GW_WEBHOOK_KEY_LEN      NGX_HTTP_GW_SHM_CACHE_KEY_LEN

/*
 * With gw_webhook_thread_pool, bodies of at least this size (and chunked
 * ones) are hashed in the pool once read, from memory or their file, read
 * in pieces of NGX_HTTP_GW_WEBHOOK_READ
 */
#define NGX_HTTP_GW_WEBHOOK_THREAD_MIN   65536
#define NGX_HTTP_GW_WEBHOOK_READ         65536

#define NGX_HTTP_GW_WEBHOOK_NSCHEMES     NGX_HTTP_GW_WEBHOOK_HMAC
#define NGX_HTTP_GW_WEBHOOK_NSTATUSES    NGX_HTTP_GW_WEBHOOK_REPLAYED

/* status counters: requests by scheme and verdict, then bytes by scheme */

#define NGX_HTTP_GW_WEBHOOK_NCOUNTERS                                         \
    (NGX_HTTP_GW_WEBHOOK_NSCHEMES * (NGX_HTTP_GW_WEBHOOK_NSTATUSES + 1))

#define ngx_http_gw_webhook_requests(scheme, status)                          \
    (((scheme) - 1) * NGX_HTTP_GW_WEBHOOK_NSTATUSES + (status) - 1)

#define ngx_http_gw_webhook_body_bytes(scheme)                                \
    (NGX_HTTP_GW_WEBHOOK_NSCHEMES * NGX_HTTP_GW_WEBHOOK_NSTATUSES             \
     + (scheme) - 1)


typedef struct {
    ngx_http_gw_reporter_t          reporter;     /* first: gw_status's */
    ngx_http_gw_counters_t          counters;
    ngx_array_t                     replay_zones;  /* ngx_shm_zone_t * */
} ngx_http_gw_webhook_main_conf_t;


typedef struct {
    ngx_uint_t                      scheme;
    ngx_array_t                    *secrets;      /* ngx_str_t */
    ngx_array_t                    *macs;         /* EVP_MAC_CTX * */
    time_t                          tolerance;
    ngx_shm_zone_t                 *replay_zone;
    ngx_uint_t                      replay_status;
    ngx_str_t                       header;
    ngx_str_t                       prefix;
    ngx_uint_t                      digest;
    ngx_uint_t                      encoding;
#if (NGX_THREADS)
    ngx_thread_pool_t              *thread_pool;
#endif
} ngx_http_gw_webhook_loc_conf_t;


/* a body hashed in a thread: what the thread needs, and its outcome */

typedef struct {
    struct ngx_http_gw_webhook_ctx_s  *ctx;
    ngx_chain_t                    *bufs;
    u_char                         *buf;          /* for a file: ..._READ */
    ngx_http_gw_counters_t         *counters;
    off_t                           size;         /* hashed */
    ngx_int_t                       rc;
    ngx_err_t                       err;
    const char                     *failed;       /* what, for the log */
} ngx_http_gw_webhook_task_t;


typedef struct ngx_http_gw_webhook_ctx_s {
    ngx_uint_t                      status;
    ngx_uint_t                      nmacs;
    EVP_MAC_CTX                   **macs;
    ngx_uint_t                      nsigs;
    size_t                          sig_len;
    u_char                         *sigs;
    ngx_str_t                       id;
    ngx_str_t                       timestamp;
    ngx_shm_zone_t                 *replay_zone;
    time_t                          replay_ttl;
    time_t                          ts;
    u_char                          key[NGX_HTTP_GW_WEBHOOK_KEY_LEN];
    u_char                          scheme;
#if (NGX_THREADS)
    ngx_thread_pool_t              *thread_pool;  /* hash the body there */
    ngx_http_gw_webhook_task_t     *task;
#endif
    unsigned                        done:1;
    unsigned                        hashing:1;
} ngx_http_gw_webhook_ctx_t;


/* what a scheme reads and how */

typedef struct {
    ngx_str_t                       signature;    /* header names */
    ngx_str_t                       timestamp;
    ngx_str_t                       id;
    ngx_str_t                       prefix;       /* before the signature */
    ngx_uint_t                      encoding;
} ngx_http_gw_webhook_scheme_t;


static ngx_int_t ngx_http_gw_webhook_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gw_webhook_headers(ngx_http_request_t *r,
    ngx_http_gw_webhook_loc_conf_t *wlcf, ngx_http_gw_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_gw_webhook_find_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_gw_webhook_add_sig(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx, ngx_uint_t encoding, ngx_str_t *sig);
static ngx_int_t ngx_http_gw_webhook_start(ngx_http_request_t *r,
    ngx_http_gw_webhook_loc_conf_t *wlcf, ngx_http_gw_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_gw_webhook_update(ngx_http_gw_webhook_ctx_t *ctx,
    u_char *p, size_t len);
static ngx_int_t ngx_http_gw_webhook_hash_body(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_gw_webhook_read_buf(ngx_http_request_t *r,
    ngx_http_gw_webhook_task_t *t);
static void ngx_http_gw_webhook_hash_chain(ngx_http_gw_webhook_task_t *t);
static void ngx_http_gw_webhook_hashed(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx);
#if (NGX_THREADS)
static ngx_int_t ngx_http_gw_webhook_thread_post(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx);
static void ngx_http_gw_webhook_thread_handler(void *data, ngx_log_t *log);
static void ngx_http_gw_webhook_thread_event_handler(ngx_event_t *ev);
static void ngx_http_gw_webhook_thread_done(ngx_http_request_t *r);
#endif
static ngx_int_t ngx_http_gw_webhook_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_gw_webhook_body_handler(ngx_http_request_t *r);
static void ngx_http_gw_webhook_verify(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_gw_webhook_answer(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx);
static void ngx_http_gw_webhook_count(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx);
static ngx_int_t ngx_http_gw_webhook_log_handler(ngx_http_request_t *r);


static ngx_http_gw_webhook_ctx_t *ngx_http_gw_webhook_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_gw_webhook_cleanup(void *data);
static ngx_int_t ngx_http_gw_webhook_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_webhook_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_webhook_report_replay(ngx_http_gw_report_t *rp,
    ngx_http_gw_webhook_main_conf_t *wmcf);
static ngx_int_t ngx_http_gw_webhook_report(ngx_http_gw_report_t *rp,
    void *conf);

static void *ngx_http_gw_webhook_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_gw_webhook_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gw_webhook_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_gw_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_webhook_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_webhook_replay(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_webhook_thread_pool(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gw_webhook_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_gw_webhook_make_macs(ngx_conf_t *cf,
    ngx_http_gw_webhook_loc_conf_t *wlcf);
static void ngx_http_gw_webhook_free_mac(void *data);
static ngx_int_t ngx_http_gw_webhook_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_gw_webhook_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_gw_webhook_schemes[] = {
    { ngx_string("off"), NGX_HTTP_GW_WEBHOOK_OFF },
    { ngx_string("github"), NGX_HTTP_GW_WEBHOOK_GITHUB },
    { ngx_string("stripe"), NGX_HTTP_GW_WEBHOOK_STRIPE },
    { ngx_string("standard"), NGX_HTTP_GW_WEBHOOK_STANDARD },
    { ngx_string("slack"), NGX_HTTP_GW_WEBHOOK_SLACK },
    { ngx_string("shopify"), NGX_HTTP_GW_WEBHOOK_SHOPIFY },
    { ngx_string("hmac"), NGX_HTTP_GW_WEBHOOK_HMAC },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_gw_webhook_digests[] = {
    { ngx_string("sha1"), 1 },
    { ngx_string("sha256"), 256 },
    { ngx_string("sha512"), 512 },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_gw_webhook_encodings[] = {
    { ngx_string("hex"), NGX_HTTP_GW_SIG_HEX },
    { ngx_string("base64"), NGX_HTTP_GW_SIG_BASE64 },
    { ngx_null_string, 0 }
};


/* indexed by scheme; "hmac" takes its header and encoding from the conf */

static ngx_http_gw_webhook_scheme_t  ngx_http_gw_webhook_scheme_defs[] = {
    { ngx_null_string, ngx_null_string, ngx_null_string, ngx_null_string,
      0 },
    { ngx_string("X-Hub-Signature-256"), ngx_null_string,
      ngx_string("X-GitHub-Delivery"), ngx_string("sha256="),
      NGX_HTTP_GW_SIG_HEX },
    { ngx_string("Stripe-Signature"), ngx_null_string, ngx_null_string,
      ngx_null_string, NGX_HTTP_GW_SIG_HEX },
    { ngx_string("webhook-signature"), ngx_string("webhook-timestamp"),
      ngx_string("webhook-id"), ngx_null_string, NGX_HTTP_GW_SIG_BASE64 },
    { ngx_string("X-Slack-Signature"),
      ngx_string("X-Slack-Request-Timestamp"), ngx_null_string,
      ngx_string("v0="), NGX_HTTP_GW_SIG_HEX },
    { ngx_string("X-Shopify-Hmac-Sha256"), ngx_null_string,
      ngx_string("X-Shopify-Webhook-Id"), ngx_null_string,
      NGX_HTTP_GW_SIG_BASE64 },
    { ngx_null_string, ngx_null_string, ngx_null_string, ngx_null_string,
      0 }
};


static ngx_str_t  ngx_http_gw_webhook_status_names[] = {
    ngx_null_string,
    ngx_string("VERIFIED"),
    ngx_string("MISSING"),
    ngx_string("INVALID"),
    ngx_string("EXPIRED"),
    ngx_string("REPLAYED")
};


/* the same, as gw_status's label values */

static ngx_str_t  ngx_http_gw_webhook_status_labels[] = {
    ngx_null_string,
    ngx_string("verified"),
    ngx_string("missing"),
    ngx_string("invalid"),
    ngx_string("expired"),
    ngx_string("replayed")
};


static ngx_command_t  ngx_http_gw_webhook_commands[] = {

    { ngx_string("gw_webhook"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gw_webhook,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_webhook_loc_conf_t, scheme),
      &ngx_http_gw_webhook_schemes },

    { ngx_string("gw_webhook_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gw_webhook_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_webhook_tolerance"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_webhook_loc_conf_t, tolerance),
      NULL },

    { ngx_string("gw_webhook_replay"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_gw_webhook_replay,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_webhook_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gw_webhook_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_webhook_loc_conf_t, header),
      NULL },

    { ngx_string("gw_webhook_digest"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_webhook_loc_conf_t, digest),
      &ngx_http_gw_webhook_digests },

    { ngx_string("gw_webhook_encoding"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_webhook_loc_conf_t, encoding),
      &ngx_http_gw_webhook_encodings },

    { ngx_string("gw_webhook_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_webhook_loc_conf_t, prefix),
      NULL },

    { ngx_string("gw_webhook_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gw_webhook_thread_pool,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gw_webhook_module_ctx = {
    ngx_http_gw_webhook_add_variables,     /* preconfiguration */
    ngx_http_gw_webhook_init,              /* postconfiguration */

    ngx_http_gw_webhook_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gw_webhook_create_loc_conf,   /* create location configuration */
    ngx_http_gw_webhook_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_gw_webhook_module = {
    NGX_MODULE_V1,
    &ngx_http_gw_webhook_module_ctx,       /* module context */
    ngx_http_gw_webhook_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_gw_webhook_vars[] = {

    { ngx_string("gw_webhook_status"), NULL,
      ngx_http_gw_webhook_status_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_webhook_id"), NULL,
      ngx_http_gw_webhook_str_variable,
      offsetof(ngx_http_gw_webhook_ctx_t, id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_webhook_timestamp"), NULL,
      ngx_http_gw_webhook_str_variable,
      offsetof(ngx_http_gw_webhook_ctx_t, timestamp),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_request_body_filter_pt   ngx_http_next_request_body_filter;

/* what this configuration uses; reset before each one is read */
static ngx_uint_t  ngx_http_gw_webhook_used;
static ngx_uint_t  ngx_http_gw_webhook_replay_used;


static ngx_int_t
ngx_http_gw_webhook_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_pool_cleanup_t              *cln;
    ngx_http_gw_webhook_ctx_t       *ctx;
    ngx_http_gw_webhook_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_gw_webhook_module);

    if (wlcf->scheme == NGX_HTTP_GW_WEBHOOK_OFF || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_gw_webhook_get_ctx(r);

    if (r->error_page && r->err_status >= NGX_HTTP_BAD_REQUEST
        && ((ctx == NULL && r->err_status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)
            || (ctx != NULL && !ctx->done)))
    {
        /*
         * An error page for a body that could not be read (too large,
         * broken chunks, timeout): there is no delivery to verify, and the
         * body never reaches a backend.  nginx's status stands.
         */

        if (ctx) {
            ctx->done = 1;
            ctx->hashing = 0;
            ctx->status = NGX_HTTP_GW_WEBHOOK_INVALID;
            ngx_http_gw_webhook_count(r, ctx);
        }

        return r->err_status;
    }

    if (ctx != NULL) {
        /* body being read, or verified once already (internal redirect) */
        return ctx->done ? ngx_http_gw_webhook_answer(r, ctx) : NGX_DONE;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_gw_webhook_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_gw_webhook_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_gw_webhook_module);

    rc = ngx_http_gw_webhook_headers(r, wlcf, ctx);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        /* the body is discarded with the 401: it never reaches a backend */
        ctx->done = 1;
        ngx_http_gw_webhook_count(r, ctx);
        return NGX_HTTP_UNAUTHORIZED;
    }

    if (ngx_http_gw_webhook_start(r, wlcf, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->request_body) {
        /* another module has read the body already */

        if (ngx_http_gw_webhook_hash_body(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_gw_webhook_verify(r, ctx);
        ngx_http_gw_webhook_count(r, ctx);

        return ngx_http_gw_webhook_answer(r, ctx);
    }

    ctx->hashing = 1;

#if (NGX_THREADS)
    if (wlcf->thread_pool != NULL
        && (r->headers_in.content_length_n < 0
            || r->headers_in.content_length_n
               >= NGX_HTTP_GW_WEBHOOK_THREAD_MIN))
    {
        /* a large body is hashed in the thread pool once it is read */
        ctx->hashing = 0;
        ctx->thread_pool = wlcf->thread_pool;
    }
#endif

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_gw_webhook_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->hashing = 0;
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/*
 * Reads the scheme's headers into ctx before the body is read: a request
 * without a well-formed, fresh signature is refused without reading it.
 * Returns NGX_DECLINED with ctx->status set for a refused request.
 */

static ngx_int_t
ngx_http_gw_webhook_headers(ngx_http_request_t *r,
    ngx_http_gw_webhook_loc_conf_t *wlcf, ngx_http_gw_webhook_ctx_t *ctx)
{
    time_t                         now, ts;
    ngx_int_t                      rc;
    ngx_str_t                      sig, value, *name;
    ngx_uint_t                     i, encoding;
    ngx_http_gw_sig_list_t         list;
    ngx_http_gw_webhook_scheme_t  *def;

    def = &ngx_http_gw_webhook_scheme_defs[wlcf->scheme];

    ctx->scheme = (u_char) wlcf->scheme;
    ctx->sig_len = (wlcf->scheme != NGX_HTTP_GW_WEBHOOK_HMAC) ? 32
                   : (wlcf->digest == 1) ? 20
                   : (wlcf->digest == 512) ? 64 : 32;

    name = (wlcf->scheme == NGX_HTTP_GW_WEBHOOK_HMAC) ? &wlcf->header
                                                      : &def->signature;

    encoding = (wlcf->scheme == NGX_HTTP_GW_WEBHOOK_HMAC) ? wlcf->encoding
                                                          : def->encoding;

    /* the delivery id, where the sender gives one */

    if (def->id.len) {
        rc = ngx_http_gw_webhook_find_header(r, &def->id, &ctx->id);

        if (rc == NGX_BUSY) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_webhook: duplicate \"%V\" header", &def->id);
            goto invalid;
        }

        if (rc == NGX_DECLINED
            && wlcf->scheme == NGX_HTTP_GW_WEBHOOK_STANDARD)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_webhook: no \"%V\" header", &def->id);
            ctx->status = NGX_HTTP_GW_WEBHOOK_MISSING;
            return NGX_DECLINED;
        }
    }

    rc = ngx_http_gw_webhook_find_header(r, name, &sig);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gw_webhook: no \"%V\" header", name);
        ctx->status = NGX_HTTP_GW_WEBHOOK_MISSING;
        return NGX_DECLINED;
    }

    if (rc == NGX_BUSY) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gw_webhook: duplicate \"%V\" header", name);
        goto invalid;
    }

    /* the signed timestamp */

    if (def->timestamp.len) {
        rc = ngx_http_gw_webhook_find_header(r, &def->timestamp,
                                             &ctx->timestamp);

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_webhook: no \"%V\" header", &def->timestamp);
            ctx->status = NGX_HTTP_GW_WEBHOOK_MISSING;
            return NGX_DECLINED;
        }

        if (rc == NGX_BUSY) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_webhook: duplicate \"%V\" header",
                          &def->timestamp);
            goto invalid;
        }
    }

    /* the candidate signatures */

    switch (wlcf->scheme) {

    case NGX_HTTP_GW_WEBHOOK_STRIPE:

        if (ngx_http_gw_sig_parse_stripe(sig.data, sig.len, &list)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_webhook: malformed \"%V\" header", name);
            goto invalid;
        }

        ctx->timestamp = list.timestamp;
        break;

    case NGX_HTTP_GW_WEBHOOK_STANDARD:

        if (ngx_http_gw_sig_parse_standard(sig.data, sig.len, &list)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_webhook: malformed \"%V\" header", name);
            goto invalid;
        }

        break;

    default:

        value = sig;

        if (wlcf->scheme == NGX_HTTP_GW_WEBHOOK_HMAC) {
            def = NULL;
            sig.data = wlcf->prefix.data;
            sig.len = wlcf->prefix.len;

        } else {
            sig = def->prefix;
        }

        /* an empty prefix (shopify, hmac without prefix=) may be NULL */

        if (value.len < sig.len
            || (sig.len && ngx_strncmp(value.data, sig.data, sig.len) != 0))
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_webhook: malformed \"%V\" header", name);
            goto invalid;
        }

        list.nsigs = 1;
        list.sigs[0].data = value.data + sig.len;
        list.sigs[0].len = value.len - sig.len;
        break;
    }

    for (i = 0; i < list.nsigs; i++) {
        if (ngx_http_gw_webhook_add_sig(r, ctx, encoding, &list.sigs[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->nsigs == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gw_webhook: malformed signature in \"%V\" header",
                      name);
        goto invalid;
    }

    if (ctx->timestamp.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_gw_sig_parse_time(ctx->timestamp.data, ctx->timestamp.len,
                                   &ts)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gw_webhook: malformed timestamp");
        goto invalid;
    }

    now = ngx_time();
    ctx->ts = ts;

    if (ts < now - wlcf->tolerance || ts > now + wlcf->tolerance) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gw_webhook: timestamp %T is %T s away from now, "
                      "tolerance is %T s", ts, ts - now, wlcf->tolerance);
        ctx->status = NGX_HTTP_GW_WEBHOOK_EXPIRED;
        return NGX_DECLINED;
    }

    return NGX_OK;

invalid:

    ctx->status = NGX_HTTP_GW_WEBHOOK_INVALID;
    return NGX_DECLINED;
}


/*
 * Finds a request header by name: NGX_OK when it is there once,
 * NGX_DECLINED when absent or empty, NGX_BUSY when it is repeated (a
 * repeated signature or timestamp is ambiguous and refused).
 */

static ngx_int_t
ngx_http_gw_webhook_find_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != name->len
            || ngx_strncasecmp(h[i].key.data, name->data, name->len) != 0)
        {
            continue;
        }

        if (n++) {
            return NGX_BUSY;
        }

        *value = h[i].value;
    }

    if (n == 0 || value->len == 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* decodes one candidate signature; one of the wrong length is skipped */

static ngx_int_t
ngx_http_gw_webhook_add_sig(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx, ngx_uint_t encoding, ngx_str_t *sig)
{
    size_t   len;
    u_char   buf[NGX_HTTP_GW_SIG_MAX_LEN];

    if (ngx_http_gw_sig_decode(encoding, sig->data, sig->len, buf, &len)
        != NGX_OK
        || len != ctx->sig_len)
    {
        return NGX_OK;
    }

    if (ctx->sigs == NULL) {
        ctx->sigs = ngx_pnalloc(r->pool,
                                NGX_HTTP_GW_SIG_MAX * NGX_HTTP_GW_SIG_MAX_LEN);
        if (ctx->sigs == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_memcpy(ctx->sigs + ctx->nsigs * len, buf, len);
    ctx->nsigs++;

    return NGX_OK;
}


/* one running MAC per secret, fed with what the scheme signs first */

static ngx_int_t
ngx_http_gw_webhook_start(ngx_http_request_t *r,
    ngx_http_gw_webhook_loc_conf_t *wlcf, ngx_http_gw_webhook_ctx_t *ctx)
{
    ngx_uint_t     i;
    EVP_MAC_CTX  **tmpl;

    tmpl = wlcf->macs->elts;

    ctx->macs = ngx_pcalloc(r->pool, wlcf->macs->nelts * sizeof(EVP_MAC_CTX *));
    if (ctx->macs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < wlcf->macs->nelts; i++) {
        ctx->macs[i] = EVP_MAC_CTX_dup(tmpl[i]);
        if (ctx->macs[i] == NULL) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "gw_webhook: EVP_MAC_CTX_dup() failed");
            return NGX_ERROR;
        }

        ctx->nmacs++;
    }

    switch (wlcf->scheme) {

    case NGX_HTTP_GW_WEBHOOK_STRIPE:
        /* "<t>.<body>" */
        if (ngx_http_gw_webhook_update(ctx, ctx->timestamp.data,
                                       ctx->timestamp.len) != NGX_OK
            || ngx_http_gw_webhook_update(ctx, (u_char *) ".", 1) != NGX_OK)
        {
            return NGX_ERROR;
        }
        break;

    case NGX_HTTP_GW_WEBHOOK_STANDARD:
        /* "<id>.<timestamp>.<body>" */
        if (ngx_http_gw_webhook_update(ctx, ctx->id.data, ctx->id.len)
            != NGX_OK
            || ngx_http_gw_webhook_update(ctx, (u_char *) ".", 1) != NGX_OK
            || ngx_http_gw_webhook_update(ctx, ctx->timestamp.data,
                                          ctx->timestamp.len) != NGX_OK
            || ngx_http_gw_webhook_update(ctx, (u_char *) ".", 1) != NGX_OK)
        {
            return NGX_ERROR;
        }
        break;

    case NGX_HTTP_GW_WEBHOOK_SLACK:
        /* "v0:<timestamp>:<body>" */
        if (ngx_http_gw_webhook_update(ctx, (u_char *) "v0:", 3) != NGX_OK
            || ngx_http_gw_webhook_update(ctx, ctx->timestamp.data,
                                          ctx->timestamp.len) != NGX_OK
            || ngx_http_gw_webhook_update(ctx, (u_char *) ":", 1) != NGX_OK)
        {
            return NGX_ERROR;
        }
        break;

    default:
        break;
    }

    if (wlcf->replay_zone) {
        ctx->replay_zone = wlcf->replay_zone;
        ctx->replay_ttl = wlcf->tolerance;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_webhook_update(ngx_http_gw_webhook_ctx_t *ctx, u_char *p,
    size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < ctx->nmacs; i++) {
        if (EVP_MAC_update(ctx->macs[i], p, len) != 1) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The body was read before this module ran (by another module in an
 * earlier phase).  Buffers spooled to a temporary file are read back; the
 * usual path never does this: the body filter below hashes the body as
 * it arrives.
 */

static ngx_int_t
ngx_http_gw_webhook_hash_body(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx)
{
    ngx_http_gw_webhook_task_t        t;
    ngx_http_gw_webhook_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_gw_webhook_module);

    ngx_memzero(&t, sizeof(ngx_http_gw_webhook_task_t));

    t.ctx = ctx;
    t.bufs = r->request_body->bufs;
    t.counters = &wmcf->counters;

    if (ngx_http_gw_webhook_read_buf(r, &t) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_gw_webhook_hash_chain(&t);

    if (t.rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, t.err,
                      "gw_webhook: %s", t.failed);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the buffer to read the body's file with, if any part of it is in one */

static ngx_int_t
ngx_http_gw_webhook_read_buf(ngx_http_request_t *r,
    ngx_http_gw_webhook_task_t *t)
{
    ngx_chain_t  *cl;

    for (cl = t->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            t->buf = ngx_pnalloc(r->pool, NGX_HTTP_GW_WEBHOOK_READ);
            return (t->buf == NULL) ? NGX_ERROR : NGX_OK;
        }
    }

    return NGX_OK;
}


/*
 * Hashes a read body, in memory or in its file: called in the worker or
 * in a thread of the pool, so it logs nothing and touches no pool; the
 * outcome is in t->rc, with t->failed and t->err.
 */

static void
ngx_http_gw_webhook_hash_chain(ngx_http_gw_webhook_task_t *t)
{
    off_t         pos;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    t->rc = NGX_ERROR;
    t->err = 0;
    t->size = 0;

    for (cl = t->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            if (ngx_http_gw_webhook_update(t->ctx, b->pos, b->last - b->pos)
                != NGX_OK)
            {
                t->failed = "EVP_MAC_update() failed";
                return;
            }

            t->size += b->last - b->pos;
            continue;
        }

        for (pos = b->file_pos; pos < b->file_last; pos += n) {
            size = (size_t) ngx_min(b->file_last - pos,
                                    (off_t) NGX_HTTP_GW_WEBHOOK_READ);

            n = pread(b->file->fd, t->buf, size, pos);

            if (n == -1) {
                t->err = ngx_errno;
                t->failed = "pread() of the request body failed";
                return;
            }

            if (n == 0) {
                t->failed = "the request body file is shorter than the body";
                return;
            }

            if (ngx_http_gw_webhook_update(t->ctx, t->buf, n) != NGX_OK) {
                t->failed = "EVP_MAC_update() failed";
                return;
            }

            t->size += n;
        }
    }

    ngx_http_gw_count(t->counters,
                      ngx_http_gw_webhook_body_bytes(t->ctx->scheme), t->size);

    t->rc = NGX_OK;
}


/*
 * Request body filter: sees the body once, decoded from chunked transfer
 * encoding, before it is buffered or written to a temporary file.
 */

static ngx_int_t
ngx_http_gw_webhook_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                        *b;
    ngx_chain_t                      *cl;
    ngx_http_gw_webhook_ctx_t        *ctx;
    ngx_http_gw_webhook_main_conf_t  *wmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gw_webhook_module);

    if (ctx == NULL || !ctx->hashing) {
        return ngx_http_next_request_body_filter(r, in);
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_gw_webhook_module);

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (!ngx_buf_in_memory(b)) {
            if (ngx_buf_size(b) == 0) {
                continue;
            }

            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "gw_webhook: request body buffer not in memory");
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_gw_webhook_update(ctx, b->pos, b->last - b->pos)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "gw_webhook: EVP_MAC_update() failed");
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_gw_count(&wmcf->counters,
                          ngx_http_gw_webhook_body_bytes(ctx->scheme),
                          b->last - b->pos);
    }

    return ngx_http_next_request_body_filter(r, in);
}


static void
ngx_http_gw_webhook_body_handler(ngx_http_request_t *r)
{
    ngx_http_gw_webhook_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gw_webhook_module);

    ctx->hashing = 0;

#if (NGX_THREADS)
    if (ctx->thread_pool) {
        if (ngx_http_gw_webhook_thread_post(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }
#endif

    ngx_http_gw_webhook_hashed(r, ctx);
}


/* the whole body is hashed: the verdict, then the phases go on */

static void
ngx_http_gw_webhook_hashed(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx)
{
    ngx_http_gw_webhook_verify(r, ctx);
    ngx_http_gw_webhook_count(r, ctx);

    /* keep the body for proxy_pass, and go on with the phases */

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


#if (NGX_THREADS)

/*
 * The body goes to a thread of the pool to be hashed, so that the worker
 * serves other requests meanwhile.  The request is blocked, as for nginx's
 * own thread tasks: it cannot be freed before the task is done.
 */

static ngx_int_t
ngx_http_gw_webhook_thread_post(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx)
{
    ngx_thread_task_t                *task;
    ngx_http_gw_webhook_task_t       *t;
    ngx_http_gw_webhook_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_gw_webhook_module);

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_gw_webhook_task_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    t = task->ctx;

    t->ctx = ctx;
    t->bufs = r->request_body ? r->request_body->bufs : NULL;
    t->counters = &wmcf->counters;

    if (ngx_http_gw_webhook_read_buf(r, t) != NGX_OK) {
        return NGX_ERROR;
    }

    task->handler = ngx_http_gw_webhook_thread_handler;
    task->event.data = r;
    task->event.handler = ngx_http_gw_webhook_thread_event_handler;

    if (ngx_thread_task_post(ctx->thread_pool, task) != NGX_OK) {
        /* the pool's queue is full: said in the log by nginx */
        return NGX_ERROR;
    }

    ctx->task = t;

    r->main->blocked++;
    r->aio = 1;
    r->write_event_handler = ngx_http_gw_webhook_thread_done;

    return NGX_OK;
}


/* in a thread of the pool */

static void
ngx_http_gw_webhook_thread_handler(void *data, ngx_log_t *log)
{
    ngx_http_gw_webhook_task_t  *t = data;

    ngx_http_gw_webhook_hash_chain(t);
}


/* back in the worker, as nginx's own thread tasks come back */

static void
ngx_http_gw_webhook_thread_event_handler(ngx_event_t *ev)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    r->aio = 0;

    /* ngx_http_gw_webhook_thread_done(), or a finalizer meanwhile */

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_gw_webhook_thread_done(ngx_http_request_t *r)
{
    ngx_http_gw_webhook_ctx_t   *ctx;
    ngx_http_gw_webhook_task_t  *t;

    if (r->aio) {
        /* a write event while the body is in the thread */
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_gw_webhook_module);
    t = ctx->task;

    if (t->rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, t->err,
                      "gw_webhook: %s", t->failed);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gw_webhook: %O bytes hashed in a thread", t->size);

    ngx_http_gw_webhook_hashed(r, ctx);
}

#endif


/*
 * Compares the MAC of every secret with every candidate signature in
 * constant time, then looks the delivery up in the replay zone.
 */

static void
ngx_http_gw_webhook_verify(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx)
{
    u_char                        *p;
    size_t                         len, n;
    u_char                         md[EVP_MAX_MD_SIZE];
    ngx_uint_t                     i, j, match;
    EVP_MD_CTX                    *dctx;
    ngx_http_gw_shm_cache_node_t  *wn;
    ngx_http_gw_shm_cache_t       *zone;

    ctx->done = 1;
    match = 0;

    for (i = 0; i < ctx->nmacs; i++) {

        if (EVP_MAC_final(ctx->macs[i], md, &len, sizeof(md)) != 1
            || len != ctx->sig_len)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "gw_webhook: EVP_MAC_final() failed");
            ctx->status = NGX_HTTP_GW_WEBHOOK_INVALID;
            return;
        }

        for (j = 0; j < ctx->nsigs; j++) {
            match |= (CRYPTO_memcmp(md, ctx->sigs + j * len, len) == 0);
        }

        if (match && ctx->replay_zone) {
            /*
             * A Standard Webhooks delivery is named by its id; others by
             * the verified MAC, whatever the header's spelling, so that
             * extra or reordered header items cannot dodge the check.
             */

            if (ctx->scheme == NGX_HTTP_GW_WEBHOOK_STANDARD) {
                p = ctx->id.data;
                n = ctx->id.len;

            } else {
                p = md;
                n = len;
            }

            dctx = EVP_MD_CTX_new();
            if (dctx == NULL
                || EVP_DigestInit_ex(dctx, EVP_sha256(), NULL) != 1
                || EVP_DigestUpdate(dctx, &ctx->scheme, 1) != 1
                || EVP_DigestUpdate(dctx, p, n) != 1
                || EVP_DigestFinal_ex(dctx, ctx->key, NULL) != 1)
            {
                EVP_MD_CTX_free(dctx);
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "gw_webhook: replay key digest failed");
                ctx->status = NGX_HTTP_GW_WEBHOOK_INVALID;
                return;
            }

            EVP_MD_CTX_free(dctx);
            break;
        }
    }

    /* the expected MAC of a refused delivery is a valid signature */

    OPENSSL_cleanse(md, sizeof(md));

    if (!match) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gw_webhook: signature mismatch");
        ctx->status = NGX_HTTP_GW_WEBHOOK_INVALID;
        return;
    }

    ctx->status = NGX_HTTP_GW_WEBHOOK_VERIFIED;

    if (ctx->replay_zone == NULL) {
        return;
    }

    zone = ctx->replay_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_http_gw_shm_cache_expire(zone, 0);

    wn = ngx_http_gw_shm_cache_get(zone, ctx->key);

    if (wn != NULL && wn->expire > ngx_time()) {
        ctx->status = NGX_HTTP_GW_WEBHOOK_REPLAYED;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (ctx->status == NGX_HTTP_GW_WEBHOOK_REPLAYED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gw_webhook: delivery already accepted, "
                      "not forwarded again");
    }
}


static ngx_int_t
ngx_http_gw_webhook_answer(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx)
{
    ngx_int_t                        rc;
    ngx_http_complex_value_t         cv;
    ngx_http_gw_webhook_loc_conf_t  *wlcf;

    switch (ctx->status) {

    case NGX_HTTP_GW_WEBHOOK_VERIFIED:
        return NGX_OK;

    case NGX_HTTP_GW_WEBHOOK_REPLAYED:

        wlcf = ngx_http_get_module_loc_conf(r, ngx_http_gw_webhook_module);

        if (wlcf->replay_status >= NGX_HTTP_SPECIAL_RESPONSE) {
            return wlcf->replay_status;
        }

        /* the sender sees its delivery accepted, and stops retrying */

        ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

        rc = ngx_http_send_response(r, wlcf->replay_status, NULL, &cv);

        ngx_http_finalize_request(r, rc);
        return NGX_DONE;

    default:
        return NGX_HTTP_UNAUTHORIZED;
    }
}


/*
 * Counts the verdict for gw_status.  Called where ctx->status is set for
 * good, which happens once per request: ctx->done, set with it, keeps the
 * handler from deciding again after an internal redirect.
 */

static void
ngx_http_gw_webhook_count(ngx_http_request_t *r,
    ngx_http_gw_webhook_ctx_t *ctx)
{
    ngx_http_gw_webhook_main_conf_t  *wmcf;

    if (ctx->status == NGX_HTTP_GW_WEBHOOK_NONE) {
        return;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_gw_webhook_module);

    ngx_http_gw_count(&wmcf->counters,
                      ngx_http_gw_webhook_requests(ctx->scheme, ctx->status),
                      1);
}


/*
 * Log phase: a delivery the backend answered 2xx is remembered for the
 * tolerance window; one that failed is not, so its redelivery passes.
 */

static ngx_int_t
ngx_http_gw_webhook_log_handler(ngx_http_request_t *r)
{
    time_t                      expire;
    ngx_uint_t                  status;
    ngx_http_gw_webhook_ctx_t  *ctx;

    ctx = ngx_http_gw_webhook_get_ctx(r);

    if (ctx == NULL
        || ctx->replay_zone == NULL
        || ctx->status != NGX_HTTP_GW_WEBHOOK_VERIFIED)
    {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    if (status < 200 || status > 299) {
        return NGX_OK;
    }

    /* as long as the sender's timestamp is acceptable, and no shorter */
    expire = ngx_max(ngx_time(), ctx->ts) + ctx->replay_ttl;

    (void) ngx_http_gw_shm_cache_put(ctx->replay_zone->data, ctx->key, 0,
                                     expire, NULL, 0, r->connection->log);

    return NGX_OK;
}


/*
 * Internal redirects (error_page, try_files, named locations) erase module
 * contexts; the pool cleanup that frees ours finds it again, as the realip
 * module does, so a request is verified once and remembered once.
 */

static ngx_http_gw_webhook_ctx_t *
ngx_http_gw_webhook_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_gw_webhook_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gw_webhook_module);

    if (ctx != NULL || !(r->internal || r->filter_finalize)) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_gw_webhook_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_gw_webhook_module);
            return ctx;
        }
    }

    return NULL;
}


static void
ngx_http_gw_webhook_cleanup(void *data)
{
    ngx_http_gw_webhook_ctx_t  *ctx = data;

    ngx_uint_t  i;

    for (i = 0; i < ctx->nmacs; i++) {
        EVP_MAC_CTX_free(ctx->macs[i]);
    }

    ctx->nmacs = 0;
}


static ngx_int_t
ngx_http_gw_webhook_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_gw_webhook_ctx_t  *ctx;

    ctx = ngx_http_gw_webhook_get_ctx(r->main);

    if (ctx == NULL || ctx->status == NGX_HTTP_GW_WEBHOOK_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_http_gw_webhook_status_names[ctx->status].len;
    v->data = ngx_http_gw_webhook_status_names[ctx->status].data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_webhook_str_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  *s;
    ngx_http_gw_webhook_ctx_t  *ctx;

    ctx = ngx_http_gw_webhook_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->data = s->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * gw_status: every scheme and verdict, zeros included, so that a series
 * exists before its first request; replays are status="replayed".
 */

static ngx_int_t
ngx_http_gw_webhook_report(ngx_http_gw_report_t *rp, void *conf)
{
    ngx_http_gw_webhook_main_conf_t *wmcf = conf;

    int64_t               v;
    ngx_uint_t            i;
    ngx_conf_enum_t      *e;
    ngx_http_gw_label_t   labels[2];

    if (rp->family(rp, "requests_total", NGX_HTTP_GW_COUNTER,
                   "Webhook requests decided, by scheme and verdict "
                   "($gw_webhook_status)")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    labels[0].name = "scheme";
    labels[1].name = "status";

    for (e = ngx_http_gw_webhook_schemes; e->name.len; e++) {

        if (e->value == NGX_HTTP_GW_WEBHOOK_OFF) {
            continue;
        }

        labels[0].value = e->name;

        for (i = 1; i <= NGX_HTTP_GW_WEBHOOK_NSTATUSES; i++) {
            labels[1].value = ngx_http_gw_webhook_status_labels[i];

            v = ngx_http_gw_counter(&wmcf->counters,
                                    ngx_http_gw_webhook_requests(e->value, i));

            if (rp->sample(rp, labels, 2, v, 0) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    if (rp->family(rp, "body_bytes_total", NGX_HTTP_GW_COUNTER,
                   "Bytes of webhook bodies MACed, by scheme")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (e = ngx_http_gw_webhook_schemes; e->name.len; e++) {

        if (e->value == NGX_HTTP_GW_WEBHOOK_OFF) {
            continue;
        }

        labels[0].value = e->name;

        v = ngx_http_gw_counter(&wmcf->counters,
                                ngx_http_gw_webhook_body_bytes(e->value));

        if (rp->sample(rp, labels, 1, v, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_gw_webhook_report_replay(rp, wmcf);
}


/* deliveries remembered in each gw_webhook_replay zone, and evictions */

static ngx_int_t
ngx_http_gw_webhook_report_replay(ngx_http_gw_report_t *rp,
    ngx_http_gw_webhook_main_conf_t *wmcf)
{
    ngx_uint_t            i, k, n[2];
    ngx_shm_zone_t      **zones;
    ngx_http_gw_label_t   label;

    static ngx_http_gw_metric_t  families[] = {
        { "replay_entries", NGX_HTTP_GW_GAUGE,
          "Deliveries remembered in a gw_webhook_replay zone" },
        { "replay_evictions_total", NGX_HTTP_GW_COUNTER,
          "Deliveries forgotten before their time to make room: "
          "the zone is too small" }
    };

    /* the families without a sample when no location has a zone */

    zones = wmcf->replay_zones.elts;
    label.name = "zone";

    for (k = 0; k < 2; k++) {

        if (rp->family(rp, families[k].name, families[k].type,
                       families[k].help)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < wmcf->replay_zones.nelts; i++) {
            ngx_http_gw_shm_cache_stats(zones[i]->data, &n[0], &n[1]);

            label.value = zones[i]->shm.name;

            if (rp->sample(rp, &label, 1, (int64_t) n[k], 0) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * The counters are added whether or not a location verifies webhooks: a
 * small zone, and gw_status shows the same series in every configuration.
 */

static void *
ngx_http_gw_webhook_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gw_webhook_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_webhook_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    ngx_http_gw_reporter_init(&wmcf->reporter, "webhook",
                              ngx_http_gw_webhook_report);

    if (ngx_http_gw_counters_add(cf, &wmcf->counters, "webhook",
                                 NGX_HTTP_GW_WEBHOOK_NCOUNTERS,
                                 &ngx_http_gw_webhook_module)
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&wmcf->replay_zones, cf->pool, 1,
                       sizeof(ngx_shm_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return wmcf;
}


static void *
ngx_http_gw_webhook_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gw_webhook_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_webhook_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->macs = NULL;
     *     conf->header = { 0, NULL };
     *     conf->prefix = { 0, NULL };
     */

    conf->scheme = NGX_CONF_UNSET_UINT;
    conf->secrets = NGX_CONF_UNSET_PTR;
    conf->tolerance = NGX_CONF_UNSET;
    conf->replay_zone = NGX_CONF_UNSET_PTR;
    conf->replay_status = NGX_CONF_UNSET_UINT;
    conf->digest = NGX_CONF_UNSET_UINT;
    conf->encoding = NGX_CONF_UNSET_UINT;
#if (NGX_THREADS)
    conf->thread_pool = NGX_CONF_UNSET_PTR;
#endif

    return conf;
}


static char *
ngx_http_gw_webhook_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_gw_webhook_loc_conf_t  *prev = parent;
    ngx_http_gw_webhook_loc_conf_t  *conf = child;

    ngx_conf_merge_uint_value(conf->scheme, prev->scheme,
                              NGX_HTTP_GW_WEBHOOK_OFF);
    ngx_conf_merge_ptr_value(conf->secrets, prev->secrets, NULL);
    ngx_conf_merge_sec_value(conf->tolerance, prev->tolerance, 300);
#if (NGX_THREADS)
    ngx_conf_merge_ptr_value(conf->thread_pool, prev->thread_pool, NULL);
#endif
    if (conf->replay_zone == NGX_CONF_UNSET_PTR) {
        /* the zone and its status come together from the outer level */
        conf->replay_zone = prev->replay_zone;
        conf->replay_status = prev->replay_status;
    }

    ngx_conf_merge_ptr_value(conf->replay_zone, NULL, NULL);
    ngx_conf_merge_uint_value(conf->replay_status, NGX_CONF_UNSET_UINT,
                              NGX_HTTP_OK);
    ngx_conf_merge_str_value(conf->header, prev->header, "");
    ngx_conf_merge_str_value(conf->prefix, prev->prefix, "");
    ngx_conf_merge_uint_value(conf->digest, prev->digest, 256);
    ngx_conf_merge_uint_value(conf->encoding, prev->encoding,
                              NGX_HTTP_GW_SIG_HEX);

    if (conf->scheme == NGX_HTTP_GW_WEBHOOK_OFF) {
        return NGX_CONF_OK;
    }

    if (conf->secrets == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gw_webhook\" is set but no "
                           "\"gw_webhook_secret\" is given");
        return NGX_CONF_ERROR;
    }

    if (conf->scheme == NGX_HTTP_GW_WEBHOOK_HMAC && conf->header.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gw_webhook hmac\" needs \"gw_webhook_header\"");
        return NGX_CONF_ERROR;
    }

    /* the keyed MACs are made once, here, for each location that verifies */

    if (conf->secrets == prev->secrets && conf->scheme == prev->scheme
        && conf->digest == prev->digest && prev->macs != NULL)
    {
        conf->macs = prev->macs;
        return NGX_CONF_OK;
    }

    if (ngx_http_gw_webhook_make_macs(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* gw_webhook <scheme> | off */

static char *
ngx_http_gw_webhook(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_webhook_loc_conf_t *wlcf = conf;

    char  *rv;

    rv = ngx_conf_set_enum_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK && wlcf->scheme != NGX_HTTP_GW_WEBHOOK_OFF) {
        ngx_http_gw_webhook_used = 1;
    }

    return rv;
}


/* gw_webhook_secret <string> | file=<path> */

static char *
ngx_http_gw_webhook_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_webhook_loc_conf_t *wlcf = conf;

    u_char           *p;
    ssize_t           n;
    ngx_str_t        *value, *secret, path;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    value = cf->args->elts;

    if (wlcf->secrets == NGX_CONF_UNSET_PTR) {
        wlcf->secrets = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (wlcf->secrets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    secret = ngx_array_push(wlcf->secrets);
    if (secret == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_strncmp(value[1].data, "file=", 5) != 0) {
        *secret = value[1];
        goto check;
    }

    path.data = value[1].data + 5;
    path.len = value[1].len - 5;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 4096)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" is unreadable or larger "
                           "than 4096 bytes", &path);
        (void) ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, (size_t) ngx_file_size(&fi) + 1);
    if (p == NULL) {
        (void) ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, p, (size_t) ngx_file_size(&fi), 0);

    (void) ngx_close_file(file.fd);

    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    /* a trailing newline, as editors and "echo" leave, is not the secret's */

    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'
                     || p[n - 1] == ' ' || p[n - 1] == '\t'))
    {
        n--;
    }

    secret->data = p;
    secret->len = n;

check:

    if (secret->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty webhook secret");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* gw_webhook_replay zone=<name>:<size> [status=<code>] | off */

static char *
ngx_http_gw_webhook_replay(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_webhook_loc_conf_t *wlcf = conf;

    u_char                      *p;
    ssize_t                      size;
    ngx_int_t                    status;
    ngx_str_t                   *value, name, s;
    ngx_uint_t                   i;
    ngx_shm_zone_t              *shm_zone, **zp;
    ngx_http_gw_shm_cache_t     *zone;
    ngx_http_gw_webhook_main_conf_t  *wmcf;

    if (wlcf->replay_zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no parameters with \"off\"";
        }

        wlcf->replay_zone = NULL;
        return NGX_CONF_OK;
    }

    name.len = 0;
    size = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');
            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "status=", 7) == 0) {

            status = ngx_atoi(value[i].data + 7, value[i].len - 7);

            if (status < 200 || status > 599) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid status \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            wlcf->replay_status = status;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_gw_webhook_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data != NULL
        && shm_zone->init != ngx_http_gw_shm_cache_init_zone)
    {
        /* the module's other zone, of the same tag: its status counters */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is taken by gw_status's counters",
                           &name);
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data == NULL) {
        zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_shm_cache_t));
        if (zone == NULL) {
            return NGX_CONF_ERROR;
        }

        shm_zone->init = ngx_http_gw_shm_cache_init_zone;
        shm_zone->data = zone;

        wmcf = ngx_http_conf_get_module_main_conf(cf,
                                                  ngx_http_gw_webhook_module);

        zp = ngx_array_push(&wmcf->replay_zones);
        if (zp == NULL) {
            return NGX_CONF_ERROR;
        }

        *zp = shm_zone;
    }

    wlcf->replay_zone = shm_zone;
    ngx_http_gw_webhook_replay_used = 1;

    return NGX_CONF_OK;
}


/*
 * gw_webhook_thread_pool <name> | off: the pool of nginx's "thread_pool"
 * directive ("default" needs none) where large bodies are hashed
 */

static char *
ngx_http_gw_webhook_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t  *value;

#if (NGX_THREADS)
    ngx_http_gw_webhook_loc_conf_t  *wlcf = conf;

    if (wlcf->thread_pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }
#endif

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
#if (NGX_THREADS)
        wlcf->thread_pool = NULL;
#endif
        return NGX_CONF_OK;
    }

#if (NGX_THREADS)

    wlcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (wlcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"gw_webhook_thread_pool\" needs nginx built with "
                       "--with-threads");
    return NGX_CONF_ERROR;

#endif
}


/* gw_webhook_header <name> */

static char *
ngx_http_gw_webhook_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *value;
    ngx_uint_t  i;

    value = cf->args->elts;

    for (i = 0; i < value[1].len; i++) {
        if (value[1].data[i] <= ' ' || value[1].data[i] == ':'
            || value[1].data[i] >= 0x7f)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid header name \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    return ngx_conf_set_str_slot(cf, cmd, conf);
}


static ngx_int_t
ngx_http_gw_webhook_make_macs(ngx_conf_t *cf,
    ngx_http_gw_webhook_loc_conf_t *wlcf)
{
    size_t               len;
    u_char              *key;
    EVP_MAC             *mac;
    ngx_str_t           *secret, src, dst;
    ngx_uint_t           i, digest;
    const char          *md;
    OSSL_PARAM           params[2];
    EVP_MAC_CTX        **mctx;
    ngx_pool_cleanup_t  *cln;

    digest = (wlcf->scheme == NGX_HTTP_GW_WEBHOOK_HMAC) ? wlcf->digest : 256;

    md = (digest == 1) ? "SHA1" : (digest == 512) ? "SHA512" : "SHA256";

    wlcf->macs = ngx_array_create(cf->pool, wlcf->secrets->nelts,
                                  sizeof(EVP_MAC_CTX *));
    if (wlcf->macs == NULL) {
        return NGX_ERROR;
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "EVP_MAC_fetch(\"HMAC\") failed");
        return NGX_ERROR;
    }

    secret = wlcf->secrets->elts;

    for (i = 0; i < wlcf->secrets->nelts; i++) {

        key = secret[i].data;
        len = secret[i].len;

        if (wlcf->scheme == NGX_HTTP_GW_WEBHOOK_STANDARD) {
            /* "whsec_" followed by the base64 of the key */

            src = secret[i];

            if (src.len > 6 && ngx_strncmp(src.data, "whsec_", 6) == 0) {
                src.data += 6;
                src.len -= 6;
            }

            dst.data = ngx_pnalloc(cf->pool,
                                   ngx_base64_decoded_length(src.len));
            if (dst.data == NULL) {
                goto failed;
            }

            if (ngx_decode_base64(&dst, &src) != NGX_OK || dst.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "a Standard Webhooks secret must be "
                                   "\"whsec_\" and the base64 of the key");
                goto failed;
            }

            key = dst.data;
            len = dst.len;
        }

        mctx = ngx_array_push(wlcf->macs);
        if (mctx == NULL) {
            goto failed;
        }

        *mctx = EVP_MAC_CTX_new(mac);
        if (*mctx == NULL) {
            wlcf->macs->nelts--;
            goto failed;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            EVP_MAC_CTX_free(*mctx);
            goto failed;
        }

        cln->handler = ngx_http_gw_webhook_free_mac;
        cln->data = *mctx;

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     (char *) md, 0);
        params[1] = OSSL_PARAM_construct_end();

        if (EVP_MAC_init(*mctx, key, len, params) != 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "EVP_MAC_init(HMAC-%s) failed", md);
            goto failed;
        }
    }

    EVP_MAC_free(mac);

    return NGX_OK;

failed:

    EVP_MAC_free(mac);

    return NGX_ERROR;
}


static void
ngx_http_gw_webhook_free_mac(void *data)
{
    EVP_MAC_CTX_free(data);
}


static ngx_int_t
ngx_http_gw_webhook_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    ngx_http_gw_webhook_used = 0;
    ngx_http_gw_webhook_replay_used = 0;

    for (v = ngx_http_gw_webhook_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_webhook_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    if (!ngx_http_gw_webhook_used) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_gw_webhook_handler;

    ngx_http_next_request_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_gw_webhook_body_filter;

    if (ngx_http_gw_webhook_replay_used) {
        h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_gw_webhook_log_handler;
    }

    return NGX_OK;
}
