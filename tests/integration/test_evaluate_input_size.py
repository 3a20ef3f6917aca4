"""`reidbench evaluate` runs a checkpoint at the frame size it was trained at (meta input_size),
unless --height/--width say otherwise; a malformed recorded size is one error line."""

import torch

from reidbench.adapters import AdapterCard, ModuleAdapter, save_checkpoint
from reidbench.cli import main
from reidbench.engine import read_result


class AnySize(ModuleAdapter):
    """Mean colour of each frame, whatever its size; leaves the frame size to the engine."""

    card = AdapterCard(name="any-size", modes=("v2v",))

    def __init__(self):
        torch.manual_seed(0)
        super().__init__(torch.nn.Linear(3, 4))

    def forward_features(self, clips):
        return self.model(clips.mean(dim=(1, 3, 4)))

    def procedure(self, default):
        return default.override(seq_len=2)


ANY = f"{__name__}:AnySize"
WEIGHTS = AnySize().model.state_dict()


def _evaluate(capsys, root, ckpt, out, *extra):
    rc = main(["evaluate", "-p", "mars/v2v@1", "--data", root, "--adapter", ANY, "--checkpoint",
               str(ckpt), "--out", str(out), "--bootstrap", "0", "--json", *extra])
    return rc, capsys.readouterr().err.strip().splitlines()


def test_checkpoint_size_is_the_default_and_flags_override_it(synth_copy, tmp_path, capsys):
    root = synth_copy("mars")
    ckpt = tmp_path / "trained.safetensors"
    save_checkpoint(ckpt, WEIGHTS, {"adapter": "any-size", "input_size": [48, 24]})
    rc, err = _evaluate(capsys, root, ckpt, tmp_path / "a")
    assert rc == 0, err
    assert read_result(tmp_path / "a").record.procedure["input_size"] == (48, 24)
    rc, err = _evaluate(capsys, root, ckpt, tmp_path / "b", "--height", "40", "--width", "20")
    assert rc == 0, err
    assert read_result(tmp_path / "b").record.procedure["input_size"] == (40, 20)
    plain = tmp_path / "plain.safetensors"
    save_checkpoint(plain, WEIGHTS, {"adapter": "any-size"})
    rc, err = _evaluate(capsys, root, plain, tmp_path / "c")
    assert rc == 0, err
    assert read_result(tmp_path / "c").record.procedure["input_size"] == (256, 128)


def test_bad_sizes_are_one_line(synth_copy, tmp_path, capsys):
    root = synth_copy("mars")
    ckpt = tmp_path / "bad.safetensors"
    save_checkpoint(ckpt, WEIGHTS, {"adapter": "any-size", "input_size": [48, "wide"]})
    for extra, says in ((), "metadata 'input_size'"), (("--height", "40"), "--height/--width"):
        out = tmp_path / f"out{len(extra)}"
        rc, err = _evaluate(capsys, root, ckpt, out, *extra)
        assert rc == 2 and len(err) == 1 and says in err[0], err
        assert not out.exists()


class CardSized(AnySize):
    """Declares its own input size on its card (and no training size in its checkpoint)."""

    card = AdapterCard(name="card-sized", modes=("v2v",), input_size=(40, 16))


def test_the_card_size_is_used_when_the_checkpoint_records_none(synth_copy, tmp_path, capsys):
    root = synth_copy("mars")
    plain = tmp_path / "plain.safetensors"
    save_checkpoint(plain, WEIGHTS, {"adapter": "card-sized"})
    rc = main(["evaluate", "-p", "mars/v2v@1", "--data", root, "--adapter",
               f"{__name__}:CardSized", "--checkpoint", str(plain), "--out", str(tmp_path / "c"),
               "--bootstrap", "0", "--json"])
    assert rc == 0, capsys.readouterr().err
    assert read_result(tmp_path / "c").record.procedure["input_size"] == (40, 16)
