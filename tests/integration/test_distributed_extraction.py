"""Multi-process extraction under torchrun (gloo, 2 CPU processes) gives the same features as
one."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import torch
    from reidbench.adapters import AdapterCard, ModuleAdapter
    from reidbench.datasets import load
    from reidbench.engine.distributed import is_main, maybe_init, world
    from reidbench.engine.evalset import EvalItem
    from reidbench.engine.extract import extract_features
    from reidbench.protocols import Procedure

    class Stripes(ModuleAdapter):
        card = AdapterCard(name="stripes")
        def __init__(self):
            torch.manual_seed(0)
            super().__init__(torch.nn.Conv2d(3, 5, 3))
        def forward_features(self, clips):
            b, t = clips.shape[:2]
            return self.model(clips.flatten(0, 1)).mean(dim=(2, 3)).view(b, t, -1).mean(1)

    maybe_init()
    ds = load("mars", sys.argv[1])
    items = [EvalItem(t.id, t.pid, t.camid, t.frames) for t in ds.tracklets]
    proc = Procedure(sampling="all_clips", seq_len=3, input_size=(32, 16))
    feats, _ = extract_features(Stripes().eval(), items, procedure=proc, batch_size=4)
    rank, size = world()
    if is_main():
        np.save(sys.argv[2], feats)
        print("world", size)
''')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_processes_match_one(tmp_path):
    from reidbench.datasets.synthetic import SynthConfig, write_dataset

    root = write_dataset("mars", tmp_path / "MARS", ids=8, seed=2,
                         config=SynthConfig(height=32, width=16, min_len=2, max_len=7,
                                                      median_len=4.0)).root
    script = tmp_path / "extract.py"
    script.write_text(SCRIPT)
    single = subprocess.run([sys.executable, str(script), root, str(tmp_path / "one.npy")],
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-2000:]
    # a static rendezvous on 127.0.0.1 and a port free now; --standalone's dynamic rendezvous
    # hands the workers socket.getfqdn() as MASTER_ADDR, which need not resolve (rank 1 aborted so
    # in CI), and a fixed port clashes with a parallel run
    port = _free_port()
    multi = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1",
                            "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                            "--master_port", str(port), str(script), root,
                            str(tmp_path / "two.npy")],
                           capture_output=True, text=True, timeout=300,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    # the workers' own tracebacks come first in stderr, torchrun's summary last
    assert multi.returncode == 0, multi.stderr[:3000] + "\n...\n" + multi.stderr[-1500:]
    assert "world 2" in multi.stdout
    one, two = np.load(tmp_path / "one.npy"), np.load(tmp_path / "two.npy")
    assert one.shape == two.shape and one.shape[0] > 10
    np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-6)
