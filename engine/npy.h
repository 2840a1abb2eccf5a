/* npy.h - read and write float32 NumPy .npy files (the CLI's I/O). */
#ifndef SN_NPY_H
#define SN_NPY_H

#include <stddef.h>

#define SN_NPY_MAX_DIMS 8

typedef struct {
  int ndim;
  size_t dims[SN_NPY_MAX_DIMS];
  size_t count;   /* product of dims */
  float *data;    /* [count], C order */
} sn_npy;

/* Read a little-endian float32 C-order .npy. Returns 0, or -1 with a
 * one-line reason in msg. */
int sn_npy_read (const char *path, sn_npy *out, char *msg, size_t msg_len);
/* Write data as a float32 array of the given shape. 0 or -1 (msg). */
int sn_npy_write (const char *path, const float *data, int ndim,
    const size_t *dims, char *msg, size_t msg_len);
void sn_npy_free (sn_npy *a);

#endif /* SN_NPY_H */
