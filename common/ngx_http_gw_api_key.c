
/*
 * Copyright (C) nginx-gw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/crypto.h>

#include "ngx_http_gw_api_key.h"
#include "ngx_http_gw_sig.h"


ngx_int_t
ngx_http_gw_api_key_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_http_gw_api_key_table_t *table, ngx_uint_t *lineno, const char **err)
{
    u_char                 *p, *last, *line, *eol, *f[3], *fe[3];
    size_t                  dlen;
    uint32_t                h;
    ngx_str_t              *role;
    ngx_uint_t              n, nf, size, i;
    u_char                  digest[NGX_HTTP_GW_SIG_MAX_LEN];
    ngx_http_gw_api_key_t  *k;

    last = data + len;

    /* count the lines for a table at most half full */

    n = 0;
    for (p = data; p < last; p++) {
        if (*p == '\n') {
            n++;
        }
    }

    for (size = 16; size < 2 * (n + 1); size *= 2) { /* void */ }

    table->keys = ngx_pcalloc(pool, size * sizeof(ngx_http_gw_api_key_t));
    if (table->keys == NULL) {
        return NGX_ERROR;
    }

    table->mask = size - 1;

    p = data;
    *lineno = 0;

    while (p < last) {
        line = p;
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        p = eol + 1;
        (*lineno)++;

        /* fields separated by spaces or tabs */

        nf = 0;

        while (line < eol && nf < 3) {
            while (line < eol && (*line == ' ' || *line == '\t'
                                  || *line == '\r'))
            {
                line++;
            }

            if (line == eol || *line == '#') {
                break;
            }

            f[nf] = line;

            while (line < eol && *line != ' ' && *line != '\t'
                   && *line != '\r')
            {
                line++;
            }

            fe[nf++] = line;
        }

        if (nf == 0) {
            continue;
        }

        if (nf < 2 || fe[0] - f[0] != 2 * NGX_HTTP_GW_API_KEY_LEN
            || ngx_http_gw_sig_decode(NGX_HTTP_GW_SIG_HEX, f[0],
                                      2 * NGX_HTTP_GW_API_KEY_LEN, digest,
                                      &dlen)
               != NGX_OK)
        {
            *err = "expected \"<sha256 hex> <consumer> [roles]\"";
            return NGX_DECLINED;
        }

        h = ngx_crc32_short(digest, NGX_HTTP_GW_API_KEY_LEN);

        for (i = 0; ; i++) {
            k = &table->keys[(h + i) & table->mask];

            if (!k->used) {
                break;
            }

            if (ngx_memcmp(k->digest, digest, NGX_HTTP_GW_API_KEY_LEN) == 0) {
                *err = "duplicate key";
                return NGX_DECLINED;
            }
        }

        k->used = 1;
        ngx_memcpy(k->digest, digest, NGX_HTTP_GW_API_KEY_LEN);
        k->consumer.data = f[1];
        k->consumer.len = fe[1] - f[1];

        if (nf == 3) {
            k->roles = ngx_array_create(pool, 2, sizeof(ngx_str_t));
            if (k->roles == NULL) {
                return NGX_ERROR;
            }

            for (line = f[2]; line < fe[2]; line = eol + 1) {
                eol = ngx_strlchr(line, fe[2], ',');
                if (eol == NULL) {
                    eol = fe[2];
                }

                if (eol == line) {
                    continue;
                }

                role = ngx_array_push(k->roles);
                if (role == NULL) {
                    return NGX_ERROR;
                }

                role->data = line;
                role->len = eol - line;
            }
        }
    }

    return NGX_OK;
}


ngx_http_gw_api_key_t *
ngx_http_gw_api_key_find(ngx_http_gw_api_key_table_t *table, u_char *digest)
{
    uint32_t                h;
    ngx_uint_t              n;
    ngx_http_gw_api_key_t  *k;

    if (table->keys == NULL) {
        return NULL;
    }

    h = ngx_crc32_short(digest, NGX_HTTP_GW_API_KEY_LEN);

    for (n = 0; n <= table->mask; n++) {
        k = &table->keys[(h + n) & table->mask];

        if (!k->used) {
            return NULL;
        }

        if (CRYPTO_memcmp(k->digest, digest, NGX_HTTP_GW_API_KEY_LEN) == 0) {
            return k;
        }
    }

    return NULL;
}
