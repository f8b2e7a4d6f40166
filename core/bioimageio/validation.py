"""bioimageio.spec and bioimageio.core, used offline: validation never reaches for the network.

Imported only inside functions (the libraries load pandas and xarray; pages must open fast).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ModelPackageError


def check_description(rdf: Path) -> None:
    """Validate the description at ``rdf`` (its files next to it) with bioimageio.spec; a
    :class:`ModelPackageError` lists what is wrong."""
    from bioimageio.spec import InvalidDescr, load_description

    descr = load_description(rdf, perform_io_checks=True)
    if isinstance(descr, InvalidDescr) or descr.validation_summary.status == "failed":
        raise ModelPackageError(f"the bioimage.io description is not valid: {errors(descr)}")


def errors(descr) -> str:
    """The validation errors of ``descr`` in one line."""
    details = descr.validation_summary.details
    found = [f"{'.'.join(map(str, e.loc))}: {e.msg}" for d in details for e in d.errors]
    return "; ".join(found)[:1500] or "no error details"
