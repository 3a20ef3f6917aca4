"""A retrieval gallery draws for every protocol mode: V2V, I2V, multi-split and cross-dataset.

Each case evaluates a features file on a tiny synthetic copy through the engine, then renders the
gallery from the written result directory, as ``reidbench report gallery`` does.
"""

from __future__ import annotations

import html

import pytest

from reidbench.engine import FeaturesSource, evaluate
from reidbench.report.gallery import query_strips, write_gallery

CASES = [  # protocol, layout of the copy, split
    ("mars/v2v@1", "mars", None),
    ("mars/i2v@1", "mars", None),
    ("dukev/i2v@1", "dukev", None),
    ("ilidsvid/i2v@1", "ilidsvid", "split1"),
    ("ilidsvid/v2v@1", "ilidsvid", "split2"),
    ("cross/mars->dukev@1", "dukev", None),
]


@pytest.mark.parametrize(("protocol", "layout", "split"), CASES)
def test_gallery_renders_for_every_mode(protocol, layout, split, synth_copy, features_for,
                                        tmp_path):
    root = synth_copy(layout)
    feats = tmp_path / (f"{split}.npz" if split else "f.npz")
    ids = features_for(feats, protocol, root, split=split)
    template = str(tmp_path / "{split}.npz") if split else str(feats)
    result = evaluate(protocol, root, FeaturesSource(template), splits=[split] if split else None,
                      bootstrap=0)
    res_dir = tmp_path / "res"
    result.write(res_dir)
    out = tmp_path / "gallery"
    paths = write_gallery(res_dir, root, out, queries=2, topk=3, frames=2, split=split)
    pngs = [p for p in paths if p.suffix == ".png"]
    assert len(pngs) == 2 and all(p.stat().st_size > 1000 for p in pngs)
    page = (out / "index.html").read_text()
    split_name = split or result.record.splits[0].split
    # the page names the model, the protocol and the split, and is styled by the one stylesheet
    assert f"<title>Retrieval gallery: features on {html.escape(protocol)}, {split_name}" in page
    assert "<b>Split:</b> " + split_name in page and (out / "reidbench.css").exists()
    strips = query_strips(result, queries=2, topk=3, split=split)
    if "/i2v" in protocol:
        assert all(s.id.endswith("#first") for s in strips)
        assert all(s.id in ids for s in strips)
