import datetime as dt

from samestory import text

from .conftest import SEEDS

RAW_PAGE = (SEEDS / "003_12da6fbd2a6afa8c.txt").read_text(encoding="utf-8")


def test_raw_page_keeps_the_article_and_drops_the_chrome():
    clean = text.clean(RAW_PAGE)
    kept = "\n".join(p.text for p in clean.paragraphs)
    for chrome in (
        "GIFT a Subscription",
        "HamberMenu",
        "Plutus IAS",
        "CONNECT WITH US",
        "Photo Credit",
        "Related stories",
        "Top News Today",
        "Sign in to unlock",
        "Access 10 free stories",
        "Comments have to be in English",
        "commenting platform",
        "Vuukle",
        "South Korean intelligence says North is sending troops",  # a related-story link
        "Published - October 30",
    ):
        assert chrome not in kept, chrome
    assert kept.startswith("Ukrainian President Volodymyr Zelenskyy said on Tuesday")
    assert "“We discussed the involvement of North Korean military forces" in kept
    assert kept.endswith("arrived in Russia for an official visit.")
    assert clean.dropped > 20


def test_paragraph_offsets_point_into_the_original():
    clean = text.clean(RAW_PAGE)
    for p in clean.paragraphs:
        assert RAW_PAGE[p.start : p.end] == p.text


def test_date_prefix_is_read_and_removed():
    clean = text.clean(" date 2024-10-29 Ukrainian President Volodymyr Zelenskyy has said that the war goes on.")
    assert clean.date == dt.date(2024, 10, 29)
    assert clean.body.startswith("Ukrainian President")
    assert "date" not in clean.body.split()[:2]


def test_invalid_date_prefix_is_ignored_not_fatal():
    clean = text.clean("date 2024-13-45 The war went on through the night in the east of the country.")
    assert clean.date is None


def test_normalise_quotes_dashes_and_spaces():
    assert text.normalise("“Hi” — she said\u00a0 ‘twice’") == "\"Hi\" - she said 'twice'"


def test_exact_key_ignores_case_spacing_and_quote_style():
    assert text.exact_key("He said “yes”.\n\nThen left.") == text.exact_key('he said "yes". then   left.')
    assert text.exact_key("He said yes.") != text.exact_key("He said no.")
    assert text.exact_key("He said yes.", "Headline") == text.exact_key("he said yes", "HEADLINE")
    assert text.exact_key("He said yes.", "Headline") != text.exact_key("He said yes.", "Another headline")


def test_dateline_is_not_part_of_the_body():
    assert text.clean("KYIV, Ukraine (AP) — The war went on today in the east.").body == (
        "The war went on today in the east."
    )


def test_headline_only_input_is_kept_rather_than_emptied():
    clean = text.clean("Earthquake hits Aceh")
    assert clean.body == "Earthquake hits Aceh"


def test_entities_are_names_and_figures():
    found = set(text.entity_counts("Zelenskyy said 3,000 North Korean troops reached Kursk. The troops moved on."))
    assert {"zelenskyy", "3000", "north", "korean", "kursk"} <= found
    assert "the" not in found


def test_long_unterminated_prose_is_kept_but_captions_and_headlines_are_not():
    page = "\n".join(
        [
            "Early Friday morning, around 1:30 a.m., the 26-year-old actress checked into a treatment center in "
            "Rancho Mirage, Calif,",
            "A TV screen shows an image of the two leaders during a news program at the railway station in Seoul, "
            "South Korea. File",
            "South Korea will consider supplying arms to Ukraine after Russia and North Korea sign strategic pact",
            "Correction: An earlier version of this article gave a wrong figure.",
        ]
    )
    kept = [p.text for p in text.clean(page).paragraphs]
    assert kept[0].startswith("Early Friday morning") and len(kept) == 2
