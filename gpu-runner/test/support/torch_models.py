"""PyTorch models with the official CLAFusion repository's layer names, for the
export tests: loads a state dict written by clafusion (`torch.load` +
`load_state_dict(strict=True)`) and runs it in eval mode.

Usage: python3 torch_models.py JOBS.json

JOBS.json lists jobs {arch, model, input, n, output}, run in one process
(importing torch takes seconds): `input` holds n samples as little-endian
float32 in the engine's layout (C,H,W per image); `output` receives the
n×classes logits (before any softmax). Prints one JSON line: per job the
state dict's type, keys and dtypes as loaded, or {"error"} when
load_state_dict refuses it.

The modules follow the official code: MLP `fc1…`, VGG `features` (Conv2d,
[BatchNorm2d], ReLU, MaxPool2d(2, 2); a final AvgPool2d(1, 1) as in the
official models) and `classifier` (one Linear, or Linear/ReLU/… when there
are hidden FC layers), ResNet `conv1`/`bn1`, `layerX.Y` BasicBlocks with
`shortcut` Sequential(conv[, bn]), global average pooling and `linear`.
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mlp(nn.Module):
    def __init__(self, arch):
        super().__init__()
        widths = [int(torch.tensor(arch["input"]).prod())] + arch["hidden"] + [arch["classes"]]
        for k in range(len(widths) - 1):
            setattr(self, f"fc{k + 1}", nn.Linear(widths[k], widths[k + 1], bias=arch["bias"]))
        self.layers = len(widths) - 1

    def forward(self, x):
        x = x.flatten(1)
        for k in range(self.layers):
            x = getattr(self, f"fc{k + 1}")(x)
            if k < self.layers - 1:
                x = F.relu(x)
        return x


class Vgg(nn.Module):
    def __init__(self, arch):
        super().__init__()
        layers = []
        channels = arch["input"][2]
        h, w = arch["input"][0], arch["input"][1]
        bn = arch.get("batchnorm", False)
        for entry in arch["config"]:
            if entry == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                h, w = h // 2, w // 2
                continue
            layers.append(nn.Conv2d(channels, entry, kernel_size=3, padding=1, bias=arch["bias"]))
            if bn:
                layers.append(nn.BatchNorm2d(entry))
            layers.append(nn.ReLU(inplace=True))
            channels = entry
        layers.append(nn.AvgPool2d(kernel_size=1, stride=1))
        self.features = nn.Sequential(*layers)
        widths = [channels * h * w] + arch.get("fc", []) + [arch["classes"]]
        if len(widths) == 2:
            self.classifier = nn.Linear(widths[0], widths[1], bias=arch["bias"])
        else:
            fc = []
            for k in range(len(widths) - 1):
                fc.append(nn.Linear(widths[k], widths[k + 1], bias=arch["bias"]))
                if k < len(widths) - 2:
                    fc.append(nn.ReLU(inplace=True))
            self.classifier = nn.Sequential(*fc)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, bias, bn):
        super().__init__()
        norm = (lambda c: nn.BatchNorm2d(c)) if bn else (lambda c: nn.Identity())
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=bias)
        self.bn1 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=bias)
        self.bn2 = norm(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            parts = [nn.Conv2d(cin, cout, 1, stride=stride, bias=bias)]
            if bn:
                parts.append(nn.BatchNorm2d(cout))
            self.shortcut = nn.Sequential(*parts)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, arch):
        super().__init__()
        bias, bn = arch["bias"], arch.get("batchnorm", False)
        widths = arch["widths"]
        self.conv1 = nn.Conv2d(arch["input"][2], widths[0], 3, stride=1, padding=1, bias=bias)
        self.bn1 = nn.BatchNorm2d(widths[0]) if bn else nn.Identity()
        channels = widths[0]
        for stage, count in enumerate(arch["blocks"]):
            blocks = []
            for block in range(count):
                stride = 2 if block == 0 and stage > 0 else 1
                blocks.append(BasicBlock(channels, widths[stage], stride, bias, bn))
                channels = widths[stage]
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.stages = len(arch["blocks"])
        self.linear = nn.Linear(channels, arch["classes"], bias=bias)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for stage in range(self.stages):
            out = getattr(self, f"layer{stage + 1}")(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def build(arch):
    return {"mlp": Mlp, "vgg": Vgg, "resnet": ResNet}[arch["family"]](arch)


def run(job):
    arch = job["arch"]
    n = job["n"]
    # weights_only: the restricted unpickler (the default since PyTorch 2.6) must accept the file.
    state = torch.load(job["model"], weights_only=True)
    model = build(arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        return {"error": str(e)}
    model.eval()
    if arch["family"] == "mlp":
        shape = [n] + arch["input"]
    else:
        h, w, c = arch["input"]
        shape = [n, c, h, w]
    with open(job["input"], "rb") as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(shape)
    with torch.no_grad():
        logits = model(x).contiguous()
    with open(job["output"], "wb") as f:
        f.write(logits.numpy().astype("<f4").tobytes())
    return {
        "type": type(state).__module__ + "." + type(state).__name__,
        "keys": list(state.keys()),
        "dtypes": {k: str(v.dtype) for k, v in state.items()},
    }


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    print(json.dumps([run(job) for job in jobs]))


if __name__ == "__main__":
    main()
