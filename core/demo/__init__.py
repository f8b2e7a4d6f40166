"""The demo project: six CC0 nuclei images with their nuclei imported as annotations (see ATTRIBUTION.txt)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from core.annotation_import import find_mask, import_mask
from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Project
from core.projects import create_project, import_files

DEMO_DIR = Path(__file__).resolve().parent / "nuclei"
DEMO_NAME = "Demo: fluorescent nuclei"
DEMO_LABEL = ("nucleus", "#3cb44b")


def create_demo_project(settings: Settings, engine: Engine, name: str = DEMO_NAME, *,
                        owner_id: int | None = None) -> Project:
    """Create the demo project (with a numbered name if one exists) ready for the training wizard;
    ``owner_id``: the account that asked for it (its owner, when accounts are on)."""
    with session_scope(engine) as session:
        taken = {p.name.lower() for p in repo.list_projects(session)}
    final, n = name, 2
    while final.lower() in taken:
        final, n = f"{name} ({n})", n + 1
    project = create_project(settings, engine, final, owner_id=owner_id)
    with session_scope(engine) as session:
        label = repo.add_label(session, project.id, *DEMO_LABEL)  # type: ignore[arg-type]
    files = sorted((DEMO_DIR / "images").glob("*.png"))
    report = import_files(settings, engine, project.id, [(f.name, f) for f in files])  # type: ignore[arg-type]
    for image in report.imported:
        mask = find_mask(DEMO_DIR / "masks", Path(image.name).stem)
        if mask is not None:
            import_mask(settings, engine, image.id, mask, label.id)  # type: ignore[arg-type]
    return project
