"""Media in an S3-compatible bucket, so several web hosts and workers share one store.

moto's server mode on loopback stands in for the object store (a real HTTP S3 API, reached
through boto3 as a city's MinIO or AWS bucket would be); the file arrives the real way (a
signed WhatsApp notification, the media job downloads it from the Meta stand-in), is served
from the bucket, and is deleted from it by retention's removal of unreferenced files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from gateway.attachments.store import S3Media, media_backend, remove_unreferenced, store, stored_type

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "lapor-media"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def settings(settings: Any, s3_endpoint: str) -> Any:
    env = {
        **settings.env,
        "LAPOR_MEDIA_BACKEND": "s3",
        "LAPOR_MEDIA_S3_BUCKET": BUCKET,
        "LAPOR_MEDIA_S3_ENDPOINT_URL": s3_endpoint,
        "LAPOR_MEDIA_S3_REGION": "ap-southeast-3",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="ap-southeast-3",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-3"}
        )
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    return replace(settings, env=env)


def _keys(settings: Any) -> list[str]:
    backend = media_backend(settings)
    assert isinstance(backend, S3Media)
    return [item["Key"] for item in backend.client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_a_citizens_photo_is_kept_in_the_bucket_and_served_from_it(
    client: Any, runtime: Any, providers: Any, drain: Any, settings: Any
) -> None:
    from tests.gateway.test_media import JPEG, _photo, attach_ticket

    message_id, name = _photo(client, runtime, providers, drain)
    assert _keys(settings) == [f"media/{name}"]
    assert not (settings.media_dir / name).exists()  # nothing on this host's disk
    attach_ticket(runtime, message_id, status="dispatched", privacy="public")
    answer = client.get(f"/media/{name}")
    assert answer.status_code == 200 and answer.data == JPEG
    assert answer.mimetype == "image/jpeg" and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/media/" + "0" * 32 + ".jpg").status_code == 404


def test_the_bucket_backend_stores_once_sniffs_and_removes_only_unreferenced_files(
    runtime: Any, settings: Any
) -> None:
    backend = media_backend(settings)
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    name, kind = store(backend, html)
    assert store(backend, html)[0] == name and _keys(settings) == [f"media/{name}"]
    assert stored_type(backend, name) == kind and not kind.inline
    with runtime.db.session() as session:
        assert remove_unreferenced(session, backend, [name, "../../etc/passwd"]) == 1
    assert _keys(settings) == [] and backend.get(name) is None


def test_an_unknown_backend_is_refused(settings: Any) -> None:
    with pytest.raises(ValueError, match="LAPOR_MEDIA_BACKEND"):
        media_backend(replace(settings, env={**settings.env, "LAPOR_MEDIA_BACKEND": "ftp"}))
