"""Measuring generators: seeded sampling and the judge's ceiling on real renders (``sampling``), the metrics
(``metrics``: accuracy over seeds, per class and object count, exact set, unmatched control, Frechet distance in
judge features), training-and-measuring a preset into a run folder (``experiment``), and the shipped, measured
result under ``weights/`` (``weights``)."""
