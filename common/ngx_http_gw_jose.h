
/*
 * Copyright (C) nginx-gw authors
 *
 * JOSE for the auth module, on OpenSSL 3 and jansson: compact JWS parsing
 * (RFC 7515), signature verification for HS256/384/512, RS256/384/512,
 * PS256/384/512, ES256/384/512 (raw R||S, RFC 7518 3.4) and EdDSA
 * (Ed25519, RFC 8037), JWK / JWKS / PEM key loading, and the registered
 * claim checks (RFC 7519).  Pure: it takes buffers, lengths and a pool,
 * never a request, so fuzzers and unit tests call it directly.  OpenSSL
 * and jansson objects are released by cleanup handlers of the pool they
 * were made with.  "err" results are static strings, safe to log: they
 * never contain token bytes or key material.
 */


#ifndef _NGX_HTTP_GW_JOSE_H_INCLUDED_
#define _NGX_HTTP_GW_JOSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ngx_http_gw_common.h"


/* algorithms, as a bit mask (allow-lists, what a key may be used with) */

#define NGX_HTTP_GW_JOSE_HS256       0x0001
#define NGX_HTTP_GW_JOSE_HS384       0x0002
#define NGX_HTTP_GW_JOSE_HS512       0x0004
#define NGX_HTTP_GW_JOSE_RS256       0x0008
#define NGX_HTTP_GW_JOSE_RS384       0x0010
#define NGX_HTTP_GW_JOSE_RS512       0x0020
#define NGX_HTTP_GW_JOSE_PS256       0x0040
#define NGX_HTTP_GW_JOSE_PS384       0x0080
#define NGX_HTTP_GW_JOSE_PS512       0x0100
#define NGX_HTTP_GW_JOSE_ES256       0x0200
#define NGX_HTTP_GW_JOSE_ES384       0x0400
#define NGX_HTTP_GW_JOSE_ES512       0x0800
#define NGX_HTTP_GW_JOSE_EDDSA       0x1000

#define NGX_HTTP_GW_JOSE_HS          0x0007
#define NGX_HTTP_GW_JOSE_RS          0x0038
#define NGX_HTTP_GW_JOSE_PS          0x01c0
#define NGX_HTTP_GW_JOSE_ES          0x0e00
#define NGX_HTTP_GW_JOSE_ALL         0x1fff

/* key types */
#define NGX_HTTP_GW_JOSE_KTY_OCT     1
#define NGX_HTTP_GW_JOSE_KTY_RSA     2
#define NGX_HTTP_GW_JOSE_KTY_EC      3
#define NGX_HTTP_GW_JOSE_KTY_OKP     4

/* limits on untrusted input */
#define NGX_HTTP_GW_JOSE_MAX_TOKEN   16384
#define NGX_HTTP_GW_JOSE_MAX_KEYS    64


typedef struct {
    ngx_str_t                  kid;       /* empty when the JWK has none */
    ngx_uint_t                 kty;
    ngx_uint_t                 algs;      /* the algorithms it may verify */
    EVP_PKEY                  *pkey;      /* RSA, EC, OKP (also HMAC) */
    EVP_MAC_CTX               *hmac[3];   /* oct: keyed, HS256/384/512 */
    EVP_PKEY_CTX              *verify[6]; /* RSA: RS256..PS512; EC: [0] */
} ngx_http_gw_jose_key_t;


typedef struct {
    ngx_str_t                  signing_input;   /* "<header>.<payload>" */
    ngx_str_t                  signature;       /* decoded */
    json_t                    *header;
    json_t                    *payload;
    ngx_uint_t                 alg;             /* one NGX_HTTP_GW_JOSE_* */
    ngx_str_t                  kid;             /* empty when absent */
} ngx_http_gw_jose_jws_t;


/* "RS256" -> NGX_HTTP_GW_JOSE_RS256; 0 for anything else ("none" too) */
NGX_HTTP_GW_LOCAL ngx_uint_t ngx_http_gw_jose_alg(u_char *name, size_t len);

/* the name of one algorithm bit, for logs */
NGX_HTTP_GW_LOCAL const char *ngx_http_gw_jose_alg_name(ngx_uint_t alg);

