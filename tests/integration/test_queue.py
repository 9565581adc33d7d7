"""Async transport on the embedded store (conf/direct): containers push at A and pop at
B with curl (JSON, raw) and the Python gRPC client (PrivateTransferTransport, both
package spellings); peek, release (E0000000608), idempotent message ids, limits; fault
tests: kill -9 of the receiving gateway, the target down then up, a pop whose
connection is cut."""
import base64
import json
import os
import re
import signal
import socket
import time
import unittest

import grpc

from ptp_harness import (GATEWAY, Process, Topology, conf, curl, grpc_stubs, mint, ptp_headers,
                         wait_port, wait_until)

A = "http://127.0.0.1:17304/v1/interconn/chan/"
B = "http://127.0.0.1:17305/v1/interconn/chan/"


def container_headers(node, target, session, **extra):
    """What a container sends to its own gateway: no uri, no version, its node as source."""
    h = ptp_headers(node, target, session=session, uri=None, **extra)
    h.pop("x-ptp-version")
    return h


def push_json(base, node, target, session, topic, payload, http="1.1", timeout=None, **extra):
    h = container_headers(node, target, session, **extra)
    h["content-type"] = "application/json"
    req = {"topic": topic, "payload": base64.b64encode(payload).decode(),
           "metadata": {"message-code": "mc-1"}}
    if timeout is not None:
        req["timeout"] = timeout
    body = json.dumps(req).encode()
    return curl(base + "push", h, body, http=http)


def pop_json(base, node, session, topic, timeout="2s", http="1.1", op="pop"):
    h = container_headers(node, node, session)
    h["content-type"] = "application/json"
    r = curl(base + op, h, json.dumps({"topic": topic, "timeout": timeout}).encode(), http=http)
    return r


def payloads_popped(base, node, session, topic, n, timeout="3s"):
    out = []
    for _ in range(n):
        r = pop_json(base, node, session, topic, timeout)
        assert r.status == 200, r
        j = r.json()
        if "payload" not in j:
            break
        out.append(base64.b64decode(j["payload"]))
    return out


