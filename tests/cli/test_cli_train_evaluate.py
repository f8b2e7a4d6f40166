from __future__ import annotations

import json
import zipfile

from core.cli import main
from core.demo import DEMO_DIR


def test_train_evaluate_and_report(app_env, capsys, tmp_path):
    assert main(["demo"]) == 0
    project = "Demo: fluorescent nuclei"
    capsys.readouterr()
    # a rule broken through the CLI is refused with its reason
    code = main(["train", project, "--name", "x", "--type", "instance", "--labels", "nucleus",
                 "--train", "1", "2", "--val", "2", "--duration", "5"])
    assert code == 1 and "in both the training and the validation set" in capsys.readouterr().err

    code = main(["train", project, "--name", "tiny", "--type", "instance", "--labels", "nucleus",
                 "--duration", "12", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)
    assert record["status"] == "succeeded" and record["metrics"]["f1"] is not None
    assert (app_env.data_dir / record["model_dir"] / "model.torchscript.pt").exists()

    code = main(["evaluate", str(record["id"]), "--images", str(DEMO_DIR / "images"),
                 "--masks", str(DEMO_DIR / "masks"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["images"] == 6 and len(result["per_image"]) == 6
    assert set(result["per_label"][0]) >= {"pixel_iou", "pixel_dice", "precision", "recall", "f1", "mean_ap"}
    code = main(["evaluate", str(record["id"]), "--images", str(DEMO_DIR / "images"), "--masks", "/nonexistent"])
    assert code == 1 and "must both be folders" in capsys.readouterr().err

    # the worker-built report is there; `segstudio report` copies it, or builds it again
    out = tmp_path / "r.zip"
    assert main(["report", "tiny", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
    assert {"report.pdf", "metrics.json", "metrics_per_image.csv", "curves.csv", "README.txt"} <= set(names)
    assert any(n.startswith("validation_visualizations/") for n in names)
    assert any(n.startswith("model/") and n.endswith("model.torchscript.pt") for n in names)
    assert main(["report", "tiny", "--out", str(tmp_path / "again.zip"), "--rebuild"]) == 0

    # predict with the card's views (8) or one view (fast); other counts are refused by the parser
    image = sorted((DEMO_DIR / "images").iterdir())[0]
    for views in ([], ["--views", "1"]):
        target = tmp_path / f"predicted{len(views)}"
        code = main(["predict", "tiny", str(image), "--out", str(target), *views, "--json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert any(target.glob("*labels*")), list(target.iterdir())
    try:
        main(["predict", "tiny", str(image), "--out", str(tmp_path / "x"), "--views", "3"])
    except SystemExit as exc:
        assert exc.code == 2 and "invalid choice: 3" in capsys.readouterr().err
    else:
        raise AssertionError("--views 3 was accepted")
