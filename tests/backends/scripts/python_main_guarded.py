"""A tuning script that defines its tune function under the main guard (refused at once)."""

from __future__ import annotations

if __name__ == "__main__":
    from aiotune.backends.python import PythonBackend
    from aiotune.errors import InvalidArgumentError
    from aiotune.reporter import Reporter

    def objective(x: float) -> None:
        Reporter()(loss=x)

    try:
        PythonBackend(objective, {"x": 0.5})
    except InvalidArgumentError as exc:
        print(f"refused: {exc}")
    else:
        print("accepted")
