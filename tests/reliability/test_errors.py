"""Every typed error survives pickling, so a worker process can raise it to its parent intact."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest

import crs_agent.agent
import crs_agent.evals
import crs_agent.knowledge
import crs_agent.tools
from crs_agent.knowledge.errors import CrsAgentError

_PLACEHOLDERS = {"str": "/some/path", "float": 2.5, "int": 42, "object": "/some/path", "int | None": 7}


def _every_error_class() -> list[type[CrsAgentError]]:
    for package in (crs_agent.knowledge, crs_agent.tools, crs_agent.agent, crs_agent.evals):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if not module.name.endswith(("__main__", ".bench_load", ".bench_scale")):
                importlib.import_module(module.name)
    found, todo = [], [CrsAgentError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _instance(cls: type[CrsAgentError]) -> CrsAgentError:
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if parameters and parameters[0].kind is inspect.Parameter.VAR_POSITIONAL:
        return cls("something went wrong: do this")
    return cls(*(_PLACEHOLDERS[str(p.annotation)] for p in parameters))


ERRORS = _every_error_class()


def test_the_search_finds_the_errors_of_every_layer():
    names = {cls.__name__ for cls in ERRORS}
    assert {"EmptyMessageError", "DataDirBusyError", "CaseFileError", "EvalSettingsError"} <= names


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_class_pickles(cls: type[CrsAgentError]):
    err = _instance(cls)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls and str(again) == str(err) and again.args == err.args
    assert again.__dict__ == err.__dict__
