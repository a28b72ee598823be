/*
 * gil.h: waiting with the GIL released.  Requires Python.h first.
 */
#ifndef FW_GIL_H
#define FW_GIL_H

/*
 * Waits until *flag is 0, releasing the GIL between looks so that the
 * thread that set it (inside a gateway call, GIL released) can finish and
 * clear it.  GIL held on entry and on return.  Only an application that
 * uses one request's objects from two threads can make this wait at all.
 */
void fw_gil_wait_clear(const int *flag);

#endif /* FW_GIL_H */
