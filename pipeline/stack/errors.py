"""The one exception the local stack raises: a one-line message that says what to do."""

from __future__ import annotations


class StackError(Exception):
    """The stack could not be started or stopped; ``str()`` is a single actionable line."""


class DownloadError(StackError):
    """An artifact could not be fetched from the Maven repository."""


class ChecksumError(StackError):
    """A fetched artifact does not match its pinned SHA-256 digest."""


class PortInUseError(StackError):
    """A port the stack needs is held by another process."""


class JavaNotFoundError(StackError):
    """No suitable Java runtime was found for a server."""


class ServerStartError(StackError):
    """A server process exited or never became healthy."""
