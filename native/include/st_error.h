/* SPDX-License-Identifier: MIT */
/*
 * Error model shared by every native module.
 *
 * - Syscall-like functions return >= 0 on success or -errno (liburing style).
 * - Parsers return bytes consumed, ST_NEED_MORE, or a negative ST_E* code
 *   (picohttpparser style).
 * - Our own codes live below ST_ERRNO_MAX_NEG so they never collide with
 *   -errno values (the kernel keeps errno below 4096).
 */
#ifndef ST_ERROR_H
#define ST_ERROR_H

/* cdef-begin */
#define ST_OK                 0
#define ST_ERRNO_MAX_NEG      (-4095)

/* Not an error: the parser needs more input before it can make progress. */
#define ST_NEED_MORE          (-10000)
/* The CPU lacks the instructions an explicitly requested implementation needs. */
#define ST_ECPU_UNSUPPORTED   (-10001)
/* The caller's output buffer is too small for the result. */
#define ST_EBUFFER_TOO_SMALL  (-10002)
/* An implementation selector that names no implementation. */
#define ST_EBAD_IMPL          (-10003)

/*
 * Name of a code: "ST_ECPU_UNSUPPORTED", "ENOMEM", ... Never NULL; an unknown
 * code gives "ST_UNKNOWN_ERROR".
 */
const char *st_error_name(int code);

/*
 * One-line description of a code, e.g. "the CPU lacks the required
 * instruction set". Never NULL; an unknown code gives "unknown error code".
 */
const char *st_strerror(int code);
/* cdef-end */

#endif
