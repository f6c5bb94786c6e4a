"""Estimators chosen per project, all with probabilities to rank on.

Logistic regression uses the `saga` solver: on many-class text the default multinomial
solver was measured 40-100x slower per fit at the same accuracy. Multi-label projects wrap
the estimator in one-vs-rest (one yes/no model per label). scikit-learn is imported when an
estimator is made, not with this module: the web process lists the models without it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def logistic_regression(seed: int, *, balanced: bool = True) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        solver="saga",
        C=10.0,
        max_iter=300,
        tol=1e-3,
        class_weight="balanced" if balanced else None,
        random_state=seed,
    )


def sgd(seed: int, *, balanced: bool = True) -> Any:
    """Linear model trained by SGD on log loss: supports partial_fit between full retrains.
    Unweighted (`balanced` is ignored): partial_fit takes no balanced class weights."""
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=50, tol=1e-3, random_state=seed)


def complement_nb(seed: int, *, balanced: bool = True) -> Any:
    """Complement naive Bayes: fast and robust on small, imbalanced text sets (needs
    non-negative features: TF-IDF or hashing, not arbitrary vectors). No randomness, no
    weights: `seed` and `balanced` are ignored."""
    from sklearn.naive_bayes import ComplementNB

    return ComplementNB(alpha=0.3)


@dataclass(frozen=True)
class Estimator:
    """A model a project can choose: its name, what the settings page calls it, how to make
    one, and whether it learns incrementally (partial_fit) between rounds."""

    name: str
    title: str
    make: Callable[..., Any]
    adapts: bool = False


ESTIMATORS: dict[str, Estimator] = {
    estimator.name: estimator
    for estimator in (
        Estimator("logistic_regression", "Logistic regression (saga)", logistic_regression),
        Estimator("sgd", "Linear SGD (log loss)", sgd, adapts=True),
        Estimator("complement_nb", "Complement naive Bayes", complement_nb, adapts=True),
    )
}
DEFAULT = "logistic_regression"


def get(name: str) -> Estimator:
    """The estimator of that name; an unknown name is an error that lists the known ones."""
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(ESTIMATORS)}") from None


def make_estimator(
    name: str, *, multi_label: bool = False, seed: int = 0, balanced: bool | None = None
) -> Any:
    """A fresh, unfitted estimator by name; one-vs-rest for multi-label. Classes are weighted
    to balance (where the model takes weights) unless multi-label or `balanced` says no."""
    from sklearn.multiclass import OneVsRestClassifier

    balanced = not multi_label if balanced is None else balanced
    estimator = get(name).make(seed, balanced=balanced)
    return OneVsRestClassifier(estimator) if multi_label else estimator
