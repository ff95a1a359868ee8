"""The models as they are registered and scored: the alert classifier, the segmentation, the one
registered ``KykytutkaModel`` that carries both, the registry (names, aliases, tracking, loading),
and the evaluation and fairness measures that the promotion gate and monitoring share.

Import rule: ``data_contracts`` <- ``features`` <- ``models`` <- {``training``, ``serving``,
``monitoring``}; nothing here imports training, serving or monitoring (tests/test_architecture.py).
"""
