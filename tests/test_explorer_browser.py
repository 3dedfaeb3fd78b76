"""The explorer notebook in a real browser: served by Voilà and by JupyterLab, driven by Playwright in headless Chromium.

For each server: start it on 127.0.0.1 (a free port, no token) serving a copy of `nbs/15_explorer.ipynb`, open the
explorer in Debian's Chromium (Playwright's Python package with `executable_path`; never `playwright install`),
set the depth and epochs sliders, press Train, wait for the run to end and read its test accuracy off the page,
start a second, long run, check that the page moves while it trains (progress, images/s, a redrawn plot), stop
it, and check that the page lists two runs and that the browser saw no JavaScript error. Every request that
does not go to 127.0.0.1 is blocked. Screenshots go to `tests/artifacts/` (git-ignored; the path is printed).

Needs Chromium (`apt-get install chromium`), `playwright`, `voila` and `jupyterlab` (the `dev` extra), and the
real CIFAR-10 (the `real_data_dir` fixture); skipped, with the reason, where one is missing (failed instead where
`SCALING_MLPS_REQUIRE_BROWSER` is set, as `.ci/run` does). Deselect with `-m "not browser"`. `../shared/guides/browser-tests.md` lists the pitfalls these tests avoid.
"""
from __future__ import annotations
import json, os, re, shutil, socket, subprocess, sys, time, urllib.error, urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "nbs" / "15_explorer.ipynb"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

pytestmark = pytest.mark.browser


