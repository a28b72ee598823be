/*
 * oracle_libfcgi.c: libfcgi 2.4.2's request reader as a test oracle.  Reads
 * a FastCGI byte stream from a file, feeds it to FCGX_Accept_r over a
 * socketpair and prints each request the way tests/diff/ours.c prints ours
 * (run_diff.py compares them).  libfcgi can crash on hostile streams: run
 * it in a child process; a crash means "libfcgi does not parse this".
 *
 *     oracle_libfcgi [-u] STREAM
 *
 * A writer process plays the web server: it sends the stream one request
 * at a time and waits for libfcgi's END_REQUEST before the next (as nginx
 * does on a kept connection); -u sends it all at once (pipelining, which
 * libfcgi loses: the bytes of the next request it already read are freed
 * with the current one).
 *
 * Output, one line each:
 *   REQUEST id=N role=N keep=0|1
 *   E <the "NAME=VALUE" C string libfcgi gives, escaped>   (in order)
 *   BODY <length> <escaped bytes>
 *   END                 the body ended with the empty STDIN record
 *   ERROR <code>        FCGX_GetError while reading the body: libfcgi
 *                       closes the connection here
 *   CLOSE               FCGX_Accept_r found no further request
 */
#include <errno.h>
#include <fcgiapp.h>
#include <fastcgi.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/diff/canon.h"

static int
write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Where the first request of s[from..len) ends: just past the empty STDIN
 * record of the first BEGIN_REQUEST's id (padding included); *id is that
 * id.  len when there is no such end (the rest goes at once).
 */
static size_t
request_end(const unsigned char *s, size_t len, size_t from, unsigned *id)
{
    unsigned active = 0;
    size_t pos = from;

    while (len - pos >= FCGI_HEADER_LEN) {
        const unsigned char *h = s + pos;
        unsigned rid = (unsigned)h[2] << 8 | h[3];
        size_t clen = (size_t)h[4] << 8 | h[5];
        size_t end = pos + FCGI_HEADER_LEN + clen + h[6];

        if (end > len) {
            break;
        }
        if (h[1] == FCGI_BEGIN_REQUEST && active == 0 && rid != 0) {
            active = rid;
        } else if (h[1] == FCGI_STDIN && rid == active && clen == 0) {
            *id = active;
            return end;
        }
        pos = end;
    }
    return len;
}

/*
 * Reads libfcgi's answers until an END_REQUEST for id (1), the end of the
 * connection or 5 s of silence (0).  have/len: bytes kept between calls.
 */
static int
wait_end_request(int fd, unsigned char *buf, size_t *have, unsigned id)
{
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;

        while (*have >= FCGI_HEADER_LEN) {
            size_t rec =
                FCGI_HEADER_LEN + ((size_t)buf[4] << 8 | buf[5]) + buf[6];
            int found;

            if (*have < rec) {
                break;
            }
            found = buf[1] == FCGI_END_REQUEST &&
                    ((unsigned)buf[2] << 8 | buf[3]) == id;
            memmove(buf, buf + rec, *have - rec);
            *have -= rec;
            if (found) {
                return 1;
            }
        }
        if (poll(&pfd, 1, 5000) <= 0) {
            return 0;
        }
        n = read(fd, buf + *have, 70000 - *have);
        if (n <= 0) {
            return 0;
        }
        *have += (size_t)n;
    }
}

/* The web server's side: sends the stream (paced or not), then reads
 * until libfcgi closes. */
static void
writer(int fd, const unsigned char *s, size_t len, int paced)
{
    static unsigned char answers[70000];
    size_t from = 0, have = 0;
    char sink[4096];

    signal(SIGPIPE, SIG_IGN);
    while (from < len) {
        unsigned id = 0;
        size_t end = paced ? request_end(s, len, from, &id) : len;

        if (write_all(fd, s + from, end - from) < 0) {
            _exit(0);
        }
        from = end;
        if (from < len && !wait_end_request(fd, answers, &have, id)) {
            paced = 0; /* no answer: the rest at once */
        }
    }
    shutdown(fd, SHUT_WR);
    while (read(fd, sink, sizeof(sink)) > 0) {
    }
    _exit(0);
}

/* Reads the body of the accepted request to its end; prints it. */
static int
print_body(FCGX_Request *req)
{
    size_t cap = 65536, n = 0;
    unsigned char *body = malloc(cap);
    int got, err;

    if (body == NULL) {
        exit(2);
    }
    for (;;) {
        if (n == cap) {
            cap *= 2;
            body = realloc(body, cap);
            if (body == NULL) {
                exit(2);
            }
        }
        got = FCGX_GetStr((char *)body + n, (int)(cap - n), req->in);
        if (got <= 0) {
            break;
        }
        n += (size_t)got;
    }
    printf("BODY %zu ", n);
    put_escaped(body, n);
    printf("\n");
    free(body);
    err = FCGX_GetError(req->in);
    if (err != 0) {
        printf("ERROR %d\n", err);
        return -1;
    }
    printf("END\n");
    return 0;
}

int
main(int argc, char **argv)
{
    FCGX_Request req;
    unsigned char *stream;
    size_t len;
    int sv[2], paced = 1, status;
    pid_t pid;
    const char *path;

    if (argc == 3 && strcmp(argv[1], "-u") == 0) {
        paced = 0;
        path = argv[2];
    } else if (argc == 2) {
        path = argv[1];
    } else {
        fprintf(stderr, "usage: %s [-u] STREAM\n", argv[0]);
        return 2;
    }
    stream = read_file(path, &len);
    if (stream == NULL) {
        return 2;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        return 2;
    }
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        close(sv[0]);
        writer(sv[1], stream, len, paced);
    }
    close(sv[1]);
    alarm(30); /* a hang is reported as a crash */

    if (FCGX_Init() != 0) {
        fprintf(stderr, "FCGX_Init failed\n");
        return 2;
    }
    /*
     * No listening socket: the connection is already there.  keepConnection
     * 1 so that the first FCGX_Accept_r, which "finishes" the previous
     * request, does not close it; when libfcgi closes the connection
     * later (a request without FCGI_KEEP_CONN, an error) it sets ipcFd to
     * -1 and its accept() on listen_sock -1 fails: the end.
     */
    FCGX_InitRequest(&req, -1, 0);
    req.ipcFd = sv[0];
    req.keepConnection = 1;
    while (FCGX_Accept_r(&req) == 0) {
        char **e = req.envp;

        printf("REQUEST id=%d role=%d keep=%d\n", req.requestId, req.role,
               req.keepConnection ? 1 : 0);
        /* libfcgi puts FCGI_ROLE=... first: not sent by the peer */
        if (*e != NULL && strncmp(*e, "FCGI_ROLE=", 10) == 0) {
            e++;
        }
        for (; *e != NULL; e++) {
            printf("E ");
            put_escaped((const unsigned char *)*e, strlen(*e));
            printf("\n");
        }
        fflush(stdout);
        if (print_body(&req) < 0) {
            fflush(stdout);
            break;
        }
        fflush(stdout);
    }
    printf("CLOSE\n");
    fflush(stdout);
    FCGX_Finish_r(&req);
    if (req.ipcFd >= 0) {
        close(req.ipcFd);
    }
    waitpid(pid, &status, 0);
    free(stream);
    return 0;
}
