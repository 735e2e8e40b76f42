"""Conditional GANs: configs and presets (``config``), losses, the architectures (``models/``, one family per
file), the frozen auxiliary classifier of the final recipe (``classifier``), one training step (``step``), how long a
run trains (``budget``), the training engine and its run folder (``trainer``, ``run_folder``, ``log``, ``stream``)
and the checkpoint format (``checkpoint``)."""
