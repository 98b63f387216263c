
/*
 * Copyright (C) nginx-gw authors
 *
 * Test doubles of nginx's core for the fuzz targets (see fuzz_ngx.h): the
 * pool, ngx_array_create() and ngx_array_push(), base64 decoding,
 * ngx_strncasecmp(), ngx_atoi(), a subset of ngx_sprintf(), the CRC32
 * table, and a log that formats nothing.  Each behaves as nginx 1.22's own
 * does for every input: the parsers' bounds depend on it (how many bytes
 * ngx_decode_base64() writes, what ngx_atoi() refuses).  The event,
 * connection, shared memory and SSL functions that the Redis client calls
 * outside its parsers abort: a parser never reaches them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "fuzz_ngx.h"


static void fz_unreachable(const char *name);
static ngx_int_t fz_decode_base64(ngx_str_t *dst, ngx_str_t *src,
    const char *alphabet);


ngx_log_t                  fz_log;

static ngx_cycle_t         fz_cycle;

volatile ngx_cycle_t      *ngx_cycle = &fz_cycle;
volatile ngx_msec_t        ngx_current_msec;
ngx_rbtree_t               ngx_event_timer_rbtree;
ngx_queue_t                ngx_posted_events;
ngx_uint_t                 ngx_exiting;
ngx_uint_t                 ngx_pagesize = 4096;
sig_atomic_t               ngx_terminate;

static uint32_t            fz_crc32_table16[16];
uint32_t                  *ngx_crc32_table_short = fz_crc32_table16;


ngx_pool_t *
fz_pool(void)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(1024, &fz_log);
    if (pool == NULL) {
        fz_fail(__FILE__, __LINE__, "ngx_create_pool()");
    }

    return pool;
}


void
fz_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
    abort();
}


ngx_uint_t
fz_within(u_char *p, size_t len, const uint8_t *start, size_t size)
{
    return p >= (u_char *) start && len <= size
           && (size_t) (p - (u_char *) start) <= size - len;
}


/* the pool: one malloc() per allocation, freed with the pool */

