"""The Gradio web chat: :func:`build_app` lays out the page over a :class:`Recommender`; :func:`launch_app` serves it.

    from crs_agent.agent import Recommender, Settings
    from crs_agent.ui.app import build_app, launch_app
    settings = Settings()
    launch_app(build_app(Recommender.from_settings(settings), settings))

The page: a streamed chat, the last answer's items as cards with 👍 / 👎, the user's conversations and
profile (with a way to take entries back), the agent's work for the last turn (collapsed) and the
read-only settings. The HTTP API is in :mod:`crs_agent.ui.endpoints`.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from crs_agent.agent import Recommender, ReplyItem, Settings
from crs_agent.knowledge import ModelNotFoundError, index_status
from crs_agent.ui.callbacks import ChatCallbacks, View
from crs_agent.ui.endpoints import register_api
from crs_agent.ui.render import card_html, settings_markdown

__all__ = ["CSS", "THEME", "build_app", "create_app", "error_app", "launch_app"]

# System fonts only: the page must not reach for Google Fonts (offline-first, and no third-party requests).
THEME = gr.themes.Soft(
    primary_hue="indigo",
    secondary_hue="slate",
    font=("ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"),
    font_mono=("ui-monospace", "SFMono-Regular", "Menlo", "monospace"),
)
CSS = """
.crs-header h1 { margin-bottom: 0; }
.crs-header p { margin-top: 2px; color: var(--body-text-color-subdued); }
.crs-card-col { border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 12px !important;
  background: var(--block-background-fill); }
.crs-votes button { min-width: 0 !important; }
#crs-trace { font-size: 0.9em; }
"""
_CARD_CSS = """
.crs-title { font-weight: 650; font-size: 1.05em; line-height: 1.3; }
.crs-rank { display: inline-block; min-width: 1.5em; height: 1.5em; line-height: 1.5em; margin-right: 6px;
  text-align: center; border-radius: 50%; background: var(--color-accent); color: white; font-size: 0.8em; }
.crs-year { color: var(--body-text-color-subdued); font-weight: 400; }
.crs-genres { margin: 6px 0; }
.crs-genre { display: inline-block; margin: 0 4px 4px 0; padding: 1px 8px; border-radius: 10px; font-size: 0.8em;
  background: var(--color-accent-soft); color: var(--body-text-color); }
.crs-people { font-size: 0.85em; color: var(--body-text-color); margin: 2px 0; }
.crs-people span { color: var(--body-text-color-subdued); }
.crs-score { display: flex; align-items: center; gap: 8px; margin: 8px 0 6px; font-size: 0.8em;
  color: var(--body-text-color-subdued); }
.crs-bar { flex: 1; height: 8px; border-radius: 4px; background: var(--border-color-primary); overflow: hidden; }
.crs-fill { height: 100%; border-radius: 4px; background: var(--color-accent); }
.crs-reason { font-size: 0.9em; font-style: italic; }
"""
_OUTPUT_NAMES = (
    "stored", "user_id", "thread_id", "who", "name", "message_box", "messages",
    "items", "marks", "trace", "profile", "corrections", "threads",
)  # fmt: skip


def _browser_secret(data_dir: Path) -> str:
    """A key that survives restarts, so a browser's anonymous user (kept encrypted in its storage) does too."""
    path = data_dir / "ui-secret"
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _examples(recommender: Recommender) -> list[str]:
    popular = sorted(recommender.knowledge.catalog, key=lambda item: -item.popularity)[:2]
    if len(popular) < 2:
        return ["Something fun for tonight"]
    return [
        f"I loved {popular[0].title}, anything like it?",
        f"Something like {popular[1].title}, but more recent",
    ]


def _values(view: View) -> list[Any]:
    """A view as the outputs of every event, in ``_OUTPUT_NAMES`` order; ``None`` leaves a component as it is."""
    values: list[Any] = []
    for name in _OUTPUT_NAMES:
        value = getattr(view, name)
        if value is None:
            values.append(gr.skip())
        elif name == "corrections":
            values.append(gr.update(choices=value, value=[]))
        elif name == "threads":
            ids = {thread_id for _, thread_id in value}
            values.append(gr.update(choices=value, value=view.thread_id if view.thread_id in ids else None))
        else:
            values.append(value)
    if view.notice:
        gr.Info(view.notice, duration=4)
    return values


