"""The build quirks the Makefile handles: both DTW libraries must be their compiled versions."""

import pytest

pytestmark = pytest.mark.unit


def test_ucrdtw_extension_imports_and_computes():
    import _ucrdtw

    loc, dist = _ucrdtw.ucrdtw([1.0, 2.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 2.0, 1.0], 0.05, False)
    assert loc == 0 and dist == pytest.approx(0.0)


def test_fastdtw_uses_its_c_extension():
    import fastdtw

    try:
        from fastdtw import _fastdtw
    except ImportError:  # pragma: no cover - the failure this test exists for
        pytest.fail(
            "fastdtw was installed without its C extension (pure Python is ~100x slower): "
            "reinstall with `make distclean setup`, which builds it with Cython present"
        )
    assert fastdtw.fastdtw is _fastdtw.fastdtw
