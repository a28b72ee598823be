/*
 * traceback_dump.h: a signal that makes the process write the Python stack
 * of every thread to a descriptor (faulthandler), for harakiri and slowlog.
 * The bridge calls this; it never sees a PyObject.
 */
#ifndef FW_TRACEBACK_DUMP_H
#define FW_TRACEBACK_DUMP_H

/*
 * faulthandler.register(signo, file=fd, all_threads=True, chain=True):
 * from now on signo (which no thread may block) writes every thread's
 * Python stack to fd, in the signal handler, even while a thread holds the
 * GIL, then calls the handler signo had before (the caller's way to know
 * that the dump is complete; SIG_IGN: none); the process then goes on.  fd
 * must stay open (dup2 another file onto it to redirect).  Python started; GIL
 * not held by the caller. 0, or -1 after logging the Python error.
 */
int fw_pyglue_dump_on_signal(int signo, int fd);

#endif /* FW_TRACEBACK_DUMP_H */
