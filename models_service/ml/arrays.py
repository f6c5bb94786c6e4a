"""The array types in the ML core's signatures. numpy only, like strategies: the web process
imports them without scikit-learn or SciPy (SciPy's sparse matrices carry no types: see
features.Matrix)."""

from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

FloatArray: TypeAlias = NDArray[np.float64]  # probabilities, scores, dense feature rows
IndexArray: TypeAlias = NDArray[np.intp]  # row positions, class indices, 0/1 indicator rows
BoolArray: TypeAlias = NDArray[np.bool_]  # masks, multi-label indicator rows
