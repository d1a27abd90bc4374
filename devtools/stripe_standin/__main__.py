"""Run the Stripe stand-in: `python -m devtools.stripe_standin --port 8420 [fault flags]`.

Every fault switch (see faults.py) is a flag, e.g. `--rate-limit 100 --drop-rate 0.01`.
`--webhook-secret` / `--connect-webhook-secret` make the signing secrets of webhook endpoints
registered through `/v1/webhook_endpoints` predictable, so a development setup can put them in
its environment before the endpoints exist (real Stripe makes them random: copy them from the
dashboard).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# The stand-in's fees round with core.money.round_minor (the project's one rounding rule), and
# core.money reads Django's settings: started on its own (docker-compose, a terminal) it uses
# the project's settings module.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from .faults import Faults  # noqa: E402
from .server import serve  # noqa: E402
from .state import Standin  # noqa: E402


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.stripe_standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("STANDIN_PORT", 8420)))
    parser.add_argument(
        "--public-url",
        default="",
        help="where browsers reach this server (default http://localhost:PORT)",
    )
    parser.add_argument("--webhook-secret", default=os.environ.get("STANDIN_WEBHOOK_SECRET", ""))
    parser.add_argument(
        "--connect-webhook-secret", default=os.environ.get("STANDIN_CONNECT_WEBHOOK_SECRET", "")
    )
    parser.add_argument(
        "--webhook-retry-base",
        type=float,
        default=None,
        help="seconds before the first redelivery of a failed webhook (doubles each time)",
    )
    parser.add_argument(
        "--available-after",
        type=float,
        default=0,
        help="seconds until a charge's funds become available for transfers (default 0)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed the fault switches' dice")
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="keep the store in this file across restarts (written every few seconds and at "
        "shutdown); without it everything is forgotten when the process ends",
    )
    for name in Faults.names():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=f"fault_{name}", default=None)
    return parser


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    public_url = args.public_url or f"http://localhost:{args.port}"
    standin = Standin(public_url=public_url, seed=args.seed)
    standin.settings["available_after_s"] = args.available_after
    if args.webhook_secret:
        standin.settings["webhook_secret"] = args.webhook_secret
    if args.connect_webhook_secret:
        standin.settings["connect_webhook_secret"] = args.connect_webhook_secret
    if args.webhook_retry_base is not None:
        standin.settings["webhook_retry_base_s"] = args.webhook_retry_base
    standin.faults_update(
        {
            name: getattr(args, f"fault_{name}")
            for name in Faults.names()
            if getattr(args, f"fault_{name}") is not None
        }
    )
    if args.state_file and standin.load(args.state_file):
        counts = {kind: len(table) for kind, table in standin.objects.items() if table}
        print(f"Stripe stand-in: loaded {args.state_file} {counts}", flush=True)
    print(f"Stripe stand-in listening on {public_url} (API base for the stripe SDK)", flush=True)
    serve(standin, host=args.host, port=args.port, state_file=args.state_file)


if __name__ == "__main__":
    main()
