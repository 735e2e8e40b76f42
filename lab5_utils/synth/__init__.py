"""The synthetic i-CLEVR renderer (the embedded default data): ``raycast`` (camera, ray-object hits), ``scene``
(CLEVR's colours, materials and placement), ``shade`` (lights, shadows, supersampling), ``render`` (whole data sets
in the real on-disk layout, or fresh scenes for given conditions). Uses numpy only, below every torch floor."""
