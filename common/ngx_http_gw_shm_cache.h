
/*
 * Copyright (C) nginx-gw authors
 *
 * A keyed cache in a shared zone, the limit_req pattern: entries named by
 * a 32-byte digest, found through an rbtree, evicted least recently used
 * first when the zone is full, expiring at a time of their own, each with
 * optional data.  Kept across reload.  Used for webhook deliveries already
 * accepted, verified tokens, introspection results and fetched JWKS.
 */


#ifndef _NGX_HTTP_GW_SHM_CACHE_H_INCLUDED_
#define _NGX_HTTP_GW_SHM_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_common.h"


#define NGX_HTTP_GW_SHM_CACHE_KEY_LEN  32


typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
    ngx_uint_t                      generation;     /* free for the user */
    ngx_uint_t                      entries;
    ngx_uint_t                      evictions;      /* unexpired, for room */
} ngx_http_gw_shm_cache_sh_t;


/* shm_zone->data of a zone whose init is ngx_http_gw_shm_cache_init_zone */

typedef struct {
    ngx_http_gw_shm_cache_sh_t     *sh;
    ngx_slab_pool_t                *shpool;
} ngx_http_gw_shm_cache_t;


/* starts at ngx_rbtree_node_t.color */

typedef struct {
    u_char                          color;
    u_char                          type;
    u_char                          key[NGX_HTTP_GW_SHM_CACHE_KEY_LEN];
    ngx_queue_t                     queue;
    time_t                          expire;
    time_t                          fetched;
    ngx_uint_t                      generation;
    size_t                          len;
    u_char                          data[1];
} ngx_http_gw_shm_cache_node_t;


NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_shm_cache_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);

/* under the zone's mutex: the entry of key, expired or not */
NGX_HTTP_GW_LOCAL ngx_http_gw_shm_cache_node_t *ngx_http_gw_shm_cache_get(
    ngx_http_gw_shm_cache_t *zone, u_char *key);

/* takes the mutex: stores key (replacing an entry), evicting if full */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_shm_cache_put(
    ngx_http_gw_shm_cache_t *zone, u_char *key, ngx_uint_t type,
    time_t expire, u_char *data, size_t len, ngx_log_t *log);

/* under the zone's mutex: frees up to two expired entries, or with force
 * the least recently used one whatever its age */
NGX_HTTP_GW_LOCAL void ngx_http_gw_shm_cache_expire(
    ngx_http_gw_shm_cache_t *zone, ngx_uint_t force);

/* takes the mutex: entries now, and unexpired entries evicted for room */
NGX_HTTP_GW_LOCAL void ngx_http_gw_shm_cache_stats(
    ngx_http_gw_shm_cache_t *zone, ngx_uint_t *entries,
    ngx_uint_t *evictions);


#endif /* _NGX_HTTP_GW_SHM_CACHE_H_INCLUDED_ */
