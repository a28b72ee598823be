/*
 * privs.c: user and group switching, and the socket file's owner and
 * mode.  Names are looked up at start-up, while /etc/passwd is surely
 * readable; nothing here runs after the workers are forked.
 */
/* setgroups() and initgroups() are not POSIX. */
#define _DEFAULT_SOURCE

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

void
fw_privs_owner_name(uid_t uid, gid_t gid, char *out, size_t size)
{
    struct passwd *pw = getpwuid(uid);
    struct group *gr = getgrgid(gid);
    char user[64], group[64];

    if (pw != NULL) {
        snprintf(user, sizeof(user), "%s", pw->pw_name);
    } else {
        snprintf(user, sizeof(user), "%ld", (long)uid);
    }
    if (gr != NULL) {
        snprintf(group, sizeof(group), "%s", gr->gr_name);
    } else {
        snprintf(group, sizeof(group), "%ld", (long)gid);
    }
    snprintf(out, size, "%s:%s", user, group);
}

void
fw_privs_socket_owner(const fw_privs_t *p, uid_t *uid, gid_t *gid)
{
    if (p->chown_socket) {
        *uid = p->socket_uid;
        *gid = p->socket_gid;
    } else {
        *uid = p->set_uid ? p->uid : (uid_t)-1;
        *gid = p->set_gid ? p->gid : (gid_t)-1;
    }
}

/* Who this process is, for the messages of a reload that cannot apply a
 * change: "app:app". */
static void
privs_self(char *out, size_t size)
{
    fw_privs_owner_name(geteuid(), getegid(), out, size);
}

/*
 * Gives path to uid:gid ((uid_t)-1 / (gid_t)-1: unchanged), st being what
 * it is now.  0 done (or nothing to do), -1 after logging: an error at a
 * first start, a warning saying why at a reload.
 */
static int
privs_chown_socket(const char *path, const struct stat *st, uid_t uid,
                   gid_t gid, int reload)
{
    char was[160], want[160], self[160];
    int saved;

    uid = uid == st->st_uid ? (uid_t)-1 : uid;
    gid = gid == st->st_gid ? (gid_t)-1 : gid;
    if (uid == (uid_t)-1 && gid == (gid_t)-1) {
        return 0;
    }
    fw_privs_owner_name(st->st_uid, st->st_gid, was, sizeof(was));
    fw_privs_owner_name(uid != (uid_t)-1 ? uid : st->st_uid,
                        gid != (gid_t)-1 ? gid : st->st_gid, want,
                        sizeof(want));
    if (chown(path, uid, gid) == 0) {
        if (reload) {
            fw_log(FW_LOG_INFO, "reload: socket %s: owner %s -> %s", path, was,
                   want);
        }
        return 0;
    }
    saved = errno;
    if (!reload) {
        fw_log(FW_LOG_ERROR, "socket %s: chown to %s: %s", path, want,
               strerror(saved));
        return -1;
    }
    privs_self(self, sizeof(self));
    fw_log(FW_LOG_WARN,
           "reload: socket %s: owner stays %s, not %s (%s): the master runs "
           "as %s; a restart (as root) applies it",
           path, was, want, strerror(saved), self);
    return -1;
}

/* chmod-socket: as privs_chown_socket, for the mode. */
static int
privs_chmod_socket(const char *path, const struct stat *st, unsigned mode,
                   int reload)
{
    unsigned was = (unsigned)st->st_mode & 07777;
    char owner[160], self[160];
    int saved;

    if (was == mode) {
        return 0;
    }
    if (chmod(path, (mode_t)mode) == 0) {
        if (reload) {
            fw_log(FW_LOG_INFO, "reload: socket %s: mode %04o -> %04o", path,
                   was, mode);
        }
        return 0;
    }
    saved = errno;
    if (!reload) {
        fw_log(FW_LOG_ERROR, "socket %s: chmod %04o: %s", path, mode,
               strerror(saved));
        return -1;
    }
    fw_privs_owner_name(st->st_uid, st->st_gid, owner, sizeof(owner));
    privs_self(self, sizeof(self));
    fw_log(FW_LOG_WARN,
           "reload: socket %s: mode stays %04o, not %04o (%s): the socket "
           "belongs to %s and the master runs as %s; a restart applies it",
           path, was, mode, strerror(saved), owner, self);
    return -1;
}

int
fw_privs_own_socket(const fw_privs_t *p, const char *path, unsigned mode,
                    int reload)
{
    struct stat st;
    uid_t uid;
    gid_t gid;
    int rc;

    if (path == NULL || path[0] == '\0') {
        if (p->chown_socket && !reload) {
            fw_log(FW_LOG_WARN, "chown-socket: not a unix socket of ours: "
                                "nothing to chown");
        }
        return 0;
    }
    if (stat(path, &st) < 0) {
        fw_log(reload ? FW_LOG_WARN : FW_LOG_ERROR, "%ssocket %s: %s",
               reload ? "reload: " : "", path, strerror(errno));
        return reload ? 0 : -1;
    }
    fw_privs_socket_owner(p, &uid, &gid);
    rc = privs_chown_socket(path, &st, uid, gid, reload);
    if (rc == 0 && stat(path, &st) < 0) {
        rc = -1;
    }
    if (privs_chmod_socket(path, &st, mode, reload) < 0) {
        rc = -1;
    }
    return reload ? 0 : rc;
}

