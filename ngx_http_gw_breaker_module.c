
/*
 * Copyright (C) nginx-gw authors
 *
 * ngx_http_gw_breaker_module: per-peer circuit breakers (closed, open,
 * half-open) shared by all workers.
 *
 * "gw_breaker" wraps whatever balancer the upstream uses, the way nginx's
 * keepalive module does: the balancer picks a peer as usual; when that
 * peer's breaker is open (or half-open with its probe slots taken) the pick
 * is released and the balancer asked again, the peer now marked tried.
 * When no usable peer is left the request fails fast, with no connect
 * attempt, answered with gw_breaker_status and a Retry-After.
 *
 * Each upstream's breakers live in a shared zone of their own, named after
 * the upstream and keyed by peer address, so they survive reload (nginx
 * copies an upstream's own zone anew on every reload): see
 * common/ngx_http_gw_peer_zone.  gw_status shows them, one series per peer,
 * read from those zones.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_gw_common.h"
#include "ngx_http_gw_peer_zone.h"
#include "ngx_http_gw_status.h"


#define NGX_HTTP_GW_BREAKER_CLOSED      0
#define NGX_HTTP_GW_BREAKER_OPEN        1
#define NGX_HTTP_GW_BREAKER_HALF_OPEN   2

/* the failure-rate window is kept as this many buckets */
#define NGX_HTTP_GW_BREAKER_BUCKETS     10

/* outcomes of one attempt */
#define NGX_HTTP_GW_BREAKER_SUCCESS     0
#define NGX_HTTP_GW_BREAKER_FAILURE     1
#define NGX_HTTP_GW_BREAKER_NEUTRAL     2

/* the metric families reported to gw_status, in their order */
#define NGX_HTTP_GW_BREAKER_M_STATE       0
#define NGX_HTTP_GW_BREAKER_M_CONSECUTIVE 1
#define NGX_HTTP_GW_BREAKER_M_RATE        2
#define NGX_HTTP_GW_BREAKER_M_NEXT_PROBE  3
#define NGX_HTTP_GW_BREAKER_M_TRIPS       4
#define NGX_HTTP_GW_BREAKER_M_REQUESTS    5
#define NGX_HTTP_GW_BREAKER_M_FAILURES    6
#define NGX_HTTP_GW_BREAKER_M_REJECTED    7


typedef struct {
    ngx_http_gw_peer_name_t             name;
    ngx_uint_t                          state;
    ngx_uint_t                          consecutive;
    ngx_uint_t                          successes;
    ngx_uint_t                          probes;
    ngx_uint_t                          trips;
    ngx_uint_t                          requests;
    ngx_uint_t                          failures;
    ngx_uint_t                          rejected;
    ngx_msec_t                          open_until;
    ngx_msec_t                          open_time;
    ngx_msec_t                          epoch[NGX_HTTP_GW_BREAKER_BUCKETS];
    uint32_t                            total[NGX_HTTP_GW_BREAKER_BUCKETS];
    uint32_t                            failed[NGX_HTTP_GW_BREAKER_BUCKETS];
} ngx_http_gw_breaker_peer_t;


typedef struct {
    ngx_uint_t                          failures;
    ngx_uint_t                          failure_rate;
    ngx_uint_t                          min_requests;
    ngx_msec_t                          window;
    ngx_msec_t                          slow;
    ngx_msec_t                          open;
    ngx_msec_t                          max_open;
    ngx_uint_t                          half_open;
    ngx_uint_t                          successes;
    ngx_uint_t                          failure_mask;

    ngx_http_gw_peer_zone_t             zone;

    ngx_http_upstream_init_pt           original_init_upstream;
    ngx_http_upstream_init_peer_pt      original_init_peer;

    unsigned                            enabled:1;
    unsigned                            initialized:1;
} ngx_http_gw_breaker_srv_conf_t;


typedef struct {
    ngx_uint_t                          status;
} ngx_http_gw_breaker_loc_conf_t;


typedef struct {
    ngx_http_gw_reporter_t              reporter;    /* must be first */
    ngx_array_t                         upstreams;   /* srv_conf_t * */
} ngx_http_gw_breaker_main_conf_t;


/* per request: the balancer's data, wrapped; also the module's context */

typedef struct {
    ngx_http_gw_breaker_srv_conf_t     *conf;
    ngx_http_request_t                 *request;

    void                               *data;
    ngx_event_get_peer_pt               original_get_peer;
    ngx_event_free_peer_pt              original_free_peer;

    ngx_http_gw_breaker_peer_t         *current;     /* this attempt's */
    ngx_msec_t                          start;
    ngx_uint_t                          state;       /* for the variable */
    time_t                              retry_after;

    unsigned                            probe:1;
    unsigned                            used:1;
    unsigned                            failfast:1;
    unsigned                            page_sent:1;
} ngx_http_gw_breaker_peer_data_t;


/* a state change, logged once the zone's lock is released */

typedef struct {
    ngx_uint_t                          to;
    ngx_uint_t                          rate;
    ngx_uint_t                          count;
    ngx_msec_t                          open_time;
    const char                         *cause;
} ngx_http_gw_breaker_change_t;


static ngx_int_t ngx_http_gw_breaker_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_gw_breaker_get_peer(ngx_peer_connection_t *pc,
    void *data);
