"""mkdocs hooks: fill the Models page with a table generated from kcnn's registry, and the
Performance page with the newest measurements in ``benchmarks/results/``; keep TensorFlow's
start-up lines out of the executed tutorials; and check what a reader would otherwise find
broken in the built site:

- the executed tutorials' outputs: no traceback or stderr stream, no TensorFlow/absl/oneDNN
  log line, no temporary path of the build machine (`notebook_output_problems`);
- the Markdown pages: no nested list or list paragraph indented less than the 4 spaces
  python-markdown needs, which flattens it (`list_indent_problems`);
- the built site: every local link, image and script resolves, every ``#anchor`` names an
  element of its page, and no page loads anything from another host (`site_problems`);
- the working directory (where the notebook kernels run): no file written there during the
  build, such as a model a tutorial saves (`written_entries`).

Every tutorial page also offers itself for download, as a notebook (``.ipynb``, written by
`write_notebook`) and as the script it is written in (``.py``).

Each problem is a warning, so the ``--strict`` build fails on it. The checkers are plain
functions, unit-tested in ``tests/test_docs.py``.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

PLACEHOLDER = "<!-- models-table -->"
RESULTS_PLACEHOLDER = "<!-- performance-results -->"
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

log = logging.getLogger("mkdocs.hooks.kcnn")


def quiet_tensorflow(environ=os.environ) -> None:
    """Set ``TF_CPP_MIN_LOG_LEVEL=3`` unless it is already 3 or more.

    mkdocs-jupyter runs each tutorial in a kernel that inherits this process's environment;
    a tutorial on JAX or PyTorch still imports TensorFlow where ``tf.data`` or Keras' data
    adapters are used, and TensorFlow's C++ logging (absl's "All log messages before
    absl::InitializeLog() ...", ``cpu_feature_guard``, oneDNN) would land in the page as a
    stderr block. Level 3 keeps even its errors out (what kcnn's CLI sets); the Makefile's 2
    is raised.
    """
    level = environ.get("TF_CPP_MIN_LOG_LEVEL", "")
    if not (level.isdigit() and int(level) >= 3):
        environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def _models_table() -> str:
    import keras

    import kcnn
    from kcnn.inspect import count_params
    from kcnn.models.registry import get_model_builder

    rows = [
        "| name | trainable parameters | default input | description |",
        "|---|---:|---|---|",
    ]
    for name in kcnn.list_models():
        builder = get_model_builder(name)
        model = builder(**getattr(builder, "listing_kwargs", {}))
        shape = "x".join(str(d) for d in model.input_shape[1:])
        description = (builder.__doc__ or "").strip().splitlines()[0]
        rows.append(
            f"| `{name}` | {count_params(model)['trainable']:,} | {shape} | {description} |"
        )
        del model
        keras.backend.clear_session()
    return "\n".join(rows)


def _report():
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    import report

    return report


# --- checkers -------------------------------------------------------------------------------

STDERR_MIME = "application/vnd.jupyter.stderr"

#: What TensorFlow's C++ side (absl logging, oneDNN) prints, in an output of any stream.
TF_LOG_PATTERNS = (
    re.compile(r"absl::InitializeLog"),
    re.compile(r"cpu_feature_guard"),
    re.compile(r"oneDNN custom operations"),
    re.compile(r"TF_ENABLE_ONEDNN_OPTS"),
    re.compile(r"^WARNING:absl:", re.M),
    # glog/absl line prefix: "I0000 00:00:1795942339.462760   31656 some_file.cc:227] ..."
    re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\]", re.M),
)

TRACEBACK = "Traceback (most recent call last)"


def _temp_dirs() -> list[str]:
    dirs = {"/tmp", "/var/tmp", "/var/folders", "/private/var/folders", tempfile.gettempdir()}
    return sorted({d.rstrip("/\\") for d in dirs if d}, key=len, reverse=True)


def _temp_path_pattern() -> re.Pattern:
    roots = "|".join(re.escape(d) for d in _temp_dirs())
    return re.compile(rf"(?<![\w.~-])(?:{roots})[/\\][^\s'\"<>)\]]*")


def _first_line(text: str, limit: int = 120) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


class _OutputCollector(HTMLParser):
    """The outputs of an nbconvert (lab template) page: ``(mime type, text)`` of every
    ``div.jp-OutputArea-output``, the element both streams and errors are rendered into."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.outputs: list[tuple[str, str]] = []
        self._depth = 0  # div nesting inside the current output; 0: not in an output
        self._mime = ""
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag != "div":
            return
        if self._depth:
            self._depth += 1
            return
        attributes = dict(attrs)
        if "jp-OutputArea-output" in (attributes.get("class") or "").split():
            self._depth = 1
            self._mime = attributes.get("data-mime-type") or ""
            self._text = []

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1
            if not self._depth:
                self.outputs.append((self._mime, "".join(self._text)))

    def handle_data(self, data):
        if self._depth:
            self._text.append(data)


def notebook_outputs(html: str) -> list[tuple[str, str]]:
    """``(mime type, text)`` of every output cell area in a page rendered by mkdocs-jupyter."""
    collector = _OutputCollector()
    collector.feed(html)
    collector.close()
    return collector.outputs


#: matplotlib's text form of a Figure, what a page shows where its figure was not drawn.
FIGURE_AS_TEXT = re.compile(r"<Figure size \d+x\d+ with \d+ Axes>")


def notebook_output_problems(html: str) -> list[str]:
    """What an executed notebook page must not show: a stderr stream or an error (both
    rendered as ``application/vnd.jupyter.stderr``), a traceback, a TensorFlow/absl/oneDNN log
    line, a temporary path of the machine that built it, or a figure shown as its text
    (``<Figure size 640x480 with 1 Axes>``) instead of drawn. Empty for a page without
    outputs (a Markdown page, or a notebook that was not executed)."""
    problems = []
    temp_path = _temp_path_pattern()
    for mime, text in notebook_outputs(html):
        figure = FIGURE_AS_TEXT.search(text)
        if figure:
            problems.append(
                f"a figure shown as text, not drawn: {figure.group(0)!r} (matplotlib's inline "
                "backend draws a Figure once pyplot is imported or `%matplotlib inline` ran)"
            )
        if mime == STDERR_MIME:
            problems.append(f"stderr output or error: {_first_line(text)!r}")
        elif TRACEBACK in text:
            problems.append(f"a traceback in the output: {_first_line(text)!r}")
        for pattern in TF_LOG_PATTERNS:
            match = pattern.search(text)
            if match:
                line = text[text.rfind("\n", 0, match.start()) + 1 :]
                problems.append(f"a TensorFlow log line in the output: {_first_line(line)!r}")
                break
        for path in sorted({path.rstrip(".,:;") for path in temp_path.findall(text)}):
            problems.append(f"a temporary path of the build machine in the output: {path!r}")
    return problems


_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST_MARKER = re.compile(r"^( +)(?:[-*+]|\d+[.)])\s")
_SHALLOW = re.compile(r"^ {1,3}\S")


def list_indent_problems(markdown: str) -> list[str]:
    """Lines that python-markdown (unlike CommonMark) does not nest: a list item indented by
    a number of spaces that is not a multiple of 4, and a line indented by 1 to 3 spaces
    after a blank line (a list item's second paragraph, which needs 4). Fenced code is
    skipped."""
    problems = []
    fence = None
    previous_blank = False
    for number, line in enumerate(markdown.splitlines(), 1):
        opening = _FENCE.match(line)
        if fence:
            if opening and opening.group(1) == fence:
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        marker = _LIST_MARKER.match(line)
        if marker and len(marker.group(1)) % 4:
            problems.append(
                f"line {number}: a list item indented by {len(marker.group(1))} spaces, "
                f"not a multiple of 4 (python-markdown flattens it): {line.strip()!r}"
            )
        elif previous_blank and _SHALLOW.match(line):
            problems.append(
                f"line {number}: indented by 1 to 3 spaces after a blank line (python-markdown "
                f"needs 4 to keep it in the list item): {line.strip()!r}"
            )
        previous_blank = not line.strip()
    return problems


#: <link rel=...> values that make the browser fetch the URL.
_FETCHING_RELS = {
    "stylesheet",
    "icon",
    "shortcut",
    "apple-touch-icon",
    "preconnect",
    "dns-prefetch",
    "preload",
    "prefetch",
    "modulepreload",
    "manifest",
}
#: Attributes whose URL a page loads by itself (not a link the reader follows).
_RESOURCE_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src",),
    "iframe": ("src",),
    "embed": ("src",),
    "source": ("src",),
    "audio": ("src",),
    "video": ("src", "poster"),
    "track": ("src",),
    "input": ("src",),
    "object": ("data",),
}
_CSS_URL = re.compile(r"""(?:url\(\s*|@import\s+)["']?((?:https?:)?//[^"')\s]+)""", re.I)
_JS_IMPORT = re.compile(r"""\bimport\s*\(?\s*["']((?:https?:)?//[^"']+)["']""")


