"""`lienthong load`: drive the public APIs like a province for a while, with a live rate on the terminal, then
report what every dossier became (and write it as JSON, for the chaos checks)."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from services.loadgen.client import Api, Endpoints, Stats
from services.loadgen.life import Life, Outcome
from services.loadgen.mix import DossierPlan, Fate, Mix, Offer, arrivals, plan_dossier
from services.loadgen.province import offers as catalogue_offers
from shared.catalog import default_catalog_dir, load_catalog


@dataclass
class LoadConfig:
    endpoints: Endpoints
    rate: float = 5.0
    duration_s: float = 60.0
    seed: int = 1
    mix: Mix = field(default_factory=Mix)
    drain_s: float = 900.0
    max_in_flight: int = 20_000
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])


@dataclass
class Report:
    run_id: str
    seed: int
    rate: float
    duration_s: float
    filed: int
    finished: int
    failed: int
    unfinished: int
    elapsed_s: float
    filing_ms: dict[str, float]
    retries: int
    requests: dict[str, int]
    by_fate: dict[str, dict[str, int]]
    errors: list[str]
    dossiers: list[dict[str, Any]]

    @property
    def all_ok(self) -> bool:
        return self.failed == 0 and self.unfinished == 0


class Progress:
    """One status line: rewritten in place on a terminal, printed every few seconds otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, every_s: float | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s if every_s is not None else (0.5 if self.tty else 5.0)

    def show(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_load(config: LoadConfig, offers: list[Offer], progress: Progress | None = None) -> Report:
    stats = Stats()
    api = Api(config.endpoints, stats)
    schedule = arrivals(config.seed, config.rate, config.duration_s)
    lives: dict[int, asyncio.Task[Outcome]] = {}
    beings: dict[int, Life] = {}
    gate = asyncio.Semaphore(config.max_in_flight)
    started = time.monotonic()

    async def live(life: Life) -> Outcome:
        async with gate:
            return await life.run()

    async def report_progress() -> None:
        while progress is not None:
            await asyncio.sleep(progress.every_s)
            progress.show(_line(time.monotonic() - started, config, lives, stats))

    ticker = asyncio.create_task(report_progress())
    try:
        for index, at in enumerate(schedule):
            delay = started + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            beings[index] = Life(api, plan_dossier(config.seed, index, config.mix, offers), config.run_id)
            lives[index] = asyncio.create_task(live(beings[index]))
        if lives:
            await asyncio.wait(lives.values(), timeout=config.drain_s)
    finally:
        ticker.cancel()
        for task in lives.values():
            task.cancel()
        await asyncio.gather(*lives.values(), return_exceptions=True)
        await api.close()
        if progress is not None:
            progress.show(_line(time.monotonic() - started, config, lives, stats))
            progress.done()
    outcomes = [_outcome(lives[i], beings[i]) for i in sorted(lives)]
    plans = {i: life.plan for i, life in beings.items()}
    return _report(config, outcomes, plans, stats, time.monotonic() - started)


def _line(elapsed: float, config: LoadConfig, lives: dict[int, asyncio.Task[Outcome]], stats: Stats) -> str:
    done = [t.result() for t in lives.values() if t.done() and not t.cancelled()]
    failed = sum(1 for o in done if o.error)
    filing_s = min(elapsed, config.duration_s)
    rate = len(lives) / filing_s if filing_s else 0.0
    return (
        f"  {elapsed:6.1f}/{config.duration_s:.0f}s  filed {len(lives):>6} ({rate:5.1f}/s)"
        f"  in flight {len(lives) - len(done):>5}  finished {len(done) - failed:>6}  failed {failed:>3}"
        f"  retries {stats.retries:>4}  filing p99 {percentile(stats.filing_ms[-2000:], 0.99):6.1f} ms"
    )


def _outcome(task: asyncio.Task[Outcome], life: Life) -> Outcome:
    if task.cancelled():
        # Keep what the life got to (its code, the last status read): the checks afterwards need the code.
        outcome = life.outcome
        outcome.error = f"unfinished: still in progress when the run ended (last seen {outcome.status or 'unfiled'})"
        return outcome
    return task.result()


def _report(
    config: LoadConfig, outcomes: list[Outcome], plans: dict[int, DossierPlan], stats: Stats, elapsed: float
) -> Report:
    by_fate: dict[str, dict[str, int]] = {f.value: {"expected": 0, "reached": 0} for f in Fate}
    for o in outcomes:
        by_fate[o.fate.value]["expected"] += 1
        by_fate[o.fate.value]["reached"] += o.ok
    unfinished = sum(1 for o in outcomes if o.error and o.error.startswith("unfinished"))
    failed = sum(1 for o in outcomes if not o.ok) - unfinished
    return Report(
        run_id=config.run_id,
        seed=config.seed,
        rate=config.rate,
        duration_s=config.duration_s,
        filed=sum(1 for o in outcomes if o.code),
        finished=sum(1 for o in outcomes if o.ok),
        failed=failed,
        unfinished=unfinished,
        elapsed_s=round(elapsed, 1),
        filing_ms={
            "p50": round(percentile(stats.filing_ms, 0.5), 1),
            "p95": round(percentile(stats.filing_ms, 0.95), 1),
            "p99": round(percentile(stats.filing_ms, 0.99), 1),
            "mean": round(statistics.fmean(stats.filing_ms), 1) if stats.filing_ms else 0.0,
        },
        retries=stats.retries,
        requests=dict(stats.requests),
        by_fate=by_fate,
        errors=stats.errors + [f"{o.code or o.index}: {o.error}" for o in outcomes if o.error][:50],
        dossiers=[
            {
                "index": o.index,
                "code": o.code,
                "fate": o.fate.value,
                "procedure": plans[o.index].offer.procedure_code,
                "unit": plans[o.index].offer.unit_code,
                "channel": plans[o.index].channel,
                "result_delivery": plans[o.index].result_delivery,
                "status": o.status,
                "ok": o.ok,
                "steps": o.steps,
                "events": o.events,
                "error": o.error,
            }
            for o in outcomes
        ],
    )


def summary(report: Report) -> str:
    lines = [
        f"run {report.run_id} (seed {report.seed}): {report.filed} dossiers filed at {report.rate:g}/s for "
        f"{report.duration_s:g}s, {report.elapsed_s:g}s in all",
        f"  filing latency ms: p50 {report.filing_ms['p50']}  p95 {report.filing_ms['p95']}  "
        f"p99 {report.filing_ms['p99']}; {report.retries} retried requests",
    ]
    for fate, counts in report.by_fate.items():
        lines.append(f"  {fate:<10} expected {counts['expected']:>6}  reached {counts['reached']:>6}")
    lines.append(f"  failed {report.failed}, unfinished {report.unfinished}")
    lines += [f"  ! {e}" for e in report.errors[:10]]
    return "\n".join(lines)


# ---- command line -------------------------------------------------------------------------------------


def config_from(args: argparse.Namespace) -> LoadConfig:
    keys: dict[str, str] = {}
    if not (args.admin_key and args.portal_key):
        path = Path(args.keys_file)
        if not path.exists():
            raise SystemExit(f"{path} not found: start the platform (make run) or give --admin-key and --portal-key")
        keys = {str(k["name"]): str(k["key"]) for k in json.loads(path.read_text(encoding="utf-8"))}
    low, _, high = args.think.partition(",")
    mix = Mix(
        online=args.online,
        postal=args.postal,
        interconnected=args.interconnected,
        supplement=args.supplement,
        refused=args.refused,
        withdrawn=args.withdrawn,
        think_s=(float(low), float(high or low)),
    )
    endpoints = Endpoints(
        intake=args.intake.rstrip("/"),
        routing=args.routing.rstrip("/"),
        admin_key=args.admin_key or keys["dev-admin"],
        portal_key=args.portal_key or keys["dev-portal"],
    )
    return LoadConfig(endpoints, rate=args.rate, duration_s=args.duration, seed=args.seed, mix=mix, drain_s=args.drain)


def command(args: argparse.Namespace) -> int:
    config = config_from(args)
    catalog = load_catalog(Path(args.catalog_dir) if args.catalog_dir else default_catalog_dir())
    offers = catalogue_offers(catalog)
    print(
        f"lienthong load: {config.rate:g} dossiers/s for {config.duration_s:g}s, seed {config.seed}, "
        f"{len(offers)} procedure offers, run {config.run_id}",
        file=sys.stderr,
    )
    report = asyncio.run(run_load(config, offers, Progress()))
    out = Path(args.out or f"var/load/{report.run_id}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(asdict(report), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(summary(report))
    print(f"report: {out}")
    return 0 if report.all_ok else 1
