"""The README's "Adding a model" code block works as written: it is run here, not copied."""

import re
import sys
import types
from pathlib import Path

import numpy as np

from reidbench.datasets.synthetic import SynthConfig, write_dataset
from reidbench.engine import AdapterSource, evaluate

README = Path(__file__).resolve().parents[2] / "README.md"


def _block():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Adding a model", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the README's 'Adding a model' section has no python block"
    return blocks[0]


def test_the_readme_adapter_evaluates(tmp_path, monkeypatch):
    module = types.ModuleType("readme_adding_a_model")
    exec(compile(_block(), str(README), "exec"), module.__dict__)  # noqa: S102 - our own README
    monkeypatch.setitem(sys.modules, module.__name__, module)
    tiny = SynthConfig(height=32, width=16, min_len=3, max_len=6, median_len=4.0)
    root = write_dataset("mars", tmp_path / "MARS", ids=6, seed=2, config=tiny).root
    source = AdapterSource(f"{module.__name__}:TinyNet", batch_size=8)
    for protocol in ("mars/v2v@1", "mars/i2v@1"):
        res = evaluate(protocol, root, source, procedure={"seq_len": 2, "input_size": (32, 16)},
                       bootstrap=0)
        assert 0.0 < res.value("mAP") <= 1.0 and np.isfinite(res.value("rank1"))
    assert res.record.config["adapter_config"] == {}
    assert res.record.source.adapter.name == "tinynet"