def _is_remote(url: str) -> bool:
    return url.startswith("//") or urlsplit(url).scheme in {"http", "https"}


def _is_local(url: str) -> bool:
    return not url.startswith("//") and not urlsplit(url).scheme


class _PageScanner(HTMLParser):
    """The ids of a page, the URLs it links to and the URLs it loads."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []  # <a href>, followed by the reader
        self.loads: list[str] = []  # fetched when the page opens
        self._in = None  # "style" or "script" while inside one
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        for key in ("id", "name") if tag == "a" else ("id",):
            if attributes.get(key):
                self.ids.add(attributes[key])
        if tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])
        elif tag == "link" and "href" in attributes:
            rels = set(attributes.get("rel", "").lower().split())
            (self.loads if rels & _FETCHING_RELS else self.links).append(attributes["href"])
        for attribute in _RESOURCE_ATTRIBUTES.get(tag, ()):
            if attributes.get(attribute):
                self.loads.append(attributes[attribute])
        if "style" in attributes:
            self.loads.extend(_CSS_URL.findall(attributes["style"]))
        if tag in ("style", "script"):
            self._in, self._text = tag, []

    def handle_endtag(self, tag):
        if tag == self._in:
            text = "".join(self._text)
            pattern = _CSS_URL if tag == "style" else _JS_IMPORT
            self.loads.extend(pattern.findall(text))
            self._in = None

    def handle_data(self, data):
        if self._in:
            self._text.append(data)


def _scan(path: Path) -> _PageScanner:
    scanner = _PageScanner()
    scanner.feed(path.read_text(encoding="utf-8", errors="replace"))
    scanner.close()
    return scanner


def site_problems(site_dir) -> list[str]:
    """Broken local links and anchors, and requests to another host, in a built site.

    Every ``href``/``src`` of every HTML page that has no scheme is resolved against the
    page (or the site's root, for ``/...``): the file must exist (a folder: its
    ``index.html``), and a ``#fragment`` on an HTML page must be the id of one of its
    elements. A page must load nothing (stylesheet, script, image, font, CSS ``@import``
    or ``url()``, a script's ``import()``) from an ``http(s)://`` or ``//`` URL; links to other
    sites are fine."""
    site = Path(site_dir)
    pages = {p.relative_to(site).as_posix(): p for p in sorted(site.rglob("*.html"))}
    scans: dict[str, _PageScanner] = {}

    def scan(name: str) -> _PageScanner:
        if name not in scans:
            scans[name] = _scan(pages[name])
        return scans[name]

    problems = []
    for name in pages:
        page = scan(name)
        for url in page.loads:
            if _is_remote(url):
                problems.append(f"{name}: loads {url} from another host")
        for url in page.links + page.loads:
            if not url or not _is_local(url):
                continue
            parts = urlsplit(url)
            path = unquote(parts.path)
            if path.startswith("/"):
                target = posixpath.normpath(path.lstrip("/") or ".")
            elif path:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), path))
            else:
                target = name
            if target == ".." or target.startswith("../"):
                problems.append(f"{name}: {url} points outside the site")
                continue
            path = site / target
            if path.is_dir():
                target = posixpath.normpath(posixpath.join(target, "index.html"))
                path = site / target
            if not path.is_file():
                problems.append(f"{name}: {url} points to a missing file ({target})")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target in pages and fragment not in scan(target).ids:
                problems.append(f"{name}: {url}: no element with id {fragment!r} in {target}")
    return problems


def snapshot(folder) -> dict[str, tuple[bool, int]]:
    """``{name: (is a folder, mtime in ns)}`` of the entries directly in ``folder``."""
    entries = {}
    for entry in os.scandir(folder):
        try:
            entries[entry.name] = (entry.is_dir(), entry.stat().st_mtime_ns)
        except OSError:
            continue
    return entries


def written_entries(before: dict, after: dict, ignore=()) -> list[str]:
    """Entries of a `snapshot` that are new in ``after``, or files whose modification time
    changed (a folder's changes when its content does, so only new folders count)."""
    written = []
    for name, (is_dir, mtime) in sorted(after.items()):
        if name in ignore:
            continue
        if name not in before or (not is_dir and before[name] != (is_dir, mtime)):
            written.append(name + "/" if is_dir else name)
    return written


# --- mkdocs events --------------------------------------------------------------------------


def on_config(config):
    # Before the build, so before mkdocs-jupyter starts any kernel (they inherit it).
    quiet_tensorflow()
    return config


_working_dir: dict = {}


def on_pre_build(config):
    _working_dir.clear()
    _working_dir["path"] = Path.cwd()
    _working_dir["before"] = snapshot(Path.cwd())


def on_files(files, config):
    """Publish the plots of the newest results under ``performance/``."""
    from mkdocs.structure.files import File

    images = set()
    for path in _report().latest(BENCHMARKS / "results").values():
        images.update(path.parent.glob(path.stem + "*.png"))
    for image in sorted(images):
        file = File(
            f"performance/{image.name}",
            src_dir=None,
            dest_dir=config["site_dir"],
            use_directory_urls=config["use_directory_urls"],
        )
        file.abs_src_path = str(image)
        files.append(file)
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri.endswith(".md"):
        for problem in list_indent_problems(markdown):
            log.warning("%s: %s", page.file.src_uri, problem)
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, _models_table())
    if RESULTS_PLACEHOLDER in markdown:
        return markdown.replace(
            RESULTS_PLACEHOLDER, _report().markdown(BENCHMARKS / "results", "performance/")
        )
    return markdown


_MERMAID_LOADER = re.compile(
    r"<script type=\"module\">(?:(?!</script>).)*?import\(\"[^\"]*mermaid[^\"]*\"\)"
    r"(?:(?!</script>).)*</script>",
    re.S,
)
_MERMAID_DIAGRAM = re.compile(r"class=\"[^\"]*\bjp-Mermaid\b")


def strip_unused_mermaid_loader(html: str) -> str:
    """nbconvert puts on every notebook page a script that imports Mermaid from a CDN when
    the page has a diagram; the tutorials have none, so the script goes (pages load
    nothing from another host)."""
    if _MERMAID_DIAGRAM.search(html):
        return html
    return _MERMAID_LOADER.sub("", html)


def download_links(stem: str) -> str:
    """The download line put at the top of a tutorial page (files beside the page)."""
    return (
        '<p class="kcnn-downloads">Download this tutorial: '
        f'<a href="{stem}.ipynb" download>notebook (.ipynb)</a> or '
        f'<a href="{stem}.py" download>script (.py)</a>.</p>\n'
    )


def write_notebook(script: Path, folder: Path) -> Path:
    """``folder/<script stem>.ipynb``: the jupytext script as a notebook (without outputs,
    as keras.io offers its examples), to open in Jupyter or Colab."""
    import jupytext

    notebook = jupytext.read(script)
    notebook.metadata.pop("jupytext", None)
    path = folder / f"{script.stem}.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    jupytext.write(notebook, path, fmt="ipynb")
    return path


def _is_tutorial(page) -> bool:
    return page.file.src_uri.startswith("tutorials/") and page.file.src_uri.endswith(".py")


def on_page_content(html, page, config, files):
    for problem in notebook_output_problems(html):
        log.warning("%s: %s", page.file.src_uri, problem)
    if _is_tutorial(page):
        html = download_links(Path(page.file.src_uri).stem) + html
    return strip_unused_mermaid_loader(html)


def on_post_build(config):
    site = Path(config["site_dir"])
    for script in sorted((Path(config["docs_dir"]) / "tutorials").glob("*.py")):
        page_folder = site / "tutorials" / script.stem
        if page_folder.is_dir():
            write_notebook(script, page_folder)
    for problem in site_problems(config["site_dir"]):
        log.warning("site: %s", problem)
    if _working_dir:
        folder = _working_dir["path"]
        site = Path(config["site_dir"]).resolve()
        ignore = {site.name} if site.parent == folder.resolve() else set()
        ignore.add(".cache")  # mkdocs-jupyter's cache of executed notebooks
        for name in written_entries(_working_dir["before"], snapshot(folder), ignore):
            log.warning(
                "%s was written into %s during the build (a tutorial must write into a "
                "temporary folder)",
                name,
                folder,
            )
