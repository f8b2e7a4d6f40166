"""An epoch's own values beyond the columns (a training type's extra curves) are kept in ``scores``, read back
flat, and an older database gains the column."""

from __future__ import annotations

import sqlite3

from core.db import repo, session_scope
from core.db.engine import add_missing_columns, make_engine
from core.db.models import Training


def _training(engine) -> int:
    with session_scope(engine) as s:
        project = repo.create_project(s, "P")
        return repo.add_training(s, Training(project_id=project.id, name="t")).id


def test_every_number_without_a_column_is_kept_and_read_back_flat(engine):
    training_id = _training(engine)
    record = {"epoch": 2, "step": 40, "train_loss": 0.5, "val_loss": 0.6, "val_iou": None,
              "train_map50": 0.25, "val_map50": 0.5, "val_f1": None, "seconds": 3, "note": "not a number",
              "flag": True}
    row = repo.epoch_metric(training_id, record)
    assert (row.epoch, row.step, row.train_loss, row.val_iou, row.seconds) == (2, 40, 0.5, None, 3.0)
    assert row.scores == {"train_map50": 0.25, "val_map50": 0.5, "val_f1": None}  # None: not measured
    with session_scope(engine) as s:
        repo.add_epoch_metric(s, row)
        repo.add_epoch_metric(s, repo.epoch_metric(training_id, {"epoch": 1, "train_loss": 0.9}))
        rows = repo.epoch_records(s, training_id)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["val_map50"] == 0.5 and rows[1]["train_loss"] == 0.5 and rows[1]["val_f1"] is None
    assert "val_map50" not in rows[0] and rows[0]["val_loss"] is None and rows[0]["step"] == 0
    assert "scores" not in rows[0] and "id" not in rows[0] and "training_id" not in rows[0]


def test_an_older_database_gains_the_scores_column_with_its_default(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    make_engine(url).dispose()
    con = sqlite3.connect(tmp_path / "old.db")  # as segstudio made it before epochs had scores
    con.execute("ALTER TABLE epochmetric DROP COLUMN scores")
    con.execute("INSERT INTO project (name, created_at) VALUES ('P', '2024-01-01 00:00:00.000000')")
    con.execute("INSERT INTO training (project_id, name, config, status, progress, epoch, message, error, "
                "cancel_requested, worker_id, created_at, split, metrics, model_dir, report_path) VALUES "
                "(1, 'old', '{}', 'succeeded', 1.0, 1, '', '', 0, '', '2024-01-01 00:00:00.000000', '{}', "
                "'{}', '', '')")
    con.execute("INSERT INTO epochmetric (training_id, epoch, step, train_loss, seconds) "
                "VALUES (1, 1, 10, 0.7, 2)")
    con.commit()
    con.close()
    engine = make_engine(url)
    with engine.connect() as conn:
        columns = {row[1]: row for row in conn.exec_driver_sql('PRAGMA table_info("epochmetric")')}
    assert columns["scores"][3] == 1 and columns["scores"][4] == "'{}'"  # NOT NULL DEFAULT '{}'
    with session_scope(engine) as s:
        [old] = repo.epoch_records(s, 1)
        assert old["train_loss"] == 0.7 and old["epoch"] == 1
        repo.add_epoch_metric(s, repo.epoch_metric(1, {"epoch": 2, "val_map50": 0.3}))
        assert repo.epoch_records(s, 1)[1]["val_map50"] == 0.3
    assert add_missing_columns(engine) == []  # nothing left to add
    engine.dispose()
