
/*
 * Copyright (C) nginx-gw authors
 *
 * The non-blocking Redis client (see ngx_http_gw_redis.h).
 *
 * Each worker keeps, per gw_redis block, a list of servers: the configured
 * addresses first (a server, sentinels or cluster seeds), then the ones it
 * learns (the master a sentinel names, the nodes of the cluster's slot map).
 * A server has up to "keepalive" connections; a command goes to the open
 * connection with the fewest commands in flight, or to a new one while the
 * limit allows, is appended to that connection's output buffer and waits
 * in its FIFO queue for its reply.  Every command has a timer of its own;
 * when it fires, the connection is closed (its other commands fail too: a
 * pipeline whose head is late is no use) and the server is marked down for
 * a backoff that doubles from 100ms up to 2s; commands for a server that
 * is down are refused at once with NGX_DECLINED.  Commands that wait for a
 * sentinel's answer or the cluster's slot map sit in the block's waiting
 * queue, with their timers running.  A cancelled command stays in its
 * connection's queue, without handler or timer, to keep replies in order.
 *
 * The block's shared zone holds its counters, atomics added to without a
 * lock as each caller's command ends, and a table of servers by address
 * with the state the last worker to talk to each found: one write when it
 * changes.  A worker takes a slot of the table, under the zone's mutex, when
 * it adds a server (its first command, or a server learnt).  Each
 * configuration is a generation of the table; the first time a worker of a
 * newer one looks at the table (not the master: a reload may yet fail), its
 * generation becomes the one shown, holding its configured addresses.
 * Slots of earlier generations are neither shown nor written to any more,
 * and the old workers no longer write.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/sha.h>

#include "ngx_http_gw_redis.h"


#define NGX_HTTP_GW_REDIS_SINGLE       0
#define NGX_HTTP_GW_REDIS_SENTINEL     1
#define NGX_HTTP_GW_REDIS_CLUSTER      2

#define NGX_HTTP_GW_REDIS_SLOTS        16384
#define NGX_HTTP_GW_REDIS_MAX_SERVERS  64
#define NGX_HTTP_GW_REDIS_REDIRECTS    5
#define NGX_HTTP_GW_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_GW_REDIS_BACKOFF_MAX  2000
#define NGX_HTTP_GW_REDIS_MAX_ELEMENTS 65536

/* commands failed by a worker that exits: not counted */
#define NGX_HTTP_GW_REDIS_UNCOUNTED    (NGX_HTTP_GW_REDIS_FAILS + 1)


typedef struct ngx_http_gw_redis_server_s  ngx_http_gw_redis_server_t;
typedef struct ngx_http_gw_redis_conn_s    ngx_http_gw_redis_conn_t;

typedef void (*ngx_http_gw_redis_internal_pt)(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply);


/* the block's shared zone: figures of all workers */

typedef struct {
    ngx_atomic_t                    down;
    ngx_uint_t                      generation;   /* 0: never used */
    size_t                          len;
    u_char                          name[NGX_SOCKADDR_STRLEN];
} ngx_http_gw_redis_sh_server_t;


typedef struct {
    ngx_atomic_t                    commands;
    ngx_atomic_t                    msec;
    ngx_atomic_t                    failures[NGX_HTTP_GW_REDIS_FAILS];
    ngx_uint_t                      generation;   /* the one shown */
    ngx_uint_t                      last;         /* the newest made */
    ngx_uint_t                      nservers;
    ngx_http_gw_redis_sh_server_t   servers[NGX_HTTP_GW_REDIS_MAX_SERVERS];
} ngx_http_gw_redis_sh_t;


struct ngx_http_gw_redis_s {
    ngx_str_t                       name;
    ngx_str_t                       password;
    ngx_str_t                       username;
    ngx_str_t                       master_name;
    ngx_uint_t                      db;
    ngx_msec_t                      timeout;
    ngx_uint_t                      keepalive;
    ngx_uint_t                      mode;
    ngx_flag_t                      tls;
#if (NGX_SSL)
    ngx_ssl_t                      *ssl;
#endif
    ngx_array_t                     addrs;        /* ngx_addr_t */

    ngx_shm_zone_t                 *shm_zone;
    ngx_http_gw_redis_sh_t         *sh;
    ngx_slab_pool_t                *shpool;
    ngx_uint_t                      generation;

    /* per worker, set up by the first command */

    ngx_pool_t                     *pool;
    ngx_array_t                     servers;      /* server pointers */
    ngx_uint_t                      nconf;
    ngx_http_gw_redis_server_t     *master;
    uint16_t                       *slots;        /* server index + 1 */
    ngx_queue_t                     waiting;
    ngx_uint_t                      sentinel_next;
    unsigned                        discovering:1;
    unsigned                        slots_stale:1;
};


struct ngx_http_gw_redis_server_s {
    ngx_http_gw_redis_t            *rd;
    ngx_uint_t                      index;
    ngx_addr_t                      addr;
    ngx_http_gw_redis_conn_t       *conns;        /* rd->keepalive of them */
    ngx_http_gw_redis_sh_server_t  *state;        /* NULL: not shown */
    ngx_msec_t                      down_until;
    ngx_msec_t                      backoff;
    unsigned                        sentinel:1;
    unsigned                        down:1;
};


struct ngx_http_gw_redis_conn_s {
    ngx_http_gw_redis_server_t     *server;
    ngx_connection_t               *connection;
    redisReader                    *reader;
    ngx_queue_t                     sent;
    ngx_uint_t                      nsent;
    u_char                         *out;
    size_t                          out_pos;
    size_t                          out_len;
    size_t                          out_size;
    ngx_log_t                       log;
    unsigned                        connected:1;
};


struct ngx_http_gw_redis_cmd_s {
    ngx_queue_t                     queue;
    ngx_http_gw_redis_t            *rd;
    ngx_http_gw_redis_conn_t       *conn;         /* NULL while waiting */
    ngx_http_gw_redis_handler_pt    handler;
    void                           *data;
    ngx_http_gw_redis_internal_pt   internal;
    ngx_http_gw_redis_server_t     *target;       /* internal commands */
    ngx_event_t                     timer;
    ngx_msec_t                      start;

    ngx_http_gw_redis_script_t     *script;
    ngx_uint_t                      argc;
    ngx_str_t                      *argv;         /* copies, for resends */
    ngx_uint_t                      slot;
    ngx_uint_t                      redirects;

    unsigned                        has_slot:1;
    unsigned                        evaled:1;     /* sent as EVAL */
    unsigned                        cancelled:1;
    unsigned                        waiting:1;    /* in rd->waiting */
    unsigned                        done:1;       /* handler called */
};


static ngx_int_t ngx_http_gw_redis_worker_init(ngx_http_gw_redis_t *rd);
static void ngx_http_gw_redis_worker_exit(void *data);
static ngx_http_gw_redis_server_t *ngx_http_gw_redis_server_add(
    ngx_http_gw_redis_t *rd, struct sockaddr *sa, socklen_t len,
    ngx_str_t *name);
static ngx_http_gw_redis_server_t *ngx_http_gw_redis_server_learn(
    ngx_http_gw_redis_t *rd, u_char *host, size_t hlen, ngx_int_t port);
static ngx_uint_t ngx_http_gw_redis_server_usable(
    ngx_http_gw_redis_server_t *s);
static void ngx_http_gw_redis_server_failed(ngx_http_gw_redis_server_t *s,
    const char *why);
static void ngx_http_gw_redis_server_ok(ngx_http_gw_redis_server_t *s);
static ngx_http_gw_redis_sh_server_t *ngx_http_gw_redis_server_slot(
    ngx_http_gw_redis_t *rd, ngx_str_t *name);
static ngx_uint_t ngx_http_gw_redis_shared_current(ngx_http_gw_redis_t *rd);
static ngx_http_gw_redis_sh_server_t *ngx_http_gw_redis_shared_slot(
    ngx_http_gw_redis_t *rd, ngx_str_t *name);
static void ngx_http_gw_redis_server_show(ngx_http_gw_redis_server_t *s,
    ngx_uint_t down);

static ngx_http_gw_redis_cmd_t *ngx_http_gw_redis_cmd_create(
    ngx_http_gw_redis_t *rd, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_gw_redis_handler_pt handler, void *data);
static void ngx_http_gw_redis_cmd_free(ngx_http_gw_redis_cmd_t *cmd);
static void ngx_http_gw_redis_cmd_fail(ngx_http_gw_redis_cmd_t *cmd,
    ngx_uint_t reason);
static void ngx_http_gw_redis_cmd_count(ngx_http_gw_redis_cmd_t *cmd,
    ngx_uint_t reason);
static void ngx_http_gw_redis_cmd_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_gw_redis_start(ngx_http_gw_redis_cmd_t *cmd,
    ngx_http_gw_redis_cmd_t **cmdp);
static ngx_int_t ngx_http_gw_redis_submit(ngx_http_gw_redis_cmd_t *cmd);
static ngx_int_t ngx_http_gw_redis_route(ngx_http_gw_redis_cmd_t *cmd);
static void ngx_http_gw_redis_flush_waiting(ngx_http_gw_redis_t *rd,
    ngx_uint_t fail);

static ngx_int_t ngx_http_gw_redis_send(ngx_http_gw_redis_server_t *s,
    ngx_http_gw_redis_cmd_t *cmd, ngx_http_gw_redis_cmd_t *asking);
static ngx_int_t ngx_http_gw_redis_append(ngx_http_gw_redis_conn_t *rc,
    ngx_http_gw_redis_cmd_t *cmd);
static ngx_http_gw_redis_conn_t *ngx_http_gw_redis_conn_get(
    ngx_http_gw_redis_server_t *s);
static ngx_int_t ngx_http_gw_redis_conn_open(ngx_http_gw_redis_conn_t *rc);
static void ngx_http_gw_redis_conn_close(ngx_http_gw_redis_conn_t *rc,
    const char *why, ngx_uint_t reason);
