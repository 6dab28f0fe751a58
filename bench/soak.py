"""The soak: `lienthong load` for half an hour at half the rate this machine sustains for it (the pipeline's
sustained rate, scaled to whole lives) on the embedded stack, to show that memory and latency stay flat.

Starts what bench/pipeline_bench.py starts (the embedded broker, the sandbox SMTP server and gateways, the four
services on SQLite), with LIENTHONG_ROUND_THE_CLOCK=true so units act at any hour and the sandbox post
delivering by itself. Runs the load generator in this process and, every ``--every`` seconds, samples from the
outside (bench/soak_probe.py): each service's resident memory, intake's p50 and p99 of POST /v1/dossiers in
that window (its own histogram) and, for the dossiers whose citizen was first told of the acceptance in that
window, the p50 and p99 from acceptance to that message sent. A status line shows it live.

At the end it prints the load's summary (every dossier against its plan), a terminal chart of each series,
and the figures, which it writes to var/bench/soak.json: each service's memory growth in MB an hour (least
squares over the second half of the filing time) and the drift of each p99 (last window against the first
after warm-up); the floors and why are in bench/soak_trend.py. The chart goes to var/bench/soak-<time>.png,
the samples to var/bench/soak-<time>.csv, the load's report to var/load/<run>.json. Exits 1 if a dossier did
not end as planned or a judged figure missed its floor.

    make soak                                               # 30 minutes
    LIENTHONG_SOAK_SECONDS=120 make soak                    # a short pass (figures reported, memory unjudged)
    .venv/bin/python -m bench.soak --seconds 600 --rate 3 --every 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench.figures import BENCH_DIR, figure, save_figures, shown
from bench.pipeline_bench import SERVICES, stack_cpu
from bench.soak_probe import Probe
from bench.soak_report import charts, draw_png, figures_of, write_csv
from bench.soak_trend import Sample, assess
from services.devstack import DevStack, StackConfig, free_port
from services.loadgen.client import Endpoints
from services.loadgen.mix import Mix
from services.loadgen.province import offers as catalogue_offers
from services.loadgen.run import LoadConfig, Progress, Report, run_load, summary
from shared.catalog import default_catalog_dir, load_catalog

PIPELINE = BENCH_DIR / "pipeline.json"
FALLBACK_RATE = 1.0
LIFE_TO_FILING = 4.0
"""How much more CPU a dossier of `lienthong load` takes (its whole life: the desk's acceptance, every step
accepted and completed, supplements, payments, the return, every message) than the pipeline bench's dossier
(its filing and first message). Measured on 3 December 2026: about 830 ms against 210 (the soak's
soak_cpu_ms_per_dossier_* figures against pipeline.json's cpu_ms_per_dossier); at half the pipeline's rate
the soak's load kept both cores busy and its latency climbed."""


def default_rate(pipeline: Path = PIPELINE) -> tuple[float, str]:
    """Half the rate this machine sustains for the soak's load: half the sustained rate make bench measured,
    over ``LIFE_TO_FILING``; else 1 dossier a second; and where it came from."""
    try:
        found = json.loads(pipeline.read_text(encoding="utf-8"))
        sustained = float(next(f["value"] for f in found if f["name"] == "pipeline_dossiers_per_s_sqlite"))
    except (OSError, ValueError, StopIteration, KeyError, TypeError):
        return FALLBACK_RATE, f"no pipeline figure in {shown(pipeline)}: {FALLBACK_RATE:g}/s"
    if sustained <= 0:
        return FALLBACK_RATE, f"{shown(pipeline)} has no sustained rate (nothing met its p99): {FALLBACK_RATE:g}/s"
    rate = round(sustained / 2 / LIFE_TO_FILING, 2)
    return rate, f"half the sustained {sustained:g}/s of {shown(pipeline)}, over {LIFE_TO_FILING:g} for whole lives"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=float(env.get("LIENTHONG_SOAK_SECONDS", "1800")))
    p.add_argument("--rate", type=float, default=None, help="dossiers a second (default: half the pipeline's)")
    p.add_argument("--every", type=float, default=None, help="seconds between samples (default: 10, or less)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--drain", type=float, default=600.0, help="seconds to let lives finish after filing stops")
    p.add_argument("--think", default="1,6", help="a person's pause between actions: LOW,HIGH seconds")
    p.add_argument("--out-dir", type=Path, default=BENCH_DIR, help="figures, chart and samples (load: ../load)")
    p.add_argument("--keep", action="store_true", help="keep the stack's directory (logs, databases)")
    args = p.parse_args(argv)
    if args.rate is not None:
        args.rate_source = "--rate"
    elif env.get("LIENTHONG_SOAK_RATE"):
        args.rate, args.rate_source = float(env["LIENTHONG_SOAK_RATE"]), "LIENTHONG_SOAK_RATE"
    else:
        args.rate, args.rate_source = default_rate()
    if args.every is None:
        args.every = min(10.0, max(1.0, args.seconds / 20))
    return args


def stack_config(var_dir: Path) -> StackConfig:
    return StackConfig(
        var_dir=var_dir,
        ports={name: free_port() for name in SERVICES},
        broker_port=free_port(),
        smtp_port=free_port(),
        gateway_port=free_port(),
        postal_auto_advance_s=1.0,
        extra_env={
            "LIENTHONG_ROUND_THE_CLOCK": "true",
            "LIENTHONG_RATE_LIMIT_PER_S": "0",
            "LIENTHONG_LOG_LEVEL": "WARNING",
            "LIENTHONG_NOTIFY_QUIET_HOURS_START": "00:00",
            "LIENTHONG_NOTIFY_QUIET_HOURS_END": "00:00",
        },
    )


