"""Errors the library raises. Each message says what was wrong and how to fix it.

The UI and the CLI catch :class:`SegStudioError` and show its message; anything else is a bug.
"""

from __future__ import annotations


class SegStudioError(Exception):
    """Base class of every error meant for the user."""


class InvalidInputError(SegStudioError, ValueError):
    """A value given by the user (a name, a colour, a choice) is not acceptable."""


class ImageImportError(SegStudioError):
    """A file could not be imported as an image (corrupt, unsupported, too large, 3D, ...)."""


class PagesUnknownError(ImageImportError):
    """A multi-page TIFF does not say what its pages are; the user must confirm they are channels."""


class DuplicateError(SegStudioError):
    """The thing exists already (same name, or the same image content)."""


class NotFoundError(SegStudioError, LookupError):
    """A project, image, label, training or file that was asked for does not exist."""


class AnnotationError(SegStudioError):
    """A shape or mask cannot be used as an annotation."""


class TrainingRuleError(SegStudioError):
    """A training configuration breaks one of the minimum training requirements."""


class StorageError(SegStudioError, OSError):
    """The disk is full or a file could not be written; nothing half-written was kept."""


class ModelPackageError(SegStudioError):
    """A model package is malformed, from a newer version, unsafe, or does not fit the image."""


class JobError(SegStudioError):
    """A queued job could not be run, cancelled or recovered."""