ngx_pool_t *
ngx_create_pool(size_t size, ngx_log_t *log)
{
    ngx_pool_t  *pool;

    pool = calloc(1, sizeof(ngx_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pool->log = log;

    return pool;
}


void
ngx_destroy_pool(ngx_pool_t *pool)
{
    ngx_pool_large_t    *l, *next;
    ngx_pool_cleanup_t  *c;

    for (c = pool->cleanup; c != NULL; c = c->next) {
        if (c->handler != NULL) {
            c->handler(c->data);
        }
    }

    for (l = pool->large; l != NULL; l = next) {
        next = l->next;
        free(l->alloc);
        free(l);
    }

    free(pool);
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    ngx_pool_large_t  *l;

    l = malloc(sizeof(ngx_pool_large_t));
    if (l == NULL) {
        return NULL;
    }

    /* a zero-size allocation is legal; any access to it is an overflow */

    l->alloc = malloc(size ? size : 1);
    if (l->alloc == NULL) {
        free(l);
        return NULL;
    }

    l->next = pool->large;
    pool->large = l;

    return l->alloc;
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);
    if (p != NULL) {
        ngx_memzero(p, size);
    }

    return p;
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = ngx_palloc(p, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = NULL;

    if (size) {
        c->data = ngx_palloc(p, size);
        if (c->data == NULL) {
            return NULL;
        }
    }

    c->handler = NULL;
    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    return malloc(size);
}


ngx_array_t *
ngx_array_create(ngx_pool_t *p, ngx_uint_t n, size_t size)
{
    ngx_array_t  *a;

    a = ngx_palloc(p, sizeof(ngx_array_t));
    if (a == NULL) {
        return NULL;
    }

    if (ngx_array_init(a, p, n, size) != NGX_OK) {
        return NULL;
    }

    return a;
}


void *
ngx_array_push(ngx_array_t *a)
{
    void  *elts;

    if (a->nelts == a->nalloc) {
        elts = ngx_palloc(a->pool, 2 * a->size * a->nalloc);
        if (elts == NULL) {
            return NULL;
        }

        ngx_memcpy(elts, a->elts, a->size * a->nelts);
        a->elts = elts;
        a->nalloc *= 2;
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}


/* strings */

ngx_int_t
ngx_decode_base64(ngx_str_t *dst, ngx_str_t *src)
{
    return fz_decode_base64(dst, src, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz"
                                      "0123456789+/");
}


ngx_int_t
ngx_decode_base64url(ngx_str_t *dst, ngx_str_t *src)
{
    return fz_decode_base64(dst, src, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_");
}


/*
 * As nginx: the text up to the first "=" (or the end) is decoded, every
 * character of it must be in the alphabet, a length of 4n+1 is refused,
 * and 3 bytes are written for each 4 characters, 1 or 2 for a tail of 2
 * or 3; whatever follows the first "=" is not looked at.
 */

static ngx_int_t
fz_decode_base64(ngx_str_t *dst, ngx_str_t *src, const char *alphabet)
{
    u_char      *d, *s;
    size_t       len, i;
    ngx_uint_t   n;
    u_char       basis[256];

    ngx_memset(basis, 77, sizeof(basis));

    for (n = 0; n < 64; n++) {
        basis[(u_char) alphabet[n]] = (u_char) n;
    }

    for (len = 0; len < src->len; len++) {
        if (src->data[len] == '=') {
            break;
        }

        if (basis[src->data[len]] == 77) {
            return NGX_ERROR;
        }
    }

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    s = src->data;
    d = dst->data;

    for (i = 0; len - i > 3; i += 4) {
        *d++ = (u_char) (basis[s[i]] << 2 | basis[s[i + 1]] >> 4);
        *d++ = (u_char) (basis[s[i + 1]] << 4 | basis[s[i + 2]] >> 2);
        *d++ = (u_char) (basis[s[i + 2]] << 6 | basis[s[i + 3]]);
    }

    if (len - i > 1) {
        *d++ = (u_char) (basis[s[i]] << 2 | basis[s[i + 1]] >> 4);
    }

    if (len - i > 2) {
        *d++ = (u_char) (basis[s[i + 1]] << 4 | basis[s[i + 2]] >> 2);
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


/* as nginx: ASCII case-insensitive, stops at a NUL of both */

ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    ngx_uint_t  c1, c2;

    while (n) {
        c1 = (ngx_uint_t) *s1++;
        c2 = (ngx_uint_t) *s2++;

        c1 = (c1 >= 'A' && c1 <= 'Z') ? (c1 | 0x20) : c1;
        c2 = (c2 >= 'A' && c2 <= 'Z') ? (c2 | 0x20) : c2;

        if (c1 == c2) {

            if (c1) {
                n--;
                continue;
            }

            return 0;
        }

        return c1 - c2;
    }

    return 0;
}


/* as nginx: decimal digits only, no sign, NGX_ERROR on overflow */

ngx_int_t
ngx_atoi(u_char *line, size_t n)
{
    ngx_int_t  value, cutoff, cutlim;

    if (n == 0) {
        return NGX_ERROR;
    }

    cutoff = NGX_MAX_INT_T_VALUE / 10;
    cutlim = NGX_MAX_INT_T_VALUE % 10;

    for (value = 0; n--; line++) {
        if (*line < '0' || *line > '9') {
            return NGX_ERROR;
        }

        if (value >= cutoff && (value > cutoff || *line - '0' > cutlim)) {
            return NGX_ERROR;
        }

        value = value * 10 + (*line - '0');
    }

    return value;
}


u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static u_char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}


/*
 * The formats common/ prints with: %L %i %d %z %T %M (with "u"), %V, %s,
 * %*s and %%; no width or padding.  As nginx's, it writes no NUL.
 * Anything else is a new use to add here.
 */

u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    int          n;
    char         num[NGX_INT64_LEN + 2];
    u_char      *p;
    size_t       len;
    va_list      args;
    ngx_str_t   *v;
    ngx_uint_t   sign;

    va_start(args, fmt);

    while (*fmt) {

        if (*fmt != '%') {
            *buf++ = *fmt++;
            continue;
        }

        fmt++;
        sign = 1;
        n = -1;

        if (*fmt == 'u') {
            sign = 0;
            fmt++;
        }

        switch (*fmt++) {

        case 'L':
            n = sign ? snprintf(num, sizeof(num), "%" PRId64,
                                va_arg(args, int64_t))
                     : snprintf(num, sizeof(num), "%" PRIu64,
                                va_arg(args, uint64_t));
            break;

        case 'i':
            n = sign ? snprintf(num, sizeof(num), "%ld",
                                (long) va_arg(args, ngx_int_t))
                     : snprintf(num, sizeof(num), "%lu",
                                (unsigned long) va_arg(args, ngx_uint_t));
            break;

        case 'd':
            n = sign ? snprintf(num, sizeof(num), "%d", va_arg(args, int))
                     : snprintf(num, sizeof(num), "%u",
                                va_arg(args, unsigned int));
            break;

        case 'z':
            n = snprintf(num, sizeof(num), "%zu", va_arg(args, size_t));
            break;

        case 'T':
            n = snprintf(num, sizeof(num), "%ld", (long) va_arg(args, time_t));
            break;

        case 'M':
            n = snprintf(num, sizeof(num), "%lu",
                         (unsigned long) va_arg(args, ngx_msec_t));
            break;

        case 'V':
            v = va_arg(args, ngx_str_t *);
            buf = ngx_cpymem(buf, v->data, v->len);
            break;

        case 's':
            p = va_arg(args, u_char *);
            buf = ngx_cpymem(buf, p, ngx_strlen(p));
            break;

        case '*':
            if (*fmt++ != 's') {
                fz_unreachable("ngx_sprintf() format");
            }

            len = va_arg(args, size_t);
            p = va_arg(args, u_char *);
            buf = ngx_cpymem(buf, p, len);
            break;

        case '%':
            *buf++ = '%';
            break;

        default:
            fz_unreachable("ngx_sprintf() format");
        }

        if (n >= 0) {
            buf = ngx_cpymem(buf, num, n);
        }
    }

    va_end(args);

    return buf;
}


/* logs: the arguments are evaluated by the caller; nothing is written */

void ngx_cdecl
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
}


void ngx_cdecl
ngx_conf_log_error(ngx_uint_t level, ngx_conf_t *cf, ngx_err_t err,
    const char *fmt, ...)
{
}


/* called by the Redis client outside its parsers: never by a target */

static void
fz_unreachable(const char *name)
{
    fprintf(stderr, "fuzz: %s called\n", name);
    abort();
}


void
ngx_close_connection(ngx_connection_t *c)
{
    fz_unreachable("ngx_close_connection()");
}


ngx_int_t
ngx_tcp_nodelay(ngx_connection_t *c)
{
    fz_unreachable("ngx_tcp_nodelay()");
    return NGX_ERROR;
}


ngx_int_t
ngx_event_connect_peer(ngx_peer_connection_t *pc)
{
    fz_unreachable("ngx_event_connect_peer()");
    return NGX_ERROR;
}


ngx_int_t
ngx_event_get_peer(ngx_peer_connection_t *pc, void *data)
{
    fz_unreachable("ngx_event_get_peer()");
    return NGX_ERROR;
}


ngx_int_t
ngx_handle_read_event(ngx_event_t *rev, ngx_uint_t flags)
{
    fz_unreachable("ngx_handle_read_event()");
    return NGX_ERROR;
}


ngx_int_t
ngx_handle_write_event(ngx_event_t *wev, size_t lowat)
{
    fz_unreachable("ngx_handle_write_event()");
    return NGX_ERROR;
}


ngx_int_t
ngx_parse_time(ngx_str_t *line, ngx_uint_t is_sec)
{
    fz_unreachable("ngx_parse_time()");
    return NGX_ERROR;
}


ngx_int_t
ngx_parse_url(ngx_pool_t *pool, ngx_url_t *u)
{
    fz_unreachable("ngx_parse_url()");
    return NGX_ERROR;
}


ngx_int_t
ngx_parse_addr(ngx_pool_t *pool, ngx_addr_t *addr, u_char *text, size_t len)
{
    fz_unreachable("ngx_parse_addr()");
    return NGX_ERROR;
}


size_t
ngx_sock_ntop(struct sockaddr *sa, socklen_t socklen, u_char *text,
    size_t len, ngx_uint_t port)
{
    fz_unreachable("ngx_sock_ntop()");
    return 0;
}


ngx_int_t
ngx_cmp_sockaddr(struct sockaddr *sa1, socklen_t slen1,
    struct sockaddr *sa2, socklen_t slen2, ngx_uint_t cmp_port)
{
    fz_unreachable("ngx_cmp_sockaddr()");
    return NGX_ERROR;
}


void
ngx_inet_set_port(struct sockaddr *sa, in_port_t port)
{
    fz_unreachable("ngx_inet_set_port()");
}


void
ngx_rbtree_insert(ngx_rbtree_t *tree, ngx_rbtree_node_t *node)
{
    fz_unreachable("ngx_rbtree_insert()");
}


void
ngx_rbtree_delete(ngx_rbtree_t *tree, ngx_rbtree_node_t *node)
{
    fz_unreachable("ngx_rbtree_delete()");
}


ngx_shm_zone_t *
ngx_shared_memory_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    void *tag)
{
    fz_unreachable("ngx_shared_memory_add()");
    return NULL;
}


void *
ngx_slab_calloc(ngx_slab_pool_t *pool, size_t size)
{
    fz_unreachable("ngx_slab_calloc()");
    return NULL;
}


void
ngx_shmtx_lock(ngx_shmtx_t *mtx)
{
    fz_unreachable("ngx_shmtx_lock()");
}


void
ngx_shmtx_unlock(ngx_shmtx_t *mtx)
{
    fz_unreachable("ngx_shmtx_unlock()");
}


#if (NGX_SSL)

ngx_int_t
ngx_ssl_create(ngx_ssl_t *ssl, ngx_uint_t protocols, void *data)
{
    fz_unreachable("ngx_ssl_create()");
    return NGX_ERROR;
}


ngx_int_t
ngx_ssl_create_connection(ngx_ssl_t *ssl, ngx_connection_t *c,
    ngx_uint_t flags)
{
    fz_unreachable("ngx_ssl_create_connection()");
    return NGX_ERROR;
}


ngx_int_t
ngx_ssl_handshake(ngx_connection_t *c)
{
    fz_unreachable("ngx_ssl_handshake()");
    return NGX_ERROR;
}


ngx_int_t
ngx_ssl_shutdown(ngx_connection_t *c)
{
    fz_unreachable("ngx_ssl_shutdown()");
    return NGX_ERROR;
}


void
ngx_ssl_cleanup_ctx(void *data)
{
    fz_unreachable("ngx_ssl_cleanup_ctx()");
}

#endif


/*
 * Before any target runs: a log that takes every level (so that the
 * arguments of every ngx_log_error() are evaluated), ngx_cycle->log, and
 * the CRC32 table of ngx_crc32_short() (reflected 0xedb88320, by nibble).
 */

static void fz_init(void) __attribute__((constructor));

static void
fz_init(void)
{
    uint32_t    c;
    ngx_uint_t  i, k;

    fz_log.log_level = NGX_LOG_DEBUG_ALL;
    fz_cycle.log = &fz_log;

    for (i = 0; i < 16; i++) {
        c = (uint32_t) i;

        for (k = 0; k < 4; k++) {
            c = (c & 1) ? (c >> 1) ^ 0xedb88320 : c >> 1;
        }

        fz_crc32_table16[i] = c;
    }
}