def build_app(recommender: Recommender, settings: Settings, *, notice: str = "") -> gr.Blocks:
    """The web chat over ``recommender``; ``settings`` are shown read-only and locate the browser key.

    ``notice`` is shown under the title (e.g. that the LLM could not be loaded and the rules backend answers).
    """
    callbacks = ChatCallbacks(recommender, settings)
    with gr.Blocks(title="crs-agent", analytics_enabled=False, fill_width=True) as app:
        parts = _layout(callbacks, notice)
        _wire(app, parts, callbacks)
        register_api(callbacks)
    return app


def _layout(callbacks: ChatCallbacks, notice: str) -> dict[str, Any]:
    """Lay out the page; returns its parts by name (``_OUTPUT_NAMES`` and the buttons)."""
    rec, settings = callbacks.rec, callbacks.settings
    p: dict[str, Any] = {
        "stored": gr.BrowserState({}, storage_key="crs-agent-user", secret=_browser_secret(settings.data_dir)),
        "user_id": gr.State(""),
        "thread_id": gr.State(""),
        "items": gr.State([]),
        "marks": gr.State({}),
    }
    gr.Markdown(
        "# 🎬 crs-agent\nTell me what you loved or what you're in the mood for; 👍 / 👎 the picks to steer me.",
        elem_classes="crs-header",
    )
    if notice:
        gr.Markdown(f"⚠️ {notice}", elem_id="crs-notice")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=220):
            p["who"] = gr.Markdown(elem_id="crs-who")
            p["name"] = gr.Textbox(
                label="Your name (optional)",
                placeholder="anonymous: this browser",
                submit_btn="Use",
                elem_id="crs-name",
            )
            p["new"] = gr.Button("➕ New conversation", elem_id="crs-new")
            p["threads"] = gr.Radio(label="Your conversations", choices=[], elem_id="crs-threads")
            with gr.Accordion("Settings (read-only)", open=False):
                gr.Markdown(settings_markdown(settings, rec.top_k, rec.knowledge.manifest))
        with gr.Column(scale=4, min_width=480):
            p["messages"] = gr.Chatbot(
                height=420,
                show_label=False,
                elem_id="crs-chat",
                buttons=["copy", "copy_all"],
                feedback_options=None,
                placeholder="**Tell me a movie you loved, or what you feel like watching.**",
            )

            # one render at a time: an answer changes items and marks together, and Gradio's renders race
            @gr.render(inputs=[p["items"], p["marks"]], concurrency_limit=1, concurrency_id="cards")
            def _cards(items: list[dict[str, Any]], marks: dict[str, bool]) -> None:
                if items:
                    with gr.Row(equal_height=True, elem_id="crs-cards"):
                        for rank, data in enumerate(items, start=1):
                            _card(ReplyItem.model_validate(data), rank, marks.get(data["id"]), p, callbacks)

            with gr.Row():
                p["message_box"] = gr.Textbox(
                    show_label=False,
                    placeholder="I loved Inception, something mind-bending but no horror…",
                    scale=6,
                    elem_id="crs-message",
                    autofocus=True,
                )
                p["send"] = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="crs-send")
            gr.Examples(_examples(rec), inputs=[p["message_box"]], label="Try")
        with gr.Column(scale=2, min_width=280):
            with gr.Accordion("Your profile", open=True):
                p["profile"] = gr.Markdown(elem_id="crs-profile")
                p["corrections"] = gr.CheckboxGroup(label="Not right? Tick what to forget", choices=[])
                p["forget"] = gr.Button("Forget ticked entries", size="sm", elem_id="crs-forget")
            with gr.Accordion("The agent's work (last turn)", open=False, elem_id="crs-trace-panel"):
                p["trace"] = gr.Markdown(elem_id="crs-trace")
    return p


def _outputs(p: dict[str, Any]) -> list[Any]:
    return [p[key] for key in _OUTPUT_NAMES]  # every event updates (or skips) all of them


