/*
 * cgi.c: one CGI request served through pyglue: the parameters are the
 * environment, the body is stdin, the response is stdout (RFC 3875).  It
 * never touches FastCGI or a socket, and calls nothing in Python but
 * fw_pyglue_*.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/serve/serve.h"
#include "bridge/log.h"

extern char **environ;

typedef struct {
    fw_request_t req;
    int in_fd;           /* the request body (the original stdin) */
    int out_fd;          /* the response (the original stdout) */
    long long remaining; /* body bytes not read yet */
} cgi_conn_t;

static ssize_t cgi_read(fw_request_t *r, char *buf, size_t len);
static int cgi_write(fw_request_t *r, const char *buf, size_t len);
static int cgi_flush(fw_request_t *r);

static const fw_gateway_ops_t cgi_ops = {
    .read = cgi_read, .write = cgi_write, .flush = cgi_flush};

/* The request's parameters: the environment, copied. */
static char **cgi_env; /* "NAME\0VALUE" copies (malloc'd), cgi_nparams */
static fw_param_t *cgi_params; /* into cgi_env; NULL: not made */
static size_t cgi_nparams;
static cgi_conn_t cgi_conn = {.in_fd = -1, .out_fd = -1};

/* CONTENT_LENGTH as a count: 0 when absent, empty or not all digits. */
static long long
cgi_content_length(const fw_request_t *r)
{
    const fw_param_t *p = FW_PARAM(r, "CONTENT_LENGTH");
    long long n = 0;

    if (p == NULL || p->value_len == 0) {
        return 0;
    }
    for (size_t i = 0; i < p->value_len; i++) {
        char c = p->value[i];

        if (c < '0' || c > '9' || n > (LLONG_MAX - 9) / 10) {
            fw_log(FW_LOG_WARN,
                   "CONTENT_LENGTH=%.*s: not a length; the body "
                   "is not read",
                   (int)(p->value_len < 64 ? p->value_len : 64), p->value);
            return 0;
        }
        n = n * 10 + (c - '0');
    }
    return n;
}

static void
cgi_free_params(void)
{
    for (size_t i = 0; i < cgi_nparams; i++) {
        free(cgi_env[i]);
    }
    free(cgi_env);
    free(cgi_params);
    cgi_env = NULL;
    cgi_params = NULL;
    cgi_nparams = 0;
    cgi_conn.req.params = NULL;
    cgi_conn.req.nparams = 0;
}

/*
 * Copies the environment into cgi_env and cgi_params: each "NAME=VALUE"
 * split at its first '=' (which becomes the name's NUL); an entry without
 * one is skipped.  0, or -1 when out of memory (nothing kept).
 */
static int
cgi_copy_environ(void)
{
    size_t n = 0;

    while (environ[n] != NULL) {
        n++;
    }
    cgi_env = calloc(n + 1, sizeof(*cgi_env));
    cgi_params = calloc(n + 1, sizeof(*cgi_params));
    if (cgi_env == NULL || cgi_params == NULL) {
        cgi_free_params();
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(environ[i], '=');
        char *copy;

        if (eq == NULL) {
            continue;
        }
        copy = strdup(environ[i]);
        if (copy == NULL) {
            cgi_free_params();
            return -1;
        }
        eq = copy + (eq - environ[i]);
        *eq = '\0';
        cgi_env[cgi_nparams] = copy;
        cgi_params[cgi_nparams].name = copy;
        cgi_params[cgi_nparams].name_len = (size_t)(eq - copy);
        cgi_params[cgi_nparams].value = eq + 1;
        cgi_params[cgi_nparams].value_len = strlen(eq + 1);
        cgi_nparams++;
    }
    return 0;
}

/*
 * Moves stdin and stdout out of the way: the request keeps them on new
 * descriptors (close-on-exec), fd 0 becomes /dev/null and fd 1 a copy of
 * fd 2.  0, or -1 after logging.
 */
