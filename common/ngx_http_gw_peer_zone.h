
/*
 * Copyright (C) nginx-gw authors
 *
 * Per-peer state of an upstream in a shared zone of its own, for modules
 * that keep figures about an upstream's peers (breakers, response times,
 * bandwidth).  The zone is named "<prefix>:<upstream>", holds one entry per
 * peer (primary peers first, then backup peers, in configuration order),
 * each entry starting with the peer's address, and is matched by address
 * on reload: a peer that stays keeps its entry, so state survives
 * "nginx -s reload" (nginx copies an upstream's own zone anew each time).
 */


#ifndef _NGX_HTTP_GW_PEER_ZONE_H_INCLUDED_
#define _NGX_HTTP_GW_PEER_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_gw_common.h"


#define NGX_HTTP_GW_PEER_NAME_LEN    128
#define NGX_HTTP_GW_PEER_ZONE_SIZE   (256 * 1024)


/* the first member of every entry */

typedef struct {
    size_t                         name_len;
    u_char                         name[NGX_HTTP_GW_PEER_NAME_LEN];
} ngx_http_gw_peer_name_t;


typedef struct {
    ngx_uint_t                     npeers;
    ngx_uint_t                     tick;        /* free for the module */
    ngx_uint_t                     capacity;
    u_char                        *peers;
} ngx_http_gw_peer_shctx_t;


typedef struct ngx_http_gw_peer_zone_s  ngx_http_gw_peer_zone_t;

typedef void (*ngx_http_gw_peer_reset_pt)(ngx_http_gw_peer_zone_t *pz,
    void *entry);

struct ngx_http_gw_peer_zone_s {
    ngx_str_t                     *upstream;
    ngx_array_t                   *names;       /* ngx_str_t */
    ngx_uint_t                     nprimary;
    size_t                         size;        /* bytes per entry */
    ngx_shm_zone_t                *shm_zone;
    ngx_http_gw_peer_shctx_t      *sh;
    ngx_slab_pool_t               *shpool;

    /* called on reload for each entry kept: e.g. to zero in-flight counts */
    ngx_http_gw_peer_reset_pt      reset;
};


#define ngx_http_gw_peer_zone_entry(pz, i)                                    \
    ((void *) ((pz)->sh->peers + (i) * (pz)->size))


NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_peer_zone_add(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us, ngx_http_gw_peer_zone_t *pz,
    char *prefix, size_t size, void *tag);
NGX_HTTP_GW_LOCAL void *ngx_http_gw_peer_zone_find(
    ngx_http_gw_peer_zone_t *pz, ngx_str_t *name);

/* takes the mutex: copies the first len bytes of entry i into buf;
 * NGX_DONE when there is no entry i (or no zone yet) */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_peer_zone_copy(
    ngx_http_gw_peer_zone_t *pz, ngx_uint_t i, void *buf, size_t len);


#endif /* _NGX_HTTP_GW_PEER_ZONE_H_INCLUDED_ */
