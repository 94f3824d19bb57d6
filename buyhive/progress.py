"""Progress bars for long management commands: tqdm on stderr, silent when not a terminal.

stdout stays for what a command reports (and for data, where a command streams it), so a bar
never mixes into output that is piped or parsed; and a bar in a log file (cron, CI, ECS) is
noise, so it is drawn only when its stream is a terminal (tqdm's ``disable=None``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: float | None,
    unit: str,
    desc: str,
    stream: IO[str] | None = None,
    **options: Any,
) -> tqdm[T]:
    """A tqdm bar on ``stream`` (default: the current stderr), drawn only on a terminal."""
    return tqdm(
        iterable,
        total=total,
        unit=unit,
        desc=desc,
        file=stream if stream is not None else sys.stderr,
        disable=None,  # None: off when the stream is not a TTY
        mininterval=0.5,
        dynamic_ncols=True,
        **options,
    )


def command_stderr(command: Any) -> IO[str]:
    """The raw stream behind a Django command's ``self.stderr`` (its wrapper would add a
    newline after each of tqdm's carriage-return redraws)."""
    wrapper = command.stderr
    return getattr(wrapper, "_out", wrapper)


def progress_bar_class(stream: IO[str] | None = None) -> type[tqdm[Any]]:
    """A tqdm class drawing on ``stream`` (default: stderr) only when it is a terminal, for
    libraries that take a class rather than a bar (``huggingface_hub``'s ``tqdm_class``)."""
    target = stream

    class TerminalBar(tqdm):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["file"] = target if target is not None else sys.stderr
            kwargs["disable"] = None if not kwargs.get("disable") else True
            kwargs.setdefault("mininterval", 0.5)
            kwargs.setdefault("dynamic_ncols", True)
            super().__init__(*args, **kwargs)

    return TerminalBar
