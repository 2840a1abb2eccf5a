#!/usr/bin/python3
"""The preprocessor against PyTorch on real photos (Debian's /usr/bin/python3).

usage: check_torch.py DUMP_TENSOR

For skimage's chelsea and coffee photos, compares dump_tensor's output
(RGB frame -> BGR 0..255 [3][224][224]) with
 - stretch: torch interpolate to 224x224 (bilinear, align_corners=False,
   antialias=False: what cv2.resize INTER_LINEAR computes);
 - crop: Megvii's validation transform (OpencvResize(256): short side 256,
   long side int(256 / short * long + 0.5), cv2 INTER_LINEAR; then
   torchvision CenterCrop(224), offsets round((R - 224) / 2)) with the
   resize done in float by torch instead of cv2's 8-bit fixed point.
Both sides compute in float from the same bytes: the tolerance is 0.01
levels. Exits 77 (skip) without torch or skimage.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from skimage import data
except ImportError as e:
    print(f"skip: {e}")
    sys.exit(77)

TOL = 0.01


def reference(img, mode):
    """img: [H][W][3] uint8 RGB -> float [3][224][224] BGR."""
    h, w, _ = img.shape
    x = torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1)[None]
    if mode == "stretch":
        size, top, left = (224, 224), 0, 0
    else:
        if h < w:
            size = (256, int(256 / h * w + 0.5))
        else:
            size = (int(256 / w * h + 0.5), 256)
        top = int(round((size[0] - 224) / 2.0))
        left = int(round((size[1] - 224) / 2.0))
    r = F.interpolate(x, size=size, mode="bilinear", align_corners=False,
                      antialias=False)[0]
    return r[:, top:top + 224, left:left + 224].flip(0).numpy()


def main():
    dump = sys.argv[1]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.rgb"), os.path.join(tmp, "out.f32")
        for name in ("chelsea", "coffee"):
            img = np.ascontiguousarray(getattr(data, name)()[:, :, :3])
            img.tofile(src)
            h, w, _ = img.shape
            for mode in ("stretch", "crop"):
                subprocess.run([dump, src, str(w), str(h), mode, dst],
                               check=True)
                ours = np.fromfile(dst, dtype=np.float32).reshape(3, 224, 224)
                d = np.abs(ours - reference(img, mode))
                ok = d.max() <= TOL
                failed |= not ok
                print(f"{name} {w}x{h} {mode}: max |ours - torch| "
                      f"{d.max():.5f} levels, mean {d.mean():.6f} "
                      f"{'ok' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
