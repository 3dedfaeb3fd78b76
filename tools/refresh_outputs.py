#!/usr/bin/env python
"""Execute the notebooks in place and keep their outputs, so that a reader on the web or on the site sees results.

    python tools/refresh_outputs.py                      # all: library notebooks (ci scale), chapters (committed results), guide
    python tools/refresh_outputs.py nbs/04_compute.ipynb nbs/chapters/01_from_scratch.ipynb
    python tools/refresh_outputs.py --library            # only nbs/[0-9]*.ipynb
    python tools/refresh_outputs.py --chapters --time-ci # only the chapters, and time each at the ci scale too

Library notebooks run as `nbdev-test` runs them (IN_TEST: the `ci` scale, `#| slow` and `#| notest` cells skipped);
chapters run at `--read-scale` (default `laptop`), which renders from the committed results in `results/` in
seconds; a chapter whose committed reports for that scale are missing is skipped (it would train). Outputs are
written with `nbdev-test --save`, then `nbdev-clean` strips the execution metadata (it keeps outputs). A run that
changes a cell's source, or fails, leaves the notebook as it was. Real data comes from `$SCALING_MLPS_DATA`.
The seconds each notebook took go to `results/notebook_times.json` (the teacher's guide reads them), with the
machine's load when it ran: on a shared CPU, a time is only as good as that load.
"""
from __future__ import annotations
import argparse, datetime, json, os, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, RESULTS = ROOT / "nbs", ROOT / "results"
TIMES = RESULTS / "notebook_times.json"
load_at_start = 0.0  # the 1-minute load average when the last run started (a time records the larger of it and the load at its end)


def library_notebooks() -> list[Path]:
    return sorted(NBS.glob("[0-9]*.ipynb"))


def chapter_notebooks() -> list[Path]:
    return sorted((NBS / "chapters").glob("*.ipynb"))


def sources(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


def missing_reports(path: Path, scale: str) -> list[str]:
    "The committed reports `<name>_<scale>.json` that the chapter reads (`load_report(\"name\", ...)`) and that are not in results/."
    names = set(re.findall(r"load_report\(\s*[\"'](\w+)[\"']", "\n".join(sources(path))))
    return sorted(f"results/{n}_{scale}.json" for n in names if not (RESULTS / f"{n}_{scale}.json").exists())


def run_notebook(path: Path, env: dict, save: bool) -> tuple[bool, float, str]:
    "Run `path` with nbdev-test (writing its outputs back when `save`); (success, seconds, error text)."
    global load_at_start
    load_at_start, start = os.getloadavg()[0], time.perf_counter()
    done = subprocess.run(["nbdev-test", str(path)] + (["--save"] if save else []), cwd=ROOT, env=env,
                          capture_output=True, text=True)
    return done.returncode == 0, time.perf_counter() - start, (done.stdout + done.stderr)[-3000:]


def record(times: dict, path: Path, mode: str, seconds: float, env: dict) -> None:
    times.setdefault(path.relative_to(ROOT).as_posix(), {})[mode] = {
        "seconds": round(seconds, 1), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_1min": round(max(load_at_start, os.getloadavg()[0]), 2), "cpus": os.cpu_count(), "omp_threads": env.get("OMP_NUM_THREADS")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to refresh (default: all library notebooks and chapters)")
    parser.add_argument("--library", action="store_true", help="every library notebook nbs/[0-9]*.ipynb")
    parser.add_argument("--chapters", action="store_true", help="every chapter nbs/chapters/*.ipynb")
    parser.add_argument("--read-scale", default="laptop", help="the scale whose committed results the chapters render (default: laptop)")
    parser.add_argument("--time-ci", action="store_true", help="also run each chapter at the ci scale (not saved), to time it")
    args = parser.parse_args(argv)

    data = os.environ.get("SCALING_MLPS_DATA")
    if not data or not (Path(data) / "cifar10").is_dir():
        parser.error(f"SCALING_MLPS_DATA={data!r}: set it to a data directory with cifar10/ (and tiny-imagenet-200/, imagenet-real/) "
                     "so that the notebooks show results on real data")
    chosen = [p.resolve() for p in args.notebooks]
    if args.library or not (chosen or args.chapters): chosen += library_notebooks()
    if args.chapters or not (args.notebooks or args.library): chosen += chapter_notebooks()
    if not (args.notebooks or args.library or args.chapters) and (NBS / "teachers_guide.ipynb").exists():
        chosen.append(NBS / "teachers_guide.ipynb")  # last: it reads the times this run records
    for p in chosen:
        if not p.exists() or p.suffix != ".ipynb": parser.error(f"{p}: not a notebook")

    base = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    base.pop("SCALING_MLPS_SCALE", None); base.pop("SCALING_MLPS_RESULTS", None)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    failed, written = [], []
    for path in dict.fromkeys(chosen):
        name = path.relative_to(ROOT).as_posix()
        chapter = path.parent.name == "chapters"
        env, mode = (dict(base, SCALING_MLPS_SCALE=args.read_scale), "committed results") if chapter else (base, "ci")
        if chapter and (missing := missing_reports(path, args.read_scale)):
            print(f"skip {name}: no committed {', '.join(missing)} (it would train at the {args.read_scale} scale)"); continue
        if chapter and args.time_ci:  # first, so that a chapter whose committed results are broken still gets its ci time
            ok, seconds, log = run_notebook(path, base, save=False)
            if ok:
                record(times, path, "ci", seconds, base); print(f"{name}: ci (not saved), {seconds:.1f} s")
                TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
            else: failed.append(f"{name} (ci)"); print(f"FAILED {name} at the ci scale:\n{log}")
        before, original = sources(path), path.read_bytes()
        ok, seconds, log = run_notebook(path, env, save=True)
        if ok and sources(path) != before: ok, log = False, "nbdev-test --save changed a cell's source"
        if not ok:
            path.write_bytes(original); failed.append(name)
            print(f"FAILED {name} ({seconds:.0f} s), left as it was:\n{log}"); continue
        written.append(path); record(times, path, mode, seconds, env)
        TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
        print(f"{name}: {mode}, {seconds:.1f} s")
    for path in written: subprocess.run(["nbdev-clean", "--fname", str(path)], cwd=ROOT, check=True, env=base)
    print(f"refreshed {len(written)} notebook(s)" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
