
/*
 * Copyright (C) nginx-gw authors
 *
 * Definitions every nginx-gw module and common/ part shares.  Functions of
 * common/ are compiled into each module that lists them in "config"; they
 * are declared NGX_HTTP_GW_LOCAL (hidden visibility), so that two of our
 * modules loaded into one nginx (dlopen(RTLD_GLOBAL)) never bind to each
 * other's copies.
 */


#ifndef _NGX_HTTP_GW_COMMON_H_INCLUDED_
#define _NGX_HTTP_GW_COMMON_H_INCLUDED_


#if (defined __GNUC__ || defined __clang__)
#define NGX_HTTP_GW_LOCAL  __attribute__((visibility("hidden")))
#else
#define NGX_HTTP_GW_LOCAL
#endif


#endif /* _NGX_HTTP_GW_COMMON_H_INCLUDED_ */
