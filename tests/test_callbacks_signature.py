"""The callback signature and envelope: the worked example (and its key-sorted negative), both
nonce spellings, any change of a signed field rejected, and the envelope's strict shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.callbacks.envelope import Malformed, parse_envelope, parse_event_time
from exporter.callbacks.signature import compute_signature, verify

SECRET = "my-callback-secret"
EVENT_DATA = (
    '{"AppId":"661e0000543cf","BusinessId":"","RoomId":"room1","TaskId":"task1",'
    '"Code":0,"ErrorMessage":""}'
)
VECTOR = {
    "EventType": "RecordStarted",
    "EventData": EVENT_DATA,
    "EventTime": "2024-01-01T00:00:00Z",
    "EventId": "evt-0001",
    "AppId": "661e0000543cf",
    "Version": "2020-12-01",
    "Nonce": "1234",
}
# the team's worked example (computed offline with hashlib, inputs invented)
EXPECTED = "aceb7c96ad7bf31e098221fefb31de161da7b5ae1f70bf6c455170c895e47c9c"
# what sorting by key names instead of values would give: must never verify
KEY_SORTED = "c45e3c69c4d2cc139cebed95e4fd2d5919aa4a94333178698a59887ac030b65e"
SIGNED = ("EventType", "EventData", "EventTime", "EventId", "AppId", "Version")


def sign(doc: dict[str, Any], secret: str = SECRET, nonce_key: str = "Nonce") -> dict[str, Any]:
    values = [doc[k] for k in SIGNED] + [doc[nonce_key]]
    return {**doc, "Signature": compute_signature(values, secret)}


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_worked_example() -> None:
    values = [VECTOR[k] for k in (*SIGNED, "Nonce")]
    assert compute_signature(values, SECRET) == EXPECTED
    env = parse_envelope(body({**VECTOR, "Signature": EXPECTED}))
    assert verify(env, [SECRET])
    assert verify(parse_envelope(body({**VECTOR, "Signature": EXPECTED.upper()})), [SECRET])


def test_key_sorted_signature_is_rejected() -> None:
    env = parse_envelope(body({**VECTOR, "Signature": KEY_SORTED}))
    assert not verify(env, [SECRET])


def test_wrong_secret_and_no_secret_are_rejected() -> None:
    env = parse_envelope(body({**VECTOR, "Signature": EXPECTED}))
    assert not verify(env, ["another-secret"])
    assert not verify(env, [])
    assert verify(env, ["old-secret", SECRET])  # rotation: either verifies


def test_nonce_spelling_noce() -> None:
    doc = {k: v for k, v in VECTOR.items() if k != "Nonce"} | {"Noce": "1234"}
    env = parse_envelope(body({**doc, "Signature": EXPECTED}))
    assert env.nonces == ("1234",)
    assert verify(env, [SECRET])


@pytest.mark.parametrize("signed_with", ["Nonce", "Noce"])
def test_both_nonce_spellings_differing_either_may_be_signed(signed_with: str) -> None:
    doc = {**VECTOR, "Nonce": "1111", "Noce": "2222"}
    env = parse_envelope(body(sign(doc, nonce_key=signed_with)))
    assert env.nonces == ("1111", "2222")
    assert verify(env, [SECRET])
    forged = sign({**doc, "Nonce": "3333", "Noce": "4444"})
    assert not verify(parse_envelope(body({**doc, "Signature": forged["Signature"]})), [SECRET])


def test_empty_nonce_falls_back_to_noce() -> None:
    doc = {**VECTOR, "Nonce": "", "Noce": "1234"}
    env = parse_envelope(body({**doc, "Signature": EXPECTED}))
    assert env.nonces == ("1234",) and verify(env, [SECRET])


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from([*SIGNED, "Nonce"]),
    text=st.text(min_size=0, max_size=40),
)
def test_any_change_of_a_signed_field_is_rejected(field: str, text: str) -> None:
    signed = sign(dict(VECTOR))
    changed = dict(signed)
    if field == "EventData":
        changed[field] = json.dumps({"x": text})  # still a JSON object, so it parses
    elif field == "EventTime":
        changed[field] = "2024-01-01T00:00:01Z" if text == "" else "2024-01-01T00:00:00.5Z"
    else:
        changed[field] = VECTOR[field] + text + "~"
    assert changed[field] != signed[field]
    assert not verify(parse_envelope(body(changed)), [SECRET])


@settings(max_examples=50, deadline=None)
@given(secret=st.text(min_size=1, max_size=30), extra=st.text(min_size=1, max_size=10))
def test_any_other_secret_is_rejected(secret: str, extra: str) -> None:
    signed = sign(dict(VECTOR), secret=secret)
    env = parse_envelope(body(signed))
    assert verify(env, [secret])
    assert not verify(env, [secret + extra])


# -- envelope shape ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (
            body({k: v for k, v in VECTOR.items() if k != "EventId"} | {"Signature": "x"}),
            "EventId is missing",
        ),
        (body({**VECTOR, "Signature": "x", "AppId": 12}), "AppId is not a string"),
        (body({**VECTOR}), "Signature is missing"),
        (
            body({k: v for k, v in VECTOR.items() if k != "Nonce"} | {"Signature": "x"}),
            "Nonce (or Noce) is missing",
        ),
        (body({**VECTOR, "Signature": "x", "Noce": 5}), "Noce is not a string"),
        (body({**VECTOR, "Signature": "x", "EventData": {"a": 1}}), "EventData is not a string"),
        (
            body({**VECTOR, "Signature": "x", "EventData": "{oops"}),
            "EventData is not a JSON string",
        ),
        (body({**VECTOR, "Signature": "x", "EventData": "[1]"}), "EventData is not a JSON object"),
        (body({**VECTOR, "Signature": "x", "EventTime": "yesterday"}), "EventTime"),
        (b"[" * 100000, "not JSON"),
    ],
)
def test_malformed_bodies(raw: bytes, why: str) -> None:
    with pytest.raises(Malformed, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_envelope(raw)


def test_extra_fields_are_ignored() -> None:
    env = parse_envelope(body({**VECTOR, "Signature": EXPECTED, "BusinessId": "b"}))
    assert verify(env, [SECRET])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", 1704067200.0),
        ("2024-01-01T00:00:00.000000000Z", 1704067200.0),
        ("2024-01-01T00:00:00.5Z", 1704067200.5),
        ("2024-01-01T00:00:00.123456789Z", 1704067200.123456789),
        ("2024-01-01t00:00:00z", 1704067200.0),
        ("2024-01-01 08:00:00+08:00", 1704067200.0),
        ("2023-12-31T19:30:00-04:30", 1704067200.0),
        ("2016-12-31T23:59:60Z", 1483228800.0),  # a leap second
    ],
)
def test_event_time_rfc3339(text: str, expected: float) -> None:
    assert parse_event_time(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01T00:00:00",  # no offset: never guessed
        "2024-01-01T00:00:00.1234567890Z",  # ten fractional digits
        "2024-02-30T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00+24:00",
        "1704067200",
        "",
    ],
)
def test_event_time_refused(text: str) -> None:
    with pytest.raises(Malformed):
        parse_event_time(text)
