
/*
 * Copyright (C) nginx-gw authors
 *
 * Unit test of common/ngx_http_gw_jose.c; prints TAP.  Compiled against
 * the headers of the nginx build tree (build/nginx) and linked with the
 * test doubles below instead of nginx's core: a pool over malloc() with
 * cleanups and an allocation budget (to make allocations fail on
 * purpose), ngx_array_push(), ngx_decode_base64url() and the "%L" of
 * ngx_sprintf().  "make -C t/unit test" builds and runs it, and so does
 * t/020-jose-unit.t under prove.
 *
 * Published vectors are used as they are: RFC 7515 A.1 (HS256), A.2
 * (RS256), A.3 (ES256) and RFC 8037 A.4 (Ed25519).  The JT_* fixtures
 * were made with Crypt::JWT, CryptX and openssl by the script in the
 * comment above them; HS256 tokens with odd headers are signed at run
 * time with the RFC 7515 A.1 key (jt_hs256()).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "ngx_http_gw_jose.h"


#define jt_str(s)  (u_char *) (s), sizeof(s) - 1


static ngx_array_t *jt_keys(ngx_pool_t *pool, const char *text,
    const char **err);
static ngx_int_t jt_check(ngx_pool_t *pool, ngx_array_t *keys,
    const char *token, ngx_uint_t algs, const char **err);
static char *jt_hs256(ngx_pool_t *pool, const char *header,
    const char *payload);
static char *jt_token(ngx_pool_t *pool, const char *input, u_char *sig,
    size_t len);
static size_t jt_base64url(u_char *dst, u_char *src, size_t len);
static ngx_array_t *jt_list(ngx_pool_t *pool, const char *a, const char *b);
static void jt_ok(int ok, const char *name);
static void jt_is(const char *got, const char *want, const char *name);
static void jt_rfc(void);
static void jt_algs(void);
static void jt_key_files(void);
static void jt_parse(void);
static void jt_part(void);
static void jt_claims(void);
static void jt_json(void);
static void jt_out_of_memory(void);


/* test doubles of nginx's core */

static ngx_int_t   jt_budget = -1;     /* allocations left, -1: no limit */
static ngx_uint_t  jt_tests;
static ngx_uint_t  jt_failed;


ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    return calloc(1, sizeof(ngx_pool_t));
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_large_t    *l, *next;
    ngx_pool_cleanup_t  *c;

    for (c = pool->cleanup; c != NULL; c = c->next) {
        if (c->handler != NULL) {
            c->handler(c->data);
        }
    }

    for (l = pool->large; l != NULL; l = next) {
        next = l->next;
        free(l->alloc);
        free(l);
    }

    free(pool);
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    ngx_pool_large_t  *l;

    if (jt_budget == 0) {
        return NULL;
    }

    if (jt_budget > 0) {
        jt_budget--;
    }

    l = malloc(sizeof(ngx_pool_large_t));
    if (l == NULL) {
        return NULL;
    }

    l->alloc = malloc(size ? size : 1);
    if (l->alloc == NULL) {
        free(l);
        return NULL;
    }

    l->next = pool->large;
    pool->large = l;

    return l->alloc;
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = ngx_palloc(p, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = NULL;

    if (size) {
        c->data = ngx_palloc(p, size);
        if (c->data == NULL) {
            return NULL;
        }
    }

    c->handler = NULL;
    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void  *elts;

    if (a->nelts == a->nalloc) {
        elts = ngx_palloc(a->pool, 2 * a->size * a->nalloc);
        if (elts == NULL) {
            return NULL;
        }

        ngx_memcpy(elts, a->elts, a->size * a->nelts);
        a->elts = elts;
        a->nalloc *= 2;
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


ngx_int_t
ngx_decode_base64url(ngx_str_t *dst, ngx_str_t *src)
{
    u_char      *s, *d, c;
    size_t       i;
    ngx_uint_t   v, bits, n;

    static const char  alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_";

    if (src->len % 4 == 1) {
        return NGX_ERROR;
    }

    s = src->data;
    d = dst->data;
    v = 0;
    bits = 0;

    for (i = 0; i < src->len; i++) {
        c = s[i];

        for (n = 0; n < 64 && alphabet[n] != c; n++) { /* void */ }

        if (n == 64) {
            return NGX_ERROR;
        }

        v = (v << 6) | n;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *d++ = (u_char) (v >> bits);
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    int      n;
    va_list  args;

    /* the only format ngx_http_gw_jose.c uses */

    if (strcmp(fmt, "%L") != 0) {
        abort();
    }

    va_start(args, fmt);
    n = sprintf((char *) buf, "%" PRId64, va_arg(args, int64_t));
    va_end(args);

    return buf + n;
}


/* helpers */

static ngx_array_t *
jt_keys(ngx_pool_t *pool, const char *text, const char **err)
{
    ngx_array_t  *keys;

    keys = ngx_palloc(pool, sizeof(ngx_array_t));
    if (keys == NULL
        || ngx_array_init(keys, pool, 2, sizeof(ngx_http_gw_jose_key_t))
           != NGX_OK)
    {
        *err = "out of memory";
        return NULL;
    }

    *err = "";

    if (ngx_http_gw_jose_keys_parse(pool, keys, (u_char *) text,
                                    strlen(text), err)
        != NGX_OK)
    {
        return NULL;
    }

    return keys;
}


/* parse, then verify: NGX_OK, NGX_BUSY, or NGX_DECLINED with *err */

static ngx_int_t
jt_check(ngx_pool_t *pool, ngx_array_t *keys, const char *token,
    ngx_uint_t algs, const char **err)
{
    ngx_int_t               rc;
    ngx_http_gw_jose_jws_t  jws;

    *err = "";

    rc = ngx_http_gw_jose_parse(pool, (u_char *) token, strlen(token), algs,
                                &jws, err);
    if (rc != NGX_OK) {
        return rc;
    }

    if (keys == NULL) {
        *err = "no keys";
        return NGX_DECLINED;
    }

    return ngx_http_gw_jose_verify(&jws, keys, err);
}


/* an HS256 token signed with the RFC 7515 A.1 key */

static char *
jt_hs256(ngx_pool_t *pool, const char *header, const char *payload)
{
    u_char  *p, mac[EVP_MAX_MD_SIZE];
    size_t   hlen, plen, n;

    static u_char  key[] = {
        3, 35, 53, 75, 43, 15, 165, 188, 131, 126, 6, 101, 119, 123, 166,
        143, 90, 179, 40, 230, 240, 84, 201, 40, 169, 15, 132, 178, 210, 80,
        46, 191, 211, 251, 90, 146, 210, 6, 71, 239, 150, 138, 180, 195, 119,
        98, 61, 34, 61, 46, 33, 114, 5, 46, 79, 8, 192, 205, 154, 245, 103,
        208, 128, 163
    };

    hlen = strlen(header);
    plen = strlen(payload);

    p = ngx_palloc(pool, ngx_base64_encoded_length(hlen)
                         + ngx_base64_encoded_length(plen) + 2);
    if (p == NULL) {
        return NULL;
    }

    n = jt_base64url(p, (u_char *) header, hlen);
    p[n++] = '.';
    n += jt_base64url(p + n, (u_char *) payload, plen);
    p[n] = '\0';

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizeof(key),
                  p, n, mac, sizeof(mac), &n)
        == NULL)
    {
        return NULL;
    }

    return jt_token(pool, (char *) p, mac, n);
}


/* "input.base64url(sig)" */

static char *
jt_token(ngx_pool_t *pool, const char *input, u_char *sig, size_t len)
{
    u_char  *p;
    size_t   n;

    n = strlen(input);

    p = ngx_palloc(pool, n + 1 + ngx_base64_encoded_length(len) + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, input, n);
    p[n++] = '.';
    n += jt_base64url(p + n, sig, len);
    p[n] = '\0';

    return (char *) p;
}


static size_t
jt_base64url(u_char *dst, u_char *src, size_t len)
{
    u_char      *d;
    size_t       i;
    ngx_uint_t   v, bits;

    static const char  alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_";

    d = dst;
    v = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        v = (v << 8) | src[i];
        bits += 8;

        while (bits >= 6) {
            bits -= 6;
            *d++ = alphabet[(v >> bits) & 0x3f];
        }
    }

    if (bits) {
        *d++ = alphabet[(v << (6 - bits)) & 0x3f];
    }

    return d - dst;
}


static void
jt_ok(int ok, const char *name)
{
    jt_tests++;

    if (!ok) {
        jt_failed++;
    }

    printf("%sok %lu - %s\n", ok ? "" : "not ", (unsigned long) jt_tests,
           name);
}


static void
jt_is(const char *got, const char *want, const char *name)
{
    int  ok;

    ok = (got != NULL && strcmp(got, want) == 0);

    jt_ok(ok, name);

    if (!ok) {
        printf("#   got: \"%s\"\n#  want: \"%s\"\n",
               got != NULL ? got : "(null)", want);
    }
}


/* RFC 7515 A.1: HS256 */

#define JT_A1_K                                                             \
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4h"  \
    "cgUuTwjAzZr1Z9CAow"

