"""bioimageio.spec, used offline: validation never reaches for the network (the exported descriptions name
no URL; their files are local).

Imported only inside functions (the library loads pandas and xarray; pages must open fast).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InvalidInputError, ModelPackageError


def check_description(rdf: Path) -> None:
    """Validate the description at ``rdf`` (its files next to it) with bioimageio.spec; a
    :class:`ModelPackageError` lists what is wrong, in one line."""
    from bioimageio.spec import InvalidDescr, load_description

    descr = load_description(rdf, perform_io_checks=True)
    if isinstance(descr, InvalidDescr) or descr.validation_summary.status == "failed":
        raise ModelPackageError(f"the bioimage.io description is not valid: {errors(descr)}")


def check_license(license: str) -> str:
    """``license`` when the bioimage.io spec knows it as an SPDX licence identifier."""
    from bioimageio.spec.generic.v0_3 import LicenseId
    from pydantic import ValidationError

    try:
        LicenseId(license)
    except ValidationError:
        raise InvalidInputError(
            f"license {license!r} is not an SPDX licence identifier that bioimage.io knows; use one such as "
            "CC-BY-4.0, CC0-1.0, MIT or BSD-3-Clause (https://spdx.org/licenses/)"
        ) from None
    return license


def errors(descr) -> str:
    """The validation errors of ``descr`` in one line (each shortened)."""
    details = descr.validation_summary.details
    found = [f"{'.'.join(map(str, e.loc))}: {' '.join(str(e.msg).split())[:200]}" for d in details
             for e in d.errors]
    return "; ".join(found)[:1000] or "no error details"
