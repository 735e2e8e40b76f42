"""The judge: the course's evaluator architecture (ResNet18, ``fc = Linear(512, 24) + Sigmoid``), its top-k
accuracy and the course's checkpoint format (``model``), fitting a multi-label classifier split by scene
(``fit``), and the judge every number is read with, shipped, cached or trained once on a render it alone sees
(``cache``). No judge, and none of its data, enters a GAN's training; the fitting loop also trains the GAN's
auxiliary classifier (:mod:`lab5_utils.gan.classifier`) on the GAN's own images.
"""