class QueueDirect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology()
        cls.a = cls.topo.gateway(conf("direct", "a.yaml"))
        cls.b = cls.topo.gateway(conf("direct", "b.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()

    def test_push_at_a_pop_at_b_in_order_json(self):
        msgs = [b"m-%d-" % i + bytes(range(256)) for i in range(5)]
        for i, m in enumerate(msgs):
            r = push_json(A, "A", "B", "s-order", "t1", m, http="1.1" if i % 2 else "h2c")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["code"], "E0000000000")
            self.assertTrue(r.headers.get("x-ptp-message-id"))
        got = payloads_popped(B, "B", "s-order", "t1", 5)
        self.assertEqual(got, msgs)
        # Empty now: pop waits for its timeout, then answers with no message.
        t0 = time.time()
        r = pop_json(B, "B", "s-order", "t1", timeout="300ms")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("payload", r.json())
        self.assertEqual(r.headers["x-ptp-queue-result"], "empty")
        self.assertGreaterEqual(time.time() - t0, 0.25)

    def test_popped_message_carries_the_header(self):
        push_json(A, "A", "B", "s-hdr", "t", b"x", trace="tr-q1",
                  **{"x-ptp-source-inst-id": "INST_A"})
        r = pop_json(B, "B", "s-hdr", "t")
        md = r.json()["metadata"]
        self.assertEqual(md["x-ptp-source-node-id"], "A")
        self.assertEqual(md["x-ptp-target-node-id"], "B")
        self.assertEqual(md["x-ptp-session-id"], "s-hdr")
        self.assertEqual(md["x-ptp-trace-id"], "tr-q1")
        self.assertEqual(md["x-ptp-source-inst-id"], "INST_A")
        self.assertEqual(md["message-code"], "mc-1")
        self.assertEqual(r.json()["topic"], "t")
        self.assertNotIn("x-ptp-token", md)

    def test_raw_body_with_topic_in_header_and_query(self):
        h = container_headers("A", "B", "s-raw", **{"x-ptp-topic": "raw-t"})
        h["content-type"] = "application/octet-stream"
        r = curl(A + "push", h, b"\x00raw\xff", http="h2c")
        self.assertEqual(r.status, 200, r)
        h = container_headers("B", "B", "s-raw")
        deadline = time.time() + 10
        r = curl(B + "pop?topic=raw-t&timeout=5", h, b"", http="1.1")
        self.assertLess(time.time(), deadline)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"\x00raw\xff")
        self.assertEqual(r.headers["x-ptp-queue-result"], "message")
        self.assertEqual(r.headers["x-ptp-source-node-id"], "A")

    def test_peek_does_not_remove(self):
        push_json(A, "A", "B", "s-peek", "t", b"first")
        r = pop_json(B, "B", "s-peek", "t", op="peek")
        for _ in range(50):  # the outbox delivers asynchronously
            if "payload" in r.json():
                break
            time.sleep(0.1)
            r = pop_json(B, "B", "s-peek", "t", op="peek")
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"first")
        r = pop_json(B, "B", "s-peek", "t", op="peek")
        self.assertEqual(base64.b64decode(r.json()["payload"]), b"first")
        self.assertEqual(payloads_popped(B, "B", "s-peek", "t", 1), [b"first"])

    def test_same_message_id_is_stored_once(self):
        for _ in range(3):
            r = push_json(A, "A", "B", "s-idem", "t", b"once", **{"x-ptp-message-id": "fixed-1"})
            self.assertEqual(r.status, 200, r)
        push_json(A, "A", "B", "s-idem", "t", b"after")
        self.assertEqual(payloads_popped(B, "B", "s-idem", "t", 3, timeout="1s"), [b"once", b"after"])

    def test_release_then_608(self):
        push_json(B, "B", "B", "s-rel", "t", b"gone")
        h = container_headers("B", "B", "s-rel")
        h["content-type"] = "application/json"
        r = curl(B + "release", h, b"{}")
        self.assertEqual(r.status, 200, r)
        r = pop_json(B, "B", "s-rel", "t", timeout="100ms")
        self.assertEqual(r.json()["code"], "E0000000608", r)
        r = push_json(B, "B", "B", "s-rel", "t", b"late")
        self.assertEqual(r.json()["code"], "E0000000608", r)

    def test_release_one_topic(self):
        push_json(B, "B", "B", "s-rel1", "keep", b"k")
        push_json(B, "B", "B", "s-rel1", "drop", b"d")
        h = container_headers("B", "B", "s-rel1")
        h["content-type"] = "application/json"
        r = curl(B + "release", h, json.dumps({"topic": "drop"}).encode())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(payloads_popped(B, "B", "s-rel1", "drop", 1, timeout="100ms"), [])
        self.assertEqual(payloads_popped(B, "B", "s-rel1", "keep", 1), [b"k"])

    def test_errors(self):
        # Unknown target: refused at once, nothing queued.
        r = push_json(A, "A", "NOPE", "s-err", "t", b"x")
        self.assertEqual(r.json()["code"], "E0000000618", r)
        # Bad token.
        h = container_headers("A", "B", "s-err", token="v1.1.deadbeef")
        h["content-type"] = "application/json"
        r = curl(A + "push", h, b'{"topic":"t","payload":""}')
        self.assertEqual(r.headers["x-ptp-code"], "E0000000403", r)
        # Malformed JSON, missing topic, bad timeout.
        h = container_headers("A", "B", "s-err")
        h["content-type"] = "application/json"
        self.assertEqual(curl(A + "push", h, b"{nope").headers["x-ptp-code"], "E0000000616")
        self.assertEqual(curl(A + "push", h, b'{"payload":""}').headers["x-ptp-code"], "E0000000400")
        self.assertEqual(curl(A + "pop", h, b'{"topic":"t","timeout":"x"}').headers["x-ptp-code"],
                         "E0000000400")
        # A container may not claim another node.
        h = container_headers("A", "B", "s-err")
        h["x-ptp-source-node-id"] = "B"
        h["x-ptp-token"] = mint("B", "B", "s-err")
        h["content-type"] = "application/json"
        self.assertEqual(curl(A + "push", h, b'{"topic":"t","payload":""}').headers["x-ptp-code"],
                         "E0000000403")
        # Still serving.
        self.assertEqual(push_json(A, "A", "B", "s-err", "t", b"ok").status, 200)

    def test_grpc_push_pop_both_packages(self):
        pb, pbg = grpc_stubs()
        with grpc.insecure_channel("127.0.0.1:17304") as ch_a, \
                grpc.insecure_channel("127.0.0.1:17305") as ch_b:
            push = pbg.PrivateTransferTransportStub(ch_a)
            md = list(container_headers("A", "B", "s-grpc").items())
            for i in range(3):
                out = push.push(pb.PushInbound(topic="g", payload=b"grpc-%d" % i,
                                               metadata={"message-code": "c"}), metadata=md)
                self.assertEqual(out.code, "E0000000000", out)
            pop = pbg.PrivateTransferTransportStub(ch_b)
            md_b = list(container_headers("B", "B", "s-grpc").items())
            out = pop.pop(pb.PopInbound(topic="g", timeout=5), metadata=md_b)
            self.assertEqual(out.payload, b"grpc-0")
            self.assertEqual(out.metadata["x-ptp-source-node-id"], "A")
            # The org.ppc.grpc_ptp spelling of the same method.
            alt = ch_b.unary_unary("/org.ppc.grpc_ptp.PrivateTransferTransport/pop",
                                   request_serializer=pb.PopInbound.SerializeToString,
                                   response_deserializer=pb.TransportOutbound.FromString)
            self.assertEqual(alt(pb.PopInbound(topic="g", timeout=5), metadata=md_b).payload, b"grpc-1")
            # A peek does not wait: grpc-2 must have left A's outbox first.
            wait_until(lambda: self.a.queue_stats()["outbox"]["messages"] == 0,
                       what="A's outbox delivered grpc-2")
            peek = pop.peek(pb.PeekInbound(topic="g"), metadata=md_b)
            self.assertEqual(peek.payload, b"grpc-2")
            self.assertEqual(pop.pop(pb.PopInbound(topic="g", timeout=5), metadata=md_b).payload,
                             b"grpc-2")
            rel = pop.release(pb.ReleaseInbound(topic=""), metadata=md_b)
            self.assertEqual(rel.code, "E0000000000")
            # A released session: the standard's way, the code in the TransportOutbound.
            out = pop.pop(pb.PopInbound(topic="g", timeout=1), metadata=md_b)
            self.assertEqual(out.code, "E0000000608", out)

    def test_pop_whose_connection_is_cut_delivers_again(self):
        # A pop waits; its client goes away; a message then arrives. It must not be lost
        # to the dead pop: the next pop gets it.
        h = container_headers("B", "B", "s-cut")
        req = (f"POST /v1/interconn/chan/pop?topic=t&timeout=5 HTTP/1.1\r\nHost: x\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in h.items())
               + "Content-Length: 0\r\n\r\n").encode()
        s = socket.create_connection(("127.0.0.1", 17305))
        s.sendall(req)
        time.sleep(0.3)
        s.close()
        time.sleep(0.2)
        self.assertEqual(push_json(B, "B", "B", "s-cut", "t", b"survivor").status, 200)
        self.assertEqual(payloads_popped(B, "B", "s-cut", "t", 1), [b"survivor"])
        # Same over HTTP/2: curl gives up before the pop's timeout.
        h["content-type"] = "application/json"
        with self.assertRaises(RuntimeError):
            curl(B + "pop", h, b'{"topic":"t2","timeout":"5s"}', http="h2c", timeout=1)
        self.assertEqual(push_json(B, "B", "B", "s-cut", "t2", b"survivor2").status, 200)
        self.assertEqual(payloads_popped(B, "B", "s-cut", "t2", 1), [b"survivor2"])


