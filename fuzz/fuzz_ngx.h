
/*
 * Copyright (C) nginx-gw authors
 *
 * What every fuzz target shares.  The nginx tree the modules build against
 * (build/nginx, Debian's nginx-dev) has nginx's headers but no core
 * sources, so, as t/unit does, the targets link with test doubles of the
 * few core functions common/ calls (fuzz_ngx.c).  Their pool makes one
 * malloc() per allocation, so that AddressSanitizer sees an overflow of any
 * single pool allocation, which nginx's own pool would hide inside a block;
 * destroying the pool runs its cleanups and frees everything, so a leak on
 * any path is reported by LeakSanitizer.
 */


#ifndef _FUZZ_NGX_H_INCLUDED_
#define _FUZZ_NGX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* an invariant of a parser's result; a failed one is a crash to libFuzzer */
#define fz_check(expr)                                                       \
    if (!(expr)) fz_fail(__FILE__, __LINE__, #expr)


extern ngx_log_t  fz_log;


ngx_pool_t *fz_pool(void);
void fz_fail(const char *file, int line, const char *expr);

/* does [p, p + len) lie within [start, start + size)? */
ngx_uint_t fz_within(u_char *p, size_t len, const uint8_t *start,
    size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#endif /* _FUZZ_NGX_H_INCLUDED_ */
