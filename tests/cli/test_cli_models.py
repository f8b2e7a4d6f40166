"""`segstudio model rename` and `model delete`: the same rules as the Models page."""

from __future__ import annotations

import pytest

from core.cli import main
from core.db import repo, session_scope
from core.db.engine import make_engine
from tests.models_helpers import imported_package, trained_model


@pytest.fixture
def cli(app_env, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_rename_then_predict_finds_it_and_delete_asks_for_yes(app_env, cli):
    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        project = repo.create_project(s, "Nuclei")
    t = trained_model(app_env, engine, project.id, "first")
    folder = imported_package(app_env, "shared-abc")

    code, out, _ = cli("model", "rename", str(t.id), "nuclei v2")
    assert code == 0 and "'nuclei v2'" in out
    code, out, _ = cli("model", "rename", "shared-abc", "Lab nuclei")
    assert code == 0
    code, out, _ = cli("model", "list")
    assert "nuclei v2 (Nuclei)" in out and "Lab nuclei (imported)" in out
    code, _, err = cli("model", "rename", "Lab nuclei", "nuclei v2")
    assert code != 0 and "already called" in err

    code, _, err = cli("model", "delete", "Lab nuclei")
    assert code == 2 and "--yes" in err and folder.exists()
    code, out, _ = cli("model", "delete", "Lab nuclei", "--yes")
    assert code == 0 and not folder.exists()
    code, out, _ = cli("model", "delete", "nuclei v2", "--yes")
    assert code == 0 and "stay" in out
    with session_scope(engine) as s:
        assert repo.get_training(s, t.id).model_dir == ""
