/*
 * fcgi_io.c: implements pyglue's request interface over libfcgi's streams,
 * on a connection that worker.c accepted.  We accept and close connections
 * ourselves to avoid libfcgi's 2-second waits (see ../shared/LIBFCGI.md):
 * its accept never runs (listen_sock is -1) and its lingering close never
 * runs (detached is set).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bridge/fcgi_io.h"
#include "bridge/fdio.h"
#include "bridge/log.h"

#define FCGI_VERSION_1 1
#define FCGI_STDOUT_TYPE 6
#define FCGI_HEADER_SIZE 8
/* Largest record body we emit ourselves: a multiple of 8, so no padding. */
#define FCGI_RECORD_MAX 65528
/* Bodies at least this long skip libfcgi's 8 KiB stream buffer. */
#define FCGI_DIRECT_MIN 16384

static ssize_t fcgi_read(fw_request_t *r, char *buf, size_t len);
static int fcgi_write(fw_request_t *r, const char *buf, size_t len);
static int fcgi_flush(fw_request_t *r);

static int fcgi_end_stdout(fw_fcgi_conn_t *c);

/* libfcgi's STDOUT buffer is 8 KiB less one record header; a write that
 * fits in the empty buffer is a memcpy (see fcgi_write). */
static const fw_gateway_ops_t fcgi_ops = {fcgi_read, fcgi_write, fcgi_flush,
                                          8192 - 8};

/* FastCGI's FCGI_AUTHORIZER role (fastcgi.h), and role = authorizer. */
#define FCGI_ROLE_AUTHORIZER 2
static int fcgi_force_authorizer;

int
fw_fcgi_io_global_init(void)
{
    if (FCGX_Init() != 0) {
        fw_log(FW_LOG_ERROR, "libfcgi failed to initialise");
        return -1;
    }
    return 0;
}

void
fw_fcgi_io_force_authorizer(int force)
{
    fcgi_force_authorizer = force;
}

void
fw_fcgi_io_init(fw_fcgi_conn_t *c)
{
    memset(c, 0, sizeof(*c));
    /* listen_sock -1: should libfcgi ever try to accept, it fails. */
    FCGX_InitRequest(&c->fcgx, -1, 0);
    c->req.ops = &fcgi_ops;
    c->req.conn = c;
}

int
fw_fcgi_io_begin(fw_fcgi_conn_t *c, int fd, int kept)
{
    int rc;

    c->fcgx.ipcFd = fd;
    /* FCGX_Accept_r first "finishes" the previous request: keep the fd. */
    c->fcgx.keepConnection = 1;
    /* If the request is malformed libfcgi closes fd: no lingering. */
    c->fcgx.detached = 1;

    rc = FCGX_Accept_r(&c->fcgx);
    if (rc < 0) {
        if (c->fcgx.ipcFd >= 0) {
            FCGX_Free(&c->fcgx, 0);
            close(c->fcgx.ipcFd);
            c->fcgx.ipcFd = -1;
        }
        if (!kept) {
            fw_log(FW_LOG_INFO, "closed a connection that sent no valid "
                                "FastCGI request");
        }
        return -1;
    }
    c->keep = c->fcgx.keepConnection;
    c->fcgx.detached = 1;
    c->req.params = c->fcgx.envp;
    c->req.role = c->fcgx.role == FCGI_ROLE_AUTHORIZER || fcgi_force_authorizer
                      ? FW_ROLE_AUTHORIZER
                      : FW_ROLE_RESPONDER;
    if (c->req.role == FW_ROLE_AUTHORIZER) {
        c->keep = 0; /* its STDIN is never read: the stream is not reusable */
    }
    c->resp_status = 0;
    c->resp_started = 0;
    c->resp_head_match = 0;
    c->resp_body_bytes = 0;
    return 0;
}

/*
 * Reads and drops what has arrived on fd without waiting: closing a TCP
 * socket with unread bytes sends a reset, which can make the web server
 * lose the response it has not read yet.
 */
static void
fcgi_discard_pending(int fd)
{
    char scratch[4096];

    while (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0) {
    }
}

