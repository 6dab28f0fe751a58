"""``lienthong import FILE.ndjson``: stream a file of legacy dossiers to ``POST /v1/dossiers:import`` in batches.

The format is described in ``services.intake.legacy``. A line that is not a JSON object is rejected here,
with its line number, and never sent. Progress goes to stderr; the summary (imported, already imported,
rejected with each line's reasons) to stdout; rejected lines to ``FILE.rejects.ndjson`` as
``{"line", "external_id", "errors", "input"}`` (``input`` is the line as it was, to fix and import again).
Running the same file again is safe: dossiers already imported are skipped by their ``external_id``.
Exit code: 0 nothing rejected, 1 some lines rejected, 2 usage or connection errors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

ENDPOINT = "/v1/dossiers:import"
MAX_REQUEST_BYTES = 900_000  # under the services' default 1 MiB body limit; a 413 still splits a batch
ATTEMPTS = 4


class ImportAborted(Exception):
    """The import cannot go on (bad key, service unreachable…): exit code 2."""


@dataclass
class Line:
    number: int
    text: str
    external_id: str | None = None


@dataclass
class Summary:
    imported: int = 0
    already_imported: int = 0
    rejected: list[tuple[Line, list[dict[str, str]]]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.imported + self.already_imported + len(self.rejected)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_lines(path: Path) -> Iterator[tuple[Line, Any, int]]:
    """(line, its JSON object or None if it is not one, bytes read so far); blank lines are skipped."""
    offset = 0
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            offset += len(raw)
            text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff").strip()
            if not text:
                continue
            line = Line(number, text)
            try:
                value = json.loads(raw.decode("utf-8").removeprefix("\ufeff"), parse_constant=_no_constants)
            except (UnicodeDecodeError, ValueError):
                value = None
            if isinstance(value, dict) and isinstance(value.get("external_id"), str):
                line.external_id = value["external_id"]
            yield line, value, offset


def local_reject(value: Any) -> list[dict[str, str]] | None:
    """Why a line is not even sent: not JSON, or JSON but not an object."""
    if isinstance(value, dict):
        return None
    reason = "not a JSON object" if value is not None else "not JSON (or not UTF-8)"
    return [{"source": "line", "field": "(line)", "reason": reason}]


class Progress:
    """Count, rate and ETA on stderr: redrawn in place on a terminal, a line every ``every`` items otherwise."""

    def __init__(self, stream: TextIO, total_bytes: int, every: int = 1000) -> None:
        self.stream, self.total, self.every = stream, max(total_bytes, 1), every
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_line = 0

    def text(self, count: int, done_bytes: int, now: float) -> str:
        elapsed = max(now - self.started, 1e-6)
        fraction = min(done_bytes / self.total, 1.0)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        eta_text = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta is not None else "?"
        return f"import: {count} dossiers, {count / elapsed:.1f}/s, {fraction:.0%} of the file, ETA {eta_text}"

    def update(self, count: int, done_bytes: int) -> None:
        if self.tty:
            self.stream.write("\r" + self.text(count, done_bytes, time.monotonic()).ljust(78))
            self.stream.flush()
        elif count // self.every > self.last_line // self.every:
            self.last_line = count
            print(self.text(count, done_bytes, time.monotonic()), file=self.stream, flush=True)

    def finish(self, count: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        end = f"import: {count} dossiers in {elapsed:.1f}s ({count / elapsed:.1f}/s)"
        print(("\r" + end.ljust(78)) if self.tty else end, file=self.stream, flush=True)


class Sender:
    """Posts batches, waiting out 429s and retrying connection errors and 5xx (safe: imports are idempotent)."""

    def __init__(self, client: httpx.Client, sleep: Any = time.sleep) -> None:
        self.client, self.sleep = client, sleep

    def post(self, lines: list[Line]) -> list[dict[str, Any]] | None:
        """The per-item results, or None when the server says the body is too large (413)."""
        body = ('{"dossiers":[' + ",".join(line.text for line in lines) + "]}").encode()
        failures = 0
        while True:
            try:
                response = self.client.post(ENDPOINT, content=body, headers={"Content-Type": "application/json"})
            except httpx.HTTPError as exc:
                failures += 1
                if failures >= ATTEMPTS:
                    raise ImportAborted(f"cannot reach {self.client.base_url}: {exc}") from exc
                self.sleep(2 ** (failures - 1))
                continue
            if response.status_code == 200:
                results: list[dict[str, Any]] = response.json()["results"]
                return results
            if response.status_code == 413:
                return None
            if response.status_code == 429:
                self.sleep(min(float(response.headers.get("Retry-After", "1")), 60))
                continue
            if response.status_code >= 500 and (failures := failures + 1) < ATTEMPTS:
                self.sleep(2 ** (failures - 1))
                continue
            raise ImportAborted(f"{response.request.url} answered {response.status_code}: {_detail(response)}")


def _detail(response: httpx.Response) -> str:
    try:
        problem = response.json()
        return str(problem.get("detail") or problem.get("title") or problem)
    except ValueError:
        return response.text[:200]


def rejects_path(path: Path) -> Path:
    return path.with_suffix(".rejects.ndjson") if path.suffix == ".ndjson" else Path(f"{path}.rejects.ndjson")


class Importer:
    def __init__(self, sender: Sender, rejects: Path) -> None:
        self.sender, self.rejects_file = sender, rejects
        self.summary = Summary()
        self._rejects_out: TextIO | None = None

    def reject(self, line: Line, errors: list[dict[str, str]]) -> None:
        self.summary.rejected.append((line, errors))
        if self._rejects_out is None:
            self._rejects_out = self.rejects_file.open("w", encoding="utf-8")
        entry = {"line": line.number, "external_id": line.external_id, "errors": errors, "input": line.text}
        self._rejects_out.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def send(self, lines: list[Line]) -> None:
        results = self.sender.post(lines)
        if results is None:
            if len(lines) == 1:
                reason = "larger than the service accepts in one request"
                self.reject(lines[0], [{"source": "line", "field": "(line)", "reason": reason}])
                return
            half = len(lines) // 2
            self.send(lines[:half])
            self.send(lines[half:])
            return
        for result in results:
            line = lines[result["index"]]
            if result["outcome"] == "imported":
                self.summary.imported += 1
            elif result["outcome"] == "already_imported":
                self.summary.already_imported += 1
            else:
                self.reject(line, result.get("errors") or [])

    def close(self) -> None:
        if self._rejects_out is not None:
            self._rejects_out.close()
        elif self.rejects_file.exists():
            self.rejects_file.unlink()  # from an earlier run: nothing is rejected now


def run_import(path: Path, client: httpx.Client, batch: int, out: TextIO, err: TextIO, every: int = 1000) -> int:
    importer = Importer(Sender(client), rejects_path(path))
    progress = Progress(err, path.stat().st_size, every)
    pending: list[Line] = []
    pending_bytes = 0
    aborted: ImportAborted | None = None
    try:
        for line, value, offset in read_lines(path):
            if (errors := local_reject(value)) is not None:
                importer.reject(line, errors)
                continue
            size = len(line.text.encode()) + 1
            if pending and (len(pending) >= batch or pending_bytes + size > MAX_REQUEST_BYTES):
                importer.send(pending)
                pending, pending_bytes = [], 0
                progress.update(importer.summary.done, offset)
            pending.append(line)
            pending_bytes += size
        if pending:
            importer.send(pending)
            progress.update(importer.summary.done, progress.total)
    except ImportAborted as exc:
        aborted = exc
    except KeyboardInterrupt:
        aborted = ImportAborted("interrupted")
    finally:
        importer.close()
    progress.finish(importer.summary.done)
    print_summary(importer.summary, importer.rejects_file, out)
    if aborted is not None:
        print(f"lienthong import: {aborted}", file=err)
        print("lienthong import: stopped; run the same command again: imported dossiers are skipped", file=err)
        return 2
    return 1 if importer.summary.rejected else 0


def print_summary(summary: Summary, rejects: Path, out: TextIO) -> None:
    print(f"imported: {summary.imported}", file=out)
    print(f"already imported: {summary.already_imported}", file=out)
    print(f"rejected: {len(summary.rejected)}", file=out)
    for line, errors in summary.rejected:
        label = f"line {line.number}" + (f" ({line.external_id})" if line.external_id else "")
        reasons = "; ".join(f"{e.get('field', '')}: {e.get('reason', '')}" for e in errors) or "rejected"
        print(f"  {label}: {reasons}", file=out)
    if summary.rejected:
        print(f"rejected lines written to {rejects}", file=out)
