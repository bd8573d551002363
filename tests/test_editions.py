"""The Korean edition: the same code as the English notebooks, prose in Korean."""

from __future__ import annotations

import nbformat
import pytest

from cookbook import editions
from cookbook.chapters import CHAPTERS
from cookbook.runner import notebooks_dir

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("notebook", [ch.notebook for ch in CHAPTERS])
def test_every_chapter_has_a_korean_edition_with_the_same_code(notebook):
    english = notebooks_dir() / notebook
    assert editions.check(english, "ko") == []
    korean = nbformat.read(editions.edition_path(english, "ko"), as_version=4)
    assert not any(c.get("outputs") for c in korean.cells if c.cell_type == "code")
    for cell in korean.cells:
        for line in cell.source.splitlines():
            assert len(line) <= 100, f"ko/{notebook}: a line of {len(line)} characters"


def _notebook(tmp_path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "cookbook", "display_name": "x", "language": "python"}
    nb.cells = cells
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def english(tmp_path):
    params = nbformat.v4.new_code_cell("SMOKE = False")
    params.metadata["tags"] = ["parameters"]
    return _notebook(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell("# Title\n\nSome `code` here."),
            params,
            nbformat.v4.new_markdown_cell("Fit the `model`."),
            nbformat.v4.new_code_cell("print(1)"),
        ],
    )


KO = "<<<md 0\n# 제목\n\n여기에 `code`가 있습니다.\n\n<<<md 2\n`model`을 학습합니다.\n"


def test_export_then_build_keeps_code_and_takes_the_translation(english):
    assert editions.export(english).startswith("<<<md 0\n# Title")
    target = editions.build(english, KO)
    assert target == english.parent / "ko" / english.name
    nb = nbformat.read(target, as_version=4)
    assert [c.source for c in nb.cells] == [
        "# 제목\n\n여기에 `code`가 있습니다.",
        "SMOKE = False",
        "`model`을 학습합니다.",
        "print(1)",
    ]
    assert nb.cells[1].metadata["tags"] == ["parameters"]
    assert editions.check(english) == []


@pytest.mark.parametrize(
    ("prose", "message"),
    [
        ("<<<md 0\n제목\n", "missing [2]"),
        (KO + "<<<md 3\n코드\n", "not markdown cells there [3]"),
        ("preface\n" + KO, "start with a line '<<<md N'"),
        (KO + "<<<md 2\n다시\n", "block <<<md 2 appears twice"),
        ("<<<md 0\n\n<<<md 2\n학습\n", "block <<<md 0 is empty"),
    ],
)
def test_a_malformed_translation_is_refused_and_nothing_written(english, prose, message):
    with pytest.raises(editions.EditionError, match=message.replace("[", r"\[")):
        editions.build(english, prose, source="ko.txt")
    assert not (english.parent / "ko").exists() or not any((english.parent / "ko").iterdir())


def test_check_names_diverging_code_and_untranslated_prose_and_sync_repairs_code(english):
    target = editions.build(english, KO)
    nb = nbformat.read(english, as_version=4)
    nb.cells[3].source = "print(2)"
    nbformat.write(nb, english)
    ko = nbformat.read(target, as_version=4)
    ko.cells[2].source = "Fit the `model` (forgot to translate)."
    nbformat.write(ko, target)
    problems = editions.check(english)
    assert any("code cell 3 differs" in p for p in problems)
    assert any("markdown cell 2 is not in Korean" in p for p in problems)
    assert editions.sync(english) == 1
    assert nbformat.read(target, as_version=4).cells[3].source == "print(2)"
    assert [p for p in editions.check(english) if "code cell" in p] == []


def test_sync_refuses_when_the_cells_no_longer_follow(english):
    editions.build(english, KO)
    nb = nbformat.read(english, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("New step."))
    nbformat.write(nb, english)
    with pytest.raises(editions.EditionError, match="no longer follow"):
        editions.sync(english)
    assert "do not follow" in editions.check(english)[0]


def test_missing_edition_and_unknown_language(english):
    assert "missing" in editions.check(english)[0]
    with pytest.raises(editions.EditionError, match="expected one of"):
        editions.edition_path(english, "fr")


def test_hangul_share_leaves_out_code_and_names():
    assert editions.hangul_share("`mapInPandas`는 파티션마다 실행됩니다.") == 1.0
    assert editions.hangul_share("Spark runs `x` on each partition.") == 0.0
    assert 0.25 < editions.hangul_share("Spark와 MLflow로 모델을 학습하고 기록합니다.") < 1.0
