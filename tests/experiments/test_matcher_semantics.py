"""experiments/matcher_semantics.py: the scores of a pairing, by hand."""

import matcher_semantics as semantics
import torch


def test_same_dominant_counts_matching_covers() -> None:
    queries = ['Forest', 'River', 'Forest', 'Wetland']
    gallery = ['Forest', 'Forest', 'River', 'Wetland', 'River']
    # Query 0 -> Forest (hit), 1 -> Forest (miss), 2 -> River (miss), 3 -> Wetland.
    index = torch.tensor([1, 0, 2, 3])
    assert semantics.same_dominant(queries, gallery, index) == 0.5


def test_random_same_class_stays_in_class_and_is_seeded() -> None:
    gallery = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2])
    queries = torch.tensor([2, 0, 1, 0, 2] * 20)
    index = semantics.random_same_class(queries, gallery, seed=3)
    assert torch.equal(gallery[index], queries)
    assert torch.equal(index, semantics.random_same_class(queries, gallery, seed=3))
    # Every image of a class is drawn for some query of it (100 draws).
    assert set(index[queries == 0].tolist()) == {0, 2, 5}
