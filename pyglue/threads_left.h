/*
 * threads_left.h: the application's own threads, as a stopping worker
 * sees them.  Python's finalisation waits for every non-daemon thread, so
 * one the application left running would keep the worker alive for ever:
 * the worker waits for them a bounded time, naming them, and then exits
 * without finalising.  The bridge calls this; it never sees a PyObject.
 */
#ifndef FW_THREADS_LEFT_H
#define FW_THREADS_LEFT_H

/*
 * Waits up to timeout_ms for the application's non-daemon threads (those
 * of threading.enumerate() but the main thread) to end.  When some run,
 * logs a warning naming them first (and `limit`, the option that bounds
 * the wait), and, if some still run at the end, an error naming those.
 * Returns how many still run: 0 means Python may be finalised.  Python
 * started; the caller holds no GIL and runs no other Python thread of
 * ours.  A Python error is logged and counts as none left.
 */
int fw_pyglue_threads_wait(long timeout_ms, const char *limit);

#endif /* FW_THREADS_LEFT_H */
