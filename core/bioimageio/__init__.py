"""The BioImage Model Zoo (bioimage.io, model spec 0.5): export segstudio segmentation models as bioimage.io
packages, and import bioimage.io packages.

* export: :mod:`.architecture` (the network's source file that every exported package carries,
  self-contained), :mod:`.tensors` (a model card as the spec's tensors, pre- and post-processing),
  :mod:`.samples` (the test image), :mod:`.description` (``rdf.yaml``), :mod:`.docs` (README and cover),
  :mod:`.export` (:func:`export_bioimageio`);
* import of packages made elsewhere (segstudio's own exports import as segstudio packages,
  :mod:`core.inference.package_io`): :mod:`.rdf` (the description, checked), :mod:`.processing` (the
  spec's pre- and post-processing steps), :mod:`.runtime` (the TorchScript as Apply runs it),
  :mod:`.importer` (safe reading of a ZIP or folder);
* :mod:`.validation`: bioimageio.spec, imported only inside functions (it loads pandas and xarray; pages
  must open fast), never reaching for the network.
"""

from __future__ import annotations

from core.bioimageio.export import export_bioimageio, export_refusal

__all__ = ["export_bioimageio", "export_refusal"]
