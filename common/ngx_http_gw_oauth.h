
/*
 * Copyright (C) nginx-gw authors
 *
 * OAuth 2.0 for the auth module: reading a token introspection response
 * (RFC 7662), the body an IdP returns to the introspection subrequest, and
 * testing a space-separated list ("scope", RFC 6749 3.3; a roles claim)
 * for a word.  Pure: buffers, lengths and a pool in, never a request, so
 * that the fuzz target (fuzz/introspect) runs this very code.  The JSON is
 * parsed by ngx_http_gw_jose_json(), with its limits, and released with
 * the pool.
 */


#ifndef _NGX_HTTP_GW_OAUTH_H_INCLUDED_
#define _NGX_HTTP_GW_OAUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>

#include "ngx_http_gw_common.h"


/* what an introspection response says */

#define NGX_HTTP_GW_OAUTH_ACTIVE     0      /* active, not expired */
#define NGX_HTTP_GW_OAUTH_INACTIVE   1      /* "active" is not true */
#define NGX_HTTP_GW_OAUTH_EXPIRED    2      /* active, "exp" is past */
#define NGX_HTTP_GW_OAUTH_INVALID    3      /* not a JSON object */


typedef struct {
    json_t                    *response;    /* the object; NULL: invalid */
    json_t                    *exp;         /* its "exp", or NULL */
    time_t                     until;       /* active: "exp" or max_ttl */
} ngx_http_gw_oauth_introspection_t;


/*
 * Reads an introspection response of len bytes at time now: one of the
 * NGX_HTTP_GW_OAUTH_* results.  A response is active only when "active"
 * is the JSON true; an active one with an "exp" at or before now is
 * expired.  For an active one, in->until is how long it may be trusted:
 * "exp" (a number; another type gives no limit) capped at now + max_ttl.
 */
NGX_HTTP_GW_LOCAL ngx_uint_t ngx_http_gw_oauth_introspection_parse(
    ngx_pool_t *pool, u_char *data, size_t len, time_t now, time_t max_ttl,
    ngx_http_gw_oauth_introspection_t *in);

/* is word one of the space-separated words of list? */
NGX_HTTP_GW_LOCAL ngx_uint_t ngx_http_gw_oauth_has_word(ngx_str_t *list,
    ngx_str_t *word);


#endif /* _NGX_HTTP_GW_OAUTH_H_INCLUDED_ */
