
/*
 * Copyright (C) nginx-gw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ngx_http_gw_jose.h"


/* JSON texts and key files: size and nesting limits */
#define NGX_HTTP_GW_JOSE_MAX_INPUT     (1024 * 1024)
#define NGX_HTTP_GW_JOSE_MAX_DEPTH     64

/* the longest "kid" a token may carry */
#define NGX_HTTP_GW_JOSE_MAX_KID       256

/* HMAC secrets: RFC 7518 3.2 wants at least the digest size */
#define NGX_HTTP_GW_JOSE_MAX_SECRET    1024

#define NGX_HTTP_GW_JOSE_MIN_RSA_BITS  2048

/* P-521: 66 bytes a coordinate, and R and S of an ES512 signature */
#define NGX_HTTP_GW_JOSE_MAX_EC_SIZE   66
#define NGX_HTTP_GW_JOSE_MAX_EC_DER    (2 * NGX_HTTP_GW_JOSE_MAX_EC_SIZE + 16)


typedef struct {
    ngx_str_t                  name;
    ngx_uint_t                 alg;
    const char                *digest;       /* NULL for EdDSA */
    size_t                     size;         /* HS: MAC; ES, EdDSA: R, S */
    ngx_uint_t                 slot;         /* a key's hmac[] or verify[] */
    EVP_MD                    *md;           /* fetched on first use */
} ngx_http_gw_jose_alg_t;


typedef struct {
    const char                *crv;          /* JWK "crv" */
    const char                *group;        /* OpenSSL's name */
    size_t                     size;         /* bytes of a coordinate */
    ngx_uint_t                 alg;
} ngx_http_gw_jose_curve_t;


static ngx_http_gw_jose_alg_t *ngx_http_gw_jose_alg_get(ngx_uint_t alg);
static const EVP_MD *ngx_http_gw_jose_md(ngx_http_gw_jose_alg_t *a);
static ngx_uint_t ngx_http_gw_jose_base64url_value(u_char c);
static ngx_int_t ngx_http_gw_jose_base64url(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_str_t *dst);
static ngx_int_t ngx_http_gw_jose_jwk(ngx_pool_t *pool, ngx_array_t *keys,
    json_t *jwk, const char **err);
