"""Real DNS servers on 127.0.0.1 for tests (dnslib): one whose zone each test edits, and one
that never answers."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from dnslib import CNAME, QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


@dataclass(frozen=True, slots=True)
class Hold:
    """A name whose answers wait: `reached` is set when it is asked, the answer goes out once
    `release` is set (or after 10 seconds, so a failing test never hangs the server)."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class Zone(BaseResolver):
    """TXT records by name, changed by tests while the server runs; it also keeps the names
    it was asked, so a test can tell whether anything touched the network."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._txt: dict[str, list[list[str]]] = {}
        self._failing: set[str] = set()
        self._aliases: dict[str, str] = {}
        self._held: dict[str, Hold] = {}
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

    def alias(self, name: str, target: str) -> None:
        """A CNAME at `name`; answers carry the whole chain, as a recursive resolver's do."""
        with self._lock:
            self._aliases[_key(name)] = _key(target)

    def hold(self, name: str) -> Hold:
        """Keep answers for `name` waiting until the test releases them."""
        with self._lock:
            return self._held.setdefault(_key(name), Hold())

    def clear(self) -> None:
        with self._lock:
            self._txt.clear()
            self._failing.clear()
            self._aliases.clear()
            for held in self._held.values():
                held.release.set()
            self._held.clear()
            self.asked.clear()

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        name = _key(str(request.q.qname))
        with self._lock:
            self.asked.append(name)
            held = self._held.get(name)
        if held is not None:
            held.reached.set()
            held.release.wait(10)
        with self._lock:
            if any(name == bad or name.endswith("." + bad) for bad in self._failing):
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            chain: list[tuple[str, str]] = []
            current = name
            while current in self._aliases and current not in {step for step, _ in chain}:
                chain.append((current, self._aliases[current]))
                current = self._aliases[current]
            records = [list(strings) for strings in self._txt.get(current, [])]
        if not chain and not records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for alias, target in chain:
            reply.add_answer(RR(alias, QTYPE.CNAME, rdata=CNAME(target), ttl=60))
        if request.q.qtype == QTYPE.TXT:
            for strings in records:
                reply.add_answer(RR(current, QTYPE.TXT, rdata=TXT(strings), ttl=60))
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
