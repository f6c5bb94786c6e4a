"""Domain errors: services raise these, one API exception handler maps them to 4xx."""


class DomainError(Exception):
    """A request the domain refuses; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict:
        """The API's answer: `{detail, errors: [{field, message}]}`."""
        return {"detail": self.message, "errors": [{"field": self.field, "message": self.message}]}


class InvalidLabels(DomainError):
    """Labels that the project does not have, or the wrong number of them for its task type."""


class InvalidSettings(DomainError):
    """Settings the model's validators refuse; `errors` lists each field's message."""

    def __init__(self, errors: list[dict]):
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        super().__init__(f"invalid settings: {summary}", field=errors[0]["field"])
        self.errors = errors

    def as_dict(self) -> dict:
        return {"detail": self.message, "errors": self.errors}


class Conflict(DomainError):
    """The request is well formed but clashes with the current state (409)."""

    status = 409


class NotLeased(Conflict):
    """An answer from someone who does not hold the item's live lease (409): only the queue
    hands out items, so that overlap and "nobody answers twice" hold on every path."""


class ImportRejected(DomainError):
    """An upload with bad rows; `errors` lists each one with its line and field."""

    def __init__(self, errors: list[dict], *, detail: str = ""):
        message = f"the upload has {len(errors)} error(s); nothing was imported"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.errors = errors

    def as_dict(self) -> dict:
        return {"detail": self.message, "errors": self.errors}


class PayloadTooLarge(DomainError):
    status = 413
