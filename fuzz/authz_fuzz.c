
/*
 * Copyright (C) nginx-gw authors
 *
 * The Authorization header.  The auth module reads it inline in
 * ngx_http_gw_auth_get_token(), which takes the request, so this target
 * fuzzes fz_auth_bearer(), a copy of that code without the request; replace
 * it with a call of the pure function once it is extracted (fuzz/README.md,
 * "Not yet separable").  The token found goes on, as in the module, to
 * ngx_http_gw_jose_parse() (the jws target fuzzes that in depth).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_jose.h"

#include "fuzz_ngx.h"


static ngx_int_t fz_auth_bearer(ngx_str_t *value, ngx_str_t *token);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t                rc;
    ngx_str_t                value, token;
    ngx_pool_t              *pool;
    const char              *err;
    ngx_http_gw_jose_jws_t   jws;

    value.data = (u_char *) data;
    value.len = size;

    rc = fz_auth_bearer(&value, &token);
    fz_check(rc == NGX_OK || rc == NGX_DECLINED);

    if (rc != NGX_OK) {
        return 0;
    }

    fz_check(token.len > 0 && fz_within(token.data, token.len, data, size));
    fz_check(token.data[0] != ' ' && token.data[token.len - 1] != ' ');

    pool = fz_pool();

    rc = ngx_http_gw_jose_parse(pool, token.data, token.len,
                                NGX_HTTP_GW_JOSE_ALL, &jws, &err);
    fz_check(rc == NGX_OK || rc == NGX_DECLINED);

    ngx_destroy_pool(pool);

    return 0;
}


/*
 * A copy of the header part of ngx_http_gw_auth_get_token()
 * (ngx_http_gw_auth_module.c, from 'if (h == NULL || h->value.len <
 * sizeof("Bearer "))' to the end), h->value being the header's value.
 */

static ngx_int_t
fz_auth_bearer(ngx_str_t *value, ngx_str_t *token)
{
    u_char  *p, *last;

    if (value->len < sizeof("Bearer ")) {
        return NGX_DECLINED;
    }

    if (ngx_strncasecmp(value->data, (u_char *) "Bearer ", 7) != 0) {
        return NGX_DECLINED;
    }

    p = value->data + 7;
    last = value->data + value->len;

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
