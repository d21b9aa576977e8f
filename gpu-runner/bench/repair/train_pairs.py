"""Trains the REPAIR evidence pairs (issue #17) on Fashion-MNIST and writes them as small
safetensors fixtures that gpu-runner reads as they are (canonical names, `__metadata__.arch`).

  /usr/bin/python3 gpu-runner/bench/repair/train_pairs.py vgg|resnet [--out DIR] [--limit N] [--epochs E]
      [--widths W1,W2,W3,W4] [--only NAME] [--threads T]

The committed fixtures (gpu-runner/test/fixtures/repair/) were made with `--limit 60000 --epochs 3`
for both pairs (Adam, one-cycle lr 3e-3, batch 128, one thread), each pair's two models in parallel
processes with `--only`, beside a full test:stress run on a 2-core machine: 7 and 14 min for the VGG
pair, 44 and 82 min for the ResNet pair. Test accuracy of the stored weights: vgg-deep 89.3 %,
vgg-shallow 89.2 %, resnet34 89.2 %, resnet18 88.7 %.

Pairs (bias-free and BatchNorm-free, as the paper's own networks; input 32x32x3 = Fashion-MNIST
padded by 2 with the grey channel repeated, normalised with mean 0.286 / std 0.353, exactly the
`--pad 2 --channels 3` + `normalize: fashion-mnist` pipeline of gpu-runner's loader):
  vgg:    a VGG with 8 convs and one with 4 (same max-pool groups),
  resnet: a ResNet34-like ([3,4,6,3] blocks) and a ResNet18-like ([2,2,2,2]) one, widths 8-16-32-64
          (at 4-8-16-32 the two stems learn different features and the fusion is at chance).
Weights are stored as F16 to keep each file to a couple of hundred KB; gpu-runner converts them
to float32 on reading, and the accuracies the tests measure are those of the stored weights.
"""
import argparse
import gzip
import json
import os
import struct
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

FASHION = '/usr/share/datasets/fashion-mnist'
MEAN, STD = 0.286, 0.353

VGG_DEEP = {'family': 'vgg', 'input': [32, 32, 3], 'config': [8, 8, 'M', 16, 16, 'M', 32, 32, 'M', 32, 32, 'M'], 'classes': 10, 'bias': False}
VGG_SHALLOW = {'family': 'vgg', 'input': [32, 32, 3], 'config': [8, 'M', 16, 'M', 32, 'M', 32, 'M'], 'classes': 10, 'bias': False}
RESNET = {'family': 'resnet', 'input': [32, 32, 3], 'widths': [8, 16, 32, 64], 'classes': 10, 'bias': False}
R34 = {**RESNET, 'blocks': [3, 4, 6, 3]}
R18 = {**RESNET, 'blocks': [2, 2, 2, 2]}


def idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    dims = magic & 0xFF
    shape = struct.unpack('>' + 'I' * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split):
    prefix = 'train' if split == 'train' else 't10k'
    x = idx(f'{FASHION}/{prefix}-images-idx3-ubyte.gz').astype(np.float32) / 255.0
    y = idx(f'{FASHION}/{prefix}-labels-idx1-ubyte.gz').astype(np.int64)
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    x = (x - MEAN) / STD
    x = np.repeat(x[:, None], 3, axis=1)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)


class Vgg(nn.Module):
    # Module indices follow the official VGG (features.{p}: conv, ReLU, ... 'M' max-pool; classifier).
    def __init__(self, arch):
        super().__init__()
        layers, c = [], 3
        for e in arch['config']:
            if e == 'M':
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, e, 3, padding=1, bias=arch['bias']), nn.ReLU()]
                c = e
        self.features = nn.Sequential(*layers)
        pools = arch['config'].count('M')
        side = 32 >> pools
        self.classifier = nn.Linear(c * side * side, arch['classes'], bias=arch['bias'])

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride, bias):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=bias)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=bias)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=bias))
        # Without BatchNorm, a deep plain ResNet trains only when its branches start small.
        with torch.no_grad():
            self.conv2.weight.mul_(0.2)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, arch):
        super().__init__()
        w = arch['widths']
        self.conv1 = nn.Conv2d(3, w[0], 3, padding=1, bias=arch['bias'])
        c = w[0]
        for s, count in enumerate(arch['blocks']):
            blocks = []
            for b in range(count):
                stride = 2 if (b == 0 and s > 0) else 1
                blocks.append(Block(c, w[s], stride, arch['bias']))
                c = w[s]
            setattr(self, f'layer{s + 1}', nn.Sequential(*blocks))
        self.stages = len(arch['blocks'])
        self.linear = nn.Linear(c, arch['classes'], bias=arch['bias'])

    def forward(self, x):
        h = F.relu(self.conv1(x))
        for s in range(self.stages):
            h = getattr(self, f'layer{s + 1}')(h)
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def train(model, x, y, epochs, seed, lr):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    batch = 128
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        t0 = time.time()
        for i in range(0, len(x), batch):
            idx_ = perm[i:i + batch]
            loss = F.cross_entropy(model(x[idx_]), y[idx_])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f'  epoch {epoch + 1}: loss {loss.item():.3f} ({time.time() - t0:.0f}s)', flush=True)


def write_safetensors(path, model, arch):
    tensors = {k: v.detach().to(torch.float16).numpy() for k, v in model.state_dict().items()}
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        raw = arr.tobytes()
        header[name] = {'dtype': 'F16', 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    header['__metadata__'] = {'arch': json.dumps(arch)}
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('pair', choices=['vgg', 'resnet'])
    p.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'repair'))
    p.add_argument('--limit', type=int, default=60000)
    p.add_argument('--epochs', type=int, default=4)
    p.add_argument('--lr', type=float, default=3e-3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--widths', help='resnet: stage widths, e.g. 16,32,64,128 (default 8,16,32,64, the committed fixtures)')
    p.add_argument('--only', help='train just this model of the pair (e.g. resnet34), to train the two in parallel processes')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    x, y = load('train')
    x, y = x[:args.limit], y[:args.limit]
    xt, yt = load('test')
    pairs = {'vgg': [('vgg-deep', Vgg, VGG_DEEP, 1), ('vgg-shallow', Vgg, VGG_SHALLOW, 2)],
             'resnet': [('resnet34', ResNet, R34, 3), ('resnet18', ResNet, R18, 4)]}[args.pair]
    if args.only is not None:
        pairs = [p_ for p_ in pairs if p_[0] == args.only]
        if not pairs:
            raise SystemExit(f'--only {args.only}: not a model of the {args.pair} pair')
    if args.widths is not None:
        widths = [int(w) for w in args.widths.split(',')]
        pairs = [(n, c, {**a, 'widths': widths} if a['family'] == 'resnet' else a, s) for n, c, a, s in pairs]
    for name, cls, arch, seed in pairs:
        torch.manual_seed(seed)
        model = cls(arch)
        t0 = time.time()
        print(f'{name}: training on {len(x)} images, {args.epochs} epochs', flush=True)
        train(model, x, y, args.epochs, seed, args.lr)
        model.half().float()  # evaluate what is stored
        acc = evaluate(model, xt, yt)
        print(f'{name}: test accuracy {acc:.4f} after {time.time() - t0:.0f}s', flush=True)
        write_safetensors(os.path.join(args.out, f'{name}.safetensors'), model, arch)


if __name__ == '__main__':
    main()
