import dataclasses
import importlib
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from samestory import quotes
from samestory.quotes import AlignmentKind, Quote, align_articles
from samestory.text import clean

from .conftest import SEEDS


def extract(text: str) -> list[Quote]:
    return quotes.extract(text, clean(text).paragraphs)


def test_seed_quotes_with_speakers_and_offsets():
    text = (SEEDS / "000_37e6b592380adfa8.txt").read_text(encoding="utf-8")
    found = extract(text)
    for q in found:
        assert text[q.start : q.end] == q.text
    by_start = {q.text.split()[0] + " " + q.text.split()[1]: q for q in found}
    discussed = by_start["We discussed"]
    assert discussed.speaker == "Zelenskyy" and discussed.speaker_mention == "he" and discussed.cue == "wrote"
    assert text[discussed.speaker_span[0] : discussed.speaker_span[1]] == "he"
    # A paragraph that is all quote goes on with the previous speaker.
    assert by_start["The conclusion"].speaker == "Zelenskyy"
    assert by_start["The conclusion"].text.endswith("beyond two countries.")
    assert by_start["The conclusion"].continues and not discussed.continues
    assert by_start["We agreed"].speaker_mention == "the Ukrainian leader"
    assert by_start["Initial indications"].speaker == "Pat Ryders"


def test_split_quote_is_one_quote_with_two_parts():
    text = '"We will not give up," the minister said, "and we will win this war."'
    (q,) = extract(text)
    assert q.text == "We will not give up and we will win this war."
    assert len(q.parts) == 2
    assert [text[s:e] for s, e in q.parts] == ["We will not give up", "and we will win this war."]
    assert q.speaker_mention == "the minister" and q.cue == "said"


def test_speaker_forms():
    cases = {
        '"The talks failed," said Olaf Scholz.': "Olaf Scholz",
        'Olaf Scholz wrote on Telegram: "The talks failed and we go home."': "Olaf Scholz",
        '"The talks failed and we go home," according to Olaf Scholz.': "Olaf Scholz",
        'Mr. Yoon said South Korea would back peace "while working with allies to explore measures."': "Yoon",
    }
    for text, speaker in cases.items():
        (q,) = extract(text)
        assert q.speaker == speaker, text


def test_guillemets_and_unbalanced_marks():
    text = 'Le ministre a dit « nous ne céderons pas sur ce point » hier.\nA stray " mark here but the rest is read.'
    found = extract(text)
    assert [q.text for q in found] == ["nous ne céderons pas sur ce point"]


def test_scare_quotes_without_attribution_are_not_statements():
    assert extract('The "American Pie" star checked into rehab on Friday.') == []


def _pair(text_a, text_b):
    (a,) = extract(text_a)
    (b,) = extract(text_b)
    units_a, units_b = quotes.quote_units(text_a, a), quotes.quote_units(text_b, b)
    return quotes.align(text_a, a, units_a, None, text_b, b, units_b, None)


def test_align_verbatim_variant_and_partial():
    text_a, text_b = '"We will win this war," he said.', 'He said: "We will WIN this war."'
    verbatim = _pair(text_a, text_b)
    assert verbatim.kind is AlignmentKind.VERBATIM and verbatim.similarity == 1.0
    # Each quote whole.
    assert (text_a[slice(*verbatim.span)], text_b[slice(*verbatim.other_span)]) == (
        "We will win this war",
        "We will WIN this war.",
    )
    variant = _pair(
        '"This war is becoming internationalized," he said.', 'He wrote: "This war is becoming internationalised."'
    )
    assert variant.kind is AlignmentKind.VARIANT and variant.similarity == 1.0
    # One word more on one side: difflib's match, not a copy.
    close = _pair(
        '"We will win this war and we will rebuild the country," he said.',
        'He said: "We will win this war and we will rebuild the whole country."',
    )
    assert close.kind is AlignmentKind.VARIANT and close.similarity == round(2 * 11 / 23, 4)
    long_text = 'She wrote: "We met the president. This war is becoming internationalised, beyond two countries."'
    partial = _pair('"This war is becoming internationalized, beyond two countries," she wrote.', long_text)
    assert partial.kind is AlignmentKind.PARTIAL
    assert long_text[partial.other_span[0] : partial.other_span[1]] == (
        "This war is becoming internationalised, beyond two countries"
    )


