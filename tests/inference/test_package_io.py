"""Model import/export: real packages, hostile ZIPs, malformed cards, pickled code, image fit checks."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import InvalidInputError, ModelPackageError, NotFoundError
from core.inference import (
    Predictor,
    check_image_fits,
    check_not_empty,
    export_model_package,
    import_model_package,
    predict_image,
)
from core.training.models import build_model
from core.training.package import FORMAT_VERSION, read_card


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """A model package as core.training.package writes it (weights, card; a stand-in TorchScript file,
    which import copies along but never loads)."""
    torch.manual_seed(0)
    model = build_model("mobilenet_v2", 1, 1)
    card = {
        "format_version": FORMAT_VERSION,
        "architecture": "smp.Unet",
        "encoder": "mobilenet_v2",
        "in_channels": 1,
        "out_channels": 1,
        "training_type": "semantic",
        "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
        "normalization": {"method": "percentile", "low": [0.0], "high": [255.0]},
        "distance_head": False,
        "dtype": "uint8",
        "name": "nuclei v1",
    }
    folder = tmp_path_factory.mktemp("pkg") / "model"
    folder.mkdir()
    torch.save(model.state_dict(), folder / "weights.pt")
    (folder / "model_card.json").write_text(json.dumps(card))
    (folder / "model.torchscript.pt").write_bytes(b"stand-in")
    read_card(folder)  # a valid package
    return folder


def _zip(path: Path, entries: dict[str, bytes | Path], *, links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data.read_bytes() if isinstance(data, Path) else data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def _files(package: Path) -> dict[str, Path]:
    return {f"model/{p.name}": p for p in package.iterdir()}


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_import_folder_zip_and_export_round_trip(package: Path, tmp_path: Path):
    models = tmp_path / "data" / "models"
    first = import_model_package(package, models)
    assert first.parent == models and first.name.startswith("nuclei-v1-")
    assert sorted(p.name for p in first.iterdir()) == [
        "model.torchscript.pt",
        "model_card.json",
        "weights.pt",
    ]
    assert import_model_package(package.parent, models) == first  # a folder holding model/; same weights
    report = _zip(
        tmp_path / "report.zip",
        {"report.pdf": b"%PDF", "metrics.json": b"{}", **_files(package), "model/notes.py": b"import os"},
    )
    assert import_model_package(report, models) == first
    exported = export_model_package(first, tmp_path / "exported.zip")
    other = import_model_package(exported, tmp_path / "elsewhere")
    assert (other / "weights.pt").read_bytes() == (package / "weights.pt").read_bytes()
    assert not any(p.name.startswith(".") for p in models.iterdir())
    predictor = Predictor.from_package(first, device="cpu")  # an imported model predicts
    image = np.random.default_rng(0).integers(0, 255, (1, 70, 90), dtype=np.uint8)
    result = predict_image(image, predictor, tile=64, halo=32, block=128)
    assert result.labels.shape == (1, 70, 90) and predictor.halo == 64


@pytest.mark.parametrize(
    "evil", ["../evil.txt", "/abs/evil.txt", "model/../../evil.txt", "C:/evil.txt", "model\\..\\evil.txt"]
)
def test_path_traversal_is_refused_and_nothing_is_written(package: Path, tmp_path: Path, evil: str):
    models = tmp_path / "data" / "models"
    before = _tree(tmp_path)
    src = _zip(tmp_path / "evil.zip", {**_files(package), evil: b"pwned"})
    with pytest.raises(ModelPackageError, match="outside the package"):
        import_model_package(src, models)
    assert _tree(tmp_path) == sorted([*before, "evil.zip", "data", "data/models"])


def test_symlinks_are_refused(package: Path, tmp_path: Path):
    src = _zip(tmp_path / "link.zip", _files(package), links=("model/weights_link.pt",))
    with pytest.raises(ModelPackageError, match="symbolic link"):
        import_model_package(src, tmp_path / "models")
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "model_card.json").write_bytes((package / "model_card.json").read_bytes())
    os.symlink(package / "weights.pt", folder / "weights.pt")
    with pytest.raises(ModelPackageError, match="symbolic link"):
        import_model_package(folder, tmp_path / "models")


def test_size_limits(package: Path, tmp_path: Path, monkeypatch):
    import core.inference.package_io as package_io

    monkeypatch.setitem(package_io.KNOWN_FILES, "weights.pt", 1000)
    with pytest.raises(ModelPackageError, match="more than the 1000 allowed"):
        import_model_package(_zip(tmp_path / "big.zip", _files(package)), tmp_path / "models")
    with pytest.raises(ModelPackageError, match="more than the 1000 allowed"):
        import_model_package(package, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_lying_zip_headers_are_caught_while_inflating(package: Path, tmp_path: Path, monkeypatch):
    import core.inference.package_io as package_io

    src = _zip(tmp_path / "lie.zip", _files(package))
    real_open = zipfile.ZipFile.open

    def understate(self, info, *args, **kwargs):  # a header claiming fewer bytes than the data holds
        if isinstance(info, zipfile.ZipInfo) and info.filename.endswith("weights.pt"):
            info.file_size = 10
        return real_open(self, info, *args, **kwargs)

    monkeypatch.setitem(package_io.KNOWN_FILES, "weights.pt", 4096)
    monkeypatch.setattr(zipfile.ZipFile, "open", understate)
    with pytest.raises(ModelPackageError):
        import_model_package(src, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_newer_format_version_names_both_versions(package: Path, tmp_path: Path):
    card = json.loads((package / "model_card.json").read_text())
    card["format_version"] = 99
    entries = {**_files(package), "model/model_card.json": json.dumps(card).encode()}
    with pytest.raises(ModelPackageError, match=r"format version 99, newer than this segstudio reads \(1\)"):
        import_model_package(_zip(tmp_path / "new.zip", entries), tmp_path / "models")


@pytest.mark.parametrize(
    ("card_bytes", "match"),
    [
        (b"{not json", "cannot be read as JSON"),
        (json.dumps({"format_version": 1, "encoder": "resnet18"}).encode(), "architecture is missing"),
    ],
)
def test_malformed_cards(package: Path, tmp_path: Path, card_bytes: bytes, match: str):
    entries = {**_files(package), "model/model_card.json": card_bytes}
    with pytest.raises(ModelPackageError, match=match):
        import_model_package(_zip(tmp_path / "bad.zip", entries), tmp_path / "models")


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())  # harmless, but code all the same


def test_pickled_code_is_refused(package: Path, tmp_path: Path):
    evil = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(1), "payload": _Payload()}, evil)
    entries = {**_files(package), "model/weights.pt": evil}
    with pytest.raises(ModelPackageError, match="pickled objects other than tensors"):
        import_model_package(_zip(tmp_path / "pickle.zip", entries), tmp_path / "models")


def test_weights_that_do_not_fit_the_card(package: Path, tmp_path: Path):
    other = tmp_path / "weights.pt"
    torch.save(build_model("mobilenet_v2", 3, 1).state_dict(), other)
    entries = {**_files(package), "model/weights.pt": other}
    with pytest.raises(ModelPackageError, match="do not fit"):
        import_model_package(_zip(tmp_path / "misfit.zip", entries), tmp_path / "models")


def test_not_a_package(tmp_path: Path):
    with pytest.raises(NotFoundError):
        import_model_package(tmp_path / "missing.zip", tmp_path / "models")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelPackageError, match="neither a model folder nor a ZIP"):
        import_model_package(tmp_path / "notes.txt", tmp_path / "models")
    with pytest.raises(ModelPackageError, match=r"holds no model_card\.json"):
        import_model_package(_zip(tmp_path / "empty.zip", {"a.txt": b"x"}), tmp_path / "models")


def test_check_image_fits():
    card = {"in_channels": 1, "dtype": "uint8"}
    check_image_fits(card, 1, np.uint8)
    with pytest.raises(
        ModelPackageError, match="the model expects 1 channel of uint8, this image has 3 channels of uint16"
    ):
        check_image_fits(card, 3, np.uint16)
    # another bit depth fits: it is scaled with its own percentiles (core.training.normalization)
    check_image_fits({"in_channels": 2, "dtype": "uint16"}, 2, "uint8")
    check_image_fits({"in_channels": 2}, 2, np.uint16)  # a card without dtype checks channels only


def test_check_not_empty(tmp_path: Path):
    import tifffile

    from core.imaging import open_image

    with pytest.raises(InvalidInputError, match="every pixel has the value 0"):
        check_not_empty(np.zeros((2, 8, 8), dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="empty"):
        check_not_empty(np.zeros((1, 0, 5)))
    flat = np.full((300, 200), 5, dtype=np.uint16)
    tifffile.imwrite(tmp_path / "flat.tif", flat, tile=(64, 64))
    with open_image(tmp_path / "flat.tif") as reader, pytest.raises(InvalidInputError, match="value 5"):
        check_not_empty(reader)
    flat[299, 199] = 6
    tifffile.imwrite(tmp_path / "speck.tif", flat, tile=(64, 64))
    with open_image(tmp_path / "speck.tif") as reader:
        check_not_empty(reader)


@pytest.mark.parametrize("speck", [None, (299, 199), (150, 100)])
def test_check_not_empty_without_a_small_level(tmp_path: Path, monkeypatch, speck):
    import tifffile

    import core.inference.fit as fit
    from core.imaging import open_image

    monkeypatch.setattr(fit, "_OVERVIEW_PIXELS", 100)  # as for a huge image without a pyramid
    monkeypatch.setattr(fit, "_BAND", 64)
    monkeypatch.setattr(fit, "_WINDOW", 4)
    image = np.full((300, 200), 5, dtype=np.uint8)
    if speck is not None:
        image[speck] = 6  # a corner window finds (299, 199); (150, 100) needs the full scan
    tifffile.imwrite(tmp_path / "x.tif", image, tile=(64, 64))
    with open_image(tmp_path / "x.tif") as reader:
        if speck is None:
            with pytest.raises(InvalidInputError, match="value 5"):
                check_not_empty(reader)
        else:
            check_not_empty(reader)
