"""Records that disagree with themselves are refused everywhere, the same way; --verify re-runs.

A real result (a features file on a tiny synthetic MARS copy) is tampered with in generated ways:
a summary number moved (with its CI moved to fit) at each place it is stored, per-query arrays
edited under an unchanged summary, another result's per_query.npz, the sha256 fields removed.
`validate`, `leaderboard add`, `compare` and `leaderboard build` each refuse every variant with one
line naming the same field; `leaderboard add --verify` marks an entry verified only when a re-run
reproduces every number, and refuses a record whose numbers, arrays and sha256 were all edited to
agree.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reidbench.cli import main
from reidbench.leaderboard.io import SHIPPED_PUBLISHED
from reidbench.records.consistency import consistency_problems

PROTOCOL = "mars/v2v@1"
METRICS = ("mAP", "rank1", "rank5", "rank10", "rank20", "mINP")


def _noisy_features(path: Path, root: Path, seed: int) -> None:
    """Features far from perfect (mAP well below 1), so a forged 1.0 is a lie."""
    from reidbench.datasets import load
    from reidbench.engine import build_evalset
    from reidbench.protocols import get_protocol

    p = get_protocol(PROTOCOL)
    ds = load("mars", root)
    ids = build_evalset(ds, p, "official").ids()
    rng = np.random.default_rng(seed)
    centres = {}
    rows = []
    for i in ids:
        pid = ds.tracklet(i).pid
        centres.setdefault(pid, rng.normal(size=8))
        rows.append(centres[pid] + 1.5 * rng.normal(size=8))
    np.savez(path, ids=np.array(ids), features=np.array(rows, dtype=np.float32))


@pytest.fixture(scope="module")
def evaluated(synth_copy, tmp_path_factory):
    root = synth_copy("mars", ids=8, seed=3)
    base = tmp_path_factory.mktemp("integrity")
    feats = base / "feats.npz"
    _noisy_features(feats, root, 0)
    other = base / "other.npz"
    _noisy_features(other, root, 5)
    for name, f in (("res", feats), ("res-other", other)):
        assert main(["evaluate", "--protocol", PROTOCOL, "--data", str(root), "--features",
                     str(f), "--out", str(base / name), "--bootstrap", "50", "--json"]) == 0
    return {"root": root, "feats": feats, "other": other, "res": base / "res",
            "res_other": base / "res-other"}


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _record(d: Path) -> dict:
    return json.loads((d / "results.json").read_text())


def _write_record(d: Path, rec: dict) -> None:
    (d / "results.json").write_text(json.dumps(rec, indent=2))


def _arrays(d: Path) -> dict:
    with np.load(d / "per_query.npz") as z:
        return {k: z[k] for k in z.files}


def _write_arrays(d: Path, arrays: dict, *, update_sha: bool = True) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    (d / "per_query.npz").write_bytes(buf.getvalue())
    if update_sha:
        rec = _record(d)
        rec["per_query_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
        _write_record(d, rec)


def _moved(value: float, rng: np.random.Generator) -> float:
    """A different fraction in [0, 1], far enough to be a lie, never the same number."""
    target = float(rng.uniform(0.0, 1.0))
    if abs(target - value) < 0.01:
        target = value - 0.2 if value > 0.5 else value + 0.2
    return target


def _tamper_summary(d: Path, where: str, metric: str, seed: int) -> str:
    """Move one stored number (CI moved to fit); return the field a refusal must name."""
    rng = np.random.default_rng(seed)
    rec = _record(d)
    if where == "top":
        cell = rec["metrics"][metric]
        cell["value"] = _moved(cell["value"], rng)
        if cell.get("ci"):
            cell["ci"] = [max(0.0, cell["value"] - 0.01), min(1.0, cell["value"] + 0.01)]
        field = f"metrics.{metric}.value"
    elif where == "split":
        cell = rec["splits"][0]["metrics"][metric]
        cell["value"] = _moved(cell["value"], rng)
        if cell.get("ci"):
            cell["ci"] = [max(0.0, cell["value"] - 0.01), min(1.0, cell["value"] + 0.01)]
        field = f"splits[official].metrics.{metric}.value"
    else:
        variant = sorted(rec["metrics_by_variant"])[seed % len(rec["metrics_by_variant"])]
        values = rec["metrics_by_variant"][variant]
        values[metric] = _moved(values[metric], rng)
        field = f"metrics_by_variant.{variant}.{metric}"
    _write_record(d, rec)
    return field


def _refusals(d: Path, good: Path, tmp: Path, capsys) -> list[str]:
    """The error line of validate, add, compare and build on the tampered result ``d``."""
    lines = []
    assert main(["validate", str(d)]) == 2
    lines.append(capsys.readouterr().err.splitlines()[0])
    assert main(["leaderboard", "add", str(d), "--leaderboards", str(tmp / "lb-add")]) == 2
    lines.append(capsys.readouterr().err.splitlines()[-1])
    assert not (tmp / "lb-add" / "submissions").exists() or not [
        p for p in (tmp / "lb-add" / "submissions").iterdir() if not p.name.startswith(".")]
    assert main(["compare", str(good), str(d)]) == 2
    lines.append(capsys.readouterr().err.splitlines()[-1])
    # a filed submission edited afterwards: build refuses it and writes nothing
    lb = tmp / "lb-build"
    (lb / "published").mkdir(parents=True)
    shutil.copy(SHIPPED_PUBLISHED / "denseil-table2.json", lb / "published")
    assert main(["leaderboard", "add", str(good), "--leaderboards", str(lb)]) == 0
    filed = next(p for p in (lb / "submissions").iterdir() if not p.name.startswith("."))
    for name in ("results.json", "per_query.npz"):
        shutil.copy(d / name, filed / name)
    capsys.readouterr()
    assert main(["leaderboard", "build", "--leaderboards", str(lb), "--out", str(tmp / "out"),
                 "--format", "md"]) == 2
    lines.append(capsys.readouterr().err.splitlines()[-1])
    assert not (tmp / "out").exists()
    return lines


def test_untampered_result_is_consistent_and_files_self_reported(evaluated, tmp_path, capsys):
    rec = _record(evaluated["res"])
    assert len(rec["per_query_sha256"]) == 64 and rec["bootstrap"] == 50
    assert 0.1 < rec["metrics"]["mAP"]["value"] < 0.9 and rec["metrics"]["rank1"]["value"] < 1
    assert consistency_problems(rec, _arrays(evaluated["res"])) == []
    assert main(["validate", str(evaluated["res"])]) == 0
    lb = tmp_path / "lb"
    assert main(["leaderboard", "add", str(evaluated["res"]), "--leaderboards", str(lb)]) == 0
    assert "self-reported" in capsys.readouterr().out


CASES = [(where, metric, seed) for seed, (where, metric) in enumerate(
    (w, m) for w in ("top", "split", "variant") for m in METRICS)]


@pytest.mark.parametrize("where,metric,seed", CASES[::3] + [("top", "mAP", 101)])
def test_moved_summary_refused_by_every_command_alike(evaluated, tmp_path, capsys, where, metric,
                                                      seed):
    d = _copy(evaluated["res"], tmp_path / "bad")
    field = _tamper_summary(d, where, metric, seed)
    assert any(field in p for p in consistency_problems(_record(d), _arrays(d)))
    lines = _refusals(d, evaluated["res"], tmp_path, capsys)
    for line in lines:
        assert line.startswith("error: ") and "recomputed from per_query.npz" in line, line
    assert len({line.split(" (")[0] for line in lines}) <= 2  # one message (paths differ)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_query_arrays_edited_under_the_summary_refused(evaluated, tmp_path, capsys, seed):
    rng = np.random.default_rng(seed)
    d = _copy(evaluated["res"], tmp_path / "bad")
    arrays = _arrays(d)
    key = ["official/ap", "official/first_rank", "official/inp"][seed]
    a = arrays[key].copy()
    counted = arrays["official/counted"]
    idx = rng.choice(np.flatnonzero(counted), size=max(1, int(counted.sum()) // 2),
                     replace=False)
    a[idx] = 1 if key.endswith("first_rank") and not np.all(a[idx] == 1) else (
        5 if key.endswith("first_rank") else 1.0 - a[idx] * 0.5)
    arrays[key] = a
    _write_arrays(d, arrays)  # sha256 updated: only the numbers give it away
    lines = _refusals(d, evaluated["res"], tmp_path, capsys)
    assert all("recomputed from per_query.npz" in line or "headline variant" in line
               for line in lines), lines


def test_another_results_per_query_refused(evaluated, tmp_path, capsys):
    d = _copy(evaluated["res"], tmp_path / "bad")
    shutil.copy(evaluated["res_other"] / "per_query.npz", d / "per_query.npz")
    lines = _refusals(d, evaluated["res"], tmp_path, capsys)
    assert all("per_query_sha256" in line for line in lines), lines


@pytest.mark.parametrize("drop", ["per_query_sha256", "evaluated"])
def test_record_without_its_sha256s_refused(evaluated, tmp_path, capsys, drop):
    d = _copy(evaluated["res"], tmp_path / "bad")
    rec = _record(d)
    if drop == "per_query_sha256":
        del rec["per_query_sha256"]
    else:
        rec["source"]["features_sha256"] = {"official": None}
        rec["splits"][0]["source"].pop("sha256", None)
    _write_record(d, rec)
    assert main(["validate", str(d)]) == 2
    assert ("per_query_sha256" if drop == "per_query_sha256" else "field source") in \
        capsys.readouterr().err


def test_verify_marks_verified_and_refuses_what_does_not_reproduce(evaluated, tmp_path, capsys):
    lb = tmp_path / "lb"
    (lb / "published").mkdir(parents=True)
    shutil.copy(SHIPPED_PUBLISHED / "denseil-table2.json", lb / "published")
    # the wrong file: not what the record evaluated
    assert main(["leaderboard", "add", str(evaluated["res"]), "--leaderboards", str(lb),
                 "--verify", str(evaluated["other"])]) == 2
    assert "sha256" in capsys.readouterr().err
    # numbers, arrays and sha256 edited to agree: consistent, but a re-run shows the lie
    d = _copy(evaluated["res"], tmp_path / "forged")
    arrays = _arrays(d)
    counted = arrays["official/counted"]
    for key in [k for k in arrays if k.startswith("official/ap")]:
        a = arrays[key].copy()
        a[counted] = 1.0
        arrays[key] = a
    _write_arrays(d, arrays)
    rec = _record(d)
    for cell_holder in [rec["metrics"], rec["splits"][0]["metrics"]]:
        cell_holder["mAP"]["value"] = 1.0
        cell_holder["mAP"]["ci"] = [1.0, 1.0]
    for values in [*rec["metrics_by_variant"].values(),
                   *rec["splits"][0]["metrics_by_variant"].values()]:
        values["mAP"] = 1.0
    _write_record(d, rec)
    assert main(["validate", str(d)]) == 0  # self-consistent
    assert main(["leaderboard", "add", str(d), "--leaderboards", str(lb), "--verify",
                 str(evaluated["feats"]), "--data", str(evaluated["root"])]) == 2
    err = capsys.readouterr().err
    assert "re-run" in err and len(err.strip().splitlines()) == 1
    # the honest record: verified, and the leaderboard says so
    assert main(["leaderboard", "add", str(evaluated["res"]), "--leaderboards", str(lb),
                 "--verify", str(evaluated["feats"]), "--data", str(evaluated["root"])]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["leaderboard", "build", "--leaderboards", str(lb), "--out", str(tmp_path / "o"),
                 "--format", "md", "--protocol", PROTOCOL]) == 0
    md = (tmp_path / "o" / "leaderboards" / "leaderboard-mars-v2v-1.md").read_text()
    assert "| verified: mars-v2v-1--" in md and "self-reported = a submission" in md
    from reidbench.leaderboard.add import load_submissions

    assert [s.verification for s in load_submissions(lb)] == ["verified"]
    # a verification file naming another model's sha256 is not believed
    filed = next(p for p in (lb / "submissions").iterdir() if not p.name.startswith("."))
    doc_path = filed / "verification.json"
    doc = json.loads(doc_path.read_text())
    doc_path.write_text(json.dumps({**doc, "verified_sha256": ["0" * 64]}))
    assert [s.verification for s in load_submissions(lb)] == ["self-reported"]
    doc_path.write_text(json.dumps(doc))
    # editing the filed files afterwards drops it back to self-reported (then to refused)
    rec = _record(filed)
    rec["created"] = "2000-01-01T00:00:00Z"
    _write_record(filed, rec)
    assert [s.verification for s in load_submissions(lb)] == ["self-reported"]


def test_verify_reruns_a_checkpoint_and_a_model_file(synth_copy, tmp_path, capsys):
    """Both other kinds of submission: an adapter checkpoint and a TorchScript model file."""
    torch = pytest.importorskip("torch")
    from reidbench.adapters import get_adapter, save_checkpoint

    class ClipNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(3, 6)

        def forward(self, clips):
            return self.proj(clips.mean(dim=(1, 3, 4)))

    torch.manual_seed(0)
    traced = torch.jit.trace(ClipNet().eval(), torch.randn(2, 4, 3, 32, 16))
    model = tmp_path / "clip.pt"
    torch.jit.save(traced, str(model), _extra_files={
        "reidbench.input": "clip", "reidbench.input_size": "32,16", "reidbench.seq_len": "4",
        "reidbench.normalize": "0.5,0.5,0.5;0.25,0.25,0.25", "reidbench.name": "tiny-clip"})

    root = synth_copy("mars", ids=8, seed=3)
    stmn = get_adapter("stmn", backbone="small", width=4)
    ckpt = tmp_path / "stmn.safetensors"
    save_checkpoint(ckpt, stmn.model.state_dict(), {"baseline": "stmn", "config": stmn.config,
                                                    "input_size": [64, 32]})
    for name, args, target in (("ckpt", ["--adapter", "stmn", "--checkpoint", str(ckpt)], ckpt),
                               ("model", ["--model", str(model)], model)):
        out = tmp_path / name
        assert main(["evaluate", "-p", PROTOCOL, "--data", str(root), "--out", str(out),
                     "--bootstrap", "20", "--device", "cpu", "--json", *args]) == 0, \
            capsys.readouterr().err
        capsys.readouterr()
        lb = tmp_path / f"lb-{name}"
        assert main(["leaderboard", "add", str(out), "--leaderboards", str(lb), "--verify",
                     str(tmp_path / "feats-not-there.npz")]) == 2
        assert "no such file" in capsys.readouterr().err
        assert main(["leaderboard", "add", str(out), "--leaderboards", str(lb), "--verify",
                     str(target), "--data", str(root)]) == 0, capsys.readouterr().err
        assert "verified" in capsys.readouterr().out
