"""The committed published tables equal the papers' supplements cell for cell, in both directions.

The supplements' text copies ("seed" files, one ``<paper>-supplement.txt`` per paper) are not part
of this repository: the maintainers keep them beside the checkout, in the ``seeds`` folder of
``../shared``, and these tests are skipped where that folder is absent. The printed tables are
parsed here, independently of how the published records (reidbench/leaderboard/published/) were
written: each parser reads the header lines of the printed table (dataset groups, metric names) and
its rows. Every transcribed number must equal its printed cell with the printed precision (the
printed string, not just the float), every printed cell must be transcribed, and no record may
hold a cell the supplement does not print.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reidbench.leaderboard import load_leaderboards

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"
PUBLISHED = ROOT / "leaderboards"

pytestmark = pytest.mark.skipif(
    not SEEDS.is_dir(),
    reason=f"seed supplements not found at {SEEDS} (CI has ../shared beside the checkout)")

DATASET_WORDS = {"MARS": "mars", "DukeV": "dukev", "DukeMTMC-VideoReID": "dukev",
                 "DukeMTMC": "dukev", "iLIDS-VID": "ilidsvid"}
MISSING = ("-", "_")


def metric_name(header: str) -> str:
    if header == "mAP":
        return "mAP"
    m = re.fullmatch(r"(?:R-?|top-|rank-)(\d+)", header)
    assert m, f"unknown metric header {header!r}"
    return f"rank{m.group(1)}"


def seed_lines(name: str) -> list[str]:
    return (SEEDS / name).read_text(encoding="utf-8").splitlines()


def block(lines: list[str], start: str, stop: str) -> tuple[int, list[str]]:
    """Index of the first line starting with ``start`` and the lines after it up to ``stop``."""
    i = next(k for k, line in enumerate(lines) if line.startswith(start))
    out = []
    for line in lines[i + 1:]:
        if line.startswith(stop):
            break
        if line.strip():
            out.append(line)
    return i, out


def grouped_columns(group_line: str, metric_line: str) -> list[tuple[str, str, str]]:
    """(dataset, metric, header) per value column. Groups are split where the metric sequence
    restarts (mAP again, or a rank not larger than the previous), matched to the group names in
    order; the text copies' tab positions of group names are not reliable."""
    groups = [DATASET_WORDS[g.split(" [")[0]] for g in group_line.split("\t")
              if g.split(" [")[0] in DATASET_WORDS]
    headers = [h for h in metric_line.split("\t") if h.strip()]
    cols, g, last = [], -1, None
    for h in headers:
        name = metric_name(h)
        rank = int(name[4:]) if name.startswith("rank") else None
        if last is None or name == "mAP" or (rank is not None and last is not None
                                             and last != "mAP" and rank <= int(last[4:])):
            g += 1
        cols.append((groups[g], name, h))
        last = name
    assert g == len(groups) - 1, (group_line, metric_line)
    return cols


@pytest.fixture(scope="module")
def files():
    return {f.key: f for f in load_leaderboards(PUBLISHED)}


def compare(file, seed_rows, columns):
    """seed_rows: list of lists of printed cells (one per column). Checks both directions."""
    by_key = {(r["row"], r["dataset"]): r for r in file.records}
    expected = set()
    for row, cells in enumerate(seed_rows):
        for ds in dict.fromkeys(d for d, _, _ in columns):
            ds_cells = {m: cells[i] for i, (d, m, _) in enumerate(columns) if d == ds}
            if all(c in MISSING for c in ds_cells.values()):
                assert (row, ds) not in by_key, f"{file.key} row {row} {ds}: all '-' in the seed"
                continue
            expected.add((row, ds))
            rec = by_key.get((row, ds))
            assert rec is not None, f"{file.key}: seed row {row} ({ds}) not transcribed"
            assert set(rec["metrics"]) | set(rec["not_reported"]) == set(ds_cells), rec["id"]
            for m, text in ds_cells.items():
                if text in MISSING or text == "":
                    assert rec["not_reported"].get(m) == text, (rec["id"], m, text)
                else:
                    cell = rec["metrics"][m]
                    assert cell["printed"] == text, (rec["id"], m, cell["printed"], text)
                    assert cell["value"] == float(text), (rec["id"], m)
    assert set(by_key) == expected, f"{file.key}: records the seed does not print: " \
        f"{sorted(set(by_key) - expected)}"
    declared = [(c["dataset"], c["metric"], c["header"]) for c in file.data["table"]["columns"]]
    assert sorted(declared) == sorted(columns), file.key


