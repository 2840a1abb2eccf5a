/* npy.c - float32 .npy reading and writing (format version 1.0 - 3.0). */
#include "npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail (char *msg, size_t len, const char *path, const char *why)
{
  snprintf (msg, len, "%s: %s", path, why);
  return -1;
}

/* Parse "(a, b, c)" from the header dict into out->dims. */
static int
parse_shape (const char *header, sn_npy *out)
{
  const char *p = strstr (header, "'shape':");
  if (p == NULL || (p = strchr (p, '(')) == NULL)
    return -1;
  p++;
  out->ndim = 0;
  out->count = 1;
  while (*p && *p != ')') {
    char *end;
    unsigned long long v = strtoull (p, &end, 10);
    if (end == p) {
      if (*p == ',' || *p == ' ') {
        p++;
        continue;
      }
      return -1;
    }
    if (out->ndim == SN_NPY_MAX_DIMS || v > ((size_t) 1 << 31))
      return -1;
    out->dims[out->ndim++] = (size_t) v;
    out->count *= (size_t) v;
    if (out->count > ((size_t) 1 << 31))
      return -1;
    p = end;
  }
  return *p == ')' ? 0 : -1;
}

int
sn_npy_read (const char *path, sn_npy *out, char *msg, size_t msg_len)
{
  memset (out, 0, sizeof *out);
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return fail (msg, msg_len, path, "cannot open");
  unsigned char pre[12];
  int rc = -1;
  char *header = NULL;
  if (fread (pre, 1, 10, f) != 10 || memcmp (pre, "\x93NUMPY", 6) != 0) {
    fail (msg, msg_len, path, "not a .npy file");
    goto done;
  }
  size_t hlen = pre[8] | (pre[9] << 8);
  if (pre[6] >= 2) {
    if (fread (pre + 10, 1, 2, f) != 2) {
      fail (msg, msg_len, path, "truncated header");
      goto done;
    }
    hlen |= ((size_t) pre[10] << 16) | ((size_t) pre[11] << 24);
  }
  if (hlen > 1 << 20 || !(header = calloc (1, hlen + 1))
      || fread (header, 1, hlen, f) != hlen) {
    fail (msg, msg_len, path, "truncated header");
    goto done;
  }
  if (!strstr (header, "'descr': '<f4'")) {
    fail (msg, msg_len, path, "dtype is not little-endian float32 ('<f4')");
    goto done;
  }
  if (strstr (header, "'fortran_order': True")) {
    fail (msg, msg_len, path, "Fortran order is not supported");
    goto done;
  }
  if (parse_shape (header, out) != 0) {
    fail (msg, msg_len, path, "cannot parse the shape");
    goto done;
  }
  out->data = malloc (sizeof (float) * (out->count ? out->count : 1));
  if (!out->data || fread (out->data, sizeof (float), out->count, f)
      != out->count) {
    fail (msg, msg_len, path, "file shorter than its shape says");
    goto done;
  }
  rc = 0;
done:
  if (rc != 0)
    sn_npy_free (out);
  free (header);
  fclose (f);
  return rc;
}

int
sn_npy_write (const char *path, const float *data, int ndim,
    const size_t *dims, char *msg, size_t msg_len)
{
  char shape[256] = "";
  size_t count = 1, used = 0;
  for (int i = 0; i < ndim; i++) {
    used += snprintf (shape + used, sizeof shape - used, "%zu%s", dims[i],
        ndim == 1 || i + 1 < ndim ? ", " : "");
    count *= dims[i];
  }
  char header[512];
  int n = snprintf (header, sizeof header,
      "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
  int total = 10 + n + 1;
  int pad = (64 - total % 64) % 64;      /* header padded to 64 bytes */
  FILE *f = fopen (path, "wb");
  if (f == NULL)
    return fail (msg, msg_len, path, "cannot create");
  uint16_t hlen = (uint16_t) (n + pad + 1);
  unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
    (unsigned char) (hlen & 0xff), (unsigned char) (hlen >> 8) };
  int ok = fwrite (pre, 1, 10, f) == 10 && fwrite (header, 1, n, f) == (size_t) n;
  for (int i = 0; ok && i < pad; i++)
    ok = fputc (' ', f) != EOF;
  ok = ok && fputc ('\n', f) != EOF
      && fwrite (data, sizeof (float), count, f) == count;
  ok = fclose (f) == 0 && ok;
  return ok ? 0 : fail (msg, msg_len, path, "write failed");
}

void
sn_npy_free (sn_npy *a)
{
  free (a->data);
  a->data = NULL;
}
