"""The synthetic i-CLEVR renderer (the embedded default data): ``raycast`` (camera, ray-object hits), ``scene``
(CLEVR's colours, materials and placement), ``shade`` (lights, shadows, supersampling), ``frames`` (one scene's
frames, what a worker process runs: numpy and PIL only, never torch) and ``render`` (whole data sets in the real
on-disk layout, or fresh scenes for given conditions)."""
