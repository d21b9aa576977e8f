"""Writes PyTorch checkpoints with real torch.save for the checkpoint reader's tests.

usage: python3 write-checkpoints.fixture.py DIR NAME...

For each NAME, reads DIR/NAME.safetensors (written by our serializer: F32 and
I64 tensors), loads the tensors into an nn.Module whose submodules carry the
file's names (so state_dict() is PyTorch's own, with its OrderedDict and
_metadata), checks load_state_dict(strict=True), and writes:

  NAME.zip.pt      torch.save(state_dict)                      (zip format)
  NAME.legacy.pt   ... _use_new_zipfile_serialization=False    (legacy format)
  NAME.p4.pt       ... pickle_protocol=4                       (framed pickle, STACK_GLOBAL, MEMOIZE)
  NAME.ckpt.pth    {'epoch', 'test_accuracy', 'model_state_dict'} as the official CLAFusion code saves
  NAME.dp.pt       torch.nn.DataParallel(model).state_dict()   ('module.' prefixes)
  NAME.strided.pt  the same values as non-contiguous views: weights transposed
                   in memory, biases every other element of a larger storage,
                   running_var at an offset into a larger storage
  NAME.f16.pt / NAME.bf16.pt  float tensors cast to float16 / bfloat16, with
  NAME.f16.expected / NAME.bf16.expected  what torch holds, cast back to float32,
                   as safetensors (F32 / I64) for the test to compare with.
"""
import collections
import json
import os
import struct
import sys

import numpy as np
import torch

DTYPES = {'F32': np.float32, 'I64': np.int64}
BUFFERS = {'running_mean', 'running_var', 'num_batches_tracked'}


def read_safetensors(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = collections.OrderedDict()
    entries = [(k, v) for k, v in header.items() if k != '__metadata__']
    for name, e in sorted(entries, key=lambda kv: kv[1]['data_offsets'][0]):
        begin, end = e['data_offsets']
        values = np.frombuffer(data[begin:end], dtype=DTYPES[e['dtype']]).copy()
        out[name] = torch.from_numpy(values.reshape(e['shape']))
    return out


def write_safetensors(path, state):
    header, chunks, offset = {}, [], 0
    for name, t in state.items():
        if t.dtype == torch.int64:
            dtype, b = 'I64', t.contiguous().numpy().astype('<i8').tobytes()
        else:
            dtype, b = 'F32', t.float().contiguous().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    text = json.dumps(header).encode()
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(chunks))


class Holder(torch.nn.Module):
    """A module that only holds parameters, buffers and children, named as the file names them."""


def build(state):
    root = Holder()
    for name, t in state.items():
        *path, leaf = name.split('.')
        m = root
        for p in path:
            if p not in m._modules:
                m.add_module(p, Holder())
            m = m._modules[p]
        if leaf in BUFFERS:
            m.register_buffer(leaf, t.clone())
        else:
            m.register_parameter(leaf, torch.nn.Parameter(t.clone()))
    root.load_state_dict(state, strict=True)
    return root


def strided(name, t):
    """The same values, as a view that is not contiguous (or not at offset 0)."""
    if not t.is_floating_point():
        return t
    if t.dim() >= 2:
        # Stored with the first two axes swapped, viewed back: strides are not row-major.
        view = t.transpose(0, 1).contiguous().transpose(0, 1)
    elif name.endswith('running_var'):
        view = torch.cat([torch.full((5,), 7.0), t])[5:]
    else:
        view = torch.stack([t, torch.full_like(t, 9.0)], dim=1)[:, 0]
    assert torch.equal(view, t)
    return view


def main():
    out_dir, names = sys.argv[1], sys.argv[2:]
    for name in names:
        p = lambda suffix: os.path.join(out_dir, f'{name}.{suffix}')
        model = build(read_safetensors(os.path.join(out_dir, f'{name}.safetensors')))
        sd = model.state_dict()
        torch.save(sd, p('zip.pt'))
        torch.save(sd, p('legacy.pt'), _use_new_zipfile_serialization=False)
        torch.save(sd, p('p4.pt'), pickle_protocol=4)
        torch.save({'epoch': 300, 'test_accuracy': 91.25, 'model_state_dict': sd}, p('ckpt.pth'))
        torch.save(torch.nn.DataParallel(model).state_dict(), p('dp.pt'))
        views = collections.OrderedDict((k, strided(k, v)) for k, v in sd.items())
        assert any(not v.is_contiguous() for v in views.values())
        torch.save(views, p('strided.pt'))
        for suffix, dtype in (('f16', torch.float16), ('bf16', torch.bfloat16)):
            cast = collections.OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items())
            torch.save(cast, p(f'{suffix}.pt'))
            write_safetensors(p(f'{suffix}.expected'), cast)


main()
