"""The BioImage Model Zoo (bioimage.io, model spec 0.5): export segstudio segmentation models as bioimage.io
packages, and import bioimage.io packages.

* :mod:`.architecture`: the network's source file that every exported package carries (self-contained);
* :mod:`.tensors`: a model card as the spec's tensors, pre- and post-processing;
* :mod:`.description`: the ``rdf.yaml`` data; :mod:`.docs`: README and cover;
* :mod:`.export`: :func:`export_bioimageio`;
* :mod:`.offline`: bioimageio.spec and bioimageio.core, imported only inside functions (they load pandas and
  xarray; pages must open fast) and kept off the network.
"""

from __future__ import annotations

from core.bioimageio.export import export_bioimageio, export_refusal

__all__ = ["export_bioimageio", "export_refusal"]
