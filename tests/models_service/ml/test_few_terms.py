"""The text featurizer on pools that leave it few terms or none (models_service.ml.features)."""

import pickle

import pytest

from models_service.ml import features


@pytest.mark.parametrize("texts", [["a"] * 12, ["!", "...", "?!", "x y", "é", "(:"]])
def test_texts_with_no_word_of_two_letters_raise_no_terms(texts):
    with pytest.raises(features.NoTerms, match="no words the model can use"):
        features.fit("tfidf", [{"text": text} for text in texts])


@pytest.mark.parametrize("texts", [["hello world"], ["ab", "cd"], ["quiz jam", "python bug"]])
def test_texts_that_share_no_character_ngram_featurize_by_their_words(texts):
    featurizer = features.fit("tfidf", [{"text": text} for text in texts])
    kept = pickle.loads(pickle.dumps(featurizer))  # as the artifact store keeps it
    X = features.transform(kept, [{"text": texts[0]}, {"text": "nothing known"}])
    assert X.shape[0] == 2
    assert X[0].nnz > 0 and X[1].nnz == 0
