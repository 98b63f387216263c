
/*
 * Copyright (C) nginx-gw authors
 *
 * A key document, as the auth module gets it from a JWKS endpoint (the
 * body of a key_request subrequest) or reads it from a key file:
 * ngx_http_gw_jose_keys_parse() on a JWKS, a single JWK, or PEM public
 * keys and certificates.  The input is parsed twice into one array, as the
 * module gathers the keys of several documents into one, so the key limit
 * is reached too.  The keys it makes then verify fixed tokens of every
 * algorithm: a hostile key (odd RSA exponent, point off the curve, short
 * secret) must fail to verify, never crash.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_jose.h"

#include "fuzz_ngx.h"
#include "fuzz_vectors.h"


#define FZ_MAX_JWS  32


static ngx_pool_t             *fz_jws_pool;
static ngx_uint_t              fz_njws;
static ngx_http_gw_jose_jws_t  fz_jws[FZ_MAX_JWS];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    u_char                  *sig;
    ngx_uint_t               i, alg;
    const char              *err;
    ngx_http_gw_jose_jws_t  *jws;

    static const char  *tokens[] = {
        FZ_A1, FZ_A2, FZ_A3, FZ_RS512, FZ_PS256, FZ_PS384, FZ_ES384,
        FZ_ES512, FZ_EDDSA, FZ_HS256_PEM, NULL
    };

    /* kept for the whole run: an initialisation, not a leak */

    fz_jws_pool = fz_pool();

    for (i = 0; tokens[i] != NULL; i++) {
        if (ngx_http_gw_jose_parse(fz_jws_pool, (u_char *) tokens[i],
                                   ngx_strlen(tokens[i]),
                                   NGX_HTTP_GW_JOSE_ALL, &fz_jws[fz_njws++],
                                   &err)
            != NGX_OK)
        {
            fprintf(stderr, "token %lu: %s\n", (unsigned long) i, err);
            abort();
        }
    }

    /* and one of each algorithm, with a signature of its length */

    for (alg = 1; alg & NGX_HTTP_GW_JOSE_ALL; alg <<= 1) {
        jws = &fz_jws[fz_njws++];

        jws->alg = alg;
        ngx_str_set(&jws->signing_input, "eyJhbGciOiJIUzI1NiJ9.e30");

        jws->signature.len = (alg & NGX_HTTP_GW_JOSE_HS256) ? 32
                             : (alg & NGX_HTTP_GW_JOSE_HS384) ? 48
                             : (alg & NGX_HTTP_GW_JOSE_HS512) ? 64
                             : (alg & NGX_HTTP_GW_JOSE_ES512) ? 132
                             : (alg & NGX_HTTP_GW_JOSE_ES384) ? 96
                             : (alg & (NGX_HTTP_GW_JOSE_ES256
                                       |NGX_HTTP_GW_JOSE_EDDSA)) ? 64
                             : 256;

        sig = ngx_pnalloc(fz_jws_pool, jws->signature.len);
        if (sig == NULL) {
            abort();
        }

        ngx_memset(sig, 0x5a, jws->signature.len);
        jws->signature.data = sig;
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t                rc;
    ngx_uint_t               i, n, pass;
    ngx_pool_t              *pool;
    ngx_array_t              keys;
    const char              *err;
    ngx_http_gw_jose_key_t  *key;

    pool = fz_pool();

    if (ngx_array_init(&keys, pool, 4, sizeof(ngx_http_gw_jose_key_t))
        != NGX_OK)
    {
        abort();
    }

    for (pass = 0; pass < 2; pass++) {
        n = keys.nelts;
        err = NULL;

        rc = ngx_http_gw_jose_keys_parse(pool, &keys, (u_char *) data, size,
                                         &err);

        fz_check(rc == NGX_OK || rc == NGX_ERROR);

        if (rc != NGX_OK) {
            fz_check(err != NULL && keys.nelts == n);
            break;
        }

        fz_check(keys.nelts > n
                 && keys.nelts <= NGX_HTTP_GW_JOSE_MAX_KEYS);
    }

    key = keys.elts;

    for (i = 0; i < keys.nelts; i++) {
        fz_check(key[i].pkey != NULL);
        fz_check(key[i].algs != 0
                 && (key[i].algs & NGX_HTTP_GW_JOSE_ALL) == key[i].algs);
        fz_check(key[i].kty >= NGX_HTTP_GW_JOSE_KTY_OCT
                 && key[i].kty <= NGX_HTTP_GW_JOSE_KTY_OKP);

        /* RFC 8725 2.1: only an "oct" key is ever an HMAC secret */

        fz_check(((key[i].algs & NGX_HTTP_GW_JOSE_HS) != 0)
                 == (key[i].kty == NGX_HTTP_GW_JOSE_KTY_OCT));
    }

    if (keys.nelts) {
        for (i = 0; i < fz_njws; i++) {
            err = NULL;
            rc = ngx_http_gw_jose_verify(&fz_jws[i], &keys, &err);
            fz_check(rc == NGX_OK || ((rc == NGX_DECLINED || rc == NGX_BUSY)
                                      && err != NULL));
        }
    }

    ngx_destroy_pool(pool);

    return 0;
}
