
/*
 * Copyright (C) nginx-gw authors
 *
 * An introspection response (RFC 7662), the body of the auth module's
 * introspection subrequest, read as ngx_http_gw_auth_introspect_result()
 * reads it: ngx_http_gw_oauth_introspection_parse() (common/
 * ngx_http_gw_oauth.c), the very function the module calls.  An active
 * response then goes, as the module's does, through the scope and role
 * checks of ngx_http_gw_auth_authorize() (ngx_http_gw_oauth_has_word()
 * and the jose claim functions) and the claim texts of the variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_jose.h"
#include "ngx_http_gw_oauth.h"

#include "fuzz_ngx.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t                             *resp, *v, *e;
    size_t                              k;
    ngx_str_t                           text, value;
    ngx_uint_t                          i, rc;
    ngx_pool_t                         *pool;
    const char                         *key;
    ngx_http_gw_oauth_introspection_t   in;

    static ngx_str_t  words[] = {
        ngx_string("read"), ngx_string("write"), ngx_string("admin"),
        ngx_string("")
    };

    static const char  *roles[] = {
        "realm_access.roles", "roles", "https://example.com/roles", NULL
    };

    pool = fz_pool();

    rc = ngx_http_gw_oauth_introspection_parse(pool, (u_char *) data, size,
                                               1700000000, 3600, &in);

    fz_check(rc <= NGX_HTTP_GW_OAUTH_INVALID);
    fz_check((rc == NGX_HTTP_GW_OAUTH_INVALID) == (in.response == NULL));

    if (rc != NGX_HTTP_GW_OAUTH_ACTIVE) {
        goto done;
    }

    /* an "exp" within the current second: trusted until now, not cached */

    fz_check(in.until >= 1700000000 && in.until <= 1700000000 + 3600);

    resp = in.response;

    /* gw_auth_scope */

    v = json_object_get(resp, "scope");
    if (v == NULL) {
        v = json_object_get(resp, "scp");
    }

    if (v != NULL) {
        fz_check(ngx_http_gw_jose_claim_text(pool, v, &text) == NGX_OK);

        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            (void) ngx_http_gw_oauth_has_word(&text, &words[i]);
        }
    }

    /* gw_auth_role with roles_claim= */

    for (i = 0; roles[i] != NULL; i++) {
        v = ngx_http_gw_jose_claim(resp, (u_char *) roles[i],
                                   ngx_strlen(roles[i]));

        if (json_is_string(v)) {
            value.data = (u_char *) json_string_value(v);
            value.len = json_string_length(v);
            (void) ngx_http_gw_oauth_has_word(&value, &words[0]);

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

