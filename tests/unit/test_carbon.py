"""The Carbon plaintext parser and line framer (pure: no sockets)."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torus.carbon import (MAX_LINE, BadLine, DroppedValue, LineFramer, ParseStats, canonical_name,
                          parse_block, parse_line, parse_value)

NOW = 1700000123.5


@pytest.mark.parametrize("line, expected", [
    ("a.b 1 1700000000", ("a.b", 1, 1700000000)),
    ("a.b\t-2\t1700000000", ("a.b", -2, 1700000000)),
    ("a.b   1.5    1700000000.25", ("a.b", 1.5, 1700000000.25)),
    ("a.b 1e3 1700000000", ("a.b", 1000.0, 1700000000)),
    ("a.b -4.5E-2 1700000000", ("a.b", -0.045, 1700000000)),
    ("a.b +7 1700000000", ("a.b", 7, 1700000000)),
    ("a.b 12345678901234567890 1700000000", ("a.b", 12345678901234567890, 1700000000)),
    ("a.b 3 1700000000.0", ("a.b", 3, 1700000000)),
    ("a.b 3 -1", ("a.b", 3, NOW)),
    ("a.b hello 1700000000", ("a.b", "hello", 1700000000)),
    ("a.b two  words 1700000000", ("a.b", "two  words", 1700000000)),
    ("  a.b 1 1700000000  \r", ("a.b", 1, 1700000000)),
])
def test_parse_line(line, expected):
    name, value, stamp = parse_line(line, NOW)
    assert (name, value, stamp) == expected
    assert type(value) is type(expected[1])


def test_integers_stay_integers_and_floats_stay_floats():
    assert isinstance(parse_value("42"), int)
    assert isinstance(parse_value("-42"), int)
    assert isinstance(parse_value("42.0"), float)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "+Infinity", "1e999"])
def test_non_finite_values_are_dropped(text):
    with pytest.raises(DroppedValue):
        parse_line("a.b %s 1700000000" % text, NOW)


@pytest.mark.parametrize("line, reason", [
    ("a.b", "1 field"),
    ("a.b 1", "2 fields"),
    ("a.b 1 later", "timestamp 'later'"),
    ("a.b 1 nan", "not between 0 and"),
    (";a=b 1 1700000000", "without a metric path"),
    ("a;b 1 1700000000", "not tag=value"),
    ("a;=b 1 1700000000", "not tag=value"),
    ("a;k= 1 1700000000", "not tag=value"),
    ("a;k!=v 1 1700000000", "holds one of"),
    ("a;k=~v 1 1700000000", "starts with ~"),
    ("a.b 1 1e30", "not between 0 and 253402300799"),
    ("a.b 1 1700000000000000000", "not between 0 and"),      # nanoseconds
    ("a.b 1 1700000000000", "not between 0 and"),            # milliseconds
    ("a.b 1 253402300800", "not between 0 and"),             # year 10000
    ("a.b 1 -5", "not between 0 and"),
    ("a.b 1 " + "9" * 5000, "not between 0 and"),
    ("a.b " + "9" * 5000 + " 1700000000", "5000 digits"),
    ("a.b -" + "9" * 5000 + " 1700000000", "5000 digits"),
])
def test_bad_lines(line, reason):
    with pytest.raises(BadLine, match=reason):
        parse_line(line, NOW)


def test_tags_are_sorted_and_last_repeat_wins():
    assert canonical_name("cpu;host=a;dc=x") == "cpu;dc=x;host=a"
    assert canonical_name("cpu;b=1;a=2;b=3") == "cpu;a=2;b=3"
    assert canonical_name("plain.name") == "plain.name"
    assert parse_line("cpu;z=1;a=2 5 1700000000", NOW)[0] == "cpu;a=2;z=1"


def test_parse_block_keeps_good_lines_around_bad_ones():
    block = (b"a 1 1700000000\n"
             b"garbage\n"
             b"b nan 1700000000\n"
             b"\n"
             b"c 2.5 1700000001\r\n"
             b"d\xff 1 1700000000\n"
             b"e 3 -1\n"
             + b"f " + b"9" * (MAX_LINE + 1) + b" 1700000000\n"
             + b"g x 1700000002")
    stats = ParseStats()
    reported = []
    points = parse_block(block, NOW, stats, lambda kind, line, why: reported.append(kind))
    assert points == [("a", 1, 1700000000), ("c", 2.5, 1700000001), ("e", 3, NOW),
                      ("g", "x", 1700000002)]
    assert (stats.lines, stats.points, stats.bad, stats.dropped, stats.overlong) == (8, 4, 2, 1, 1)
    assert sorted(reported) == ["bad", "bad", "dropped", "overlong"]


def test_fast_and_slow_paths_agree():
    lines = ["m.%d %s %s" % (i, v, t) for i, (v, t) in enumerate([
        ("1", "1700000000"), ("-1", "1700000000"), ("0.25", "1700000000"), ("1e2", "1700000000"),
        ("+3", "1700000000"), ("5", "1700000000.5"), ("5", "-1"), ("x", "1700000000")])]
    fast = parse_block("\n".join(lines).encode(), NOW, ParseStats())
    slow = [parse_line(line, NOW) for line in lines]
    assert fast == slow
    assert [type(p[1]) for p in fast] == [type(p[1]) for p in slow]


@given(st.lists(st.tuples(st.sampled_from(["1", "2.5", "-3", "x", "nan", "1e2"]),
                          st.sampled_from(["1700000000", "1700000010", "0100", "-1", "1.5", "",
                                           "253402300800", "253402300799", "17000000000000"])),
                max_size=30))
def test_a_block_parses_as_its_lines_do_one_by_one_whatever_stamps_repeat(fields):
    """The block parser keeps the last timestamp's text and number (a flush's lines share
    it): a repeat of good, bad or missing stamps in any order parses as each line alone."""
    lines = ["m.%d %s %s" % (i, value, stamp) for i, (value, stamp) in enumerate(fields)]
    stats = ParseStats()
    points = parse_block("\n".join(lines).encode(), NOW, stats)
    alone = []
    for line in lines:
        try:
            alone.append(parse_line(line, NOW))
        except (BadLine, DroppedValue):
            pass
    assert points == alone and [type(p[1]) for p in points] == [type(p[1]) for p in alone]
    assert (stats.lines, stats.points) == (len(lines), len(alone))


# -- framing ----------------------------------------------------------------------
def reassemble(chunks, max_line=MAX_LINE):
    framer = LineFramer(max_line=max_line)
    out = b"".join(framer.feed(chunk) for chunk in chunks) + framer.finish()
    return out, framer


def test_framer_holds_partial_lines():
    framer = LineFramer()
    assert framer.feed(b"a 1 17000") == b""
    assert framer.feed(b"00000\nb 2") == b"a 1 1700000000\n"
    assert framer.pending == 3
    assert framer.feed(b" 1700000000\n") == b"b 2 1700000000\n"
    assert framer.finish() == b""


def test_framer_returns_unterminated_last_line_at_eof():
    out, _ = reassemble([b"a 1 1\nb 2 ", b"2"])
    assert out == b"a 1 1\nb 2 2"


def test_framer_skips_overlong_line_and_keeps_the_next():
    out, framer = reassemble([b"ok 1 1\n", b"x" * 40, b"y" * 40, b"z 1 1\nnext 2 2\n"], max_line=32)
    assert out == b"ok 1 1\nnext 2 2\n"
    assert framer.overlong == 1


LINE = st.builds(
    lambda name, value, stamp, sep, end: "%s%s%s%s%s%s" % (name, sep, value, sep, stamp, end),
    st.from_regex(r"[a-z][a-z0-9_.]{0,30}", fullmatch=True),
    st.one_of(st.integers(-10**20, 10**20).map(str),
              st.floats(allow_nan=False, allow_infinity=False).map(repr)),
    st.integers(0, 2**32).map(str),
    st.sampled_from([" ", "\t", "  ", " \t "]),
    st.sampled_from(["\n", "\r\n"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=40), st.data())
def test_random_splits_reassemble_the_stream(lines, data):
    stream = "".join(lines).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    chunks = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]
    out, framer = reassemble(chunks)
    assert out == stream
    assert framer.overlong == 0
    points = parse_block(out, NOW, ParseStats())
    assert points == [parse_line(line, NOW) for line in lines]
    assert len(points) == len(lines)


#: what an attacker sends: digits past Python's int limit, huge exponents, odd timestamps, tags
HOSTILE_LINE = st.builds(
    lambda name, value, stamp: "%s %s %s\n" % (name, value, stamp),
    st.one_of(st.from_regex(r"[a-z]{1,5}(;[a-z]{1,3}=[a-z~]{0,3}){0,3}", fullmatch=True),
              st.text(min_size=1, max_size=20).map(lambda t: t.replace("\n", "").replace(" ", "") or "x")),
    st.one_of(st.integers(4200, 6000).map(lambda n: "9" * n), st.sampled_from(["1e400", "-1e400", "nan",
              "1e308", "0x10", "1_000", "--1", "+5", "\u0663"]), st.text(max_size=8).map(
              lambda t: t.replace("\n", "").replace(" ", "") or "v")),
    st.one_of(st.integers(4200, 6000).map(lambda n: "1" * n), st.sampled_from([
        "1e30", "-1", "-2", "1700000000000000000", "1700000000000", "253402300800", "nan", "inf",
        "1.5", "0"]), st.text(max_size=8).map(lambda t: t.replace("\n", "").replace(" ", "") or "t")),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(LINE, HOSTILE_LINE,
                          st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"") + b"\n")
                          .map(lambda b: b.decode("latin-1"))), min_size=1, max_size=30))
def test_garbage_never_costs_good_lines(lines):
    block = "".join(lines).encode("utf-8")
    stats = ParseStats()
    points = parse_block(block, NOW, stats)  # never raises
    good = [line for line in lines if _parses(line)]
    for line in good:
        assert parse_line(line, NOW) in points
    assert stats.points == len(points)
    assert stats.lines >= len(points)


def _parses(line):
    """An ASCII line parse_line accepts (non-ASCII garbage may not be UTF-8 on the wire)."""
    if not line.isascii():
        return False
    try:
        value = parse_line(line, NOW)
    except (BadLine, DroppedValue):
        return False
    number = value[1]
    # ints are kept exact however long (up to Python's digit limit): only floats can be inf/nan
    return isinstance(number, int) or (isinstance(number, float) and math.isfinite(number))


def test_truncate_drops_the_line_end_and_cuts_long_lines():
    from torus.carbon import truncate
    assert truncate("cpu.user nan 1795858437\r\n") == "cpu.user nan 1795858437"
    assert truncate("x" * 300) == "x" * 200 + "...(300 bytes)"


def test_a_hostile_value_or_timestamp_costs_only_its_own_line():
    """Huge digit strings once raised out of parse_block and lost the whole block."""
    hostile = [b"x " + b"9" * 5000 + b" 1700000000", b"x 1 " + b"9" * 5000, b"x 1 1e30",
               b"x 1 1700000000000000000", b"x -" + b"9" * 5000 + b" 1700000000"]
    good = [b"g.%d %d 1700000000" % (i, i) for i in range(len(hostile) + 1)]
    lines = [line for pair in zip(good, hostile + [b""]) for line in pair if line]
    stats = ParseStats()
    points = parse_block(b"\n".join(lines) + b"\n", 0.0, stats)
    assert points == [("g.%d" % i, i, 1700000000) for i in range(len(good))]
    assert (stats.lines, stats.points, stats.bad) == (len(lines), len(good), len(hostile))


def test_a_line_of_the_longest_length_is_taken_with_either_line_end():
    name = "a" * (MAX_LINE - len(" 1 1700000000"))
    for end in (b"\n", b"\r\n"):
        stats = ParseStats()
        line = ("%s 1 1700000000" % name).encode()
        assert len(line) == MAX_LINE
        assert parse_block(line + end, 0.0, stats) == [(name, 1, 1700000000)]
        assert parse_block(b"x" + line + end, 0.0, stats) == [] and stats.overlong == 1
