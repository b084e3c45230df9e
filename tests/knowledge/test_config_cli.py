from __future__ import annotations

from pathlib import Path

import pytest

from crs_agent.agent.cli import main
from crs_agent.knowledge import Settings


def test_settings_from_environment_and_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    toml = tmp_path / "config.toml"
    toml.write_text('llm_backend = "rules"\nchroma = "http://127.0.0.1:8123"\n', encoding="utf-8")
    monkeypatch.setenv("CRS_AGENT_CONFIG", str(toml))
    monkeypatch.setenv("CRS_AGENT_DATA_DIR", str(tmp_path / "d"))
    settings = Settings()
    assert settings.llm_backend == "rules" and settings.chroma == "http://127.0.0.1:8123"
    assert settings.data_dir == tmp_path / "d" and settings.index_dir == tmp_path / "d" / "index"
    monkeypatch.setenv("CRS_AGENT_LLM_BACKEND", "openai")
    assert Settings().llm_backend == "openai"  # environment beats the file


def test_settings_reject_bad_chroma_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("CRS_AGENT_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ValueError, match="embedded"):
        Settings(chroma="sometimes")


def test_cli_index_then_status(tiny_settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRS_AGENT_EMBEDDING_MODEL", "hashing")
    args = ["--data-dir", str(tiny_settings.data_dir), "--catalog", str(tiny_settings.catalog)]
    assert main(["index", "--quiet", *args]) == 0
    assert "Built movies" in capsys.readouterr().out
    assert main(["index", "--quiet", *args]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["status", *args]) == 0


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch):
    monkeypatch.delenv("CRS_AGENT_DEBUG", raising=False)
    code = main(["index", "--quiet", "--data-dir", str(tmp_path), "--catalog", str(tmp_path / "missing.jsonl")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("crs-agent: Catalog") and "Traceback" not in err and err.count("\n") == 1
    monkeypatch.setenv("CRS_AGENT_CHROMA", "nonsense")
    assert main(["status", "--data-dir", str(tmp_path)]) == 2
    assert "invalid setting chroma" in capsys.readouterr().err
