"""The prediction job, run by the worker in a child process: each image -> its files (by the model's result
kind, :mod:`core.inference.results`: labels, measurements and GeoJSON, boxes as CSV, COCO JSON, GeoJSON and an
overlay, or its class with every class's probability) and its ZIP; the run's table (counts per image and
label, or the classes) as one CSV, and everything as one ZIP."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from core.db import repo, session_scope
from core.errors import SegStudioError
from core.imaging import import_image
from core.inference.progress import PredictionCancelled
from core.inference.results import card_writer, predict_file
from core.jobs.context import JobCancelled, JobContext
from core.training.package import read_card

__all__ = ["predict_file", "prediction_dir", "run_prediction_job"]


def prediction_dir(data_dir: Path, prediction_id: int) -> Path:
    return data_dir / "predictions" / str(prediction_id)


def run_prediction_job(ctx: JobContext) -> dict[str, Any]:
    settings, engine = ctx.settings, ctx.engine
    with session_scope(engine) as session:
        prediction = repo.get_prediction(session, ctx.job_id)
    items = prediction.config.get("items", [])
    out_root = prediction_dir(settings.data_dir, ctx.job_id)
    out_root.mkdir(parents=True, exist_ok=True)
    package = settings.data_dir / prediction.model_dir
    writer = card_writer(read_card(package))
    predictor = writer.load(package, device=settings.device, views=prediction.config.get("views"))
    # the run's model's colours
    colors = {str(lab["name"]): lab.get("color") for lab in predictor.card["labels"]}
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        ctx.check_cancel()
        entry: dict[str, Any] = {"index": index}
        try:
            if "image_id" in item:
                with session_scope(engine) as session:
                    image = repo.get_image(session, item["image_id"])
                entry.update(image_id=image.id, name=image.name)
                path, pixel_size = settings.data_dir / image.stored_path, image.pixel_size_um
                is_rgb = image.is_rgb
            else:
                entry["name"] = item["name"]
                # a model reads the pages of a multi-page file as its channels
                stored = import_image(
                    Path(item["path"]), out_root / "inputs", f"input{index}", pages_as="channels"
                )
                path, pixel_size, is_rgb = stored.path, stored.pixel_size_um, stored.is_rgb
                entry["stored"] = path.relative_to(settings.data_dir).as_posix()
            stem = Path(entry["name"]).stem or f"image{index}"

            def progress(fraction: float, index: int = index) -> None:
                ctx.report(progress=(index + fraction) / len(items), message=f"image {index + 1} of {len(items)}")

            folder = out_root / f"{index:03d}"
            files = predict_file(predictor, path, folder, stem, pixel_size_um=pixel_size, is_rgb=is_rgb,
                                 on_progress=progress, should_stop=ctx.should_stop)
        except PredictionCancelled as exc:
            raise JobCancelled() from exc
        except SegStudioError as exc:
            entry["error"] = str(exc)
        else:
            entry.update({k: Path(files[k]).relative_to(settings.data_dir).as_posix() for k in writer.files},
                         counts=files["counts"], result_kind=files["result_kind"], is_rgb=bool(is_rgb),
                         colors=colors, **{k: files[k] for k in writer.keep})
            if files["warnings"]:
                entry["warnings"] = files["warnings"]
            archive = writer.archive(files, folder, stem)
            entry["zip"] = _zip(folder / f"{stem}.zip", archive).relative_to(settings.data_dir).as_posix()
        results.append(entry)
        with session_scope(engine) as session:
            repo.update_prediction(session, ctx.job_id, results={"images": results})
    done = [r for r in results if "zip" in r]
    everything = [settings.data_dir / r["zip"] for r in done]
    table = writer.summary(out_root, [(r["name"], r) for r in done]) if done else None
    if table is not None:
        everything.append(table)
    all_zip = _zip(out_root / "all_results.zip", everything) if everything else None
    if all(("error" in r) for r in results):
        raise SegStudioError("No image could be predicted: " + " ".join(r["error"] for r in results))
    return {"results": {"images": results,
                        "zip": all_zip.relative_to(settings.data_dir).as_posix() if all_zip else None,
                        "table": table.relative_to(settings.data_dir).as_posix() if table else None},
            "progress": 1.0}


def _zip(dest: Path, files: list[Path]) -> Path:
    tmp = dest.with_name(f".{dest.name}.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            if file.suffix == ".zip":
                with zipfile.ZipFile(file) as inner:
                    for name in inner.namelist():
                        archive.writestr(f"{file.stem}/{name}", inner.read(name))
            else:
                archive.write(file, arcname=file.name)
    shutil.move(tmp, dest)
    return dest
