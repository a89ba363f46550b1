#!/usr/bin/env python3
"""The training step of `metapseudo bench step`, in PyTorch, for the comparison in BENCHMARKS.md.

WRN-28-2 as in the MPL code (pre-activation blocks, LeakyReLU 0.1, BN momentum 0.001), SGD
momentum 0.9 nesterov, weight decay 5e-4 on weights, random inputs already in memory.

  supervised: forward + cross entropy + backward + SGD step on a batch of B labeled images.
  mpl:        the first-order MPL step of docs/methods.md (teacher forward on
              labeled+weak+strong, student forward on labeled+strong and update, student forward
              on labeled, teacher UDA + MPL loss and update), B labeled, mu*B unlabeled.

Prints median_s=, images_per_s= and peak_rss_mib= (peak resident memory while stepping, after a
reset of the peak through /proc/self/clear_refs) with rss_start_mib= (after `import torch`, before
the networks are built), like the Rust command. With --device cuda, also the most GPU memory the
caching allocator held (device_reserved_mib=) and in live tensors (device_in_use_mib=) while
stepping, as the Rust command prints for its GPU backends; cuDNN's benchmark mode is on there
(the fastest algorithm per shape, as Burn's autotune), TF32 at PyTorch's defaults.

  /work/venv-torch/bin/python bench/torch_step.py --method supervised --batch 64 --threads 2
  /work/venv-torch/bin/python bench/torch_step.py --method mpl --batch 4 --mu 7 --threads 2
  python3 bench/torch_step.py --method mpl --batch 64 --mu 7 --device cuda
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride, activate_before_residual):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, momentum=0.001)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, momentum=0.001)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = (
            nn.Conv2d(cin, cout, 1, stride, 0, bias=False)
            if cin != cout or stride != 1
            else None
        )
        self.before = activate_before_residual

    def forward(self, x):
        a = F.leaky_relu(self.bn1(x), 0.1)
        residual = a if self.before else x
        out = self.conv1(a)
        out = self.conv2(F.leaky_relu(self.bn2(out), 0.1))
        if self.shortcut is not None:
            residual = self.shortcut(residual)
        return residual + out


class WideResNet(nn.Module):
    def __init__(self, classes=10, depth=28, widen=2, in_channels=3):
        super().__init__()
        n = (depth - 4) // 6
        w = [16, 16 * widen, 32 * widen, 64 * widen]
        self.stem = nn.Conv2d(in_channels, w[0], 3, 1, 1, bias=False)
        blocks = []
        for stage in range(3):
            for i in range(n):
                cin = w[stage] if i == 0 else w[stage + 1]
                stride = 2 if i == 0 and stage > 0 else 1
                blocks.append(Block(cin, w[stage + 1], stride, i == 0 and stage == 0))
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(w[3], momentum=0.001)
        self.fc = nn.Linear(w[3], classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")

    def forward(self, x):
        x = F.leaky_relu(self.bn(self.blocks(self.stem(x))), 0.1)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def optimizer(model):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}],
        lr=0.05,
        momentum=0.9,
        nesterov=True,
    )


def rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return None


def supervised_step(model, opt, x, y):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss


def mpl_step(teacher, student, t_opt, s_opt, x_l, y_l, x_uw, x_us):
    nl, nu = x_l.shape[0], x_uw.shape[0]
    t = teacher(torch.cat([x_l, x_uw, x_us]))
    t_l, t_uw, t_us = t[:nl], t[nl : nl + nu], t[nl + nu :]
    sup = F.cross_entropy(t_l, y_l, label_smoothing=0.15)
    soft = torch.softmax(t_uw.detach() / 0.7, -1)
    mask = (soft.max(-1).values >= 0.6).float()
    uda = (-(soft * F.log_softmax(t_us, -1)).sum(-1) * mask).mean()
    hard = t_us.detach().argmax(-1)

    s = student(torch.cat([x_l, x_us]))
    s_l, s_us = s[:nl], s[nl:]
    old = F.cross_entropy(s_l.detach(), y_l)
    s_loss = F.cross_entropy(s_us, hard, label_smoothing=0.15)
    s_opt.zero_grad(set_to_none=True)
    s_loss.backward()
    s_opt.step()

    with torch.no_grad():
        new = F.cross_entropy(student(x_l), y_l)
    h = new - old
    t_loss = sup + 8.0 * uda + h * F.cross_entropy(t_us, hard)
    t_opt.zero_grad(set_to_none=True)
    t_loss.backward()
    t_opt.step()
    return t_loss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=["supervised", "mpl"], default="supervised")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mu", type=int, default=7)
    ap.add_argument("--widen", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    start = rss_kib("VmRSS:")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev = torch.device(args.device)
    gpu = dev.type == "cuda"
    # cuDNN picks its fastest convolution for these fixed shapes, as Burn's autotune does.
    torch.backends.cudnn.benchmark = gpu
    b, nu = args.batch, args.batch * args.mu
    x_l, y_l = torch.randn(b, 3, 32, 32, device=dev), torch.arange(b, device=dev) % 10
    student = WideResNet(widen=args.widen).to(dev).train()
    s_opt = optimizer(student)
    if args.method == "supervised":
        step = lambda: supervised_step(student, s_opt, x_l, y_l)
        images = b
    else:
        teacher = WideResNet(widen=args.widen).to(dev).train()
        t_opt = optimizer(teacher)
        x_uw = torch.randn(nu, 3, 32, 32, device=dev)
        x_us = torch.randn(nu, 3, 32, 32, device=dev)
        step = lambda: mpl_step(teacher, student, t_opt, s_opt, x_l, y_l, x_uw, x_us)
        images = b + nu
    for _ in range(args.warmup):
        step().item()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = rss_kib("VmRSS:")
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step().item()
        if gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(
        f"torch={torch.__version__} method={args.method} batch={b} mu={args.mu} "
        f"device={args.device} threads={args.threads} "
        f"min_s={min(times):.4f} max_s={max(times):.4f}"
    )
    print(f"median_s={med:.4f}")
    print(f"images_per_s={images / med:.1f}")
    print(
        f"rss_start_mib={start / 1024:.0f} rss_before_mib={before / 1024:.0f} "
        f"peak_rss_mib={rss_kib('VmHWM:') / 1024:.0f}"
    )
    if gpu:
        mib = 1 << 20
        print(
            f"device_reserved_mib={torch.cuda.max_memory_reserved() / mib:.0f} "
            f"device_in_use_mib={torch.cuda.max_memory_allocated() / mib:.0f}"
        )


if __name__ == "__main__":
    main()
