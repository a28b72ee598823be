/*
 * mem_gateway.c: the in-memory request the pyglue unit tests drive (see
 * mem_gateway.h).  Test support only: aborts on out of memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "tests/unit/mem_gateway.h"

static ssize_t mem_read(fw_request_t *r, char *buf, size_t len);
static int mem_write(fw_request_t *r, const char *buf, size_t len);
static int mem_flush(fw_request_t *r);
static int mem_write_nowait(fw_request_t *r, const char *buf, size_t len,
                            int flush);

static const fw_gateway_ops_t mem_ops = {
    .read = mem_read, .write = mem_write, .flush = mem_flush};

static char *log_buf;
static size_t log_len;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        abort();
    }
    return q;
}

/* Copies one pair into m (name and value each followed by a NUL). */
static void
add_param(mem_request_t *m, const char *name, size_t name_len,
          const char *value, size_t value_len)
{
    size_t i = m->req.nparams;
    char *mem;

    if (i == MEM_PARAMS_MAX) {
        abort(); /* a test with too many params: make the array larger */
    }
    mem = xrealloc(NULL, name_len + value_len + 2);
    memcpy(mem, name, name_len);
    mem[name_len] = '\0';
    memcpy(mem + name_len + 1, value, value_len);
    mem[name_len + 1 + value_len] = '\0';
    m->param_mem[i] = mem;
    m->params[i].name = mem;
    m->params[i].name_len = name_len;
    m->params[i].value = mem + name_len + 1;
    m->params[i].value_len = value_len;
    m->req.nparams = i + 1;
}

/* Everything but the params. */
static void
init_request(mem_request_t *m, const char *body, size_t body_len)
{
    memset(m, 0, sizeof(*m));
    m->body = body;
    m->body_len = body_len;
    m->out = xrealloc(NULL, 1);
    m->out[0] = '\0';
    m->ops = mem_ops;
    m->req.ops = &m->ops;
    m->req.conn = m;
    m->req.params = m->params;
    m->req.nparams = 0;
    m->req.role = FW_ROLE_RESPONDER;
    m->req.input_terminated = 1;
}

void
mem_request_init(mem_request_t *m, const char *const *params, const char *body,
                 size_t body_len)
{
    init_request(m, body, body_len);
    for (size_t i = 0; params != NULL && params[i] != NULL; i++) {
        const char *p = params[i];
        const char *eq = strchr(p, '=');

        if (eq == NULL) {
            add_param(m, p, strlen(p), "", 0);
        } else {
            add_param(m, p, (size_t)(eq - p), eq + 1, strlen(eq + 1));
        }
    }
}

void
mem_request_init_pairs(mem_request_t *m, const fw_param_t *params,
                       size_t nparams, const char *body, size_t body_len)
{
    init_request(m, body, body_len);
    for (size_t i = 0; i < nparams; i++) {
        add_param(m, params[i].name, params[i].name_len, params[i].value,
                  params[i].value_len);
    }
}

void
mem_request_free(mem_request_t *m)
{
    for (size_t i = 0; i < m->req.nparams; i++) {
        free(m->param_mem[i]);
    }
    free(m->out);
    memset(m, 0, sizeof(*m));
}

static ssize_t
mem_read(fw_request_t *r, char *buf, size_t len)
{
    mem_request_t *m = r->conn;
    size_t n = m->body_len - m->body_pos;

    m->read_calls++;
    if (n > len) {
        n = len;
    }
    if (m->read_chunk != 0 && n > m->read_chunk) {
        n = m->read_chunk;
    }
    if (n > 0) {
        memcpy(buf, m->body + m->body_pos, n);
    }
    m->body_pos += n;
    return (ssize_t)n;
}

static int
mem_write(fw_request_t *r, const char *buf, size_t len)
{
    mem_request_t *m = r->conn;

    m->write_calls++;
    if (m->fail_write) {
        return -1;
    }
    m->out = xrealloc(m->out, m->out_len + len + 1);
    memcpy(m->out + m->out_len, buf, len);
    m->out_len += len;
    m->out[m->out_len] = '\0';
    return 0;
}

static int
mem_flush(fw_request_t *r)
{
    mem_request_t *m = r->conn;

    if (m->flush_calls < 64) {
        m->out_len_at_flush[m->flush_calls] = m->out_len;
    }
    m->flush_calls++;
    return m->fail_write ? -1 : 0;
}

/* write(), then flush() when asked; 1 (the socket full) when the test
 * says so, without flushing. */
static int
mem_write_nowait(fw_request_t *r, const char *buf, size_t len, int flush)
{
    mem_request_t *m = r->conn;

    m->nowait_calls++;
    if (len > 0 && mem_write(r, buf, len) < 0) {
        return -1;
    }
    if (m->nowait_full) {
        return 1;
    }
    return flush ? mem_flush(r) : 0;
}

void
mem_request_nowait(mem_request_t *m, size_t max)
{
    m->ops.write_nowait = mem_write_nowait;
    m->ops.nowait_max = max;
}

void
mem_log_sink(fw_log_level_e level, const char *msg, size_t len)
{
    (void)level;
    pthread_mutex_lock(&log_lock);
    log_buf = xrealloc(log_buf, log_len + len + 2);
    memcpy(log_buf + log_len, msg, len);
    log_len += len;
    log_buf[log_len++] = '\n';
    log_buf[log_len] = '\0';
    pthread_mutex_unlock(&log_lock);
    if (getenv("FW_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "log: %.*s\n", (int)len, msg);
    }
}

const char *
mem_log_text(void)
{
    return log_buf != NULL ? log_buf : "";
}

void
mem_log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    log_len = 0;
    if (log_buf != NULL) {
        log_buf[0] = '\0';
    }
    pthread_mutex_unlock(&log_lock);
}
