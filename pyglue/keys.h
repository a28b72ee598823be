/*
 * keys.h: the str objects the request path uses on every request, made
 * once at start-up: environ keys (interned), common environ values and
 * attribute names.  Looking one up never allocates.  Requires Python.h to
 * be included first.
 */
#ifndef FW_KEYS_H
#define FW_KEYS_H

#include <stddef.h>

/*
 * X(ID, "text"): environ keys the code refers to by name, the well-known
 * CGI and HTTP_* parameter names (so that a parameter's name is found
 * rather than decoded), and attribute names.
 */
#define FW_KEY_LIST(X)                                                        \
    X(WSGI_VERSION, "wsgi.version")                                           \
    X(WSGI_URL_SCHEME, "wsgi.url_scheme")                                     \
    X(WSGI_INPUT, "wsgi.input")                                               \
    X(WSGI_INPUT_TERMINATED, "wsgi.input_terminated")                         \
    X(WSGI_ERRORS, "wsgi.errors")                                             \
    X(WSGI_MULTITHREAD, "wsgi.multithread")                                   \
    X(WSGI_MULTIPROCESS, "wsgi.multiprocess")                                 \
    X(WSGI_RUN_ONCE, "wsgi.run_once")                                         \
    X(WSGI_FILE_WRAPPER, "wsgi.file_wrapper")                                 \
    X(REQUEST_METHOD, "REQUEST_METHOD")                                       \
    X(SCRIPT_NAME, "SCRIPT_NAME")                                             \
    X(PATH_INFO, "PATH_INFO")                                                 \
    X(QUERY_STRING, "QUERY_STRING")                                           \
    X(CONTENT_TYPE, "CONTENT_TYPE")                                           \
    X(CONTENT_LENGTH, "CONTENT_LENGTH")                                       \
    X(SERVER_NAME, "SERVER_NAME")                                             \
    X(SERVER_PORT, "SERVER_PORT")                                             \
    X(SERVER_PROTOCOL, "SERVER_PROTOCOL")                                     \
    X(SERVER_ADDR, "SERVER_ADDR")                                             \
    X(SERVER_SOFTWARE, "SERVER_SOFTWARE")                                     \
    X(GATEWAY_INTERFACE, "GATEWAY_INTERFACE")                                 \
    X(REMOTE_ADDR, "REMOTE_ADDR")                                             \
    X(REMOTE_PORT, "REMOTE_PORT")                                             \
    X(REMOTE_USER, "REMOTE_USER")                                             \
    X(AUTH_TYPE, "AUTH_TYPE")                                                 \
    X(REQUEST_URI, "REQUEST_URI")                                             \
    X(DOCUMENT_URI, "DOCUMENT_URI")                                           \
    X(DOCUMENT_ROOT, "DOCUMENT_ROOT")                                         \
    X(SCRIPT_FILENAME, "SCRIPT_FILENAME")                                     \
    X(PATH_TRANSLATED, "PATH_TRANSLATED")                                     \
    X(REQUEST_SCHEME, "REQUEST_SCHEME")                                       \
    X(HTTPS, "HTTPS")                                                         \
    X(REDIRECT_STATUS, "REDIRECT_STATUS")                                     \
    X(FCGI_ROLE, "FCGI_ROLE")                                                 \
    X(HTTP_HOST, "HTTP_HOST")                                                 \
    X(HTTP_USER_AGENT, "HTTP_USER_AGENT")                                     \
    X(HTTP_ACCEPT, "HTTP_ACCEPT")                                             \
    X(HTTP_ACCEPT_ENCODING, "HTTP_ACCEPT_ENCODING")                           \
    X(HTTP_ACCEPT_LANGUAGE, "HTTP_ACCEPT_LANGUAGE")                           \
    X(HTTP_ACCEPT_CHARSET, "HTTP_ACCEPT_CHARSET")                             \
    X(HTTP_AUTHORIZATION, "HTTP_AUTHORIZATION")                               \
    X(HTTP_CACHE_CONTROL, "HTTP_CACHE_CONTROL")                               \
    X(HTTP_CONNECTION, "HTTP_CONNECTION")                                     \
    X(HTTP_CONTENT_LENGTH, "HTTP_CONTENT_LENGTH")                             \
    X(HTTP_CONTENT_TYPE, "HTTP_CONTENT_TYPE")                                 \
    X(HTTP_COOKIE, "HTTP_COOKIE")                                             \
    X(HTTP_DNT, "HTTP_DNT")                                                   \
    X(HTTP_IF_MODIFIED_SINCE, "HTTP_IF_MODIFIED_SINCE")                       \
    X(HTTP_IF_NONE_MATCH, "HTTP_IF_NONE_MATCH")                               \
    X(HTTP_ORIGIN, "HTTP_ORIGIN")                                             \
    X(HTTP_PRAGMA, "HTTP_PRAGMA")                                             \
    X(HTTP_RANGE, "HTTP_RANGE")                                               \
    X(HTTP_REFERER, "HTTP_REFERER")                                           \
    X(HTTP_SEC_FETCH_DEST, "HTTP_SEC_FETCH_DEST")                             \
    X(HTTP_SEC_FETCH_MODE, "HTTP_SEC_FETCH_MODE")                             \
    X(HTTP_SEC_FETCH_SITE, "HTTP_SEC_FETCH_SITE")                             \
    X(HTTP_SEC_FETCH_USER, "HTTP_SEC_FETCH_USER")                             \
    X(HTTP_TE, "HTTP_TE")                                                     \
    X(HTTP_UPGRADE_INSECURE_REQUESTS, "HTTP_UPGRADE_INSECURE_REQUESTS")       \
    X(HTTP_X_CSRFTOKEN, "HTTP_X_CSRFTOKEN")                                   \
    X(HTTP_X_FORWARDED_FOR, "HTTP_X_FORWARDED_FOR")                           \
    X(HTTP_X_FORWARDED_HOST, "HTTP_X_FORWARDED_HOST")                         \
    X(HTTP_X_FORWARDED_PROTO, "HTTP_X_FORWARDED_PROTO")                       \
    X(HTTP_X_REAL_IP, "HTTP_X_REAL_IP")                                       \
    X(HTTP_X_REQUESTED_WITH, "HTTP_X_REQUESTED_WITH")                         \
    X(ATTR_CLOSE, "close")                                                    \
    X(ATTR_FILENO, "fileno")                                                  \
    X(ATTR_MODE, "mode")                                                      \
    X(ATTR_READ, "read")                                                      \
    X(ATTR_TELL, "tell")

