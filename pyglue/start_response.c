/*
 * start_response.c: the start_response callable (the request's
 * fw_response_t, called through vectorcall) and the legacy write() it
 * returns.
 * start_response validates the status and headers strictly (PEP 3333) and
 * stores them as the finished CGI header block; it never sends anything:
 * response.c does, at the first body byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pyglue/start_response.h"

static PyTypeObject start_response_type;

/* Headers that concern one connection only (as wsgiref lists them). */
static const char *const hop_by_hop[] = {
    "connection",          "keep-alive", "proxy-authenticate",
    "proxy-authorization", "te",         "trailers",
    "transfer-encoding",   "upgrade",    NULL};

/* RFC 9110 tchar: the characters of a header name. */
static int
is_token_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * The latin-1 bytes of s (a str) without copying: every str whose
 * characters all fit in latin-1 stores exactly those bytes.  0, or -1
 * (no exception) when some character is beyond latin-1 (or s is a legacy
 * string of the deprecated Py_UNICODE API, which is never 1-byte).
 */
static int
latin1_view(PyObject *s, const char **data, size_t *len)
{
    if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
        return -1;
    }
    *data = (const char *)PyUnicode_1BYTE_DATA(s);
    *len = (size_t)PyUnicode_GET_LENGTH(s);
    return 0;
}

/*
 * Checks status ("NNN reason") and fills its bytes and code.  0, or -1
 * with an exception naming what is wrong.
 */
static int
check_status(PyObject *status, const char **text, size_t *len, int *code)
{
    const unsigned char *p;

    if (!PyUnicode_Check(status)) {
        PyErr_Format(PyExc_TypeError,
                     "start_response(): status must be a str such as "
                     "'200 OK', not %.100s",
                     Py_TYPE(status)->tp_name);
        return -1;
    }
    if (latin1_view(status, text, len) < 0) {
        PyErr_Format(PyExc_ValueError,
                     "start_response(): status %R has characters outside "
                     "latin-1",
                     status);
        return -1;
    }
    p = (const unsigned char *)*text;
    if (*len < 5 || p[0] < '1' || p[0] > '9' || p[1] < '0' || p[1] > '9' ||
        p[2] < '0' || p[2] > '9' || p[3] != ' ' || p[4] == ' ') {
        PyErr_Format(PyExc_ValueError,
                     "start_response(): status %R must be 3 digits, a space "
                     "and a reason phrase, such as '200 OK'",
                     status);
        return -1;
    }
    for (size_t i = 4; i < *len; i++) {
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
            PyErr_Format(PyExc_ValueError,
                         "start_response(): status %R contains a control "
                         "character",
                         status);
            return -1;
        }
    }
    *code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    return 0;
}

/*
 * Checks one headers[i] item and returns the size of its "name: value\r\n"
 * line, or -1 with an exception naming what is wrong.
 */
static Py_ssize_t
check_header(PyObject *item, Py_ssize_t i)
{
    PyObject *name;  /* borrowed */
    PyObject *value; /* borrowed */
    const char *n;
    const char *v;
    size_t nlen;
    size_t vlen;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_Format(PyExc_TypeError,
                     "start_response(): headers[%zd] must be a (name, value) "
                     "tuple of two str, not %R",
                     i, item);
        return -1;
    }
    name = PyTuple_GET_ITEM(item, 0);
    value = PyTuple_GET_ITEM(item, 1);

    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError,
                     "start_response(): header name %R must be a str", name);
        return -1;
    }
    if (latin1_view(name, &n, &nlen) < 0 || nlen == 0) {
        goto bad_name;
    }
    for (size_t k = 0; k < nlen; k++) {
        if (!is_token_char((unsigned char)n[k])) {
            goto bad_name;
        }
    }
    for (size_t k = 0; hop_by_hop[k] != NULL; k++) {
        if (strlen(hop_by_hop[k]) == nlen &&
            strncasecmp(hop_by_hop[k], n, nlen) == 0) {
            PyErr_Format(PyExc_ValueError,
                         "start_response(): %R is a hop-by-hop header, which "
                         "a WSGI application must not send",
                         name);
            return -1;
        }
    }
    if (nlen == 6 && strncasecmp(n, "status", 6) == 0) {
        PyErr_SetString(PyExc_ValueError,
                        "start_response(): a 'Status' header is not allowed; "
                        "give the status as the first argument");
        return -1;
    }

    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError,
                     "start_response(): header %R: value must be a str, not "
                     "%.100s",
                     name, Py_TYPE(value)->tp_name);
        return -1;
    }
    if (latin1_view(value, &v, &vlen) < 0) {
        PyErr_Format(PyExc_ValueError,
                     "start_response(): header %R: value %R has characters "
                     "outside latin-1",
                     name, value);
        return -1;
    }
    if (memchr(v, '\r', vlen) != NULL || memchr(v, '\n', vlen) != NULL ||
        memchr(v, '\0', vlen) != NULL) {
        PyErr_Format(PyExc_ValueError,
                     "start_response(): header %R: value %R contains a CR, LF "
                     "or NUL character",
                     name, value);
        return -1;
    }
    return (Py_ssize_t)(nlen + 2 + vlen + 2);

