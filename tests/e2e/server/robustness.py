"""Hostile and unlucky clients against `ondi serve`: the server answers or drops each bad request and keeps serving.

Usage: robustness.py main PORT KEY | limits PORT | sigterm PORT PID
Every loop is bounded in count and time; only 127.0.0.1 is contacted.
"""
import concurrent.futures as cf
import http.client
import json
import os
import re
import signal
import socket
import sys
import time

HOST = "127.0.0.1"
passed = 0


def ok(name):
    global passed
    passed += 1
    print(f"ok - {name}", flush=True)


def request(port, method, path, body=None, headers=None, timeout=60):
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def expect_error(port, key, body, status, param=None, path="/v1/chat/completions"):
    s, _, data = request(port, "POST", path, body, {"Authorization": f"Bearer {key}"} if key else {})
    assert s == status, (body if isinstance(body, dict) else body[:80], s, data[:200])
    err = json.loads(data)["error"]
    assert isinstance(err["message"], str) and err["message"], err
    if param is not None:
        assert err["param"] == param, err
    return err


def chat(port, key, content, max_tokens=4, stream=False, **kw):
    body = {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens, "stream": stream}
    body.update(kw)
    return request(port, "POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {key}"} if key else {})


def metrics(port, key):
    s, _, data = request(port, "GET", "/metrics", headers={"Authorization": f"Bearer {key}"})
    assert s == 200
    out = {}
    for line in data.decode().splitlines():
        m = re.match(r"^(ondi_[a-z_]+(?:\{[^}]*\})?) ([-0-9.e+]+)$", line)  # labelled ones with their labels
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def healthy(port, key):
    s, _, data = chat(port, key, "still there?", max_tokens=2)
    assert s == 200, (s, data[:200])


def raw_stream(port, key, body, read_first=True):
    """Opens a streaming request on a raw socket; returns the socket after the first bytes of the body."""
    payload = json.dumps(body).encode()
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + (f"Authorization: Bearer {key}\r\n".encode() if key else b"")
        + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    if read_first:
        got = b""
        while b"data:" not in got:
            chunk = sock.recv(4096)
            assert chunk, "connection closed before the first event"
            got += chunk
    return sock


