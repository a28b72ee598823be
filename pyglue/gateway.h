/*
 * gateway.h: the whole interface pyglue needs from a server.  The bridge
 * implements it over libfcgi (bridge/fcgi_io.c); the unit tests implement it
 * in memory (tests/unit/mem_gateway.c).  Nothing here knows about FastCGI.
 */
#ifndef FW_GATEWAY_H
#define FW_GATEWAY_H

#include <stddef.h>
#include <sys/types.h>

typedef enum {
    FW_LOG_ERROR = 0,
    FW_LOG_WARN,
    FW_LOG_INFO,
    FW_LOG_DEBUG
} fw_log_level_e;

typedef struct fw_request_s fw_request_t;

/*
 * What the web server asks of the application for one request (FastCGI's
 * roles; a CGI request is a responder).
 */
typedef enum {
    FW_ROLE_RESPONDER = 0, /* the response goes to the client */
    FW_ROLE_AUTHORIZER     /* a 200 lets the request through (its
                              Variable-NAME headers become request
                              variables), any other response is sent to
                              the client as the denial; there is no body */
} fw_role_e;

typedef struct {
    /*
     * Reads at most len bytes of the request body into buf, blocking until
     * some arrive.  Returns the count, 0 at the end of the body, -1 when the
     * connection failed.  Called without the GIL.
     */
    ssize_t (*read)(fw_request_t *r, char *buf, size_t len);

    /*
     * Writes len bytes of the response: first the CGI header block
     * ("Status: 200 OK\r\nName: value\r\n\r\n"), then the body.  May buffer.
     * Returns 0, or -1 when the web server is gone.  Called without the GIL.
     */
    int (*write)(fw_request_t *r, const char *buf, size_t len);

    /*
     * Sends what write() buffered now.  0 or -1.  Called without the GIL.
     * Not needed at the end of a response: the server sends what is
     * buffered when the request ends.
     */
    int (*flush)(fw_request_t *r);

    /*
     * A promise: the first write() of a response, when it is at most this
     * many bytes, only copies into the server's buffer and cannot block, so
     * pyglue may make it without releasing the GIL.  0: no such promise.
     */
    size_t buffered_first_write;
} fw_gateway_ops_t;

struct fw_request_s {
    const fw_gateway_ops_t *ops;
    void *conn;   /* the server's own per-request state */
    char **params; /* NULL-terminated "NAME=VALUE" strings, as sent */
    fw_role_e role;
};

/*
 * The process-wide log: one call per message, no trailing newline needed.
 * wsgi.errors, tracebacks and pyglue's own messages all go here.  Must be
 * safe to call from any thread, with or without the GIL.
 */
typedef void (*fw_gateway_log_pt)(fw_log_level_e level, const char *msg,
                                  size_t len);

#endif /* FW_GATEWAY_H */