static ngx_uint_t ngx_http_gw_breaker_allow(
    ngx_http_gw_breaker_srv_conf_t *bcf, ngx_http_gw_breaker_peer_t *p,
    ngx_http_gw_breaker_peer_data_t *bp, ngx_http_gw_breaker_change_t *ch);
static void ngx_http_gw_breaker_free_peer(ngx_peer_connection_t *pc,
    void *data, ngx_uint_t state);
static ngx_uint_t ngx_http_gw_breaker_outcome(
    ngx_http_gw_breaker_peer_data_t *bp, ngx_peer_connection_t *pc,
    ngx_uint_t state);
static void ngx_http_gw_breaker_record(ngx_http_gw_breaker_srv_conf_t *bcf,
    ngx_http_gw_breaker_peer_t *p, ngx_http_gw_breaker_peer_data_t *bp,
    ngx_uint_t failed, ngx_http_gw_breaker_change_t *ch);
static ngx_msec_t ngx_http_gw_breaker_epoch(
    ngx_http_gw_breaker_srv_conf_t *bcf);
static void ngx_http_gw_breaker_window(ngx_http_gw_breaker_peer_t *p,
    ngx_msec_t epoch, ngx_uint_t *total, ngx_uint_t *nfailed);
static void ngx_http_gw_breaker_trip(ngx_http_gw_breaker_peer_t *p,
    ngx_msec_t open_time, ngx_http_gw_breaker_change_t *ch,
    const char *cause);
static void ngx_http_gw_breaker_log_change(ngx_log_t *log,
    ngx_http_gw_breaker_srv_conf_t *bcf, ngx_http_gw_breaker_peer_t *p,
    ngx_http_gw_breaker_change_t *ch);
static void ngx_http_gw_breaker_cleanup(void *data);
static ngx_int_t ngx_http_gw_breaker_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_gw_breaker_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_gw_breaker_state_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_breaker_report(ngx_http_gw_report_t *rp,
    void *conf);
static int64_t ngx_http_gw_breaker_figure(
    ngx_http_gw_breaker_srv_conf_t *bcf, ngx_http_gw_breaker_peer_t *p,
    ngx_uint_t metric, ngx_uint_t *scale);

static ngx_int_t ngx_http_gw_breaker_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static void ngx_http_gw_breaker_reset(ngx_http_gw_peer_zone_t *pz,
    void *entry);
static void *ngx_http_gw_breaker_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_gw_breaker_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_gw_breaker_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gw_breaker_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_gw_breaker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_breaker_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_gw_breaker_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_gw_breaker_init(ngx_conf_t *cf);


static ngx_conf_bitmask_t  ngx_http_gw_breaker_failure_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("invalid_header"), NGX_HTTP_UPSTREAM_FT_INVALID_HEADER },
    { ngx_string("http_500"), NGX_HTTP_UPSTREAM_FT_HTTP_500 },
    { ngx_string("http_502"), NGX_HTTP_UPSTREAM_FT_HTTP_502 },
    { ngx_string("http_503"), NGX_HTTP_UPSTREAM_FT_HTTP_503 },
    { ngx_string("http_504"), NGX_HTTP_UPSTREAM_FT_HTTP_504 },
    { ngx_string("http_429"), NGX_HTTP_UPSTREAM_FT_HTTP_429 },
    { ngx_null_string, 0 }
};


static ngx_str_t  ngx_http_gw_breaker_states[] = {
    ngx_string("closed"),
    ngx_string("open"),
    ngx_string("half_open")
};