class QueueRouted(unittest.TestCase):
    """conf/routed: A -> R1 -> B, and A -> R1 -> R2 -> C across routers."""

    def test_push_through_routers(self):
        with Topology() as topo:
            for n in ("r1", "r2", "a", "b", "c"):
                topo.gateway(conf("routed", f"{n}.yaml"))
            ra, rb, rc = ("http://127.0.0.1:%d/v1/interconn/chan/" % p for p in (17314, 17315, 17318))
            for target, base in (("B", rb), ("C", rc)):
                msgs = [b"%s-%d" % (target.encode(), i) for i in range(5)]
                for m in msgs:
                    r = push_json(ra, "A", target, "s-routed", "t", m, http="h2c")
                    self.assertEqual(r.status, 200, r)
                self.assertEqual(payloads_popped(base, target, "s-routed", "t", 5, timeout="5s"), msgs)

    def test_restarted_sender_resumes_targets_of_the_default_route(self):
        # C is not a peer of A (reached through its default route R1): after a restart
        # A must still drain what it holds for C, without a new push to C.
        with Topology() as topo:
            a = topo.gateway(conf("routed", "a.yaml"), data_name="A")
            ra, rc = ("http://127.0.0.1:%d/v1/interconn/chan/" % p for p in (17314, 17318))
            msgs = [b"resume-%d" % i for i in range(5)]
            for m in msgs:  # R1, R2 and C are down: all wait in A's outbox
                self.assertEqual(push_json(ra, "A", "C", "s-resume", "t", m).status, 200)
            a.stop(sig=9)
            topo.procs.remove(a)
            for n in ("r1", "r2", "c"):
                topo.gateway(conf("routed", f"{n}.yaml"))
            topo.gateway(conf("routed", "a.yaml"), data_name="A")
            self.assertEqual(payloads_popped(rc, "C", "s-resume", "t", 6, timeout="5s"), msgs)


