
/*
 * Copyright (C) nginx-gw authors
 *
 * ngx_http_gw_ratelimit_module: request limits and quotas in the preaccess
 * phase, as limit_req, with two algorithms, a cost per request, dry runs,
 * rate-limit response headers, and counters kept in shared memory, in
 * Redis, or in both.
 *
 * sliding_window is the weighted two-window counter: windows are aligned
 * to multiples of the window length since the epoch, and a request is
 * admitted when prev * (W - e) / W + cur + cost <= limit, where e is the
 * time elapsed in the current window.  token_bucket holds up to "burst"
 * tokens, refilled at "rate"; tokens are kept as integers scaled by the
 * rate's unit in milliseconds, so that a millisecond adds exactly N of
 * them and nothing is rounded away.  No floats in shared memory.
 *
 * Shared memory: one zone per gw_ratelimit_zone, named
 * "gw_ratelimit:<name>", built on common/ngx_http_gw_shm_cache: an entry
 * per key, named by the SHA-256 digest of the key, holding the limiter's
 * state, which is updated in place under the zone's mutex (never held
 * across I/O).  An entry expires when its state is back to that of a new
 * key, so an expired entry can go first; when the zone is full the least
 * recently used entry is evicted, and that is logged once a minute.  The
 * zone, and so every counter, is kept across reload.
 *
 * Redis ("redis="): every check is one EVALSHA of a script that reads
 * Redis's clock, so that hosts with skewed clocks agree; the state of a
 * limiter key is one hash, "gw:rl:{<zone>:<key>}:sw" or ":tb", with a
 * PEXPIRE of the time it takes to return to a fresh state.  The request
 * waits for the reply (NGX_AGAIN, resumed by the reply handler); a pool
 * cleanup cancels the command if the request goes away first.  When Redis
 * is down or fails, on_redis_error decides: local (the shared-memory
 * counters of the same zone), allow, or deny (503).
 *
 * Hybrid ("redis=" with "sync="): requests are decided in shared memory
 * only; each entry also keeps what this host consumed since it last
 * heard from Redis, and the key's name in Redis (the key itself, or the
 * hex digest of a key longer than 256 bytes, for every mode alike).  A
 * sync sends that delta with the same script, forced, and the global
 * state in the reply, plus what was consumed locally meanwhile, replaces
 * the local view.  A sync starts when the entry's last one is older than
 * "sync" (one at a time, thanks to a flag in the entry), either from the
 * request that finds it so, or from a flush: an entry given a delta joins
 * the zone's dirty queue, and a timer in every worker walks that queue
 * each "sync" (one worker a tick, by a timestamp in the zone), sending at
 * most 256 deltas a tick.  So a burst followed by silence reaches Redis
 * within two intervals, not at the key's next request.
 *
 * With several gw_ratelimit in a location every limit must pass; the
 * limits are checked in order, each atomically, and when one rejects, what
 * the earlier ones consumed is given back.  The state of the check lives
 * in a context on r->main, found again through its pool cleanup after an
 * internal redirect, so that a request is counted once.
 *
 * gw_status: each zone counts, in its own shared memory (atomics, no lock),
 * the checks by outcome ($gw_ratelimit_status, once per zone checked per
 * request), its checks that Redis failed, its keys (changed under the
 * mutex, as entries are made and freed) and the keys evicted before their
 * time; the Redis client keeps its figures in each gw_redis's zone.  So
 * all workers show the same, and a reload that keeps a zone keeps them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_http_gw_common.h"
#include "ngx_http_gw_redis.h"
#include "ngx_http_gw_shm_cache.h"
#include "ngx_http_gw_status.h"


#define NGX_HTTP_GW_RL_SLIDING_WINDOW    1
#define NGX_HTTP_GW_RL_TOKEN_BUCKET      2

#define NGX_HTTP_GW_RL_ON_ERROR_LOCAL    0
#define NGX_HTTP_GW_RL_ON_ERROR_ALLOW    1
#define NGX_HTTP_GW_RL_ON_ERROR_DENY     2

#define NGX_HTTP_GW_RL_HEADERS_OFF       0
#define NGX_HTTP_GW_RL_HEADERS_LEGACY    1
#define NGX_HTTP_GW_RL_HEADERS_DRAFT     2
#define NGX_HTTP_GW_RL_HEADERS_BOTH      3

#define NGX_HTTP_GW_RL_PASSED            1
#define NGX_HTTP_GW_RL_REJECTED          2
#define NGX_HTTP_GW_RL_DRY_RUN           3
#define NGX_HTTP_GW_RL_ERROR             4
#define NGX_HTTP_GW_RL_STATUSES          4

/* what a check found */
#define NGX_HTTP_GW_RL_ALLOWED           0
#define NGX_HTTP_GW_RL_OVER              1
#define NGX_HTTP_GW_RL_FAILED            2
#define NGX_HTTP_GW_RL_SKIPPED           3

#define NGX_HTTP_GW_RL_KEY_LEN           NGX_HTTP_GW_SHM_CACHE_KEY_LEN
#define NGX_HTTP_GW_RL_MAX_COUNT         1000000000
#define NGX_HTTP_GW_RL_FULL_LOG_SEC      60

/* longer keys are named in Redis by their digest, in hex */
#define NGX_HTTP_GW_RL_NAME_LEN          256

/*
 * Checks of one key that requests start in one turn of the event loop go
 * to Redis as one script run, with at most so many costs (EVALSHA, sha,
 * numkeys, key, 4 figures at most and the costs fit in
 * NGX_HTTP_GW_REDIS_MAX_ARGS); open batches are found by the key's digest
 */
#define NGX_HTTP_GW_RL_BATCH            24
#define NGX_HTTP_GW_RL_BATCH_BUCKETS    64

/* a flush tick sends at most so many deltas, looking at so many entries */
#define NGX_HTTP_GW_RL_FLUSH_SYNCS       256
#define NGX_HTTP_GW_RL_FLUSH_VISITS      1024


/* the key's name in Redis, stored after the state in a hybrid entry */
#define ngx_http_gw_ratelimit_name(st)                                        \
    ((u_char *) (st) + sizeof(ngx_http_gw_ratelimit_state_t))


/* the module's part of a zone's shared memory, besides shm_cache's */

typedef struct {
    ngx_queue_t                     dirty;   /* entries with a delta */
    uint64_t                        flushed; /* last flush tick, ms */

    /* gw_status */
    ngx_atomic_t                    requests[NGX_HTTP_GW_RL_STATUSES];
    ngx_atomic_t                    redis_errors;
} ngx_http_gw_ratelimit_sh_t;


typedef struct {
    ngx_http_gw_shm_cache_t         cache;        /* first: shm_cache's */
    ngx_http_gw_ratelimit_sh_t     *sh;
    ngx_str_t                       name;
    ngx_http_complex_value_t        key;
    ngx_uint_t                      algorithm;
    uint64_t                        rate;         /* N per unit */
    ngx_msec_t                      unit;
    ngx_msec_t                      window;       /* sliding window */
    uint64_t                        limit;        /* per window, or burst */
    ngx_str_t                       redis_name;
    ngx_http_gw_redis_t            *redis;
    ngx_msec_t                      sync;
    ngx_uint_t                      on_error;
    ngx_str_t                       figures[3];   /* the script's first args */
    ngx_uint_t                      nfigures;
    ngx_shm_zone_t                 *shm_zone;
    u_char                         *file;
    ngx_uint_t                      line;
} ngx_http_gw_ratelimit_zone_t;


/* in an entry's data: the state of one limiter key */

typedef struct {
    uint64_t                        time;    /* sw: window index; tb: ms */
    uint64_t                        prev;    /* sw: previous window's count */
    uint64_t                        count;   /* sw: current; tb: tokens */
    uint64_t                        pending; /* sync: not yet sent */
    uint64_t                        synced;  /* sync: last sync sent, ms */
    ngx_queue_t                     dirty;   /* sync: in sh->dirty */
    ngx_uint_t                      syncing;
    ngx_uint_t                      queued;
    size_t                          len;     /* sync: of the name after */
} ngx_http_gw_ratelimit_state_t;


typedef struct {
    ngx_shm_zone_t                 *shm_zone;
    ngx_http_complex_value_t       *cost;         /* NULL: fixed_cost */
    ngx_uint_t                      fixed_cost;
    ngx_uint_t                      dry_run;
} ngx_http_gw_ratelimit_limit_t;


/* a gw_ratelimit directive, for the check of its zone at postconfiguration */

typedef struct {
    ngx_str_t                       name;
    ngx_shm_zone_t                 *shm_zone;
    u_char                         *file;
    ngx_uint_t                      line;
} ngx_http_gw_ratelimit_ref_t;


typedef struct {
    ngx_http_gw_reporter_t          reporter;     /* first: gw_status's */
    ngx_array_t                    *redis;        /* gw_redis blocks */
    ngx_array_t                     zones;        /* zone pointers */
    ngx_array_t                     refs;         /* ..._ref_t */
    ngx_flag_t                      enabled;
} ngx_http_gw_ratelimit_main_conf_t;


typedef struct {
    ngx_array_t                    *limits;
    ngx_uint_t                      status;
    ngx_uint_t                      headers;
    ngx_uint_t                      log_level;
} ngx_http_gw_ratelimit_loc_conf_t;


/* the outcome of one limit for one request */

typedef struct {
    ngx_http_gw_ratelimit_zone_t   *zone;
    ngx_str_t                       key;
    ngx_str_t                       name;         /* in Redis */
    u_char                          digest[NGX_HTTP_GW_RL_KEY_LEN];
    uint64_t                        cost;
    uint64_t                        remaining;
    ngx_msec_t                      reset;
    ngx_msec_t                      retry;
    uint64_t                        time;         /* sw: window consumed */
    ngx_uint_t                      outcome;
    unsigned                        dry_run:1;
    unsigned                        in_shm:1;     /* consumed there */
    unsigned                        in_redis:1;
    unsigned                        redis_failed:1;
} ngx_http_gw_ratelimit_result_t;


typedef struct ngx_http_gw_ratelimit_batch_s  ngx_http_gw_ratelimit_batch_t;

typedef struct {
    ngx_http_request_t             *request;      /* waiting for Redis */
    ngx_http_gw_ratelimit_batch_t  *batch;        /* the check waited for */
    ngx_uint_t                      slot;         /* in the batch */
    ngx_uint_t                      next;
    ngx_uint_t                      nresults;
    ngx_http_gw_ratelimit_result_t *results;
    ngx_http_gw_ratelimit_result_t *report;
    ngx_uint_t                      status;
    ngx_uint_t                      headers;
    unsigned                        done:1;
    unsigned                        waiting:1;
    unsigned                        replied:1;
    unsigned                        rejected:1;
} ngx_http_gw_ratelimit_ctx_t;


/*
 * Exact checks of one key in Redis, per worker: open while requests of
 * this turn of the event loop join it, then one script run for all, whose
 * reply answers each in the order they came.  Reused, as syncs are.
 */

struct ngx_http_gw_ratelimit_batch_s {
    ngx_http_gw_ratelimit_batch_t  *next;         /* in a bucket, or free */
    ngx_queue_t                     queue;        /* in the open ones */
    ngx_http_gw_ratelimit_zone_t   *zone;
    u_char                          digest[NGX_HTTP_GW_RL_KEY_LEN];
    ngx_uint_t                      n;
    ngx_http_gw_ratelimit_ctx_t    *waiters[NGX_HTTP_GW_RL_BATCH];
    int64_t                         costs[NGX_HTTP_GW_RL_BATCH];
    size_t                          len;
    u_char                          name[NGX_HTTP_GW_RL_NAME_LEN];
};


/* a sync in flight: per worker, reused, not tied to any request */

typedef struct ngx_http_gw_ratelimit_sync_s  ngx_http_gw_ratelimit_sync_t;