static ngx_command_t  ngx_http_gw_breaker_commands[] = {

    { ngx_string("gw_breaker"),
      NGX_HTTP_UPS_CONF|NGX_CONF_ANY,
      ngx_http_gw_breaker,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_breaker_failure"),
      NGX_HTTP_UPS_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_gw_breaker_srv_conf_t, failure_mask),
      &ngx_http_gw_breaker_failure_masks },

    { ngx_string("gw_breaker_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_gw_breaker_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_gw_breaker_loc_conf_t, status),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gw_breaker_module_ctx = {
    ngx_http_gw_breaker_add_variables,     /* preconfiguration */
    ngx_http_gw_breaker_init,              /* postconfiguration */

    ngx_http_gw_breaker_create_main_conf,  /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_gw_breaker_create_srv_conf,   /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gw_breaker_create_loc_conf,   /* create location configuration */
    ngx_http_gw_breaker_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_gw_breaker_module = {
    NGX_MODULE_V1,
    &ngx_http_gw_breaker_module_ctx,       /* module context */
    ngx_http_gw_breaker_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_gw_breaker_vars[] = {

    { ngx_string("gw_breaker_state"), NULL,
      ngx_http_gw_breaker_state_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_gw_metric_t  ngx_http_gw_breaker_metrics[] = {

    { "state", NGX_HTTP_GW_GAUGE,
      "State of the peer's circuit breaker: 0 closed, 1 open, 2 half-open" },

    { "consecutive_failures", NGX_HTTP_GW_GAUGE,
      "Failures of the peer in a row, up to now or up to its last trip" },

    { "failure_rate", NGX_HTTP_GW_GAUGE,
      "Share of the peer's attempts that failed over the rate window, "
      "0 to 1" },

    { "next_probe_seconds", NGX_HTTP_GW_GAUGE,
      "Seconds until an open breaker lets a probe through, 0 when not open" },

    { "trips_total", NGX_HTTP_GW_COUNTER,
      "Times the peer's breaker opened, from closed or half-open" },

    { "requests_total", NGX_HTTP_GW_COUNTER,
      "Attempts sent to the peer, each retry counted" },

    { "failures_total", NGX_HTTP_GW_COUNTER,
      "Attempts to the peer that failed by gw_breaker_failure's classes" },

    { "rejected_total", NGX_HTTP_GW_COUNTER,
      "Picks of the peer refused by its open or half-open breaker" },

    { NULL, 0, NULL }
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;

/* set when a configuration uses gw_breaker; reset before each is read */
static ngx_uint_t  ngx_http_gw_breaker_used;


static ngx_int_t
ngx_http_gw_breaker_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_pool_cleanup_t               *cln;
    ngx_http_gw_breaker_srv_conf_t   *bcf;
    ngx_http_gw_breaker_peer_data_t  *bp;

    bcf = ngx_http_conf_upstream_srv_conf(us, ngx_http_gw_breaker_module);

    if (bcf->original_init_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    bp = ngx_pcalloc(r->pool, sizeof(ngx_http_gw_breaker_peer_data_t));
    if (bp == NULL) {
        return NGX_ERROR;
    }

    /* a probe slot still held when the request ends is given back */

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_gw_breaker_cleanup;
    cln->data = bp;

    bp->conf = bcf;
    bp->request = r;

    bp->data = r->upstream->peer.data;
    bp->original_get_peer = r->upstream->peer.get;
    bp->original_free_peer = r->upstream->peer.free;

    r->upstream->peer.data = bp;
    r->upstream->peer.get = ngx_http_gw_breaker_get_peer;
    r->upstream->peer.free = ngx_http_gw_breaker_free_peer;

    ngx_http_set_ctx(r, bp, ngx_http_gw_breaker_module);

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_breaker_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_gw_breaker_peer_data_t  *bp = data;

    time_t                           wait;
    ngx_int_t                        rc;
    ngx_uint_t                       n, rejected, tries, allow;
    ngx_msec_t                       next;
    ngx_http_gw_breaker_peer_t      *p, *prev;
    ngx_http_gw_breaker_change_t     ch;
    ngx_http_gw_breaker_srv_conf_t  *bcf;

    bcf = bp->conf;
    rejected = 0;
    next = (ngx_msec_t) -1;
    prev = NULL;

    for (n = 0; /* void */ ; n++) {

        rc = bp->original_get_peer(pc, bp->data);

        if (rc != NGX_OK && rc != NGX_DONE) {
            break;
        }

        ngx_memzero(&ch, sizeof(ngx_http_gw_breaker_change_t));
        ch.to = (ngx_uint_t) -1;

        ngx_shmtx_lock(&bcf->zone.shpool->mutex);

        p = ngx_http_gw_peer_zone_find(&bcf->zone, pc->name);

        if (p == NULL) {
            /* not a peer of the configuration: nothing to decide */
            ngx_shmtx_unlock(&bcf->zone.shpool->mutex);
            return rc;
        }

        allow = ngx_http_gw_breaker_allow(bcf, p, bp, &ch);

        if (!allow) {

            /* a single peer is picked again at once: counted once */

            if (p != prev) {
                p->rejected++;
                prev = p;
            }

            if (p->state == NGX_HTTP_GW_BREAKER_OPEN) {
                next = ngx_min(next, p->open_until - ngx_current_msec);
            }
        }

        ngx_shmtx_unlock(&bcf->zone.shpool->mutex);

        if (ch.to != (ngx_uint_t) -1) {
            ngx_http_gw_breaker_log_change(pc->log, bcf, p, &ch);
        }

        if (allow) {
            bp->current = p;
            bp->start = ngx_current_msec;
            bp->state = bp->probe ? NGX_HTTP_GW_BREAKER_HALF_OPEN
                                  : NGX_HTTP_GW_BREAKER_CLOSED;
            bp->used = 1;
            return rc;
        }

        /* release the pick without counting it, and ask again */

        rejected++;

        if (rc == NGX_DONE && pc->connection) {
            /* a cached keepalive connection to the open peer */
            ngx_close_connection(pc->connection);
            pc->connection = NULL;
        }

        tries = pc->tries;
        bp->original_free_peer(pc, bp->data, 0);
        pc->tries = tries;

        if (n >= bcf->zone.names->nelts) {
            rc = NGX_BUSY;
            break;
        }
    }

    if (rejected == 0) {
        return rc;
    }

    /* every usable peer is open: fail fast, without a connect attempt */

    wait = (next == (ngx_msec_t) -1) ? 1 : (time_t) ((next + 999) / 1000);

    bp->failfast = 1;
    bp->used = 1;
    bp->state = NGX_HTTP_GW_BREAKER_OPEN;
    bp->retry_after = ngx_max(wait, 1);

    pc->tries = 0;

    /* the last pick was released: nginx must not free it again */
    pc->sockaddr = NULL;
    pc->socklen = 0;

    ngx_log_error(NGX_LOG_INFO, pc->log, 0,
                  "gw_breaker: every peer of upstream \"%V\" is open, "
                  "failing fast", bcf->zone.upstream);

    return NGX_BUSY;
}


/* under the zone's mutex: may this request use the peer? */

static ngx_uint_t
ngx_http_gw_breaker_allow(ngx_http_gw_breaker_srv_conf_t *bcf,
    ngx_http_gw_breaker_peer_t *p, ngx_http_gw_breaker_peer_data_t *bp,
    ngx_http_gw_breaker_change_t *ch)
{
    bp->probe = 0;

    switch (p->state) {

    case NGX_HTTP_GW_BREAKER_CLOSED:
        return 1;

    case NGX_HTTP_GW_BREAKER_OPEN:

        if ((ngx_msec_int_t) (ngx_current_msec - p->open_until) < 0) {
            return 0;
        }

        p->state = NGX_HTTP_GW_BREAKER_HALF_OPEN;
        p->successes = 0;
        p->probes = 0;

        ch->to = NGX_HTTP_GW_BREAKER_HALF_OPEN;
        ch->cause = "open time over";

        /* fall through */

    default: /* NGX_HTTP_GW_BREAKER_HALF_OPEN */

        if (p->probes >= bcf->half_open) {
            return 0;
        }

        p->probes++;
        bp->probe = 1;

        return 1;
    }
}


static void
ngx_http_gw_breaker_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_gw_breaker_peer_data_t  *bp = data;

    ngx_uint_t                       outcome;
    ngx_http_gw_breaker_peer_t      *p;
    ngx_http_gw_breaker_change_t     ch;
    ngx_http_gw_breaker_srv_conf_t  *bcf;

    if (bp->current) {
        bcf = bp->conf;
        p = bp->current;

        ngx_memzero(&ch, sizeof(ngx_http_gw_breaker_change_t));
        ch.to = (ngx_uint_t) -1;

        outcome = ngx_http_gw_breaker_outcome(bp, pc, state);

        ngx_shmtx_lock(&bcf->zone.shpool->mutex);

        p->requests++;

        if (outcome == NGX_HTTP_GW_BREAKER_NEUTRAL) {
            if (bp->probe && p->probes) {
                p->probes--;
            }

        } else {
            ngx_http_gw_breaker_record(bcf, p, bp,
                                       outcome == NGX_HTTP_GW_BREAKER_FAILURE,
                                       &ch);
        }

        bp->state = p->state;

        ngx_shmtx_unlock(&bcf->zone.shpool->mutex);

        bp->probe = 0;
        bp->current = NULL;

        if (ch.to != (ngx_uint_t) -1) {
            ngx_http_gw_breaker_log_change(pc->log, bcf, p, &ch);
        }
    }

    bp->original_free_peer(pc, bp->data, state);
}


/*
 * What one attempt was, by gw_breaker_failure's classes, whatever
 * proxy_next_upstream says.  An attempt that ends without an answer and
 * without a failure (the client went away) counts neither way.
 */

static ngx_uint_t
ngx_http_gw_breaker_outcome(ngx_http_gw_breaker_peer_data_t *bp,
    ngx_peer_connection_t *pc, ngx_uint_t state)
{
    ngx_uint_t                       cls, status;
    ngx_connection_t                *c;
    ngx_http_upstream_t             *u;
    ngx_http_gw_breaker_srv_conf_t  *bcf;

    bcf = bp->conf;
    u = bp->request->upstream;
    c = pc->connection;

    status = u->headers_in.status_n;

    switch (status) {
    case 500:
        cls = NGX_HTTP_UPSTREAM_FT_HTTP_500;
        break;
    case 502:
        cls = NGX_HTTP_UPSTREAM_FT_HTTP_502;
        break;
    case 503:
        cls = NGX_HTTP_UPSTREAM_FT_HTTP_503;
        break;
    case 504:
        cls = NGX_HTTP_UPSTREAM_FT_HTTP_504;
        break;
    case 429:
        cls = NGX_HTTP_UPSTREAM_FT_HTTP_429;
        break;
    default:
        cls = 0;
    }

    if (cls == 0 && (state & NGX_PEER_FAILED)) {

        /*
         * No answer, or a broken one: the status line may have been read
         * before the header went wrong (proxy sets status_n first)
         */

        if (c && (c->read->timedout || c->write->timedout)) {
            cls = NGX_HTTP_UPSTREAM_FT_TIMEOUT;

        } else if (u->buffer.start && u->buffer.last > u->buffer.start) {
            cls = NGX_HTTP_UPSTREAM_FT_INVALID_HEADER;

        } else {
            cls = NGX_HTTP_UPSTREAM_FT_ERROR;
        }

        return (bcf->failure_mask & cls) ? NGX_HTTP_GW_BREAKER_FAILURE
                                         : NGX_HTTP_GW_BREAKER_SUCCESS;
    }

    if (status == 0) {
        /* the client went away before an answer */
        return NGX_HTTP_GW_BREAKER_NEUTRAL;
    }

    if (bcf->failure_mask & cls) {
        return NGX_HTTP_GW_BREAKER_FAILURE;
    }

    if (bcf->slow && ngx_current_msec - bp->start > bcf->slow) {
        return NGX_HTTP_GW_BREAKER_FAILURE;
    }

    return NGX_HTTP_GW_BREAKER_SUCCESS;
}


/* under the zone's mutex: one attempt's outcome moves the breaker */

static void
ngx_http_gw_breaker_record(ngx_http_gw_breaker_srv_conf_t *bcf,
    ngx_http_gw_breaker_peer_t *p, ngx_http_gw_breaker_peer_data_t *bp,
    ngx_uint_t failed, ngx_http_gw_breaker_change_t *ch)
{
    ngx_uint_t  i, total, nfailed;
    ngx_msec_t  epoch;

    if (failed) {
        p->failures++;
    }

    switch (p->state) {

    case NGX_HTTP_GW_BREAKER_CLOSED:

        epoch = ngx_http_gw_breaker_epoch(bcf);
        i = epoch % NGX_HTTP_GW_BREAKER_BUCKETS;

        if (p->epoch[i] != epoch) {
            p->epoch[i] = epoch;
            p->total[i] = 0;
            p->failed[i] = 0;
        }

        p->total[i]++;

        if (!failed) {
            p->consecutive = 0;
            return;
        }

        p->failed[i]++;
        p->consecutive++;

        if (bcf->failures && p->consecutive >= bcf->failures) {
            ch->count = p->consecutive;
            ngx_http_gw_breaker_trip(p, bcf->open, ch,
                                     "consecutive failures");
            return;
        }

        if (bcf->failure_rate == 0) {
            return;
        }

        ngx_http_gw_breaker_window(p, epoch, &total, &nfailed);

        if (total >= bcf->min_requests
            && nfailed * 100 >= bcf->failure_rate * total)
        {
            ch->count = total;
            ch->rate = nfailed * 100 / total;
            ngx_http_gw_breaker_trip(p, bcf->open, ch, "failure rate");
        }

        return;

    case NGX_HTTP_GW_BREAKER_HALF_OPEN:

        if (!bp->probe) {
            /* started before the breaker opened: it proves nothing */
            return;
        }

        if (p->probes) {
            p->probes--;
        }

        if (failed) {
            p->consecutive++;
            ngx_http_gw_breaker_trip(p, ngx_min(p->open_time * 2,
                                                bcf->max_open),
                                     ch, "probe failed");
            return;
        }

        if (++p->successes < bcf->successes) {
            return;
        }

        p->state = NGX_HTTP_GW_BREAKER_CLOSED;
        p->consecutive = 0;
        p->open_time = 0;
        ngx_memzero(p->epoch, sizeof(p->epoch));
        ngx_memzero(p->total, sizeof(p->total));
        ngx_memzero(p->failed, sizeof(p->failed));

        ch->to = NGX_HTTP_GW_BREAKER_CLOSED;
        ch->count = p->successes;
        ch->cause = "successful probes";
        return;

    default: /* NGX_HTTP_GW_BREAKER_OPEN */
        return;
    }
}


/* the current bucket number of the failure_rate window */

static ngx_msec_t
ngx_http_gw_breaker_epoch(ngx_http_gw_breaker_srv_conf_t *bcf)
{
    return ngx_current_msec
           / ngx_max(bcf->window / NGX_HTTP_GW_BREAKER_BUCKETS, 1);
}


/* attempts and failures in the buckets of the window that ends at epoch */

static void
ngx_http_gw_breaker_window(ngx_http_gw_breaker_peer_t *p, ngx_msec_t epoch,
    ngx_uint_t *total, ngx_uint_t *nfailed)
{
    ngx_uint_t  i;

    *total = 0;
    *nfailed = 0;

    for (i = 0; i < NGX_HTTP_GW_BREAKER_BUCKETS; i++) {
        if (epoch - p->epoch[i] < NGX_HTTP_GW_BREAKER_BUCKETS) {
            *total += p->total[i];
            *nfailed += p->failed[i];
        }
    }
}


static void
ngx_http_gw_breaker_trip(ngx_http_gw_breaker_peer_t *p, ngx_msec_t open_time,
    ngx_http_gw_breaker_change_t *ch, const char *cause)
{
    p->state = NGX_HTTP_GW_BREAKER_OPEN;
    p->open_time = open_time;
    p->open_until = ngx_current_msec + open_time;
    p->successes = 0;
    p->trips++;

    ch->to = NGX_HTTP_GW_BREAKER_OPEN;
    ch->open_time = open_time;
    ch->cause = cause;
}


static void
ngx_http_gw_breaker_log_change(ngx_log_t *log,
    ngx_http_gw_breaker_srv_conf_t *bcf, ngx_http_gw_breaker_peer_t *p,
    ngx_http_gw_breaker_change_t *ch)
{
    ngx_str_t  name;

    name.len = p->name.name_len;
    name.data = p->name.name;

    switch (ch->to) {

    case NGX_HTTP_GW_BREAKER_OPEN:

        if (ch->rate) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "gw_breaker: peer %V of upstream \"%V\" opened: "
                          "failure rate %ui%% over %ui requests, "
                          "next probe in %M ms",
                          &name, bcf->zone.upstream, ch->rate, ch->count,
                          ch->open_time);

        } else if (ch->count) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "gw_breaker: peer %V of upstream \"%V\" opened: "
                          "%ui consecutive failures, next probe in %M ms",
                          &name, bcf->zone.upstream, ch->count, ch->open_time);

        } else {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "gw_breaker: peer %V of upstream \"%V\" opened: "
                          "%s, next probe in %M ms",
                          &name, bcf->zone.upstream, ch->cause, ch->open_time);
        }

        break;

    case NGX_HTTP_GW_BREAKER_HALF_OPEN:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "gw_breaker: peer %V of upstream \"%V\" half-open: "
                      "%s, probing", &name, bcf->zone.upstream, ch->cause);
        break;

    default: /* NGX_HTTP_GW_BREAKER_CLOSED */
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "gw_breaker: peer %V of upstream \"%V\" closed: "
                      "%ui %s", &name, bcf->zone.upstream, ch->count,
                      ch->cause);
    }
}


