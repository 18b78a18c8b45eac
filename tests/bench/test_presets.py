import pytest

from hmcli.bench.presets import parse_overrides

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one torch thread (tests/conftest.py)


def test_parse_overrides():
    assert parse_overrides(["dstformer-lite.dim=64", "pstmo-s.strides=[3,3]"]) == {
        "dstformer-lite": {"dim": 64}, "pstmo-s": {"strides": [3, 3]}}
    from hmcli.io.atomic import HMError

    with pytest.raises(HMError):
        parse_overrides(["dim=3"])
