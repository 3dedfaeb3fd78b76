#!/usr/bin/env python
"""Merge the parts that `benchmarks/gpu_check.sh` wrote so far into `gpu_<gpu name>.json` and `.md`.

Called after every step, so a check cut short still leaves a report of the steps that finished.

  python benchmarks/gpu_report.py --parts /tmp/parts --out results
"""
from __future__ import annotations
import argparse, json, platform, re, time
from pathlib import Path


def slug(name: str) -> str:
    "A file-name-safe form of a device name: 'NVIDIA H200' -> 'nvidia-h200'."
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _read(parts: Path, name: str):
    f = parts / name
    try: return json.loads(f.read_text()) if f.exists() else None
    except json.JSONDecodeError: return None  # a step killed while writing: the report says the step did not finish


def _steps(parts: Path) -> list[dict]:
    f = parts / "steps.tsv"
    rows = [l.split("\t") for l in f.read_text().splitlines() if l.strip()] if f.exists() else []
    return [{"step": s, "rc": int(rc), "seconds": float(sec), "limit_s": float(lim),
             "status": "ok" if rc == "0" else "skipped (the budget was spent)" if rc == "-1"
             else "timed out" if rc in ("124", "137") else f"failed (exit {rc})"}
            for s, rc, sec, lim in rows]


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def markdown(r: dict) -> str:
    L = [f"# GPU check: {r['device']}", "",
         f"`bash benchmarks/gpu_check.sh{' --dry-run' if r['dry_run'] else ''}` on {r['date']}: torch {r['torch']}, "
         f"CUDA {r['cuda']}, Python {r['python']}.{' A dry run: tiny sizes on the CPU, the figures mean nothing.' if r['dry_run'] else ''}",
         "", "| step | status | seconds | limit (s) |", "| --- | --- | ---: | ---: |"]
    L += [f"| {s['step']} | {s['status']} | {s['seconds']:.0f} | {s['limit_s']:.0f} |" for s in r["steps"]]
    if r.get("tests"): L += ["", f"CUDA-only tests (`pytest -m cuda`): {r['tests']}"]
    t = r.get("throughput")
    if t:
        L += ["", "## Training throughput", "",
              f"bf16 autocast, LION, 3 x forward FLOPs per image at 2 FLOPs per multiply-add. Peak: "
              + (f"an 8192³ bf16 matmul measured {t['matmul_bf16_tflops']:.0f} TFLOP/s here; the datasheet says "
                 f"{t['datasheet_bf16_tflops']} TFLOP/s." if t["matmul_bf16_tflops"] else "not measured (no GPU).")
              + " `model`: one batch already on the GPU; `loader`: our "
              f"`DeviceLoader` (uint8 on the GPU, crops, flips, normalize) + MixUp.", "",
              "| setting | feed | torch.compile | img/s | ms/step | TFLOP/s | of measured peak | of datasheet peak | uint8 input MB/s |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for x in t["runs"]:
            L.append(f"| {x['setting']} ({x['arch']}, {x['resolution']} px, batch {x['batch_size']}) | {x['source']} | "
                     f"{x['compile_mode']} | {x['img_per_s']:,.0f} | {x['step_ms']:.2f} | {x['tflops']:.1f} | "
                     f"{_pct(x['fraction_of_measured_peak'])} | {_pct(x['fraction_of_datasheet_peak'])} | {x['input_mb_per_s']:,.0f} |")
    lion = r.get("lion")
    if lion:
        L += ["", "## LION step", "", "| parameters of | tensors | per parameter (ms) | foreach (ms) | speed-up (range) | same result |",
              "| --- | ---: | ---: | ---: | ---: | --- |"]
        for x in lion:
            same = "identical" if x["identical"] else f"max diff {x['max_abs_diff']:.1e}"
            L.append(f"| {x['arch']} | {x['tensors']} | {x['ms_per_parameter']:.3f} | {x['ms_foreach']:.3f} | "
                     f"{x['speedup']:.2f}x ({x['speedup_range'][0]:.2f}-{x['speedup_range'][1]:.2f}) | {same} |")
    row = r.get("table1_row")
    if row:
        c = row["config"]
        L += ["", f"## Table 1 row: {row['row']}", "",
              f"{c['arch']}, {c['resolution']} px, batch {c['batch_size']}, {c['optimizer']} lr {c['lr']}, MixUp {c['mixup']}, "
              f"smoothing {c['label_smoothing']}, torch.compile {c['compile']}, on {row['data']}: {row['epochs_done']} of "
              f"{c['epochs']} epochs in the time allowed.", "",
              "| first epoch (with compilation) | s/epoch after | img/s | TFLOP/s | 1000 epochs | 5000 epochs | one evaluation | one checkpoint |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
              f"| {row['first_epoch_s']:.1f} s | {row['s_per_epoch']:.3f} s | {row['img_per_s']:,.0f} | {row['train_tflops']:.1f} | "
              f"{row['projected_train_s']['1000'] / 60:.1f} min | {row['projected_train_s']['5000'] / 60:.1f} min | "
              f"{row['eval_s']:.2f} s | {row['checkpoint_s']:.2f} s |"]
        if row.get("test_acc") is not None:
            L += ["", f"Test accuracy after {row['epochs_done']} epochs: {100 * row['test_acc']:.1f}% (the paper's row, "
                      f"after {c['epochs']} epochs: {row['paper_test_acc']}%)."]
    tta = r.get("tta")
    if tta:
        L += ["", "## Test-time augmentation", "",
              f"{tta['arch']} on {tta['images']:,} test images ({tta['data']}), {tta['views']} views each, "
              f"{tta['views_per_forward']:,} views per forward: {tta['tta_s']:.2f} s = {tta['views_per_s']:,.0f} views/s "
              f"(without TTA: {tta['plain_eval_s']:.3f} s)."
              + (f" Accuracy {100 * tta['test_acc']:.1f}% without, {100 * tta['tta_acc']:.1f}% with TTA." if tta.get("tta_acc") is not None else "")]
    return "\n".join(L) + "\n"


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", required=True); p.add_argument("--out", default="results")
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args(argv)
    parts = Path(a.parts)
    env = _read(parts, "env.json") or {}
    r = {"device": env.get("device", "unknown"), "dry_run": a.dry_run, "date": time.strftime("%Y-%m-%d"),
         "torch": env.get("torch"), "cuda": env.get("cuda"), "python": platform.python_version(), "steps": _steps(parts),
         "tests": (parts / "tests_summary.txt").read_text().strip() if (parts / "tests_summary.txt").exists() else None,
         "throughput": _read(parts, "throughput.json"), "lion": _read(parts, "lion.json"),
         "table1_row": _read(parts, "table1_row.json"), "tta": _read(parts, "tta.json")}
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    base = out / f"gpu_{slug(r['device'] if not a.dry_run else 'dry-run ' + r['device'])}"
    base.with_suffix(".json").write_text(json.dumps(r, indent=1) + "\n")
    base.with_suffix(".md").write_text(markdown(r))
    return base


if __name__ == "__main__": print(main())
