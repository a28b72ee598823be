/*
 * gateway.h: the whole interface pyglue needs from a server.  The bridge
 * implements it over its own FastCGI connection layer (bridge/wire/) and
 * over CGI (bridge/cgi.c); the unit tests implement it in memory
 * (tests/unit/mem_gateway.c).  Nothing here knows about FastCGI.
 */
#ifndef FW_GATEWAY_H
#define FW_GATEWAY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
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
     * Optional: write() then, when flush is 1, flush(), as far as that goes
     * without waiting, for len up to nowait_max bytes.  The bytes are
     * always taken.  0: nothing more is needed; 1: the socket was full,
     * call flush() (which waits); -1: the web server is gone.  Never
     * blocks: pyglue calls it with the GIL held, so that a small response
     * or a chunk of a stream costs no GIL hand-off between threads.  NULL:
     * pyglue uses write() and flush() only.
     */
    int (*write_nowait)(fw_request_t *r, const char *buf, size_t len,
                        int flush);
    size_t nowait_max;

    /*
     * The application will read no more of the body: the server disposes
     * of the rest itself (without making the response wait for it), and
     * read() returns 0 from now on.  0 when nothing was left, 1 when some
     * of the body was (or may have been) thrown away, -1 when the
     * connection failed.  Never blocks (no system call): pyglue calls it
     * with the GIL held.  NULL: pyglue reads the rest through read() and
     * drops it.
     */
    int (*discard)(fw_request_t *r);
    /*
     * Optional: writes count bytes of the regular file fd, from offset, as
     * body, after what write() buffered, without copying them through the
     * process (sendfile(2)); fd's own position does not move.  Returns
     * count; fewer when the file ended or could not be read before count
     * bytes (errno says which; 0: it ended): the response cannot go on
     * then; -1 when the web server is gone.  Called without the GIL.
     * NULL: pyglue iterates the file_wrapper.
     */
    ssize_t (*sendfile)(fw_request_t *r, int fd, off_t offset, size_t count);
} fw_gateway_ops_t;

/*
 * One request parameter exactly as the web server sent it: length-delimited
 * bytes (a NUL or a '=' inside is kept).  Each is also followed by a NUL
 * byte that is not counted, so a value without NULs reads as a C string.
 */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} fw_param_t;

struct fw_request_s {
    const fw_gateway_ops_t *ops;
    void *conn;               /* the server's own per-request state */
    const fw_param_t *params; /* nparams of them, in the order sent */
    size_t nparams;
    fw_role_e role;
    /*
     * 1: read() returns 0 at the true end of the body whatever
     * CONTENT_LENGTH says (wsgi.input_terminated).  FastCGI ends the body
     * with an empty STDIN record; CGI has only CONTENT_LENGTH.
     */
    int input_terminated;

    /*
     * The response as it reached write(), for the server to read once the
     * request was answered (the access log).  fw_pyglue_handle zeroes both
     * first and sets them as it writes; a server that answers a request
     * itself (the status page) sets them the same way.
     */
    int response_status;          /* the code of the header block given
                                     to write() (pyglue's own 500 too); 0
                                     while none was */
    uint64_t response_body_bytes; /* bytes given to write() after the
                                     header block */
};

/* The first parameter named `name` (name_len bytes), or NULL. */
static inline const fw_param_t *
fw_gateway_param(const fw_request_t *r, const char *name, size_t name_len)
{
    for (size_t i = 0; i < r->nparams; i++) {
        const fw_param_t *p = &r->params[i];

        if (p->name_len == name_len && memcmp(p->name, name, name_len) == 0) {
            return p;
        }
    }
    return NULL;
}

/* fw_gateway_param with a string literal: FW_PARAM(r, "REQUEST_URI"). */
#define FW_PARAM(r, lit) fw_gateway_param((r), (lit), sizeof(lit) - 1)

/*
 * The process-wide log: one call per message, no trailing newline needed.
 * wsgi.errors, tracebacks and pyglue's own messages all go here.  Must be
 * safe to call from any thread, with or without the GIL.
 */
typedef void (*fw_gateway_log_pt)(fw_log_level_e level, const char *msg,
                                  size_t len);

#endif /* FW_GATEWAY_H */
