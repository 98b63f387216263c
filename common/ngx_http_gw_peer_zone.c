
/*
 * Copyright (C) nginx-gw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_gw_peer_zone.h"


static ngx_int_t ngx_http_gw_peer_zone_init(ngx_shm_zone_t *shm_zone,
    void *data);


/*
 * Configuration time, after the upstream's balancer has built its
 * round-robin peers (every balancer of nginx does): records the peers'
 * addresses and adds the zone.
 */

ngx_int_t
ngx_http_gw_peer_zone_add(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us,
    ngx_http_gw_peer_zone_t *pz, char *prefix, size_t size, void *tag)
{
    size_t                         len;
    ngx_str_t                      name, *pname;
    ngx_http_upstream_rr_peer_t   *peer;
    ngx_http_upstream_rr_peers_t  *peers;

    pz->upstream = &us->host;
    pz->size = ngx_align(size, sizeof(ngx_atomic_t));

    pz->names = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (pz->names == NULL) {
        return NGX_ERROR;
    }

    for (peers = us->peer.data; peers; peers = peers->next) {

        for (peer = peers->peer; peer; peer = peer->next) {

            if (peer->name.len > NGX_HTTP_GW_PEER_NAME_LEN) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "%s: peer name \"%V\" in upstream \"%V\" "
                                   "is too long", prefix, &peer->name,
                                   &us->host);
                return NGX_ERROR;
            }

            pname = ngx_array_push(pz->names);
            if (pname == NULL) {
                return NGX_ERROR;
            }

            *pname = peer->name;
        }

        if (peers == us->peer.data) {
            pz->nprimary = pz->names->nelts;
        }
    }

    if (pz->names->nelts * pz->size > NGX_HTTP_GW_PEER_ZONE_SIZE / 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s: too many peers in upstream \"%V\"",
                           prefix, &us->host);
        return NGX_ERROR;
    }

    len = ngx_strlen(prefix);

    name.len = len + 1 + us->host.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "%s:%V", prefix, &us->host);

    pz->shm_zone = ngx_shared_memory_add(cf, &name,
                                         NGX_HTTP_GW_PEER_ZONE_SIZE, tag);
    if (pz->shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (pz->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_ERROR;
    }

    pz->shm_zone->init = ngx_http_gw_peer_zone_init;
    pz->shm_zone->data = pz;

    return NGX_OK;
}


/*
 * Takes the zone's mutex: a copy of entry i, for a reader (gw_status) that
 * must not hold the lock while it writes its output.
 */

ngx_int_t
ngx_http_gw_peer_zone_copy(ngx_http_gw_peer_zone_t *pz, ngx_uint_t i,
    void *buf, size_t len)
{
    if (pz->sh == NULL) {
        return NGX_DONE;
    }

    ngx_shmtx_lock(&pz->shpool->mutex);

    if (i >= pz->sh->npeers) {
        ngx_shmtx_unlock(&pz->shpool->mutex);
        return NGX_DONE;
    }

    ngx_memcpy(buf, ngx_http_gw_peer_zone_entry(pz, i),
               ngx_min(len, pz->size));

    ngx_shmtx_unlock(&pz->shpool->mutex);

    return NGX_OK;
}


/* under the zone's mutex: the entry of the peer with this address */

void *
ngx_http_gw_peer_zone_find(ngx_http_gw_peer_zone_t *pz, ngx_str_t *name)
{
    ngx_uint_t                i;
    ngx_http_gw_peer_name_t  *pn;

    if (name == NULL) {
        return NULL;
    }

    for (i = 0; i < pz->sh->npeers; i++) {
        pn = ngx_http_gw_peer_zone_entry(pz, i);

        if (pn->name_len == name->len
            && ngx_memcmp(pn->name, name->data, name->len) == 0)
        {
            return pn;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_gw_peer_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_gw_peer_zone_t  *opz = data;

    size_t                     len;
    u_char                    *peers, *old, *grown;
    ngx_str_t                 *name;
    ngx_uint_t                 i, j, n, same, capacity;
    ngx_http_gw_peer_name_t   *pn, *opn;
    ngx_http_gw_peer_shctx_t  *sh;
    ngx_http_gw_peer_zone_t   *pz;

    pz = shm_zone->data;
    pz->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (opz) {
        sh = opz->sh;

    } else if (shm_zone->shm.exists) {
        sh = pz->shpool->data;

    } else {
        sh = ngx_slab_calloc(pz->shpool, sizeof(ngx_http_gw_peer_shctx_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        pz->shpool->data = sh;

        len = sizeof(" in zone \"\"") + shm_zone->shm.name.len;

        pz->shpool->log_ctx = ngx_slab_alloc(pz->shpool, len);
        if (pz->shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(pz->shpool->log_ctx, " in zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    pz->sh = sh;

    name = pz->names->elts;
    old = sh->peers;

    /* the same peers as before (the usual reload): keep them in place */

    same = (old != NULL && sh->npeers == pz->names->nelts);

    for (i = 0; same && i < sh->npeers; i++) {
        pn = ngx_http_gw_peer_zone_entry(pz, i);
        same = (pn->name_len == name[i].len
                && ngx_memcmp(pn->name, name[i].data, name[i].len) == 0);
    }

    if (same) {
        ngx_shmtx_lock(&pz->shpool->mutex);

        for (i = 0; pz->reset && i < sh->npeers; i++) {
            pz->reset(pz, ngx_http_gw_peer_zone_entry(pz, i));
        }

        ngx_shmtx_unlock(&pz->shpool->mutex);

        return NGX_OK;
    }

    /*
     * The peers changed: each remaining peer keeps its state.  The entries
     * are built aside, then copied into the array in place while it is big
     * enough (workers of the previous configuration still hold pointers
     * into it until they exit; they may count a result or two on a moved
     * entry, never outside the zone).  A larger array is taken only when
     * the peers outgrow it, with room to spare, so reloads do not leak.
     */

    n = pz->names->nelts;

    peers = ngx_calloc(n * pz->size, ngx_cycle->log);
    if (peers == NULL) {
        return NGX_ERROR;
    }

    grown = NULL;

    if (n > sh->capacity) {
        capacity = ngx_min(2 * n, NGX_HTTP_GW_PEER_ZONE_SIZE / 2 / pz->size);
        capacity = ngx_max(capacity, n);

        grown = ngx_slab_calloc(pz->shpool, capacity * pz->size);
        if (grown == NULL) {
            ngx_free(peers);
            return NGX_ERROR;
        }
    }

    ngx_shmtx_lock(&pz->shpool->mutex);

    for (i = 0; i < n; i++) {
        pn = (ngx_http_gw_peer_name_t *) (peers + i * pz->size);

        for (j = 0; old && j < sh->npeers; j++) {
            opn = (ngx_http_gw_peer_name_t *) (old + j * pz->size);

            if (opn->name_len == name[i].len
                && ngx_memcmp(opn->name, name[i].data, name[i].len) == 0)
            {
                ngx_memcpy(pn, opn, pz->size);

                if (pz->reset) {
                    pz->reset(pz, pn);
                }

                break;
            }
        }

        pn->name_len = name[i].len;
        ngx_memcpy(pn->name, name[i].data, name[i].len);
    }

    if (grown) {
        sh->peers = grown;
        sh->capacity = capacity;
    }

    ngx_memcpy(sh->peers, peers, n * pz->size);
    sh->npeers = n;

    ngx_shmtx_unlock(&pz->shpool->mutex);

    ngx_free(peers);

    return NGX_OK;
}
