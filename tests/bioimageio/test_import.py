"""Import of bioimage.io packages: a package made elsewhere (here: segstudio's export without its card) runs
in Apply with its declared pre- and post-processing; hostile or malformed packages are refused with one line
saying why, and nothing is left behind."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from core.bioimageio import export_refusal
from core.bioimageio.runtime import ForeignPredictor
from core.errors import ModelPackageError
from core.inference.package_io import export_model_package, import_model_package
from core.inference.results import card_writer, predict_file
from core.training.card_schema import check_card
from core.training.package import load_model, read_card
from core.training.predict import predict_maps
from tests.bioimageio.conftest import rezip


def test_a_foreign_package_imports_and_runs_as_its_description_says(foreign: Path, instance_package: Path,
                                                                    tmp_path: Path):
    models = tmp_path / "models"
    folder = import_model_package(foreign, models)
    assert sorted(p.name for p in folder.iterdir()) == ["model.torchscript.pt", "model_card.json"]
    card = read_card(folder)  # passes the card schema
    assert card["architecture"] == "bioimageio.torchscript" and card["training_type"] == "semantic"
    assert [lab["name"] for lab in card["labels"]] == [
        "classes background", "classes interior", "classes boundary", "distance nucleus"]
    assert card["postprocess"] == {"threshold": 0.5, "min_size": 0}
    assert import_model_package(foreign, models) == folder  # the same weights twice: the first import
    assert "imported from a bioimage.io package" in export_refusal(card)

    # the maps are segstudio's own model's (the package's declared normalisation is segstudio's), on an
    # image of a size the description allows (160 + 32 k: smaller ones are padded to it, with other borders)
    predictor = card_writer(card).load(folder, device="cpu")
    assert isinstance(predictor, ForeignPredictor)
    image = np.random.default_rng(5).integers(0, 255, (1, 160, 224)).astype(np.uint8)
    with torch.inference_mode():
        maps = predictor.model(torch.from_numpy(predictor.normalize(image)[None]))[0].numpy()
    ours = predict_maps(*load_model(instance_package), image)
    np.testing.assert_allclose(maps[1], ours["interior"][0], atol=1e-4)
    np.testing.assert_allclose(maps[3], ours["distance"][0], atol=1e-4)

    # Apply: tiled, any size, a label image per channel: where its probability is above 0.5
    cells = np.random.default_rng(6).integers(0, 255, (300, 700), np.uint8)
    tifffile.imwrite(tmp_path / "cells.tif", cells)
    result = predict_file(predictor, tmp_path / "cells.tif", tmp_path / "out", "cells", pixel_size_um=None)
    labels = tifffile.imread(result["labels"])
    assert labels.shape == (4, 300, 700) and set(result["counts"]) == {lab["name"] for lab in card["labels"]}
    with torch.inference_mode():
        whole = predictor.model(torch.from_numpy(predictor.normalize(cells[None])[None]))[0].numpy()
    agreement = ((labels > 0) == (whole > 0.5)).mean(axis=(1, 2))
    assert agreement.min() > 0.97, agreement  # tiles see less context at their borders than one pass


def test_a_model_of_fixed_input_size_and_batch_gets_tiles_that_fit(foreign: Path, tmp_path: Path):
    def fixed(rdf: dict) -> None:
        axes = rdf["inputs"][0]["axes"]
        axes[0]["size"] = 1  # one image at a time
        axes[2]["size"] = axes[3]["size"] = 256

    folder = import_model_package(rezip(foreign, tmp_path / "fixed.zip", rdf=fixed), tmp_path / "models")
    predictor = card_writer(read_card(folder)).load(folder, device="cpu")
    assert predictor.tile == 128 and predictor.halo == 64  # 128 + 2 * 64 = 256
    predictor.batch_size = 3
    cells = np.random.default_rng(7).integers(0, 255, (1, 300, 420), np.uint8)
    from core.inference.tiled import predict_image

    labels = predict_image(cells, predictor).labels
    with torch.inference_mode():
        whole = predictor.model(torch.from_numpy(predictor.normalize(cells)[None, :, :256, :256]))[0].numpy()
    agreement = ((labels[:, :256, :256] > 0) == (whole > 0.5)).mean()
    assert agreement > 0.9, agreement


def test_foreign_models_export_and_reimport_as_segstudio_zips(foreign: Path, tmp_path: Path):
    folder = import_model_package(foreign, tmp_path / "models")
    zipped = export_model_package(folder, tmp_path / "again.zip")
    with zipfile.ZipFile(zipped) as zf:
        assert sorted(zf.namelist()) == ["model/model.torchscript.pt", "model/model_card.json"]
    assert import_model_package(zipped, tmp_path / "other").name == folder.name


def test_a_foreign_folder_imports_and_a_linked_one_is_refused(foreign: Path, tmp_path: Path):
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(foreign) as zf:
        zf.extractall(unpacked)
    folder = import_model_package(unpacked, tmp_path / "models")
    assert read_card(folder)["name"] == "tiny nuclei"
    assert import_model_package(unpacked / "rdf.yaml", tmp_path / "models") == folder  # or its description
    (tmp_path / "elsewhere.pt").write_bytes((unpacked / "torchscript.pt").read_bytes())
    (unpacked / "torchscript.pt").unlink()
    os.symlink(tmp_path / "elsewhere.pt", unpacked / "torchscript.pt")
    with pytest.raises(ModelPackageError, match="symbolic link"):
        import_model_package(unpacked, tmp_path / "more")
    assert not (tmp_path / "more").exists() or list((tmp_path / "more").iterdir()) == []


def _set(path: tuple, value: object) -> Callable[[dict], None]:
    def change(rdf: dict) -> None:
        node = rdf
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return change


_DELETE = object()
_Z_AXIS = [{"type": "batch"}, {"type": "channel", "channel_names": ["c"]},
           {"type": "space", "id": "z", "size": 8},
           {"type": "space", "id": "y", "size": {"min": 160, "step": 32}},
           {"type": "space", "id": "x", "size": {"min": 160, "step": 32}}]


_LAUGHS = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n".encode() for i in range(8)
) + b"type: model\n"


class _Evil:
    def __reduce__(self):
        return os.system, ("echo pwned",)


def _npy_object() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


HOSTILE = {
    "traversal": ({"replace": {"../../evil.pt": b"x"}}, "outside the package"),
    "absolute path": ({"replace": {"/etc/cron.d/evil": b"x"}}, "outside the package"),
    "symbolic link": ({"links": ("torchscript.pt.link",)}, "symbolic link"),
    "missing inputs": ({"rdf": _set(("inputs",), _DELETE)}, "has no input tensors"),
    "two inputs": ({"rdf": lambda r: r["inputs"].append(dict(r["inputs"][0], id="more"))},
                   "exactly one image input"),
    "wrong type": ({"rdf": _set(("type",), "dataset")}, "its type is 'dataset', not 'model'"),
    "old format": ({"rdf": _set(("format_version",), "0.4.10")}, "format '0.4.10'"),
    "not a mapping": ({"replace": {"rdf.yaml": b"- just\n- a list\n"}}, "not a mapping of fields"),
    "bad yaml": ({"replace": {"rdf.yaml": b"inputs: [unclosed\n"}}, "not readable YAML"),
    "billion laughs": ({"replace": {"rdf.yaml": _LAUGHS}}, "expands to more than 50000 values"),
    "3D input": ({"rdf": _set(("inputs", 0, "axes"), _Z_AXIS)}, "space axis 'z'"),
    "fixed size too small": ({"rdf": _set(("inputs", 0, "axes", 2, "size"), 150)},
                             "fixed size 150 pixels, too small for tiles"),
    "odd size": ({"rdf": _set(("inputs", 0, "axes", 2, "size"), "big")}, "a fixed size, or of a minimum"),
    "no torchscript": ({"rdf": _set(("weights", "torchscript"), _DELETE)},
                       "no TorchScript weights \\(only pytorch_state_dict\\)"),
    "weights at a URL": ({"rdf": _set(("weights", "torchscript", "source"), "https://example.org/w.pt")},
                         "never downloads"),
    "weights missing": ({"drop": ("torchscript.pt",)}, "lacks torchscript.pt"),
    "wrong sha256": ({"rdf": _set(("weights", "torchscript", "sha256"), "0" * 64)}, "sha256"),
    "unknown step": ({"rdf": _set(("outputs", 0, "postprocessing"), [{"id": "stardist_postprocessing"}])},
                     "'stardist_postprocessing', which segstudio does not run"),
    "output at another size": ({"rdf": _set(("outputs", 0, "axes", 2, "size"), 64)},
                               "not at the input's size"),
    "pickled test tensor": ({"replace": {"test_input.npy": _npy_object()}}, "pickled objects are refused"),
    "empty test tensor": ({"replace": {"test_output_classes.npy": b""}}, "not a plain .npy array"),
    "not reproduced": ({"rdf": _set(("outputs", 0, "postprocessing"), [{"id": "sigmoid"}])},
                       "does not reproduce its test output 'classes'"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_or_malformed_packages_are_refused_in_one_line(case: str, foreign: Path, tmp_path: Path):
    changes, reason = HOSTILE[case]
    package = rezip(foreign, tmp_path / "bad.zip", **changes)
    models = tmp_path / "models"
    with pytest.raises(ModelPackageError, match=reason) as err:
        import_model_package(package, models)
    assert "\n" not in str(err.value)
    assert list(models.iterdir()) == []  # nothing left behind


def test_huge_entries_are_refused_by_declared_and_inflated_size(foreign: Path, tmp_path: Path, monkeypatch):
    import core.inference.package_io as package_io

    monkeypatch.setitem(package_io.KNOWN_FILES, "model.torchscript.pt", 1000)
    with pytest.raises(ModelPackageError, match="more than the 1000 allowed"):
        import_model_package(foreign, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_an_exported_package_with_pickled_code_as_weights_is_refused(exported: Path, tmp_path: Path):
    evil = rezip(exported, tmp_path / "evil.zip", replace={"weights.pt": pickle.dumps(_Evil())})
    with pytest.raises(ModelPackageError, match="pickled objects other than tensors"):
        import_model_package(evil, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_foreign_card_passes_the_schema_and_old_rules_hold(foreign: Path, tmp_path: Path):
    card = read_card(import_model_package(foreign, tmp_path / "models"))
    assert check_card(json.loads(json.dumps(card)), "x") is not None
    unet = {k: v for k, v in card.items() if k not in ("bioimageio",)}
    unet.update(architecture="smp.Unet")
    with pytest.raises(ModelPackageError, match="the field encoder is missing"):
        check_card(unet, "x")
    with pytest.raises(ModelPackageError, match=r"normalization\.method is 'bioimageio'"):
        check_card({**unet, "encoder": "resnet18"}, "x")
    with pytest.raises(ModelPackageError, match="the field bioimageio is missing"):
        check_card({k: v for k, v in card.items() if k != "bioimageio"}, "x")
