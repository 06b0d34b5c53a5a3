from samestory.nearcopies import EDITS, edited_copy

TEXT = "\n".join(f"Paragraph {i} says that 12 people met in Kyiv on day {i}." for i in range(6))


def test_copies_are_reproducible_and_edited():
    a, b = edited_copy("Leaders meet in Kyiv", TEXT, seed=7), edited_copy("Leaders meet in Kyiv", TEXT, seed=7)
    assert a == b and len(a.edits) == 3 and len(set(a.edits)) == 3
    assert (a.title, a.text) != ("Leaders meet in Kyiv", TEXT)
    assert edited_copy("Leaders meet in Kyiv", TEXT, seed=8) != a


def test_every_edit_changes_the_article():
    import random

    for name, edit in EDITS.items():
        title, text = edit("Leaders meet in Kyiv today", TEXT, random.Random(1))
        assert (title, text) != ("Leaders meet in Kyiv today", TEXT), name