# ---- the run ------------------------------------------------------------------------------------------


def cpu_now(stack: DevStack) -> dict[str, float]:
    """CPU seconds so far of each process of the stack and of the load generator (this process)."""
    return {**stack_cpu(stack), "load generator": time.process_time()}


def cpu_figures(used: dict[str, float], wall_s: float, dossiers: int) -> list[dict[str, object]]:
    """CPU ms per dossier filed, each process, and the cores busy on average: what a dossier's whole life costs
    under this load, and how close to its ceiling the machine ran."""
    per = max(1, dossiers)
    found = [
        figure(f"soak_cpu_ms_per_dossier_{name.replace(' ', '_')}", 1000 * cpu / per, "ms", None, None)
        for name, cpu in used.items()
    ]
    busy = sum(used.values()) / wall_s if wall_s > 0 else 0.0
    found.append(figure("soak_cores_busy", busy, "cores", None, None, cores=os.cpu_count()))
    return found


async def soak(stack: DevStack, config: LoadConfig, every: float, progress: Progress) -> tuple[Report, list[Sample]]:
    """Run the load to its end, sampling the stack every ``every`` seconds meanwhile."""
    offers = catalogue_offers(load_catalog(default_catalog_dir()))
    probe = Probe(stack)
    samples: list[Sample] = []
    started = time.monotonic()
    load = asyncio.create_task(run_load(config, offers))
    try:
        slot = 1
        while not load.done():
            await asyncio.wait({load}, timeout=max(0.0, started + slot * every - time.monotonic()))
            if load.done():
                break
            elapsed = time.monotonic() - started
            samples.append(await probe.sample(elapsed))
            progress.show(status(samples[-1], config.duration_s))
            slot = int((time.monotonic() - started) // every) + 1
        progress.done()
        return await load, samples
    finally:
        load.cancel()
        await probe.close()


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def status(s: Sample, seconds: float) -> str:
    clock = f"{s.t:6.0f}/{seconds:.0f}s" if s.t <= seconds else f"{s.t:6.0f}s draining"
    rate = s.filed / min(s.t, seconds) if s.t else 0.0
    rss = " ".join(f"{name} {s.rss_mb[name]:.0f}" for name in SERVICES)
    return (
        f"  {clock}  filed {s.filed:>6} ({rate:4.1f}/s)  RSS MB {rss}  "
        f"p99 filing {_ms(s.filing_p99_ms)} ms, notified {_ms(s.notified_p99_ms)} ms"
    )


# ---- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir: Path = args.out_dir.resolve()
    print(
        f"soak: {args.rate:g} dossiers/s ({args.rate_source}) for {args.seconds:g} s, "
        f"a sample every {args.every:g} s, seed {args.seed}",
        file=sys.stderr,
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="lienthong-soak-"))
    stack = DevStack(stack_config(tmp))
    try:
        stack.start()
        endpoints = Endpoints(
            intake=stack.config.url("intake"),
            routing=stack.config.url("routing"),
            admin_key=stack.admin_key,
            portal_key=stack.key("dev-portal"),
        )
        low, _, high = args.think.partition(",")
        mix = Mix(think_s=(float(low), float(high or low)))
        config = LoadConfig(
            endpoints, rate=args.rate, duration_s=args.seconds, seed=args.seed, mix=mix, drain_s=args.drain
        )
        print(f"stack up in {tmp}; load run {config.run_id}", file=sys.stderr, flush=True)
        cpu_before, started = cpu_now(stack), time.monotonic()
        report, samples = asyncio.run(soak(stack, config, args.every, Progress()))
        cpu_used = {name: cpu - cpu_before.get(name, 0.0) for name, cpu in cpu_now(stack).items()}
        wall_s = time.monotonic() - started
    finally:
        stack.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    load_report = out_dir.parent / "load" / f"{report.run_id}.json"
    load_report.parent.mkdir(parents=True, exist_ok=True)
    load_report.write_text(json.dumps(asdict(report), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    png, samples_csv = out_dir / f"soak-{stamp}.png", out_dir / f"soak-{stamp}.csv"
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(samples_csv, samples)
    title = f"lienthong soak: {args.rate:g} dossiers/s for {args.seconds:g} s on the embedded stack ({stamp})"
    draw_png(png, samples, args.seconds, title)
    print(summary(report))
    print("all dossiers ended as planned" if report.all_ok else "NOT every dossier ended as planned")
    print(charts(samples))
    paths = {"chart": str(png), "samples_csv": str(samples_csv), "load_report": str(load_report)}
    figures = figures_of(
        samples, report, args.seconds, args.every, rate=args.rate, rate_source=args.rate_source, **paths
    )
    figures += cpu_figures(cpu_used, wall_s, report.filed)
    save_figures(figures, out_dir / "soak.json", f"; chart {png.name}, samples {samples_csv.name}")
    found = assess(samples, SERVICES, args.seconds, args.every).verdict
    label = {True: "flat", False: "NOT flat", None: "not judged"}[found.flat]
    print(f"verdict: {label}" + "".join(f"\n  {r}" for r in found.reasons))
    return 0 if report.all_ok and found.flat is not False else 1


if __name__ == "__main__":
    raise SystemExit(main())
