
/*
 * Copyright (C) nginx-gw authors
 *
 * ngx_http_gw_auth_module: JWT verification (key files, JWKS fetched
 * through subrequests and shared by all workers, key rotation), OAuth2
 * token introspection (RFC 7662) through a subrequest, API keys, and
 * scope, role and claim requirements, in the access phase.
 *
 * A request passes when any configured method accepts its credential:
 * API key, then JWT, then introspection.  Identity is established once
 * per request and kept in a context that survives internal redirects;
 * the requirements of the location are checked each time.  The variables
 * verify the credential on first use, so a limit keyed on
 * $gw_auth_consumer in the preaccess phase works, with introspection
 * results taken only from the shared cache there.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "ngx_http_gw_common.h"
#include "ngx_http_gw_status.h"
#include "ngx_http_gw_jose.h"
#include "ngx_http_gw_oauth.h"
#include "ngx_http_gw_sig.h"
#include "ngx_http_gw_shm_cache.h"
#include "ngx_http_gw_api_key.h"


#define NGX_HTTP_GW_AUTH_JWT            1
#define NGX_HTTP_GW_AUTH_INTROSPECT     2
#define NGX_HTTP_GW_AUTH_API_KEY        3

#define NGX_HTTP_GW_AUTH_KEY_LEN        NGX_HTTP_GW_SHM_CACHE_KEY_LEN

/* cache entry types */
#define NGX_HTTP_GW_AUTH_CACHE_JWT      4
#define NGX_HTTP_GW_AUTH_CACHE_ACTIVE   5
#define NGX_HTTP_GW_AUTH_CACHE_INACTIVE 3

/* what a cache entry's summary holds */
#define NGX_HTTP_GW_AUTH_SUBJECT        0x01
#define NGX_HTTP_GW_AUTH_SCOPE          0x02

/* an unknown kid refreshes a fetched JWKS at most this often */
#define NGX_HTTP_GW_AUTH_REFRESH_MIN    10

#define NGX_HTTP_GW_AUTH_JWKS_ZONE_SIZE (1024 * 1024)
#define NGX_HTTP_GW_AUTH_JWKS_MAX       (NGX_HTTP_GW_AUTH_JWKS_ZONE_SIZE / 2)

/* why a request was refused, for gw_status (ngx_http_gw_auth_reasons) */
#define NGX_HTTP_GW_AUTH_R_ACCEPTED     0
#define NGX_HTTP_GW_AUTH_R_MISSING      1
#define NGX_HTTP_GW_AUTH_R_MALFORMED    2
#define NGX_HTTP_GW_AUTH_R_BAD_SIG      3
#define NGX_HTTP_GW_AUTH_R_UNKNOWN_KEY  4
#define NGX_HTTP_GW_AUTH_R_EXPIRED      5
#define NGX_HTTP_GW_AUTH_R_NOT_YET      6
#define NGX_HTTP_GW_AUTH_R_ISSUER       7
#define NGX_HTTP_GW_AUTH_R_AUDIENCE     8
#define NGX_HTTP_GW_AUTH_R_INACTIVE     9
#define NGX_HTTP_GW_AUTH_R_IDP_ERROR    10
#define NGX_HTTP_GW_AUTH_R_SCOPE        11
#define NGX_HTTP_GW_AUTH_R_ROLE         12
#define NGX_HTTP_GW_AUTH_R_CLAIM        13
#define NGX_HTTP_GW_AUTH_NREASONS       14

#define ngx_http_gw_auth_r(name)        (1 << NGX_HTTP_GW_AUTH_R_##name)

/* what every method can be refused for, and accepted */
#define NGX_HTTP_GW_AUTH_R_ANY                                                \
    (ngx_http_gw_auth_r(ACCEPTED) | ngx_http_gw_auth_r(MISSING)               \
     | ngx_http_gw_auth_r(MALFORMED) | ngx_http_gw_auth_r(SCOPE)              \
     | ngx_http_gw_auth_r(ROLE) | ngx_http_gw_auth_r(CLAIM))

/*
 * The counters in gw_status's zone: requests by method (1..3) and reason,
 * cache hits and misses by method (jwt, introspect), JWKS fetches (ok,
 * failed), introspection requests (active, inactive, failed) and their
 * total time in milliseconds.
 */
#define NGX_HTTP_GW_AUTH_C_REQUESTS     0
#define NGX_HTTP_GW_AUTH_C_HITS         (3 * NGX_HTTP_GW_AUTH_NREASONS)
#define NGX_HTTP_GW_AUTH_C_MISSES       (NGX_HTTP_GW_AUTH_C_HITS + 2)
#define NGX_HTTP_GW_AUTH_C_JWKS         (NGX_HTTP_GW_AUTH_C_MISSES + 2)
#define NGX_HTTP_GW_AUTH_C_IDP          (NGX_HTTP_GW_AUTH_C_JWKS + 2)
#define NGX_HTTP_GW_AUTH_C_IDP_MSEC     (NGX_HTTP_GW_AUTH_C_IDP + 3)
#define NGX_HTTP_GW_AUTH_NCOUNTERS      (NGX_HTTP_GW_AUTH_C_IDP_MSEC + 1)

#define NGX_HTTP_GW_AUTH_IDP_ACTIVE     0
#define NGX_HTTP_GW_AUTH_IDP_INACTIVE   1
#define NGX_HTTP_GW_AUTH_IDP_FAILED     2


typedef struct {
    ngx_http_gw_api_key_table_t     table;
    ngx_str_t                       header;
    ngx_str_t                       arg;
} ngx_http_gw_auth_api_keys_t;


/*
 * The data of a cached JWT or introspection result: the subject and scope
 * as text, then (introspection) the IdP's answer, parsed only when some
 * other claim is asked for.  Copied, so its alignment does not matter.
 */

typedef struct {
    uint32_t                        subject_len;
    uint32_t                        scope_len;
    uint32_t                        flags;
} ngx_http_gw_auth_summary_t;


typedef struct {
    ngx_array_t                    *values;         /* complex values */
    ngx_uint_t                      error;
} ngx_http_gw_auth_require_t;


/* a fetched JWKS, parsed in this worker */

typedef struct {
    ngx_str_t                       uri;
    ngx_uint_t                      generation;
    ngx_pool_t                     *pool;
    ngx_array_t                    *keys;
} ngx_http_gw_auth_jwks_t;


typedef struct {
    ngx_http_gw_reporter_t          reporter;       /* first: gw_status */
    ngx_http_gw_counters_t          counters;
    ngx_shm_zone_t                 *cache;
    time_t                          max_ttl;
    time_t                          negative_ttl;
    ngx_shm_zone_t                 *jwks_zone;
    ngx_array_t                    *claim_sets;
} ngx_http_gw_auth_main_conf_t;


typedef struct {
    ngx_str_t                       realm;          /* "" = jwt off */
    ngx_http_complex_value_t       *token;
    ngx_array_t                    *keys;           /* from key files */
    ngx_array_t                    *key_files;      /* digests, identity */
    ngx_array_t                    *key_requests;   /* ngx_str_t */
    time_t                          key_cache;
    ngx_uint_t                      algorithms;
    time_t                          leeway;
    ngx_array_t                    *issuers;
    ngx_array_t                    *audiences;
    ngx_array_t                    *requires;       /* require_t */
    ngx_str_t                       introspect;
    ngx_http_gw_auth_api_keys_t    *api_keys;
    ngx_array_t                    *scopes;
    ngx_array_t                    *roles;
    ngx_str_t                       roles_claim;
    u_char                          identity[NGX_HTTP_GW_AUTH_KEY_LEN];
    unsigned                        jwt_set:1;
    unsigned                        introspect_set:1;
    unsigned                        api_key_set:1;
} ngx_http_gw_auth_loc_conf_t;


typedef struct {
    ngx_uint_t                      method;         /* 0: none yet */
    ngx_str_t                       token;
    json_t                         *header;
    json_t                         *payload;
    ngx_str_t                       answer;         /* cached IdP answer */
    ngx_str_t                       subject;
    ngx_str_t                       scope;          /* "" when absent */
    ngx_str_t                       consumer;
    ngx_array_t                    *key_roles;      /* API key's roles */
    ngx_str_t                       status;         /* last failure */
    ngx_uint_t                      reason;         /* its R_* */
    ngx_uint_t                      reason_method;  /* and its method */
    ngx_http_request_t             *subrequest;
    ngx_int_t                       sub_status;
    ngx_str_t                       sub_body;
    ngx_str_t                       sub_uri;
    ngx_uint_t                      refreshed;      /* uri index + 1 */
    ngx_uint_t                      next_uri;
    ngx_msec_t                      sub_start;
    ngx_msec_t                      sub_time;       /* its round trip */
    unsigned                        evaluated:1;
    unsigned                        presented:1;    /* a token was sent */
    unsigned                        waiting:1;
    unsigned                        sub_done:1;
    unsigned                        sub_jwks:1;
    unsigned                        idp_failed:1;
    unsigned                        jwt_tried:1;
    unsigned                        introspect_tried:1;
    unsigned                        sync_only:1;
    unsigned                        subject_set:1;
    unsigned                        scope_set:1;    /* present, not null */
    unsigned                        lazy_header:1;  /* from the token */
    unsigned                        lazy_payload:1; /* token or answer */
    unsigned                        counted:1;      /* in requests_total */
    unsigned                        jwt_looked_up:1;
    unsigned                        introspect_looked_up:1;
} ngx_http_gw_auth_ctx_t;


static ngx_int_t ngx_http_gw_auth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gw_auth_evaluate(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx);
static ngx_int_t ngx_http_gw_auth_get_token(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_str_t *token);
static ngx_int_t ngx_http_gw_auth_api_key(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx);
static ngx_int_t ngx_http_gw_auth_jwt(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx);
static ngx_int_t ngx_http_gw_auth_jwt_keys(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx,
    ngx_array_t *keys);
static ngx_int_t ngx_http_gw_auth_jwt_claims(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, json_t *payload, const char **err,
    ngx_uint_t *reason);
static ngx_uint_t ngx_http_gw_auth_jose_reason(const char *err);
static ngx_int_t ngx_http_gw_auth_introspect(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx);
static ngx_int_t ngx_http_gw_auth_introspect_result(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx,
    u_char *key);
static ngx_int_t ngx_http_gw_auth_authorize(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx);
static ngx_int_t ngx_http_gw_auth_reject(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx,
    ngx_uint_t status, const char *error, ngx_array_t *scopes);
static void ngx_http_gw_auth_fail(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, ngx_uint_t method, ngx_uint_t reason,
    const char *text);
static void ngx_http_gw_auth_count(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, ngx_uint_t method, ngx_uint_t reason);
static void ngx_http_gw_auth_count_lookup(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, ngx_uint_t method, ngx_uint_t hit);
static ngx_int_t ngx_http_gw_auth_subrequest(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, ngx_str_t *uri, ngx_uint_t jwks);
static ngx_int_t ngx_http_gw_auth_subrequest_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static json_t *ngx_http_gw_auth_claims(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx);
static json_t *ngx_http_gw_auth_jws_header(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx);
static ngx_int_t ngx_http_gw_auth_summarize(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, json_t *claims);
static ngx_int_t ngx_http_gw_auth_summary_load(ngx_http_gw_auth_ctx_t *ctx,
    ngx_str_t *data);
static ngx_int_t ngx_http_gw_auth_cache_store(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, u_char *key, ngx_uint_t type, json_t *exp,
    ngx_str_t *answer);