static void
ngx_http_gw_breaker_cleanup(void *data)
{
    ngx_http_gw_breaker_peer_data_t  *bp = data;

    ngx_http_gw_breaker_peer_t      *p;
    ngx_http_gw_breaker_srv_conf_t  *bcf;

    if (bp->current == NULL || !bp->probe) {
        return;
    }

    bcf = bp->conf;
    p = bp->current;

    ngx_shmtx_lock(&bcf->zone.shpool->mutex);

    if (p->state == NGX_HTTP_GW_BREAKER_HALF_OPEN && p->probes) {
        p->probes--;
    }

    ngx_shmtx_unlock(&bcf->zone.shpool->mutex);

    bp->probe = 0;
}


/*
 * A fail-fast request ends in nginx's "no live upstreams" 502; this makes
 * it gw_breaker_status, with Retry-After and the matching error page.
 * error_page is chosen by nginx for the 502, before this filter runs.
 */

static ngx_int_t
ngx_http_gw_breaker_header_filter(ngx_http_request_t *r)
{
    ngx_table_elt_t                  *h;
    ngx_http_gw_breaker_loc_conf_t   *blcf;
    ngx_http_gw_breaker_peer_data_t  *bp;

    bp = ngx_http_get_module_ctx(r, ngx_http_gw_breaker_module);

    if (bp == NULL || !bp->failfast || r != r->main
        || r->headers_out.status != NGX_HTTP_BAD_GATEWAY)
    {
        return ngx_http_next_header_filter(r);
    }

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_gw_breaker_module);

    r->headers_out.status = blcf->status;
    r->err_status = blcf->status;
    r->headers_out.status_line.len = 0;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");

    h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%T", bp->retry_after)
                   - h->value.data;

    /* the stock error page of the new status replaces the 502 one */

    if (r->headers_out.content_length_n > 0) {
        bp->page_sent = 0;
        r->headers_out.content_length_n = -1;

        if (r->headers_out.content_length) {
            r->headers_out.content_length->hash = 0;
            r->headers_out.content_length = NULL;
        }

    } else {
        bp->failfast = 0;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_gw_breaker_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    u_char                           *p;
    ngx_buf_t                        *b;
    ngx_uint_t                        last;
    ngx_chain_t                      *cl, out;
    const char                       *reason, *tail;
    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_gw_breaker_loc_conf_t   *blcf;
    ngx_http_gw_breaker_peer_data_t  *bp;

    bp = ngx_http_get_module_ctx(r, ngx_http_gw_breaker_module);

    if (bp == NULL || !bp->failfast || r != r->main
        || r->headers_out.status == NGX_HTTP_BAD_GATEWAY)
    {
        return ngx_http_next_body_filter(r, in);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;

        if (cl->buf->last_buf) {
            last = 1;
        }
    }

    if (!last || bp->page_sent) {
        return NGX_OK;
    }

    bp->page_sent = 1;

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_gw_breaker_module);

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    switch (blcf->status) {
    case 400: reason = "Bad Request"; break;
    case 401: reason = "Authorization Required"; break;
    case 403: reason = "Forbidden"; break;
    case 404: reason = "Not Found"; break;
    case 408: reason = "Request Time-out"; break;
    case 429: reason = "Too Many Requests"; break;
    case 500: reason = "Internal Server Error"; break;
    case 502: reason = "Bad Gateway"; break;
    case 503: reason = "Service Temporarily Unavailable"; break;
    case 504: reason = "Gateway Time-out"; break;
    default: reason = "Error";
    }

    tail = (clcf->server_tokens == NGX_HTTP_SERVER_TOKENS_ON) ? NGINX_VER
           : (clcf->server_tokens == NGX_HTTP_SERVER_TOKENS_BUILD)
             ? NGINX_VER_BUILD : "nginx";

    b = ngx_create_temp_buf(r->pool, 256);
    if (b == NULL) {
        return NGX_ERROR;
    }

    p = b->pos;
    b->last = ngx_sprintf(p, "<html>" CRLF
                          "<head><title>%ui %s</title></head>" CRLF
                          "<body>" CRLF
                          "<center><h1>%ui %s</h1></center>" CRLF
                          "<hr><center>%s</center>" CRLF
                          "</body>" CRLF
                          "</html>" CRLF,
                          blcf->status, reason, blcf->status, reason, tail);
    b->last_buf = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


