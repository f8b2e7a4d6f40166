"""The training engine as a plain library: data sources, split rules, sampling and augmentation, the smp
U-Net registry, losses, the training loop, and the model package. No database, no UI.

Modules, one concept each:

- :mod:`.config`         TrainConfig (to_dict / from_dict for the database)
- :mod:`.sources`        TrainingImage (region readers) and ArrayImage (in-memory arrays)
- :mod:`.split`          minimum training requirements and the random / manual split
- :mod:`.normalization`  per-channel percentile normalisation
- :mod:`.sampling`       biased patch sampling and network targets; :mod:`.augment` augmentation;
  :mod:`.loader` background batch prefetching
- :mod:`.models`         ENCODERS registry, build_model, output layout
- :mod:`.losses`         Dice + focal (+ Lovász hinge, semantic) with an ignore mask
- :mod:`.lr_range`, :mod:`.batch`, :mod:`.device`   learning rate, batch size, device and precision
- :mod:`.loop`           train(); :mod:`.validation` whole-image validation and post-processing tuning;
  :mod:`.checkpoint` checkpoints
- :mod:`.package`        the model package (weights, card, TorchScript); :mod:`.predict` predict_maps

Import what you need from the submodules; importing this package starts nothing.
"""
