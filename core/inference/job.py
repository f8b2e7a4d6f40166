"""The prediction job, run by the worker in a child process: each image -> labels, measurements, GeoJSON, ZIP."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from core.db import repo, session_scope
from core.errors import SegStudioError
from core.imaging import import_image, open_image
from core.inference.export import export_prediction, write_label_tiffs
from core.inference.fit import check_image_fits
from core.inference.predictor import Predictor
from core.inference.progress import PredictionCancelled
from core.inference.tiled import predict_image
from core.jobs.context import JobCancelled, JobContext


def prediction_dir(data_dir: Path, prediction_id: int) -> Path:
    return data_dir / "predictions" / str(prediction_id)


def predict_file(predictor: Predictor, image_path: Path, out_dir: Path, stem: str, *, pixel_size_um: float | None,
                 on_progress=None, should_stop=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Predict one stored image; write ``<stem>_labels.tif``, ``<stem>_objects.csv``, ``<stem>.geojson``.
    The result also has ``"warnings"``: sentences for the user (e.g. a nearly empty image's normalisation)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    colors = [lab.get("color") for lab in predictor.card["labels"]]
    with open_image(image_path) as reader:
        check_image_fits(predictor.card, reader.shape[0], reader.dtype)
        labels_path = out_dir / f"{stem}_labels.tif"
        result = predict_image(reader, predictor, out=labels_path, on_progress=on_progress, should_stop=should_stop)
        files = export_prediction(labels_path, reader, out_dir, stem=stem, pixel_size_um=pixel_size_um,
                                  colors=colors, should_stop=should_stop)
    return {"labels": labels_path, **files, "counts": result.counts_by_label, "seconds": result.seconds,
            "warnings": list(result.warnings)}


def run_prediction_job(ctx: JobContext) -> dict[str, Any]:
    settings, engine = ctx.settings, ctx.engine
    with session_scope(engine) as session:
        prediction = repo.get_prediction(session, ctx.job_id)
    items = prediction.config.get("items", [])
    out_root = prediction_dir(settings.data_dir, ctx.job_id)
    out_root.mkdir(parents=True, exist_ok=True)
    predictor = Predictor.from_package(settings.data_dir / prediction.model_dir, device=settings.device,
                                       views=prediction.config.get("views"))
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
            else:
                entry["name"] = item["name"]
                # a model reads the pages of a multi-page file as its channels
                stored = import_image(
                    Path(item["path"]), out_root / "inputs", f"input{index}", pages_as="channels"
                )
                path, pixel_size = stored.path, stored.pixel_size_um
                entry["stored"] = path.relative_to(settings.data_dir).as_posix()
            stem = Path(entry["name"]).stem or f"image{index}"

            def progress(fraction: float, index: int = index) -> None:
                ctx.report(progress=(index + fraction) / len(items), message=f"image {index + 1} of {len(items)}")

            files = predict_file(predictor, path, out_root / f"{index:03d}", stem, pixel_size_um=pixel_size,
                                 on_progress=progress, should_stop=ctx.should_stop)
        except PredictionCancelled as exc:
            raise JobCancelled() from exc
        except SegStudioError as exc:
            entry["error"] = str(exc)
        else:
            entry.update({k: Path(v).relative_to(settings.data_dir).as_posix() for k, v in files.items()
                          if k in ("labels", "csv", "geojson")}, counts=files["counts"])
            if files["warnings"]:
                entry["warnings"] = files["warnings"]
            per_label = out_root / f"{index:03d}" / "per_label"
            per_label.mkdir(parents=True, exist_ok=True)
            label_tiffs = write_label_tiffs(files["labels"], per_label, stem)
            entry["zip"] = _zip(out_root / f"{index:03d}" / f"{stem}.zip",
                                [files["csv"], files["geojson"], *label_tiffs]).relative_to(settings.data_dir).as_posix()
        results.append(entry)
        with session_scope(engine) as session:
            repo.update_prediction(session, ctx.job_id, results={"images": results})
    everything = [settings.data_dir / r["zip"] for r in results if "zip" in r]
    all_zip = _zip(out_root / "all_results.zip", everything) if everything else None
    if all(("error" in r) for r in results):
        raise SegStudioError("No image could be predicted: " + " ".join(r["error"] for r in results))
    return {"results": {"images": results,
                        "zip": all_zip.relative_to(settings.data_dir).as_posix() if all_zip else None},
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