bad_name:
    PyErr_Format(PyExc_ValueError,
                 "start_response(): header name %R is not a valid HTTP token "
                 "(letters, digits and !#$%%&'*+-.^_`|~ only; no ':' or "
                 "whitespace)",
                 name);
    return -1;
}

static char *
append(char *dst, const char *src, size_t len)
{
    memcpy(dst, src, len);
    return dst + len;
}

/*
 * Validates status and headers and builds the header block into a new
 * PyMem buffer.  0, or -1 with an exception set (nothing allocated).
 */
static int
build_head(PyObject *status, PyObject *headers, char **head, size_t *len,
           int *code)
{
    const char *stext;
    size_t slen;
    size_t total;
    Py_ssize_t n;
    char *block;
    char *w;

    if (check_status(status, &stext, &slen, code) < 0) {
        return -1;
    }
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError,
                     "start_response(): headers must be a list of (name, "
                     "value) tuples, not %.100s",
                     Py_TYPE(headers)->tp_name);
        return -1;
    }

    total = strlen("Status: ") + slen + 2 + 2;
    n = PyList_GET_SIZE(headers);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t line = check_header(PyList_GET_ITEM(headers, i), i);

        if (line < 0) {
            return -1;
        }
        total += (size_t)line;
    }

    /* No Python code ran since the checks: the list is as checked. */
    block = PyMem_Malloc(total);
    if (block == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    w = append(block, "Status: ", strlen("Status: "));
    w = append(w, stext, slen);
    w = append(w, "\r\n", 2);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(headers, i); /* borrowed */
        const char *text = ""; /* set below: the checks passed */
        size_t tlen = 0;

        (void)latin1_view(PyTuple_GET_ITEM(item, 0), &text, &tlen);
        w = append(w, text, tlen);
        w = append(w, ": ", 2);
        (void)latin1_view(PyTuple_GET_ITEM(item, 1), &text, &tlen);
        w = append(w, text, tlen);
        w = append(w, "\r\n", 2);
    }
    w = append(w, "\r\n", 2);

    *head = block;
    *len = (size_t)(w - block);
    return 0;
}

/* ---- write(data) ------------------------------------------------------ */

static PyObject *
sr_write(PyObject *op, PyObject *data)
{
    fw_response_t *resp = (fw_response_t *)op;

    if (resp->req == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "write() used after its request ended");
        return NULL;
    }
    if (resp->head == NULL) {
        PyErr_SetString(PyExc_AssertionError,
                        "write() called before start_response()");
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError,
                     "write() argument must be bytes, not %.100s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (resp->client_gone ||
        fw_response_send(resp, PyBytes_AS_STRING(data),
                         (size_t)PyBytes_GET_SIZE(data), 1) < 0) {
        PyErr_SetString(PyExc_OSError,
                        "client connection lost while sending the response");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef sr_write_def = {
    "write", sr_write, METH_O,
    "write(data): send bytes now (the legacy WSGI write callable)"};

/* ---- start_response(status, headers, exc_info=None) --------------------- */

/*
 * Parses (status, headers, exc_info=None), positional or by keyword.
 * 0, or -1 with TypeError set.  Fills borrowed references.
 */
static int
parse_args(PyObject *const *args, size_t nargsf, PyObject *kwnames,
           PyObject **status, PyObject **headers, PyObject **exc_info)
{
    static const char *const names[] = {"status", "headers", "exc_info"};
    PyObject **slots[3] = {status, headers, exc_info};
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;

    *status = *headers = *exc_info = NULL;
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     "start_response() takes at most 3 arguments (%zd "
                     "given)",
                     nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        *slots[i] = args[i];
    }
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, k); /* borrowed */
        int found = 0;

        for (int s = 0; s < 3; s++) {
            if (PyUnicode_CompareWithASCIIString(kw, names[s]) == 0) {
                if (*slots[s] != NULL) {
                    PyErr_Format(PyExc_TypeError,
                                 "start_response() got multiple values for "
                                 "argument '%s'",
                                 names[s]);
                    return -1;
                }
                *slots[s] = args[nargs + k];
                found = 1;
            }
        }
        if (!found) {
            PyErr_Format(PyExc_TypeError,
                         "start_response() got an unexpected keyword "
                         "argument %R",
                         kw);
            return -1;
        }
    }
    if (*status == NULL || *headers == NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "start_response() needs a status and a list of "
                        "headers");
        return -1;
    }
    if (*exc_info == NULL) {
        *exc_info = Py_None;
    }
    return 0;
}