def test_a_partial_match_needs_four_fifths_of_the_shorter_quote():
    # Four of five words, in order, inside a longer quote: exactly at the bar. Three of five: under it.
    at_bar = _pair('"We will win the war," he said.', 'He said: "We will surely win the fight against them today."')
    assert at_bar is not None and at_bar.kind is AlignmentKind.PARTIAL and at_bar.similarity == 0.8
    under = _pair('"We will win the war," he said.', 'He said: "We will surely lose the fight against them today."')
    assert under is None


def test_different_speakers_saying_different_things_are_not_aligned():
    text_a = '"We will send more troops to the border next week," said John Smith.'
    text_b = '"The troops at the border will go home next week," said Maria Lopez.'
    (a,) = extract(text_a)
    (b,) = extract(text_b)
    vectors = np.eye(3, dtype=np.float32)[:1]
    assert (
        quotes.align(
            text_a, a, quotes.quote_units(text_a, a), vectors, text_b, b, quotes.quote_units(text_b, b), vectors
        )
        is None
    )


def test_paraphrase_needs_similar_vectors_and_shared_words():
    text_a = '"There is only one conclusion: this war is internationalised and goes beyond Ukraine," he wrote.'
    text_b = (
        '"The conclusion is clear: this war is becoming internationalized, extending beyond two countries," he wrote.'
    )
    (a,) = extract(text_a)
    (b,) = extract(text_b)
    ua, ub = quotes.quote_units(text_a, a), quotes.quote_units(text_b, b)
    similar = np.full((len(ua), len(ub)), 0.0, dtype=np.float32)
    similar[0, 0] = 0.66
    # Vectors whose dot products are exactly `similar`.
    va = np.eye(len(ua), 8, dtype=np.float32)
    vb = np.zeros((len(ub), 8), dtype=np.float32)
    vb[:, : len(ua)] = similar.T
    result = quotes.align(text_a, a, ua, va, text_b, b, ub, vb)
    assert result is not None and result.kind is AlignmentKind.PARAPHRASE and result.similarity == 0.66
    assert quotes.align(text_a, a, ua, va, text_b, b, ub, vb * 0.5) is None


def test_a_paraphrase_needs_shared_words_however_close_the_vectors():
    text_a = '"Our team will win the cup this year," the coach said.'
    text_b = '"Victory is certain for us next season," the player said.'
    (a,) = extract(text_a)
    (b,) = extract(text_b)
    ua, ub = quotes.quote_units(text_a, a), quotes.quote_units(text_b, b)
    same = np.ones((1, 4), dtype=np.float32) / 2  # cosine 1.0
    assert quotes.align(text_a, a, ua, same, text_b, b, ub, same) is None


def test_quote_units_are_embedded_only_when_a_pair_may_be_a_paraphrase(embedder):
    text_a = (
        '"There is only one conclusion: this war is internationalised and goes beyond Ukraine," he wrote.\n'
        'A spokesman added: "The weather in the capital was fine all week, with no rain at all."'
    )
    text_b = (
        '"The conclusion is clear: this war is becoming internationalized, extending beyond two countries," '
        'he wrote.\nThe minister said: "Our budget for roads and schools grows by a tenth next year."'
    )
    made = []

    def encode(texts):
        made.extend(texts)
        return embedder.encode(texts)

    def lazy(text):
        return [
            (q, quotes.quote_units(text, q), quotes.unit_vectors(quotes.quote_units(text, q), 384))
            for q in extract(text)
        ]

    def eager(text):
        out = []
        for q in extract(text):
            units = quotes.quote_units(text, q)
            out.append((q, units, embedder.encode([u for u, _ in units])))
        return out

    embed = quotes.UnitVectors(encode, size=100)
    mine, theirs = lazy(text_a), lazy(text_b)
    found = align_articles(text_a, mine, text_b, theirs, embed)
    assert [(i, j, r.kind) for i, j, r in found] == [(0, 0, AlignmentKind.PARAPHRASE)]
    # Only units of the two war quotes were embedded (the wholes and the clauses that share enough words
    # with the other's): the weather and the budget meet no possible paraphrase.
    war = {u for u, _ in mine[0][1]} | {u for u, _ in theirs[0][1]}
    assert set(made) <= war and mine[0][1][0][0] in made and theirs[0][1][0][0] in made
    assert embed.made == len(made) == len(set(made))
    assert not mine[1][2].any() and not theirs[1][2].any()
    # The same alignment as with every unit embedded up front, to the fourth decimal.
    assert found == align_articles(text_a, eager(text_a), text_b, eager(text_b))
    # Made once: filled in place, and kept by text for fresh copies of the quotes.
    assert align_articles(text_a, mine, text_b, theirs, embed) == found
    assert align_articles(text_a, lazy(text_a), text_b, lazy(text_b), embed) == found
    assert len(made) == embed.made == len(embed)
    small = quotes.UnitVectors(encode, size=1)
    align_articles(text_a, lazy(text_a), text_b, lazy(text_b), small)
    assert len(small) == 1 and small.made == embed.made  # the least recently used texts dropped