static ngx_int_t
ngx_http_gw_breaker_state_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_pool_cleanup_t               *cln;
    ngx_http_gw_breaker_peer_data_t  *bp;

    bp = ngx_http_get_module_ctx(r->main, ngx_http_gw_breaker_module);

    /* after an internal redirect (error_page), from the pool cleanup */

    for (cln = r->main->pool->cleanup; bp == NULL && cln; cln = cln->next) {
        if (cln->handler == ngx_http_gw_breaker_cleanup) {
            bp = cln->data;
        }
    }

    if (bp == NULL || !bp->used) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_http_gw_breaker_states[bp->state].len;
    v->data = ngx_http_gw_breaker_states[bp->state].data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * gw_status: every peer of every upstream with gw_breaker, one family at a
 * time; each peer's entry is copied under the zone's mutex and reported
 * from the copy, so the lock is never held while output is written.
 */

static ngx_int_t
ngx_http_gw_breaker_report(ngx_http_gw_report_t *rp, void *conf)
{
    ngx_http_gw_breaker_main_conf_t *bmcf = conf;

    int64_t                           value;
    ngx_uint_t                        i, j, m, scale;
    ngx_http_gw_label_t               labels[2];
    ngx_http_gw_peer_zone_t          *pz;
    ngx_http_gw_breaker_peer_t        p;
    ngx_http_gw_metric_t             *metric;
    ngx_http_gw_breaker_srv_conf_t  **bcfp;

    bcfp = bmcf->upstreams.elts;

    labels[0].name = "upstream";
    labels[1].name = "peer";

    for (m = 0; ngx_http_gw_breaker_metrics[m].name; m++) {
        metric = &ngx_http_gw_breaker_metrics[m];

        if (rp->family(rp, metric->name, metric->type, metric->help)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < bmcf->upstreams.nelts; i++) {
            pz = &bcfp[i]->zone;
            labels[0].value = *pz->upstream;

            for (j = 0;
                 ngx_http_gw_peer_zone_copy(pz, j, &p, sizeof(p)) == NGX_OK;
                 j++)
            {
                labels[1].value.len = p.name.name_len;
                labels[1].value.data = p.name.name;

                value = ngx_http_gw_breaker_figure(bcfp[i], &p, m, &scale);

                if (rp->sample(rp, labels, 2, value, scale) != NGX_OK) {
                    return NGX_ERROR;
                }
            }
        }
    }

    return NGX_OK;
}


