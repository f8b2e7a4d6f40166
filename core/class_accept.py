"""Accept a classification model's predictions as the classes of project images, for the user to review.

The predicted class of each chosen image of a prediction run becomes the image's class
(:func:`core.db.repo.set_image_class`), through a map from the model's class names to the project's labels
(by name unless the user chooses otherwise; a class mapped to None sets nothing). An image that has a class
already keeps it unless ``replace`` is asked for; the report counts what was set, replaced, kept and left
unchanged, and names the images that could not be given a class and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from core.config import Settings
from core.db import repo, session_scope
from core.errors import InvalidInputError, NotFoundError

#: image names listed in a sentence at most (then "and N more")
NAMES_SHOWN = 10


@dataclass
class ClassAcceptReport:
    """What accepting predictions as classes did: images whose class was ``set`` (they had none),
    ``replaced`` (they had another one), ``kept`` (they had another one and replacing was not asked for),
    ``unchanged`` (they had the predicted one already); images ``not_mapped`` (their predicted class maps to
    no project label), ``not_in_project`` (uploads, deleted images or images of another project) and
    ``failed`` (their prediction failed), by name."""

    set: int = 0
    replaced: int = 0
    kept: int = 0
    unchanged: int = 0
    not_mapped: list[str] = field(default_factory=list)
    not_in_project: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Images whose class changed (set or replaced)."""
        return self.set + self.replaced

    def sentences(self) -> list[str]:
        """What happened, one sentence per outcome (the first always says how many classes were set)."""
        replaced = f" ({self.replaced} of them replaced a different class, as chosen)" * bool(self.replaced)
        out = [f"Set the class of {self.changed} image(s) from the predictions{replaced}; review them in the "
               "gallery or on the Annotate page."]
        if self.kept:
            out.append(f"{self.kept} image(s) already had a different class and kept it, as chosen (choose "
                       "to replace existing classes to overwrite them).")
        if self.unchanged:
            out.append(f"{self.unchanged} image(s) already had the predicted class.")
        if self.not_mapped:
            out.append(f"No project label was chosen for the predicted class of {_names(self.not_mapped)}; "
                       "their class was not set.")
        if self.not_in_project:
            out.append(f"{_names(self.not_in_project)} are not images of this project (uploads, deleted "
                       "images or another project's); import them into the project to give them a class.")
        if self.failed:
            out.append(f"The prediction failed for {_names(self.failed)}; nothing was set for them.")
        return out


def default_class_map(class_names: Sequence[str], labels: Mapping[int, str]) -> dict[str, int | None]:
    """Each of the model's class names -> the id of the project label of the same name (case and spaces at
    the ends ignored), or None where the project has none. ``labels``: label id -> name."""
    by_name = {str(name).strip().lower(): label_id for label_id, name in labels.items()}
    return {name: by_name.get(str(name).strip().lower()) for name in class_names}


def accept_as_classes(
    settings: Settings,
    engine: Engine,
    prediction_id: int,
    item_indices: Sequence[int],
    class_map: Mapping[str, int | None],
    *,
    project_id: int,
    replace: bool = False,
) -> ClassAcceptReport:
    """Set the class of the images ``item_indices`` (positions in the run's results) of prediction run
    ``prediction_id`` to their predicted class, mapped to a label of project ``project_id`` by
    ``class_map`` (model class name -> label id, or None to set nothing); images with a class keep it
    unless ``replace``."""
    if not item_indices:
        raise InvalidInputError("Choose at least one predicted image to accept as a class.")
    with session_scope(engine) as session:
        prediction = repo.get_prediction(session, prediction_id)
        labels = {lab.id for lab in repo.list_labels(session, project_id)}
    results = prediction.results.get("images", [])
    bad = [i for i in item_indices if not 0 <= int(i) < len(results)]
    if bad:
        raise NotFoundError(f"Prediction run {prediction_id} has no image number(s) {[i + 1 for i in bad]}; "
                            f"it has {len(results)}.")
    foreign = sorted({v for v in class_map.values() if v is not None} - labels)
    if foreign:
        raise InvalidInputError(f"Label id(s) {foreign} are not labels of this project; "
                                "choose its own labels.")
    report = ClassAcceptReport()
    with session_scope(engine) as session:
        for index in dict.fromkeys(int(i) for i in item_indices):
            item = results[index]
            name = str(item.get("name", f"image {index + 1}"))
            record = item.get("prediction")
            if "error" in item or not isinstance(record, Mapping):
                report.failed.append(name)
                continue
            label_id = class_map.get(str(record["class"]))
            if label_id is None:
                report.not_mapped.append(name)
                continue
            image = _project_image(session, item.get("image_id"), project_id)
            if image is None:
                report.not_in_project.append(name)
                continue
            if image.class_id == label_id:
                report.unchanged += 1
            elif image.class_id is not None and not replace:
                report.kept += 1
            else:
                report.replaced += image.class_id is not None
                report.set += image.class_id is None
                repo.set_image_class(session, image.id, label_id)
    return report


def _project_image(session, image_id: object, project_id: int):  # type: ignore[no-untyped-def]
    """The image of that id in the project, or None (an upload, a deleted image, another project's)."""
    if not isinstance(image_id, int):
        return None
    try:
        image = repo.get_image(session, image_id)
    except NotFoundError:
        return None
    return image if image.project_id == project_id else None


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    return f"{len(names)} image(s) ({shown}{more})"
