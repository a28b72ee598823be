/*
 * fcgi_guard.c: the check of fcgi_guard.h.  It reads record headers and
 * PARAMS name-value lengths from a MSG_PEEK copy; only management records,
 * which libfcgi never answers, are consumed (and answered) here.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/fcgi_guard.h"
#include "bridge/fdio.h"
#include "bridge/log.h"

#define FCGI_HEADER_LEN 8
#define FCGI_VERSION_1 1
#define FCGI_BEGIN_REQUEST 1
#define FCGI_ABORT_REQUEST 2
#define FCGI_END_REQUEST 3
#define FCGI_PARAMS 4
#define FCGI_GET_VALUES 9
#define FCGI_GET_VALUES_RESULT 10
#define FCGI_UNKNOWN_TYPE 11
#define FCGI_UNKNOWN_ROLE 3
#define FCGI_ROLE_MAX 3 /* responder, authorizer, filter */

typedef struct {
    int type;
    int id;
    size_t content;
    size_t padding;
} guard_header_t;

static void
guard_header(const unsigned char *p, guard_header_t *h)
{
    h->type = p[1];
    h->id = (p[2] << 8) | p[3];
    h->content = ((size_t)p[4] << 8) | p[5];
    h->padding = p[6];
}

/* One FastCGI name or value length (1 or 4 bytes); 0, or -1 if cut. */
static int
guard_length(const unsigned char *p, size_t n, size_t *at, size_t *len)
{
    if (*at >= n) {
        return -1;
    }
    if ((p[*at] & 0x80) == 0) {
        *len = p[(*at)++];
        return 0;
    }
    if (n - *at < 4) {
        return -1;
    }
    *len = ((size_t)(p[*at] & 0x7f) << 24) | ((size_t)p[*at + 1] << 16) |
           ((size_t)p[*at + 2] << 8) | p[*at + 3];
    *at += 4;
    return 0;
}

/* Every name-value pair of the PARAMS stream lies within it. */
static int
guard_params_valid(const unsigned char *p, size_t n)
{
    size_t at = 0;

    while (at < n) {
        size_t name, value;

        if (guard_length(p, n, &at, &name) < 0 ||
            guard_length(p, n, &at, &value) < 0 || name == 0 ||
            name > n - at || value > n - at - name) {
            return 0;
        }
        at += name + value;
    }
    return 1;
}

fw_guard_result_e
fw_fcgi_guard_scan(const unsigned char *buf, size_t len, size_t *consumed,
                   int *role, int *request_id, const char **why)
{
    unsigned char params[FW_GUARD_MAX];
    size_t params_len = 0, at = 0;
    int begun = 0;

    *consumed = 0;
    *why = NULL;
    while (len - at >= FCGI_HEADER_LEN) {
        guard_header_t h;
        size_t end;

        if (buf[at] != FCGI_VERSION_1) {
            *why = "not a FastCGI record (version byte is not 1)";
            return FW_GUARD_CLOSE;
        }
        guard_header(buf + at, &h);
        end = at + FCGI_HEADER_LEN + h.content + h.padding;
        if (end > len) {
            break; /* the rest has not arrived */
        }

        if (!begun) {
            if (h.id == 0) {
                *consumed = end;
                return FW_GUARD_MANAGEMENT;
            }
            if (h.type != FCGI_BEGIN_REQUEST || h.content != 8) {
                *why = "the first record is not a BEGIN_REQUEST";
                return FW_GUARD_CLOSE;
            }
            if (h.padding != 0) {
                *why = "BEGIN_REQUEST with padding (libfcgi cannot read "
                       "it)";
                return FW_GUARD_CLOSE;
            }
            *request_id = h.id;
            *role = (buf[at + 8] << 8) | buf[at + 9];
            if (*role < 1 || *role > FCGI_ROLE_MAX) {
                return FW_GUARD_CLOSE; /* *why NULL: unknown role */
            }
            begun = 1;
        } else if (h.id != *request_id) {
            *why = "a second request on the connection before the first "
                   "one's parameters ended (multiplexing is not supported)";
            return FW_GUARD_CLOSE;
        } else if (h.type == FCGI_PARAMS) {
            if (h.content == 0) {
                if (!guard_params_valid(params, params_len)) {
                    *why = "malformed PARAMS: a name or value length runs "
                           "past the data";
                    return FW_GUARD_CLOSE;
                }
                return FW_GUARD_READY;
            }
            if (h.content > sizeof(params) - params_len) {
                *why = "request parameters larger than 64 KiB";
                return FW_GUARD_CLOSE;
            }
            memcpy(params + params_len, buf + at + FCGI_HEADER_LEN,
                   h.content);
            params_len += h.content;
        } else if (h.type == FCGI_ABORT_REQUEST) {
            *why = "the web server aborted the request before its "
                   "parameters ended";
            return FW_GUARD_CLOSE;
        } else {
            *why = "an unexpected record before the end of PARAMS";
            return FW_GUARD_CLOSE;
        }
        at = end;
    }

    if (len >= FW_GUARD_MAX) {
        *why = "request parameters larger than 64 KiB";
        return FW_GUARD_CLOSE;
    }
    return FW_GUARD_WAIT;
}

