"""Measuring generators: seeded sampling and the judge's ceiling on real renders (``sampling``), the numbers
(``metrics``: accuracy over seeds, per class and object count, exact set, unmatched control, Frechet distance), the
measurement built once and applied to any generator (``measurement``: conditions, judges, ceiling, Frechet
reference), training-and-measuring a preset into a run folder (``experiment``), and the shipped, measured result
under ``weights/`` (``weights``)."""
