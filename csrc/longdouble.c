/* Long double arithmetic for INCRBYFLOAT and HINCRBYFLOAT.
 *
 * Redis does these increments in C `long double` (80-bit x87 extended on
 * x86_64) and prints the result with "%.17Lf" minus trailing zeroes. Rust has
 * no long double, and f64 gives different digits (3.0 + 1.1 prints
 * 4.09999999999999964 instead of 4.1), so the arithmetic is done here, by the
 * platform's own C library, exactly as Redis does on the same platform. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIGIL_LD_MAX_CHARS (5 * 1024)

/* Parse like Redis's string2ld: no leading blank, nothing left over, no NaN,
 * no overflow to infinity, no underflow to zero. */
static int parse_long_double(const char *s, size_t len, long double *out) {
    char buf[VIGIL_LD_MAX_CHARS];
    char *end;
    long double value;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' ||
        (errno == ERANGE &&
         (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        errno == EINVAL || isnan(value))
        return 0;
    *out = value;
    return 1;
}

/* "%.17Lf" with trailing zeroes (and a bare dot) removed, "-0" as "0". */
static int format_human(long double value, char *out, size_t cap) {
    int len = snprintf(out, cap, "%.17Lf", value);
    if (len < 0 || (size_t)len + 1 > cap) return -1;
    if (strchr(out, '.') != NULL) {
        char *p = out + len - 1;
        while (*p == '0') {
            p--;
            len--;
        }
        if (*p == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    return len;
}

/* out = current + increment, formatted for humans.
 * Returns the length written, or
 *   -1 current is not a valid float, -2 increment is not a valid float,
 *   -3 the result is NaN or infinite, -4 the result does not fit `cap`. */
int vigil_long_double_add(const char *current, size_t current_len,
                          const char *increment, size_t increment_len,
                          char *out, size_t cap) {
    long double a, b, sum;
    if (!parse_long_double(current, current_len, &a)) return -1;
    if (!parse_long_double(increment, increment_len, &b)) return -2;
    sum = a + b;
    if (isnan(sum) || isinf(sum)) return -3;
    int len = format_human(sum, out, cap);
    return len < 0 ? -4 : len;
}

/* A blocking command's timeout: seconds as Redis 7.0 reads them
 * (getTimeoutFromObjectOrReply), as milliseconds rounded up and converted to
 * long long the way C converts (an out-of-range value becomes LLONG_MIN on
 * x86_64). Returns 0 if `s` is not a valid float. */
int vigil_timeout_seconds_to_ms(const char *s, size_t len, long long *ms) {
    long double seconds;
    if (!parse_long_double(s, len, &seconds)) return 0;
    *ms = (long long)ceill(seconds * 1000.0);
    return 1;
}