static int
cgi_take_stdio(void)
{
    int null_fd;

    cgi_conn.in_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    cgi_conn.out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (cgi_conn.in_fd < 0 || cgi_conn.out_fd < 0) {
        fw_log(FW_LOG_ERROR, "CGI: cannot keep stdin/stdout: %s",
               strerror(errno));
        return -1;
    }
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
        dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        fw_log(FW_LOG_ERROR, "CGI: cannot redirect stdin/stdout: %s",
               strerror(errno));
        if (null_fd >= 0) {
            close(null_fd);
        }
        return -1;
    }
    close(null_fd);
    return 0;
}

int
fw_cgi_detect(void)
{
    const char *gateway = getenv("GATEWAY_INTERFACE");

    if (gateway == NULL || strncmp(gateway, "CGI/", 4) != 0 ||
        getenv("REQUEST_METHOD") == NULL) {
        return 0;
    }
    fw_log_set_role("cgi");
    if (cgi_copy_environ() < 0) {
        fw_log(FW_LOG_ERROR, "CGI: out of memory");
        return -1;
    }
    unsetenv("HTTP_PROXY");
    cgi_conn.req.ops = &cgi_ops;
    cgi_conn.req.conn = &cgi_conn;
    cgi_conn.req.params = cgi_params;
    cgi_conn.req.nparams = cgi_nparams;
    cgi_conn.req.role = FW_ROLE_RESPONDER;
    cgi_conn.req.input_terminated = 0; /* the body ends at CONTENT_LENGTH */
    cgi_conn.remaining = cgi_content_length(&cgi_conn.req);
    if (cgi_take_stdio() < 0) {
        cgi_free_params();
        return -1;
    }
    signal(SIGPIPE, SIG_IGN); /* a gone client is a write error */
    return 1;
}

int
fw_cgi_serve(const fw_app_config_t *app)
{
    fw_app_config_t cgi_app = *app;
    fw_pyglue_thread_t *py;
    fw_pyglue_result_e res = FW_PYGLUE_ABORT;

    if (cgi_params == NULL) {
        return 1; /* fw_cgi_detect failed (logged) */
    }
    cgi_app.run_once = 1;
    cgi_app.multithread = 0;

    if (fw_pyglue_start(&cgi_app) == 0) {
        py = fw_pyglue_thread_attach();
        if (py != NULL) {
            res = fw_pyglue_handle(py, &cgi_conn.req);
            fw_pyglue_thread_detach(py);
        }
        fw_pyglue_stop();
    }

    close(cgi_conn.in_fd);
    close(cgi_conn.out_fd);
    cgi_conn.in_fd = cgi_conn.out_fd = -1;
    cgi_free_params();
    return res == FW_PYGLUE_DONE ? 0 : 1;
}

/* The body, up to CONTENT_LENGTH; a body cut short is an error (-1). */
static ssize_t
cgi_read(fw_request_t *r, char *buf, size_t len)
{
    cgi_conn_t *c = r->conn;
    ssize_t n;

    if (c->remaining <= 0) {
        return 0;
    }
    if ((unsigned long long)len > (unsigned long long)c->remaining) {
        len = (size_t)c->remaining;
    }
    do {
        n = read(c->in_fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n == 0) {
            fw_log(FW_LOG_INFO,
                   "CGI: the request body ended %lld bytes short of "
                   "CONTENT_LENGTH",
                   c->remaining);
        }
        c->remaining = 0;
        return -1;
    }
    c->remaining -= n;
    return n;
}

/* Writes all len bytes to the web server (stdout), retrying short writes
 * and EINTR.  0, or -1 with errno set. */
static int
cgi_write(fw_request_t *r, const char *buf, size_t len)
{
    cgi_conn_t *c = r->conn;

    while (len > 0) {
        ssize_t n = write(c->out_fd, buf, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Nothing is buffered here: every write() went out already. */
static int
cgi_flush(fw_request_t *r)
{
    (void)r;
    return 0;
}
