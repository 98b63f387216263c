
/*
 * Copyright (C) nginx-gw authors
 *
 * The non-blocking Redis client.  A "gw_redis" block names one Redis
 * deployment (a server, a Sentinel-managed master or a Cluster); each worker
 * talks to it through nginx peer connections driven by nginx events and
 * timers.  hiredis only formats commands (redisFormatCommandArgv) and parses
 * replies (redisReader).  Commands of concurrent requests are pipelined on
 * a pooled keepalive connection and matched to replies first in, first out.
 * AUTH (with an ACL user) and SELECT are sent when a connection opens; TLS
 * goes through nginx's SSL.  With "sentinel=" the addresses are sentinels
 * asked for the master; with "cluster" they are seed nodes, the slot map is
 * learnt from CLUSTER SLOTS and MOVED/ASK redirections are followed.  A
 * failed server is marked down and retried with a growing backoff, during
 * which commands fail at once (NGX_DECLINED) instead of waiting.  What the
 * workers do with a block (commands, their time, failures, and which server
 * they last found down) is kept in a small shared zone of its own,
 * "gw_redis:<name>", so that a status page shows all workers' figures, and
 * the counters survive reload.
 */


#ifndef _NGX_HTTP_GW_REDIS_H_INCLUDED_
#define _NGX_HTTP_GW_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_http_gw_common.h"


typedef struct ngx_http_gw_redis_s      ngx_http_gw_redis_t;
typedef struct ngx_http_gw_redis_cmd_s  ngx_http_gw_redis_cmd_t;


/* a command's arguments, its name included, at most */
#define NGX_HTTP_GW_REDIS_MAX_ARGS          32


/* why a command had no reply, or not the one asked for */
#define NGX_HTTP_GW_REDIS_FAIL_TIMEOUT      0   /* none within timeout= */
#define NGX_HTTP_GW_REDIS_FAIL_CONNECTION   1   /* connect, TLS, AUTH, lost */
#define NGX_HTTP_GW_REDIS_FAIL_ERROR_REPLY  2   /* an error reply */
#define NGX_HTTP_GW_REDIS_FAIL_DOWN         3   /* no server: backing off */
#define NGX_HTTP_GW_REDIS_FAILS             4


/* a block's figures, summed over all workers since its zone was made */

typedef struct {
    uint64_t                        commands;     /* the callers' */
    uint64_t                        msec;         /* their time, summed */
    uint64_t                        failures[NGX_HTTP_GW_REDIS_FAILS];
} ngx_http_gw_redis_stats_t;


/*
 * Called exactly once per command that ngx_http_gw_redis_eval() accepted
 * (returned NGX_OK), unless the command was cancelled first.  reply is
 * NULL when the command failed (timeout, connection lost, server down,
 * protocol error); an error reply from Redis is passed as REDIS_REPLY_ERROR.
 * The reply is freed by the client after the handler returns, and so is
 * the command: it must not be cancelled or used once its handler runs.
 * Never called from within ngx_http_gw_redis_eval().
 */
typedef void (*ngx_http_gw_redis_handler_pt)(void *data, redisReply *reply);


/* A Lua script run by EVALSHA, sent again by EVAL on NOSCRIPT. */

typedef struct {
    ngx_str_t                       text;
    u_char                          sha1[40];   /* hex, computed at config */
} ngx_http_gw_redis_script_t;


/*
 * The "gw_redis" directive handler.  cmd->offset locates, in the module's
 * main configuration, an "ngx_array_t *" of "ngx_http_gw_redis_t *" (created
 * on first use), as ngx_conf_set_* handlers do.
 */
NGX_HTTP_GW_LOCAL char *ngx_http_gw_redis_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* the gw_redis block called name, or NULL with nothing logged */
NGX_HTTP_GW_LOCAL ngx_http_gw_redis_t *ngx_http_gw_redis_find(
    ngx_array_t *redis, ngx_str_t *name);

NGX_HTTP_GW_LOCAL ngx_str_t *ngx_http_gw_redis_name(ngx_http_gw_redis_t *rd);

