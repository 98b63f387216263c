
/*
 * Copyright (C) nginx-gw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_gw_status.h"


static ngx_int_t ngx_http_gw_counters_init(ngx_shm_zone_t *shm_zone,
    void *data);


ngx_int_t
ngx_http_gw_counters_add(ngx_conf_t *cf, ngx_http_gw_counters_t *cs,
    char *module, ngx_uint_t n, void *tag)
{
    size_t      size;
    ngx_str_t   name;

    name.len = sizeof("gw_status_") - 1 + ngx_strlen(module);
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "gw_status_%s", module);

    /* the slab pool's own pages, then the counters and their count */
    size = 8 * ngx_pagesize
           + ngx_align((n + 1) * sizeof(ngx_atomic_t), ngx_pagesize);

    cs->n = n;
    cs->c = NULL;

    cs->shm_zone = ngx_shared_memory_add(cf, &name, size, tag);
    if (cs->shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (cs->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_ERROR;
    }

    cs->shm_zone->init = ngx_http_gw_counters_init;
    cs->shm_zone->data = cs;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_counters_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_gw_counters_t  *cs = shm_zone->data;

    ngx_atomic_t     *sh;
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    /* a reload, or a zone inherited on binary upgrade: counters kept */

    sh = (ngx_atomic_t *) shpool->data;

    if (sh && sh[0] == cs->n) {
        cs->c = sh + 1;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, (cs->n + 1) * sizeof(ngx_atomic_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh[0] = cs->n;
    shpool->data = (void *) sh;
    cs->c = sh + 1;

    return NGX_OK;
}
