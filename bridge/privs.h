/*
 * privs.h: `uid`, `gid` and `chown-socket`: names or numbers resolved at
 * start-up, the socket file's owner set after binding, and the privileges
 * dropped after that (before the application is imported); `allow-root`:
 * no serving as root unless asked.
 */
#ifndef FW_PRIVS_H
#define FW_PRIVS_H

#include <sys/types.h>

typedef struct {
    int set_uid, set_gid;
    uid_t uid;
    gid_t gid;
    char user[256]; /* for the supplementary groups; "" if unknown */
    int chown_socket;
    uid_t socket_uid; /* (uid_t)-1: unchanged */
    gid_t socket_gid; /* (gid_t)-1: unchanged */
} fw_privs_t;

/*
 * Resolves the option values (each NULL when not given).  uid without gid
 * takes the user's primary group.  Returns NULL, or a message such as
 * "uid: no such user 'www'" (in a static buffer) for the caller to print.
 */
const char *fw_privs_resolve(fw_privs_t *p, const char *uid, const char *gid,
                             const char *chown_socket);

/*
 * The root guard (php-fpm's -R): started as root (euid 0) and told to
 * become no other user (no uid, or a uid that is root), fcgi-wsgi would
 * serve as root.  Returns NULL when it would not, or allow_root is set;
 * else the message (in a static buffer) for the caller to print.
 */
const char *fw_privs_check_root(const fw_privs_t *p, int allow_root);

/* chown-socket: gives path to the configured owner.  0, or -1 after
 * logging. */
int fw_privs_chown_socket(const fw_privs_t *p, const char *path);

/*
 * Drops to gid (supplementary groups: the user's, or gid alone) and uid.
 * Already running as them (the master re-executed by a reload): nothing
 * to do.  0, or -1 after logging.
 */
int fw_privs_drop(const fw_privs_t *p);

#endif /* FW_PRIVS_H */
