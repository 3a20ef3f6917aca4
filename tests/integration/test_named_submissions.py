"""Named submissions: --name/--description/--backbone/--url stored in the record, shown in the
leaderboards and figure legends; a re-ranked evaluation of the same features is its own entry."""

from __future__ import annotations

import json

import pytest

from reidbench.cli import main
from reidbench.errors import InputError
from reidbench.records import ResultRecord, SubmissionInfo, read_result

NAMED = ["--name", "TinyNet", "--description", "ResNet-18, 40 epochs on MARS train",
         "--backbone", "R18", "--url", "https://example.org/tinynet"]


@pytest.fixture(scope="module")
def copy(tmp_path_factory, synth_copy, features_for):
    tmp = tmp_path_factory.mktemp("named")
    root = synth_copy("mars", ids=10)
    features_for(tmp / "f.npz", "mars/v2v@1", root)
    return tmp, root


def _evaluate(tmp, root, out, *extra):
    return main(["evaluate", "-p", "mars/v2v@1", "--data", str(root), "--features",
                 str(tmp / "f.npz"), "--out", str(out), "--bootstrap", "0", *extra])


def test_named_result_in_the_record_the_board_and_the_legend(copy, tmp_path, capsys):
    tmp, root = copy
    assert _evaluate(tmp, root, tmp_path / "named", *NAMED) == 0
    sub = read_result(tmp_path / "named").record.submission
    assert sub == SubmissionInfo(name="TinyNet", description="ResNet-18, 40 epochs on MARS train",
                                 backbone="R18", url="https://example.org/tinynet")
    lb = tmp_path / "lb"
    assert main(["leaderboard", "add", str(tmp_path / "named"), "--leaderboards", str(lb)]) == 0
    assert main(["leaderboard", "build", "--out", str(tmp_path / "o"), "--leaderboards",
                 str(lb), "--format", "md,html"]) == 0
    md = (tmp_path / "o" / "leaderboards" / "leaderboard-mars-v2v-1.md").read_text()
    (row,) = [line for line in md.splitlines() if "TinyNet" in line and line.startswith("|")]
    cells = [c.strip() for c in row.split("|")]
    assert cells[2].startswith("TinyNet") and cells[4] == "R18"
    assert "- TinyNet (" in md and "https://example.org/tinynet" in md  # its note
    page = (tmp_path / "o" / "leaderboards" / "leaderboard-mars-v2v-1.html").read_text()
    assert "description: ResNet-18, 40 epochs on MARS train" in page  # the row's hover title
    from reidbench.report.curves import cmc_curve, named_results

    ax = cmc_curve(named_results([tmp_path / "named"])).axes[0]
    assert ax.get_legend().get_texts()[0].get_text() == "TinyNet (mars/v2v@1)"


def test_reranked_evaluation_is_a_distinct_entry(copy, tmp_path, capsys):
    tmp, root = copy
    lb = tmp_path / "lb"
    assert _evaluate(tmp, root, tmp_path / "plain") == 0
    assert _evaluate(tmp, root, tmp_path / "rr", "--rerank", "--name", "plain + re-ranking") == 0
    assert main(["leaderboard", "add", str(tmp_path / "plain"), "--leaderboards", str(lb)]) == 0
    assert main(["leaderboard", "add", str(tmp_path / "rr"), "--leaderboards", str(lb)]) == 0
    assert len(list((lb / "submissions").iterdir())) == 2
    capsys.readouterr()
    # the same features under the same procedure again: a duplicate, whatever it is called
    assert _evaluate(tmp, root, tmp_path / "again", "--name", "another name") == 0
    assert main(["leaderboard", "add", str(tmp_path / "again"), "--leaderboards", str(lb)]) == 2
    assert "duplicate" in capsys.readouterr().err


def test_leaderboard_add_names_the_filed_copy(copy, tmp_path):
    tmp, root = copy
    assert _evaluate(tmp, root, tmp_path / "r", "--name", "old", "--url",
                     "https://example.org/x") == 0
    lb = tmp_path / "lb"
    assert main(["leaderboard", "add", str(tmp_path / "r"), "--leaderboards", str(lb),
                 "--name", "New name", "--backbone", "R50"]) == 0
    (filed,) = (lb / "submissions").iterdir()
    sub = read_result(filed).record.submission
    assert (sub.name, sub.backbone, sub.url) == ("New name", "R50", "https://example.org/x")
    assert read_result(tmp_path / "r").record.submission.name == "old"  # the source untouched
    assert main(["validate", str(filed)]) == 0  # the filed copy is still a consistent record


@pytest.mark.parametrize("flag, value, expected", [
    ("--url", "ftp://example.org", "an http:// or https:// address"),
    ("--name", "x" * 101, "one line of 1..100 characters"),
    ("--backbone", "a\x1bb", "without control characters"),
])
def test_bad_submission_text_is_one_line_before_any_work(copy, tmp_path, capsys, flag, value,
                                                         expected):
    tmp, root = copy
    assert _evaluate(tmp, root, tmp_path / "bad", flag, value) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and expected in err[0]
    assert not (tmp_path / "bad").exists()


def test_record_validator_checks_the_submission(copy, tmp_path):
    tmp, root = copy
    assert _evaluate(tmp, root, tmp_path / "r", "--name", "ok") == 0
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    data["submission"]["url"] = "javascript:alert(1)"
    record, problems = ResultRecord.validate(data, "results.json")
    assert record is None and "field submission.url" in problems[0]
    with pytest.raises(InputError, match="unknown field"):
        SubmissionInfo.from_options(nickname="x")
