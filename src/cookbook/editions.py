"""The Korean edition of the notebooks: the same code cells, prose in Korean.

``notebooks/ko/<chapter>.ipynb`` mirrors ``notebooks/<chapter>.ipynb`` cell for cell: every code
cell (the ``parameters`` cell included) is identical, every markdown cell is a translation. The
English notebook is the source of the code; after changing its code, ``sync`` copies the code
cells into the Korean notebook, and ``check`` (run by the tests) reports any difference.

Translating: ``export`` writes the English prose as blocks ``<<<md N`` (N the cell's index),
a translator rewrites each block's text, and ``build`` puts the translated prose between the
English code cells::

    python -m cookbook.editions export notebooks/01_dtw_background.ipynb > prose.txt
    python -m cookbook.editions build notebooks/01_dtw_background.ipynb prose.ko.txt
    python -m cookbook.editions check          # every edition against its English notebook
    python -m cookbook.editions sync           # copy changed code into every edition
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from cookbook.io import atomic_path

__all__ = [
    "EDITIONS",
    "EditionError",
    "build",
    "check",
    "edition_path",
    "export",
    "hangul_share",
    "sync",
]

EDITIONS = {"ko": "한국어"}
MIN_HANGUL_SHARE = 0.25  # of a prose cell's letters; the rest are names (Spark, MLflow, ...)
_BLOCK = re.compile(r"^<<<md (\d+)[ \t]*$", re.MULTILINE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LETTER = re.compile(r"[^\W\d_]")


class EditionError(ValueError):
    """An edition that does not match its English notebook, or a malformed prose file."""


def edition_path(notebook: str | Path, language: str) -> Path:
    """``notebooks/X.ipynb`` -> ``notebooks/<language>/X.ipynb``."""
    if language not in EDITIONS:
        raise EditionError(f"language {language!r}: expected one of {sorted(EDITIONS)}")
    notebook = Path(notebook)
    return notebook.parent / language / notebook.name


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def export(english: str | Path) -> str:
    """The English notebook's markdown cells as ``<<<md N`` blocks, for a translator."""
    cells = _read(Path(english)).cells
    return "".join(
        f"<<<md {i}\n{c.source.rstrip()}\n\n"
        for i, c in enumerate(cells)
        if c.cell_type == "markdown"
    )


def _parse(prose: str, source: str) -> dict[int, str]:
    marks = list(_BLOCK.finditer(prose))
    if not marks or prose[: marks[0].start()].strip():
        raise EditionError(f"{source}: expected the text to start with a line '<<<md N'")
    blocks: dict[int, str] = {}
    for k, mark in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(prose)
        index = int(mark.group(1))
        if index in blocks:
            raise EditionError(f"{source}: block <<<md {index} appears twice")
        blocks[index] = prose[mark.end() : end].strip("\n").rstrip()
    return blocks


