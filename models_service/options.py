"""What the engine offers a project's settings: its models, strategies and stopping rules."""

from annotation.engine_options import EngineOptions, StoppingKind, StoppingRuleError
from models_service.ml import estimators, stopping, strategies


def engine_options() -> EngineOptions:
    """The engine's models, strategies and stopping rules, as annotation offers them to admins
    (numpy only: the web process never loads scikit-learn)."""

    def check_stopping_rule(spec: dict) -> None:
        try:
            stopping.rule_from_spec(spec)
        except stopping.SpecError as error:
            raise StoppingRuleError(error.key, str(error)) from None

    return EngineOptions(
        models=[(e.name, e.title) for e in estimators.ESTIMATORS.values()],
        default_model=estimators.DEFAULT,
        strategies=[(s.name, s.title) for s in strategies.STRATEGIES.values()],
        default_strategy=strategies.DEFAULT,
        stopping_kinds=[
            StoppingKind(name, title, stopping.KIND_VALUE_KEYS[name])
            for name, title in stopping.KIND_TITLES.items()
        ],
        check_stopping_rule=check_stopping_rule,
    )
