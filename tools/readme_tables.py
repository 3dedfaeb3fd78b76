#!/usr/bin/env python
"""Write the README's measured tables from the committed reports, so that no number in the README is typed by hand.

    python tools/readme_tables.py           # rewrite the generated blocks of nbs/index.ipynb from results/*.json
    python tools/readme_tables.py --check   # exit 1 if a block differs from what the reports give (tests/test_readme.py)

A generated block sits between `<!-- begin: NAME -->` and `<!-- end: NAME -->` in the markdown of nbs/index.ipynb;
NAME is a report (`table1_laptop` reads `results/table1_laptop.json`). A block whose report is not committed says
so instead of showing numbers. After a rewrite: `jupyter nbconvert --to markdown --stdout nbs/index.ipynb > README.md`.
"""
from __future__ import annotations
import argparse, json, re, sys
from statistics import mean, median
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDEX, RESULTS = ROOT / "nbs" / "index.ipynb", ROOT / "results"
BLOCK = re.compile(r"<!-- begin: (\w+) -->\n.*?<!-- end: \1 -->", re.S)
NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "tinyimagenet": "Tiny-ImageNet", "imagenet": "ImageNet", "stl10": "STL-10"}


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds / 60:.1f} min"


def table1(report: dict) -> str:
    "Paper and ours side by side per dataset, the epochs each of ours ran, the wall time, and the findings counted."
    rows = [r for r in report["rows"] if r["status"] != "skipped"]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    names = list(dict.fromkeys(r["name"] for r in rows))
    by = {(r["dataset"], r["name"]): r for r in rows}
    res = {d: by[d, names[0]]["config"]["resolution"] for d in datasets}
    head = "| Table 1 row | " + " | ".join(f"{NAMES[d]} paper | {NAMES[d]} ours ({res[d]} px)" for d in datasets) + " |"
    lines = [head, "| --- |" + " ---: | ---: |" * len(datasets)]
    for n in names:
        cells = []
        for d in datasets:
            r = by.get((d, n))
            cells += [f"{r['paper']:.1f}", f"{r['ours']:.1f} ({r['config']['epochs']} ep.)"] if r else ["", ""]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    arch = sorted({r["config"]["arch"] for r in rows})
    b_wins = sum(by[d, n.replace("S-MLP", "B-MLP")]["ours"] > by[d, n]["ours"]
                 for d in datasets for n in names if n.startswith("S-MLP") and (d, n.replace("S-MLP", "B-MLP")) in by)
    pairs = sum(1 for d in datasets for n in names if n.startswith("S-MLP") and (d, n.replace("S-MLP", "B-MLP")) in by)
    da = [(d, m) for d in datasets for m in ("S-MLP", "B-MLP") if (d, f"{m} @100E") in by and (d, f"{m} + DA @1000E") in by]
    da_wins = sum(by[d, f"{m} + DA @1000E"]["ours"] > by[d, f"{m} @100E"]["ours"] for d, m in da)
    # the no-DA rows sit at an early epoch of a longer logged run: compare DA with that run's best epoch too
    sys.path.insert(0, str(ROOT))
    from scaling_mlps.report_table1 import no_da_curves
    best_no_da = {k: max(v) for k, v in no_da_curves(report).items()}
    def margins(setting: str) -> str:
        m = [by[d, f"{model} {setting}"]["ours"] - best_no_da[d, model] for d, model in da
             if (d, model) in best_no_da and (d, f"{model} {setting}") in by]
        return f"{min(m):+.1f} to {max(m):+.1f}" if m else ""
    # a run slowed by other jobs on a shared machine shows as epochs far slower than its median: scale each run's
    # wall time by median / mean epoch time to say what the command takes when nothing else runs
    runs = report.get("runs", {}).values()
    at_median = sum(r["wall_time_s"] * median(e) / mean(e) for r in runs
                    if (e := [h["epoch_time_s"] for h in r["history"] if h.get("epoch_time_s")]))
    return "\n".join(lines + [
        "",
        f"Models {', '.join(arch)}; measured on `{report['device']}` ({report['torch_threads']} threads) on {report['date']}: "
        f"{minutes(report['train_wall_time_s'])} of training"
        + (f" ({minutes(at_median)} at each run's median epoch time)" if at_median else "")
        + f", {minutes(report['wall_time_s'])} for the whole command. "
        f"B-MLP ahead of S-MLP in {b_wins} of {pairs} settings; DA with 10x the epochs ahead of no DA in {da_wins} of {len(da)}"
        + (f"; against no DA's best logged epoch, DA is {at_10x} points at 10x the epochs and {margins('+ DA @5000E')} at 50x"
           if (at_10x := margins("+ DA @1000E")) else "") + ".",
    ])