/* one figure of a peer, from a copy of its entry */

static int64_t
ngx_http_gw_breaker_figure(ngx_http_gw_breaker_srv_conf_t *bcf,
    ngx_http_gw_breaker_peer_t *p, ngx_uint_t metric, ngx_uint_t *scale)
{
    ngx_uint_t  total, nfailed;
    ngx_msec_t  now;

    *scale = 0;
    now = ngx_current_msec;

    switch (metric) {

    case NGX_HTTP_GW_BREAKER_M_STATE:
        return p->state;

    case NGX_HTTP_GW_BREAKER_M_CONSECUTIVE:
        return p->consecutive;

    case NGX_HTTP_GW_BREAKER_M_RATE:

        ngx_http_gw_breaker_window(p, ngx_http_gw_breaker_epoch(bcf),
                                   &total, &nfailed);

        *scale = 3;

        return total ? (int64_t) (nfailed * 1000 / total) : 0;

    case NGX_HTTP_GW_BREAKER_M_NEXT_PROBE:

        *scale = 3;

        if (p->state != NGX_HTTP_GW_BREAKER_OPEN
            || (ngx_msec_int_t) (p->open_until - now) <= 0)
        {
            return 0;
        }

        return (int64_t) (p->open_until - now);

    case NGX_HTTP_GW_BREAKER_M_TRIPS:
        return p->trips;

    case NGX_HTTP_GW_BREAKER_M_REQUESTS:
        return p->requests;

    case NGX_HTTP_GW_BREAKER_M_FAILURES:
        return p->failures;

    default: /* NGX_HTTP_GW_BREAKER_M_REJECTED */
        return p->rejected;
    }
}


