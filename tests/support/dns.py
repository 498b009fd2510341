"""Real DNS servers on 127.0.0.1 for tests (dnslib): one whose zone each test edits, and one
that never answers."""

from __future__ import annotations

import socket
import threading

from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


class Zone(BaseResolver):
    """TXT records by name, changed by tests while the server runs; it also keeps the names
    it was asked, so a test can tell whether anything touched the network."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._txt: dict[str, list[list[str]]] = {}
        self._failing: set[str] = set()
        self.asked: list[str] = []

    def publish(self, name: str, *strings: str) -> None:
        """Add a TXT record at `name`; several strings make one multi-string record."""
        with self._lock:
            self._txt.setdefault(_key(name), []).append(list(strings))

    def remove(self, name: str) -> None:
        with self._lock:
            self._txt.pop(_key(name), None)

    def fail(self, domain: str) -> None:
        """Answer SERVFAIL for `domain` and every name under it."""
        with self._lock:
            self._failing.add(_key(domain))

    def clear(self) -> None:
        with self._lock:
            self._txt.clear()
            self._failing.clear()
            self.asked.clear()

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = _key(str(request.q.qname))
        with self._lock:
            self.asked.append(name)
            if any(name == bad or name.endswith("." + bad) for bad in self._failing):
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            records = [list(strings) for strings in self._txt.get(name, [])]
        if not records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for strings in records:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(strings), ttl=60))
        return reply


class LoopbackDNS:
    """The zone served over UDP and TCP on one loopback port."""

    def __init__(self) -> None:
        self.zone = Zone()
        logger = DNSLogger(logf=lambda _message: None)
        self._udp = DNSServer(self.zone, address="127.0.0.1", port=0, logger=logger)
        self.port = int(self._udp.server.server_address[1])
        self._tcp = DNSServer(
            self.zone, address="127.0.0.1", port=self.port, tcp=True, logger=logger
        )

    def start(self) -> LoopbackDNS:
        self._udp.start_thread()
        self._tcp.start_thread()
        return self

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            server.stop()
            server.server.server_close()


class SilentDNS:
    """A UDP port on loopback that takes queries and never answers (a DNS timeout)."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])

    def close(self) -> None:
        self._socket.close()


def _key(name: str) -> str:
    return name.rstrip(".").lower()
