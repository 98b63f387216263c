
/*
 * Copyright (C) nginx-gw authors
 */


/*
 * Force-included (cc -include) into every object of the "make test-asan"
 * build, never into the normal one.
 *
 * nginx's pools carve small allocations out of one large block, so
 * AddressSanitizer sees a pool block as one object: reading past the end
 * of a string from ngx_pnalloc() into the next allocation of the same
 * pool goes unnoticed.  Here the modules' ngx_palloc(), ngx_pnalloc() and
 * ngx_pcalloc() become ngx_pmemalign(), which gives every allocation its
 * own heap chunk (with ASan's red zones) on the pool's list of large
 * allocations, freed with the pool as before: what nginx built with
 * NGX_DEBUG_PALLOC does, for our code only.  Allocations nginx makes
 * itself are unchanged, as Debian's nginx is not rebuilt.
 *
 * configure's own test programs get --with-cc-opt too, without nginx's
 * include paths: for them this header is empty.
 */


#ifndef _NGX_HTTP_GW_ASAN_PALLOC_H_INCLUDED_
#define _NGX_HTTP_GW_ASAN_PALLOC_H_INCLUDED_

#if (__has_include(<ngx_config.h>) && __has_include(<ngx_auto_config.h>))


#include <ngx_config.h>
#include <ngx_core.h>


static ngx_inline void *
ngx_http_gw_asan_palloc(ngx_pool_t *pool, size_t size)
{
    return ngx_pmemalign(pool, size, NGX_ALIGNMENT);
}


static ngx_inline void *
ngx_http_gw_asan_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_pmemalign(pool, size, NGX_ALIGNMENT);
    if (p != NULL) {
        ngx_memzero(p, size);
    }

    return p;
}


#define ngx_palloc(pool, size)   ngx_http_gw_asan_palloc(pool, size)
#define ngx_pnalloc(pool, size)  ngx_http_gw_asan_palloc(pool, size)
#define ngx_pcalloc(pool, size)  ngx_http_gw_asan_pcalloc(pool, size)

#endif

#endif /* _NGX_HTTP_GW_ASAN_PALLOC_H_INCLUDED_ */
