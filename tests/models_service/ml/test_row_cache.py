"""features.RowCache: a worker featurizes each item of a small pool once across rounds."""

import json
from pathlib import Path

import numpy as np

from models_service.ml import features

TEXTS = Path(__file__).resolve().parents[3] / "data" / "texts.jsonl"


class CountingFeaturizer:
    """A real fitted TF-IDF featurizer that counts the texts it is asked to featurize."""

    def __init__(self, fitted):
        self.fitted, self.texts_seen = fitted, 0

    def transform(self, texts):
        self.texts_seen += len(texts)
        return self.fitted.transform(texts)


def _pool(n=120):
    rows = [json.loads(line) for line in TEXTS.read_text().splitlines()[:n]]
    return list(range(1000, 1000 + n)), [{"text": row["text"]} for row in rows]


def _fitted(items):
    return features.fit("tfidf", items)


def test_cached_rows_equal_a_fresh_transform_in_the_order_asked_for():
    ids, items = _pool()
    featurizer = _fitted(items)
    cache = features.RowCache(capacity=1_000)
    cache.features("k", featurizer, ids[:80], items[:80])  # a first round's chunk
    asked = [7, 119, 3, 90, 45, 81, 0]  # cached and new rows, out of order
    got = cache.features("k", featurizer, [ids[i] for i in asked], [items[i] for i in asked])
    expected = features.transform(featurizer, [items[i] for i in asked])
    assert got.shape == expected.shape
    assert np.allclose(got.toarray(), expected.toarray())


def test_each_item_is_featurized_once_across_rounds():
    ids, items = _pool()
    counting = CountingFeaturizer(_fitted(items))
    cache = features.RowCache(capacity=1_000)
    for _round in range(3):
        cache.features("k", counting, ids, items)  # the chunk
        cache.features("k", counting, ids[:50], items[:50])  # the stop set
        cache.features("k", counting, ids[::-3], items[::-3])  # the top candidates
    assert counting.texts_seen == len(ids)


def test_another_featurizer_empties_the_cache_and_a_full_cache_featurizes_as_before():
    ids, items = _pool()
    counting = CountingFeaturizer(_fitted(items))
    cache = features.RowCache(capacity=100)
    cache.features("k", counting, ids[:60], items[:60])
    cache.features("other", counting, ids[:60], items[:60])
    assert counting.texts_seen == 120  # a new key: nothing of the first one is used

    over = cache.features("other", counting, ids, items)  # 60 kept + 60 new > 100
    assert counting.texts_seen == 240  # featurized whole, not from the cache
    assert np.allclose(over.toarray(), features.transform(counting.fitted, items).toarray())
