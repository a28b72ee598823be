/*
 * conf_check_listen.c: the checks of where fcgi-wsgi listens and what comes
 * in: socket (the address), protocol, role, and allowed-clients (the
 * addresses and networks, parsed by fw_conf_parse_cidr, which the bridge
 * shares).  It reads strings only: it opens, binds and resolves nothing.
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conf/conf_int.h"

#define SOCKET_FORMS                                                          \
    "expected unix:PATH, a PATH containing '/', HOST:PORT, [IPv6]:PORT or "   \
    ":PORT"

static const char *
parse_port(fw_conf_state_t *st, const char *port, const char *value, int *out)
{
    long n = 0;

    if (*port == '\0' || port[strspn(port, "0123456789")] != '\0' ||
        strlen(port) > 5 || (n = strtol(port, NULL, 10)) < 1 || n > 65535) {
        return fw_conf_table_msg(st, "port must be 1 to 65535, got '%s'",
                                 value);
    }
    *out = (int)n;
    return NULL;
}

static const char *
parse_unix(fw_conf_state_t *st, const char *path, fw_sockaddr_conf_t *out)
{
    size_t sun_path = sizeof(((struct sockaddr_un *)NULL)->sun_path);
    size_t limit =
        (sun_path < sizeof(out->path) ? sun_path : sizeof(out->path)) - 1;
    size_t len = strlen(path);

    if (len == 0) {
        return "expected a path after unix:";
    }
    if (len > limit) {
        return fw_conf_table_msg(st,
                                 "unix socket path is %zu bytes long; the "
                                 "limit is %zu",
                                 len, limit);
    }
    out->kind = FW_SOCK_UNIX;
    memcpy(out->path, path, len + 1);
    return NULL;
}

/*
 * Parses a socket address (the forms in SOCKET_FORMS) into st->c->listen.
 * ":PORT" means 127.0.0.1, never every interface.  IPv6 hosts are stored
 * without their brackets; host names are kept for the bridge to resolve.
 */
const char *
fw_conf_check_socket(fw_conf_state_t *st, const char *value, char **keep)
{
    fw_sockaddr_conf_t addr;
    const char *colon;
    const char *host;
    size_t host_len;
    const char *msg;

    (void)keep;
    memset(&addr, 0, sizeof(addr));
    if (strncmp(value, "unix:", 5) == 0) {
        msg = parse_unix(st, value + 5, &addr);
    } else if (strchr(value, '/') != NULL) {
        msg = parse_unix(st, value, &addr);
    } else {
        if (value[0] == '[') {
            const char *close = strchr(value, ']');
            unsigned char buf[16];
            char *inside;
            int ok;

            if (close == NULL || close[1] != ':') {
                return fw_conf_table_msg(st, SOCKET_FORMS ", got '%s'", value);
            }
            inside = conf_strndup(value + 1, (size_t)(close - value - 1));
            ok = inet_pton(AF_INET6, inside, buf) == 1;
            free(inside);
            if (!ok) {
                return fw_conf_table_msg(
                    st, "expected an IPv6 address inside [ ], got '%s'",
                    value);
            }
            host = value + 1;
            host_len = (size_t)(close - value - 1);
            colon = close + 1;
        } else {
            colon = strrchr(value, ':');
            if (colon == NULL) {
                return fw_conf_table_msg(st, SOCKET_FORMS ", got '%s'", value);
            }
            host = value;
            host_len = (size_t)(colon - value);
            if (memchr(host, ':', host_len) != NULL) {
                return fw_conf_table_msg(st,
                                         "write an IPv6 address in brackets, "
                                         "as [::1]:9000, got '%s'",
                                         value);
            }
            if (host_len == 0) {
                host = "127.0.0.1";
                host_len = strlen(host);
            }
        }
        if (host_len >= sizeof(addr.host)) {
            return fw_conf_table_msg(st, "host name too long in '%.40s...'",
                                     value);
        }
        msg = parse_port(st, colon + 1, value, &addr.port);
        if (msg == NULL) {
            addr.kind = FW_SOCK_TCP;
            memcpy(addr.host, host, host_len);
            addr.host[host_len] = '\0';
        }
    }
    if (msg == NULL) {
        st->c->listen = addr;
    }
    return msg;
}

/*
 * protocol = fastcgi (uWSGI's protocol of its default sockets): fcgi-wsgi's
 * only one; another is the error uWSGI's HTTP options get.
 */
