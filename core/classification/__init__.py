"""Image classification: one class per image (or ROI crop), with the probabilities of every class.

Modules, one concept each (no database, no streamlit):

- :mod:`.examples`  the data interface: :class:`~.examples.ClassExample` (``read()`` -> ``(C, H, W)``)
- :mod:`.fitting`   how an image becomes the network's input (resize, per-image normalisation, tiles)
- :mod:`.data`      the examples fitted once into memory; the seeded order of the training batches
- :mod:`.augment`   batch augmentation (mirroring, rotation, scale/shift, intensity and colour, noise)
- :mod:`.model`     the network: a registry encoder, global average pooling, a linear layer
- :mod:`.views`     class probabilities averaged over test-time views
- :mod:`.card`      the model card
- :mod:`.train`     :func:`~.train.train_classifier`
- :mod:`.predict`   :func:`~.predict.load_classifier` and :class:`~.predict.Classifier`
- :mod:`.defaults`  the configuration defaults the training-type entry applies (no torch import)
"""
