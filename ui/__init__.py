"""The Gradio web chat over a ``Recommender``.

``crs-agent ui`` serves it; :func:`crs_agent.ui.app.build_app` / :func:`crs_agent.ui.app.create_app` build it
for embedding, and :mod:`crs_agent.ui.endpoints` is its HTTP API. Nothing is imported here, so the CLI stays
fast: Gradio loads only when the app is built.
"""
