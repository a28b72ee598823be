/*
 * pidfile.h: the `pidfile` option: the master's pid, written once it
 * serves, removed when it exits.  Nothing else is kept in the file.
 */
#ifndef FW_PIDFILE_H
#define FW_PIDFILE_H

/* Writes "PID\n" to path (replacing what was there; nothing to do when
 * it holds our pid already: a reload).  0, or -1 after logging. */
int fw_pidfile_write(const char *path);

/* Removes path if it still holds our pid (a newer server's file is left
 * alone).  Logs a failure; returns nothing. */
void fw_pidfile_remove(const char *path);

#endif /* FW_PIDFILE_H */
