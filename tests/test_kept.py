from samestory.kept import Kept


def test_found_gives_what_is_kept_and_the_least_recently_used_goes_first():
    kept: Kept[str, int | None] = Kept(3)
    kept.keep({"a": 1, "b": None, "c": 3})
    assert kept.found(["c", "zz", "b"]) == {"c": 3, "b": None}  # None is a value kept, not a miss
    assert list(kept.found(["b", "c"])) == ["b", "c"]  # in the order asked
    kept.keep({"d": 4})  # "a" was used least recently
    assert kept.found(["a", "b", "c", "d"]) == {"b": None, "c": 3, "d": 4} and len(kept) == 3
    kept.found(["b"])
    kept.keep({"c": 30, "e": 5})  # "c" kept again is fresh; "d" goes
    assert kept.found(["b", "c", "d", "e"]) == {"b": None, "c": 30, "e": 5}
    kept.clear()
    assert kept.found(["b"]) == {} and len(kept) == 0
