"""Every public module has a complete ``__all__`` whose names all resolve (STYLE.md)."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC = [
    "aiotune",
    "aiotune.backends",
    "aiotune.schedulers",
    "aiotune.config_space",
    "aiotune.store",
    "aiotune.blackbox",
    "aiotune.experiments",
    "aiotune.schedulers.searchers",
    "aiotune.testing",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    for attr in exported:
        assert getattr(module, attr) is not None, f"{name}.{attr} does not resolve"
    if name == "aiotune":
        return  # lazy: names load on first use
    is_package = hasattr(module, "__path__")  # a package re-exports; a module defines
    defined_here = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and (
            getattr(v, "__module__", "").startswith(name + ".")
            if is_package
            else getattr(v, "__module__", "") == name
        )
    }
    missing = defined_here - exported
    assert not missing, f"{name} exposes {sorted(missing)} without listing them in __all__"


def test_reporter_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from aiotune import Reporter; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'numpy', 'anyio', 'pandas'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_wrong_constructor_argument_names_the_class() -> None:
    """Components record their arguments; a bad call still says whose constructor it was."""
    from aiotune.backends import PythonBackend
    from aiotune.schedulers import ASHA

    with pytest.raises(TypeError, match=r"^PythonBackend\(\): missing .*'config_space'"):
        PythonBackend(print)
    with pytest.raises(TypeError, match=r"^ASHA\(\): got an unexpected keyword argument 'foo'"):
        ASHA({"epochs": 3}, "loss", foo=1)