static ngx_int_t ngx_http_gw_jose_jwk_member(ngx_pool_t *pool, json_t *jwk,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_gw_jose_jwk_rsa(ngx_pool_t *pool, json_t *jwk,
    EVP_PKEY **pkey, const char **err);
static ngx_int_t ngx_http_gw_jose_jwk_ec(ngx_pool_t *pool, json_t *jwk,
    EVP_PKEY **pkey, const char **err);
static ngx_int_t ngx_http_gw_jose_jwk_okp(ngx_pool_t *pool, json_t *jwk,
    EVP_PKEY **pkey, const char **err);
static ngx_int_t ngx_http_gw_jose_jwk_oct(ngx_pool_t *pool, json_t *jwk,
    EVP_PKEY **pkey, const char **err);
static ngx_int_t ngx_http_gw_jose_fromdata(ngx_pool_t *pool, const char *type,
    OSSL_PARAM_BLD *bld, EVP_PKEY **pkey);
static ngx_int_t ngx_http_gw_jose_pem(ngx_pool_t *pool, ngx_array_t *keys,
    u_char *data, size_t len, const char **err);
static ngx_int_t ngx_http_gw_jose_pem_key(ngx_pool_t *pool, char *name,
    u_char *der, long len, EVP_PKEY **pkey, const char **err);
static ngx_int_t ngx_http_gw_jose_key_add(ngx_pool_t *pool,
    ngx_array_t *keys, EVP_PKEY *pkey, ngx_str_t *kid, ngx_uint_t limit,
    const char **err);
static ngx_uint_t ngx_http_gw_jose_key_algs(EVP_PKEY *pkey, ngx_uint_t *kty,
    const char **err);
static ngx_int_t ngx_http_gw_jose_hmac_init(ngx_pool_t *pool,
    ngx_http_gw_jose_key_t *key, const char **err);
static ngx_int_t ngx_http_gw_jose_verify_init(ngx_pool_t *pool,
    ngx_http_gw_jose_key_t *key);
static EVP_PKEY_CTX *ngx_http_gw_jose_verify_ctx(EVP_PKEY *pkey,
    ngx_http_gw_jose_alg_t *a);
static ngx_int_t ngx_http_gw_jose_verify_key(ngx_http_gw_jose_jws_t *jws,
    ngx_http_gw_jose_key_t *key);
static ngx_int_t ngx_http_gw_jose_verify_hmac(ngx_http_gw_jose_jws_t *jws,
    ngx_http_gw_jose_key_t *key, ngx_http_gw_jose_alg_t *a);
static ngx_int_t ngx_http_gw_jose_verify_ec(ngx_http_gw_jose_jws_t *jws,
    ngx_http_gw_jose_key_t *key, ngx_http_gw_jose_alg_t *a);
static ngx_int_t ngx_http_gw_jose_verify_pkey(ngx_http_gw_jose_jws_t *jws,
    ngx_http_gw_jose_key_t *key, ngx_http_gw_jose_alg_t *a, u_char *sig,
    size_t len);
static ngx_int_t ngx_http_gw_jose_time_cmp(json_t *v, time_t t);
static ngx_uint_t ngx_http_gw_jose_in(json_t *str, ngx_array_t *list);
static ngx_int_t ngx_http_gw_jose_text(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_str_t *text);
static ngx_int_t ngx_http_gw_jose_real_text(ngx_pool_t *pool, double d,
    ngx_str_t *text);
static ngx_int_t ngx_http_gw_jose_json_depth(u_char *p, size_t len);
static void ngx_http_gw_jose_json_cleanup(void *data);
static void ngx_http_gw_jose_pkey_cleanup(void *data);
static void ngx_http_gw_jose_mac_cleanup(void *data);
static void ngx_http_gw_jose_pkey_ctx_cleanup(void *data);


static ngx_http_gw_jose_alg_t  ngx_http_gw_jose_algs[] = {

    { ngx_string("HS256"), NGX_HTTP_GW_JOSE_HS256, "SHA256", 32, 0, NULL },
    { ngx_string("HS384"), NGX_HTTP_GW_JOSE_HS384, "SHA384", 48, 1, NULL },
    { ngx_string("HS512"), NGX_HTTP_GW_JOSE_HS512, "SHA512", 64, 2, NULL },
    { ngx_string("RS256"), NGX_HTTP_GW_JOSE_RS256, "SHA256", 0, 0, NULL },
    { ngx_string("RS384"), NGX_HTTP_GW_JOSE_RS384, "SHA384", 0, 1, NULL },
    { ngx_string("RS512"), NGX_HTTP_GW_JOSE_RS512, "SHA512", 0, 2, NULL },
    { ngx_string("PS256"), NGX_HTTP_GW_JOSE_PS256, "SHA256", 0, 3, NULL },
    { ngx_string("PS384"), NGX_HTTP_GW_JOSE_PS384, "SHA384", 0, 4, NULL },
    { ngx_string("PS512"), NGX_HTTP_GW_JOSE_PS512, "SHA512", 0, 5, NULL },
    { ngx_string("ES256"), NGX_HTTP_GW_JOSE_ES256, "SHA256", 32, 0, NULL },
    { ngx_string("ES384"), NGX_HTTP_GW_JOSE_ES384, "SHA384", 48, 0, NULL },
    { ngx_string("ES512"), NGX_HTTP_GW_JOSE_ES512, "SHA512", 66, 0, NULL },
    { ngx_string("EdDSA"), NGX_HTTP_GW_JOSE_EDDSA, NULL, 32, 0, NULL },

    { ngx_null_string, 0, NULL, 0, 0, NULL }
};


static ngx_http_gw_jose_curve_t  ngx_http_gw_jose_curves[] = {

    { "P-256", "prime256v1", 32, NGX_HTTP_GW_JOSE_ES256 },
    { "P-384", "secp384r1", 48, NGX_HTTP_GW_JOSE_ES384 },
    { "P-521", "secp521r1", 66, NGX_HTTP_GW_JOSE_ES512 },

    { NULL, NULL, 0, 0 }
};


ngx_uint_t
ngx_http_gw_jose_alg(u_char *name, size_t len)
{
    ngx_http_gw_jose_alg_t  *a;

    /* exact, case-sensitive names: "none" in any spelling is never one */

    for (a = ngx_http_gw_jose_algs; a->name.len; a++) {
        if (a->name.len == len && ngx_memcmp(a->name.data, name, len) == 0) {
            return a->alg;
        }
    }

    return 0;
}


const char *
ngx_http_gw_jose_alg_name(ngx_uint_t alg)
{
    ngx_http_gw_jose_alg_t  *a;

    a = ngx_http_gw_jose_alg_get(alg);

    return (a != NULL) ? (const char *) a->name.data : "unknown";
}


static ngx_http_gw_jose_alg_t *
ngx_http_gw_jose_alg_get(ngx_uint_t alg)
{
    ngx_http_gw_jose_alg_t  *a;

    for (a = ngx_http_gw_jose_algs; a->name.len; a++) {
        if (a->alg == alg) {
            return a;
        }
    }

    return NULL;
}


/*
 * The digest of an algorithm, fetched once for the process and kept: in
 * OpenSSL 3 EVP_sha256() and its kind are looked up again, under a lock,
 * each time a context is initialised with them.  NULL for EdDSA, and when
 * the fetch failed (verification then fails, and it is tried again).
 */

static const EVP_MD *
ngx_http_gw_jose_md(ngx_http_gw_jose_alg_t *a)
{
    if (a->md == NULL && a->digest != NULL) {
        a->md = EVP_MD_fetch(NULL, a->digest, NULL);
    }

    return a->md;
}


/*
 * A JWKS ({"keys": [...]}) or a single JWK when the text starts with "{",
 * PEM otherwise.  On failure, keys is left as it was (objects already made
 * stay with the pool until it is destroyed).
 */

ngx_int_t
ngx_http_gw_jose_keys_parse(ngx_pool_t *pool, ngx_array_t *keys,
    u_char *data, size_t len, const char **err)
{
    u_char      *p, *last;
    size_t       i;
    json_t      *json, *list, *jwk;
    ngx_int_t    rc;
    ngx_uint_t   nelts, found;
    const char  *skip;

    nelts = keys->nelts;
    last = data + len;

    for (p = data; p < last; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    if (p == last) {
        *err = "no keys";
        return NGX_ERROR;
    }

    if (*p != '{') {
        rc = ngx_http_gw_jose_pem(pool, keys, data, len, err);
        goto done;
    }

    rc = NGX_ERROR;

    json = ngx_http_gw_jose_json(pool, data, len);
    if (json == NULL || !json_is_object(json)) {
        *err = "invalid JWKS";
        goto done;
    }

    list = json_object_get(json, "keys");

    if (list == NULL) {

        /* a single JWK: why it is not usable is the error */

        rc = ngx_http_gw_jose_jwk(pool, keys, json, err);
        if (rc == NGX_DECLINED) {
            rc = NGX_ERROR;
        }

        goto done;
    }

    if (!json_is_array(list)) {
        *err = "invalid JWKS";
        goto done;
    }

    if (json_array_size(list) > NGX_HTTP_GW_JOSE_MAX_KEYS) {
        *err = "invalid JWKS: too many keys";
        goto done;
    }

    found = 0;

    json_array_foreach(list, i, jwk) {

        rc = ngx_http_gw_jose_jwk(pool, keys, jwk, &skip);

        if (rc == NGX_ERROR) {
            *err = skip;
            goto done;
        }

        if (rc == NGX_OK) {
            found++;
        }
    }

    if (found == 0) {
        *err = "invalid JWKS: no usable key";
        rc = NGX_ERROR;
        goto done;
    }

    rc = NGX_OK;

done:

    /* keys skipped or refused leave errors in OpenSSL's queue */
    ERR_clear_error();

    if (rc != NGX_OK) {
        keys->nelts = nelts;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * One JWK: NGX_OK when added, NGX_DECLINED (*err says why) when it is not
 * a usable signature verification key, NGX_ERROR when out of memory or
 * when keys is full.
 */

static ngx_int_t
ngx_http_gw_jose_jwk(ngx_pool_t *pool, ngx_array_t *keys, json_t *jwk,
    const char **err)
{
    size_t       i;
    json_t      *v, *op;
    EVP_PKEY    *pkey;
    ngx_int_t    rc;
    ngx_str_t    kid;
    ngx_uint_t   limit;
    const char  *kty;

    if (!json_is_object(jwk)) {
        *err = "JWK is not an object";
        return NGX_DECLINED;
    }

    v = json_object_get(jwk, "use");

    if (v != NULL
        && (!json_is_string(v) || ngx_strcmp(json_string_value(v), "sig") != 0))
    {
        *err = "JWK \"use\" is not \"sig\"";
        return NGX_DECLINED;
    }

    v = json_object_get(jwk, "key_ops");

    if (v != NULL) {
        if (!json_is_array(v)) {
            *err = "invalid JWK \"key_ops\"";
            return NGX_DECLINED;
        }

        json_array_foreach(v, i, op) {
            if (json_is_string(op)
                && ngx_strcmp(json_string_value(op), "verify") == 0)
            {
                break;
            }
        }

        if (i == json_array_size(v)) {
            *err = "JWK \"key_ops\" has no \"verify\"";
            return NGX_DECLINED;
        }
    }

    ngx_str_null(&kid);

    v = json_object_get(jwk, "kid");

    if (v != NULL) {
        if (!json_is_string(v)) {
            *err = "invalid JWK \"kid\"";
            return NGX_DECLINED;
        }

        kid.len = json_string_length(v);

        if (kid.len) {
            kid.data = ngx_pnalloc(pool, kid.len);
            if (kid.data == NULL) {
                *err = "out of memory";
                return NGX_ERROR;
            }

            ngx_memcpy(kid.data, json_string_value(v), kid.len);
        }
    }

    limit = NGX_HTTP_GW_JOSE_ALL;

    v = json_object_get(jwk, "alg");

    if (v != NULL) {
        limit = json_is_string(v)
                ? ngx_http_gw_jose_alg((u_char *) json_string_value(v),
                                       json_string_length(v))
                : 0;

        if (limit == 0) {
            *err = "JWK \"alg\" is not a supported signature algorithm";
            return NGX_DECLINED;
        }
    }

    kty = json_string_value(json_object_get(jwk, "kty"));

    if (kty == NULL) {
        *err = "JWK has no \"kty\"";
        return NGX_DECLINED;
    }

    if (ngx_strcmp(kty, "oct") == 0) {
        rc = ngx_http_gw_jose_jwk_oct(pool, jwk, &pkey, err);

    } else if (json_object_get(jwk, "d") != NULL) {
        *err = "JWK holds a private key";
        return NGX_DECLINED;

    } else if (ngx_strcmp(kty, "RSA") == 0) {
        rc = ngx_http_gw_jose_jwk_rsa(pool, jwk, &pkey, err);

    } else if (ngx_strcmp(kty, "EC") == 0) {
        rc = ngx_http_gw_jose_jwk_ec(pool, jwk, &pkey, err);

    } else if (ngx_strcmp(kty, "OKP") == 0) {
        rc = ngx_http_gw_jose_jwk_okp(pool, jwk, &pkey, err);

    } else {
        *err = "unsupported JWK \"kty\"";
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        if (rc == NGX_ERROR) {
            *err = "out of memory";
        }

        return rc;
    }

    return ngx_http_gw_jose_key_add(pool, keys, pkey, &kid, limit, err);
}


static ngx_int_t
ngx_http_gw_jose_jwk_member(ngx_pool_t *pool, json_t *jwk, const char *name,
    ngx_str_t *value)
{
    json_t  *v;

    v = json_object_get(jwk, name);

    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    return ngx_http_gw_jose_base64url(pool, (u_char *) json_string_value(v),
                                      json_string_length(v), value);
}


static ngx_int_t
ngx_http_gw_jose_jwk_rsa(ngx_pool_t *pool, json_t *jwk, EVP_PKEY **pkey,
    const char **err)
{
    BIGNUM          *n, *e;
    ngx_int_t        rc;
    ngx_str_t        nb, eb;
    OSSL_PARAM_BLD  *bld;

    *err = "invalid RSA JWK";

    rc = ngx_http_gw_jose_jwk_member(pool, jwk, "n", &nb);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_gw_jose_jwk_member(pool, jwk, "e", &eb);
    if (rc != NGX_OK) {
        return rc;
    }

    n = BN_bin2bn(nb.data, (int) nb.len, NULL);
    e = BN_bin2bn(eb.data, (int) eb.len, NULL);
    bld = OSSL_PARAM_BLD_new();

    rc = NGX_DECLINED;

    if (n != NULL && e != NULL && bld != NULL
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        rc = ngx_http_gw_jose_fromdata(pool, "RSA", bld, pkey);
    }

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);

    return rc;
}


static ngx_int_t
ngx_http_gw_jose_jwk_ec(ngx_pool_t *pool, json_t *jwk, EVP_PKEY **pkey,
    const char **err)
{
    u_char                     pub[1 + 2 * NGX_HTTP_GW_JOSE_MAX_EC_SIZE];
    ngx_int_t                  rc;
    ngx_str_t                  x, y;
    const char                *crv;
    OSSL_PARAM_BLD            *bld;
    ngx_http_gw_jose_curve_t  *c;

    crv = json_string_value(json_object_get(jwk, "crv"));

    for (c = ngx_http_gw_jose_curves; c->crv != NULL; c++) {
        if (crv != NULL && ngx_strcmp(crv, c->crv) == 0) {
            break;
        }
    }

    if (c->crv == NULL) {
        *err = "unsupported EC JWK \"crv\"";
        return NGX_DECLINED;
    }

    *err = "invalid EC JWK";

    rc = ngx_http_gw_jose_jwk_member(pool, jwk, "x", &x);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_gw_jose_jwk_member(pool, jwk, "y", &y);
    if (rc != NGX_OK) {
        return rc;
    }

    if (x.len != c->size || y.len != c->size) {
        return NGX_DECLINED;
    }

    /* an uncompressed point, SEC 1 2.3.3 */

    pub[0] = 0x04;
    ngx_memcpy(&pub[1], x.data, c->size);
    ngx_memcpy(&pub[1 + c->size], y.data, c->size);

    bld = OSSL_PARAM_BLD_new();

    rc = NGX_DECLINED;

    if (bld != NULL
        && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           c->group, 0)
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            pub, 1 + 2 * c->size))
    {
        /* OpenSSL refuses a point that is not on the curve */
        rc = ngx_http_gw_jose_fromdata(pool, "EC", bld, pkey);
    }

    OSSL_PARAM_BLD_free(bld);

    return rc;
}


static ngx_int_t
ngx_http_gw_jose_jwk_okp(ngx_pool_t *pool, json_t *jwk, EVP_PKEY **pkey,
    const char **err)
{
    ngx_int_t            rc;
    ngx_str_t            x;
    const char          *crv;
    ngx_pool_cleanup_t  *cln;

    crv = json_string_value(json_object_get(jwk, "crv"));

    if (crv == NULL || ngx_strcmp(crv, "Ed25519") != 0) {
        *err = "unsupported OKP JWK \"crv\"";
        return NGX_DECLINED;
    }

    *err = "invalid OKP JWK";

    rc = ngx_http_gw_jose_jwk_member(pool, jwk, "x", &x);
    if (rc != NGX_OK) {
        return rc;
    }

    if (x.len != 32) {
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
                                        x.data, x.len);
    if (*pkey == NULL) {
        return NGX_DECLINED;
    }

    cln->handler = ngx_http_gw_jose_pkey_cleanup;
    cln->data = *pkey;

    return NGX_OK;
}


/*
 * An HMAC secret is kept as an EVP_PKEY of type HMAC (freed, and so
 * cleansed, with the pool); ngx_http_gw_jose_hmac_init() keys a context
 * per algorithm with it.
 */

static ngx_int_t
ngx_http_gw_jose_jwk_oct(ngx_pool_t *pool, json_t *jwk, EVP_PKEY **pkey,
    const char **err)
{
    ngx_int_t            rc;
    ngx_str_t            k;
    ngx_pool_cleanup_t  *cln;

    *err = "invalid oct JWK";

    rc = ngx_http_gw_jose_jwk_member(pool, jwk, "k", &k);
    if (rc != NGX_OK) {
        return rc;
    }

    if (k.len > NGX_HTTP_GW_JOSE_MAX_SECRET) {
        *err = "oct JWK is too long";
        rc = NGX_DECLINED;
        goto done;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, k.data, k.len);
    if (*pkey == NULL) {
        rc = NGX_DECLINED;
        goto done;
    }

    cln->handler = ngx_http_gw_jose_pkey_cleanup;
    cln->data = *pkey;

    rc = NGX_OK;

done:

    OPENSSL_cleanse(k.data, k.len);

    return rc;
}


static ngx_int_t
ngx_http_gw_jose_fromdata(ngx_pool_t *pool, const char *type,
    OSSL_PARAM_BLD *bld, EVP_PKEY **pkey)
{
    ngx_int_t            rc;
    OSSL_PARAM          *params;
    EVP_PKEY_CTX        *ctx;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    *pkey = NULL;
    rc = NGX_DECLINED;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params != NULL && ctx != NULL
        && EVP_PKEY_fromdata_init(ctx) == 1
        && EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) == 1)
    {
        cln->handler = ngx_http_gw_jose_pkey_cleanup;
        cln->data = *pkey;
        rc = NGX_OK;
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return rc;
}