static void ngx_http_gw_redis_write_handler(ngx_event_t *wev);
static void ngx_http_gw_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_http_gw_redis_connected(ngx_http_gw_redis_conn_t *rc);
#if (NGX_SSL)
static void ngx_http_gw_redis_ssl_handshake(ngx_connection_t *c);
#endif
static ngx_int_t ngx_http_gw_redis_flush(ngx_http_gw_redis_conn_t *rc);
static void ngx_http_gw_redis_reply(ngx_http_gw_redis_conn_t *rc,
    ngx_http_gw_redis_cmd_t *cmd, redisReply *reply);

static ngx_int_t ngx_http_gw_redis_internal(ngx_http_gw_redis_t *rd,
    ngx_http_gw_redis_server_t *s, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_gw_redis_internal_pt handler);
static void ngx_http_gw_redis_handshake_reply(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_gw_redis_ignore_reply(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply);
static ngx_int_t ngx_http_gw_redis_discover(ngx_http_gw_redis_t *rd);
static void ngx_http_gw_redis_master_reply(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply);
static ngx_int_t ngx_http_gw_redis_slots_refresh(ngx_http_gw_redis_t *rd);
static void ngx_http_gw_redis_slots_reply(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply);
static ngx_int_t ngx_http_gw_redis_redirect(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply);
static ngx_uint_t ngx_http_gw_redis_key_slot(u_char *key, size_t len);
static ngx_uint_t ngx_http_gw_redis_error_is(redisReply *reply,
    const char *prefix);
static ngx_int_t ngx_http_gw_redis_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


/* CRC16-CCITT (XMODEM), as Redis Cluster uses for key slots */

static uint16_t  ngx_http_gw_redis_crc16_table[256];
static ngx_uint_t  ngx_http_gw_redis_crc16_ready;


/*
 * The tag of the blocks' shared zones: an address that stays the same
 * across reloads, so that nginx keeps the zones
 */

static ngx_uint_t  ngx_http_gw_redis_zone_tag;


ngx_str_t *
ngx_http_gw_redis_name(ngx_http_gw_redis_t *rd)
{
    return &rd->name;
}


ngx_msec_t
ngx_http_gw_redis_timeout(ngx_http_gw_redis_t *rd)
{
    return rd->timeout;
}


ngx_http_gw_redis_t *
ngx_http_gw_redis_find(ngx_array_t *redis, ngx_str_t *name)
{
    ngx_uint_t             i;
    ngx_http_gw_redis_t  **rdp;

    if (redis == NULL) {
        return NULL;
    }

    rdp = redis->elts;

    for (i = 0; i < redis->nelts; i++) {
        if (rdp[i]->name.len == name->len
            && ngx_strncmp(rdp[i]->name.data, name->data, name->len) == 0)
        {
            return rdp[i];
        }
    }

    return NULL;
}


void
ngx_http_gw_redis_script_init(ngx_http_gw_redis_script_t *script)
{
    u_char  md[SHA_DIGEST_LENGTH];

    SHA1(script->text.data, script->text.len, md);
    ngx_hex_dump(script->sha1, md, SHA_DIGEST_LENGTH);
}


ngx_uint_t
ngx_http_gw_redis_is_up(ngx_http_gw_redis_t *rd)
{
    ngx_uint_t                    i;
    ngx_http_gw_redis_server_t  **sp;

    if (rd->pool == NULL) {
        return 1;
    }

    switch (rd->mode) {

    case NGX_HTTP_GW_REDIS_SENTINEL:
        return rd->master != NULL && !rd->master->down;

    case NGX_HTTP_GW_REDIS_CLUSTER:
        if (rd->slots == NULL) {
            return 0;
        }

        /* fall through */

    default:
        sp = rd->servers.elts;

        for (i = 0; i < rd->servers.nelts; i++) {
            if (sp[i]->down) {
                return 0;
            }
        }

        return 1;
    }
}


void
ngx_http_gw_redis_stats(ngx_http_gw_redis_t *rd,
    ngx_http_gw_redis_stats_t *st)
{
    ngx_uint_t               i;
    ngx_http_gw_redis_sh_t  *sh;

    ngx_memzero(st, sizeof(ngx_http_gw_redis_stats_t));

    sh = rd->sh;

    if (sh == NULL) {
        return;
    }

    st->commands = sh->commands;
    st->msec = sh->msec;

    for (i = 0; i < NGX_HTTP_GW_REDIS_FAILS; i++) {
        st->failures[i] = sh->failures[i];
    }
}


ngx_int_t
ngx_http_gw_redis_server_state(ngx_http_gw_redis_t *rd, ngx_uint_t n,
    u_char *name, size_t *len, ngx_uint_t *up)
{
    ngx_int_t                       rc;
    ngx_http_gw_redis_sh_server_t  *ss;

    if (rd->sh == NULL) {
        return NGX_DONE;
    }

    ngx_shmtx_lock(&rd->shpool->mutex);

    (void) ngx_http_gw_redis_shared_current(rd);

    if (n >= rd->sh->nservers) {
        rc = NGX_DONE;

    } else if (rd->sh->servers[n].generation != rd->sh->generation) {
        rc = NGX_DECLINED;

    } else {
        ss = &rd->sh->servers[n];
        *len = ss->len;
        ngx_memcpy(name, ss->name, ss->len);
        *up = !ss->down;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&rd->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_http_gw_redis_eval(ngx_http_gw_redis_t *rd,
    ngx_http_gw_redis_script_t *script, ngx_uint_t nkeys, ngx_str_t *keys,
    ngx_uint_t nargs, ngx_str_t *args, ngx_http_gw_redis_handler_pt handler,
    void *data, ngx_log_t *log, ngx_http_gw_redis_cmd_t **cmdp)
{
    u_char                    nk[NGX_INT_T_LEN];
    ngx_uint_t                i, argc;
    ngx_str_t                 argv[NGX_HTTP_GW_REDIS_MAX_ARGS];
    ngx_http_gw_redis_cmd_t  *cmd;

    argc = 3 + nkeys + nargs;

    if (argc > sizeof(argv) / sizeof(ngx_str_t)) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "gw_redis \"%V\": too many script arguments", &rd->name);
        return NGX_ERROR;
    }

    argv[0].data = (u_char *) "EVALSHA";
    argv[0].len = 7;
    argv[1].data = script->sha1;
    argv[1].len = 40;
    argv[2].data = nk;
    argv[2].len = ngx_sprintf(nk, "%ui", nkeys) - nk;

    for (i = 0; i < nkeys; i++) {
        argv[3 + i] = keys[i];
    }

    for (i = 0; i < nargs; i++) {
        argv[3 + nkeys + i] = args[i];
    }

    cmd = ngx_http_gw_redis_cmd_create(rd, argc, argv, handler, data);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->script = script;

    if (nkeys) {
        cmd->has_slot = 1;
        cmd->slot = ngx_http_gw_redis_key_slot(keys[0].data, keys[0].len);
    }

    return ngx_http_gw_redis_start(cmd, cmdp);
}


ngx_int_t
ngx_http_gw_redis_command(ngx_http_gw_redis_t *rd, ngx_uint_t argc,
    ngx_str_t *argv, ngx_uint_t has_key, ngx_http_gw_redis_handler_pt handler,
    void *data, ngx_log_t *log, ngx_http_gw_redis_cmd_t **cmdp)
{
    ngx_http_gw_redis_cmd_t  *cmd;

    cmd = ngx_http_gw_redis_cmd_create(rd, argc, argv, handler, data);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    if (has_key && argc > 1) {
        cmd->has_slot = 1;
        cmd->slot = ngx_http_gw_redis_key_slot(argv[1].data, argv[1].len);
    }

    return ngx_http_gw_redis_start(cmd, cmdp);
}


/* a new command of a caller: submitted, or freed with the reason */

static ngx_int_t
ngx_http_gw_redis_start(ngx_http_gw_redis_cmd_t *cmd,
    ngx_http_gw_redis_cmd_t **cmdp)
{
    ngx_int_t  rc;

    rc = ngx_http_gw_redis_submit(cmd);

    if (rc != NGX_OK) {
        ngx_http_gw_redis_cmd_count(cmd, NGX_HTTP_GW_REDIS_FAIL_DOWN);
        ngx_http_gw_redis_cmd_free(cmd);
        return rc;
    }

    if (cmdp) {
        *cmdp = cmd;
    }

    return NGX_OK;
}


void
ngx_http_gw_redis_cancel(ngx_http_gw_redis_cmd_t *cmd)
{
    if (cmd->done) {
        return;
    }

    cmd->handler = NULL;
    cmd->data = NULL;
    cmd->cancelled = 1;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    if (cmd->waiting) {
        /* still waiting for a sentinel or the slot map */
        ngx_queue_remove(&cmd->queue);
        ngx_http_gw_redis_cmd_free(cmd);
    }

    /* else freed when its reply arrives or its connection closes */
}


static ngx_int_t
ngx_http_gw_redis_worker_init(ngx_http_gw_redis_t *rd)
{
    ngx_uint_t           i;
    ngx_addr_t          *addr;
    ngx_pool_cleanup_t  *cln;

    rd->pool = ngx_create_pool(4096, ngx_cycle->log);
    if (rd->pool == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(ngx_cycle->pool, 0);
    if (cln == NULL) {
        ngx_destroy_pool(rd->pool);
        rd->pool = NULL;
        return NGX_ERROR;
    }

    cln->handler = ngx_http_gw_redis_worker_exit;
    cln->data = rd;

    if (ngx_array_init(&rd->servers, rd->pool, 4,
                       sizeof(ngx_http_gw_redis_server_t *))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_queue_init(&rd->waiting);

    addr = rd->addrs.elts;

    for (i = 0; i < rd->addrs.nelts; i++) {
        if (ngx_http_gw_redis_server_add(rd, addr[i].sockaddr,
                                         addr[i].socklen, &addr[i].name)
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    rd->nconf = rd->servers.nelts;

    if (rd->mode == NGX_HTTP_GW_REDIS_SENTINEL) {
        for (i = 0; i < rd->nconf; i++) {
            ((ngx_http_gw_redis_server_t **) rd->servers.elts)[i]->sentinel
                = 1;
        }
    }

    if (rd->mode == NGX_HTTP_GW_REDIS_CLUSTER) {
        rd->slots = ngx_pcalloc(rd->pool,
                                NGX_HTTP_GW_REDIS_SLOTS * sizeof(uint16_t));
        if (rd->slots == NULL) {
            return NGX_ERROR;
        }

        rd->slots_stale = 1;
    }

    return NGX_OK;
}


/* the cycle ends (the worker exits): its connections and memory go */

static void
ngx_http_gw_redis_worker_exit(void *data)
{
    ngx_http_gw_redis_t  *rd = data;

    ngx_uint_t                    i, j;
    ngx_queue_t                  *q;
    ngx_http_gw_redis_cmd_t      *cmd;
    ngx_http_gw_redis_server_t  **sp;

    sp = rd->servers.elts;

    for (i = 0; i < rd->servers.nelts; i++) {
        for (j = 0; j < rd->keepalive; j++) {

            /* no request is left to tell */

            for (q = ngx_queue_head(&sp[i]->conns[j].sent);
                 q != ngx_queue_sentinel(&sp[i]->conns[j].sent);
                 q = ngx_queue_next(q))
            {
                cmd = ngx_queue_data(q, ngx_http_gw_redis_cmd_t, queue);
                cmd->handler = NULL;
                cmd->internal = NULL;
            }

            ngx_http_gw_redis_conn_close(&sp[i]->conns[j], "exiting",
                                          NGX_HTTP_GW_REDIS_UNCOUNTED);
        }
    }

    while (!ngx_queue_empty(&rd->waiting)) {
        cmd = ngx_queue_data(ngx_queue_head(&rd->waiting),
                             ngx_http_gw_redis_cmd_t, queue);
        ngx_queue_remove(&cmd->queue);
        ngx_http_gw_redis_cmd_free(cmd);
    }

    ngx_destroy_pool(rd->pool);
    rd->pool = NULL;
}


static ngx_http_gw_redis_server_t *
ngx_http_gw_redis_server_add(ngx_http_gw_redis_t *rd, struct sockaddr *sa,
    socklen_t len, ngx_str_t *name)
{
    ngx_uint_t                    i;
    ngx_http_gw_redis_server_t   *s, **sp;

    if (rd->servers.nelts >= NGX_HTTP_GW_REDIS_MAX_SERVERS) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gw_redis \"%V\": more than %d servers learnt",
                      &rd->name, NGX_HTTP_GW_REDIS_MAX_SERVERS);
        return NULL;
    }

    s = ngx_pcalloc(rd->pool, sizeof(ngx_http_gw_redis_server_t));
    if (s == NULL) {
        return NULL;
    }

    s->rd = rd;

    s->addr.sockaddr = ngx_palloc(rd->pool, len);
    s->addr.name.data = ngx_pnalloc(rd->pool, name->len);
    s->conns = ngx_pcalloc(rd->pool,
                           rd->keepalive * sizeof(ngx_http_gw_redis_conn_t));

    if (s->addr.sockaddr == NULL || s->addr.name.data == NULL
        || s->conns == NULL)
    {
        return NULL;
    }

    for (i = 0; i < rd->keepalive; i++) {
        s->conns[i].server = s;
        ngx_queue_init(&s->conns[i].sent);
    }

    ngx_memcpy(s->addr.sockaddr, sa, len);
    s->addr.socklen = len;
    ngx_memcpy(s->addr.name.data, name->data, name->len);
    s->addr.name.len = name->len;

    s->state = ngx_http_gw_redis_server_slot(rd, name);

    sp = ngx_array_push(&rd->servers);
    if (sp == NULL) {
        return NULL;
    }

    *sp = s;
    s->index = rd->servers.nelts - 1;

    return s;
}


/* a server named in a reply ("10.0.0.1", 6379): found or added */

static ngx_http_gw_redis_server_t *
ngx_http_gw_redis_server_learn(ngx_http_gw_redis_t *rd, u_char *host,
    size_t hlen, ngx_int_t port)
{
    u_char                        text[NGX_SOCKADDR_STRLEN];
    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_addr_t                    addr;
    ngx_http_gw_redis_server_t  **sp;

    if (port < 1 || port > 65535) {
        return NULL;
    }

    if (ngx_parse_addr(rd->pool, &addr, host, hlen) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gw_redis \"%V\": cannot use address \"%*s\" "
                      "(an IP address is expected)", &rd->name, hlen, host);
        return NULL;
    }

    ngx_inet_set_port(addr.sockaddr, (in_port_t) port);

    sp = rd->servers.elts;

    for (i = 0; i < rd->servers.nelts; i++) {
        if (!sp[i]->sentinel
            && ngx_cmp_sockaddr(sp[i]->addr.sockaddr, sp[i]->addr.socklen,
                                addr.sockaddr, addr.socklen, 1)
               == NGX_OK)
        {
            return sp[i];
        }
    }

    name.len = ngx_sock_ntop(addr.sockaddr, addr.socklen, text,
                             NGX_SOCKADDR_STRLEN, 1);
    name.data = text;

    return ngx_http_gw_redis_server_add(rd, addr.sockaddr, addr.socklen,
                                        &name);
}


static ngx_uint_t
ngx_http_gw_redis_server_usable(ngx_http_gw_redis_server_t *s)
{
    if (!s->down) {
        return 1;
    }

    /* after the backoff one more attempt is let through */

    return (ngx_msec_int_t) (ngx_current_msec - s->down_until) >= 0;
}


static void
ngx_http_gw_redis_server_failed(ngx_http_gw_redis_server_t *s,
    const char *why)
{
    ngx_http_gw_redis_t  *rd;

    rd = s->rd;

    if (!s->down) {
        s->backoff = NGX_HTTP_GW_REDIS_BACKOFF_MIN;

    } else {
        s->backoff = ngx_min(s->backoff * 2, NGX_HTTP_GW_REDIS_BACKOFF_MAX);
    }

    s->down = 1;
    s->down_until = ngx_current_msec + s->backoff;

    ngx_http_gw_redis_server_show(s, 1);

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "gw_redis \"%V\": %s %V %s, retrying in %Mms",
                  &rd->name, s->sentinel ? "sentinel" : "server",
                  &s->addr.name, why, s->backoff);

    if (rd->mode == NGX_HTTP_GW_REDIS_SENTINEL && rd->master == s) {
        rd->master = NULL;
    }

    if (rd->mode == NGX_HTTP_GW_REDIS_CLUSTER) {
        rd->slots_stale = 1;
    }
}


static void
ngx_http_gw_redis_server_ok(ngx_http_gw_redis_server_t *s)
{
    if (s->down) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "gw_redis \"%V\": %s %V is up again",
                      &s->rd->name, s->sentinel ? "sentinel" : "server",
                      &s->addr.name);
    }

    s->down = 0;
    s->backoff = 0;

    ngx_http_gw_redis_server_show(s, 0);
}


