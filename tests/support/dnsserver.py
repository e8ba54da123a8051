"""A small authoritative DNS server for tests and for trying DNS validation by hand.

    python -m tests.support.dnsserver --port 5353 --records var/dns-records.txt \\
        [--txt _dnsauth.shop.example.com=<token>] [--a shop.example.com=127.0.0.1]

then run the API with CERTS_DNS_NAMESERVERS=127.0.0.1:5353. The records file holds one
record a line, `NAME TYPE VALUE` (TYPE is TXT, A or AAAA), and is read again whenever it
changes, so a record can be added while the server runs:

    echo "_dnsauth.shop.example.com TXT <token>" >> var/dns-records.txt

Names it does not know get NXDOMAIN; a name with records of another type, an empty answer.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from dnslib import QTYPE, RCODE, RR, A, AAAA, TXT
from dnslib.server import BaseResolver, DNSServer


class ChallengeResolver(BaseResolver):
    def __init__(self, records_file: str | None = None) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.delay: dict[str, float] = {}  # name -> seconds to stall (timeout tests)
        self.lock = threading.Lock()
        self.records_file = records_file
        self._file_records: dict[tuple[str, str], list[str]] = {}
        self._file_mtime: float | None = None

    def _reload(self) -> None:
        if not self.records_file:
            return
        try:
            mtime = os.stat(self.records_file).st_mtime
        except OSError:
            self._file_records, self._file_mtime = {}, None
            return
        if mtime == self._file_mtime:
            return
        records: dict[tuple[str, str], list[str]] = {}
        with open(self.records_file) as fh:
            for line in fh:
                parts = line.split(None, 2)
                if len(parts) == 3 and not line.startswith("#"):
                    name, rtype, value = parts
                    records.setdefault((self._key(name), rtype.upper()), []).append(value.strip())
        self._file_records, self._file_mtime = records, mtime

    @staticmethod
    def _key(name: str) -> str:
        return name.lower().rstrip(".")

    def set(self, name: str, rtype: str, values: list[str]) -> None:
        with self.lock:
            self.records[(self._key(name), rtype)] = list(values)

    def clear(self, name: str) -> None:
        with self.lock:
            for key in [k for k in self.records if k[0] == self._key(name)]:
                del self.records[key]

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname)
        name = self._key(qname)
        rtype = QTYPE[request.q.qtype]
        if name in self.delay:
            time.sleep(self.delay[name])
        with self.lock:
            self._reload()
            merged = {**self._file_records, **self.records}
            known = any(k[0] == name for k in merged)
            values = list(merged.get((name, rtype), []))
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for value in values:
            rdata = {"TXT": TXT, "A": A, "AAAA": AAAA}[rtype](value)
            reply.add_answer(RR(qname, QTYPE.reverse[rtype], rdata=rdata, ttl=1))
        return reply


class ChallengeDNS:
    def __init__(self, port: int, address: str = "127.0.0.1", records_file: str | None = None) -> None:
        self.resolver = ChallengeResolver(records_file)
        self.port = port
        self.server = DNSServer(self.resolver, port=port, address=address)

    def start(self) -> ChallengeDNS:
        self.server.start_thread()
        return self

    def stop(self) -> None:
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5353)
    parser.add_argument("--records", metavar="FILE", help="records file, re-read when it changes")
    parser.add_argument("--txt", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--a", action="append", default=[], metavar="NAME=IPV4")
    args = parser.parse_args()
    dns = ChallengeDNS(args.port, records_file=args.records)
    for kind, entries in (("TXT", args.txt), ("A", args.a)):
        for entry in entries:
            name, _, value = entry.partition("=")
            dns.resolver.set(name, kind, dns.resolver.records.get((name, kind), []) + [value])
    dns.start()
    print(
        f"DNS on 127.0.0.1:{args.port} (udp), records from {args.records or 'the command line'}; Ctrl-C to stop",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        dns.stop()


if __name__ == "__main__":
    main()