static const char  JT_A1_JWK[] = "{\"kty\":\"oct\",\"k\":\"" JT_A1_K "\"}";

/* {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true} */
#define JT_A_PAYLOAD                                                        \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"      \
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

static const char  JT_A1[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." JT_A_PAYLOAD
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/* RFC 7515 A.2: RS256 */

static const char  JT_A2_JWK[] =
    "{\"kty\":\"RSA\",\"e\":\"AQAB\","
    "\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
    "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs"
    "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH"
    "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV"
    "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8"
    "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"}";

static const char  JT_A2[] =
    "eyJhbGciOiJSUzI1NiJ9." JT_A_PAYLOAD "."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw";

/* RFC 7515 A.3: ES256 */

#define JT_A3_XY                                                            \
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","                 \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\""

static const char  JT_A3_JWK[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\"," JT_A3_XY "}";

#define JT_A3_INPUT  "eyJhbGciOiJFUzI1NiJ9." JT_A_PAYLOAD

static const char  JT_A3[] =
    JT_A3_INPUT ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8I"
    "SlSApmWQxfKTUJqPP3-Kg6NU1Q";

/* RFC 8037 A.4: Ed25519, the payload "Example of Ed25519 signing" */

static const char  JT_8037_JWK[] =
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";

#define JT_8037_INPUT                                                       \
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"

#define JT_8037_SIG                                                         \
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B"      \
    "hVsPt9g7sVvpAr_MuM0KAg"

static const char  JT_8037[] = JT_8037_INPUT "." JT_8037_SIG;


/*
 * Fixtures made with Crypt::JWT 0.034, CryptX 0.077 and OpenSSL 3.0 by
 * this script (in an empty directory: perl gen.pl > fixtures.h):
 *
 * use strict;
 * use warnings;
 * use Crypt::JWT qw(encode_jwt);
 * use Crypt::PK::RSA;
 * use Crypt::PK::ECC;
 * use Crypt::PK::Ed25519;
 * use MIME::Base64 qw(encode_base64url);
 *
 * my %claims = (sub => 'alice', iss => 'https://idp.example',
 *               aud => ['api', 'web'], iat => 1700000000, exp => 4102444800);
 *
 * my $rsa = Crypt::PK::RSA->new;    $rsa->generate_key(256, 65537);
 * my $rsa1k = Crypt::PK::RSA->new;  $rsa1k->generate_key(128, 65537);
 * my $p256 = Crypt::PK::ECC->new;   $p256->generate_key('secp256r1');
 * my $p384 = Crypt::PK::ECC->new;   $p384->generate_key('secp384r1');
 * my $p521 = Crypt::PK::ECC->new;   $p521->generate_key('secp521r1');
 * my $ed = Crypt::PK::Ed25519->new; $ed->generate_key;
 *
 * my $pem = $rsa->export_key_pem('public_x509');
 *
 * sub spew { open my $f, '>', $_[0] or die; print $f $_[1]; close $f }
 * spew('rsa.pem', $pem);
 * spew('p384.pem', $p384->export_key_pem('private_short'));
 *
 * sub jwt { encode_jwt(payload => \%claims, @_) }
 *
 * # signed by hand: what Crypt::JWT would not make
 * sub jws {
 *     my ($header, $sign) = @_;
 *     my $in = encode_base64url($header) . '.'
 *              . encode_base64url('{"sub":"alice"}');
 *     return $in . '.' . encode_base64url($sign->($in));
 * }
 *
 * my @out = (
 *     RSA_JWK       => $rsa->export_key_jwk('public')
 *                      =~ s/^\{/{"kid":"rsa1","use":"sig",/r,
 *     RSA_PEM       => $pem,
 *     RSA_PKCS1_PEM => scalar `openssl rsa -pubin -in rsa.pem \\
 *                                  -RSAPublicKey_out`,
 *     RSA1024_JWK   => $rsa1k->export_key_jwk('public'),
 *     RSA1024_PEM   => $rsa1k->export_key_pem('public_x509'),
 *     P384_JWK      => $p384->export_key_jwk('public')
 *                      =~ s/^\{/{"kid":"ec384",/r,
 *     P384_CERT     => scalar `openssl req -x509 -new -key p384.pem \\
 *                                  -days 36500 -subj /CN=jose-test`,
 *     P384_EXPLICIT => $p384->export_key_pem('public'),
 *     P521_JWK      => $p521->export_key_jwk('public')
 *                      =~ s/^\{/{"kid":"ec521",/r,
 *     P256_PRIV_PEM => $p256->export_key_pem('private'),
 *     ED_PEM        => $ed->export_key_pem('public'),
 *     RS512         => jwt(alg => 'RS512', key => $rsa,
 *                          extra_headers => { kid => 'rsa1' }),
 *     PS256         => jwt(alg => 'PS256', key => $rsa,
 *                          extra_headers => { kid => 'rsa1' }),
 *     PS384         => jwt(alg => 'PS384', key => $rsa),
 *     PS256_SALT0   => jws('{"alg":"PS256","kid":"rsa1"}', sub {
 *                          $rsa->sign_message($_[0], 'SHA256', 'pss', 0) }),
 *     ES384         => jwt(alg => 'ES384', key => $p384,
 *                          extra_headers => { kid => 'ec384' }),
 *     ES512         => jwt(alg => 'ES512', key => $p521,
 *                          extra_headers => { kid => 'ec521' }),
 *     ES256_P384    => jws('{"alg":"ES256","kid":"ec384"}', sub {
 *                          $p384->sign_message_rfc7518($_[0], 'SHA256') }),
 *     EDDSA         => jwt(alg => 'EdDSA', key => $ed),
 *     HS256_PEM     => jwt(alg => 'HS256', key => $pem),
 * );
 *
 * while (my ($name, $v) = splice @out, 0, 2) {
 *     my @c = ('');
 *     for (map { s/(["\\])/\\$1/gr =~ s/\n/\\n/r } $v =~ /(.)/gs) {
 *         push @c, '' if length($c[-1]) + length > 66 || $c[-1] =~ /\\n$/;
 *         $c[-1] .= $_;
 *     }
 *     print "\nstatic const char  JT_$name\[] =\n",
 *           join("\n", map { "    \"$_\"" } @c), ";\n";
 * }
 *
 * Claims: {"sub":"alice","iss":"https://idp.example","aud":["api","web"],
 * "iat":1700000000,"exp":4102444800} (2100); PS256_SALT0 and ES256_P384
 * only {"sub":"alice"}.
 */

static const char  JT_RSA_JWK[] =
    "{\"kid\":\"rsa1\",\"use\":\"sig\",\"e\":\"AQAB\",\"kty\":\"RSA\","
    "\"n\":\"3QSJUkYuxVYG_XiExF1rvhCSSgO39kU6LiI4iXfiCwCh9RPM43H5gip5GH"
    "chb-yr5G_9GcWvbuEgZhtJkdLELE2KKusxLL9xb9EZSDam7vuUxyey_DVqkzwCQIBc"
    "fuJOtvzlUuZr3d--pRuEF9tY_AX2cmUqWaVHw99qoTY2o9nHKHPu65xnlsT8EB9Zc9"
    "eRaQ8FuLz0bZXC6tM8gq578MZlDM--sa1jVfO5FoTDYH-fANL57xpNRVQDuSLDaaqf"
    "AcHyQHDdj54_1crdsnv6RHqbx_17Hqc3EaUQTUvEjHn1OGm-AKXdifuFrCUnby9PxL"
    "WPMYPDnMGwQQE14lTIhw\"}";

static const char  JT_RSA_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3QSJUkYuxVYG/XiExF1r\n"
    "vhCSSgO39kU6LiI4iXfiCwCh9RPM43H5gip5GHchb+yr5G/9GcWvbuEgZhtJkdLE\n"
    "LE2KKusxLL9xb9EZSDam7vuUxyey/DVqkzwCQIBcfuJOtvzlUuZr3d++pRuEF9tY\n"
    "/AX2cmUqWaVHw99qoTY2o9nHKHPu65xnlsT8EB9Zc9eRaQ8FuLz0bZXC6tM8gq57\n"
    "8MZlDM++sa1jVfO5FoTDYH+fANL57xpNRVQDuSLDaaqfAcHyQHDdj54/1crdsnv6\n"
    "RHqbx/17Hqc3EaUQTUvEjHn1OGm+AKXdifuFrCUnby9PxLWPMYPDnMGwQQE14lTI\n"
    "hwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char  JT_RSA_PKCS1_PEM[] =
    "-----BEGIN RSA PUBLIC KEY-----\n"
    "MIIBCgKCAQEA3QSJUkYuxVYG/XiExF1rvhCSSgO39kU6LiI4iXfiCwCh9RPM43H5\n"
    "gip5GHchb+yr5G/9GcWvbuEgZhtJkdLELE2KKusxLL9xb9EZSDam7vuUxyey/DVq\n"
    "kzwCQIBcfuJOtvzlUuZr3d++pRuEF9tY/AX2cmUqWaVHw99qoTY2o9nHKHPu65xn\n"
    "lsT8EB9Zc9eRaQ8FuLz0bZXC6tM8gq578MZlDM++sa1jVfO5FoTDYH+fANL57xpN\n"
    "RVQDuSLDaaqfAcHyQHDdj54/1crdsnv6RHqbx/17Hqc3EaUQTUvEjHn1OGm+AKXd\n"
    "ifuFrCUnby9PxLWPMYPDnMGwQQE14lTIhwIDAQAB\n"
    "-----END RSA PUBLIC KEY-----\n";

static const char  JT_RSA1024_JWK[] =
    "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"7EfyEey2zZjzTLXsKodvksUM3u"
    "0TS5wjaauIzAJmP8XBpjnDqsX64dLRq6YjnSKwuDRIP5Yscic3h0GhJ2w7tkN-nI5W"
    "FXiOnoADI0RcPIFovN-elNBlrzmyehwKmNVT_8ItjOmnicKmS92-ke4q3s6rsWDu1R"
    "E3pOSjW2_d6yE\"}";

static const char  JT_RSA1024_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDsR/IR7LbNmPNMtewqh2+SxQze\n"
    "7RNLnCNpq4jMAmY/xcGmOcOqxfrh0tGrpiOdIrC4NEg/lixyJzeHQaEnbDu2Q36c\n"
    "jlYVeI6egAMjRFw8gWi8356U0GWvObJ6HAqY1VP/wi2M6aeJwqZL3b6R7irezqux\n"
    "YO7VETek5KNbb93rIQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const char  JT_P384_JWK[] =
    "{\"kid\":\"ec384\",\"crv\":\"P-384\",\"kty\":\"EC\",\"x\":\"Yyt1R5"
    "_XlHtHOvvKPpkGYu0WfmnKJsvu7Y5U_gXcXik-unsm8jsL3wZlwJ85MWf5\",\"y\""
    ":\"U7S3Vyc5FQeAp3B-dGfgGfqVoXxAbuD_ogDI4K845GJKiPmzCI_z2rCk7Imw-Wx"
    "I\"}";

static const char  JT_P384_CERT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBuzCCAUKgAwIBAgIUfky1/phcXnWJzHWqBzSlaeN57REwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJam9zZS10ZXN0MCAXDTI2MTEyNTE0NTY1MFoYDzIxMjYxMTAx\n"
    "MTQ1NjUwWjAUMRIwEAYDVQQDDAlqb3NlLXRlc3QwdjAQBgcqhkjOPQIBBgUrgQQA\n"
    "IgNiAARjK3VHn9eUe0c6+8o+mQZi7RZ+acomy+7tjlT+BdxeKT66eybyOwvfBmXA\n"
    "nzkxZ/lTtLdXJzkVB4CncH50Z+AZ+pWhfEBu4P+iAMjgrzjkYkqI+bMIj/PasKTs\n"
    "ibD5bEijUzBRMB0GA1UdDgQWBBS1P3kyi0YtuW00DDM/WezS5D/49TAfBgNVHSME\n"
    "GDAWgBS1P3kyi0YtuW00DDM/WezS5D/49TAPBgNVHRMBAf8EBTADAQH/MAoGCCqG\n"
    "SM49BAMCA2cAMGQCMCsSLUA8nRel4nOyd5OKco4L6Ht+dslhW5EpmkTvl0Ya6dVw\n"
    "/2YhCYGhvhVirZxVCwIwaN7i5xYFW+QaZJcM1VKHYXIz5rpeNu9LVfSIcc2IfCiv\n"
    "3uBOoA0wXmSNoBGWlgrJ\n"
    "-----END CERTIFICATE-----\n";

static const char  JT_P384_EXPLICIT[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBtTCCAU0GByqGSM49AgEwggFAAgEBMDwGByqGSM49AQECMQD/////////////\n"
    "/////////////////////////////v////8AAAAAAAAAAP////8wZAQw////////\n"
    "//////////////////////////////////7/////AAAAAAAAAAD////8BDCzMS+n\n"
    "4j7n5JiOBWvj+C0ZGB2cbv6BQRIDFAiPUBOHWsZWOY2KLtGdKoXI7dPsKu8EYQSq\n"
    "h8oivosFN46xxx7zIK10bh07Younm5hZ90HgglQqOFUC8l2/VSlsOlReOHJ2Crc2\n"
    "F95KliYsb12emL+Sktwp+PQdvSiaFHzp2jETtfC4wApgsc4dfoGdekMdfJDqDl8C\n"
    "MQD////////////////////////////////HY02B9Dct31gaDbJIsKd67OwZaszF\n"
    "KXMCAQEDYgAEYyt1R5/XlHtHOvvKPpkGYu0WfmnKJsvu7Y5U/gXcXik+unsm8jsL\n"
    "3wZlwJ85MWf5U7S3Vyc5FQeAp3B+dGfgGfqVoXxAbuD/ogDI4K845GJKiPmzCI/z\n"
    "2rCk7Imw+WxI\n"
    "-----END PUBLIC KEY-----\n";

static const char  JT_P521_JWK[] =
    "{\"kid\":\"ec521\",\"crv\":\"P-521\",\"kty\":\"EC\",\"x\":\"ANLWUM"
    "7szuB0sIe4x8Kk566ks2AmqT0buUfsgnK7TX8TVoTj6ZAMh3BsSC5IFnBEuVLgdH8d"
    "MDNVvB5Ro9kSQcgo\",\"y\":\"AQgaVtF9_6LpbPusw_ODESz44UUvIbIShBIormb"
    "jUYoJk400p7UixuUR3D6V0B98-94xvTBT5lWVdnIihkYP_LT9\"}";

static const char  JT_P256_PRIV_PEM[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MIIBUQIBAQQgxS8b+5fvuR9HtewBzI1fuyzff7I03bDxv8VIaVzcG5iggeMwgeAC\n"
    "AQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAAAAAAAAAAAAAA////////////////\n"
    "MEQEIP////8AAAABAAAAAAAAAAAAAAAA///////////////8BCBaxjXYqjqT57Pr\n"
    "vVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwRBBGsX0fLhLEJH+Lzm5WOkQPJ3A32BLesz\n"
    "oPShOUXYmMKWT+NC4v4af5uO5+tKfA+eFivOM1drMV7Oy7ZAaDe/UfUCIQD/////\n"
    "AAAAAP//////////vOb6racXnoTzucrC/GMlUQIBAaFEA0IABPJtpmoHNhILX9K8\n"
    "aElVoyIQMrHFayzEOFjKDC5gV+pFJQx/FujjhAQNgDfQaCOtE/oYzkCMshcWrn9m\n"
    "5xYYd9s=\n"
    "-----END EC PRIVATE KEY-----\n";

static const char  JT_ED_PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAwyHOifz7PzybTLFluWr5Li5ECMNyh1+3ufPIMuHEQGc=\n"
    "-----END PUBLIC KEY-----\n";

static const char  JT_RS512[] =
    "eyJraWQiOiJyc2ExIiwiYWxnIjoiUlM1MTIifQ.eyJhdWQiOlsiYXBpIiwid2ViIl0"
    "sImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL"
    "2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.i3GUp6QFMYbNVwbCiwvm2TJHljKN"
    "uIvY7U9xQu-sx_6n03UGUrbr4YGCFqBbKSZ6-WrnG8vGVxbrKNImV5ZKqNQFqBxj5r"
    "Xe724JPZe5JtxJIsUZqM0fn-l0Ac5wxwMfMrM2LWr_UFbAFDZGbd5Bl2oLvVj2_7dW"
    "DKdmFgFiT1-EnVj7TZYrnaGtUhu8VhdMy3k2qOBLcmjVDjVtKU4DJq1Xtkj_JF3mVz"
    "6QIzy0_muC-S9Qb4PM8dQyO_vW01ZD8qBDqu-lhG1clr6H29qPi1Hce2T4OLdmqwQa"
    "YEF5uapkAeFoaBlvq83PWNvM4wXhkzlBQp3jvv4mAEydxZlAgA";

static const char  JT_PS256[] =
    "eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYTEifQ.eyJhdWQiOlsiYXBpIiwid2ViIl0"
    "sImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL"
    "2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.VKYqB6s7GPWQ2jZSDTmBgaCEDmXM"
    "xR_xwL8JTb_KHdH0yz03fAqpPzeXJiDOR_LWtL-rcpz-9SVO1PVPZ5XGEQ6ohL8KyV"
    "unLSzTWzB9yT5WLu50UdH-dzgB79IcwCzZ_PZbrvV6Vgku2kQ5oADXe54mqSx1hxDw"
    "7fzRdH_AJd-RsBzU_ZjMWFxAdTjH6fnqcEWaKsFi2jmNB6faYthfLKNAdlP_J57WHB"
    "kWNMe2reFcMECW-RUBYA1WD5XKA0l8fyRWp_ufty50ieEoS_0apeXG_TiHml-69Rjw"
    "g3gVFPBUzB2G6-MVwV2GGwsNPK7Memq84pFas0hcp9fFUmxsOA";

static const char  JT_PS384[] =
    "eyJhbGciOiJQUzM4NCJ9.eyJhdWQiOlsiYXBpIiwid2ViIl0sImV4cCI6NDEwMjQ0N"
    "DgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiw"
    "ic3ViIjoiYWxpY2UifQ.Rc2HDm8kihqjZuV0KMb9EeOcB7uE7U1KjJsyAKz_-V7Mg3"
    "uO4jk35FC7eIEfmk8Rs8m2HNraW49cmZoddCFIxlac6UbzJdf8Iazy8J-2TIT82M3w"
    "ocadt0f493fF1Fnv-stW6jrP0kMqKz-_XQXzKiAPjnT23gN3Ob-ZZ8F9YQj9csFiKR"
    "F3z2anbEhMIXJtp9y1cm38YmH2TIHhQOQ5OzQuAk7MD_snyAvyyg-97mFzlE_uXKk0"
    "Fnbo8ZxdgvlyLeSMjh2mxwhLPTkgSn1i4B8plYMc0axjTiOJBrHfUhSqm8L9Hlaxkf"
    "iKx42EUK1yONoUIAddfqIws8FaZT-OYg";

static const char  JT_PS256_SALT0[] =
    "eyJhbGciOiJQUzI1NiIsImtpZCI6InJzYTEifQ.eyJzdWIiOiJhbGljZSJ9.hMymFP"
    "sy2F6lFM-jKNpS_Yp4IpD0kDJuGl4Hwylptl0UVXE-nHpmS6UAzgpzgKLOhIw1FvoT"
    "viMTASrKwaRaXJuAxK5AxVlzZ8kGmS-HoN7DoP049z_iaW-3aQwqzs9bieb9DFPs-_"
    "1DNwQ0O7_gYjXPJNbuzQYYrL3Hh7CfWvLnkaDDdwhmfOh6zaNkYgeCU6jiaSCYY4ZM"
    "GDSRRQQQn1c0AzItV_pR9W8iQZ2SPegkjbU9SLtSoGtL3cTkfuJufHVQSqZ7DN320J"
    "YRUyXVJ_v5i1QWmaa53gcPA7YLStgzfCNxPEDc4MxjL-Vp11q_U6AfpqPaEeRcoYtU"
    "ZWPJdw";

static const char  JT_ES384[] =
    "eyJraWQiOiJlYzM4NCIsImFsZyI6IkVTMzg0In0.eyJhdWQiOlsiYXBpIiwid2ViIl"
    "0sImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczov"
    "L2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.Zn5EkCzbI_1vD4r3EUhnCiT9ise"
    "qxR7qZuBJOvy_cQ2H6cmon7UWkfXLM5xomOZVrdSj_6tGp9_s-d8OaSdsVkzZ1wfnz"
    "lMxVa2fxTKsqsD_nXT4Nwo4_a3rEBToIOrG";

static const char  JT_ES512[] =
    "eyJraWQiOiJlYzUyMSIsImFsZyI6IkVTNTEyIn0.eyJhdWQiOlsiYXBpIiwid2ViIl"
    "0sImV4cCI6NDEwMjQ0NDgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczov"
    "L2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ.AZtFRQ_435seoLZml021ubQ3rR2"
    "T18GqCc8QUyZHF_T4jo3kyVmvvWEeZL0SDLXbxMRTTE3brx-C1UkfhJdpk3kHAAAMZ"
    "dH3WdZU-Fo0iNKtnHRKgs7iK6pCxaCiDqzyubfKGhBfLXAT72moxeDAb98rxTSGjSj"
    "88Id-ENd1Jeito9Vx";

static const char  JT_ES256_P384[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjMzg0In0.eyJzdWIiOiJhbGljZSJ9.QLtGz"
    "i5_JJ-3TYm_RcDld4894uvmB8gSmjQg-_iocCrBnQvqgG3pOvCPbJ3E4nX4rWiedQf"
    "-ROsSF7omRXbYA9bRNtrhPqpl6PKkGmKm4nG4CcudhtlsNSZXmkJ0-Nxg";

static const char  JT_EDDSA[] =
    "eyJhbGciOiJFZERTQSJ9.eyJhdWQiOlsiYXBpIiwid2ViIl0sImV4cCI6NDEwMjQ0N"
    "DgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiw"
    "ic3ViIjoiYWxpY2UifQ.By3pDOB-mxMZGChVhfTOBjp6DCNtyUtiUwooy5XHYyiD3u"
    "WShcIqrBZOIrkdJ3OieRfYD_fEaPVEwqAD4XKlBQ";

static const char  JT_HS256_PEM[] =
    "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOlsiYXBpIiwid2ViIl0sImV4cCI6NDEwMjQ0N"
    "DgwMCwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiw"
    "ic3ViIjoiYWxpY2UifQ.Er5-D8gR2UdG1nTK-3dDk4t_xBjrtfUtABHADoDIpEQ";


int
main(void)
{
    jt_rfc();
    jt_algs();
    jt_key_files();
    jt_parse();
    jt_part();
    jt_claims();
    jt_json();
    jt_out_of_memory();

    printf("1..%lu\n", (unsigned long) jt_tests);

    return jt_failed ? 1 : 0;
}


static void
jt_rfc(void)
{
    char                    name[128];
    u_char                  buf[64];
    json_t                 *v;
    ngx_int_t               rc;
    ngx_str_t               text, src;
    ngx_uint_t              i;
    ngx_pool_t             *pool;
    const char             *err;
    ngx_array_t            *keys;
    ngx_http_gw_jose_jws_t  jws;

    static struct {
        const char         *name;
        const char         *jwk;
        const char         *token;
        ngx_uint_t          alg;
    } vectors[] = {
        { "RFC 7515 A.1 HS256", JT_A1_JWK, JT_A1, NGX_HTTP_GW_JOSE_HS256 },
        { "RFC 7515 A.2 RS256", JT_A2_JWK, JT_A2, NGX_HTTP_GW_JOSE_RS256 },
        { "RFC 7515 A.3 ES256", JT_A3_JWK, JT_A3, NGX_HTTP_GW_JOSE_ES256 },
    };

    pool = ngx_create_pool(0, NULL);

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {

        keys = jt_keys(pool, vectors[i].jwk, &err);
        snprintf(name, sizeof(name), "%s: JWK loads", vectors[i].name);
        jt_ok(keys != NULL && keys->nelts == 1, name);

        rc = ngx_http_gw_jose_parse(pool, (u_char *) vectors[i].token,
                                    strlen(vectors[i].token),
                                    NGX_HTTP_GW_JOSE_ALL, &jws, &err);
        snprintf(name, sizeof(name), "%s: parsed", vectors[i].name);
        jt_ok(rc == NGX_OK && jws.alg == vectors[i].alg, name);

        if (rc != NGX_OK || keys == NULL) {
            continue;
        }

        rc = ngx_http_gw_jose_verify(&jws, keys, &err);
        snprintf(name, sizeof(name), "%s: signature verifies",
                 vectors[i].name);
        jt_ok(rc == NGX_OK, name);

        err = "";
        rc = ngx_http_gw_jose_check_time(jws.payload, time(NULL), 0, &err);
        snprintf(name, sizeof(name), "%s: expired now", vectors[i].name);
        jt_is(err, "token expired", name);

        rc = ngx_http_gw_jose_check_time(jws.payload, 1300819000, 0, &err);
        snprintf(name, sizeof(name), "%s: valid at 1300819000",
                 vectors[i].name);
        jt_ok(rc == NGX_OK, name);
    }

    keys = jt_keys(pool, JT_A1_JWK, &err);
    jt_ok(keys != NULL
          && ((ngx_http_gw_jose_key_t *) keys->elts)->kty
             == NGX_HTTP_GW_JOSE_KTY_OCT
          && ((ngx_http_gw_jose_key_t *) keys->elts)->algs
             == NGX_HTTP_GW_JOSE_HS,
          "RFC 7515 A.1: a 512-bit oct key verifies HS256, HS384, HS512");

    rc = ngx_http_gw_jose_parse(pool, jt_str(JT_A1), NGX_HTTP_GW_JOSE_ALL,
                                &jws, &err);

    v = ngx_http_gw_jose_claim(jws.payload,
                               jt_str("http://example.com/is_root"));
    jt_ok(v != NULL
          && ngx_http_gw_jose_claim_text(pool, v, &text) == NGX_OK
          && text.len == 4 && ngx_strncmp(text.data, "true", 4) == 0,
          "RFC 7515 A.1: claim \"http://example.com/is_root\" is \"true\"");

    /* RFC 8037 A.4: the payload is text, which parse refuses */

    rc = jt_check(pool, NULL, JT_8037, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "JWS payload is not a JSON object",
          "RFC 8037 A.4: a payload that is not JSON is refused");

    keys = jt_keys(pool, JT_8037_JWK, &err);
    jt_ok(keys != NULL
          && ((ngx_http_gw_jose_key_t *) keys->elts)->algs
             == NGX_HTTP_GW_JOSE_EDDSA,
          "RFC 8037 A.4: OKP Ed25519 JWK loads, for EdDSA");

    ngx_memzero(&jws, sizeof(ngx_http_gw_jose_jws_t));
    jws.alg = NGX_HTTP_GW_JOSE_EDDSA;
    jws.signing_input.data = (u_char *) JT_8037_INPUT;
    jws.signing_input.len = sizeof(JT_8037_INPUT) - 1;

    src.data = (u_char *) JT_8037_SIG;
    src.len = sizeof(JT_8037_SIG) - 1;
    jws.signature.data = buf;
    ngx_decode_base64url(&jws.signature, &src);

    jt_ok(keys != NULL && jws.signature.len == 64
          && ngx_http_gw_jose_verify(&jws, keys, &err) == NGX_OK,
          "RFC 8037 A.4: Ed25519 signature verifies");

    buf[10] ^= 1;
    jt_ok(keys != NULL
          && ngx_http_gw_jose_verify(&jws, keys, &err) == NGX_DECLINED,
          "RFC 8037 A.4: a changed Ed25519 signature does not");

    ngx_destroy_pool(pool);
}


static void
jt_algs(void)
{
    char                    buf[4096], *t;
    size_t                  len;
    ngx_int_t               rc;
    ngx_pool_t             *pool;
    const char             *err;
    ngx_array_t            *keys, *pem;
    ngx_http_gw_jose_key_t  *key;

    pool = ngx_create_pool(0, NULL);

    snprintf(buf, sizeof(buf), "{\"keys\":[%s,%s,%s]}",
             JT_RSA_JWK, JT_P384_JWK, JT_P521_JWK);

    keys = jt_keys(pool, buf, &err);
    key = (keys != NULL) ? keys->elts : NULL;

    jt_ok(keys != NULL && keys->nelts == 3
          && key[0].kty == NGX_HTTP_GW_JOSE_KTY_RSA
          && key[0].algs == (NGX_HTTP_GW_JOSE_RS|NGX_HTTP_GW_JOSE_PS)
          && key[0].kid.len == 4
          && ngx_strncmp(key[0].kid.data, "rsa1", 4) == 0
          && key[1].algs == NGX_HTTP_GW_JOSE_ES384
          && key[2].algs == NGX_HTTP_GW_JOSE_ES512,
          "JWKS: RSA for RS* and PS*, P-384 for ES384, P-521 for ES512");

    rc = jt_check(pool, keys, JT_RS512, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "Crypt::JWT RS512 verifies");

    rc = jt_check(pool, keys, JT_PS256, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "Crypt::JWT PS256 verifies");

    rc = jt_check(pool, keys, JT_PS384, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "Crypt::JWT PS384 without kid verifies");

    rc = jt_check(pool, keys, JT_PS256_SALT0, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "signature mismatch",
          "PS256 with a salt shorter than the hash is refused");

    rc = jt_check(pool, keys, JT_ES384, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "Crypt::JWT ES384 verifies");

    rc = jt_check(pool, keys, JT_ES512, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "Crypt::JWT ES512 verifies");

    rc = jt_check(pool, keys, JT_ES256_P384, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "no key for alg", "ES256 with a P-384 key is refused");

    rc = jt_check(pool, keys, JT_RS512, NGX_HTTP_GW_JOSE_RS256, &err);
    jt_is(err, "unsupported or disallowed alg",
          "RS512 outside the allowed algorithms is refused");

    len = strlen(JT_RS512);
    t = ngx_palloc(pool, len + 1);
    ngx_memcpy(t, JT_RS512, len + 1);
    t[len - 10] = (t[len - 10] == 'A') ? 'B' : 'A';

    rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "signature mismatch", "a changed RS512 signature is refused");

    /* each key's verification contexts are made once and reused */

    rc = jt_check(pool, keys, JT_RS512, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "RS512 verifies again after a refused signature");

    rc = jt_check(pool, keys, JT_PS256, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "PS256 verifies with the same key after RS512");

    len = strlen(JT_ES384);
    t = ngx_palloc(pool, len + 1);
    ngx_memcpy(t, JT_ES384, len + 1);
    t[len - 10] = (t[len - 10] == 'A') ? 'B' : 'A';

    rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "signature mismatch", "a changed ES384 signature is refused");

    rc = jt_check(pool, keys, JT_ES384, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "ES384 verifies again after a refused signature");

    t = jt_hs256(pool, "{\"alg\":\"HS256\",\"kid\":\"nope\"}", "{}");
    rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_BUSY && strcmp(err, "no key for kid") == 0,
          "an unknown kid is NGX_BUSY, \"no key for kid\"");

    /* RFC 8725 2.1: a public key is never an HMAC secret */

    rc = jt_check(pool, keys, JT_HS256_PEM, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "no key for alg",
          "HS256 signed with the RSA public key: refused with the JWKS");

    pem = jt_keys(pool, JT_RSA_PEM, &err);
    rc = jt_check(pool, pem, JT_HS256_PEM, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "no key for alg",
          "HS256 signed with the RSA public key: refused with the PEM key");

    pem = jt_keys(pool, JT_A1_JWK, &err);
    rc = jt_check(pool, pem, JT_A2, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "no key for alg", "RS256 with an oct key is refused");

    /* keys without kid (PEM) are tried for tokens with one */

    pem = jt_keys(pool, JT_RSA_PKCS1_PEM, &err);
    rc = jt_check(pool, pem, JT_RS512, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "RS512 with kid verifies with an RSA PUBLIC KEY PEM");

    pem = jt_keys(pool, JT_ED_PEM, &err);
    rc = jt_check(pool, pem, JT_EDDSA, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "Crypt::JWT EdDSA verifies with an Ed25519 PEM");

    pem = jt_keys(pool, JT_P384_CERT, &err);
    rc = jt_check(pool, pem, JT_ES384, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "ES384 verifies with the key of a certificate");

    snprintf(buf, sizeof(buf), "{\"alg\":\"RS256\",%s", JT_RSA_JWK + 1);
    pem = jt_keys(pool, buf, &err);
    rc = jt_check(pool, pem, JT_PS256, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "no key for alg", "a JWK \"alg\" limits its key");

    snprintf(buf, sizeof(buf), "{\"alg\":\"HS256\",%s", JT_RSA_JWK + 1);
    jt_ok(jt_keys(pool, buf, &err) == NULL
          && strcmp(err, "JWK \"alg\" does not fit its key") == 0,
          "an RSA JWK with \"alg\":\"HS256\" is refused");

    ngx_destroy_pool(pool);
}


static void
jt_key_files(void)
{
    char                    buf[16384], name[128], *p;
    ngx_uint_t              i;
    ngx_pool_t             *pool;
    const char             *err;
    ngx_array_t            *keys;
    ngx_http_gw_jose_key_t  *key;

    static struct {
        const char         *jwk;
        const char         *err;
    } jwks[] = {
        { "{\"kty\":\"EC\",\"use\":\"enc\",\"crv\":\"P-256\"," JT_A3_XY "}",
          "JWK \"use\" is not \"sig\"" },
        { "{\"kty\":\"EC\",\"key_ops\":[\"sign\"],\"crv\":\"P-256\","
          JT_A3_XY "}",
          "JWK \"key_ops\" has no \"verify\"" },
        { "{\"kty\":\"EC\",\"kid\":7,\"crv\":\"P-256\"," JT_A3_XY "}",
          "invalid JWK \"kid\"" },
        { "{\"kty\":\"EC\",\"alg\":\"ES256K\",\"crv\":\"P-256\","
          JT_A3_XY "}",
          "JWK \"alg\" is not a supported signature algorithm" },
        { "{\"kty\":\"EC\",\"alg\":\"ES384\",\"crv\":\"P-256\","
          JT_A3_XY "}",
          "JWK \"alg\" does not fit its key" },
        { "{\"kty\":\"EC\",\"crv\":\"P-256\","
          "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
          "\"y\":\"y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
          "invalid EC JWK" },
        { "{\"kty\":\"EC\",\"crv\":\"P-384\"," JT_A3_XY "}",
          "invalid EC JWK" },
        { "{\"kty\":\"EC\",\"crv\":\"secp256k1\"," JT_A3_XY "}",
          "unsupported EC JWK \"crv\"" },
        { "{\"kty\":\"OKP\",\"crv\":\"X25519\","
          "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}",
          "unsupported OKP JWK \"crv\"" },
        { "{\"kty\":\"oct\",\"k\":\"" JT_A1_K "==\"}", "invalid oct JWK" },
        { "{\"kty\":\"oct\",\"k\":\"" JT_A1_K "\",\"k\":\"AA\"}",
          "invalid JWKS" },
        { "{\"kty\":\"RSA\",\"e\":\"AQAB\"}", "invalid RSA JWK" },
        { "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"AA\"}",
          "RSA key is shorter than 2048 bits" },
        { "{\"kty\":\"rsa\"}", "unsupported JWK \"kty\"" },
        { "{\"use\":\"sig\"}", "JWK has no \"kty\"" },
        { "[]", "no JWKS, JWK, PEM public key or certificate" },
    };

    pool = ngx_create_pool(0, NULL);

    keys = jt_keys(pool, JT_RSA_PEM, &err);
    key = (keys != NULL) ? keys->elts : NULL;
    jt_ok(keys != NULL && keys->nelts == 1 && key->kid.len == 0
          && key->kty == NGX_HTTP_GW_JOSE_KTY_RSA
          && key->algs == (NGX_HTTP_GW_JOSE_RS|NGX_HTTP_GW_JOSE_PS),
          "PEM PUBLIC KEY (RSA): RS* and PS*, no kid");

    keys = jt_keys(pool, JT_P384_EXPLICIT, &err);
    key = (keys != NULL) ? keys->elts : NULL;
    jt_ok(keys != NULL && key->algs == NGX_HTTP_GW_JOSE_ES384,
          "PEM EC key with explicit P-384 parameters: ES384");

    snprintf(buf, sizeof(buf), "%s\n%s", JT_RSA_PEM, JT_ED_PEM);
    keys = jt_keys(pool, buf, &err);
    key = (keys != NULL) ? keys->elts : NULL;
    jt_ok(keys != NULL && keys->nelts == 2
          && key[1].algs == NGX_HTTP_GW_JOSE_EDDSA,
          "every block of a PEM file is a key");

    keys = jt_keys(pool, JT_RSA1024_PEM, &err);
    jt_is(err, "RSA key is shorter than 2048 bits",
          "a 1024-bit RSA PEM key is refused");

    keys = jt_keys(pool, JT_RSA1024_JWK, &err);
    jt_is(err, "RSA key is shorter than 2048 bits",
          "a 1024-bit RSA JWK is refused");

    keys = jt_keys(pool, JT_P256_PRIV_PEM, &err);
    jt_is(err, "PEM private key refused: give the public key",
          "a PEM private key is refused");

    snprintf(buf, sizeof(buf), "%s%s", JT_RSA_PEM, JT_P256_PRIV_PEM);
    keys = jt_keys(pool, buf, &err);
    jt_ok(keys == NULL, "a PEM file with a private key is refused whole");

    snprintf(buf, sizeof(buf), "{\"d\":\"AAAA\",%s", JT_P384_JWK + 1);
    keys = jt_keys(pool, buf, &err);
    jt_is(err, "JWK holds a private key", "a private JWK is refused");

    keys = jt_keys(pool, "hello", &err);
    jt_is(err, "no JWKS, JWK, PEM public key or certificate",
          "text that is no key is refused");

    snprintf(buf, sizeof(buf), "%s", JT_RSA_PEM);
    p = strchr(buf, '\n') + 10;
    *p = '!';
    keys = jt_keys(pool, buf, &err);
    jt_ok(keys == NULL, "a damaged PEM block is refused");

    snprintf(buf, sizeof(buf),
             "{\"keys\":["
             "{\"kty\":\"RSA\",\"use\":\"enc\",%s,"
             "{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"},"
             "{\"kty\":\"oct\",\"k\":\"%s==\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\","
             "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
             "\"y\":\"y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
             "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\"},"
             "{\"kty\":\"OKP\",\"crv\":\"X25519\","
             "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
             "{\"kty\":\"EC\",\"key_ops\":[\"sign\"],%s,"
             "\"unknown\",{\"kty\":\"EC\",\"key_ops\":[\"verify\"],"
             "\"kid\":\"a3\",%s]}",
             strchr(JT_A2_JWK, ',') + 1, JT_A1_K,
             strchr(JT_A3_JWK, ',') + 1, strchr(JT_A3_JWK, ',') + 1);

    keys = jt_keys(pool, buf, &err);
    key = (keys != NULL) ? keys->elts : NULL;
    jt_ok(keys != NULL && keys->nelts == 1 && key->kid.len == 2
          && key->algs == NGX_HTTP_GW_JOSE_ES256,
          "JWKS: keys for encryption, short, padded, off the curve, "
          "of other curves or not for \"verify\" are skipped");

    for (i = 0; i < sizeof(jwks) / sizeof(jwks[0]); i++) {
        keys = jt_keys(pool, jwks[i].jwk, &err);
        snprintf(name, sizeof(name), "JWK %.60s: %s", jwks[i].jwk,
                 jwks[i].err);
        jt_is(err, jwks[i].err, name);
    }

    keys = jt_keys(pool, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}]}",
                   &err);
    jt_is(err, "invalid JWKS: no usable key",
          "a JWKS without a usable key is refused");

    keys = jt_keys(pool, "{\"keys\":{}}", &err);
    jt_is(err, "invalid JWKS", "a JWKS whose \"keys\" is no array is refused");

    p = buf + sprintf(buf, "{\"keys\":[");

    for (i = 0; i < NGX_HTTP_GW_JOSE_MAX_KEYS + 1; i++) {
        p += sprintf(p, "%s%s", i ? "," : "", JT_A3_JWK);
    }

    sprintf(p, "]}");

    keys = jt_keys(pool, buf, &err);
    jt_is(err, "invalid JWKS: too many keys",
          "a JWKS of more than NGX_HTTP_GW_JOSE_MAX_KEYS keys is refused");

    /* 32, 48 bytes */

    keys = jt_keys(pool, "{\"kty\":\"oct\","
                   "\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}",
                   &err);
    key = (keys != NULL) ? keys->elts : NULL;
    jt_ok(keys != NULL && key->algs == NGX_HTTP_GW_JOSE_HS256,
          "a 256-bit oct key verifies HS256 only (RFC 7518 3.2)");

    keys = jt_keys(pool, "{\"kty\":\"oct\",\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAx"
                   "MjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm\"}", &err);
    key = (keys != NULL) ? keys->elts : NULL;
    jt_ok(keys != NULL
          && key->algs == (NGX_HTTP_GW_JOSE_HS256|NGX_HTTP_GW_JOSE_HS384),
          "a 384-bit oct key verifies HS256 and HS384");

    keys = jt_keys(pool, "{\"kty\":\"oct\","
                   "\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZQ\"}",
                   &err);
    jt_is(err, "oct JWK is shorter than 256 bits",
          "a 248-bit oct key is refused");

    /* a failed load leaves the array as it was */

    keys = jt_keys(pool, JT_A1_JWK, &err);

    if (keys != NULL) {
        ngx_http_gw_jose_keys_parse(pool, keys, (u_char *) JT_RSA_PEM,
                                    strlen(JT_RSA_PEM), &err);
        ngx_http_gw_jose_keys_parse(pool, keys, (u_char *) buf, strlen(buf),
                                    &err);
    }

    jt_ok(keys != NULL && keys->nelts == 2,
          "keys add up; a failed load adds none");

    ngx_destroy_pool(pool);
}


