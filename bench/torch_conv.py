"""PyTorch's 3x3 convolution alone at the three stages' shapes of a WRN-28-2 step at batch 64:
forward, input gradient and weight gradient (milliseconds per call, 2 threads), for comparison
with `cargo run --release --example op_profile`.

    /work/venv-torch/bin/python bench/torch_conv.py
"""
import time

import torch


def per_call_ms(f, reps=20, warmup=3):
    for _ in range(warmup):
        f()
    start = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - start) / reps * 1e3


def main():
    torch.set_num_threads(2)
    for channels, size in [(32, 32), (64, 16), (128, 8)]:
        x = torch.randn(64, channels, size, size)
        w = torch.randn(channels, channels, 3, 3)
        g = torch.randn(64, channels, size, size)

        def backward(mask):
            return lambda: torch.ops.aten.convolution_backward(
                g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask
            )

        forward = per_call_ms(lambda: torch.nn.functional.conv2d(x, w, padding=1))
        input_grad = per_call_ms(backward([True, False, False]))
        weight_grad = per_call_ms(backward([False, True, False]))
        print(
            f"{channels} channels {size}x{size}: forward {forward:.2f} ms, "
            f"input gradient {input_grad:.2f} ms, weight gradient {weight_grad:.2f} ms"
        )


if __name__ == "__main__":
    main()