/*
 * Every PEM block is a key, with no "kid": "PUBLIC KEY", "RSA PUBLIC KEY",
 * or a "CERTIFICATE" whose public key is used (nothing else of it is
 * checked: it is a container for the key).  Private keys are refused.
 */

static ngx_int_t
ngx_http_gw_jose_pem(ngx_pool_t *pool, ngx_array_t *keys, u_char *data,
    size_t len, const char **err)
{
    BIO            *bio;
    long            dlen;
    char           *name, *header;
    u_char         *der;
    EVP_PKEY       *pkey;
    ngx_int_t       rc;
    ngx_str_t       kid;
    ngx_uint_t      n;
    unsigned long   e;

    if (len > NGX_HTTP_GW_JOSE_MAX_INPUT) {
        *err = "key file is too large";
        return NGX_ERROR;
    }

    bio = BIO_new_mem_buf(data, (int) len);
    if (bio == NULL) {
        *err = "BIO_new_mem_buf() failed";
        return NGX_ERROR;
    }

    ngx_str_null(&kid);

    rc = NGX_OK;

    for (n = 0; /* void */ ; n++) {

        name = NULL;
        header = NULL;
        der = NULL;

        if (PEM_read_bio(bio, &name, &header, &der, &dlen) != 1) {
            e = ERR_peek_last_error();

            if (ERR_GET_LIB(e) != ERR_LIB_PEM
                || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
            {
                *err = "invalid PEM";
                rc = NGX_ERROR;
            }

            break;
        }

        rc = ngx_http_gw_jose_pem_key(pool, name, der, dlen, &pkey, err);

        if (rc == NGX_OK) {
            rc = ngx_http_gw_jose_key_add(pool, keys, pkey, &kid,
                                          NGX_HTTP_GW_JOSE_ALL, err);
        }

        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);

        if (rc != NGX_OK) {
            break;
        }
    }

    BIO_free(bio);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    if (n == 0) {
        *err = "no JWKS, JWK, PEM public key or certificate";
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_jose_pem_key(ngx_pool_t *pool, char *name, u_char *der, long len,
    EVP_PKEY **pkey, const char **err)
{
    X509                *x509;
    const u_char        *p;
    ngx_pool_cleanup_t  *cln;

    if (ngx_strstr(name, "PRIVATE KEY") != NULL) {
        *err = "PEM private key refused: give the public key";
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    p = der;

    if (ngx_strcmp(name, PEM_STRING_PUBLIC) == 0) {
        *pkey = d2i_PUBKEY(NULL, &p, len);

    } else if (ngx_strcmp(name, PEM_STRING_RSA_PUBLIC) == 0) {
        *pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);

    } else if (ngx_strcmp(name, PEM_STRING_X509) == 0) {
        x509 = d2i_X509(NULL, &p, len);
        *pkey = (x509 != NULL) ? X509_get_pubkey(x509) : NULL;
        X509_free(x509);

    } else {
        *err = "unsupported PEM block";
        return NGX_DECLINED;
    }

    if (*pkey == NULL) {
        *err = "invalid PEM public key or certificate";
        return NGX_DECLINED;
    }

    cln->handler = ngx_http_gw_jose_pkey_cleanup;
    cln->data = *pkey;

    return NGX_OK;
}


/*
 * The algorithms a key may verify follow from the key itself; a JWK "alg"
 * ("limit") can only narrow them.  HMAC keys come from "oct" JWKs only,
 * so an RSA public key can never be used as an HMAC secret.
 */

static ngx_int_t
ngx_http_gw_jose_key_add(ngx_pool_t *pool, ngx_array_t *keys, EVP_PKEY *pkey,
    ngx_str_t *kid, ngx_uint_t limit, const char **err)
{
    ngx_int_t                rc;
    ngx_uint_t               kty, algs;
    ngx_http_gw_jose_key_t   k, *key;

    algs = ngx_http_gw_jose_key_algs(pkey, &kty, err);
    if (algs == 0) {
        return NGX_DECLINED;
    }

    algs &= limit;

    if (algs == 0) {
        *err = "JWK \"alg\" does not fit its key";
        return NGX_DECLINED;
    }

    if (keys->nelts >= NGX_HTTP_GW_JOSE_MAX_KEYS) {
        *err = "too many keys";
        return NGX_ERROR;
    }

    ngx_memzero(&k, sizeof(ngx_http_gw_jose_key_t));

    k.kid = *kid;
    k.kty = kty;
    k.algs = algs;
    k.pkey = pkey;

    if (kty == NGX_HTTP_GW_JOSE_KTY_OCT) {
        rc = ngx_http_gw_jose_hmac_init(pool, &k, err);
        if (rc != NGX_OK) {
            return rc;
        }

    } else if (ngx_http_gw_jose_verify_init(pool, &k) != NGX_OK) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    key = ngx_array_push(keys);
    if (key == NULL) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    *key = k;

    return NGX_OK;
}


/*
 * An HMAC key gets a context keyed with its secret for each algorithm it
 * may verify, made once: a verification only resets it (EVP_MAC_init()
 * without a key), where EVP_Q_mac() would fetch HMAC and the digest, and
 * copy and prepare the secret, every time.  The contexts are freed with
 * the pool, as the key is.
 */

static ngx_int_t
ngx_http_gw_jose_hmac_init(ngx_pool_t *pool, ngx_http_gw_jose_key_t *key,
    const char **err)
{
    u_char                   secret[NGX_HTTP_GW_JOSE_MAX_SECRET];
    size_t                   len;
    EVP_MAC                 *mac;
    ngx_int_t                rc;
    OSSL_PARAM               params[2];
    EVP_MAC_CTX             *ctx;
    ngx_pool_cleanup_t      *cln;
    ngx_http_gw_jose_alg_t  *a;

    len = sizeof(secret);

    if (EVP_PKEY_get_raw_private_key(key->pkey, secret, &len) != 1) {
        *err = "invalid oct JWK";
        return NGX_DECLINED;
    }

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        OPENSSL_cleanse(secret, len);
        *err = "HMAC is not available";
        return NGX_DECLINED;
    }

    rc = NGX_OK;

    for (a = ngx_http_gw_jose_algs; a->name.len; a++) {

        if (!(a->alg & NGX_HTTP_GW_JOSE_HS) || !(a->alg & key->algs)) {
            continue;
        }

        cln = ngx_pool_cleanup_add(pool, 0);
        if (cln == NULL) {
            *err = "out of memory";
            rc = NGX_ERROR;
            break;
        }

        ctx = EVP_MAC_CTX_new(mac);
        if (ctx == NULL) {
            *err = "out of memory";
            rc = NGX_ERROR;
            break;
        }

        cln->handler = ngx_http_gw_jose_mac_cleanup;
        cln->data = ctx;

        key->hmac[a->slot] = ctx;

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     (char *) a->digest, 0);
        params[1] = OSSL_PARAM_construct_end();

        if (EVP_MAC_init(ctx, secret, len, params) != 1) {
            *err = "invalid oct JWK";
            rc = NGX_DECLINED;
            break;
        }
    }

    EVP_MAC_free(mac);
    OPENSSL_cleanse(secret, len);

    return rc;
}


