"""The one error type of the report core: what was refused, in Chinese and English.

The page shows `.zh`, the CLI prints both (`str(error)` is "中文 / English"), and `.field` names
what to fix. Report submissions and extension requests raise the same type.
"""

from __future__ import annotations


class ReportError(Exception):
    """A submission or request that cannot be recorded; `field` names what to fix."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        self.field, self.zh, self.en = field, zh, en
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"

    def __str__(self) -> str:
        return self.message


class ReportInputError(ReportError):
    """What was entered is wrong (a value, a unit, a file): fix it and send again."""


class ReportRefused(ReportError):
    """Not allowed at all: another department's item, a closed or superseded one, a used link,
    a link's limit reached."""


class ExtensionError(ReportError):
    """An extension request (延期申请) or the office's decision on one, refused."""

    def __init__(self, zh: str, en: str, field: str = "extension") -> None:
        super().__init__(field, zh, en)