/*
 * PEP 3333: with exc_info after the header block was sent, re-raise it;
 * with exc_info before, replace status and headers; without exc_info, a
 * second call is an error.  Returns the write callable.
 */
static PyObject *
sr_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf,
              PyObject *kwnames)
{
    fw_response_t *resp = (fw_response_t *)op;
    PyObject *status;   /* borrowed */
    PyObject *headers;  /* borrowed */
    PyObject *exc_info; /* borrowed */
    char *head = NULL;
    size_t head_len = 0;
    int code = 0;

    if (parse_args(args, nargsf, kwnames, &status, &headers, &exc_info) < 0) {
        return NULL;
    }
    if (resp->req == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "start_response() used after its request ended");
        return NULL;
    }

    if (exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_TypeError,
                            "start_response(): exc_info must be a (type, "
                            "value, traceback) tuple or None");
            return NULL;
        }
        if (resp->headers_sent) {
            PyObject *type = PyTuple_GET_ITEM(exc_info, 0);  /* borrowed */
            PyObject *value = PyTuple_GET_ITEM(exc_info, 1); /* borrowed */
            PyObject *tb = PyTuple_GET_ITEM(exc_info, 2);    /* borrowed */

            if (!PyExceptionClass_Check(type)) {
                PyErr_SetString(PyExc_TypeError,
                                "start_response(): exc_info[0] must be an "
                                "exception class");
                return NULL;
            }
            PyErr_Restore(Py_NewRef(type), Py_NewRef(value),
                          tb != Py_None ? Py_NewRef(tb) : NULL);
            return NULL;
        }
    } else if (resp->head != NULL) {
        PyErr_SetString(PyExc_AssertionError,
                        "start_response() called a second time without "
                        "exc_info");
        return NULL;
    }

    if (build_head(status, headers, &head, &head_len, &code) < 0) {
        return NULL;
    }
    PyMem_Free(resp->head);
    resp->head = head;
    resp->head_len = head_len;
    resp->status_code = code;
    return PyCFunction_NewEx(&sr_write_def, op, NULL);
}

static void
sr_dealloc(PyObject *op)
{
    fw_response_t *resp = (fw_response_t *)op;

    PyMem_Free(resp->head);
    Py_TYPE(op)->tp_free(op);
}

static PyTypeObject start_response_type = {
    /* the macro ends with its own comma: keep it on its own line */
    /* clang-format off */
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fcgi_wsgi.StartResponse",
    /* clang-format on */
    .tp_basicsize = sizeof(fw_response_t),
    .tp_dealloc = sr_dealloc,
    .tp_vectorcall_offset = offsetof(fw_response_t, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "start_response(status, headers, exc_info=None) -> write",
};

int
fw_start_response_init_type(void)
{
    return PyType_Ready(&start_response_type);
}

fw_response_t *
fw_start_response_new(fw_request_t *r, char *out, size_t out_cap)
{
    fw_response_t *resp = PyObject_New(fw_response_t, &start_response_type);

    if (resp == NULL) {
        return NULL;
    }
    fw_response_init(resp, r, out, out_cap);
    resp->vectorcall = sr_vectorcall;
    return resp;
}
