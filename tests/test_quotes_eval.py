import json

from samestory.quotes_eval import read_polnear, score_quotes

TEXT = (
    'The mayor said the city "will not back down on this," and left.\n\n'
    '"We have done our part," Jane Roe, the council chair, told reporters.\n\n'
    'Critics called it a "disaster in the making" for the budget.'
)


def _doc(tmp_path, quotes):
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps({"id": "d1", "title": "", "text": TEXT, "date": None, "quotes": quotes}) + "\n")
    return read_polnear(path)


def _span(fragment):
    start = TEXT.index(fragment)
    return [[start, start + len(fragment)]]


def test_scores_spans_and_speakers(tmp_path):
    quotes = [
        # content runs on beyond the quotation: only its quoted part is gold
        {
            "direct": True,
            "content_spans": _span('the city "will not back down on this,"'),
            "source": "The mayor",
            "source_spans": _span("The mayor"),
        },
        {
            "direct": True,
            "content_spans": _span('"We have done our part,"'),
            "source": "Jane Roe, the council chair,",
            "source_spans": _span("Jane Roe, the council chair,"),
        },
        {
            "direct": True,
            "content_spans": _span('a "disaster in the making"'),
            "source": "Critics",
            "source_spans": _span("Critics"),
        },
        {"direct": False, "content_spans": _span("left"), "source": "x", "source_spans": _span("The mayor")},
    ]
    docs = _doc(tmp_path, quotes)
    assert len(docs[0].gold) == 3
    scores = score_quotes(docs, 0.8)
    assert scores.gold == 3 and scores.matched == scores.predicted == 3
    assert scores.prf(scores.matched) == (1.0, 1.0, 1.0)
    assert scores.speaker_right >= 2  # the mayor and Jane Roe; "Critics called it" is a stretch


def test_missed_and_spurious_are_counted(tmp_path):
    docs = _doc(
        tmp_path, [{"direct": True, "content_spans": _span("The mayor said"), "source": "", "source_spans": []}]
    )
    scores = score_quotes(docs, 0.8)
    assert scores.errors["missed"] == 1 and scores.errors["spurious"] == 3


def test_a_paragraph_going_on_under_an_attribution_is_one_attribution(tmp_path):
    text = '"We have done our part," Jane Roe said.\n\n"Now it is their turn to act on it."\n\nThe end came.'
    start, end = text.index("We have"), text.index(" to act on it.") + len(" to act on it.")
    path = tmp_path / "gold.jsonl"
    gold = {"direct": True, "content_spans": [[start - 1, end + 1]], "source": "Jane Roe"}
    gold["source_spans"] = [[text.index("Jane Roe"), text.index("Jane Roe") + 8]]
    path.write_text(json.dumps({"id": "d", "title": "", "text": text, "date": None, "quotes": [gold]}) + "\n")
    scores = score_quotes(read_polnear(path))
    assert (scores.predicted, scores.matched, scores.speaker_right) == (1, 1, 1)


def test_content_spans_out_of_order_and_a_content_without_its_opening_mark(tmp_path):
    text = "He said, “We will win this. We always do.” Then he left the room."
    first, second = text.index("We will"), text.index("We always")
    quotes = [
        {"direct": True, "content_spans": [[second, second + 10], [first, first + 12]], "source": "He"},
        {"direct": True, "content_spans": [[first, text.index("”") + 1]], "source": "He"},
    ]
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps({"id": "d", "title": "", "text": text, "date": None, "quotes": quotes}) + "\n")
    (doc,) = read_polnear(path)
    assert [text[g.start : g.end] for g in doc.gold] == [text[first : second + 10], text[first : text.index("”") + 1]]
