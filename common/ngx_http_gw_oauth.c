
/*
 * Copyright (C) nginx-gw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_jose.h"
#include "ngx_http_gw_oauth.h"


ngx_uint_t
ngx_http_gw_oauth_introspection_parse(ngx_pool_t *pool, u_char *data,
    size_t len, time_t now, time_t max_ttl,
    ngx_http_gw_oauth_introspection_t *in)
{
    json_t  *resp;

    in->response = NULL;
    in->exp = NULL;
    in->until = now;

    resp = ngx_http_gw_jose_json(pool, data, len);

    if (resp == NULL || !json_is_object(resp)) {
        return NGX_HTTP_GW_OAUTH_INVALID;
    }

    in->response = resp;

    if (!json_is_true(json_object_get(resp, "active"))) {
        return NGX_HTTP_GW_OAUTH_INACTIVE;
    }

    in->exp = json_object_get(resp, "exp");

    if (ngx_http_gw_jose_until(in->exp, now, max_ttl, &in->until) != NGX_OK) {
        return NGX_HTTP_GW_OAUTH_EXPIRED;
    }

    return NGX_HTTP_GW_OAUTH_ACTIVE;
}


ngx_uint_t
ngx_http_gw_oauth_has_word(ngx_str_t *list, ngx_str_t *word)
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
