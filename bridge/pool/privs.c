/*
 * privs.c: user and group switching.  Names are looked up once, at
 * start-up, while /etc/passwd is surely readable; nothing here runs after
 * the workers are forked.
 */
/* setgroups() and initgroups() are not POSIX. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/log.h"
#include "bridge/pool/pool.h"

static char privs_msg[512];

static int
privs_number(const char *s, unsigned long *out)
{
    char *end;

    if (*s == '\0' || s[strspn(s, "0123456789")] != '\0') {
        return -1;
    }
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno == 0 ? 0 : -1;
}

/* A user name or number; *primary gets its group (if it has an entry). */
static int
privs_user(const char *s, uid_t *uid, gid_t *primary, int *has_primary,
           char *name, size_t name_size)
{
    struct passwd *pw;
    unsigned long n;

    *has_primary = 0;
    if (privs_number(s, &n) == 0) {
        *uid = (uid_t)n;
        pw = getpwuid(*uid);
    } else {
        pw = getpwnam(s);
        if (pw == NULL) {
            return -1;
        }
        *uid = pw->pw_uid;
    }
    if (pw != NULL) {
        *primary = pw->pw_gid;
        *has_primary = 1;
        snprintf(name, name_size, "%s", pw->pw_name);
    }
    return 0;
}

static int
privs_group(const char *s, gid_t *gid)
{
    struct group *gr;
    unsigned long n;

    if (privs_number(s, &n) == 0) {
        *gid = (gid_t)n;
        return 0;
    }
    gr = getgrnam(s);
    if (gr == NULL) {
        return -1;
    }
    *gid = gr->gr_gid;
    return 0;
}

const char *
fw_privs_resolve(fw_privs_t *p, const char *uid, const char *gid,
                 const char *chown_socket)
{
    gid_t primary = 0;
    int has_primary = 0;
    char name[256];

    memset(p, 0, sizeof(*p));
    p->socket_uid = (uid_t)-1;
    p->socket_gid = (gid_t)-1;

    if (uid != NULL) {
        if (privs_user(uid, &p->uid, &primary, &has_primary, p->user,
                       sizeof(p->user)) < 0) {
            snprintf(privs_msg, sizeof(privs_msg), "uid: no such user '%s'",
                     uid);
            return privs_msg;
        }
        p->set_uid = 1;
    }
    if (gid != NULL) {
        if (privs_group(gid, &p->gid) < 0) {
            snprintf(privs_msg, sizeof(privs_msg), "gid: no such group '%s'",
                     gid);
            return privs_msg;
        }
        p->set_gid = 1;
    } else if (p->set_uid && has_primary) {
        p->gid = primary;
        p->set_gid = 1;
    }

    if (chown_socket != NULL) {
        const char *colon = strchr(chown_socket, ':');
        size_t len = colon != NULL ? (size_t)(colon - chown_socket)
                                   : strlen(chown_socket);
        char user[256];

        if (len == 0 || len >= sizeof(user)) {
            snprintf(privs_msg, sizeof(privs_msg),
                     "chown-socket: expected USER or USER:GROUP, got '%s'",
                     chown_socket);
            return privs_msg;
        }
        memcpy(user, chown_socket, len);
        user[len] = '\0';
        if (privs_user(user, &p->socket_uid, &primary, &has_primary, name,
                       sizeof(name)) < 0) {
            snprintf(privs_msg, sizeof(privs_msg),
                     "chown-socket: no such user '%s'", user);
            return privs_msg;
        }
        if (colon != NULL && privs_group(colon + 1, &p->socket_gid) < 0) {
            snprintf(privs_msg, sizeof(privs_msg),
                     "chown-socket: no such group '%s'", colon + 1);
            return privs_msg;
        }
        p->chown_socket = 1;
    }
    return NULL;
}

const char *
fw_privs_check_root(const fw_privs_t *p, int allow_root)
{
    if (allow_root || geteuid() != 0 || (p->set_uid && p->uid != 0)) {
        return NULL;
    }
    if (p->set_uid) {
        snprintf(privs_msg, sizeof(privs_msg),
                 "refusing to serve as root (uid = %s): set uid to another "
                 "user, such as uid = www-data (and gid), or allow-root = "
                 "true / --allow-root to run as root anyway",
                 p->user[0] != '\0' ? p->user : "0");
    } else {
        snprintf(privs_msg, sizeof(privs_msg),
                 "refusing to serve as root: set uid = www-data (and gid), "
                 "or allow-root = true / --allow-root to run as root "
                 "anyway");
    }
    return privs_msg;
}

int
fw_privs_chown_socket(const fw_privs_t *p, const char *path)
{
    if (!p->chown_socket) {
        return 0;
    }
    if (path == NULL || path[0] == '\0') {
        fw_log(FW_LOG_WARN, "chown-socket: not a unix socket of ours: "
                            "nothing to chown");
        return 0;
    }
    if (chown(path, p->socket_uid, p->socket_gid) < 0) {
        fw_log(FW_LOG_ERROR, "chown-socket %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int
fw_privs_drop(const fw_privs_t *p)
{
    if (p->set_gid && getegid() != p->gid) {
        int rc = p->user[0] != '\0' ? initgroups(p->user, p->gid)
                                    : setgroups(1, &p->gid);

        if (rc < 0) {
            fw_log(FW_LOG_ERROR, "gid %ld: supplementary groups: %s",
                   (long)p->gid, strerror(errno));
            return -1;
        }
        if (setgid(p->gid) < 0) {
            fw_log(FW_LOG_ERROR, "gid %ld: %s", (long)p->gid, strerror(errno));
            return -1;
        }
    }
    if (p->set_uid && geteuid() != p->uid) {
        if (setuid(p->uid) < 0) {
            fw_log(FW_LOG_ERROR, "uid %ld: %s", (long)p->uid, strerror(errno));
            return -1;
        }
    }
    if (p->set_uid && p->uid != 0 && setuid(0) == 0) {
        fw_log(FW_LOG_ERROR, "uid %ld: root privileges could be regained",
               (long)p->uid);
        return -1;
    }
    return 0;
}
