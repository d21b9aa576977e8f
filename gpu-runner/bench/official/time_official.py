#!/usr/bin/env python3
"""Times the official CLAFusion code (github.com/hsgser/clafusion) on the paper's CNN pairs.

    python3 gpu-runner/bench/official/time_official.py --clafusion-dir DIR --pair resnet|vgg \
        [--samples 200] [--threads 1] --out OUT

DIR is a checkout of the official sources (not shipped here: see README.md next to this file). The
script never edits them; it drives them from the outside:

1. Builds the pair with the official model classes (cifar/train.py get_model, relu_inplace=False as
   --prelu-acts makes it): resnet = resnet34_nobias_nobn (A, model 0) and resnet18_nobias_nobn (B,
   model 1); vgg = vgg13_doub_nobias (A) and vgg11_half_nobias (B). Random weights from fixed torch
   seeds, CIFAR-10 shape (32x32x3, 10 classes). Writes OUT/a.pt and OUT/b.pt (plain state_dicts,
   official tensor names), OUT/cal.npy (the calibration images, float32 NCHW, torch.randn with a fixed
   seed) and the same weights as official checkpoints (OUT/official-run/ckpt/model_{0,1}/best.checkpoint).
2. Runs the official main.py (runpy, __main__) with the flags of the paper's script
   (sh/fuse_resnet18_resnet34.sh, cifar10 branch; sh/fuse_vgg11_half_vgg13_doub.sh) and these changes,
   none of which touches fusion: --gpu-id -1 (CPU), --load-models ./ckpt, --act-num-samples SAMPLES,
   --retrain 0 (no training), --skip-ensemble (no prediction-ensemble test pass), no
   --dump-final-models (it saves checkpoints with a time.sleep(1) each, inside the fusion stage).
   Patched from the outside, not in the sources:
   - cifar/train.py get_dataset (every loader main.py asks for, incl. the unit-batch calibration loader):
     a DataLoader over the in-memory calibration images, batch size 1, no shuffling, no workers, so the
     first SAMPLES images are fed in order, exactly as our CLI reads cal.npy. (The official loader reads
     CIFAR-10 from disk through PIL transforms on 2 worker processes; that data pipeline is not timed.)
   - routines.test (every accuracy evaluation: --recheck-cifar, before/after building B' and the fused
     model): returns -1 without running. No test set exists here.
   - tensorboardX (imported by main.py, used only with --tensorboard; no Debian package): a stand-in
     module whose SummaryWriter raises, so a run that asks for TensorBoard logs fails loudly.
3. Times, by wrapping the official functions main.py calls (module attributes, looked up at call time):
   - activations: every utils.get_model_activations call (the CLA pass on A and B inside
     align_layers.get_alignment_map, then main.py's pass on A and B' for OT);
   - cost: align_layers.get_alignment_map minus the activations pass inside it (CKA cost matrices and
     the alignment DP);
   - fusion: align_layers.balance_number_of_layers (B' built by adding layers) plus
     wasserstein_ensemble.geometric_ensembling_modularized (layer-wise OT fusion);
   - total: from entering align_layers.align_two_models to leaving geometric_ensembling_modularized.
   Each as process CPU seconds (time.process_time: every thread of the process) and wall seconds;
   peak RSS is resource.getrusage(RUSAGE_SELF).ru_maxrss (whole process, model building included).

Prints one JSON line (also written to OUT/official.json) with the timings, the official layer map
(args.optimal_layer_alignment) and the per-group mappings (each align_layers.align call), and writes
the official fused model to OUT/fused-official.pt.

    python3 gpu-runner/bench/official/time_official.py --compare OUT

prints OUT/official.json beside our CLI's OUT/report-ours.json (see README.md for that command) and
exits 1 when the group mappings differ.
"""
import argparse
import json
import os
import sys
import time