class QueueFaults(unittest.TestCase):
    def test_kill_9_receiver_between_push_and_pop(self):
        with Topology() as topo:
            a = topo.gateway(conf("direct", "a.yaml"))
            b = topo.gateway(conf("direct", "b.yaml"), data_name="B")
            msgs = [b"k9-%03d" % i for i in range(30)]
            for m in msgs:
                self.assertEqual(push_json(A, "A", "B", "s-k9", "t", m).status, 200)
            # Pop one, then push one more and wait until B has them all (A's outbox is
            # empty): B wrote the popped message's delete (unsynced, docs/queues.md
            # "Durability") no later than the synced batch of the last push. Then kill B
            # with the rest stored.
            self.assertEqual(payloads_popped(B, "B", "s-k9", "t", 1, timeout="5s"), msgs[:1])
            msgs.append(b"k9-last")
            self.assertEqual(push_json(A, "A", "B", "s-k9", "t", msgs[-1]).status, 200)
            wait_until(lambda: a.queue_stats()["outbox"]["messages"] == 0, what="A's outbox handed over")
            b.stop(sig=9)
            topo.procs.remove(b)
            topo.gateway(conf("direct", "b.yaml"), data_name="B")
            got = payloads_popped(B, "B", "s-k9", "t", 40, timeout="2s")
            self.assertEqual(got, msgs[1:])

    def test_target_down_then_up_outbox_delivers_once(self):
        with Topology() as topo:
            a = topo.gateway(conf("direct", "a.yaml"))
            msgs = [b"late-%03d" % i for i in range(20)]
            for m in msgs:  # B is not running: A keeps them in its outbox
                r = push_json(A, "A", "B", "s-down", "t", m)
                self.assertEqual(r.status, 200, r)
            # A few failed attempts.
            wait_until(lambda: a.output().count("outbox delivery failed, will retry") >= 3,
                       what="failed attempts")
            topo.gateway(conf("direct", "b.yaml"))
            got = payloads_popped(B, "B", "s-down", "t", 25, timeout="5s")
            self.assertEqual(got, msgs)

    def test_kill_9_sender_outbox_survives(self):
        with Topology() as topo:
            a = topo.gateway(conf("direct", "a.yaml"), data_name="A")
            msgs = [b"ob-%03d" % i for i in range(10)]
            for m in msgs:  # B down: all wait in A's outbox
                self.assertEqual(push_json(A, "A", "B", "s-ob", "t", m).status, 200)
            a.stop(sig=9)
            topo.procs.remove(a)
            topo.gateway(conf("direct", "a.yaml"), data_name="A")
            topo.gateway(conf("direct", "b.yaml"))
            self.assertEqual(payloads_popped(B, "B", "s-ob", "t", 12, timeout="5s"), msgs)


