"""The `segstudio` command. Every subcommand prints a one-line reason on stderr and exits non-zero on failure."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from core import access
from core.cli_accounts import add_user_commands, command_line_account
from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import Training
from core.errors import NotFoundError, SegStudioError
from core.training.config import TRAINING_TYPES, VIEW_COUNTS
from core.training.types.base import CLASS_LISTS


# --- what the command line's account may see (lab accounts; everything with accounts off) -----------------
def _did(engine: Engine, args: argparse.Namespace, action: str, project_id: int | None, detail: str) -> None:
    """Write the command's action to the project's activity log, as its account (none with accounts off)."""
    from core.activity import record

    record(engine, getattr(args, "account_id", None), action, project_id=project_id, detail=detail)


def _may_open(args: argparse.Namespace, project_id: int) -> bool:
    visible = getattr(args, "visible", None)
    return visible is None or project_id in visible


def _project(session, args: argparse.Namespace, ref: str | int):
    """The project ``ref`` (id or name) when this command's account may open it; another's reads as missing."""
    project = repo.find_project(session, ref)
    if not _may_open(args, project.id):  # type: ignore[arg-type]
        raise NotFoundError(f"No project {ref!r} that you may open; `segstudio project list` lists yours.")
    return project


def _training(session, args: argparse.Namespace, ref: str | int):
    training = repo.find_training(session, ref)
    if not _may_open(args, training.project_id):
        raise NotFoundError(f"No training {ref!r} that you may open; `segstudio trainings` lists yours.")
    return training


def _own_models(entries: list, engine, args: argparse.Namespace) -> list:
    """The models this command's account may rename or delete: those of the projects it may open."""
    own = access.visible_training_ids(engine, getattr(args, "account_id", None))
    return [e for e in entries if own is None or e.training_id is None or e.training_id in own]


def _model(settings: Settings, engine, args: argparse.Namespace, ref: str):
    from core.predictions import find_model

    model = find_model(settings, engine, ref)
    usable = getattr(args, "usable", None)
    if usable is not None and model.training_id is not None and model.training_id not in usable:
        raise NotFoundError(f"No model {ref!r} that you may use; `segstudio model list` lists yours.")
    return model

def _print_json(records: Any) -> None:
    print(json.dumps(records, indent=2, default=str))


def _image_record(image: Any) -> dict[str, Any]:
    return {
        "id": image.id, "name": image.name, "width": image.width, "height": image.height,
        "dtype": image.dtype, "channels": image.channels, "status": image.status,
        "class_id": image.class_id, "notes": list(image.notes or []),
    }


# --- projects and labels ------------------------------------------------------------------------------
def cmd_project_create(args: argparse.Namespace, settings: Settings) -> int:
    from core.projects import create_project

    engine = make_engine(settings.database_url)
    project = create_project(settings, engine, args.name, owner_id=getattr(args, "account_id", None))
    _did(engine, args, "made the project", project.id, f"{project.name} (command line)")  # type: ignore[arg-type]
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
            for p in repo.list_projects(session) if _may_open(args, p.id)  # type: ignore[arg-type]
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
        project = _project(session, args, args.project)
        project = repo.rename_project(session, project.id, args.new_name)  # type: ignore[arg-type]
    print(f"Renamed project {project.id} to {project.name!r}.")
    return 0


def cmd_project_delete(args: argparse.Namespace, settings: Settings) -> int:
    from core.projects import delete_project

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = _project(session, args, args.project)
    if not args.yes:
        print(f"Deleting {project.name!r} removes its images, annotations and trainings. Add --yes to confirm.",
              file=sys.stderr)
        return 2
    delete_project(settings, engine, project.id)  # type: ignore[arg-type]
    _did(engine, args, "deleted the project", project.id, f"{project.name} (command line)")  # type: ignore[arg-type]
    print(f"Deleted project {project.name!r}.")
    return 0