int
fw_fcgi_io_end(fw_fcgi_conn_t *c, int abort)
{
    int fd = c->fcgx.ipcFd;
    int keep = c->keep && !abort;

    if (abort) {
        FCGX_Free(&c->fcgx, 0); /* frees streams, sends nothing */
    } else {
        /*
         * libfcgi ends STDOUT with an empty record only if its own stream
         * wrote something: when every byte went direct, we end it.
         */
        if (c->wrote_direct && !c->wrote_buffered) {
            (void)fcgi_end_stdout(c);
        }
        if (c->req.role == FW_ROLE_AUTHORIZER) {
            fcgi_discard_pending(fd); /* before libfcgi may close it */
        }
        c->fcgx.keepConnection = 1; /* we close, without lingering */
        c->fcgx.detached = 1;
        FCGX_Finish_r(&c->fcgx);
        fd = c->fcgx.ipcFd; /* -1 if libfcgi closed it on an error */
    }
    c->fcgx.ipcFd = -1;
    c->req.params = NULL;
    c->req.role = FW_ROLE_RESPONDER;
    c->wrote_direct = 0;
    c->wrote_buffered = 0;
    c->keep = 0;
    if (fd >= 0 && !keep) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/*
 * Follows the response through its writes, for the access log: the
 * status code of a header block starting "Status: NNN", and the body
 * bytes after the blank line that ends the block.  Costs an addition once
 * the header block is over.
 */
static void
fcgi_meter(fw_fcgi_conn_t *c, const char *buf, size_t len)
{
    static const char blank[] = "\r\n\r\n";

    if (c->resp_head_match == 4) {
        c->resp_body_bytes += len;
        return;
    }
    if (!c->resp_started && len >= 11 && memcmp(buf, "Status: ", 8) == 0 &&
        buf[8] >= '1' && buf[8] <= '9' && buf[9] >= '0' && buf[9] <= '9' &&
        buf[10] >= '0' && buf[10] <= '9') {
        c->resp_status =
            (buf[8] - '0') * 100 + (buf[9] - '0') * 10 + (buf[10] - '0');
    }
    c->resp_started = 1;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == blank[c->resp_head_match]) {
            c->resp_head_match++;
        } else {
            c->resp_head_match = buf[i] == '\r';
        }
        if (c->resp_head_match == 4) {
            c->resp_body_bytes += len - i - 1;
            return;
        }
    }
}

static ssize_t
fcgi_read(fw_request_t *r, char *buf, size_t len)
{
    fw_fcgi_conn_t *c = r->conn;
    int n;

    if (r->role == FW_ROLE_AUTHORIZER) {
        return 0; /* no body; its STDIN may never come */
    }
    if (len > (size_t)1 << 30) {
        len = (size_t)1 << 30;
    }
    n = FCGX_GetStr(buf, (int)len, c->fcgx.in);
    if (n == 0 && FCGX_GetError(c->fcgx.in) != 0) {
        return -1;
    }
    return n;
}

/*
 * Writes FCGI_STDOUT records straight from buf with writev: no copy into
 * libfcgi's buffer, one system call per 64 KiB.  What libfcgi buffered is
 * flushed first so the bytes stay in order.
 */
static int
fcgi_write_direct(fw_fcgi_conn_t *c, const char *buf, size_t len)
{
    unsigned char hdr[FCGI_HEADER_SIZE];
    struct iovec iov[2];
    int id = c->fcgx.requestId;

    if (FCGX_FFlush(c->fcgx.out) < 0) {
        return -1;
    }
    c->wrote_direct = 1;

    while (len > 0) {
        size_t n = len < FCGI_RECORD_MAX ? len : FCGI_RECORD_MAX;
        size_t done = 0, total = FCGI_HEADER_SIZE + n;

        hdr[0] = FCGI_VERSION_1;
        hdr[1] = FCGI_STDOUT_TYPE;
        hdr[2] = (unsigned char)((id >> 8) & 0xff);
        hdr[3] = (unsigned char)(id & 0xff);
        hdr[4] = (unsigned char)((n >> 8) & 0xff);
        hdr[5] = (unsigned char)(n & 0xff);
        hdr[6] = 0;
        hdr[7] = 0;

        while (done < total) {
            ssize_t w;

            if (done < FCGI_HEADER_SIZE) {
                iov[0].iov_base = hdr + done;
                iov[0].iov_len = FCGI_HEADER_SIZE - done;
                iov[1].iov_base = (void *)buf;
                iov[1].iov_len = n;
                w = writev(c->fcgx.ipcFd, iov, 2);
            } else {
                w = write(c->fcgx.ipcFd, buf + (done - FCGI_HEADER_SIZE),
                          total - done);
            }
            if (w < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return -1;
            }
            done += (size_t)w;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

static int
fcgi_write(fw_request_t *r, const char *buf, size_t len)
{
    fw_fcgi_conn_t *c = r->conn;

    fcgi_meter(c, buf, len);
    if (len >= FCGI_DIRECT_MIN) {
        return fcgi_write_direct(c, buf, len);
    }
    c->wrote_buffered = 1;
    return FCGX_PutStr(buf, (int)len, c->fcgx.out) == (int)len ? 0 : -1;
}

static int
fcgi_flush(fw_request_t *r)
{
    fw_fcgi_conn_t *c = r->conn;

    return FCGX_FFlush(c->fcgx.out) < 0 ? -1 : 0;
}

/* The empty FCGI_STDOUT record that ends the stream. */
static int
fcgi_end_stdout(fw_fcgi_conn_t *c)
{
    unsigned char hdr[FCGI_HEADER_SIZE] = {FCGI_VERSION_1, FCGI_STDOUT_TYPE};

    hdr[2] = (unsigned char)((c->fcgx.requestId >> 8) & 0xff);
    hdr[3] = (unsigned char)(c->fcgx.requestId & 0xff);
    return fw_fdio_write_all(c->fcgx.ipcFd, hdr, sizeof(hdr));
}
