import pytest

from hmcli.bench.refine import refine_bench, refine_table
from tests.cli.helpers import tiny_checkpoint
from tests.refine.helpers import tiny_refiner_file
from tests.train.fixtures import make_mini_cmu


@pytest.mark.usefixtures("one_thread")
def test_refine_bench_scores_2d_and_lifts_with_and_without(tmp_path):
    data = make_mini_cmu(tmp_path / "cmu")
    ref = tiny_refiner_file(tmp_path / "ref.pt")  # identity: found joints unchanged
    lifter = tiny_checkpoint(tmp_path / "bi.pt")
    r = refine_bench(ref, (lifter,), str(data), ("standard",), ("plain",), cameras=1)
    (row,) = r["rows"]
    assert row["err2d_found_after"] == pytest.approx(row["err2d_found_before"], abs=1e-3)
    assert row["frames"] == 2 * 90 and 0 < row["missed_pct"] < 100
    (lf,) = row["lifters"]
    assert lf["model"] == "tiny-bi" and lf["mpjpe_before"] > 0 and lf["mpjpe_after"] > 0
    assert r["cost"]["refine_ms_per_frame"] > 0 and r["ratios"]["refine / lift time per frame"] > 0
    title, cols, rows = refine_table(r)
    assert "tiny-refiner" in title and len(rows) == 2 and len(rows[0]) == len(cols)
    from hmcli.bench.report import write_outputs

    paths = write_outputs(r, tmp_path / "out", "refine")  # json, md and png, as hm bench refine -o writes them
    assert [p.rsplit(".", 1)[1] for p in paths] == ["json", "md", "png"]
    assert all((tmp_path / "out" / f"refine.{e}").stat().st_size > 0 for e in ("json", "md", "png"))
