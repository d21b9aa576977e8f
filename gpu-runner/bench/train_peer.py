"""PyTorch CPU peer for gpu-runner/bench/train-bench.ts.

Trains the same networks as the TypeScript bench (same layer shapes, NHWC data generated here as
NCHW, batch size, plain SGD, softmax cross-entropy) and prints one JSON object on stdout:
{"torch": version, "threads": n, "results": [{"net", "batch", "steps", "imagesPerSec", "imagesPerCpuSec"}]}.
When torch cannot be imported it prints {"skipped": reason} and exits 0, so the bench can report
the peer as missing instead of failing.
"""
import json
import sys
import time


def main() -> None:
    args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    try:
        import torch
        from torch import nn
    except Exception as exc:  # the bench reports the reason verbatim
        print(json.dumps({"skipped": f"import torch failed: {exc!r}"}))
        return

    threads = int(args.get("threads", 2))
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def tiny_cnn() -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4 * 4 * 64, 10),
        )

    def vgg(widths: list) -> nn.Module:
        # Two 3x3 convs per stage, then a 2x2 max-pool; mirrors vggNet() in train-bench.ts.
        layers: list = []
        cin = 3
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            cin = w
        side = 32 // (2 ** len(widths))
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(side * side * cin, 10))

    class Block(nn.Module):
        # ResNet basic block without batch-norm (the tfjs side has none either).
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
            self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
            self.short = nn.Conv2d(cin, cout, 1, stride=stride) if (stride != 1 or cin != cout) else None

        def forward(self, x):
            h = torch.relu(self.c1(x))
            h = self.c2(h)
            s = x if self.short is None else self.short(x)
            return torch.relu(h + s)

    def resnet18(widths: list) -> nn.Module:
        layers: list = [nn.Conv2d(3, widths[0], 3, padding=1), nn.ReLU()]
        cin = widths[0]
        for i, w in enumerate(widths):
            for j in range(2):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(Block(cin, w, stride))
                cin = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))

    def vgg_config(config: list, bias: bool) -> nn.Module:
        # The engine's VGG family (gpu-runner/src/engine/nn/vgg.ts): 3x3 pad-1 convs with ReLU, "M" =
        # 2x2 max-pool, flatten, one Linear; what `clafusion train` trains in the bench's CLI rows.
        layers: list = []
        cin = 3
        side = 32
        for entry in config:
            if entry == "M":
                layers.append(nn.MaxPool2d(2))
                side //= 2
            else:
                layers += [nn.Conv2d(cin, entry, 3, padding=1, bias=bias), nn.ReLU()]
                cin = entry
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(side * side * cin, 10, bias=bias))

    builders = {
        "tiny-cnn": tiny_cnn,
        # VGG13_doub with every width divided by 8, no bias (the official VGGs have none).
        "vgg13-doub-8": lambda: vgg_config([8, 16, "M", 32, 32, "M", 64, 64, "M", 128, 128, "M", 128, 64, "M"], False),
        "vgg-16-32-64": lambda: vgg([16, 32, 64]),
        "resnet18-8-16-32-64": lambda: resnet18([8, 16, 32, 64]),
    }
    results = []
    for spec in args.get("nets", [{"net": "tiny-cnn", "steps": 30}]):
        name = spec["net"]
        batch = int(spec.get("batch", 64))
        steps = int(spec.get("steps", 30))
        model = builders[name]()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = nn.CrossEntropyLoss()
        x = torch.randn(batch, 3, 32, 32)
        y = torch.randint(0, 10, (batch,))

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        t0 = time.perf_counter()
        c0 = time.process_time()
        for _ in range(steps):
            step()
        dt = time.perf_counter() - t0
        # CPU time of all the process's threads (including any spin-waiting of the intra-op pool).
        cpu = time.process_time() - c0
        results.append({"net": name, "batch": batch, "steps": steps, "imagesPerSec": batch * steps / dt, "imagesPerCpuSec": batch * steps / cpu})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