/* the slot of the shared table for a server: NULL when there is none */

static ngx_http_gw_redis_sh_server_t *
ngx_http_gw_redis_server_slot(ngx_http_gw_redis_t *rd, ngx_str_t *name)
{
    ngx_http_gw_redis_sh_server_t  *ss;

    if (rd->sh == NULL || name->len > NGX_SOCKADDR_STRLEN) {
        return NULL;
    }

    ngx_shmtx_lock(&rd->shpool->mutex);

    ss = ngx_http_gw_redis_shared_current(rd)
         ? ngx_http_gw_redis_shared_slot(rd, name) : NULL;

    ngx_shmtx_unlock(&rd->shpool->mutex);

    return ss;
}


/*
 * Under the zone's mutex: whether the table shows rd's configuration,
 * which it starts to do now if rd's is newer (a worker's first look after
 * a reload): 0 for an old worker.
 */

static ngx_uint_t
ngx_http_gw_redis_shared_current(ngx_http_gw_redis_t *rd)
{
    ngx_uint_t   i;
    ngx_addr_t  *addr;

    if (rd->generation < rd->sh->generation) {
        return 0;
    }

    if (rd->generation > rd->sh->generation) {
        rd->sh->generation = rd->generation;

        /* its addresses, found down by no worker of it yet */

        addr = rd->addrs.elts;

        for (i = 0; i < rd->addrs.nelts; i++) {
            if (addr[i].name.len <= NGX_SOCKADDR_STRLEN) {
                (void) ngx_http_gw_redis_shared_slot(rd, &addr[i].name);
            }
        }
    }

    return 1;
}


/*
 * Under the zone's mutex, for the generation shown: the slot with that
 * name, or a free one (of an earlier generation, or never used) taken for
 * it; NULL when the table is full.
 */

static ngx_http_gw_redis_sh_server_t *
ngx_http_gw_redis_shared_slot(ngx_http_gw_redis_t *rd, ngx_str_t *name)
{
    ngx_uint_t                      i;
    ngx_http_gw_redis_sh_t         *sh;
    ngx_http_gw_redis_sh_server_t  *ss, *slot;

    sh = rd->sh;
    slot = NULL;

    for (i = 0; i < sh->nservers; i++) {
        ss = &sh->servers[i];

        if (ss->generation != sh->generation) {
            if (slot == NULL) {
                slot = ss;
            }

            continue;
        }

        if (ss->len == name->len
            && ngx_memcmp(ss->name, name->data, name->len) == 0)
        {
            return ss;
        }
    }

    if (slot == NULL && sh->nservers < NGX_HTTP_GW_REDIS_MAX_SERVERS) {
        slot = &sh->servers[sh->nservers++];
    }

    if (slot != NULL) {
        slot->down = 0;
        slot->generation = sh->generation;
        slot->len = name->len;
        ngx_memcpy(slot->name, name->data, name->len);
    }

    return slot;
}


