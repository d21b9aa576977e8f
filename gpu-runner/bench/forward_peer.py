"""PyTorch floor for gpu-runner/bench/fusion-bench.ts: the batched forward pass of the fused pairs' models.

Builds each architecture of the JSON argument exactly as the engine runs it (arch.ts: VGG 3x3 pad-1
convs with ReLU and 2x2 max-pools, a Linear classifier; the CIFAR ResNet with BasicBlocks, 1x1
shortcut convs, global average pooling; no bias and no BatchNorm when the arch has none), feeds the
same number of random 32x32x3 images in one batch under torch.no_grad, and prints one JSON object:
{"torch": version, "results": [{"threads", "models", "cpuSeconds", "wallSeconds"}]}, each time the
median of `repeats` passes over every model of a pair after a warm-up. When torch cannot be
imported it prints {"skipped": reason} and exits 0.
"""
import json
import statistics
import sys
import time


def main() -> None:
    args = json.loads(sys.argv[1])
    try:
        import torch
        from torch import nn
    except Exception as exc:  # the bench reports the reason verbatim
        print(json.dumps({"skipped": f"import torch failed: {exc!r}"}))
        return

    def conv(cin: int, cout: int, k: int, stride: int, bias: bool, bn: bool) -> list:
        layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)]
        return layers + ([nn.BatchNorm2d(cout)] if bn else [])

    def vgg(arch: dict) -> nn.Module:
        layers: list = []
        cin = arch["input"][2]
        side = arch["input"][0]
        for entry in arch["config"]:
            if entry == "M":
                layers.append(nn.MaxPool2d(2, 2))
                side //= 2
            else:
                layers += conv(cin, entry, 3, 1, arch.get("bias", False), arch.get("batchnorm", False)) + [nn.ReLU()]
                cin = entry
        fc: list = []
        fan_in = cin * side * side
        for width in arch.get("fc", []):
            fc += [nn.Linear(fan_in, width, bias=arch.get("bias", False)), nn.ReLU()]
            fan_in = width
        return nn.Sequential(*layers, nn.Flatten(), *fc, nn.Linear(fan_in, arch["classes"], bias=arch.get("bias", False)))

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int, bias: bool, bn: bool) -> None:
            super().__init__()
            self.a = nn.Sequential(*conv(cin, cout, 3, stride, bias, bn))
            self.b = nn.Sequential(*conv(cout, cout, 3, 1, bias, bn))
            self.short = nn.Sequential(*conv(cin, cout, 1, stride, bias, bn)) if (stride != 1 or cin != cout) else None

        def forward(self, x):
            h = self.b(torch.relu(self.a(x)))
            return torch.relu(h + (x if self.short is None else self.short(x)))

    def resnet(arch: dict) -> nn.Module:
        bias, bn = arch.get("bias", False), arch.get("batchnorm", False)
        widths = arch["widths"]
        layers: list = conv(arch["input"][2], widths[0], 3, 1, bias, bn) + [nn.ReLU()]
        cin = widths[0]
        for stage, count in enumerate(arch["blocks"]):
            for block in range(count):
                layers.append(Block(cin, widths[stage], 2 if block == 0 and stage > 0 else 1, bias, bn))
                cin = widths[stage]
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, arch["classes"], bias=bias))

    torch.manual_seed(0)
    models = [(vgg if a["family"] == "vgg" else resnet)(a).eval() for a in args["archs"]]
    side, _, channels = args["archs"][0]["input"]
    x = torch.randn(args["samples"], channels, side, side)
    results = []
    for threads in args["threads"]:
        torch.set_num_threads(threads)
        cpu, wall = [], []
        with torch.no_grad():
            for m in models:
                m(x)  # warm-up
            for _ in range(args.get("repeats", 3)):
                c0, w0 = time.process_time(), time.perf_counter()
                for m in models:
                    m(x)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
        results.append({"threads": threads, "models": len(models), "cpuSeconds": statistics.median(cpu), "wallSeconds": statistics.median(wall)})
    print(json.dumps({"torch": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
