#!/usr/bin/env python
"""Build a static HTML site of the course from the committed notebooks (no Quarto, nothing executed).

    python tools/build_site.py --out _site      # then open _site/index.html, or: python -m http.server -d _site

Pages: the index, the chapters, the explorer (its committed outputs, no live widgets), the teacher's guide and the
library notebooks, each converted by nbconvert's HTML exporter with its figures embedded, and `contents.html`, the
navigation page. A page is named as nbdev names it (`nbs/08_train.ipynb` -> `train.html`,
`nbs/chapters/01_from_scratch.ipynb` -> `chapters/from_scratch.html`), so the notebooks' nbdev-style links
(`[train](train.html)`) work in the site; links to `.ipynb` files are rewritten to their pages. Like nbdev's docs,
the pages leave out `#| hide` cells, directive lines and the code of `#| echo: false` cells; the exercises' worked
answers are folded under "Show the worked answer" (`--solutions show` or `hide` to change that). Math becomes MathML (latex2mathml, when installed;
else it stays TeX). The pages make no request outside the site: nbconvert's CDN scripts (require.js, MathJax) are
left out.
"""
from __future__ import annotations
import argparse, base64, copy, html, mimetypes, re, shutil, sys, time
from pathlib import Path

from nbconvert import HTMLExporter
from nbconvert.filters.markdown import markdown2html
from nbconvert.preprocessors import TagRemovePreprocessor
import pygments
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from nbdev.config import nbpath2html
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
DIRECTIVE = re.compile(r"^\s*#\|\s*([\w-]+)")
SOLUTION = "solution"


def site_pages(nbs: Path = NBS) -> dict[str, list[Path]]:
    "{section: [notebooks]} of the site, in reading order."
    library = sorted(nbs.glob("[0-9]*.ipynb"))
    explorer = [p for p in library if p.stem.endswith("explorer")]
    app = [nbs / "app_explorer.ipynb"] if (nbs / "app_explorer.ipynb").exists() else []  # the explorer as students open it
    return {"Course": [nbs / "index.ipynb", *sorted((nbs / "chapters").glob("*.ipynb")), *app, *explorer,
                       *([nbs / "teachers_guide.ipynb"] if (nbs / "teachers_guide.ipynb").exists() else [])],
            "Library": [p for p in library if p not in explorer]}


def page_name(nb: Path, nbs: Path = NBS) -> str:
    "The page of notebook `nb`, relative to the site root, as nbdev names it."
    return nbpath2html(nb.relative_to(nbs)).as_posix()


def directives(source: str) -> set[str]:
    return {m[1] for line in source.splitlines() if (m := DIRECTIVE.match(line))}


def _math_to_mathml(text: str) -> str:
    "`$...$` and `$$...$$` outside code in markdown `text`, as MathML (left as TeX where latex2mathml is missing or fails)."
    try: from latex2mathml.converter import convert
    except ImportError: return text
    def one(m: re.Match) -> str:
        tex, block = (m[1], True) if m[1] is not None else (m[2], False)
        try: return convert(tex.strip(), display="block" if block else "inline")
        except Exception: return m[0]
    parts = re.split(r"(```.*?```|`[^`\n]*`)", text, flags=re.S)  # odd parts are code: left alone
    return "".join(p if i % 2 else re.sub(r"\$\$(.+?)\$\$|(?<![\\$\w])\$([^$\n]+?)\$(?!\w)", one, p, flags=re.S)
                   for i, p in enumerate(parts))


def _link_to_page(text: str) -> str:
    "Markdown links to notebooks (`(08_train.ipynb)`, `(../chapters/01_x.ipynb#a)`) point at their pages."
    def one(m: re.Match) -> str:
        folder, name, anchor = m[1] or "", m[2], m[3] or ""
        folder = folder.removeprefix("nbs/")  # the index links from the repository root, as README.md needs; the site's root is nbs/
        return f"]({folder}{nbpath2html(Path(name + '.ipynb')).name}{anchor})"
    return re.sub(r"\]\((?!https?:)([^()\s]*/)?([^/()\s]+)\.ipynb(#[^()\s]*)?\)", one, text)


