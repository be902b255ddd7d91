/* SPDX-License-Identifier: MIT */
/*
 * The io_uring event loop. So far only the probe that `stratum check` uses;
 * the ring, connections and modes arrive with the hot line.
 */
#ifndef ST_LOOP_H
#define ST_LOOP_H

/* cdef-begin */
/*
 * Sets up and tears down a small io_uring to prove the kernel allows it.
 * Returns 0, or -errno (-ENOSYS: no io_uring; -EPERM: disabled by
 * kernel.io_uring_disabled or a seccomp policy; -ENOMEM: locked-memory limit).
 */
int st_loop_probe(void);
/* cdef-end */

#endif