/* the server's state in the shared table: written only when it changes */

static void
ngx_http_gw_redis_server_show(ngx_http_gw_redis_server_t *s, ngx_uint_t down)
{
    ngx_http_gw_redis_sh_server_t  *ss;

    ss = s->state;

    if (ss != NULL && ss->generation == s->rd->generation
        && ss->down != down)
    {
        ss->down = down;
    }
}


static ngx_http_gw_redis_cmd_t *
ngx_http_gw_redis_cmd_create(ngx_http_gw_redis_t *rd, ngx_uint_t argc,
    ngx_str_t *argv, ngx_http_gw_redis_handler_pt handler, void *data)
{
    u_char                   *p;
    size_t                    size;
    ngx_uint_t                i;
    ngx_http_gw_redis_cmd_t  *cmd;

    if (rd->pool == NULL && ngx_http_gw_redis_worker_init(rd) != NGX_OK) {
        return NULL;
    }

    size = sizeof(ngx_http_gw_redis_cmd_t) + argc * sizeof(ngx_str_t);

    for (i = 0; i < argc; i++) {
        size += argv[i].len;
    }

    cmd = ngx_alloc(size, ngx_cycle->log);
    if (cmd == NULL) {
        return NULL;
    }

    ngx_memzero(cmd, sizeof(ngx_http_gw_redis_cmd_t));

    cmd->rd = rd;
    cmd->handler = handler;
    cmd->data = data;
    cmd->argc = argc;
    cmd->argv = (ngx_str_t *) (cmd + 1);

    p = (u_char *) (cmd->argv + argc);

    for (i = 0; i < argc; i++) {
        cmd->argv[i].data = p;
        cmd->argv[i].len = argv[i].len;
        p = ngx_cpymem(p, argv[i].data, argv[i].len);
    }

    cmd->timer.handler = ngx_http_gw_redis_cmd_timeout;
    cmd->timer.data = cmd;
    cmd->timer.log = ngx_cycle->log;
    cmd->start = ngx_current_msec;

    return cmd;
}


static void
ngx_http_gw_redis_cmd_free(ngx_http_gw_redis_cmd_t *cmd)
{
    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    ngx_free(cmd);
}


/* the command failed: its handler learns it, then it is freed */

static void
ngx_http_gw_redis_cmd_fail(ngx_http_gw_redis_cmd_t *cmd, ngx_uint_t reason)
{
    cmd->done = 1;
    cmd->waiting = 0;
    cmd->conn = NULL;

    ngx_http_gw_redis_cmd_count(cmd, reason);

    if (cmd->internal) {
        cmd->internal(cmd, NULL);

    } else if (cmd->handler) {
        cmd->handler(cmd->data, NULL);
    }

    ngx_http_gw_redis_cmd_free(cmd);
}


/*
 * A caller's command has its outcome: counted in the shared zone, with
 * the reason of a failure (NGX_HTTP_GW_REDIS_FAILS: a reply).
 */

static void
ngx_http_gw_redis_cmd_count(ngx_http_gw_redis_cmd_t *cmd, ngx_uint_t reason)
{
    ngx_http_gw_redis_sh_t  *sh;

    sh = cmd->rd->sh;

    if (sh == NULL || cmd->internal != NULL
        || reason == NGX_HTTP_GW_REDIS_UNCOUNTED)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&sh->commands, 1);
    (void) ngx_atomic_fetch_add(&sh->msec,
                                (ngx_msec_int_t) (ngx_current_msec
                                                  - cmd->start));

    if (reason < NGX_HTTP_GW_REDIS_FAILS) {
        (void) ngx_atomic_fetch_add(&sh->failures[reason], 1);
    }
}


static void
ngx_http_gw_redis_cmd_timeout(ngx_event_t *ev)
{
    ngx_http_gw_redis_cmd_t   *cmd;
    ngx_http_gw_redis_conn_t  *rc;

    cmd = ev->data;
    rc = cmd->conn;

    if (cmd->waiting) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "gw_redis \"%V\": timed out waiting for %s",
                      &cmd->rd->name,
                      cmd->rd->mode == NGX_HTTP_GW_REDIS_SENTINEL
                      ? "a sentinel" : "the cluster's slot map");

        ngx_queue_remove(&cmd->queue);
        ngx_http_gw_redis_cmd_fail(cmd, NGX_HTTP_GW_REDIS_FAIL_TIMEOUT);
        return;
    }

    /* the whole pipeline is late: fail it, the command with it */

    ngx_http_gw_redis_server_failed(rc->server, "timed out");
    ngx_http_gw_redis_conn_close(rc, NULL, NGX_HTTP_GW_REDIS_FAIL_TIMEOUT);
}


/* a new command: to a server now, or to the waiting queue */

static ngx_int_t
ngx_http_gw_redis_submit(ngx_http_gw_redis_cmd_t *cmd)
{
    ngx_int_t             rc;
    ngx_http_gw_redis_t  *rd;

    rd = cmd->rd;

    rc = ngx_http_gw_redis_route(cmd);

    if (rc == NGX_AGAIN) {
        ngx_queue_insert_tail(&rd->waiting, &cmd->queue);
        cmd->waiting = 1;
        rc = NGX_OK;
    }

    if (rc == NGX_OK) {
        ngx_add_timer(&cmd->timer, rd->timeout);
    }

    return rc;
}


/*
 * NGX_OK: sent (queued on a connection); NGX_AGAIN: to wait for the master
 * or the slot map, being asked for; NGX_DECLINED: no server to send to.
 */

static ngx_int_t
ngx_http_gw_redis_route(ngx_http_gw_redis_cmd_t *cmd)
{
    ngx_uint_t                    i, n;
    ngx_http_gw_redis_t          *rd;
    ngx_http_gw_redis_server_t   *s, **sp;

    rd = cmd->rd;
    sp = rd->servers.elts;

    switch (rd->mode) {

    case NGX_HTTP_GW_REDIS_SENTINEL:

        if (rd->master == NULL) {
            if (rd->discovering) {
                return NGX_AGAIN;
            }

            return ngx_http_gw_redis_discover(rd) == NGX_OK ? NGX_AGAIN
                                                            : NGX_DECLINED;
        }

        return ngx_http_gw_redis_send(rd->master, cmd, NULL);

    case NGX_HTTP_GW_REDIS_CLUSTER:

        if (!cmd->has_slot) {
            /* a command without a key: any node will do */

            for (i = 0; i < rd->servers.nelts; i++) {
                if (ngx_http_gw_redis_server_usable(sp[i])) {
                    return ngx_http_gw_redis_send(sp[i], cmd, NULL);
                }
            }

            return NGX_DECLINED;
        }

        n = rd->slots[cmd->slot];

        if (n == 0) {
            if (rd->discovering) {
                return NGX_AGAIN;
            }

            return ngx_http_gw_redis_slots_refresh(rd) == NGX_OK
                   ? NGX_AGAIN : NGX_DECLINED;
        }

        if (rd->slots_stale && !rd->discovering) {
            /* a MOVED or a failure was seen: relearn in the background */
            (void) ngx_http_gw_redis_slots_refresh(rd);
        }

        return ngx_http_gw_redis_send(sp[n - 1], cmd, NULL);

    default:

        /* the first server that is not down, in the configured order */

        for (i = 0; i < rd->nconf; i++) {
            s = sp[i];

            if (!s->down) {
                return ngx_http_gw_redis_send(s, cmd, NULL);
            }
        }

        for (i = 0; i < rd->nconf; i++) {
            s = sp[i];

            if (ngx_http_gw_redis_server_usable(s)) {
                return ngx_http_gw_redis_send(s, cmd, NULL);
            }
        }

        return NGX_DECLINED;
    }
}


/* the master or the slot map is known (or not, with fail): go on */

static void
ngx_http_gw_redis_flush_waiting(ngx_http_gw_redis_t *rd, ngx_uint_t fail)
{
    ngx_int_t                 rc;
    ngx_queue_t               list, *q;
    ngx_http_gw_redis_cmd_t  *cmd;

    if (ngx_queue_empty(&rd->waiting)) {
        return;
    }

    /* a command routed again may have to wait again: take the list first */

    list = rd->waiting;
    list.next->prev = &list;
    list.prev->next = &list;
    ngx_queue_init(&rd->waiting);

    while (!ngx_queue_empty(&list)) {
        q = ngx_queue_head(&list);
        ngx_queue_remove(q);
        cmd = ngx_queue_data(q, ngx_http_gw_redis_cmd_t, queue);
        cmd->waiting = 0;

        /*
         * A command that would wait again (its slot is still unknown)
         * fails: the answer it waited for did not help.
         */

        rc = fail ? NGX_DECLINED : ngx_http_gw_redis_route(cmd);

        if (rc != NGX_OK) {
            ngx_http_gw_redis_cmd_fail(cmd, NGX_HTTP_GW_REDIS_FAIL_DOWN);
        }
    }
}


/* queues cmd on a connection of s (after an ASKING command if given) */

static ngx_int_t
ngx_http_gw_redis_send(ngx_http_gw_redis_server_t *s,
    ngx_http_gw_redis_cmd_t *cmd, ngx_http_gw_redis_cmd_t *asking)
{
    ngx_http_gw_redis_conn_t  *rc;

    if (!ngx_http_gw_redis_server_usable(s)) {
        return NGX_DECLINED;
    }

    rc = ngx_http_gw_redis_conn_get(s);
    if (rc == NULL) {
        return NGX_DECLINED;
    }

    if (asking && ngx_http_gw_redis_append(rc, asking) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_gw_redis_append(rc, cmd) != NGX_OK) {
        return NGX_DECLINED;
    }

    /*
     * The write is posted, not done here: commands that requests add in
     * this turn of the event loop leave in one write (the pipeline), and
     * a failing write never calls a handler from within the caller.
     */

    if (rc->connected && !rc->connection->write->posted) {
        ngx_post_event(rc->connection->write, &ngx_posted_events);
    }

    return NGX_OK;
}


