#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# test_rpc.py: lnmtd speaks plain MessagePack-RPC: a client written from the spec alone (a unix
# socket and python3-msgpack, nothing of lnmt's) calls system.status, devices.list and an unknown
# method against a running lnmtd.
#
#   test_rpc.py SOCKET              run the checks (exit 0 pass, 1 fail, 77 skip)
#   test_rpc.py SOCKET METHOD JSON  call one method and print its result as JSON (a debugging aid)
import json
import socket
import sys

try:
    import msgpack
except ImportError:
    print("SKIP: python3-msgpack is not installed (apt-get install python3-msgpack)")
    sys.exit(77)


class Client:
    """A MessagePack-RPC client: [0, id, method, params] out, [1, id, error, result] back."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False)
        self.next_id = 1
        self.notifications = []

    def call(self, method, params=None):
        msgid = self.next_id
        self.next_id += 1
        self.sock.sendall(msgpack.packb([0, msgid, method, [params] if params is not None else []]))
        while True:
            for msg in self.unpacker:
                if msg[0] == 2:
                    self.notifications.append(msg)
                elif msg[0] == 1 and msg[1] == msgid:
                    return msg[2], msg[3]
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("lnmtd closed the connection")
            self.unpacker.feed(data)

    def close(self):
        self.sock.close()


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def main():
    if len(sys.argv) == 4:
        c = Client(sys.argv[1])
        err, res = c.call(sys.argv[2], json.loads(sys.argv[3]))
        print(json.dumps({"error": err, "result": res}, indent=1))
        return 0 if err is None else 1
    if len(sys.argv) != 2:
        print("usage: test_rpc.py SOCKET [METHOD JSON-PARAMS]", file=sys.stderr)
        return 2
    c = Client(sys.argv[1])

    err, st = c.call("system.status", {})
    check(err is None, "system.status answers without error (%r)" % (err,))
    for key in ("version", "uptime_s", "sweeps_running", "store", "counters"):
        check(key in st, "system.status has %s" % key)
    check(st["counters"]["requests"] >= 1, "system.status counts this request")

    err, res = c.call("devices.list", {"limit": 5})
    check(err is None, "devices.list answers (%r)" % (err,))
    check(isinstance(res["devices"], list) and len(res["devices"]) <= 5, "devices.list respects limit")
    keys = ("ip", "state", "mac", "vendor", "first_seen", "last_seen", "rtt_us", "probes", "open_ports")
    missing = [(d.get("ip"), k) for d in res["devices"] for k in keys if k not in d]
    check(not missing, "every device has %s (missing: %r)" % (", ".join(keys), missing))
    check(res["next"] is None or isinstance(res["next"], str), "devices.list next is an address or nil")

    err, res = c.call("no.such.method", {})
    check(res is None and isinstance(err, list) and err[0] == 3, "an unknown method is error 3 (%r)" % (err,))

    err, res = c.call("devices.list", {"limit": "five"})
    check(isinstance(err, list) and err[0] == 4, "a string limit is error 4, bad params (%r)" % (err,))

    # Params given positionally as the spec allows: [] is fine too.
    err, st2 = c.call("system.status")
    check(err is None and st2["counters"]["requests"] > st["counters"]["requests"], "system.status with []")
    c.close()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
