"""The Gradio web chat over a ``Recommender``."""
