
/*
 * Copyright (C) nginx-gw authors
 *
 * What a Redis server (or something pretending to be one) sends the Redis
 * client.  The bytes go into a hiredis redisReader as the client's read
 * handler feeds it (ngx_http_gw_redis_read_handler()), in chunks whose size
 * the first byte chooses, and every reply that comes out goes through the
 * client's pure parsers: ngx_http_gw_redis_parse_redirect() on error (and
 * status and string) texts, ngx_http_gw_redis_parse_master() on every
 * reply and ngx_http_gw_redis_parse_slots() on every element of an array,
 * as the CLUSTER SLOTS handler does, to any depth.  What they return must
 * lie inside the reply and within the ranges the client then indexes with
 * (slot < 16384, port 1-65535).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_gw_redis.h"

#include "fuzz_ngx.h"


#define FZ_SLOTS  16384


static void fz_reply(redisReply *reply);
static void fz_host(ngx_str_t *host, ngx_int_t port, redisReply *reply);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t        chunk, n;
    void         *reply;
    redisReader  *reader;

    if (size == 0) {
        return 0;
    }

    /* 0: all at once; otherwise reads of that many bytes */

    chunk = data[0] ? data[0] : size;
    data++;
    size--;

    reader = ngx_http_gw_redis_reader_create();
    if (reader == NULL) {
        abort();
    }

    while (size) {
        n = ngx_min(chunk, size);

        if (redisReaderFeed(reader, (const char *) data, n) != REDIS_OK) {
            break;
        }

        data += n;
        size -= n;

        for ( ;; ) {
            reply = NULL;

            if (redisReaderGetReply(reader, &reply) != REDIS_OK) {
                /* the client closes the connection: a protocol error */
                goto done;
            }

            if (reply == NULL) {
                break;
            }

            fz_reply(reply);
            freeReplyObject(reply);
        }
    }

done:

    redisReaderFree(reader);

    return 0;
}


static void
fz_reply(redisReply *reply)
{
    size_t       i;
    ngx_int_t    port;
    ngx_str_t    host;
    ngx_uint_t   ask, slot, start, end;
    redisReply  *e;

    switch (reply->type) {

    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_STRING:

        if (ngx_http_gw_redis_parse_redirect((u_char *) reply->str,
                                             reply->len, &ask, &slot, &host,
                                             &port)
            == NGX_OK)
        {
            fz_check(ask <= 1 && slot < FZ_SLOTS);
            fz_check(fz_within(host.data, host.len, (uint8_t *) reply->str,
                               reply->len));
            fz_host(&host, port, NULL);
        }

        break;

    case REDIS_REPLY_ARRAY:

        for (i = 0; i < reply->elements; i++) {
            e = reply->element[i];

            if (ngx_http_gw_redis_parse_slots(e, &start, &end, &host, &port)
                == NGX_OK)
            {
                fz_check(start <= end && end < FZ_SLOTS);
                fz_host(&host, port, e->element[2]->element[0]);
            }

            /* hiredis nests arrays 7 deep at most */
            fz_reply(e);
        }

        break;

    default:
        break;
    }

    if (ngx_http_gw_redis_parse_master(reply, &host, &port) == NGX_OK) {
        fz_host(&host, port, reply->element[0]);
    }
}


/* a host and port the client would learn (ngx_http_gw_redis_server_learn) */

static void
fz_host(ngx_str_t *host, ngx_int_t port, redisReply *str)
{
    fz_check(host->len > 0 && host->data != NULL);
    fz_check(port >= 1 && port <= 65535);

    if (str != NULL) {
        fz_check(str->type == REDIS_REPLY_STRING);
        fz_check(fz_within(host->data, host->len, (uint8_t *) str->str,
                           str->len));
    }
}
