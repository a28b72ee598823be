/*
 * file_wrapper.h: wsgi.file_wrapper, an iterable over a file-like object's
 * blocks whose close() closes the file.  FastCGI has no sendfile, so the
 * response path just iterates it (without a flush per block).  Requires
 * Python.h to be included first.
 */
#ifndef FW_FILE_WRAPPER_H
#define FW_FILE_WRAPPER_H

/* Readies the type (GIL held).  0, or -1 with an exception set. */
int fw_file_wrapper_init_type(void);

/* The type, callable as file_wrapper(filelike, blksize=8192).  Borrowed. */
PyObject *fw_file_wrapper_type(void);

/* Whether o is one of ours (exactly, not a subclass). */
int fw_file_wrapper_check(PyObject *o);

#endif /* FW_FILE_WRAPPER_H */
