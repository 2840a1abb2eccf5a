/* dump_tensor.c - runs the preprocessor on a raw RGB image for
 * check_torch.py: dump_tensor IN.rgb WIDTH HEIGHT stretch|crop OUT.f32
 * IN.rgb: [HEIGHT][WIDTH][3] bytes, R G B. OUT.f32: float32 [3][224][224],
 * BGR, raw 0..255 (Megvii's ShuffleNet input). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snpreprocess.h"

static gboolean
read_rgb (const char *path, GstVideoFrame * f)
{
  FILE *in = fopen (path, "rb");
  gboolean ok = in != NULL;
  int w = GST_VIDEO_FRAME_WIDTH (f);

  for (int y = 0; ok && y < GST_VIDEO_FRAME_HEIGHT (f); y++) {
    guint8 *row = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (f, 0)
        + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (f, 0);
    ok = fread (row, 3, w, in) == (size_t) w;
  }
  if (in)
    fclose (in);
  return ok;
}

int
main (int argc, char **argv)
{
  SnPreprocessConfig c = { SN_CHANNEL_ORDER_BGR, 1.0f, {0, 0, 0}, {1, 1, 1},
  SN_RESIZE_STRETCH, 0, 224, 224, FALSE
  };
  float *out = g_new (float, 3 * 224 * 224);    /* [3][224][224] */
  GError *err = NULL;
  GstVideoInfo info;
  GstVideoFrame f;
  GstBuffer *buf;
  SnPreprocessor *pre;
  FILE *o;

  gst_init (&argc, &argv);
  if (argc != 6 || (strcmp (argv[4], "stretch") && strcmp (argv[4], "crop"))) {
    fprintf (stderr, "usage: %s IN.rgb WIDTH HEIGHT stretch|crop OUT.f32\n",
        argv[0]);
    return 2;
  }
  c.resize = strcmp (argv[4], "crop") ? SN_RESIZE_STRETCH : SN_RESIZE_CROP;
  if (!gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, atoi (argv[2]),
          atoi (argv[3]))) {
    fprintf (stderr, "bad size %sx%s\n", argv[2], argv[3]);
    return 2;
  }
  pre = sn_preprocessor_new (&info, &c, &err);
  if (pre == NULL) {
    fprintf (stderr, "%s\n", err->message);
    return 1;
  }
  buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  gst_video_frame_map (&f, &info, buf, GST_MAP_READWRITE);
  if (!read_rgb (argv[1], &f)) {
    fprintf (stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  sn_preprocessor_run (pre, &f, out);
  o = fopen (argv[5], "wb");
  if (o == NULL || fwrite (out, sizeof (float), 3 * 224 * 224, o) !=
      3 * 224 * 224) {
    fprintf (stderr, "cannot write %s\n", argv[5]);
    return 1;
  }
  fclose (o);
  gst_video_frame_unmap (&f);
  gst_buffer_unref (buf);
  sn_preprocessor_free (pre);
  g_free (out);
  return 0;
}
