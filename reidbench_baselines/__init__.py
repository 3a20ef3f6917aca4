"""The five published baselines, each a plugin registered under ``reidbench.adapters``."""
