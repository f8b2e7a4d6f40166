"""Object detection's own pieces: network targets from boxes (:mod:`.targets`), the loss (:mod:`.loss`),
boxes from the network's maps (:mod:`.decode`) and the validation scores and tuning (:mod:`.scoring`).
The training type that ties them into the engine is :mod:`core.training.types.detection`."""
