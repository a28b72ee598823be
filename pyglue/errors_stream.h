/*
 * errors_stream.h: the wsgi.errors object: write, writelines and flush
 * go to the server's log (errors.h's sink), one message per line.
 * Requires Python.h to be included first.
 */
#ifndef FW_ERRORS_STREAM_H
#define FW_ERRORS_STREAM_H

/* Readies the type and makes the one object of the process (GIL held).
 * 0, or -1 with an exception set. */
int fw_errors_stream_init(void);

/*
 * The wsgi.errors object.  Returns a borrowed reference, NULL with an
 * exception set before fw_errors_stream_init succeeded.
 */
PyObject *fw_errors_stream_object(void);

/*
 * Logs the line wsgi.errors holds without its newline yet, if any: called
 * at the end of each request and by wsgi.errors.flush().  GIL held.
 */
void fw_errors_stream_flush(void);

/* Logs a line left unfinished, then drops the object (GIL held). */
void fw_errors_stream_fini(void);

#endif /* FW_ERRORS_STREAM_H */