def _embed_root_images(text: str, root: Path = ROOT) -> str:
    """Images of a notebook whose links start at the repository root (the index, as README.md needs), embedded as
    data URIs: the site has no results/, and nbconvert embeds only files under the notebook's own folder."""
    def one(m: re.Match) -> str:
        path = root / m[2]
        if not path.is_file(): return m[0]  # left as it is: tests/test_site.py reports it
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"{m[1]}data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()})"
    return re.sub(r"(!\[[^\]]*\]\()(?!https?:|data:|/)([^()\s]+)\)", one, text)


def prepare(nb: dict, solutions: str, from_root: bool = False) -> dict:
    "A copy of notebook `nb` as its page shows it (`from_root`: its links start at the repository root, as the index's do)."
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            cell["source"] = _math_to_mathml(_link_to_page(_embed_root_images(source) if from_root else source))
        elif cell["cell_type"] == "code":
            found = directives(source)
            if "hide" in found or (found and found <= {"default_exp"}): continue
            code = "\n".join(l for l in source.splitlines() if not DIRECTIVE.match(l)).strip("\n")
            if SOLUTION in found:
                if solutions == "hide": continue
                if solutions == "collapse":  # one line of HTML: markdown ends an HTML block at a blank line
                    highlighted = pygments.highlight(code, PythonLexer(), HtmlFormatter(cssclass="highlight hl-ipython3"))
                    cells.append(nbformat.v4.new_markdown_cell('<details class="solution"><summary>Show the worked answer</summary>'
                                                               + highlighted.strip().replace("\n", "&#10;") + "</details>"))
                    continue
            cell["source"] = code
            for out in cell.get("outputs", []):  # a live widget needs a kernel (and nbconvert would load its renderer from a CDN)
                data = out.get("data", {})
                if data.pop("application/vnd.jupyter.widget-view+json", None) is not None:
                    data["text/plain"] = "(an interactive widget: open the notebook in Jupyter to use it)"
            if re.search(r"^\s*#\|\s*echo:\s*false\s*$", source, re.M):  # Quarto's option, as nbdev's docs honour it: output only
                cell.setdefault("metadata", {}).setdefault("tags", []).append("hide-input")
        cells.append(cell)
    nb["cells"] = cells
    nb["metadata"].pop("widgets", None)  # the saved widget state: its presence makes nbconvert add a CDN widget renderer
    return nb


STYLE = """<style>
nav.site{position:sticky;top:0;z-index:10;background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:.5em 1em;font:14px sans-serif}
nav.site a{margin-right:1em;color:#0969da;text-decoration:none} nav.site a.here{font-weight:bold;color:#1f2328}
details.solution{border:1px solid #d0d7de;border-radius:6px;padding:.3em .8em;margin:.5em 0} details.solution summary{cursor:pointer;color:#0969da}
</style>"""


def nav(here: str, pages: dict[str, list[tuple[str, str]]]) -> str:
    "The navigation bar of page `here`: the course's pages and the contents page, with links relative to `here`."
    up = "../" * here.count("/")
    links = [(f"{up}contents.html", "Contents", here == "contents.html")]
    links += [(up + name, "Home" if name == "index.html" else title, name == here) for name, title in pages["Course"]]
    here_class = ' class="here"'
    return '<nav class="site">' + "".join(f'<a href="{href}"{here_class if cur else ""}>{html.escape(t)}</a>'
                                          for href, t, cur in links) + "</nav>"


def title_of(nb: dict, fallback: str) -> tuple[str, str]:
    "(title, summary) of a notebook: its first `# ` heading and `> ` line."
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    title = re.search(r"^# (.+)$", text, re.M)
    summary = re.search(r"^> (.+)$", text, re.M)
    return (title[1].strip() if title else fallback), (summary[1].strip() if summary else "")


