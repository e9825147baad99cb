"""Clients that go away before a non-streamed answer is ready: `ondi serve` notices, stops the generation, frees
the slot and keeps serving. The server writes nothing until such an answer is complete, so only the closed socket
can tell it.

Usage: disconnect.py running PORT KEY | queued PORT   (queued: a server started with --parallel 1)
Every loop is bounded in count and time; only 127.0.0.1 is contacted.
"""
import json
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the import below
import robustness  # noqa: E402
from robustness import HOST, chat, metrics, ok, raw_stream  # noqa: E402


def send_only(port, key, path, body):
    """Sends a request on a raw socket and reads nothing: the caller closes the socket to walk away."""
    payload = json.dumps(body).encode()
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n".encode()
        + (f"Authorization: Bearer {key}\r\n".encode() if key else b"")
        + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    return sock


def closed_count(m, endpoint):
    return m.get(f'ondi_requests_total{{endpoint="{endpoint}",status="499"}}', 0)


def wait_for(port, key, cond, what, seconds=60):
    m = metrics(port, key)
    for _ in range(seconds * 10):
        if cond(m):
            return m
        time.sleep(0.1)
        m = metrics(port, key)
    raise AssertionError(f"{what}: not seen within {seconds} s: {m}")


def still_serving(port, key):
    s, _, data = chat(port, key, "are you still there?", max_tokens=3, ignore_eos=True)
    assert s == 200, (s, data[:200])
    d = json.loads(data)
    assert d["choices"][0]["finish_reason"] == "length" and d["usage"]["completion_tokens"] == 3, d


def running_check(port, key):
    # A generation that, left alone, runs to max_tokens (ignore_eos; ~1.6 s for this model in the optimized build,
    # longer under the sanitizers); its client leaves as soon as the generation is seen running, so that the server
    # has the rest of it to notice (it looks at the socket every 200 ms), even on a loaded CI machine.
    ep = "/v1/chat/completions"
    max_tokens = 1000  # with the ~10-token prompt, within the server's 1024 positions
    m0 = metrics(port, key)
    sock = send_only(port, key, ep, {"messages": [{"role": "user", "content": "never read"}],
                                     "max_tokens": max_tokens, "ignore_eos": True, "temperature": 2, "seed": 7})
    wait_for(port, key, lambda m: m["ondi_requests_active"] == 1 and
             m["ondi_generated_tokens_total"] > m0["ondi_generated_tokens_total"], "the generation started")
    sock.close()
    wait_for(port, key, lambda m: m["ondi_requests_active"] == 0, "the slot freed")
    # The 499 is counted when its response is written, after the slot is freed: wait for it (as queued_check does),
    # rather than read the counter at the instant the slot shows free.
    m = wait_for(port, key, lambda m: closed_count(m, ep) == closed_count(m0, ep) + 1,
                 "the server seeing the client go (a 499)", seconds=10)
    made = m["ondi_generated_tokens_total"] - m0["ondi_generated_tokens_total"]
    assert made < max_tokens / 2, f"{made} of {max_tokens} tokens generated for a client that left: not cancelled"
    # The slot's KV no longer grows: it holds the prompt and the tokens made before the cancel (kept as a
    # prefix for the next request on that slot, like any finished request's), not max_tokens more.
    prompt = m["ondi_prompt_tokens_total"] - m0["ondi_prompt_tokens_total"]
    assert m["ondi_kv_used_tokens"] <= m0["ondi_kv_used_tokens"] + prompt + made, (m0, m)
    time.sleep(0.5)
    m2 = metrics(port, key)
    assert m2["ondi_kv_used_tokens"] == m["ondi_kv_used_tokens"], (m, m2)
    assert m2["ondi_generated_tokens_total"] == m["ondi_generated_tokens_total"], (m, m2)
    still_serving(port, key)
    ok(f"non-streamed client gone mid-generation: cancelled after {int(made)} of {max_tokens} tokens, slot freed")


def queued_check(port):
    # --parallel 1: one stream holds the slot while a non-streamed request waits in the queue, then leaves.
    ep = "/v1/completions"
    m0 = metrics(port, None)
    holder = raw_stream(port, None, {"messages": [{"role": "user", "content": "hold the slot"}], "max_tokens": 2000,
                                     "stream": True, "ignore_eos": True, "temperature": 2, "seed": 3})
    sock = send_only(port, None, ep, {"prompt": "waiting", "max_tokens": 8})
    wait_for(port, None, lambda m: m["ondi_queue_depth"] == 1, "the request queued")
    sock.close()
    m = wait_for(port, None, lambda m: m["ondi_queue_depth"] == 0, "the queue emptied")
    # It left the queue at once, not when the slot came free.
    assert m["ondi_requests_active"] == 1, f"the queued request was only dropped when the slot freed: {m}"
    m = wait_for(port, None, lambda m: closed_count(m, ep) == closed_count(m0, ep) + 1, "the 499")
    holder.close()
    wait_for(port, None, lambda m: m["ondi_requests_active"] == 0, "the holder's slot freed")
    still_serving(port, None)
    ok("queued non-streamed client gone: left the queue while the slot was still busy")


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "running":
        running_check(port, sys.argv[3])
    else:
        queued_check(port)
    print(f"{robustness.passed} passed, 0 failed")
