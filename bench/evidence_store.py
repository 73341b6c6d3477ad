"""Evidence through two dispatchers: a box's images uploaded through dispatcher A and read back
through dispatcher B's signed links, with the embedded folder store (each dispatcher its own:
B cannot serve A's images) and with one S3 bucket (a SeaweedFS the bench starts).

    python bench/evidence_store.py [--images 300] [--size 960x540] [--uploaders 4]

Prints, per store: upload rate (images/s) and latency percentiles through A, read rate and
latency through B, and how many of the images B could serve. Both dispatchers run in this
process on one PostgreSQL database (GRIDPATROL_TEST_PG), as uvicorn threads.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psycopg
from harness import ADMIN, percentiles
from PIL import Image

from gridpatrol.broker import LocalBroker
from gridpatrol.demo import DispatcherThread
from tests.builders import SeaweedS3, dispatcher_config


def images(count: int, size: tuple[int, int]) -> list[bytes]:
    """Camera-like JPEGs (noise over a gradient: they compress as real snapshots do, ~100 kB)."""
    rng = np.random.default_rng(7)
    base = np.linspace(40, 200, size[0], dtype=np.float32)[None, :, None].repeat(size[1], 0).repeat(3, 2)
    out = []
    for _ in range(count):
        pixels = np.clip(base + rng.normal(0, 18, base.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=80)
        out.append(buffer.getvalue())
    return out


def run(store: str, data: list[bytes], uploaders: int, work: Path, broker: LocalBroker, database: str,
        s3: SeaweedS3 | None) -> None:
    extra = {"evidence_s3": s3.store_config(f"bench-{uuid.uuid4().hex[:8]}")} if s3 else {}
    threads = [DispatcherThread(dispatcher_config(work / f"{store}-{name}", broker.url, database_url=database,
                                                  data_dir=work / f"{store}-{name}" / "data",
                                                  ingest={"client_id": f"bench-{store}-{name}"}, **extra))
               for name in ("a", "b")]
    for thread in threads:
        thread.start()
    a, b = threads
    try:
        token = a.services.auth.issue_machine("bench box", "edge").token
        box = httpx.Client(base_url=a.url, headers={"authorization": f"Bearer {token}"}, timeout=30)
        digests = [hashlib.sha256(image).hexdigest() for image in data]

        def put(i: int) -> float:
            began = time.perf_counter()
            answer = box.put(f"/api/v1/evidence/{digests[i]}.jpg", content=data[i],
                             headers={"content-type": "image/jpeg"})
            assert answer.status_code in (200, 201), answer.text
            return time.perf_counter() - began

        began = time.perf_counter()
        with ThreadPoolExecutor(uploaders) as pool:
            put_times = list(pool.map(put, range(len(data))))
        put_s = time.perf_counter() - began
        reader = httpx.Client(timeout=30)

        def get(i: int) -> tuple[float, bool]:
            began = time.perf_counter()
            answer = reader.get(b.services.links.image(digests[i]))
            return time.perf_counter() - began, answer.status_code == 200 and answer.content == data[i]

        began = time.perf_counter()
        with ThreadPoolExecutor(uploaders) as pool:
            got = list(pool.map(get, range(len(data))))
        get_s = time.perf_counter() - began
        served = sum(ok for _, ok in got)
        mb = sum(map(len, data)) / 1e6
        print(f"{store:>6}: upload via A {len(data) / put_s:6.1f} images/s ({mb / put_s:5.1f} MB/s), "
              f"{percentiles(put_times)}; read via B {len(data) / get_s:6.1f} images/s, "
              f"{percentiles([t for t, _ in got])}; B served {served}/{len(data)}", flush=True)
    finally:
        for thread in threads:
            thread.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--uploaders", type=int, default=4, help="concurrent uploads (boxes)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    data = images(args.images, size)  # type: ignore[arg-type]
    print(f"{args.images} images of {args.size}, {sum(map(len, data)) / len(data) / 1e3:.0f} kB each on average, "
          f"{args.uploaders} at a time", flush=True)
    name = f"gridpatrol_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    with tempfile.TemporaryDirectory(prefix="gridpatrol-bench-") as tmp, LocalBroker() as broker:
        work = Path(tmp)
        try:
            run("folder", data, args.uploaders, work, broker, database, None)
            s3 = SeaweedS3(work / "seaweedfs").start()
            try:
                run("s3", data, args.uploaders, work, broker, database, s3)
            finally:
                s3.stop()
        finally:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
