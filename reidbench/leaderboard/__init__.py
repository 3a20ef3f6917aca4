"""Leaderboard data: the versioned schema of published-result files, their validator and io.

Published results from papers live in ``reidbench/leaderboard/published/*.json`` (package data,
shipped in the wheel; one file per paper table, schema ``reidbench.leaderboard/1``, documented in
``leaderboards/SCHEMA.md``).
"""

from __future__ import annotations

from reidbench.leaderboard.io import (
    leaderboard_files,
    read_json,
    read_leaderboard,
    write_leaderboard,
)
from reidbench.leaderboard.records import (
    LeaderboardFile,
    cell_rows,
    decimals,
    load_leaderboards,
    result_rows,
    statistic_rows,
)
from reidbench.leaderboard.schema import (
    AP_UNKNOWN,
    SCHEMA_ID,
    check_leaderboard,
    validate_leaderboard,
)
from reidbench.leaderboard.validate import ValidationReport, detect_kind, validate_file

__all__ = [
    "AP_UNKNOWN",
    "SCHEMA_ID",
    "LeaderboardFile",
    "ValidationReport",
    "cell_rows",
    "check_leaderboard",
    "decimals",
    "detect_kind",
    "leaderboard_files",
    "load_leaderboards",
    "read_json",
    "read_leaderboard",
    "result_rows",
    "statistic_rows",
    "validate_file",
    "validate_leaderboard",
    "write_leaderboard",
]