/* formats cmd into the connection's output buffer, queues it for a reply */

static ngx_int_t
ngx_http_gw_redis_append(ngx_http_gw_redis_conn_t *rc,
    ngx_http_gw_redis_cmd_t *cmd)
{
    int           n;
    char         *buf;
    u_char       *p;
    size_t        size, *lens, lbuf[NGX_HTTP_GW_REDIS_MAX_ARGS];
    ngx_uint_t    i, argc;
    const char  **argv, *abuf[NGX_HTTP_GW_REDIS_MAX_ARGS];

    argc = cmd->argc;

    if (argc > NGX_HTTP_GW_REDIS_MAX_ARGS) {
        return NGX_ERROR;
    }

    argv = abuf;
    lens = lbuf;

    for (i = 0; i < argc; i++) {
        argv[i] = (const char *) cmd->argv[i].data;
        lens[i] = cmd->argv[i].len;
    }

    if (cmd->script && cmd->evaled) {
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = (const char *) cmd->script->text.data;
        lens[1] = cmd->script->text.len;
    }

    n = redisFormatCommandArgv(&buf, (int) argc, argv, lens);
    if (n < 0) {
        return NGX_ERROR;
    }

    if (rc->out_len + n > rc->out_size) {
        size = ngx_max(rc->out_size * 2, rc->out_len + n);
        size = ngx_max(size, 4096);

        p = ngx_alloc(size, ngx_cycle->log);
        if (p == NULL) {
            free(buf);
            return NGX_ERROR;
        }

        if (rc->out) {
            ngx_memcpy(p, rc->out + rc->out_pos, rc->out_len - rc->out_pos);
            ngx_free(rc->out);
        }

        rc->out_len -= rc->out_pos;
        rc->out_pos = 0;
        rc->out = p;
        rc->out_size = size;
    }

    ngx_memcpy(rc->out + rc->out_len, buf, n);
    rc->out_len += n;
    free(buf);

    cmd->conn = rc;
    ngx_queue_insert_tail(&rc->sent, &cmd->queue);
    rc->nsent++;

    if (rc->connection) {
        rc->connection->idle = 0;
    }

    return NGX_OK;
}


/* the open connection with the fewest commands in flight, or a new one */

static ngx_http_gw_redis_conn_t *
ngx_http_gw_redis_conn_get(ngx_http_gw_redis_server_t *s)
{
    ngx_uint_t                 i;
    ngx_http_gw_redis_conn_t  *rc, *best, *free_rc;

    best = NULL;
    free_rc = NULL;

    for (i = 0; i < s->rd->keepalive; i++) {
        rc = &s->conns[i];

        if (rc->connection == NULL) {
            if (free_rc == NULL) {
                free_rc = rc;
            }

            continue;
        }

        if (best == NULL || rc->nsent < best->nsent) {
            best = rc;
        }
    }

    if (best && (best->nsent == 0 || free_rc == NULL)) {
        return best;
    }

    if (free_rc == NULL) {
        return best;
    }

    if (ngx_http_gw_redis_conn_open(free_rc) != NGX_OK) {
        return best;
    }

    return free_rc;
}


static ngx_int_t
ngx_http_gw_redis_conn_open(ngx_http_gw_redis_conn_t *rc)
{
    ngx_int_t                    rv;
    ngx_str_t                    argv[3];
    ngx_uint_t                   argc;
    ngx_connection_t            *c;
    ngx_http_gw_redis_t         *rd;
    ngx_peer_connection_t        pc;
    ngx_http_gw_redis_cmd_t     *cmd;
    ngx_http_gw_redis_server_t  *s;

    s = rc->server;
    rd = s->rd;

    rc->log = *ngx_cycle->log;
    rc->log.action = "talking to redis";

    ngx_memzero(&pc, sizeof(ngx_peer_connection_t));

    pc.sockaddr = s->addr.sockaddr;
    pc.socklen = s->addr.socklen;
    pc.name = &s->addr.name;
    pc.get = ngx_event_get_peer;
    pc.log = &rc->log;
    pc.log_error = NGX_ERROR_ERR;

    rv = ngx_event_connect_peer(&pc);

    if (rv == NGX_ERROR || rv == NGX_BUSY || rv == NGX_DECLINED) {
        /* ngx_event_connect_peer() has closed the socket and said why */
        ngx_http_gw_redis_server_failed(s, "cannot be connected");
        return NGX_ERROR;
    }

    c = pc.connection;
    c->data = rc;

    /* small pipelined writes must not wait for Nagle's algorithm */

    if (pc.sockaddr->sa_family != AF_UNIX && ngx_tcp_nodelay(c) != NGX_OK) {
        ngx_close_connection(c);
        ngx_http_gw_redis_server_failed(s, "cannot be set up (TCP_NODELAY)");
        return NGX_ERROR;
    }

    c->read->handler = ngx_http_gw_redis_read_handler;
    c->write->handler = ngx_http_gw_redis_write_handler;

    c->pool = ngx_create_pool(256, &rc->log);
    rc->reader = ngx_http_gw_redis_reader_create();

    if (c->pool == NULL || rc->reader == NULL) {
        if (c->pool) {
            ngx_destroy_pool(c->pool);
        }

        ngx_close_connection(c);
        return NGX_ERROR;
    }

    rc->connection = c;
    rc->connected = 0;
    rc->nsent = 0;
    ngx_queue_init(&rc->sent);

    /* AUTH and SELECT go first, in the same pipeline */

    if (!s->sentinel && rd->password.len) {
        argc = 0;
        ngx_str_set(&argv[argc], "AUTH"); argc++;

        if (rd->username.len) {
            argv[argc++] = rd->username;
        }

        argv[argc++] = rd->password;

        cmd = ngx_http_gw_redis_cmd_create(rd, argc, argv, NULL, NULL);
        if (cmd == NULL || ngx_http_gw_redis_append(rc, cmd) != NGX_OK) {
            goto failed;
        }

        cmd->internal = ngx_http_gw_redis_handshake_reply;
    }

    if (!s->sentinel && rd->db) {
        u_char  db[NGX_INT_T_LEN];

        ngx_str_set(&argv[0], "SELECT");
        argv[1].data = db;
        argv[1].len = ngx_sprintf(db, "%ui", rd->db) - db;

        cmd = ngx_http_gw_redis_cmd_create(rd, 2, argv, NULL, NULL);
        if (cmd == NULL || ngx_http_gw_redis_append(rc, cmd) != NGX_OK) {
            goto failed;
        }

        cmd->internal = ngx_http_gw_redis_handshake_reply;
    }

    if (rv == NGX_OK) {
        /* connected at once (a unix socket): carry on from the loop */
        ngx_post_event(c->write, &ngx_posted_events);
    }

    return NGX_OK;

failed:

    if (cmd) {
        ngx_http_gw_redis_cmd_free(cmd);
    }

    ngx_http_gw_redis_conn_close(rc, "out of memory",
                                 NGX_HTTP_GW_REDIS_FAIL_CONNECTION);

    return NGX_ERROR;
}


/* fails every command of the connection, after closing it */

static void
ngx_http_gw_redis_conn_close(ngx_http_gw_redis_conn_t *rc, const char *why,
    ngx_uint_t reason)
{
    ngx_queue_t               list, *q;
    ngx_connection_t         *c;
    ngx_http_gw_redis_cmd_t  *cmd;

    c = rc->connection;

    if (c == NULL) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, c->log, 0,
                   "gw_redis close %V: %s", &rc->server->addr.name,
                   why ? why : "");

    ngx_queue_init(&list);

    if (!ngx_queue_empty(&rc->sent)) {
        list = rc->sent;
        list.next->prev = &list;
        list.prev->next = &list;
    }

    ngx_queue_init(&rc->sent);
    rc->nsent = 0;

    if (rc->reader) {
        redisReaderFree(rc->reader);
        rc->reader = NULL;
    }

    if (rc->out) {
        ngx_free(rc->out);
        rc->out = NULL;
    }

    rc->out_pos = 0;
    rc->out_len = 0;
    rc->out_size = 0;
    rc->connected = 0;
    rc->connection = NULL;

#if (NGX_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    if (c->pool) {
        ngx_destroy_pool(c->pool);
        c->pool = NULL;
    }

    ngx_close_connection(c);

    while (!ngx_queue_empty(&list)) {
        q = ngx_queue_head(&list);
        ngx_queue_remove(q);
        cmd = ngx_queue_data(q, ngx_http_gw_redis_cmd_t, queue);
        ngx_http_gw_redis_cmd_fail(cmd, reason);
    }
}