/* the block's timeout= (default 50ms) */
NGX_HTTP_GW_LOCAL ngx_msec_t ngx_http_gw_redis_timeout(
    ngx_http_gw_redis_t *rd);

/* fills script->sha1 from script->text */
NGX_HTTP_GW_LOCAL void ngx_http_gw_redis_script_init(
    ngx_http_gw_redis_script_t *script);

/*
 * Runs script with keys and args (EVALSHA, then EVAL on NOSCRIPT).  In a
 * Cluster the first key chooses the node; all keys must share a hash slot
 * (use a {hash tag}).  Returns
 *   NGX_OK        the handler will be called, within the block's timeout;
 *                 *cmdp (if not NULL) can be passed to ..._cancel();
 *   NGX_DECLINED  Redis is known to be down (backing off): decide now;
 *   NGX_ERROR     out of memory.
 * The arguments are copied: they need not outlive the call.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_redis_eval(ngx_http_gw_redis_t *rd,
    ngx_http_gw_redis_script_t *script, ngx_uint_t nkeys, ngx_str_t *keys,
    ngx_uint_t nargs, ngx_str_t *args, ngx_http_gw_redis_handler_pt handler,
    void *data, ngx_log_t *log, ngx_http_gw_redis_cmd_t **cmdp);

/*
 * Any other command: argv[0] is the command name, argv[1] its key (used for
 * the Cluster slot when has_key is set).  Same return values as above.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_redis_command(
    ngx_http_gw_redis_t *rd, ngx_uint_t argc, ngx_str_t *argv,
    ngx_uint_t has_key, ngx_http_gw_redis_handler_pt handler, void *data,
    ngx_log_t *log, ngx_http_gw_redis_cmd_t **cmdp);

/* the handler of cmd will not be called (say, its request was finalized) */
NGX_HTTP_GW_LOCAL void ngx_http_gw_redis_cancel(ngx_http_gw_redis_cmd_t *cmd);

/*
 * Pure parsers of what a server says (no nginx state), fuzzed on their own:
 * a hiredis reader that refuses absurd array lengths; a MOVED/ASK error
 * text; a sentinel's master address reply; one range of a CLUSTER SLOTS
 * reply.  NGX_OK or NGX_ERROR; strings point into the input.
 */
NGX_HTTP_GW_LOCAL redisReader *ngx_http_gw_redis_reader_create(void);
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_redis_parse_redirect(u_char *p,
    size_t len, ngx_uint_t *ask, ngx_uint_t *slot, ngx_str_t *host,
    ngx_int_t *port);
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_redis_parse_master(redisReply *reply,
    ngx_str_t *host, ngx_int_t *port);
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_redis_parse_slots(redisReply *e,
    ngx_uint_t *start, ngx_uint_t *end, ngx_str_t *host, ngx_int_t *port);

/* connection state of this worker, for status pages and tests */
NGX_HTTP_GW_LOCAL ngx_uint_t ngx_http_gw_redis_is_up(ngx_http_gw_redis_t *rd);

/*
 * Status pages.  commands counts the callers' commands (eval, command),
 * each once, when its handler learns the outcome or when it is refused at
 * once; msec sums the time from the call to that outcome (0 when refused);
 * failures counts those without the reply asked for, by reason, so that
 * commands - failures got an answer.  AUTH, SELECT, discovery and ASKING
 * are not counted.
 */
NGX_HTTP_GW_LOCAL void ngx_http_gw_redis_stats(ngx_http_gw_redis_t *rd,
    ngx_http_gw_redis_stats_t *st);

/*
 * The n-th slot of the table of the servers the workers know (the
 * configured addresses, and the masters and nodes learnt), as the last
 * worker to talk to each found it: NGX_OK with its address in name
 * (NGX_SOCKADDR_STRLEN bytes), *len and *up (0 while marked down, backing
 * off); NGX_DECLINED for a slot not in use; NGX_DONE past the last.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_redis_server_state(
    ngx_http_gw_redis_t *rd, ngx_uint_t n, u_char *name, size_t *len,
    ngx_uint_t *up);


#endif /* _NGX_HTTP_GW_REDIS_H_INCLUDED_ */
