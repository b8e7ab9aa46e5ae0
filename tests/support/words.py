"""What the operator reads: an error's message as the CLI words it (the settings it names called by their
options, --arg; errors.ZeroxlError.worded)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest

from zeroxl.cli.messages import option
from zeroxl.errors import ZeroxlError


def said(e: ZeroxlError) -> tuple[str, str | None]:
    """E's message and hint as `0xl` prints them."""
    return e.worded(option)


@contextlib.contextmanager
def refused(kind: type[ZeroxlError], message: str) -> Iterator[pytest.ExceptionInfo[ZeroxlError]]:
    """Expect KIND raised, its message as the CLI says it matching MESSAGE (a regular expression)."""
    with pytest.raises(kind) as e:
        yield e
    assert re.search(message, said(e.value)[0]), said(e.value)