static void
guard_record_header(unsigned char *p, int type, int id, size_t content)
{
    p[0] = FCGI_VERSION_1;
    p[1] = (unsigned char)type;
    p[2] = (unsigned char)((id >> 8) & 0xff);
    p[3] = (unsigned char)(id & 0xff);
    p[4] = (unsigned char)((content >> 8) & 0xff);
    p[5] = (unsigned char)(content & 0xff);
    p[6] = 0;
    p[7] = 0;
}

/*
 * Reads (consumes) the management record of `len` bytes at the head of fd
 * and answers it: GET_VALUES with what we know (FCGI_MPXS_CONNS 0: one
 * request per connection at a time), any other type with UNKNOWN_TYPE.
 */
static int
guard_answer_management(int fd, size_t len)
{
    unsigned char rec[FCGI_HEADER_LEN + 65535 + 255];
    unsigned char out[FCGI_HEADER_LEN + 32];
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fd, rec + got, len - got, 0);

        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return -1;
        }
        got += (size_t)n;
    }

    if (rec[1] == FCGI_GET_VALUES) {
        static const unsigned char mpxs[] = "\x0f\x01"
                                            "FCGI_MPXS_CONNS0";
        size_t content = sizeof(mpxs) - 1;

        guard_record_header(out, FCGI_GET_VALUES_RESULT, 0, content);
        memcpy(out + FCGI_HEADER_LEN, mpxs, content);
        return fw_fdio_write_all(fd, out, FCGI_HEADER_LEN + content);
    }
    guard_record_header(out, FCGI_UNKNOWN_TYPE, 0, 8);
    memset(out + FCGI_HEADER_LEN, 0, 8);
    out[FCGI_HEADER_LEN] = rec[1];
    return fw_fdio_write_all(fd, out, FCGI_HEADER_LEN + 8);
}

static void
guard_answer_unknown_role(int fd, int id, int role)
{
    unsigned char out[FCGI_HEADER_LEN + 8];

    guard_record_header(out, FCGI_END_REQUEST, id, 8);
    memset(out + FCGI_HEADER_LEN, 0, 8);
    out[FCGI_HEADER_LEN + 4] = FCGI_UNKNOWN_ROLE;
    (void)fw_fdio_write_all(fd, out, sizeof(out));
    fw_log(FW_LOG_WARN, "refused a request for unknown FastCGI role %d",
           role);
}

fw_guard_result_e
fw_fcgi_guard_check(int fd, int kept)
{
    unsigned char buf[FW_GUARD_MAX];

    for (int rounds = 0; rounds < 64; rounds++) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        size_t consumed;
        int role = 0, id = 0;
        const char *why;
        fw_guard_result_e res;

        if (n == 0) {
            return FW_GUARD_CLOSE; /* the web server closed it */
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return FW_GUARD_WAIT;
            }
            if (!kept) {
                fw_log(FW_LOG_INFO, "connection failed before its request: "
                                    "%s", strerror(errno));
            }
            return FW_GUARD_CLOSE;
        }

        res = fw_fcgi_guard_scan(buf, (size_t)n, &consumed, &role, &id,
                                 &why);
        switch (res) {
        case FW_GUARD_MANAGEMENT:
            if (guard_answer_management(fd, consumed) < 0) {
                return FW_GUARD_CLOSE;
            }
            continue;
        case FW_GUARD_CLOSE:
            if (why == NULL) {
                guard_answer_unknown_role(fd, id, role);
            } else {
                fw_log(FW_LOG_WARN, "refused a FastCGI connection: %s", why);
            }
            return FW_GUARD_CLOSE;
        default:
            return res;
        }
    }
    fw_log(FW_LOG_WARN, "refused a FastCGI connection: too many management "
                        "records");
    return FW_GUARD_CLOSE;
}