/*
 * Configuration time: the wrapped balancer builds its peers, then the
 * breakers' zone is added for them.
 */

static ngx_int_t
ngx_http_gw_breaker_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_gw_breaker_srv_conf_t   *bcf, **bcfp;
    ngx_http_gw_breaker_main_conf_t  *bmcf;

    bcf = ngx_http_conf_upstream_srv_conf(us, ngx_http_gw_breaker_module);

    if (bcf->original_init_upstream(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    bcf->original_init_peer = us->peer.init;
    us->peer.init = ngx_http_gw_breaker_init_peer;

    bcf->initialized = 1;
    bcf->zone.reset = ngx_http_gw_breaker_reset;

    if (ngx_http_gw_peer_zone_add(cf, us, &bcf->zone, "gw_breaker",
                                  sizeof(ngx_http_gw_breaker_peer_t),
                                  &ngx_http_gw_breaker_module)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* for gw_status */

    bmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gw_breaker_module);

    bcfp = ngx_array_push(&bmcf->upstreams);
    if (bcfp == NULL) {
        return NGX_ERROR;
    }

    *bcfp = bcf;

    return NGX_OK;
}


/* on reload: probes in flight belong to the old workers */

static void
ngx_http_gw_breaker_reset(ngx_http_gw_peer_zone_t *pz, void *entry)
{
    ngx_http_gw_breaker_peer_t  *p = entry;

    p->probes = 0;
}


static void *
ngx_http_gw_breaker_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gw_breaker_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_breaker_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&conf->upstreams, cf->pool, 4,
                       sizeof(ngx_http_gw_breaker_srv_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    ngx_http_gw_reporter_init(&conf->reporter, "breaker",
                              ngx_http_gw_breaker_report);

    return conf;
}


static void *
ngx_http_gw_breaker_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_gw_breaker_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_breaker_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->failure_mask = 0;
     *     conf->enabled = 0;
     *     conf->original_init_upstream = NULL;
     */

    return conf;
}


static void *
ngx_http_gw_breaker_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gw_breaker_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_breaker_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->status = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_gw_breaker_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_gw_breaker_loc_conf_t  *prev = parent;
    ngx_http_gw_breaker_loc_conf_t  *conf = child;

    ngx_conf_merge_uint_value(conf->status, prev->status,
                              NGX_HTTP_SERVICE_UNAVAILABLE);

    return NGX_CONF_OK;
}