def _card(item: ReplyItem, rank: int, mark: bool | None, p: dict[str, Any], callbacks: ChatCallbacks) -> None:
    """One item card with its 👍 / 👎 (a vote is remembered and re-renders the cards with the vote shown)."""
    with gr.Column(min_width=190, elem_classes="crs-card-col"):
        gr.HTML(card_html(item, rank), css_template=_CARD_CSS, js_on_load=None, padding=False)
        with gr.Row(elem_classes="crs-votes"):
            up = gr.Button("👍 Like", size="sm", variant="primary" if mark is True else "secondary")
            down = gr.Button("👎 Dislike", size="sm", variant="stop" if mark is False else "secondary")
    for button, liked in ((up, True), (down, False)):

        def vote(user_id: str, thread_id: str, liked: bool = liked) -> list[Any]:
            return _values(callbacks.vote(item.id, liked, user_id, thread_id))

        button.click(
            vote, [p["user_id"], p["thread_id"]], _outputs(p), api_visibility="private", concurrency_id="agent"
        )


def _wire(app: gr.Blocks, p: dict[str, Any], callbacks: ChatCallbacks) -> None:
    """The page's events; all private (the stable HTTP API is :mod:`crs_agent.ui.endpoints`)."""
    outputs, private = _outputs(p), {"api_visibility": "private"}
    user, thread, stored = p["user_id"], p["thread_id"], p["stored"]

    def send(text: str, user_id: str, thread_id: str) -> Iterator[list[Any]]:
        for view in callbacks.send(text, user_id, thread_id):
            yield _values(view)

    app.load(lambda s: _values(callbacks.start(s)), [stored], outputs, **private)
    p["name"].submit(lambda n, s: _values(callbacks.switch_user(n, s)), [p["name"], stored], outputs, **private)
    for trigger in (p["new"].click, p["messages"].clear):  # the chat's own 🗑 also starts a new conversation
        trigger(lambda s, u: _values(callbacks.new_conversation(s, u)), [stored, user], outputs, **private)
    p["threads"].input(
        lambda t, s, u: _values(callbacks.open_conversation(t, s, u)), [p["threads"], stored, user], outputs, **private
    )
    for trigger in (p["message_box"].submit, p["send"].click):
        trigger(send, [p["message_box"], user, thread], outputs, concurrency_id="agent", **private)
    p["forget"].click(
        lambda c, u, t: _values(callbacks.forget(c, u, t)), [p["corrections"], user, thread], outputs, **private
    )


def error_app(message: str) -> gr.Blocks:
    """A page that only says what is wrong and how to fix it (no traceback), e.g. when there is no index."""
    with gr.Blocks(title="crs-agent", analytics_enabled=False) as app:
        gr.Markdown(f"# 🎬 crs-agent cannot start\n\n{message}", elem_id="crs-error")
    return app


def create_app(settings: Settings | None = None, *, top_k: int = 3, build_index: bool = True) -> gr.Blocks:
    """The app for ``settings``: builds the index first when needed (with a progress bar) unless told not to,
    in which case a missing or outdated index gives a page that says how to build it. A model that cannot
    be loaded leaves the app on the rules backend, with a notice on the page."""
    settings = settings or Settings()
    if not build_index and (status := index_status(settings)) != "ok":
        return error_app(
            f"The index in `{settings.index_dir}` is {status}. Build it with `crs-agent index` "
            "(or start the app with `crs-agent ui`, which builds it), then reload this page."
        )
    try:
        return build_app(Recommender.from_settings(settings, top_k=top_k), settings)
    except ModelNotFoundError as err:  # the page still works, on the rules backend, and says why
        notice = f"The language model could not be loaded: {err} The rules backend answers instead."
        print(f"crs-agent: {notice}", file=sys.stderr)
        rules = settings.model_copy(update={"llm_backend": "rules", "llm_model": None})
        return build_app(Recommender.from_settings(rules, top_k=top_k), rules, notice=notice)


def launch_app(
    app: gr.Blocks, *, host: str = "127.0.0.1", port: int | None = None, share: bool = False, block: bool = True
) -> str:
    """Serve the app (one agent turn at a time, the LLM being one model); returns its local URL."""
    app.queue(default_concurrency_limit=1)
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        theme=THEME,
        css=CSS,
        ssr_mode=False,
        footer_links=["api"],
        show_error=False,
    )
    return url
