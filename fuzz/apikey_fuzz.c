
/*
 * Copyright (C) nginx-gw authors
 *
 * The API key file of gw_auth_api_key: "<sha256 hex> <consumer> [roles]"
 * a line, as ngx_http_gw_auth_read_file() leaves it (NUL-terminated), into
 * ngx_http_gw_api_key_parse(), the module's own parser
 * (common/ngx_http_gw_api_key.c).  Every key loaded must be found again by
 * ngx_http_gw_api_key_find(), and consumers and roles must lie inside the
 * input.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/crypto.h>

#include "ngx_http_gw_api_key.h"

#include "fuzz_ngx.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                       *p;
    ngx_str_t                     file, *role;
    ngx_uint_t                    i, j, line;
    ngx_pool_t                   *pool;
    const char                   *err;
    ngx_http_gw_api_key_t        *k;
    ngx_http_gw_api_key_table_t   ak;

    pool = fz_pool();

    /* as ngx_http_gw_auth_read_file() leaves it */

    p = ngx_pnalloc(pool, size + 1);
    if (p == NULL) {
        abort();
    }

    ngx_memcpy(p, data, size);
    p[size] = '\0';

    file.data = p;
    file.len = size;

    ngx_memzero(&ak, sizeof(ngx_http_gw_api_key_table_t));

    err = NULL;

    if (ngx_http_gw_api_key_parse(pool, file.data, file.len, &ak, &line,
                                  &err)
        != NGX_OK)
    {
        fz_check(err != NULL || ak.keys == NULL);
        goto done;
    }

    for (i = 0; i <= ak.mask; i++) {
        k = &ak.keys[i];

        if (!k->used) {
            continue;
        }

        fz_check(ngx_http_gw_api_key_find(&ak, k->digest) == k);
        fz_check(k->consumer.len > 0
                 && fz_within(k->consumer.data, k->consumer.len, p, size));

        if (k->roles == NULL) {
            continue;
        }

        role = k->roles->elts;

        for (j = 0; j < k->roles->nelts; j++) {
            fz_check(role[j].len > 0
                     && fz_within(role[j].data, role[j].len, p, size)
                     && ngx_strlchr(role[j].data, role[j].data + role[j].len,
                                    ',')
                        == NULL);
        }
    }

done:

    ngx_destroy_pool(pool);

    return 0;
}