PAIRS = {
    "resnet": {
        "label": "ResNet34 <- ResNet18",
        "models": ("resnet34_nobias_nobn", "resnet18_nobias_nobn"),
        # sh/fuse_resnet18_resnet34.sh, DATASET=cifar10 branch (N_SAMPLES=200, RETRAIN=0), FUSION=ot MAP=cla
        "script": (
            "--gpu-id 1 --model-name resnet34_nobias_nobn --second-model-name resnet18_nobias_nobn --n-epochs 300 "
            "--save-result-file ot_fusion_40.csv --exact --correction --ground-metric euclidean --weight-stats "
            "--activation-histograms --activation-mode raw --geom-ensemble-type acts --act-num-samples 200 "
            "--ground-metric-normalize none --activation-seed 21 --prelu-acts "
            "--load-models ./resnet34_resnet18_cifar10/seed_40 --ckpt-type best --dataset cifar10 --past-correction "
            "--not-squared --dist-normalize --print-distances --layer-measure activation --layer-metric cka "
            "--retrain 0 --retrain-lr-decay 1 --retrain-lr-decay-factor 2.0 --retrain-lr-decay-epochs 20_40_60_80_100 "
            "--handle-skips --ground-metric-eff --dump-final-models --fusion-method ot --mapping-type cla"
        ),
    },
    "vgg": {
        "label": "VGG13_doub <- VGG11_half",
        "models": ("vgg13_doub_nobias", "vgg11_half_nobias"),
        # sh/fuse_vgg11_half_vgg13_doub.sh (N_SAMPLES=200, RETRAIN=120, FUSION=ot); no --mapping-type (default cla)
        "script": (
            "--gpu-id 0 --model-name vgg13_doub_nobias --second-model-name vgg11_half_nobias --n-epochs 300 "
            "--save-result-file ot_fusion_40.csv --exact --correction --ground-metric euclidean --weight-stats "
            "--activation-histograms --activation-mode raw --geom-ensemble-type acts --act-num-samples 200 "
            "--ground-metric-normalize none --activation-seed 21 --prelu-acts --recheck-cifar "
            "--load-models ./vgg13_doub_vgg11_half/seed_40 --ckpt-type best --dataset cifar10 --past-correction "
            "--not-squared --dist-normalize --print-distances --layer-measure activation --layer-metric cka "
            "--retrain 120 --retrain-lr-decay 5 --retrain-lr-decay-factor 2.0 --retrain-lr-decay-epochs 20_40_60_80_100 "
            "--fusion-method ot"
        ),
    },
}


def official_argv(script: str, samples: int) -> list:
    """The script's flags with the overrides described in the module docstring."""
    out, tokens, i = [], script.split(), 0
    replace = {"--gpu-id": "-1", "--load-models": "./ckpt", "--act-num-samples": str(samples), "--retrain": "0"}
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--dump-final-models":
            i += 1
            continue
        if tok in replace:
            out += [tok, replace[tok]]
            i += 2
            continue
        out.append(tok)
        i += 1
    return out + ["--skip-ensemble"]


def our_stages(report: dict) -> dict:
    """Our report.json's `timings` (wall-clock seconds) in the official stages: cost is our cost +
    alignment (CKA matrices and the DP), fusion our balance + fusion (B' and the layer-wise OT)."""
    t = report["timings"]
    return {
        "activations": t["activations"],
        "cost": round(t["cost"] + t["alignment"], 3),
        "fusion": round(t["balance"] + t["fusion"], 3),
        "total": t["total"],
    }


def our_group_mappings(report: dict) -> list:
    """Our report's per-group mappings, in the order of the official `align` calls."""
    return [g["mapping"] for g in report["alignment"]["groups"]]


def compare(out: str) -> None:
    """Side-by-side table of OUT/official.json and our CLI's OUT/report-ours.json (same files)."""
    with open(os.path.join(out, "official.json")) as f:
        theirs = json.loads(f.read())
    with open(os.path.join(out, "report-ours.json")) as f:
        ours = json.load(f)
    ours_stages = our_stages(ours)
    print(f"{theirs['pair']}, {theirs['samples']} samples, {theirs['threads']} thread(s); wall seconds (official CPU s)")
    print(f"{'stage':<12}{'official':>18}{'ours':>10}{'official/ours':>15}")
    for stage, mine in ours_stages.items():
        off = theirs["seconds"][stage]
        ratio = off["wall"] / mine if mine > 0 else float("inf")
        print(f"{stage:<12}{off['wall']:>9.2f} ({off['cpu']:>6.2f}){mine:>10.2f}{ratio:>14.2f}x")
    print(f"official peak RSS {theirs['peakRssMiB']} MiB (whole process)")
    our_groups = our_group_mappings(ours)
    same = our_groups == theirs["groupMappings"]
    print(f"group mappings official {theirs['groupMappings']}")
    print(f"group mappings ours     {our_groups}  -> {'EQUAL' if same else 'DIFFERENT'}")
    print(f"official layer map (args.optimal_layer_alignment) {theirs['mapping']}")
    worst, worst_abs = 0.0, 0.0  # cost matrices: rows = deeper model's layers, columns = shallower's, on both sides
    for g, c_off in zip(ours["alignment"]["groups"], theirs["groupCostMatrices"]):
        for row_ours, row_off in zip(g["costMatrix"], c_off):
            for a, b in zip(row_ours, row_off):
                worst = max(worst, abs(a - b) / max(abs(b), 1e-12))
                worst_abs = max(worst_abs, abs(a - b))
    # costs are 1 - CKA in float32 on both sides: near 0 the relative difference is float32 cancellation
    print(f"cost matrices (1 - CKA): max relative difference {worst:.2e}, max absolute {worst_abs:.2e}")
    if not same:
        sys.exit(1)


