"""lab5_utils: conditional GANs for i-CLEVR (64x64, 24 multi-label classes).

Submodules are imported lazily by their users; importing the package has no side effects.
"""

__version__ = "0.1.0"