static void
ngx_http_gw_redis_write_handler(ngx_event_t *wev)
{
    ngx_int_t                  rv;
    ngx_connection_t          *c;
    ngx_http_gw_redis_conn_t  *rc;

    c = wev->data;
    rc = c->data;

    if (!rc->connected) {
        rv = ngx_http_gw_redis_connected(rc);

        if (rv == NGX_AGAIN) {
            return;
        }

        if (rv != NGX_OK) {
            ngx_http_gw_redis_server_failed(rc->server, "cannot be connected");
            ngx_http_gw_redis_conn_close(rc, "connect failed",
                                         NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
            return;
        }
    }

    if (ngx_http_gw_redis_flush(rc) != NGX_OK) {
        ngx_http_gw_redis_server_failed(rc->server, "cannot be written to");
        ngx_http_gw_redis_conn_close(rc, "send failed",
                                     NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
    }
}


/* the connection is established (and TLS set up): NGX_OK */

static ngx_int_t
ngx_http_gw_redis_connected(ngx_http_gw_redis_conn_t *rc)
{
    int                err;
    socklen_t          len;
    ngx_connection_t  *c;
#if (NGX_SSL)
    ngx_int_t          rv;
#endif

    c = rc->connection;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_log_error(NGX_LOG_ERR, c->log, err,
                      "gw_redis \"%V\": connect() to %V failed",
                      &rc->server->rd->name, &rc->server->addr.name);
        return NGX_ERROR;
    }

#if (NGX_SSL)

    if (rc->server->rd->tls && c->ssl == NULL) {
        if (ngx_ssl_create_connection(rc->server->rd->ssl, c, NGX_SSL_CLIENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        c->log->action = "SSL handshaking to redis";

        rv = ngx_ssl_handshake(c);

        if (rv == NGX_AGAIN) {
            c->ssl->handler = ngx_http_gw_redis_ssl_handshake;
            return NGX_AGAIN;
        }

        if (rv != NGX_OK) {
            return NGX_ERROR;
        }

        c->log->action = "talking to redis";
    }

#endif

    rc->connected = 1;

    return NGX_OK;
}


#if (NGX_SSL)

static void
ngx_http_gw_redis_ssl_handshake(ngx_connection_t *c)
{
    ngx_http_gw_redis_conn_t  *rc;

    rc = c->data;

    c->read->handler = ngx_http_gw_redis_read_handler;
    c->write->handler = ngx_http_gw_redis_write_handler;

    if (!c->ssl->handshaked) {
        ngx_http_gw_redis_server_failed(rc->server, "failed the TLS handshake");
        ngx_http_gw_redis_conn_close(rc, "SSL handshake failed",
                                     NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
        return;
    }

    c->log->action = "talking to redis";
    rc->connected = 1;

    if (ngx_http_gw_redis_flush(rc) != NGX_OK) {
        ngx_http_gw_redis_server_failed(rc->server, "cannot be written to");
        ngx_http_gw_redis_conn_close(rc, "send failed",
                                     NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
    }
}

#endif


static ngx_int_t
ngx_http_gw_redis_flush(ngx_http_gw_redis_conn_t *rc)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = rc->connection;

    while (rc->out_pos < rc->out_len) {
        n = c->send(c, rc->out + rc->out_pos, rc->out_len - rc->out_pos);

        if (n == NGX_AGAIN) {
            return ngx_handle_write_event(c->write, 0);
        }

        if (n <= 0) {
            return NGX_ERROR;
        }

        rc->out_pos += n;
    }

    rc->out_pos = 0;
    rc->out_len = 0;

    return NGX_OK;
}


static void
ngx_http_gw_redis_read_handler(ngx_event_t *rev)
{
    void                      *reply;
    u_char                     buf[16384];
    ssize_t                    n;
    ngx_queue_t               *q;
    ngx_connection_t          *c;
    ngx_http_gw_redis_cmd_t   *cmd;
    ngx_http_gw_redis_conn_t  *rc;

    c = rev->data;
    rc = c->data;

    if (c->close) {
        /* an idle connection of a worker that is shutting down */
        ngx_http_gw_redis_conn_close(rc, "shutting down",
                                     NGX_HTTP_GW_REDIS_UNCOUNTED);
        return;
    }

    if (!rc->connected) {
        ngx_http_gw_redis_write_handler(c->write);
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            if (rc->nsent) {
                ngx_http_gw_redis_server_failed(rc->server,
                                                n == 0 ? "closed the connection"
                                                       : "cannot be read from");
            }

            ngx_http_gw_redis_conn_close(rc, "connection lost",
                                         NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
            return;
        }

        if (redisReaderFeed(rc->reader, (const char *) buf, n) != REDIS_OK) {
            goto malformed;
        }

        for ( ;; ) {
            reply = NULL;

            if (redisReaderGetReply(rc->reader, &reply) != REDIS_OK) {
                goto malformed;
            }

            if (reply == NULL) {
                break;
            }

            if (ngx_queue_empty(&rc->sent)) {
                freeReplyObject(reply);
                ngx_http_gw_redis_server_failed(rc->server,
                                                "sent a reply not asked for");
                ngx_http_gw_redis_conn_close(rc, "unexpected reply",
                                           NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
                return;
            }

            q = ngx_queue_head(&rc->sent);
            ngx_queue_remove(q);
            rc->nsent--;

            cmd = ngx_queue_data(q, ngx_http_gw_redis_cmd_t, queue);

            ngx_http_gw_redis_reply(rc, cmd, reply);

            if (rc->connection != c) {
                /* a handler closed the connection */
                return;
            }
        }
    }

    if (rc->nsent == 0) {
        if (ngx_exiting || ngx_terminate) {
            ngx_http_gw_redis_conn_close(rc, "shutting down",
                                         NGX_HTTP_GW_REDIS_UNCOUNTED);
            return;
        }

        c->idle = 1;
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_gw_redis_conn_close(rc, "read event failed",
                                     NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
    }

    return;

malformed:

    ngx_log_error(NGX_LOG_ERR, c->log, 0,
                  "gw_redis \"%V\": malformed reply from %V: %s",
                  &rc->server->rd->name, &rc->server->addr.name,
                  rc->reader->errstr);

    ngx_http_gw_redis_server_failed(rc->server, "sent a malformed reply");
    ngx_http_gw_redis_conn_close(rc, "protocol error",
                                 NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
}


/* a reply for cmd, taken off rc's queue: resend, redirect or deliver */

static void
ngx_http_gw_redis_reply(ngx_http_gw_redis_conn_t *rc,
    ngx_http_gw_redis_cmd_t *cmd, redisReply *reply)
{
    redisReply           *r;
    ngx_http_gw_redis_t  *rd;

    rd = cmd->rd;
    r = reply;

    /* cmd->conn stays rc while the handler runs (handshake replies) */

    if (r->type != REDIS_REPLY_ERROR
        || cmd->internal != ngx_http_gw_redis_handshake_reply)
    {
        ngx_http_gw_redis_server_ok(rc->server);
    }

    if (cmd->cancelled) {
        goto done;
    }

    if (r->type == REDIS_REPLY_ERROR) {

        if (cmd->script && !cmd->evaled
            && ngx_http_gw_redis_error_is(r, "NOSCRIPT"))
        {
            /* the script cache was flushed or this is a new server */

            cmd->evaled = 1;

            if (ngx_http_gw_redis_append(rc, cmd) == NGX_OK) {
                if (!rc->connection->write->posted) {
                    ngx_post_event(rc->connection->write, &ngx_posted_events);
                }

                freeReplyObject(reply);
                return;
            }
        }

        if (rd->mode == NGX_HTTP_GW_REDIS_CLUSTER
            && (ngx_http_gw_redis_error_is(r, "MOVED")
                || ngx_http_gw_redis_error_is(r, "ASK")))
        {
            if (ngx_http_gw_redis_redirect(cmd, r) == NGX_OK) {
                freeReplyObject(reply);
                return;
            }
        }

        if (rd->mode == NGX_HTTP_GW_REDIS_SENTINEL
            && rd->master == rc->server
            && (ngx_http_gw_redis_error_is(r, "READONLY")
                || ngx_http_gw_redis_error_is(r, "MASTERDOWN")))
        {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "gw_redis \"%V\": %V is no longer the master, "
                          "asking the sentinels again",
                          &rd->name, &rc->server->addr.name);
            rd->master = NULL;
        }
    }

    cmd->done = 1;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    if (cmd->internal) {
        cmd->internal(cmd, r);

    } else if (cmd->handler) {
        cmd->handler(cmd->data, r);
    }

done:

    ngx_http_gw_redis_cmd_count(cmd, r->type == REDIS_REPLY_ERROR
                                     ? NGX_HTTP_GW_REDIS_FAIL_ERROR_REPLY
                                     : NGX_HTTP_GW_REDIS_FAILS);

    freeReplyObject(reply);
    ngx_http_gw_redis_cmd_free(cmd);
}


static ngx_int_t
ngx_http_gw_redis_internal(ngx_http_gw_redis_t *rd,
    ngx_http_gw_redis_server_t *s, ngx_uint_t argc, ngx_str_t *argv,
    ngx_http_gw_redis_internal_pt handler)
{
    ngx_http_gw_redis_cmd_t  *cmd;

    cmd = ngx_http_gw_redis_cmd_create(rd, argc, argv, NULL, NULL);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->internal = handler;
    cmd->target = s;

    if (ngx_http_gw_redis_send(s, cmd, NULL) != NGX_OK) {
        ngx_http_gw_redis_cmd_free(cmd);
        return NGX_DECLINED;
    }

    ngx_add_timer(&cmd->timer, rd->timeout);

    return NGX_OK;
}


static void
ngx_http_gw_redis_handshake_reply(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_http_gw_redis_conn_t  *rc;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    rc = cmd->conn;

    /* Redis's error text never repeats the password */

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "gw_redis \"%V\": %V refused by %V: %*s",
                  &cmd->rd->name, &cmd->argv[0], &rc->server->addr.name,
                  (size_t) reply->len, reply->str);

    /* the commands behind it would fail with NOAUTH: fail them now */

    ngx_http_gw_redis_server_failed(rc->server, "refused the handshake");
    ngx_http_gw_redis_conn_close(rc, "handshake refused",
                                 NGX_HTTP_GW_REDIS_FAIL_CONNECTION);
}


static void
ngx_http_gw_redis_ignore_reply(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply)
{
}


static ngx_int_t
ngx_http_gw_redis_discover(ngx_http_gw_redis_t *rd)
{
    ngx_str_t                     argv[3];
    ngx_uint_t                    i, n;
    ngx_http_gw_redis_server_t  **sp;

    sp = rd->servers.elts;

    ngx_str_set(&argv[0], "SENTINEL");
    ngx_str_set(&argv[1], "get-master-addr-by-name");
    argv[2] = rd->master_name;

    for (i = 0; i < rd->nconf; i++) {
        n = (rd->sentinel_next + i) % rd->nconf;

        if (ngx_http_gw_redis_internal(rd, sp[n], 3, argv,
                                       ngx_http_gw_redis_master_reply)
            == NGX_OK)
        {
            rd->sentinel_next = n;
            rd->discovering = 1;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static void
ngx_http_gw_redis_master_reply(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_int_t                    port;
    ngx_str_t                    host;
    ngx_http_gw_redis_t         *rd;
    ngx_http_gw_redis_server_t  *s;

    rd = cmd->rd;
    rd->discovering = 0;

    if (reply == NULL) {
        /* this sentinel failed (and is marked down): ask the next one */

        rd->sentinel_next++;

        if (ngx_http_gw_redis_discover(rd) != NGX_OK) {
            ngx_http_gw_redis_flush_waiting(rd, 1);
        }

        return;
    }

    if (ngx_http_gw_redis_parse_master(reply, &host, &port) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gw_redis \"%V\": sentinel %V does not know "
                      "master \"%V\"", &rd->name, &cmd->target->addr.name,
                      &rd->master_name);

        rd->sentinel_next++;
        ngx_http_gw_redis_flush_waiting(rd, 1);
        return;
    }

    s = ngx_http_gw_redis_server_learn(rd, host.data, host.len, port);
    if (s == NULL) {
        ngx_http_gw_redis_flush_waiting(rd, 1);
        return;
    }

    if (rd->master != s) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "gw_redis \"%V\": master \"%V\" is %V",
                      &rd->name, &rd->master_name, &s->addr.name);
    }

    rd->master = s;

    ngx_http_gw_redis_flush_waiting(rd, 0);
}


static ngx_int_t
ngx_http_gw_redis_slots_refresh(ngx_http_gw_redis_t *rd)
{
    ngx_str_t                     argv[2];
    ngx_uint_t                    i;
    ngx_http_gw_redis_server_t  **sp;

    sp = rd->servers.elts;

    ngx_str_set(&argv[0], "CLUSTER");
    ngx_str_set(&argv[1], "SLOTS");

    /* a node that is up, the seeds first */

    for (i = 0; i < rd->servers.nelts; i++) {
        if (sp[i]->down) {
            continue;
        }

        if (ngx_http_gw_redis_internal(rd, sp[i], 2, argv,
                                       ngx_http_gw_redis_slots_reply)
            == NGX_OK)
        {
            rd->discovering = 1;
            return NGX_OK;
        }
    }

    for (i = 0; i < rd->servers.nelts; i++) {
        if (ngx_http_gw_redis_internal(rd, sp[i], 2, argv,
                                       ngx_http_gw_redis_slots_reply)
            == NGX_OK)
        {
            rd->discovering = 1;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static void
ngx_http_gw_redis_slots_reply(ngx_http_gw_redis_cmd_t *cmd,
    redisReply *reply)
{
    ngx_int_t                    port;
    ngx_str_t                    host;
    ngx_uint_t                   i, start, end, slot;
    ngx_http_gw_redis_t         *rd;
    ngx_http_gw_redis_server_t  *s;

    rd = cmd->rd;
    rd->discovering = 0;

    if (reply == NULL) {
        /* this node failed (and is marked down): try another */

        if (ngx_http_gw_redis_slots_refresh(rd) != NGX_OK) {
            ngx_http_gw_redis_flush_waiting(rd, 1);
        }

        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        goto invalid;
    }

    for (i = 0; i < reply->elements; i++) {
        if (ngx_http_gw_redis_parse_slots(reply->element[i], &start, &end,
                                          &host, &port)
            != NGX_OK)
        {
            goto invalid;
        }

        s = ngx_http_gw_redis_server_learn(rd, host.data, host.len, port);
        if (s == NULL) {
            continue;
        }

        for (slot = start; slot <= end; slot++) {
            rd->slots[slot] = (uint16_t) (s->index + 1);
        }
    }

    rd->slots_stale = 0;

    ngx_http_gw_redis_flush_waiting(rd, 0);

    return;

invalid:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "gw_redis \"%V\": unexpected CLUSTER SLOTS reply from %V%s",
                  &rd->name, &cmd->target->addr.name,
                  reply->type == REDIS_REPLY_ERROR ? " (not a cluster?)" : "");

    ngx_http_gw_redis_flush_waiting(rd, 1);
}


/* "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381" */

static ngx_int_t
ngx_http_gw_redis_redirect(ngx_http_gw_redis_cmd_t *cmd, redisReply *reply)
{
    ngx_int_t                    port, rc;
    ngx_str_t                    argv[1], host;
    ngx_uint_t                   ask, slot;
    ngx_http_gw_redis_t         *rd;
    ngx_http_gw_redis_cmd_t     *asking;
    ngx_http_gw_redis_server_t  *s;

    rd = cmd->rd;

    if (cmd->redirects++ >= NGX_HTTP_GW_REDIS_REDIRECTS) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gw_redis \"%V\": too many cluster redirections",
                      &rd->name);
        return NGX_DECLINED;
    }

    if (ngx_http_gw_redis_parse_redirect((u_char *) reply->str, reply->len,
                                         &ask, &slot, &host, &port)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gw_redis \"%V\": malformed redirection \"%*s\"",
                      &rd->name, ngx_min((size_t) reply->len, 64),
                      reply->str);
        return NGX_DECLINED;
    }

    s = ngx_http_gw_redis_server_learn(rd, host.data, host.len, port);
    if (s == NULL) {
        return NGX_DECLINED;
    }

    if (!ask) {
        rd->slots[slot] = (uint16_t) (s->index + 1);
        rd->slots_stale = 1;

        return ngx_http_gw_redis_send(s, cmd, NULL) == NGX_OK ? NGX_OK
                                                            : NGX_DECLINED;
    }

    ngx_str_set(&argv[0], "ASKING");

    asking = ngx_http_gw_redis_cmd_create(rd, 1, argv, NULL, NULL);
    if (asking == NULL) {
        return NGX_DECLINED;
    }

    asking->internal = ngx_http_gw_redis_ignore_reply;

    rc = ngx_http_gw_redis_send(s, cmd, asking);

    if (rc != NGX_OK) {
        if (asking->conn == NULL) {
            ngx_http_gw_redis_cmd_free(asking);
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * hiredis 0.14 believes any multi-bulk count: "*2147483647" would make it
 * allocate 16 GiB before one element arrives.  Our readers refuse arrays
 * longer than any reply we ask for could be.
 */

static void *(*ngx_http_gw_redis_create_array)(const redisReadTask *task,
    int elements);
static redisReplyObjectFunctions  ngx_http_gw_redis_reply_fns;


static void *
ngx_http_gw_redis_bounded_array(const redisReadTask *task, int elements)
{
    if (elements > NGX_HTTP_GW_REDIS_MAX_ELEMENTS) {
        return NULL;    /* the reader fails: the connection is closed */
    }

    return ngx_http_gw_redis_create_array(task, elements);
}


redisReader *
ngx_http_gw_redis_reader_create(void)
{
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return NULL;
    }

    if (ngx_http_gw_redis_create_array == NULL) {
        ngx_http_gw_redis_reply_fns = *reader->fn;
        ngx_http_gw_redis_create_array =
                                      ngx_http_gw_redis_reply_fns.createArray;
        ngx_http_gw_redis_reply_fns.createArray =
                                      ngx_http_gw_redis_bounded_array;
    }

    reader->fn = &ngx_http_gw_redis_reply_fns;

    return reader;
}


/* "MOVED 3999 127.0.0.1:6381", "ASK 3999 [::1]:6381" */

ngx_int_t
ngx_http_gw_redis_parse_redirect(u_char *p, size_t len, ngx_uint_t *ask,
    ngx_uint_t *slot, ngx_str_t *host, ngx_int_t *port)
{
    u_char     *last, *sp, *colon;
    ngx_int_t   n;

    last = p + len;

    if (len > 6 && ngx_strncmp(p, "MOVED ", 6) == 0) {
        *ask = 0;
        p += 6;

    } else if (len > 4 && ngx_strncmp(p, "ASK ", 4) == 0) {
        *ask = 1;
        p += 4;

    } else {
        return NGX_ERROR;
    }

    sp = ngx_strlchr(p, last, ' ');
    if (sp == NULL) {
        return NGX_ERROR;
    }

    n = ngx_atoi(p, sp - p);
    if (n == NGX_ERROR || n >= NGX_HTTP_GW_REDIS_SLOTS) {
        return NGX_ERROR;
    }

    *slot = n;

    p = sp + 1;
    colon = NULL;

    for (sp = p; sp < last; sp++) {
        if (*sp == ':') {
            colon = sp;
        }
    }

    if (colon == NULL || colon == p) {
        return NGX_ERROR;
    }

    n = ngx_atoi(colon + 1, last - colon - 1);
    if (n < 1 || n > 65535) {
        return NGX_ERROR;
    }

    *port = n;

    if (*p == '[' && colon[-1] == ']' && colon - p > 2) {
        p++;
        colon--;
    }

    host->data = p;
    host->len = colon - p;

    return NGX_OK;
}


/* a SENTINEL get-master-addr-by-name reply: [ "10.0.0.1", "6379" ] */

ngx_int_t
ngx_http_gw_redis_parse_master(redisReply *reply, ngx_str_t *host,
    ngx_int_t *port)
{
    redisReply  **e;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        return NGX_ERROR;
    }

    e = reply->element;

    if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING
        || e[0]->len == 0)
    {
        return NGX_ERROR;
    }

    *port = ngx_atoi((u_char *) e[1]->str, e[1]->len);

    if (*port < 1 || *port > 65535) {
        return NGX_ERROR;
    }

    host->data = (u_char *) e[0]->str;
    host->len = e[0]->len;

    return NGX_OK;
}


/* one range of a CLUSTER SLOTS reply: [ start, end, [ host, port, ... ], ... ] */

ngx_int_t
ngx_http_gw_redis_parse_slots(redisReply *e, ngx_uint_t *start,
    ngx_uint_t *end, ngx_str_t *host, ngx_int_t *port)
{
    redisReply  *m;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
        || e->element[0]->type != REDIS_REPLY_INTEGER
        || e->element[1]->type != REDIS_REPLY_INTEGER
        || e->element[2]->type != REDIS_REPLY_ARRAY
        || e->element[2]->elements < 2)
    {
        return NGX_ERROR;
    }

    m = e->element[2];

    if (e->element[0]->integer < 0
        || e->element[1]->integer >= NGX_HTTP_GW_REDIS_SLOTS
        || e->element[0]->integer > e->element[1]->integer
        || m->element[0]->type != REDIS_REPLY_STRING
        || m->element[0]->len == 0
        || m->element[1]->type != REDIS_REPLY_INTEGER
        || m->element[1]->integer < 1
        || m->element[1]->integer > 65535)
    {
        return NGX_ERROR;
    }

    *start = (ngx_uint_t) e->element[0]->integer;
    *end = (ngx_uint_t) e->element[1]->integer;
    host->data = (u_char *) m->element[0]->str;
    host->len = m->element[0]->len;
    *port = (ngx_int_t) m->element[1]->integer;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_gw_redis_key_slot(u_char *key, size_t len)
{
    u_char      *p, *last, *open, *close;
    uint16_t     crc;
    ngx_uint_t   i, j;

    if (!ngx_http_gw_redis_crc16_ready) {
        for (i = 0; i < 256; i++) {
            crc = (uint16_t) (i << 8);

            for (j = 0; j < 8; j++) {
                crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                     : (uint16_t) (crc << 1);
            }

            ngx_http_gw_redis_crc16_table[i] = crc;
        }

        ngx_http_gw_redis_crc16_ready = 1;
    }

    /* a non-empty {hash tag} is hashed instead of the whole key */

    last = key + len;
    open = ngx_strlchr(key, last, '{');

    if (open) {
        close = ngx_strlchr(open + 1, last, '}');

        if (close && close > open + 1) {
            key = open + 1;
            last = close;
        }
    }

    crc = 0;

    for (p = key; p < last; p++) {
        crc = (uint16_t) ((crc << 8)
                          ^ ngx_http_gw_redis_crc16_table[((crc >> 8) ^ *p)
                                                          & 0xff]);
    }

    return crc & (NGX_HTTP_GW_REDIS_SLOTS - 1);
}


static ngx_uint_t
ngx_http_gw_redis_error_is(redisReply *reply, const char *prefix)
{
    size_t  n;

    if (reply->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    n = ngx_strlen(prefix);

    return reply->len >= n
           && ngx_strncmp(reply->str, prefix, n) == 0
           && (reply->len == n || reply->str[n] == ' ');
}


char *
ngx_http_gw_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char                *v;
    size_t                 vlen;
    ngx_int_t              n;
    ngx_str_t             *value, s;
    ngx_url_t              u;
    ngx_uint_t             i, j, cluster;
    ngx_addr_t            *addr;
    ngx_array_t          **a;
    ngx_http_gw_redis_t   *rd, **rdp;

    a = (ngx_array_t **) (p + cmd->offset);
    value = cf->args->elts;

    if (ngx_http_gw_redis_find(*a, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate gw_redis \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_redis_t));
    if (rd == NULL) {
        return NGX_CONF_ERROR;
    }

    rd->name = value[1];
    rd->timeout = NGX_CONF_UNSET_MSEC;
    rd->keepalive = NGX_CONF_UNSET_UINT;
    cluster = 0;

    if (ngx_array_init(&rd->addrs, cf->pool, 2, sizeof(ngx_addr_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* parameters first: the default port depends on sentinel= */

    for (i = 2; i < cf->args->nelts; i++) {
        v = value[i].data;
        vlen = value[i].len;

        if (vlen > 9 && ngx_strncmp(v, "password=", 9) == 0) {
            rd->password.data = v + 9;
            rd->password.len = vlen - 9;
            continue;
        }

        if (vlen > 9 && ngx_strncmp(v, "username=", 9) == 0) {
            rd->username.data = v + 9;
            rd->username.len = vlen - 9;
            continue;
        }

        if (vlen > 3 && ngx_strncmp(v, "db=", 3) == 0) {
            n = ngx_atoi(v + 3, vlen - 3);
            if (n == NGX_ERROR || n > 65535) {
                goto invalid;
            }

            rd->db = n;
            continue;
        }

        if (vlen > 8 && ngx_strncmp(v, "timeout=", 8) == 0) {
            s.data = v + 8;
            s.len = vlen - 8;

            rd->timeout = ngx_parse_time(&s, 0);
            if (rd->timeout == (ngx_msec_t) NGX_ERROR || rd->timeout == 0) {
                goto invalid;
            }

            continue;
        }

        if (vlen > 10 && ngx_strncmp(v, "keepalive=", 10) == 0) {
            n = ngx_atoi(v + 10, vlen - 10);
            if (n == NGX_ERROR || n == 0 || n > 64) {
                goto invalid;
            }

            rd->keepalive = n;
            continue;
        }

        if (vlen > 9 && ngx_strncmp(v, "sentinel=", 9) == 0) {
            rd->master_name.data = v + 9;
            rd->master_name.len = vlen - 9;
            rd->mode = NGX_HTTP_GW_REDIS_SENTINEL;
            continue;
        }

        if (vlen == 3 && ngx_strncmp(v, "tls", 3) == 0) {
#if (NGX_SSL)
            rd->tls = 1;
            continue;
#else
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"tls\" needs nginx built with SSL");
            return NGX_CONF_ERROR;
#endif
        }

        if (vlen == 7 && ngx_strncmp(v, "cluster", 7) == 0) {
            cluster = 1;
            continue;
        }

        if (ngx_strlchr(v, v + vlen, '=') != NULL
            && ngx_strncmp(v, "unix:", 5) != 0)
        {
            goto invalid;
        }
    }

    if (cluster) {
        if (rd->mode == NGX_HTTP_GW_REDIS_SENTINEL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "gw_redis \"%V\": \"sentinel=\" and "
                               "\"cluster\" cannot be combined", &rd->name);
            return NGX_CONF_ERROR;
        }

        if (rd->db) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "gw_redis \"%V\": \"db=\" cannot be used "
                               "with \"cluster\" (a cluster has only db 0)",
                               &rd->name);
            return NGX_CONF_ERROR;
        }

        rd->mode = NGX_HTTP_GW_REDIS_CLUSTER;
    }

    if (rd->username.len && rd->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gw_redis \"%V\": \"username=\" needs "
                           "\"password=\"", &rd->name);
        return NGX_CONF_ERROR;
    }

    /* then the addresses, resolved now as upstream servers are */

    for (i = 2; i < cf->args->nelts; i++) {
        v = value[i].data;
        vlen = value[i].len;

        if ((ngx_strlchr(v, v + vlen, '=') != NULL
             && ngx_strncmp(v, "unix:", 5) != 0)
            || (vlen == 3 && ngx_strncmp(v, "tls", 3) == 0)
            || (vlen == 7 && ngx_strncmp(v, "cluster", 7) == 0))
        {
            continue;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[i];
        u.default_port = (rd->mode == NGX_HTTP_GW_REDIS_SENTINEL) ? 26379
                                                                  : 6379;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            if (u.err) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "%s in gw_redis \"%V\" address \"%V\"",
                                   u.err, &rd->name, &u.url);
            }

            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0 || u.uri.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid gw_redis \"%V\" address \"%V\"",
                               &rd->name, &u.url);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < u.naddrs; j++) {
            addr = ngx_array_push(&rd->addrs);
            if (addr == NULL) {
                return NGX_CONF_ERROR;
            }

            *addr = u.addrs[j];
        }
    }

    if (rd->addrs.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gw_redis \"%V\" has no address", &rd->name);
        return NGX_CONF_ERROR;
    }

    if (rd->addrs.nelts > NGX_HTTP_GW_REDIS_MAX_SERVERS / 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gw_redis \"%V\" has too many addresses",
                           &rd->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_msec_value(rd->timeout, 50);
    ngx_conf_init_uint_value(rd->keepalive, 2);

#if (NGX_SSL)

    if (rd->tls) {
        ngx_pool_cleanup_t  *cln;

        rd->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
        if (rd->ssl == NULL) {
            return NGX_CONF_ERROR;
        }

        rd->ssl->log = cf->log;

        if (ngx_ssl_create(rd->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            ngx_ssl_cleanup_ctx(rd->ssl);
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_ssl_cleanup_ctx;
        cln->data = rd->ssl;
    }

#endif

    if (*a == NULL) {
        *a = ngx_array_create(cf->pool, 2, sizeof(ngx_http_gw_redis_t *));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rdp = ngx_array_push(*a);
    if (rdp == NULL) {
        return NGX_CONF_ERROR;
    }

    *rdp = rd;

    /* the workers' figures: kept across reload, as the zone is */

    s.len = sizeof("gw_redis:") - 1 + rd->name.len;
    s.data = ngx_pnalloc(cf->pool, s.len);
    if (s.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(s.data, "gw_redis:%V", &rd->name);

    rd->shm_zone = ngx_shared_memory_add(cf, &s,
                                 8 * ngx_pagesize
                                 + ngx_align(sizeof(ngx_http_gw_redis_sh_t),
                                             ngx_pagesize),
                                 &ngx_http_gw_redis_zone_tag);
    if (rd->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (rd->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &s);
        return NGX_CONF_ERROR;
    }

    rd->shm_zone->init = ngx_http_gw_redis_init_zone;
    rd->shm_zone->data = rd;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" of gw_redis \"%V\"",
                       &value[i], &rd->name);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_gw_redis_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_gw_redis_t  *ord = data;

    ngx_http_gw_redis_t  *rd;

    rd = shm_zone->data;
    rd->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (ord) {
        rd->sh = ord->sh;

    } else {
        rd->sh = ngx_slab_calloc(rd->shpool, sizeof(ngx_http_gw_redis_sh_t));
        if (rd->sh == NULL) {
            return NGX_ERROR;
        }

        rd->shpool->data = rd->sh;
    }

    /* a new configuration: shown once its workers run */

    rd->generation = ++rd->sh->last;

    return NGX_OK;
}
