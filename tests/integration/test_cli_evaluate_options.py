"""`evaluate`: several protocols, one split, a quick --limit check, no silent overwrite."""

import json

from reidbench.cli import main
from reidbench.engine.results import read_result


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()


def test_several_protocols_in_one_call_land_in_subfolders(synth_copy, features_for, tmp_path,
                                                          capsys):
    root = synth_copy("mars")
    features_for(tmp_path / "f.npz", "mars/v2v@1", root)
    out = tmp_path / "res"
    assert main(["evaluate", "-p", "mars/v2v@1,mars/v2v-torchreid@1", "-p", "mars/v2v@1",
                 "--data", root, "--features", str(tmp_path / "f.npz"), "-o", str(out),
                 "--bootstrap", "0"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["mars-v2v-1", "mars-v2v-torchreid-1"]
    a, b = (read_result(out / n).record for n in ("mars-v2v-1", "mars-v2v-torchreid-1"))
    assert a.protocol.id == "mars/v2v@1" and b.protocol.id == "mars/v2v-torchreid@1"


def test_an_existing_result_is_replaced_only_with_overwrite(synth_copy, features_for, tmp_path,
                                                            capsys):
    root = synth_copy("mars")
    features_for(tmp_path / "f.npz", "mars/v2v@1", root)
    args = ["evaluate", "-p", "mars/v2v@1", "--data", root, "--features", str(tmp_path / "f.npz"),
            "--out", str(tmp_path / "r"), "--bootstrap", "0"]
    assert main(args) == 0
    before = (tmp_path / "r" / "results.json").read_bytes()
    capsys.readouterr()
    assert main([*args, "--seed", "1"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "holds a result already" in err[0] and "--overwrite" in err[0]
    assert (tmp_path / "r" / "results.json").read_bytes() == before
    assert main([*args, "--seed", "1", "--overwrite"]) == 0
    assert json.loads((tmp_path / "r" / "results.json").read_text())["seed"] == 1


def test_one_split_of_a_multi_split_protocol(synth_copy, features_for, tmp_path, capsys):
    root = synth_copy("ilidsvid")
    features_for(tmp_path / "split3.npz", "ilidsvid/v2v@1", root, split="split3")
    assert main(["evaluate", "-p", "ilidsvid/v2v@1", "--data", root, "--features",
                 str(tmp_path / "{split}.npz"), "--split", "3", "--out", str(tmp_path / "r"),
                 "--bootstrap", "0"]) == 0
    record = read_result(tmp_path / "r").record
    assert record.split_names == ("split3",)


def test_limit_is_a_recorded_quick_check_that_is_never_filed(synth_copy, features_for, tmp_path,
                                                             capsys):
    root = synth_copy("mars", ids=12)
    features_for(tmp_path / "f.npz", "mars/v2v@1", root)
    full = read_result_of(["--out", str(tmp_path / "full")], root, tmp_path)
    capsys.readouterr()
    quick = read_result_of(["--out", str(tmp_path / "quick"), "--limit", "3"], root, tmp_path)
    err = capsys.readouterr().err
    assert quick.limit == 3 and quick.n_queries == 3 < full.n_queries
    assert "warning: a quick check on at most 3 queries" in err
    assert main(["leaderboard", "add", str(tmp_path / "quick"), "--leaderboards",
                 str(tmp_path / "lb")]) == 2
    assert "a quick check on 3 queries" in _err(capsys)[-1]
    assert main(["evaluate", "-p", "mars/v2v@1", "--data", root, "--features",
                 str(tmp_path / "f.npz"), "--out", str(tmp_path / "x"), "--limit", "0"]) == 2
    assert _err(capsys)[-1].startswith("error: --limit ")


def read_result_of(extra, root, tmp_path):
    assert main(["evaluate", "-p", "mars/v2v@1", "--data", root, "--features",
                 str(tmp_path / "f.npz"), "--bootstrap", "0", *extra]) == 0
    return read_result(extra[1]).record


def test_limit_keeps_the_kept_queries_positives():
    from reidbench.engine.evalset import EvalItem, EvalSet, limit_evalset

    q = tuple(EvalItem(f"q{i}", i % 5, 0, ("f",)) for i in range(10))
    g = tuple(EvalItem(f"g{i}", i % 7, 1, ("f",)) for i in range(70))
    sub = limit_evalset(EvalSet("p", "s", q, g), 4)
    assert len(sub.query) == 4 and sub.ids() == EvalSet("p", "s", q, g).ids()
    kept = {x.pid for x in sub.query}
    for pid in kept:  # every positive of a kept query stays
        assert {x.id for x in g if x.pid == pid} <= {x.id for x in sub.gallery}
    assert len(sub.gallery) < len(g)
    assert limit_evalset(EvalSet("p", "s", q, g), 50).query == q


def test_bad_options_are_one_line_before_any_work(synth_copy, features_for, tmp_path, capsys):
    import random

    root = synth_copy("mars")
    rng = random.Random(0)
    base = ["evaluate", "--data", root, "--adapter", "stmn", "--config", "backbone=small"]
    cases = [(["--batch-size", str(10 ** rng.randint(6, 40))], "--batch-size"),
             (["--batch-size", "0"], "--batch-size"), (["--workers", "-1"], "--workers"),
             (["--height", "0", "--width", "0"], "--height"),
             (["--height", "64", "--width", str(-rng.randint(1, 9))], "--width"),
             (["--height", "64"], "--height/--width"), (["--bootstrap", "-1"], "--bootstrap"),
             (["--limit", str(-rng.randint(0, 9))], "--limit"), (["--config", "[1]"], "--config"),
             (["--config", "M"], "--config"), (["--device", "tpu"], "--device"),
             (["--split", "7"], "--split")]
    cases = [(["-p", "mars/v2v@1", *extra], flag) for extra, flag in cases]
    cases += [(["-p", ","], "--protocol"), (["-p", "ilidsvid/v2v@1", "--split", "10"], "--split")]
    for k, (extra, flag) in enumerate(cases):
        out = tmp_path / f"o{k}"
        assert main([*base, "--out", str(out), *extra]) == 2, extra
        err = _err(capsys)
        assert len(err) == 1 and err[0].startswith(f"error: {flag} "), (extra, err)
        assert not out.exists()