/* ---- can the web server connect? --------------------------------------- */

/* The users web servers run as, by their packages' habits; the first one
 * the passwd database knows is the one checked. */
static const char *const privs_web_users[] = {"www-data", "nginx", "apache",
                                              "lighttpd"};

#define PRIVS_MAX_GROUPS 256

/* The web server's user and its groups. */
typedef struct {
    char name[64];
    char group[64]; /* its primary group's name */
    uid_t uid;
    gid_t groups[PRIVS_MAX_GROUPS];
    int ngroups;
} privs_web_t;

/* The first of privs_web_users that exists; 0, or -1 when none does. */
static int
privs_web_user(privs_web_t *w)
{
    for (size_t i = 0;
         i < sizeof(privs_web_users) / sizeof(privs_web_users[0]); i++) {
        struct passwd *pw = getpwnam(privs_web_users[i]);
        struct group *gr;

        if (pw == NULL) {
            continue;
        }
        snprintf(w->name, sizeof(w->name), "%s", pw->pw_name);
        w->uid = pw->pw_uid;
        w->ngroups = PRIVS_MAX_GROUPS;
        if (getgrouplist(pw->pw_name, pw->pw_gid, w->groups, &w->ngroups) <
            0) {
            w->groups[0] = pw->pw_gid;
            w->ngroups = 1;
        }
        gr = getgrgid(pw->pw_gid);
        if (gr != NULL) {
            snprintf(w->group, sizeof(w->group), "%s", gr->gr_name);
        } else {
            snprintf(w->group, sizeof(w->group), "%ld", (long)pw->pw_gid);
        }
        return 0;
    }
    return -1;
}

/*
 * Whether w may do what (a mask of one class's bits: 2 write, 1 search)
 * to a file of owner:group and mode: the owner's bits if it is the owner,
 * else the group's if it is in the group, else the others'.
 */
static int
privs_web_may(const privs_web_t *w, uid_t owner, gid_t group, unsigned mode,
              unsigned what)
{
    if (w->uid == 0) {
        return 1;
    }
    if (w->uid == owner) {
        return ((mode >> 6) & what) == what;
    }
    for (int i = 0; i < w->ngroups; i++) {
        if (w->groups[i] == group) {
            return ((mode >> 3) & what) == what;
        }
    }
    return (mode & what) == what;
}

/* The first directory above abs (an absolute path) that w may not search,
 * copied to out; 0 when there is none. */
static int
privs_web_closed_dir(const privs_web_t *w, const char *abs, char *out,
                     size_t size, struct stat *st)
{
    char dir[4096];
    const char *slash = abs;

    while ((slash = strchr(slash, '/')) != NULL) {
        size_t n = slash == abs ? 1 : (size_t)(slash - abs);

        slash++;
        if (n >= sizeof(dir)) {
            break;
        }
        memcpy(dir, abs, n);
        dir[n] = '\0';
        if (stat(dir, st) == 0 &&
            !privs_web_may(w, st->st_uid, st->st_gid, st->st_mode & 0777, 1)) {
            snprintf(out, size, "%s", dir);
            return 1;
        }
    }
    return 0;
}

const char *
fw_privs_web_access(const char *path, uid_t uid, gid_t gid, unsigned mode,
                    char *msg, size_t size)
{
    privs_web_t w;
    char abs[4096], cwd[4096], dir[4096], owner[160], user[160];
    struct stat st;

    if (privs_web_user(&w) < 0) {
        return NULL;
    }
    if (path[0] == '/') {
        snprintf(abs, sizeof(abs), "%s", path);
    } else if (getcwd(cwd, sizeof(cwd)) != NULL) {
        snprintf(abs, sizeof(abs), "%.2000s/%.2000s", cwd, path);
    } else {
        return NULL;
    }
    if (privs_web_closed_dir(&w, abs, dir, sizeof(dir), &st)) {
        fw_privs_owner_name(st.st_uid, st.st_gid, owner, sizeof(owner));
        snprintf(msg, size,
                 "socket %s: %s (the usual web server user) cannot reach it: "
                 "directory %s (%s, mode %04o) is closed to it; put the "
                 "socket in a directory %s may enter",
                 abs, w.name, dir, owner, (unsigned)st.st_mode & 07777,
                 w.name);
        return msg;
    }
    if (privs_web_may(&w, uid, gid, mode, 2)) {
        return NULL;
    }
    fw_privs_owner_name(uid, gid, owner, sizeof(owner));
    snprintf(user, sizeof(user), "%.*s", (int)strcspn(owner, ":"), owner);
    snprintf(msg, size,
             "socket %s: %s (the usual web server user) cannot connect to it "
             "(owner %s, mode %04o): the web server would get Permission "
             "denied (a 502); set chown-socket = %s:%s%s, or chmod-socket "
             "= 666",
             abs, w.name, owner, mode, user, w.group,
             (mode & 020) != 0 ? "" : " with chmod-socket = 660");
    return msg;
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
