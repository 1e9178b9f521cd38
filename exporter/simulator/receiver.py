"""A tiny Alertmanager webhook receiver that logs every notification, one line per alert.

    python -m exporter.simulator.receiver --port 9095

Used by the Compose stack as the stand-in pager and chat; paths name the receiver (/pager, /chat).
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            doc = json.loads(body)
            for alert in doc.get("alerts", []):
                labels = alert.get("labels", {})
                summary = alert.get("annotations", {}).get("summary", "")
                line = (
                    f"{self.path.strip('/') or 'webhook'} {alert.get('status', '?').upper()} "
                    f"{labels.get('alertname', '?')} severity={labels.get('severity', '')} "
                    f"app_id={labels.get('app_id', '')} media={labels.get('media', '')}: {summary}"
                )
                print(line, flush=True)
            self.send_response(200)
        except (ValueError, AttributeError):
            self.send_response(400)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m exporter.simulator.receiver")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=9095)
    args = p.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), _Handler)
    print(f"webhook receiver listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