/*
 * An RSA or EC key gets a context set up for verification with each of
 * its algorithms (padding, digest), made once: a verification then hashes
 * the signing input and calls EVP_PKEY_verify(), where
 * EVP_DigestVerifyInit() would make and set up a context, fetching the
 * signature and digest implementations, every time.  An algorithm whose
 * context cannot be made is verified the slow way, with the same result.
 * EdDSA signs the message itself, not a digest: no context.
 */

static ngx_int_t
ngx_http_gw_jose_verify_init(ngx_pool_t *pool, ngx_http_gw_jose_key_t *key)
{
    EVP_PKEY_CTX            *ctx;
    ngx_pool_cleanup_t      *cln;
    ngx_http_gw_jose_alg_t  *a;

    for (a = ngx_http_gw_jose_algs; a->name.len; a++) {

        if (!(a->alg & key->algs)
            || !(a->alg & (NGX_HTTP_GW_JOSE_RS|NGX_HTTP_GW_JOSE_PS
                           |NGX_HTTP_GW_JOSE_ES)))
        {
            continue;
        }

        cln = ngx_pool_cleanup_add(pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        ctx = ngx_http_gw_jose_verify_ctx(key->pkey, a);

        if (ctx != NULL) {
            cln->handler = ngx_http_gw_jose_pkey_ctx_cleanup;
            cln->data = ctx;
            key->verify[a->slot] = ctx;
        }
    }

    return NGX_OK;
}


static EVP_PKEY_CTX *
ngx_http_gw_jose_verify_ctx(EVP_PKEY *pkey, ngx_http_gw_jose_alg_t *a)
{
    EVP_PKEY_CTX  *ctx;
    const EVP_MD  *md;

    md = ngx_http_gw_jose_md(a);
    if (md == NULL) {
        return NULL;
    }

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1) {
        goto failed;
    }

    if (a->alg & NGX_HTTP_GW_JOSE_RS) {
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) {
            goto failed;
        }

    } else if (a->alg & NGX_HTTP_GW_JOSE_PS) {

        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash */

        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST)
               <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0)
        {
            goto failed;
        }
    }

    if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) {
        goto failed;
    }

    return ctx;

