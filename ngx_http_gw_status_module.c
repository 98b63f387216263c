
/*
 * Copyright (C) nginx-gw authors
 *
 * gw_status: a content handler that shows what every gw module loaded into
 * this nginx reports, as JSON or in Prometheus's text exposition format.
 * It knows no module: modules describe their metrics through the reporter
 * interface of common/ngx_http_gw_status.h and keep the figures in their
 * own shared memory, so the view is the same from every worker and
 * survives reload.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_gw_status.h"


#define NGX_HTTP_GW_STATUS_JSON        1
#define NGX_HTTP_GW_STATUS_PROMETHEUS  2

#define NGX_HTTP_GW_STATUS_BUF_SIZE    8192
#define NGX_HTTP_GW_STATUS_MAX_SCALE   6


typedef struct {
    ngx_uint_t                     format;
} ngx_http_gw_status_loc_conf_t;


/* the output being written, and where in it the writer is */

typedef struct {
    ngx_http_request_t            *r;
    ngx_uint_t                     format;

    ngx_chain_t                   *out;
    ngx_chain_t                  **last;
    ngx_buf_t                     *b;

    ngx_str_t                      module;
    u_char                        *family;     /* full name, for samples */
    ngx_uint_t                     nsamples;
    ngx_uint_t                     array;      /* JSON: "[" is open */
    ngx_uint_t                     nfamilies;
} ngx_http_gw_status_out_t;


static ngx_int_t ngx_http_gw_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gw_status_module_report(
    ngx_http_gw_status_out_t *so, ngx_module_t *m);
static ngx_int_t ngx_http_gw_status_family(ngx_http_gw_report_t *rp,
    char *name, ngx_uint_t type, char *help);
static ngx_int_t ngx_http_gw_status_sample(ngx_http_gw_report_t *rp,
    ngx_http_gw_label_t *labels, ngx_uint_t nlabels, int64_t value,
    ngx_uint_t scale);
static ngx_int_t ngx_http_gw_status_close_family(
    ngx_http_gw_status_out_t *so);
static ngx_int_t ngx_http_gw_status_value(ngx_http_gw_status_out_t *so,
    int64_t value, ngx_uint_t scale);
static ngx_int_t ngx_http_gw_status_escaped(ngx_http_gw_status_out_t *so,
    u_char *p, size_t len);
static ngx_int_t ngx_http_gw_status_write(ngx_http_gw_status_out_t *so,
    u_char *p, size_t len);
static ngx_int_t ngx_http_gw_status_printf(ngx_http_gw_status_out_t *so,
    const char *fmt, ...);

static void *ngx_http_gw_status_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gw_status_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_gw_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#define ngx_http_gw_status_literal(so, s)                                     \
    ngx_http_gw_status_write(so, (u_char *) s, sizeof(s) - 1)


