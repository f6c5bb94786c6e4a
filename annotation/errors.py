"""Domain errors: services raise these, one API exception handler maps them to 4xx."""


class DomainError(Exception):
    """A request the domain refuses; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        return {"detail": self.message, **({"field": self.field} if self.field else {})}


class InvalidLabels(DomainError):
    """Labels that the project does not have, or the wrong number of them for its task type."""


class Conflict(DomainError):
    """The request is well formed but clashes with the current state (409)."""

    status = 409


class ImportRejected(DomainError):
    """An upload with bad rows; `errors` lists each one with its line and field."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"the upload has {len(errors)} error(s); nothing was imported")
        self.errors = errors

    def as_dict(self) -> dict:
        return {"detail": self.message, "errors": self.errors}


class PayloadTooLarge(DomainError):
    status = 413
