
/*
 * Copyright (C) nginx-gw authors
 *
 * An introspection response (RFC 7662), the body of the auth module's
 * introspection subrequest.  The module reads it inline, in
 * ngx_http_gw_auth_introspect_result(), which takes the request: what it
 * does with the bytes is ngx_http_gw_jose_json() and then the checks that
 * fz_introspect_result() below copies, line for line, without the request,
 * log and cache.  Replace the copy with a call of the pure function once
 * it is extracted (fuzz/README.md, "Not yet separable").  The payload then
 * goes, as the module's does, through the scope and role checks of
 * ngx_http_gw_auth_authorize() (the jose claim functions and a copy of the
 * static ngx_http_gw_auth_has_word()) and the claim texts of the
 * variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_jose.h"

#include "fuzz_ngx.h"


static ngx_int_t fz_introspect_result(json_t *resp, time_t now,
    time_t max_ttl, time_t *expires);
static ngx_int_t fz_auth_has_word(ngx_str_t *list, ngx_str_t *word);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t      *resp, *v, *e;
    size_t       k;
    time_t       expires;
    ngx_str_t    text, value;
    ngx_uint_t   i;
    ngx_pool_t  *pool;
    const char  *key;

    static ngx_str_t  words[] = {
        ngx_string("read"), ngx_string("write"), ngx_string("admin"),
        ngx_string("")
    };

    static const char  *roles[] = {
        "realm_access.roles", "roles", "https://example.com/roles", NULL
    };

    pool = fz_pool();

    resp = ngx_http_gw_jose_json(pool, (u_char *) data, size);

    if (resp == NULL || !json_is_object(resp)) {
        goto done;
    }

    if (fz_introspect_result(resp, 1700000000, 3600, &expires) != NGX_OK) {
        goto done;
    }

    fz_check(expires > 1700000000 && expires <= 1700000000 + 3600);

    /* gw_auth_scope */

    v = json_object_get(resp, "scope");
    if (v == NULL) {
        v = json_object_get(resp, "scp");
    }

    if (v != NULL) {
        fz_check(ngx_http_gw_jose_claim_text(pool, v, &text) == NGX_OK);

        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            (void) fz_auth_has_word(&text, &words[i]);
        }
    }

    /* gw_auth_role with roles_claim= */

    for (i = 0; roles[i] != NULL; i++) {
        v = ngx_http_gw_jose_claim(resp, (u_char *) roles[i],
                                   ngx_strlen(roles[i]));

        if (json_is_string(v)) {
            value.data = (u_char *) json_string_value(v);
            value.len = json_string_length(v);
            (void) fz_auth_has_word(&value, &words[0]);

        } else if (json_is_array(v)) {
            json_array_foreach(v, k, e) {
                (void) json_string_length(e);
            }
        }
    }

    /* $gw_auth_claim_<name> */

    json_object_foreach(resp, key, v) {
        fz_check(ngx_http_gw_jose_claim_text(pool, v, &text) == NGX_OK);
    }

done:

    ngx_destroy_pool(pool);

    return 0;
}


/*
 * A copy of what ngx_http_gw_auth_introspect_result() does with the
 * parsed response (ngx_http_gw_auth_module.c, from 'v = json_object_get(
 * resp, "active")' to the cache expiry), "zone" set: NGX_OK with the
 * cache entry's expiry, or NGX_DECLINED (not active, expired).
 */

static ngx_int_t
fz_introspect_result(json_t *resp, time_t now, time_t max_ttl,
    time_t *expires)
{
    time_t   exp;
    json_t  *v;

    v = json_object_get(resp, "active");

    if (!json_is_true(v)) {
        return NGX_DECLINED;
    }

    v = json_object_get(resp, "exp");

    /* the module's own function, since the crash in regress/introspect */

    if (ngx_http_gw_jose_until(v, now, max_ttl, &exp) != NGX_OK) {
        return NGX_DECLINED;
    }

    *expires = exp;

    return NGX_OK;
}


/* a copy of the static ngx_http_gw_auth_has_word() */

static ngx_int_t
fz_auth_has_word(ngx_str_t *list, ngx_str_t *word)
{
    u_char  *p, *last, *end;

    p = list->data;
    last = p + list->len;

    while (p < last) {
        end = ngx_strlchr(p, last, ' ');
        if (end == NULL) {
            end = last;
        }

        if ((size_t) (end - p) == word->len
            && ngx_strncmp(p, word->data, word->len) == 0)
        {
            return 1;
        }

        p = end + 1;
    }

    return 0;
}
