"""The judge: the course's evaluator architecture (ResNet18, ``fc = Linear(512, 24) + Sigmoid``) and its top-k
accuracy (``model``), training one on a render it alone sees (``fit``), and the judge every number is read with,
shipped, cached or trained once (``cache``). Nothing here is used by a GAN's training loss."""
