
/*
 * Copyright (C) nginx-gw authors
 *
 * Webhook signature headers, as the webhook module reads them
 * (ngx_http_gw_webhook_headers() and ngx_http_gw_webhook_add_sig()):
 * the input is a header value given to ngx_http_gw_sig_parse_stripe()
 * ("Stripe-Signature") and ngx_http_gw_sig_parse_standard()
 * ("webhook-signature"); each candidate signature is decoded, in both
 * encodings, into a stack buffer of NGX_HTTP_GW_SIG_MAX_LEN bytes as the
 * module's is, and a Stripe timestamp goes to ngx_http_gw_sig_parse_time().
 * The whole value is also decoded and parsed as a timestamp, as the
 * prefixed schemes (GitHub "sha256=<hex>", Shopify base64) and the
 * separate timestamp headers (Slack, Standard Webhooks) are.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_gw_sig.h"

#include "fuzz_ngx.h"


static void fz_decode(ngx_str_t *sig, const uint8_t *data, size_t size);
static void fz_list(ngx_http_gw_sig_list_t *list, const uint8_t *data,
    size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    time_t                  t;
    ngx_int_t               rc;
    ngx_str_t               value;
    ngx_http_gw_sig_list_t  list;

    value.data = (u_char *) data;
    value.len = size;

    rc = ngx_http_gw_sig_parse_stripe(value.data, value.len, &list);
    fz_check(rc == NGX_OK || rc == NGX_DECLINED);

    if (rc == NGX_OK) {
        fz_check(list.timestamp.data != NULL && list.nsigs > 0);
        fz_check(fz_within(list.timestamp.data, list.timestamp.len, data,
                           size));
        fz_list(&list, data, size);

        if (ngx_http_gw_sig_parse_time(list.timestamp.data,
                                       list.timestamp.len, &t)
            == NGX_OK)
        {
            fz_check(t >= 0 && t <= 999999999999);
        }
    }

    rc = ngx_http_gw_sig_parse_standard(value.data, value.len, &list);
    fz_check(rc == NGX_OK || rc == NGX_DECLINED);

    if (rc == NGX_OK) {
        fz_check(list.nsigs > 0);
        fz_list(&list, data, size);
    }

    fz_decode(&value, data, size);

    if (ngx_http_gw_sig_parse_time(value.data, value.len, &t) == NGX_OK) {
        fz_check(size >= 1 && size <= 12 && t >= 0);
    }

    return 0;
}


static void
fz_list(ngx_http_gw_sig_list_t *list, const uint8_t *data, size_t size)
{
    ngx_uint_t  i;

    fz_check(list->nsigs <= NGX_HTTP_GW_SIG_MAX);

    for (i = 0; i < list->nsigs; i++) {
        fz_check(list->sigs[i].len > 0);
        fz_check(fz_within(list->sigs[i].data, list->sigs[i].len, data,
                           size));
        fz_decode(&list->sigs[i], data, size);
    }
}


/* as ngx_http_gw_webhook_add_sig(): into a buffer of the largest MAC */

static void
fz_decode(ngx_str_t *sig, const uint8_t *data, size_t size)
{
    size_t      len;
    ngx_int_t   rc;
    ngx_uint_t  encoding;
    u_char      buf[NGX_HTTP_GW_SIG_MAX_LEN];

    for (encoding = NGX_HTTP_GW_SIG_HEX;
         encoding <= NGX_HTTP_GW_SIG_BASE64;
         encoding++)
    {
        len = (size_t) -1;

        rc = ngx_http_gw_sig_decode(encoding, sig->data, sig->len, buf, &len);
        fz_check(rc == NGX_OK || rc == NGX_DECLINED);

        if (rc == NGX_OK) {
            fz_check(len <= NGX_HTTP_GW_SIG_MAX_LEN);
        }
    }
}