/*
 * gw_breaker [failures=N] [failure_rate=P min_requests=N] [window=T]
 *            [slow=T] [open=T] [max_open=T] [half_open=N] [successes=N];
 */

static char *
ngx_http_gw_breaker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_breaker_srv_conf_t *bcf = conf;

    ngx_int_t                      n;
    ngx_str_t                     *value, s;
    ngx_msec_t                     ms, *msp;
    ngx_uint_t                     i, *np, rate_set, failures_set;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (bcf->enabled) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    bcf->enabled = 1;
    bcf->failures = 5;
    bcf->failure_rate = 0;
    bcf->min_requests = 10;
    bcf->window = 10000;
    bcf->slow = 0;
    bcf->open = 30000;
    bcf->max_open = 300000;
    bcf->half_open = 1;
    bcf->successes = 1;

    rate_set = 0;
    failures_set = 0;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        np = NULL;
        msp = NULL;

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {
            np = &bcf->failures;
            s.data = value[i].data + 9;
            failures_set = 1;

        } else if (ngx_strncmp(value[i].data, "failure_rate=", 13) == 0) {
            np = &bcf->failure_rate;
            s.data = value[i].data + 13;
            rate_set = 1;

        } else if (ngx_strncmp(value[i].data, "min_requests=", 13) == 0) {
            np = &bcf->min_requests;
            s.data = value[i].data + 13;

        } else if (ngx_strncmp(value[i].data, "half_open=", 10) == 0) {
            np = &bcf->half_open;
            s.data = value[i].data + 10;

        } else if (ngx_strncmp(value[i].data, "successes=", 10) == 0) {
            np = &bcf->successes;
            s.data = value[i].data + 10;

        } else if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            msp = &bcf->window;
            s.data = value[i].data + 7;

        } else if (ngx_strncmp(value[i].data, "slow=", 5) == 0) {
            msp = &bcf->slow;
            s.data = value[i].data + 5;

        } else if (ngx_strncmp(value[i].data, "open=", 5) == 0) {
            msp = &bcf->open;
            s.data = value[i].data + 5;

        } else if (ngx_strncmp(value[i].data, "max_open=", 9) == 0) {
            msp = &bcf->max_open;
            s.data = value[i].data + 9;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        s.len = value[i].data + value[i].len - s.data;

        if (np) {
            n = ngx_atoi(s.data, s.len);

            if (n == NGX_ERROR || (np == &bcf->failure_rate && n > 100)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            *np = n;
            continue;
        }

        ms = ngx_parse_time(&s, 0);

        if (ms == (ngx_msec_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        *msp = ms;
    }

    if (rate_set && !failures_set) {
        /* only the rate was asked for */
        bcf->failures = 0;
    }

    if (bcf->failures == 0 && bcf->failure_rate == 0) {
        return "needs \"failures\" or \"failure_rate\" above zero";
    }

    if (bcf->half_open == 0 || bcf->successes == 0 || bcf->min_requests == 0)
    {
        return "needs \"half_open\", \"successes\" and \"min_requests\" "
               "above zero";
    }

    if (bcf->open == 0 || bcf->max_open < bcf->open) {
        return "needs \"open\" above zero and \"max_open\" not below it";
    }

    if (bcf->window < NGX_HTTP_GW_BREAKER_BUCKETS) {
        return "needs \"window\" of at least 10ms";
    }

    bcf->original_init_upstream = uscf->peer.init_upstream
                                  ? uscf->peer.init_upstream
                                  : ngx_http_upstream_init_round_robin;

    uscf->peer.init_upstream = ngx_http_gw_breaker_init_upstream;

    ngx_http_gw_breaker_used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_gw_breaker_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_breaker_loc_conf_t *blcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (blcf->status != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 400 || n > 599) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "value \"%V\" must be between 400 and 599",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    blcf->status = n;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gw_breaker_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    ngx_http_gw_breaker_used = 0;

    for (v = ngx_http_gw_breaker_vars; v->name.len; v++) {
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
ngx_http_gw_breaker_init(ngx_conf_t *cf)
{
    ngx_uint_t                       i;
    ngx_http_upstream_srv_conf_t   **uscfp;
    ngx_http_gw_breaker_srv_conf_t  *bcf;
    ngx_http_upstream_main_conf_t   *umcf;

    if (!ngx_http_gw_breaker_used) {
        return NGX_OK;
    }

    /* a balancer directive after gw_breaker would have replaced it */

    umcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_upstream_module);
    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {

        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        bcf = ngx_http_conf_upstream_srv_conf(uscfp[i],
                                              ngx_http_gw_breaker_module);

        if (bcf->enabled && !bcf->initialized) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"gw_breaker\" in upstream \"%V\" in %s:%ui "
                          "must follow the load balancing directive",
                          &uscfp[i]->host, uscfp[i]->file_name,
                          uscfp[i]->line);
            return NGX_ERROR;
        }

        if (bcf->enabled && bcf->failure_mask == 0) {
            bcf->failure_mask = NGX_HTTP_UPSTREAM_FT_ERROR
                                |NGX_HTTP_UPSTREAM_FT_TIMEOUT
                                |NGX_HTTP_UPSTREAM_FT_HTTP_502
                                |NGX_HTTP_UPSTREAM_FT_HTTP_503
                                |NGX_HTTP_UPSTREAM_FT_HTTP_504;
        }
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_gw_breaker_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_gw_breaker_body_filter;

    return NGX_OK;
}
