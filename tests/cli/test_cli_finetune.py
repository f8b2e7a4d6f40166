"""`segstudio train --start MODEL [--map LABEL=MODEL_LABEL]`: fine-tuning from the command line, and its
mistakes refused with the reason."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.training.package import read_card


@pytest.mark.slow  # 14 s; a fine-tuned training runs in tests/test_trainings.py, the mapping's refusals in tests/training/test_transfer.py
def test_train_from_a_model_and_the_mapping_mistakes(app_env, capsys):
    assert main(["demo"]) == 0
    project = "Demo: fluorescent nuclei"
    base = ["train", project, "--type", "instance", "--labels", "nucleus", "--duration", "4"]
    capsys.readouterr()
    assert main([*base, "--name", "first", "--json"]) == 0, capsys.readouterr().err
    capsys.readouterr()

    assert main([*base, "--name", "x", "--map", "nucleus=nucleus"]) == 1
    assert "give the model with --start" in capsys.readouterr().err
    assert main([*base, "--name", "x", "--start", "first", "--map", "nucleus=cell"]) == 1
    err = capsys.readouterr().err
    assert "--map 'nucleus=cell'" in err and "MODEL_LABEL one of ['nucleus']" in err
    assert main([*base, "--name", "x", "--start", "nonexistent"]) == 1
    assert "No trained model 'nonexistent'" in capsys.readouterr().err

    assert main([*base, "--name", "second", "--start", "first", "--json"]) == 0
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert record["status"] == "succeeded", err
    card = read_card(app_env.data_dir / record["model_dir"])
    assert card["start"]["name"] == "first (Demo: fluorescent nuclei)" and card["start"]["label_map"] == {"1": 1}
    assert card["config"]["start"] == {"key": "training:1", "label_map": [[1, 1]]}
