"""``lienthong import``'s client side: reading lines, batching, the progress bar and the summary.

The service is a hand-written fake behind HTTPX's transport seam; the end-to-end test uses the real one.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from services.intake.import_client import (
    ENDPOINT,
    ImportAborted,
    Line,
    Progress,
    Sender,
    local_reject,
    read_lines,
    rejects_path,
    run_import,
)


class FakeIntake:
    """Imports every dossier except those whose external id starts with BAD; answers 413 over ``max_bytes``."""

    def __init__(self, max_bytes: int = 1_000_000, statuses: list[int] | None = None) -> None:
        self.max_bytes = max_bytes
        self.statuses = statuses or []
        self.batches: list[list[str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == ENDPOINT
        if self.statuses:
            status = self.statuses.pop(0)
            return httpx.Response(status, headers={"Retry-After": "0"}, json={"title": "no", "detail": "go away"})
        if len(request.content) > self.max_bytes:
            return httpx.Response(413, json={"title": "Payload too large"})
        items = json.loads(request.content)["dossiers"]
        self.batches.append([i["external_id"] for i in items])
        results = [
            {"index": n, "external_id": i["external_id"], "outcome": "imported", "code": f"C-{i['external_id']}"}
            if not i["external_id"].startswith("BAD")
            else {
                "index": n,
                "external_id": i["external_id"],
                "outcome": "rejected",
                "errors": [{"source": "body", "field": "procedure_code", "reason": "unknown"}],
            }
            for n, i in enumerate(items)
        ]
        return httpx.Response(200, json={"results": results, "counts": {}})


def fake_client(fake: FakeIntake) -> httpx.Client:
    return httpx.Client(base_url="http://intake.test", transport=httpx.MockTransport(fake))


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "legacy.ndjson"
    path.write_bytes(b"\n".join(line.encode("utf-8", errors="surrogateescape") for line in lines) + b"\n")
    return path


def test_lines_that_are_not_json_objects_are_rejected_locally(tmp_path: Path) -> None:
    path = tmp_path / "f.ndjson"
    path.write_bytes(b'\xef\xbb\xbf{"external_id": "A"}\n\n  \n[1]\nNaN\n{"a": NaN}\n\xff\xfe\n{"external_id": 5}\n')
    read = [(line.number, line.external_id, local_reject(value)) for line, value, _ in read_lines(path)]
    not_json = [{"source": "line", "field": "(line)", "reason": "not JSON (or not UTF-8)"}]
    assert read == [
        (1, "A", None),
        (4, None, [{"source": "line", "field": "(line)", "reason": "not a JSON object"}]),
        (5, None, not_json),
        (6, None, not_json),
        (7, None, not_json),
        (8, None, None),
    ]


def test_rejects_go_next_to_the_file() -> None:
    assert rejects_path(Path("/d/legacy.ndjson")) == Path("/d/legacy.rejects.ndjson")
    assert rejects_path(Path("/d/legacy.jsonl")) == Path("/d/legacy.jsonl.rejects.ndjson")


def test_batches_map_results_back_to_line_numbers(tmp_path: Path) -> None:
    lines = [json.dumps({"external_id": e}) for e in ("A", "BAD-1", "B", "C", "D")]
    path = write(tmp_path, [lines[0], "garbage", *lines[1:]])
    fake, out, err = FakeIntake(), io.StringIO(), io.StringIO()
    assert run_import(path, fake_client(fake), 2, out, err) == 1
    assert fake.batches == [["A", "BAD-1"], ["B", "C"], ["D"]]
    assert out.getvalue().splitlines() == [
        "imported: 4",
        "already imported: 0",
        "rejected: 2",
        "  line 2: (line): not JSON (or not UTF-8)",
        "  line 3 (BAD-1): procedure_code: unknown",
        f"rejected lines written to {tmp_path / 'legacy.rejects.ndjson'}",
    ]
    rejects = [json.loads(x) for x in (tmp_path / "legacy.rejects.ndjson").read_text().splitlines()]
    assert [(r["line"], r["input"]) for r in rejects] == [(2, "garbage"), (3, lines[1])]


def test_a_clean_run_exits_0_and_removes_stale_rejects(tmp_path: Path) -> None:
    path = write(tmp_path, [json.dumps({"external_id": "A"})])
    stale = tmp_path / "legacy.rejects.ndjson"
    stale.write_text("old\n")
    assert run_import(path, fake_client(FakeIntake()), 200, io.StringIO(), io.StringIO()) == 0
    assert not stale.exists()


def test_a_413_splits_the_batch_and_a_single_oversized_line_is_rejected(tmp_path: Path) -> None:
    small = [json.dumps({"external_id": f"S{n}"}) for n in range(4)]
    big = json.dumps({"external_id": "BIG", "note": "x" * 500})
    fake, out = FakeIntake(max_bytes=200), io.StringIO()
    assert run_import(write(tmp_path, [*small, big]), fake_client(fake), 10, out, io.StringIO()) == 1
    assert sorted(e for batch in fake.batches for e in batch) == ["S0", "S1", "S2", "S3"]
    assert "  line 5 (BIG): (line): larger than the service accepts in one request" in out.getvalue()


def test_429_is_waited_out_and_5xx_retried_then_given_up() -> None:
    slept: list[float] = []
    fake = FakeIntake(statuses=[429, 503])
    sender = Sender(fake_client(fake), sleep=slept.append)
    assert sender.post([Line(1, '{"external_id": "A"}')]) is not None
    assert slept == [0.0, 1]
    failing = Sender(fake_client(FakeIntake(statuses=[500] * 10)), sleep=slept.append)
    with pytest.raises(ImportAborted, match="answered 500: go away"):
        failing.post([Line(1, '{"external_id": "A"}')])


def test_a_refused_key_stops_the_import_with_exit_code_2(tmp_path: Path) -> None:
    path = write(tmp_path, [json.dumps({"external_id": "A"})])
    err = io.StringIO()
    assert run_import(path, fake_client(FakeIntake(statuses=[403])), 200, io.StringIO(), err) == 2
    assert "answered 403: go away" in err.getvalue()
    assert "run the same command again" in err.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_on_a_terminal_and_prints_lines_otherwise() -> None:
    tty = Terminal()
    progress = Progress(tty, total_bytes=1000)
    progress.started -= 10
    progress.update(50, 250)
    assert tty.getvalue().startswith("\rimport: 50 dossiers, 5.0/s, 25% of the file, ETA 00:00:30")

    log = io.StringIO()
    lines = Progress(log, total_bytes=1000, every=100)
    for count in (40, 99, 100, 150, 230):
        lines.update(count, count)
    lines.finish(230)
    printed = log.getvalue().splitlines()
    assert [p.split(",")[0] for p in printed[:2]] == ["import: 100 dossiers", "import: 230 dossiers"]
    assert printed[2].startswith("import: 230 dossiers in ")
