
/*
 * Copyright (C) nginx-gw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_sig.h"


static u_char ngx_http_gw_sig_hex(u_char c);
static u_char *ngx_http_gw_sig_trim(u_char *p, u_char *last, u_char **end);


/*
 * Stripe-Signature: t=1492774577,v1=5257a8...,v0=6ffbb5...
 *
 * Exactly one "t" is required; every "v1" is a candidate signature; other
 * schemes ("v0", future ones) are ignored, as Stripe documents.  Returns
 * NGX_DECLINED for a malformed header.
 */

ngx_int_t
ngx_http_gw_sig_parse_stripe(u_char *p, size_t len,
    ngx_http_gw_sig_list_t *list)
{
    u_char  *last, *item, *end, *eq, *k, *v, *kend, *vend;

    ngx_memzero(list, sizeof(ngx_http_gw_sig_list_t));

    last = p + len;

    while (p < last) {

        item = p;
        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        p = end + 1;

        eq = ngx_strlchr(item, end, '=');
        if (eq == NULL) {
            return NGX_DECLINED;
        }

        k = ngx_http_gw_sig_trim(item, eq, &kend);
        v = ngx_http_gw_sig_trim(eq + 1, end, &vend);

        if (k == kend || v == vend) {
            return NGX_DECLINED;
        }

        if (kend - k == 1 && *k == 't') {

            if (list->timestamp.data != NULL) {
                return NGX_DECLINED;
            }

            list->timestamp.data = v;
            list->timestamp.len = vend - v;
            continue;
        }

        if (kend - k == 2 && k[0] == 'v' && k[1] == '1') {

            if (list->nsigs == NGX_HTTP_GW_SIG_MAX) {
                continue;
            }

            list->sigs[list->nsigs].data = v;
            list->sigs[list->nsigs].len = vend - v;
            list->nsigs++;
        }
    }

    if (list->timestamp.data == NULL || list->nsigs == 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,...
 *
 * Space-separated "<version>,<signature>" entries; every "v1" entry is a
 * candidate, other versions (such as the asymmetric "v1a") are ignored.
 */

ngx_int_t
ngx_http_gw_sig_parse_standard(u_char *p, size_t len,
    ngx_http_gw_sig_list_t *list)
{
    u_char  *last, *item, *end, *comma;

    ngx_memzero(list, sizeof(ngx_http_gw_sig_list_t));

    last = p + len;

    while (p < last) {

        if (*p == ' ') {
            p++;
            continue;
        }

        item = p;
        end = ngx_strlchr(p, last, ' ');
        if (end == NULL) {
            end = last;
        }

        p = end;

        comma = ngx_strlchr(item, end, ',');
        if (comma == NULL || comma == item || comma + 1 == end) {
            return NGX_DECLINED;
        }

        if (comma - item != 2 || item[0] != 'v' || item[1] != '1') {
            continue;
        }

        if (list->nsigs == NGX_HTTP_GW_SIG_MAX) {
            continue;
        }

        list->sigs[list->nsigs].data = comma + 1;
        list->sigs[list->nsigs].len = end - (comma + 1);
        list->nsigs++;
    }

    if (list->nsigs == 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* a Unix time in seconds: 1 to 12 decimal digits, nothing else */

ngx_int_t
ngx_http_gw_sig_parse_time(u_char *p, size_t len, time_t *t)
{
    time_t  value;

    if (len == 0 || len > 12) {
        return NGX_DECLINED;
    }

    value = 0;

    while (len--) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }

        value = value * 10 + (*p++ - '0');
    }

    *t = value;

    return NGX_OK;
}


/*
 * Decodes a hex (either case) or base64 (standard alphabet, padding
 * optional) signature into dst, which holds NGX_HTTP_GW_SIG_MAX_LEN bytes.
 */

ngx_int_t
ngx_http_gw_sig_decode(ngx_uint_t encoding, u_char *src, size_t len,
    u_char *dst, size_t *dlen)
{
    u_char     hi, lo;
    size_t     i;
    ngx_str_t  in, out;

    if (len == 0) {
        return NGX_DECLINED;
    }

    if (encoding == NGX_HTTP_GW_SIG_HEX) {

        if (len % 2 || len / 2 > NGX_HTTP_GW_SIG_MAX_LEN) {
            return NGX_DECLINED;
        }

        for (i = 0; i < len / 2; i++) {
            hi = ngx_http_gw_sig_hex(src[2 * i]);
            lo = ngx_http_gw_sig_hex(src[2 * i + 1]);

            if (hi == 0xff || lo == 0xff) {
                return NGX_DECLINED;
            }

            dst[i] = (u_char) (hi << 4 | lo);
        }

        *dlen = len / 2;

        return NGX_OK;
    }

    if (len > ngx_base64_encoded_length(NGX_HTTP_GW_SIG_MAX_LEN)) {
        return NGX_DECLINED;
    }

    /* padding, if any, only at the end: nothing may follow it */

    for (i = 0; i < len; i++) {
        if (src[i] == '=') {
            break;
        }
    }

    if (len - i > 2) {
        return NGX_DECLINED;
    }

    /* i characters decode to i * 6 / 8 bytes: 86 of them fill 64 bytes */

    if (i * 6 / 8 > NGX_HTTP_GW_SIG_MAX_LEN) {
        return NGX_DECLINED;
    }

    for ( /* void */ ; i < len; i++) {
        if (src[i] != '=') {
            return NGX_DECLINED;
        }
    }

    in.data = src;
    in.len = len;
    out.data = dst;

    if (ngx_decode_base64(&out, &in) != NGX_OK) {
        return NGX_DECLINED;
    }

    *dlen = out.len;

    return NGX_OK;
}


/*
 * "Bearer <token>" (RFC 6750 section 2.1, the scheme in any case): the
 * token, without the spaces around it; NGX_DECLINED for anything else.
 */

ngx_int_t
ngx_http_gw_sig_parse_bearer(u_char *p, size_t len, ngx_str_t *token)
{
    u_char  *last;

    if (len < sizeof("Bearer ")
        || ngx_strncasecmp(p, (u_char *) "Bearer ", 7) != 0)
    {
        return NGX_DECLINED;
    }

    last = p + len;
    p += 7;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    if (p == last) {
        return NGX_DECLINED;
    }

    token->data = p;
    token->len = last - p;

    return NGX_OK;
}


/* the value of one hex digit, either case; 0xff for anything else */

static u_char
ngx_http_gw_sig_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return 0xff;
}


static u_char *
ngx_http_gw_sig_trim(u_char *p, u_char *last, u_char **end)
{
    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    *end = last;

    return p;
}