failed:

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    return NULL;
}


static ngx_uint_t
ngx_http_gw_jose_key_algs(EVP_PKEY *pkey, ngx_uint_t *kty, const char **err)
{
    char                       group[64];
    size_t                     len;
    ngx_uint_t                 algs;
    ngx_http_gw_jose_alg_t    *a;
    ngx_http_gw_jose_curve_t  *c;

    if (EVP_PKEY_is_a(pkey, "HMAC")) {
        *kty = NGX_HTTP_GW_JOSE_KTY_OCT;

        len = 0;
        if (EVP_PKEY_get_raw_private_key(pkey, NULL, &len) != 1) {
            *err = "invalid oct JWK";
            return 0;
        }

        algs = 0;

        for (a = ngx_http_gw_jose_algs; a->name.len; a++) {
            if ((a->alg & NGX_HTTP_GW_JOSE_HS) && len >= a->size) {
                algs |= a->alg;
            }
        }

        if (algs == 0) {
            *err = "oct JWK is shorter than 256 bits";
        }

        return algs;
    }

    if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) {
        *kty = NGX_HTTP_GW_JOSE_KTY_RSA;

        if (EVP_PKEY_get_bits(pkey) < NGX_HTTP_GW_JOSE_MIN_RSA_BITS) {
            *err = "RSA key is shorter than 2048 bits";
            return 0;
        }

        /* an RSASSA-PSS key (OID id-RSASSA-PSS) is for PS* only */

        if (EVP_PKEY_is_a(pkey, "RSA-PSS")) {
            return NGX_HTTP_GW_JOSE_PS;
        }

        return NGX_HTTP_GW_JOSE_RS|NGX_HTTP_GW_JOSE_PS;
    }

    if (EVP_PKEY_is_a(pkey, "EC")) {
        *kty = NGX_HTTP_GW_JOSE_KTY_EC;

        /* a key with explicit curve parameters has no group name */

        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) == 1) {
            for (c = ngx_http_gw_jose_curves; c->crv != NULL; c++) {
                if (ngx_strcmp(group, c->group) == 0) {
                    return c->alg;
                }
            }
        }

        *err = "unsupported EC curve";
        return 0;
    }

    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *kty = NGX_HTTP_GW_JOSE_KTY_OKP;
        return NGX_HTTP_GW_JOSE_EDDSA;
    }

    *err = "unsupported key type";

    return 0;
}