# ------------------------------------------------------------------ DenseIL
def test_denseil_table2(files):
    lines = seed_lines("denseil-supplement.txt")
    i, rows = block(lines, "Methods\tProc.", "Table 2:")
    columns = grouped_columns(lines[i], rows[0])
    rows = [r.split("\t") for r in rows[1:]]
    assert len(rows) == 25 and all(len(r) == 3 + len(columns) for r in rows)
    f = files["denseil-table2"]
    compare(f, [r[3:] for r in rows], columns)
    for rec in f.records:
        label, proc, backbone = rows[rec["row"]][:3]
        assert rec["label"] == label and rec["backbone"] == backbone
        if proc == "-":
            assert "cited" not in rec and rec["method"] == "DenseIL"
        else:
            assert rec["cited"]["venue"] == proc
            assert rec["cited"]["ref"] == re.search(r"\[\d+\]", label).group(0)
    assert len(f.records) == 54  # 25 rows x 3 datasets minus the (row, dataset) groups all '-'


def test_denseil_table1(files):
    lines = seed_lines("denseil-supplement.txt")
    i, rows = block(lines, "Datasets\tMARS", "Table 1:")
    labels = [c for c in lines[i].split("\t")[1:] if c.strip()]
    f = files["denseil-table1"]
    header_to_field = {fld["header"]: fld["name"] for fld in f.data["table"]["fields"]}
    recs = f.records
    assert [r["label"] for r in recs] == labels
    assert [r["dataset"] for r in recs] == [DATASET_WORDS[lab.split(" [")[0]] for lab in labels]
    seen = 0
    for row in rows:
        cells = [c for c in row.split("\t") if c.strip()]
        name = header_to_field[cells[0]]
        for rec, text in zip(recs, cells[1:], strict=True):
            cell = rec["statistics"][name]
            assert cell["printed"] == text
            assert cell["value"] == (int(text.replace(",", "")) if text[0].isdigit() else text)
            seen += 1
    assert seen == sum(len(r["statistics"]) for r in recs) == 18


# ------------------------------------------------------------------ COSAM
def _cosam_two_dataset(files, key, start, stop, n_rows):
    lines = seed_lines("cosam-supplement.txt")
    i, rows = block(lines, start, stop)
    columns = grouped_columns(lines[i], rows[0])
    rows = [r.split("\t") for r in rows[1:]]
    assert len(rows) == n_rows
    compare(files[key], [r[1:] for r in rows], columns)
    for rec in files[key].records:
        assert rec["label"] == rows[rec["row"]][0]
    return files[key]


def test_cosam_table1(files):
    f = _cosam_two_dataset(files, "cosam-table1", "frame selection\tMARS", "Table 1.", 2)
    assert {r["axes"]["frame_selection"] for r in f.records} == {"sequential", "random"}


def test_cosam_table3(files):
    f = _cosam_two_dataset(files, "cosam-table3", "Attention layer\tMARS", "Table 3.", 3)
    assert all(r["axes"]["cosam_stages"] == [4, 5] for r in f.records)


def _norm(label: str) -> str:
    return re.sub(r"\s+", " ", label.replace("$", "").replace("TP_{avg}", "TP_avg")).strip()


def test_cosam_table2(files):
    lines = seed_lines("cosam-supplement.txt")
    _, rows = block(lines, "\tTrain set\tTest set", "Table 2.")
    headers = [h for h in lines[[k for k, line in enumerate(lines)
                                 if line.startswith("\tTrain set")][0]].split("\t")[3:]]
    names = [metric_name(h) for h in headers]
    f = files["cosam-table2"]
    recs = sorted(f.records, key=lambda r: r["row"])
    assert len(recs) == len(rows) == 4
    for rec, row in zip(recs, rows, strict=True):
        label, train, test, *cells = row.split("\t")
        assert rec["label"] == _norm(label)
        assert rec["dataset"] == DATASET_WORDS[test]
        assert rec["axes"]["train_dataset"] == rec["protocol"]["train_dataset"] == \
            DATASET_WORDS[train]
        assert rec["axes"]["cosam_stages"] == ([] if label == "No COSAM" else [4, 5])
        assert not rec["not_reported"]
        printed = {m: c["printed"] for m, c in rec["metrics"].items()}
        assert printed == dict(zip(names, cells, strict=True))
        assert all(c["value"] == float(c["printed"]) for c in rec["metrics"].values())


SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")


