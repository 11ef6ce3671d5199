"""The query language: what each token means, and a one-line error for each malformed one."""

import datetime as dt

import pytest

from photofind.core.search.query import Query, QueryError, Term, parse


def test_plain_words_are_the_description():
    q = parse("  red   circle ")
    assert q.text == "red circle"
    assert q.terms == () and not q.has_filters and q.has_content and not q.browses


def test_minus_and_plus_terms_with_weights_and_phrases():
    q = parse('beach -people +"blue sky":1.5 -"a dog":0.5 +kids')
    assert q.text == "beach"
    assert q.terms == (Term("people", -1.0), Term("blue sky", 1.5), Term("a dog", -0.5),
                       Term("kids", 1.0))


def test_quoted_phrase_without_sign_is_description():
    assert parse('"red circle" on blue').text == "red circle on blue"


def test_like_adds_examples_with_spaces_quoted():
    q = parse('like:~/beach.jpg at night like:"/tmp/my photos/x.png"')
    assert q.examples == ("~/beach.jpg", "/tmp/my photos/x.png")
    assert q.text == "at night"
    assert q.has_content


def test_dates_year_month_day():
    q = parse("after:2023-06 before:2024")
    assert q.after == dt.date(2023, 6, 1) and q.before == dt.date(2024, 1, 1)
    assert parse("after:2023-06-15").after == dt.date(2023, 6, 15)
    assert parse("AFTER:2020").after == dt.date(2020, 1, 1)


def test_folders_types_orientation():
    q = parse('in:Italy in:"Summer 2023" type:heic type:JPG orientation:Portrait')
    assert q.folders == ("Italy", "Summer 2023")
    assert q.types == ("HEIF", "JPEG")
    assert q.orientation == "portrait"
    assert q.browses  # filters alone describe nothing: browse


def test_unknown_keys_are_plain_text():
    q = parse("ratio 16:9 http://example.org foo:bar")
    assert q.text == "ratio 16:9 http://example.org foo:bar"
    assert not q.has_filters


@pytest.mark.parametrize("source, named", [
    ("after:yesterday-ish", "after:yesterday-ish"),
    ("before:2023-13", "before:2023-13"),
    ("after:2023-02-30", "after:2023-02-30"),
    ("type:raw", "type:raw"),
    ("orientation:diagonal", "orientation:diagonal"),
    ("like:", "like:"),
    ("in:", "in:"),
    ("+kids:0", "+kids:0"),
    ("+kids:99", "+kids:99"),
    ("-after:2023", "-after:2023"),
    ("after:2024 before:2023", "after:2024"),
])
def test_malformed_tokens_are_one_line_errors_naming_the_token(source, named):
    with pytest.raises(QueryError) as info:
        parse(source)
    message = str(info.value)
    assert named in message
    assert "\n" not in message


def test_describe_round_trips():
    source = 'red circle -square +"blue sky":1.5 after:2023-06-01 in:Italy type:png'
    q = parse(source)
    assert parse(q.describe()) == q


def test_browse_sorts_newest_by_default():
    assert parse("").browses
    assert parse("").effective_sort == "newest"
    assert parse("red").effective_sort == "relevance"
    assert Query(sort="oldest").effective_sort == "oldest"
