"""The documentation's commands still parse, and its links still lead somewhere.

Every `uva ...` command in a fenced block of README.md, docs/*.md and examples/*.md (blocks of
shell or of no language; not ```python or ```json) is collected:
a line of the block (after an optional `$ ` prompt) joined with the lines its trailing `\\`
continues, split the way a POSIX shell splits it (`shlex`, so quotes hold and `# comments` go),
and cut at the shell's control operators (`|`, `&&`, `;`, `>` ...), so that the `uva` part of
`pip install ... && uva saliency ...` or `uva roi ... | jq ...` is checked too.

How a command is checked: the subcommand is looked up in the real `uva` group and its options are
parsed by Click itself, `make_context(..., resilient_parsing=False)`, as `uva` would parse them,
only without running the command. An option that does not exist, an option given too few values
(`--reframe 9:16` without OUT), an extra argument, a missing required option, a value outside a
`Choice` or a number range, or one that an option's own parser refuses (`--write`'s kinds,
`--metrics`, `--size WxH`, `--shard I/N`) fails the test, so renaming or removing an option breaks
the build until the docs follow.

What is not checked is what depends on the machine the docs are read on: the parse runs on a
copy of the command whose parameters take any path (`click.Path(exists=True)` would refuse
`--data DATASET`, a placeholder, or `runs/final/.../best.pt`, made by an earlier step) and whose
other non-builtin types (a weights name or file) take any string; and an option's own parser is
skipped for a value holding a shell variable (`--shard "$SLURM_ARRAY_TASK_ID/16"`), which only the
shell can expand. Resilient parsing (`resilient_parsing=True`) is no way round that: Click then
drops unknown options and missing values silently, so it would pass anything.
"""

from __future__ import annotations

import copy
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from uva_cli.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "examples").glob("*.md"))]
OPERATORS = re.compile(r"^[|&;<>()]+$")


@dataclass(frozen=True)
class DocCommand:
    where: str  # file:line of the command's first line
    argv: tuple[str, ...]  # after "uva"


SHELL_BLOCKS = ("", "bash", "sh", "shell", "console", "zsh")


def fenced_lines(text: str):
    """(line number, line) of every line inside a ``` or ~~~ fence of shell (or no language)."""
    fence, shell = None, False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is None and stripped[:3] in ("```", "~~~"):
            fence, shell = stripped[:3], stripped[3:].strip().lower() in SHELL_BLOCKS
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif fence is not None and shell:
            yield number, line