def cmd_labels_add(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = _project(session, args, args.project)
        label = repo.add_label(session, project.id, args.name, args.color)  # type: ignore[arg-type]
    if args.json:
        _print_json({"id": label.id, "name": label.name, "color": label.color})
    else:
        print(f"Added label {label.name!r} ({label.color}) to {project.name!r}.")
    return 0


def cmd_labels_list(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = _project(session, args, args.project)
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
    from core.projects import ImportReport, expand_paths, import_files

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = _project(session, args, args.project)
    files = expand_paths(args.paths)
    pairing = None
    if args.masks:
        pairing = _pair_masks(args, files)
        files = [f for f in files if f.resolve() not in pairing.masks]  # the masks are not images
    if not files and not args.boxes and not args.classes:
        raise SegStudioError("No image files found in the paths given; give files or folders of images "
                             "(or --boxes FILE to import boxes, --classes FILE|DIR classes, for the project's "
                             "images).")
    if args.paths and not files:
        what = " and ".join(w for w, given in (("boxes", args.boxes), ("classes", args.classes)) if given)
        print(f"warning: no image files in {', '.join(map(str, args.paths))}; importing the {what} for the "
              "project's images.", file=sys.stderr)

    def progress(done: int, total: int, name: str) -> None:
        if name and not args.json:
            print(f"[{done + 1}/{total}] {name}", file=sys.stderr)

    pages_as = "channels" if args.pages_as_channels else None
    pairs = [(p.name, p) for p in files]
    report = import_files(
        settings, engine, project.id, pairs, on_progress=progress, pages_as=pages_as  # type: ignore[arg-type]
    ) if files else ImportReport()
    if report.imported:
        _did(engine, args, "imported images", project.id,  # type: ignore[arg-type]
             f"{len(report.imported)} image(s) (command line)")
    masks_failed = False
    if pairing is not None:
        masks_failed = _import_masks(args, settings, engine, project.id, pairing)  # type: ignore[arg-type]
    boxes = None
    if args.boxes:
        boxes = _import_boxes(args, settings, engine, project.id)  # type: ignore[arg-type]
    classes = None
    if args.classes:
        classes = _import_classes(args, settings, engine, project.id, progress)  # type: ignore[arg-type]
    if args.json:
        _print_json({
            "imported": [_image_record(im) for im in report.imported],
            "duplicates": report.duplicates,
            "errors": report.errors,
            "pages_unknown": report.pages_unknown,
            **({"boxes": _boxes_record(boxes)} if boxes is not None else {}),
            **({"classes": _classes_record(classes)} if classes is not None else {}),
        })
    elif files:
        print(f"Imported {len(report.imported)} of {len(files)} files into {project.name!r}.")
        for image in report.imported:
            for note in image.notes:  # every conversion import made, so that nothing changes unseen
                print(f"  {image.name}: {note}")
        for message in report.duplicates:
            print(f"  duplicate: {message}")
    for message in [*report.errors, *report.pages_unknown.values()]:
        print(f"error: {message}", file=sys.stderr)
    boxes_failed = boxes is not None and not boxes.stored  # nothing of the box files could be imported
    classes_failed = classes is not None and not classes.stored and not classes.imported
    return 1 if (report.errors or report.pages_unknown or masks_failed or boxes_failed or classes_failed) else 0


def _pair_masks(args, files):  # type: ignore[no-untyped-def]
    from core.annotation_import import pair_masks

    if not args.label:
        raise SegStudioError("--masks needs --label NAME: the label the masks are for.")
    return pair_masks(files, Path(args.masks), roots=[Path(p) for p in args.paths])


def _import_masks(args, settings, engine, project_id, pairing) -> bool:  # type: ignore[no-untyped-def]
    from core.annotation_import import import_paired_masks

    outcome = import_paired_masks(
        settings, engine, project_id, pairing.pairs, args.label, replace=args.replace_annotations
    )
    errors = [*pairing.problems, *outcome.errors]
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    if not args.json:
        print(f"Imported masks for {outcome.images} images ({outcome.shapes} objects) as label {args.label!r}.")
        for message in outcome.replaced:
            print(f"  replaced: {message}")
        for message in outcome.skipped:
            print(f"  skipped: {message}")
    return bool(errors)


_BOX_PREFIXES = {"info": "  note: ", "warning": "  warning: "}


def _import_boxes(args, settings, engine, project_id):  # type: ignore[no-untyped-def]
    """Import the boxes of ``--boxes`` (after the images of the same call) and print what happened: errors on
    stderr, the rest on stdout (unless --json)."""
    from core.box_import import import_boxes

    outcome = import_boxes(settings, engine, project_id, args.boxes, replace=args.replace_annotations)
    _print_messages(args, outcome.messages())
    return outcome


def _print_messages(args, messages) -> None:  # type: ignore[no-untyped-def]
    """An import's ``(kind, message)`` pairs: errors on stderr, the rest on stdout (unless --json)."""
    for kind, message in messages:
        if kind == "error":
            print(f"error: {message}", file=sys.stderr)
        elif not args.json:
            print(f"{_BOX_PREFIXES.get(kind, '')}{message}")


def _import_classes(args, settings, engine, project_id, progress):  # type: ignore[no-untyped-def]
    """Import the classes of ``--classes`` (after the images of the same call): a CSV of file stem,class rows,
    or a ZIP or folder with one folder per class (its images are imported too). Errors on stderr, the rest on
    stdout (unless --json)."""
    import zipfile

    from core.class_import import import_class_folders, import_classes_csv

    source = Path(args.classes)
    if source.is_dir() or (source.is_file() and zipfile.is_zipfile(source)):
        report = import_class_folders(settings, engine, project_id, source, replace=args.replace_annotations,
                                      pages_as="channels" if args.pages_as_channels else None,
                                      on_progress=progress)
    else:
        report = import_classes_csv(settings, engine, project_id, source, replace=args.replace_annotations,
                                    add_classes=args.add_classes)
    _print_messages(args, report.messages())
    return report


def _classes_record(report) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "classified": report.classified, "already": report.already, "imported": report.imported,
        "by_class": dict(report.by_class), "new_labels": report.new_labels,
        "messages": [{"kind": kind, "text": text} for kind, text in report.messages()],
    }


def _boxes_record(outcome) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "imported": outcome.boxes, "images": outcome.images, "by_label": dict(outcome.by_label),
        "already": outcome.already, "background": outcome.background,
        "messages": [{"kind": kind, "text": text} for kind, text in outcome.messages()],
    }


