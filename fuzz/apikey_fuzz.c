
/*
 * Copyright (C) nginx-gw authors
 *
 * The API key file of gw_auth_api_key: "<sha256 hex> <consumer> [roles]"
 * a line.  The auth module parses it in ngx_http_gw_auth_api_key_load(),
 * which takes the ngx_conf_t and reads the file itself, so this target
 * fuzzes fz_api_keys_parse(), a copy of its parsing (the file's bytes as
 * ngx_http_gw_auth_read_file() leaves them: NUL-terminated), and of the
 * table lookup of ngx_http_gw_auth_api_key(); replace both with calls of
 * the pure functions once they are extracted (fuzz/README.md, "Not yet
 * separable").  ngx_http_gw_sig_decode() (hex) is the module's own.  Every
 * key loaded must be found again by the lookup.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/crypto.h>

#include "ngx_http_gw_sig.h"
#include "ngx_http_gw_shm_cache.h"

#include "fuzz_ngx.h"


#define NGX_HTTP_GW_AUTH_KEY_LEN        NGX_HTTP_GW_SHM_CACHE_KEY_LEN


/* copies of the module's types */

typedef struct {
    u_char                          digest[NGX_HTTP_GW_AUTH_KEY_LEN];
    ngx_str_t                       consumer;
    ngx_array_t                    *roles;          /* ngx_str_t */
    ngx_uint_t                      used;
} ngx_http_gw_auth_api_key_t;


typedef struct {
    ngx_http_gw_auth_api_key_t     *keys;
    ngx_uint_t                      mask;           /* table size - 1 */
    ngx_str_t                       header;
    ngx_str_t                       arg;
} ngx_http_gw_auth_api_keys_t;


static ngx_int_t fz_api_keys_parse(ngx_pool_t *pool,
    ngx_http_gw_auth_api_keys_t *ak, ngx_str_t *data);
static ngx_http_gw_auth_api_key_t *fz_api_key_find(
    ngx_http_gw_auth_api_keys_t *ak, u_char *digest);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                       *p;
    ngx_str_t                     file, *role;
    ngx_uint_t                    i, j;
    ngx_pool_t                   *pool;
    ngx_http_gw_auth_api_key_t   *k;
    ngx_http_gw_auth_api_keys_t   ak;

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

    ngx_memzero(&ak, sizeof(ngx_http_gw_auth_api_keys_t));

    if (fz_api_keys_parse(pool, &ak, &file) != NGX_OK) {
        goto done;
    }

    for (i = 0; i <= ak.mask; i++) {
        k = &ak.keys[i];

        if (!k->used) {
            continue;
        }

        fz_check(fz_api_key_find(&ak, k->digest) == k);
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


/*
 * A copy of ngx_http_gw_auth_api_key_load() (ngx_http_gw_auth_module.c)
 * from "count the lines" on, cf->pool being pool and each
 * ngx_conf_log_error() and "return NGX_ERROR" an NGX_ERROR.
 */

static ngx_int_t
fz_api_keys_parse(ngx_pool_t *pool, ngx_http_gw_auth_api_keys_t *ak,
    ngx_str_t *data)
{
    u_char                      *p, *last, *line, *eol, *f[3], *fe[3];
    size_t                       len;
    uint32_t                     h;
    ngx_str_t                   *role;
    ngx_uint_t                   n, nf, size, lineno, i;
    u_char                       digest[NGX_HTTP_GW_SIG_MAX_LEN];
    ngx_http_gw_auth_api_key_t  *k;

    /* count the lines for a table at most half full */

    n = 0;
    for (p = data->data; p < data->data + data->len; p++) {
        if (*p == '\n') {
            n++;
        }
    }

    for (size = 16; size < 2 * (n + 1); size *= 2) { /* void */ }

    ak->keys = ngx_pcalloc(pool, size * sizeof(ngx_http_gw_auth_api_key_t));
    if (ak->keys == NULL) {
        return NGX_ERROR;
    }

    ak->mask = size - 1;

    p = data->data;
    last = data->data + data->len;
    lineno = 0;

    while (p < last) {
        line = p;
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        p = eol + 1;
        lineno++;

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

        if (nf < 2 || fe[0] - f[0] != 64
            || ngx_http_gw_sig_decode(NGX_HTTP_GW_SIG_HEX, f[0], 64, digest,
                                      &len) != NGX_OK)
        {
            return NGX_ERROR;
        }

        h = ngx_crc32_short(digest, NGX_HTTP_GW_AUTH_KEY_LEN);

        for (i = 0; ; i++) {
            k = &ak->keys[(h + i) & ak->mask];

            if (!k->used) {
                break;
            }

            if (ngx_memcmp(k->digest, digest, NGX_HTTP_GW_AUTH_KEY_LEN) == 0)
            {
                return NGX_ERROR;
            }
        }

        k->used = 1;
        ngx_memcpy(k->digest, digest, NGX_HTTP_GW_AUTH_KEY_LEN);
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


/* a copy of the table lookup of ngx_http_gw_auth_api_key() */

static ngx_http_gw_auth_api_key_t *
fz_api_key_find(ngx_http_gw_auth_api_keys_t *ak, u_char *digest)
{
    uint32_t                     h;
    ngx_uint_t                   n, found;
    ngx_http_gw_auth_api_key_t  *k, *match;

    h = ngx_crc32_short(digest, NGX_HTTP_GW_AUTH_KEY_LEN);
    match = NULL;
    found = 0;

    for (n = 0; n <= ak->mask; n++) {
        k = &ak->keys[(h + n) & ak->mask];

        if (!k->used) {
            break;
        }

        found = (CRYPTO_memcmp(k->digest, digest,
                               NGX_HTTP_GW_AUTH_KEY_LEN) == 0);

        if (found) {
            match = k;
            break;
        }
    }

    return match;
}