static void
jt_parse(void)
{
    char                    buf[NGX_HTTP_GW_JOSE_MAX_TOKEN + 2], *t;
    char                    name[256], kid[300];
    u_char                  sig[80], der[160], *p;
    size_t                  len;
    BIGNUM                 *r, *s;
    ngx_int_t               rc;
    ngx_str_t               src, dst;
    ngx_uint_t              i;
    ECDSA_SIG              *esig;
    ngx_pool_t             *pool;
    const char             *err;
    ngx_array_t            *keys, *a3;

    static struct {
        const char         *header;
        const char         *payload;
        const char         *err;
    } tests[] = {
        { "{\"alg\":\"HS256\"}", "{\"sub\":\"a\"}", NULL },
        { "{\"alg\":\"none\"}", "{}", "unsupported or disallowed alg" },
        { "{\"alg\":\"None\"}", "{}", "unsupported or disallowed alg" },
        { "{\"alg\":\"NONE\"}", "{}", "unsupported or disallowed alg" },
        { "{\"alg\":\"nOnE\"}", "{}", "unsupported or disallowed alg" },
        { "{\"alg\":\"hs256\"}", "{}", "unsupported or disallowed alg" },
        { "{\"alg\":\"HS256 \"}", "{}", "unsupported or disallowed alg" },
        { "{\"alg\":\"\"}", "{}", "unsupported or disallowed alg" },
        { "{\"alg\":[\"HS256\"]}", "{}", "unsupported or disallowed alg" },
        { "{\"typ\":\"JWT\"}", "{}", "unsupported or disallowed alg" },
        { "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", "{}",
          "crit header not supported" },
        { "{\"alg\":\"HS256\",\"crit\":[]}", "{}",
          "crit header not supported" },
        { "{\"alg\":\"HS256\",\"b64\":false}", "{}",
          "b64 header not supported" },
        { "{\"alg\":\"HS256\",\"b64\":\"true\"}", "{}",
          "b64 header not supported" },
        { "{\"alg\":\"HS256\",\"b64\":true}", "{}", NULL },
        { "{\"alg\":\"HS256\",\"kid\":1}", "{}", "invalid kid" },
        { "{\"alg\":\"HS256\",\"kid\":\"\"}", "{}", "invalid kid" },
        { "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}",
          "JWS header is not a JSON object" },
        { "[\"HS256\"]", "{}", "JWS header is not a JSON object" },
        { "{\"alg\":\"HS256\"", "{}", "JWS header is not a JSON object" },
        { "{\"alg\":\"HS256\"}", "Hello", "JWS payload is not a JSON object" },
        { "{\"alg\":\"HS256\"}", "[1]", "JWS payload is not a JSON object" },
        { "{\"alg\":\"HS256\"}", "{\"a\":1,\"a\":2}",
          "JWS payload is not a JSON object" },
        { "{\"alg\":\"HS256\",\"jku\":\"https://evil.example/\"}", "{}",
          NULL },
    };

    pool = ngx_create_pool(0, NULL);

    keys = jt_keys(pool, JT_A1_JWK, &err);

    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        t = jt_hs256(pool, tests[i].header, tests[i].payload);
        rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);

        snprintf(name, sizeof(name), "header %s, payload %s: %s",
                 tests[i].header, tests[i].payload,
                 tests[i].err ? tests[i].err : "verifies");

        if (tests[i].err == NULL) {
            jt_ok(rc == NGX_OK, name);

        } else {
            jt_is(err, tests[i].err, name);
        }
    }

    memset(kid, 'k', sizeof(kid));

    sprintf(buf, "{\"alg\":\"HS256\",\"kid\":\"%.256s\"}", kid);
    t = jt_hs256(pool, buf, "{}");
    rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "a kid of 256 bytes is accepted");

    sprintf(buf, "{\"alg\":\"HS256\",\"kid\":\"%.257s\"}", kid);
    t = jt_hs256(pool, buf, "{}");
    rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "invalid kid", "a kid of 257 bytes is refused");

    /* the key's HMAC context is reset for each verification */

    t = jt_hs256(pool, "{\"alg\":\"HS256\"}", "{\"sub\":\"a\"}");
    len = strlen(t);
    t[len - 5] = (t[len - 5] == 'A') ? 'B' : 'A';
    rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "signature mismatch", "a changed HS256 signature is refused");

    t = jt_hs256(pool, "{\"alg\":\"HS256\"}", "{\"sub\":\"a\"}");
    rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "HS256 verifies again after a refused signature");

    rc = jt_check(pool, keys, JT_A1, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "RFC 7515 A.1 verifies after another token");

    p = (u_char *) buf + sprintf(buf, "{\"alg\":\"HS256\",\"x\":");
    p = ngx_cpymem(p, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 32);
    p = ngx_cpymem(p, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 32);
    p = ngx_cpymem(p, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 32);
    p = ngx_cpymem(p, "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 33);
    *p = '\0';
    t = jt_hs256(pool, buf, "{}");
    rc = jt_check(pool, keys, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "JWS header is not a JSON object",
          "a header nested 65 deep is refused");

    rc = jt_check(pool, keys, JT_A1, NGX_HTTP_GW_JOSE_RS, &err);
    jt_is(err, "unsupported or disallowed alg",
          "HS256 outside the allowed algorithms is refused");

    /* {"alg":"RSA-OAEP","enc":"A256GCM"}.key.iv.ciphertext.tag */

    rc = jt_check(pool, keys,
                  "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ."
                  "a2V5.aXY.Y2lwaGVydGV4dA.dGFn",
                  NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "encrypted tokens (JWE) are not supported",
          "a JWE (five parts) is refused");

    rc = jt_check(pool, keys, "eyJhbGciOiJIUzI1NiJ9.e30", NGX_HTTP_GW_JOSE_ALL,
                  &err);
    jt_is(err, "token is not a compact JWS", "two parts are refused");

    rc = jt_check(pool, keys, "eyJhbGciOiJIUzI1NiJ9.e30.e30.e30",
                  NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "token is not a compact JWS", "four parts are refused");

    rc = jt_check(pool, keys, "", NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "token is not a compact JWS", "an empty token is refused");

    rc = jt_check(pool, keys, "eyJhbGciOiJIUzI1NiJ9.e30.",
                  NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "token is not a compact JWS",
          "an empty signature is refused");

    sprintf(buf, "%s=", JT_A1);
    rc = jt_check(pool, keys, buf, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "token is not a compact JWS", "\"=\" padding is refused");

    t = strchr(JT_A1, '.');
    t = strchr(t + 1, '.');
    sprintf(buf, "%.*s==%s", (int) (t - JT_A1), JT_A1, t);
    rc = jt_check(pool, keys, buf, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "token is not a compact JWS",
          "\"==\" padding of the payload is refused");

    sprintf(buf, "%s", JT_A1);
    *strchr(strchr(strchr(buf, '.') + 1, '.'), '-') = '+';
    rc = jt_check(pool, keys, buf, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "token is not a compact JWS",
          "base64 (not base64url) characters are refused");

    sprintf(buf, "%s", JT_A1);
    len = strlen(buf);
    buf[len - 1] = 'l';
    rc = jt_check(pool, keys, buf, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "token is not a compact JWS",
          "non-zero unused bits in the last character are refused");

    memset(buf, 'A', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    buf[10] = '.';
    buf[20] = '.';
    rc = jt_check(pool, keys, buf, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "token is too long",
          "a token over NGX_HTTP_GW_JOSE_MAX_TOKEN bytes is refused");

    /* ES256: R || S of exactly 64 bytes */

    a3 = jt_keys(pool, JT_A3_JWK, &err);

    src.data = (u_char *) strrchr(JT_A3, '.') + 1;
    src.len = strlen((char *) src.data);
    dst.data = sig;
    ngx_decode_base64url(&dst, &src);

    t = jt_token(pool, JT_A3_INPUT, sig, 63);
    rc = jt_check(pool, a3, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "signature mismatch", "ES256: a 63-byte signature is refused");

    sig[64] = 0;
    t = jt_token(pool, JT_A3_INPUT, sig, 65);
    rc = jt_check(pool, a3, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "signature mismatch", "ES256: a 65-byte signature is refused");

    esig = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    ECDSA_SIG_set0(esig, r, s);
    p = der;
    len = i2d_ECDSA_SIG(esig, &p);
    ECDSA_SIG_free(esig);

    t = jt_token(pool, JT_A3_INPUT, der, len);
    rc = jt_check(pool, a3, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_is(err, "signature mismatch", "ES256: a DER signature is refused");

    t = jt_token(pool, JT_A3_INPUT, sig, 64);
    rc = jt_check(pool, a3, t, NGX_HTTP_GW_JOSE_ALL, &err);
    jt_ok(rc == NGX_OK, "ES256: the same signature as R || S verifies");

    ngx_destroy_pool(pool);
}


static ngx_array_t *
jt_list(ngx_pool_t *pool, const char *a, const char *b)
{
    ngx_str_t    *s;
    ngx_array_t  *list;

    list = ngx_palloc(pool, sizeof(ngx_array_t));
    ngx_array_init(list, pool, 2, sizeof(ngx_str_t));

    if (a != NULL) {
        s = ngx_array_push(list);
        s->data = (u_char *) a;
        s->len = strlen(a);
    }

    if (b != NULL) {
        s = ngx_array_push(list);
        s->data = (u_char *) b;
        s->len = strlen(b);
    }

    return list;
}


static void
jt_claims(void)
{
    char         name[128], buf[128];
    json_t      *claims, *v;
    ngx_str_t    text;
    ngx_uint_t   i;
    ngx_pool_t  *pool;
    const char  *err;

    static char  payload[] =
        "{\"iss\":\"https://idp.example\",\"aud\":[\"api\",\"web\"],"
        "\"exp\":1000,\"nbf\":900,\"iat\":900,"
        "\"realm_access\":{\"roles\":[\"admin\",\"user\"]},"
        "\"https://example.com/roles\":[\"a\"],"
        "\"n\":-42,\"r\":1.5,\"r2\":0.1,\"r3\":1300819380.0,\"big\":1e300,"
        "\"t\":true,\"f\":false,\"z\":null,\"o\":{\"a\":1,\"b\":[true]},"
        "\"m\":[\"a\",1],\"e\":[],\"s\":\"caf\xc3\xa9\"}";

    static struct {
        const char  *path;
        const char  *text;
    } texts[] = {
        { "iss", "https://idp.example" },
        { "aud", "api web" },
        { "exp", "1000" },
        { "realm_access.roles", "admin user" },
        { "https://example.com/roles", "a" },
        { "n", "-42" },
        { "r", "1.5" },
        { "r2", "0.1" },
        { "r3", "1300819380" },
        { "big", "1e+300" },
        { "t", "true" },
        { "f", "false" },
        { "z", "null" },
        { "o", "{\"a\":1,\"b\":[true]}" },
        { "m", "[\"a\",1]" },
        { "e", "" },
        { "s", "caf\xc3\xa9" },
        { "realm_access", "{\"roles\":[\"admin\",\"user\"]}" },
    };

    static struct {
        const char  *payload;
        time_t       now;
        time_t       leeway;
        const char  *err;
    } times[] = {
        { "{\"exp\":1000,\"nbf\":900,\"iat\":900}", 999, 0, NULL },
        { "{\"exp\":1000}", 1000, 0, "token expired" },
        { "{\"exp\":1000}", 1059, 60, NULL },
        { "{\"exp\":1000}", 1060, 60, "token expired" },
        { "{\"exp\":1000.5}", 1000, 0, NULL },
        { "{\"exp\":1000.5}", 1001, 0, "token expired" },
        { "{\"nbf\":900}", 899, 0, "token not yet valid" },
        { "{\"nbf\":900}", 840, 60, NULL },
        { "{\"nbf\":900}", 839, 60, "token not yet valid" },
        { "{\"iat\":2000}", 1000, 0, "token issued in the future" },
        { "{\"iat\":2000}", 1000, 1000, NULL },
        { "{\"exp\":\"2000\"}", 1000, 0, "invalid exp claim" },
        { "{\"nbf\":true}", 1000, 0, "invalid nbf claim" },
        { "{\"iat\":null}", 1000, 0, "invalid iat claim" },
        { "{\"sub\":\"no times\"}", 1000, 0, NULL },
    };

    pool = ngx_create_pool(0, NULL);

    claims = ngx_http_gw_jose_json(pool, jt_str(payload));
    jt_ok(claims != NULL, "claims parse");

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        v = ngx_http_gw_jose_claim(claims, (u_char *) texts[i].path,
                                   strlen(texts[i].path));
        buf[0] = '\0';

        if (v != NULL
            && ngx_http_gw_jose_claim_text(pool, v, &text) == NGX_OK)
        {
            snprintf(buf, sizeof(buf), "%.*s", (int) text.len, text.data);
        }

        snprintf(name, sizeof(name), "claim \"%s\" as text", texts[i].path);
        jt_is(v != NULL ? buf : NULL, texts[i].text, name);
    }

    jt_ok(ngx_http_gw_jose_claim(claims, jt_str("realm_access.none")) == NULL
          && ngx_http_gw_jose_claim(claims, jt_str("iss.x")) == NULL
          && ngx_http_gw_jose_claim(claims, jt_str("none")) == NULL
          && ngx_http_gw_jose_claim(claims, (u_char *) "", 0) == NULL,
          "absent claims are NULL");

    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        v = ngx_http_gw_jose_json(pool, (u_char *) times[i].payload,
                                  strlen(times[i].payload));
        err = NULL;

        snprintf(name, sizeof(name), "%s at %ld, leeway %ld: %s",
                 times[i].payload, (long) times[i].now,
                 (long) times[i].leeway,
                 times[i].err ? times[i].err : "valid");

        if (times[i].err == NULL) {
            jt_ok(ngx_http_gw_jose_check_time(v, times[i].now,
                                              times[i].leeway, &err)
                  == NGX_OK, name);

        } else {
            ngx_http_gw_jose_check_time(v, times[i].now, times[i].leeway,
                                        &err);
            jt_is(err, times[i].err, name);
        }
    }

    jt_ok(ngx_http_gw_jose_check_issuer(claims,
              jt_list(pool, "https://other.example", "https://idp.example"),
              &err)
          == NGX_OK,
          "issuer in the list");

    err = NULL;
    ngx_http_gw_jose_check_issuer(claims,
                                  jt_list(pool, "https://idp.example/", NULL),
                                  &err);
    jt_is(err, "issuer not allowed", "issuer not in the list");

    err = NULL;
    ngx_http_gw_jose_check_issuer(ngx_http_gw_jose_json(pool, jt_str("{}")),
                                  jt_list(pool, "https://idp.example", NULL),
                                  &err);
    jt_is(err, "issuer not allowed", "no issuer");

    jt_ok(ngx_http_gw_jose_check_issuer(claims, NULL, &err) == NGX_OK
          && ngx_http_gw_jose_check_issuer(claims, jt_list(pool, NULL, NULL),
                                           &err)
             == NGX_OK,
          "no issuer list allows any issuer");

    jt_ok(ngx_http_gw_jose_check_audience(claims,
                                          jt_list(pool, "web", NULL), &err)
          == NGX_OK,
          "audience in the \"aud\" array");

    jt_ok(ngx_http_gw_jose_check_audience(
              ngx_http_gw_jose_json(pool, jt_str("{\"aud\":\"api\"}")),
              jt_list(pool, "x", "api"), &err)
          == NGX_OK,
          "audience as the \"aud\" string");

    err = NULL;
    ngx_http_gw_jose_check_audience(claims, jt_list(pool, "mobile", "ap"),
                                    &err);
    jt_is(err, "audience not allowed", "audience not in \"aud\"");

    err = NULL;
    ngx_http_gw_jose_check_audience(
        ngx_http_gw_jose_json(pool, jt_str("{\"aud\":[1,null,{}]}")),
        jt_list(pool, "1", NULL), &err);
    jt_is(err, "audience not allowed", "an \"aud\" of no strings");

    ngx_destroy_pool(pool);
}


