/*
 * kernel_floor.c: what a new unix-socket connection per request costs a
 * server in the kernel alone, for `make bench-floor`.  One thread that
 * accepts, reads once, sends one canned FastCGI answer (the hello app's,
 * for the request id it was sent) and closes: no parsing, no epoll, no
 * application.  It is not a FastCGI server (a request split over two
 * reads is answered early); never point a web server at it.
 *   usage: kernel_floor SOCKET_PATH       (SIGTERM stops it)
 */
#define _GNU_SOURCE /* accept4 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char body[] = "Status: 200 OK\r\n"
                           "Content-Type: text/plain\r\n"
                           "\r\n"
                           "Hello, World!\n";

/* A FastCGI record header: version 1, type, request id, content length. */
static size_t
put_header(unsigned char *p, int type, const unsigned char *id, size_t len)
{
    p[0] = 1;
    p[1] = (unsigned char)type;
    p[2] = id[0];
    p[3] = id[1];
    p[4] = (unsigned char)(len >> 8);
    p[5] = (unsigned char)(len & 0xff);
    p[6] = 0;
    p[7] = 0;
    return 8;
}

/* STDOUT with the body, an empty STDOUT, END_REQUEST: one send. */
static size_t
answer(unsigned char *out, const unsigned char *id)
{
    size_t len = sizeof(body) - 1, o = 0;

    o += put_header(out + o, 6, id, len);
    memcpy(out + o, body, len);
    o += len;
    o += put_header(out + o, 6, id, 0);
    o += put_header(out + o, 3, id, 8);
    memset(out + o, 0, 8); /* app status 0, FCGI_REQUEST_COMPLETE */
    return o + 8;
}

int
main(int argc, char **argv)
{
    struct sockaddr_un sa;
    unsigned char in[16384], out[256];
    int lfd;

    if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "usage: kernel_floor SOCKET_PATH\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, argv[1], strlen(argv[1]));
    unlink(argv[1]);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 1024) < 0) {
        perror("kernel_floor: listen");
        return 1;
    }
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        ssize_t n;

        if (fd < 0) {
            continue;
        }
        n = recv(fd, in, sizeof(in), 0);
        if (n >= 8) {
            (void)!send(fd, out, answer(out, in + 2), MSG_NOSIGNAL);
        }
        close(fd);
    }
}