/*
 * X(ID, "text"): environ values common enough to share one object instead
 * of decoding a new str per request.
 */
#define FW_VALUE_LIST(X)                                                      \
    X(EMPTY, "")                                                              \
    X(GET, "GET")                                                             \
    X(POST, "POST")                                                           \
    X(HEAD, "HEAD")                                                           \
    X(PUT, "PUT")                                                             \
    X(PATCH, "PATCH")                                                         \
    X(DELETE, "DELETE")                                                       \
    X(OPTIONS, "OPTIONS")                                                     \
    X(HTTP_1_0, "HTTP/1.0")                                                   \
    X(HTTP_1_1, "HTTP/1.1")                                                   \
    X(HTTP_2_0, "HTTP/2.0")                                                   \
    X(HTTP_2, "HTTP/2")                                                       \
    X(CGI_1_1, "CGI/1.1")                                                     \
    X(PORT_80, "80")                                                          \
    X(PORT_443, "443")                                                        \
    X(PORT_8000, "8000")                                                      \
    X(PORT_8080, "8080")                                                      \
    X(ZERO, "0")                                                              \
    X(ONE, "1")                                                               \
    X(ON, "on")                                                               \
    X(STATUS_200, "200")                                                      \
    X(ROLE_RESPONDER, "RESPONDER")                                            \
    X(ROLE_AUTHORIZER, "AUTHORIZER")                                          \
    X(SCHEME_HTTP, "http")                                                    \
    X(SCHEME_HTTPS, "https")                                                  \
    X(LOCALHOST, "localhost")                                                 \
    X(LOOPBACK4, "127.0.0.1")                                                 \
    X(LOOPBACK6, "::1")                                                       \
    X(ROOT, "/")                                                              \
    X(ACCEPT_ANY, "*/*")                                                      \
    X(KEEP_ALIVE, "keep-alive")                                               \
    X(CLOSE, "close")                                                         \
    X(GZIP_DEFLATE, "gzip, deflate")                                          \
    X(GZIP_DEFLATE_BR, "gzip, deflate, br")                                   \
    X(FORM_URLENCODED, "application/x-www-form-urlencoded")                   \
    X(JSON, "application/json")

#define FW_KEY_ENUM(id, text) FW_KEY_##id,
#define FW_VALUE_ENUM(id, text) FW_VALUE_##id,
enum { FW_KEY_LIST(FW_KEY_ENUM) FW_KEY_COUNT };
enum { FW_VALUE_LIST(FW_VALUE_ENUM) FW_VALUE_COUNT };
#undef FW_KEY_ENUM
#undef FW_VALUE_ENUM

/* Filled by fw_keys_init; every entry borrowed by its users. */
extern PyObject *fw_keys[FW_KEY_COUNT];
extern PyObject *fw_values[FW_VALUE_COUNT];

#define FW_KEY(id) (fw_keys[FW_KEY_##id])
#define FW_VALUE(id) (fw_values[FW_VALUE_##id])

/* Makes every key and value (GIL held).  0, or -1 with an exception set. */
int fw_keys_init(void);

/* Drops them (GIL held); fw_keys_init may run again afterwards. */
void fw_keys_fini(void);

/*
 * The key object whose text is name[0..len), or NULL (no exception) when
 * it is not a known key.  Borrowed.  GIL held.
 */
PyObject *fw_keys_find(const char *name, size_t len);

/* Likewise for the common values. */
PyObject *fw_values_find(const char *value, size_t len);

#endif /* FW_KEYS_H */