def commands_in(text: str, name: str = "<text>") -> list[DocCommand]:
    """The `uva` commands of a Markdown text's fenced blocks, as argv lists."""
    found, pending, start = [], "", 0
    for number, line in fenced_lines(text):
        if not pending:
            start = number
            line = line.strip()
            line = line[2:] if line.startswith("$ ") else line
        pending += line.strip()
        if pending.endswith("\\"):  # continued on the next line
            pending = pending[:-1] + " "
            continue
        logical, pending = pending, ""
        lexer = shlex.shlex(logical, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # not shell (e.g. a diagram): no command here
            continue
        segment: list[str] = []
        for token in [*tokens, ";"]:
            if OPERATORS.match(token):
                if segment[:1] == ["uva"]:
                    found.append(DocCommand(f"{name}:{start}", tuple(segment[1:])))
                segment = []
            else:
                segment.append(token)
    return found


def documented_commands() -> list[DocCommand]:
    return [c for path in DOCS for c in commands_in(path.read_text(), str(path.relative_to(ROOT)))]


# ----------------------------------------------------------------------------- the checker

_PURE = (click.Choice, click.types.IntParamType, click.types.FloatParamType, click.types.BoolParamType,
         click.types.StringParamType)


def _offline_type(kind: click.ParamType) -> click.ParamType:
    """The parameter type with its look at the file system taken out."""
    if isinstance(kind, _PURE):
        return kind
    if isinstance(kind, click.Tuple):
        return click.Tuple([_offline_type(t) for t in kind.types])
    if isinstance(kind, click.Path):
        return click.Path()
    return click.STRING  # a registry name or weights file (WeightsRef), anything else of the project's


def _has_shell_variable(value) -> bool:
    if isinstance(value, (tuple, list)):
        return any(_has_shell_variable(v) for v in value)
    return isinstance(value, str) and "$" in value


def _offline_callback(callback):
    if callback is None:
        return None

    def run(ctx, param, value):
        return value if _has_shell_variable(value) else callback(ctx, param, value)
    return run


def _offline(command: click.Command) -> click.Command:
    shadow = copy.copy(command)
    shadow.params = []
    for param in command.params:
        clone = copy.copy(param)
        clone.type = _offline_type(param.type)
        clone.callback = _offline_callback(param.callback)
        shadow.params.append(clone)
    return shadow


def check_command(argv: list[str] | tuple[str, ...]) -> None:
    """Parse `uva ARGV` as Click would, without running it; raises click.UsageError (or
    click.BadParameter, a subclass) saying what is wrong."""
    argv = list(argv)
    root = click.Context(main, info_name="uva", **main.context_settings)
    group_options = {opt for p in main.params for opt in (*p.opts, *p.secondary_opts)}
    while argv and argv[0].startswith("-"):
        if argv[0] not in group_options:
            raise click.NoSuchOption(argv[0], ctx=root)
        argv.pop(0)
    if not argv:
        raise click.UsageError("no subcommand", ctx=root)
    command = main.get_command(root, argv[0])
    if command is None:
        raise click.UsageError(f"no such command {argv[0]!r}", ctx=root)
    with _offline(command).make_context(argv[0], argv[1:], parent=root, resilient_parsing=False):
        pass


# ----------------------------------------------------------------------------- tests

COMMANDS = documented_commands()


def test_the_docs_have_commands_where_expected():
    files = {c.where.rsplit(":", 1)[0] for c in COMMANDS}
    for name in ("README.md", "docs/usage.md", "docs/roi.md", "docs/models.md", "docs/evaluation.md",
                 "docs/training.md", "docs/speed.md"):
        assert name in files, f"no uva command found in {name}"
    subcommands = {c.argv[0] for c in COMMANDS if c.argv}
    assert {"saliency", "roi", "eval", "bench", "export", "train", "distill"} <= subcommands
    assert len(COMMANDS) >= 30
    # the README's quick start, after `pip install ... &&`
    assert ("saliency", "examples/bunny.mp4", "--overlay", "bunny.overlay.mp4", "--maps", "bunny_maps/") in \
        [c.argv for c in COMMANDS if c.where.startswith("README.md")]


@pytest.mark.parametrize("doc", COMMANDS, ids=[c.where for c in COMMANDS])
def test_documented_command_parses(doc):
    try:
        check_command(doc.argv)
    except click.UsageError as exc:
        pytest.fail(f"{doc.where}: uva {shlex.join(doc.argv)}\n  {exc.format_message()}")


@pytest.mark.parametrize("line, message", [
    ("uva saliency x.mp4 --no-such-option", "No such option"),
    ("uva saliency x.mp4 --overlay", "requires an argument"),
    ("uva roi x.mp4 --reframe 9:16", "requires 2 arguments"),
    ("uva saliency x.mp4 --backend tensorrt", "'tensorrt' is not one of"),
    ("uva saliency x.mp4 --batch-size 0", "0 is not in the range"),
    ("uva saliency x.mp4 --out-dir r/ --write overlay,gif", "got 'overlay,gif'"),
    ("uva roi x.mp4 --size big", "big"),
    ("uva export --model uva-dva-64 --onnx m.onnx extra.onnx", "unexpected extra argument"),
    ("uva eval --model uva-dva-64", "Missing option '--data'"),
    ("uva saliency", "Missing argument 'INPUTS...'"),
    ("uva --no-such-flag saliency x.mp4", "no-such-flag"),
    ("uva salience x.mp4 --npz x.npz", "salience"),
])
def test_the_checker_rejects_what_uva_would(line, message):
    """The same checker, on commands that are wrong: each is refused, saying why."""
    (doc,) = commands_in(f"```\n{line}\n```")
    with pytest.raises(click.UsageError) as caught:
        check_command(doc.argv)
    assert message in caught.value.format_message()


def test_the_checker_accepts_placeholders_but_not_their_options():
    """Paths need not exist and shell variables are left to the shell; the options around them
    are still checked."""
    check_command(["eval", "--data", "DATASET", "--baseline", "centre", "--report", "report/"])
    check_command(["distill", "--data", "no/such/dir", "--spatial-teacher", "runs/x/best.pt", "--student", "uva-dva-32"])
    check_command(["saliency", "/data/videos", "--out-dir", "o", "--shard", "$SLURM_ARRAY_TASK_ID/16", "-q"])
    with pytest.raises(click.UsageError):
        check_command(["distill", "--data", "no/such/dir", "--student", "uva-dva-16"])
    with pytest.raises(click.UsageError):
        check_command(["saliency", "v/", "--out-dir", "o", "--shard", "3/2"])


def test_the_collector_reads_shell_lines():
    text = """
Not a command: uva saliency outside.mp4 --nope

```bash
$ uva saliency a.mp4 --npz a.npz    # a comment --nope
uva roi a.mp4 --jsonl - | jq -c '.boxes'
pip install -e . && uva models
uva distill --data d \\
    --student uva-dva-32 \\
    --out "runs/with space"
parallel -j 8 uva saliency v/ ::: 1 2
```

```python
uva = 1
```
"""
    assert [(c.where, c.argv) for c in commands_in(text)] == [
        ("<text>:5", ("saliency", "a.mp4", "--npz", "a.npz")),
        ("<text>:6", ("roi", "a.mp4", "--jsonl", "-")),
        ("<text>:7", ("models",)),
        ("<text>:8", ("distill", "--data", "d", "--student", "uva-dva-32", "--out", "runs/with space")),
    ]


# ----------------------------------------------------------------------------- links and the front page

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^(```|~~~).*?^\1", "", path.read_text(), flags=re.S | re.M)
    return {_anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def test_relative_links_lead_to_files_and_headings():
    broken = []
    for path in DOCS:
        text = re.sub(r"^(```|~~~).*?^\1", "", path.read_text(), flags=re.S | re.M)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 120
    # fresh-check and CI run the first fenced block: the two set-up commands
    first = re.search(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M).group(1).splitlines()
    assert [line.split(" && ")[0] for line in first] == ['pip install torch==2.13.0 -e .',
                                                         'pip install torch==2.13.0 -e ".[test]"']
    assert text.count("<!-- models-table -->") == text.count("<!-- /models-table -->") == 1
    image = ROOT / re.search(r"!\[[^\]]*\]\(([^)]+\.png)\)", text).group(1)
    assert image.is_file() and image.stat().st_size < 150_000


def test_readme_models_table_matches_the_manifest():
    """The README's short table states each shipped model's input, cross-validated NSS and file
    size as weights/manifest.json records them (docs/models.md's full table: tests/test_model.py)."""
    from uva_cli.models.registry import manifest

    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- models-table -->")[1].split("<!-- /models-table -->")[0]
    rows = {cells[0].split(" (")[0]: cells for cells in
            ([c.strip() for c in line.strip().strip("|").split("|")] for line in table.splitlines() if line.startswith("| "))}
    for name, entry in manifest().items():
        assert name in rows, f"README models table: no row for {name}"
        _, size, nss, _, mb = rows[name]
        assert size == f"{entry['input_size']}x{entry['input_size']}", name
        assert nss == f"{entry['validation']['nss']:.3f}", name
        value, unit = mb.split()
        assert unit == "MB" and abs(entry["bytes"] / 1e6 - float(value)) <= 0.5 * 10 ** -len(value.partition(".")[2]) + 1e-9, name