static ngx_int_t ngx_http_gw_auth_digest(u_char *out, u_char *a,
    size_t alen, u_char *b, size_t blen);
static ngx_int_t ngx_http_gw_auth_cache_lookup(ngx_http_request_t *r,
    u_char *key, ngx_uint_t *type, ngx_str_t *data);
static ngx_http_gw_auth_jwks_t *ngx_http_gw_auth_jwks_get(
    ngx_http_request_t *r, ngx_str_t *uri, time_t *fetched, time_t *expire);
static ngx_int_t ngx_http_gw_auth_jwks_store(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_str_t *body, time_t ttl);

static ngx_http_gw_auth_ctx_t *ngx_http_gw_auth_get_ctx(ngx_http_request_t *r);
static void ngx_http_gw_auth_cleanup(void *data);
static ngx_http_gw_auth_ctx_t *ngx_http_gw_auth_identity(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_gw_auth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_auth_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_auth_header_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_auth_claim_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_auth_json_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, json_t *value);
static ngx_int_t ngx_http_gw_auth_text_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_str_t *text);
static ngx_int_t ngx_http_gw_auth_report(ngx_http_gw_report_t *rp,
    void *conf);

static void *ngx_http_gw_auth_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_gw_auth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gw_auth_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_gw_auth_conf_identity(
    ngx_http_gw_auth_loc_conf_t *conf);
