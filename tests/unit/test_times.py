"""Query times: unix seconds, offsets, absolute dates and phrases, in UTC, against an injected clock."""
import calendar
import datetime

import pytest

from torus.times import coerce_time, parse_time


def utc(*fields):
    return calendar.timegm(fields + (0,) * (6 - len(fields)))


#: Tuesday 2024-03-12 15:30:45 UTC
NOW = utc(2024, 3, 12, 15, 30, 45)


@pytest.mark.parametrize("text,expected", [
    ("1362153600", 1362153600),
    ("  1362153600 ", 1362153600),
    ("1362153600.5", 1362153600.5),
    ("1362153600.0", 1362153600),
    ("0", 0),
    ("now", NOW),
    ("NOW", NOW),
])
def test_numbers_and_now(text, expected):
    value = parse_time(text, NOW)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text,delta", [
    ("-5d", -5 * 86400), ("-2h", -7200), ("-30min", -1800), ("+1h", 3600), ("-1w", -7 * 86400),
    ("-1mon", -30 * 86400), ("-1y", -365 * 86400), ("-90s", -90), ("-2 days", -2 * 86400),
    ("-1.5h", -5400),
])
def test_graphite_offsets(text, delta):
    assert parse_time(text, NOW) == NOW + delta


def test_bare_m_is_ambiguous():
    with pytest.raises(ValueError, match="ambiguous"):
        parse_time("-5m", NOW)
    with pytest.raises(ValueError, match="unknown unit 'q'"):
        parse_time("-5q", NOW)


@pytest.mark.parametrize("text,expected", [
    ("2013-03-01", utc(2013, 3, 1)),
    ("2013-03-01T12:00:00Z", utc(2013, 3, 1, 12)),
    ("2013-03-01t12:00:00z", utc(2013, 3, 1, 12)),
    ("2013-03-01T12:00:00+01:00", utc(2013, 3, 1, 11)),
    ("2013-03-01 12:00", utc(2013, 3, 1, 12)),
    ("2013-03-01 12:00:00.250", utc(2013, 3, 1, 12) + 0.25),
    ("March 1 2013", utc(2013, 3, 1)),
    ("3/1/2013", utc(2013, 3, 1)),
    ("Fri, 01 Mar 2013 00:02:00 GMT", utc(2013, 3, 1, 0, 2)),
    ("15:00", utc(2024, 3, 12, 15)),
    ("march 1", utc(2024, 3, 1)),
])
def test_absolute_dates_are_utc(text, expected):
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text,expected", [
    ("today", utc(2024, 3, 12)),
    ("Today", utc(2024, 3, 12)),
    ("yesterday", utc(2024, 3, 11)),
    ("tomorrow", utc(2024, 3, 13)),
    ("5 days ago", NOW - 5 * 86400),
    ("2 hours ago", NOW - 7200),
    ("10 minutes ago", NOW - 600),
    ("a week ago", NOW - 7 * 86400),
    ("last week", utc(2024, 3, 5)),
    ("yesterday 3pm", utc(2024, 3, 11, 15)),
    ("yesterday at noon", utc(2024, 3, 11, 12)),
    ("last monday", utc(2024, 3, 11)),
    ("noon", utc(2024, 3, 12, 12)),
])
def test_phrases_relative_to_now(text, expected):
    assert parse_time(text, NOW) == expected


def test_phrases_follow_the_injected_clock():
    other = NOW - 100 * 86400
    assert parse_time("yesterday", other) == utc(2024, 3, 12) - 101 * 86400
    assert parse_time("5 days ago", other) == other - 5 * 86400


def test_local_time_zone_does_not_matter(monkeypatch):
    import time
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert parse_time("yesterday", NOW) == utc(2024, 3, 11)
        assert parse_time("2013-03-01", NOW) == utc(2013, 3, 1)
        # 2024-03-10 is the US daylight-saving switch: no hour is lost in UTC
        assert parse_time("3 days ago", NOW) == NOW - 3 * 86400
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("text", ["", "   ", "whenever", "5 days ago foo", "foo today", "1e9",
                                  "13/13/2013", "x" * 101])