def scaling_isoflop(report: dict) -> str:
    "An IsoFLOP report's downstream exponents beside the paper's: the law (Fig. 1, 6, 7) and P*, N* with the design's nulls (Fig. 8)."
    from scaling_mlps.report_scaling import LAW_FIT_TITLES, FIT_TITLES, fit_text, paper_value, paper_alpha_text
    g, fits = report["grid"], report["fits"]["downstream"]
    lines = [f"| fit ({NAMES.get(g['downstream'], g['downstream'])} linear-probe error) | paper | ours [95% interval] |",
             "| --- | ---: | --- |"]
    for name, (title, fig) in LAW_FIT_TITLES.items():
        paper = paper_alpha_text(g["downstream"]) if name == "compute_law" else f"{paper_value(name)} ({fig})"
        lines.append(f"| {title} | {paper} | {fit_text(fits[name])} |")
    nulls = fits["isoflop"]["nulls"]
    for name in ("P_star", "N_star"):
        null = nulls["corner_to_corner"] if name == "P_star" else 1 - nulls["corner_to_corner"]
        drift = nulls["ladder_drift"] if name == "P_star" or nulls["ladder_drift"] is None else 1 - nulls["ladder_drift"]
        boot = fits[name].get("ci_bootstrap")
        boot = f"; bootstrap over runs [{boot[0]:.2f}, {boot[1]:.2f}]" if boot else ""
        lines.append(f"| {FIT_TITLES[name][0]}, IsoFLOP minima (Fig. 8) | {paper_value(name)} at T = 50 | "
                     f"{fit_text(fits[name])}{boot} at T = {g['epochs']} (the design alone: {null:.2f} corner to corner"
                     + (f", {drift:.2f} ladder drift" if drift is not None else "") + ") |")
    runs = len({r["run_dir"] for r in report["rows"] if r["status"] != "skipped"})
    reused = sum(r["status"] == "reused" for r in report["runs"].values())
    every = sum(r["wall_time_s"] for r in report["runs"].values())
    return "\n".join(lines + [
        "",
        f"IsoFLOP profiles: {len(g['budgets'])} budgets x {g['per_budget']} B-MLPs on {NAMES.get(g['dataset'], g['dataset'])} "
        f"({g['resolution']} px) at T = {g['epochs']}" + (f", each profile widened by up to {g['widen']} sizes on each side" if g.get("widen") else "")
        + f" ({runs} runs with the seed replicates); measured on `{report['device']}` ({report['torch_threads']} threads) on "
        f"{report['date']}: {minutes(report['wall_time_s'])} for the whole command"
        + (f", {reused} of {runs} runs reused from an earlier call (training all {runs} took {minutes(every)})" if reused else "") + ".",
    ])


def scaling(report: dict) -> str:
    "The fitted exponents of the downstream (linear-probe) error beside the paper's."
    sys.path.insert(0, str(ROOT))
    if report.get("kind") == "isoflop": return scaling_isoflop(report)
    from scaling_mlps.report_scaling import FIT_TITLES, fit_text, paper_value
    g = report["grid"]
    fits = report["fits"]["downstream"]
    lines = [f"| fit ({NAMES.get(g['downstream'], g['downstream'])} linear-probe error) | paper | ours [95% interval] |",
             "| --- | ---: | --- |"]
    for name, (title, fig) in FIT_TITLES.items():
        lines.append(f"| {title} ({fig}) | {paper_value(name)} | {fit_text(fits[name])} |")
    runs = len({r["run_dir"] for r in report["rows"] if r["status"] != "skipped"})
    return "\n".join(lines + [
        "",
        f"{len(g['archs'])} B-MLPs x {len(g['n_train'])} subsets of {NAMES.get(g['dataset'], g['dataset'])} "
        f"({g['resolution']} px), read at T = {', '.join(map(str, g['epochs']))} epochs"
        + (f" ({runs} runs)" if runs else "") + f"; measured on `{report['device']}` ({report['torch_threads']} threads) on "
        f"{report['date']}: {minutes(report['wall_time_s'])} for the whole command.",
    ])


def first_table(name: str, tables: int = 1) -> str:
    "The first `tables` markdown tables of `results/<name>.md`, which the chapter's `reproduce` wrote from the same report."
    found, rows = [], []
    for line in (RESULTS / f"{name}.md").read_text().splitlines() + [""]:
        if line.startswith("|"): rows.append(line)
        elif rows: found.append("\n".join(rows)); rows = []
        if len(found) == tables: break
    return "\n\n".join(found)


def inductive_bias(report: dict) -> str:
    "Chapter 6's grid of plain and shuffled pixels and its verdicts, as its report's markdown has them."
    s = report["settings"]
    return (first_table(f"inductive_bias_{report['scale']}", 2) + f"\n\nB-MLP {s['mlp']} and small CNN {s['cnn']} (lr {s['cnn_lr']:g} "
            f"by its pilot), {s['epochs']} epochs on CIFAR-10, seeds {', '.join(map(str, s['seeds']))}; measured on "
            f"`{report['device']}` ({report['torch_threads']} threads) on {report['date']}.")


MAKERS = {"table1": table1, "scaling": scaling, "inductive_bias": inductive_bias}


def block(name: str) -> str:
    kind = name.rsplit("_", 1)[0]
    path = RESULTS / f"{name}.json"
    body = ((MAKERS[kind](json.loads(path.read_text())) if kind in MAKERS else first_table(name)) if path.exists()
            else f"No `results/{name}.json` is committed yet: `scaling-mlps reproduce {kind.replace('_', '-')} --scale {name.rsplit('_', 1)[1]}` writes it.")
    return f"<!-- begin: {name} -->\n{body}\n<!-- end: {name} -->"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a block is out of date, change nothing")
    args = ap.parse_args(argv)
    nb = json.loads(INDEX.read_text())
    stale = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown": continue
        text = "".join(cell["source"])
        new = BLOCK.sub(lambda m: block(m.group(1)), text)
        if new != text:
            stale += [m.group(1) for m, n in zip(BLOCK.finditer(text), BLOCK.finditer(new)) if m.group(0) != n.group(0)]
            cell["source"] = new.splitlines(keepends=True)
    if args.check:
        if stale: print(f"out of date in {INDEX.relative_to(ROOT)}: {', '.join(stale)}; run python tools/readme_tables.py")
        return int(bool(stale))
    if stale:
        INDEX.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print(f"rewrote {', '.join(stale)}; now: jupyter nbconvert --to markdown --stdout nbs/index.ipynb > README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
