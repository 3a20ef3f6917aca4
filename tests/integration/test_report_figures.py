"""Paper-ready figures: the format the suffix asks for, integer ranks, CI bands, honest axes."""

from __future__ import annotations

import pytest

from reidbench.cli import main
from reidbench.engine import FeaturesSource, evaluate
from reidbench.errors import InputError
from reidbench.report._mpl import new_figure, percent_ylim, save_figure
from reidbench.report.curves import cmc_curve, named_results


@pytest.fixture(scope="module")
def result_dir(tmp_path_factory, synth_copy, features_for):
    tmp = tmp_path_factory.mktemp("fig")
    root = synth_copy("mars", ids=12)
    features_for(tmp / "f.npz", "mars/v2v@1", root, seed=3)
    res = evaluate("mars/v2v@1", root, FeaturesSource(str(tmp / "f.npz")), bootstrap=200)
    res.write(tmp / "res")
    return tmp / "res"


def _figure():
    fig = new_figure(3, 2)
    fig.add_subplot().plot([1, 2, 3], [40, 50, 45])
    return fig


@pytest.mark.parametrize("suffix, magic", [(".pdf", b"%PDF"), (".svg", b"<?xml"),
                                           (".png", b"\x89PNG")])
def test_the_suffix_picks_the_format_and_bytes_are_stable(tmp_path, suffix, magic):
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    save_figure(_figure(), a)
    save_figure(_figure(), b)
    assert a.read_bytes().startswith(magic)
    assert a.read_bytes() == b.read_bytes()  # no date, no software version


def test_png_dpi_and_bad_suffix(tmp_path):
    from PIL import Image

    save_figure(_figure(), tmp_path / "x.png", dpi=200)
    assert Image.open(tmp_path / "x.png").size == (600, 400)
    save_figure(_figure(), tmp_path / "y.png")
    assert Image.open(tmp_path / "y.png").size == (450, 300)  # the default 150 dpi
    with pytest.raises(InputError, match=r"\.png, \.pdf, \.svg"):
        save_figure(_figure(), tmp_path / "x.jpg")
    with pytest.raises(InputError, match="dpi"):
        save_figure(_figure(), tmp_path / "x.png", dpi=0)


def test_small_differences_are_not_magnified():
    ax = new_figure(3, 2).add_subplot()
    lo, hi = percent_ylim(ax, [90.50, 90.53])
    assert hi - lo >= 10 and lo <= 90.5 and hi >= 90.53
    lo, hi = percent_ylim(ax, [99.0, 99.9])
    assert hi == 100.0 and hi - lo >= 10
    lo, hi = percent_ylim(ax, [20.0, 80.0])
    assert lo < 20 and hi > 80 and hi - lo < 70


def test_cmc_has_integer_ranks_and_the_records_ci_band(result_dir):
    (label, res), = named_results([result_dir])
    fig = cmc_curve([(label, res)], max_rank=10)
    ax = fig.axes[0]
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 10]
    assert ticks and all(float(t).is_integer() for t in ticks)
    (band,) = [c for c in ax.collections if (c.get_gid() or "").startswith("band:")]
    verts = band.get_paths()[0].vertices  # lower edge then upper edge of the filled area
    for k in (1, 5):
        lo, hi = res.record.metrics[f"rank{k}"].ci
        at_k = verts[abs(verts[:, 0] - k) < 1e-9, 1]
        assert min(at_k) == pytest.approx(100 * lo) and max(at_k) == pytest.approx(100 * hi)
    assert "95% bootstrap CI" in ax.get_title()


def test_cli_writes_pdf_svg_and_png(result_dir, tmp_path, capsys):
    for name in ("cmc.pdf", "cmc.svg", "cmc.png"):
        assert main(["report", "cmc", str(result_dir), "-o", str(tmp_path / name),
                     "--dpi", "120"]) == 0
    assert (tmp_path / "cmc.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (tmp_path / "cmc.svg").read_bytes()
    assert main(["report", "aphist", str(result_dir), "-o", str(tmp_path / "h.jpg")]) == 2
    assert "expected a figure file ending in .png, .pdf, .svg" in capsys.readouterr().err
    assert not (tmp_path / "h.jpg").exists()


def test_ablation_figures_in_a_vector_format(tmp_path, capsys):
    assert main(["report", "ablations", "--out", str(tmp_path / "a"), "--figure-format",
                 "svg"]) == 0
    svgs = sorted(p.name for p in (tmp_path / "a").glob("*.svg"))
    assert "stmn-memory-grid-mAP.svg" in svgs and not list((tmp_path / "a").glob("*.png"))
    assert main(["report", "ablations", "--out", str(tmp_path / "b"), "--figure-format",
                 "jpg"]) == 2
    assert "--figure-format" in capsys.readouterr().err