struct ngx_http_gw_ratelimit_sync_s {
    ngx_http_gw_ratelimit_sync_t   *next;
    ngx_http_gw_ratelimit_zone_t   *zone;
    u_char                          digest[NGX_HTTP_GW_RL_KEY_LEN];
    uint64_t                        delta;
    size_t                          len;
    u_char                          name[NGX_HTTP_GW_RL_NAME_LEN];
};


/* a worker's flush timer of a hybrid zone */

typedef struct {
    ngx_event_t                     event;
    ngx_http_gw_ratelimit_zone_t   *zone;
} ngx_http_gw_ratelimit_flush_t;


static ngx_int_t ngx_http_gw_ratelimit_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gw_ratelimit_start(ngx_http_request_t *r,
    ngx_http_gw_ratelimit_limit_t *limit,
    ngx_http_gw_ratelimit_result_t *res);
static ngx_int_t ngx_http_gw_ratelimit_finish(ngx_http_request_t *r,
    ngx_http_gw_ratelimit_ctx_t *ctx,
    ngx_http_gw_ratelimit_loc_conf_t *rlcf);
static ngx_int_t ngx_http_gw_ratelimit_shm(ngx_http_gw_ratelimit_result_t *res,
    ngx_log_t *log);
static void ngx_http_gw_ratelimit_account(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st, ngx_http_gw_ratelimit_result_t *res,
    uint64_t now, ngx_uint_t force);
static time_t ngx_http_gw_ratelimit_expire(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st, uint64_t now);
static ngx_http_gw_shm_cache_node_t *ngx_http_gw_ratelimit_lookup(
    ngx_http_gw_ratelimit_zone_t *zone, u_char *digest, ngx_str_t *name,
    uint64_t now, ngx_log_t *log);
static void ngx_http_gw_ratelimit_evict(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_uint_t force);
static void ngx_http_gw_ratelimit_refund(ngx_http_gw_ratelimit_ctx_t *ctx,
    ngx_uint_t n, ngx_log_t *log);
static ngx_int_t ngx_http_gw_ratelimit_redis_eval(
    ngx_http_gw_ratelimit_zone_t *zone, ngx_str_t *name, int64_t *costs,
    ngx_uint_t ncosts, ngx_uint_t force, ngx_http_gw_redis_handler_pt handler,
    void *data, ngx_log_t *log);
static ngx_int_t ngx_http_gw_ratelimit_batch_add(
    ngx_http_gw_ratelimit_ctx_t *ctx, ngx_http_gw_ratelimit_result_t *res,
    ngx_log_t *log);
static void ngx_http_gw_ratelimit_batch_send(ngx_event_t *ev);
static void ngx_http_gw_ratelimit_batch_handler(void *data,
    redisReply *reply);
static void ngx_http_gw_ratelimit_batch_free(
    ngx_http_gw_ratelimit_batch_t *b);
static void ngx_http_gw_ratelimit_redis_reply(ngx_http_gw_ratelimit_ctx_t *ctx,
    redisReply *reply, ngx_uint_t i, ngx_uint_t n);
static ngx_int_t ngx_http_gw_ratelimit_redis_state(
    ngx_http_gw_ratelimit_zone_t *zone, redisReply *reply, ngx_uint_t i,
    ngx_uint_t n, ngx_http_gw_ratelimit_state_t *st, uint64_t *allowed,
    uint64_t now);
static void ngx_http_gw_ratelimit_report(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st, ngx_http_gw_ratelimit_result_t *res,
    uint64_t now);
static ngx_uint_t ngx_http_gw_ratelimit_sync_due(
    ngx_http_gw_ratelimit_zone_t *zone, ngx_http_gw_ratelimit_state_t *st,
    uint64_t now);
static uint64_t ngx_http_gw_ratelimit_sync_begin(
    ngx_http_gw_ratelimit_state_t *st, uint64_t now);
static void ngx_http_gw_ratelimit_queue(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st);
static void ngx_http_gw_ratelimit_dequeue(ngx_http_gw_ratelimit_state_t *st);
static ngx_http_gw_ratelimit_sync_t *ngx_http_gw_ratelimit_sync_alloc(
    ngx_http_gw_ratelimit_zone_t *zone, u_char *digest, ngx_str_t *name,
    uint64_t delta);
static void ngx_http_gw_ratelimit_sync_send(ngx_http_gw_ratelimit_sync_t *sync,
    ngx_log_t *log);
static void ngx_http_gw_ratelimit_sync_abort(
    ngx_http_gw_ratelimit_zone_t *zone, u_char *digest);
static void ngx_http_gw_ratelimit_sync_handler(void *data,
    redisReply *reply);
static void ngx_http_gw_ratelimit_flush_handler(ngx_event_t *ev);
static void ngx_http_gw_ratelimit_ignore_handler(void *data,
    redisReply *reply);
static ngx_int_t ngx_http_gw_ratelimit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_gw_ratelimit_add_header(ngx_http_request_t *r,
    char *name, u_char *value, u_char *last);

static uint64_t ngx_http_gw_ratelimit_now(void);
static ngx_uint_t ngx_http_gw_ratelimit_secs(ngx_msec_t ms);
static ngx_uint_t ngx_http_gw_ratelimit_policy_window(
    ngx_http_gw_ratelimit_zone_t *zone);
static ngx_http_gw_ratelimit_ctx_t *ngx_http_gw_ratelimit_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_gw_ratelimit_cleanup(void *data);
static ngx_int_t ngx_http_gw_ratelimit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_ratelimit_num_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void ngx_http_gw_ratelimit_count(ngx_http_gw_ratelimit_result_t *res);
static ngx_int_t ngx_http_gw_ratelimit_metrics(ngx_http_gw_report_t *rp,
    void *conf);
static ngx_int_t ngx_http_gw_ratelimit_redis_metrics(ngx_http_gw_report_t *rp,
    ngx_array_t *redis);

static void *ngx_http_gw_ratelimit_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_gw_ratelimit_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gw_ratelimit_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_gw_ratelimit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_gw_ratelimit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static char *ngx_http_gw_ratelimit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_gw_ratelimit_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_gw_ratelimit_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_gw_ratelimit_init_process(ngx_cycle_t *cycle);
static void ngx_http_gw_ratelimit_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_gw_ratelimit_headers_modes[] = {
    { ngx_string("off"), NGX_HTTP_GW_RL_HEADERS_OFF },
    { ngx_string("legacy"), NGX_HTTP_GW_RL_HEADERS_LEGACY },
    { ngx_string("draft"), NGX_HTTP_GW_RL_HEADERS_DRAFT },
    { ngx_string("both"), NGX_HTTP_GW_RL_HEADERS_BOTH },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_gw_ratelimit_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_gw_ratelimit_status_bounds = {
    ngx_conf_check_num_bounds, 400, 599
};


static ngx_str_t  ngx_http_gw_ratelimit_status_names[] = {
    ngx_null_string,
    ngx_string("PASSED"),
    ngx_string("REJECTED"),
    ngx_string("DRY_RUN"),
    ngx_string("ERROR")
};


/* the same, as gw_status's labels */

static ngx_str_t  ngx_http_gw_ratelimit_status_labels[] = {
    ngx_null_string,
    ngx_string("passed"),
    ngx_string("rejected"),
    ngx_string("dry_run"),
    ngx_string("error")
};


/* the reasons of the Redis client's failures, NGX_HTTP_GW_REDIS_FAIL_* */

static ngx_str_t  ngx_http_gw_ratelimit_redis_fails[] = {
    ngx_string("timeout"),
    ngx_string("connection"),
    ngx_string("error_reply"),
    ngx_string("down")
};


/*
 * The scripts.  Both take the limiter's hash as KEYS[1] and read Redis's
 * clock.  ARGV is the zone's figures, "force", then one cost per check,
 * taken in turn: a batch of the requests of one key (with "force" the cost
 * is taken whatever the state: a sync from the hybrid mode, or a refund
 * with a negative cost).  For each cost they return the state after it,
 * from which the module computes the headers exactly as for shared
 * memory: {allowed, prev, cur, ms into the window} and {allowed, tokens in
 * thousandths}.
 */

/*
 * SHA-256, fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm
 * up again on every digest, a cost every limited request would pay.
 */
static EVP_MD  *ngx_http_gw_ratelimit_sha256;


static ngx_http_gw_redis_script_t  ngx_http_gw_ratelimit_sw_script = {
    ngx_string(
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1]) * 1000"
            " + math.floor(tonumber(t[2]) / 1000)\n"
        "local w = tonumber(ARGV[1])\n"
        "local q = tonumber(ARGV[2])\n"
        "local force = ARGV[3] == '1'\n"
        "local idx = math.floor(now / w)\n"
        "local e = now - idx * w\n"
        "local h = redis.call('HMGET', KEYS[1], 'w', 'p', 'c')\n"
        "local sw = tonumber(h[1])\n"
        "local p = tonumber(h[2]) or 0\n"
        "local c = tonumber(h[3]) or 0\n"
        "if sw == idx - 1 then p = c; c = 0\n"
        "elseif sw ~= idx then p = 0; c = 0 end\n"
        "local r = {}\n"
        "for i = 4, #ARGV do\n"
        "  local cost = tonumber(ARGV[i])\n"
        "  local ok = 0\n"
        "  if force then\n"
        "    ok = 1; c = c + cost\n"
        "    if c < 0 then c = 0 end\n"
        "  elseif p * (w - e) + (c + cost) * w <= q * w then\n"
        "    ok = 1; c = c + cost\n"
        "  end\n"
        "  r[#r + 1] = ok; r[#r + 1] = p; r[#r + 1] = c; r[#r + 1] = e\n"
        "end\n"
        "redis.call('HSET', KEYS[1], 'w', idx, 'p', p, 'c', c)\n"
        "redis.call('PEXPIRE', KEYS[1], 2 * w - e)\n"
        "return r\n"),
    { 0 }
};


static ngx_http_gw_redis_script_t  ngx_http_gw_ratelimit_tb_script = {
    ngx_string(
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1]) * 1000"
            " + math.floor(tonumber(t[2]) / 1000)\n"
        "local n = tonumber(ARGV[1])\n"
        "local unit = tonumber(ARGV[2])\n"
        "local burst = tonumber(ARGV[3])\n"
        "local force = ARGV[4] == '1'\n"
        "local h = redis.call('HMGET', KEYS[1], 't', 'l')\n"
        "local tokens = tonumber(h[1])\n"
        "local last = tonumber(h[2])\n"
        "if tokens == nil or last == nil then tokens = burst; last = now end\n"
        "local el = now - last\n"
        "if el < 0 then el = 0 end\n"
        "tokens = math.min(burst, tokens + el * n / unit)\n"
        "local r = {}\n"
        "for i = 5, #ARGV do\n"
        "  local cost = tonumber(ARGV[i])\n"
        "  local ok = 0\n"
        "  if force then\n"
        "    ok = 1; tokens = math.min(burst, math.max(0, tokens - cost))\n"
        "  elseif tokens >= cost then\n"
        "    ok = 1; tokens = tokens - cost\n"
        "  end\n"
        "  r[#r + 1] = ok; r[#r + 1] = math.floor(tokens * 1000)\n"
        "end\n"
        "redis.call('HSET', KEYS[1], 't', tokens, 'l', now)\n"
        "redis.call('PEXPIRE', KEYS[1],"
            " math.ceil((burst - tokens) * unit / n) + 1000)\n"
        "return r\n"),
    { 0 }
};


