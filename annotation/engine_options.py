"""The learning engine's options, as a project's settings offer them: the models and query
strategies to choose from, the stopping rules' kinds, and the check of a stopping rule.

annotation stores a project's choices but knows no engine: models_service offers its own
when it starts (its AppConfig.ready calls `offer`), so the dependency between the two apps
runs one way and a new strategy or model is listed wherever it is defined, nowhere else.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured, ValidationError


class StoppingRuleError(ValueError):
    """A stopping rule's spec that describes no rule; `key` names the part at fault."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class StoppingKind:
    """A kind of stopping rule, what the page calls it, and the key of the one number an admin
    gives for it (rounds, labels, a metric)."""

    name: str
    title: str
    value_key: str


@dataclass(frozen=True)
class EngineOptions:
    """What the engine offers: (name, title) pairs, its defaults, and `check_stopping_rule`,
    which raises StoppingRuleError for a spec it cannot build a rule from."""

    models: list[tuple[str, str]]
    default_model: str
    strategies: list[tuple[str, str]]
    default_strategy: str
    stopping_kinds: list[StoppingKind]
    check_stopping_rule: Callable[[dict], None]


_offered: list[EngineOptions] = []


def offer(options: EngineOptions) -> None:
    """Make the engine's options the ones projects choose from."""
    _offered[:] = [options]


def offered() -> EngineOptions:
    if not _offered:
        raise ImproperlyConfigured("no learning engine offers its options (models_service)")
    return _offered[0]


# Read when a field, form or serializer needs them: by then every app is ready.
def model_choices() -> list[tuple[str, str]]:
    return offered().models


def strategy_choices() -> list[tuple[str, str]]:
    return offered().strategies


def default_model() -> str:
    return offered().default_model


def default_strategy() -> str:
    return offered().default_strategy


def stopping_value_key(kind: str) -> str:
    """The key of the number a stopping rule of this kind takes ("rounds", "labels", ...)."""
    return next(k.value_key for k in offered().stopping_kinds if k.name == kind)


def stopping_rule_errors(spec: object) -> dict[str, str]:
    """{key: message} of what is wrong with a stopping rule's spec ({} when it is right)."""
    if not isinstance(spec, dict):
        return {"": "a stopping rule is an object with a kind"}
    try:
        offered().check_stopping_rule(spec)
    except StoppingRuleError as error:
        return {error.key: str(error)}
    return {}


def validate_stopping_rule(spec: object) -> None:
    """The model field's validator: a ValidationError whose `params["key"]` names the part of
    the spec at fault."""
    for key, message in stopping_rule_errors(spec).items():
        raise ValidationError(message, code="stopping_rule", params={"key": key})
