"""lab5_utils: conditional GANs for i-CLEVR (64x64, 24 multi-label classes).

One folder per concern, imports running one way (README "Layout"): the ground floor (``labels``, ``paths``,
``io``, ``device``, ``image_ops``), then ``synth`` (the renderer), ``data``, ``judge`` (the course's evaluator),
``gan`` (models, losses, training), ``evaluation`` (metrics, runs, shipped weights), ``report`` (figures,
notebook helpers, widgets) and ``cli`` (``python -m lab5_utils``). Importing the package has no side effects.
"""

__version__ = "0.1.0"
