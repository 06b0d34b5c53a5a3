import datetime as dt

import pytest
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


def test_a_page_without_a_date_prefix_takes_the_date_of_its_time_stamp():
    # The seed page: "Published - October 30, 2024 12:28 pm IST - Kyiv, Ukraine" under its headline.
    assert text.clean(RAW_PAGE.replace(" date 2024-10-30", "", 1)).date == dt.date(2024, 10, 30)


@pytest.mark.parametrize(
    ("stamp", "date"),
    [
        ("May 03, 2013", dt.date(2013, 5, 3)),
        ("PUBLISHED: THURSDAY, MAY 2, 2013, 1: 32 PM", dt.date(2013, 5, 2)),
        ("12: 52 p. m. EDT May 2, 2013", dt.date(2013, 5, 2)),
        ("Fri., May. 3, 2013 11: 45 AM PDT", dt.date(2013, 5, 3)),
        ("Story Created: Aug 7, 2012 at 9: 56 AM AKDT", dt.date(2012, 8, 7)),
        ("26 September 2013, 10: 00 (GMT+05: 00)", dt.date(2013, 9, 26)),
        ("PUBLISHED: 02:31 GMT, 12 March 2013 | UPDATED: 22:19 GMT, 12 March 2013", dt.date(2013, 3, 12)),
        ("December 22nd, 2008 8: 55 am", dt.date(2008, 12, 22)),
        ("2013-09-26", dt.date(2013, 9, 26)),
        ("UPDATED 05 / 13 / 2013 at 11: 00 AM EDT", dt.date(2013, 5, 13)),
        ("13.05.2013", dt.date(2013, 5, 13)),
        ("05 / 02 / 2013", None),  # February or May: not read
        ("February 30, 2013", None),
        ("Reid checked herself in on Tuesday, December 9, 2008.", None),  # a sentence, not a stamp
        ("Kerry Washington to host the show of May 2, 2013", None),
    ],
)
def test_time_stamp_lines(stamp, date):
    assert text.clean(f"{stamp}\nThe war went on through the night in the east of the country.").date == date


def test_a_time_stamp_is_read_near_the_top_only():
    prose = "The war went on through the night in the east of the country."
    assert text.clean(f"{prose}\nPublished: May 2, 2013\n{prose}").date == dt.date(2013, 5, 2)
    late = "\n".join([prose] * 5 + ["May 2, 2013", prose])
    assert text.clean(late).date is None
    assert text.clean(f"date 2024-10-29 May 2, 2013\n{prose}").date == dt.date(2024, 10, 29)


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


CHROME_LINES = [
    "All rights reserved.",
    "ADVERTISEMENT - scroll to continue.",
    "Get breaking news alerts on your phone.",
    "Click here to read the full report.",
    "We use cookies to improve your experience.",
    "Community guidelines apply to every comment.",
    "Download the app for the latest stories.",
    "Follow us on every platform for updates.",
    "Getty Images photo of the scene today.",
    "Image credit: the agency's photographer.",
    "Log in or create an account today.",
    "Member-only: this piece is for our readers.",
    "Most read stories of the day here.",
    "Sign up for our daily newsletter.",
    "Read our privacy policy before you go.",
    "Related stories from around the region.",
    "Share this with a friend who cares.",
    "Terms of use and conditions of sale apply.",
    "Unlock this story with a free account.",
]


@pytest.mark.parametrize("line", CHROME_LINES)
def test_a_short_line_naming_page_chrome_is_dropped_in_any_case(line):
    for variant in (line, line.upper(), line.lower(), f"“{line.swapcase()}”"):  # the last one not ASCII
        page = f"{variant}\nThe council approved the new budget on Tuesday after a long debate in the chamber."
        assert [p.text for p in text.clean(page).paragraphs] == [
            "The council approved the new budget on Tuesday after a long debate in the chamber."
        ]


def test_an_ascii_lines_lower_case_shows_the_chrome_phrases_that_a_case_blind_search_finds():
    prose = "Signing the bill, the governor said the logging ban would be reviewed by the shareholders."
    for line in [*CHROME_LINES, prose, "The NEWSLETTER'S editor SIGNED-IN at 9."]:
        for variant in (line, line.upper(), line.swapcase()):
            blind, lower = text._BOILERPLATE.search(variant), text._BOILERPLATE_LOWER.search(variant.lower())
            assert (blind and blind.span()) == (lower and lower.span()), variant
            assert (blind is None) == (line == prose)


def test_words_that_merely_begin_like_chrome_are_prose():
    line = "Signing the bill, the governor said the logging ban would be reviewed by the shareholders."
    assert [p.text for p in text.clean(line).paragraphs] == [line]
