"""The work of `metapseudo bench augment --policy strong`, in torchvision, for comparison.

Unlabeled (weak, strong) pairs per second from images decoded once into memory:
weak = flip + reflect-pad-4 crop; strong = flip + crop + RandAugment(2, 16) + normalise +
a 16x16 erasing; DataLoader with 2 workers, batch 448.

    python bench/torchvision_augment.py ../shared/data/cifar10 [--workers 2] [--batches 40]
"""

import argparse
import glob
import os
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class Pairs(Dataset):
    def __init__(self, images):
        self.images = images
        self.weak = T.Compose([
            T.RandomHorizontalFlip(),
            T.RandomCrop(32, padding=4, padding_mode="reflect"),
            T.ToTensor(),
            T.Normalize(MEAN, STD),
        ])
        self.strong = T.Compose([
            T.RandomHorizontalFlip(),
            T.RandomCrop(32, padding=4, padding_mode="reflect"),
            T.RandAugment(num_ops=2, magnitude=16, num_magnitude_bins=31),
            T.ToTensor(),
            T.Normalize(MEAN, STD),
            # Exactly 16x16 on 32x32: a quarter of the area, aspect 1.
            T.RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0)),
        ])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = self.images[i]
        return self.weak(img), self.strong(img)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root", help="image folder with train/<class>/*.jpg")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=448)
    ap.add_argument("--batches", type=int, default=40)
    args = ap.parse_args()
    files = sorted(glob.glob(os.path.join(args.root, "train", "*", "*")))
    t0 = time.time()
    images = [Image.open(f).convert("RGB") for f in files]
    for im in images:
        im.load()
    print(f"decoded {len(images)} images in {time.time() - t0:.1f} s")
    loader = DataLoader(Pairs(images), batch_size=args.batch, shuffle=True,
                        num_workers=args.workers, drop_last=True,
                        persistent_workers=args.workers > 0)
    it = iter(loader)
    for _ in range(2 * max(args.workers, 1)):
        next(it)
    start = time.time()
    for _ in range(args.batches):
        w, s = next(it)
    secs = time.time() - start
    print(f"torch={torch.__version__} workers={args.workers} batch={args.batch} "
          f"batches={args.batches} seconds={secs:.2f}")
    print(f"pairs_per_s={args.batches * args.batch / secs:.0f}")


if __name__ == "__main__":
    main()
