"""The point lookup's commonest query is answered with the query's own digits: they must be the
very bytes ``repr`` writes for the float they stand for."""

from __future__ import annotations

import random

import pytest

from api.edge import GzipPrefix
from api.routes.lookup import degrees_query, plain_point


def texts(seed: int, n: int):
    """Coordinates written every way a client might: ``%.Nf``, ``repr``, and arbitrary digits
    (leading and trailing zeros, long fractions, tiny values)."""
    rng = random.Random(seed)
    for _ in range(n):
        k = rng.random()
        if k < 0.3:
            value = rng.uniform(-180, 180) * 10 ** -rng.randint(0, 7)
            yield f"{value:.{rng.randint(0, 14)}f}".encode()
        elif k < 0.6:
            yield repr(rng.uniform(-180, 180) * 10 ** -rng.randint(0, 8)).encode()
        else:
            whole = rng.choice(["0", "-0", "00", "012", str(rng.randint(1, 999)),
                                "-" + str(rng.randint(1, 999))])
            yield (whole + "." + "".join(rng.choice("0000123456789")
                                         for _ in range(rng.randint(1, 22)))).encode()


def test_the_digits_kept_are_the_floats_repr():
    matched = 0
    for text in texts(3, 100_000):
        query = b"lon=%s&lat=%s&crs=wgs84" % (text, text)
        digits = degrees_query(query)
        if digits is None:
            continue
        matched += 1
        value = float(text)
        assert digits == (repr(value).encode(),) * 2, text
        # the same point as the general reading of the query
        assert plain_point(query) == (value, value, "wgs84")
    assert matched > 20_000


@pytest.mark.parametrize("text, kept", [
    (b"120.386927", b"120.386927"), (b"120.386920", b"120.38692"), (b"31.000000", b"31.0"),
    (b"0.0", b"0.0"), (b"-0.0", b"-0.0"), (b"0.0001", b"0.0001"), (b"0.00010", b"0.0001"),
    (b"-180.000", b"-180.0"), (b"123.456789012345", b"123.456789012345"),
])
def test_repr_digits(text, kept):
    assert degrees_query(b"lon=%s&lat=%s" % (text, text)) == (kept, kept)


@pytest.mark.parametrize("query", [
    b"lon=0.00001&lat=31.5",  # repr writes 1e-05
    b"lon=123.4567890123456&lat=31.5",  # 16 significant digits: repr may write others
    b"lon=0120.5&lat=31.5", b"lon=120&lat=31.5", b"lon=1e2&lat=31.5", b"lon=120.5&lat=31.5&crs=gcj02",
    b"lon=120.5&lat=31.5&crs=WGS84", b"lat=31.5&lon=120.5", b"lon=120.5&lat=31.5&unmasked=true",
    b"lon=120.5&lat=31.5&", b"lon=+120.5&lat=31.5", b"lon=120.5000000000000000000000&lat=31.5",
])
def test_other_queries_take_the_general_paths(query):
    assert degrees_query(query) is None


@pytest.mark.parametrize("n", [0, 1, 40, 255, 256, 1000, 65_535])
def test_gzip_prefix_joins_ends_of_any_length(n):
    import gzip

    prefix = b'{"covered":true,"grid":{"code":"320214052037004"},"point":{"lon":' * 9
    end = bytes(random.Random(n).randrange(256) for _ in range(n))
    assert gzip.decompress(GzipPrefix(prefix).join(end)) == prefix + end
    with pytest.raises(ValueError):
        GzipPrefix(prefix).join(b"x" * 65_536)
