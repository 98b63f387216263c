
/*
 * Copyright (C) nginx-gw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_shm_cache.h"


static void ngx_http_gw_shm_cache_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


/* under the zone's mutex */

ngx_http_gw_shm_cache_node_t *
ngx_http_gw_shm_cache_get(ngx_http_gw_shm_cache_t *zone, u_char *key)
{
    uint32_t                  hash;
    ngx_int_t                 rc;
    ngx_rbtree_node_t        *node, *sentinel;
    ngx_http_gw_shm_cache_node_t  *an;

    hash = ngx_crc32_short(key, NGX_HTTP_GW_SHM_CACHE_KEY_LEN);

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        an = (ngx_http_gw_shm_cache_node_t *) &node->color;

        rc = ngx_memcmp(key, an->key, NGX_HTTP_GW_SHM_CACHE_KEY_LEN);

        if (rc == 0) {
            return an;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_int_t
ngx_http_gw_shm_cache_put(ngx_http_gw_shm_cache_t *zone, u_char *key,
    ngx_uint_t type, time_t expire, u_char *data, size_t len, ngx_log_t *log)
{
    size_t                    n;
    ngx_rbtree_node_t        *node;
    ngx_http_gw_shm_cache_node_t  *an;

    if (expire <= ngx_time()) {
        return NGX_OK;
    }

    n = offsetof(ngx_rbtree_node_t, color)
        + offsetof(ngx_http_gw_shm_cache_node_t, data) + len;

    ngx_shmtx_lock(&zone->shpool->mutex);

    an = ngx_http_gw_shm_cache_get(zone, key);

    if (an) {
        node = (ngx_rbtree_node_t *)
                   ((u_char *) an - offsetof(ngx_rbtree_node_t, color));

        ngx_queue_remove(&an->queue);
        ngx_rbtree_delete(&zone->sh->rbtree, node);
        ngx_slab_free_locked(zone->shpool, node);
        zone->sh->entries--;
    }

    ngx_http_gw_shm_cache_expire(zone, 0);

    node = ngx_slab_alloc_locked(zone->shpool, n);

    if (node == NULL) {
        ngx_http_gw_shm_cache_expire(zone, 1);

        node = ngx_slab_alloc_locked(zone->shpool, n);
        if (node == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);

            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "could not allocate node%s", zone->shpool->log_ctx);
            return NGX_ERROR;
        }
    }

    node->key = ngx_crc32_short(key, NGX_HTTP_GW_SHM_CACHE_KEY_LEN);

    an = (ngx_http_gw_shm_cache_node_t *) &node->color;
    an->type = (u_char) type;
    ngx_memcpy(an->key, key, NGX_HTTP_GW_SHM_CACHE_KEY_LEN);
    an->expire = expire;
    an->fetched = ngx_time();
    an->generation = 0;
    an->len = len;

    if (len) {
        ngx_memcpy(an->data, data, len);
    }

    ngx_rbtree_insert(&zone->sh->rbtree, node);
    ngx_queue_insert_head(&zone->sh->queue, &an->queue);
    zone->sh->entries++;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


/*
 * Under the zone's mutex: frees up to two expired entries from the LRU
 * tail, or with "force" the least recently used one whatever its age.
 */

void
ngx_http_gw_shm_cache_expire(ngx_http_gw_shm_cache_t *zone, ngx_uint_t force)
{
    time_t                    now;
    ngx_uint_t                n;
    ngx_queue_t              *q;
    ngx_rbtree_node_t        *node;
    ngx_http_gw_shm_cache_node_t  *an;

    now = ngx_time();

    for (n = 0; n < 2; n++) {

        if (ngx_queue_empty(&zone->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&zone->sh->queue);
        an = ngx_queue_data(q, ngx_http_gw_shm_cache_node_t, queue);

        if (an->expire > now) {
            if (!force) {
                return;
            }

            zone->sh->evictions++;
        }

        force = 0;

        ngx_queue_remove(q);

        node = (ngx_rbtree_node_t *)
                   ((u_char *) an - offsetof(ngx_rbtree_node_t, color));

        ngx_rbtree_delete(&zone->sh->rbtree, node);
        ngx_slab_free_locked(zone->shpool, node);
        zone->sh->entries--;
    }
}


void
ngx_http_gw_shm_cache_stats(ngx_http_gw_shm_cache_t *zone,
    ngx_uint_t *entries, ngx_uint_t *evictions)
{
    ngx_shmtx_lock(&zone->shpool->mutex);

    *entries = zone->sh->entries;
    *evictions = zone->sh->evictions;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static void
ngx_http_gw_shm_cache_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t        **p;
    ngx_http_gw_shm_cache_node_t   *an, *ant;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            an = (ngx_http_gw_shm_cache_node_t *) &node->color;
            ant = (ngx_http_gw_shm_cache_node_t *) &temp->color;

            p = (ngx_memcmp(an->key, ant->key, NGX_HTTP_GW_SHM_CACHE_KEY_LEN)
                 < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


ngx_int_t
ngx_http_gw_shm_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_gw_shm_cache_t  *ozone = data;

    size_t                    len;
    ngx_http_gw_shm_cache_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_calloc(zone->shpool,
                              sizeof(ngx_http_gw_shm_cache_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_http_gw_shm_cache_insert_value);

    ngx_queue_init(&zone->sh->queue);

    len = sizeof(" in zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in zone \"%V\"%Z",
                &shm_zone->shm.name);

    zone->shpool->log_nomem = 0;

    return NGX_OK;
}
