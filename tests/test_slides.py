"""Slide plumbing for chapter 6: discovery, one level rule, patch bounds, tissue, tile maps."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cookbook import slides as wsl
from cookbook.datasets import wsi

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def synthetic():
    return wsi.prepare(
        "synthetic", n_tumour=2, n_normal=1, size=1024, patches_per_class=10, margin=32, seed=5
    )


def test_find_slides_reports_missing_and_unreadable(synthetic, tmp_path):
    import shutil

    shutil.copytree(synthetic.slides_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "Normal_001.tif").write_bytes(b"II*\x00" + b"\x00" * 64)
    found = wsl.find_slides(["Tumor_001", "Tumor_002", "Normal_001", "Tumor_404"], tmp_path, 0)
    assert sorted(found.found) == ["Tumor_001", "Tumor_002"]
    assert found.missing == ["Tumor_404"]
    assert "Normal_001" in found.unreadable and "OpenSlide" in found.unreadable["Normal_001"]
    table = found.table()
    assert list(table.index) == ["Tumor_001", "Tumor_002"] and (table["width"] == 1024).all()


def test_one_level_rule_clamps_with_a_warning(synthetic, caplog):
    path = synthetic.slides_dir / "Tumor_001.tif"
    with caplog.at_level(logging.WARNING):
        info = wsl.describe(path, level=99)
    assert info.level == info.levels - 1 and info.downsample > 1
    assert "Tumor_001" in caplog.text and "instead of 99" in caplog.text
    assert wsl.usable_level(4, 2) == 2


def test_patch_bounds_use_the_reading_level(synthetic):
    found = wsl.find_slides(["Tumor_001", "Tumor_002"], synthetic.slides_dir, 1)
    ds = found.found["Tumor_001"].downsample
    coords = pd.DataFrame(
        {
            "slide": ["Tumor_001", "Tumor_001", "Tumor_404"],
            "x": [512, int(16 * ds) - 1, 512],
            "y": [512, 512, 512],
        }
    )
    assert wsl.patch_inside(coords, found, 32).tolist() == [True, False, False]


def test_read_patch_is_centred(synthetic):
    with wsi.open_slide(synthetic.slides_dir / "Tumor_001.tif") as slide:
        patch = wsl.read_patch(slide, 512, 512, 64, 0)
        same = slide.read_region((480, 480), 0, (64, 64)).convert("RGB")
    assert patch.size == (64, 64) and np.array_equal(np.asarray(patch), np.asarray(same))


def test_tissue_mask_and_tiles(synthetic):
    white = Image.new("RGB", (20, 10), (250, 250, 250))
    white.paste((200, 80, 160), (0, 0, 10, 10))
    mask = wsl.tissue_mask(white)
    assert mask[:, :10].all() and not mask[:, 10:].any()
    info = wsl.describe(synthetic.slides_dir / "Tumor_001.tif", 0)
    grid = wsl.tissue_tiles(info, 128, thumbnail_size=256)
    assert grid.columns == grid.rows == 8
    assert 0 < len(grid.centres) <= 64 and (grid.centres["x"] % 64 == 0).all()
    scores = grid.centres.assign(p=np.linspace(0, 1, len(grid.centres)))
    image = wsl.overlay(grid, scores, outlines=[np.array([[100, 100], [400, 100], [400, 400]])])
    assert image.size == grid.thumbnail.size and image.mode == "RGB"
