from __future__ import annotations

from engage.core.errors import Conflict, NotFound


class CliGroupNotFound(NotFound):
    slug = "cli-group-not-found"
    title = "CLI group not found"


class CliGroupNameTaken(Conflict):
    slug = "cli-group-name-taken"
    title = "CLI group name already in use"


class CliNumberTaken(Conflict):
    slug = "cli-number-taken"
    title = "Caller ID number already in use"