def test_unparseable(text):
    with pytest.raises(ValueError):
        parse_time(text, NOW)


def test_coerce_time_from_macro_values():
    assert coerce_time(1362153600, NOW) == 1362153600
    assert coerce_time(1362153600.0, NOW) == 1362153600
    assert coerce_time("yesterday", NOW) == utc(2024, 3, 11)
    assert coerce_time(datetime.datetime(2013, 3, 1, tzinfo=datetime.timezone.utc), NOW) == utc(2013, 3, 1)
    assert coerce_time(datetime.datetime(2013, 3, 1), NOW) == utc(2013, 3, 1)
    for bad in (True, float("nan"), float("inf"), None, [1]):
        with pytest.raises(ValueError):
            coerce_time(bad, NOW)


# -- bounded work: the phrase parser is exponential in the number of words it is given ------
HOSTILE = ["ago " * 24, "1 ago " * 16, "next " * 19, "last " * 19, "ago," * 20,
           "1 day ago " * 9, "1 day ago " * 2000, "yesterday " * 2 + "ago " * 20]


@pytest.fixture
def phrase_inputs(monkeypatch):
    """Every text handed to parsedatetime during the test."""
    import torus.times as times
    seen = []
    real = times._PHRASES

    class Spy:
        def parseDT(self, text, *args, **kwargs):
            seen.append(text)
            return real.parseDT(text, *args, **kwargs)

        def nlp(self, text, *args, **kwargs):
            seen.append(text)
            return real.nlp(text, *args, **kwargs)

    monkeypatch.setattr(times, "_PHRASES", Spy())
    return seen


@pytest.mark.parametrize("text", HOSTILE, ids=lambda text: "%r..%d" % (text[:10], len(text)))
def test_long_phrases_are_refused_before_the_phrase_parser(text, phrase_inputs):
    with pytest.raises(ValueError, match="more than|at most"):
        parse_time(text, NOW)
    assert phrase_inputs == []


def test_short_phrases_still_reach_the_phrase_parser(phrase_inputs):
    assert parse_time("5 days ago", NOW) == NOW - 5 * 86400
    assert parse_time("yesterday at noon", NOW) == utc(2024, 3, 11, 12)
    assert phrase_inputs and all(len(text.split()) <= 8 for text in phrase_inputs)


@pytest.mark.parametrize("text", ["9" * 99, "-99999999999y", "+99999999999d", "1e400",
                                  "253402300800", "-62135596801"])
def test_times_outside_the_years_1_to_9999_are_refused(text):
    with pytest.raises(ValueError):
        parse_time(text, NOW)
    assert parse_time("253402300799", NOW) == 253402300799  # 9999-12-31 23:59:59


def test_phrase_parser_only_gets_few_words_whatever_the_text(phrase_inputs):
    """Any text of keywords and separators: parsedatetime never sees more than 8 words."""
    from hypothesis import given, settings, strategies as st
    words = st.sampled_from(["ago", "next", "last", "1", "day", "3pm", "noon", "monday", "in",
                             "and", "week", "yesterday", "eod", "hours", "of", "before", "x"])
    seps = st.sampled_from([" ", ",", " , ", "-", "  "])

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(words, seps), min_size=1, max_size=60))
    def check(parts):
        text = "".join(word + sep for word, sep in parts)
        try:
            parse_time(text, NOW)
        except ValueError:
            pass
        assert all(len(__import__("re").findall(r"\w+", seen)) <= 8 for seen in phrase_inputs)

    check()


def test_a_phrase_with_a_huge_number_is_refused_not_wrapped_round():
    """parsedatetime turned '11111111111111111111111111 days ago' into a date weeks ahead."""
    with pytest.raises(ValueError, match="more than 9 digits"):
        parse_time("11111111111111111111111111 days ago", NOW)
    assert parse_time("99999999 seconds ago", NOW) == NOW - 99999999
