"""Evidence in object storage: two dispatchers (one PostgreSQL) keep evidence in one real S3
bucket (SeaweedFS); an image uploaded through one is served through the other's signed link;
a store that goes away is a 503 naming nothing of it, and the box's upload waits for it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
from builders import SeaweedS3, api_client, dispatcher_config, jpeg_bytes, upload_jpeg

from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread


def test_two_dispatchers_serve_the_same_images_from_one_bucket(tmp_path: Path, mosquitto: LocalBroker,
                                                              seaweedfs: SeaweedS3, pg_database: str) -> None:
    threads = [DispatcherThread(dispatcher_config(tmp_path / name, mosquitto.url, database_url=pg_database,
                                                  data_dir=tmp_path / name / "data",
                                                  evidence_s3=seaweedfs.store_config(),
                                                  ingest={"client_id": f"dispatcher-{name}"}))
               for name in ("a", "b")]
    for thread in threads:
        thread.start()
    a, b = threads
    try:
        box = api_client(a, person=None, machine="edge")
        image = jpeg_bytes(320, 240, 120)
        digest = upload_jpeg(box, image)
        stored = seaweedfs.client().list_objects_v2(Bucket="evidence")["Contents"]
        assert [o["Key"] for o in stored] == [f"evidence/{digest[:2]}/{digest}.jpg"]
        assert not list((tmp_path / "a").rglob("*.jpg"))  # nothing of it on the dispatcher's disk
        link = b.services.links.image(digest)
        served = httpx.get(link)
        assert served.status_code == 200 and served.content == image
        assert served.headers["content-type"] == "image/jpeg"
        assert httpx.get(b.services.links.image("f" * 64)).status_code == 404

        seaweedfs.stop()  # the store goes away
        down = httpx.get(link, timeout=30)
        assert down.status_code == 503 and down.json()["detail"] == "取证存储暂不可用：请稍后重试"
        assert seaweedfs.url not in down.text  # where it is stays in the log
        refused = box.put(f"/api/v1/evidence/{'0' * 64}.jpg", content=image, headers={"content-type": "image/jpeg"})
        assert refused.status_code in (422, 503)  # wrong name for this image: refused before the store is asked
        again = jpeg_bytes(320, 240, 60)
        name = hashlib.sha256(again).hexdigest()
        put = box.put(f"/api/v1/evidence/{name}.jpg", content=again, headers={"content-type": "image/jpeg"},
                      timeout=30)
        assert put.status_code == 503  # the box keeps it owed and tries again (tests/test_evidence_later.py)
    finally:
        for thread in threads:
            thread.stop()