/*
 * Adds to "keys" (an array of ngx_http_gw_jose_key_t) the keys of a JWKS
 * document ({"keys": [...]}), a single JWK, or a PEM public key or X.509
 * certificate.  JWKs with "use" other than "sig", unknown kty, or key
 * material that does not make a valid key are skipped (a JWKS with no
 * usable key at all is an error); a JWK's own "alg" limits the key to
 * that algorithm; otherwise the key may verify its family only: oct HS*,
 * RSA RS* and PS*, EC the ES* of its curve (P-256 ES256, P-384 ES384,
 * P-521 ES512), OKP Ed25519 EdDSA.  Returns NGX_OK or NGX_ERROR with *err.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_jose_keys_parse(ngx_pool_t *pool,
    ngx_array_t *keys, u_char *data, size_t len, const char **err);

/*
 * Parses a compact JWS: exactly three base64url parts (a JWE's five are
 * refused), header and payload JSON objects, "alg" one of the allowed
 * "algs" ("none" in any spelling never is), no "crit" (no extension is
 * understood), "b64" absent or true, at most NGX_HTTP_GW_JOSE_MAX_TOKEN
 * bytes.  Returns NGX_OK, or NGX_DECLINED with *err (NGX_ERROR when out
 * of memory).  jws points into token, which must outlive it.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_jose_parse(ngx_pool_t *pool,
    u_char *token, size_t len, ngx_uint_t algs, ngx_http_gw_jose_jws_t *jws,
    const char **err);

/*
 * The header (part 0) or the payload (part 1) of a compact JWS as a JSON
 * object, for a token that ngx_http_gw_jose_parse() accepted before (a
 * verified token found again in a cache): only that part is decoded.
 * NULL when it is not a JSON object, or when out of memory.
 */
NGX_HTTP_GW_LOCAL json_t *ngx_http_gw_jose_part(ngx_pool_t *pool,
    u_char *token, size_t len, ngx_uint_t part);

/*
 * Verifies jws with a key of "keys": with a "kid", the keys of that id and
 * those without any (PEM keys); NGX_BUSY when no key has the id and none
 * without one verified (the caller may refresh its keys once); without a
 * "kid", every key allowed to verify jws->alg is tried.  A key is
 * only ever used with an algorithm of its own family.  Comparison of HMACs
 * is constant-time; ES signatures are raw R||S of the curve's size and are
 * converted to DER.  Returns NGX_OK, NGX_BUSY, or NGX_DECLINED with *err.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_jose_verify(
    ngx_http_gw_jose_jws_t *jws, ngx_array_t *keys, const char **err);

/*
 * "exp" (required to be in the future, minus leeway, when present) and
 * "nbf"/"iat" (not in the future, plus leeway); they must be numbers.
 */
/*
 * How long a token or an active introspection result may be trusted: its
 * "exp" (a JSON number; NULL or another type: no limit) capped at now +
 * max_ttl, into *until.  NGX_DECLINED when exp is at or before now.  Any
 * double is safe (1e300, -1e300, NaN): compared before it is converted.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_jose_until(json_t *exp, time_t now,
    time_t max_ttl, time_t *until);
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_jose_check_time(json_t *payload,
    time_t now, time_t leeway, const char **err);

/* "iss" equal to one of issuers (ngx_str_t); NGX_DECLINED with *err */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_jose_check_issuer(json_t *payload,
    ngx_array_t *issuers, const char **err);

/* "aud" (string or array of strings) contains one of audiences */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_jose_check_audience(json_t *payload,
    ngx_array_t *audiences, const char **err);

/* a claim by dotted path ("realm_access.roles"); NULL when absent */
NGX_HTTP_GW_LOCAL json_t *ngx_http_gw_jose_claim(json_t *obj, u_char *path,
    size_t len);

/*
 * A claim as text: strings as they are, numbers and booleans printed,
 * arrays of strings joined with a space (as OAuth "scope"), anything else
 * compact JSON.  Allocated from pool.  NGX_ERROR on allocation failure.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_jose_claim_text(ngx_pool_t *pool,
    json_t *value, ngx_str_t *text);

/*
 * Releases what the process fetched from OpenSSL once (the digests of the
 * algorithms), when it exits; they would be fetched again if needed.
 */
NGX_HTTP_GW_LOCAL void ngx_http_gw_jose_done(void);

/* JSON text parsed with limits, the result released with the pool */
NGX_HTTP_GW_LOCAL json_t *ngx_http_gw_jose_json(ngx_pool_t *pool, u_char *data,
    size_t len);


#endif /* _NGX_HTTP_GW_JOSE_H_INCLUDED_ */
