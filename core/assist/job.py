"""The pre-annotation job, run by the worker in a child process: the assistant's forest proposes annotations for
other images of the project; each image is marked "proposed" until the user accepts it on the annotate page."""

from __future__ import annotations

from typing import Any

from core.assist.forest import ScribbleForest
from core.assist.proposal import proposal_to_shapes
from core.assist.tiled import predict_image
from core.db import repo, session_scope
from core.db.models import NOT_ANNOTATED
from core.errors import SegStudioError
from core.imaging import open_image
from core.jobs.context import JobCancelled, JobContext


def run_preannotation_job(ctx: JobContext) -> dict[str, Any]:
    settings, engine = ctx.settings, ctx.engine
    with session_scope(engine) as session:
        job = repo.get_preannotation(session, ctx.job_id)
    forest = ScribbleForest.load(settings.data_dir / job.forest_path)
    image_ids: list[int] = list(job.config.get("image_ids", []))
    mode = job.config.get("mode", "instance")
    results: list[dict[str, Any]] = []
    for index, image_id in enumerate(image_ids):
        ctx.check_cancel()
        entry: dict[str, Any] = {"image_id": image_id}
        try:
            with session_scope(engine) as session:
                image = repo.get_image(session, image_id)
            entry["name"] = image.name
            if image.status != NOT_ANNOTATED:
                entry.update(outcome="skipped", reason="annotated or marked meanwhile; left as it is")
            else:
                def progress(fraction: float, index: int = index) -> None:
                    ctx.report(progress=(index + fraction) / len(image_ids),
                               message=f"image {index + 1} of {len(image_ids)}")

                with open_image(settings.data_dir / image.stored_path) as reader:
                    classes = predict_image(reader, forest, progress=progress, should_stop=ctx.should_stop)
                shapes = proposal_to_shapes(classes, forest.label_ids, mode=mode)
                if not shapes:
                    entry.update(outcome="empty", reason="the assistant found no objects; left not annotated")
                else:
                    with session_scope(engine) as session:
                        stored = repo.propose_shapes(session, image_id, [s.to_record() for s in shapes])
                    if stored is None:
                        entry.update(outcome="skipped", reason="annotated meanwhile; left as it is")
                    else:
                        entry.update(outcome="proposed", objects=len(shapes))
        except InterruptedError as exc:
            raise JobCancelled() from exc
        except SegStudioError as exc:
            entry.update(outcome="failed", reason=str(exc))
        results.append(entry)
        with session_scope(engine) as session:
            repo.update_preannotation(session, ctx.job_id, results={"images": results},
                                      progress=(index + 1) / len(image_ids))
    if image_ids and all(r["outcome"] == "failed" for r in results):
        raise SegStudioError("No image could be pre-annotated: " + " ".join(r["reason"] for r in results))
    return {"results": {"images": results}, "progress": 1.0}
