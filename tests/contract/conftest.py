"""Installs a minimal third-party plug-in: a plain ``Adapter`` in its own package.

The package and its ``.dist-info`` (with an ``entry_points.txt`` naming the adapter under the
``reidbench.adapters`` group) are written to a temporary folder put on ``sys.path`` while the
contract tests are collected, which is what ``pip install`` of such a package amounts to. The
contract suite then finds it through the entry-point registry exactly as it finds the baselines.
"""

import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

PLUGIN = "reidbench_plainplug"
PLUGIN_NAME = "plainplug"

_SOURCE = textwrap.dedent('''
    """A plain Adapter, as a third party writes one: no ModuleAdapter, no mode handling."""

    import torch

    from reidbench.adapters import Adapter, AdapterCard


    class PlainAdapter(Adapter):
        card = AdapterCard(name="plainplug", modes=("v2v", "i2v"), input_size=(32, 16),
                           paper="A plain plug-in (reidbench contract tests)",
                           venue="reidbench tests")

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            # a BatchNorm left in training mode and parameters that require grad: the engine
            # must still embed under inference mode with every module in eval mode
            self.net = torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())

        def embed_clips(self, clips):
            b, t = clips.shape[:2]
            return self.net(clips.flatten(0, 1).to(self.device)).view(b, t, -1).mean(dim=1)
''')


def _install() -> Path:
    root = Path(tempfile.mkdtemp(prefix="reidbench-plugin-"))
    (root / PLUGIN).mkdir()
    (root / PLUGIN / "__init__.py").write_text(_SOURCE)
    info = root / f"{PLUGIN}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PLUGIN}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[reidbench.adapters]\n{PLUGIN_NAME} = {PLUGIN}:PlainAdapter\n")
    sys.path.insert(0, str(root))
    return root


_ROOT = _install()


def pytest_unconfigure(config):
    if str(_ROOT) in sys.path:
        sys.path.remove(str(_ROOT))
    shutil.rmtree(_ROOT, ignore_errors=True)