def test_a_wording_keeps_its_best_counterpart_in_the_other_article():
    # One article quotes two interviews of one day; the other quotes the first. The second interview's
    # words come close to the first's ("I meant exactly that" / "No, I meant"), but the other article's
    # quote is the first interview's, which the first article quotes too: only that alignment stays.
    text_a = (
        'Trump told the host: "No, I meant he\'s the founder of ISIS. I do. He was the most valuable player."\n'
        'Later, on television, he said: "I meant exactly that. He\'s the founder of ISIS, he is the founder."'
    )
    text_b = 'Trump replied: "No, I meant he\'s the founder of ISIS."'
    first, second = _aligning(text_a)
    (theirs,) = _aligning(text_b)
    alone = quotes.align_articles(text_a, [second], text_b, [theirs])
    assert [(i, j, r.kind) for i, j, r in alone] == [(0, 0, AlignmentKind.PARTIAL)] and alone[0][2].similarity < 1
    both = quotes.align_articles(text_a, [first, second], text_b, [theirs])
    assert [(i, j, r.kind, r.similarity) for i, j, r in both] == [(0, 0, AlignmentKind.PARTIAL, 1.0)]
    # Seen from the other side, the same.
    assert [(i, j) for i, j, _ in quotes.align_articles(text_b, [theirs], text_a, [first, second])] == [(0, 0)]
    # And the cluster's statements: the television quote stands alone, in whatever order the quotes come.
    a_first, a_second = _quoted("a", text_a)
    for order in ([a_first, a_second, *_quoted("b", text_b)], [a_second, *_quoted("b", text_b), a_first]):
        groups = quotes.group(order)
        assert sorted(sorted(w.article_id for w in g) for g in groups) == [["a"], ["a", "b"]]
        (alone,) = [g for g in groups if len(g) == 1]
        assert alone[0].quote.text.startswith("I meant exactly that")
        (shared,) = [g for g in groups if len(g) == 2]
        b_wording = next(w for w in shared if w.article_id == "b")
        assert text_b[b_wording.span[0] : b_wording.span[1]] == "No, I meant he's the founder of ISIS."


def test_a_quote_of_two_statements_keeps_a_counterpart_for_each():
    text_a = 'She said: "We discussed the troops and the guns. This war is becoming internationalized."'
    text_b = 'He wrote: "We discussed the troops and the guns."\nHe added: "This war is becoming internationalised."'
    (whole,) = _aligning(text_a)
    parts = _aligning(text_b)
    found = quotes.align_articles(text_a, [whole], text_b, parts)
    assert [(i, j, r.kind) for i, j, r in found] == [(0, 0, AlignmentKind.PARTIAL), (0, 1, AlignmentKind.PARTIAL)]
    assert [text_a[r.span[0] : r.span[1]] for _, _, r in found] == [
        "We discussed the troops and the guns",
        "This war is becoming internationalized",
    ]


def _aligning(text):
    """The text's quotes as align_articles takes them, built as `_quoted` builds them for `group`."""
    return [(q.quote, q.units, q.vectors) for q in _quoted("", text)]


def test_quote_round_trips_through_dict():
    (q,) = extract('"We will not give up," the minister said, "and we will win."')
    assert Quote.from_dict(q.to_dict()) == q


QUOTE_MARKS = st.sampled_from(
    list("\"“”«»„‘’',.:—-\n ()<>")
    + ["said", "he said,", "Smith", "The", "war", "Mr.", "(D-Md.)", "who", "Trump’s aide", '<tweet a="', "told"]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(QUOTE_MARKS, st.text(max_size=12)), max_size=80).map("".join))
