from __future__ import annotations

import pytest

from pipeline.enrich.annotate import Annotator
from pipeline.enrich.claims import find_quotes
from pipeline.records import Claim


def only_claim(annotator: Annotator, text: str) -> Claim:
    claims = annotator.annotate(text).claims
    assert len(claims) == 1, [c.content.text for c in claims]
    return claims[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('He said "yes" and "no".', [(8, 13), (18, 22)]),
        ("“Open,” she said. “Still open", [(0, 7), (18, 29)]),
        ("''Wire style,'' he said.", [(0, 15)]),
        # an unclosed quotation ends with its paragraph
        ('A "broken\nline" here', [(2, 9), (14, 20)]),
    ],
)
def test_find_quotes(text: str, expected: list[tuple[int, int]]) -> None:
    assert find_quotes(text) == expected


def test_indirect_speech_keeps_that_and_drops_the_final_period(annotator: Annotator) -> None:
    text = "Valery Gerasimov claimed that Russian forces had recaptured the town."
    claim = only_claim(annotator, text)
    assert claim.content.text == "that Russian forces had recaptured the town"
    assert claim.source.text == "Valery Gerasimov"
    assert claim.cue.text == "claimed"
    assert claim.kind == "indirect"
    assert text[claim.content.start : claim.content.end] == claim.content.text


def test_inverted_attribution_keeps_quote_marks_and_resolves_surname(
    annotator: Annotator,
) -> None:
    text = (
        "General Valery Gerasimov visited the front.\n"
        'The plan had "totally collapsed," Gerasimov claimed.'
    )
    claims = annotator.annotate(text).claims
    claim = next(c for c in claims if c.cue.text == "claimed")
    assert claim.content.text == 'The plan had "totally collapsed,"'
    assert claim.speaker == "Valery Gerasimov"
    assert claim.kind == "mixed"


def test_direct_quote_resumed_after_attribution_is_one_claim(annotator: Annotator) -> None:
    text = '"We will win," said Jane Roe, a local official. "It is only a matter of time."'
    claim = only_claim(annotator, text)
    assert claim.kind == "direct"
    assert [p.text for p in claim.content_parts] == [
        '"We will win,"',
        '"It is only a matter of time."',
    ]
    assert claim.speaker == "Jane Roe"


def test_according_to(annotator: Annotator) -> None:
    claim = only_claim(annotator, "According to CNN, the talks ended early.")
    assert claim.cue.text == "According to"
    assert claim.source.text == "CNN"
    assert claim.content.text == "the talks ended early"
    assert claim.speaker == "CNN"


def test_pronoun_speaker_is_the_previous_person(annotator: Annotator) -> None:
    text = "Dmitry Peskov spoke on Monday. He said that the proposal was being studied."
    claim = only_claim(annotator, text)
    assert claim.source.text == "He"
    assert claim.speaker == "Dmitry Peskov"


def test_title_speaker_resolves_to_who_holds_it(annotator: Annotator) -> None:
    text = (
        "Kremlin spokesperson Dmitry Peskov met reporters.\n"
        "Later the spokesperson said that no decision had been made."
    )
    claim = only_claim(annotator, text)
    assert claim.source.text == "the spokesperson"
    assert claim.speaker == "Dmitry Peskov"


def test_quantities_in_content_are_attached(annotator: Annotator) -> None:
    text = "Gerasimov claimed that 430 Ukrainian soldiers had been taken prisoner."
    claim = only_claim(annotator, text)
    assert [(q.text, q.value, q.unit) for q in claim.quantities] == [
        ("430 Ukrainian soldiers", 430.0, "soldier")
    ]


def test_no_claim_without_a_cue(annotator: Annotator) -> None:
    assert annotator.annotate("The visit was a morale booster for the troops.").claims == []


def test_offsets_count_the_first_line_and_crlf(annotator: Annotator) -> None:
    text = 'Headline here\r\n\r\n"It works," Trump said.'
    claim = only_claim(annotator, text)
    assert text[claim.content.start : claim.content.end] == '"It works,"'
    assert claim.speaker == "Donald Trump"


def test_headline_name_colon_claim(annotator: Annotator) -> None:
    text = "Lynch: No outside influence on FBI probe into emails.\n\nBody text here."
    claim = only_claim(annotator, text)
    assert claim.source.text == "Lynch"
    assert claim.cue.text == ":"
    assert claim.content.text == "No outside influence on FBI probe into emails"


def test_colon_introduces_quotation(annotator: Annotator) -> None:
    text = 'Trump went even further: "If he loses, it is the end of his career."'
    claim = only_claim(annotator, text)
    assert claim.content.text == '"If he loses, it is the end of his career."'
    assert claim.speaker == "Donald Trump"
    assert claim.kind == "direct"