const char *
fw_conf_check_protocol(fw_conf_state_t *st, const char *value, char **keep)
{
    (void)keep;
    if (strcmp(value, "fastcgi") == 0) {
        return NULL;
    }
    return fw_conf_table_msg(st,
                             "fcgi-wsgi speaks FastCGI only: protocol = "
                             "fastcgi (or none) with a web server in front "
                             "(nginx fastcgi_pass), got '%s'",
                             value);
}

/*
 * role = auto (each request's, from the web server) | authorizer (every
 * request is served in the FastCGI Authorizer role).
 */
const char *
fw_conf_check_role(fw_conf_state_t *st, const char *value, char **keep)
{
    static const char *const roles[] = {"auto", "authorizer"};
    size_t i = 0;
    const char *msg = FW_CONF_ONE_OF(st, value, roles, &i);

    (void)keep;
    if (msg == NULL) {
        st->c->force_authorizer = i == 1;
    }
    return msg;
}

/* Clears the bits of a past its first prefix bits (nbytes long). */
static void
cidr_mask(unsigned char *a, size_t nbytes, int prefix)
{
    for (size_t i = 0; i < nbytes; i++) {
        int keep = prefix - (int)(i * 8);

        if (keep <= 0) {
            a[i] = 0;
        } else if (keep < 8) {
            a[i] &= (unsigned char)(0xff << (8 - keep));
        }
    }
}

int
fw_conf_parse_cidr(const char *s, size_t len, fw_cidr_t *out)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    char text[64]; /* the longest IPv6 text is 45 bytes */
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash != NULL ? (size_t)(slash - s) : len;
    int max_bits;
    long bits = -1;

    memset(out, 0, sizeof(*out));
    if (addr_len == 0 || addr_len >= sizeof(text)) {
        return -1;
    }
    memcpy(text, s, addr_len);
    text[addr_len] = '\0';
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        max_bits = 32;
    } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        max_bits = 128;
    } else {
        return -1;
    }
    if (slash != NULL) {
        size_t n = len - addr_len - 1;

        if (n == 0 || n > 3) {
            return -1;
        }
        bits = 0;
        for (size_t i = 0; i < n; i++) {
            if (slash[1 + i] < '0' || slash[1 + i] > '9') {
                return -1;
            }
            bits = bits * 10 + (slash[1 + i] - '0');
        }
        if (bits > max_bits) {
            return -1;
        }
    }
    out->prefix = bits >= 0 ? (int)bits : max_bits;
    if (out->family == AF_INET6 && out->prefix >= 96 &&
        memcmp(out->addr, mapped, sizeof(mapped)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        out->prefix -= 96;
    }
    cidr_mask(out->addr, sizeof(out->addr), out->prefix);
    return 0;
}

/*
 * allowed-clients = ADDR[/BITS][, ADDR[/BITS]]... (php-fpm's
 * listen.allowed_clients; repeatable).  Each entry must parse
 * (fw_conf_parse_cidr); the value is kept without its blanks.
 */
const char *
fw_conf_check_allowed_clients(fw_conf_state_t *st, const char *value,
                              char **keep)
{
    size_t vlen = strlen(value);
    char *out = conf_oom(malloc(vlen + 1));
    size_t used = 0;
    const char *p = value;

    for (;;) {
        size_t n = strcspn(p, ",");
        size_t lead = strspn(p, " \t");
        size_t end = n;
        fw_cidr_t cidr;

        while (end > lead && (p[end - 1] == ' ' || p[end - 1] == '\t')) {
            end--;
        }
        if (end == lead ||
            fw_conf_parse_cidr(p + lead, end - lead, &cidr) < 0) {
            free(out);
            if (end == lead) {
                return fw_conf_table_msg(
                    st,
                    "an empty entry in '%s': expected IPv4/IPv6 "
                    "addresses or networks separated by commas",
                    value);
            }
            return fw_conf_table_msg(
                st,
                "'%.*s' is not an IPv4/IPv6 address or network: expected "
                "such as 127.0.0.1, 10.0.0.0/8, ::1 or fd00::/8 (IPv4 up to "
                "/32, IPv6 up to /128), separated by commas",
                (int)(end - lead), p + lead);
        }
        if (used > 0) {
            out[used++] = ',';
        }
        memcpy(out + used, p + lead, end - lead);
        used += end - lead;
        if (p[n] == '\0') {
            break;
        }
        p += n + 1;
    }
    out[used] = '\0';
    *keep = out;
    return NULL;
}