def test_extraction_never_crashes_and_offsets_stay_inside(text):
    for q in extract(text):
        assert 0 <= q.start <= q.end <= len(text)
        for s, e in q.parts:
            assert q.start <= s <= e <= q.end
        if q.speaker_span:
            assert 0 <= q.speaker_span[0] <= q.speaker_span[1] <= len(text)
        for _, (s, e) in quotes.quote_units(text, q):
            assert 0 <= s <= e <= len(text)
        assert " ".join(text[s:e] for s, e in q.parts) == q.text


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=3000))
def test_thousands_of_quote_marks_finish_quickly(n):
    text = ('"' * n) + " he said " + ("“”" * n) + "\n" + re.sub("x", '"', "x a x " * (n // 10))
    extract(text)


def test_quote_over_several_paragraphs_is_one_quote():
    text = (
        "The minister spoke at length.\n"
        "“We will rebuild every school that was destroyed.\n"
        "“And we will do it before the winter comes,” she said.\n"
        "Then she left."
    )
    (q,) = extract(text)
    assert len(q.parts) == 2 and q.text.startswith("We will rebuild") and q.text.endswith("winter comes")
    assert q.speaker_mention == "she" and q.cue == "said"


def test_named_speaker_after_descriptors_and_appositives():
    cases = {
        '"There is no question this process is fair," Wyoming GOP chairman Matt Micheli said.': "Matt Micheli",
        '"They want to change the rules," Morton Blackwell, the committeeman from Virginia, told AFP.': (
            "Morton Blackwell"
        ),
        'David Axelrod, who ran the campaigns, said of Sanders: "The question is whether he rallies."': (
            "David Axelrod"
        ),
    }
    for text, speaker in cases.items():
        (q,) = extract(text)
        assert q.speaker == speaker, text


def test_a_quotation_inside_a_sentence_belongs_to_its_subject():
    for text, speaker in {
        'Jeb Bush referred to Rubio as "a bright, charismatic leader" on Sunday.': "Jeb Bush",
        'Hillary Clinton is telling customers at a breakfast spot that "I need you tomorrow."': "Hillary Clinton",
    }.items():
        (q,) = extract(text)
        assert q.speaker == speaker, text


def test_pieces_of_one_statement_in_one_sentence_are_one_quote():
    (q,) = extract('Issa questioned her "judgment" and "honesty" in the interview.')
    assert q.text == "judgment honesty" and len(q.parts) == 2 and q.speaker == "Issa"


def test_common_words_at_sentence_start_are_not_speakers():
    text = 'Maybe he will host "a show about nothing at all" again. maybe not.'
    (q,) = extract(text)
    assert q.speaker != "Maybe"


def test_titles_are_not_quotes_unless_attributed():
    assert extract('"Saturday Night Live" returns in May, after "The Truman Show" on the same channel.') == []
    (q,) = extract('"Make America Great Again," Trump told the crowd.')
    assert q.speaker == "Trump"


def test_attribution_split_by_a_long_appositive_is_one_statement():
    text = (
        '"We will win this state," said Skip Rutherford, a longtime loyalist and dean of the school, who has'
        ' known them for decades. "The population here has changed."'
    )
    (q,) = extract(text)
    assert len(q.parts) == 2 and q.speaker == "Skip Rutherford"


def test_a_new_cue_between_pieces_opens_another_statement():
    text = '"Be very conservative," Trump said, adding a plug for himself. "And who can fix things better than me?"'
    assert len(extract(text)) == 2
    text = 'She says Trump represents the "same rigged system he will change." She adds, "What kind of genius is that?"'
    assert len(extract(text)) == 2


def test_a_quote_left_open_runs_into_the_next_paragraph_that_opens_with_a_mark():
    text = 'Cruz told reporters: "The comments are typical of them.\n\n"Rather than scold allies, we act."'
    (q,) = extract(text)
    assert q.text.startswith("The comments") and q.text.endswith("we act.") and q.speaker == "Cruz"


def test_quoted_dates_are_not_quotes():
    assert extract('The file was named "2015-12-02" by the police, officials said.') == []


def _quoted(article_id, text):
    return [quotes.QuotedBy(article_id, text, q, tuple(quotes.quote_units(text, q)), None) for q in extract(text)]


def test_groups_hold_each_statement_once_with_every_wording():
    a = 'He wrote: "We discussed the troops." Later he wrote: "This war is becoming internationalized."'
    b = 'She said: "We discussed the troops. This war is becoming internationalised, beyond two countries."'
    c = '"We discussed the troops," he said.\nA spokesman said: "The weather was fine all week in the capital."'
    groups = quotes.group(_quoted("a", a) + _quoted("b", b) + _quoted("c", c))
    shared = [g for g in groups if len({w.article_id for w in g}) > 1]
    assert len(shared) == 2
    troops, war = shared
    assert sorted(w.article_id for w in troops) == ["a", "b", "c"]
    b_part = next(w for w in troops if w.article_id == "b")
    assert b[b_part.span[0] : b_part.span[1]] == "We discussed the troops"
    assert sorted(w.article_id for w in war) == ["a", "b"]
    assert any(len(g) == 1 and g[0].quote.text.startswith("The weather") for g in groups)
    # b's two-sentence quote is listed only through its parts
    assert not any(len(g) == 1 and g[0].article_id == "b" for g in groups)


def test_a_pair_cache_keeps_each_pair_of_articles_aligned_once(monkeypatch):
    group_mod = importlib.import_module("samestory.quotes.group")  # the package's `group` is the function
    calls = []

    def counted(text_a, quotes_a, text_b, quotes_b, embed=None):
        calls.append((text_a[:1], text_b[:1]))
        return align_articles(text_a, quotes_a, text_b, quotes_b, embed)

    monkeypatch.setattr(group_mod, "align_articles", counted)

    def quoted(key, text):
        return [dataclasses.replace(q, key=key) for q in _quoted(text[0], text)]

    a = 'A: He wrote: "We discussed the troops." Later he wrote: "This war is becoming internationalized."'
    b = 'B: She said: "We discussed the troops. This war is becoming internationalised, beyond two countries."'
    c = 'C: "We discussed the troops," he said. A spokesman said: "The weather was fine all week in the capital."'
    d = 'D: "This war is becoming internationalized," the president wrote after the call.'
    cache = quotes.PairCache(size=10)
    three = quoted(1, a) + quoted(2, b) + quoted(3, c)
    plain = quotes.group(three)
    calls.clear()
    assert quotes.group(three, cache) == plain and len(calls) == 3 and len(cache) == 3
    calls.clear()
    assert quotes.group(three, cache) == plain and calls == []  # nothing aligned again
    four = three + quoted(4, d)
    assert quotes.group(four, cache) == quotes.group(four)
    assert len(calls) == 3 + 6  # the cached read aligned only d's three pairs; the plain one, all six
    # An article stored again with other content (deleted, then ingested under its id) has a new key.
    calls.clear()
    a2 = 'A: He wrote: "The weather was fine all week in the capital."'
    changed = quoted(5, a2) + three[2:]
    cached = quotes.group(changed, cache)
    assert sorted(calls) == [("A", "B"), ("A", "C")] and len(cache) == 6 + 2
    assert cached == quotes.group(changed)
    small = quotes.PairCache(size=2)
    quotes.group(four, small)
    assert len(small) == 2  # the least recently used pairs were dropped
    calls.clear()
    keyless = _quoted("A", a) + _quoted("B", b)  # articles not stored: nothing to key them by
    assert quotes.group(keyless, cache) == quotes.group(keyless, cache) == quotes.group(three[:3], cache)
    assert len(calls) == 2 and len(cache) == 8


def test_more_speaker_forms():
    cases = {
        '"We had no choice," said a senior Cruz adviser who asked not to be named.': "a senior Cruz adviser",
        '"He would be a great senator," Rep. Elijah E. Cummings (D-Md.) said.': "Rep. Elijah E. Cummings (D-Md.)",
        'According to Paul Sperry of Counter Jihad, "the vans kept moving all night long."': "Paul Sperry",
        'It drew a reaction from President Barack Obama, who called him "unfit to serve as president."': "who",
        'When asked about the race, Cruz gingerly said that was "an assessment for the voters."': "Cruz",
        'A cashier who "steals a handful of twenties" is held to account, Warren said.': "Warren",
        'In a statement, President Obama condemned the test as "provocative and destabilizing."': "President Obama",
        'On Saturday, Trump issued a statement saying that he was "a remarkable person."': "Trump",
        'Sen. Ted Cruz tweeted a warning. "Remember in November the Democrats who filibustered."': "Sen. Ted Cruz",
    }
    for text, mention in cases.items():
        (q,) = extract(text)
        assert q.speaker_mention == mention, (text, q)
        assert text[q.speaker_span[0] : q.speaker_span[1]] == mention
    (q,) = extract(list(cases)[3])
    assert q.speaker == "Barack Obama"


def test_a_pronoun_with_no_named_speaker_before_it_is_the_last_named_subject():
    text = (
        "Deputy Timothy Brennan, who had been his partner for a year, called the verdict bittersweet.\n"
        'He explained, "You feel good, but it will never bring Jerry back."'
    )
    (q,) = extract(text)
    assert q.speaker_mention == "He" and q.speaker == "Timothy Brennan"
    # A "NAME said" before still wins: the pronoun refers to who spoke last.
    (first, second) = extract('"We lost," Smith said.\nJones walked out. He explained, "We will appeal."')
    assert second.speaker == "Smith"


def test_days_and_sentence_adverbs_are_not_speakers():
    for text in (
        'On Tuesday, reporters heard "the same old promises from the podium."',
        'Immediately after the attacks, officials said nothing, and "the city went quiet for hours."',
    ):
        for q in extract(text):
            assert q.speaker not in {"Tuesday", "Immediately"}, text


def test_a_participle_speaks_for_the_subject_of_the_clause_it_follows():
    cases = {
        'Ohio Gov. John Kasich ended his campaign, telling supporters in Columbus that he had "renewed faith."': (
            "John Kasich"
        ),
        'Republicans on Capitol Hill seized on the message, arguing that it showed "intent" to mislead.': "Republicans",
        'She was adamant, telling Keyworth they would not "have to make the first move."': "She",
    }
    for text, speaker in cases.items():
        (q,) = extract(text)
        assert speaker in (q.speaker, q.speaker_mention) and q.cue.endswith("ing"), (text, q)


def test_a_title_written_between_an_organisation_and_a_name():
    for text in (
        'AMD president and chief executive Rory Read said the deal would accelerate "our transformation."',
        '"We are ready," said Clinton campaign chairman John Podesta.',
        'Acme chief operating officer Rory Read addressed the deal, saying it would accelerate "our transformation."',
    ):
        (q,) = extract(text)
        assert q.speaker in ("Rory Read", "John Podesta") and q.speaker_mention.endswith(q.speaker), (text, q)
    (q,) = extract('"We had no choice," said a senior Cruz adviser who asked not to be named.')
    assert q.speaker_mention == "a senior Cruz adviser"  # a description, not a titled name


def test_a_so_called_nickname_is_not_a_statement():
    assert extract('He beat the law better than John Gotti, the so-called "Teflon Don" who won two acquittals.') == []


def test_an_object_after_a_participle_is_not_the_speaker():
    (q,) = extract('The foundation did not want to address "that person at all," telling Fox 35 it would not.')
    assert q.speaker != "Fox"


def test_a_nested_quotation_does_not_close_its_outer_one():
    text = 'Trump tweeted, "Reporting that the killer shouted "Allah hu Akbar!" as he attacked the club."'
    (q,) = extract(text)
    assert q.text.startswith("Reporting") and q.text.endswith("attacked the club.")


def test_a_title_inside_the_attribution_does_not_split_the_statement():
    text = '"We are not winning yet," Clinton said on ABC\'s "This Week" on Sunday. "We need more steps."'
    (q,) = extract(text)
    assert len(q.parts) == 2 and q.speaker == "Clinton"


def test_markup_and_a_mark_that_closes_the_wrong_way_round():
    text = 'He posted <tweet author="someone" date="March 9">a picture</tweet> today.\n\n“Apparently not,“ he said.'
    (q,) = extract(text)
    assert q.text == "Apparently not" and q.speaker_mention == "he"


def test_a_quote_that_ends_its_sentence_ends_it_there():
    text = (
        '"I disagree with the assertion," she said. "We feel good about the areas we go to."'
        " She noted a planned rally in Sioux City."
    )
    (q,) = extract(text)
    assert len(q.parts) == 2 and q.speaker_mention == "she"


def test_a_few_words_quoted_in_a_sentence_that_reports_speech_are_kept():
    (q,) = extract('The party has stressed the issue of "systemic racism" in its ads.')
    assert q.text == "systemic racism"
    assert extract('The "systemic racism" debate lasted all night.') == []


def test_a_possessive_description_names_its_head_not_its_owner():
    text = 'Pence spoke first. Trump’s potential VP then revealed Trump "strongly encouraged me to endorse Paul Ryan."'
    (q,) = extract(text)
    assert q.speaker_mention == "Trump’s potential VP"
    other = extract('"I strongly encouraged him to endorse Paul Ryan today," Trump said.')[0]
    assert quotes.align(text, q, [], None, "x", other, [], None) is None  # not Trump's words