def test_cosam_table4(files):
    lines = seed_lines("cosam-supplement.txt")
    i, rows = block(lines, "\tCOSAM _i\tMARS", "Table 4.")
    columns = grouped_columns(lines[i], rows[0])
    seed_rows, keys, backbone = [], [], None
    for row in rows[1:]:
        tokens = [t for t in row.split("\t") if t.strip()]
        values = [t for t in tokens if re.fullmatch(r"\d+\.\d+", t)]
        labels = tokens[: len(tokens) - len(values)]
        for lab in labels:
            if lab in ("ResNet50", "SE-ResNet50"):
                backbone = lab
        stage_label = next(lab for lab in labels if "COSAM" in lab)
        stages = [] if stage_label.startswith("No COSAM") else [
            int(d) for d in re.findall(r"\d", stage_label.translate(SUBSCRIPTS))]
        # a row printed with fewer cells than columns is read left to right
        seed_rows.append(values + [""] * (len(columns) - len(values)))
        keys.append((backbone, stages))
    assert len(seed_rows) == 18 and sum(len(v) for v in seed_rows if "" not in v) == 17 * 8
    f = files["cosam-table4"]
    compare(f, seed_rows, columns)
    for rec in f.records:
        assert (rec["backbone"], rec["axes"]["cosam_stages"]) == keys[rec["row"]]
        assert rec["axes"]["backbone"] == rec["backbone"]


def test_cosam_table5(files):
    lines = seed_lines("cosam-supplement.txt")
    i, rows = block(lines, "Method\tiLIDS-VID", "Table 5.")
    columns = grouped_columns(lines[i], rows[0])
    rows = [r.split("\t") for r in rows[1:]]
    f = files["cosam-table5"]
    compare(f, [r[1:] for r in rows], columns)
    for rec in f.records:
        assert rec["label"] == _norm(rows[rec["row"]][0])
        assert rec["ap_variant"] is None  # no mAP printed


# ------------------------------------------------------------------ STMN
def _stmn_cell(text: str) -> tuple[str, str, str | None]:
    mean, std = re.findall(r"\d+\.\d+", text)
    mark = "best" if r"\textbf" in text else "second" if r"\underline" in text else None
    return mean, std, mark


@pytest.mark.parametrize("key,start,stop,axis", [
    ("stmn-table1", "\u041c\t\u039d\trank-1", "Table 1.", ("M", "N")),
    ("stmn-table2", "\u03b1\trank-1", "Table 2.", ("alpha",)),
    ("stmn-table3", "L\trank-1", "Table 3.", ("L",)),
])
def test_stmn_tables(files, key, start, stop, axis):
    lines = seed_lines("stmn-supplement.txt")
    i, rows = block(lines, start, stop)
    headers = lines[i].split("\t")[len(axis):]
    names = [metric_name(h) for h in headers]
    f = files[key]
    recs = sorted(f.records, key=lambda r: r["row"])
    assert len(recs) == len(rows)
    carried: list[str] = []
    for rec, row in zip(recs, rows, strict=True):
        cells = row.split("\t")
        axes_text = [a or (carried[k] if carried else a) for k, a in enumerate(cells[:len(axis)])]
        carried = axes_text
        assert rec["axes"] == {a: float(t) if a == "alpha" else int(t)
                               for a, t in zip(axis, axes_text, strict=True)}
        assert rec["trials"] == 5 and not rec["not_reported"]
        assert set(rec["metrics"]) == set(names)
        for name, text in zip(names, cells[len(axis):], strict=True):
            mean, std, mark = _stmn_cell(text)
            cell = rec["metrics"][name]
            assert (cell["printed"], cell["std_printed"], cell.get("mark")) == (mean, std, mark)
            assert (cell["value"], cell["std"]) == (float(mean), float(std))
    assert [(c["metric"], c["header"]) for c in f.data["table"]["columns"]] == list(
        zip(names, headers, strict=True))


# ------------------------------------------------------------------ READ
def test_read_table_s1(files):
    lines = seed_lines("read-supplement.txt")
    i, rows = block(lines, "non-local\ttop-1", "- (1)")
    columns = [("dukev", metric_name(h), h) for h in lines[i].split("\t")[1:]]
    rows = [r.split("\t") for r in rows]
    f = files["read-table-s1"]
    compare(f, [r[1:] for r in rows], columns)
    for rec in f.records:
        assert rec["axes"]["non_local"] == ("\u2713" in rows[rec["row"]][0])
        assert rec["ap_variant"] == "sklearn_legacy" and rec["protocol"]["mode"] == "i2v"


def test_every_seed_table_has_a_file(files):
    assert set(files) == {"denseil-table1", "denseil-table2", "cosam-table1", "cosam-table2",
                          "cosam-table3", "cosam-table4", "cosam-table5", "stmn-table1",
                          "stmn-table2", "stmn-table3", "read-table-s1"}
