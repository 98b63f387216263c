
/*
 * Copyright (C) nginx-gw authors
 *
 * What a module reports to gw_status, and the counters it keeps for it.
 *
 * A module that reports puts an ngx_http_gw_reporter_t first in its main
 * configuration and fills it in with ngx_http_gw_reporter_init() in its
 * create_main_conf.  ngx_http_gw_status_module knows no module: for each
 * module of the running cycle whose name starts with "ngx_http_gw_" it
 * takes that module's main configuration, checks the reporter's magic and
 * version, and calls report() once per status request.  report() describes
 * each metric family with rp->family() and gives its values with
 * rp->sample(); the status module writes them as JSON or in Prometheus's
 * text format, so a module never formats output and the status module
 * never reads another module's state.  A module that is not loaded reports
 * nothing; a module loaded without a status location costs nothing but its
 * counters.
 *
 * Counters are ngx_atomic_t in a small shared zone of the module's own
 * (ngx_http_gw_counters_add), named "gw_status_<module>": shared by all
 * workers, kept across reload, incremented without a lock.  State that a
 * module already keeps in shared memory (limiter zones, peer zones) is read
 * from there by its report(), under that zone's mutex where it needs one.
 */


#ifndef _NGX_HTTP_GW_STATUS_H_INCLUDED_
#define _NGX_HTTP_GW_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_gw_common.h"


#define NGX_HTTP_GW_REPORTER_MAGIC    0x6777737461747573    /* "gwstatus" */
#define NGX_HTTP_GW_REPORTER_VERSION  1

#define NGX_HTTP_GW_COUNTER           1
#define NGX_HTTP_GW_GAUGE             2


typedef struct ngx_http_gw_report_s  ngx_http_gw_report_t;

/* conf: the module's main configuration, whose first member the reporter is */
typedef ngx_int_t (*ngx_http_gw_report_pt)(ngx_http_gw_report_t *rp,
    void *conf);


typedef struct {
    uint64_t                       magic;
    ngx_uint_t                     version;
    char                          *name;     /* "auth": nginx_gw_auth_... */
    ngx_http_gw_report_pt          report;
} ngx_http_gw_reporter_t;


typedef struct {
    char                          *name;     /* [a-z_]+ */
    ngx_str_t                      value;    /* any bytes: escaped on output */
} ngx_http_gw_label_t;


/* a family as a module lists it: rp->family(rp, m->name, m->type, m->help) */
typedef struct {
    char                          *name;
    ngx_uint_t                     type;     /* NGX_HTTP_GW_COUNTER, _GAUGE */
    char                          *help;
} ngx_http_gw_metric_t;


struct ngx_http_gw_report_s {
    /*
     * family(): starts a metric family; name is the part after
     * "nginx_gw_<module>_", e.g. "requests_total" (counters end in _total,
     * units are base units: seconds, bytes); help is one line of text.
     * All samples of a family follow its family() call.
     */
    ngx_int_t                    (*family)(ngx_http_gw_report_t *rp,
                                     char *name, ngx_uint_t type, char *help);

    /*
     * sample(): one value of the current family, value / 10^scale
     * (scale 0 to 6: a time in milliseconds is value ms with scale 3).
     * A family without labels has exactly one sample, with nlabels 0.
     */
    ngx_int_t                    (*sample)(ngx_http_gw_report_t *rp,
                                     ngx_http_gw_label_t *labels,
                                     ngx_uint_t nlabels, int64_t value,
                                     ngx_uint_t scale);

    void                          *data;      /* the status module's */
};


typedef struct {
    ngx_shm_zone_t                *shm_zone;
    ngx_atomic_t                  *c;         /* n counters, after init */
    ngx_uint_t                     n;
} ngx_http_gw_counters_t;


#define ngx_http_gw_reporter_init(rep, nm, fn)                                \
    (rep)->magic = NGX_HTTP_GW_REPORTER_MAGIC;                                \
    (rep)->version = NGX_HTTP_GW_REPORTER_VERSION;                            \
    (rep)->name = nm;                                                         \
    (rep)->report = fn

/* counters may be used before the zone exists (nginx -t): then no-ops */
#define ngx_http_gw_count(cs, i, v)                                           \
    if ((cs)->c) {                                                            \
        (void) ngx_atomic_fetch_add(&(cs)->c[i], v);                          \
    }

#define ngx_http_gw_counter(cs, i)                                            \
    ((cs)->c ? (int64_t) (cs)->c[i] : 0)


/*
 * Adds the zone "gw_status_<module>" holding n counters, zeroed when the
 * zone is new and kept when a reload finds it with the same n.
 */
NGX_HTTP_GW_LOCAL ngx_int_t ngx_http_gw_counters_add(ngx_conf_t *cf,
    ngx_http_gw_counters_t *cs, char *module, ngx_uint_t n, void *tag);


#endif /* _NGX_HTTP_GW_STATUS_H_INCLUDED_ */