ngx_int_t
ngx_http_gw_jose_parse(ngx_pool_t *pool, u_char *token, size_t len,
    ngx_uint_t algs, ngx_http_gw_jose_jws_t *jws, const char **err)
{
    u_char     *p, *last, *dot[2];
    json_t     *v;
    ngx_int_t   rc;
    ngx_str_t   header, payload;
    ngx_uint_t  n;

    ngx_memzero(jws, sizeof(ngx_http_gw_jose_jws_t));

    if (len > NGX_HTTP_GW_JOSE_MAX_TOKEN) {
        *err = "token is too long";
        return NGX_DECLINED;
    }

    n = 0;
    last = token + len;

    for (p = token; p < last; p++) {
        if (*p == '.') {
            if (n < 2) {
                dot[n] = p;
            }

            n++;
        }
    }

    if (n == 4) {
        *err = "encrypted tokens (JWE) are not supported";
        return NGX_DECLINED;
    }

    if (n != 2) {
        *err = "token is not a compact JWS";
        return NGX_DECLINED;
    }

    /* the header first: nothing else is decoded for a refused "alg" */

    *err = "token is not a compact JWS";

    rc = ngx_http_gw_jose_base64url(pool, token, dot[0] - token, &header);
    if (rc != NGX_OK) {
        goto failed;
    }

    rc = NGX_DECLINED;

    jws->header = ngx_http_gw_jose_json(pool, header.data, header.len);
    if (!json_is_object(jws->header)) {
        *err = "JWS header is not a JSON object";
        goto failed;
    }

    v = json_object_get(jws->header, "alg");

    if (json_is_string(v)) {
        jws->alg = ngx_http_gw_jose_alg((u_char *) json_string_value(v),
                                        json_string_length(v));
    }

    if (jws->alg == 0 || (jws->alg & algs) == 0) {
        *err = "unsupported or disallowed alg";
        goto failed;
    }

    if (json_object_get(jws->header, "crit") != NULL) {
        *err = "crit header not supported";
        goto failed;
    }

    v = json_object_get(jws->header, "b64");

    if (v != NULL && !json_is_true(v)) {
        *err = "b64 header not supported";
        goto failed;
    }

    v = json_object_get(jws->header, "kid");

    if (v != NULL) {
        if (!json_is_string(v)
            || json_string_length(v) == 0
            || json_string_length(v) > NGX_HTTP_GW_JOSE_MAX_KID)
        {
            *err = "invalid kid";
            goto failed;
        }

        /* kept as it is: an opaque name, never a path or a URL */

        jws->kid.len = json_string_length(v);
        jws->kid.data = (u_char *) json_string_value(v);
    }

    *err = "token is not a compact JWS";

    rc = ngx_http_gw_jose_base64url(pool, dot[0] + 1, dot[1] - dot[0] - 1,
                                    &payload);
    if (rc != NGX_OK) {
        goto failed;
    }

    rc = NGX_DECLINED;

    jws->payload = ngx_http_gw_jose_json(pool, payload.data, payload.len);
    if (!json_is_object(jws->payload)) {
        *err = "JWS payload is not a JSON object";
        goto failed;
    }

    rc = ngx_http_gw_jose_base64url(pool, dot[1] + 1, last - dot[1] - 1,
                                    &jws->signature);
    if (rc != NGX_OK) {
        goto failed;
    }

    jws->signing_input.data = token;
    jws->signing_input.len = dot[1] - token;

    return NGX_OK;

failed:

    if (rc == NGX_ERROR) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


json_t *
ngx_http_gw_jose_part(ngx_pool_t *pool, u_char *token, size_t len,
    ngx_uint_t part)
{
    u_char     *p, *last, *start;
    json_t     *json;
    ngx_str_t   text;
    ngx_uint_t  n;

    if (len > NGX_HTTP_GW_JOSE_MAX_TOKEN || part > 1) {
        return NULL;
    }

    start = token;
    last = token + len;
    n = 0;

    for (p = token; p < last; p++) {
        if (*p != '.') {
            continue;
        }

        if (n == part) {
            break;
        }

        start = p + 1;
        n++;
    }

    if (p == last) {
        return NULL;
    }

    if (ngx_http_gw_jose_base64url(pool, start, p - start, &text) != NGX_OK) {
        return NULL;
    }

    json = ngx_http_gw_jose_json(pool, text.data, text.len);

    return json_is_object(json) ? json : NULL;
}


/*
 * Base64url without padding (RFC 7515 2): no "=", no characters outside
 * the alphabet, and the unused bits of the last character zero, so that
 * one value has one encoding.
 */

static ngx_int_t
ngx_http_gw_jose_base64url(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_str_t *dst)
{
    size_t      i;
    ngx_str_t   src;
    ngx_uint_t  v;

    if (len == 0 || len % 4 == 1) {
        return NGX_DECLINED;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        v = ngx_http_gw_jose_base64url_value(data[i]);
        if (v == 64) {
            return NGX_DECLINED;
        }
    }

    if ((len % 4 == 2 && (v & 0x0f)) || (len % 4 == 3 && (v & 0x03))) {
        return NGX_DECLINED;
    }

    dst->data = ngx_pnalloc(pool, ngx_base64_decoded_length(len));
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    src.len = len;
    src.data = data;

    if (ngx_decode_base64url(dst, &src) != NGX_OK) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_gw_jose_base64url_value(u_char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return 64;
}


/*
 * A token with a "kid" is tried with the keys of that "kid" and with keys
 * that have none (PEM keys, JWKs without "kid"): a PEM key file still
 * works when the issuer names its keys.  NGX_BUSY when no key has the
 * "kid" and none of those without one verified the token.
 */

ngx_int_t
ngx_http_gw_jose_verify(ngx_http_gw_jose_jws_t *jws, ngx_array_t *keys,
    const char **err)
{
    ngx_uint_t               i, named, tried;
    ngx_http_gw_jose_key_t  *key;

    named = 0;
    tried = 0;
    key = keys->elts;

    for (i = 0; i < keys->nelts; i++) {

        if (jws->kid.len && key[i].kid.len) {
            if (key[i].kid.len != jws->kid.len
                || ngx_memcmp(key[i].kid.data, jws->kid.data, jws->kid.len)
                   != 0)
            {
                continue;
            }

            named = 1;
        }

        if ((key[i].algs & jws->alg) == 0) {
            continue;
        }

        tried = 1;

        if (ngx_http_gw_jose_verify_key(jws, &key[i]) == NGX_OK) {
            return NGX_OK;
        }
    }

    if (jws->kid.len && !named) {
        *err = "no key for kid";
        return NGX_BUSY;
    }

    *err = tried ? "signature mismatch" : "no key for alg";

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_gw_jose_verify_key(ngx_http_gw_jose_jws_t *jws,
    ngx_http_gw_jose_key_t *key)
{
    ngx_http_gw_jose_alg_t  *a;

    a = ngx_http_gw_jose_alg_get(jws->alg);

    if (a == NULL || (key->algs & a->alg) == 0) {
        return NGX_DECLINED;
    }

    if (a->alg & NGX_HTTP_GW_JOSE_HS) {
        return ngx_http_gw_jose_verify_hmac(jws, key, a);
    }

    if (a->alg & NGX_HTTP_GW_JOSE_ES) {
        return ngx_http_gw_jose_verify_ec(jws, key, a);
    }

    if ((a->alg & NGX_HTTP_GW_JOSE_EDDSA)
        && jws->signature.len != 2 * a->size)
    {
        return NGX_DECLINED;
    }

    return ngx_http_gw_jose_verify_pkey(jws, key, a, jws->signature.data,
                                        jws->signature.len);
}


static ngx_int_t
ngx_http_gw_jose_verify_hmac(ngx_http_gw_jose_jws_t *jws,
    ngx_http_gw_jose_key_t *key, ngx_http_gw_jose_alg_t *a)
{
    u_char        mac[EVP_MAX_MD_SIZE];
    size_t        n;
    ngx_int_t     rc;
    EVP_MAC_CTX  *ctx;

    ctx = key->hmac[a->slot];

    if (ctx == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    /* EVP_MAC_init() without a key: the context's own, from its start */

    if (EVP_MAC_init(ctx, NULL, 0, NULL) == 1
        && EVP_MAC_update(ctx, jws->signing_input.data,
                          jws->signing_input.len)
           == 1
        && EVP_MAC_final(ctx, mac, &n, sizeof(mac)) == 1
        && n == jws->signature.len
        && CRYPTO_memcmp(mac, jws->signature.data, n) == 0)
    {
        rc = NGX_OK;
    }

    OPENSSL_cleanse(mac, sizeof(mac));

    if (rc != NGX_OK) {
        ERR_clear_error();
    }

    return rc;
}


/* JWS carries R || S of the curve's size (RFC 7518 3.4), OpenSSL wants DER */

static ngx_int_t
ngx_http_gw_jose_verify_ec(ngx_http_gw_jose_jws_t *jws,
    ngx_http_gw_jose_key_t *key, ngx_http_gw_jose_alg_t *a)
{
    int         len;
    u_char      der[NGX_HTTP_GW_JOSE_MAX_EC_DER], *p;
    BIGNUM     *r, *s;
    ngx_int_t   rc;
    ECDSA_SIG  *sig;

    if (jws->signature.len != 2 * a->size) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    sig = ECDSA_SIG_new();
    r = BN_bin2bn(jws->signature.data, (int) a->size, NULL);
    s = BN_bin2bn(jws->signature.data + a->size, (int) a->size, NULL);

    if (sig == NULL || r == NULL || s == NULL) {
        BN_free(r);
        BN_free(s);
        goto done;
    }

    /* r and s belong to sig from here */
    ECDSA_SIG_set0(sig, r, s);

    len = i2d_ECDSA_SIG(sig, NULL);
    if (len <= 0 || (size_t) len > sizeof(der)) {
        goto done;
    }

    p = der;
    len = i2d_ECDSA_SIG(sig, &p);
    if (len <= 0) {
        goto done;
    }

    rc = ngx_http_gw_jose_verify_pkey(jws, key, a, der, len);

done:

    ECDSA_SIG_free(sig);

    if (rc != NGX_OK) {
        ERR_clear_error();
    }

    return rc;
}


static ngx_int_t
ngx_http_gw_jose_verify_pkey(ngx_http_gw_jose_jws_t *jws,
    ngx_http_gw_jose_key_t *key, ngx_http_gw_jose_alg_t *a, u_char *sig,
    size_t len)
{
    u_char         digest[EVP_MAX_MD_SIZE];
    ngx_int_t      rc;
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx;
    const EVP_MD  *md;
    unsigned int   n;

    pctx = (a->alg & NGX_HTTP_GW_JOSE_EDDSA) ? NULL : key->verify[a->slot];

    if (pctx != NULL) {

        /* a context set up at load: the digest, then the signature */

        rc = NGX_DECLINED;

        if (EVP_Digest(jws->signing_input.data, jws->signing_input.len,
                       digest, &n, ngx_http_gw_jose_md(a), NULL)
            == 1
            && EVP_PKEY_verify(pctx, sig, len, digest, n) == 1)
        {
            rc = NGX_OK;
        }

        if (rc != NGX_OK) {
            ERR_clear_error();
        }

        return rc;
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;
    pctx = NULL;
    md = ngx_http_gw_jose_md(a);

    if (md == NULL && a->digest != NULL) {
        goto done;
    }

    /* EdDSA: no digest, the one-shot EVP_DigestVerify() only */

    if (EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key->pkey) != 1) {
        goto done;
    }

    if (a->alg & NGX_HTTP_GW_JOSE_RS) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0) {
            goto done;
        }

    } else if (a->alg & NGX_HTTP_GW_JOSE_PS) {

        /* RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash */

        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
               <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0)
        {
            goto done;
        }
    }

    if (EVP_DigestVerify(mctx, sig, len, jws->signing_input.data,
                         jws->signing_input.len)
        == 1)
    {
        rc = NGX_OK;
    }

done:

    EVP_MD_CTX_free(mctx);

    if (rc != NGX_OK) {
        ERR_clear_error();
    }

    return rc;
}


ngx_int_t
ngx_http_gw_jose_until(json_t *exp, time_t now, time_t max_ttl,
    time_t *until)
{
    double  d;

    *until = now + max_ttl;

    if (exp == NULL || !json_is_number(exp)) {
        return NGX_OK;
    }

    d = json_number_value(exp);

    if (!(d > (double) now)) {
        return NGX_DECLINED;    /* expired, or NaN */
    }

    if (d < (double) *until) {
        *until = (time_t) d;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_gw_jose_check_time(json_t *payload, time_t now, time_t leeway,
    const char **err)
{
    json_t  *v;

    v = json_object_get(payload, "exp");

    if (v != NULL) {
        if (!json_is_number(v)) {
            *err = "invalid exp claim";
            return NGX_DECLINED;
        }

        if (ngx_http_gw_jose_time_cmp(v, now - leeway) <= 0) {
            *err = "token expired";
            return NGX_DECLINED;
        }
    }

    v = json_object_get(payload, "nbf");

    if (v != NULL) {
        if (!json_is_number(v)) {
            *err = "invalid nbf claim";
            return NGX_DECLINED;
        }

        if (ngx_http_gw_jose_time_cmp(v, now + leeway) > 0) {
            *err = "token not yet valid";
            return NGX_DECLINED;
        }
    }

    v = json_object_get(payload, "iat");

    if (v != NULL) {
        if (!json_is_number(v)) {
            *err = "invalid iat claim";
            return NGX_DECLINED;
        }

        if (ngx_http_gw_jose_time_cmp(v, now + leeway) > 0) {
            *err = "token issued in the future";
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* -1, 0, 1 as a NumericDate is before, at, after t; integers exactly */

static ngx_int_t
ngx_http_gw_jose_time_cmp(json_t *v, time_t t)
{
    double      d;
    json_int_t  i;

    if (json_is_integer(v)) {
        i = json_integer_value(v);
        return (i < (json_int_t) t) ? -1 : (i > (json_int_t) t);
    }

    d = json_real_value(v);

    return (d < (double) t) ? -1 : (d > (double) t);
}


/* an empty or absent list allows any issuer: the caller decides */

ngx_int_t
ngx_http_gw_jose_check_issuer(json_t *payload, ngx_array_t *issuers,
    const char **err)
{
    json_t  *iss;

    if (issuers == NULL || issuers->nelts == 0) {
        return NGX_OK;
    }

    iss = json_object_get(payload, "iss");

    if (json_is_string(iss) && ngx_http_gw_jose_in(iss, issuers)) {
        return NGX_OK;
    }

    *err = "issuer not allowed";

    return NGX_DECLINED;
}


/* an empty or absent list allows any audience: the caller decides */

ngx_int_t
ngx_http_gw_jose_check_audience(json_t *payload, ngx_array_t *audiences,
    const char **err)
{
    size_t   i;
    json_t  *aud, *v;

    if (audiences == NULL || audiences->nelts == 0) {
        return NGX_OK;
    }

    aud = json_object_get(payload, "aud");

    if (json_is_string(aud)) {
        if (ngx_http_gw_jose_in(aud, audiences)) {
            return NGX_OK;
        }

    } else if (json_is_array(aud)) {
        json_array_foreach(aud, i, v) {
            if (json_is_string(v) && ngx_http_gw_jose_in(v, audiences)) {
                return NGX_OK;
            }
        }
    }

    *err = "audience not allowed";

    return NGX_DECLINED;
}


static ngx_uint_t
ngx_http_gw_jose_in(json_t *str, ngx_array_t *list)
{
    size_t       len;
    ngx_str_t   *s;
    ngx_uint_t   i;
    const char  *value;

    value = json_string_value(str);
    len = json_string_length(str);
    s = list->elts;

    for (i = 0; i < list->nelts; i++) {
        if (s[i].len == len && ngx_memcmp(s[i].data, value, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * At each level the whole rest of the path is tried as a name first, so
 * that claims named with dots ("https://example.com/roles") are found too;
 * then the part up to the first dot leads one level down.
 */

json_t *
ngx_http_gw_jose_claim(json_t *obj, u_char *path, size_t len)
{
    u_char  *last, *dot;
    json_t  *v;

    if (len == 0) {
        return NULL;
    }

    last = path + len;

    while (json_is_object(obj)) {

        v = json_object_getn(obj, (const char *) path, last - path);
        if (v != NULL) {
            return v;
        }

        dot = ngx_strlchr(path, last, '.');
        if (dot == NULL) {
            return NULL;
        }

        obj = json_object_getn(obj, (const char *) path, dot - path);
        path = dot + 1;
    }

    return NULL;
}


ngx_int_t
ngx_http_gw_jose_claim_text(ngx_pool_t *pool, json_t *value, ngx_str_t *text)
{
    u_char  *p;
    size_t   i, len;
    json_t  *v;

    switch (json_typeof(value)) {

    case JSON_STRING:
        return ngx_http_gw_jose_text(pool, (u_char *) json_string_value(value),
                                     json_string_length(value), text);

    case JSON_INTEGER:
        p = ngx_pnalloc(pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        text->data = p;
        text->len = ngx_sprintf(p, "%L", (int64_t) json_integer_value(value))
                    - p;
        return NGX_OK;

    case JSON_REAL:
        return ngx_http_gw_jose_real_text(pool, json_real_value(value), text);

    case JSON_TRUE:
        return ngx_http_gw_jose_text(pool, (u_char *) "true", 4, text);

    case JSON_FALSE:
        return ngx_http_gw_jose_text(pool, (u_char *) "false", 5, text);

    case JSON_ARRAY:

        /* strings joined with spaces, as OAuth "scope" */

        len = 0;

        json_array_foreach(value, i, v) {
            if (!json_is_string(v)) {
                break;
            }

            len += json_string_length(v) + 1;
        }

        if (i < json_array_size(value)) {
            break;
        }

        p = ngx_pnalloc(pool, len ? len : 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        text->data = p;

        json_array_foreach(value, i, v) {
            if (i) {
                *p++ = ' ';
            }

            p = ngx_cpymem(p, json_string_value(v), json_string_length(v));
        }

        text->len = p - text->data;
        return NGX_OK;

    default:
        break;
    }

    /* objects, null, mixed arrays: compact JSON */

    len = json_dumpb(value, NULL, 0, JSON_COMPACT|JSON_ENCODE_ANY);
    if (len == 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;
    text->len = json_dumpb(value, (char *) p, len,
                           JSON_COMPACT|JSON_ENCODE_ANY);

    return (text->len == len) ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_gw_jose_text(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_str_t *text)
{
    text->data = ngx_pnalloc(pool, len ? len : 1);
    if (text->data == NULL) {
        return NGX_ERROR;
    }

    text->len = len;
    ngx_memcpy(text->data, data, len);

    return NGX_OK;
}


/*
 * Integral values (1300819380.0) as integers, without exponent; others
 * with the fewest significant digits that read back as the same double.
 */

static ngx_int_t
ngx_http_gw_jose_real_text(ngx_pool_t *pool, double d, ngx_str_t *text)
{
    int      n, prec;
    char     buf[32];
    u_char  *p;

    if (d > -9007199254740992.0 && d < 9007199254740992.0
        && d == (double) (int64_t) d)
    {
        p = ngx_pnalloc(pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        text->data = p;
        text->len = ngx_sprintf(p, "%L", (int64_t) d) - p;
        return NGX_OK;
    }

    n = 0;

    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (n <= 0 || (size_t) n >= sizeof(buf)) {
            return NGX_ERROR;
        }

        if (strtod(buf, NULL) == d) {
            break;
        }
    }

    return ngx_http_gw_jose_text(pool, (u_char *) buf, n, text);
}


json_t *
ngx_http_gw_jose_json(ngx_pool_t *pool, u_char *data, size_t len)
{
    json_t              *json;
    json_error_t         error;
    ngx_pool_cleanup_t  *cln;

    if (len > NGX_HTTP_GW_JOSE_MAX_INPUT
        || ngx_http_gw_jose_json_depth(data, len) != NGX_OK)
    {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    json = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                      &error);
    if (json == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_gw_jose_json_cleanup;
    cln->data = json;

    return json;
}


/*
 * Nesting deeper than NGX_HTTP_GW_JOSE_MAX_DEPTH is refused before the
 * parser (which recurses) sees it; brackets inside strings do not count.
 */

static ngx_int_t
ngx_http_gw_jose_json_depth(u_char *p, size_t len)
{
    u_char      *last;
    ngx_uint_t   depth, string;

    depth = 0;
    string = 0;
    last = p + len;

    for ( /* void */ ; p < last; p++) {

        if (string) {
            if (*p == '\\') {
                if (++p == last) {
                    break;
                }

            } else if (*p == '"') {
                string = 0;
            }

            continue;
        }

        switch (*p) {

        case '"':
            string = 1;
            break;

        case '{':
        case '[':
            if (++depth > NGX_HTTP_GW_JOSE_MAX_DEPTH) {
                return NGX_DECLINED;
            }

            break;

        case '}':
        case ']':
            if (depth) {
                depth--;
            }

            break;
        }
    }

    return NGX_OK;
}


void
ngx_http_gw_jose_done(void)
{
    ngx_http_gw_jose_alg_t  *a;

    for (a = ngx_http_gw_jose_algs; a->name.len; a++) {
        EVP_MD_free(a->md);
        a->md = NULL;
    }
}


static void
ngx_http_gw_jose_json_cleanup(void *data)
{
    json_decref(data);
}


static void
ngx_http_gw_jose_pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
}


static void
ngx_http_gw_jose_mac_cleanup(void *data)
{
    EVP_MAC_CTX_free(data);
}


static void
ngx_http_gw_jose_pkey_ctx_cleanup(void *data)
{
    EVP_PKEY_CTX_free(data);
}
