/* Extended-precision helpers for INCRBYFLOAT / HINCRBYFLOAT.
 *
 * Redis parses, adds and prints these values as C `long double` (80-bit
 * x87 extended precision on x86-64), so results like 10.5 + 0.1 print as
 * "10.6". Rust has no long double; this shim gives us the platform's own
 * strtold / addition / "%.17Lf" so replies match byte for byte. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

/* Parses `len` bytes as a long double. Returns 0 on success. Rejects empty
 * input, leading spaces, trailing garbage, overflow and NaN, like Redis. */
int magpie_ld_parse(const char *s, size_t len, long double *out) {
    char buf[5 * 1024 + 1];
    char *end;
    if (len == 0 || len > 5 * 1024) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return -1;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != len || (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) || isnan(v))
        return -1;
    *out = v;
    return 0;
}

/* Adds two parsed values (as bytes) and formats the sum with "%.17Lf",
 * trailing zeros (and a trailing dot) removed. Returns the length written,
 * -1 on a parse error of either input, -2 if the sum is NaN or infinite. */
int magpie_ld_incr(const char *a, size_t alen, const char *b, size_t blen, char *out, size_t outlen) {
    long double x = 0, y;
    if (alen && magpie_ld_parse(a, alen, &x) != 0) return -1;
    if (magpie_ld_parse(b, blen, &y) != 0) return -3;
    long double v = x + y;
    if (isnan(v) || isinf(v)) return -2;
    int l = snprintf(out, outlen, "%.17Lf", v);
    if (l < 0 || (size_t)l >= outlen) return -2;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; l = 1; }
    return l;
}
