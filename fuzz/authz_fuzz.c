
/*
 * Copyright (C) nginx-gw authors
 *
 * The Authorization header: ngx_http_gw_sig_parse_bearer(), which the
 * auth module's ngx_http_gw_auth_get_token() calls on the header's value.
 * The token found goes on, as in the module, to ngx_http_gw_jose_parse()
 * (the jws target fuzzes that in depth).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_jose.h"
#include "ngx_http_gw_sig.h"

#include "fuzz_ngx.h"


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

    rc = ngx_http_gw_sig_parse_bearer(value.data, value.len, &token);
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
