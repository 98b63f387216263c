
/*
 * Copyright (C) nginx-gw authors
 *
 * Pure parsers for credential and signature headers: Stripe's
 * "t=<ts>,v1=<hex>,...", Standard Webhooks' "v1,<base64> v1,<base64>",
 * Unix timestamps, hex / base64 signature values, and the token of an
 * "Authorization: Bearer <token>" value.  They take buffers
 * and lengths, never a request, so fuzzers and unit tests call them
 * directly.  Results point into the input buffer; nothing is allocated.
 */


#ifndef _NGX_HTTP_GW_SIG_H_INCLUDED_
#define _NGX_HTTP_GW_SIG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_common.h"


/* at most this many candidate signatures are taken from one header */
#define NGX_HTTP_GW_SIG_MAX       8

/* the largest MAC we verify: SHA-512 */
#define NGX_HTTP_GW_SIG_MAX_LEN   64

#define NGX_HTTP_GW_SIG_HEX       0
#define NGX_HTTP_GW_SIG_BASE64    1


typedef struct {
    ngx_str_t    timestamp;
    ngx_uint_t   nsigs;
    ngx_str_t    sigs[NGX_HTTP_GW_SIG_MAX];
} ngx_http_gw_sig_list_t;


NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_sig_parse_stripe(u_char *p,
    size_t len, ngx_http_gw_sig_list_t *list);
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_sig_parse_standard(u_char *p,
    size_t len, ngx_http_gw_sig_list_t *list);
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_sig_parse_time(u_char *p,
    size_t len, time_t *t);
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_sig_decode(ngx_uint_t encoding,
    u_char *src, size_t len, u_char *dst, size_t *dlen);

/* the token of "Bearer <token>" (scheme in any case, spaces trimmed) */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_sig_parse_bearer(u_char *p,
    size_t len, ngx_str_t *token);


#endif /* _NGX_HTTP_GW_SIG_H_INCLUDED_ */
