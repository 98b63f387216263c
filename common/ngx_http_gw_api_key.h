
/*
 * Copyright (C) nginx-gw authors
 *
 * The API key file of gw_auth_api_key, "<sha256 hex> <consumer> [roles]" a
 * line ('#' starts a comment, roles are comma-separated), parsed into an
 * open-addressed table keyed by the digest, at most half full.  Pure: a
 * buffer and a pool in, no configuration or request, so that the fuzz
 * target (fuzz/apikey) runs this very code.  Consumers and roles point into
 * the buffer, which must outlive the table.
 */


#ifndef _NGX_HTTP_GW_API_KEY_H_INCLUDED_
#define _NGX_HTTP_GW_API_KEY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_common.h"


#define NGX_HTTP_GW_API_KEY_LEN  32     /* SHA-256 */


typedef struct {
    u_char                          digest[NGX_HTTP_GW_API_KEY_LEN];
    ngx_str_t                       consumer;
    ngx_array_t                    *roles;          /* ngx_str_t */
    ngx_uint_t                      used;
} ngx_http_gw_api_key_t;


typedef struct {
    ngx_http_gw_api_key_t          *keys;
    ngx_uint_t                      mask;           /* table size - 1 */
} ngx_http_gw_api_key_table_t;


/*
 * NGX_OK; NGX_DECLINED with the line number and what is wrong with it;
 * NGX_ERROR when out of memory.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_api_key_parse(ngx_pool_t *pool,
    u_char *data, size_t len, ngx_http_gw_api_key_table_t *table,
    ngx_uint_t *lineno, const char **err);

/* the key of digest, or NULL; the digests are compared in constant time */
NGX_HTTP_GW_LOCAL ngx_http_gw_api_key_t *ngx_http_gw_api_key_find(
    ngx_http_gw_api_key_table_t *table, u_char *digest);


#endif /* _NGX_HTTP_GW_API_KEY_H_INCLUDED_ */
