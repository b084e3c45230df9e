"""The page's structure, the renderers, the start-up paths and ``crs-agent ui``, without a browser."""

from __future__ import annotations

import pytest

from crs_agent.agent import Recommender, ReplyItem, Trace
from crs_agent.agent.cli import main
from crs_agent.knowledge import index_status
from crs_agent.tools import Profile
from crs_agent.ui import app as ui_app
from crs_agent.ui.endpoints import ENDPOINTS
from crs_agent.ui.render import card_html, correction_choices, profile_markdown, trace_markdown


def _item(**changes) -> ReplyItem:
    data = {
        "id": "9",
        "title": "Up",
        "year": 2009,
        "genres": ["animation"],
        "people": {"star": ["Ed Asner"], "director": ["Pete Docter"]},
        "score": 0.734,
        "reason": "Directed by Pete Docter",
        "reasons": [],
        "entities": [],
    }
    return ReplyItem.model_validate(data | changes)


def test_a_card_shows_the_item_with_a_score_bar_and_escapes_catalog_text():
    html = card_html(_item(), rank=2)
    assert 'style="width:73%"' in html and "73% match" in html and '<span class="crs-rank">2</span>Up' in html
    assert html.index("Directed by</span> Pete Docter") < html.index("With</span> Ed Asner"), "director first"
    hostile = card_html(_item(title="<img src=x onerror=alert(1)>", reason='"><script>'), rank=1)
    assert "<img" not in hostile and "<script>" not in hostile and "&lt;img src=x" in hostile


def test_empty_states_say_what_to_do(tiny_knowledge):
    assert "ask for something" in trace_markdown(None)
    assert "No tools were needed" in trace_markdown(Trace(intent="chat"))
    assert profile_markdown(Profile(), tiny_knowledge.catalog).startswith("_Nothing yet: tell me a movie")
    assert correction_choices(Profile(), tiny_knowledge.catalog) == []


def test_every_profile_entry_can_be_taken_back(tiny_knowledge):
    profile = Profile(
        liked_ids=["1", "gone"], disliked_ids=["3"], genres=["sci-fi"], exclude_people=["Jordan Peele"],
        year_min=1990, wishes=["in space"],
    )  # fmt: skip
    assert correction_choices(profile, tiny_knowledge.catalog) == [
        ("👍 Inception (2010)", "liked_ids=1"),
        ("👎 The Shining (1980)", "disliked_ids=3"),
        ("♥ sci-fi", "genres=sci-fi"),
        ("🚫 Jordan Peele", "exclude_people=Jordan Peele"),
        ("📅 1990–…", "years="),
        ("💬 “in space”", "wishes=in space"),
    ]


def test_only_the_documented_endpoints_are_public(tiny_knowledge, tiny_settings):
    app = ui_app.build_app(Recommender(tiny_knowledge), tiny_settings)
    public = {f"/{fn.api_name}" for fn in app.fns.values() if fn.api_visibility == "public"}
    assert public == set(ENDPOINTS)
    assert (tiny_settings.data_dir / "ui-secret").stat().st_mode & 0o077 == 0, "the browser key is private"


def test_without_an_index_the_page_says_how_to_build_it(tiny_settings):
    app = ui_app.create_app(tiny_settings, build_index=False)
    texts = [block.value for block in app.blocks.values() if getattr(block, "elem_id", None) == "crs-error"]
    assert len(texts) == 1 and "is missing" in texts[0] and "`crs-agent index`" in texts[0]


def test_a_model_that_cannot_load_leaves_the_page_on_the_rules_backend(tiny_settings, tmp_path, capsys):
    settings = tiny_settings.model_copy(update={"llm_backend": "llama_cpp", "llm_model": str(tmp_path / "no.gguf")})
    app = ui_app.create_app(settings)
    notices = [block.value for block in app.blocks.values() if getattr(block, "elem_id", None) == "crs-notice"]
    assert len(notices) == 1 and "could not be loaded" in notices[0] and "no.gguf" in notices[0]
    assert notices[0].endswith("The rules backend answers instead.")
    assert "| LLM backend | rules |" in str(app.config)
    assert "could not be loaded" in capsys.readouterr().err


def test_crs_agent_ui_builds_the_index_then_serves_on_loopback(tiny_settings, monkeypatch):
    served = {}
    monkeypatch.setattr(ui_app, "launch_app", lambda app, **kwargs: served.update(kwargs, app=app))
    monkeypatch.setenv("CRS_AGENT_EMBEDDING_MODEL", "hashing")
    assert index_status(tiny_settings) == "missing"
    argv = ["ui", "--data-dir", str(tiny_settings.data_dir), "--catalog", str(tiny_settings.catalog)]
    assert main([*argv, "--backend", "rules", "--items", "5"]) == 0
    assert index_status(tiny_settings) == "ok"
    assert served["host"] == "127.0.0.1" and served["port"] is None and served["share"] is False
    assert "| Items per answer | 5 |" in str(served["app"].config)


def test_crs_agent_ui_rejects_a_bad_item_count(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ui", "--items", "0"])
    assert exit_.value.code == 2 and "--items must be between 1 and 10" in capsys.readouterr().err


def test_crs_agent_ui_errors_are_one_line(tiny_settings, monkeypatch, capsys):
    monkeypatch.setattr(ui_app, "launch_app", lambda app, **kwargs: pytest.fail("must not serve"))
    monkeypatch.setenv("CRS_AGENT_LLM_BACKEND", "openai")  # without CRS_AGENT_LLM_BASE_URL
    monkeypatch.setenv("CRS_AGENT_EMBEDDING_MODEL", "hashing")
    argv = ["ui", "--data-dir", str(tiny_settings.data_dir), "--catalog", str(tiny_settings.catalog)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == (
        "crs-agent: The openai backend needs a server: set CRS_AGENT_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1)."
    )
    assert "Traceback" not in err


def test_the_subcommand_is_registered_with_its_options():
    from crs_agent.agent.cli import _parser

    args = _parser().parse_args(["ui", "--port", "8080", "--share", "--host", "0.0.0.0"])
    assert (args.port, args.share, args.host, args.items) == (8080, True, "0.0.0.0", 3)
    assert args.run.__module__ == "crs_agent.ui.cli"
