/*
 * c_responder.c: the FastCGI path's ceiling in `make bench`.  A responder
 * written with libfcgi and no Python: PROCESSES forked processes of THREADS
 * threads each, all accepting on one unix socket, answering what the bench
 * apps answer (bench/hello.py): /big 1 MiB, /stream 100 chunks, /echo the
 * sorted params and the body back, a POST its body's length, anything else
 * "Hello, World!".  It must not do more work per request than that.
 *   usage: c_responder SOCKET_PATH PROCESSES THREADS
 * SIGTERM or SIGINT to the parent stops the children (by pid) and removes
 * the socket.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    BACKLOG = 1024,
    BIG_LEN = 1 << 20, /* /big: 1 MiB */
    CHUNKS = 100,      /* /stream: chunks of CHUNK_LEN, each flushed */
    CHUNK_LEN = 1024,
    READ_CHUNK = 16384, /* a POST's body is read this much at a time */
    MAX_CHILDREN = 256,
    MAX_THREADS = 256,
    MAX_ECHO_PARAMS = 512,
};

static const char hello[] = "Hello, World!\n";
static char big[BIG_LEN];
static char chunk[CHUNK_LEN];
static int listen_fd = -1;

/* A listening unix socket at path (an old file there is removed), or -1. */
static int
open_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "c_responder: %s: path too long\n", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("c_responder: socket");
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(fd, BACKLOG) < 0) {
        fprintf(stderr, "c_responder: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int
compare_params(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the whole body; returns its length.  With `out`, copies it there
 * too (the /echo answer). */
static long
read_body(FCGX_Stream *in, FCGX_Stream *out)
{
    char buf[READ_CHUNK];
    long total = 0;
    int n;

    while ((n = FCGX_GetStr(buf, sizeof(buf), in)) > 0) {
        total += n;
        if (out != NULL) {
            FCGX_PutStr(buf, n, out);
        }
    }
    return total;
}

/* /echo: the params sorted by name, one NAME=VALUE a line, a blank line,
 * then the body as received. */
static void
answer_echo(FCGX_Request *req)
{
    char *params[MAX_ECHO_PARAMS];
    int n = 0;

    for (char **p = req->envp; *p != NULL && n < MAX_ECHO_PARAMS; p++) {
        params[n++] = *p;
    }
    qsort(params, (size_t)n, sizeof(params[0]), compare_params);
    FCGX_FPrintF(req->out, "Status: 200 OK\r\n"
                           "Content-Type: application/octet-stream\r\n\r\n");
    for (int i = 0; i < n; i++) {
        FCGX_FPrintF(req->out, "%s\n", params[i]);
    }
    FCGX_PutS("\n", req->out);
    read_body(req->in, req->out);
}

/* One request: picks the answer by the path and the method. */
static void
answer(FCGX_Request *req)
{
    const char *uri = FCGX_GetParam("DOCUMENT_URI", req->envp);
    const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);

    if (uri == NULL) {
        uri = FCGX_GetParam("SCRIPT_NAME", req->envp);
    }
    if (uri == NULL) {
        uri = "/";
    }
    if (strcmp(uri, "/echo") == 0) {
        answer_echo(req);
    } else if (method != NULL && strcmp(method, "POST") == 0) {
        char text[32];
        int n =
            snprintf(text, sizeof(text), "%ld\n", read_body(req->in, NULL));

        FCGX_FPrintF(req->out,
                     "Status: 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     n, text);
    } else if (strcmp(uri, "/big") == 0) {
        FCGX_FPrintF(req->out,
                     "Status: 200 OK\r\n"
                     "Content-Type: application/octet-stream\r\n"
                     "Content-Length: %d\r\n\r\n",
                     BIG_LEN);
        FCGX_PutStr(big, BIG_LEN, req->out);
    } else if (strcmp(uri, "/stream") == 0) {
        FCGX_FPrintF(req->out, "Status: 200 OK\r\n"
                               "Content-Type: text/plain\r\n\r\n");
        for (int i = 0; i < CHUNKS; i++) {
            FCGX_PutStr(chunk, CHUNK_LEN, req->out);
            FCGX_FFlush(req->out);
        }
    } else {
        FCGX_FPrintF(req->out,
                     "Status: 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     (int)sizeof(hello) - 1, hello);
    }
}

/* A serving thread: accepts and answers until accepting fails. */
static void *
serve(void *unused)
{
    FCGX_Request req;

    (void)unused;
    if (FCGX_InitRequest(&req, listen_fd, 0) != 0) {
        fprintf(stderr, "c_responder: FCGX_InitRequest failed\n");
        return NULL;
    }
    while (FCGX_Accept_r(&req) >= 0) {
        answer(&req);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

/* A child: threads - 1 more threads, then serves on its own. */
static void
run_child(int threads)
{
    pthread_t tid;

    for (int i = 1; i < threads; i++) {
        if (pthread_create(&tid, NULL, serve, NULL) != 0) {
            fprintf(stderr, "c_responder: pthread_create failed\n");
            _exit(1);
        }
    }
    serve(NULL);
    _exit(1);
}

static int
parse_count(const char *s, int max)
{
    char *end;
    long n = strtol(s, &end, 10);

    return *end == '\0' && n >= 1 && n <= max ? (int)n : -1;
}

int
main(int argc, char **argv)
{
    pid_t children[MAX_CHILDREN];
    int processes, threads, sig, status = 0;
    sigset_t stop;

    if (argc != 4 || (processes = parse_count(argv[2], MAX_CHILDREN)) < 0 ||
        (threads = parse_count(argv[3], MAX_THREADS)) < 0) {
        fprintf(stderr, "usage: c_responder SOCKET_PATH PROCESSES THREADS\n");
        return 2;
    }
    memset(big, 'b', sizeof(big));
    memset(chunk, 'x', sizeof(chunk) - 1);
    chunk[CHUNK_LEN - 1] = '\n';
    if (FCGX_Init() != 0 || (listen_fd = open_socket(argv[1])) < 0) {
        return 1;
    }
    /* The parent waits for these with sigwait; the children unblock
     * them and die of them. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGCHLD);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    for (int i = 0; i < processes; i++) {
        children[i] = fork();
        if (children[i] < 0) {
            perror("c_responder: fork");
            processes = i;
            status = 1;
            break;
        }
        if (children[i] == 0) {
            sigprocmask(SIG_UNBLOCK, &stop, NULL);
            run_child(threads);
        }
    }
    if (status == 0 && sigwait(&stop, &sig) == 0 && sig == SIGCHLD) {
        fprintf(stderr, "c_responder: a child ended\n");
        status = 1;
    }
    for (int i = 0; i < processes; i++) {
        kill(children[i], SIGTERM);
    }
    for (int i = 0; i < processes; i++) {
        waitpid(children[i], NULL, 0);
    }
    unlink(argv[1]);
    return status;
}
