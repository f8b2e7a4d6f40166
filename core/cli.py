"""The `segstudio` command. Every subcommand prints a one-line reason on stderr and exits non-zero on failure."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.errors import SegStudioError

Handler = Callable[[argparse.Namespace, Settings], int]


def _print_json(records: Any) -> None:
    print(json.dumps(records, indent=2, default=str))


def _image_record(image: Any) -> dict[str, Any]:
    return {
        "id": image.id, "name": image.name, "width": image.width, "height": image.height,
        "dtype": image.dtype, "channels": image.channels, "status": image.status,
    }


# --- projects and labels ------------------------------------------------------------------------------
def cmd_project_create(args: argparse.Namespace, settings: Settings) -> int:
    from core.projects import create_project

    project = create_project(settings, make_engine(settings.database_url), args.name)
    if args.json:
        _print_json({"id": project.id, "name": project.name})
    else:
        print(f"Created project {project.name!r} (id {project.id}).")
    return 0


def cmd_project_list(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        rows = [
            {"id": p.id, "name": p.name, "images": repo.count_images(session, p.id)}  # type: ignore[arg-type]
            for p in repo.list_projects(session)
        ]
    if args.json:
        _print_json(rows)
    elif not rows:
        print("No projects yet: `segstudio project create NAME` or `segstudio demo`.")
    else:
        for row in rows:
            print(f"{row['id']:>4}  {row['name']}  ({row['images']} images)")
    return 0


def cmd_project_rename(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = repo.find_project(session, args.project)
        project = repo.rename_project(session, project.id, args.new_name)  # type: ignore[arg-type]
    print(f"Renamed project {project.id} to {project.name!r}.")
    return 0


def cmd_project_delete(args: argparse.Namespace, settings: Settings) -> int:
    from core.projects import delete_project

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = repo.find_project(session, args.project)
    if not args.yes:
        print(f"Deleting {project.name!r} removes its images, annotations and trainings. Add --yes to confirm.",
              file=sys.stderr)
        return 2
    delete_project(settings, engine, project.id)  # type: ignore[arg-type]
    print(f"Deleted project {project.name!r}.")
    return 0


def cmd_labels_add(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = repo.find_project(session, args.project)
        label = repo.add_label(session, project.id, args.name, args.color)  # type: ignore[arg-type]
    if args.json:
        _print_json({"id": label.id, "name": label.name, "color": label.color})
    else:
        print(f"Added label {label.name!r} ({label.color}) to {project.name!r}.")
    return 0


def cmd_labels_list(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = repo.find_project(session, args.project)
        rows = [
            {"id": lab.id, "name": lab.name, "color": lab.color}
            for lab in repo.list_labels(session, project.id)  # type: ignore[arg-type]
        ]
    if args.json:
        _print_json(rows)
    elif not rows:
        print(f"{project.name!r} has no labels yet: `segstudio labels add {project.name!r} NAME`.")
    else:
        for row in rows:
            print(f"{row['id']:>4}  {row['name']}  {row['color']}")
    return 0


# --- images ---------------------------------------------------------------------------------------------
def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from core.projects import expand_paths, import_files

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = repo.find_project(session, args.project)
    files = expand_paths(args.paths)
    if not files:
        raise SegStudioError("No image files found in the paths given; give files or folders of images.")

    def progress(done: int, total: int, name: str) -> None:
        if name and not args.json:
            print(f"[{done + 1}/{total}] {name}", file=sys.stderr)

    report = import_files(settings, engine, project.id, [(p.name, p) for p in files], on_progress=progress)  # type: ignore[arg-type]
    masks_failed = False
    if args.masks:
        masks_failed = _import_masks(args, settings, engine, project.id, files, report)  # type: ignore[arg-type]
    if args.json:
        _print_json({
            "imported": [_image_record(im) for im in report.imported],
            "duplicates": report.duplicates,
            "errors": report.errors,
        })
    else:
        print(f"Imported {len(report.imported)} of {len(files)} files into {project.name!r}.")
        for message in report.duplicates:
            print(f"  duplicate: {message}")
    for message in report.errors:
        print(f"error: {message}", file=sys.stderr)
    return 1 if (report.errors or masks_failed) else 0


def _import_masks(args, settings, engine, project_id, files, report) -> bool:  # type: ignore[no-untyped-def]
    from core.annotation_import import import_masks_for_images

    if not args.label:
        raise SegStudioError("--masks needs --label NAME: the label the masks are for.")
    outcome = import_masks_for_images(settings, engine, project_id, files, Path(args.masks), args.label)
    for message in outcome.errors:
        print(f"error: {message}", file=sys.stderr)
    if not args.json:
        print(f"Imported masks for {outcome.images} images ({outcome.shapes} objects) as label {args.label!r}.")
    return bool(outcome.errors)


def cmd_images(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = repo.find_project(session, args.project)
        rows = [_image_record(im) for im in repo.list_images(session, project.id)]  # type: ignore[arg-type]
    if args.json:
        _print_json(rows)
    elif not rows:
        print(f"{project.name!r} has no images yet: `segstudio import {project.name!r} FILES...`.")
    else:
        for r in rows:
            print(f"{r['id']:>5}  {r['name']}  {r['width']}x{r['height']}  {r['dtype']}  {r['channels']} ch  {r['status']}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from core.demo import create_demo_project

    engine = make_engine(settings.database_url)
    project = create_demo_project(settings, engine)
    with session_scope(engine) as session:
        n_images = repo.count_images(session, project.id)  # type: ignore[arg-type]
    if args.json:
        _print_json({"id": project.id, "name": project.name, "images": n_images})
    else:
        print(f"Created the demo project {project.name!r} with {n_images} annotated images.")
    return 0


# --- parser ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segstudio",
        description="segstudio: train and apply segmentation models on microscopy images.",
        epilog="Data directory: $SEGSTUDIO_DATA (default ./data).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    project = sub.add_parser("project", help="create, list, rename and delete projects")
    psub = project.add_subparsers(dest="action", required=True)
    p = psub.add_parser("create", help="create a project")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_project_create)
    p = psub.add_parser("list", help="list projects")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_project_list)
    p = psub.add_parser("rename", help="rename a project")
    p.add_argument("project")
    p.add_argument("new_name")
    p.set_defaults(handler=cmd_project_rename)
    p = psub.add_parser("delete", help="delete a project and all its files")
    p.add_argument("project")
    p.add_argument("--yes", action="store_true", help="confirm the deletion")
    p.set_defaults(handler=cmd_project_delete)

    labels = sub.add_parser("labels", help="the label set of a project")
    lsub = labels.add_subparsers(dest="action", required=True)
    p = lsub.add_parser("add", help="add a label")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("--color", help="hex colour like #1f77b4 (default: the next free colour)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_labels_add)
    p = lsub.add_parser("list", help="list labels")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_labels_list)

    p = sub.add_parser("import", help="import image files or folders into a project")
    p.add_argument("project")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--masks", help="folder of label masks matched to the images by file stem")
    p.add_argument("--label", help="the label the masks are for")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("images", help="list the images of a project")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_images)

    p = sub.add_parser("demo", help="create the demo project (nuclei images with annotations)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.handler(args, settings))
    except SegStudioError as exc:
        print(f"segstudio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("segstudio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
