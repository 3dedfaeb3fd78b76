"""The static site (tools/build_site.py): every notebook gets its page, links between pages resolve, no page asks for
anything outside the site, and in a real browser (Debian's Chromium driven by Playwright) a page's figures load."""
import functools, http.server, importlib.util, json, os, re, shutil, threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
build_site = importlib.util.module_from_spec(spec); spec.loader.exec_module(build_site)
CHAPTER = ROOT / "nbs" / "chapters" / "01_from_scratch.ipynb"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "_site"
    build_site.build_site(out)
    return out


def _links(page: Path) -> list[str]:
    return re.findall(r'<a[^>]+href="([^"#]+)(?:#[^"]*)?"', page.read_text(encoding="utf-8"))


def test_every_notebook_has_a_page_and_links_resolve(site):
    notebooks = [p for ps in build_site.site_pages().values() for p in ps]
    assert ROOT / "nbs" / "index.ipynb" in notebooks and CHAPTER in notebooks and ROOT / "nbs" / "08_train.ipynb" in notebooks
    pages = {site / build_site.page_name(p) for p in notebooks} | {site / "contents.html"}
    assert {p for p in site.rglob("*.html")} == pages
    assert (site / "train.html").exists() and (site / "chapters" / "from_scratch.html").exists()  # nbdev's names
    dead = set()
    for page in pages:  # every local link and image: pages, files, images (an image is embedded or in the site)
        text = page.read_text(encoding="utf-8")
        targets = _links(page) + re.findall(r'<img[^>]+src="([^"]+)"', text)
        for href in targets:
            if re.match(r"[a-z]+:", href): continue  # http(s):, mailto:, data: (embedded images)
            if not (page.parent / href).resolve().exists(): dead.add(f"{page.relative_to(site)} -> {href}")
    assert not dead, sorted(dead)
    contents = (site / "contents.html").read_text()
    assert all(f'href="{build_site.page_name(p)}"' in contents for p in notebooks)


def test_pages_ask_for_nothing_outside_the_site(site):
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', text), page


def test_page_contents(site):
    chapter = (site / "chapters" / "from_scratch.html").read_text(encoding="utf-8")
    nb = json.loads(CHAPTER.read_text())
    answers = sum("".join(c["source"]).startswith("#| solution") for c in nb["cells"] if c["cell_type"] == "code")
    assert chapter.count('<details class="solution">') == answers >= 3  # each worked answer folded
    assert "#| solution" not in chapter and "#| export" not in (site / "models.html").read_text()
    models = (site / "models.html").read_text(encoding="utf-8")
    if importlib.util.find_spec("latex2mathml"): assert "<math" in models and "$m$" not in models


def _has_figures(notebook: Path) -> bool:
    nb = json.loads(notebook.read_text())
    return any("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.parametrize("page,notebook", [("chapters/from_scratch.html", CHAPTER), ("compute.html", ROOT / "nbs" / "04_compute.ipynb")])
def test_figures_load_in_a_browser(site, page, notebook):
    chromium = shutil.which("chromium")
    try: from playwright.sync_api import sync_playwright
    except ImportError: sync_playwright = None
    if not (chromium and sync_playwright):
        reason = "needs Debian's chromium (apt-get install chromium) and playwright (pip install playwright)"
        if os.environ.get("SCALING_MLPS_REQUIRE_BROWSER"): pytest.fail(reason)
        pytest.skip(reason)
    if not _has_figures(notebook):
        pytest.skip(f"{notebook.relative_to(ROOT)} is committed without figure outputs: run tools/refresh_outputs.py on it")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=site))
    server.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base, outside = f"http://127.0.0.1:{server.server_address[1]}/", []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"])
            tab = browser.new_page()
            tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith((base, "data:"))
                      else (outside.append(route.request.url), route.abort()))
            tab.goto(base + page, wait_until="load")
            images = tab.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            folded = tab.evaluate("Array.from(document.querySelectorAll('details.solution')).map(d => d.open)")
            tab.click("nav.site >> text=Contents"); tab.wait_for_load_state("load")
            title = tab.title()
            browser.close()
    finally:
        server.shutdown()
    assert images and all(done and width > 0 for done, width in images), images
    assert not any(folded), "worked answers should be folded"
    assert title == "Contents" and not outside, (title, outside)
