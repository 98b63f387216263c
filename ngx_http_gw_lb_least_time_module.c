
/*
 * Copyright (C) nginx-gw authors
 *
 * ngx_http_gw_lb_least_time_module: the least-time and least-bandwidth
 * upstream balancers.
 *
 * gw_least_time picks the peer with the lowest average response time
 * (to the header or to the last byte, a decaying average with time
 * constant "decay") times (active requests + 1) / weight; with "inflight"
 * requests still running count with their elapsed time.  gw_least_bandwidth
 * picks the peer with the fewest bytes sent and received over a sliding
 * window, per unit of weight.  Ties go round robin.
 *
 * Both are built on nginx's round-robin peers, so weight, down, backup,
 * max_fails/fail_timeout, max_conns and proxy_next_upstream behave as with
 * least_conn.  The figures live in a zone of their own per upstream,
 * shared by all workers and kept across reload (common/ngx_http_gw_peer_zone),
 * and gw_status shows them, one series per peer.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <math.h>

#include "ngx_http_gw_common.h"
#include "ngx_http_gw_peer_zone.h"
#include "ngx_http_gw_status.h"


#define NGX_HTTP_GW_LT_HEADER        1
#define NGX_HTTP_GW_LT_LAST_BYTE     2
#define NGX_HTTP_GW_LT_BANDWIDTH     3

#define NGX_HTTP_GW_LT_BUCKETS       10

/* the metric families reported to gw_status, in their order */
#define NGX_HTTP_GW_LT_M_RESPONSE    0
#define NGX_HTTP_GW_LT_M_BANDWIDTH   1
#define NGX_HTTP_GW_LT_M_ACTIVE      2
#define NGX_HTTP_GW_LT_M_SELECTED    3


/* one peer's figures, in the zone */

typedef struct {
    ngx_http_gw_peer_name_t            name;
    uint64_t                           avg;          /* microseconds */
    ngx_msec_t                         updated;
    ngx_uint_t                         samples;
    ngx_int_t                          active;
    uint64_t                           started;      /* sum of start times */
    ngx_uint_t                         chosen;       /* tick of last pick */
    ngx_uint_t                         selected;     /* picks */
    ngx_msec_t                         epoch[NGX_HTTP_GW_LT_BUCKETS];
    uint64_t                           bytes[NGX_HTTP_GW_LT_BUCKETS];
} ngx_http_gw_lt_peer_t;


typedef struct {
    ngx_uint_t                         mode;
    ngx_msec_t                         decay;
    ngx_msec_t                         window;
    ngx_flag_t                         inflight;
    ngx_http_gw_peer_zone_t            zone;
} ngx_http_gw_lt_srv_conf_t;


typedef struct {
    ngx_http_gw_reporter_t             reporter;     /* must be first */
    ngx_array_t                        upstreams;    /* srv_conf_t * */
} ngx_http_gw_lt_main_conf_t;


/* per request; starts with round robin's data, which round robin's free
 * and the breaker see */

typedef struct {
    ngx_http_upstream_rr_peer_data_t   rrp;
    ngx_http_gw_lt_srv_conf_t         *conf;
    ngx_http_request_t                *request;
    ngx_http_upstream_rr_peers_t      *primary;
    ngx_http_gw_lt_peer_t             *current;
    ngx_msec_t                         start;
    uint64_t                           score;
    unsigned                           scored:1;
} ngx_http_gw_lt_peer_data_t;


static ngx_int_t ngx_http_gw_lt_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t ngx_http_gw_lt_get_peer(ngx_peer_connection_t *pc,
    void *data);
static void ngx_http_gw_lt_cost(ngx_http_gw_lt_srv_conf_t *lcf,
    ngx_http_gw_lt_peer_t *e, ngx_msec_t now, uint64_t *cost);
static ngx_msec_t ngx_http_gw_lt_epoch(ngx_http_gw_lt_srv_conf_t *lcf,
    ngx_msec_t now);
static uint64_t ngx_http_gw_lt_window_bytes(ngx_http_gw_lt_peer_t *e,
    ngx_msec_t epoch);
static void ngx_http_gw_lt_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state);
static ngx_int_t ngx_http_gw_lt_score_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gw_lt_report(ngx_http_gw_report_t *rp,
    void *conf);