def finish(body: str, title: str, navbar: str) -> str:
    "nbconvert's page without its CDN scripts, with our title, style and navigation bar."
    body = re.sub(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>', "", body)
    body = re.sub(r'<link[^>]*\bhref="https?://[^"]*"[^>]*>', "", body)
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", body, count=1, flags=re.S)
    body = body.replace("</head>", STYLE + "\n</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m[1] + navbar, body, count=1)


SITE_MARK = ".built-by-build_site"  # in every site folder: the only non-empty folders `build_site` empties without --force


def prepare_out(out: Path, force: bool = False) -> None:
    "Empty `out` for a new site: a folder this builder made, an empty or a missing one; any other only with `force`."
    if out.exists() and not out.is_dir(): raise FileExistsError(f"--out {out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not (out / SITE_MARK).exists() and not force:
        raise FileExistsError(f"--out {out} holds files this builder did not write; it would delete them: choose a new "
                              f"or empty folder, or pass --force to delete everything in it")
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / SITE_MARK).write_text("written by tools/build_site.py, which empties this folder on its next build\n")


def build_site(out: str | Path, nbs: Path = NBS, solutions: str = "collapse", force: bool = False) -> list[Path]:
    "Write the site into `out` (emptied first, see `prepare_out`); returns the pages written."
    out = Path(out)
    prepare_out(out, force)
    sections = site_pages(nbs)
    notebooks = {p: nbformat.read(p, as_version=4) for ps in sections.values() for p in ps}  # multi-line strings joined
    pages = {s: [(page_name(p, nbs), title_of(notebooks[p], p.stem)[0]) for p in ps] for s, ps in sections.items()}
    exporter = HTMLExporter(template_name="lab", exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"hide-input"}, enabled=True), enabled=True)
    written = []
    for path, nb in notebooks.items():
        name = page_name(path, nbs)
        body, _ = exporter.from_notebook_node(prepare(nb, solutions, from_root=path == nbs / "index.ipynb"),
                                              resources={"metadata": {"path": str(path.parent)}})
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(finish(body, title_of(nb, path.stem)[0], nav(name, pages)), encoding="utf-8")
        written.append(target)
    items = []
    for section, ps in sections.items():
        items.append(f"<h2>{section}</h2><ul>")
        for p in ps:
            title, summary = title_of(notebooks[p], p.stem)
            summary = re.sub(r"^<p>|</p>\s*$", "", markdown2html(summary).strip()) if summary else ""
            items.append(f'<li><a href="{page_name(p, nbs)}">{html.escape(title)}</a>'
                         f' <code>{p.relative_to(nbs).as_posix()}</code>{": " + summary if summary else ""}</li>')
        items.append("</ul>")
    contents = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Contents</title>{STYLE}'
                '<style>body{font:16px/1.5 sans-serif;margin:0} main{max-width:60em;margin:1em auto;padding:0 1em}</style></head>'
                f'<body>{nav("contents.html", pages)}<main><h1>Scaling MLPs: the course</h1>{"".join(items)}</main></body></html>')
    (out / "contents.html").write_text(contents, encoding="utf-8")
    return written + [out / "contents.html"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="_site", help="folder to write the site into, emptied first if an earlier build "
                        "made it (default: _site)")
    parser.add_argument("--force", action="store_true", help="also empty an --out folder that holds other files")
    parser.add_argument("--solutions", choices=("collapse", "show", "hide"), default="collapse",
                        help="the exercises' worked answers: folded (default), shown, or left out")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try: written = build_site(args.out, solutions=args.solutions, force=args.force)
    except FileExistsError as e: parser.error(str(e))
    print(f"{len(written)} pages in {args.out} ({sum(p.stat().st_size for p in written) / 1e6:.1f} MB, "
          f"{time.perf_counter() - start:.0f} s); open {Path(args.out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
