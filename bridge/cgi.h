/*
 * cgi.h: the CGI fallback: started by a web server as a CGI program (no
 * socket configured, nothing listening on fd 0, a CGI request in the
 * environment), fcgi-wsgi serves that one request and exits, so the same
 * binary works as a .cgi.  Another implementation of pyglue's request
 * interface (pyglue/gateway.h); pyglue does not know which one it runs.
 */
#ifndef FW_CGI_H
#define FW_CGI_H

#include "pyglue/pyglue.h"

/*
 * Whether this process runs as a CGI program: GATEWAY_INTERFACE starts
 * with "CGI/" and REQUEST_METHOD is set (RFC 3875).  Call only when no
 * socket is configured and none was inherited.  When it does, prepares
 * the process, before Python starts:
 *  - the environment is copied: it is the request's parameters;
 *  - HTTP_PROXY is removed from the environment ("httpoxy": a client's
 *    Proxy: header must not become the application's proxy setting; the
 *    WSGI environ still has it);
 *  - fd 0 and fd 1 are kept for the request (body in, response out) and
 *    replaced by /dev/null and stderr, so that print() or a library
 *    reading stdin cannot corrupt the response or eat the body.
 * Returns 1 (a CGI request, ready to serve), 0 (not CGI), or -1 after
 * logging (the descriptors could not be set up).
 */
int fw_cgi_detect(void);

/*
 * Serves the request fw_cgi_detect found, with the application app (the
 * interpreter is started here, with wsgi.run_once): the body is read from
 * the original stdin, CONTENT_LENGTH bytes at most (none when it is
 * absent, as RFC 3875 says); the response goes to the original stdout as
 * CGI output ("Status: 200 OK" and the header block, then the body).
 * Returns the exit status: 0; 1 when the application cannot be loaded
 * (logged to stderr: the web server answers 500) or the response was cut
 * off.
 */
int fw_cgi_serve(const fw_app_config_t *app);

#endif /* FW_CGI_H */
