"""The explorer notebook in a real browser: served by Voilà and by JupyterLab, driven by Playwright in headless Chromium.

For each server: start it on 127.0.0.1 (a free port, no token) serving a copy of the explorer's app notebook,
`nbs/app_explorer.ipynb`, open it in Debian's Chromium (Playwright's Python package with `executable_path`; never
`playwright install`), type a value into every slider's readout (depth, width, images, epochs) and check the
readouts show them, press Train, wait for the run to end, read its test accuracy off the page and check that the
run's settings are the typed ones; untick the default lr, type one, start a second, long run, check that the page
moves while it trains (progress, images/s, a redrawn plot), stop it, and check that the page lists two runs with
their settings; tick "shuffle pixels" and train one epoch (its row says the pixels were shuffled, its weight
captions that they were un-shuffled), then pick the small CNN and train one epoch on pixels in order (its width
and lr are the CNN's, its row names it, its first convolution is drawn); and check that the browser saw no
JavaScript error. In Voilà the page is the app alone (no output of the
library notebook's self-tests, a page of bounded height, no broken image before the first run), and closing it
shuts its kernel down (the culling settings of `voila.json`, with shorter times). Every request that
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
NOTEBOOK = ROOT / "nbs" / "app_explorer.ipynb"
VOILA_CONFIG = ROOT / "voila.json"
MAX_PAGE_HEIGHT = 2500  # px at a 1300 px wide window: the app (the library notebook's page was 4,151)
LIBRARY_ONLY = ("How it works", "A learning rate for each width", "Traceback")  # headings of 15_explorer, errors
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
    # the repository's culling settings, with times short enough to watch in a test (Voilà reads voila.json in its folder)
    voila_config = json.loads(VOILA_CONFIG.read_text())
    assert set(voila_config["MappingKernelManager"]) == {"cull_idle_timeout", "cull_interval"}, voila_config
    (tmp / "voila.json").write_text(json.dumps({"MappingKernelManager": {"cull_idle_timeout": 4, "cull_interval": 2}}))
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


def _type(page, name: str, typed: str, shown: str) -> None:
    "Type `typed` into the text readout `explorer-<name>-readout` and press Enter; wait until it shows `shown`."
    from playwright.sync_api import expect
    readout = page.locator(f".explorer-{name}-readout input")
    readout.fill(typed)
    readout.press("Enter")
    expect(readout).to_have_value(shown)


def _row(runs, index: int) -> dict:
    "The runs table's row of run `index` (newest first in the table), as {column: text}."
    cells = runs.nth(len(runs.all()) - index).locator("td").all_inner_texts()
    return dict(zip(("run", "model", "images", "epochs", "augmentation", "pixels", "lr"), cells))


def _broken_images(page) -> list[str]:
    "The visible images of the page that did not load (a broken-image icon)."
    return page.evaluate("""Array.from(document.images).filter(i => i.offsetParent !== null)
                            .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.className || i.src.slice(0, 40))""")


def _drive(page, app: str, shots: list[Path]) -> dict:
    "The user's session: a finished run and a stopped one. Returns what was read off the page."
    from playwright.sync_api import expect
    root = page.locator(".explorer")
    expect(root).to_be_visible(timeout=180_000)
    train, stop = page.locator("button.explorer-train"), page.locator("button.explorer-stop")
    status, result = page.locator(".explorer-status"), page.locator(".explorer-result")
    curves, runs = page.locator("img.explorer-curves"), page.locator(".explorer-runs tr.explorer-run")
    assert not _broken_images(page), _broken_images(page)

    _set_slider(page, "depth", 1)
    _type(page, "width", "64", "64")
    _type(page, "images", "1000", "1,000")
    _set_slider(page, "epochs", 2)
    expect(page.locator(".explorer-lr-readout input")).to_have_value("3e-4")  # width 64's default, as written
    train.click()
    expect(result).to_contain_text("test accuracy", timeout=180_000)  # Lab: after the notebook's own cells ran
    first_text = result.inner_text()
    assert "B-MLP, depth 1, width 64" in first_text and "finished" in first_text, first_text
    accuracy = float(re.search(r"test accuracy\s*([\d.]+)%", first_text).group(1))
    assert 10 < accuracy < 100, first_text
    expect(runs).to_have_count(1)
    first_row = _row(runs, 1)
    assert (first_row["images"], first_row["epochs"], first_row["lr"]) == ("1,000 CIFAR-10", "2", "3e-4"), first_row
    assert not _broken_images(page), _broken_images(page)
    shots.append(ARTIFACTS / f"explorer_{app}_1_finished.png"); root.screenshot(path=shots[-1])

    _set_slider(page, "epochs", 100)
    page.locator(".explorer-lr-default input").uncheck()
    _type(page, "lr", "2e-3", "2e-3")
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
    assert "test accuracy" in second_text and "depth 1, width 64" in second_text, second_text
    expect(runs).to_have_count(2)
    second_row = _row(runs, 2)
    assert (second_row["images"], second_row["epochs"], second_row["lr"]) == ("1,000 CIFAR-10", "100", "2e-3"), second_row
    expect(train).to_be_enabled()
    shots.append(ARTIFACTS / f"explorer_{app}_2_stopped.png"); root.screenshot(path=shots[-1])
    return {"first": first_text, "accuracy": accuracy, "live_status": live_status, "second": second_text} | _drive_chapter6(page, app, shots)


def _drive_chapter6(page, app: str, shots: list[Path]) -> dict:
    "After `_drive`'s two runs: one epoch on shuffled pixels, then one of the small CNN. Returns their result lines."
    from playwright.sync_api import expect
    weights = page.locator(".explorer-weights")
    _set_slider(page, "epochs", 1)
    page.locator(".explorer-lr-default input").check()
    expect(page.locator(".explorer-lr-readout input")).to_have_value("3e-4")  # width 64's default again
    page.locator(".explorer-shuffle input").check()
    shuffled_text, shuffled_row = _train_and_read(page, 3, "B-MLP, depth 1, width 64")
    assert (shuffled_row["pixels"], shuffled_row["epochs"]) == ("shuffled", "1"), shuffled_row
    expect(weights).to_contain_text("un-shuffled to image positions")
    shots.append(ARTIFACTS / f"explorer_{app}_3_shuffled.png"); page.locator(".explorer").screenshot(path=shots[-1])

    page.locator(".explorer-kind button", has_text="small CNN").click()
    expect(page.locator(".explorer-width-readout input")).to_have_value("16")  # the CNN's width stops, from the kernel
    expect(page.locator(".explorer-lr-readout input")).to_have_value("1e-3")   # the CNN's own default, from chapter 6's pilot
    expect(page.locator(".explorer-lr-default")).to_contain_text("chapter 6's pilot")
    page.locator(".explorer-shuffle input").uncheck()
    cnn_text, cnn_row = _train_and_read(page, 4, "small CNN, width 16")
    assert (cnn_row["pixels"], cnn_row["lr"]) == ("in order", "1e-3"), cnn_row
    expect(weights).to_contain_text("first convolution")
    assert not _broken_images(page), _broken_images(page)
    shots.append(ARTIFACTS / f"explorer_{app}_4_cnn.png"); page.locator(".explorer").screenshot(path=shots[-1])
    return {"shuffled": shuffled_text, "cnn": cnn_text}


def _train_and_read(page, index: int, model: str) -> tuple[str, dict]:
    "Press Train and wait until run `index` (of `model`) has finished; (its result line, its row of the runs table)."
    from playwright.sync_api import expect
    page.locator("button.explorer-train").click()
    result = page.locator(".explorer-result")
    expect(result).to_contain_text(re.compile(rf"#{index} {re.escape(model)} \(finished\): test accuracy"), timeout=180_000)
    row = _row(page.locator(".explorer-runs tr.explorer-run"), index)
    assert row["model"] == model, row
    return result.inner_text(), row


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
                t_page = time.monotonic()
                page.goto(url, timeout=180_000)
                if app == "lab": _run_all_in_lab(page)
                page.locator(".explorer").wait_for(timeout=180_000)
                seen = {"page_s": time.monotonic() - t_page}
                seen |= _drive(page, app, shots)
                page.screenshot(path=ARTIFACTS / f"explorer_{app}_page.png", full_page=True)
                shots.append(ARTIFACTS / f"explorer_{app}_page.png")
                if app == "voila":
                    seen["height"] = page.evaluate("document.documentElement.scrollHeight")
                    text = page.inner_text("body")
                    assert seen["height"] <= MAX_PAGE_HEIGHT, f"the app's page is {seen['height']} px tall"
                    assert not [s for s in LIBRARY_ONLY if s in text], [s for s in LIBRARY_ONLY if s in text]
                    assert _kernels(proc.pid), "no kernel while the page is open?"
                    page.close()
                    seen["kernels_after_close"] = _wait_for_no_kernels(proc.pid)
                    assert "Culling kernels with idle durations" in log.read_text(), "Voilà did not read voila.json's culling settings"
            finally:
                browser.close()
    finally:
        proc.terminate()
        try: proc.wait(timeout=20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
    # a blocked request's load failure is our doing, not the page's (Voilà asks a CDN for an icon font)
    errors = [e for e in errors if not (e.startswith("console.error: Failed to load resource")
                                        and any(b in e for b in blocked))]
    print(f"\n{app}: {time.monotonic() - t0:.1f} s; page ready in {seen['page_s']:.1f} s; height {seen.get('height')} px; "
          f"kernels {seen.get('kernels_after_close')} after closing the page; first run: {seen['accuracy']}% test accuracy; "
          f"while training: {seen['live_status']!r}; shuffled: {seen['shuffled']!r}; CNN: {seen['cnn']!r}; blocked: {blocked}; screenshots: {[str(s) for s in shots]}")
    assert not errors, "JavaScript errors in the page:\n" + "\n".join(errors)


def _run_all_in_lab(page) -> None:
    "Wait for the kernel, then Run > Run All Cells (guide, pitfalls 2 and 3)."
    from playwright.sync_api import expect
    expect(page.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=120_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()


def _kernels(server_pid: int) -> list[int]:
    "The kernel processes the server started (its children running ipykernel), from /proc."
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == server_pid and b"ipykernel" in (stat.parent / "cmdline").read_bytes(): found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError): continue  # a process that ended meanwhile
    return found


def _wait_for_no_kernels(server_pid: int, timeout: float = 60) -> int:
    "Wait until the server has no kernel left after its page closed; the number left (0), or fail."
    deadline = time.monotonic() + timeout
    while _kernels(server_pid) and time.monotonic() < deadline: time.sleep(0.5)
    left = _kernels(server_pid)
    assert not left, f"{len(left)} kernel(s) still running {timeout} s after the page closed: {left}"
    return 0
