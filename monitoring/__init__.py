"""Drift and fairness monitoring of the scoring service (``kykytutka monitor``)."""