static char *ngx_http_gw_auth_jwt_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gw_auth_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_auth_key_request(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_auth_str_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_auth_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_auth_require(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_auth_claim_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_auth_introspect_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gw_auth_api_key_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_gw_auth_api_key_load(ngx_conf_t *cf,
    ngx_http_gw_auth_api_keys_t *ak, ngx_str_t *path);
static char *ngx_http_gw_auth_cache_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_gw_auth_read_file(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *out, size_t max);
static ngx_int_t ngx_http_gw_auth_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_gw_auth_init(ngx_conf_t *cf);
static void ngx_http_gw_auth_exit_process(ngx_cycle_t *cycle);
static void ngx_http_gw_auth_exit_master(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_gw_auth_commands[] = {

    { ngx_string("gw_auth_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_gw_auth_jwt_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_auth_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gw_auth_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_auth_jwt_key_request"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gw_auth_key_request,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_auth_jwt_key_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_auth_loc_conf_t, key_cache),
      NULL },

    { ngx_string("gw_auth_jwt_algorithms"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_gw_auth_algorithms,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_auth_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_auth_loc_conf_t, leeway),
      NULL },

    { ngx_string("gw_auth_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_gw_auth_str_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_auth_loc_conf_t, issuers),
      NULL },

    { ngx_string("gw_auth_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_gw_auth_str_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_auth_loc_conf_t, audiences),
      NULL },

    { ngx_string("gw_auth_jwt_require"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_gw_auth_require,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_auth_jwt_claim_set"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_gw_auth_claim_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_auth_introspect"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gw_auth_introspect_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_auth_api_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_gw_auth_api_key_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_auth_require_scope"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_gw_auth_str_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_auth_loc_conf_t, scopes),
      NULL },

    { ngx_string("gw_auth_require_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_gw_auth_str_list,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_auth_loc_conf_t, roles),
      NULL },

    { ngx_string("gw_auth_roles_claim"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_auth_loc_conf_t, roles_claim),
      NULL },

    { ngx_string("gw_auth_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_gw_auth_cache_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gw_auth_module_ctx = {
    ngx_http_gw_auth_add_variables,        /* preconfiguration */
    ngx_http_gw_auth_init,                 /* postconfiguration */

    ngx_http_gw_auth_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gw_auth_create_loc_conf,      /* create location configuration */
    ngx_http_gw_auth_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_gw_auth_module = {
    NGX_MODULE_V1,
    &ngx_http_gw_auth_module_ctx,          /* module context */
    ngx_http_gw_auth_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_gw_auth_exit_process,         /* exit process */
    ngx_http_gw_auth_exit_master,          /* exit master */
    NGX_MODULE_V1_PADDING
};


#define NGX_HTTP_GW_AUTH_VAR_SUBJECT    0
#define NGX_HTTP_GW_AUTH_VAR_CONSUMER   1
#define NGX_HTTP_GW_AUTH_VAR_METHOD     2
#define NGX_HTTP_GW_AUTH_VAR_TOKEN      3
#define NGX_HTTP_GW_AUTH_VAR_SCOPE      4
#define NGX_HTTP_GW_AUTH_VAR_STATUS     5


static ngx_http_variable_t  ngx_http_gw_auth_vars[] = {

    { ngx_string("gw_auth_subject"), NULL, ngx_http_gw_auth_variable,
      NGX_HTTP_GW_AUTH_VAR_SUBJECT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_auth_consumer"), NULL, ngx_http_gw_auth_variable,
      NGX_HTTP_GW_AUTH_VAR_CONSUMER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_auth_method"), NULL, ngx_http_gw_auth_variable,
      NGX_HTTP_GW_AUTH_VAR_METHOD, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_auth_token"), NULL, ngx_http_gw_auth_variable,
      NGX_HTTP_GW_AUTH_VAR_TOKEN, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_auth_scope"), NULL, ngx_http_gw_auth_variable,
      NGX_HTTP_GW_AUTH_VAR_SCOPE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_auth_status"), NULL, ngx_http_gw_auth_variable,
      NGX_HTTP_GW_AUTH_VAR_STATUS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_jwt_claim_"), NULL, ngx_http_gw_auth_claim_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("gw_jwt_header_"), NULL, ngx_http_gw_auth_header_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_gw_auth_methods[] = {
    ngx_null_string,
    ngx_string("jwt"),
    ngx_string("introspect"),
    ngx_string("api_key")
};


/* the "reason" label of requests_total, by NGX_HTTP_GW_AUTH_R_* */

static ngx_str_t  ngx_http_gw_auth_reasons[] = {
    ngx_null_string,
    ngx_string("missing"),
    ngx_string("malformed"),
    ngx_string("bad_signature"),
    ngx_string("unknown_key"),
    ngx_string("expired"),
    ngx_string("not_yet_valid"),
    ngx_string("issuer"),
    ngx_string("audience"),
    ngx_string("inactive"),
    ngx_string("idp_error"),
    ngx_string("insufficient_scope"),
    ngx_string("role"),
    ngx_string("claim")
};


/*
 * The reasons each method can be refused for: gw_status shows these, and
 * any other that was counted.
 */

static ngx_uint_t  ngx_http_gw_auth_method_reasons[] = {
    0,

    NGX_HTTP_GW_AUTH_R_ANY                                  /* jwt */
    | ngx_http_gw_auth_r(BAD_SIG) | ngx_http_gw_auth_r(UNKNOWN_KEY)
    | ngx_http_gw_auth_r(EXPIRED) | ngx_http_gw_auth_r(NOT_YET)
    | ngx_http_gw_auth_r(ISSUER) | ngx_http_gw_auth_r(AUDIENCE),

    NGX_HTTP_GW_AUTH_R_ANY                                  /* introspect */
    | ngx_http_gw_auth_r(EXPIRED) | ngx_http_gw_auth_r(INACTIVE)
    | ngx_http_gw_auth_r(IDP_ERROR),

    NGX_HTTP_GW_AUTH_R_ANY                                  /* api_key */
    | ngx_http_gw_auth_r(UNKNOWN_KEY)
};


/* this worker's parsed copies of fetched JWKS documents */
static ngx_array_t  *ngx_http_gw_auth_jwks;

/* set when a configuration uses the module; reset before each is read */
static ngx_uint_t    ngx_http_gw_auth_used;

/* SHA-256 for cache keys and API keys: fetched once, for the process */
static EVP_MD       *ngx_http_gw_auth_md;
static EVP_MD_CTX   *ngx_http_gw_auth_md_ctx;


static ngx_int_t
ngx_http_gw_auth_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_gw_auth_ctx_t       *ctx;
    ngx_http_gw_auth_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_gw_auth_module);

    if (!alcf->jwt_set && !alcf->introspect_set && !alcf->api_key_set) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_gw_auth_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->waiting) {
        if (!ctx->sub_done) {
            return NGX_AGAIN;
        }

        ctx->waiting = 0;
    }

    ctx->sync_only = 0;

    if (ctx->method == 0) {
        /* what a variable's evaluation found is not the final word */
        ctx->status.len = 0;

        rc = ngx_http_gw_auth_evaluate(r, alcf, ctx);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc != NGX_OK) {
            ngx_http_gw_auth_count(r, ctx, ctx->reason_method, ctx->reason);
            return rc;
        }
    }

    rc = ngx_http_gw_auth_authorize(r, alcf, ctx);

    if (rc == NGX_OK) {
        ngx_http_gw_auth_count(r, ctx, ctx->method,
                               NGX_HTTP_GW_AUTH_R_ACCEPTED);

    } else if (rc != NGX_HTTP_INTERNAL_SERVER_ERROR) {
        ngx_http_gw_auth_count(r, ctx, ctx->method, ctx->reason);
    }

    return rc;
}


/*
 * Establishes the identity: NGX_OK with ctx->method set, NGX_AGAIN while a
 * subrequest runs, a 4xx/5xx status when every configured method refused.
 */

static ngx_int_t
ngx_http_gw_auth_evaluate(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (alcf->api_key_set) {
        rc = ngx_http_gw_auth_api_key(r, alcf, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if ((alcf->jwt_set || alcf->introspect_set) && ctx->token.data == NULL) {

        rc = ngx_http_gw_auth_get_token(r, alcf, &ctx->token);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        ctx->presented = (rc == NGX_OK);
    }

    if (alcf->jwt_set && ctx->presented && !ctx->jwt_tried) {
        rc = ngx_http_gw_auth_jwt(r, alcf, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (alcf->introspect_set && ctx->presented && !ctx->introspect_tried) {
        rc = ngx_http_gw_auth_introspect(r, alcf, ctx);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ctx->status.len == 0) {
        /* counted for the method the 401's challenge asks for */
        ngx_http_gw_auth_fail(r, ctx,
                              alcf->jwt_set ? NGX_HTTP_GW_AUTH_JWT
                              : alcf->introspect_set
                                ? NGX_HTTP_GW_AUTH_INTROSPECT
                                : NGX_HTTP_GW_AUTH_API_KEY,
                              NGX_HTTP_GW_AUTH_R_MISSING, "no credentials");
    }

    if (ctx->idp_failed) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    return ngx_http_gw_auth_reject(r, alcf, ctx, NGX_HTTP_UNAUTHORIZED,
                                   ctx->presented ? "invalid_token" : NULL,
                                   NULL);
}


/* Authorization: Bearer <token>, or the token= variable */

static ngx_int_t
ngx_http_gw_auth_get_token(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_str_t *token)
{
    ngx_table_elt_t  *h;

    if (alcf->token) {
        if (ngx_http_complex_value(r, alcf->token, token) != NGX_OK) {
            return NGX_ERROR;
        }

        return token->len ? NGX_OK : NGX_DECLINED;
    }

    h = r->headers_in.authorization;

    if (h == NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_gw_sig_parse_bearer(h->value.data, h->value.len, token);
}


/* API key: SHA-256 of the presented key, found in an open-addressed table */

static ngx_int_t
ngx_http_gw_auth_api_key(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx)
{
    u_char                        digest[NGX_HTTP_GW_AUTH_KEY_LEN];
    ngx_str_t                     key;
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *hd;
    ngx_http_gw_api_key_t        *match;
    ngx_http_gw_auth_api_keys_t  *ak;

    ak = alcf->api_keys;
    key.len = 0;
    key.data = NULL;

    part = &r->headers_in.headers.part;
    hd = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            hd = part->elts;
            i = 0;
        }

        if (hd[i].key.len == ak->header.len
            && ngx_strncasecmp(hd[i].key.data, ak->header.data,
                               ak->header.len) == 0)
        {
            key = hd[i].value;
            break;
        }
    }

    if (key.len == 0 && ak->arg.len) {
        if (ngx_http_arg(r, ak->arg.data, ak->arg.len, &key) != NGX_OK) {
            key.len = 0;
        }
    }

    if (key.len == 0) {
        return NGX_DECLINED;
    }

    if (key.len > 1024) {
        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_API_KEY,
                              NGX_HTTP_GW_AUTH_R_MALFORMED,
                              "API key too long");
        return NGX_DECLINED;
    }

    if (ngx_http_gw_auth_digest(digest, key.data, key.len, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    match = ngx_http_gw_api_key_find(&ak->table, digest);

    if (match == NULL) {
        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_API_KEY,
                              NGX_HTTP_GW_AUTH_R_UNKNOWN_KEY,
                              "unknown API key");
        return NGX_DECLINED;
    }

    ctx->method = NGX_HTTP_GW_AUTH_API_KEY;
    ctx->consumer = match->consumer;
    ctx->key_roles = match->roles;

    return NGX_OK;
}


/*
 * A token verified before at a location of the same identity (key
 * sources, algorithms, leeway, issuers, audiences) is found by a digest of
 * its bytes, before any parsing: a hit needs neither base64 nor JSON nor
 * a signature.  Its entry expires with the token's "exp" (or max_ttl), and
 * the other time claims, once met, stay met; the claims themselves are
 * parsed from the token again only when a variable or a role asks.
 */

static ngx_int_t
ngx_http_gw_auth_jwt(ngx_http_request_t *r, ngx_http_gw_auth_loc_conf_t *alcf,
    ngx_http_gw_auth_ctx_t *ctx)
{
    u_char                         key[NGX_HTTP_GW_AUTH_KEY_LEN];
    ngx_int_t                      rc;
    ngx_str_t                      data;
    ngx_uint_t                     type, keyed, reason;
    const                          char                    *err;
    ngx_array_t                    keys;
    ngx_http_gw_jose_jws_t         jws;
    ngx_http_gw_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);

    keyed = (amcf->cache != NULL
             && ctx->token.len <= NGX_HTTP_GW_JOSE_MAX_TOKEN
             && ngx_http_gw_auth_digest(key, alcf->identity,
                                        NGX_HTTP_GW_AUTH_KEY_LEN,
                                        ctx->token.data, ctx->token.len)
                == NGX_OK);

    if (keyed) {
        rc = ngx_http_gw_auth_cache_lookup(r, key, &type, &data);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_OK
            && type == NGX_HTTP_GW_AUTH_CACHE_JWT
            && ngx_http_gw_auth_summary_load(ctx, &data) == NGX_OK)
        {
            ngx_http_gw_auth_count_lookup(r, ctx, NGX_HTTP_GW_AUTH_JWT, 1);

            ctx->method = NGX_HTTP_GW_AUTH_JWT;
            ctx->lazy_header = 1;
            ctx->lazy_payload = 1;

            return NGX_OK;
        }

        ngx_http_gw_auth_count_lookup(r, ctx, NGX_HTTP_GW_AUTH_JWT, 0);
    }

    if (ngx_http_gw_jose_parse(r->pool, ctx->token.data, ctx->token.len,
                               alcf->algorithms, &jws, &err)
        != NGX_OK)
    {
        ctx->jwt_tried = 1;
        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_JWT,
                              NGX_HTTP_GW_AUTH_R_MALFORMED, err);
        return NGX_DECLINED;
    }

    if (ngx_array_init(&keys, r->pool, 4, sizeof(ngx_http_gw_jose_key_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_gw_auth_jwt_keys(r, alcf, ctx, &keys);

    if (rc != NGX_OK) {
        return rc;     /* NGX_AGAIN: fetching, NGX_ERROR */
    }

    rc = ngx_http_gw_jose_verify(&jws, &keys, &err);

    if (rc == NGX_BUSY && !ctx->sync_only && alcf->key_requests) {

        /*
         * An unknown kid: the keys may have rotated.  Each document not
         * fetched within the refresh interval is fetched again, once per
         * request (next_uri moves on), then verify again.
         */

        if (ctx->refreshed == 0) {
            ctx->refreshed = 1;
            ctx->next_uri = 0;
        }

        rc = ngx_http_gw_auth_jwt_keys(r, alcf, ctx, NULL);

        if (rc == NGX_AGAIN || rc == NGX_ERROR) {
            return rc;
        }

        rc = NGX_BUSY;
    }

    if (rc != NGX_OK) {
        ctx->jwt_tried = 1;

        if (err == NULL) {
            err = "no key for kid";
        }

        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_JWT,
                              ngx_http_gw_auth_jose_reason(err), err);
        return NGX_DECLINED;
    }

    if (ngx_http_gw_auth_jwt_claims(r, alcf, jws.payload, &err, &reason)
        != NGX_OK)
    {
        ctx->jwt_tried = 1;
        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_JWT, reason, err);
        return NGX_DECLINED;
    }

    ctx->method = NGX_HTTP_GW_AUTH_JWT;
    ctx->header = jws.header;
    ctx->payload = jws.payload;

    if (ngx_http_gw_auth_summarize(r, ctx, jws.payload) != NGX_OK) {
        return NGX_ERROR;
    }

    if (keyed) {
        (void) ngx_http_gw_auth_cache_store(r, ctx, key,
                                            NGX_HTTP_GW_AUTH_CACHE_JWT,
                                            json_object_get(jws.payload,
                                                            "exp"),
                                            NULL);
    }

    return NGX_OK;
}


/*
 * The keys of a location: its key files, and each key_request's JWKS from
 * the shared zone, fetched by a subrequest when missing or stale (and,
 * with keys == NULL, when older than the refresh interval: an unknown kid).
 */

static ngx_int_t
ngx_http_gw_auth_jwt_keys(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx,
    ngx_array_t *keys)
{
    time_t                    now, fetched, expire;
    ngx_str_t                *uri;
    ngx_uint_t                i;
    ngx_http_gw_jose_key_t   *k;
    ngx_http_gw_auth_jwks_t  *jwks;

    now = ngx_time();

    if (keys && alcf->keys) {
        k = ngx_array_push_n(keys, alcf->keys->nelts);
        if (k == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(k, alcf->keys->elts,
                   alcf->keys->nelts * sizeof(ngx_http_gw_jose_key_t));
    }

    if (alcf->key_requests == NULL) {
        return NGX_OK;
    }

    uri = alcf->key_requests->elts;

    for (i = 0; i < alcf->key_requests->nelts; i++) {

        jwks = ngx_http_gw_auth_jwks_get(r, &uri[i], &fetched, &expire);

        if (keys == NULL) {
            /* refresh: only a document older than the minimum interval */

            if (i >= ctx->next_uri
                && now - fetched >= NGX_HTTP_GW_AUTH_REFRESH_MIN)
            {
                ctx->next_uri = i + 1;
                return ngx_http_gw_auth_subrequest(r, ctx, &uri[i], 1);
            }

            continue;
        }

        if (now >= expire) {
            /*
             * Missing or stale: fetched now, in the access phase; a
             * variable's evaluation goes on without these keys.  A fetch
             * that failed is stored with a short expiry, so a failing
             * endpoint is asked once per interval, not per request.
             */

            if (ctx->sync_only
                || (ctx->sub_done && ctx->sub_jwks
                    && ctx->sub_uri.data == uri[i].data))
            {
                continue;
            }

            return ngx_http_gw_auth_subrequest(r, ctx, &uri[i], 1);
        }

        if (jwks == NULL) {
            continue;
        }

        k = ngx_array_push_n(keys, jwks->keys->nelts);
        if (k == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(k, jwks->keys->elts,
                   jwks->keys->nelts * sizeof(ngx_http_gw_jose_key_t));
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_auth_jwt_claims(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, json_t *payload, const char **err,
    ngx_uint_t *reason)
{
    if (ngx_http_gw_jose_check_time(payload, ngx_time(), alcf->leeway, err)
        != NGX_OK)
    {
        *reason = ngx_http_gw_auth_jose_reason(*err);
        return NGX_DECLINED;
    }

    if (alcf->issuers
        && ngx_http_gw_jose_check_issuer(payload, alcf->issuers, err)
           != NGX_OK)
    {
        *reason = NGX_HTTP_GW_AUTH_R_ISSUER;
        return NGX_DECLINED;
    }

    if (alcf->audiences
        && ngx_http_gw_jose_check_audience(payload, alcf->audiences, err)
           != NGX_OK)
    {
        *reason = NGX_HTTP_GW_AUTH_R_AUDIENCE;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The reason of a refusal by ngx_http_gw_jose_verify() or _check_time(),
 * from the *err they set (common/ngx_http_gw_jose.c): the claims of the
 * wrong type ("invalid exp claim") are malformed tokens.
 */

static ngx_uint_t
ngx_http_gw_auth_jose_reason(const char *err)
{
    ngx_uint_t  i;

    static struct {
        const char  *err;
        ngx_uint_t   reason;
    } reasons[] = {
        { "signature mismatch", NGX_HTTP_GW_AUTH_R_BAD_SIG },
        { "no key for kid", NGX_HTTP_GW_AUTH_R_UNKNOWN_KEY },
        { "no key for alg", NGX_HTTP_GW_AUTH_R_UNKNOWN_KEY },
        { "token expired", NGX_HTTP_GW_AUTH_R_EXPIRED },
        { "token not yet valid", NGX_HTTP_GW_AUTH_R_NOT_YET },
        { "token issued in the future", NGX_HTTP_GW_AUTH_R_NOT_YET }
    };

    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        if (ngx_strcmp(err, reasons[i].err) == 0) {
            return reasons[i].reason;
        }
    }

    return NGX_HTTP_GW_AUTH_R_MALFORMED;
}


/*
 * RFC 7662: the result comes from the shared cache, or from a subrequest
 * to the configured location, which sends $gw_auth_token to the IdP.
 */

static ngx_int_t
ngx_http_gw_auth_introspect(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx)
{
    u_char                         key[NGX_HTTP_GW_AUTH_KEY_LEN];
    ngx_int_t                      rc;
    ngx_str_t                      data;
    ngx_uint_t                     type, keyed;
    ngx_http_gw_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);

    if (ctx->token.len > NGX_HTTP_GW_JOSE_MAX_TOKEN) {
        ctx->introspect_tried = 1;
        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_INTROSPECT,
                              NGX_HTTP_GW_AUTH_R_MALFORMED, "token too long");
        return NGX_DECLINED;
    }

    /* the URI with its terminating NUL: "/a" + "bc" is not "/ab" + "c" */

    keyed = (amcf->cache != NULL
             && ngx_http_gw_auth_digest(key, alcf->introspect.data,
                                        alcf->introspect.len + 1,
                                        ctx->token.data, ctx->token.len)
                == NGX_OK);

    if (ctx->sub_done && !ctx->sub_jwks) {
        return ngx_http_gw_auth_introspect_result(r, alcf, ctx,
                                                  keyed ? key : NULL);
    }

    rc = keyed ? ngx_http_gw_auth_cache_lookup(r, key, &type, &data)
               : NGX_DECLINED;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        if (type == NGX_HTTP_GW_AUTH_CACHE_INACTIVE) {
            ngx_http_gw_auth_count_lookup(r, ctx,
                                          NGX_HTTP_GW_AUTH_INTROSPECT, 1);

            ctx->introspect_tried = 1;
            ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_INTROSPECT,
                                  NGX_HTTP_GW_AUTH_R_INACTIVE,
                                  "token not active (cached)");
            return NGX_DECLINED;
        }

        if (type == NGX_HTTP_GW_AUTH_CACHE_ACTIVE
            && ngx_http_gw_auth_summary_load(ctx, &data) == NGX_OK)
        {
            ngx_http_gw_auth_count_lookup(r, ctx,
                                          NGX_HTTP_GW_AUTH_INTROSPECT, 1);

            /* the answer is parsed only if a claim is asked for */
            ctx->lazy_payload = 1;
            ctx->method = NGX_HTTP_GW_AUTH_INTROSPECT;
            return NGX_OK;
        }
    }

    if (keyed) {
        ngx_http_gw_auth_count_lookup(r, ctx, NGX_HTTP_GW_AUTH_INTROSPECT, 0);
    }

    if (ctx->sync_only) {
        return NGX_DECLINED;
    }

    return ngx_http_gw_auth_subrequest(r, ctx, &alcf->introspect, 0);
}


static ngx_int_t
ngx_http_gw_auth_introspect_result(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx,
    u_char *key)
{
    time_t                              now;
    ngx_uint_t                          rc;
    ngx_http_gw_shm_cache_t            *zone;
    ngx_http_gw_auth_main_conf_t       *amcf;
    ngx_http_gw_oauth_introspection_t   in;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);

    ctx->introspect_tried = 1;
    ctx->sub_done = 0;

    ngx_http_gw_count(&amcf->counters, NGX_HTTP_GW_AUTH_C_IDP_MSEC,
                      ctx->sub_time);

    if (ctx->sub_status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gw_auth: introspection failed with status %i",
                      ctx->sub_status);
        rc = NGX_HTTP_GW_OAUTH_INVALID;

    } else {
        now = ngx_time();

        rc = ngx_http_gw_oauth_introspection_parse(r->pool,
                                                   ctx->sub_body.data,
                                                   ctx->sub_body.len, now,
                                                   amcf->max_ttl, &in);

        if (rc == NGX_HTTP_GW_OAUTH_INVALID) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "gw_auth: introspection response is not "
                          "a JSON object");
        }
    }

    ngx_http_gw_count(&amcf->counters,
                      NGX_HTTP_GW_AUTH_C_IDP
                      + (rc == NGX_HTTP_GW_OAUTH_INVALID
                         ? NGX_HTTP_GW_AUTH_IDP_FAILED
                         : rc == NGX_HTTP_GW_OAUTH_INACTIVE
                           ? NGX_HTTP_GW_AUTH_IDP_INACTIVE
                           : NGX_HTTP_GW_AUTH_IDP_ACTIVE), 1);

    if (rc == NGX_HTTP_GW_OAUTH_INVALID) {
        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_INTROSPECT,
                              NGX_HTTP_GW_AUTH_R_IDP_ERROR,
                              "introspection failed");
        ctx->idp_failed = 1;
        return NGX_DECLINED;
    }

    /* no key, no cache */
    zone = (key != NULL) ? amcf->cache->data : NULL;

    if (rc == NGX_HTTP_GW_OAUTH_INACTIVE) {
        if (zone && amcf->negative_ttl) {
            (void) ngx_http_gw_shm_cache_put(zone, key,
                                              NGX_HTTP_GW_AUTH_CACHE_INACTIVE,
                                              now + amcf->negative_ttl,
                                              NULL, 0, r->connection->log);
        }

        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_INTROSPECT,
                              NGX_HTTP_GW_AUTH_R_INACTIVE, "token not active");
        return NGX_DECLINED;
    }

    if (rc == NGX_HTTP_GW_OAUTH_EXPIRED) {
        ngx_http_gw_auth_fail(r, ctx, NGX_HTTP_GW_AUTH_INTROSPECT,
                              NGX_HTTP_GW_AUTH_R_EXPIRED, "token expired");
        return NGX_DECLINED;
    }

    ctx->payload = in.response;
    ctx->method = NGX_HTTP_GW_AUTH_INTROSPECT;

    if (ngx_http_gw_auth_summarize(r, ctx, in.response) != NGX_OK) {
        return NGX_ERROR;
    }

    if (zone) {
        (void) ngx_http_gw_auth_cache_store(r, ctx, key,
                                            NGX_HTTP_GW_AUTH_CACHE_ACTIVE,
                                            in.exp, &ctx->sub_body);
    }

    return NGX_OK;
}


/* the location's requirements on an established identity */

static ngx_int_t
ngx_http_gw_auth_authorize(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx)
{
    json_t                      *claims, *v;
    ngx_str_t                    value, *s, *role;
    ngx_uint_t                   i, j, k, ok;
    ngx_http_complex_value_t    *cv;
    ngx_http_gw_auth_require_t  *req;

    if (alcf->requires) {
        req = alcf->requires->elts;

        for (i = 0; i < alcf->requires->nelts; i++) {
            cv = req[i].values->elts;

            for (j = 0; j < req[i].values->nelts; j++) {
                if (ngx_http_complex_value(r, &cv[j], &value) != NGX_OK) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                if (value.len == 0
                    || (value.len == 1 && value.data[0] == '0'))
                {
                    ngx_http_gw_auth_fail(r, ctx, ctx->method,
                                          NGX_HTTP_GW_AUTH_R_CLAIM,
                                          "requirement not met");
                    return ngx_http_gw_auth_reject(r, alcf, ctx,
                                                   req[i].error,
                                                   req[i].error == 403
                                                   ? "insufficient_scope"
                                                   : "invalid_token",
                                                   NULL);
                }
            }
        }
    }

    if (alcf->scopes) {
        s = alcf->scopes->elts;

        for (i = 0; i < alcf->scopes->nelts; i++) {
            if (!ngx_http_gw_oauth_has_word(&ctx->scope, &s[i])) {
                ngx_http_gw_auth_fail(r, ctx, ctx->method,
                                      NGX_HTTP_GW_AUTH_R_SCOPE,
                                      "insufficient scope");
                return ngx_http_gw_auth_reject(r, alcf, ctx,
                                               NGX_HTTP_FORBIDDEN,
                                               "insufficient_scope",
                                               alcf->scopes);
            }
        }
    }

    if (alcf->roles) {
        ok = 0;
        role = alcf->roles->elts;

        if (ctx->key_roles) {
            s = ctx->key_roles->elts;

            for (i = 0; i < alcf->roles->nelts && !ok; i++) {
                for (k = 0; k < ctx->key_roles->nelts; k++) {
                    if (s[k].len == role[i].len
                        && ngx_strncmp(s[k].data, role[i].data, s[k].len)
                           == 0)
                    {
                        ok = 1;
                        break;
                    }
                }
            }

        } else {
            claims = ngx_http_gw_auth_claims(r, ctx);

            v = (claims != NULL)
                ? ngx_http_gw_jose_claim(claims, alcf->roles_claim.data,
                                         alcf->roles_claim.len)
                : NULL;

            if (json_is_string(v)) {
                value.data = (u_char *) json_string_value(v);
                value.len = json_string_length(v);

                for (i = 0; i < alcf->roles->nelts && !ok; i++) {
                    ok = ngx_http_gw_oauth_has_word(&value, &role[i]);
                }

            } else if (json_is_array(v)) {
                for (k = 0; k < json_array_size(v) && !ok; k++) {
                    if (!json_is_string(json_array_get(v, k))) {
                        continue;
                    }

                    value.data = (u_char *)
                                 json_string_value(json_array_get(v, k));
                    value.len = json_string_length(json_array_get(v, k));

                    for (i = 0; i < alcf->roles->nelts; i++) {
                        if (value.len == role[i].len
                            && ngx_strncmp(value.data, role[i].data,
                                           value.len) == 0)
                        {
                            ok = 1;
                            break;
                        }
                    }
                }
            }
        }

        if (!ok) {
            ngx_http_gw_auth_fail(r, ctx, ctx->method,
                                  NGX_HTTP_GW_AUTH_R_ROLE,
                                  "no required role");
            return ngx_http_gw_auth_reject(r, alcf, ctx, NGX_HTTP_FORBIDDEN,
                                           "insufficient_scope", NULL);
        }
    }

    return NGX_OK;
}


/*
 * 401 or 403 with WWW-Authenticate (RFC 6750): realm, and for a presented
 * credential the error.  The reason is in the error log already.
 */

static ngx_int_t
ngx_http_gw_auth_reject(ngx_http_request_t *r,
    ngx_http_gw_auth_loc_conf_t *alcf, ngx_http_gw_auth_ctx_t *ctx,
    ngx_uint_t status, const char *error, ngx_array_t *scopes)
{
    u_char           *p;
    size_t            len;
    ngx_str_t        *s, realm;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    if (ctx->sync_only) {
        return status;
    }

    realm = alcf->realm;

    if (realm.len == 0) {
        ngx_str_set(&realm, "api");
    }

    len = sizeof("Bearer realm=\"\"") - 1 + realm.len;

    if (error) {
        len += sizeof(", error=\"\"") - 1 + ngx_strlen(error);
    }

    if (scopes) {
        len += sizeof(", scope=\"\"") - 1;

        s = scopes->elts;
        for (i = 0; i < scopes->nelts; i++) {
            len += s[i].len + 1;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = r->headers_out.www_authenticate;

    if (h == NULL) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
    }

    h->value.data = p;

    p = ngx_sprintf(p, "Bearer realm=\"%V\"", &realm);

    if (error) {
        p = ngx_sprintf(p, ", error=\"%s\"", error);
    }

    if (scopes) {
        p = ngx_cpymem(p, ", scope=\"", sizeof(", scope=\"") - 1);

        s = scopes->elts;
        for (i = 0; i < scopes->nelts; i++) {
            if (i) {
                *p++ = ' ';
            }

            p = ngx_cpymem(p, s[i].data, s[i].len);
        }

        *p++ = '"';
    }

    h->value.len = p - h->value.data;

    r->headers_out.www_authenticate = h;

    return status;
}


/*
 * The reason of a refusal: its text logged at info and kept for
 * $gw_auth_status, its class and method kept for requests_total.
 */

static void
ngx_http_gw_auth_fail(ngx_http_request_t *r, ngx_http_gw_auth_ctx_t *ctx,
    ngx_uint_t method, ngx_uint_t reason, const char *text)
{
    ctx->status.data = (u_char *) text;
    ctx->status.len = ngx_strlen(text);
    ctx->reason = reason;
    ctx->reason_method = method;

    if (ctx->sync_only) {
        /* a variable's evaluation: the access phase logs the outcome */
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "gw_auth: %s", text);
}


/*
 * requests_total: once per request, for the access phase's first decision
 * (after an internal redirect the next location's requirements are checked
 * again, the request is not counted again); a variable's evaluation
 * decides nothing.
 */

static void
ngx_http_gw_auth_count(ngx_http_request_t *r, ngx_http_gw_auth_ctx_t *ctx,
    ngx_uint_t method, ngx_uint_t reason)
{
    ngx_http_gw_auth_main_conf_t  *amcf;

    if (ctx->counted
        || method < NGX_HTTP_GW_AUTH_JWT || method > NGX_HTTP_GW_AUTH_API_KEY
        || reason >= NGX_HTTP_GW_AUTH_NREASONS)
    {
        return;
    }

    ctx->counted = 1;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);

    ngx_http_gw_count(&amcf->counters,
                      NGX_HTTP_GW_AUTH_C_REQUESTS
                      + (method - 1) * NGX_HTTP_GW_AUTH_NREASONS + reason, 1);
}


/*
 * A gw_auth_cache lookup of a JWT or an introspection result: the first
 * of the request for that method only, as a variable's evaluation may
 * look up again in the access phase.
 */

static void
ngx_http_gw_auth_count_lookup(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, ngx_uint_t method, ngx_uint_t hit)
{
    ngx_http_gw_auth_main_conf_t  *amcf;

    if (method == NGX_HTTP_GW_AUTH_JWT) {
        if (ctx->jwt_looked_up) {
            return;
        }

        ctx->jwt_looked_up = 1;

    } else {
        if (ctx->introspect_looked_up) {
            return;
        }

        ctx->introspect_looked_up = 1;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);

    ngx_http_gw_count(&amcf->counters,
                      (hit ? NGX_HTTP_GW_AUTH_C_HITS
                           : NGX_HTTP_GW_AUTH_C_MISSES) + method - 1, 1);
}


/*
 * A subrequest to a JWKS or introspection location, its response kept in
 * memory (subrequest_output_buffer_size bounds it), with an empty request
 * body so the client's never reaches the IdP.
 */

static ngx_int_t
ngx_http_gw_auth_subrequest(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, ngx_str_t *uri, ngx_uint_t jwks)
{
    ngx_http_request_t          *sr;
    ngx_http_post_subrequest_t  *ps;

    if (ctx->sync_only) {
        return NGX_DECLINED;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_gw_auth_subrequest_done;
    ps->data = ctx;

    if (ngx_http_subrequest(r, uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED
                            |NGX_HTTP_SUBREQUEST_IN_MEMORY)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) {
        return NGX_ERROR;
    }

    ctx->subrequest = sr;
    ctx->sub_start = ngx_current_msec;
    ctx->sub_uri = *uri;
    ctx->sub_jwks = jwks;
    ctx->sub_done = 0;
    ctx->waiting = 1;

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_gw_auth_subrequest_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc)
{
    ngx_http_gw_auth_ctx_t *ctx = data;

    ngx_buf_t                     *b;
    ngx_uint_t                     first;
    ngx_http_request_t            *pr;
    ngx_http_gw_auth_loc_conf_t   *alcf;
    ngx_http_gw_auth_main_conf_t  *amcf;

    pr = r->parent;

    /* a subrequest may be finalized more than once: timed, counted once */

    first = (ctx->subrequest == r);

    if (first) {
        ctx->subrequest = NULL;
        ctx->sub_time = ngx_current_msec - ctx->sub_start;
    }

    ctx->sub_done = 1;
    ctx->sub_status = (rc == NGX_OK || rc == NGX_DONE)
                      ? (ngx_int_t) r->headers_out.status
                      : (rc >= NGX_HTTP_SPECIAL_RESPONSE ? rc
                                                        : NGX_HTTP_BAD_GATEWAY);
    ctx->sub_body.len = 0;

    if (r->out && r->out->buf) {
        b = r->out->buf;

        ctx->sub_body.len = b->last - b->pos;
        ctx->sub_body.data = ngx_pnalloc(pr->pool, ctx->sub_body.len + 1);
        if (ctx->sub_body.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(ctx->sub_body.data, b->pos, ctx->sub_body.len);
    }

    if (!ctx->sub_jwks) {
        return rc;
    }

    /* a JWKS: into the shared zone for every worker */

    alcf = ngx_http_get_module_loc_conf(pr, ngx_http_gw_auth_module);

    if (ctx->sub_status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gw_auth: JWKS request \"%V\" failed with status %i",
                      &ctx->sub_uri, ctx->sub_status);

        /* keep what was there; try again after the refresh interval */
        ctx->sub_body.len = 0;
    }

    if (first) {
        amcf = ngx_http_get_module_main_conf(pr, ngx_http_gw_auth_module);

        ngx_http_gw_count(&amcf->counters,
                          NGX_HTTP_GW_AUTH_C_JWKS
                          + (ctx->sub_body.len ? 0 : 1), 1);
    }

    (void) ngx_http_gw_auth_jwks_store(pr, &ctx->sub_uri, &ctx->sub_body,
                                       alcf->key_cache);

    return rc;
}


/*
 * The claims of an established identity as JSON.  After a cache hit they
 * are parsed here, on first use: the JWT's payload from the token itself
 * (the bytes verified before), an introspection answer from the entry.
 */

static json_t *
ngx_http_gw_auth_claims(ngx_http_request_t *r, ngx_http_gw_auth_ctx_t *ctx)
{
    if (ctx->lazy_payload) {
        ctx->lazy_payload = 0;

        if (ctx->method == NGX_HTTP_GW_AUTH_JWT) {
            ctx->payload = ngx_http_gw_jose_part(r->pool, ctx->token.data,
                                                 ctx->token.len, 1);

        } else {
            ctx->payload = ngx_http_gw_jose_json(r->pool, ctx->answer.data,
                                                 ctx->answer.len);
        }

        if (ctx->payload == NULL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "gw_auth: cached claims could not be parsed");
        }
    }

    return json_is_object(ctx->payload) ? ctx->payload : NULL;
}


static json_t *
ngx_http_gw_auth_jws_header(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx)
{
    if (ctx->lazy_header) {
        ctx->lazy_header = 0;

        ctx->header = ngx_http_gw_jose_part(r->pool, ctx->token.data,
                                            ctx->token.len, 0);

        if (ctx->header == NULL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "gw_auth: cached JWS header could not be parsed");
        }
    }

    return json_is_object(ctx->header) ? ctx->header : NULL;
}


/*
 * The subject and the scope as text, taken once from the claims of an
 * identity just established: what the variables, the scope check and a
 * cache entry need.  The subject is "sub", for introspection else
 * "username" or "client_id"; a null one is none.  The scope is "scope"
 * else "scp", a space-separated list as the check reads it.
 */

static ngx_int_t
ngx_http_gw_auth_summarize(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, json_t *claims)
{
    json_t  *v;

    ctx->subject.len = 0;
    ctx->scope.len = 0;
    ctx->subject_set = 0;
    ctx->scope_set = 0;

    if (!json_is_object(claims)) {
        return NGX_OK;
    }

    v = json_object_get(claims, "sub");

    if (v == NULL && ctx->method == NGX_HTTP_GW_AUTH_INTROSPECT) {
        v = json_object_get(claims, "username");
        if (v == NULL) {
            v = json_object_get(claims, "client_id");
        }
    }

    if (v != NULL && !json_is_null(v)) {
        if (ngx_http_gw_jose_claim_text(r->pool, v, &ctx->subject) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->subject_set = 1;
    }

    v = json_object_get(claims, "scope");
    if (v == NULL) {
        v = json_object_get(claims, "scp");
    }

    if (v != NULL) {
        if (ngx_http_gw_jose_claim_text(r->pool, v, &ctx->scope) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->scope_set = !json_is_null(v);
    }

    return NGX_OK;
}


/* a cache entry's data back into the context; answer: what follows */

static ngx_int_t
ngx_http_gw_auth_summary_load(ngx_http_gw_auth_ctx_t *ctx, ngx_str_t *data)
{
    u_char                      *p;
    ngx_http_gw_auth_summary_t   sum;

    if (data->len < sizeof(ngx_http_gw_auth_summary_t)) {
        return NGX_DECLINED;
    }

    ngx_memcpy(&sum, data->data, sizeof(ngx_http_gw_auth_summary_t));

    if (data->len - sizeof(ngx_http_gw_auth_summary_t)
        < (size_t) sum.subject_len + sum.scope_len)
    {
        return NGX_DECLINED;
    }

    p = data->data + sizeof(ngx_http_gw_auth_summary_t);

    ctx->subject.data = p;
    ctx->subject.len = sum.subject_len;
    p += sum.subject_len;

    ctx->scope.data = p;
    ctx->scope.len = sum.scope_len;
    p += sum.scope_len;

    ctx->subject_set = (sum.flags & NGX_HTTP_GW_AUTH_SUBJECT) ? 1 : 0;
    ctx->scope_set = (sum.flags & NGX_HTTP_GW_AUTH_SCOPE) ? 1 : 0;

    ctx->answer.data = p;
    ctx->answer.len = data->data + data->len - p;

    return NGX_OK;
}


/*
 * Stores an identity just established: its summary, then "answer" (an
 * introspection result), until the credential's "exp" (a JSON number or
 * NULL) or max_ttl from now, whichever comes first.
 */

static ngx_int_t
ngx_http_gw_auth_cache_store(ngx_http_request_t *r,
    ngx_http_gw_auth_ctx_t *ctx, u_char *key, ngx_uint_t type, json_t *exp,
    ngx_str_t *answer)
{
    u_char                        *data, *p;
    size_t                         len;
    time_t                         expire, now;
    ngx_http_gw_auth_summary_t     sum;
    ngx_http_gw_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);

    now = ngx_time();
    expire = now + amcf->max_ttl;

    /* a fraction of a second less: never beyond "exp" */

    if (ngx_http_gw_jose_until(exp, now, amcf->max_ttl, &expire) != NGX_OK) {
        expire = now;
    }

    if (expire <= now
        || ctx->subject.len > NGX_MAX_UINT32_VALUE
        || ctx->scope.len > NGX_MAX_UINT32_VALUE)
    {
        return NGX_OK;
    }

    sum.subject_len = (uint32_t) ctx->subject.len;
    sum.scope_len = (uint32_t) ctx->scope.len;
    sum.flags = (ctx->subject_set ? NGX_HTTP_GW_AUTH_SUBJECT : 0)
                | (ctx->scope_set ? NGX_HTTP_GW_AUTH_SCOPE : 0);

    len = sizeof(ngx_http_gw_auth_summary_t) + ctx->subject.len
          + ctx->scope.len + (answer ? answer->len : 0);

    data = ngx_pnalloc(r->pool, len);
    if (data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(data, &sum, sizeof(ngx_http_gw_auth_summary_t));

    /* an unset subject or scope has no data: memcpy() from NULL is UB */

    if (ctx->subject.len) {
        p = ngx_cpymem(p, ctx->subject.data, ctx->subject.len);
    }

    if (ctx->scope.len) {
        p = ngx_cpymem(p, ctx->scope.data, ctx->scope.len);
    }

    if (answer) {
        p = ngx_cpymem(p, answer->data, answer->len);
    }

    return ngx_http_gw_shm_cache_put(amcf->cache->data, key, type, expire,
                                     data, len, r->connection->log);
}


/*
 * SHA-256 of a || b, with the digest fetched once per process and one
 * context reused: fetching it for every request costs OpenSSL 3 a lookup
 * under a lock.
 */

static ngx_int_t
ngx_http_gw_auth_digest(u_char *out, u_char *a, size_t alen, u_char *b,
    size_t blen)
{
    EVP_MD_CTX  *md;

    md = ngx_http_gw_auth_md_ctx;

    if (md == NULL
        || EVP_DigestInit_ex2(md, ngx_http_gw_auth_md, NULL) != 1
        || EVP_DigestUpdate(md, a, alen) != 1
        || (blen && EVP_DigestUpdate(md, b, blen) != 1)
        || EVP_DigestFinal_ex(md, out, NULL) != 1)
    {
        ERR_clear_error();
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a live cache entry, its data copied into the request's pool */

static ngx_int_t
ngx_http_gw_auth_cache_lookup(ngx_http_request_t *r, u_char *key,
    ngx_uint_t *type, ngx_str_t *data)
{
    ngx_int_t                      rc;
    ngx_http_gw_shm_cache_node_t  *an;
    ngx_http_gw_shm_cache_t       *zone;
    ngx_http_gw_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);
    zone = amcf->cache->data;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&zone->shpool->mutex);

    an = ngx_http_gw_shm_cache_get(zone, key);

    if (an && an->expire > ngx_time()) {
        *type = an->type;
        data->len = an->len;
        data->data = ngx_pnalloc(r->pool, an->len + 1);

        if (data->data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(data->data, an->data, an->len);

            ngx_queue_remove(&an->queue);
            ngx_queue_insert_head(&zone->sh->queue, &an->queue);

            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * A fetched JWKS: the shared copy is the truth; this worker parses it again
 * only when its generation changed.  NULL when none was fetched yet.
 */

static ngx_http_gw_auth_jwks_t *
ngx_http_gw_auth_jwks_get(ngx_http_request_t *r, ngx_str_t *uri,
    time_t *fetched, time_t *expire)
{
    u_char                         key[NGX_HTTP_GW_AUTH_KEY_LEN];
    u_char                        *copy;
    size_t                         len;
    ngx_uint_t                     i, generation;
    ngx_pool_t                    *pool;
    const                          char                    *err;
    ngx_array_t                   *keys;
    ngx_http_gw_auth_jwks_t       *jwks, *found;
    ngx_http_gw_shm_cache_node_t  *an;
    ngx_http_gw_shm_cache_t       *zone;
    ngx_http_gw_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);
    zone = amcf->jwks_zone->data;

    found = NULL;
    *fetched = 0;
    *expire = 0;

    if (ngx_http_gw_auth_digest(key, uri->data, uri->len, NULL, 0) != NGX_OK) {
        return NULL;
    }

    if (ngx_http_gw_auth_jwks == NULL) {
        ngx_http_gw_auth_jwks = ngx_array_create(ngx_cycle->pool, 4,
                                              sizeof(ngx_http_gw_auth_jwks_t));
        if (ngx_http_gw_auth_jwks == NULL) {
            return NULL;
        }
    }

    jwks = ngx_http_gw_auth_jwks->elts;

    for (i = 0; i < ngx_http_gw_auth_jwks->nelts; i++) {
        if (jwks[i].uri.len == uri->len
            && ngx_strncmp(jwks[i].uri.data, uri->data, uri->len) == 0)
        {
            found = &jwks[i];
            break;
        }
    }

    copy = NULL;
    len = 0;
    generation = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    an = ngx_http_gw_shm_cache_get(zone, key);

    if (an == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NULL;
    }

    *fetched = an->fetched;
    *expire = an->expire;
    generation = an->generation;

    if (found == NULL || found->generation != generation) {
        len = an->len;
        copy = ngx_alloc(len + 1, r->connection->log);

        if (copy) {
            ngx_memcpy(copy, an->data, len);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (found && found->generation == generation) {
        return found->keys ? found : NULL;
    }

    if (copy == NULL) {
        return found;
    }

    /* parse the new generation into a pool of its own */

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        ngx_free(copy);
        return found;
    }

    keys = ngx_array_create(pool, 4, sizeof(ngx_http_gw_jose_key_t));

    if (keys == NULL
        || len == 0
        || ngx_http_gw_jose_keys_parse(pool, keys, copy, len, &err) != NGX_OK)
    {
        if (len) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "gw_auth: JWKS from \"%V\" unusable: %s", uri,
                          keys ? err : "no memory");
        }

        ngx_destroy_pool(pool);
        pool = NULL;
        keys = NULL;
    }

    ngx_free(copy);

    if (found == NULL) {
        found = ngx_array_push(ngx_http_gw_auth_jwks);
        if (found == NULL) {
            if (pool) {
                ngx_destroy_pool(pool);
            }

            return NULL;
        }

        found->uri.data = ngx_pstrdup(ngx_cycle->pool, uri);
        found->uri.len = uri->len;
        found->pool = NULL;

    } else if (found->pool && pool) {
        ngx_destroy_pool(found->pool);
        found->pool = NULL;
    }

    if (pool) {
        found->pool = pool;
        found->keys = keys;

    } else if (found->pool == NULL) {
        found->keys = NULL;
    }

    found->generation = generation;

    return found->keys ? found : NULL;
}


/*
 * Stores a fetched JWKS for all workers.  An empty body (a failed fetch)
 * keeps the document there was, and only moves its fetch time, so that
 * refreshes stay rate-limited while the IdP is down.
 */

static ngx_int_t
ngx_http_gw_auth_jwks_store(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_str_t *body, time_t ttl)
{
    u_char                         key[NGX_HTTP_GW_AUTH_KEY_LEN];
    u_char                        *data;
    size_t                         len;
    time_t                         now, expire;
    ngx_uint_t                     generation;
    ngx_http_gw_shm_cache_node_t  *an;
    ngx_http_gw_shm_cache_t       *zone;
    ngx_http_gw_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_gw_auth_module);
    zone = amcf->jwks_zone->data;

    if (ngx_http_gw_auth_digest(key, uri->data, uri->len, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    now = ngx_time();
    data = body->data;
    len = body->len;
    expire = now + ttl;

    if (len > NGX_HTTP_GW_AUTH_JWKS_MAX) {
        /* the zone could not hold it: a failed fetch, retried later */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gw_auth: JWKS request \"%V\" answered %uz bytes, "
                      "more than the %uz a key document may have",
                      uri, len, (size_t) NGX_HTTP_GW_AUTH_JWKS_MAX);
        len = 0;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    /*
     * Generations count for the whole zone: an entry evicted and stored
     * again must never look unchanged to a worker that parsed it before.
     */

    generation = ++zone->sh->generation;

    an = ngx_http_gw_shm_cache_get(zone, key);

    if (an) {
        if (len == 0) {
            /* failed fetch: keep the old keys a little longer */
            an->fetched = now;
            an->expire = ngx_max(an->expire,
                                 now + NGX_HTTP_GW_AUTH_REFRESH_MIN);
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return NGX_OK;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (len == 0) {
        /* nothing ever fetched: remember the attempt, with no keys */
        expire = now + NGX_HTTP_GW_AUTH_REFRESH_MIN;
    }

    if (ngx_http_gw_shm_cache_put(zone, key, 0, expire, data, len,
                                   r->connection->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    an = ngx_http_gw_shm_cache_get(zone, key);
    if (an) {
        an->generation = generation;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/*
 * Internal redirects erase module contexts; the pool cleanup that holds
 * ours finds it again (as the realip module does), so a credential is
 * verified once per request.
 */

static ngx_http_gw_auth_ctx_t *
ngx_http_gw_auth_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_gw_auth_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gw_auth_module);

    if (ctx) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_gw_auth_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_gw_auth_module);
            return ctx;
        }
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_gw_auth_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_gw_auth_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_gw_auth_module);

    return ctx;
}


static void
ngx_http_gw_auth_cleanup(void *data)
{
    /* the context lives in the request pool; this only marks it */
}


/*
 * For the variables: the identity, established on first use without any
 * subrequest (key files, JWKS already fetched, cached introspection).
 */

static ngx_http_gw_auth_ctx_t *
ngx_http_gw_auth_identity(ngx_http_request_t *r)
{
    ngx_http_gw_auth_ctx_t       *ctx;
    ngx_http_gw_auth_loc_conf_t  *alcf;

    ctx = ngx_http_gw_auth_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->method || ctx->evaluated || ctx->waiting) {
        return ctx;
    }

    alcf = ngx_http_get_module_loc_conf(r->main, ngx_http_gw_auth_module);

    if (!alcf->jwt_set && !alcf->introspect_set && !alcf->api_key_set) {
        return ctx;
    }

    ctx->sync_only = 1;
    (void) ngx_http_gw_auth_evaluate(r->main, alcf, ctx);
    ctx->sync_only = 0;
    ctx->evaluated = 1;

    /* what failed here may pass in the access phase (a JWKS to fetch) */

    if (ctx->method == 0) {
        ctx->jwt_tried = 0;
        ctx->introspect_tried = 0;
        ctx->refreshed = 0;
        ctx->idp_failed = 0;
    }

    return ctx;
}


static ngx_int_t
ngx_http_gw_auth_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                s;
    ngx_http_gw_auth_ctx_t  *ctx;

    ctx = ngx_http_gw_auth_identity(r);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    s.len = 0;
    s.data = NULL;

    switch (data) {

    case NGX_HTTP_GW_AUTH_VAR_SUBJECT:
    case NGX_HTTP_GW_AUTH_VAR_CONSUMER:

        if (data == NGX_HTTP_GW_AUTH_VAR_CONSUMER && ctx->consumer.len) {
            s = ctx->consumer;
            break;
        }

        if (ctx->subject_set) {
            return ngx_http_gw_auth_text_value(r, v, &ctx->subject);
        }

        break;

    case NGX_HTTP_GW_AUTH_VAR_METHOD:
        s = ngx_http_gw_auth_methods[ctx->method];
        break;

    case NGX_HTTP_GW_AUTH_VAR_TOKEN:
        s = ctx->token;
        break;

    case NGX_HTTP_GW_AUTH_VAR_SCOPE:

        if (ctx->scope_set) {
            return ngx_http_gw_auth_text_value(r, v, &ctx->scope);
        }

        break;

    default: /* NGX_HTTP_GW_AUTH_VAR_STATUS */
        s = ctx->status;
        break;
    }

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s.len;
    v->data = s.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* $gw_jwt_claim_<name>: a top-level claim, or an introspection field */

static ngx_int_t
ngx_http_gw_auth_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t               *name = (ngx_str_t *) data;

    size_t                   n;
    json_t                  *claims;
    ngx_http_gw_auth_ctx_t  *ctx;

    ctx = ngx_http_gw_auth_identity(r);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    claims = ngx_http_gw_auth_claims(r, ctx);

    if (claims == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = sizeof("gw_jwt_claim_") - 1;

    return ngx_http_gw_auth_json_value(r, v,
               ngx_http_gw_jose_claim(claims, name->data + n, name->len - n));
}


/* $gw_jwt_header_<name>: a JOSE header parameter */

static ngx_int_t
ngx_http_gw_auth_header_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t               *name = (ngx_str_t *) data;

    size_t                   n;
    json_t                  *header;
    ngx_http_gw_auth_ctx_t  *ctx;

    ctx = ngx_http_gw_auth_identity(r);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    header = ngx_http_gw_auth_jws_header(r, ctx);

    if (header == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = sizeof("gw_jwt_header_") - 1;

    return ngx_http_gw_auth_json_value(r, v,
               ngx_http_gw_jose_claim(header, name->data + n, name->len - n));
}


/* gw_auth_jwt_claim_set: data is an array of path elements */

static ngx_int_t
ngx_http_gw_auth_claim_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_array_t             *path = (ngx_array_t *) data;

    json_t                  *c;
    ngx_str_t               *name;
    ngx_uint_t               i;
    ngx_http_gw_auth_ctx_t  *ctx;

    ctx = ngx_http_gw_auth_identity(r);

    if (ctx == NULL) {
        return NGX_ERROR;
    }

    c = ngx_http_gw_auth_claims(r, ctx);
    name = path->elts;

    for (i = 0; c && i < path->nelts; i++) {
        c = json_is_object(c) ? json_object_getn(c, (char *) name[i].data,
                                                 name[i].len)
                              : NULL;
    }

    return ngx_http_gw_auth_json_value(r, v, c);
}


static ngx_int_t
ngx_http_gw_auth_json_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, json_t *value)
{
    ngx_str_t  text;

    if (value == NULL || json_is_null(value)) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_gw_jose_claim_text(r->pool, value, &text) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_gw_auth_text_value(r, v, &text);
}


static ngx_int_t
ngx_http_gw_auth_text_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_str_t *text)
{
    u_char  *p;

    /* a claim may end up in a header: control characters never pass */

    for (p = text->data; p < text->data + text->len; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_auth: claim with a control character ignored");
            v->not_found = 1;
            return NGX_OK;
        }
    }

    v->len = text->len;
    v->data = text->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * gw_status: requests by method, result and reason (every reason a method
 * can be refused for, and any other counted), cache lookups, JWKS fetches
 * and introspection requests with their total time.
 */

static ngx_int_t
ngx_http_gw_auth_report(ngx_http_gw_report_t *rp, void *conf)
{
    ngx_http_gw_auth_main_conf_t *amcf = conf;

    int64_t                  n;
    ngx_uint_t               m, i, entries, evictions;
    ngx_http_gw_label_t      lb[3];
    ngx_http_gw_counters_t  *cs;

    static char  *cache[][2] = {
        { "cache_hits_total",
          "gw_auth_cache lookups that found the credential's result" },
        { "cache_misses_total",
          "gw_auth_cache lookups that did not" }
    };

    static ngx_str_t  jwks[] = {
        ngx_string("ok"), ngx_string("failed")
    };

    static ngx_str_t  idp[] = {
        ngx_string("active"), ngx_string("inactive"), ngx_string("failed")
    };

    cs = &amcf->counters;

    lb[0].name = "method";
    lb[1].name = "result";
    lb[2].name = "reason";

    if (rp->family(rp, "requests_total", NGX_HTTP_GW_COUNTER,
                   "Requests gw_auth accepted or rejected, by method and "
                   "reason")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (m = NGX_HTTP_GW_AUTH_JWT; m <= NGX_HTTP_GW_AUTH_API_KEY; m++) {
        lb[0].value = ngx_http_gw_auth_methods[m];

        for (i = 0; i < NGX_HTTP_GW_AUTH_NREASONS; i++) {
            n = ngx_http_gw_counter(cs, NGX_HTTP_GW_AUTH_C_REQUESTS
                                        + (m - 1) * NGX_HTTP_GW_AUTH_NREASONS
                                        + i);

            if (n == 0 && !(ngx_http_gw_auth_method_reasons[m] & (1 << i))) {
                continue;
            }

            if (i == NGX_HTTP_GW_AUTH_R_ACCEPTED) {
                ngx_str_set(&lb[1].value, "accepted");

            } else {
                ngx_str_set(&lb[1].value, "rejected");
            }

            lb[2].value = ngx_http_gw_auth_reasons[i];

            if (rp->sample(rp, lb, 3, n, 0) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    /* gw_auth_cache holds JWTs and introspection results, not API keys */

    for (i = 0; i < 2; i++) {
        if (rp->family(rp, cache[i][0], NGX_HTTP_GW_COUNTER, cache[i][1])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (m = NGX_HTTP_GW_AUTH_JWT; m <= NGX_HTTP_GW_AUTH_INTROSPECT; m++) {
            lb[0].value = ngx_http_gw_auth_methods[m];

            n = ngx_http_gw_counter(cs, (i ? NGX_HTTP_GW_AUTH_C_MISSES
                                           : NGX_HTTP_GW_AUTH_C_HITS)
                                        + m - 1);

            if (rp->sample(rp, lb, 1, n, 0) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    if (rp->family(rp, "jwks_fetches_total", NGX_HTTP_GW_COUNTER,
                   "JWKS requests of gw_auth_jwt_key_request, "
                   "ok when answered 200 with a body")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        lb[1].value = jwks[i];

        if (rp->sample(rp, &lb[1], 1,
                       ngx_http_gw_counter(cs, NGX_HTTP_GW_AUTH_C_JWKS + i), 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rp->family(rp, "introspection_requests_total", NGX_HTTP_GW_COUNTER,
                   "Introspection requests to the IdP, by its answer")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < 3; i++) {
        lb[1].value = idp[i];

        if (rp->sample(rp, &lb[1], 1,
                       ngx_http_gw_counter(cs, NGX_HTTP_GW_AUTH_C_IDP + i), 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rp->family(rp, "introspection_seconds_total", NGX_HTTP_GW_COUNTER,
                   "Time spent waiting for the IdP's introspection answers")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rp->sample(rp, NULL, 0,
                   ngx_http_gw_counter(cs, NGX_HTTP_GW_AUTH_C_IDP_MSEC), 3)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the families without a sample when there is no gw_auth_cache */

    entries = 0;
    evictions = 0;

    if (amcf->cache) {
        ngx_http_gw_shm_cache_stats(amcf->cache->data, &entries, &evictions);

        lb[0].name = "zone";
        lb[0].value = amcf->cache->shm.name;
    }

    if (rp->family(rp, "cache_entries", NGX_HTTP_GW_GAUGE,
                   "Verified tokens and introspection results in "
                   "gw_auth_cache")
        != NGX_OK
        || (amcf->cache
            && rp->sample(rp, lb, 1, (int64_t) entries, 0) != NGX_OK))
    {
        return NGX_ERROR;
    }

    if (rp->family(rp, "cache_evictions_total", NGX_HTTP_GW_COUNTER,
                   "Results dropped from gw_auth_cache before their time "
                   "to make room: the zone is too small")
        != NGX_OK
        || (amcf->cache
            && rp->sample(rp, lb, 1, (int64_t) evictions, 0) != NGX_OK))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void *
ngx_http_gw_auth_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gw_auth_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_auth_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    ngx_http_gw_reporter_init(&conf->reporter, "auth",
                              ngx_http_gw_auth_report);

    /* kept whether the module is used or not: gw_status shows zeros */

    if (ngx_http_gw_counters_add(cf, &conf->counters, "auth",
                                 NGX_HTTP_GW_AUTH_NCOUNTERS,
                                 &ngx_http_gw_auth_module)
        != NGX_OK)
    {
        return NULL;
    }

    return conf;
}


static void *
ngx_http_gw_auth_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gw_auth_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_auth_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->realm = { 0, NULL };
     *     conf->token = NULL;
     *     conf->introspect = { 0, NULL };
     *     conf->roles_claim = { 0, NULL };
     */

    conf->keys = NGX_CONF_UNSET_PTR;
    conf->key_files = NGX_CONF_UNSET_PTR;
    conf->key_requests = NGX_CONF_UNSET_PTR;
    conf->key_cache = NGX_CONF_UNSET;
    conf->algorithms = NGX_CONF_UNSET_UINT;
    conf->leeway = NGX_CONF_UNSET;
    conf->issuers = NGX_CONF_UNSET_PTR;
    conf->audiences = NGX_CONF_UNSET_PTR;
    conf->requires = NGX_CONF_UNSET_PTR;
    conf->api_keys = NGX_CONF_UNSET_PTR;
    conf->scopes = NGX_CONF_UNSET_PTR;
    conf->roles = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_gw_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_gw_auth_loc_conf_t  *prev = parent;
    ngx_http_gw_auth_loc_conf_t  *conf = child;

    /* "realm.data == NULL": gw_auth_jwt not set on this level */

    if (conf->realm.data == NULL) {
        conf->realm = prev->realm;
        conf->token = prev->token;
    }

    if (conf->introspect.data == NULL) {
        conf->introspect = prev->introspect;
    }

    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_ptr_value(conf->key_files, prev->key_files, NULL);
    ngx_conf_merge_ptr_value(conf->key_requests, prev->key_requests, NULL);
    ngx_conf_merge_sec_value(conf->key_cache, prev->key_cache, 600);
    ngx_conf_merge_uint_value(conf->algorithms, prev->algorithms,
                              NGX_HTTP_GW_JOSE_ALL);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 0);
    ngx_conf_merge_ptr_value(conf->issuers, prev->issuers, NULL);
    ngx_conf_merge_ptr_value(conf->audiences, prev->audiences, NULL);
    ngx_conf_merge_ptr_value(conf->requires, prev->requires, NULL);
    ngx_conf_merge_ptr_value(conf->api_keys, prev->api_keys, NULL);
    ngx_conf_merge_ptr_value(conf->scopes, prev->scopes, NULL);
    ngx_conf_merge_ptr_value(conf->roles, prev->roles, NULL);
    ngx_conf_merge_str_value(conf->roles_claim, prev->roles_claim, "roles");

    conf->jwt_set = (conf->realm.len != 0);
    conf->introspect_set = (conf->introspect.len != 0);
    conf->api_key_set = (conf->api_keys != NULL);

    if (conf->jwt_set && conf->keys == NULL && conf->key_requests == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gw_auth_jwt\" is set but no "
                           "\"gw_auth_jwt_key_file\" or "
                           "\"gw_auth_jwt_key_request\" is given");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_gw_auth_conf_identity(conf) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gw_auth: SHA-256 failed");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * What the verified-token cache is keyed on besides the token: everything
 * a JWT's verification depends on, other than time.  The key sources (the
 * digest of each key file's name and content: a key removed from a file
 * takes its tokens out of the cache at reload), the algorithms, and the
 * claim requirements, so a token cached at one location is never taken
 * as meeting another's issuer, audience or leeway.  Strings with their
 * lengths, lists with their counts: no two configurations run together.
 */

static ngx_int_t
ngx_http_gw_auth_conf_identity(ngx_http_gw_auth_loc_conf_t *conf)
{
    size_t        len;
    ngx_str_t    *s;
    ngx_uint_t    i, n, k, ok;
    EVP_MD_CTX   *md;
    ngx_array_t  *lists[4];

    md = ngx_http_gw_auth_md_ctx;

    if (EVP_DigestInit_ex2(md, ngx_http_gw_auth_md, NULL) != 1) {
        return NGX_ERROR;
    }

    ok = EVP_DigestUpdate(md, &conf->algorithms, sizeof(ngx_uint_t))
         & EVP_DigestUpdate(md, &conf->leeway, sizeof(time_t));

    lists[0] = conf->key_files;
    lists[1] = conf->key_requests;
    lists[2] = conf->issuers;
    lists[3] = conf->audiences;

    for (k = 0; k < 4; k++) {
        n = lists[k] ? lists[k]->nelts : 0;
        s = lists[k] ? lists[k]->elts : NULL;

        ok &= EVP_DigestUpdate(md, &n, sizeof(ngx_uint_t));

        for (i = 0; i < n; i++) {
            len = s[i].len;

            ok &= EVP_DigestUpdate(md, &len, sizeof(size_t))
                  & EVP_DigestUpdate(md, s[i].data, len);
        }
    }

    if (EVP_DigestFinal_ex(md, conf->identity, NULL) != 1 || ok != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* gw_auth_jwt <realm> [token=$variable] | off */

static char *
ngx_http_gw_auth_jwt_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_auth_loc_conf_t *alcf = conf;

    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (alcf->realm.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no parameters with \"off\"";
        }

        ngx_str_set(&alcf->realm, "");
        return NGX_CONF_OK;
    }

    if (value[1].len == 0 || ngx_strlchr(value[1].data,
                                         value[1].data + value[1].len, '"'))
    {
        return "has an invalid realm";
    }

    alcf->realm = value[1];
    ngx_http_gw_auth_used = 1;

    if (cf->args->nelts == 3) {

        if (ngx_strncmp(value[2].data, "token=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        value[2].data += 6;
        value[2].len -= 6;

        alcf->token = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (alcf->token == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[2];
        ccv.complex_value = alcf->token;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* gw_auth_jwt_key_file <path>: JWKS, JWK or PEM, read now */

static char *
ngx_http_gw_auth_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_auth_loc_conf_t *alcf = conf;

    char        *rv;
    ngx_str_t   *value, path, data, *s;
    const char  *err;

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_gw_auth_read_file(cf, &path, &data, 1024 * 1024);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (alcf->keys == NGX_CONF_UNSET_PTR) {
        alcf->keys = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_gw_jose_key_t));
        alcf->key_files = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));

        if (alcf->keys == NULL || alcf->key_files == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_gw_jose_keys_parse(cf->pool, alcf->keys, data.data,
                                    data.len, &err)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid key file \"%V\": %s", &path, err);
        return NGX_CONF_ERROR;
    }

    s = ngx_array_push(alcf->key_files);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    s->len = NGX_HTTP_GW_AUTH_KEY_LEN;
    s->data = ngx_pnalloc(cf->pool, NGX_HTTP_GW_AUTH_KEY_LEN);
    if (s->data == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the name with its NUL: "/a" + "bc" is not "/ab" + "c" */

    if (ngx_http_gw_auth_digest(s->data, path.data, path.len + 1,
                                data.data, data.len)
        != NGX_OK)
    {
        return "could not be digested";
    }

    return NGX_CONF_OK;
}


/* gw_auth_jwt_key_request <uri> */

static char *
ngx_http_gw_auth_key_request(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_auth_loc_conf_t *alcf = conf;

    ngx_str_t                     *value, *s, name;
    ngx_http_gw_auth_main_conf_t  *amcf;
    ngx_http_gw_shm_cache_t       *zone;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/') {
        return "needs a URI starting with \"/\"";
    }

    if (alcf->key_requests == NGX_CONF_UNSET_PTR) {
        alcf->key_requests = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (alcf->key_requests == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    s = ngx_array_push(alcf->key_requests);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = value[1];

    /* fetched documents are shared by all workers through one zone */

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gw_auth_module);

    if (amcf->jwks_zone == NULL) {
        ngx_str_set(&name, "gw_auth_jwks");

        amcf->jwks_zone = ngx_shared_memory_add(cf, &name,
                                                NGX_HTTP_GW_AUTH_JWKS_ZONE_SIZE,
                                                &ngx_http_gw_auth_module);
        if (amcf->jwks_zone == NULL) {
            return NGX_CONF_ERROR;
        }

        if (amcf->jwks_zone->data == NULL) {
            zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_shm_cache_t));
            if (zone == NULL) {
                return NGX_CONF_ERROR;
            }

            amcf->jwks_zone->init = ngx_http_gw_shm_cache_init_zone;
            amcf->jwks_zone->data = zone;
        }
    }

    return NGX_CONF_OK;
}


/* <directive> <string> ...: every argument into one list; repeatable */

static char *
ngx_http_gw_auth_str_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/* gw_auth_jwt_algorithms <alg> ... */

static char *
ngx_http_gw_auth_algorithms(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_auth_loc_conf_t *alcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, alg;

    if (alcf->algorithms != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    alcf->algorithms = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        alg = ngx_http_gw_jose_alg(value[i].data, value[i].len);

        if (alg == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unsupported algorithm \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        alcf->algorithms |= alg;
    }

    return NGX_CONF_OK;
}


/* gw_auth_jwt_require <$value> ... [error=401|403] */

static char *
ngx_http_gw_auth_require(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_auth_loc_conf_t *alcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         i, n;
    ngx_http_complex_value_t          *cv;
    ngx_http_gw_auth_require_t        *req;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (alcf->requires == NGX_CONF_UNSET_PTR) {
        alcf->requires = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_http_gw_auth_require_t));
        if (alcf->requires == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    req = ngx_array_push(alcf->requires);
    if (req == NULL) {
        return NGX_CONF_ERROR;
    }

    req->error = NGX_HTTP_UNAUTHORIZED;
    n = cf->args->nelts;

    if (ngx_strncmp(value[n - 1].data, "error=", 6) == 0) {

        if (ngx_strcmp(value[n - 1].data, "error=401") == 0) {
            req->error = NGX_HTTP_UNAUTHORIZED;

        } else if (ngx_strcmp(value[n - 1].data, "error=403") == 0) {
            req->error = NGX_HTTP_FORBIDDEN;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[n - 1]);
            return NGX_CONF_ERROR;
        }

        n--;
    }

    if (n < 2) {
        return "needs at least one value";
    }

    req->values = ngx_array_create(cf->pool, n - 1,
                                   sizeof(ngx_http_complex_value_t));
    if (req->values == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < n; i++) {

        if (value[i].data[0] != '$') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "value \"%V\" must start with a variable",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        cv = ngx_array_push(req->values);
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* gw_auth_jwt_claim_set <$variable> <name> ... */

static char *
ngx_http_gw_auth_claim_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t            *value, *s, name;
    ngx_uint_t            i;
    ngx_array_t          *path;
    ngx_http_variable_t  *var;

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '$') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid variable name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 1;
    name.len = value[1].len - 1;

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_CONF_ERROR;
    }

    path = ngx_array_create(cf->pool, cf->args->nelts - 2, sizeof(ngx_str_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        s = ngx_array_push(path);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    var->get_handler = ngx_http_gw_auth_claim_set_variable;
    var->data = (uintptr_t) path;

    return NGX_CONF_OK;
}


/* gw_auth_introspect <uri> | off */

static char *
ngx_http_gw_auth_introspect_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gw_auth_loc_conf_t *alcf = conf;

    ngx_str_t  *value;

    if (alcf->introspect.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&alcf->introspect, "");
        return NGX_CONF_OK;
    }

    if (value[1].data[0] != '/') {
        return "needs a URI starting with \"/\"";
    }

    alcf->introspect = value[1];
    ngx_http_gw_auth_used = 1;

    return NGX_CONF_OK;
}


/* gw_auth_api_key <file> [header=<name>] [arg=<name>] | off */

static char *
ngx_http_gw_auth_api_key_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gw_auth_loc_conf_t *alcf = conf;

    ngx_str_t                    *value, path;
    ngx_uint_t                    i;
    ngx_http_gw_auth_api_keys_t  *ak;

    if (alcf->api_keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no parameters with \"off\"";
        }

        alcf->api_keys = NULL;
        return NGX_CONF_OK;
    }

    ak = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_auth_api_keys_t));
    if (ak == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&ak->header, "X-API-Key");

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "header=", 7) == 0
            && value[i].len > 7)
        {
            ak->header.data = value[i].data + 7;
            ak->header.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "arg=", 4) == 0 && value[i].len > 4) {
            ak->arg.data = value[i].data + 4;
            ak->arg.len = value[i].len - 4;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_gw_auth_api_key_load(cf, ak, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    alcf->api_keys = ak;
    ngx_http_gw_auth_used = 1;

    return NGX_CONF_OK;
}


/*
 * The API key file: one key a line, "<sha256 hex of the key> <consumer>
 * [role,role...]"; "#" starts a comment.  No plaintext key is stored.
 */

static ngx_int_t
ngx_http_gw_auth_api_key_load(ngx_conf_t *cf, ngx_http_gw_auth_api_keys_t *ak,
    ngx_str_t *path)
{
    ngx_int_t    rc;
    ngx_str_t    data;
    ngx_uint_t   lineno;
    const char  *err;

    if (ngx_http_gw_auth_read_file(cf, path, &data, 16 * 1024 * 1024)
        != NGX_CONF_OK)
    {
        return NGX_ERROR;
    }

    err = NULL;

    rc = ngx_http_gw_api_key_parse(cf->pool, data.data, data.len, &ak->table,
                                   &lineno, &err);

    if (rc == NGX_DECLINED && ngx_strcmp(err, "duplicate key") == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate key on line %ui of API key file "
                           "\"%V\"", lineno, path);

    } else if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid line %ui in API key file \"%V\": %s",
                           lineno, path, err);
    }

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


/* gw_auth_cache zone=<name>:<size> [max_ttl=<time>] [negative_ttl=<time>] */

static char *
ngx_http_gw_auth_cache_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gw_auth_main_conf_t *amcf = conf;

    u_char                   *p;
    ssize_t                   size;
    ngx_str_t                *value, name, s;
    ngx_uint_t                i;
    ngx_http_gw_shm_cache_t  *zone;

    if (amcf->cache) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name.len = 0;
    size = 0;
    amcf->max_ttl = 300;
    amcf->negative_ttl = 30;

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

            if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "max_ttl=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            amcf->max_ttl = ngx_parse_time(&s, 1);
            if (amcf->max_ttl == (time_t) NGX_ERROR || amcf->max_ttl == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "negative_ttl=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            amcf->negative_ttl = ngx_parse_time(&s, 1);
            if (amcf->negative_ttl == (time_t) NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        return "needs \"zone\" parameter";
    }

    amcf->cache = ngx_shared_memory_add(cf, &name, size,
                                        &ngx_http_gw_auth_module);
    if (amcf->cache == NULL) {
        return NGX_CONF_ERROR;
    }

    if (amcf->cache->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_shm_cache_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    amcf->cache->init = ngx_http_gw_shm_cache_init_zone;
    amcf->cache->data = zone;

    return NGX_CONF_OK;
}


static char *
ngx_http_gw_auth_read_file(ngx_conf_t *cf, ngx_str_t *path, ngx_str_t *out,
    size_t max)
{
    u_char           *p;
    ssize_t           n;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *path;
    file.log = cf->log;

    file.fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || (size_t) ngx_file_size(&fi) > max)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "file \"%V\" is unreadable or too large", path);
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

    p[n] = '\0';
    out->data = p;
    out->len = n;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gw_auth_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    ngx_http_gw_auth_used = 0;

    /* jansson seeds its hashes once, here, not on a request */
    json_object_seed(0);

    /* and OpenSSL finds SHA-256 once, not for every digest */

    if (ngx_http_gw_auth_md == NULL) {
        ngx_http_gw_auth_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    }

    if (ngx_http_gw_auth_md_ctx == NULL) {
        ngx_http_gw_auth_md_ctx = EVP_MD_CTX_new();
    }

    if (ngx_http_gw_auth_md == NULL || ngx_http_gw_auth_md_ctx == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "gw_auth: SHA-256 is not available");
        return NGX_ERROR;
    }

    for (v = ngx_http_gw_auth_vars; v->name.len; v++) {
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
ngx_http_gw_auth_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    if (!ngx_http_gw_auth_used) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_gw_auth_handler;

    return NGX_OK;
}


static void
ngx_http_gw_auth_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                i;
    ngx_http_gw_auth_jwks_t  *jwks;

    if (ngx_http_gw_auth_jwks != NULL) {
        jwks = ngx_http_gw_auth_jwks->elts;

        for (i = 0; i < ngx_http_gw_auth_jwks->nelts; i++) {
            if (jwks[i].pool) {
                ngx_destroy_pool(jwks[i].pool);
            }
        }

        ngx_http_gw_auth_jwks = NULL;
    }

    ngx_http_gw_auth_exit_master(cycle);
}


/* what OpenSSL was asked for once, for the process, given back */

static void
ngx_http_gw_auth_exit_master(ngx_cycle_t *cycle)
{
    EVP_MD_CTX_free(ngx_http_gw_auth_md_ctx);
    ngx_http_gw_auth_md_ctx = NULL;

    EVP_MD_free(ngx_http_gw_auth_md);
    ngx_http_gw_auth_md = NULL;

    ngx_http_gw_jose_done();
}