def main_checks(port, key):
    auth = {"Authorization": f"Bearer {key}"}
    # --- authentication
    s, _, _ = request(port, "GET", "/health")
    assert s == 200
    s, _, data = request(port, "GET", "/v1/models")
    assert s == 401 and json.loads(data)["error"]["code"] == "invalid_api_key"
    s, _, _ = request(port, "GET", "/v1/models", headers={"Authorization": "Bearer nope"})
    assert s == 401
    s, _, _ = request(port, "GET", "/v1/models", headers=auth)
    assert s == 200
    ok("401 without the API key; /health open")

    # --- malformed bodies and wrong types
    expect_error(port, key, b"{not json", 400)
    expect_error(port, key, b"", 400)
    expect_error(port, key, b"[1, 2]", 400)
    expect_error(port, key, b'{"messages": [{"role": "user", "content": "\xff\xfe"}], "max_tokens": 2}', 400)
    expect_error(port, key, b'{"prompt": "\xc3\x28", "max_tokens": 2}', 400, path="/v1/completions")
    expect_error(port, key, {"messages": 5}, 400, "messages")
    expect_error(port, key, {"messages": [{"role": "user", "content": 7}]}, 400, "messages[0].content")
    expect_error(port, key, {"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, 400, "stream")
    expect_error(port, key, {"messages": [{"role": "user", "content": "x"}], "max_tokens": -1}, 400, "max_tokens")
    expect_error(port, key, {"messages": [{"role": "user", "content": "x"}], "max_tokens": 10**30}, 400, "max_tokens")
    expect_error(port, key, {"messages": [{"role": "user", "content": "x"}], "max_tokens": 2.5}, 400, "max_tokens")
    expect_error(port, key, {"prompt": "x", "max_tokens": "ten"}, 400, "max_tokens", path="/v1/completions")
    expect_error(port, key, {"prompt": [1, -3]}, 400, "prompt", path="/v1/completions")
    healthy(port, key)
    ok("malformed JSON, invalid UTF-8, wrong types, absurd max_tokens: 400 with an error body")

    # --- a 10 MB body: refused (413), or the connection dropped while sending; either way the server goes on
    big = b'{"messages": [{"role": "user", "content": "' + b"a" * (10 << 20) + b'"}]}'
    try:
        s, _, data = request(port, "POST", "/v1/chat/completions", big, auth, timeout=30)
        assert s == 413, (s, data[:200])
        assert json.loads(data)["error"]["message"]
    except (ConnectionError, BrokenPipeError, socket.timeout):
        pass
    healthy(port, key)
    ok("10 MB body refused, server keeps serving")

    # --- a slow client (4 bytes every 20 ms) is served; a slow reader gets its whole stream
    payload = json.dumps({"messages": [{"role": "user", "content": "slow"}], "max_tokens": 3}).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
           + f"Authorization: Bearer {key}\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
    sock = socket.create_connection((HOST, port), timeout=30)
    for i in range(0, len(req), 4):
        sock.sendall(req[i:i + 4])
        time.sleep(0.02)
    resp = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        resp += chunk
    sock.close()
    assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
    sock = raw_stream(port, key, {"messages": [{"role": "user", "content": "lazy reader"}], "max_tokens": 24,
                                  "stream": True}, read_first=False)
    time.sleep(2)  # the server generates meanwhile; its writes wait in the socket buffers
    resp = b""
    deadline = time.time() + 60
    while b"data: [DONE]" not in resp and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        resp += chunk
    sock.close()
    assert b"data: [DONE]" in resp, resp[-300:]
    ok("slow sender and slow reader both served")

    # --- clients that vanish mid-stream: their slots are freed, generation stops early
    before = metrics(port, key)["ondi_generated_tokens_total"]
    socks = [raw_stream(port, key, {"messages": [{"role": "user", "content": f"bye {i}"}], "max_tokens": 400,
                                    "stream": True, "temperature": 2, "seed": i}) for i in range(4)]
    for s_ in socks:
        s_.close()
    m = metrics(port, key)
    for _ in range(600):  # 60 s at most
        m = metrics(port, key)
        if m["ondi_requests_active"] == 0:
            break
        time.sleep(0.1)
    assert m["ondi_requests_active"] == 0, m
    made = m["ondi_generated_tokens_total"] - before
    assert made < 4 * 400 / 2, f"{made} tokens generated for 4 dropped streams of 400: not cancelled"
    healthy(port, key)
    ok(f"4 mid-stream disconnects cancelled ({int(made)} of 1600 tokens generated), slots freed")

    # --- metrics
    s, h, data = request(port, "GET", "/metrics", headers=auth)
    text = data.decode()
    for name in ["ondi_requests_total{", "ondi_queue_depth", "ondi_requests_active", "ondi_generated_tokens_total",
                 "ondi_generated_tokens_per_second", "ondi_kv_used_tokens", "ondi_kv_capacity_tokens"]:
        assert name in text, name
    assert 'ondi_requests_total{endpoint="/v1/chat/completions",status="400"}' in text
    ok("Prometheus metrics")

    # --- load: 200 requests at concurrency 8, zero failures
    def one(i):
        if i % 3 == 0:
            s_, _, d = request(port, "POST", "/v1/completions", {"prompt": f"load {i}", "max_tokens": 2 + i % 3,
                                                                  "seed": i}, auth)
            return s_ == 200 and json.loads(d)["usage"]["completion_tokens"] >= 1
        s_, _, d = chat(port, key, f"load test {i}", max_tokens=2 + i % 3, stream=i % 2 == 0, seed=i)
        if s_ != 200:
            return False
        return d.rstrip().endswith(b"data: [DONE]") if i % 2 == 0 else bool(json.loads(d)["choices"])
    with cf.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(one, range(200), timeout=170))
    assert all(results), f"{results.count(False)} of 200 failed"
    ok("load: 200 requests at concurrency 8, zero failures")


def timeout_check(port):
    # --timeout 1: a request for 4000 tokens (~4 s on the 2-core development VM, which decodes this model at ~950
    # tokens/s) is cut with 504; the server goes on
    s, _, d = chat(port, None, "too long", max_tokens=4000, temperature=2, seed=1)
    assert s == 504 and json.loads(d)["error"]["code"] == "timeout", (s, d[:200])
    healthy(port, None)
    ok("request timeout: 504")


def limits_checks(port):
    # --parallel 1 --max-queue 1: a burst of 6 gets some 429s (with Retry-After), the others answers
    def one(i):
        return chat(port, None, f"burst {i}", max_tokens=32, temperature=2, seed=i)
    with cf.ThreadPoolExecutor(6) as ex:
        results = list(ex.map(one, range(6), timeout=120))
    codes = [r[0] for r in results]
    assert codes.count(429) >= 1 and codes.count(200) >= 2 and set(codes) <= {200, 429}, codes
    for s, h, d in results:
        if s == 429:
            assert h.get("Retry-After") == "1" and json.loads(d)["error"]["type"] == "rate_limit_error"
    ok(f"bounded queue: {codes.count(429)} of 6 answered 429 with Retry-After")

    # --read-timeout 2: a client that stops half-way through its headers is dropped
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    healthy(port, None)  # served while the stalled one waits
    t0 = time.time()
    data = b"x"
    while data and time.time() - t0 < 20:
        data = sock.recv(4096)
    assert data == b"", "the stalled connection was not closed"
    sock.close()
    ok("stalled client dropped, others served meanwhile")


def sigterm_check(port, pid):
    sock = raw_stream(port, None, {"messages": [{"role": "user", "content": "finish me"}], "max_tokens": 30,
                                   "stream": True, "temperature": 2, "seed": 5})
    os.kill(pid, signal.SIGTERM)
    resp = b""
    deadline = time.time() + 60
    while time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        resp += chunk
    assert b'"finish_reason":"length"' in resp and b"data: [DONE]" in resp, resp[-300:]
    ok("SIGTERM: the in-flight stream finished")


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "main":
        main_checks(port, sys.argv[3])
    elif mode == "timeout":
        timeout_check(port)
    elif mode == "limits":
        limits_checks(port)
    else:
        sigterm_check(port, int(sys.argv[3]))
    print(f"{passed} passed, 0 failed")