def build(english: str | Path, prose: str, language: str = "ko", source: str = "prose") -> Path:
    """Write the ``language`` edition of ``english``: its code cells, the given prose."""
    english = Path(english)
    nb = _read(english)
    blocks = _parse(prose, source)
    wanted = {i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"}
    if set(blocks) != wanted:
        missing, extra = sorted(wanted - set(blocks)), sorted(set(blocks) - wanted)
        raise EditionError(
            f"{source}: the blocks must be the markdown cells of {english.name}; "
            f"missing {missing}, not markdown cells there {extra}"
        )
    for i, text in blocks.items():
        if not text.strip():
            raise EditionError(f"{source}: block <<<md {i} is empty")
        nb.cells[i].source = text
    target = edition_path(english, language)
    with atomic_path(target) as tmp:
        nbformat.write(nb, tmp)
    return target


def _letters(text: str) -> tuple[int, int]:
    prose = re.sub(r"```.*?```|`[^`]*`|\$[^$]*\$|\([^)]*://[^)]*\)", " ", text, flags=re.DOTALL)
    return len(_HANGUL.findall(prose)), len(_LETTER.findall(prose))


def hangul_share(text: str) -> float:
    """The share of letters in ``text`` that are Hangul syllables, leaving out code spans,
    formulas and link targets (a Korean sentence keeps names like Spark or MLflow)."""
    hangul, letters = _letters(text)
    return hangul / letters if letters else 0.0


def check(english: str | Path, language: str = "ko") -> list[str]:
    """What differs between ``english`` and its edition, besides translated prose (empty: ok)."""
    english = Path(english)
    target = edition_path(english, language)
    if not target.exists():
        return [f"{target}: missing (translate {english.name}, see cookbook.editions)"]
    en, tr = _read(english), _read(target)
    name = f"{language}/{english.name}"
    if [c.cell_type for c in en.cells] != [c.cell_type for c in tr.cells]:
        return [f"{name}: cells {len(tr.cells)} do not follow {english.name}'s ({len(en.cells)})"]
    problems = []
    if tr.metadata.get("kernelspec") != en.metadata.get("kernelspec"):
        problems.append(f"{name}: kernelspec differs from {english.name}")
    for i, (a, b) in enumerate(zip(en.cells, tr.cells, strict=True)):
        if a.cell_type == "code":
            if a.source != b.source or a.metadata.get("tags") != b.metadata.get("tags"):
                problems.append(f"{name}: code cell {i} differs from {english.name} (run sync)")
        elif _letters(a.source)[1] and hangul_share(b.source) < MIN_HANGUL_SHARE:
            problems.append(
                f"{name}: markdown cell {i} is not in Korean "
                f"({hangul_share(b.source):.0%} of its letters are Hangul)"
            )
    return problems


def sync(english: str | Path, language: str = "ko") -> int:
    """Copy ``english``'s code cells into its edition; return how many changed.

    The cell layout must match (same sequence of code and markdown cells): a new or removed
    cell needs its prose translated, so it is an error here rather than a guess."""
    english = Path(english)
    target = edition_path(english, language)
    en, tr = _read(english), _read(target)
    if [c.cell_type for c in en.cells] != [c.cell_type for c in tr.cells]:
        raise EditionError(
            f"{target}: its cells no longer follow {english.name}; rebuild it from exported prose"
        )
    changed = 0
    for a, b in zip(en.cells, tr.cells, strict=True):
        if a.cell_type == "code" and (a.source, a.metadata) != (b.source, b.metadata):
            b.source, b.metadata = a.source, a.metadata
            changed += 1
    if tr.metadata.get("kernelspec") != en.metadata.get("kernelspec"):
        tr.metadata["kernelspec"] = en.metadata.get("kernelspec")
        changed += 1
    if changed:
        with atomic_path(target) as tmp:
            nbformat.write(tr, tmp)
    return changed


def _english_notebooks() -> list[Path]:
    from cookbook.chapters import CHAPTERS
    from cookbook.runner import notebooks_dir

    return [notebooks_dir() / ch.notebook for ch in CHAPTERS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cookbook.editions", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("export", help="print a notebook's prose as <<<md blocks").add_argument("nb")
    b = sub.add_parser("build", help="write the edition of NB from a translated prose file")
    b.add_argument("nb")
    b.add_argument("prose")
    for name in ("check", "sync"):
        sub.add_parser(name, help=f"{name} every edition against its English notebook")
    for p in sub.choices.values():
        p.add_argument("--language", default="ko", choices=sorted(EDITIONS))
    args = parser.parse_args(argv)
    if args.command == "export":
        sys.stdout.write(export(args.nb))
        return 0
    if args.command == "build":
        print(build(args.nb, Path(args.prose).read_text("utf-8"), args.language, args.prose))
        return 0
    problems: list[str] = []
    for nb in _english_notebooks():
        if args.command == "sync" and edition_path(nb, args.language).exists():
            print(f"{nb.name}: {sync(nb, args.language)} cell(s) updated")
        problems += check(nb, args.language)
    print("\n".join(problems) or "every edition matches its English notebook")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