def cmd_images(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = _project(session, args, args.project)
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


# --- trainings ------------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from core.jobs import queue
    from core.trainings import WizardChoices, queue_training

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project = _project(session, args, args.project)
        label_ids = [repo.find_label(session, project.id, name).id for name in args.labels]  # type: ignore[arg-type]
        images = repo.list_images(session, project.id)  # type: ignore[arg-type]
        train_ids = [repo.find_image(session, project.id, ref).id for ref in args.train or []]  # type: ignore[arg-type]
        val_ids = [repo.find_image(session, project.id, ref).id for ref in args.val or []]  # type: ignore[arg-type]
    manual = bool(args.train or args.val)
    if manual and args.split == "random" and args.split_given:
        raise SegStudioError("--split random and --train/--val contradict each other; use one or the other.")
    multichannel = any(im.channels > 3 for im in images if im.status == "annotated")
    start, label_map, encoder = _start_choice(args, settings, engine, project.id, label_ids)  # type: ignore[arg-type]
    choices = WizardChoices(
        project_id=project.id, training_type=args.type, label_ids=label_ids,
        split_mode="manual" if manual else "random", roi_only=args.roi_only,
        image_type="multichannel" if multichannel else "2d",
        image_ids=[im.id for im in images if im.status == "annotated" and (im.channels > 3) == multichannel],
        background_ids=[im.id for im in images if im.status == "background" and (im.channels > 3) == multichannel],
        train_ids=train_ids, val_ids=val_ids, duration=args.duration, name=args.name,
        encoder=args.encoder or encoder or WizardChoices().encoder, seed=args.seed,
        start=start, label_map=label_map,
    )
    training = queue_training(settings, engine, choices, account_id=getattr(args, "account_id", None))
    _did(engine, args, "started a training", training.project_id, f"#{training.id} {training.name} (command line)")
    if not queue.claim(engine, "training", training.id, queue.worker_identity()):  # type: ignore[arg-type]
        raise SegStudioError(f"Training {training.id} was taken by a running worker; follow it in the app.")
    return _run_claimed(args, settings, engine, training.id)  # type: ignore[arg-type]


def _start_choice(args: argparse.Namespace, settings: Settings, engine: Engine, project_id: int,
                  label_ids: list[int]) -> tuple[str, dict[str, int], str | None]:
    """``--start MODEL`` and ``--map LABEL=MODEL_LABEL``: the catalog key, the label mapping (by name; labels
    of the same name map by default) and the model's encoder; ("", {}, None) without ``--start``."""
    from core.model_starts import model_labels, suggested_label_map

    if not args.start:
        if args.map:
            raise SegStudioError("--map maps labels to a starting model's; give the model with --start.")
        return "", {}, None
    model = _model(settings, engine, args, args.start)
    with session_scope(engine) as session:
        names = {lab.id: lab.name for lab in repo.list_labels(session, project_id)}
    selected = {i: names[i] for i in label_ids}
    mapping = suggested_label_map(model, selected)
    theirs = {name: i for i, name in model_labels(model).items()}
    for pair in args.map or []:
        ours, _, their = pair.partition("=")
        new = next((i for i, n in selected.items() if n == ours.strip()), None)
        if new is None or (their.strip() not in theirs and their.strip().lower() != "new"):
            raise SegStudioError(
                f"--map {pair!r}: write LABEL=MODEL_LABEL (or LABEL=new), LABEL one of {list(selected.values())} "
                f"and MODEL_LABEL one of {list(theirs)}.")
        if their.strip().lower() == "new":
            mapping.pop(new, None)
        else:
            mapping[new] = theirs[their.strip()]
    return model.key, {str(k): v for k, v in mapping.items()}, str(model.card.get("encoder") or "") or None


def _run_claimed(args: argparse.Namespace, settings: Settings, engine: Engine, training_id: int) -> int:
    """Run a training this process has claimed to its end, printing progress, then its outcome."""
    from core.db.models import CANCELLED
    from core.jobs import child, queue

    def echo(fields: dict[str, Any]) -> None:
        if args.json or "progress" not in fields:
            return
        eta = fields.get("eta_seconds")
        eta_text = f", about {eta:.0f} s left" if isinstance(eta, (int, float)) else ""
        print(f"[{fields['progress']:6.1%}] epoch {fields.get('epoch', 0)}{eta_text} {fields.get('message', '')}",
              file=sys.stderr)

    try:
        child.run("training", training_id, settings=settings, on_report=echo)
    except KeyboardInterrupt:  # Ctrl-C: the training ends as cancelled (its last checkpoint stays for Resume)
        queue.finish(engine, "training", training_id, CANCELLED, message="cancelled (interrupted)",
                     owner=queue.worker_identity())
        raise
    with session_scope(engine) as session:
        done = repo.get_training(session, training_id)
    record = {"id": done.id, "name": done.name, "status": done.status, "error": done.error,
              "metrics": (done.metrics or {}).get("overall", {}), "model_dir": done.model_dir,
              "report": done.report_path}
    if args.json:
        _print_json(record)
    else:
        print(f"Training {done.name!r} (id {done.id}) {done.status}. {_format_overall(record['metrics'])}")
        if done.report_path:
            print(f"Report: {settings.data_dir / done.report_path}")
    if done.status != "succeeded":
        print(f"segstudio: training {done.status}: {done.error or done.message}", file=sys.stderr)
        return 1
    return 0


def cmd_resume(args: argparse.Namespace, settings: Settings) -> int:
    from core.jobs import queue
    from core.trainings import resume_training

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        training = _training(session, args, args.training)
    resume_training(settings, engine, training.id)  # type: ignore[arg-type]
    if not queue.claim(engine, "training", training.id, queue.worker_identity()):  # type: ignore[arg-type]
        print(f"Training {training.name!r} (id {training.id}) is resuming in a running worker; follow it in the "
              "app or with `segstudio trainings`.", file=sys.stderr)
        return 0
    return _run_claimed(args, settings, engine, training.id)  # type: ignore[arg-type]


#: metric keys printed under another name
_SHOWN = {"map_50": "mAP@0.5", "map_50_95": "mAP@0.5:0.95", "ap_50": "AP50", "ap_75": "AP75",
          "ap_50_95": "AP50:95", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro-F1",
          "top2_accuracy": "top-2 accuracy"}


def _format_overall(overall: dict[str, Any], prefix: str = "Validation") -> str:
    parts = [f"{_SHOWN.get(k, k)} {v:.3f}" for k, v in overall.items() if isinstance(v, (int, float))]
    return f"{prefix}: " + ", ".join(parts) if parts else ""


def cmd_trainings(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        project_id = _project(session, args, args.project).id if args.project else None
        rows = [{"id": t.id, "name": t.name, "project_id": t.project_id, "status": t.status,
                 "progress": t.progress, "metrics": (t.metrics or {}).get("overall", {})}
                for t in repo.list_trainings(session, project_id) if _may_open(args, t.project_id)]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(f"{r['id']:>4}  {r['name']}  {r['status']}  {_format_overall(r['metrics'])}")
    return 0


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    from core.jobs import queue

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        training = _training(session, args, args.training)
    status = queue.request_cancel(engine, "training", training.id)  # type: ignore[arg-type]
    print(f"Training {training.name!r}: {'cancelled' if status == 'cancelled' else 'cancel requested'}.")
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from core.training.package import read_card
    from core.training.types import training_type

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        training = _training(session, args, args.training)
    if not training.model_dir:
        raise SegStudioError(f"Training {training.name!r} has no model ({training.status}); train it first.")
    kind = training_type(read_card(settings.data_dir / training.model_dir)["training_type"])
    evaluate = _EVALUATORS.get(kind.result_kind, _evaluate_maps)
    return evaluate(args, settings, engine, training)


def _evaluate_maps(args: argparse.Namespace, settings: Settings, engine: Engine, training: Any) -> int:
    """`segstudio evaluate` of a model whose predictions are label images or boxes."""
    from core.training.assessment import assess
    from core.training.package import load_model
    from core.training.types import training_type

    model, card = load_model(settings.data_dir / training.model_dir, "cpu")
    kind = training_type(card["training_type"])
    if args.images is None or args.classes is not None or args.project is not None:
        raise SegStudioError(f"{training.name!r} is a model for {kind.short_title}: give the images to score "
                             "as --images FOLDER with their ground truth (--masks or --boxes); --classes and "
                             "--project are for classification models.")
    if kind.pixel_masks:
        if args.masks is None or args.boxes is not None:
            raise SegStudioError(f"{training.name!r} is a model for {kind.short_title}: give its ground "
                                 "truth as --masks FOLDER (label masks matched to the images by file stem), "
                                 "not --boxes.")
        from core.training.folder_data import folder_samples

        samples, problems = folder_samples(Path(args.images), Path(args.masks), card, label=args.label)
    else:
        if args.boxes is None or args.masks is not None:
            raise SegStudioError(f"{training.name!r} is a model for {kind.short_title}: give its ground "
                                 "truth as --boxes FILE|DIR (COCO .json, Pascal VOC .xml, YOLO .txt or .csv "
                                 "box files, a folder or a .zip of them), not --masks.")
        from core.training.folder_boxes import folder_box_samples

        samples, problems = folder_box_samples(Path(args.images), Path(args.boxes), card)
    for message in problems:
        print(f"error: {message}", file=sys.stderr)
    if not samples:
        raise SegStudioError("No image with matching ground truth to evaluate.")
    result = assess(model, card, samples, keep_predictions=False,
                    on_image=None if args.json else lambda i, n: print(f"[{i}/{n}]", file=sys.stderr))
    record = {"training": training.id, "images": len(samples), "overall": result.overall(),
              "per_label": result.per_label(), "per_image": result.per_image()}
    _write_record(args, record)
    if args.json:
        _print_json(record)
    else:
        print(f"{len(samples)} image(s). {_format_overall(record['overall'], 'Overall')}")
        for row in record["per_label"]:
            print("  " + ", ".join(f"{_SHOWN.get(k, k)}={v:.3f}" if isinstance(v, float)
                                   else f"{_SHOWN.get(k, k)}={v}" for k, v in row.items()))
    return 1 if problems else 0


def _evaluate_classes(args: argparse.Namespace, settings: Settings, engine: Engine, training: Any) -> int:
    """`segstudio evaluate` of a classification model: images with known classes from a project
    (``--project``) or a folder and a CSV (``--images`` and ``--classes``)."""
    import tempfile

    from core.class_evaluation import (
        confusion_lines,
        evaluate_classes,
        folder_class_examples,
        per_class_lines,
        project_class_examples,
    )
    from core.inference.classes import load_class_model

    if args.masks is not None or args.boxes is not None:
        raise SegStudioError(f"{training.name!r} is a classification model: give the known classes as "
                             "--classes CSV (rows 'file stem,class') with --images FOLDER, or --project NAME "
                             "(its images that have a class), not --masks or --boxes.")
    from_folder = args.images is not None or args.classes is not None
    if from_folder == (args.project is not None) or (from_folder and None in (args.images, args.classes)):
        raise SegStudioError("Give the images with known classes either as --images FOLDER with --classes "
                             "CSV (rows 'file stem,class'), or as --project NAME (its images that have a "
                             "class).")
    classifier = load_class_model(settings.data_dir / training.model_dir, device=settings.device)
    names = classifier.class_names
    progress = None if args.json else (lambda i, n: print(f"[{i}/{n}]", file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="segstudio-evaluate-") as scratch:
        if from_folder:
            examples, problems, notes = folder_class_examples(Path(args.images), Path(args.classes), names,
                                                              Path(scratch))
        else:
            with session_scope(engine) as session:
                project = _project(session, args, args.project)
            own = project.id == training.project_id
            examples, problems, notes = project_class_examples(
                settings, engine, project.id, names,  # type: ignore[arg-type]
                leave_out=(training.split or {}).get("train", []) if own else ())
        for message in problems:
            print(f"error: {message}", file=sys.stderr)
        for message in notes:
            print(f"note: {message}", file=sys.stderr)
        if not examples:
            raise SegStudioError("No image with a known class to evaluate.")
        record, failed = evaluate_classes(classifier, examples, on_image=progress)
    for message in failed:
        print(f"error: {message}", file=sys.stderr)
    record = {"training": training.id, **record, "problems": problems + failed, "notes": notes}
    _write_record(args, record)
    if args.json:
        _print_json(record)
    else:
        print(f"{record['images']} image(s). {_format_overall(record['overall'], 'Overall')}")
        print("\n".join(["", *per_class_lines(record), "", "Confusion (rows: true class, columns: predicted "
                                                            "class):", *confusion_lines(record)]))
    return 1 if problems or failed else 0


def _write_record(args: argparse.Namespace, record: dict[str, Any]) -> None:
    """Write the evaluation's record as JSON to ``--out`` when it is given."""
    if args.out is None:
        return
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    except OSError as exc:
        raise SegStudioError(f"cannot write {out}: {exc}; choose a folder you can write to") from exc
    if not args.json:
        print(f"Wrote the scores to {out}.", file=sys.stderr)


#: result kind -> its `segstudio evaluate` (the others: label images and boxes, :func:`_evaluate_maps`)
_EVALUATORS = {CLASS_LISTS: _evaluate_classes}


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    import shutil

    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        training = _training(session, args, args.training)
    existing = settings.data_dir / training.report_path if training.report_path else None
    if existing is None or not existing.exists() or args.rebuild:
        existing = _rebuild_report(settings, engine, training)
    out = Path(args.out)
    if out.suffix.lower() != ".zip":
        raise SegStudioError(f"--out {out} must end in .zip")
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(existing, out)
    print(f"Report of {training.name!r}: {out}")
    return 0


def _rebuild_report(settings: Settings, engine, training) -> Path:  # type: ignore[no-untyped-def]
    from core.training.config import TrainConfig
    from core.training.report_assembly import build_training_report
    from core.training.types import training_type

    if training.status in ("queued", "running"):
        raise SegStudioError(f"Training {training.name!r} is {training.status}; its report comes when it ends.")
    examples, pr_curves = [], []
    if training.status == "succeeded" and training.model_dir:
        config = TrainConfig.from_dict(training.config["train_config"])
        kind = training_type(config.training_type)  # the type's own data and scores, as the training job
        _, val_data, _, _ = kind.load_split(settings, engine, training.project_id, training.split, config)
        scored = kind.score_validation(settings.data_dir / training.model_dir, val_data, config,
                                       (training.metrics or {}).get("training") or {})
        examples, pr_curves = scored.examples, scored.pr_curves
    return build_training_report(settings, engine, training.id, examples=examples, pr_curves=pr_curves)


def cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    import tempfile

    from core.imaging import import_image
    from core.inference.results import card_writer, predict_file
    from core.projects import expand_paths

    engine = make_engine(settings.database_url)
    model = _model(settings, engine, args, args.training)
    writer = card_writer(model.card)
    predictor = writer.load(model.package_dir, device=settings.device, views=args.views)
    files = expand_paths(args.inputs)
    if not files:
        raise SegStudioError("No input images found; give image files or folders.")
    out = Path(args.out)
    records, failures, done = [], 0, []
    with tempfile.TemporaryDirectory(prefix="segstudio-predict-") as scratch:
        for index, path in enumerate(files):
            stem = path.name[: -len(".ome.tif")] if path.name.lower().endswith(".ome.tif") else path.stem
            try:
                # a model reads the pages of a multi-page file as its channels
                stored = import_image(path, Path(scratch), f"in{index}", pages_as="channels")
                result = predict_file(predictor, stored.path, out, stem, pixel_size_um=stored.pixel_size_um,
                                      is_rgb=stored.is_rgb)
            except SegStudioError as exc:
                failures += 1
                print(f"error: {path.name}: {exc}", file=sys.stderr)
                continue
            record = {"input": str(path), "result_kind": result["result_kind"],
                      **{key: str(result[key]) for key in writer.files}, "objects": result["counts"],
                      **{key: result[key] for key in writer.keep}}
            if result["warnings"]:
                record["warnings"] = result["warnings"]
            for warning in result["warnings"]:
                print(f"warning: {path.name}: {warning}", file=sys.stderr)
            records.append(record)
            done.append((path.name, result))
            if not args.json:
                written = ", ".join(Path(result[key]).name for key in writer.files)
                print(f"{path.name}: {writer.describe(result)} -> {written}")
    if done:
        table = writer.summary(out, done)
        if not args.json:
            print(f"{writer.title.capitalize()} of {len(done)} image(s); the table of all: {table}")
    if args.json:
        _print_json(records)
    return 1 if failures else 0


def cmd_model_import(args: argparse.Namespace, settings: Settings) -> int:
    from core.inference.package_io import import_model_package
    from core.predictions import MODELS_DIR, describe
    from core.training.package import read_card

    folder = import_model_package(Path(args.path), settings.data_dir / MODELS_DIR)
    card = read_card(folder)
    print(f"Imported model {folder.name!r}: {describe(card)}. Apply it with `segstudio predict {folder.name} ...`.")
    return 0


def cmd_model_list(args: argparse.Namespace, settings: Settings) -> int:
    from core.predictions import model_catalog

    catalog = model_catalog(settings, make_engine(settings.database_url))
    usable = getattr(args, "usable", None)
    mine = [m for m in [*catalog.models, *catalog.broken]
            if usable is None or m.training_id is None or m.training_id in usable]
    rows = [{"model": m.key.split(":", 1)[1], "title": m.title, "broken": getattr(m, "reason", None)}
            for m in mine]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("No models yet: train one, or `segstudio model import PATH`.")
    for row in rows:
        if row["broken"] is None:
            print(f"{row['model']:>4}  {row['title']}")
        else:
            print(f"{row['model']:>4}  BROKEN {row['title']}: {row['broken']}")
    return 0


def cmd_model_export(args: argparse.Namespace, settings: Settings) -> int:
    from core.inference.package_io import export_model_package
    model = _model(settings, make_engine(settings.database_url), args, args.model)
    if args.bioimageio:
        from core.bioimageio import export_bioimageio

        name = model.title.split(" — ")[0]
        dest = export_bioimageio(model.package_dir, Path(args.out), name=name, authors=args.author,
                                 license=args.license)
        print(f"Exported {model.title} as a bioimage.io package to {dest}")
        return 0
    dest = export_model_package(model.package_dir, Path(args.out))
    print(f"Exported {model.title} to {dest}")
    return 0


def cmd_model_rename(args: argparse.Namespace, settings: Settings) -> int:
    from core.model_library import find_entry, list_models, rename_model

    engine = make_engine(settings.database_url)
    entry = find_entry(_own_models(list_models(settings, engine), engine, args), args.model)
    name = rename_model(settings, engine, entry.key, args.new_name)
    print(f"Renamed the model {entry.name!r} to {name!r}.")
    return 0


def cmd_model_delete(args: argparse.Namespace, settings: Settings) -> int:
    from core.model_library import delete_model, find_entry, list_models

    engine = make_engine(settings.database_url)
    entry = find_entry(_own_models(list_models(settings, engine), engine, args), args.model)
    kept = "" if entry.imported else " (the training, its curves, metrics and report stay)"
    if entry.shipped:
        delete_model(settings, engine, entry.key)  # refused, with the reason
    if not args.yes:
        print(f"Deleting the model {entry.name!r} removes its package{kept}. Add --yes to confirm.",
              file=sys.stderr)
        return 2
    delete_model(settings, engine, entry.key)
    with session_scope(engine) as session:
        owner = session.get(Training, entry.training_id) if entry.training_id is not None else None
    _did(engine, args, "deleted a model", owner.project_id if owner is not None else None,
         f"{entry.name} (command line)")
    print(f"Deleted the model {entry.name!r}{kept}.")
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    import signal
    import threading

    from core.jobs.worker import Worker, WorkerBusyError

    try:
        worker = Worker(settings, slots=args.slots).start()
    except WorkerBusyError as exc:
        raise SegStudioError(f"{exc}; stop it first, or set SEGSTUDIO_EMBEDDED_WORKER=0 for the app.") from exc
    print(f"segstudio worker {worker.identity} serving {settings.data_dir} ({worker.slots} slot(s)); Ctrl-C stops it.",
          file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    worker.shutdown(wait=False, cancel_running=True)
    return 0


# --- lab password -------------------------------------------------------------------------------------
def cmd_password(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from core.password import hash_password

    if args.stdin:
        line = sys.stdin.readline()
        if not line:
            raise SegStudioError("no password on stdin; pipe one line into `segstudio password --stdin`")
        password = line.removesuffix("\n").removesuffix("\r")
    else:
        password = getpass.getpass("Lab password: ")
        if password != getpass.getpass("The same again: "):
            raise SegStudioError("the two passwords differ; nothing was made, run `segstudio password` again")
    stored = hash_password(password)
    print(f"export SEGSTUDIO_PASSWORD_HASH={stored}")
    print("Set this in the environment of the app (e.g. paste the line above before `bash .ci/app`) and "
          "restart it.", file=sys.stderr)
    return 0


# --- parser ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segstudio",
        description="segstudio: train and apply segmentation models on microscopy images.",
        epilog="Data directory: $SEGSTUDIO_DATA (default ./data).",
    )
    parser.add_argument("--user", default="", help="with lab accounts on: act as this account (asks for its "
                        "password; scripts set SEGSTUDIO_TOKEN instead)")
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
    p.add_argument("paths", nargs="*", type=Path, help="image files or folders (none: only --boxes or "
                                                          "--classes)")
    p.add_argument("--masks", help="folder of label masks matched to the images by file stem, beside them "
                                   "or in the subfolder matching each image's folder")
    p.add_argument("--label", help="the label the masks are for")
    p.add_argument("--boxes", type=Path, action="append", metavar="FILE|DIR",
                   help="bounding boxes for the project's images (after the images of this call are "
                        "imported): a COCO .json, Pascal VOC .xml, YOLO .txt (with classes.txt, obj.names or "
                        "data.yaml beside) or .csv (label,x_min,y_min,x_max,y_max) file, a folder or a .zip of "
                        "them; matched to images by file name or stem, labels by name. Repeat for several")
    p.add_argument("--classes", type=Path, metavar="CSV|ZIP|DIR",
                   help="image classes (after the images of this call are imported): a CSV of 'file stem,"
                        "class' rows (header optional; images found by file stem or name, classes by label "
                        "name), or a ZIP or folder with one folder per class, whose images are imported with "
                        "their class (new class names become labels)")
    p.add_argument("--add-classes", action="store_true",
                   help="with a --classes CSV: add its classes that the project lacks as labels (without "
                        "it, their rows are skipped and listed)")
    p.add_argument("--replace-annotations", action="store_true",
                   help="with --masks: replace the objects of --label that an image has already by its "
                        "mask's; with --boxes: replace an image's objects of a box's label by the file's "
                        "boxes; with --classes: replace an image's other class by the file's (without it, "
                        "such images are skipped and listed; the same mask, boxes or classes again add "
                        "nothing)")
    p.add_argument("--pages-as-channels", action="store_true",
                   help="read the pages of multi-page TIFFs that do not say what they are as channels")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("images", help="list the images of a project")
    p.add_argument("project")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_images)

    p = sub.add_parser("train", help="train a model on a project's annotated images (runs to the end)")
    p.add_argument("project")
    p.add_argument("--name", required=True)
    p.add_argument("--type", choices=tuple(TRAINING_TYPES), required=True)
    p.add_argument("--labels", nargs="+", required=True, metavar="LABEL")
    p.add_argument("--split", choices=("random",), default="random")
    p.add_argument("--train", nargs="+", metavar="IMAGE", help="manual split: training images (names or ids)")
    p.add_argument("--val", nargs="+", metavar="IMAGE", help="manual split: validation images (names or ids)")
    p.add_argument("--roi-only", action="store_true", help="train on the ROIs of the images that have them")
    p.add_argument("--duration", default="quick", help="quick, extended, or a number of seconds")
    p.add_argument("--encoder", help="network encoder (default: the fast default, or the --start model's)")
    p.add_argument("--start", metavar="MODEL",
                   help="fine-tune: start from this model (a training id or name, or an imported model's folder)")
    p.add_argument("--map", nargs="+", metavar="LABEL=MODEL_LABEL",
                   help="with --start: which of the model's labels each label starts from (LABEL=new: from "
                        "scratch); labels of the same name map by default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("resume", help="continue a failed or cancelled training from its last checkpoint "
                       "(runs to the end)")
    p.add_argument("training", help="training id or name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_resume)

    p = sub.add_parser("evaluate", help="score a trained model on a folder of images and their ground truth "
                                        "(masks, boxes for a detection model, classes for a classification "
                                        "model)")
    p.add_argument("training")
    p.add_argument("--images", help="the folder of the images to score")
    p.add_argument("--masks", help="segmentation models: label masks matched to the images by file stem")
    p.add_argument("--label", help="which label of the model the masks are for (default: its only label)")
    p.add_argument("--boxes", help="detection models: the true boxes, a COCO .json, Pascal VOC .xml, YOLO "
                                   ".txt (with classes.txt beside) or .csv (label,x_min,y_min,x_max,y_max) "
                                   "file, a folder or a .zip of them; matched to the images by file name or "
                                   "stem, labels by name")
    p.add_argument("--classes", help="classification models: a CSV of 'file stem,class' rows (header "
                                     "optional) for the images of --images")
    p.add_argument("--project", help="classification models: score on the images of this project that have a "
                                     "class (of the model's own project, those it was not trained on)")
    p.add_argument("--out", help="also write the scores as JSON to this file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("report", help="write a training's report ZIP (PDF, visualisations, metrics, model)")
    p.add_argument("training")
    p.add_argument("--out", required=True, help="where to write the ZIP")
    p.add_argument("--rebuild", action="store_true", help="build it again even if it exists")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("predict", help="apply a trained model to images: labels, measurements and GeoJSON, "
                                       "(detection) boxes as CSV, COCO JSON, GeoJSON and an overlay, or "
                                       "(classification) each image's class and every class's probability "
                                       "as CSV (classes.csv)")
    p.add_argument("training", help="training id or name, or an imported model's folder name")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--views", type=int, choices=VIEW_COUNTS, default=None,
                   help="flipped/rotated views averaged per tile (default: the model card's, as validated; "
                        "1 is the fastest)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_predict)

    model = sub.add_parser("model", help="import, list, export, rename or delete models")
    msub = model.add_subparsers(dest="action", required=True)
    p = msub.add_parser("import", help="import a model package (its model/ folder, a report ZIP, or a "
                                       "bioimage.io model package: ZIP or folder)")
    p.add_argument("path")
    p.set_defaults(handler=cmd_model_import)
    p = msub.add_parser("list", help="list the models that can be applied, and broken ones with why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_model_list)
    p = msub.add_parser("export", help="export a trained model's package as a ZIP (or a bioimage.io package)")
    p.add_argument("model", help="training id or name, or an imported model's folder name")
    p.add_argument("--out", required=True)
    p.add_argument("--bioimageio", action="store_true",
                   help="write a BioImage Model Zoo package (spec 0.5) for ilastik, deepImageJ, QuPath, "
                        "napari; segmentation models only")
    p.add_argument("--author", action="append", default=None,
                   help="an author's name for the bioimage.io package (repeat for several)")
    p.add_argument("--license", default="CC-BY-4.0", help="SPDX licence of the bioimage.io package")
    p.set_defaults(handler=cmd_model_export)
    p = msub.add_parser("rename", help="rename a model (a trained model: its training)")
    p.add_argument("model", help="training id or name, or an imported model's folder name or name")
    p.add_argument("new_name")
    p.set_defaults(handler=cmd_model_rename)
    p = msub.add_parser("delete", help="delete a model's package (a trained model's training and report stay)")
    p.add_argument("model", help="training id or name, or an imported model's folder name or name")
    p.add_argument("--yes", action="store_true", help="confirm the deletion")
    p.set_defaults(handler=cmd_model_delete)

    p = sub.add_parser("trainings", help="list trainings")
    p.add_argument("project", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_trainings)

    p = sub.add_parser("cancel", help="cancel a queued or running training")
    p.add_argument("training")
    p.set_defaults(handler=cmd_cancel)

    p = sub.add_parser("worker", help="run the training worker in the foreground")
    p.add_argument("--slots", type=int, default=None, help="trainings at a time (default $SEGSTUDIO_WORKER_SLOTS or 1)")
    p.set_defaults(handler=cmd_worker)

    p = sub.add_parser("password", help="make the SEGSTUDIO_PASSWORD_HASH of a lab password (salted scrypt)")
    p.add_argument("--stdin", action="store_true",
                   help="read the password from the first line of stdin instead of asking twice without echo")
    p.set_defaults(handler=cmd_password)

    add_user_commands(sub)

    p = sub.add_parser("demo", help="create the demo project (nuclei images with annotations)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.split_given = "--split" in argv
    try:
        settings = Settings.from_env()
        member = command_line_account(args, settings)
        args.account_id = member.id if member is not None else None
        if member is not None:
            engine = make_engine(settings.database_url)
            args.visible = access.visible_project_ids(engine, member.id)
            args.usable = access.usable_model_training_ids(engine, member.id)
        return int(args.handler(args, settings))
    except SegStudioError as exc:
        print(f"segstudio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("segstudio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