static int64_t ngx_http_gw_lt_figure(ngx_http_gw_lt_srv_conf_t *lcf,
    ngx_http_gw_lt_peer_t *e, ngx_uint_t metric, ngx_uint_t *scale);

static ngx_int_t ngx_http_gw_lt_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static void *ngx_http_gw_lt_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_gw_lt_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_gw_least_time(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_least_bandwidth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_gw_lt_set_balancer(ngx_conf_t *cf,
    ngx_http_gw_lt_srv_conf_t *lcf, ngx_uint_t mode);
static ngx_int_t ngx_http_gw_lt_add_variables(ngx_conf_t *cf);


static ngx_command_t  ngx_http_gw_lt_commands[] = {

    { ngx_string("gw_least_time"),
      NGX_HTTP_UPS_CONF|NGX_CONF_1MORE,
      ngx_http_gw_least_time,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gw_least_bandwidth"),
      NGX_HTTP_UPS_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_gw_least_bandwidth,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gw_lb_least_time_module_ctx = {
    ngx_http_gw_lt_add_variables,          /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_gw_lt_create_main_conf,       /* create main configuration */
    NULL,                                  /* init main configuration */

    ngx_http_gw_lt_create_srv_conf,        /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_gw_lb_least_time_module = {
    NGX_MODULE_V1,
    &ngx_http_gw_lb_least_time_module_ctx, /* module context */
    ngx_http_gw_lt_commands,               /* module directives */
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


/* the modes, as the "mode" label shows them */

static ngx_str_t  ngx_http_gw_lt_modes[] = {
    ngx_null_string,
    ngx_string("header"),
    ngx_string("last_byte"),
    ngx_string("bandwidth")
};


static ngx_http_gw_metric_t  ngx_http_gw_lt_metrics[] = {

    { "response_seconds", NGX_HTTP_GW_GAUGE,
      "Average response time of the peer (gw_least_time), as last updated, "
      "0 before its first response" },

    { "bandwidth_bytes_per_second", NGX_HTTP_GW_GAUGE,
      "Bytes sent to and received from the peer per second over the window "
      "(gw_least_bandwidth)" },

    { "active_requests", NGX_HTTP_GW_GAUGE,
      "Requests to the peer in progress" },

    { "selected_total", NGX_HTTP_GW_COUNTER,
      "Times the balancer chose the peer, retries and picks refused by "
      "gw_breaker included" },

    { NULL, 0, NULL }
};


static ngx_http_variable_t  ngx_http_gw_lt_vars[] = {

    { ngx_string("gw_upstream_score"), NULL,
      ngx_http_gw_lt_score_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_gw_lt_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_gw_lt_srv_conf_t   *lcf;
    ngx_http_gw_lt_peer_data_t  *lp;

    lcf = ngx_http_conf_upstream_srv_conf(us,
                                          ngx_http_gw_lb_least_time_module);

    lp = ngx_pcalloc(r->pool, sizeof(ngx_http_gw_lt_peer_data_t));
    if (lp == NULL) {
        return NGX_ERROR;
    }

    r->upstream->peer.data = &lp->rrp;

    if (ngx_http_upstream_init_round_robin_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }

    lp->conf = lcf;
    lp->request = r;
    lp->primary = lp->rrp.peers;

    r->upstream->peer.get = ngx_http_gw_lt_get_peer;
    r->upstream->peer.free = ngx_http_gw_lt_free_peer;

    ngx_http_set_ctx(r, lp, ngx_http_gw_lb_least_time_module);

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_lt_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_http_gw_lt_peer_data_t  *lp = data;

    time_t                             now;
    uint64_t                           cost[2], best[2], lhs, rhs;
    uintptr_t                          m;
    ngx_int_t                          rc;
    ngx_msec_t                         msec;
    ngx_uint_t                         i, n, base, p;
    ngx_http_gw_lt_peer_t             *e, *best_e;
    ngx_http_gw_peer_zone_t           *pz;
    ngx_http_gw_lt_srv_conf_t         *lcf;
    ngx_http_upstream_rr_peer_t       *peer, *best_peer;
    ngx_http_upstream_rr_peers_t      *peers;
    ngx_http_upstream_rr_peer_data_t  *rrp;

    rrp = &lp->rrp;
    lcf = lp->conf;
    pz = &lcf->zone;
    peers = rrp->peers;

    pc->cached = 0;
    pc->connection = NULL;

    now = ngx_time();
    msec = ngx_current_msec;

    base = (peers == lp->primary) ? 0 : pz->nprimary;

    ngx_http_upstream_rr_peers_wlock(peers);
    ngx_shmtx_lock(&pz->shpool->mutex);

    best_peer = NULL;
    best_e = NULL;
    best[0] = 0;
    best[1] = 1;
    p = 0;

    for (peer = peers->peer, i = 0; peer; peer = peer->next, i++) {

        n = i / (8 * sizeof(uintptr_t));
        m = (uintptr_t) 1 << i % (8 * sizeof(uintptr_t));

        if (rrp->tried[n] & m) {
            continue;
        }

        if (peer->down) {
            continue;
        }

        if (peer->max_fails
            && peer->fails >= peer->max_fails
            && now - peer->checked <= peer->fail_timeout)
        {
            continue;
        }

        if (peer->max_conns && peer->conns >= peer->max_conns) {
            continue;
        }

        if (base + i >= pz->sh->npeers) {
            break;
        }

        e = ngx_http_gw_peer_zone_entry(pz, base + i);

        ngx_http_gw_lt_cost(lcf, e, msec, cost);

        /*
         * cost / weight, compared without division; of equal ones, the
         * peer chosen least recently (round robin)
         */

        cost[1] = peer->weight;

        if (best_peer) {
            lhs = cost[0] * best[1];
            rhs = best[0] * cost[1];

            if (lhs > rhs) {
                continue;
            }

            if (lhs == rhs && e->chosen >= best_e->chosen) {
                continue;
            }
        }

        best_peer = peer;
        best_e = e;
        best[0] = cost[0];
        best[1] = cost[1];
        p = i;
    }

    if (best_peer == NULL) {
        ngx_shmtx_unlock(&pz->shpool->mutex);
        goto failed;
    }

    best_e->active++;
    best_e->started += msec;
    best_e->chosen = ++pz->sh->tick;
    best_e->selected++;

    ngx_shmtx_unlock(&pz->shpool->mutex);

    rrp->current = best_peer;

    n = p / (8 * sizeof(uintptr_t));
    m = (uintptr_t) 1 << p % (8 * sizeof(uintptr_t));

    rrp->tried[n] |= m;

    best_peer->conns++;

    if (now - best_peer->checked > best_peer->fail_timeout) {
        best_peer->checked = now;
    }

    pc->sockaddr = best_peer->sockaddr;
    pc->socklen = best_peer->socklen;
    pc->name = &best_peer->name;

    ngx_http_upstream_rr_peers_unlock(peers);

    lp->current = best_e;
    lp->start = msec;
    lp->score = best[0] / ngx_max(best[1], 1);
    lp->scored = 1;

    return NGX_OK;

failed:

    if (peers->next) {

        /* every primary peer is tried or unusable: the backup ones */

        rrp->peers = peers->next;

        n = (rrp->peers->number + (8 * sizeof(uintptr_t) - 1))
            / (8 * sizeof(uintptr_t));

        for (i = 0; i < n; i++) {
            rrp->tried[i] = 0;
        }

        ngx_http_upstream_rr_peers_unlock(peers);

        rc = ngx_http_gw_lt_get_peer(pc, lp);

        if (rc != NGX_BUSY) {
            return rc;
        }

        ngx_http_upstream_rr_peers_wlock(peers);
    }

    ngx_http_upstream_rr_peers_unlock(peers);

    pc->name = peers->name;

    return NGX_BUSY;
}


/*
 * Under the zone's mutex: a peer's cost, before division by its weight.
 * least_time: average time in microseconds, decayed towards zero while no
 * sample comes (so a peer once slow is tried again), at least 1 ms (the
 * resolution of nginx's clock), raised to the mean
 * elapsed time of its running requests with "inflight", times (active + 1);
 * a peer without samples costs 0 and is tried first.
 * least_bandwidth: bytes over the window.
 */

static void
ngx_http_gw_lt_cost(ngx_http_gw_lt_srv_conf_t *lcf, ngx_http_gw_lt_peer_t *e,
    ngx_msec_t now, uint64_t *cost)
{
    uint64_t    t, elapsed;
    ngx_int_t   active;

    if (lcf->mode == NGX_HTTP_GW_LT_BANDWIDTH) {
        cost[0] = ngx_http_gw_lt_window_bytes(e,
                                              ngx_http_gw_lt_epoch(lcf, now));
        return;
    }

    active = ngx_max(e->active, 0);

    if (e->samples == 0) {
        t = 0;

    } else {
        t = (uint64_t) ((double) e->avg
                        * exp(-(double) (ngx_msec_int_t) (now - e->updated)
                              / (double) lcf->decay));

        /* nginx measures in milliseconds: below one, times are equal */
        t = ngx_max(t, 1000);
    }

    if (lcf->inflight && active > 0) {
        elapsed = ((uint64_t) active * now > e->started)
                  ? ((uint64_t) active * now - e->started) * 1000 / active
                  : 0;
        t = ngx_max(t, elapsed);
    }

    cost[0] = t * (active + 1);
}


static void
ngx_http_gw_lt_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_http_gw_lt_peer_data_t  *lp = data;

    double                      w;
    uint64_t                    x, bytes;
    ngx_msec_t                  now, dt, epoch;
    ngx_uint_t                  i, sample;
    ngx_http_upstream_t        *u;
    ngx_http_gw_lt_peer_t      *e;
    ngx_peer_connection_t      *upc;
    ngx_http_gw_peer_zone_t    *pz;
    ngx_http_gw_lt_srv_conf_t  *lcf;

    e = lp->current;

    if (e == NULL) {
        ngx_http_upstream_free_round_robin_peer(pc, &lp->rrp, state);
        return;
    }

    lcf = lp->conf;
    pz = &lcf->zone;
    u = lp->request->upstream;
    upc = &u->peer;
    now = ngx_current_msec;

    /*
     * A pick released without an exchange (a breaker refused it, or the
     * client left first) is no sample; a failure is one only when it makes
     * the peer look slower.
     */

    sample = (u->state && u->state->bytes_received > 0)
             || (state & NGX_PEER_FAILED);

    x = 0;
    bytes = 0;

    if (sample) {
        if (lcf->mode == NGX_HTTP_GW_LT_HEADER
            && u->state->header_time != (ngx_msec_t) -1
            && !(state & NGX_PEER_FAILED))
        {
            x = (uint64_t) u->state->header_time * 1000;

        } else {
            x = (uint64_t) (now - lp->start) * 1000;
        }

        bytes = u->state->bytes_received + u->state->bytes_sent;

        if (upc->connection && u->state->bytes_sent == 0) {
            bytes += upc->connection->sent;
        }
    }

    ngx_shmtx_lock(&pz->shpool->mutex);

    /* a reload may have moved the peer's entry */
    if (pc->name == NULL
        || e->name.name_len != pc->name->len
        || ngx_memcmp(e->name.name, pc->name->data, pc->name->len) != 0)
    {
        e = ngx_http_gw_peer_zone_find(pz, pc->name);
        if (e == NULL) {
            ngx_shmtx_unlock(&pz->shpool->mutex);
            lp->current = NULL;
            ngx_http_upstream_free_round_robin_peer(pc, &lp->rrp, state);
            return;
        }
    }

    if (e->active > 0) {
        e->active--;
        e->started -= ngx_min(e->started, lp->start);
    }

    if (sample && lcf->mode == NGX_HTTP_GW_LT_BANDWIDTH) {
        epoch = ngx_http_gw_lt_epoch(lcf, now);
        i = epoch % NGX_HTTP_GW_LT_BUCKETS;

        if (e->epoch[i] != epoch) {
            e->epoch[i] = epoch;
            e->bytes[i] = 0;
        }

        e->bytes[i] += bytes;

    } else if (sample
               && (!(state & NGX_PEER_FAILED) || x > e->avg
                   || e->samples == 0))
    {
        if (e->samples == 0) {
            e->avg = x;

        } else {
            dt = ((ngx_msec_int_t) (now - e->updated) > 0)
                 ? now - e->updated : 1;
            w = exp(-(double) dt / (double) lcf->decay);
            e->avg = (uint64_t) ((double) e->avg * w + (double) x * (1 - w));
        }

        e->updated = now;
        e->samples++;
    }

    ngx_shmtx_unlock(&pz->shpool->mutex);

    lp->current = NULL;

    ngx_http_upstream_free_round_robin_peer(pc, &lp->rrp, state);
}


static ngx_int_t
ngx_http_gw_lt_score_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                      *p;
    ngx_http_gw_lt_peer_data_t  *lp;

    lp = ngx_http_get_module_ctx(r, ngx_http_gw_lb_least_time_module);

    if (lp == NULL || !lp->scored) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uL", lp->score) - p;
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* gw_least_bandwidth: the current bucket number of the window */

static ngx_msec_t
ngx_http_gw_lt_epoch(ngx_http_gw_lt_srv_conf_t *lcf, ngx_msec_t now)
{
    return now / ngx_max(lcf->window / NGX_HTTP_GW_LT_BUCKETS, 1);
}


/* bytes in the buckets of the window that ends at epoch */

static uint64_t
ngx_http_gw_lt_window_bytes(ngx_http_gw_lt_peer_t *e, ngx_msec_t epoch)
{
    uint64_t    sum;
    ngx_uint_t  i;

    sum = 0;

    for (i = 0; i < NGX_HTTP_GW_LT_BUCKETS; i++) {
        /* workers' clocks differ slightly: a bucket "ahead" counts */
        if ((ngx_msec_int_t) (epoch - e->epoch[i]) < NGX_HTTP_GW_LT_BUCKETS) {
            sum += e->bytes[i];
        }
    }

    return sum;
}


/*
 * gw_status: every peer of every upstream balanced here, one family at a
 * time; each peer's entry is copied under the zone's mutex and reported
 * from the copy.  response_seconds is for gw_least_time's upstreams,
 * bandwidth_bytes_per_second for gw_least_bandwidth's.
 */

static ngx_int_t
ngx_http_gw_lt_report(ngx_http_gw_report_t *rp, void *conf)
{
    ngx_http_gw_lt_main_conf_t *lmcf = conf;

    int64_t                      value;
    ngx_uint_t                   i, j, m, scale, bandwidth;
    ngx_http_gw_label_t          labels[3];
    ngx_http_gw_lt_peer_t        e;
    ngx_http_gw_metric_t        *metric;
    ngx_http_gw_peer_zone_t     *pz;
    ngx_http_gw_lt_srv_conf_t  **lcfp;

    lcfp = lmcf->upstreams.elts;

    labels[0].name = "upstream";
    labels[1].name = "peer";
    labels[2].name = "mode";

    for (m = 0; ngx_http_gw_lt_metrics[m].name; m++) {
        metric = &ngx_http_gw_lt_metrics[m];

        if (rp->family(rp, metric->name, metric->type, metric->help)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < lmcf->upstreams.nelts; i++) {
            pz = &lcfp[i]->zone;
            bandwidth = (lcfp[i]->mode == NGX_HTTP_GW_LT_BANDWIDTH);

            if ((m == NGX_HTTP_GW_LT_M_RESPONSE && bandwidth)
                || (m == NGX_HTTP_GW_LT_M_BANDWIDTH && !bandwidth))
            {
                continue;
            }

            labels[0].value = *pz->upstream;
            labels[2].value = ngx_http_gw_lt_modes[lcfp[i]->mode];

            for (j = 0;
                 ngx_http_gw_peer_zone_copy(pz, j, &e, sizeof(e)) == NGX_OK;
                 j++)
            {
                labels[1].value.len = e.name.name_len;
                labels[1].value.data = e.name.name;

                value = ngx_http_gw_lt_figure(lcfp[i], &e, m, &scale);

                if (rp->sample(rp, labels, 3, value, scale) != NGX_OK) {
                    return NGX_ERROR;
                }
            }
        }
    }

    return NGX_OK;
}


/* one figure of a peer, from a copy of its entry */

static int64_t
ngx_http_gw_lt_figure(ngx_http_gw_lt_srv_conf_t *lcf,
    ngx_http_gw_lt_peer_t *e, ngx_uint_t metric, ngx_uint_t *scale)
{
    uint64_t  sum;

    *scale = 0;

    switch (metric) {

    case NGX_HTTP_GW_LT_M_RESPONSE:

        /* microseconds */
        *scale = 6;

        return e->samples ? (int64_t) e->avg : 0;

    case NGX_HTTP_GW_LT_M_BANDWIDTH:

        sum = ngx_http_gw_lt_window_bytes(e,
                  ngx_http_gw_lt_epoch(lcf, ngx_current_msec));

        /* bytes per second, to three decimals */
        *scale = 3;

        return (int64_t) (sum * 1000 / lcf->window * 1000
                          + sum * 1000 % lcf->window * 1000 / lcf->window);

    case NGX_HTTP_GW_LT_M_ACTIVE:
        return ngx_max(e->active, 0);

    default: /* NGX_HTTP_GW_LT_M_SELECTED */
        return e->selected;
    }
}


static ngx_int_t
ngx_http_gw_lt_init_upstream(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    ngx_http_gw_lt_srv_conf_t   *lcf, **lcfp;
    ngx_http_gw_lt_main_conf_t  *lmcf;

    lcf = ngx_http_conf_upstream_srv_conf(us,
                                          ngx_http_gw_lb_least_time_module);

    if (ngx_http_upstream_init_round_robin(cf, us) != NGX_OK) {
        return NGX_ERROR;
    }

    us->peer.init = ngx_http_gw_lt_init_peer;

    if (ngx_http_gw_peer_zone_add(cf, us, &lcf->zone,
                                  lcf->mode == NGX_HTTP_GW_LT_BANDWIDTH
                                  ? "gw_least_bandwidth" : "gw_least_time",
                                  sizeof(ngx_http_gw_lt_peer_t),
                                  &ngx_http_gw_lb_least_time_module)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* for gw_status */

    lmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_gw_lb_least_time_module);

    lcfp = ngx_array_push(&lmcf->upstreams);
    if (lcfp == NULL) {
        return NGX_ERROR;
    }

    *lcfp = lcf;

    return NGX_OK;
}


static void *
ngx_http_gw_lt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gw_lt_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_lt_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&conf->upstreams, cf->pool, 4,
                       sizeof(ngx_http_gw_lt_srv_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    ngx_http_gw_reporter_init(&conf->reporter, "least_time",
                              ngx_http_gw_lt_report);

    return conf;
}


static void *
ngx_http_gw_lt_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_gw_lt_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_lt_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->mode = 0;
     *     conf->zone = { 0 };
     */

    conf->decay = 10000;
    conf->window = 10000;

    return conf;
}


/* gw_least_time header | last_byte [inflight] [decay=<time>] */

static char *
ngx_http_gw_least_time(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_lt_srv_conf_t *lcf = conf;

    ngx_str_t   *value, s;
    ngx_uint_t   i, mode;
    ngx_msec_t   ms;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "header") == 0) {
        mode = NGX_HTTP_GW_LT_HEADER;

    } else if (ngx_strcmp(value[1].data, "last_byte") == 0) {
        mode = NGX_HTTP_GW_LT_LAST_BYTE;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", "
                           "it must be \"header\" or \"last_byte\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "inflight") == 0) {
            lcf->inflight = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "decay=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            lcf->decay = ms;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return ngx_http_gw_lt_set_balancer(cf, lcf, mode);
}


/* gw_least_bandwidth [window=<time>] */

static char *
ngx_http_gw_least_bandwidth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_lt_srv_conf_t *lcf = conf;

    ngx_str_t   *value, s;
    ngx_msec_t   ms;

    value = cf->args->elts;

    if (cf->args->nelts == 2) {

        if (ngx_strncmp(value[1].data, "window=", 7) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        s.data = value[1].data + 7;
        s.len = value[1].len - 7;

        ms = ngx_parse_time(&s, 0);

        if (ms == (ngx_msec_t) NGX_ERROR || ms < NGX_HTTP_GW_LT_BUCKETS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        lcf->window = ms;
    }

    return ngx_http_gw_lt_set_balancer(cf, lcf, NGX_HTTP_GW_LT_BANDWIDTH);
}


static char *
ngx_http_gw_lt_set_balancer(ngx_conf_t *cf, ngx_http_gw_lt_srv_conf_t *lcf,
    ngx_uint_t mode)
{
    ngx_http_upstream_srv_conf_t  *uscf;

    if (lcf->mode) {
        return "is duplicate";
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined");
    }

    lcf->mode = mode;

    uscf->peer.init_upstream = ngx_http_gw_lt_init_upstream;

    uscf->flags = NGX_HTTP_UPSTREAM_CREATE
                  |NGX_HTTP_UPSTREAM_WEIGHT
                  |NGX_HTTP_UPSTREAM_MAX_CONNS
                  |NGX_HTTP_UPSTREAM_MAX_FAILS
                  |NGX_HTTP_UPSTREAM_FAIL_TIMEOUT
                  |NGX_HTTP_UPSTREAM_DOWN
                  |NGX_HTTP_UPSTREAM_BACKUP;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gw_lt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_gw_lt_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