static void
jt_json(void)
{
    char        *big, buf[512], *p;
    size_t       n;
    ngx_pool_t  *pool;

    pool = ngx_create_pool(0, NULL);

    n = 1024 * 1024;
    big = malloc(n + 1);
    memset(big, ' ', n + 1);
    big[0] = '[';
    big[n - 1] = ']';

    jt_ok(ngx_http_gw_jose_json(pool, (u_char *) big, n) != NULL,
          "JSON of 1 MB is parsed");

    big[n - 1] = ' ';
    big[n] = ']';

    jt_ok(ngx_http_gw_jose_json(pool, (u_char *) big, n + 1) == NULL,
          "JSON over 1 MB is refused");

    free(big);

    p = buf;
    p += sprintf(p, "%.64s", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    p += sprintf(p, "%.64s", "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]");

    jt_ok(ngx_http_gw_jose_json(pool, (u_char *) buf, p - buf) != NULL,
          "JSON nested 64 deep is parsed");

    jt_ok(ngx_http_gw_jose_json(pool,
              jt_str("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}"))
          != NULL,
          "brackets in strings do not count as nesting");

    sprintf(buf, "[%s]", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                         "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");

    jt_ok(ngx_http_gw_jose_json(pool, (u_char *) buf, strlen(buf)) == NULL,
          "JSON nested 65 deep is refused");

    jt_ok(ngx_http_gw_jose_json(pool, jt_str("{\"a\":1,\"a\":1}")) == NULL,
          "duplicate names are refused");

    jt_ok(ngx_http_gw_jose_json(pool, jt_str("\"text\"")) == NULL
          && ngx_http_gw_jose_json(pool, jt_str("1")) == NULL,
          "a JSON text that is no object or array is refused");

    jt_ok(ngx_http_gw_jose_json(pool, jt_str("{\"a\":\"\xff\"}")) == NULL,
          "invalid UTF-8 is refused");

    ngx_destroy_pool(pool);
}


/* one part of a token parsed before, as a cached token's claims are */

static void
jt_part(void)
{
    json_t      *v;
    ngx_pool_t  *pool;

    pool = ngx_create_pool(0, NULL);

    v = ngx_http_gw_jose_part(pool, jt_str(JT_A1), 0);
    jt_is(json_string_value(json_object_get(v, "alg")), "HS256",
          "part 0 of RFC 7515 A.1 is its header");

    v = ngx_http_gw_jose_part(pool, jt_str(JT_A1), 1);
    jt_is(json_string_value(json_object_get(v, "iss")), "joe",
          "part 1 of RFC 7515 A.1 is its payload");

    jt_ok(ngx_http_gw_jose_part(pool, jt_str(JT_A1), 2) == NULL,
          "part 2, the signature, is no JSON object");

    jt_ok(ngx_http_gw_jose_part(pool, jt_str("eyJhIjoxfQ"), 0) == NULL
          && ngx_http_gw_jose_part(pool, jt_str("eyJhIjoxfQ.eyJhIjoxfQ"), 1)
             == NULL,
          "a part that no dot ends is not one");

    jt_ok(ngx_http_gw_jose_part(pool, jt_str("WzFd.e30.e30"), 0) == NULL
          && ngx_http_gw_jose_part(pool, jt_str("e30.e30=.e30"), 1) == NULL,
          "a part that is no JSON object, or no base64url, gives NULL");

    jt_budget = 0;

    jt_ok(ngx_http_gw_jose_part(pool, jt_str(JT_A1), 1) == NULL,
          "out of memory: NULL");

    jt_budget = -1;

    ngx_destroy_pool(pool);
}


/* every allocation of a key load and a verification made to fail in turn */

static void
jt_out_of_memory(void)
{
    char          buf[4096];
    ngx_int_t     rc, budget;
    ngx_uint_t    clean, passed, failed;
    ngx_pool_t   *pool;
    const char   *err;
    ngx_array_t  *keys;

    snprintf(buf, sizeof(buf), "{\"keys\":[%s,%s,%s]}",
             JT_A1_JWK, JT_RSA_JWK, JT_A3_JWK);

    clean = 1;
    passed = 0;
    failed = 0;

    for (budget = 0; budget < 200; budget++) {

        pool = ngx_create_pool(0, NULL);

        jt_budget = budget;

        keys = jt_keys(pool, buf, &err);

        rc = (keys != NULL)
             ? jt_check(pool, keys, JT_PS256, NGX_HTTP_GW_JOSE_ALL, &err)
             : NGX_ERROR;

        jt_budget = -1;

        if (keys != NULL && keys->nelts != 3) {
            clean = 0;
        }

        if (rc == NGX_OK) {
            passed++;

        } else if (rc == NGX_ERROR || rc == NGX_DECLINED) {
            failed++;

        } else {
            clean = 0;
        }

        ngx_destroy_pool(pool);
    }

    jt_ok(clean && passed && failed,
          "allocations failing one by one: each load and check fails whole "
          "or passes");
}
