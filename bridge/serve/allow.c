/*
 * allow.c: the list of networks allowed to connect (allowed-clients,
 * FCGI_WEB_SERVER_ADDRS), parsed once with conf's fw_conf_parse_cidr, and
 * the check of a peer against it.  The list is built in the master and
 * inherited by the workers; a check reads it and touches nothing else but
 * the two counters of the refusal log.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/serve/serve.h"
#include "bridge/log.h"

#define ALLOW_ENV "FCGI_WEB_SERVER_ADDRS"
#define ALLOW_LOG_PERIOD_MS 1000

static fw_cidr_t *allow_rules;
static size_t allow_nrules;

/* The refusal log: when the last line went out (0: never), and how many
 * refusals were not logged since. */
static _Atomic uint64_t allow_logged_ms;
static atomic_uint allow_unlogged;

static uint64_t
allow_monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t (*allow_clock)(void) = allow_monotonic_ms;

void
fw_allow_set_clock(uint64_t (*now_ms)(void))
{
    allow_clock = now_ms != NULL ? now_ms : allow_monotonic_ms;
    atomic_store(&allow_logged_ms, 0);
    atomic_store(&allow_unlogged, 0);
}

void
fw_allow_free(void)
{
    free(allow_rules);
    allow_rules = NULL;
    allow_nrules = 0;
}

/* Entries in a comma-separated list: an upper bound for allocating. */
static size_t
allow_count(const char *list)
{
    size_t n = 1;

    for (const char *p = list; *p != '\0'; p++) {
        n += *p == ',';
    }
    return n;
}

/*
 * Appends the entries of list (comma-separated, blanks around them
 * allowed) to allow_rules, which has room.  source names the list in the
 * error.  0, or -1 after logging the first bad entry.
 */
static int
allow_add_list(const char *list, const char *source)
{
    const char *p = list;

    for (;;) {
        size_t n = strcspn(p, ",");
        size_t lead = strspn(p, " \t");
        size_t end = n;

        while (end > lead && (p[end - 1] == ' ' || p[end - 1] == '\t')) {
            end--;
        }
        if (end <= lead ||
            fw_conf_parse_cidr(p + lead, end - lead,
                               &allow_rules[allow_nrules]) < 0) {
            fw_log(FW_LOG_ERROR,
                   "%s: '%.*s' is not an IPv4/IPv6 address or network (such "
                   "as 127.0.0.1, 10.0.0.0/8, ::1 or fd00::/8) in '%s'",
                   source, (int)(end > lead ? end - lead : 0), p + lead, list);
            return -1;
        }
        allow_nrules++;
        if (p[n] == '\0') {
            return 0;
        }
        p += n + 1;
    }
}

int
fw_allow_setup(const char *const *clients, size_t nclients)
{
    const char *env = getenv(ALLOW_ENV);
    size_t cap = 0;

    fw_allow_free();
    if (env != NULL && env[strspn(env, " \t")] == '\0') {
        env = NULL; /* empty: as unset */
    }
    for (size_t i = 0; i < nclients; i++) {
        cap += allow_count(clients[i]);
    }
    if (env != NULL) {
        cap += allow_count(env);
    }
    if (cap == 0) {
        return 0;
    }
    allow_rules = calloc(cap, sizeof(*allow_rules));
    if (allow_rules == NULL) {
        fw_log(FW_LOG_ERROR, "allowed-clients: out of memory");
        return -1;
    }
    for (size_t i = 0; i < nclients; i++) {
        if (allow_add_list(clients[i], "allowed-clients") < 0) {
            fw_allow_free();
            return -1;
        }
    }
    if (env != NULL &&
        allow_add_list(env, ALLOW_ENV " in the environment") < 0) {
        fw_allow_free();
        return -1;
    }
    fw_log(FW_LOG_INFO,
           "allowed-clients: %zu address(es) or network(s)%s; other TCP "
           "clients are refused at accept",
           allow_nrules, env != NULL ? " (with " ALLOW_ENV ")" : "");
    return 0;
}

/* Whether the first prefix bits of a and net agree (net's others are 0). */
static int
allow_match(const unsigned char *a, const fw_cidr_t *net)
{
    int whole = net->prefix / 8;
    int rest = net->prefix % 8;

    if (memcmp(a, net->addr, (size_t)whole) != 0) {
        return 0;
    }
    return rest == 0 || (a[whole] & (unsigned char)(0xff << (8 - rest))) ==
                            net->addr[whole];
}

/*
 * Logs a refusal of who, unless a line went out less than a second ago:
 * then it is only counted, and the next line says how many.
 */
static void
allow_log_refusal(const char *who)
{
    uint64_t now = allow_clock();
    uint64_t last = atomic_load(&allow_logged_ms);
    unsigned unlogged;

    if ((last != 0 && now < last + ALLOW_LOG_PERIOD_MS) ||
        !atomic_compare_exchange_strong(&allow_logged_ms, &last, now)) {
        atomic_fetch_add(&allow_unlogged, 1);
        return;
    }
    unlogged = atomic_exchange(&allow_unlogged, 0);
    if (unlogged > 0) {
        fw_log(FW_LOG_WARN,
               "refused a connection from %s: not in allowed-clients (nor "
               "%s); %u more refused since the last such line",
               who, ALLOW_ENV, unlogged);
    } else {
        fw_log(FW_LOG_WARN,
               "refused a connection from %s: not in allowed-clients (nor "
               "%s)",
               who, ALLOW_ENV);
    }
}

int
fw_allow_check(const struct sockaddr *sa, socklen_t len)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    const unsigned char *addr;
    char who[INET6_ADDRSTRLEN];
    sa_family_t family;

    if (allow_nrules == 0) {
        return 1;
    }
    if (sa == NULL || len < (socklen_t)sizeof(sa_family_t)) {
        allow_log_refusal("a peer without an address");
        return 0;
    }
    memcpy(&family, &sa->sa_family, sizeof(family));
    if (family == AF_UNIX) {
        return 1;
    }
    if (family == AF_INET && len >= (socklen_t)sizeof(in4)) {
        memcpy(&in4, sa, sizeof(in4));
        addr = (const unsigned char *)&in4.sin_addr;
    } else if (family == AF_INET6 && len >= (socklen_t)sizeof(in6)) {
        memcpy(&in6, sa, sizeof(in6));
        addr = in6.sin6_addr.s6_addr;
        if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
            family = AF_INET;
            addr += sizeof(mapped);
        }
    } else {
        allow_log_refusal("a peer of an unknown address family");
        return 0;
    }
    for (size_t i = 0; i < allow_nrules; i++) {
        if (allow_rules[i].family == family &&
            allow_match(addr, &allow_rules[i])) {
            return 1;
        }
    }
    if (inet_ntop(family, addr, who, sizeof(who)) == NULL) {
        strcpy(who, "?");
    }
    allow_log_refusal(who);
    return 0;
}