# The socket and file writes of a traced gateway, in the order they completed.
_TRACE_LINE = re.compile(r"^(\d+)\s+(.*)$")
_CALL = re.compile(r"^(\w+)\((\d+)<(.*?)>(?=, |\))(.*)$", re.S)
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$", re.S)


def traced_calls(text):
    """(index, call, fd path, rest of the line, started index) per completed syscall."""
    pending, out = {}, []
    for i, line in enumerate(text.splitlines()):
        m = _TRACE_LINE.match(line)
        if not m:
            continue
        pid, rest = m.groups()
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (i, rest[: -len("<unfinished ...>")])
            continue
        started = i
        r = _RESUMED.match(rest)
        if r:
            if pid not in pending:
                continue
            started, head = pending.pop(pid)
            rest = head + r.group(2)
        c = _CALL.match(rest)
        if c:
            out.append((i, c.group(1), c.group(3), c.group(4), started))
    return out


def synced_before_answer(text, data_dir, marker, message_id):
    """True when the write of `marker` to a file under data_dir/inbox was followed by an
    fsync/fdatasync of that file that completed before the answer naming message_id
    started to go out on a socket."""
    calls = traced_calls(text)
    wal = next(((i, path) for i, call, path, rest, _ in calls
                if call in ("write", "writev", "pwrite64") and path.startswith(data_dir)
                and marker in rest), None)
    answer = next((s for i, call, path, rest, s in calls
                   if call in ("write", "writev", "sendmsg", "sendto") and path.startswith("TCP")
                   and message_id in rest and "HTTP/1.1 200" in rest), None)
    if wal is None or answer is None:
        raise AssertionError(f"trace lacks the store write or the answer: {wal} {answer}")
    synced = [i for i, call, path, rest, _ in calls
              if call in ("fsync", "fdatasync") and path == wal[1] and rest.rstrip().endswith("= 0")]
    return any(wal[0] < i < answer for i in synced)


def untraceable_checks_off():
    """The environment for a gateway run under strace: LeakSanitizer (in the ASan+UBSan
    build) cannot work under ptrace and would fail the exit, so leak checks are off there."""
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    return env


class QueueDurability(unittest.TestCase):
    """A push is acknowledged only after its record is on disk: B runs under strace, and
    the fdatasync of the RocksDB log file holding the pushed payload completes before the
    push's answer is written to the client's socket. (kill -9 tests cannot show this: the
    page cache survives a killed process.) The same check on a gateway with sync: false
    must fail, or it would not be a check."""

    def traced_push(self, sync):
        with Topology() as topo:
            cfg = topo.variant(conf("direct", "b.yaml"),
                               [("  store: embedded\n", f"  store: embedded\n  sync: {sync}\n")],
                               name=f"b-sync-{sync}.yaml")
            data = os.path.join(topo.workdir, "data-B")
            trace = os.path.join(topo.workdir, "strace.txt")
            p = Process(["strace", "-f", "-qq", "-yy", "-s", "4096", "-o", trace,
                         "-e", "trace=fsync,fdatasync,sendto,sendmsg,writev,write,pwrite64",
                         GATEWAY, "--config", cfg, "--data-dir", data],
                        os.path.join(topo.workdir, "strace-gw.log"), env=untraceable_checks_off())
            try:
                wait_port(17405, timeout=20)
                marker = f"DURABLE-MARKER-{sync}-{time.time_ns()}".encode()
                r = push_json(B, "B", "B", "s-sync", "t", marker,
                              **{"x-ptp-message-id": f"durable-{sync}"})
                self.assertEqual(r.json()["code"], "E0000000000", r)
            finally:
                with open(f"/proc/{p.proc.pid}/task/{p.proc.pid}/children") as f:
                    gw = [int(x) for x in f.read().split()]
                for pid in gw:
                    os.kill(pid, signal.SIGTERM)
                self.assertEqual(p.proc.wait(30), 0, p.output()[-3000:])
                p.stop()
            with open(trace, errors="replace") as f:
                text = f.read()
            return synced_before_answer(text, data, marker.decode(), f"durable-{sync}")

    def test_push_is_fsynced_before_it_is_answered(self):
        self.assertTrue(self.traced_push("true"))
        self.assertFalse(self.traced_push("false"))


if __name__ == "__main__":
    unittest.main()
