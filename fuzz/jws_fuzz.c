
/*
 * Copyright (C) nginx-gw authors
 *
 * A JWS compact token, as the auth module takes it from "Authorization:
 * Bearer" (ngx_http_gw_auth_jwt()): ngx_http_gw_jose_parse() with every
 * algorithm allowed; a token it accepts is verified against the published
 * keys (so a fuzzed signature reaches HMAC, RSA, PSS, ECDSA and EdDSA
 * verification) and its claims go through the checks and the claim
 * lookups and texts that the module's variables and "require" use.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_jose.h"

#include "fuzz_ngx.h"
#include "fuzz_vectors.h"


static void fz_claims(ngx_pool_t *pool, json_t *obj);


static ngx_array_t  fz_keys;
static ngx_array_t  fz_list;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_str_t   *s;
    ngx_uint_t   i;
    ngx_pool_t  *pool;
    const char  *err;

    static const char  *keys[] = {
        FZ_A1_JWK, FZ_A2_JWK, FZ_A3_JWK, FZ_8037_JWK, FZ_RSA_JWK,
        FZ_P384_JWK, FZ_P521_JWK, FZ_ED_PEM, NULL
    };

    /* kept for the whole run: an initialisation, not a leak */

    pool = fz_pool();

    if (ngx_array_init(&fz_keys, pool, 8, sizeof(ngx_http_gw_jose_key_t))
        != NGX_OK
        || ngx_array_init(&fz_list, pool, 2, sizeof(ngx_str_t)) != NGX_OK)
    {
        abort();
    }

    for (i = 0; keys[i] != NULL; i++) {
        if (ngx_http_gw_jose_keys_parse(pool, &fz_keys, (u_char *) keys[i],
                                        ngx_strlen(keys[i]), &err)
            != NGX_OK)
        {
            fprintf(stderr, "key %lu: %s\n", (unsigned long) i, err);
            abort();
        }
    }

    s = ngx_array_push(&fz_list);
    if (s == NULL) {
        abort();
    }

    ngx_str_set(s, "joe");

    s = ngx_array_push(&fz_list);
    if (s == NULL) {
        abort();
    }

    ngx_str_set(s, "api");

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    time_t                   t;
    ngx_int_t                rc;
    ngx_pool_t              *pool;
    const char              *err;
    ngx_http_gw_jose_jws_t   jws;

    static time_t  times[] = { 0, 1300819380, 1700000000, 4102444800,
                               NGX_MAX_INT32_VALUE };

    pool = fz_pool();

    err = NULL;
    rc = ngx_http_gw_jose_parse(pool, (u_char *) data, size,
                                NGX_HTTP_GW_JOSE_ALL, &jws, &err);

    fz_check(rc == NGX_OK || rc == NGX_DECLINED);

    if (rc != NGX_OK) {
        fz_check(err != NULL);
        goto done;
    }

    fz_check(json_is_object(jws.header) && json_is_object(jws.payload));
    fz_check(jws.alg != 0 && (jws.alg & (jws.alg - 1)) == 0
             && (jws.alg & NGX_HTTP_GW_JOSE_ALL) == jws.alg);
    fz_check(jws.signing_input.data == (u_char *) data
             && jws.signing_input.len < size);
    fz_check(jws.kid.len <= 256);

    err = NULL;
    rc = ngx_http_gw_jose_verify(&jws, &fz_keys, &err);
    fz_check(rc == NGX_OK || ((rc == NGX_DECLINED || rc == NGX_BUSY)
                              && err != NULL));

    for (t = 0; t < (time_t) (sizeof(times) / sizeof(times[0])); t++) {
        (void) ngx_http_gw_jose_check_time(jws.payload, times[t], 60, &err);
    }

    (void) ngx_http_gw_jose_check_issuer(jws.payload, &fz_list, &err);
    (void) ngx_http_gw_jose_check_audience(jws.payload, &fz_list, &err);

    fz_claims(pool, jws.header);
    fz_claims(pool, jws.payload);

done:

    ngx_destroy_pool(pool);

    return 0;
}


/* what $gw_jwt_claim_*, $gw_auth_claim_* and "require" read */

static void
fz_claims(ngx_pool_t *pool, json_t *obj)
{
    json_t      *v;
    ngx_str_t    text;
    ngx_uint_t   i;
    const char  *key;

    static const char  *paths[] = {
        "sub", "scope", "scp", "roles", "realm_access.roles",
        "resource_access.api.roles", "http://example.com/is_root",
        "a.b.c.d", ".", "..", "a.", ".a", NULL
    };

    for (i = 0; paths[i] != NULL; i++) {
        v = ngx_http_gw_jose_claim(obj, (u_char *) paths[i],
                                   ngx_strlen(paths[i]));

        if (v != NULL) {
            fz_check(ngx_http_gw_jose_claim_text(pool, v, &text) == NGX_OK);
        }
    }

    json_object_foreach(obj, key, v) {
        /* a member is found by its whole name first, dots or not */

        fz_check(ngx_strlen(key) == 0
                 || ngx_http_gw_jose_claim(obj, (u_char *) key,
                                           ngx_strlen(key))
                    == v);
        fz_check(ngx_http_gw_jose_claim_text(pool, v, &text) == NGX_OK);
    }
}