def test_parenthetical_attribution_splits_the_content(annotator: Annotator) -> None:
    text = "The golf industry, she said, is doing much better than before."
    claim = only_claim(annotator, text)
    assert [p.text for p in claim.content_parts] == [
        "The golf industry",
        "is doing much better than before",
    ]


def test_claim_nested_in_another_claims_content_is_dropped(annotator: Annotator) -> None:
    text = "Chris Murphy said he supports the final bill."
    claim = only_claim(annotator, text)
    assert claim.cue.text == "said"
    assert claim.content.text == "he supports the final bill"


def test_according_to_at_the_end_takes_the_sentence(annotator: Annotator) -> None:
    text = "Trump received 37 percent and Clinton had 36 percent, according to the results."
    claim = only_claim(annotator, text)
    assert claim.content.text == "Trump received 37 percent and Clinton had 36 percent"
    assert [q.text for q in claim.quantities] == ["37 percent", "36 percent"]


def test_quantities_know_whom_they_are_about(annotator: Annotator) -> None:
    text = "Trump received 37 percent, while 430 Ukrainian soldiers were taken prisoner."
    about = {q.text: q.about for q in annotator.annotate(text).quantities}
    assert about == {"37 percent": "Donald Trump", "430 Ukrainian soldiers": "Ukrainian"}


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        # title + name: the title must not become the speaker (issue 14, item 9)
        (
            "Chief of the General Staff Valery Gerasimov claimed that the town had fallen.",
            "Valery Gerasimov",
        ),
        ("General Valery Gerasimov claimed that the town had fallen.", "Valery Gerasimov"),
        # name + appositive title
        (
            "Valery Gerasimov, chief of the General Staff, claimed that the town had fallen.",
            "Valery Gerasimov",
        ),
        # organisation + spokesperson
        (
            "Kremlin spokesperson Dmitry Peskov said that no decision had been made.",
            "Dmitry Peskov",
        ),
    ],
)
def test_titles_and_names_before_a_cue_resolve_to_the_named_person(
    annotator: Annotator, text: str, speaker: str
) -> None:
    claim = only_claim(annotator, text)
    assert claim.speaker == speaker


def test_adding_that_takes_the_speaker_of_the_clause_it_continues(annotator: Annotator) -> None:
    text = (
        'Trump affirmed, "We are going to have to see. It is up to Russia now," adding that '
        "he declined to comment on whether he has a meeting scheduled."
    )
    claims = annotator.annotate(text).claims
    adding = next(c for c in claims if c.cue.text == "adding")
    assert adding.speaker == "Donald Trump"


@pytest.mark.parametrize(
    "text",
    [
        "Steve Witkoff is expected to travel to Russia later this week.",
        "It is unclear whether he plans to meet with Putin.",
    ],
)
def test_expectations_and_open_questions_are_not_attributions(
    annotator: Annotator, text: str
) -> None:
    assert annotator.annotate(text).claims == []


def test_clause_before_an_inverted_cue_is_the_content(annotator: Annotator) -> None:
    text = (
        "Russian forces have retaken 90% of the land, General Valery Gerasimov claimed on Saturday."
    )
    claim = only_claim(annotator, text)
    assert claim.content.text == "Russian forces have retaken 90% of the land"
    assert claim.speaker == "Valery Gerasimov"


def test_claim_terms_are_lemmas_and_canonical_actors_without_the_figure(
    annotator: Annotator,
) -> None:
    claim = only_claim(annotator, "Gerasimov said his troops had retaken 86% of the territories.")
    assert "retake" in claim.terms and "territory" in claim.terms
    assert "86" not in claim.terms and "%" not in claim.terms
    assert not claim.negated
    assert [(q.value, q.unit) for q in claim.quantities] == [(86.0, "percent")]


@pytest.mark.parametrize(
    "text",
    [
        "Zelensky denied that Russian forces had recaptured the region.",
        "Zelensky said Russian forces had not recaptured the region.",
    ],
)
def test_a_denial_or_a_negated_content_is_negated(annotator: Annotator, text: str) -> None:
    claim = next(c for c in annotator.annotate(text).claims if "recaptured" in c.content.text)
    assert claim.negated


def test_a_number_left_outside_its_qualifier_joins_it(annotator: Annotator) -> None:
    text = "Lykhovy said Russian forces controlled no more than 50 per cent of the territory."
    figures = [(q.value, q.unit) for c in annotator.annotate(text).claims for q in c.quantities]
    assert figures == [(50.0, "percent")]


@pytest.mark.parametrize(
    ("text", "figure"),
    [
        ("Horak said the gas reserves would last 40 days.", (40.0, "day")),
        ("Novak said the gas reserves would last no more than 10 days.", (10.0, "day")),
    ],
)
def test_a_duration_is_a_figure(annotator: Annotator, text: str, figure: tuple) -> None:
    (claim,) = annotator.annotate(text).claims
    assert [(q.value, q.unit) for q in claim.quantities] == [figure]
    assert "day" not in claim.terms
