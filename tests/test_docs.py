"""The documentation's checks, without building the site (``make docs`` takes minutes).

``docs/hooks.py`` checks the built site during ``mkdocs build --strict``: the executed
tutorials' outputs, the Markdown lists, every local link and anchor, requests to other hosts,
files written into the working directory. These tests run its checkers on small inputs
(notebook pages rendered by mkdocs-jupyter's own converter, a synthetic site), build a
one-page site with the hooks to see a problem fail ``--strict``, and check what needs no
build at all: every public name of kcnn has an entry in ``docs/reference.md``,
and the docstrings those entries render hold no Markdown that python-markdown would eat.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
REFERENCE = DOCS / "reference.md"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """conftest.py's fixture of that name resets Keras before each test (most of a second on
    some backends); these tests do not use Keras."""
    yield


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("kcnn_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the executed tutorials' outputs --------------------------------------------------------


@pytest.fixture(scope="module")
def notebook_page(tmp_path_factory):
    """A notebook page as mkdocs-jupyter renders it, with one output of each kind."""
    nbformat = pytest.importorskip("nbformat")
    convert = pytest.importorskip("mkdocs_jupyter.convert")
    v4 = nbformat.v4
    temp = Path(tempfile.gettempdir())
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5"
        "ErkJggg=="
    )
    cells = {
        "clean": v4.new_output(
            "stream", name="stdout", text="Keras 3 on jax\n/usr/share/datasets/fashion-mnist\n"
        ),
        "image": v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        "stderr": v4.new_output("stream", name="stderr", text="UserWarning: something\n"),
        "error": v4.new_output(
            "error", ename="ValueError", evalue="bad", traceback=["\x1b[31mValueError\x1b[0m: bad"]
        ),
        "traceback": v4.new_output(
            "stream", name="stdout", text="Traceback (most recent call last):\n  File 'x.py'\n"
        ),
        "absl": v4.new_output(
            "stream",
            name="stdout",
            text="I0000 00:00:1795942339.462760   31656 cpu_feature_guard.cc:227] This "
            "TensorFlow binary is optimized\nI0000 00:00:1795942339.4 1 other.cc:1] again\n",
        ),
        "temp": v4.new_output(
            "stream",
            name="stdout",
            text=f"figures written to {temp / 'tmpab12cd'}\nrun: /tmp/kcnn-tutorial-x/runs/a,\n",
        ),
        # a Figure displayed without matplotlib's inline backend: its text form, no image
        "figure": v4.new_output(
            "display_data", data={"text/plain": "<Figure size 920x720 with 4 Axes>"}
        ),
    }
    notebook = v4.new_notebook()
    notebook.cells = [v4.new_markdown_cell("# A page\n\nIt writes into `/tmp/` and stderr.")]
    notebook.cells += [v4.new_code_cell(f"# {name}", outputs=[out]) for name, out in cells.items()]
    notebook.cells += [v4.new_code_cell("x = 1")]  # no output
    path = tmp_path_factory.mktemp("notebook") / "page.ipynb"
    nbformat.write(notebook, path)
    # custom_mathjax_url="": mkdocs-jupyter's setting when mkdocs.yml names none (the
    # function's own default is a CDN).
    return convert.nb2html(str(path), execute=False, custom_mathjax_url="")


def test_notebook_outputs_are_read_from_the_plugins_markup(hooks, notebook_page):
    mimes = [mime for mime, _ in hooks.notebook_outputs(notebook_page)]
    assert len(mimes) == 8
    assert mimes.count(hooks.STDERR_MIME) == 2  # the stderr stream and the error


def test_notebook_output_problems(hooks, notebook_page):
    problems = hooks.notebook_output_problems(notebook_page)
    text = "\n".join(problems)
    assert sum(p.startswith("stderr output or error") for p in problems) == 2
    assert "UserWarning: something" in text and "ValueError" in text
    assert sum(p.startswith("a traceback") for p in problems) == 1
    assert sum(p.startswith("a TensorFlow log line") for p in problems) == 1
    assert "cpu_feature_guard" in text
    temp = [p for p in problems if p.startswith("a temporary path")]
    assert len(temp) == 2, temp
    assert "'/tmp/kcnn-tutorial-x/runs/a'" in text  # without the comma that followed it
    figures = [p for p in problems if p.startswith("a figure shown as text")]
    assert figures and "<Figure size 920x720 with 4 Axes>" in figures[0]
    assert len(problems) == 7, problems  # the drawn image (text "<Figure>") is no problem
    assert "/usr/share/datasets" not in text  # a machine path, but not a temporary one
    assert "It writes into" not in text  # Markdown cells are not outputs


@pytest.mark.parametrize(
    "line",
    [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "E0000 00:00:1795942339.462760   31656 cuda_dnn.cc:8310] Unable to register cuDNN",
        "oneDNN custom operations are on. You may see slightly different numerical results",
        "WARNING:absl:Compiled the loaded model, but the compiled metrics have yet to be built.",
    ],
)
def test_tensorflow_log_lines_are_recognised(hooks, line):
    html = (
        '<div class="jp-RenderedText jp-OutputArea-output" data-mime-type="text/plain">'
        f"<pre>epoch 1\n{line}\n</pre></div>"
    )
    assert [p for p in hooks.notebook_output_problems(html) if "TensorFlow" in p]


def test_pages_without_outputs_have_no_problems(hooks):
    css = '<style>[data-mime-type="application/vnd.jupyter.stderr"] { color: red }</style>'
    markdown_page = f"{css}<h1>Install</h1><p>Traceback (most recent call last) in /tmp/x</p>"
    assert hooks.notebook_output_problems(markdown_page) == []


def test_the_mermaid_loader_goes_unless_the_page_has_a_diagram(hooks, notebook_page):
    assert hooks._JS_IMPORT.search(notebook_page)  # nbconvert's loader, from a CDN
    stripped = hooks.strip_unused_mermaid_loader(notebook_page)
    assert not hooks._JS_IMPORT.search(stripped)
    assert len(notebook_page) - len(stripped) < 20_000  # the one script, nothing more
    diagram = notebook_page + '<div class="jp-Mermaid"><pre class="mermaid">graph</pre></div>'
    assert hooks.strip_unused_mermaid_loader(diagram) == diagram


def test_quiet_tensorflow(hooks):
    for before, after in [(None, "3"), ("", "3"), ("0", "3"), ("2", "3"), ("3", "3"), ("4", "4")]:
        environ = {} if before is None else {"TF_CPP_MIN_LOG_LEVEL": before}
        hooks.quiet_tensorflow(environ)
        assert environ == {"TF_CPP_MIN_LOG_LEVEL": after}


def test_written_entries(hooks, tmp_path):
    (tmp_path / "kept.txt").write_text("a")
    (tmp_path / "changed.txt").write_text("a")
    (tmp_path / "folder").mkdir()
    before = hooks.snapshot(tmp_path)
    (tmp_path / "new.keras").write_text("model")
    os.utime(tmp_path / "changed.txt", ns=(1, 1))
    (tmp_path / "folder" / "inside.txt").write_text("a")  # an existing folder's content
    (tmp_path / "runs").mkdir()
    (tmp_path / "site").mkdir()
    after = hooks.snapshot(tmp_path)
    assert hooks.written_entries(before, after, ignore={"site"}) == [
        "changed.txt",
        "new.keras",
        "runs/",
    ]


# --- Markdown pages -------------------------------------------------------------------------


def test_list_indent_problems(hooks):
    markdown = "\n".join(
        [
            "- item",
            "  continued lazily (fine)",
            "  1. nested by 2: flattened",
            "    2. nested by 4: fine",
            "",
            "  a second paragraph by 2: out of the list",
            "",
            "    a second paragraph by 4: fine",
            "",
            "```text",
            "  - in a code block: fine",
            "",
            "  indented text in a code block: fine",
            "```",
            "      - nested by 6",
        ]
    )
    problems = hooks.list_indent_problems(markdown)
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 6", "line 15"]


def test_markdown_pages_have_no_flattened_lists(hooks):
    for page in sorted(DOCS.rglob("*.md")):
        assert hooks.list_indent_problems(page.read_text(encoding="utf-8")) == [], page.name


def test_install_page_nests_the_data_folders_list():
    markdown = pytest.importorskip("markdown")
    text = (DOCS / "install.md").read_text(encoding="utf-8").split("## Data without internet")[1]
    html = markdown.markdown(text)
    assert re.search(r"<li>\s*<p><strong>MNIST.*?</p>\s*<ol>\s*<li>", html, re.S)
    assert re.search(r"</ol>\s*<p>MNIST may be", html)


# --- the built site -------------------------------------------------------------------------


def _page(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def test_site_problems(hooks, tmp_path):
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "assets" / "main.css").write_text("body {}")
    (site / "guide").mkdir()
    (site / "guide" / "index.html").write_text(
        _page(
            '<h2 id="feeding-modelfit">Feeding</h2><a href="#feeding">toc</a>'
            '<a href="../">home</a><a href="../#top">home, top</a><a href="#">top</a>'
            '<a href="/assets/main.css">root-relative</a><a href="../missing/">gone</a>'
            '<a href="../../outside.html">outside</a><a href="https://example.org/">other site</a>'
            '<a href="mailto:someone@example.org">mail</a><script src=""></script>',
            head='<link rel="stylesheet" href="../assets/main.css">',
        )
    )
    (site / "index.html").write_text(
        _page(
            '<a id="top"></a><a href="guide/#feeding-modelfit">ok</a>'
            '<a href="guide/index.html#nope">bad anchor</a><img src="assets/logo.png">'
            '<div style="background: url(https://cdn.example.org/bg.png)"></div>'
            "<style>@import url('https://fonts.googleapis.com/css?family=Roboto');</style>"
            '<script>const m = await import("https://cdn.example.org/mermaid.mjs");</script>'
            '<a href="https://squidfunk.github.io/mkdocs-material/">Material</a>',
            head='<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
            '<link rel="preconnect" href="//fonts.gstatic.com">'
            '<link rel="canonical" href="https://example.org/">'
            '<script src="https://unpkg.com/x.js"></script>',
        )
    )
    (site / "data.json").write_text("{}")
    problems = hooks.site_problems(site)
    assert sorted(problems) == sorted(
        [
            "guide/index.html: #feeding: no element with id 'feeding' in guide/index.html",
            "guide/index.html: ../missing/ points to a missing file (missing)",
            "guide/index.html: ../../outside.html points outside the site",
            "index.html: guide/index.html#nope: no element with id 'nope' in guide/index.html",
            "index.html: assets/logo.png points to a missing file (assets/logo.png)",
            "index.html: loads https://cdn.example.org/bg.png from another host",
            "index.html: loads https://fonts.googleapis.com/css?family=Roboto from another host",
            "index.html: loads https://fonts.googleapis.com/css?family=Roboto from another host",
            "index.html: loads //fonts.gstatic.com from another host",
            "index.html: loads https://unpkg.com/x.js from another host",
            "index.html: loads https://cdn.example.org/mermaid.mjs from another host",
        ]
    ), problems


def test_a_notebook_page_loads_nothing_from_another_host(hooks, notebook_page, tmp_path):
    (tmp_path / "index.html").write_text(_page(hooks.strip_unused_mermaid_loader(notebook_page)))
    assert hooks.site_problems(tmp_path) == []


def test_the_hooks_file_is_not_published():
    yaml = pytest.importorskip("yaml")
    gitignore = pytest.importorskip("pathspec.gitignore")
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    assert "docs/hooks.py" in config["hooks"]
    excluded = gitignore.GitIgnoreSpec.from_lines(config.get("exclude_docs", "").splitlines())
    assert excluded.match_file("hooks.py")
    assert not excluded.match_file("tutorials/01_lenet_and_simple_cnn.py")
    assert not excluded.match_file("index.md")


def test_the_hooks_fail_a_strict_build(tmp_path):
    pytest.importorskip("mkdocs")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(
        '# A page\n\n- an item\n  1. flattened\n\n<a href="#nope">a link</a>\n'
    )
    (tmp_path / "mkdocs.yml").write_text(
        f"site_name: t\nhooks:\n  - {(DOCS / 'hooks.py').as_posix()}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )
    assert done.returncode != 0, done.stderr
    assert "index.md: line 4: a list item indented by 2 spaces" in done.stderr
    assert "site: index.html: #nope: no element with id 'nope'" in done.stderr
    assert "in strict mode" in done.stdout + done.stderr


# --- the API reference ----------------------------------------------------------------------

#: The packages whose ``__all__`` is kcnn's API. ``kcnn.cli`` is the command line, documented
#: by ``kcnn --help``.
API_PACKAGES = ("kcnn", "kcnn.bench")


def _module_file(dotted: str) -> Path | None:
    base = REPO.joinpath(*dotted.split("."))
    for file in (base.with_suffix(".py"), base / "__init__.py"):
        if file.is_file():
            return file
    return None


@functools.cache
def _parse(file: Path) -> ast.Module:
    return ast.parse(file.read_text(encoding="utf-8"))


def _exports(package: str) -> tuple[list[str], dict[str, str]]:
    """A package's ``__all__`` and ``_EXPORTS`` (its lazy names), read without importing it:
    importing every part of kcnn takes seconds and TensorFlow."""
    file = _module_file(package)
    namespace: dict = {}
    for node in _parse(file).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id in ("__all__", "_EXPORTS") for t in targets):
            code = compile(ast.Module(body=[node], type_ignores=[]), str(file), "exec")
            exec(code, {"__builtins__": {"sorted": sorted}}, namespace)
    return namespace["__all__"], namespace.get("_EXPORTS", {})


def _api_packages() -> list[str]:
    _, exports = _exports("kcnn")
    subpackages = [target for target in exports.values() if ":" not in target]
    return sorted({*API_PACKAGES, *subpackages})


def _reference_targets() -> list[str]:
    text = REFERENCE.read_text(encoding="utf-8")
    return re.findall(r"^::: *([\w.]+)", text, re.M)


def test_every_public_name_has_a_reference_entry():
    documented = {target.rsplit(".", 1)[-1] for target in _reference_targets()}
    packages = _api_packages()
    assert {"kcnn.data", "kcnn.models", "kcnn.train", "kcnn.inspect"} <= set(packages)
    missing = []
    for package in packages:
        names, exports = _exports(package)
        for name in names:
            module = ":" not in exports.get(name, ":")  # a lazily exported subpackage
            constant = name.isupper() or (name.startswith("__") and name.endswith("__"))
            if not (module or constant or name in documented):
                missing.append(f"{package}.{name}")
    assert not missing, f"not in docs/reference.md: {missing}"


def _definition(file: Path, path: list[str], seen=()):
    """The ast node that ``path`` (names inside the module ``file``) designates, following
    ``from x import y`` and lazy ``_EXPORTS``."""
    if (file, tuple(path)) in seen:
        return None
    seen = (*seen, (file, tuple(path)))
    tree = _parse(file)
    node = tree
    for depth, name in enumerate(path):
        found = next(
            (
                child
                for child in getattr(node, "body", [])
                if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and child.name == name
            ),
            None,
        )
        if found is None and depth == 0:
            for child in tree.body:
                if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                    for alias in child.names:
                        if (alias.asname or alias.name) == name:
                            target = _module_file(child.module)
                            if target is not None:
                                return _definition(target, [alias.name, *path[1:]], seen)
            _, exports = _exports(".".join(file.relative_to(REPO).with_suffix("").parts[:-1]))
            if file.name == "__init__.py" and ":" in exports.get(name, ""):
                module, attribute = exports[name].split(":")
                return _definition(_module_file(module), [attribute, *path[1:]], seen)
        if found is None:
            return None
        node = found
    return node


def _rendered_docstrings(target: str) -> list[tuple[str, str]]:
    """``(where, docstring)`` for what a ``::: target`` entry renders: the object's docstring
    and its public methods' (a module: its docstring and its public definitions')."""
    parts = target.split(".")
    for split in range(len(parts), 0, -1):
        file = _module_file(".".join(parts[:split]))
        if file is not None:
            break
    rest = parts[split:]
    node = _definition(file, rest) if rest else _parse(file)
    assert node is not None, f"{target} (docs/reference.md) is not defined where it says"
    found = [(target, ast.get_docstring(node, clean=True) or "")]
    for child in getattr(node, "body", []):
        if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if not (child.name.startswith("_") and not child.name.startswith("__")):
                found.append((f"{target}.{child.name}", ast.get_docstring(child) or ""))
    return found


#: Markup outside code spans that python-markdown eats: ``3*3*64`` (emphasis), ``<backend>``
#: (an HTML tag) and ``__init__`` (bold).
EATEN = re.compile(r"\w\*+\w|<[A-Za-z/][^>\n]*>|(?<!\w)__\w+__(?!\w)")


def _outside_code(text: str) -> str:
    text = re.sub(r"^ *(```|~~~).*?^ *\1", "", text, flags=re.S | re.M)
    text = re.sub(r"(`+)(?:(?!\1).)+?\1", "", text, flags=re.S)
    return text


def test_reference_docstrings_keep_their_markup():
    eaten = []
    for target in _reference_targets():
        for where, docstring in _rendered_docstrings(target):
            for match in EATEN.finditer(_outside_code(docstring)):
                eaten.append(f"{where}: {match.group()!r} (write it in backticks)")
    assert not eaten, eaten


def test_the_eaten_markup_check_catches_what_it_should():
    assert EATEN.findall(_outside_code('has 3*3*3*64 + 64 = 1,792, "keras (<backend>)"')) == [
        "3*3",
        "3*6",
        "<backend>",
    ]
    assert not EATEN.findall(_outside_code('has ``3*3*3*64 + 64``, ``"keras (<backend>)"``'))
    assert not EATEN.findall(_outside_code("**kwargs: passed on; a **bold** word; `__init__`"))


# --- downloads ------------------------------------------------------------------------------


def test_every_tutorial_downloads_as_a_notebook_with_its_cells(hooks, tmp_path):
    import nbformat

    scripts = sorted((DOCS / "tutorials").glob("*.py"))
    assert scripts
    for script in scripts:
        path = hooks.write_notebook(script, tmp_path / script.stem)
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        markers = sum(1 for line in script.read_text().splitlines() if line == "# %%")
        assert len(code) == markers, script.name
        assert all(not c.get("outputs") for c in code)  # a clean notebook to run
        links = hooks.download_links(script.stem)
        assert f'href="{script.stem}.ipynb"' in links and f'href="{script.stem}.py"' in links
