"""What a reader sees: image grids (``viz``), figures and tables of runs (``figures``), the notebooks' parameters
and helpers (``params``, ``notebook``) and the label-picking preview widget (``widgets``)."""
