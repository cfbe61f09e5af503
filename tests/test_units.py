from __future__ import annotations

import pytest

from janitor.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("14d", 14 * 86400),
        ("2w", 14 * 86400),
        ("0s", 0),
        ("1.5h", 5400),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "14", "3y", "-1d", "d", "1 day"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("200MB", 200_000_000),
        ("1kB", 1000),
        ("1KiB", 1024),
        ("2GiB", 2 * 1024**3),
        ("50mb", 50_000_000),
        ("10", 10),
        (10, 10),
        ("1.5GB", 1_500_000_000),
        ("0B", 0),
    ],
)
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text", ["", "MB", "10XB", "-5MB", -1, True, "1.5", "0.5B"]
)
def test_bad_sizes(text):
    with pytest.raises(ValueError, match="bad size|cannot be negative"):
        parse_size(text)
