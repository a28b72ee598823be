/*
 * fdio.h: whole writes on a descriptor, for the few places that write
 * FastCGI records or CGI output themselves (not through libfcgi).
 */
#ifndef FW_FDIO_H
#define FW_FDIO_H

#include <stddef.h>

/* Writes all len bytes (retrying short writes and EINTR).  0, or -1 with
 * errno set. */
int fw_fdio_write_all(int fd, const void *buf, size_t len);

#endif /* FW_FDIO_H */