static ngx_command_t  ngx_http_gw_status_commands[] = {

    { ngx_string("gw_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_gw_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gw_status_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gw_status_create_loc_conf,    /* create location configuration */
    ngx_http_gw_status_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_gw_status_module = {
    NGX_MODULE_V1,
    &ngx_http_gw_status_module_ctx,        /* module context */
    ngx_http_gw_status_commands,           /* module directives */
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


static ngx_str_t  ngx_http_gw_status_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_gw_status_prometheus_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


static ngx_int_t
ngx_http_gw_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                       arg;
    ngx_uint_t                      i;
    ngx_chain_t                    *cl;
    ngx_module_t                   *m;
    ngx_http_gw_status_out_t        so;
    ngx_http_gw_status_loc_conf_t  *slcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_gw_status_module);

    ngx_memzero(&so, sizeof(ngx_http_gw_status_out_t));
    so.r = r;
    so.format = slcf->format;
    so.last = &so.out;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK) {

        if (arg.len == 10 && ngx_strncmp(arg.data, "prometheus", 10) == 0) {
            so.format = NGX_HTTP_GW_STATUS_PROMETHEUS;

        } else if (arg.len == 4 && ngx_strncmp(arg.data, "json", 4) == 0) {
            so.format = NGX_HTTP_GW_STATUS_JSON;

        } else {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gw_status: unknown format \"%V\"", &arg);
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    if (so.format == NGX_HTTP_GW_STATUS_JSON) {
        rc = ngx_http_gw_status_printf(&so,
                 "{\"nginx_gw\":{\"nginx_version\":\"" NGINX_VERSION "\","
                 "\"pid\":%P,\"time\":%T}", ngx_pid, ngx_time());

    } else {
        rc = ngx_http_gw_status_literal(&so,
                 "# HELP nginx_gw_info nginx-gw status: the nginx version "
                 "serving it\n"
                 "# TYPE nginx_gw_info gauge\n"
                 "nginx_gw_info{nginx_version=\"" NGINX_VERSION "\"} 1\n");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < ngx_cycle->modules_n; i++) {
        m = ngx_cycle->modules[i];

        if (m->type != NGX_HTTP_MODULE
            || ngx_strncmp(m->name, "ngx_http_gw_", 12) != 0)
        {
            continue;
        }

        if (ngx_http_gw_status_module_report(&so, m) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (so.format == NGX_HTTP_GW_STATUS_JSON
        && ngx_http_gw_status_literal(&so, "}\n") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (so.b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    so.b->last_buf = (r == r->main) ? 1 : 0;
    so.b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = (so.format == NGX_HTTP_GW_STATUS_JSON)
                                  ? ngx_http_gw_status_json_type
                                  : ngx_http_gw_status_prometheus_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = 0;

    *so.last = NULL;

    for (cl = so.out; cl; cl = cl->next) {
        r->headers_out.content_length_n += ngx_buf_size(cl->buf);
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, so.out);
}


/* one module: its JSON object, or its families in Prometheus's format */

static ngx_int_t
ngx_http_gw_status_module_report(ngx_http_gw_status_out_t *so,
    ngx_module_t *m)
{
    void                    **main_conf;
    ngx_http_gw_report_t      rp;
    ngx_http_gw_reporter_t   *rep;

    main_conf = ((ngx_http_conf_ctx_t *)
                 ngx_cycle->conf_ctx[ngx_http_module.index])->main_conf;

    rep = main_conf[m->ctx_index];

    if (rep == NULL
        || rep->magic != NGX_HTTP_GW_REPORTER_MAGIC
        || rep->version != NGX_HTTP_GW_REPORTER_VERSION
        || rep->report == NULL)
    {
        return NGX_OK;
    }

    so->module.data = (u_char *) rep->name;
    so->module.len = ngx_strlen(rep->name);
    so->family = NULL;
    so->nfamilies = 0;

    if (so->format == NGX_HTTP_GW_STATUS_JSON
        && ngx_http_gw_status_printf(so, ",\"%V\":{", &so->module) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rp.family = ngx_http_gw_status_family;
    rp.sample = ngx_http_gw_status_sample;
    rp.data = so;

    if (rep->report(&rp, rep) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_gw_status_close_family(so) != NGX_OK) {
        return NGX_ERROR;
    }

    if (so->format == NGX_HTTP_GW_STATUS_JSON) {
        return ngx_http_gw_status_literal(so, "}");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_status_family(ngx_http_gw_report_t *rp, char *name,
    ngx_uint_t type, char *help)
{
    ngx_http_gw_status_out_t *so = rp->data;

    u_char  *p;
    size_t   len;

    if (ngx_http_gw_status_close_family(so) != NGX_OK) {
        return NGX_ERROR;
    }

    len = sizeof("nginx_gw__") - 1 + so->module.len + ngx_strlen(name);

    p = ngx_pnalloc(so->r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *ngx_sprintf(p, "nginx_gw_%V_%s", &so->module, name) = '\0';

    so->family = p;
    so->nsamples = 0;
    so->array = 0;

    if (so->format == NGX_HTTP_GW_STATUS_JSON) {
        return ngx_http_gw_status_printf(so, "%s\"%s\":",
                                         so->nfamilies++ ? "," : "", name);
    }

    so->nfamilies++;

    return ngx_http_gw_status_printf(so, "# HELP %s %s\n# TYPE %s %s\n",
                                     p, help, p,
                                     type == NGX_HTTP_GW_COUNTER
                                     ? "counter" : "gauge");
}


static ngx_int_t
ngx_http_gw_status_sample(ngx_http_gw_report_t *rp,
    ngx_http_gw_label_t *labels, ngx_uint_t nlabels, int64_t value,
    ngx_uint_t scale)
{
    ngx_http_gw_status_out_t *so = rp->data;

    ngx_uint_t  i;

    if (so->family == NULL || scale > NGX_HTTP_GW_STATUS_MAX_SCALE) {
        ngx_log_error(NGX_LOG_ALERT, so->r->connection->log, 0,
                      "gw_status: module \"%V\" reported a sample "
                      "out of place", &so->module);
        return NGX_ERROR;
    }

    if (so->format == NGX_HTTP_GW_STATUS_PROMETHEUS) {

        if (ngx_http_gw_status_printf(so, "%s", so->family) != NGX_OK) {
            return NGX_ERROR;
        }

        for (i = 0; i < nlabels; i++) {
            if (ngx_http_gw_status_printf(so, "%s%s=\"", i ? "," : "{",
                                          labels[i].name)
                != NGX_OK
                || ngx_http_gw_status_escaped(so, labels[i].value.data,
                                              labels[i].value.len)
                   != NGX_OK
                || ngx_http_gw_status_literal(so, "\"") != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_http_gw_status_printf(so, "%s", nlabels ? "} " : " ") != NGX_OK
            || ngx_http_gw_status_value(so, value, scale) != NGX_OK)
        {
            return NGX_ERROR;
        }

        so->nsamples++;

        return ngx_http_gw_status_literal(so, "\n");
    }

    /*
     * JSON: a family without labels is a number; one with labels is an
     * array of objects holding the labels and "value"
     */

    if (so->nsamples == 0 && nlabels) {
        so->array = 1;

        if (ngx_http_gw_status_literal(so, "[") != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (so->nsamples && !so->array) {
        ngx_log_error(NGX_LOG_ALERT, so->r->connection->log, 0,
                      "gw_status: module \"%V\" reported two samples "
                      "without labels for \"%s\"", &so->module, so->family);
        return NGX_ERROR;
    }

    if (so->array) {
        if (ngx_http_gw_status_printf(so, "%s", so->nsamples ? ",{" : "{")
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        for (i = 0; i < nlabels; i++) {
            if (ngx_http_gw_status_printf(so, "\"%s\":\"", labels[i].name)
                != NGX_OK
                || ngx_http_gw_status_escaped(so, labels[i].value.data,
                                              labels[i].value.len)
                   != NGX_OK
                || ngx_http_gw_status_literal(so, "\",") != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (ngx_http_gw_status_literal(so, "\"value\":") != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_http_gw_status_value(so, value, scale) != NGX_OK) {
        return NGX_ERROR;
    }

    so->nsamples++;

    return so->array ? ngx_http_gw_status_literal(so, "}") : NGX_OK;
}


static ngx_int_t
ngx_http_gw_status_close_family(ngx_http_gw_status_out_t *so)
{
    if (so->family == NULL || so->format != NGX_HTTP_GW_STATUS_JSON) {
        return NGX_OK;
    }

    so->family = NULL;

    if (so->array) {
        return ngx_http_gw_status_literal(so, "]");
    }

    /* a family that had no sample: an empty array */

    if (so->nsamples == 0) {
        return ngx_http_gw_status_literal(so, "[]");
    }

    return NGX_OK;
}


/* value / 10^scale in decimal, without floating point */

static ngx_int_t
ngx_http_gw_status_value(ngx_http_gw_status_out_t *so, int64_t value,
    ngx_uint_t scale)
{
    u_char      *p, buf[NGX_INT64_LEN + 2 + NGX_HTTP_GW_STATUS_MAX_SCALE];
    uint64_t     v, div, frac;
    ngx_uint_t   i;

    p = buf;

    if (value < 0) {
        *p++ = '-';
        v = (uint64_t) 0 - (uint64_t) value;

    } else {
        v = (uint64_t) value;
    }

    for (div = 1, i = 0; i < scale; i++) {
        div *= 10;
    }

    p = ngx_sprintf(p, "%uL", v / div);

    if (scale) {
        frac = v % div;
        *p++ = '.';

        for (i = scale; i > 0; i--) {
            p[i - 1] = (u_char) ('0' + frac % 10);
            frac /= 10;
        }

        p += scale;
    }

    return ngx_http_gw_status_write(so, buf, p - buf);
}


/*
 * A label value: Prometheus escapes backslash, double quote and line feed;
 * JSON also every other control character.
 */

static ngx_int_t
ngx_http_gw_status_escaped(ngx_http_gw_status_out_t *so, u_char *p,
    size_t len)
{
    u_char   c, esc[8];
    size_t   n;
    u_char  *start;

    for (start = p; len; len--, p++) {
        c = *p;

        if (c == '\\' || c == '"') {
            esc[0] = '\\';
            esc[1] = c;
            n = 2;

        } else if (c == '\n') {
            esc[0] = '\\';
            esc[1] = 'n';
            n = 2;

        } else if (c < 0x20 && so->format == NGX_HTTP_GW_STATUS_JSON) {
            n = ngx_sprintf(esc, "\\u%04xd", (ngx_uint_t) c) - esc;

        } else {
            continue;
        }

        if (ngx_http_gw_status_write(so, start, p - start) != NGX_OK
            || ngx_http_gw_status_write(so, esc, n) != NGX_OK)
        {
            return NGX_ERROR;
        }

        start = p + 1;
    }

    return ngx_http_gw_status_write(so, start, p - start);
}


static ngx_int_t
ngx_http_gw_status_write(ngx_http_gw_status_out_t *so, u_char *p, size_t len)
{
    size_t        n;
    ngx_chain_t  *cl;

    while (len) {

        if (so->b == NULL || so->b->last == so->b->end) {
            so->b = ngx_create_temp_buf(so->r->pool,
                                        NGX_HTTP_GW_STATUS_BUF_SIZE);
            if (so->b == NULL) {
                return NGX_ERROR;
            }

            cl = ngx_alloc_chain_link(so->r->pool);
            if (cl == NULL) {
                return NGX_ERROR;
            }

            cl->buf = so->b;
            *so->last = cl;
            so->last = &cl->next;
        }

        n = ngx_min(len, (size_t) (so->b->end - so->b->last));
        so->b->last = ngx_cpymem(so->b->last, p, n);
        p += n;
        len -= n;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gw_status_printf(ngx_http_gw_status_out_t *so, const char *fmt, ...)
{
    u_char   *p, buf[1024];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    return ngx_http_gw_status_write(so, buf, p - buf);
}


static void *
ngx_http_gw_status_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gw_status_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gw_status_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->format = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_gw_status_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_gw_status_loc_conf_t *prev = parent;
    ngx_http_gw_status_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->format, prev->format,
                              NGX_HTTP_GW_STATUS_JSON);

    return NGX_CONF_OK;
}


static char *
ngx_http_gw_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gw_status_loc_conf_t *slcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (slcf->format != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 1 || ngx_strcmp(value[1].data, "json") == 0) {
        slcf->format = NGX_HTTP_GW_STATUS_JSON;

    } else if (ngx_strcmp(value[1].data, "prometheus") == 0) {
        slcf->format = NGX_HTTP_GW_STATUS_PROMETHEUS;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid format \"%V\", it must be "
                           "\"json\" or \"prometheus\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_gw_status_handler;

    return NGX_CONF_OK;
}
