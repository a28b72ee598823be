/*
 * file_wrapper.h: wsgi.file_wrapper, an iterable over a file-like object's
 * blocks whose close() closes the file.  When it wraps a regular file the
 * server sends the file itself (sendfile(2), between FastCGI record
 * headers); else the response path iterates it (without a flush per
 * block).  Requires Python.h and sys/types.h to be included first.
 */
#ifndef FW_FILE_WRAPPER_H
#define FW_FILE_WRAPPER_H

/* Readies the type (GIL held).  0, or -1 with an exception set. */
int fw_file_wrapper_init_type(void);

/* The type, callable as file_wrapper(filelike, blksize=8192).  Borrowed. */
PyObject *fw_file_wrapper_type(void);

/* Whether o is one of ours (exactly, not a subclass). */
int fw_file_wrapper_check(PyObject *o);

/*
 * Whether wrapper's file can be sent by the server itself (gateway.h
 * sendfile): its filelike has a mode with 'b' in it (not a text file),
 * its fileno() is a regular file of some size, and tell() says where in
 * it the application left it.  1 with *fd, *offset and *count (the bytes
 * from there to the end, 0 or more) set; 0 otherwise, with no exception
 * left: the response then iterates the wrapper as before.  GIL held.
 */
int fw_file_wrapper_file(PyObject *wrapper, int *fd, off_t *offset,
                         size_t *count);

#endif /* FW_FILE_WRAPPER_H */
