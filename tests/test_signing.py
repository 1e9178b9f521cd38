"""Signing: the documented known-answer vectors, the vendor's own signer, and our server check."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import OrderedDict
from urllib.parse import urlsplit

import httpx
import pytest

from exporter.signing import VolcAuth, canonical_query, sign
from exporter.simulator.auth import AuthFailure, verify

VAK, VSK = "AKLTexampleAK", "exampleSecretKey=="
HOST = "rtc.volcengineapi.com"
BODY1 = (
    b'{"AppId":"661e****543cf","StartTime":"2024-01-01T00:00:00+08:00",'
    b'"EndTime":"2024-01-01T00:01:00+08:00","Indicator":["online_user_count"]}'
)
Q2 = [
    ("Action", "ListCallDetail"),
    ("Version", "2023-11-01"),
    ("AppId", "661e****543cf"),
    ("StartTime", "2024-01-01T12:00:00+08:00"),
    ("EndTime", "2024-01-01T12:59:00+08:00"),
    ("RoomId", "Room1"),
    ("UserId", "user1,user2"),
]


def _sig(auth: str) -> str:
    return auth.rsplit("Signature=", 1)[1]


def test_vector_1_post() -> None:
    h = sign(
        method="POST",
        host=HOST,
        path="/",
        query=[("Action", "ListRealTimeOperationData"), ("Version", "2023-11-01")],
        body=BODY1,
        access_key_id=VAK,
        secret_access_key=VSK,
        region="cn-north-1",
        service="rtc",
        now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        content_type="application/json",
    )
    assert h["X-Date"] == "20240101T000000Z"
    assert h["X-Content-Sha256"] == (
        "49baf0a79d0185dd0a32b9f4cc2c641eea726e022ac8b3478a2b0d3a40a0ff8c"
    )
    assert "SignedHeaders=content-type;host;x-content-sha256;x-date," in h["Authorization"]
    assert _sig(h["Authorization"]) == (
        "daa0186ac05e7a95d8a5d825e2f5b64f759130323a1d0c947f65dfae2e7fd5b1"
    )


def test_vector_2_get() -> None:
    h = sign(
        method="GET",
        host=HOST,
        path="/",
        query=Q2,
        body=b"",
        access_key_id=VAK,
        secret_access_key=VSK,
        region="cn-north-1",
        service="rtc",
        now=dt.datetime(2024, 1, 1, 4, tzinfo=dt.UTC),
    )
    assert "SignedHeaders=host;x-content-sha256;x-date," in h["Authorization"]
    assert _sig(h["Authorization"]) == (
        "78ed6595a9c3d28769d37e72bac7434c502b6a1f7e70aa22ba047851afe5144b"
    )


def test_canonical_query_matches_documented_form() -> None:
    assert canonical_query(Q2) == (
        "Action=ListCallDetail&AppId=661e%2A%2A%2A%2A543cf&EndTime=2024-01-01T12%3A59%3A00%2B08"
        "%3A00&RoomId=Room1&StartTime=2024-01-01T12%3A00%3A00%2B08%3A00&UserId=user1%2Cuser2"
        "&Version=2023-11-01"
    )


def _vendor_sign(
    method: str,
    query: list[tuple[str, str]],
    body: str,
    content_type: str | None,
    when: dt.datetime,
) -> str:
    vendor = pytest.importorskip("volcengine.auth.SignerV4")
    from volcengine.auth.SignParam import SignParam
    from volcengine.Credentials import Credentials

    p = SignParam()
    p.set_method(method)
    p.set_host(HOST)
    p.set_path("/")
    p.set_query(OrderedDict(query))
    headers = OrderedDict([("Host", HOST)])
    if content_type:
        headers["Content-Type"] = content_type
    p.set_header_list(headers)
    p.set_body(body)
    p.set_date(when.replace(tzinfo=None))
    result = vendor.SignerV4.sign_only(p, Credentials(VAK, VSK, "rtc", "cn-north-1"))
    return str(result.authorization)


def _random_value(rng: random.Random) -> str:
    alphabet = "abcXYZ019 +:,*-_.~/=&?%#中文"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))


@pytest.mark.parametrize("seed", range(25))
def test_matches_vendor_signer_on_generated_requests(seed: int) -> None:
    rng = random.Random(seed)
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=rng.randint(0, 10**8))
    if seed % 2:
        query = [("Action", "ListCallDetail"), ("Version", "2023-11-01")]
        query += [(f"K{i}", _random_value(rng)) for i in range(rng.randint(1, 5))]
        body, ctype, method = "", None, "GET"
    else:
        query = [("Action", "ListQuality"), ("Version", "2023-11-01")]
        doc = {"AppId": _random_value(rng), "Indicator": [_random_value(rng)], "名字": "音频"}
        body = json.dumps(doc, ensure_ascii=seed % 4 == 0, separators=(",", ":"))
        ctype, method = "application/json", "POST"
    ours = sign(
        method=method,
        host=HOST,
        path="/",
        query=query,
        body=body.encode(),
        access_key_id=VAK,
        secret_access_key=VSK,
        region="cn-north-1",
        service="rtc",
        now=when,
        content_type=ctype,
    )
    assert ours["Authorization"] == _vendor_sign(method, query, body, ctype, when)


def _captured_request(auth: VolcAuth, method: str, url: str, **kw: object) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.request(method, url, **kw)  # type: ignore[arg-type]
    return seen[0]


def test_httpx_auth_produces_vector_1() -> None:
    auth = VolcAuth(
        lambda: (VAK, VSK, None),
        region="cn-north-1",
        clock=lambda: dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    req = _captured_request(
        auth,
        "POST",
        f"https://{HOST}/?Action=ListRealTimeOperationData&Version=2023-11-01",
        content=BODY1,
        headers={"Content-Type": "application/json"},
    )
    assert _sig(req.headers["Authorization"]).startswith("daa0186ac05e7a95")
    assert "VSK" not in repr(auth) and VSK not in repr(auth)


def _verify(req: httpx.Request, now: dt.datetime, secret: str = VSK) -> str:
    parts = urlsplit(str(req.url))
    return verify(
        method=req.method,
        path=parts.path,
        raw_query=parts.query,
        headers=dict(req.headers),
        body=req.content,
        secrets={VAK: secret},
        region="cn-north-1",
        service="rtc",
        now=now,
    )


def test_server_check_accepts_vendor_signed_and_rejects_tampered() -> None:
    when = dt.datetime(2024, 1, 1, 4, tzinfo=dt.UTC)
    authz = _vendor_sign("GET", Q2, "", None, when)
    headers = {
        "Host": HOST,
        "X-Date": "20240101T040000Z",
        "X-Content-Sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Authorization": authz,
    }
    query = canonical_query(Q2)
    kw = {"method": "GET", "path": "/", "body": b"", "secrets": {VAK: VSK}}
    kw |= {"region": "cn-north-1", "service": "rtc", "now": when}
    assert verify(raw_query=query, headers=headers, **kw) == VAK  # type: ignore[arg-type]
    with pytest.raises(AuthFailure) as e:
        verify(raw_query=query.replace("Room1", "Room2"), headers=headers, **kw)  # type: ignore[arg-type]
    assert e.value.code == "SignatureDoesNotMatch" and e.value.status == 401


def test_server_check_failures() -> None:
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    auth = VolcAuth(lambda: (VAK, VSK, None), region="cn-north-1", clock=lambda: now)
    url = f"https://{HOST}/?Action=ListApps&Version=2023-11-01"
    req = _captured_request(
        auth, "POST", url, content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert _verify(req, now) == VAK
    with pytest.raises(AuthFailure) as e:
        _verify(req, now, secret="wrong")
    assert e.value.code == "SignatureDoesNotMatch"
    with pytest.raises(AuthFailure) as e:
        _verify(req, now + dt.timedelta(minutes=16))
    assert e.value.code == "InvalidTimestamp"
    assert _verify(req, now + dt.timedelta(minutes=14)) == VAK
    bad_key = VolcAuth(lambda: ("AKLTother", VSK, None), region="cn-north-1", clock=lambda: now)
    with pytest.raises(AuthFailure) as e:
        _verify(_captured_request(bad_key, "POST", url, content=b"{}"), now)
    assert e.value.code == "InvalidAccessKey" and e.value.status == 401
    tampered = httpx.Request("POST", url, content=b'{"x":1}', headers=dict(req.headers))
    with pytest.raises(AuthFailure):
        _verify(tampered, now)
