"""The notebooks read like a book: lean cells, prose at least half the code, one setup call,
no plumbing, no formatter escapes, and no result in the prose that the run did not compute."""

from __future__ import annotations

import re

import nbformat
import pytest

from cookbook.chapters import CHAPTERS
from cookbook.runner import KERNEL_NAME, notebooks_dir

pytestmark = pytest.mark.unit

NOTEBOOKS = [ch.notebook for ch in CHAPTERS]


def _cells(notebook):
    return nbformat.read(notebooks_dir() / notebook, as_version=4).cells


def _lines(cell):
    return [line for line in cell.source.splitlines() if line.strip()]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_cells_are_lean_and_prose_is_at_least_half_the_code(notebook):
    cells = _cells(notebook)
    code = [c for c in cells if c.cell_type == "code"]
    prose = sum(len(_lines(c)) for c in cells if c.cell_type == "markdown")
    code_lines = sum(len(_lines(c)) for c in code)
    assert prose >= code_lines / 2, f"{notebook}: {prose} prose lines for {code_lines} code lines"
    for i, cell in enumerate(code):
        assert len(_lines(cell)) <= 40, f"{notebook}: code cell {i} has {len(_lines(cell))} lines"
    for cell in cells:
        for line in cell.source.splitlines():
            assert len(line) <= 100, f"{notebook}: a line of {len(line)} characters: {line[:60]}"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_one_short_setup_cell_and_no_plumbing(notebook):
    cells = _cells(notebook)
    index = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    setup = cells[index + 1]
    assert "chapter.start(" in setup.source and len(_lines(setup)) <= 15, notebook
    source = "\n".join(c.source for c in cells if c.cell_type == "code")
    for forbidden in (
        "# fmt: skip",
        "sparkContext",
        "warnings.filterwarnings",
        "atomic_path",
        "subprocess",
        "os.killpg",
        "socket",
    ):
        assert forbidden not in source, f"{notebook} contains {forbidden!r}"
    nb = nbformat.read(notebooks_dir() / notebook, as_version=4)
    assert nb.metadata.kernelspec.name == KERNEL_NAME
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


# Numbers a chapter's prose may state because they are not results of the run: the book's own
# published figures and settings, facts about the data files, and the parameters' defaults.
_STATED_FACTS = re.compile(
    r"0\.00144|56,900|1,160,000|105\b|12\b|0\.5\b|5,000|6,362,620|913,000|19,735|16,185|811"
)
_RESULT_LIKE = re.compile(r"(?<![\w.])\d+\.\d{2,}(?![\w.])|(?<![\w.])\d+(?:\.\d+)?\s?%")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_prose_states_no_result_the_run_did_not_compute(notebook):
    cells = _cells(notebook)
    # a number written in the code (a parameter, a setting) is not a result of the run
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    offenders = []
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"`[^`]*`", "", cell.source)  # code spans name settings, not results
        for match in _RESULT_LIKE.finditer(_STATED_FACTS.sub("", text)):
            token = match.group().replace(" ", "")
            value = token.rstrip("%")
            if value in code or (token.endswith("%") and f"{float(value) / 100:g}" in code):
                continue
            offenders.append(token)
    assert not offenders, f"{notebook}: numbers in prose that look like results: {offenders}"
