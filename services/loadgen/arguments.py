"""The options of `lienthong load` (kept light: the CLI builds every parser at start-up)."""

from __future__ import annotations

import argparse

from services.loadgen.mix import Mix


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=float, default=5.0, help="dossiers filed a second (Poisson arrivals)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of filing; then the lives finish")
    p.add_argument("--seed", type=int, default=1, help="the same seed files the same dossiers")
    p.add_argument("--intake", default="http://127.0.0.1:8001")
    p.add_argument("--routing", default="http://127.0.0.1:8002")
    p.add_argument("--keys-file", default="var/dev-keys.json", help="dev-admin and dev-portal keys (make run)")
    p.add_argument("--admin-key", default="", help="desk and unit actions (admin scope); overrides --keys-file")
    p.add_argument("--portal-key", default="", help="online filings (portal scope); overrides --keys-file")
    p.add_argument("--online", type=float, default=Mix.online, help="share filed online")
    p.add_argument("--postal", type=float, default=Mix.postal, help="share filed by post")
    p.add_argument("--interconnected", type=float, default=Mix.interconnected)
    p.add_argument("--supplement", type=float, default=Mix.supplement, help="share asked for a supplement")
    p.add_argument("--refused", type=float, default=Mix.refused)
    p.add_argument("--withdrawn", type=float, default=Mix.withdrawn)
    p.add_argument("--think", default="1,6", help="a person's pause between actions: LOW,HIGH seconds")
    p.add_argument("--drain", type=float, default=900.0, help="seconds to let lives finish after filing stops")
    p.add_argument("--out", default="", help="write the report here (default var/load/<run>.json)")
    p.add_argument("--catalog-dir", default="", help="the catalogue the services use (default: the sample)")
