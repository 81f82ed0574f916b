"""Problems of the registry domain: what `engage registry import` refuses before it changes anything."""

from __future__ import annotations

from engage.core.errors import ProblemError


class UnknownJurisdiction(ProblemError):
    status = 400
    slug = "unknown-jurisdiction"
    title = "Unknown jurisdiction"


class UnreadableRegistryFile(ProblemError):
    """The file is missing, a folder, or not ours to read: 400 (exit status 2), as the operator mistyped."""

    status = 400
    slug = "registry-file-unreadable"
    title = "Registry file cannot be read"


class InvalidRegistryFile(ProblemError):
    """The file cannot be a registry (not UTF-8, a line that is no phone number's, too many numbers, not
    one valid number): refused as a whole, so a wrong file never replaces a registry."""

    status = 400
    slug = "invalid-registry-file"
    title = "Invalid registry file"
