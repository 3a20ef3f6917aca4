"""reidbench: the benchmark and leaderboard suite for video-based person re-identification."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