def _missing(app: str) -> list[str]:
    "What this machine lacks to run the browser test of `app` ('voila' or 'lab')."
    missing = []
    try: import playwright.sync_api  # noqa: F401
    except ImportError: missing.append("playwright (pip install playwright, in the dev extra)")
    if not Path(CHROMIUM).exists(): missing.append(f"chromium at {CHROMIUM} (apt-get install chromium)")
    module = {"voila": "voila", "lab": "jupyterlab"}[app]
    try: __import__(module)
    except ImportError: missing.append(f"{module} (pip install {module}, in the dev extra)")
    return missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    "Wait until `url` answers (any HTTP status) or fail with the server's log."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError: return  # it answered
        except OSError: time.sleep(0.3)
    pytest.fail(f"the server did not answer {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def _server(app: str, tmp: Path, data_dir: Path) -> tuple[subprocess.Popen, str, Path]:
    "Start Voilà or JupyterLab on a free port of 127.0.0.1 serving a copy of the explorer notebook; (process, page URL, log)."
    shutil.copy(NOTEBOOK, tmp / NOTEBOOK.name)  # Lab autosaves into the notebook it opens: never the repository's
    cfg = tmp / "cfg"
    (cfg / "labconfig").mkdir(parents=True)
    # Lab's news pop-up can cover the widgets; disabling the extension is what stops it (guide, pitfall 4)
    (cfg / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(cfg), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               IPYTHONDIR=str(tmp / "ipython"), SCALING_MLPS_DATA=str(data_dir),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               # one torch thread: the kernel shares the machine with Chromium and the server, and on a busy
               # 2-core machine two threads that wait for each other made training up to 8x slower
               OMP_NUM_THREADS="1")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    if app == "voila":
        cmd = [sys.executable, "-m", "voila", NOTEBOOK.name, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
        page_url, ready_url = f"{base}/", f"{base}/voila/static/"  # requesting / runs the notebook: poll a cheap URL
    else:
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root", f"--ServerApp.root_dir={tmp}",
               f"--LabApp.workspaces_dir={cfg}", "--ServerApp.open_browser=False"]
        page_url, ready_url = f"{base}/lab/tree/{NOTEBOOK.name}", f"{base}/api/status"
    log = tmp / f"{app}.log"
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    _wait_for_http(ready_url, proc, log)
    return proc, page_url, log


def _set_slider(page, name: str, value: int) -> None:
    "Type `value` into the readout of the slider `explorer-<name>` and press Enter: one update, no race (pitfall 1)."
    readout = page.locator(f".explorer-{name} .widget-readout")
    readout.click()
    readout.fill(str(value))
    readout.press("Enter")
    from playwright.sync_api import expect
    expect(readout).to_have_text(str(value))


def _drive(page, app: str, shots: list[Path]) -> dict:
    "The user's session: a finished run and a stopped one. Returns what was read off the page."
    from playwright.sync_api import expect
    root = page.locator(".explorer")
    expect(root).to_be_visible(timeout=180_000)
    train, stop = page.locator("button.explorer-train"), page.locator("button.explorer-stop")
    status, result = page.locator(".explorer-status"), page.locator(".explorer-result")
    curves, runs = page.locator("img.explorer-curves"), page.locator(".explorer-runs tr.explorer-run")

    _set_slider(page, "depth", 1)
    _set_slider(page, "epochs", 2)
    train.click()
    expect(result).to_contain_text("test accuracy", timeout=180_000)  # Lab: after the notebook's own cells ran
    first_text = result.inner_text()
    assert "B-MLP, depth 1, width 128" in first_text and "finished" in first_text, first_text
    accuracy = float(re.search(r"test accuracy\s*([\d.]+)%", first_text).group(1))
    assert 10 < accuracy < 100, first_text
    expect(runs).to_have_count(1)
    shots.append(ARTIFACTS / f"explorer_{app}_1_finished.png"); root.screenshot(path=shots[-1])

    _set_slider(page, "epochs", 100)
    train.click()
    expect(result).to_contain_text("training", timeout=10_000)  # the last run's result leaves the screen at once
    assert "test accuracy" not in result.inner_text()
    # epoch 2 or later (on a fast machine an epoch may pass between two status lines)
    expect(status).to_contain_text(re.compile(r"epoch ([2-9]|\d\d+) of 100"), timeout=120_000)
    expect(status).to_contain_text("img/s")
    before = curves.get_attribute("src")
    page.wait_for_function("([el, src]) => el.getAttribute('src') !== src", arg=[curves.element_handle(), before],
                           timeout=30_000)  # the plot is redrawn while the run goes on
    live_status = status.inner_text()
    expect(stop).to_be_enabled()
    stop.click()
    expect(result).to_contain_text("stopped at epoch", timeout=60_000)
    second_text = result.inner_text()
    assert "test accuracy" in second_text and "depth 1, width 128" in second_text, second_text
    expect(runs).to_have_count(2)
    expect(train).to_be_enabled()
    shots.append(ARTIFACTS / f"explorer_{app}_2_stopped.png"); root.screenshot(path=shots[-1])
    return {"first": first_text, "accuracy": accuracy, "live_status": live_status, "second": second_text}


@pytest.mark.parametrize("app", ["voila", "lab"])
def test_explorer_in_the_browser(app, real_data_dir, tmp_path):
    missing = _missing(app)
    if missing:  # `.ci/run` installs all of it and sets SCALING_MLPS_REQUIRE_BROWSER: there a skip would hide a failure
        (pytest.fail if os.environ.get("SCALING_MLPS_REQUIRE_BROWSER") else pytest.skip)("browser test needs " + ", ".join(missing))
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    t0 = time.monotonic()
    proc, url, log = _server(app, tmp_path, real_data_dir)
    errors, blocked, shots = [], [], []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1300, "height": 1500})

                def route(r):  # only the local server: the test never depends on the network (pitfall 6)
                    if urlparse(r.request.url).hostname in LOCAL_HOSTS or r.request.url.startswith(("data:", "blob:")):
                        r.continue_()
                    else:
                        blocked.append(r.request.url); r.abort()
                context.route("**/*", route)
                page = context.new_page()
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                page.on("console", lambda m: errors.append(f"console.error: {m.text} ({m.location.get('url')})")
                        if m.type == "error" else None)
                page.goto(url, timeout=180_000)
                if app == "lab": _run_all_in_lab(page)
                seen = _drive(page, app, shots)
                page.screenshot(path=ARTIFACTS / f"explorer_{app}_page.png", full_page=True)
                shots.append(ARTIFACTS / f"explorer_{app}_page.png")
            finally:
                browser.close()
    finally:
        proc.terminate()
        try: proc.wait(timeout=20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
    # a blocked request's load failure is our doing, not the page's (Voilà asks a CDN for an icon font)
    errors = [e for e in errors if not (e.startswith("console.error: Failed to load resource")
                                        and any(b in e for b in blocked))]
    print(f"\n{app}: {time.monotonic() - t0:.1f} s; first run: {seen['accuracy']}% test accuracy; "
          f"while training: {seen['live_status']!r}; blocked: {blocked}; screenshots: {[str(s) for s in shots]}")
    assert not errors, "JavaScript errors in the page:\n" + "\n".join(errors)


def _run_all_in_lab(page) -> None:
    "Wait for the kernel, then Run > Run All Cells (guide, pitfalls 2 and 3)."
    from playwright.sync_api import expect
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=120_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
