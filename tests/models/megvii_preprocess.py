"""Megvii's validation preprocessing in NumPy, for the tests: an RGB uint8
photo -> the float32 NCHW tensor the official ShuffleNet v1 weights expect.

  1. channel order BGR, values 0..255 (no mean, no std)
  2. resize so the short side is 256, the long side int(256 * long / short
     + 0.5), bilinear with half-pixel centres (what OpenCV's INTER_LINEAR
     does for upscaling and mild downscaling), rounded back to uint8
  3. centre crop 224x224 (top = round((h - 224) / 2), as torchvision's
     CenterCrop)
"""
import numpy as np

SHORT_SIDE = 256
CROP = 224


def resize_bilinear(img, out_h, out_w):
    """img [H, W, C] uint8 -> [out_h, out_w, C] uint8, half-pixel centres,
    edge samples clamped."""
    h, w = img.shape[:2]

    def taps(n_out, n_in):
        # source coordinate of each output pixel centre, clamped to the image
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        src = np.clip(src, 0, n_in - 1)
        lo = np.floor(src).astype(np.int64)  # [n_out]
        hi = np.minimum(lo + 1, n_in - 1)    # [n_out]
        return lo, hi, (src - lo)            # frac [n_out]

    y0, y1, fy = taps(out_h, h)
    x0, x1, fx = taps(out_w, w)
    f = img.astype(np.float64)
    rows = f[y0] * (1 - fy)[:, None, None] + f[y1] * fy[:, None, None]
    out = (rows[:, x0] * (1 - fx)[None, :, None]
           + rows[:, x1] * fx[None, :, None])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def megvii_input(rgb):
    """rgb [H, W, 3] uint8 -> x [1, 3, 224, 224] float32 (BGR, 0..255)."""
    bgr = rgb[:, :, ::-1]
    h, w = bgr.shape[:2]
    if h < w:
        size = (SHORT_SIDE, int(SHORT_SIDE / h * w + 0.5))
    else:
        size = (int(SHORT_SIDE / w * h + 0.5), SHORT_SIDE)
    img = resize_bilinear(bgr, *size)  # [h', w', 3]
    top = int(round((size[0] - CROP) / 2.0))
    left = int(round((size[1] - CROP) / 2.0))
    img = img[top:top + CROP, left:left + CROP]  # [224, 224, 3] BGR
    return np.ascontiguousarray(
        img.transpose(2, 0, 1)[None].astype(np.float32))