static ngx_command_t  ngx_http_gw_ratelimit_commands[] = {

    { ngx_string("gw_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_gw_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gw_ratelimit_main_conf_t, redis),
      NULL },

    { ngx_string("gw_ratelimit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_gw_ratelimit_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_ratelimit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_gw_ratelimit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_ratelimit_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_ratelimit_loc_conf_t, status),
      &ngx_http_gw_ratelimit_status_bounds },

    { ngx_string("gw_ratelimit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_ratelimit_loc_conf_t, headers),
      &ngx_http_gw_ratelimit_headers_modes },

    { ngx_string("gw_ratelimit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_ratelimit_loc_conf_t, log_level),
      &ngx_http_gw_ratelimit_log_levels },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gw_ratelimit_module_ctx = {
    ngx_http_gw_ratelimit_add_variables,   /* preconfiguration */
    ngx_http_gw_ratelimit_init,            /* postconfiguration */

    ngx_http_gw_ratelimit_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gw_ratelimit_create_loc_conf, /* create location configuration */
    ngx_http_gw_ratelimit_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_gw_ratelimit_module = {
    NGX_MODULE_V1,
    &ngx_http_gw_ratelimit_module_ctx,     /* module context */
    ngx_http_gw_ratelimit_commands,        /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_gw_ratelimit_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_gw_ratelimit_exit_process,    /* exit process */
    ngx_http_gw_ratelimit_exit_process,    /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_gw_ratelimit_vars[] = {

    { ngx_string("gw_ratelimit_status"), NULL,
      ngx_http_gw_ratelimit_status_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_ratelimit_remaining"), NULL,
      ngx_http_gw_ratelimit_num_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gw_ratelimit_reset"), NULL,
      ngx_http_gw_ratelimit_num_variable, 1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;

static ngx_http_gw_ratelimit_sync_t  *ngx_http_gw_ratelimit_free_syncs;

/* the worker's open batches: by digest, and in the order they opened */
static ngx_http_gw_ratelimit_batch_t
    *ngx_http_gw_ratelimit_buckets[NGX_HTTP_GW_RL_BATCH_BUCKETS];
static ngx_queue_t                     ngx_http_gw_ratelimit_open;
static ngx_event_t                     ngx_http_gw_ratelimit_send_event;
static ngx_http_gw_ratelimit_batch_t  *ngx_http_gw_ratelimit_free_batches;


static ngx_int_t
ngx_http_gw_ratelimit_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_uint_t                         i;
    ngx_pool_cleanup_t                *cln;
    ngx_http_gw_ratelimit_ctx_t       *ctx;
    ngx_http_gw_ratelimit_limit_t     *limits;
    ngx_http_gw_ratelimit_result_t    *res;
    ngx_http_gw_ratelimit_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_gw_ratelimit_module);

    if (rlcf->limits == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_gw_ratelimit_get_ctx(r);

    if (ctx != NULL) {
        if (ctx->done) {
            return NGX_DECLINED;
        }

        if (ctx->waiting) {
            /* another subrequest of this request waits: count once */
            return (ctx->request == r) ? NGX_AGAIN : NGX_DECLINED;
        }

    } else {
        ctx = ngx_pcalloc(r->main->pool, sizeof(ngx_http_gw_ratelimit_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->nresults = rlcf->limits->nelts;
        ctx->results = ngx_pcalloc(r->main->pool, ctx->nresults
                                   * sizeof(ngx_http_gw_ratelimit_result_t));
        if (ctx->results == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->headers = rlcf->headers;

        cln = ngx_pool_cleanup_add(r->main->pool, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_gw_ratelimit_cleanup;
        cln->data = ctx;

        ngx_http_set_ctx(r->main, ctx, ngx_http_gw_ratelimit_module);
    }

    limits = rlcf->limits->elts;

    for (i = ctx->next; i < ctx->nresults; i++) {

        res = &ctx->results[i];

        if (ctx->replied) {
            /* the reply handler has filled the result of limit i */
            ctx->replied = 0;

            if (res->outcome == NGX_HTTP_GW_RL_FAILED
                && res->zone->on_error == NGX_HTTP_GW_RL_ON_ERROR_LOCAL)
            {
                if (ngx_http_gw_ratelimit_shm(res, r->connection->log)
                    != NGX_OK)
                {
                    res->outcome = NGX_HTTP_GW_RL_FAILED;
                }
            }

        } else {
            rc = ngx_http_gw_ratelimit_start(r, &limits[i], res);

            if (rc == NGX_AGAIN) {
                ctx->next = i;
                ctx->waiting = 1;
                ctx->request = r;

                if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                r->read_event_handler = ngx_http_test_reading;
                r->write_event_handler = ngx_http_core_run_phases;

                return NGX_AGAIN;
            }

            if (rc != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        if (res->outcome == NGX_HTTP_GW_RL_OVER && !res->dry_run) {
            ctx->rejected = 1;
            ngx_http_gw_ratelimit_refund(ctx, i, r->connection->log);
            i++;
            break;
        }
    }

    ctx->next = i;

    return ngx_http_gw_ratelimit_finish(r, ctx, rlcf);
}


/*
 * Checks one limit: NGX_OK with res->outcome set, NGX_AGAIN when a Redis
 * reply is awaited, NGX_ERROR.
 */

static ngx_int_t
ngx_http_gw_ratelimit_start(ngx_http_request_t *r,
    ngx_http_gw_ratelimit_limit_t *limit, ngx_http_gw_ratelimit_result_t *res)
{
    ngx_int_t                      n, rc;
    ngx_str_t                      cost;
    ngx_http_gw_ratelimit_ctx_t   *ctx;
    ngx_http_gw_ratelimit_zone_t  *zone;

    zone = limit->shm_zone->data;

    res->zone = zone;
    res->dry_run = limit->dry_run;

    if (ngx_http_complex_value(r, &zone->key, &res->key) != NGX_OK) {
        return NGX_ERROR;
    }

    if (res->key.len == 0) {
        res->outcome = NGX_HTTP_GW_RL_SKIPPED;
        return NGX_OK;
    }

    res->cost = limit->fixed_cost;

    if (limit->cost) {
        if (ngx_http_complex_value(r, limit->cost, &cost) != NGX_OK) {
            return NGX_ERROR;
        }

        n = ngx_atoi(cost.data, cost.len);

        if (n == NGX_ERROR || n > NGX_HTTP_GW_RL_MAX_COUNT) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_ratelimit: invalid cost \"%V\" in zone \"%V\", "
                          "counted as 1", &cost, &zone->name);
            n = 1;
        }

        res->cost = n;
    }

    if (EVP_Digest(res->key.data, res->key.len, res->digest, NULL,
                   ngx_http_gw_ratelimit_sha256, NULL)
        != 1)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "gw_ratelimit: EVP_Digest() failed");
        return NGX_ERROR;
    }

    if (res->key.len <= NGX_HTTP_GW_RL_NAME_LEN) {
        res->name = res->key;

    } else {
        res->name.len = 2 * NGX_HTTP_GW_RL_KEY_LEN;
        res->name.data = ngx_pnalloc(r->pool, res->name.len);
        if (res->name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_hex_dump(res->name.data, res->digest, NGX_HTTP_GW_RL_KEY_LEN);
    }

    if (zone->redis == NULL || zone->sync) {
        if (ngx_http_gw_ratelimit_shm(res, r->connection->log)
            != NGX_OK)
        {
            /* the zone could not hold the key: let the request through */
            res->outcome = NGX_HTTP_GW_RL_FAILED;
        }

        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_gw_ratelimit_module);

    rc = ngx_http_gw_ratelimit_batch_add(ctx, res, r->connection->log);

    if (rc == NGX_OK) {
        return NGX_AGAIN;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_gw_ratelimit_finish(ngx_http_request_t *r,
    ngx_http_gw_ratelimit_ctx_t *ctx, ngx_http_gw_ratelimit_loc_conf_t *rlcf)
{
    ngx_uint_t                       i, deny, error, over, level;
    ngx_http_gw_ratelimit_result_t  *res, *report;

    ctx->done = 1;
    ctx->waiting = 0;
    ctx->request = NULL;

    report = NULL;
    deny = 0;
    error = 0;
    over = 0;

    for (i = 0; i < ctx->next; i++) {
        res = &ctx->results[i];

        ngx_http_gw_ratelimit_count(res);

        switch (res->outcome) {

        case NGX_HTTP_GW_RL_SKIPPED:
            continue;

        case NGX_HTTP_GW_RL_FAILED:
            error = 1;

            if (res->zone->on_error == NGX_HTTP_GW_RL_ON_ERROR_DENY) {
                deny = 1;
            }

            continue;

        case NGX_HTTP_GW_RL_OVER:

            if (res->dry_run) {
                over = 1;

                level = (rlcf->log_level == NGX_LOG_INFO)
                        ? NGX_LOG_INFO : rlcf->log_level + 1;

                ngx_log_error(level, r->connection->log, 0,
                              "gw_ratelimit: dry run, over the limit of "
                              "zone \"%V\", limit %uL, retry after %M ms",
                              &res->zone->name, res->zone->limit, res->retry);

            } else {
                ngx_log_error(rlcf->log_level, r->connection->log, 0,
                              "gw_ratelimit: limiting requests by zone "
                              "\"%V\", limit %uL, retry after %M ms",
                              &res->zone->name, res->zone->limit, res->retry);
            }

            /* fall through */

        default:

            if (ctx->rejected) {
                /* the rejecting limit, the last one checked */
                if (res->outcome == NGX_HTTP_GW_RL_OVER && !res->dry_run) {
                    report = res;
                }

                continue;
            }

            if (report == NULL
                || res->remaining < report->remaining
                || (res->remaining == report->remaining
                    && res->reset > report->reset))
            {
                report = res;
            }
        }
    }

    ctx->report = report;

    if (ctx->rejected) {
        ctx->status = NGX_HTTP_GW_RL_REJECTED;
        return rlcf->status;
    }

    if (deny) {
        ctx->status = NGX_HTTP_GW_RL_ERROR;
        ctx->report = NULL;
        /* the client logs Redis's trouble at "error", once per failure */
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gw_ratelimit: Redis failed, denying the request");
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (over) {
        ctx->status = NGX_HTTP_GW_RL_DRY_RUN;

    } else if (error) {
        ctx->status = NGX_HTTP_GW_RL_ERROR;

    } else if (report) {
        ctx->status = NGX_HTTP_GW_RL_PASSED;
    }

    return NGX_DECLINED;
}


/* check and consume in the zone's shared memory */

static ngx_int_t
ngx_http_gw_ratelimit_shm(ngx_http_gw_ratelimit_result_t *res,
    ngx_log_t *log)
{
    uint64_t                        now, delta;
    ngx_uint_t                      due;
    ngx_http_gw_ratelimit_sync_t   *sync;
    ngx_http_gw_ratelimit_zone_t   *zone;
    ngx_http_gw_ratelimit_state_t  *st;
    ngx_http_gw_shm_cache_node_t   *cn;

    zone = res->zone;
    now = ngx_http_gw_ratelimit_now();
    due = 0;
    delta = 0;

    ngx_shmtx_lock(&zone->cache.shpool->mutex);

    cn = ngx_http_gw_ratelimit_lookup(zone, res->digest, &res->name, now,
                                      log);

    if (cn == NULL) {
        ngx_shmtx_unlock(&zone->cache.shpool->mutex);
        return NGX_ERROR;
    }

    st = (ngx_http_gw_ratelimit_state_t *) cn->data;

    ngx_http_gw_ratelimit_account(zone, st, res, now, 0);

    if (res->outcome == NGX_HTTP_GW_RL_ALLOWED) {
        res->in_shm = 1;
    }

    if (zone->sync && zone->redis) {
        if (res->outcome == NGX_HTTP_GW_RL_ALLOWED) {
            st->pending += res->cost;
            ngx_http_gw_ratelimit_queue(zone, st);
        }

        if (ngx_http_gw_ratelimit_sync_due(zone, st, now)) {
            delta = ngx_http_gw_ratelimit_sync_begin(st, now);
            due = 1;
        }
    }

    cn->expire = ngx_http_gw_ratelimit_expire(zone, st, now);

    ngx_shmtx_unlock(&zone->cache.shpool->mutex);

    if (due) {
        sync = ngx_http_gw_ratelimit_sync_alloc(zone, res->digest,
                                                &res->name, delta);
        if (sync == NULL) {
            ngx_http_gw_ratelimit_sync_abort(zone, res->digest);

        } else {
            ngx_http_gw_ratelimit_sync_send(sync, log);
        }
    }

    return NGX_OK;
}


/*
 * Under the zone's mutex (or on a private copy): brings the state to now,
 * takes res->cost when it fits (always with force), and fills res.
 */

static void
ngx_http_gw_ratelimit_account(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st, ngx_http_gw_ratelimit_result_t *res,
    uint64_t now, ngx_uint_t force)
{
    uint64_t  w, e, idx, used, cap, need, q, c, p, e2, left, el;

    if (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) {

        w = zone->window;
        q = zone->limit;
        idx = now / w;
        e = now - idx * w;

        if (st->time + 1 == idx) {
            st->prev = st->count;
            st->count = 0;

        } else if (st->time != idx) {
            st->prev = 0;
            st->count = 0;
        }

        st->time = idx;
        res->time = idx;

        used = st->prev * (w - e) + st->count * w;

        if (force || used + res->cost * w <= q * w) {
            st->count += res->cost;
            used += res->cost * w;
            res->outcome = NGX_HTTP_GW_RL_ALLOWED;
            res->retry = 0;

        } else {
            res->outcome = NGX_HTTP_GW_RL_OVER;

            /* when prev * (W - e') + (cur + cost) * W <= q * W */

            c = st->count;
            p = st->prev;

            if (c + res->cost <= q && p) {
                left = (q - c - res->cost) * w / p;
                e2 = (left >= w) ? 0 : w - left;
                res->retry = (e2 > e) ? e2 - e : 1;

            } else if (res->cost <= q) {
                /* in the next window: prev is cur, cur is 0 */

                if (c == 0) {
                    e2 = 0;

                } else {
                    left = (q - res->cost) * w / c;
                    e2 = (left >= w) ? 0 : w - left;
                }

                res->retry = (w - e) + e2;

            } else {
                /* more than the limit: never; say two windows */
                res->retry = (w - e) + w;
            }
        }

        res->remaining = (used >= q * w) ? 0 : (q * w - used) / w;
        res->reset = w - e;

        return;
    }

    /* token bucket: tokens scaled by the unit, a millisecond adds rate */

    cap = zone->limit * zone->unit;

    if (now > st->time) {
        el = now - st->time;

        if (el >= cap / zone->rate + 1) {
            st->count = cap;

        } else {
            st->count += el * zone->rate;

            if (st->count > cap) {
                st->count = cap;
            }
        }
    }

    st->time = now;

    need = res->cost * zone->unit;

    if (force) {
        st->count = (st->count > need) ? st->count - need : 0;
        res->outcome = NGX_HTTP_GW_RL_ALLOWED;
        res->retry = 0;

    } else if (st->count >= need) {
        st->count -= need;
        res->outcome = NGX_HTTP_GW_RL_ALLOWED;
        res->retry = 0;

    } else {
        res->outcome = NGX_HTTP_GW_RL_OVER;

        if (res->cost > zone->limit) {
            need = cap;
        }

        res->retry = (need - st->count + zone->rate - 1) / zone->rate;
    }

    res->remaining = st->count / zone->unit;
    res->reset = (cap - st->count + zone->rate - 1) / zone->rate;
}


/*
 * Fills res from a state as Redis returned it, without changing it: what
 * a request of no cost would see, and when res->cost would fit.
 */

static void
ngx_http_gw_ratelimit_report(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st, ngx_http_gw_ratelimit_result_t *res,
    uint64_t now)
{
    uint64_t                         cost;
    ngx_http_gw_ratelimit_state_t    copy;
    ngx_http_gw_ratelimit_result_t   probe;

    cost = res->cost;

    res->cost = 0;
    copy = *st;
    ngx_http_gw_ratelimit_account(zone, &copy, res, now, 0);
    res->cost = cost;

    probe = *res;
    copy = *st;
    ngx_http_gw_ratelimit_account(zone, &copy, &probe, now, 0);

    res->retry = (probe.outcome == NGX_HTTP_GW_RL_OVER) ? probe.retry : 1000;
}


/* the second an entry's state is back to that of a new key */

static time_t
ngx_http_gw_ratelimit_expire(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st, uint64_t now)
{
    uint64_t  ms, cap;

    if (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) {
        ms = (st->time + 2) * zone->window;

    } else {
        cap = zone->limit * zone->unit;
        ms = now + (cap - st->count + zone->rate - 1) / zone->rate;
    }

    if (st->pending) {
        /* not yet sent to Redis: keep it a while */
        ms += 2 * zone->sync;
    }

    return (time_t) (ms / 1000 + 1);
}


/*
 * Under the zone's mutex: the entry of the key, created with a fresh
 * state if need be, at the head of the LRU queue.  A hybrid zone's entry
 * keeps the key's name in Redis, for the flush.
 */

static ngx_http_gw_shm_cache_node_t *
ngx_http_gw_ratelimit_lookup(ngx_http_gw_ratelimit_zone_t *zone,
    u_char *digest, ngx_str_t *name, uint64_t now, ngx_log_t *log)
{
    size_t                          n, len;
    ngx_uint_t                      evicted;
    ngx_rbtree_node_t              *node;
    ngx_http_gw_shm_cache_t        *cache;
    ngx_http_gw_ratelimit_state_t  *st;
    ngx_http_gw_shm_cache_node_t   *cn;

    cache = &zone->cache;

    cn = ngx_http_gw_shm_cache_get(cache, digest);

    if (cn != NULL) {
        ngx_queue_remove(&cn->queue);
        ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

        if (cn->type == zone->algorithm) {
            return cn;
        }

        /* the zone's algorithm changed on reload: start afresh */

        cn->type = (u_char) zone->algorithm;
        st = (ngx_http_gw_ratelimit_state_t *) cn->data;

        ngx_http_gw_ratelimit_dequeue(st);
        len = st->len;

        goto fresh;
    }

    len = (zone->sync && zone->redis) ? name->len : 0;

    n = offsetof(ngx_rbtree_node_t, color)
        + offsetof(ngx_http_gw_shm_cache_node_t, data)
        + sizeof(ngx_http_gw_ratelimit_state_t) + len;

    ngx_http_gw_ratelimit_evict(zone, 0);

    evicted = 0;

    node = ngx_slab_alloc_locked(cache->shpool, n);

    if (node == NULL) {
        ngx_http_gw_ratelimit_evict(zone, 1);
        evicted = 1;

        node = ngx_slab_alloc_locked(cache->shpool, n);
        if (node == NULL) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "gw_ratelimit: could not allocate a key%s",
                          cache->shpool->log_ctx);
            return NULL;
        }
    }

    if (evicted
        && (time_t) cache->sh->generation + NGX_HTTP_GW_RL_FULL_LOG_SEC
           <= ngx_time())
    {
        cache->sh->generation = (ngx_uint_t) ngx_time();

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "gw_ratelimit: zone \"%V\" is full, evicting the least "
                      "recently used keys still counted; a larger size= "
                      "would keep them", &zone->name);
    }

    node->key = ngx_crc32_short(digest, NGX_HTTP_GW_RL_KEY_LEN);

    cn = (ngx_http_gw_shm_cache_node_t *) &node->color;
    cn->type = (u_char) zone->algorithm;
    ngx_memcpy(cn->key, digest, NGX_HTTP_GW_RL_KEY_LEN);
    cn->fetched = ngx_time();
    cn->generation = 0;
    cn->len = sizeof(ngx_http_gw_ratelimit_state_t) + len;

    ngx_rbtree_insert(&cache->sh->rbtree, node);
    ngx_queue_insert_head(&cache->sh->queue, &cn->queue);

    cache->sh->entries++;

    st = (ngx_http_gw_ratelimit_state_t *) cn->data;

    ngx_memcpy(ngx_http_gw_ratelimit_name(st), name->data, len);

fresh:

    ngx_memzero(st, sizeof(ngx_http_gw_ratelimit_state_t));

    st->len = len;

    if (zone->algorithm == NGX_HTTP_GW_RL_TOKEN_BUCKET) {
        st->count = zone->limit * zone->unit;
        st->time = now;

    } else {
        st->time = now / zone->window;
    }

    st->synced = now;
    cn->expire = ngx_http_gw_ratelimit_expire(zone, st, now);

    return cn;
}


/*
 * Under the zone's mutex: ngx_http_gw_shm_cache_expire(), which frees up
 * to two entries from the LRU tail (with force the last whatever its age,
 * then expired ones) and counts them, after taking those out of the dirty
 * queue.
 */

static void
ngx_http_gw_ratelimit_evict(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_uint_t force)
{
    time_t                          now;
    ngx_uint_t                      n;
    ngx_queue_t                    *q, *lru;
    ngx_http_gw_ratelimit_state_t  *st;
    ngx_http_gw_shm_cache_node_t   *cn;

    now = ngx_time();
    lru = &zone->cache.sh->queue;
    q = ngx_queue_last(lru);

    for (n = 0; n < 2 && q != ngx_queue_sentinel(lru); n++) {
        cn = ngx_queue_data(q, ngx_http_gw_shm_cache_node_t, queue);

        if (!(force && n == 0) && cn->expire > now) {
            break;
        }

        st = (ngx_http_gw_ratelimit_state_t *) cn->data;
        ngx_http_gw_ratelimit_dequeue(st);

        q = ngx_queue_prev(q);
    }

    ngx_http_gw_shm_cache_expire(&zone->cache, force);
}


/* gives back what limits 0 .. n - 1 consumed: limit n rejected */

static void
ngx_http_gw_ratelimit_refund(ngx_http_gw_ratelimit_ctx_t *ctx, ngx_uint_t n,
    ngx_log_t *log)
{
    int64_t                          cost;
    uint64_t                         cap;
    ngx_uint_t                       i;
    ngx_http_gw_ratelimit_zone_t    *zone;
    ngx_http_gw_ratelimit_state_t   *st;
    ngx_http_gw_ratelimit_result_t  *res;
    ngx_http_gw_shm_cache_node_t    *cn;

    for (i = 0; i < n; i++) {
        res = &ctx->results[i];
        zone = res->zone;

        if (res->outcome != NGX_HTTP_GW_RL_ALLOWED) {
            continue;
        }

        if (res->in_redis) {
            cost = -(int64_t) res->cost;

            (void) ngx_http_gw_ratelimit_redis_eval(zone, &res->name, &cost,
                                       1, 1,
                                       ngx_http_gw_ratelimit_ignore_handler,
                                       NULL, log);
            res->in_redis = 0;
        }

        if (!res->in_shm) {
            continue;
        }

        res->in_shm = 0;

        ngx_shmtx_lock(&zone->cache.shpool->mutex);

        cn = ngx_http_gw_shm_cache_get(&zone->cache, res->digest);

        if (cn != NULL && cn->type == zone->algorithm) {
            st = (ngx_http_gw_ratelimit_state_t *) cn->data;

            if (zone->algorithm == NGX_HTTP_GW_RL_TOKEN_BUCKET) {
                cap = zone->limit * zone->unit;
                st->count += res->cost * zone->unit;

                if (st->count > cap) {
                    st->count = cap;
                }

            } else if (st->time == res->time) {
                st->count -= ngx_min(st->count, res->cost);

            } else if (st->time == res->time + 1) {
                st->prev -= ngx_min(st->prev, res->cost);
            }

            st->pending -= ngx_min(st->pending, res->cost);
        }

        ngx_shmtx_unlock(&zone->cache.shpool->mutex);
    }
}


static ngx_int_t
ngx_http_gw_ratelimit_redis_eval(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_str_t *name, int64_t *costs, ngx_uint_t ncosts, ngx_uint_t force,
    ngx_http_gw_redis_handler_pt handler, void *data, ngx_log_t *log)
{
    u_char                      *p, *key;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_str_t                    rkey, args[4 + NGX_HTTP_GW_RL_BATCH];
    ngx_uint_t                   i, nargs;
    ngx_http_gw_redis_script_t  *script;
    u_char                       buf[NGX_HTTP_GW_RL_BATCH]
                                    [NGX_INT64_LEN + 1];
    u_char                       kbuf[512];

    len = sizeof("gw:rl:{:}:sw") - 1 + zone->name.len + name->len;

    if (len <= sizeof(kbuf)) {
        key = kbuf;

    } else {
        key = ngx_alloc(len, log);
        if (key == NULL) {
            return NGX_ERROR;
        }
    }

    p = ngx_cpymem(key, "gw:rl:{", 7);
    p = ngx_cpymem(p, zone->name.data, zone->name.len);
    *p++ = ':';
    p = ngx_cpymem(p, name->data, name->len);

    if (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) {
        p = ngx_cpymem(p, "}:sw", 4);
        script = &ngx_http_gw_ratelimit_sw_script;

    } else {
        p = ngx_cpymem(p, "}:tb", 4);
        script = &ngx_http_gw_ratelimit_tb_script;
    }

    /* the zone's figures, "force", then the costs */

    for (nargs = 0; nargs < zone->nfigures; nargs++) {
        args[nargs] = zone->figures[nargs];
    }

    args[nargs].data = (u_char *) (force ? "1" : "0");
    args[nargs].len = 1;
    nargs++;

    for (i = 0; i < ncosts && i < NGX_HTTP_GW_RL_BATCH; i++) {
        args[nargs].data = buf[i];
        args[nargs].len = ngx_sprintf(buf[i], "%L", costs[i]) - buf[i];
        nargs++;
    }

    rkey.data = key;
    rkey.len = p - key;

    /* the client copies its arguments */

    rc = ngx_http_gw_redis_eval(zone->redis, script, 1, &rkey, nargs, args,
                                handler, data, log, NULL);

    if (key != kbuf) {
        ngx_free(key);
    }

    return rc;
}


/*
 * An exact check in Redis: joins the worker's open batch of the key, or
 * opens one; the batches are sent once this turn of the event loop has
 * run its events.  A request that comes while Redis is known to be down
 * waits for no more than that turn, as the others of its batch.
 */

static ngx_int_t
ngx_http_gw_ratelimit_batch_add(ngx_http_gw_ratelimit_ctx_t *ctx,
    ngx_http_gw_ratelimit_result_t *res, ngx_log_t *log)
{
    ngx_uint_t                      k;
    ngx_http_gw_ratelimit_batch_t  *b;

    k = res->digest[0] % NGX_HTTP_GW_RL_BATCH_BUCKETS;

    for (b = ngx_http_gw_ratelimit_buckets[k]; b; b = b->next) {
        if (b->zone == res->zone
            && ngx_memcmp(b->digest, res->digest, NGX_HTTP_GW_RL_KEY_LEN)
               == 0)
        {
            break;
        }
    }

    if (b == NULL || b->n == NGX_HTTP_GW_RL_BATCH) {

        /* the first of its key in this turn, or the batch is full */

        if (res->name.len > NGX_HTTP_GW_RL_NAME_LEN) {
            return NGX_ERROR;
        }

        b = ngx_http_gw_ratelimit_free_batches;

        if (b != NULL) {
            ngx_http_gw_ratelimit_free_batches = b->next;

        } else {
            b = ngx_palloc(ngx_cycle->pool,
                           sizeof(ngx_http_gw_ratelimit_batch_t));
            if (b == NULL) {
                return NGX_ERROR;
            }
        }

        b->zone = res->zone;
        ngx_memcpy(b->digest, res->digest, NGX_HTTP_GW_RL_KEY_LEN);
        b->n = 0;
        b->len = res->name.len;
        ngx_memcpy(b->name, res->name.data, res->name.len);

        /* before a full one of the same key: found first */

        b->next = ngx_http_gw_ratelimit_buckets[k];
        ngx_http_gw_ratelimit_buckets[k] = b;

        ngx_queue_insert_tail(&ngx_http_gw_ratelimit_open, &b->queue);

        if (!ngx_http_gw_ratelimit_send_event.posted) {
            ngx_http_gw_ratelimit_send_event.log = ngx_cycle->log;
            ngx_post_event(&ngx_http_gw_ratelimit_send_event,
                           &ngx_posted_events);
        }
    }

    ctx->batch = b;
    ctx->slot = b->n;

    b->waiters[b->n] = ctx;
    b->costs[b->n] = res->cost;
    b->n++;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "gw_ratelimit: zone \"%V\" check %ui in batch %p",
                   &res->zone->name, ctx->slot, b);

    return NGX_OK;
}


/* the posted event: every open batch goes to Redis, as one script run */

static void
ngx_http_gw_ratelimit_batch_send(ngx_event_t *ev)
{
    ngx_int_t                       rc;
    ngx_str_t                       name;
    ngx_uint_t                      i, n;
    ngx_queue_t                     open, *q;
    ngx_http_gw_ratelimit_batch_t  *b;

    /* the batches opened from here on are for the next run of this event */

    ngx_memzero(ngx_http_gw_ratelimit_buckets,
                sizeof(ngx_http_gw_ratelimit_buckets));

    if (ngx_queue_empty(&ngx_http_gw_ratelimit_open)) {
        return;
    }

    open = ngx_http_gw_ratelimit_open;
    open.next->prev = &open;
    open.prev->next = &open;
    ngx_queue_init(&ngx_http_gw_ratelimit_open);

    while (!ngx_queue_empty(&open)) {
        q = ngx_queue_head(&open);
        ngx_queue_remove(q);

        b = ngx_queue_data(q, ngx_http_gw_ratelimit_batch_t, queue);

        /* the requests that went away meanwhile leave their places */

        n = 0;

        for (i = 0; i < b->n; i++) {
            if (b->waiters[i] == NULL) {
                continue;
            }

            b->waiters[n] = b->waiters[i];
            b->costs[n] = b->costs[i];
            b->waiters[n]->slot = n;
            n++;
        }

        b->n = n;

        if (n == 0) {
            ngx_http_gw_ratelimit_batch_free(b);
            continue;
        }

        name.len = b->len;
        name.data = b->name;

        rc = ngx_http_gw_ratelimit_redis_eval(b->zone, &name, b->costs, n, 0,
                                         ngx_http_gw_ratelimit_batch_handler,
                                         b, ev->log);

        if (rc != NGX_OK) {
            /* Redis is known to be down, or no memory: a failure for all */
            ngx_http_gw_ratelimit_batch_handler(b, NULL);
        }
    }
}


/* the reply of a batch, or NULL: each request of it goes on */

static void
ngx_http_gw_ratelimit_batch_handler(void *data, redisReply *reply)
{
    ngx_http_gw_ratelimit_batch_t  *b = data;

    ngx_uint_t                    i;
    ngx_http_gw_ratelimit_ctx_t  *ctx;

    for (i = 0; i < b->n; i++) {
        ctx = b->waiters[i];

        if (ctx == NULL) {
            /* its request went away */
            continue;
        }

        b->waiters[i] = NULL;
        ctx->batch = NULL;

        ngx_http_gw_ratelimit_redis_reply(ctx, reply, i, b->n);
    }

    ngx_http_gw_ratelimit_batch_free(b);
}


static void
ngx_http_gw_ratelimit_batch_free(ngx_http_gw_ratelimit_batch_t *b)
{
    b->next = ngx_http_gw_ratelimit_free_batches;
    ngx_http_gw_ratelimit_free_batches = b;
}


/* check i of the n of a batch has its answer: the request goes on */

static void
ngx_http_gw_ratelimit_redis_reply(ngx_http_gw_ratelimit_ctx_t *ctx,
    redisReply *reply, ngx_uint_t i, ngx_uint_t n)
{
    uint64_t                         allowed, now;
    ngx_connection_t                *c;
    ngx_http_request_t              *r;
    ngx_http_gw_ratelimit_state_t    st;
    ngx_http_gw_ratelimit_result_t  *res;

    r = ctx->request;
    c = r->connection;
    res = &ctx->results[ctx->next];

    ctx->waiting = 0;
    ctx->replied = 1;

    now = ngx_http_gw_ratelimit_now();

    if (ngx_http_gw_ratelimit_redis_state(res->zone, reply, i, n, &st,
                                          &allowed, now)
        != NGX_OK)
    {
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "gw_ratelimit: gw_redis \"%V\" answered \"%*s\" "
                          "for zone \"%V\"",
                          ngx_http_gw_redis_name(res->zone->redis),
                          (size_t) ngx_min(reply->len, 256), reply->str,
                          &res->zone->name);

        } else if (reply != NULL) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "gw_ratelimit: unexpected reply from gw_redis \"%V\" "
                          "for zone \"%V\"",
                          ngx_http_gw_redis_name(res->zone->redis),
                          &res->zone->name);

        } else {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "gw_ratelimit: gw_redis \"%V\" failed for "
                          "zone \"%V\"",
                          ngx_http_gw_redis_name(res->zone->redis),
                          &res->zone->name);
        }

        res->outcome = NGX_HTTP_GW_RL_FAILED;
        res->redis_failed = 1;

    } else {
        /* the script decided; the headers come from Redis's state */

        ngx_http_gw_ratelimit_report(res->zone, &st, res, now);

        if (allowed) {
            res->outcome = NGX_HTTP_GW_RL_ALLOWED;
            res->in_redis = 1;
            res->retry = 0;

        } else {
            res->outcome = NGX_HTTP_GW_RL_OVER;
        }
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/*
 * A script's reply as a state in the module's units, with the time set
 * so that ngx_http_gw_ratelimit_account() at "now" with a zero cost and
 * force leaves it as Redis has it.  For the sliding window the state is
 * placed at Redis's offset into its window.
 */

static ngx_int_t
ngx_http_gw_ratelimit_redis_state(ngx_http_gw_ratelimit_zone_t *zone,
    redisReply *reply, ngx_uint_t i, ngx_uint_t n,
    ngx_http_gw_ratelimit_state_t *st, uint64_t *allowed, uint64_t now)
{
    ngx_uint_t    k, m;
    long long     v[4];
    redisReply  **e;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    /* the state after check i of n: m integers each */

    m = (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) ? 4 : 2;

    if (i >= n || reply->elements != m * n) {
        return NGX_ERROR;
    }

    e = &reply->element[m * i];

    for (k = 0; k < m; k++) {
        if (e[k]->type != REDIS_REPLY_INTEGER || e[k]->integer < 0) {
            return NGX_ERROR;
        }

        /*
         * a broken or hostile Redis must not make the arithmetic below
         * wrap: counts beyond 2^32 only ever mean "over the limit"
         */

        v[k] = ngx_min(e[k]->integer, 0xffffffffLL);
    }

    ngx_memzero(st, sizeof(ngx_http_gw_ratelimit_state_t));

    *allowed = v[0];

    if (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) {
        st->time = now / zone->window;
        st->prev = v[1];
        st->count = v[2];

        return NGX_OK;
    }

    st->time = now;
    st->count = (uint64_t) v[1] * zone->unit / 1000;

    if (st->count > zone->limit * zone->unit) {
        st->count = zone->limit * zone->unit;
    }

    return NGX_OK;
}


/*
 * Hybrid mode, under the zone's mutex: whether the entry's sync is due, a
 * "sync" after the last one.  A sync flag older than twice the interval
 * is a lost one.
 */

static ngx_uint_t
ngx_http_gw_ratelimit_sync_due(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st, uint64_t now)
{
    if (now < st->synced + zone->sync) {
        return 0;
    }

    if (!st->syncing) {
        return 1;
    }

    return now >= st->synced + 2 * zone->sync
                  + 2 * ngx_http_gw_redis_timeout(zone->redis);
}


/* under the zone's mutex: marks the sync sent, returns the delta to send */

static uint64_t
ngx_http_gw_ratelimit_sync_begin(ngx_http_gw_ratelimit_state_t *st,
    uint64_t now)
{
    st->syncing = 1;
    st->synced = now;

    /* the delta is on its way: what comes meanwhile queues it again */

    ngx_http_gw_ratelimit_dequeue(st);

    return st->pending;
}


/* under the zone's mutex: an entry with a delta joins the dirty queue */

static void
ngx_http_gw_ratelimit_queue(ngx_http_gw_ratelimit_zone_t *zone,
    ngx_http_gw_ratelimit_state_t *st)
{
    if (st->queued || st->pending == 0 || st->len == 0) {
        return;
    }

    ngx_queue_insert_tail(&zone->sh->dirty, &st->dirty);
    st->queued = 1;
}


static void
ngx_http_gw_ratelimit_dequeue(ngx_http_gw_ratelimit_state_t *st)
{
    if (st->queued) {
        ngx_queue_remove(&st->dirty);
        st->queued = 0;
    }
}


/* a sync's memory: per worker, reused, not tied to any request */

static ngx_http_gw_ratelimit_sync_t *
ngx_http_gw_ratelimit_sync_alloc(ngx_http_gw_ratelimit_zone_t *zone,
    u_char *digest, ngx_str_t *name, uint64_t delta)
{
    ngx_http_gw_ratelimit_sync_t  *sync;

    if (name->len > NGX_HTTP_GW_RL_NAME_LEN) {
        return NULL;
    }

    sync = ngx_http_gw_ratelimit_free_syncs;

    if (sync != NULL) {
        ngx_http_gw_ratelimit_free_syncs = sync->next;

    } else {
        sync = ngx_palloc(ngx_cycle->pool,
                          sizeof(ngx_http_gw_ratelimit_sync_t));
        if (sync == NULL) {
            return NULL;
        }
    }

    sync->next = NULL;
    sync->zone = zone;
    sync->delta = delta;
    ngx_memcpy(sync->digest, digest, NGX_HTTP_GW_RL_KEY_LEN);
    sync->len = name->len;
    ngx_memcpy(sync->name, name->data, name->len);

    return sync;
}


/* hybrid mode: sends this host's delta; the reply replaces the local view */

static void
ngx_http_gw_ratelimit_sync_send(ngx_http_gw_ratelimit_sync_t *sync,
    ngx_log_t *log)
{
    int64_t    delta;
    ngx_int_t  rc;
    ngx_str_t  name;

    name.len = sync->len;
    name.data = sync->name;

    delta = (int64_t) sync->delta;

    rc = ngx_http_gw_ratelimit_redis_eval(sync->zone, &name, &delta, 1, 1,
                                          ngx_http_gw_ratelimit_sync_handler,
                                          sync, log);
    if (rc == NGX_OK) {
        return;
    }

    ngx_http_gw_ratelimit_sync_abort(sync->zone, sync->digest);

    sync->next = ngx_http_gw_ratelimit_free_syncs;
    ngx_http_gw_ratelimit_free_syncs = sync;
}


/* a sync not sent: the delta stays pending, for the next interval */

static void
ngx_http_gw_ratelimit_sync_abort(ngx_http_gw_ratelimit_zone_t *zone,
    u_char *digest)
{
    ngx_http_gw_ratelimit_state_t  *st;
    ngx_http_gw_shm_cache_node_t   *cn;

    ngx_shmtx_lock(&zone->cache.shpool->mutex);

    cn = ngx_http_gw_shm_cache_get(&zone->cache, digest);

    if (cn != NULL && cn->type == zone->algorithm) {
        st = (ngx_http_gw_ratelimit_state_t *) cn->data;
        st->syncing = 0;
        ngx_http_gw_ratelimit_queue(zone, st);
    }

    ngx_shmtx_unlock(&zone->cache.shpool->mutex);
}


/*
 * A sync's reply.  The entry is looked up again by its digest: it may
 * have been evicted, or evicted and created again, meanwhile.
 */

static void
ngx_http_gw_ratelimit_sync_handler(void *data, redisReply *reply)
{
    ngx_http_gw_ratelimit_sync_t  *sync = data;

    uint64_t                        allowed, now, local, cap;
    ngx_int_t                       rc;
    ngx_http_gw_ratelimit_zone_t   *zone;
    ngx_http_gw_ratelimit_state_t   rst, *st;
    ngx_http_gw_shm_cache_node_t   *cn;

    zone = sync->zone;
    now = ngx_http_gw_ratelimit_now();

    rc = ngx_http_gw_ratelimit_redis_state(zone, reply, 0, 1, &rst, &allowed,
                                           now);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "gw_ratelimit: sync of zone \"%V\" with gw_redis \"%V\" "
                      "failed", &zone->name,
                      ngx_http_gw_redis_name(zone->redis));
    }

    ngx_shmtx_lock(&zone->cache.shpool->mutex);

    cn = ngx_http_gw_shm_cache_get(&zone->cache, sync->digest);

    if (cn != NULL && cn->type == zone->algorithm) {
        st = (ngx_http_gw_ratelimit_state_t *) cn->data;
        st->syncing = 0;

        if (rc == NGX_OK) {
            /* consumed here since the delta was sent */
            local = st->pending - ngx_min(st->pending, sync->delta);
            st->pending = local;

            if (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) {
                st->time = rst.time;
                st->prev = rst.prev;
                st->count = rst.count + local;

            } else {
                cap = zone->limit * zone->unit;
                local *= zone->unit;
                st->time = rst.time;
                st->count = (rst.count > local) ? rst.count - local : 0;

                if (st->count > cap) {
                    st->count = cap;
                }
            }

            st->synced = now;
        }

        /* what is still pending waits for the next sync */

        ngx_http_gw_ratelimit_queue(zone, st);
    }

    ngx_shmtx_unlock(&zone->cache.shpool->mutex);

    sync->next = ngx_http_gw_ratelimit_free_syncs;
    ngx_http_gw_ratelimit_free_syncs = sync;
}


/*
 * A worker's flush tick, every "sync": sends the deltas of the entries in
 * the dirty queue whose sync is due, so that a key that gets no more
 * requests is reported too.  One worker a tick: the first to come; the
 * others find the zone's timestamp recent.  The entries are chosen and
 * copied under the mutex, and the commands sent after it is released.
 */

static void
ngx_http_gw_ratelimit_flush_handler(ngx_event_t *ev)
{
    uint64_t                        now;
    ngx_str_t                       name;
    ngx_uint_t                      n, visits;
    ngx_queue_t                    *q, *next;
    ngx_http_gw_ratelimit_sh_t     *sh;
    ngx_http_gw_ratelimit_zone_t   *zone;
    ngx_http_gw_ratelimit_sync_t   *sync, *syncs, **last;
    ngx_http_gw_ratelimit_flush_t  *flush;
    ngx_http_gw_ratelimit_state_t  *st;
    ngx_http_gw_shm_cache_node_t   *cn;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        /* what is pending is in the zone, for the next workers */
        return;
    }

    flush = ev->data;
    zone = flush->zone;
    sh = zone->sh;
    now = ngx_http_gw_ratelimit_now();

    syncs = NULL;
    last = &syncs;
    n = 0;

    ngx_shmtx_lock(&zone->cache.shpool->mutex);

    if (now >= sh->flushed + zone->sync / 2) {
        sh->flushed = now;

        q = ngx_queue_head(&sh->dirty);

        for (visits = 0;
             q != ngx_queue_sentinel(&sh->dirty)
             && visits < NGX_HTTP_GW_RL_FLUSH_VISITS
             && n < NGX_HTTP_GW_RL_FLUSH_SYNCS;
             visits++, q = next)
        {
            next = ngx_queue_next(q);
            st = ngx_queue_data(q, ngx_http_gw_ratelimit_state_t, dirty);

            if (st->pending == 0) {
                /* given back by a refund */
                ngx_http_gw_ratelimit_dequeue(st);
                continue;
            }

            if (!ngx_http_gw_ratelimit_sync_due(zone, st, now)) {
                continue;
            }

            cn = (ngx_http_gw_shm_cache_node_t *)
                     ((u_char *) st
                      - offsetof(ngx_http_gw_shm_cache_node_t, data));

            name.len = st->len;
            name.data = ngx_http_gw_ratelimit_name(st);

            sync = ngx_http_gw_ratelimit_sync_alloc(zone, cn->key, &name,
                                                    st->pending);
            if (sync == NULL) {
                break;
            }

            (void) ngx_http_gw_ratelimit_sync_begin(st, now);

            *last = sync;
            last = &sync->next;
            n++;
        }
    }

    ngx_shmtx_unlock(&zone->cache.shpool->mutex);

    if (n) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "gw_ratelimit: flush of zone \"%V\": %ui syncs",
                       &zone->name, n);
    }

    while (syncs != NULL) {
        sync = syncs;
        syncs = sync->next;

        ngx_http_gw_ratelimit_sync_send(sync, ev->log);
    }

    ngx_add_timer(ev, zone->sync);
}


static void
ngx_http_gw_ratelimit_ignore_handler(void *data, redisReply *reply)
{
    /* a refund: nothing waits for it */
}


static ngx_int_t
ngx_http_gw_ratelimit_header_filter(ngx_http_request_t *r)
{
    u_char                          *p;
    ngx_str_t                       *name;
    ngx_uint_t                       w;
    ngx_http_gw_ratelimit_ctx_t     *ctx;
    ngx_http_gw_ratelimit_zone_t    *zone;
    ngx_http_gw_ratelimit_result_t  *res;
    u_char                           buf[NGX_INT64_LEN * 2 + 256];

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_gw_ratelimit_get_ctx(r);

    if (ctx == NULL || ctx->report == NULL
        || ctx->headers == NGX_HTTP_GW_RL_HEADERS_OFF)
    {
        return ngx_http_next_header_filter(r);
    }

    res = ctx->report;
    zone = res->zone;
    name = &zone->name;
    w = ngx_http_gw_ratelimit_policy_window(zone);

    if (name->len > 128) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->headers & NGX_HTTP_GW_RL_HEADERS_LEGACY) {

        p = ngx_sprintf(buf, "%uL", zone->limit);
        if (ngx_http_gw_ratelimit_add_header(r, "X-RateLimit-Limit", buf, p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_sprintf(buf, "%uL", res->remaining);
        if (ngx_http_gw_ratelimit_add_header(r, "X-RateLimit-Remaining",
                                             buf, p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_sprintf(buf, "%ui", ngx_http_gw_ratelimit_secs(res->reset));
        if (ngx_http_gw_ratelimit_add_header(r, "X-RateLimit-Reset", buf, p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->headers & NGX_HTTP_GW_RL_HEADERS_DRAFT) {

        p = ngx_sprintf(buf, "\"%V\";q=%uL;w=%ui", name, zone->limit, w);
        if (ngx_http_gw_ratelimit_add_header(r, "RateLimit-Policy", buf, p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        p = ngx_sprintf(buf, "\"%V\";r=%uL;t=%ui", name, res->remaining,
                        ngx_http_gw_ratelimit_secs(res->reset));
        if (ngx_http_gw_ratelimit_add_header(r, "RateLimit", buf, p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->status == NGX_HTTP_GW_RL_REJECTED) {
        w = ngx_http_gw_ratelimit_secs(res->retry);

        p = ngx_sprintf(buf, "%ui", w ? w : 1);
        if (ngx_http_gw_ratelimit_add_header(r, "Retry-After", buf, p)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_gw_ratelimit_add_header(ngx_http_request_t *r, char *name,
    u_char *value, u_char *last)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);

    h->value.len = last - value;
    h->value.data = ngx_pnalloc(r->pool, h->value.len);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(h->value.data, value, h->value.len);

    return NGX_OK;
}


static uint64_t
ngx_http_gw_ratelimit_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/* whole seconds, rounded up */

static ngx_uint_t
ngx_http_gw_ratelimit_secs(ngx_msec_t ms)
{
    return (ms + 999) / 1000;
}


/* the "w" of RateLimit-Policy: the window, or the time to refill a burst */

static ngx_uint_t
ngx_http_gw_ratelimit_policy_window(ngx_http_gw_ratelimit_zone_t *zone)
{
    if (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) {
        return ngx_http_gw_ratelimit_secs(zone->window);
    }

    return ngx_http_gw_ratelimit_secs(zone->limit * zone->unit / zone->rate);
}


/* the context of r->main, found again after an internal redirect */

static ngx_http_gw_ratelimit_ctx_t *
ngx_http_gw_ratelimit_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_gw_ratelimit_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gw_ratelimit_module);

    if (ctx != NULL) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_gw_ratelimit_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_gw_ratelimit_module);
            return ctx;
        }
    }

    return NULL;
}


static void
ngx_http_gw_ratelimit_cleanup(void *data)
{
    ngx_http_gw_ratelimit_ctx_t  *ctx = data;

    if (ctx->batch != NULL) {
        /* its place is skipped, or its answer ignored */
        ctx->batch->waiters[ctx->slot] = NULL;
        ctx->batch = NULL;
    }
}


static ngx_int_t
ngx_http_gw_ratelimit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_gw_ratelimit_ctx_t  *ctx;

    ctx = ngx_http_gw_ratelimit_get_ctx(r);

    if (ctx == NULL || ctx->status == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = ngx_http_gw_ratelimit_status_names[ctx->status].len;
    v->data = ngx_http_gw_ratelimit_status_names[ctx->status].data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_ratelimit_num_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p;
    ngx_http_gw_ratelimit_ctx_t  *ctx;

    ctx = ngx_http_gw_ratelimit_get_ctx(r);

    if (ctx == NULL || ctx->report == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    if (data == 0) {
        p = ngx_sprintf(p, "%uL", ctx->report->remaining);

    } else {
        p = ngx_sprintf(p, "%ui",
                        ngx_http_gw_ratelimit_secs(ctx->report->reset));
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* one check of a zone, counted by its outcome */

static void
ngx_http_gw_ratelimit_count(ngx_http_gw_ratelimit_result_t *res)
{
    ngx_uint_t                   status;
    ngx_http_gw_ratelimit_sh_t  *sh;

    switch (res->outcome) {

    case NGX_HTTP_GW_RL_ALLOWED:
        status = NGX_HTTP_GW_RL_PASSED;
        break;

    case NGX_HTTP_GW_RL_OVER:
        status = res->dry_run ? NGX_HTTP_GW_RL_DRY_RUN
                              : NGX_HTTP_GW_RL_REJECTED;
        break;

    case NGX_HTTP_GW_RL_FAILED:
        status = NGX_HTTP_GW_RL_ERROR;
        break;

    default:
        /* an empty key: not checked */
        return;
    }

    sh = res->zone->sh;

    (void) ngx_atomic_fetch_add(&sh->requests[status - 1], 1);

    if (res->redis_failed) {
        (void) ngx_atomic_fetch_add(&sh->redis_errors, 1);
    }
}


/* gw_status: the zones' figures, then the gw_redis blocks' */

static ngx_int_t
ngx_http_gw_ratelimit_metrics(ngx_http_gw_report_t *rp, void *conf)
{
    ngx_http_gw_ratelimit_main_conf_t  *rmcf = conf;

    ngx_uint_t                      i, s, keys, evictions;
    ngx_http_gw_label_t             labels[2];
    ngx_http_gw_ratelimit_sh_t     *sh;
    ngx_http_gw_ratelimit_zone_t  **zp;

    zp = rmcf->zones.elts;

    labels[0].name = "zone";
    labels[1].name = "status";

    if (rp->family(rp, "requests_total", NGX_HTTP_GW_COUNTER,
                   "Checks of a zone, once per zone per request, by "
                   "outcome ($gw_ratelimit_status)")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < rmcf->zones.nelts; i++) {
        sh = zp[i]->sh;
        labels[0].value = zp[i]->name;

        for (s = 1; s <= NGX_HTTP_GW_RL_STATUSES; s++) {
            labels[1].value = ngx_http_gw_ratelimit_status_labels[s];

            if (rp->sample(rp, labels, 2, (int64_t) sh->requests[s - 1], 0)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (rp->family(rp, "redis_errors_total", NGX_HTTP_GW_COUNTER,
                   "Checks that Redis failed, decided by on_redis_error")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < rmcf->zones.nelts; i++) {
        if (zp[i]->redis == NULL) {
            continue;
        }

        labels[0].value = zp[i]->name;

        if (rp->sample(rp, labels, 1, (int64_t) zp[i]->sh->redis_errors, 0)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (rp->family(rp, "keys", NGX_HTTP_GW_GAUGE,
                   "Keys held in the zone's shared memory")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < rmcf->zones.nelts; i++) {
        labels[0].value = zp[i]->name;

        ngx_http_gw_shm_cache_stats(&zp[i]->cache, &keys, &evictions);

        if (rp->sample(rp, labels, 1, (int64_t) keys, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (rp->family(rp, "evictions_total", NGX_HTTP_GW_COUNTER,
                   "Keys evicted from a full zone before they expired")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < rmcf->zones.nelts; i++) {
        labels[0].value = zp[i]->name;

        ngx_http_gw_shm_cache_stats(&zp[i]->cache, &keys, &evictions);

        if (rp->sample(rp, labels, 1, (int64_t) evictions, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_gw_ratelimit_redis_metrics(rp, rmcf->redis);
}


static ngx_int_t
ngx_http_gw_ratelimit_redis_metrics(ngx_http_gw_report_t *rp,
    ngx_array_t *redis)
{
    ngx_int_t                   rc;
    ngx_uint_t                  i, j, n, up;
    ngx_http_gw_label_t         labels[2];
    ngx_http_gw_redis_t       **rdp;
    ngx_http_gw_redis_stats_t   st;
    u_char                      name[NGX_SOCKADDR_STRLEN];

    n = (redis != NULL) ? redis->nelts : 0;
    rdp = (redis != NULL) ? redis->elts : NULL;

    labels[0].name = "redis";
    labels[1].name = "server";

    if (rp->family(rp, "redis_up", NGX_HTTP_GW_GAUGE,
                   "1, or 0 while the Redis server is marked down "
                   "(backing off), as the last worker to use it found it")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        labels[0].value = *ngx_http_gw_redis_name(rdp[i]);
        labels[1].value.data = name;

        for (j = 0; /* void */; j++) {
            rc = ngx_http_gw_redis_server_state(rdp[i], j, name,
                                                &labels[1].value.len, &up);
            if (rc == NGX_DONE) {
                break;
            }

            if (rc == NGX_OK && rp->sample(rp, labels, 2, up, 0) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    if (rp->family(rp, "redis_commands_total", NGX_HTTP_GW_COUNTER,
                   "Redis commands of the limiters, answered, failed or "
                   "refused at once")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        labels[0].value = *ngx_http_gw_redis_name(rdp[i]);
        ngx_http_gw_redis_stats(rdp[i], &st);

        if (rp->sample(rp, labels, 1, st.commands, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (rp->family(rp, "redis_command_seconds_total", NGX_HTTP_GW_COUNTER,
                   "Time of those commands, from sending to the outcome")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        labels[0].value = *ngx_http_gw_redis_name(rdp[i]);
        ngx_http_gw_redis_stats(rdp[i], &st);

        if (rp->sample(rp, labels, 1, st.msec, 3) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    labels[1].name = "reason";

    if (rp->family(rp, "redis_failures_total", NGX_HTTP_GW_COUNTER,
                   "Redis commands without the reply asked for, by reason")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        labels[0].value = *ngx_http_gw_redis_name(rdp[i]);
        ngx_http_gw_redis_stats(rdp[i], &st);

        for (j = 0; j < NGX_HTTP_GW_REDIS_FAILS; j++) {
            labels[1].value = ngx_http_gw_ratelimit_redis_fails[j];

            if (rp->sample(rp, labels, 2, st.failures[j], 0) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static void *
ngx_http_gw_ratelimit_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gw_ratelimit_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_ratelimit_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rmcf->redis = NULL;
     *     rmcf->enabled = 0;
     */

    ngx_http_gw_reporter_init(&rmcf->reporter, "ratelimit",
                              ngx_http_gw_ratelimit_metrics);

    if (ngx_array_init(&rmcf->zones, cf->pool, 4,
                       sizeof(ngx_http_gw_ratelimit_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&rmcf->refs, cf->pool, 4,
                       sizeof(ngx_http_gw_ratelimit_ref_t))
        != NGX_OK)
    {
        return NULL;
    }

    return rmcf;
}


static void *
ngx_http_gw_ratelimit_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gw_ratelimit_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_ratelimit_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->limits = NULL;
     */

    conf->status = NGX_CONF_UNSET_UINT;
    conf->headers = NGX_CONF_UNSET_UINT;
    conf->log_level = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_gw_ratelimit_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_gw_ratelimit_loc_conf_t *prev = parent;
    ngx_http_gw_ratelimit_loc_conf_t *conf = child;

    if (conf->limits == NULL) {
        conf->limits = prev->limits;
    }

    ngx_conf_merge_uint_value(conf->status, prev->status,
                              NGX_HTTP_TOO_MANY_REQUESTS);
    ngx_conf_merge_uint_value(conf->headers, prev->headers,
                              NGX_HTTP_GW_RL_HEADERS_BOTH);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level,
                              NGX_LOG_ERR);

    return NGX_CONF_OK;
}


/*
 * gw_ratelimit_zone <name> key=<complex value> rate=<N>r/s|m|h|d
 *     [window=<time>] [algorithm=sliding_window|token_bucket] [burst=<N>]
 *     [size=<size>] [redis=<name>] [sync=<time>]
 *     [on_redis_error=local|allow|deny];
 */

static char *
ngx_http_gw_ratelimit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_ratelimit_main_conf_t  *rmcf = conf;

    u_char                             *p;
    ssize_t                             size;
    uint64_t                            figures[3];
    ngx_str_t                          *value, s, name;
    ngx_int_t                           n;
    ngx_msec_t                          ms;
    ngx_uint_t                          i, burst, have_key, have_rate;
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_gw_ratelimit_zone_t       *zone, **zp;
    ngx_http_compile_complex_value_t    ccv;

    value = cf->args->elts;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_ratelimit_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->name = value[1];
    zone->algorithm = NGX_HTTP_GW_RL_SLIDING_WINDOW;
    zone->on_error = NGX_HTTP_GW_RL_ON_ERROR_LOCAL;
    zone->file = cf->conf_file->file.name.data;
    zone->line = cf->conf_file->line;

    size = 1024 * 1024;
    burst = 0;
    have_key = 0;
    have_rate = 0;

    /* the name goes into headers: a short token */

    if (value[1].len == 0 || value[1].len > 128
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '=')
           != NULL
        || ngx_strlchr(value[1].data, value[1].data + value[1].len, '"')
           != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {

            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = &zone->key;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            have_key = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;
            p = s.data + s.len - 3;

            if (s.len < 4 || p[0] != 'r' || p[1] != '/') {
                goto invalid_rate;
            }

            switch (p[2]) {
            case 's':
                zone->unit = 1000;
                break;
            case 'm':
                zone->unit = 60 * 1000;
                break;
            case 'h':
                zone->unit = 60 * 60 * 1000;
                break;
            case 'd':
                zone->unit = 24 * 60 * 60 * 1000;
                break;
            default:
                goto invalid_rate;
            }

            n = ngx_atoi(s.data, s.len - 3);
            if (n <= 0 || n > NGX_HTTP_GW_RL_MAX_COUNT) {
                goto invalid_rate;
            }

            zone->rate = n;
            have_rate = 1;
            continue;

        invalid_rate:

            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid rate \"%V\": a positive number of "
                               "requests per second, minute, hour or day, "
                               "as in \"rate=10r/s\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {

            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0 || ms % 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid window \"%V\": a positive whole "
                                   "number of seconds, as in \"window=1m\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            zone->window = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "algorithm=", 10) == 0) {

            if (ngx_strcmp(value[i].data + 10, "sliding_window") == 0) {
                zone->algorithm = NGX_HTTP_GW_RL_SLIDING_WINDOW;

            } else if (ngx_strcmp(value[i].data + 10, "token_bucket") == 0) {
                zone->algorithm = NGX_HTTP_GW_RL_TOKEN_BUCKET;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid algorithm \"%V\": "
                                   "\"sliding_window\" or \"token_bucket\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {

            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n <= 0 || n > NGX_HTTP_GW_RL_MAX_COUNT) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\": a positive number "
                                   "of requests", &value[i]);
                return NGX_CONF_ERROR;
            }

            burst = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "size=", 5) == 0) {

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small: size= must be "
                                   "at least %uz", &value[1],
                                   8 * ngx_pagesize);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "redis=", 6) == 0
            && value[i].len > 6)
        {
            zone->redis_name.data = value[i].data + 6;
            zone->redis_name.len = value[i].len - 6;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sync=", 5) == 0) {

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid sync interval \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            zone->sync = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "on_redis_error=", 15) == 0) {

            s.data = value[i].data + 15;

            if (ngx_strcmp(s.data, "local") == 0) {
                zone->on_error = NGX_HTTP_GW_RL_ON_ERROR_LOCAL;

            } else if (ngx_strcmp(s.data, "allow") == 0) {
                zone->on_error = NGX_HTTP_GW_RL_ON_ERROR_ALLOW;

            } else if (ngx_strcmp(s.data, "deny") == 0) {
                zone->on_error = NGX_HTTP_GW_RL_ON_ERROR_DENY;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\": \"local\", \"allow\" "
                                   "or \"deny\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (!have_key) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" has no key=", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (!have_rate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" has no rate=", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) {

        if (burst) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "burst= is for algorithm=token_bucket; "
                               "the limit of a sliding window is its "
                               "rate times its window");
            return NGX_CONF_ERROR;
        }

        if (zone->window == 0) {
            zone->window = zone->unit;
        }

        zone->limit = zone->rate * zone->window / zone->unit;

        if (zone->limit == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "window= too short for rate=: less than one "
                               "request per window");
            return NGX_CONF_ERROR;
        }

        if (zone->limit > NGX_HTTP_GW_RL_MAX_COUNT) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "more than %d requests per window",
                               NGX_HTTP_GW_RL_MAX_COUNT);
            return NGX_CONF_ERROR;
        }

    } else {

        if (zone->window) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "window= is for algorithm=sliding_window; "
                               "a token bucket holds burst= tokens");
            return NGX_CONF_ERROR;
        }

        zone->limit = burst ? burst : zone->rate;
    }

    if (zone->sync && zone->redis_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "sync= needs redis=: it is the interval of the "
                           "shared-memory counters' syncs with Redis");
        return NGX_CONF_ERROR;
    }

    /* the figures the zone's script takes first, formatted once */

    if (zone->algorithm == NGX_HTTP_GW_RL_SLIDING_WINDOW) {
        figures[0] = zone->window;
        figures[1] = zone->limit;
        zone->nfigures = 2;

    } else {
        figures[0] = zone->rate;
        figures[1] = zone->unit;
        figures[2] = zone->limit;
        zone->nfigures = 3;
    }

    p = ngx_pnalloc(cf->pool, zone->nfigures * NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < zone->nfigures; i++) {
        zone->figures[i].data = p;
        p = ngx_sprintf(p, "%uL", figures[i]);
        zone->figures[i].len = p - zone->figures[i].data;
    }

    /* shared memory always: for the counters, or for on_redis_error=local */

    name.len = sizeof("gw_ratelimit:") - 1 + value[1].len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "gw_ratelimit:%V", &value[1]);

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_gw_ratelimit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate gw_ratelimit_zone \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_gw_ratelimit_init_zone;
    shm_zone->data = zone;
    zone->shm_zone = shm_zone;

    zp = ngx_array_push(&rmcf->zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = zone;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gw_ratelimit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_gw_ratelimit_zone_t  *ozone = data;

    ngx_http_gw_ratelimit_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        if (zone->key.value.len != ozone->key.value.len
            || ngx_strncmp(zone->key.value.data, ozone->key.value.data,
                           zone->key.value.len)
               != 0)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "gw_ratelimit_zone \"%V\" uses the \"%V\" key "
                          "while previously it used the \"%V\" key",
                          &zone->name, &zone->key.value, &ozone->key.value);
            return NGX_ERROR;
        }
    }

    /* the states themselves are checked against the algorithm on use */

    if (ngx_http_gw_shm_cache_init_zone(shm_zone, data) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ozone) {
        zone->sh = ozone->sh;
        return NGX_OK;
    }

    /* shm.exists is Windows only, where the module is not built */

    zone->sh = ngx_slab_calloc(zone->cache.shpool,
                               sizeof(ngx_http_gw_ratelimit_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_init(&zone->sh->dirty);
    zone->sh->flushed = 0;

    return NGX_OK;
}


/* gw_ratelimit <zone> [cost=<N | $variable>] [dry_run]; */

static char *
ngx_http_gw_ratelimit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_ratelimit_loc_conf_t *rlcf = conf;

    ngx_int_t                           n;
    ngx_str_t                          *value, s, name;
    ngx_uint_t                          i;
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_gw_ratelimit_ref_t        *ref;
    ngx_http_gw_ratelimit_limit_t      *limit, *limits;
    ngx_http_compile_complex_value_t    ccv;
    ngx_http_gw_ratelimit_main_conf_t  *rmcf;

    value = cf->args->elts;

    name.len = sizeof("gw_ratelimit:") - 1 + value[1].len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "gw_ratelimit:%V", &value[1]);

    /* the zone may be defined later: its size is set then */

    shm_zone = ngx_shared_memory_add(cf, &name, 0,
                                     &ngx_http_gw_ratelimit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (rlcf->limits == NULL) {
        rlcf->limits = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_gw_ratelimit_limit_t));
        if (rlcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    limits = rlcf->limits->elts;

    for (i = 0; i < rlcf->limits->nelts; i++) {
        if (limits[i].shm_zone == shm_zone) {
            return "is duplicate";
        }
    }

    limit = ngx_array_push(rlcf->limits);
    if (limit == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(limit, sizeof(ngx_http_gw_ratelimit_limit_t));

    limit->shm_zone = shm_zone;
    limit->fixed_cost = 1;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "cost=", 5) == 0) {

            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (ngx_http_script_variables_count(&s)) {
                limit->cost = ngx_palloc(cf->pool,
                                         sizeof(ngx_http_complex_value_t));
                if (limit->cost == NULL) {
                    return NGX_CONF_ERROR;
                }

                ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

                ccv.cf = cf;
                ccv.value = &s;
                ccv.complex_value = limit->cost;

                if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                    return NGX_CONF_ERROR;
                }

                continue;
            }

            n = ngx_atoi(s.data, s.len);
            if (n <= 0 || n > NGX_HTTP_GW_RL_MAX_COUNT) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid cost \"%V\": a positive number "
                                   "or a variable", &value[i]);
                return NGX_CONF_ERROR;
            }

            limit->fixed_cost = n;
            continue;
        }

        if (ngx_strcmp(value[i].data, "dry_run") == 0) {
            limit->dry_run = 1;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_gw_ratelimit_module);

    ref = ngx_array_push(&rmcf->refs);
    if (ref == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->name = value[1];
    ref->shm_zone = shm_zone;
    ref->file = cf->conf_file->file.name.data;
    ref->line = cf->conf_file->line;

    rmcf->enabled = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gw_ratelimit_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_gw_ratelimit_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_ratelimit_init(ngx_conf_t *cf)
{
    ngx_uint_t                          i;
    ngx_http_handler_pt                *h;
    ngx_http_core_main_conf_t          *cmcf;
    ngx_http_gw_ratelimit_ref_t        *ref;
    ngx_http_gw_ratelimit_zone_t      **zp, *zone;
    ngx_http_gw_ratelimit_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_gw_ratelimit_module);

    if (ngx_http_gw_ratelimit_sha256 == NULL) {
        ngx_http_gw_ratelimit_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);

        if (ngx_http_gw_ratelimit_sha256 == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "gw_ratelimit: OpenSSL has no SHA-256");
            return NGX_ERROR;
        }
    }

    ref = rmcf->refs.elts;

    for (i = 0; i < rmcf->refs.nelts; i++) {
        if (ref[i].shm_zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown gw_ratelimit_zone \"%V\" in %s:%ui",
                          &ref[i].name, ref[i].file, ref[i].line);
            return NGX_ERROR;
        }
    }

    zp = rmcf->zones.elts;

    for (i = 0; i < rmcf->zones.nelts; i++) {
        zone = zp[i];

        if (zone->redis_name.len == 0) {
            continue;
        }

        zone->redis = ngx_http_gw_redis_find(rmcf->redis, &zone->redis_name);

        if (zone->redis == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown gw_redis \"%V\" in redis= of "
                          "gw_ratelimit_zone \"%V\" in %s:%ui",
                          &zone->redis_name, &zone->name, zone->file,
                          zone->line);
            return NGX_ERROR;
        }
    }

    if (!rmcf->enabled) {
        return NGX_OK;
    }

    ngx_http_gw_redis_script_init(&ngx_http_gw_ratelimit_sw_script);
    ngx_http_gw_redis_script_init(&ngx_http_gw_ratelimit_tb_script);

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_gw_ratelimit_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_gw_ratelimit_header_filter;

    return NGX_OK;
}


/* a flush timer in each worker for each hybrid zone */

static ngx_int_t
ngx_http_gw_ratelimit_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                          i;
    ngx_http_gw_ratelimit_zone_t      **zp, *zone;
    ngx_http_gw_ratelimit_flush_t      *flush;
    ngx_http_gw_ratelimit_main_conf_t  *rmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gw_ratelimit_module);
    if (rmcf == NULL) {
        return NGX_OK;
    }

    ngx_queue_init(&ngx_http_gw_ratelimit_open);

    ngx_http_gw_ratelimit_send_event.handler = ngx_http_gw_ratelimit_batch_send;
    ngx_http_gw_ratelimit_send_event.log = cycle->log;

    zp = rmcf->zones.elts;

    for (i = 0; i < rmcf->zones.nelts; i++) {
        zone = zp[i];

        if (zone->sync == 0 || zone->redis == NULL) {
            continue;
        }

        flush = ngx_pcalloc(cycle->pool, sizeof(ngx_http_gw_ratelimit_flush_t));
        if (flush == NULL) {
            return NGX_ERROR;
        }

        flush->zone = zone;

        flush->event.handler = ngx_http_gw_ratelimit_flush_handler;
        flush->event.data = flush;
        flush->event.log = cycle->log;
        flush->event.cancelable = 1;

        ngx_add_timer(&flush->event, zone->sync);
    }

    return NGX_OK;
}


/* the SHA-256 fetched once for the process, given back at its exit */

static void
ngx_http_gw_ratelimit_exit_process(ngx_cycle_t *cycle)
{
    EVP_MD_free(ngx_http_gw_ratelimit_sha256);
    ngx_http_gw_ratelimit_sha256 = NULL;
}