def main() -> None:
    if "--compare" in sys.argv:
        cmp = argparse.ArgumentParser(description="compare OUT/official.json with OUT/report-ours.json")
        cmp.add_argument("--compare", required=True, metavar="OUT")
        compare(cmp.parse_args().compare)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clafusion-dir", required=True, help="checkout of github.com/hsgser/clafusion")
    parser.add_argument("--pair", required=True, choices=sorted(PAIRS))
    parser.add_argument("--samples", type=int, default=200, help="calibration images (the scripts' N_SAMPLES: 200)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (and OMP/BLAS threads)")
    parser.add_argument("--out", required=True, help="output directory (created)")
    parser.add_argument("--model-seed", type=int, default=0, help="torch seed of model A (B gets seed + 1)")
    parser.add_argument("--data-seed", type=int, default=7, help="torch seed of the calibration images")
    parser.add_argument("--no-fused-out", action="store_true", help="do not write OUT/fused-official.pt")
    opts = parser.parse_args()

    # Thread counts must be fixed before numpy/torch load their thread pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(opts.threads)

    import resource
    import runpy
    import types

    try:
        import numpy as np
        import ot  # POT, imported by the official code
        import torch
        import torchvision  # noqa: F401 - imported by the official cifar/train.py and data.py
        import tqdm  # noqa: F401
    except ImportError as exc:
        sys.exit(
            f"{exc}: run with Debian's /usr/bin/python3 and "
            "apt-get install -y python3-torch python3-torchvision python3-pot python3-tqdm"
        )

    torch.set_num_threads(opts.threads)
    pair = PAIRS[opts.pair]
    clafusion = os.path.abspath(opts.clafusion_dir)
    out = os.path.abspath(opts.out)
    run_dir = os.path.join(out, "official-run")
    os.makedirs(run_dir, exist_ok=True)
    if not os.path.isfile(os.path.join(clafusion, "main.py")):
        sys.exit(f"{clafusion}: no main.py (expected a checkout of hsgser/clafusion)")

    # The official modules import each other by bare name and expect cwd = the repo root
    # (sys.path.append('./cifar/') etc.); absolute paths let them run from run_dir instead, where
    # log.py writes datetime.txt and exp_sample/logs/ and main.py its merge_*/ results.
    for p in (os.path.join(clafusion, "cifar", "models"), os.path.join(clafusion, "cifar"), clafusion):
        sys.path.insert(0, p)
    os.chdir(run_dir)
    for leftover in ("datetime.txt",):  # log.py appends to it; get_first_timestamp reads the first line
        if os.path.exists(leftover):
            os.remove(leftover)

    # tensorboardX: main.py imports it at module level but uses it only with --tensorboard, which
    # the paper's scripts never pass, and Debian has no package for it. This stand-in lets main.py
    # import; a run that did ask for TensorBoard logs fails loudly instead of silently logging nothing.
    tbx = types.ModuleType("tensorboardX")

    class SummaryWriter:
        def __init__(self, *a, **k):
            raise RuntimeError("time_official.py has no tensorboardX (Debian ships none); run without --tensorboard")

    tbx.SummaryWriter = SummaryWriter
    sys.modules.setdefault("tensorboardX", tbx)

    import train as cifar_train  # cifar/train.py

    # ---- models (official classes) and calibration images
    name_a, name_b = pair["models"]
    models = []
    for i, name in enumerate((name_a, name_b)):
        torch.manual_seed(opts.model_seed + i)
        models.append(cifar_train.get_model({"model": name, "dataset": "cifar10"}, -1, relu_inplace=False))
    torch.manual_seed(opts.data_seed)
    images = torch.randn(opts.samples, 3, 32, 32)
    labels = torch.randint(0, 10, (opts.samples,))
    np.save(os.path.join(out, "cal.npy"), images.numpy().astype(np.float32))
    for i, (tag, model) in enumerate(zip(("a", "b"), models)):
        state = model.state_dict()
        torch.save(state, os.path.join(out, f"{tag}.pt"))
        ckpt_dir = os.path.join(run_dir, "ckpt", f"model_{i}")
        os.makedirs(ckpt_dir, exist_ok=True)
        # the format cifar/train.py store_checkpoint writes and get_pretrained_model reads
        torch.save({"epoch": 0, "test_accuracy": -1.0, "model_state_dict": state}, os.path.join(ckpt_dir, "best.checkpoint"))
    del models

    # ---- patches (module attributes; the official code looks them up at call time)
    import align_layers
    import routines
    import utils
    import wasserstein_ensemble

    def loader():
        dataset = torch.utils.data.TensorDataset(images, labels)
        return torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=False, num_workers=0)

    def get_dataset(config, *args, **kwargs):
        return loader(), loader()

    def no_test(args, network, test_loader, log_dict, debug=False, return_loss=False, is_local=False):
        log_dict.setdefault("local_test_losses" if is_local else "test_losses", []).append(-1.0)
        return (-1.0, -1.0) if return_loss else -1.0

    cifar_train.get_dataset = get_dataset
    routines.test = no_test

    def clocks():
        return time.process_time(), time.perf_counter()

    acc = {k: [0.0, 0.0] for k in ("activations", "alignment_map", "act_in_alignment", "balance", "ot_fusion")}
    marks = {}
    state = {"in_alignment": False}
    groups = []
    captured = {}

    def timed(key, fn, after=None):
        def wrapper(*a, **k):
            c0, w0 = clocks()
            result = fn(*a, **k)
            c1, w1 = clocks()
            acc[key][0] += c1 - c0
            acc[key][1] += w1 - w0
            if key == "activations" and state["in_alignment"]:
                acc["act_in_alignment"][0] += c1 - c0
                acc["act_in_alignment"][1] += w1 - w0
            if after:
                after(result)
            return result

        return wrapper

    orig_alignment_map = align_layers.get_alignment_map

    def alignment_map(*a, **k):
        state["in_alignment"] = True
        try:
            return timed("alignment_map", orig_alignment_map)(*a, **k)
        finally:
            state["in_alignment"] = False

    orig_align = align_layers.align

    def align(C, *a, **k):
        mapping = orig_align(C, *a, **k)
        groups.append({"costMatrix": np.asarray(C).tolist(), "mapping": [int(v) for v in np.asarray(mapping).tolist()]})
        return mapping

    orig_two = align_layers.align_two_models

    def align_two_models(*a, **k):
        marks.setdefault("start", clocks())
        return orig_two(*a, **k)

    def fused_done(result):
        marks["end"] = clocks()
        captured["fused"] = result[1]

    utils.get_model_activations = timed("activations", utils.get_model_activations)
    align_layers.get_alignment_map = alignment_map
    align_layers.align = align
    align_layers.align_two_models = align_two_models
    align_layers.balance_number_of_layers = timed("balance", align_layers.balance_number_of_layers)
    wasserstein_ensemble.geometric_ensembling_modularized = timed(
        "ot_fusion", wasserstein_ensemble.geometric_ensembling_modularized, after=fused_done
    )

    # ---- run the official main.py
    argv = official_argv(pair["script"], opts.samples)
    sys.argv = [os.path.join(clafusion, "main.py"), *argv]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c_start, w_start = clocks()
    result_globals = runpy.run_path(os.path.join(clafusion, "main.py"), run_name="__main__")
    c_end, w_end = clocks()
    args = result_globals["args"]

    def pair_of(cw):
        return {"cpu": round(cw[0], 3), "wall": round(cw[1], 3)}

    seconds = {
        "activations": pair_of(acc["activations"]),
        "cost": pair_of([acc["alignment_map"][j] - acc["act_in_alignment"][j] for j in (0, 1)]),
        "fusion": pair_of([acc["balance"][j] + acc["ot_fusion"][j] for j in (0, 1)]),
        "total": pair_of([marks["end"][j] - marks["start"][j] for j in (0, 1)]),
        "detail": {
            "activationsInAlignment": pair_of(acc["act_in_alignment"]),
            "balance": pair_of(acc["balance"]),
            "otFusion": pair_of(acc["ot_fusion"]),
            "mainPy": pair_of([c_end - c_start, w_end - w_start]),
        },
    }
    fused_path = None
    if not opts.no_fused_out:
        fused_path = os.path.join(out, "fused-official.pt")
        torch.save(captured["fused"].state_dict(), fused_path)

    report = {
        "pair": pair["label"],
        "officialModels": list(pair["models"]),
        "samples": opts.samples,
        "threads": opts.threads,
        "torch": torch.__version__,
        "pot": ot.__version__,
        "seconds": seconds,
        "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rssBeforeMainPyMiB": round(rss_before / 1024),
        # 1-based hidden-layer indices of A that B's layers map to (official args.optimal_layer_alignment)
        "mapping": [int(v) for v in args.optimal_layer_alignment],
        "groupMappings": [g["mapping"] for g in groups],
        "groupCostMatrices": [g["costMatrix"] for g in groups],
        "fusedModel": args.fused_model_name,
        "argv": argv,
        "files": {
            "a": os.path.join(out, "a.pt"),
            "b": os.path.join(out, "b.pt"),
            "calibration": os.path.join(out, "cal.npy"),
            "fused": fused_path,
            "officialLog": os.path.join(run_dir, "exp_sample", "logs"),
        },
    }
    line = json.dumps(report)
    with open(os.path.join(out, "official.json"), "w") as f:
        f.write(line + "\n")
    print(line, flush=True)


if __name__ == "__main__":
    main()
